/*
 * shell: 'moo ssh JOB' — a shell in a job's work/ folder on its host, on this process's
 * stdin, stdout and stderr. On an SSH host it is one more channel of the invocation's one
 * session (a terminal asked for when pty); here it is a child process.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ssh.h"

/* "cd WORK || exit 1; WORD…" or the login shell; every value quoted. */
static void shell_line(struct moo_buf *cmd, const struct moo_job *job, const char *const *argv,
		       size_t argc)
{
	char *work = moo__path_join(job->dir, "work");
	size_t i;

	moo_buf_puts(cmd, "cd ");
	moo_buf_shquote(cmd, work);
	moo_buf_puts(cmd, " || exit 1; ");
	if (!argv || !argc) {
		moo_buf_puts(cmd, "exec \"${SHELL:-/bin/sh}\" -l");
	}
	for (i = 0; argv && i < argc; i++) {
		moo_buf_puts(cmd, i ? " " : "");
		moo_buf_shquote(cmd, argv[i]);
	}
	free(work);
}

static int remote_shell(struct moo__transport *t, const struct moo_job *job,
			const char *const *argv, size_t argc, bool pty, int *status,
			struct moo_error **err)
{
	struct moo__ssh *c = moo__transport_ssh_session(t);
	struct moo_buf cmd = MOO_BUF_INIT;
	ssh_channel ch = ssh_channel_new(c->session);
	bool in_open = true;
	char buf[32768];
	int r;

	if (!ch || ssh_channel_open_session(ch) != SSH_OK) {
		r = moo__fail(err, MOO_EHOST, "cannot open a channel to '%s'", c->display);
		goto done;
	}
	if (pty) {
		struct winsize ws = {24, 80, 0, 0};
		const char *term = getenv("TERM");

		ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
		if (ssh_channel_request_pty_size(ch, term && *term ? term : "xterm",
						 ws.ws_col ? ws.ws_col : 80,
						 ws.ws_row ? ws.ws_row : 24) != SSH_OK) {
			r = moo__fail(err, MOO_EHOST, "'%s' refused a terminal", c->display);
			goto done;
		}
	}
	shell_line(&cmd, job, argv, argc);
	if (ssh_channel_request_exec(ch, cmd.ptr) != SSH_OK) {
		r = moo__fail(err, MOO_EHOST, "cannot start a shell on '%s'", c->display);
		goto done;
	}
	for (;;) {
		struct pollfd p[2] = {{ssh_get_fd(c->session), POLLIN, 0},
				      {STDIN_FILENO, POLLIN, 0}};
		int n, stream, got = 0;

		for (stream = 0; stream < 2; stream++) {
			while ((n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf), stream)) >
			       0) {
				moo__write_all(stream ? STDERR_FILENO : STDOUT_FILENO, buf,
					       (size_t)n);
				got = 1;
			}
			if (n == SSH_ERROR) {
				r = moo__fail(err, MOO_EHOST, "lost the connection to '%s'",
					      c->display);
				goto done;
			}
		}
		if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch)) {
			break;
		}
		if (got) {
			continue;
		}
		if (poll(p, in_open ? 2 : 1, 50) < 0 && errno != EINTR) {
			r = moo__fail_errno(err, MOO_EIO, "cannot wait for the shell");
			goto done;
		}
		if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));

			if (k > 0) {
				ssh_channel_write(ch, buf, (uint32_t)k);
			} else if (k == 0 || errno != EINTR) {
				in_open = false;
				ssh_channel_send_eof(ch);
			}
		}
	}
	{
		int st = ssh_channel_get_exit_status(ch);

		*status = st < 0 ? 255 : st;
	}
	r = 0;
done:
	if (ch) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	moo_buf_dispose(&cmd);
	return r;
}

static int local_shell(const struct moo_job *job, const char *const *argv, size_t argc, int *status,
		       struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	pid_t pid;
	int ws;

	shell_line(&cmd, job, argv, argc);
	pid = fork();
	if (pid < 0) {
		moo_buf_dispose(&cmd);
		return moo__fail_errno(err, MOO_EIO, "cannot start a shell");
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd.ptr, (char *)NULL);
		_exit(127);
	}
	moo_buf_dispose(&cmd);
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			return moo__fail_errno(err, MOO_EIO, "cannot wait for the shell");
		}
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return 0;
}

int moo_job_shell(int *status, const struct moo_job *job, const char *const *argv, size_t argc,
		  bool pty, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	int r;

	if (!job->dir) {
		return moo__fail(err, MOO_EARG, "job '%s' has no folder", job->id);
	}
	/* a session of its own: its channel is driven here, not by a kept connection's master */
	r = moo__transport_open_flags(&t, job->host ? job->host : "local", MOO__SSH_DIRECT, err);
	if (r) {
		return r;
	}
	if (moo__transport_is_remote(t)) {
		r = remote_shell(t, job, argv, argc, pty, status, err);
	} else {
		r = local_shell(job, argv, argc, status, err);
	}
	moo__transport_close(t);
	return r;
}
