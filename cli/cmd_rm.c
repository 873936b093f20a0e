/* moo rm: remove finished jobs, their directories and records. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static bool force;

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{'f', "force", NULL, "cancel a running job first", OPT_FLAG, &force},
	OPT_END,
};

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_store *st = ctx->st;
	struct moo_error *err = NULL;
	char **argv = ctx->argv;
	int r, i, worst = EXIT_OK;

	(void)self;
	for (i = 0; i < ctx->argc; i++) {
		struct moo_job *job = NULL;
		bool was_running;

		r = find_job(st, argv[i], on, false, &job);
		if (r >= 0) {
			worst = worst ? worst : r;
			continue;
		}
		r = force ? moo_job_cancel(&was_running, st, job, 5, &err) : 0;
		if (r == MOO_ENOTFOUND && job->host && strcmp(job->host, "local")) {
			/* its host is not known any more: moo_job_remove forgets it */
			moo_error_free(err);
			err = NULL;
			r = 0;
		}
		if (!r) {
			r = moo_job_remove(st, job, &err);
		}
		if (r) {
			r = print_errors(err);
			worst = worst ? worst : r;
		} else {
			print_errors(err); /* warnings */
			printf("%s removed\n", job->id);
		}
		moo_error_free(err);
		err = NULL;
		moo_job_free(job);
	}
	return worst;
}

const struct cmd cmd_rm = {
	.name = "rm",
	.summary = "remove finished jobs and their directories",
	.args = "JOB...",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = -1,
	.flags = CMD_STORE,
};
