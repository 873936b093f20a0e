/* moo compare: the final metrics of jobs side by side, and the parameters that differ. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

#define MAX_METRICS 64

static bool json, csv, desc;

static const char *on, *by;

static const struct opt opts[] = {
	OPT_ON(&on),
	{0, "by", "METRIC", "rank by this metric, lowest first (a sweep: one row per point)",
	 OPT_STRING, &by},
	{0, "desc", NULL, "with --by: highest first", OPT_FLAG, &desc},
	{0, "csv", NULL, "a sweep's points as CSV: point, job, status, parameters, metrics",
	 OPT_FLAG, &csv},
	{0, "json", NULL, "print {job: {metric: value}} as JSON", OPT_FLAG, &json},
	OPT_END,
};

/* The final value of metric name of job j, or NAN. */
static double metric_of(const struct moo_job *j, const char *name)
{
	double v = NAN;
	size_t i;

	for (i = 0; i < j->n_metrics; i++) {
		if (!strcmp(j->metrics[i].name, name)) {
			v = j->metrics[i].value;
		}
	}
	return v;
}

static int by_metric(const void *a, const void *b)
{
	double x = metric_of(*(struct moo_job *const *)a, by);
	double y = metric_of(*(struct moo_job *const *)b, by);

	if (isnan(x) || isnan(y)) {
		return isnan(x) - isnan(y); /* points without it last */
	}
	return desc ? (x < y) - (x > y) : (x > y) - (x < y);
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\n\r")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"') {
				putchar('"');
			}
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

/* The value of a parameter in a list of them, or NULL. */
static const char *param_of(const struct moo_kv *kvs, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!strcmp(kvs[i].key, key)) {
			return kvs[i].value;
		}
	}
	return NULL;
}

/*
 * moo compare SWEEP: one row per point (its newest job), ranked --by a metric: the
 * parameters the sweep varied and every metric, as a table, CSV or JSON.
 */
static int compare_sweep(struct moo_store *st, const char *id)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	struct moo_error *err = NULL;
	const char *names[MAX_METRICS];
	char *params[MAX_METRICS];
	size_t n = 0, k = 0, i, m, n_names = 0, n_params = 0;
	int r;

	f.sweep = id;
	r = moo_store_list_jobs(&jobs, &n, st, &f, &err);
	if (r) {
		r = print_errors(err);
		moo_error_free(err);
		return r;
	}
	/* the newest job of each point (the list is by point, newest first within one) */
	for (i = 0; i < n; i++) {
		if (k && jobs[k - 1]->sweep_index == jobs[i]->sweep_index) {
			moo_job_free(jobs[i]);
			continue;
		}
		jobs[k++] = jobs[i];
	}
	n = k;
	for (i = 0; i < n; i++) {
		struct moo_kv *kvs = NULL;
		size_t nk = 0, j;

		if (moo_job_params(&kvs, &nk, jobs[i], NULL)) {
			nk = 0;
		}
		for (j = 0; j < nk; j++) {
			for (m = 0; m < n_params && strcmp(params[m], kvs[j].key); m++) {
			}
			if (m == n_params && n_params < MAX_METRICS) {
				params[n_params++] = strdup(kvs[j].key);
			}
		}
		moo_job_params_free(kvs, nk);
		for (m = 0; m < jobs[i]->n_metrics; m++) {
			for (k = 0; k < n_names && strcmp(names[k], jobs[i]->metrics[m].name);
			     k++) {
			}
			if (k == n_names && n_names < MAX_METRICS) {
				names[n_names++] = jobs[i]->metrics[m].name;
			}
		}
	}
	if (by) {
		qsort(jobs, n, sizeof(*jobs), by_metric);
	}
	if (json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *x = job_to_json(jobs[i], false);

			json_object_set_new(x, "params", params_to_json(jobs[i]));
			json_array_append_new(a, x);
		}
		print_json(a);
		for (m = 0; m < n_params; m++) {
			free(params[m]);
		}
		moo_jobs_free(jobs, n);
		return EXIT_OK;
	}
	if (csv) {
		printf("rank,point,job,status");
	} else {
		printf("%-5s %-6s %-14s %-10s", "RANK", "POINT", "JOB", "STATUS");
	}
	for (m = 0; m < n_params; m++) {
		printf(csv ? ",%s" : " %-12s", params[m]);
	}
	for (k = 0; k < n_names; k++) {
		printf(csv ? ",%s" : " %-12s", names[k]);
	}
	putchar('\n');
	for (i = 0; i < n; i++) {
		struct moo_kv *kvs = NULL;
		size_t nk = 0;
		char cell[64];

		if (moo_job_params(&kvs, &nk, jobs[i], NULL)) {
			nk = 0;
		}

		if (csv) {
			snprintf(cell, sizeof(cell), "%zu", i + 1);
			csv_field(cell, false);
			snprintf(cell, sizeof(cell), "%d", jobs[i]->sweep_index);
			csv_field(cell, false);
			csv_field(jobs[i]->id, false);
			csv_field(moo_job_status_name(jobs[i]->status), !n_params && !n_names);
		} else {
			printf("%-5zu %-6d %-14s %-10s", i + 1, jobs[i]->sweep_index, jobs[i]->id,
			       moo_job_status_name(jobs[i]->status));
		}
		for (m = 0; m < n_params; m++) {
			/* as given: 1.10 stays 1.10 (moo-compare(1)) */
			const char *t = param_of(kvs, nk, params[m]);

			if (!t) {
				t = "";
			}
			if (csv) {
				csv_field(t, m + 1 == n_params && !n_names);
			} else {
				printf(" %-12s", esc(t));
			}
		}
		for (k = 0; k < n_names; k++) {
			double v = metric_of(jobs[i], names[k]);

			if (isnan(v)) {
				snprintf(cell, sizeof(cell), csv ? "" : "-");
			} else {
				snprintf(cell, sizeof(cell), "%.10g", v);
			}
			if (csv) {
				csv_field(cell, k + 1 == n_names);
			} else {
				printf(" %-12s", cell);
			}
		}
		if (!csv) {
			putchar('\n');
		}
		moo_job_params_free(kvs, nk);
	}
	for (m = 0; m < n_params; m++) {
		free(params[m]);
	}
	moo_jobs_free(jobs, n);
	return EXIT_OK;
}

/* The parameters whose text differs between the jobs (or that some lack), one row each:
 * "alpha=" then each job's value, as given. */
static void print_params(struct moo_job **jobs, size_t n)
{
	struct moo_kv **kvs = calloc(n + 1, sizeof(*kvs));
	size_t *nk = calloc(n + 1, sizeof(*nk)), i, j, k;

	if (!kvs || !nk) {
		abort();
	}
	for (i = 0; i < n; i++) {
		if (moo_job_params(&kvs[i], &nk[i], jobs[i], NULL)) {
			kvs[i] = NULL, nk[i] = 0;
		}
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < nk[i]; k++) {
			const char *key = kvs[i][k].key, *first = NULL;
			bool differs = false, seen = false;
			char label[64];

			for (j = 0; j < i && !seen; j++) { /* each name once, where first found */
				seen = param_of(kvs[j], nk[j], key) != NULL;
			}
			for (j = 0; j < n && !seen; j++) {
				const char *v = param_of(kvs[j], nk[j], key);

				differs = differs || !v || (first && strcmp(first, v));
				first = first ? first : v;
			}
			if (seen || !differs) {
				continue;
			}
			snprintf(label, sizeof(label), "%s=", key);
			printf("%-16.16s", label);
			for (j = 0; j < n; j++) {
				const char *v = param_of(kvs[j], nk[j], key);

				printf("  %-14.14s", v ? v : "-");
			}
			putchar('\n');
		}
	}
	for (i = 0; i < n; i++) {
		moo_job_params_free(kvs[i], nk[i]);
	}
	free(kvs);
	free(nk);
}

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_store *st = ctx->st;
	struct moo_job **jobs = NULL;
	const char *names[MAX_METRICS];
	size_t n_names = 0, n = 0, i, k;
	char **argv = ctx->argv;
	int npos = ctx->argc, r;

	if (npos == 1) {
		char *sweep = moo_sweep_find(st, argv[0]);

		if (sweep) {
			r = compare_sweep(st, sweep);
			free(sweep);
			return r;
		}
	}
	if ((csv || by) && npos == 1) {
		return usage_error(self, "'moo ps -a' shows a sweep's id as the NAME of its jobs",
				   "no sweep '%s' (--by and --csv compare the points of a sweep)",
				   argv[0]);
	}
	if (csv || by) {
		return usage_error(self, "name one sweep: moo compare SWEEP --by METRIC",
				   "--by and --csv compare the points of a sweep");
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
			size_t nm = moo_job_final_metrics(fm, MAX_METRICS, jobs[i]);

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
		printf("  %s", cols(jobs[i]->name ? esc(jobs[i]->name) : "-", 14));
	}
	putchar('\n');
	printf("%-16s", "(status)");
	for (i = 0; i < n; i++) {
		printf("  %-14s", moo_job_status_name(jobs[i]->status));
	}
	putchar('\n');
	print_params(jobs, n);
	for (k = 0; k < n_names; k++) {
		printf("%-16.16s", esc(names[k]));
		for (i = 0; i < n; i++) {
			const struct moo_metric *fm[MAX_METRICS];
			size_t nm = moo_job_final_metrics(fm, MAX_METRICS, jobs[i]), m;
			char v[32] = "-";

			for (m = 0; m < nm; m++) {
				if (!strcmp(fm[m]->name, names[k])) {
					format_number(v, sizeof(v), fm[m]->value);
				}
			}
			printf("  %-14s", v);
		}
		putchar('\n');
	}
	r = EXIT_OK;
done:
	moo_jobs_free(jobs, n);
	return r;
}

const struct cmd cmd_compare = {
	.name = "compare",
	.summary = "print the metrics of jobs side by side",
	.args = "JOB... | SWEEP",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = -1,
	.flags = CMD_STORE,
};
