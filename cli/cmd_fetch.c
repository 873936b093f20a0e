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

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_store *st = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	char *dest = NULL;
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
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_fetch = {
	.name = "fetch",
	.summary = "copy a finished job's result folder here",
	.args = "JOB",
	.run = run,
};
