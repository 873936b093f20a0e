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
 * Fills the fields of opts that replay r: the plan (same runtime, image digest, packages;
 * nothing resolved again), the lock (its dataset) and the parameters. opts->host is set to
 * the job's host unless the caller set one. The pointers are borrowed from r.
 */
MOO_EXTERN void moo_replay_run_opts(struct moo_run_opts *opts, const struct moo_replay *r);

MOO_EXTERN void moo_replay_free(struct moo_replay *r);
#endif
