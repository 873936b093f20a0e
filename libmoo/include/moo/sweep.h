#ifndef MOO_SWEEP_H
#define MOO_SWEEP_H
#include <signal.h>
#include "moo/common.h"
#include "moo/error.h"
#include "moo/bundle.h"
#include "moo/store.h"
#include "moo/job.h"

/*
 * Sweeps: one job per point of a parameter grid, under one sweep id (moo-sweep-XXXXXX),
 * on this machine, over SSH hosts or as one Slurm job array. Each point's job carries the
 * sweep id and its point number (moo_job.sweep, .sweep_index; "SWEEP:N" names it).
 */

/* What a running sweep reports: a point started, ended, is retried, or a host dropped. */
enum moo_sweep_event {
	MOO_SWEEP_STARTED,
	MOO_SWEEP_ENDED,
	MOO_SWEEP_RETRY,
	MOO_SWEEP_HOST_DOWN,
	MOO_SWEEP_SUBMITTED, /* Slurm: an array chunk; job is NULL, what is its Slurm id */
};
typedef void (*moo_sweep_cb)(enum moo_sweep_event ev, const struct moo_job *job, const char *what,
			     void *data);

struct moo_sweep_opts {
	unsigned version; /* MOO_SWEEP_OPTS_VERSION */
	/* "training_params.lr=0.1,0.01" or "env.NAME=a,b": the cartesian product of all */
	const char *const *grid;
	size_t n_grid;
	/* a YAML file of the same: a mapping of KEY to a list of values (or to "LO..HI") */
	const char *grid_file;
	/* N points drawn at random instead of the product: each KEY from its list, or from
	 * "LO..HI" (uniform; integers when both ends are) or "LO..HI:log" (log-uniform) */
	size_t random;
	uint64_t seed; /* of the draw; 0: from the clock (recorded with the sweep) */
	/* where the points run: none (this machine), SSH hosts, or one "slurm:LOGIN" */
	const char *const *hosts;
	size_t n_hosts;
	const struct moo_slurm_opts *slurm;
	size_t max_parallel; /* points running at once; 0: as many as the hosts take */
	size_t per_host;     /* points per host; 0: its GPU count (moo hosts check), else 1 */
	unsigned retries; /* per point, for infrastructure failures only (host lost, NODE_FAIL) */
	const char *const *set; /* overrides every point gets */
	size_t n_set;
	const char *runtime, *image;
	bool detach; /* return once every point is started or submitted */
	moo_sweep_cb cb;
	void *cb_data;
	const volatile sig_atomic_t *stop; /* non-zero: stop starting points, return MOO_EINTR */
};
#define MOO_SWEEP_OPTS_VERSION 1
#define MOO_SWEEP_OPTS_INIT                                                                   \
	{                                                                                     \
		MOO_SWEEP_OPTS_VERSION, NULL, 0, NULL, 0, 0, NULL, 0, NULL, 0, 0, 0, NULL, 0, \
			NULL, NULL, false, NULL, NULL, NULL                                   \
	}

/*
 * Records a new sweep of the bundle and runs it: *id (the caller's) is set once recorded,
 * so it is there even when the run fails. Returns 0 when every point succeeded, MOO_EJOB
 * when one did not, MOO_EINTR when stopped (moo_sweep_resume goes on).
 */
MOO_EXTERN int moo_sweep_run(char **id, struct moo_store *st, const struct moo_bundle *b,
			     const struct moo_sweep_opts *opts, struct moo_error **err);

/*
 * Runs the points of a recorded sweep that have not succeeded (waiting for those that
 * still run), with the sweep's own grid, hosts and limits; from opts only cb, cb_data,
 * stop and detach are used.
 */
MOO_EXTERN int moo_sweep_resume(struct moo_store *st, const char *id,
				const struct moo_sweep_opts *opts, struct moo_error **err);

/* Cancels every point still queued or running; *n how many. MOO_ENOTFOUND: no such sweep. */
MOO_EXTERN int moo_sweep_cancel(size_t *n, struct moo_store *st, const char *id,
				struct moo_error **err);

/* The full id of a recorded sweep named by id ("moo-sweep-" may be left out), or NULL. */
MOO_EXTERN char *moo_sweep_find(struct moo_store *st, const char *id);
#endif
