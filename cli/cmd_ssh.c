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

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct moo_error *err = NULL;
	struct termios saved, raw;
	bool pty, restore = false;
	int npos = ctx->argc, r, status = 0;
	char **argv = ctx->argv;

	(void)self;
	/* A terminal for an interactive shell on a terminal, as ssh(1) does. */
	pty = !no_tty && npos == 1 && isatty(STDIN_FILENO);
	if (pty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	signal(SIGPIPE, SIG_IGN);
	r = moo_job_shell(&status, ctx->job, (const char *const *)argv + 1, (size_t)npos - 1, pty,
			  &err);
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
	return r;
}

const struct cmd cmd_ssh = {
	.name = "ssh",
	.summary = "open a shell (or run a command) in a job's work folder on its host",
	.args = "JOB [COMMAND [ARG...]]",
	.exec = exec,
	.opts = opts,
	.min_pos = 1,
	.max_pos = -1,
	.flags = CMD_JOB,
	.on = &on,
};
