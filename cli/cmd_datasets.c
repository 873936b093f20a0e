/* moo datasets: the datasets placed on a host (ls), and pruning them (rm, gc). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

static const char *on, *older_than;
static bool json;

static const struct opt opts[] = {
	{0, "on", "HOST", "the host whose datasets to show or prune (default: this machine)",
	 OPT_STRING, &on},
	{0, "older-than", "DAYS", "gc: only datasets last used more than DAYS days ago (default 0)",
	 OPT_STRING, &older_than},
	{0, "json", NULL, "print one JSON document", OPT_FLAG, &json},
	OPT_END,
};

static json_t *strv(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_string(v[i]));
	}
	return a;
}

static void when(char *out, size_t len, double t)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&s, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M", &tm)) {
		snprintf(out, len, "-");
	}
}

/* The failure: on stderr, or under --json the one {"error": DIAGNOSTIC} of moo(1). */
static int failed(struct moo_error *err, int r)
{
	(void)r;
	r = print_errors(err);
	moo_error_free(err);
	return r;
}

static int do_ls(void)
{
	struct moo_dataset_info *v = NULL;
	struct moo_error *err = NULL;
	size_t n = 0, i;
	int r = moo_dataset_list(&v, &n, on, &err);

	if (r) {
		return failed(err, r);
	}
	if (json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "sha256", json_string(v[i].sha256));
			json_object_set_new(o, "name",
					    v[i].name ? json_string(v[i].name) : json_null());
			json_object_set_new(o, "source",
					    v[i].source ? json_string(v[i].source) : json_null());
			json_object_set_new(o, "bytes", json_integer((json_int_t)v[i].bytes));
			json_object_set_new(o, "placed", json_time(v[i].placed));
			json_object_set_new(o, "last_used", json_time(v[i].last_used));
			json_object_set_new(o, "jobs", strv(v[i].jobs, v[i].n_jobs));
			json_object_set_new(o, "running", strv(v[i].running, v[i].n_running));
			json_array_append_new(a, o);
		}
		print_json(a);
	} else if (n) {
		printf("%-12s  %-20s  %9s  %-16s  %s\n", "SHA256", "NAME", "SIZE", "LAST USED",
		       "JOBS");
		for (i = 0; i < n; i++) {
			char size[32], last[32];

			format_size(size, sizeof(size), v[i].bytes);
			when(last, sizeof(last), v[i].last_used);
			printf("%.12s  %-20s  %9s  %-16s  %zu%s%s\n", v[i].sha256,
			       v[i].name ? v[i].name : "-", size, last, v[i].n_jobs,
			       v[i].n_running ? ", running: " : "",
			       v[i].n_running ? v[i].running[0] : "");
		}
	} else {
		printf("no datasets on %s\n", on ? on : "this machine");
	}
	moo_dataset_list_free(v, n);
	return EXIT_OK;
}

static int report(char **shas, size_t n, uint64_t bytes)
{
	size_t i;

	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "host", json_string(on ? on : "local"));
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "removed", strv(shas, n));
		json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
		print_json(o);
	} else {
		char size[32];

		format_size(size, sizeof(size), bytes);
		for (i = 0; i < n; i++) {
			printf("%.12s removed\n", shas[i]);
		}
		printf("%zu dataset%s removed, %s freed\n", n, n == 1 ? "" : "s", size);
	}
	return EXIT_OK;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_error *err = NULL;
	int npos, r, i;

	r = opt_parse(self, opts, argc, argv, &npos, 1, -1);
	if (r >= 0) {
		return r;
	}
	if (older_than && strcmp(argv[0], "gc")) {
		return usage_error(self, NULL, "--older-than is an option of 'moo datasets gc'");
	}
	if (!strcmp(argv[0], "ls") || !strcmp(argv[0], "gc")) {
		char **shas = NULL, *end = NULL;
		size_t n = 0, k;
		uint64_t bytes = 0;
		double days = older_than ? strtod(older_than, &end) : 0;

		if (npos > 1) {
			return usage_error(self, NULL, "unexpected argument '%s'", argv[1]);
		}
		if (!strcmp(argv[0], "ls")) {
			return do_ls();
		}
		if (older_than && (end == older_than || *end || days < 0)) {
			return usage_error(self, "give a number of days, such as 7 or 0.5",
					   "--older-than '%s' is not a number of days", older_than);
		}
		r = moo_dataset_gc(&shas, &n, &bytes, on, days * 86400, &err);
		r = r ? failed(err, r) : report(shas, n, bytes);
		for (k = 0; k < n; k++) {
			free(shas[k]);
		}
		free(shas);
		return r;
	}
	if (strcmp(argv[0], "rm")) {
		return usage_error(self, "use ls, rm or gc", "unknown subcommand '%s'", argv[0]);
	}
	if (npos < 2) {
		return usage_error(self, NULL, "'moo datasets rm' needs a SHA256 or NAME");
	}
	{
		char **shas = NULL;
		size_t n = 0, k;
		uint64_t total = 0;
		int worst = EXIT_OK;

		for (i = 1; i < npos; i++) {
			char *sha = NULL;
			uint64_t bytes = 0;

			r = moo_dataset_remove(&sha, &bytes, on, argv[i], &err);
			if (r && json) {
				worst = failed(err, r); /* one document: the first failure */
				err = NULL;
				break;
			}
			if (r) {
				r = print_errors(err);
				moo_error_free(err);
				err = NULL;
				worst = worst ? worst : r;
				continue;
			}
			shas = realloc(shas, (n + 1) * sizeof(*shas));
			if (!shas) {
				abort();
			}
			shas[n++] = sha;
			total += bytes;
		}
		if (!worst || !json) {
			if (n || !worst) {
				report(shas, n, total);
			}
		}
		for (k = 0; k < n; k++) {
			free(shas[k]);
		}
		free(shas);
		return worst;
	}
}

const struct cmd cmd_datasets = {
	.name = "datasets",
	.summary = "list the datasets placed on a host, remove them, prune unused ones",
	.args = "ls | rm SHA256|NAME... | gc",
	.run = run,
};
