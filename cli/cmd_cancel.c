/* moo cancel: stop a running job and everything it started. */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

static long grace = 5;

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{0, "grace", "SECONDS", "wait this long after SIGTERM before SIGKILL (default 5)", OPT_INT,
	 &grace},
	OPT_END,
};

static int check(const struct cmd *self)
{
	if (grace < 0) {
		return usage_error(self, NULL, "option '--grace' needs a number of 0 or more");
	}
	return -1;
}

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_store *st = ctx->st;
	struct moo_error *err = NULL;
	char **argv = ctx->argv;
	int r, i, worst = EXIT_OK;

	(void)self;
	for (i = 0; i < ctx->argc; i++) {
		struct moo_job *job = NULL;
		bool was_running = false;

		char *sweep = moo_sweep_find(st, argv[i]);

		if (sweep) {
			size_t n = 0;

			/* every point still queued or running, and nothing more is started */
			r = moo_sweep_cancel(&n, st, sweep, &err);
			if (r) {
				r = print_errors(err);
				moo_error_free(err);
				err = NULL;
				worst = worst ? worst : r;
			} else {
				printf("%s cancelled (%zu %s queued or running)\n", sweep, n,
				       n == 1 ? "point was" : "points were");
			}
			free(sweep);
			continue;
		}
		r = find_job(st, argv[i], on, false, &job);
		if (r >= 0) {
			worst = worst ? worst : r;
			continue;
		}
		r = moo_job_cancel(&was_running, st, job, (double)grace, &err);
		if (r) {
			r = print_errors(err);
			moo_error_free(err);
			err = NULL;
			worst = worst ? worst : r;
		} else if (was_running) {
			printf("%s cancelled\n", job->id);
		} else {
			printf("%s had ended already (%s)\n", job->id,
			       moo_job_status_name(job->status));
		}
		moo_job_free(job);
	}
	return worst;
}

const struct cmd cmd_cancel = {
	.name = "cancel",
	.summary = "stop a running job and its whole process group",
	.args = "JOB|SWEEP...",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = -1,
	.flags = CMD_STORE,
	.check = check,
};
