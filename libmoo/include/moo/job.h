#ifndef MOO_JOB_H
#define MOO_JOB_H
#include <signal.h>
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/bundle.h"
#include "moo/store.h"
#include "moo/resolve.h"
#include "moo/plan.h"

/* The job as a value (jobrec.c): what the store records of it, its status names. */
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

/* "queued", "running", "succeeded", "failed", "cancelled", "lost". */
MOO_EXTERN const char *moo_job_status_name(enum moo_job_status s);
/* The status of a name, or -1. */
MOO_EXTERN int moo_job_status_parse(const char *name);
/* True for succeeded, failed, cancelled and lost. */
MOO_EXTERN bool moo_job_status_done(enum moo_job_status s);

/*
 * The last value of each metric name of job, in first-seen order: at most max pointers
 * into job->metrics (borrowed) in out. Returns how many.
 */
MOO_EXTERN size_t moo_job_final_metrics(const struct moo_metric **out, size_t max,
					const struct moo_job *job);

MOO_EXTERN void moo_job_free(struct moo_job *job);
MOO_EXTERN void moo_jobs_free(struct moo_job **jobs, size_t n);

/*
 * Jobs on a host. A job lives in <root>/jobs/<id>/ on its host (the layout is in
 * ARCHITECTURE.md; root is $MOO_ROOT there, else ~/.moo) and runs under a small POSIX-sh
 * supervisor started with setsid, so it outlives the moo that started it. Every job is
 * recorded in a store (moo/store.h); these calls keep the record and the directory in step.
 *
 * What the entry point gets (documented in moo-run(1)):
 *   argv      <interpreter> -u <entry_point> --<name> <value> … for each training_param,
 *             in document order
 *   env       the spec's env, then MOO_JOB_ID, MOO_OUTPUT_DIR (absolute path of
 *             work/<output_folder>, created) and MOO_PARAM_<NAME> for each parameter
 *   files     work/params.json: the parameters as one JSON object
 *   cwd       work/, the extracted bundle
 */

/*
 * Slurm options of a job whose host is "slurm:LOGIN" (or "slurm:": this machine is the
 * login node); NULL fields take config.yaml's 'slurm:' defaults (moo-config(5)), then
 * Slurm's own. Each is passed to sbatch as the option of its name.
 */
struct moo_slurm_opts {
	unsigned version; /* MOO_SLURM_OPTS_VERSION */
	const char *partition;
	const char *time; /* sbatch --time: "30", "1:00:00", "2-00:00:00" */
	const char *gres; /* "gpu:2"; default: gpu:COUNT from the spec's resources */
	const char *account;
	const char *qos;
	const char *constraint;
};
#define MOO_SLURM_OPTS_VERSION 1
#define MOO_SLURM_OPTS_INIT                                                \
	{                                                                  \
		MOO_SLURM_OPTS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL \
	}

struct moo_run_opts {
	unsigned version;       /* MOO_RUN_OPTS_VERSION */
	const char *name;       /* kept beside the id, or NULL */
	const char *const *set; /* overrides "training_params.NAME=VALUE" or "env.NAME=VALUE" */
	size_t n_set;
	/* version 2 */
	const char *host; /* NULL or "local": this machine; else an SSH host (moo-config(5)) */
	bool accept_new_host_key; /* record an unknown host key in known_hosts */
	/* version 3 */
	const char *runtime; /* "docker", "podman", "apptainer", "host", or NULL: chosen */
	const char *image;   /* the image a container runtime runs, or NULL */
	/* A moo.lock's text (moo_lock_write), or NULL: replayed as the plan when plan is NULL
	 * (moo_lock_parse). Every job keeps the lock of what it ran as <job>/moo.lock and in
	 * the result folder, work/<output_folder>/moo.lock, so the result says what made it. */
	const char *lock;
	/* version 4 */
	/* On an SSH host, return once the supervisor is launched rather than once it says it
	 * runs (its state file): for a caller that follows the job at once (moo_job_logs),
	 * which then reads the state as the job goes. The job is still queued in *out. */
	bool no_wait;
	/* version 5 */
	/* The plan to run (moo_plan_make, or a lock read with moo_lock_parse), borrowed: its
	 * runtime, image (by digest or id) and requirements are used as they are, nothing is
	 * resolved again; runtime and image above are then ignored, and lock is read only
	 * for its dataset (the sha256 the data must still have). NULL: made here
	 * from host, runtime and image (moo_plan_make), or from lock when one is given. */
	const struct moo_plan *plan;
	/* A plan that records an interpreter and packages (a lock replayed) is compared with
	 * what the host has: MOO_ERESOLVE listing each difference, unless this is set. */
	bool allow_drift;
	/* version 6 */
	const struct moo_slurm_opts *slurm; /* for a "slurm:" host, or NULL */
	const char *sweep;                  /* the sweep the job is a point of, or NULL */
	int sweep_index;
	/* On a "slurm:" host (ignored elsewhere): stage and record the job and write its
	 * batch script, but submit nothing (status queued, no backend_id): moo_sweep_run
	 * submits a sweep's points as one job array. */
	bool no_launch;
};
#define MOO_RUN_OPTS_VERSION 6
#define MOO_RUN_OPTS_INIT                                                                        \
	{                                                                                        \
		MOO_RUN_OPTS_VERSION, NULL, NULL, 0, NULL, false, NULL, NULL, NULL, false, NULL, \
			false, NULL, NULL, 0, false                                              \
	}

/*
 * Starts the bundle as a new job on opts->host (this machine when NULL) as opts->plan says
 * (version 5; without one, a plan is made here: moo_plan_make, which decides the runtime,
 * resolves and pins the image and runs the preflight), finds an interpreter that has the
 * spec's requirements or builds the derived image of them (MOO_ERESOLVE otherwise, before
 * anything is created), records what runs in the job's moo.lock (the plan, plus the image
 * id, or the interpreter and its packages: spec/lockfile.md), stages the bundle into a new
 * job directory, records the job and starts its supervisor detached.
 * Returns once the supervisor runs; *out is the caller's (status running), or with
 * opts->no_wait on an SSH host once it is launched (status queued).
 */
MOO_EXTERN int moo_job_start(struct moo_job **out, struct moo_store *st, const struct moo_bundle *b,
			     const struct moo_run_opts *opts, struct moo_error **err);

/*
 * Brings a job's record up to date from its directory: the exit file when there is one
 * (then metrics and the result are collected), else whether the supervisor still runs —
 * the same pid with the same start time, so a reused pid is never taken for it — else
 * the job is lost. Updates both *job and the store.
 */
MOO_EXTERN int moo_job_refresh(struct moo_store *st, struct moo_job *job, struct moo_error **err);

/*
 * While defer is true (in this thread), refreshes and imports tell a remote job's end in
 * *job without downloading its result and without recording the end: the store keeps
 * the job live, so a moo_job_refresh after (defer false again, *job's status put back to
 * the stored one) downloads the result and records it. For a listing shown before the
 * downloads it waits for.
 */
MOO_EXTERN void moo_job_defer_results(bool defer);

/* Receives bytes of process.log; with follow, whole lines only until the job ends. */
typedef void (*moo_log_cb)(const char *data, size_t len, void *cb_data);

/*
 * Delivers process.log from byte *offset on, and *offset past what was delivered.
 * Without follow it returns at the end of what is there. With follow it polls until the
 * job has ended and every byte is delivered (then refreshes the job), or until *stop is
 * non-zero: then it returns MOO_EINTR with *offset at the start of a line not delivered,
 * so following again from *offset loses and repeats nothing. A log cut shorter than
 * *offset while it is followed is followed on from its new end, with a warning added to
 * *err (returned 0: the caller prints it). An exit file the job wrote itself is not its end.
 */
MOO_EXTERN int moo_job_logs(struct moo_store *st, struct moo_job *job, uint64_t *offset,
			    bool follow, moo_log_cb cb, void *cb_data,
			    const volatile sig_atomic_t *stop, struct moo_error **err);

/*
 * Appends the last (at most) n lines of process.log to out; *end (when not NULL) gets
 * the log's size as read, the offset to follow on from.
 */
MOO_EXTERN int moo_job_log_tail(struct moo_buf *out, uint64_t *end, const struct moo_job *job,
				size_t n, struct moo_error **err);

/*
 * Cancels a running job: SIGTERM to its whole process group (children and
 * grandchildren), SIGKILL after grace seconds, then waits for the supervisor's record.
 * Status cancelled. A job that has ended already is left as it is (*was_running false).
 */
MOO_EXTERN int moo_job_cancel(bool *was_running, struct moo_store *st, struct moo_job *job,
			      double grace, struct moo_error **err);

/*
 * Copies a finished job's result folder to dest (which must not exist) and checks every
 * file against MANIFEST.sha256.
 */
MOO_EXTERN int moo_job_fetch(const struct moo_job *job, const char *dest, struct moo_error **err);

/*
 * A job this store does not know, read from jobs/<id>/job.json on host and recorded
 * (then refreshed). MOO_ENOTFOUND when the host has no such job; MOO_EARG for an id
 * that is not moo-job-XXXXXX.
 */
MOO_EXTERN int moo_job_import(struct moo_job **out, struct moo_store *st, const char *host,
			      const char *id, struct moo_error **err);

/*
 * The job ref names (moo_store_get_job: an id, a unique prefix, a name). host (a verb's
 * --on), when not NULL: a job this store does not know is looked for there (moo_job_import),
 * and a known job of another host is MOO_EARG. refresh: its record brought up to date from
 * its directory (moo_job_refresh). On success *out is the caller's; on failure NULL.
 */
MOO_EXTERN int moo_job_find(struct moo_job **out, struct moo_store *st, const char *ref,
			    const char *host, bool refresh, struct moo_error **err);

/* Records every job under host's jobs/ that the store does not know; *n_new how many. */
MOO_EXTERN int moo_job_import_all(size_t *n_new, struct moo_store *st, const char *host,
				  struct moo_error **err);

/*
 * The job's parameters in order, each value with the text it was given; quoted is set for
 * a value that is text (a JSON string in params_json), which on a command line is written
 * "VALUE" when moo_param_typed would take it for a number or boolean. Free *out with
 * moo_job_params_free.
 */
MOO_EXTERN int moo_job_params(struct moo_kv **out, size_t *n, const struct moo_job *job,
			      struct moo_error **err);
MOO_EXTERN void moo_job_params_free(struct moo_kv *kvs, size_t n);
/* Whether an unquoted parameter value reads as a number (JSON's form) or a boolean. */
MOO_EXTERN bool moo_param_typed(const char *text);

/* Removes a finished job: its directory and its record. A running job is refused. */
MOO_EXTERN int moo_job_remove(struct moo_store *st, struct moo_job *job, struct moo_error **err);

/*
 * Parses 'moo:metric name=value [name=value…] [step=N]' lines in text and appends the
 * metrics to job (values that are not finite numbers are skipped).
 */
MOO_EXTERN void moo_job_parse_metrics(struct moo_job *job, const char *text, size_t len);

/*
 * Appends the exact runtime command a job of spec would run with plan on a host with facts
 * (facts->root is the job root there; the job id shows as JOB_ID): runtime is "docker",
 * "podman", "apptainer" or "host", or NULL to choose as moo run does (with the plan's image,
 * the first engine the host has, else host). With requirements the image is the derived
 * moo-env:KEY (moo-run(1)). MOO_ERESOLVE when the runtime is unknown or the host lacks it.
 * facts NULL: the plan's own (plan->host_facts, as moo_plan_make recorded them).
 */
MOO_EXTERN int moo_plan_command(struct moo_buf *out, const struct moo_plan *plan,
				const struct moo_spec *spec, const char *runtime,
				const struct moo_host_facts *facts, struct moo_error **err);

/*
 * The plan and the lock moo resolve makes: moo_plan_make's plan (opts as there), with the
 * command line the runtime would run (plan->command, moo_plan_command's with opts->runtime),
 * saved as moo.lock at lock_path unless it is NULL. On success *out is the caller's
 * (moo_plan_free) and err may hold moo_plan_make's warnings; on failure *out is untouched.
 */
MOO_EXTERN int moo_plan_lock(struct moo_plan **out, const struct moo_bundle *b,
			     const struct moo_plan_opts *opts, const char *lock_path,
			     struct moo_error **err);
#endif
