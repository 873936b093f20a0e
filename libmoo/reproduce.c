/*
 * moo reproduce: what a job ran read back — its moo.lock (the store's copy, its result
 * folder's, its job directory's, or a published model's), its bundle by sha256 from this
 * machine's bundles/, its training parameters — as the options of a new moo_job_start.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/*
 * The job's moo.lock: the store's copy; for a job recorded before the store kept it, the
 * copy in its result folder (here even for a job that ran on another host, once its result
 * was pulled), else the one in its job directory (a job of this machine whose result is
 * gone). False when neither can be read.
 */
static bool read_lock(const struct moo_job *job, struct moo_buf *text)
{
	const char *dirs[2] = {job->result_path, NULL};
	size_t i;

	if (job->lock) { /* the store's copy, recorded when the job started */
		moo_buf_puts(text, job->lock);
		return true;
	}
	if (!job->host || !strcmp(job->host, "local")) {
		dirs[1] = job->dir;
	}
	for (i = 0; i < 2; i++) {
		char *path = dirs[i] ? moo__path_join(dirs[i], "moo.lock") : NULL;
		bool ok = path && !moo__read_file(path, 4u << 20, text, NULL);

		free(path);
		if (ok) {
			return true;
		}
		moo_buf_reset(text);
	}
	return false;
}

/* The job's parameters as "+training_params.NAME=VALUE" overrides (text values as "VALUE",
 * so 007 stays the string it was). */
static void params_as_sets(const struct moo_job *job, struct moo_replay *r)
{
	struct moo_kv *kvs = NULL;
	size_t n = 0, i;

	if (moo_job_params(&kvs, &n, job, NULL)) {
		n = 0;
	}
	r->set = moo__calloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		r->set[r->n_set++] = moo__printf(kvs[i].quoted ? "+training_params.%s=\"%s\""
							       : "+training_params.%s=%s",
						 kvs[i].key, kvs[i].value);
	}
	moo_job_params_free(kvs, n);
}

/* A published model (REPO@TAG) as the job to replay: its moo.lock and params.json, read from
 * the model folder the tag holds. */
static int published_job(const char *ref, struct moo_job **out, struct moo_error **err)
{
	struct moo_buf lock = MOO_BUF_INIT, params = MOO_BUF_INIT;
	struct moo_job *j;
	int r = moo__publish_read(&lock, &params, ref, err);

	if (r) {
		moo_buf_dispose(&lock);
		moo_buf_dispose(&params);
		return r;
	}
	j = moo__calloc(1, sizeof(*j));
	j->id = moo__strdup(ref);
	j->host = moo__strdup("local");
	j->lock = moo_buf_detach(&lock);
	j->params_json = params.len ? moo_buf_detach(&params) : moo__strdup("{}");
	moo_buf_dispose(&params);
	*out = j;
	return 0;
}

int moo_replay_open(struct moo_replay **out, struct moo_store *st, const char *ref,
		    struct moo_error **err)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_replay *r = moo__calloc(1, sizeof(*r));
	struct moo_buf lock = MOO_BUF_INIT, zip = MOO_BUF_INIT;
	int e;

	*out = NULL;
	if (strchr(ref, '@')) { /* REPO@TAG: a model moo publish pushed */
		e = published_job(ref, &r->job, err);
	} else if (!(e = moo_store_get_job(&r->job, st, ref, err))) {
		e = moo_job_refresh(st, r->job, err);
	}
	if (e) {
		goto fail;
	}
	if (read_lock(r->job, &lock)) {
		if ((e = moo_lock_parse(&r->plan, lock.ptr ? lock.ptr : "", lock.len, "moo.lock",
					err))) {
			goto fail;
		}
		r->lock = moo_buf_detach(&lock);
		r->bundle_sha256 = r->plan->bundle_sha256;
	} else {
		moo__warn(MOO_EIO, "job %s has no moo.lock; going by its record", r->job->id);
		r->bundle_sha256 = r->job->source_sha256;
	}
	if (!r->bundle_sha256 || moo__job_root(&zip, NULL)) {
		struct moo_error *x =
			moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				       "job %s does not record its bundle", r->job->id);

		moo__error_hint(x, "run the project again with 'moo run'");
		e = MOO_EARG;
		goto fail;
	}
	moo_buf_printf(&zip, "/bundles/%s.zip", r->bundle_sha256);
	bo.sha256 = r->bundle_sha256; /* the bundle must still be the one the job ran */
	if ((e = moo_bundle_open(&r->bundle, zip.ptr, &bo, err))) {
		goto fail;
	}
	params_as_sets(r->job, r);
	moo_buf_dispose(&zip);
	*out = r;
	return 0;
fail:
	moo_buf_dispose(&lock);
	moo_buf_dispose(&zip);
	moo_replay_free(r);
	return e;
}

/* How much of a struct moo_run_opts each version has: an older caller's is read as it was. */
static size_t run_opts_size(unsigned version)
{
	switch (version) {
	case 1: return offsetof(struct moo_run_opts, host);
	case 2: return offsetof(struct moo_run_opts, runtime);
	case 3: return offsetof(struct moo_run_opts, no_wait);
	case 4: return offsetof(struct moo_run_opts, plan);
	case 5: return offsetof(struct moo_run_opts, slurm);
	default: return sizeof(struct moo_run_opts);
	}
}

int moo_replay_start(struct moo_job **out, struct moo_store *st, const struct moo_replay *r,
		     const struct moo_run_opts *opts, struct moo_error **err)
{
	struct moo_run_opts o = MOO_RUN_OPTS_INIT;
	int ret;

	if ((ret = MOO__OPTS_VERSION(opts, MOO_RUN_OPTS_VERSION, "moo_run_opts", err))) {
		return ret;
	}
	if (opts) {
		memcpy(&o, opts, run_opts_size(opts->version));
		o.version = MOO_RUN_OPTS_VERSION;
	}
	/* the lock is the plan: the same runtime, image digest, packages; its dataset; the
	 * job's parameters; its host unless the caller names another */
	o.set = (const char *const *)r->set;
	o.n_set = r->n_set;
	o.plan = r->plan;
	o.lock = r->lock;
	if (!o.host) {
		o.host = r->job->host;
	}
	return moo_job_start(out, st, r->bundle, &o, err);
}

void moo_replay_free(struct moo_replay *r)
{
	size_t i;

	if (!r) {
		return;
	}
	for (i = 0; i < r->n_set; i++) {
		free(r->set[i]);
	}
	free(r->set);
	moo_bundle_free(r->bundle);
	moo_plan_free(r->plan);
	free(r->lock);
	moo_job_free(r->job);
	free(r);
}
