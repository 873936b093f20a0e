/* Following a job's log: shared by moo run and moo logs -f. Ctrl-C detaches, never kills. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static void to_stdout(const char *data, size_t len, void *cb_data)
{
	FILE *f = json_mode ? stderr : stdout; /* --json: stdout is for the document */

	(void)cb_data;
	progress_end();
	fwrite(data, 1, len, f);
	fflush(f);
}

int follow_job(struct moo_store *st, struct moo_job *job, uint64_t offset, bool follow)
{
	struct moo_error *err = NULL;
	int r;

	/*
	 * main's flag (no SA_RESTART: the poll's sleep ends at once), so that a signal that came
	 * while the job was being started, before the log is followed, detaches at once too.
	 */
	r = moo_job_logs(st, job, &offset, follow, to_stdout, NULL, interrupt_flag(), &err);
	if (r == MOO_EINTR || (r && *interrupt_flag())) {
		char msg[160], hint[192];

		interrupt_answered();
		moo_error_free(err);
		snprintf(msg, sizeof(msg), "detached from %s; it goes on running", job->id);
		snprintf(hint, sizeof(hint), "reattach with: moo logs -f --offset %llu %s",
			 (unsigned long long)offset, job->id);
		if (json_mode) {
			struct moo_error e = {.code = MOO_EINTR, .severity = MOO_SEV_ERROR};

			e.message = msg;
			e.hint = hint;
			json_failure_member("job", job_to_json(job, true));
			print_errors(&e);
		} else {
			fprintf(stderr, "\nmoo: %s.\nmoo: %s\n", msg, hint);
		}
		return EXIT_INTERRUPTED;
	}
	if (r) {
		r = print_errors(err);
		moo_error_free(err);
		return r;
	}
	print_errors(err); /* warnings: a log cut short while it was followed */
	moo_error_free(err);
	return EXIT_OK;
}

static void summary(const struct moo_job *job)
{
	const struct moo_metric *fm[16];
	char dur[32], outcome[160];
	size_t i, n = moo_job_final_metrics(fm, 16, job);

	format_duration(dur, sizeof(dur), job->ended - job->started);
	job_outcome(job, outcome, sizeof(outcome));
	fprintf(stderr, "moo: job %s %s (%s) in %s\n", job->id, moo_job_status_name(job->status),
		outcome, dur);
	for (i = 0; i < n; i++) {
		fprintf(stderr, "moo:   %s = %g\n", esc(fm[i]->name), fm[i]->value);
	}
	if (job->status == MOO_JOB_SUCCEEDED && job->result_path) {
		fprintf(stderr, "moo: result in %s\n", job->result_path);
	}
}

int attend_job(struct moo_store *st, struct moo_job *job, bool detach, bool json, long tail_lines)
{
	int r;

	if (detach) {
		if (json) {
			print_json(job_to_json(job, true));
		} else {
			printf("%s\n", job->id);
		}
		return EXIT_OK;
	}
	fprintf(stderr, "moo: job %s running on %s; Ctrl-C detaches, the job goes on\n", job->id,
		job->host);
	moo_store_idle(st); /* while the job starts */
	r = follow_job(st, job, 0, true);
	if (r != EXIT_OK) {
		return r;
	}
	summary(job);
	if (job->status != MOO_JOB_SUCCEEDED) {
		struct moo_buf tail = MOO_BUF_INIT;

		if (tail_lines > 0 &&
		    !moo_job_log_tail(&tail, NULL, job, (size_t)tail_lines, NULL) && tail.len) {
			fprintf(stderr, "moo: the last lines of its log (%s/process.log):\n",
				job->dir);
			fputs(tail.ptr, stderr);
			if (tail.ptr[tail.len - 1] != '\n') {
				fputc('\n', stderr);
			}
		}
		moo_buf_dispose(&tail);
		r = EXIT_JOB_FAILED;
	}
	if (json) {
		print_json(job_to_json(job, true));
	}
	return r;
}
