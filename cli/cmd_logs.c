/* moo logs: print a job's process.log, or follow it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

static bool follow;
static long tail_lines = LONG_MIN, offset = 0; /* LONG_MIN: no --tail */

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{'f', "follow", NULL, "keep printing until the job ends (Ctrl-C detaches)", OPT_FLAG,
	 &follow},
	{'n', "tail", "N", "start with the last N lines", OPT_INT, &tail_lines},
	{0, "offset", "BYTES", "start at this byte of the log (as Ctrl-C printed it)", OPT_INT,
	 &offset},
	OPT_END,
};

static int check(const struct cmd *self)
{
	if (offset < 0) {
		return usage_error(self, NULL, "option '--offset' needs a number of 0 or more");
	}
	if (tail_lines != LONG_MIN && tail_lines < 0) {
		return usage_error(self, NULL, "option '--tail' needs a number of 0 or more");
	}
	if (tail_lines != LONG_MIN && offset) {
		return usage_error(self, NULL,
				   "options '--tail' and '--offset' exclude each other");
	}
	return -1;
}

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_store *st = ctx->st;
	struct moo_job *job = ctx->job;
	struct moo_error *err = NULL;
	int r;

	(void)self;
	if (tail_lines != LONG_MIN) {
		struct moo_buf tail = MOO_BUF_INIT;
		uint64_t end = 0;

		r = moo_job_log_tail(&tail, &end, job, (size_t)tail_lines, &err);
		if (r) {
			r = print_errors(err);
			moo_buf_dispose(&tail);
			moo_error_free(err);
			return r;
		}
		fwrite(tail.ptr ? tail.ptr : "", 1, tail.len, stdout);
		fflush(stdout);
		moo_buf_dispose(&tail);
		/* Follow on from exactly where the tail ended. */
		r = follow ? follow_job(st, job, end, true) : EXIT_OK;
	} else {
		r = follow_job(st, job, (uint64_t)offset, follow);
	}
	if (follow && r == EXIT_OK && job->status != MOO_JOB_SUCCEEDED) {
		r = EXIT_JOB_FAILED; /* as moo run would have */
	}
	return r;
}

const struct cmd cmd_logs = {
	.name = "logs",
	.summary = "print or follow a job's log",
	.args = "JOB",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.flags = CMD_JOB | CMD_REFRESH,
	.on = &on,
	.check = check,
};
