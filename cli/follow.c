/* Following a job's log: shared by moo run and moo logs -f. Ctrl-C detaches, never kills. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void to_stdout(const char *data, size_t len, void *cb_data)
{
	(void)cb_data;
	progress_end();
	fwrite(data, 1, len, stdout);
	fflush(stdout);
}

int follow_job(struct moo_store *st, struct moo_job *job, uint64_t offset, bool follow)
{
	struct sigaction sa, old_int, old_term;
	struct moo_error *err = NULL;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the poll's sleep ends at once */
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	if (follow) {
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
	}
	r = moo_job_logs(st, job, &offset, follow, to_stdout, NULL, &interrupted, &err);
	if (follow) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	if (r == MOO_EINTR) {
		moo_error_free(err);
		fprintf(stderr,
			"\nmoo: detached from %s; it goes on running.\n"
			"moo: reattach with: moo logs -f --offset %llu %s\n",
			job->id, (unsigned long long)offset, job->id);
		return EXIT_INTERRUPTED;
	}
	if (r) {
		r = print_errors(err);
		moo_error_free(err);
		return r;
	}
	return EXIT_OK;
}
