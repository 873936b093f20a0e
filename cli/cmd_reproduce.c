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

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_run_opts ro = MOO_RUN_OPTS_INIT;
	struct moo_replay *old = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	const struct moo_plan *plan;
	int r;

	if (name && (r = check_job_name(self, name)) >= 0) {
		return r;
	}
	if ((r = moo_replay_open(&old, ctx->st, ctx->argv[0], &err))) {
		r = print_errors(err);
		goto done;
	}
	ro.name = name;
	ro.allow_drift = allow_drift;
	ro.host = on;
	if ((r = moo_replay_start(&job, ctx->st, old, &ro, &err))) {
		r = print_errors(err);
		goto done;
	}
	plan = old->plan;
	if (!detach) {
		/* the image, or on the host runtime (no image) the interpreter */
		const char *what = !plan               ? "no lock"
				   : plan->image       ? plan->image
				   : plan->interpreter ? plan->interpreter
						       : "host runtime";

		fprintf(stderr, "moo: job %s reproduces %s (bundle %.12s, %s%s%s)\n", job->id,
			old->job->id, old->bundle_sha256, what, plan && plan->digest ? "@" : "",
			plan && plan->digest ? plan->digest : "");
	}
	r = attend_job(ctx->st, job, detach, json, 20);
done:
	moo_error_free(err);
	moo_job_free(job);
	moo_replay_free(old);
	return r;
}

const struct cmd cmd_reproduce = {
	.name = "reproduce",
	.summary = "run a job again from its moo.lock: same bundle, digest and parameters",
	.args = "JOB|REPO@TAG",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.flags = CMD_STORE,
};
