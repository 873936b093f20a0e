/* reproduce.c: what a job ran, read back to run it again (moo reproduce). */
#ifndef MOO_REPRODUCE_H
#define MOO_REPRODUCE_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/bundle.h"
#include "moo/job.h"
#include "moo/resolve.h"

/*
 * A job to run again: what moo_job_start needs to replay it. A plain value; free with
 * moo_replay_free.
 */
struct moo_replay {
	struct moo_job *job;       /* the job replayed (a published model: id REPO@TAG, no store) */
	char *lock;                /* its moo.lock's text, or NULL when it has none */
	struct moo_plan *plan;     /* the lock parsed: runtime, image digest, packages; or NULL */
	const char *bundle_sha256; /* of the bundle it ran (the lock's, else the record's) */
	struct moo_bundle *bundle; /* that bundle, from this machine's bundles/, sha checked */
	char **set;                /* its training_params as "+training_params.NAME=VALUE" */
	size_t n_set;
};

/*
 * Reads back what ref ran: a job of st (refreshed from its directory) or a model moo
 * publish pushed (REPO@TAG: its moo.lock and params.json). The lock is the store's copy,
 * else the one in the job's result folder, else (a job of this machine) its job
 * directory's; with none, moo_replay goes by the job's record and warns. MOO_ENOTFOUND
 * for an unknown job, MOO_EARG when nothing records the bundle, MOO_EBUNDLE when the
 * bundle is gone or no longer the one the job ran. On success *out is the caller's.
 */
MOO_EXTERN int moo_replay_open(struct moo_replay **out, struct moo_store *st, const char *ref,
			       struct moo_error **err);

/*
 * Starts r again as a new job of st, replaying it: moo_job_start with r's bundle, its plan
 * (the same runtime, image digest and packages; nothing resolved again), its lock (its
 * dataset) and its parameters. opts (NULL: the defaults) gives what the new run may change:
 * name, host (NULL: the job's own), allow_drift, no_wait; its set, plan and lock are
 * replaced by r's. *out as moo_job_start's.
 */
MOO_EXTERN int moo_replay_start(struct moo_job **out, struct moo_store *st,
				const struct moo_replay *r, const struct moo_run_opts *opts,
				struct moo_error **err);

MOO_EXTERN void moo_replay_free(struct moo_replay *r);
#endif
