/* moo compare: the final metrics of jobs side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool json;

static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{0, "json", NULL, "print {job: {metric: value}} as JSON", OPT_FLAG, &json},
	OPT_END,
};

#define MAX_METRICS 64

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_store *st = NULL;
	struct moo_job **jobs = NULL;
	const char *names[MAX_METRICS];
	size_t n_names = 0, n = 0, i, k;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 1, -1);
	if (r >= 0) {
		return r;
	}
	r = open_store(&st);
	if (r >= 0) {
		return r;
	}
	jobs = calloc((size_t)npos, sizeof(*jobs));
	if (!jobs) {
		abort();
	}
	for (i = 0; i < (size_t)npos; i++) {
		r = find_job(st, argv[i], on, true, &jobs[n]);
		if (r >= 0) {
			goto done;
		}
		n++;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < jobs[i]->n_metrics; k++) {
			size_t m;

			for (m = 0; m < n_names && strcmp(names[m], jobs[i]->metrics[k].name);
			     m++) {
			}
			if (m == n_names && n_names < MAX_METRICS) {
				names[n_names++] = jobs[i]->metrics[k].name;
			}
		}
	}
	if (json) {
		json_t *o = json_object();

		for (i = 0; i < n; i++) {
			const struct moo_metric *fm[MAX_METRICS];
			json_t *x = json_object();
			size_t nm = final_metrics(jobs[i], fm, MAX_METRICS);

			for (k = 0; k < nm; k++) {
				json_object_set_new(x, fm[k]->name, json_real(fm[k]->value));
			}
			json_object_set_new(o, jobs[i]->id, x);
		}
		print_json(o);
		r = EXIT_OK;
		goto done;
	}
	printf("%-16s", "METRIC");
	for (i = 0; i < n; i++) {
		printf("  %-14s", jobs[i]->id);
	}
	putchar('\n');
	printf("%-16s", "(name)");
	for (i = 0; i < n; i++) {
		printf("  %-14.14s", jobs[i]->name ? esc(jobs[i]->name) : "-");
	}
	putchar('\n');
	printf("%-16s", "(status)");
	for (i = 0; i < n; i++) {
		printf("  %-14s", moo_job_status_name(jobs[i]->status));
	}
	putchar('\n');
	for (k = 0; k < n_names; k++) {
		printf("%-16.16s", esc(names[k]));
		for (i = 0; i < n; i++) {
			const struct moo_metric *fm[MAX_METRICS];
			size_t nm = final_metrics(jobs[i], fm, MAX_METRICS), m;
			char v[32] = "-";

			for (m = 0; m < nm; m++) {
				if (!strcmp(fm[m]->name, names[k])) {
					snprintf(v, sizeof(v), "%g", fm[m]->value);
				}
			}
			printf("  %-14s", v);
		}
		putchar('\n');
	}
	r = EXIT_OK;
done:
	moo_jobs_free(jobs, n);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_compare = {
	.name = "compare",
	.summary = "print the metrics of jobs side by side",
	.args = "JOB...",
	.run = run,
};
