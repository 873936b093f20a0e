/* moo ssh: a shell in a job's work folder on its host ("log in to the environment"). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "cli.h"

static const char *on;
static bool no_tty;

static const struct opt opts[] = {
	OPT_ON(&on),
	{'T', "no-tty", NULL, "ask for no terminal, even when stdin is one", OPT_FLAG, &no_tty},
	OPT_END,
};

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_store *st = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	struct termios saved, raw;
	bool pty, restore = false;
	int npos, r, status = 0;

	r = opt_parse(self, opts, argc, argv, &npos, 1, -1);
	if (r >= 0) {
		return r;
	}
	r = open_store(&st);
	if (r >= 0) {
		return r;
	}
	r = find_job(st, argv[0], on, false, &job);
	if (r >= 0) {
		goto done;
	}
	/* A terminal for an interactive shell on a terminal, as ssh(1) does. */
	pty = !no_tty && npos == 1 && isatty(STDIN_FILENO);
	if (pty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	signal(SIGPIPE, SIG_IGN);
	r = moo_job_shell(job, (const char *const *)argv + 1, (size_t)npos - 1, pty, &status, &err);
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	}
	if (r) {
		r = print_errors(err);
		goto done;
	}
	r = status; /* the shell's own exit status, as ssh(1) gives it */
done:
	moo_error_free(err);
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_ssh = {
	.name = "ssh",
	.summary = "open a shell (or run a command) in a job's work folder on its host",
	.args = "JOB [COMMAND [ARG...]]",
	.run = run,
};
