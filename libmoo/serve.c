/*
 * serve: the HTTP endpoint and the resident predictor workers, both driven by one thread
 * (loop_main: one poll() over libmicrohttpd's sockets and the workers' sockets; a
 * connection is suspended while a worker answers it; frames go to and from each worker's
 * process over a socket). Implements moo/serve.h; moo-serve(1) is the user's view.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <jansson.h>
#include "internal.h"
#include "curl.h"
#include "mhdlib.h"
#include "embedded.h"
#include "runtime.h"
#include "transport.h"
#include "ssh.h"
#include "moo/serve.h"

extern char **environ;

#define SPOOL_AT   (1u << 20) /* bodies larger than this go to a file */
#define MAX_FRAME  (256u << 20)
#define RETRY_SECS "1"
#define PIPE_MAX   16 /* requests written to a worker at once (no predict_batch) */
/*
 * Connections at once. libmicrohttpd is driven through select()-style sets (see loop_main),
 * so a connection's socket must be below FD_SETSIZE: the limit leaves room under it for
 * the server's own files (64, for spooled bodies and the like, and two a worker: its
 * socket, and over SSH its channel's end). Connections beyond it wait in the listen queue
 * until one closes, as they did at libmicrohttpd's default limit.
 */
#define CONN_MAX(n_workers) (FD_SETSIZE - 64 - 2 * (n_workers))

/* ---- where a model comes from ------------------------------------------------------ */

void moo_serve_model_free(struct moo_serve_model *m)
{
	if (!m) {
		return;
	}
	if (m->tmp_dir) {
		char *argv[] = {"rm", "-rf", m->tmp_dir, NULL};
		pid_t pid;

		if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0) {
			waitpid(pid, NULL, 0);
		}
	}
	free(m->name);
	free(m->version);
	free(m->code_dir);
	free(m->entry_point);
	free(m->model_dir);
	free(m->command);
	if (m->host_tmp_dir && m->host) {
		struct moo__transport *t = NULL;
		struct moo_buf cmd = MOO_BUF_INIT;
		int st;

		if (moo__transport_open(&t, m->host, NULL) == 0) {
			moo_buf_puts(&cmd, "rm -rf -- ");
			moo_buf_shquote(&cmd, m->host_tmp_dir);
			t->ops->exec(t, cmd.ptr, NULL, NULL, &st, NULL);
			moo__transport_close(t);
		}
		moo_buf_dispose(&cmd);
	}
	free(m->host);
	free(m->tmp_dir);
	free(m->host_tmp_dir);
	free(m->no_output);
	free(m->spec_name);
	free(m);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The spec of a folder served (m->code_dir's metadata.yaml), named in messages as
 * m->spec_name says (a ZIP's, not the temporary folder it was extracted to).
 */
static int load_spec(struct moo_spec **spec, const struct moo_serve_model *m,
		     struct moo_error **err)
{
	struct moo_buf text = MOO_BUF_INIT;
	char *path = moo__path_join(m->code_dir, "metadata.yaml");
	int r;

	if (!m->spec_name) {
		r = moo_spec_load(spec, path, err);
	} else if (!(r = moo__read_file(path, MOO_SPEC_MAX_BYTES, &text, err))) {
		r = moo_spec_parse(spec, text.ptr ? text.ptr : "", text.len, m->spec_name, err);
	}
	moo_buf_dispose(&text);
	free(path);
	return r;
}

static int spec_model(struct moo_serve_model *m, const struct moo_spec *spec,
		      struct moo_error **err)
{
	if (!spec->inference_entry_point) {
		struct moo_error *e =
			moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR,
				       "'%s' names no inference.entry_point", spec->file);
		if (e) {
			moo__error_hint(e, "add 'inference: {entry_point: predict.py}' defining "
					   "load(model_dir) and predict(model, request)");
		}
		return MOO_ESPEC;
	}
	m->name = moo__strdup(spec->model.name ? spec->model.name : "model");
	m->version = spec->model.version ? moo__strdup(spec->model.version) : NULL;
	m->entry_point = moo__strdup(spec->inference_entry_point);
	return 0;
}

int moo_serve_model_from_dir(struct moo_serve_model **out, const char *source,
			     struct moo_error **err)
{
	struct moo_serve_model *m = moo__calloc(1, sizeof(*m));
	struct moo_spec *spec = NULL;
	struct moo_bundle *b = NULL;
	struct moo__transport *t = NULL;
	struct moo__interp interp = {0};
	struct moo_buf cmd = MOO_BUF_INIT;
	char *outdir = NULL;
	int r;

	if (!is_dir(source)) {
		/* A ZIP (or URL): checked, then extracted to a folder of our own, named by our
		 * pid so that the next moo removes it if we are killed. */
		r = moo_bundle_open(&b, source, NULL, err);
		if (r < 0) {
			goto done;
		}
		m->tmp_dir = moo__tmp_dir("moo-serve-", err);
		if (!m->tmp_dir) {
			r = MOO_EIO;
			goto done;
		}
		m->code_dir = moo__path_join(m->tmp_dir, "model");
		r = moo_bundle_extract(b, m->code_dir, NULL, err);
		if (r < 0) {
			goto done;
		}
		m->spec_name = moo__printf("%s/metadata.yaml", source); /* as the bundle's errors */
	} else {
		m->code_dir = realpath(source, NULL);
		if (!m->code_dir) {
			r = moo__fail_errno(err, MOO_EIO, "cannot resolve '%s'", source);
			goto done;
		}
	}
	r = load_spec(&spec, m, err);
	if (r < 0) {
		goto done;
	}
	r = spec_model(m, spec, err);
	if (r < 0) {
		goto done;
	}
	outdir = moo__path_join(m->code_dir,
				spec->output_folder ? spec->output_folder : "training_result");
	if (is_dir(outdir)) {
		m->model_dir = moo__strdup(outdir);
	} else { /* a folder that holds the model itself, or one not trained (the hint) */
		m->model_dir = moo__strdup(m->code_dir);
		m->no_output =
			moo__strdup(spec->output_folder ? spec->output_folder : "training_result");
	}
	/* The interpreter moo run would pick here (host runtime). */
	r = moo__transport_local_open(&t, err);
	if (r < 0) {
		goto done;
	}
	r = moo__runtime_resolve(&interp, t, NULL, spec, err);
	if (r < 0) {
		goto done;
	}
	moo_buf_shquote(&cmd, interp.path);
	m->command = moo_buf_detach(&cmd);
	*out = m;
	m = NULL;
	r = 0;
done:
	moo_serve_model_free(m);
	moo_spec_free(spec);
	moo_bundle_free(b);
	moo__transport_close(t);
	moo__interp_dispose(&interp);
	moo_buf_dispose(&cmd);
	free(outdir);
	return r;
}

int moo_serve_model_place(struct moo_serve_model *m, const char *host, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_spec *spec = NULL;
	struct moo__interp interp = {0};
	struct moo_buf cmd = MOO_BUF_INIT;
	char *dir = NULL, *dst = NULL, tag[96];
	size_t cl = strlen(m->code_dir);
	int r;

	r = moo__transport_open(&t, host, err);
	if (r < 0 || !moo__transport_is_remote(t)) {
		goto done; /* "local": nothing to place */
	}
	r = load_spec(&spec, m, err);
	if (r < 0) {
		goto done;
	}
	/* The interpreter moo run would pick on the host (host runtime). */
	r = moo__runtime_resolve(&interp, t, NULL, spec, err);
	if (r < 0) {
		goto done;
	}
	/* A copy of the folder under MOO_ROOT/serve there, named as temporary files are: one
	 * a killed moo left is swept when its pid is gone, ours removed when freed. */
	dir = moo__path_join(t->root, "serve");
	r = t->ops->mkdir_p(t, dir, err);
	if (r < 0) {
		goto done;
	}
	moo__transport_sweep(t, dir);
	moo__client_tag(tag, sizeof(tag), true);
	dst = moo__printf("%s/model.moo-tmp-%s%lx", dir, tag, (unsigned long)time(NULL));
	r = t->ops->put(t, m->code_dir, dst, false, err);
	if (r < 0) {
		goto done;
	}
	moo_buf_shquote(&cmd, interp.path);
	free(m->command);
	m->command = moo_buf_detach(&cmd);
	{
		char *md = !strncmp(m->model_dir, m->code_dir, cl)
				   ? moo__printf("%s%s", dst, m->model_dir + cl)
				   : moo__strdup(dst);

		free(m->model_dir);
		m->model_dir = md;
	}
	free(m->code_dir);
	m->code_dir = moo__strdup(dst);
	free(m->host);
	m->host = moo__strdup(host);
	free(m->host_tmp_dir);
	m->host_tmp_dir = dst;
	dst = NULL;
done:
	moo__transport_close(t);
	moo_spec_free(spec);
	moo__interp_dispose(&interp);
	moo_buf_dispose(&cmd);
	free(dir);
	free(dst);
	return r;
}

/* Splits a sh command line of the kind moo_buf_shquote builds into words. */
static size_t sh_split(const char *s, char ***words)
{
	struct moo_buf w = MOO_BUF_INIT;
	size_t n = 0;
	bool in = false;

	*words = NULL;
	for (;;) {
		char c = *s;

		if (!c || c == ' ' || c == '\t' || c == '\n') {
			if (in) {
				MOO_GROW(*words, n);
				(*words)[n++] = moo_buf_detach(&w);
				in = false;
			}
			if (!c) {
				break;
			}
			s++;
			continue;
		}
		in = true;
		if (c == '\'') {
			const char *e = strchr(s + 1, '\'');

			if (!e) {
				e = s + strlen(s);
			}
			moo_buf_add(&w, s + 1, (size_t)(e - s - 1));
			s = *e ? e + 1 : e;
			if (!w.ptr) {
				moo_buf_puts(&w, "");
			}
		} else if (c == '\\' && s[1]) {
			moo_buf_putc(&w, s[1]);
			s += 2;
		} else {
			moo_buf_putc(&w, c);
			s++;
		}
	}
	moo_buf_dispose(&w);
	return n;
}

/*
 * THE one place a job's environment becomes a worker command: the words of the job's
 * runtime command up to its interpreter (the word before "-u ENTRY_POINT"), with what
 * belongs to the training run only left out (MOO_* variables, a container's --name) and a
 * container's stdin kept open (-i). lock is the job's moo.lock, when it has one: a pinned
 * image digest in it must be what the command runs.
 */
static int job_worker_command(struct moo_serve_model *m, const struct moo_job *job,
			      const struct moo_plan *lock, const struct moo_spec *spec,
			      struct moo_error **err)
{
	const char *line = job->command ? job->command : lock ? lock->command : NULL;
	struct moo_buf cmd = MOO_BUF_INIT;
	char **w = NULL;
	size_t n = line ? sh_split(line, &w) : 0, i, interp = n;
	bool container = n && (strstr(w[0], "docker") || strstr(w[0], "podman"));
	int r = 0;

	for (i = 1; i + 1 < n; i++) {
		if (!strcmp(w[i], "-u") && !strcmp(w[i + 1], spec->entry_point)) {
			interp = i - 1;
			break;
		}
	}
	if (interp >= n) {
		r = moo__fail(err, MOO_EJOB,
			      "cannot tell the interpreter of job '%s' from its command", job->id);
		goto done;
	}
	for (i = 0; i <= interp; i++) {
		bool moo_var = !strncmp(w[i], "MOO_", 4) && strchr(w[i], '=');

		if (moo_var && !container) {
			continue; /* env MOO_JOB_ID=… */
		}
		if (container && i < interp &&
		    ((!strcmp(w[i], "-e") && !strncmp(w[i + 1], "MOO_", 4)) ||
		     !strcmp(w[i], "--name"))) {
			i++; /* -e MOO_JOB_ID=…, --name JOB */
			continue;
		}
		if (cmd.len) {
			moo_buf_putc(&cmd, ' ');
		}
		moo_buf_shquote(&cmd, w[i]);
		if (container && !strcmp(w[i], "run")) {
			moo_buf_puts(&cmd, " -i");
		}
	}
	if (lock && lock->digest && container && !strstr(cmd.ptr, lock->digest)) {
		r = moo__fail(err, MOO_ERESOLVE,
			      "job '%s' ran an image other than its lock's digest %s", job->id,
			      lock->digest);
		goto done;
	}
	m->command = moo_buf_detach(&cmd);
done:
	for (i = 0; i < n; i++) {
		free(w[i]);
	}
	free(w);
	moo_buf_dispose(&cmd);
	return r;
}

int moo_serve_model_from_job(struct moo_serve_model **out, const struct moo_job *job,
			     struct moo_error **err)
{
	return moo__serve_model_from_job(out, job, true, err);
}

int moo__serve_model_from_job(struct moo_serve_model **out, const struct moo_job *job, bool verify,
			      struct moo_error **err)
{
	struct moo_serve_model *m = moo__calloc(1, sizeof(*m));
	struct moo_spec *spec = NULL;
	struct moo_plan *lock = NULL;
	int r;

	if (job->status != MOO_JOB_SUCCEEDED || !job->result_path) {
		static const char *const how[] = {
			[MOO_JOB_QUEUED] = "it is still queued",
			[MOO_JOB_RUNNING] = "it is still running",
			[MOO_JOB_SUCCEEDED] = "it succeeded, but its result is not on this machine",
			[MOO_JOB_FAILED] = "it failed",
			[MOO_JOB_CANCELLED] = "it was cancelled",
			[MOO_JOB_LOST] = "it was lost",
		};
		unsigned k = (unsigned)job->status;
		struct moo_error *e = moo__error_add(
			err, MOO_EJOB, MOO_SEV_ERROR, "job '%s' has no result to serve: %s%s%s%s",
			job->id, k < sizeof(how) / sizeof(how[0]) ? how[k] : "?",
			job->detail ? " (" : "", job->detail ? job->detail : "",
			job->detail ? ")" : "");

		if (job->status == MOO_JOB_SUCCEEDED) {
			moo__error_hint(e, "download its result with 'moo fetch %s', then serve it",
					job->id);
		} else if (!moo_job_status_done(job->status)) {
			moo__error_hint(e,
					"wait for it to succeed ('moo logs -f %s'), then serve it",
					job->id);
		} else {
			moo__error_hint(e,
					"see why in 'moo logs %s'; serve a job that succeeded "
					"('moo ps -a')",
					job->id);
		}
		r = MOO_EJOB;
		goto done;
	}
	if (job->host && strcmp(job->host, "local") && strcmp(job->host, "slurm:")) {
		/* It ran on a host (a Slurm job: its login node): its workers run there. */
		m->host = moo__strdup(strncmp(job->host, "slurm:", 6) ? job->host : job->host + 6);
	}
	{
		/* The spec as the job ran it: its work folder's metadata.yaml, on its host. */
		char *path = moo__printf("%s/work/metadata.yaml", job->dir);
		struct moo__transport *t = NULL;
		struct moo_buf text = MOO_BUF_INIT;

		if (m->host) {
			r = moo__transport_open(&t, m->host, err);
			if (r == 0) {
				r = t->ops->read_file(t, path, 0, 1u << 20, &text, err);
				if (r == MOO_ENOTFOUND) {
					r = moo__fail(err, MOO_EJOB, "'%s' is gone from host '%s'",
						      path, m->host);
				}
			}
			if (r == 0) {
				r = moo_spec_parse(&spec, text.ptr ? text.ptr : "", text.len,
						   "metadata.yaml", err);
			}
			moo__transport_close(t);
		} else {
			r = moo_spec_load(&spec, path, err);
		}
		moo_buf_dispose(&text);
		free(path);
		if (r < 0) {
			goto done;
		}
	}
	r = spec_model(m, spec, err);
	if (r < 0) {
		goto done;
	}
	if (job->lock) {
		r = moo_lock_parse(&lock, job->lock, strlen(job->lock), "moo.lock", err);
		if (r < 0) {
			goto done;
		}
	}
	m->code_dir = moo__printf("%s/work", job->dir);
	/* On a host: the result folder there (what was collected here is a copy of it). */
	m->model_dir =
		m->host ? moo__printf("%s/work/%s", job->dir,
				      job->output_folder ? job->output_folder : "training_result")
			: moo__strdup(job->result_path);
	r = job_worker_command(m, job, lock, spec, err);
	if (r < 0) {
		goto done;
	}
	if (verify && !m->host) { /* the I/O last: what is cheap to refuse goes first */
		/* the model moo.lock says was made: one changed since is not served as it */
		char *hint = moo__printf("the result changed since job %s ended: put it back as "
					 "the job left it, or run it again ('moo reproduce %s') "
					 "and serve that",
					 job->id, job->id);

		r = moo__job_verify_result(job, job->result_path, hint, err);
		free(hint);
		if (r < 0) {
			goto done;
		}
	}
	*out = m;
	m = NULL;
done:
	moo_serve_model_free(m);
	moo_spec_free(spec);
	moo_plan_free(lock);
	return r;
}

/* ---- the server ---------------------------------------------------------------------- */

/*
 * One thread runs everything: one poll() over libmicrohttpd's sockets, each worker's
 * socket and an eventfd (moo_server_call, stop). A request is suspended while it waits in
 * the queue or at a worker; answers come back in the order requests were written, so each
 * worker keeps a FIFO of the requests it was sent. No lock is taken on that path; the mutex
 * guards only what other threads read or hand over (the state, the inbox of calls).
 */
struct req {
	struct moo_server *srv;
	struct MHD_Connection *conn; /* NULL for moo_server_call */
	char *path;
	char *ctype;
	char *id; /* X-Request-Id, given or made */
	struct moo_buf body;
	int spool_fd;
	char *spool_path;
	uint64_t size;
	double started;
	double queued_at;
	bool replied; /* an answer was written before the body had all arrived */
	/* the answer */
	bool answered;
	int status;
	char *answer;
	size_t answer_len;
	bool retry;
	struct req *next;
	/* in srv->arriving while its body arrives (the --timeout of a client that stalls) */
	struct req *aprev, *anext;
	bool arriving;
};

enum wstate { W_DOWN, W_LOADING, W_READY, W_FAILED };

struct worker {
	struct moo_server *srv;
	enum wstate st;
	pid_t pid;
	int fd;
	bool batch;
	bool want_out;     /* POLLOUT asked for */
	struct moo_buf in; /* bytes read and not yet used */
	size_t in_pos;
	struct moo_buf out; /* bytes to write */
	size_t out_pos;
	struct req **fly; /* sent, not yet answered, in order */
	size_t n_fly, fly_head, cap_fly;
	int ended; /* on a host: how its channel ended (moo__serve_link_spawn) */
};

struct moo_server {
	struct MHD_Daemon *d;
	char *url;
	char *name, *version, *code_dir, *entry_point, *model_dir, *command;
	const struct moo__embedded *shim, *page, *openapi;
	struct moo_serve_opts o;
	char *spool_dir;
	bool own_spool; /* spool_dir is ours (moo__tmp_dir): removed with the server */
	int wake;
	int listen_fd;
	struct pollfd *pfd; /* loop_main's poll set: libmicrohttpd's, the eventfd, the workers' */
	pthread_t loop;
	bool loop_started;
	/* the loop thread's own */
	struct req *head, *tail;
	unsigned queued;
	struct req *arriving; /* requests whose body is still arriving, oldest first */
	struct req *arriving_tail;
	bool was_ready; /* a worker has been ready: a restart is waited for, not a 503 */
	bool closing;   /* the loop has stopped: a request that arrives now is refused */
	unsigned long next_id;
	unsigned long pid; /* for request ids */
	struct worker *w;
	unsigned n_w;
	char *host;                   /* where the workers run, or NULL */
	struct moo__serve_link *link; /* ... reached through this */
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t done_cv; /* a moo_server_call request was answered */
	struct req *inbox;      /* moo_server_call's requests */
	unsigned ready, failed;
	char *load_error;
	bool stopping;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct moo__embedded *script(const char *name)
{
	const struct moo__embedded *e;

	for (e = moo__embedded_scripts; e->name; e++) {
		if (!strcmp(e->name, name)) {
			return e;
		}
	}
	return NULL;
}

static void arriving_drop(struct req *q)
{
	struct moo_server *s = q->srv;

	if (!q->arriving) {
		return;
	}
	if (q->aprev) {
		q->aprev->anext = q->anext;
	} else {
		s->arriving = q->anext;
	}
	if (q->anext) {
		q->anext->aprev = q->aprev;
	} else {
		s->arriving_tail = q->aprev;
	}
	q->aprev = q->anext = NULL;
	q->arriving = false;
}

static void req_free(struct req *q)
{
	if (!q) {
		return;
	}
	arriving_drop(q);
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
	}
	if (q->spool_path) {
		unlink(q->spool_path);
		free(q->spool_path);
	}
	moo_buf_dispose(&q->body);
	free(q->path);
	free(q->ctype);
	free(q->id);
	free(q->answer);
	free(q);
}

static struct req *req_new(struct moo_server *s, const char *path, const char *ctype,
			   const char *id)
{
	struct req *q = moo__calloc(1, sizeof(*q));

	q->srv = s;
	q->path = moo__strdup(path);
	q->ctype = moo__strdup(ctype ? ctype : "");
	q->spool_fd = -1;
	q->started = now();
	if (id && *id && strlen(id) < 200 && !strpbrk(id, "\r\n")) {
		q->id = moo__strdup(id);
	} else {
		pthread_mutex_lock(&s->mu);
		q->id = moo__printf("moo-%lx-%lu", s->pid, ++s->next_id);
		pthread_mutex_unlock(&s->mu);
	}
	return q;
}

/* The length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (*p < 0xc2 || *p > 0xf4) {
		return 0;
	}
	n = *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
	if (*p == 0xe0) {
		lo = 0xa0;
	} else if (*p == 0xed) {
		hi = 0x9f;
	} else if (*p == 0xf0) {
		lo = 0x90;
	} else if (*p == 0xf4) {
		hi = 0x8f;
	}
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf) {
		if (p[i] < lo || p[i] > hi) {
			return 0;
		}
	}
	return n;
}

/*
 * Appends text as a JSON string, quotes included. What a client sent (a path, a
 * Content-Type) may be any bytes: a byte that is not UTF-8 becomes U+FFFD, so the result is
 * always valid JSON. The hot path of every request (no jansson object built).
 */
static void put_jstr(struct moo_buf *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)text, *run = p;

	moo_buf_putc(b, '"');
	while (*p) {
		size_t n = 1;

		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
			p++;
			continue;
		}
		moo_buf_add(b, (const char *)run, (size_t)(p - run));
		if (*p == '"' || *p == '\\') {
			moo_buf_putc(b, '\\');
			moo_buf_putc(b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			moo_buf_printf(b, "\\u%04x", *p);
		} else if ((n = utf8_len(p))) {
			moo_buf_add(b, (const char *)p, n);
		} else {
			moo_buf_puts(b, "\\ufffd");
			n = 1;
		}
		p += n;
		run = p;
	}
	moo_buf_add(b, (const char *)run, (size_t)(p - run));
	moo_buf_putc(b, '"');
}

/* {"error": msg}, malloc'd; *len its length. */
static char *error_json(const char *msg, size_t *len)
{
	struct moo_buf b = MOO_BUF_INIT;

	moo_buf_puts(&b, "{\"error\":");
	put_jstr(&b, msg);
	moo_buf_putc(&b, '}');
	*len = b.len;
	return moo_buf_detach(&b);
}

/* Sets the answer: a JSON text, or {"error": msg} when json is NULL. */
static void req_answer(struct req *q, int status, const char *json, const char *msg)
{
	free(q->answer);
	if (json) {
		q->answer = moo__strdup(json);
		q->answer_len = strlen(q->answer);
	} else {
		q->answer = error_json(msg, &q->answer_len);
	}
	q->status = status;
	q->answered = true;
}

static int spool_add(struct req *q, const char *data, size_t n)
{
	if (q->spool_fd < 0 && q->body.len + n > SPOOL_AT) {
		q->spool_path = moo__printf("%s/moo-body-XXXXXX", q->srv->spool_dir);
		q->spool_fd = mkstemp(q->spool_path);
		if (q->spool_fd < 0) {
			free(q->spool_path);
			q->spool_path = NULL;
			return -1;
		}
		if (q->body.len &&
		    write(q->spool_fd, q->body.ptr, q->body.len) != (ssize_t)q->body.len) {
			return -1;
		}
		moo_buf_dispose(&q->body);
	}
	if (q->spool_fd >= 0) {
		while (n) {
			ssize_t k = write(q->spool_fd, data, n);

			if (k < 0 && errno == EINTR) {
				continue;
			}
			if (k <= 0) {
				return -1;
			}
			data += k;
			n -= (size_t)k;
		}
	} else {
		moo_buf_add(&q->body, data, n);
	}
	q->size += n;
	return 0;
}

/*
 * Hands a request its answer (answer is taken) and wakes whoever waits for it: its
 * connection (resumed), or moo_server_call. The request may be freed at once.
 */
static void deliver(struct moo_server *s, struct req *q, int status, char *answer, size_t len,
		    bool retry)
{
	if (q->conn) {
		free(q->answer);
		q->answer = answer;
		q->answer_len = len;
		q->status = status;
		q->retry = retry;
		q->answered = true;
		MHD_resume_connection(q->conn);
		return;
	}
	pthread_mutex_lock(&s->mu);
	free(q->answer);
	q->answer = answer;
	q->answer_len = len;
	q->status = status;
	q->retry = retry;
	q->answered = true;
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
}

static void deliver_error(struct moo_server *s, struct req *q, int status, const char *msg)
{
	size_t len;
	char *t = error_json(msg, &len);

	deliver(s, q, status, t, len, true);
}

/* ---- workers ------------------------------------------------------------------------- */

static void put_u32(struct moo_buf *b, size_t n)
{
	char p[4];

	p[0] = (char)(n >> 24);
	p[1] = (char)(n >> 16);
	p[2] = (char)(n >> 8);
	p[3] = (char)n;
	moo_buf_add(b, p, 4);
}

/* Writes what it can of w->out; -1 when the worker is gone. */
static int flush_out(struct worker *w)
{
	while (w->out_pos < w->out.len) {
		ssize_t k = send(w->fd, w->out.ptr + w->out_pos, w->out.len - w->out_pos,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			w->want_out = true; /* the rest when poll() says the socket takes it */
			return 0;
		}
		if (k < 0) {
			return -1;
		}
		w->out_pos += (size_t)k;
	}
	w->out.len = 0;
	w->out_pos = 0;
	w->want_out = false;
	return 0;
}

static int spawn_worker(struct worker *w)
{
	struct moo_server *s = w->srv;
	struct moo_buf line = MOO_BUF_INIT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *shim = moo__strndup((const char *)s->shim->data, s->shim->size);
	int sv[2];
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(shim);
		return -1;
	}
	moo_buf_puts(&line, "cd ");
	moo_buf_shquote(&line, s->code_dir);
	moo_buf_printf(&line, " && exec %s -u -c ", s->command);
	moo_buf_shquote(&line, shim);
	moo_buf_putc(&line, ' ');
	moo_buf_shquote(&line, s->entry_point);
	moo_buf_putc(&line, ' ');
	moo_buf_shquote(&line, s->model_dir);
	moo_buf_putc(&line, ' ');
	moo_buf_shquote(&line, s->name);
	if (s->link) {
		/* On the host: an exec channel carries the frames (serve_ssh.c). */
		moo__serve_link_spawn(s->link, line.ptr, sv[1], &w->ended);
		w->pid = 0;
		r = 0;
	} else {
		char *argv[] = {"/bin/sh", "-c", line.ptr, NULL};

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
		posix_spawnattr_init(&at);
		posix_spawnattr_setpgroup(&at, 0);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
		r = posix_spawn(&w->pid, "/bin/sh", &fa, &at, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
		close(sv[1]);
	}
	free(shim);
	moo_buf_dispose(&line);
	if (r) {
		close(sv[0]);
		w->pid = 0;
		return -1;
	}
	w->fd = sv[0];
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	w->want_out = false;
	w->in.len = 0;
	w->in_pos = 0;
	w->out.len = 0;
	w->out_pos = 0;
	w->st = W_LOADING;
	return 0;
}

/* Ends the worker's process; returns its wait status. */
static int reap_worker(struct worker *w, bool wait_long)
{
	int st = 0, i;

	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (!w->pid) {
		return 0;
	}
	for (i = 0; i < (wait_long ? 200 : 50); i++) {
		if (waitpid(w->pid, &st, WNOHANG) == w->pid) {
			w->pid = 0;
			return st;
		}
		usleep(i < 10 ? 1000 : 10000);
	}
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
	w->pid = 0;
	return st;
}

static void set_ready(struct moo_server *s, struct worker *w, bool ready, const char *error)
{
	pthread_mutex_lock(&s->mu);
	if (ready) {
		s->ready++;
		s->was_ready = true;
	} else if (w->st == W_READY) {
		s->ready--;
	}
	if (error) {
		free(s->load_error);
		s->load_error = moo__strdup(error);
		s->failed++;
	}
	pthread_mutex_unlock(&s->mu);
}

static struct req *pop(struct moo_server *s);
static void expire_arrivals(struct moo_server *s);

/*
 * The worker is gone: what it was answering gets 502, and it is started again (unless
 * it never loaded). On a host whose connection was lost, 503 with Retry-After (so are
 * the queued requests when no worker is left), and the worker is asked for again: the
 * link reconnects first.
 */
static void worker_died(struct worker *w)
{
	struct moo_server *s = w->srv;
	int st = reap_worker(w, false);
	int ended = __atomic_load_n(&w->ended, __ATOMIC_SEQ_CST);
	bool lost = s->link && ended == MOO__LINK_LOST;
	char why[320];

	if (lost) {
		snprintf(why, sizeof(why),
			 "the connection to host '%s' was lost while this request was at its "
			 "worker; moo is reconnecting: try again shortly",
			 s->host);
	} else if (s->link && ended < 0) {
		snprintf(why, sizeof(why),
			 "the worker answering this request on host '%s' was killed by a signal; "
			 "it is being restarted",
			 s->host);
	} else if (s->link) {
		snprintf(why, sizeof(why),
			 "the worker answering this request on host '%s' exited with status %d; "
			 "it is being restarted",
			 s->host, ended);
	} else if (WIFSIGNALED(st)) {
		snprintf(why, sizeof(why),
			 "the worker answering this request was killed by signal %d; it is being "
			 "restarted",
			 WTERMSIG(st));
	} else {
		snprintf(why, sizeof(why),
			 "the worker answering this request exited with status %d; it is being "
			 "restarted",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	while (w->n_fly) {
		struct req *q = w->fly[w->fly_head];

		w->fly_head = (w->fly_head + 1) % w->cap_fly;
		w->n_fly--;
		deliver_error(s, q, lost ? 503 : 502, why);
	}
	if (w->st == W_LOADING && !lost) {
		set_ready(s, w, false, "the worker exited before load() finished");
		w->st = W_FAILED;
		return;
	}
	if (w->st == W_READY) {
		set_ready(s, w, false, NULL);
	}
	w->st = W_DOWN;
	if (lost && !s->ready) {
		while (s->head) { /* no worker is left to answer them */
			deliver_error(s, pop(s), 503, why);
		}
	}
	if (!s->stopping && spawn_worker(w) < 0) {
		set_ready(s, w, false, "cannot start a worker again");
		w->st = W_FAILED;
	}
}

static void fly_push(struct worker *w, struct req *q)
{
	if (w->n_fly == w->cap_fly) {
		size_t cap = w->cap_fly ? 2 * w->cap_fly : 16, i;
		struct req **f = moo__calloc(cap, sizeof(*f));

		for (i = 0; i < w->n_fly; i++) {
			f[i] = w->fly[(w->fly_head + i) % w->cap_fly];
		}
		free(w->fly);
		w->fly = f;
		w->fly_head = 0;
		w->cap_fly = cap;
	}
	w->fly[(w->fly_head + w->n_fly) % w->cap_fly] = q;
	w->n_fly++;
}

/* Appends one request's message to w->out and puts it in flight. */
static void write_req(struct worker *w, struct req *q)
{
	struct moo_buf h = MOO_BUF_INIT;
	size_t bl = q->spool_path ? 0 : q->body.len;

	moo_buf_puts(&h, "{\"path\":");
	put_jstr(&h, q->path);
	moo_buf_puts(&h, ",\"content_type\":");
	put_jstr(&h, q->ctype);
	if (q->spool_path && !w->srv->link) {
		moo_buf_puts(&h, ",\"body_file\":");
		put_jstr(&h, q->spool_path);
	}
	moo_buf_putc(&h, '}');
	put_u32(&w->out, h.len);
	moo_buf_add(&w->out, h.ptr, h.len);
	moo_buf_dispose(&h);

	if (q->spool_path && w->srv->link) {
		/* A worker on a host cannot open our spool file: the body goes in the frame. */
		int fd = open(q->spool_path, O_RDONLY | O_CLOEXEC);
		struct moo_buf b = MOO_BUF_INIT;

		while (fd >= 0 && b.len < q->size) {
			char chunk[65536];
			ssize_t k = read(fd, chunk, sizeof(chunk));

			if (k <= 0) {
				break;
			}
			moo_buf_add(&b, chunk, (size_t)k);
		}
		if (fd >= 0) {
			close(fd);
		}
		put_u32(&w->out, b.len);
		moo_buf_add(&w->out, b.ptr, b.len);
		moo_buf_dispose(&b);
		fly_push(w, q);
		return;
	}
	put_u32(&w->out, bl);
	if (bl) {
		moo_buf_add(&w->out, q->body.ptr, bl);
	}
	fly_push(w, q);
}

static struct req *pop(struct moo_server *s)
{
	struct req *q = s->head;

	s->head = q->next;
	if (!s->head) {
		s->tail = NULL;
	}
	q->next = NULL;
	s->queued--;
	return q;
}

/*
 * Gives queued requests to workers. Without predict_batch: to the least busy ready worker,
 * up to PIPE_MAX in flight each (a body over 64 KiB only to an idle one, so a worker busy
 * with a long request does not hold it). With it: what waits (up to batch_max) at once to an
 * idle worker; to a worker with one batch in flight (the next waits there while it runs),
 * once batch_max wait or the oldest has waited batch_wait_ms. Returns the seconds until a
 * batch falls due, or -1.
 */
static double dispatch(struct moo_server *s)
{
	double due = -1;
	unsigned i;

	/*
	 * No worker ready (one being restarted after it died): what waits is answered once
	 * every worker has failed to load again, or after --timeout s in the queue.
	 */
	while (s->head && !s->ready) {
		if (s->failed >= s->n_w) {
			char *msg = moo__printf("load() failed: %s; the model is not served "
						"(load() is not retried): fix it and serve again",
						s->load_error ? s->load_error : "?");
			size_t len;
			char *t = error_json(msg, &len);

			free(msg);
			deliver(s, pop(s), 503, t, len, false);
		} else if (now() - s->head->queued_at > s->o.timeout_s) {
			char *msg = moo__printf("no worker was ready within %u s (moo serve "
						"--timeout): a worker is being restarted; try "
						"again shortly",
						s->o.timeout_s);

			deliver_error(s, pop(s), 503, msg);
			free(msg);
		} else {
			break;
		}
	}

	while (s->head) {
		struct worker *best = NULL;
		struct req *q = s->head;

		for (i = 0; i < s->n_w; i++) {
			struct worker *w = &s->w[i];

			if (w->st != W_READY) {
				continue;
			}
			if (w->batch && s->o.batch_max > 1 ? w->n_fly <= s->o.batch_max
							   : w->n_fly < PIPE_MAX) {
				if (!best || w->n_fly < best->n_fly) {
					best = w;
				}
			}
		}
		if (!best || (best->n_fly && q->body.len > (64u << 10))) {
			break;
		}
		if (best->batch && s->o.batch_max > 1) {
			double wait = q->queued_at + s->o.batch_wait_ms / 1000.0 - now();
			size_t n = s->queued < s->o.batch_max ? s->queued : s->o.batch_max;
			char head[48];
			int hl;

			/* An idle worker takes what waits at once: batches form while workers
			 * are busy, and a lone request never waits for company. */
			if (n < s->o.batch_max && wait > 0 && best->n_fly) {
				due = wait;
				break;
			}
			hl = snprintf(head, sizeof(head), "{\"batch\":%zu}", n);
			put_u32(&best->out, (size_t)hl);
			moo_buf_add(&best->out, head, (size_t)hl);
			put_u32(&best->out, 0);
			while (n--) {
				write_req(best, pop(s));
			}
		} else {
			write_req(best, pop(s));
		}
		if (best->out.len - best->out_pos > (256u << 10) && flush_out(best) < 0) {
			worker_died(best);
		}
	}
	for (i = 0; i < s->n_w; i++) {
		struct worker *w = &s->w[i];

		if (w->fd >= 0 && w->out.len > w->out_pos && !w->want_out && flush_out(w) < 0) {
			worker_died(w);
		}
	}
	return due;
}

/* A complete frame at offset off of w->in: its start and length, or false. */
static bool frame_at(const struct worker *w, size_t off, const char **data, size_t *len)
{
	const unsigned char *p = (const unsigned char *)w->in.ptr + off;
	uint32_t n;

	if (w->in.len - off < 4) {
		return false;
	}
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n > MAX_FRAME) {
		*len = SIZE_MAX; /* not a frame moo sent for: the worker is treated as dead */
		return false;
	}
	if (w->in.len - off - 4 < n) {
		return false;
	}
	*data = (const char *)p + 4;
	*len = n;
	return true;
}

/*
 * The status of an answer's header, {"status": N, ...} as the shim writes it (json.dumps),
 * read without building a JSON object: this is every request's path. 0 when not there.
 */
static int answer_status(const char *h, size_t len)
{
	static const char key[] = "\"status\":";
	size_t i, k = sizeof(key) - 1;
	int n = 0;

	for (i = 0; i + k <= len; i++) {
		if (h[i] == '"' && !memcmp(h + i, key, k)) {
			break;
		}
	}
	for (i += k; i < len && h[i] == ' '; i++) {
	}
	for (; i < len && h[i] >= '0' && h[i] <= '9' && n < 1000; i++) {
		n = n * 10 + (h[i] - '0');
	}
	return n;
}

/* Reads what the worker sent and acts on every complete message. */
static void worker_readable(struct worker *w)
{
	struct moo_server *s = w->srv;
	bool eof = false;

	for (;;) {
		char chunk[65536];
		ssize_t k = recv(w->fd, chunk, sizeof(chunk), MSG_DONTWAIT);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		}
		if (k <= 0) {
			eof = true;
			break;
		}
		moo_buf_add(&w->in, chunk, (size_t)k);
		if ((size_t)k < sizeof(chunk)) {
			break;
		}
	}
	for (;;) {
		const char *h, *b;
		size_t hl, bl;

		if (w->st == W_LOADING) {
			json_t *o;

			hl = 0;
			if (!frame_at(w, w->in_pos, &h, &hl)) {
				eof = eof || hl == SIZE_MAX;
				break;
			}
			w->in_pos += 4 + hl;
			o = json_loadb(h, hl, 0, NULL);
			if (o && json_is_true(json_object_get(o, "ready"))) {
				w->batch = json_is_true(json_object_get(o, "batch"));
				set_ready(s, w, true, NULL);
				w->st = W_READY;
			} else {
				const char *e =
					o ? json_string_value(json_object_get(o, "error")) : NULL;

				set_ready(s, w, false, e ? e : "load() failed");
				w->st = W_FAILED;
				json_decref(o);
				reap_worker(w, true);
				return;
			}
			json_decref(o);
			continue;
		}
		hl = bl = 0;
		if (!frame_at(w, w->in_pos, &h, &hl) || !frame_at(w, w->in_pos + 4 + hl, &b, &bl)) {
			eof = eof || hl == SIZE_MAX || bl == SIZE_MAX;
			break;
		}
		if (w->n_fly) {
			int status = answer_status(h, hl);
			struct req *q = w->fly[w->fly_head];

			w->fly_head = (w->fly_head + 1) % w->cap_fly;
			w->n_fly--;
			deliver(s, q, status >= 200 && status < 600 ? status : 500,
				moo__strndup(b, bl), bl, false);
		}
		w->in_pos += 8 + hl + bl;
	}
	if (w->in_pos == w->in.len) {
		w->in.len = 0;
		w->in_pos = 0;
	} else if (w->in_pos > (1u << 20)) {
		memmove(w->in.ptr, w->in.ptr + w->in_pos, w->in.len - w->in_pos);
		w->in.len -= w->in_pos;
		w->in_pos = 0;
	}
	if (eof) {
		worker_died(w);
	}
}

/*
 * The poll() set of one turn of the loop: libmicrohttpd's sockets (*n_mhd entries, read
 * from its select() sets), then the eventfd, then each worker's socket (-1, ignored by
 * poll, while it has none). libmicrohttpd is driven this way rather than through its own
 * epoll: a connection suspended while a worker answers is just left out of the next set,
 * where epoll costs two epoll_ctl calls a request to take it out and put it back, and
 * libmicrohttpd reads a socket only when poll() found data, where its edge-triggered
 * epoll read once more after each request to find nothing. That was ~30% of this
 * thread's CPU at 35k requests/s on 2 cores (bench/serve.sh's echo set).
 */
static nfds_t poll_set(struct moo_server *s, nfds_t *n_mhd)
{
	const union MHD_DaemonInfo *ci =
		MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	/* At CONN_MAX, libmicrohttpd would accept and close: the next waits to be accepted */
	int listen_fd = ci && ci->num_connections >= CONN_MAX(s->o.workers) ? s->listen_fd : -1;
	fd_set rs, ws, es;
	MHD_socket max = -1;
	nfds_t n = 0;
	unsigned i;
	int fd;

	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	MHD_get_fdset2(s->d, &rs, &ws, &es, &max, FD_SETSIZE);
	for (fd = 0; fd <= max && fd < FD_SETSIZE; fd++) {
		short ev = (short)((FD_ISSET(fd, &rs) ? POLLIN : 0) |
				   (FD_ISSET(fd, &ws) ? POLLOUT : 0));

		if (ev && fd != listen_fd) {
			s->pfd[n++] = (struct pollfd){.fd = fd, .events = ev};
		}
	}
	*n_mhd = n;
	s->pfd[n++] = (struct pollfd){.fd = s->wake, .events = POLLIN};
	for (i = 0; i < s->n_w; i++) {
		struct worker *w = &s->w[i];

		s->pfd[n++] = (struct pollfd){
			.fd = w->fd, .events = (short)(POLLIN | (w->want_out ? POLLOUT : 0))};
	}
	return n;
}

/* What poll() found on libmicrohttpd's sockets, as the sets MHD_run_from_select reads. */
static void poll_found(const struct moo_server *s, nfds_t n_mhd, fd_set *rs, fd_set *ws)
{
	nfds_t k;

	FD_ZERO(rs);
	FD_ZERO(ws);
	for (k = 0; k < n_mhd; k++) {
		const struct pollfd *p = &s->pfd[k];
		short any = (short)(p->revents & (POLLHUP | POLLERR));

		if ((p->events & POLLIN) && (p->revents & (POLLIN | any))) {
			FD_SET(p->fd, rs);
		}
		if ((p->events & POLLOUT) && (p->revents & (POLLOUT | any))) {
			FD_SET(p->fd, ws);
		}
	}
}

static void *loop_main(void *arg)
{
	struct moo_server *s = arg;
	double due = -1;
	unsigned i;

	for (i = 0; i < s->n_w; i++) {
		if (spawn_worker(&s->w[i]) < 0) {
			set_ready(s, &s->w[i], false, "cannot start a worker");
			s->w[i].st = W_FAILED;
		}
	}
	for (;;) {
		MHD_UNSIGNED_LONG_LONG mt = 0;
		int timeout = 1000;
		nfds_t n, n_mhd;
		fd_set rs, ws, es;
		bool stop;

		if (MHD_get_timeout(s->d, &mt) == MHD_YES && mt < (MHD_UNSIGNED_LONG_LONG)timeout) {
			timeout = (int)mt;
		}
		if (due >= 0 && due * 1000 + 1 < timeout) {
			timeout = (int)(due * 1000) + 1;
		}
		n = poll_set(s, &n_mhd);
		if (poll(s->pfd, n, timeout) < 0) {
			for (i = 0; i < n; i++) {
				s->pfd[i].revents = 0; /* EINTR: a turn with nothing found */
			}
		}
		poll_found(s, n_mhd, &rs, &ws);
		if (s->pfd[n_mhd].revents & POLLIN) {
			uint64_t v;
			ssize_t k = read(s->wake, &v, sizeof(v));

			(void)k;
		}
		for (i = 0; i < s->n_w; i++) {
			struct worker *w = &s->w[i];
			const struct pollfd *p = &s->pfd[n_mhd + 1 + i];

			if (w->fd < 0 || p->fd != w->fd) {
				continue; /* restarted since the set was made */
			}
			if ((p->revents & POLLOUT) && flush_out(w) < 0) {
				worker_died(w);
				continue;
			}
			if (p->revents & (POLLIN | POLLHUP | POLLERR)) {
				worker_readable(w);
			}
		}
		pthread_mutex_lock(&s->mu);
		stop = s->stopping;
		while (s->inbox) {
			struct req *q = s->inbox;

			s->inbox = q->next;
			q->next = NULL;
			q->queued_at = now();
			if (s->tail) {
				s->tail->next = q;
			} else {
				s->head = q;
			}
			s->tail = q;
			s->queued++;
		}
		pthread_mutex_unlock(&s->mu);
		if (stop) {
			break;
		}
		FD_ZERO(&es);
		MHD_run_from_select(s->d, &rs, &ws, &es);
		expire_arrivals(s);
		due = dispatch(s);
	}
	/*
	 * Stopping: whatever waits is answered 503, and so is a request that arrives from
	 * now on (none may stay suspended: libmicrohttpd aborts moo when stopped with one);
	 * the workers see EOF, then SIGKILL.
	 */
	s->closing = true;
	while (s->head) {
		deliver_error(s, pop(s), 503, "the server is stopping");
	}
	for (i = 0; i < s->n_w; i++) {
		struct worker *w = &s->w[i];

		if (w->fd >= 0) {
			shutdown(w->fd, SHUT_WR);
		}
	}
	for (i = 0; i < s->n_w; i++) {
		struct worker *w = &s->w[i];

		while (w->n_fly) {
			struct req *q = w->fly[w->fly_head];

			w->fly_head = (w->fly_head + 1) % w->cap_fly;
			w->n_fly--;
			deliver_error(s, q, 503, "the server is stopping");
		}
		reap_worker(w, true);
	}
	MHD_run(s->d);
	return NULL;
}

/* ---- HTTP ---------------------------------------------------------------------------- */

static enum MHD_Result send_answer(struct req *q)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	const char *ct = "application/json";

	if (q->status == 200 && !strcmp(q->path, "/")) {
		ct = "text/html; charset=utf-8";
	}
	resp = MHD_create_response_from_buffer(q->answer_len, q->answer, MHD_RESPMEM_MUST_FREE);
	q->answer = NULL;
	if (!resp) {
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ct);
	MHD_add_response_header(resp, "X-Request-Id", q->id);
	if (q->retry) { /* a 503 that will pass: not one of a model that failed to load */
		MHD_add_response_header(resp, "Retry-After", RETRY_SECS);
	}
	r = MHD_queue_response(q->conn, (unsigned)q->status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply(struct req *q, int status, const char *json, const char *msg)
{
	req_answer(q, status, json, msg);
	return send_answer(q);
}

/*
 * An answer while the body is still arriving (408, a chunked body over --max-body):
 * libmicrohttpd queues answers only once the request is complete, so it is written to
 * the socket directly (it is small) and the connection is then closed.
 */
static enum MHD_Result reply_early(struct req *q, int status, const char *reason, const char *msg)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	size_t blen;
	char *body = error_json(msg, &blen);
	char *text = moo__printf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
				 "X-Request-Id: %s\r\nConnection: close\r\nContent-Length: %zu"
				 "\r\n\r\n%s",
				 status, reason, q->id, blen, body);

	if (ci) {
		ssize_t k = send(ci->connect_fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);

		(void)k;
	}
	free(text);
	free(body);
	q->replied = true;
	return MHD_NO;
}

static bool model_path(const struct moo_server *s, const char *url, const char **rest)
{
	size_t n = strlen(s->name);

	if (strncmp(url, "/v2/models/", 11) || strncmp(url + 11, s->name, n)) {
		return false;
	}
	*rest = url + 11 + n;
	return **rest == 0 || **rest == '/';
}

/* While the workers' host is being reconnected: why they are not ready (malloc'd), or NULL. */
static char *link_wait(struct moo_server *s)
{
	char *w = s->link ? moo__serve_link_why(s->link) : NULL;
	char *msg = w ? moo__printf("reconnecting to host '%s': %s", s->host, w) : NULL;

	free(w);
	return msg;
}

static enum MHD_Result ready_answer(struct req *q)
{
	struct moo_server *s = q->srv;
	enum MHD_Result r;
	char *why = NULL;
	enum moo_server_state st = moo_server_state(&why, s);

	if (st == MOO_SERVER_READY) {
		r = reply(q, 200, "{\"ready\":true}", NULL);
	} else {
		char *lw = st == MOO_SERVER_LOADING ? link_wait(s) : NULL;
		struct moo_buf t = MOO_BUF_INIT;

		moo_buf_puts(&t, "{\"ready\":false,\"error\":");
		put_jstr(&t, lw                               ? lw
			     : st == MOO_SERVER_FAILED && why ? why
							      : "the model is loading");
		moo_buf_putc(&t, '}');
		q->retry = st == MOO_SERVER_LOADING;
		r = reply(q, 503, t.ptr, NULL);
		moo_buf_dispose(&t);
		free(lw);
	}
	free(why);
	return r;
}

/* Requests waiting for a worker: queued, or written to one behind the one it answers. */
static unsigned waiting(const struct moo_server *s)
{
	unsigned n = s->queued, i;

	for (i = 0; i < s->n_w; i++) {
		n += s->w[i].n_fly > 1 ? (unsigned)s->w[i].n_fly - 1 : 0;
	}
	return n;
}

static enum MHD_Result enqueue(struct req *q)
{
	struct moo_server *s = q->srv;
	const char *refuse = NULL;
	enum moo_server_state st = moo_server_state(NULL, s);
	char *why = NULL;

	if (s->closing) {
		refuse = "the server is stopping";
	} else if (st == MOO_SERVER_FAILED) { /* for good: the workers are not started again */
		char *e = NULL;

		moo_server_state(&e, s);
		why = moo__printf("load() failed: %s; the model is not served (load() is not "
				  "retried): fix it and serve again",
				  e ? e : "?");
		free(e);
		refuse = why;
	} else if (st == MOO_SERVER_LOADING && ((why = link_wait(s)) || !s->was_ready)) {
		/* loading for the first time, or the host being reconnected; a worker being
		 * restarted (one died) is waited for in the queue */
		refuse = why ? why : "the model is loading";
	} else if (waiting(s) >= s->o.queue_max) {
		refuse = "too many requests are waiting: try again shortly";
	}
	if (refuse) {
		q->retry = st != MOO_SERVER_FAILED;
		req_answer(q, 503, NULL, refuse);
		free(why);
		return send_answer(q);
	}
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
		q->spool_fd = -1;
	}
	MHD_suspend_connection(q->conn);
	q->queued_at = now();
	q->next = NULL;
	if (s->tail) {
		s->tail->next = q;
	} else {
		s->head = q;
	}
	s->tail = q;
	s->queued++;
	return MHD_YES;
}

static enum MHD_Result route(struct req *q, const char *method)
{
	struct moo_server *s = q->srv;
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");
	const char *rest = NULL;
	const char *u = q->path;

	if (!strcmp(u, "/v2/health/live")) {
		return get ? reply(q, 200, "{\"live\":true}", NULL)
			   : reply(q, 405, NULL, "use GET");
	}
	if (!strcmp(u, "/v2/health/ready") || !strcmp(u, "/ping")) {
		return get ? ready_answer(q) : reply(q, 405, NULL, "use GET");
	}
	if (!strcmp(u, "/invocations") || !strcmp(u, "/predict")) {
		return post ? enqueue(q) : reply(q, 405, NULL, "use POST");
	}
	if (!strcmp(u, "/") || !strcmp(u, "/openapi.json")) {
		const struct moo__embedded *e = u[1] ? s->openapi : s->page;
		struct moo_buf t = MOO_BUF_INIT;
		enum MHD_Result r;

		moo_buf_add(&t, e->data, e->size);
		if (!get) {
			moo_buf_dispose(&t);
			return reply(q, 405, NULL, "use GET");
		}
		/* The model's name, where the text says {{MODEL}}. */
		{
			struct moo_buf o = MOO_BUF_INIT;
			const char *p = t.ptr, *m;

			while ((m = strstr(p, "{{MODEL}}"))) {
				moo_buf_add(&o, p, (size_t)(m - p));
				moo_buf_puts(&o, s->name);
				p = m + 9;
			}
			moo_buf_puts(&o, p);
			r = reply(q, 200, o.ptr, NULL);
			moo_buf_dispose(&o);
		}
		moo_buf_dispose(&t);
		return r;
	}
	if (!strcmp(u, "/v2") || !strcmp(u, "/v2/")) {
		json_t *o = json_pack("{sssss[]}", "name", "moo", "version", moo_version(),
				      "extensions");
		char *t = json_dumps(o, JSON_COMPACT);
		enum MHD_Result r = get ? reply(q, 200, t, NULL) : reply(q, 405, NULL, "use GET");

		free(t);
		json_decref(o);
		return r;
	}
	if (!strncmp(u, "/v2/models/", 11)) {
		if (!model_path(s, u, &rest)) {
			char *msg = moo__printf("no model '%.*s' here: this server has '%s'",
						(int)strcspn(u + 11, "/"), u + 11, s->name);
			enum MHD_Result r = reply(q, 404, NULL, msg);

			free(msg);
			return r;
		}
		if (!strncmp(rest, "/versions/", 10)) {
			/* only the served model's version is here (model.version) */
			size_t vl = strcspn(rest + 10, "/");

			if (!s->version || strlen(s->version) != vl ||
			    strncmp(rest + 10, s->version, vl)) {
				char *msg = moo__printf(
					"no version '%.*s' of model '%s' here: %s%s%s", (int)vl,
					rest + 10, s->name,
					s->version ? "this server has version '"
						   : "it has no version",
					s->version ? s->version : "", s->version ? "'" : "");
				enum MHD_Result r = reply(q, 404, NULL, msg);

				free(msg);
				return r;
			}
			rest += 10 + vl;
		}
		if (!*rest) {
			json_t *o =
				json_pack("{sss[]sss[]s[{sssss[i]}]}", "name", s->name, "versions",
					  "platform", "moo-python", "inputs", "outputs", "name",
					  "predictions", "datatype", "FP64", "shape", -1);
			char *t;
			enum MHD_Result r;

			if (s->version) {
				json_array_append_new(json_object_get(o, "versions"),
						      json_string(s->version));
			}
			t = json_dumps(o, JSON_COMPACT);
			r = get ? reply(q, 200, t, NULL) : reply(q, 405, NULL, "use GET");
			free(t);
			json_decref(o);
			return r;
		}
		if (!strcmp(rest, "/ready")) {
			return get ? ready_answer(q) : reply(q, 405, NULL, "use GET");
		}
		if (!strcmp(rest, "/infer")) {
			return post ? enqueue(q) : reply(q, 405, NULL, "use POST");
		}
	}
	{
		char *msg = moo__printf("no such path '%s'", u);
		enum MHD_Result r = reply(q, 404, NULL, msg);

		free(msg);
		return r;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **cc)
{
	struct moo_server *s = cls;
	struct req *q = *cc;

	if (!q) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");

		q = req_new(s, url, ct, id);
		q->conn = c;
		*cc = q;
		if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
			char *msg = moo__printf("the body of %s bytes is over the limit of %llu "
						"(moo serve --max-body)",
						cl, (unsigned long long)s->o.max_body);
			enum MHD_Result r = reply(q, 413, NULL, msg);

			free(msg);
			q->replied = true;
			return r;
		}
		q->arriving = true; /* until its body is complete (expire_arrivals) */
		q->aprev = s->arriving_tail;
		if (s->arriving_tail) {
			s->arriving_tail->anext = q;
		} else {
			s->arriving = q;
		}
		s->arriving_tail = q;
		return MHD_YES;
	}
	if (q->replied) {
		arriving_drop(q);
		*size = 0;
		return MHD_YES;
	}
	if (*size) {
		enum MHD_Result r = MHD_YES;

		if (now() - q->started > s->o.timeout_s) {
			char *msg = moo__printf("the request took over %u s to arrive (moo serve "
						"--timeout)",
						s->o.timeout_s);

			r = reply_early(q, 408, "Request Timeout", msg);
			free(msg);
		} else if (q->size + *size > s->o.max_body) {
			char *msg = moo__printf("the body is over the limit of %llu bytes (moo "
						"serve --max-body)",
						(unsigned long long)s->o.max_body);

			r = reply_early(q, 413, "Content Too Large", msg);
			free(msg);
		} else if (spool_add(q, data, *size) < 0) {
			r = reply_early(q, 500, "Internal Server Error",
					"cannot spool the request body to a file");
		}
		*size = 0;
		return r;
	}
	arriving_drop(q);
	if (q->answered) {
		return send_answer(q);
	}
	return route(q, method);
}

/*
 * Requests whose body has not all arrived within --timeout: 408, written as reply_early
 * does, then the socket shut down so that libmicrohttpd ends the connection. A client that
 * keeps sending gets its 408 from on_request; this is for one that stopped (libmicrohttpd
 * calls nothing for it, and its own connection timeout, set longer, would close it
 * without an answer).
 */
static void expire_arrivals(struct moo_server *s)
{
	double t = now();

	while (s->arriving && t - s->arriving->started > s->o.timeout_s) {
		struct req *q = s->arriving;
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		char *msg = moo__printf("the request took over %u s to arrive (moo serve "
					"--timeout)",
					s->o.timeout_s);

		arriving_drop(q);
		reply_early(q, 408, "Request Timeout", msg);
		free(msg);
		if (ci) {
			shutdown(ci->connect_fd, SHUT_RDWR);
		}
	}
}

static void on_done(void *cls, struct MHD_Connection *c, void **cc,
		    enum MHD_RequestTerminationCode toe)
{
	req_free(*cc);
	*cc = NULL;
}

/* ---- the server's life ------------------------------------------------------------- */

static void server_free(struct moo_server *s)
{
	unsigned i;

	if (s->d) {
		MHD_stop_daemon(s->d);
	}
	moo__serve_link_close(s->link); /* the workers on the host see EOF */
	for (i = 0; s->w && i < s->n_w; i++) {
		moo_buf_dispose(&s->w[i].in);
		moo_buf_dispose(&s->w[i].out);
		free(s->w[i].fly);
	}
	free(s->pfd);
	if (s->wake >= 0) {
		close(s->wake);
	}
	free(s->url);
	free(s->name);
	free(s->version);
	free(s->code_dir);
	free(s->entry_point);
	free(s->model_dir);
	free(s->command);
	if (s->own_spool) {
		moo__rm_rf(s->spool_dir); /* the workers are gone, and what they left there */
	}
	free(s->spool_dir);
	free(s->host);
	free(s->load_error);
	free(s->w);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->done_cv);
	free(s);
}

int moo_server_start(struct moo_server **out, const struct moo_serve_model *m,
		     const struct moo_serve_opts *opts, struct moo_error **err)
{
	struct moo_server *s;
	struct sockaddr_storage ss;
	const char *bind_addr;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO; /* driven by loop_main */
	unsigned i, port;
	int r;

	if (!opts) {
		return moo__fail(err, MOO_EARG, "moo_server_start: no options");
	}
	if ((r = moo__opts_version(opts->version, MOO_SERVE_OPTS_VERSION, "moo_serve_opts", err))) {
		return r;
	}
	if (opts->workers > 256) { /* moo-serve(1)'s limit; CONN_MAX leaves fds for them */
		return moo__fail(err, MOO_EARG, "%u workers: at most 256", (unsigned)opts->workers);
	}
	s = moo__calloc(1, sizeof(*s));
	s->wake = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	s->o = *opts;
	s->o.bind = NULL;
	s->o.spool_dir = NULL;
	if (!s->o.workers) {
		s->o.workers = 1;
	}
	if (!s->o.max_body) {
		s->o.max_body = 64ull << 20;
	}
	if (!s->o.queue_max) {
		s->o.queue_max = 64 * s->o.workers;
	}
	if (!s->o.timeout_s) {
		s->o.timeout_s = 30;
	}
	/*
	 * Bodies over 1 MiB go to a folder of this server's own (0700: the worker's file of a
	 * multipart upload beside a body cannot be raced by a symlink), swept if moo is killed.
	 */
	if (opts->spool_dir) {
		s->spool_dir = moo__strdup(opts->spool_dir);
	} else if ((s->spool_dir = moo__tmp_dir("moo-serve-", err))) {
		s->own_spool = true;
	} else {
		r = MOO_EIO;
		goto fail;
	}
	s->name = moo__strdup(m->name);
	s->version = m->version ? moo__strdup(m->version) : NULL;
	s->code_dir = moo__strdup(m->code_dir);
	s->entry_point = moo__strdup(m->entry_point);
	s->model_dir = moo__strdup(m->model_dir);
	s->command = moo__strdup(m->command);
	s->shim = script("worker.py");
	s->page = script("serve.html");
	s->openapi = script("openapi.json");
	s->pid = (unsigned long)getpid();
	if (m->host) {
		s->host = moo__strdup(m->host);
		r = moo__serve_link_open(&s->link, m->host, err);
		if (r < 0) {
			goto fail;
		}
	}
	if (!s->shim || !s->page || !s->openapi) {
		r = moo__fail(err, MOO_EIO, "libmoo was built without its worker shim");
		goto fail;
	}

	if ((r = moo__mhdlib_load(err))) {
		goto fail;
	}
	bind_addr = opts->bind ? opts->bind : "127.0.0.1";
	memset(&ss, 0, sizeof(ss));
	if (strchr(bind_addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)opts->port);
		if (inet_pton(AF_INET6, bind_addr, &a->sin6_addr) != 1) {
			r = moo__fail(err, MOO_EARG, "'%s' is not an IP address", bind_addr);
			goto fail;
		}
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)opts->port);
		if (inet_pton(AF_INET, bind_addr, &a->sin_addr) != 1) {
			r = moo__fail(err, MOO_EARG, "'%s' is not an IP address", bind_addr);
			goto fail;
		}
	}
	s->d = MHD_start_daemon(flags, (uint16_t)opts->port, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
				/* longer than --timeout: a body that stalls gets its 408 from
				 * expire_arrivals before libmicrohttpd closes the connection */
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s + 2,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)CONN_MAX(s->o.workers), MHD_OPTION_END);
	if (!s->d) {
		r = moo__fail_errno(err, MOO_EIO, "cannot listen on %s port %u", bind_addr,
				    opts->port);
		goto fail;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : opts->port;
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
	s->listen_fd = info ? info->listen_fd : -1;
	s->url = strchr(bind_addr, ':') ? moo__printf("http://[%s]:%u", bind_addr, port)
					: moo__printf("http://%s:%u", bind_addr, port);
	s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot set up the event loop");
		goto fail;
	}
	s->n_w = s->o.workers;
	s->w = moo__calloc(s->n_w, sizeof(*s->w));
	s->pfd = moo__calloc((size_t)FD_SETSIZE + 1 + s->n_w, sizeof(*s->pfd));
	for (i = 0; i < s->n_w; i++) {
		s->w[i].srv = s;
		s->w[i].fd = -1;
	}
	if (pthread_create(&s->loop, NULL, loop_main, s)) {
		r = moo__fail(err, MOO_EIO, "cannot start the server's thread");
		goto fail;
	}
	s->loop_started = true;
	*out = s;
	return 0;
fail:
	server_free(s);
	return r;
}

const char *moo_server_url(const struct moo_server *s)
{
	return s->url;
}

enum moo_server_state moo_server_state(char **why, struct moo_server *s)
{
	enum moo_server_state st;

	pthread_mutex_lock(&s->mu);
	st = s->ready              ? MOO_SERVER_READY
	     : s->failed >= s->n_w ? MOO_SERVER_FAILED
				   : MOO_SERVER_LOADING;
	if (why) {
		*why = s->load_error ? moo__strdup(s->load_error) : NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return st;
}

static void wake(struct moo_server *s)
{
	uint64_t one = 1;
	ssize_t k = write(s->wake, &one, sizeof(one));

	(void)k;
}

int moo_server_call(struct moo_buf *out, int *status, struct moo_server *s, const char *path,
		    const char *content_type, const void *body, size_t len, struct moo_error **err)
{
	struct req *q = req_new(s, path, content_type, NULL);

	if (spool_add(q, body, len) < 0) {
		req_free(q);
		return moo__fail_errno(err, MOO_EIO, "cannot spool the request body");
	}
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
		q->spool_fd = -1;
	}
	pthread_mutex_lock(&s->mu);
	if (!s->ready && (!s->was_ready || s->failed >= s->n_w)) {
		pthread_mutex_unlock(&s->mu);
		req_free(q);
		return moo__fail(err, MOO_EJOB, "the model is not ready: %s",
				 s->load_error ? s->load_error : "still loading");
	}
	q->next = s->inbox;
	s->inbox = q;
	wake(s);
	while (!q->answered) {
		pthread_cond_wait(&s->done_cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	*status = q->status;
	moo_buf_add(out, q->answer, q->answer_len);
	req_free(q);
	return 0;
}

void moo_server_stop(struct moo_server *s)
{
	if (!s) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	wake(s);
	if (s->loop_started) {
		pthread_join(s->loop, NULL);
	}
	server_free(s);
}

/* ---- moo predict URL ----------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *out)
{
	moo_buf_add(out, data, size * n);
	return size * n;
}

int moo_predict_url(struct moo_buf *out, int *status, const char *url, const char *content_type,
		    const void *body, size_t len, struct moo_error **err)
{
	return moo_predict_url_opts(out, status, url, content_type, body, len, NULL, err);
}

int moo_predict_url_opts(struct moo_buf *out, int *status, const char *url,
			 const char *content_type, const void *body, size_t len,
			 const struct moo_predict_opts *opts, struct moo_error **err)
{
	unsigned timeout_s = 300, connect_s = 10;
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	const char *p = strstr(url, "://");
	char *full, *ct;
	CURL *h;
	CURLcode c;
	long code = 0;
	int r;

	if (opts) {
		r = moo__opts_version(opts->version, MOO_PREDICT_OPTS_VERSION, "moo_predict_opts",
				      err);
		if (r) {
			return r;
		}
		timeout_s = opts->timeout_s ? opts->timeout_s : timeout_s;
		connect_s = opts->connect_timeout_s ? opts->connect_timeout_s : connect_s;
	}
	if (connect_s > timeout_s) {
		connect_s = timeout_s;
	}
	r = moo__curl_load(err);
	if (r < 0) {
		return r;
	}
	p = p ? strchr(p + 3, '/') : NULL;
	full = !p || !strcmp(p, "/") ? moo__printf("%.*s/invocations",
						   (int)(p ? p - url : (long)strlen(url)), url)
				     : moo__strdup(url);
	ct = moo__printf("Content-Type: %s", content_type);
	h = curl_easy_init();
	if (!h) {
		free(full);
		free(ct);
		return moo__fail(err, MOO_EIO, "cannot start libcurl");
	}
	hdr = curl_slist_append(hdr, ct);
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)connect_s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c = curl_easy_perform(h);
	if (c != CURLE_OK) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENET, MOO_SEV_ERROR, "no answer from '%s'", full);

		if (e && c == CURLE_OPERATION_TIMEDOUT) {
			moo__error_cause(e, ebuf[0] ? ebuf : curl_easy_strerror(c));
			moo__error_hint(e,
					"nothing answered within %u s (connecting: %u s); is the "
					"server stuck? give it longer with --timeout",
					timeout_s, connect_s);
		} else if (e) {
			moo__error_cause(e, ebuf[0] ? ebuf : curl_easy_strerror(c));
			moo__error_hint(e, "is 'moo serve' running there?");
		}
		r = MOO_ENET;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		*status = (int)code;
		r = 0;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	free(full);
	free(ct);
	return r;
}
