/*
 * moo reproduce: run a job again from its moo.lock — the same bundle (by sha256, from the
 * host's bundles/ store), the same runtime and image (by digest or id: the lock is the plan,
 * nothing is resolved again), the same training parameters (from the job's record,
 * overrides included). On the host runtime the interpreter and packages found are compared
 * with the lock's: a difference refuses the run (exit 5) unless --allow-drift.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool detach, json, allow_drift;
static const char *on, *name;

static const struct opt opts[] = {
	{0, "on", "HOST", "the host to run on (default: the job's own host)", OPT_STRING, &on},
	{0, "name", "NAME", "a name kept beside the new job's id", OPT_STRING, &name},
	{'d', "detach", NULL, "print the new job's id and return at once", OPT_FLAG, &detach},
	{0, "allow-drift", NULL, "run even when the host's packages differ from the lock's",
	 OPT_FLAG, &allow_drift},
	{0, "json", NULL, "print the new job's record as JSON at the end", OPT_FLAG, &json},
	OPT_END,
};

/* Reads path into *text (at most 4 MiB); false when it cannot. */
static bool read_text(const char *path, struct moo_buf *text)
{
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		return false;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && text->len < (4u << 20)) {
		moo_buf_add(text, buf, n);
	}
	fclose(f);
	return true;
}

/*
 * The job's moo.lock: the store's copy; for a job recorded before the store kept it, the
 * copy in its result folder (here even for a job that ran on
 * another host, once its result was pulled), else the one in its job directory (a job
 * of this machine whose result is gone). False when neither can be read.
 */
static bool read_lock(const struct moo_job *job, struct moo_buf *text)
{
	if (job->lock) { /* the store's copy, recorded when the job started */
		moo_buf_puts(text, job->lock);
		return true;
	}
	const char *dirs[2] = {job->result_path, NULL};
	size_t i;

	if (!job->host || !strcmp(job->host, "local")) {
		dirs[1] = job->dir;
	}
	for (i = 0; i < 2; i++) {
		char path[4096];

		if (dirs[i] &&
		    snprintf(path, sizeof(path), "%s/moo.lock", dirs[i]) < (int)sizeof(path) &&
		    read_text(path, text)) {
			return true;
		}
		moo_buf_reset(text);
	}
	return false;
}

/* The job's parameters as "training_params.NAME=VALUE" overrides, each with its own text
 * (text values as "VALUE", so 007 stays the string it was). */
static void params_as_sets(const struct moo_job *job, struct strlist *out, char ***owned)
{
	struct moo_kv *kvs = NULL;
	size_t n = 0, i;

	if (moo_job_params(job, &kvs, &n, NULL)) {
		n = 0;
	}
	*owned = calloc(n + 1, sizeof(char *));
	out->items = calloc(n + 1, sizeof(char *));
	out->n = 0;
	for (i = 0; i < n; i++) {
		size_t len = strlen(kvs[i].key) + strlen(kvs[i].value) +
			     sizeof("+training_params.=\"\"");
		char *s = malloc(len);

		snprintf(s, len,
			 kvs[i].quoted ? "+training_params.%s=\"%s\"" : "+training_params.%s=%s",
			 kvs[i].key, kvs[i].value);
		(*owned)[out->n] = s;
		out->items[out->n++] = s;
	}
	moo_job_params_free(kvs, n);
}

/*
 * A published model (REPO@TAG) as the job to reproduce: its moo.lock and params.json,
 * read from the model folder the tag holds. Prints what went wrong and returns an exit
 * code, or -1 to go on.
 */
static int published_job(const char *ref, struct moo_job **out)
{
	struct moo_buf lock = MOO_BUF_INIT, params = MOO_BUF_INIT;
	struct moo_error *err = NULL;
	struct moo_job *j;

	if (moo_publish_read(ref, &lock, &params, &err)) {
		int r = print_errors(err);

		moo_error_free(err);
		moo_buf_dispose(&lock);
		moo_buf_dispose(&params);
		return r;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		abort();
	}
	j->id = strdup(ref);
	j->host = strdup("local");
	j->lock = moo_buf_detach(&lock);
	j->params_json = params.len ? moo_buf_detach(&params) : strdup("{}");
	moo_buf_dispose(&params);
	*out = j;
	return -1;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_run_opts ro = MOO_RUN_OPTS_INIT;
	struct moo_buf lock = MOO_BUF_INIT, zip = MOO_BUF_INIT;
	struct moo_store *st = NULL;
	struct moo_job *old = NULL, *job = NULL;
	struct moo_bundle *b = NULL;
	struct moo_plan *plan = NULL;
	struct moo_error *err = NULL;
	struct strlist sets = {NULL, 0};
	char **owned = NULL;
	const char *sha;
	int npos, r;
	size_t i;

	r = opt_parse(self, opts, argc, argv, &npos, 1, 1);
	if (r >= 0) {
		return r;
	}
	if ((r = open_store(&st)) >= 0) {
		goto done;
	}
	if (strchr(argv[0], '@')) { /* REPO@TAG: a model moo publish pushed */
		if ((r = published_job(argv[0], &old)) >= 0) {
			goto done;
		}
	} else if ((r = find_job(st, argv[0], NULL, true, &old)) >= 0) {
		goto done;
	}
	if (read_lock(old, &lock)) {
		if (moo_lock_parse(&plan, lock.ptr ? lock.ptr : "", lock.len, "moo.lock", &err)) {
			r = print_errors(err);
			goto done;
		}
		sha = plan->bundle_sha256;
	} else {
		fprintf(stderr, "moo: warning: job %s has no moo.lock; going by its record\n",
			old->id);
		sha = old->source_sha256;
	}
	if (!sha || (r = moo_job_root(&zip, &err))) {
		print_error_msg("run the project again with 'moo run'",
				"job %s does not record its bundle", old->id);
		r = EXIT_USAGE;
		goto done;
	}
	moo_buf_printf(&zip, "/bundles/%s.zip", sha);
	bo.sha256 = sha; /* the bundle must still be the one the job ran */
	if ((r = moo_bundle_open(&b, zip.ptr, &bo, &err))) {
		r = print_errors(err);
		goto done;
	}
	params_as_sets(old, &sets, &owned);
	ro.name = name;
	ro.set = sets.items;
	ro.n_set = sets.n;
	ro.plan = plan;     /* the lock is the plan: the same runtime, image digest, packages */
	ro.lock = lock.ptr; /* and its dataset: the bytes the job ran on */
	ro.allow_drift = allow_drift;
	ro.host = on ? on : old->host;
	if ((r = moo_job_start(&job, st, b, &ro, &err))) {
		r = print_errors(err);
		goto done;
	}
	if (!detach) {
		/* the image, or on the host runtime (no image) the interpreter */
		const char *what = !plan               ? "no lock"
				   : plan->image       ? plan->image
				   : plan->interpreter ? plan->interpreter
						       : "host runtime";

		fprintf(stderr, "moo: job %s reproduces %s (bundle %.12s, %s%s%s)\n", job->id,
			old->id, sha, what, plan && plan->digest ? "@" : "",
			plan && plan->digest ? plan->digest : "");
	}
	r = attend_job(st, job, detach, json, 20);
done:
	for (i = 0; owned && owned[i]; i++) {
		free(owned[i]);
	}
	free(owned);
	free(sets.items);
	moo_error_free(err);
	moo_buf_dispose(&lock);
	moo_buf_dispose(&zip);
	moo_plan_free(plan);
	moo_bundle_free(b);
	moo_job_free(job);
	moo_job_free(old);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_reproduce = {
	.name = "reproduce",
	.summary = "run a job again from its moo.lock: same bundle, digest and parameters",
	.args = "JOB|REPO@TAG",
	.run = run,
};
