/* moo fetch: copy a finished job's result folder here, checked against its manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char *output;

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{'o', "output", "DIR", "where to put it (default ./<job-id>); must not exist", OPT_STRING,
	 &output},
	OPT_END,
};

static int check(const struct cmd *self)
{
	if (output && !*output) {
		return usage_error(self, "name a folder that does not exist: -o DIR",
				   "option '--output' needs a folder, not ''");
	}
	return -1;
}

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_job *job = ctx->job;
	struct moo_error *err = NULL;
	char *dest = NULL;
	int r;

	(void)self;
	dest = output ? strdup(output) : strdup(job->id);
	if (!dest) {
		abort();
	}
	r = moo_job_fetch(job, dest, &err);
	if (r) {
		int code = r;

		r = print_errors(err);
		r = code == MOO_EEXIST ? EXIT_USAGE : r; /* DIR exists: moo-fetch(1) */
		goto done;
	}
	printf("%s\n", dest);
	r = EXIT_OK;
done:
	moo_error_free(err);
	free(dest);
	return r;
}

const struct cmd cmd_fetch = {
	.name = "fetch",
	.summary = "copy a finished job's result folder here",
	.args = "JOB",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.check = check,
	.flags = CMD_JOB | CMD_REFRESH,
	.on = &on,
};
