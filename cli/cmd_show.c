/* moo show: everything about one job. */
#include <stdio.h>
#include <jansson.h>
#include "cli.h"

static bool json;

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{0, "json", NULL, "print the whole record as JSON", OPT_FLAG, &json},
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
		print_json(job_to_json(job, true));
	} else {
		print_job_detail(job);
	}
	r = EXIT_OK;
done:
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_show = {
	.name = "show",
	.summary = "show a job's spec, params, metrics, paths and timings",
	.args = "JOB",
	.run = run,
};
