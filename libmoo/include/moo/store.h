#ifndef MOO_STORE_H
#define MOO_STORE_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/host.h"

/*
 * The job store: one SQLite database (WAL) holding every job and its metrics, at
 * $MOO_HOME/moo.db when MOO_HOME is set, else $XDG_DATA_HOME/moo/moo.db (XDG_DATA_HOME
 * defaulting to ~/.local/share). Any number of moo processes may use it at once; a
 * writer waits for the others instead of failing, so no record is ever lost.
 */
struct moo_store; /* opaque */

enum moo_job_status {
	MOO_JOB_QUEUED = 0, /* recorded, supervisor not seen yet */
	MOO_JOB_RUNNING = 1,
	MOO_JOB_SUCCEEDED = 2, /* the entry point exited 0 */
	MOO_JOB_FAILED = 3,    /* it exited non-zero or was killed by a signal */
	MOO_JOB_CANCELLED = 4, /* moo cancel stopped it */
	MOO_JOB_LOST = 5,      /* its supervisor is gone without a word */
};

/* One metric value: from a 'moo:metric' log line (step may be set) or metrics.json. */
struct moo_metric {
	char *name;
	double value;
	int64_t step;   /* -1 when none was given */
	bool from_file; /* metrics.json rather than the log */
};

/* A job as the store records it. A plain value; free with moo_job_free. */
struct moo_job {
	char *id;            /* "moo-job-hqx9uo" */
	char *name;          /* --name, or NULL */
	char *source;        /* as given to moo run */
	char *source_sha256; /* of the bundle ZIP */
	char *spec_json;     /* the spec as JSON (moo_spec_to_json) */
	char *params_json;   /* the training_params passed, overrides applied, as a JSON object */
	char *host;          /* "local", or the SSH host as named (moo run --on) */
	char *dir;           /* the job directory on the host */
	char *output_folder; /* relative to work/ */
	char *command;       /* the exact runtime command, as one shell line */
	enum moo_job_status status;
	double created, started, ended; /* Unix time in seconds; 0 when not yet */
	int exit_code;                  /* when it exited; -1 otherwise */
	int signal;                     /* the signal that ended it, or 0 */
	long pid;            /* the supervisor's pid and pgid on the host, 0 when unknown */
	char *result_path;   /* the collected output folder on this machine, or NULL */
	uint64_t bytes_sent; /* bundle bytes sent to the host for it (0: the host had them) */
	char *lock;          /* the moo.lock it was started with (JSON), or NULL */
	struct moo_metric *metrics;
	size_t n_metrics;
	/* Slurm (host "slurm:LOGIN"): the Slurm job id ("1234", or "1234_5" in an array) */
	char *backend_id;
	/* what the scheduler says beyond the status, or NULL: "pending: Resources",
	 * "timeout", "out_of_memory", "node_fail", "requeued" … */
	char *detail;
	char *sweep;     /* the sweep the job is a point of ("moo-sweep-XXXXXX"), or NULL */
	int sweep_index; /* its point in the sweep (0, 1, …); -1 when none */
};

/* Filters for moo_store_list; a NULL or zero field matches everything. */
struct moo_job_filter {
	unsigned version;     /* MOO_JOB_FILTER_VERSION */
	unsigned status_mask; /* 1 << enum moo_job_status; 0: all */
	const char *name;     /* exact --name */
	size_t limit;         /* newest first; 0: no limit */
	/* version 2 */
	const char *sweep; /* only the points of this sweep, in point order */
};
#define MOO_JOB_FILTER_VERSION 2
#define MOO_JOB_FILTER_INIT                              \
	{                                                \
		MOO_JOB_FILTER_VERSION, 0, NULL, 0, NULL \
	}

/* Appends the path the store is at by default (see above) to out. */
MOO_EXTERN int moo_store_default_path(struct moo_buf *out, struct moo_error **err);

/*
 * Opens (creating it and its folder when missing) and migrates the store at path, or at
 * the default path when path is NULL. On success *out is the caller's.
 */
MOO_EXTERN int moo_store_open(struct moo_store **out, const char *path, struct moo_error **err);
MOO_EXTERN void moo_store_close(struct moo_store *st);

/*
 * Tells the store the caller has time to spare (waiting on a job, say): what this
 * connection wrote is folded from the WAL into the database, so that the next process to
 * open the store has less to read. Costs a sync of the disk; never blocks other moo
 * processes. NULL-safe.
 */
MOO_EXTERN void moo_store_idle(struct moo_store *st);

/* The schema version the store is at (migrations applied). */
MOO_EXTERN int moo_store_schema_version(struct moo_store *st);

/* Records a new job; MOO_EEXIST when its id is taken. */
MOO_EXTERN int moo_store_add_job(struct moo_store *st, const struct moo_job *job,
				 struct moo_error **err);
/* Writes every field of an existing job, its metrics included. */
MOO_EXTERN int moo_store_update_job(struct moo_store *st, const struct moo_job *job,
				    struct moo_error **err);
/*
 * Finds a job by id, by a unique id prefix (at least 3 characters after "moo-job-"), or
 * by name (the newest of that name). MOO_ENOTFOUND when nothing matches, MOO_EARG when a
 * prefix is ambiguous.
 */
MOO_EXTERN int moo_store_get_job(struct moo_store *st, const char *ref, struct moo_job **out,
				 struct moo_error **err);
/* Jobs matching the filter, newest first. *out is an array of *n jobs (moo_jobs_free). */
MOO_EXTERN int moo_store_list_jobs(struct moo_store *st, const struct moo_job_filter *filter,
				   struct moo_job ***out, size_t *n, struct moo_error **err);
MOO_EXTERN int moo_store_remove_job(struct moo_store *st, const char *id, struct moo_error **err);

/*
 * What 'moo hosts check' last saw of a host, by the name it was checked under: the
 * facts (host key included) and when. A plain value; moo_host_seen_dispose.
 */
struct moo_host_seen {
	char *name;
	double checked; /* Unix time in seconds */
	struct moo_host_facts *facts;
};

/* Records (replacing what was there) the facts a check of the host named name found. */
MOO_EXTERN int moo_store_put_host_facts(struct moo_store *st, const char *name,
					const struct moo_host_facts *facts, struct moo_error **err);
/*
 * The facts last recorded for name, and when. MOO_ENOTFOUND, with no error added, when the
 * host was never checked. On success *out is the caller's (moo_host_seen_dispose).
 */
MOO_EXTERN int moo_store_get_host_facts(struct moo_store *st, const char *name,
					struct moo_host_seen *out, struct moo_error **err);
/* Every host ever checked, by name. *out is an array of *n (moo_host_seen_free). */
MOO_EXTERN int moo_store_list_hosts(struct moo_store *st, struct moo_host_seen **out, size_t *n,
				    struct moo_error **err);
MOO_EXTERN void moo_host_seen_dispose(struct moo_host_seen *h);
MOO_EXTERN void moo_host_seen_free(struct moo_host_seen *v, size_t n);

/* "queued", "running", "succeeded", "failed", "cancelled", "lost". */
MOO_EXTERN const char *moo_job_status_name(enum moo_job_status s);
/* The status of a name, or -1. */
MOO_EXTERN int moo_job_status_parse(const char *name);
/* True for succeeded, failed, cancelled and lost. */
MOO_EXTERN bool moo_job_status_done(enum moo_job_status s);

MOO_EXTERN void moo_job_free(struct moo_job *job);
MOO_EXTERN void moo_jobs_free(struct moo_job **jobs, size_t n);
#endif
