#ifndef MOO_SERVE_H
#define MOO_SERVE_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/store.h"

/*
 * serve: a trained model behind an HTTP/1.1 endpoint (libmicrohttpd, one thread,
 * keep-alive) with resident Python workers (moo-serve(1)). Each worker runs moo's shim
 * (libmoo/worker.py, built in), which imports the spec's inference.entry_point, calls
 * load(model_dir) once and answers length-prefixed frames over a socket on its stdin and
 * stdout (the shim's header says how). Protocols: Open Inference Protocol v2, SageMaker and
 * MLflow scoring (/ping, /invocations), /openapi.json and a page at /.
 *
 * Writing to a worker that died never raises SIGPIPE (the sockets are sent to with
 * MSG_NOSIGNAL); the library starts one thread (for HTTP and the workers; with --on a
 * second pumps the SSH session) and child processes, which moo_server_stop ends.
 */

/*
 * What is served: a model folder and the code that loads it, and how its interpreter runs.
 * The seam between a source (a job, a folder, a ZIP; later a published REPO@TAG) and the
 * server: whatever the source, it becomes one of these. All strings owned.
 */
struct moo_serve_model {
	char *name;        /* model.name of the spec */
	char *version;     /* model.version, or NULL */
	char *code_dir;    /* the folder the entry point's paths are relative to: workers' cwd */
	char *entry_point; /* inference.entry_point, relative to code_dir */
	char *model_dir;   /* what load() gets */
	/* The command line the interpreter runs under, as sh words (each already quoted),
	 * then the interpreter itself: "env 'A=b' '/usr/bin/python3'", or
	 * "podman run -i --rm … 'image@sha256:…' 'python3'". */
	char *command;
	char *host;         /* where the workers run: NULL for this machine */
	char *tmp_dir;      /* removed by moo_serve_model_free (an extracted ZIP), or NULL */
	char *host_tmp_dir; /* on host: a staged copy moo_serve_model_free removes, or NULL */
	/* What messages call its metadata.yaml: "big.zip/metadata.yaml" for a ZIP, else NULL
	 * (the file's path). */
	char *spec_name;
	/* A folder or ZIP without its spec's output_folder: that folder's name
	 * ("training_result"; load() gets the folder itself), or NULL. */
	char *no_output;
};

/*
 * A model folder with metadata.yaml (whose inference.entry_point is the predictor), or a
 * bundle ZIP (extracted to a temporary folder). model_dir is the folder's output_folder
 * when it exists, else the folder itself (no_output then names the output_folder). The
 * interpreter is the one moo run would choose on this machine (moo-run(1)). MOO_ESPEC
 * without inference.entry_point; MOO_ERESOLVE when no interpreter has what the spec needs.
 */
MOO_EXTERN int moo_serve_model_from_dir(struct moo_serve_model **out, const char *source,
					struct moo_error **err);

/*
 * A finished job: its collected result folder, its code (the job's work folder), in the
 * environment the job ran in (its runtime command and lock). MOO_EJOB when the job has no
 * result; MOO_ESPEC when its spec names no inference.entry_point.
 */
MOO_EXTERN int moo_serve_model_from_job(struct moo_serve_model **out, const struct moo_job *job,
					struct moo_error **err);

/*
 * Moves a model from moo_serve_model_from_dir to the SSH host named host (moo-serve(1)
 * --on): its folder is copied under the host's MOO_ROOT/serve (removed again by
 * moo_serve_model_free), and its interpreter is the one moo run would pick there. The
 * workers then run on the host. MOO_EHOST when the host cannot be reached.
 */
MOO_EXTERN int moo_serve_model_place(struct moo_serve_model *m, const char *host,
				     struct moo_error **err);

MOO_EXTERN void moo_serve_model_free(struct moo_serve_model *m);

struct moo_serve_opts {
	unsigned version;       /* MOO_SERVE_OPTS_VERSION */
	const char *bind;       /* address to listen on; NULL: 127.0.0.1 */
	unsigned port;          /* 0: any free one (moo_server_url says which) */
	unsigned workers;       /* 0: 1 */
	uint64_t max_body;      /* bytes; 0: 64 MiB */
	unsigned batch_max;     /* requests per predict_batch call; 0 or 1: no batching */
	unsigned batch_wait_ms; /* how long a batch waits to fill */
	unsigned queue_max;     /* requests waiting for a worker before 503; 0: 64 per worker */
	unsigned timeout_s;     /* a request's headers and body must arrive in this; 0: 30 */
	const char *spool_dir;  /* where bodies over 1 MiB are spooled; NULL: a folder of its own
				 * in $TMPDIR or /tmp, removed when the server stops */
};
#define MOO_SERVE_OPTS_VERSION 1
#define MOO_SERVE_OPTS_INIT                                             \
	{                                                               \
		MOO_SERVE_OPTS_VERSION, NULL, 0, 0, 0, 0, 0, 0, 0, NULL \
	}

struct moo_server;

enum moo_server_state {
	MOO_SERVER_LOADING = 0, /* no worker has finished load() yet */
	MOO_SERVER_READY = 1,   /* at least one worker answers */
	MOO_SERVER_FAILED = 2,  /* every worker's load() failed */
};

/*
 * Listens, then starts the workers, and returns at once: load() runs in the background
 * (moo_server_state). MOO_EIO when the address cannot be bound.
 */
MOO_EXTERN int moo_server_start(struct moo_server **out, const struct moo_serve_model *m,
				const struct moo_serve_opts *opts, struct moo_error **err);

/* "http://127.0.0.1:8080" (borrowed). */
MOO_EXTERN const char *moo_server_url(const struct moo_server *s);

/* The state; *why (when not NULL) gets the last line of load()'s traceback, or NULL. */
MOO_EXTERN enum moo_server_state moo_server_state(char **why, struct moo_server *s);

/*
 * One request without HTTP (moo predict JOB): path as in a URL ("/invocations"), waits for
 * the answer: *status the HTTP status, out its JSON body.
 */
MOO_EXTERN int moo_server_call(struct moo_buf *out, int *status, struct moo_server *s,
			       const char *path, const char *content_type, const void *body,
			       size_t len, struct moo_error **err);

/*
 * POSTs body to url (moo predict URL): a URL without a path gets /invocations. *status the
 * HTTP status, out the answer. MOO_ENET when no answer came (connect timeout 10 s, the
 * whole request 300 s).
 */
MOO_EXTERN int moo_predict_url(struct moo_buf *out, int *status, const char *url,
			       const char *content_type, const void *body, size_t len,
			       struct moo_error **err);

struct moo_predict_opts {
	unsigned version;           /* MOO_PREDICT_OPTS_VERSION */
	unsigned timeout_s;         /* the whole request, connecting included; 0: 300 */
	unsigned connect_timeout_s; /* connecting; 0: 10 (at most timeout_s) */
};
#define MOO_PREDICT_OPTS_VERSION 1
#define MOO_PREDICT_OPTS_INIT                  \
	{                                      \
		MOO_PREDICT_OPTS_VERSION, 0, 0 \
	}

/*
 * moo_predict_url with options (opts NULL: the defaults): MOO_ENET also when no whole answer
 * came within opts->timeout_s (a server that accepts and never answers).
 */
MOO_EXTERN int moo_predict_url_opts(struct moo_buf *out, int *status, const char *url,
				    const char *content_type, const void *body, size_t len,
				    const struct moo_predict_opts *opts, struct moo_error **err);

/* Stops listening, ends the workers (EOF, then SIGKILL after 2 s). NULL-safe. */
MOO_EXTERN void moo_server_stop(struct moo_server *s);
#endif
