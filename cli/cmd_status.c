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

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_store *st = NULL;
	struct moo_job *job = NULL;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 1, 1);
	if (r >= 0) {
		return r;
	}
	r = open_store(&st);
	if (r >= 0) {
		return r;
	}
	r = find_job(st, argv[0], on, true, &job);
	if (r >= 0) {
		goto done;
	}
	if (json) {
		print_json(job_to_json(job, false));
	} else {
		print_job_status(job);
	}
	r = EXIT_OK;
done:
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_status = {
	.name = "status",
	.summary = "show a job's status",
	.args = "JOB",
	.run = run,
};
