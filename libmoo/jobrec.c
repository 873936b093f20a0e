/*
 * The job as a value (moo/job.h): its status names, freeing it. Below store.c, which
 * reads and writes it, and job.c, which runs it.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static const char *const status_names[] = {"queued", "running",   "succeeded",
					   "failed", "cancelled", "lost"};

const char *moo_job_status_name(enum moo_job_status s)
{
	return (unsigned)s < MOO_ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

int moo_job_status_parse(const char *name)
{
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(status_names); i++) {
		if (!strcmp(name, status_names[i])) {
			return (int)i;
		}
	}
	return -1;
}

bool moo_job_status_done(enum moo_job_status s)
{
	return s >= MOO_JOB_SUCCEEDED;
}

void moo_job_free(struct moo_job *j)
{
	size_t i;

	if (!j) {
		return;
	}
	free(j->id);
	free(j->name);
	free(j->source);
	free(j->source_sha256);
	free(j->spec_json);
	free(j->params_json);
	free(j->host);
	free(j->dir);
	free(j->output_folder);
	free(j->command);
	free(j->result_path);
	free(j->lock);
	free(j->backend_id);
	free(j->detail);
	free(j->sweep);
	for (i = 0; i < j->n_metrics; i++) {
		free(j->metrics[i].name);
	}
	free(j->metrics);
	free(j);
}

void moo_jobs_free(struct moo_job **jobs, size_t n)
{
	size_t i;

	if (!jobs) {
		return;
	}
	for (i = 0; i < n; i++) {
		moo_job_free(jobs[i]);
	}
	free(jobs);
}

size_t moo_job_final_metrics(const struct moo_metric **out, size_t max, const struct moo_job *j)
{
	size_t n = 0, i, k;

	for (i = 0; i < j->n_metrics; i++) {
		for (k = 0; k < n; k++) {
			if (!strcmp(out[k]->name, j->metrics[i].name)) {
				out[k] = &j->metrics[i];
				break;
			}
		}
		if (k == n && n < max) {
			out[n++] = &j->metrics[i];
		}
	}
	return n;
}
