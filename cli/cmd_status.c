/* moo status: a job's status, refreshed from its directory. */
#include <stdio.h>
#include <jansson.h>
#include "cli.h"

static bool json;

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{0, "json", NULL, "print the job record as JSON", OPT_FLAG, &json},
	OPT_END,
};

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	(void)self;
	if (json) {
		print_json(job_to_json(ctx->job, false));
	} else {
		print_job_status(ctx->job);
	}
	return EXIT_OK;
}

const struct cmd cmd_status = {
	.name = "status",
	.summary = "show a job's status",
	.args = "JOB",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.flags = CMD_JOB | CMD_REFRESH,
	.on = &on,
};
