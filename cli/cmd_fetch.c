/* moo fetch: copy a finished job's result folder here, checked against its manifest. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static const char *output;
static const char *on;
static bool json;
static uint64_t n_files, n_bytes;

static const struct opt opts[] = {
	OPT_ON(&on),
	{'o', "output", "DIR", "where to put it (default ./<job-id>); must not exist", OPT_STRING,
	 &output},
	{0, "json", NULL, "print what was fetched as JSON", OPT_FLAG, &json},
	OPT_END,
};

/* nftw: counts the regular files of the copy (links are not followed: FTW_PHYS) */
static int count(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)path;
	(void)f;
	if (type == FTW_F && S_ISREG(st->st_mode)) {
		n_files++;
		n_bytes += (uint64_t)st->st_size;
	}
	return 0;
}

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
	if (json) {
		json_t *o = json_object();

		nftw(dest, count, 16, FTW_PHYS);
		json_object_set_new(o, "id", json_string(job->id));
		json_object_set_new(o, "path", json_string(dest));
		json_object_set_new(o, "files", json_integer((json_int_t)n_files));
		json_object_set_new(o, "bytes", json_integer((json_int_t)n_bytes));
		print_json(o);
	} else {
		printf("%s\n", dest);
	}
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
