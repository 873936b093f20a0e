/* moo models: what moo publish pushed, newest first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cli.h"

static bool json;

static const struct opt opts[] = {
	{0, "json", NULL, "print the publications as a JSON array", OPT_FLAG, &json},
	OPT_END,
};

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_publication *v = NULL;
	struct moo_error *err = NULL;
	size_t n = 0, i;
	int r;

	(void)self;
	if ((r = moo_store_list_publications(&v, &n, ctx->st, &err))) {
		r = print_errors(err);
		goto done;
	}
	if (json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "job", json_string(v[i].job_id));
			json_object_set_new(o, "repo", json_string(v[i].repo));
			json_object_set_new(o, "branch", json_string(v[i].branch));
			json_object_set_new(o, "path", json_string(v[i].path));
			json_object_set_new(o, "commit", json_string(v[i].commit));
			json_object_set_new(o, "tag", json_string(v[i].tag));
			json_object_set_new(o, "alias",
					    v[i].alias ? json_string(v[i].alias) : json_null());
			json_object_set_new(o, "published", json_time(v[i].published));
			json_array_append_new(a, o);
		}
		print_json(a);
	} else if (n) {
		printf("%-16s %-24s %-12s %-10s %s\n", "JOB", "TAG", "COMMIT", "ALIAS", "REPO");
		for (i = 0; i < n; i++) {
			printf("%-16s %-24s %-12.12s %-10s %s\n", v[i].job_id, v[i].tag,
			       v[i].commit, v[i].alias ? v[i].alias : "-", v[i].repo);
		}
	}
	r = EXIT_OK;
done:
	moo_publications_free(v, n);
	moo_error_free(err);
	return r;
}

const struct cmd cmd_models = {
	.name = "models",
	.summary = "list the models moo publish pushed: job, repository, commit, tag, alias",
	.args = "",
	.exec = exec,
	.opts = opts,
	.min_pos = 0,
	.max_pos = 0,
	.flags = CMD_STORE,
};
