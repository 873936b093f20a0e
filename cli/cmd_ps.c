/* moo ps: list jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool all, json;
static const char *status_filter, *name, *on, *sweep;
static long limit = -1;

static const struct opt opts[] = {
	{'a', "all", NULL, "jobs of every status, not only queued and running ones (newest 50)",
	 OPT_FLAG, &all},
	{'s', "status", "LIST", "only these statuses, comma-separated (implies --all)", OPT_STRING,
	 &status_filter},
	{0, "name", "NAME", "only jobs of this name", OPT_STRING, &name},
	{0, "limit", "N", "at most N jobs, newest first (0: no limit; -a's default 50)", OPT_INT,
	 &limit},
	{0, "sweep", "SWEEP", "the points of this sweep, in order (implies --all, no limit)",
	 OPT_STRING, &sweep},
	{0, "on", "HOST", "only jobs on this host, those other clients started there included",
	 OPT_STRING, &on},
	{0, "json", NULL, "print the jobs as a JSON array", OPT_FLAG, &json},
	OPT_END,
};

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_store *st = NULL;
	struct moo_job **jobs = NULL;
	enum moo_job_status *was = NULL; /* statuses as stored, before the refresh */
	struct moo_error *err = NULL;
	char **problems = NULL; /* why a job could not be looked at, or NULL */
	size_t n = 0, i, k = 0;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 0);
	if (r >= 0) {
		return r;
	}
	if (status_filter) {
		const char *p = status_filter;

		do { /* "" and "a,,b" name no status: refused, not taken for every one */
			size_t len = strcspn(p, ",");
			char word[32];
			int s;

			snprintf(word, sizeof(word), "%.*s", (int)len, p);
			s = moo_job_status_parse(word);
			if (s < 0) {
				return usage_error(
					self,
					"statuses are queued, running, succeeded, failed, "
					"cancelled and lost",
					"unknown status '%s'", word);
			}
			f.status_mask |= 1u << s;
			p += len + (p[len] == ',');
		} while (p[-1] == ',' || *p);
	}
	if (limit < -1) {
		return usage_error(self, NULL, "option '--limit' needs a number of 0 or more");
	}
	f.name = name;
	r = open_store(&st);
	if (r >= 0) {
		return r;
	}
	if (sweep) {
		char *full = moo_sweep_find(st, sweep);

		if (!full) {
			moo_store_close(st);
			print_error_msg("'moo ps -a' shows a sweep's id as the NAME of its jobs",
					"no sweep '%s'", sweep);
			return EXIT_USAGE;
		}
		sweep = full; /* (kept to the end of the process) */
		f.sweep = sweep;
		all = true;
		limit = limit < 0 ? 0 : limit;
	}
	/* The store is asked for what is shown, by its indexes: live jobs by status; every
	 * status newest first, 50 unless --limit says otherwise. --on filters after. */
	if (!all && !status_filter) {
		f.status_mask = 1u << MOO_JOB_QUEUED | 1u << MOO_JOB_RUNNING;
	}
	if (limit < 0) {
		limit = all && !status_filter ? 50 : 0;
	}
	if (!on) {
		f.limit = (size_t)limit;
	}
	/* With --on, the list first: results of jobs that ended are downloaded after it. */
	moo_job_defer_results(on != NULL);
	if (on) {
		size_t n_new = 0;

		r = moo_job_import_all(&n_new, st, on, &err);
		if (r == MOO_EHOST) {
			/* as moo-ps(1) says: its jobs as last seen, with a warning */
			fprintf(stderr,
				"moo: warning: cannot reach '%s': %s; its jobs are shown as last "
				"seen\n",
				on, err && err->message ? err->message : "unreachable");
			moo_error_free(err);
			err = NULL;
		} else if (r) {
			r = print_errors(err);
			goto done;
		}
	}
	r = moo_store_list_jobs(&jobs, &n, st, &f, &err);
	if (r) {
		r = print_errors(err);
		goto done;
	}
	problems = calloc(n ? n : 1, sizeof(*problems));
	was = calloc(n ? n : 1, sizeof(*was));
	/* Jobs still marked live are looked at again before they are shown; a host that
	 * cannot be reached leaves its jobs as they were, with a warning. Any other failure
	 * (a host no longer known, a job folder that cannot be read) flags that job with
	 * its reason and never hides the others. */
	for (i = 0; i < n; i++) {
		if (on && strcmp(jobs[i]->host ? jobs[i]->host : "local", on)) {
			continue;
		}
		was[i] = jobs[i]->status;
		if (moo_job_status_done(jobs[i]->status) ||
		    !(r = moo_job_refresh(st, jobs[i], &err))) {
			continue;
		}
		if (r == MOO_EHOST) {
			fprintf(stderr,
				"moo: warning: cannot reach '%s': %s is shown as last seen\n",
				jobs[i]->host, jobs[i]->id);
		} else if (err) {
			char why[512];

			snprintf(why, sizeof(why), "%s%s%s", err->message, err->cause ? ": " : "",
				 err->cause ? err->cause : "");
			problems[i] = strdup(why);
			fprintf(stderr, "moo: warning: %s: %s\n", jobs[i]->id, problems[i]);
		}
		moo_error_free(err);
		err = NULL;
	}
	for (i = 0; i < n; i++) {
		bool keep = all || status_filter || !moo_job_status_done(jobs[i]->status);

		if (on && strcmp(jobs[i]->host ? jobs[i]->host : "local", on)) {
			keep = false;
		}

		if (keep && (!limit || k < (size_t)limit)) {
			problems[k] = problems[i];
			was[k] = was[i];
			jobs[k++] = jobs[i];
		} else {
			free(problems[i]);
			moo_job_free(jobs[i]);
		}
	}
	n = k;
	if (!json && limit && n == (size_t)limit && !sweep) {
		fprintf(stderr, "moo: the newest %zu jobs are shown; --limit 0 shows all\n", n);
	}
	if (json) {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *o = job_to_json(jobs[i], false);

			json_object_set_new(o, "problem",
					    problems[i] ? json_string(problems[i]) : json_null());
			json_array_append_new(a, o);
		}
		print_json(a);
	} else {
		print_job_table(jobs, (const char *const *)problems, n);
	}
	fflush(stdout);
	r = EXIT_OK;
	moo_job_defer_results(false);
	for (i = 0; on && i < n; i++) {
		if (!moo_job_status_done(was[i]) && moo_job_status_done(jobs[i]->status)) {
			jobs[i]->status = was[i]; /* as stored: this refresh records its end */
			if (moo_job_refresh(st, jobs[i], &err)) {
				/* the list stands, and a result that could not be pulled is
				 * said: exit 6, not taken for success (issue 13.4) */
				r = print_errors(err);
				moo_error_free(err);
				err = NULL;
			}
		}
	}
done:
	for (i = 0; problems && i < n; i++) {
		free(problems[i]);
	}
	free(problems);
	moo_job_defer_results(false);
	free(was);
	moo_error_free(err);
	moo_jobs_free(jobs, n);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_ps = {
	.name = "ps",
	.summary = "list jobs",
	.args = "",
	.run = run,
};
