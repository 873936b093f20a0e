/* transport_local: this machine, through sh -c and the file system. */
#define _GNU_SOURCE 1 /* posix_spawn_file_actions_addchdir_np and _addclosefrom_np; environ */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "transport.h"

#define EXEC_MAX_OUT (1u << 20)

static void drain(int *fd, struct moo_buf *b)
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		return;
	}
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	if (b && b->len + (size_t)n <= EXEC_MAX_OUT) {
		moo_buf_add(b, chunk, (size_t)n);
	}
}

static int local_exec(struct moo__transport *t, const char *cmdline, struct moo_buf *out,
		      struct moo_buf *errout, int *status, struct moo_error **err)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, r, ws;
	pid_t pid = -1;

	(void)t;
	if (pipe(po) < 0 || pipe(pe) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot create a pipe");
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot start sh");
		goto done;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0) {
			dup2(devnull, 0);
		}
		dup2(po[1], 1);
		dup2(pe[1], 2);
		/* Nothing else of ours may leak into sh: a detached supervisor would hold our
		 * pipes open (and us waiting) for as long as its job runs. */
		for (ws = 3; ws < 1024; ws++) {
			close(ws);
		}
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmdline, (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			r = moo__fail_errno(err, MOO_EIO, "cannot read from sh");
			goto done;
		}
		if (po[0] >= 0 && p[0].revents) {
			drain(&po[0], out);
		}
		if (pe[0] >= 0 && p[1].revents) {
			drain(&pe[0], errout);
		}
	}
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			r = moo__fail_errno(err, MOO_EIO, "cannot wait for sh");
			goto done;
		}
	}
	pid = -1;
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	r = 0;
done:
	if (pid > 0) {
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
		}
	}
	for (ws = 0; ws < 2; ws++) {
		if (po[ws] >= 0) {
			close(po[ws]);
		}
		if (pe[ws] >= 0) {
			close(pe[ws]);
		}
	}
	return r;
}

/* What a file that is not a regular file is, for the error naming it. */
const char *moo__file_kind(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "a folder";
	case S_IFIFO: return "a FIFO";
	case S_IFLNK: return "a symbolic link";
	case S_IFSOCK: return "a socket";
	case S_IFCHR:
	case S_IFBLK: return "a device";
	default: return "not a regular file";
	}
}

/*
 * Job files are opened as regular files only: without following a symbolic link, and
 * without blocking (a FIFO a job put in place of its state would hang an open for ever).
 * *fd_out is open on success.
 */
static int open_regular(const char *path, int *fd_out, struct stat *st, struct moo_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		if (errno == ENOENT) {
			return MOO_ENOTFOUND;
		}
		if (errno == ELOOP && lstat(path, st) == 0) {
			return moo__fail(err, MOO_EIO, "'%s' is %s, not a regular file", path,
					 moo__file_kind(st->st_mode));
		}
		return moo__fail_errno(err, MOO_EIO, "cannot open '%s'", path);
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		int r = S_ISREG(st->st_mode)
				? moo__fail_errno(err, MOO_EIO, "cannot read '%s'", path)
				: moo__fail(err, MOO_EIO, "'%s' is %s, not a regular file", path,
					    moo__file_kind(st->st_mode));

		close(fd);
		return r;
	}
	*fd_out = fd;
	return 0;
}

static int local_read_file(struct moo__transport *t, const char *path, uint64_t offset, size_t max,
			   struct moo_buf *out, struct moo_error **err)
{
	char chunk[65536];
	struct stat st;
	size_t got = 0;
	int fd = -1, r;

	(void)t;
	r = open_regular(path, &fd, &st, err);
	if (r) {
		return r;
	}
	while (got < max) {
		size_t want = max - got < sizeof(chunk) ? max - got : sizeof(chunk);
		ssize_t n = pread(fd, chunk, want, (off_t)(offset + got));

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", path);
			break;
		}
		if (n == 0) {
			break;
		}
		moo_buf_add(out, chunk, (size_t)n);
		got += (size_t)n;
	}
	close(fd);
	return r;
}

static int local_file_size(struct moo__transport *t, const char *path, uint64_t *size,
			   struct moo_error **err)
{
	struct stat st;
	int fd = -1, r;

	(void)t;
	r = open_regular(path, &fd, &st, err);
	if (!r) {
		*size = (uint64_t)st.st_size;
		close(fd);
	}
	return r;
}

static int local_write_file(struct moo__transport *t, const char *path, const void *data,
			    size_t len, int mode, struct moo_error **err)
{
	(void)t;
	/* Job files: a run cut by a power loss is lost anyway, so no fsync. */
	return moo__write_file_atomic(path, data, len, mode, false, err);
}

static bool local_exists(struct moo__transport *t, const char *path)
{
	struct stat st;

	(void)t;
	return lstat(path, &st) == 0;
}

static int local_mkdir_p(struct moo__transport *t, const char *path, struct moo_error **err)
{
	(void)t;
	return moo__mkdir_p(path, 0755, err);
}

static int local_put(struct moo__transport *t, const char *src, const char *dst, bool move,
		     struct moo_error **err)
{
	struct stat st;

	(void)t;
	if (move && rename(src, dst) == 0) {
		return 0;
	}
	if (stat(src, &st) == 0 && S_ISREG(st.st_mode) && link(src, dst) == 0) {
		return 0;
	}
	return moo__copy_tree(src, dst, err);
}

static int local_collect(struct moo__transport *t, const char *src, const char *cache_dir,
			 char **local, struct moo_error **err)
{
	(void)t;
	(void)cache_dir;
	(void)err;
	*local = moo__strdup(src);
	return 0;
}

/*
 * fork, setsid, exec: the supervisor starts without the sh and setsid programs a command
 * line would need first (each exec costs milliseconds). The child is reaped at once: it
 * forks the supervisor and exits, so the supervisor is nobody's child of ours.
 */
/* What a local transport keeps: the folder wait_change watches (inotify), and the
 * supervisors it spawned that have not been reaped yet. */
struct local_impl {
	int fd;
	char *dir;
	pid_t *kids;
	size_t n_kids;
};

static struct local_impl *local_impl(struct moo__transport *t)
{
	struct local_impl *w = t->impl;

	if (!w) {
		w = t->impl = moo__calloc(1, sizeof(*w));
		w->fd = -1;
	}
	return w;
}

/* Reaps the supervisors that have ended; the others are left running. */
static void reap(struct local_impl *w)
{
	size_t i = 0;

	while (i < w->n_kids) {
		if (waitpid(w->kids[i], NULL, WNOHANG) != 0) {
			w->kids[i] = w->kids[--w->n_kids];
		} else {
			i++;
		}
	}
}

/*
 * The supervisor is spawned (vfork and exec, no copy of our page tables) straight into a
 * session of its own, stdin from /dev/null and stdout and stderr appending to the log. It
 * stays our child until we exit, then init's: its pid is kept so that wait_change and close
 * reap it when it ends before us (proc_start in job_files.c takes a zombie for gone anyway).
 */
static int local_spawn(struct moo__transport *t, const char *dir, const char *script,
		       const char *log, struct moo_error **err)
{
	struct local_impl *w = local_impl(t);
	char *log_path = moo__path_join(dir, log);
	char *argv[] = {"sh", "-c", (char *)script, "moo-supervisor", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t sigs;
	pid_t pid;
	int e;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addchdir_np(&fa, dir);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	sigemptyset(&sigs);
	posix_spawnattr_setsigmask(&attr, &sigs);
	sigaddset(&sigs, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &sigs);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	e = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(log_path);
	if (e) {
		errno = e;
		return moo__fail_errno(err, MOO_EIO, "cannot start the supervisor in '%s'", dir);
	}
	reap(w);
	w->kids = moo__realloc(w->kids, (w->n_kids + 1) * sizeof(*w->kids));
	w->kids[w->n_kids++] = pid;
	return 0;
}

static int local_supervise(struct moo__transport *t, const char *dir, const char *out,
			   const char *command, const char *log, struct moo_error **err)
{
	struct local_impl *w = local_impl(t);
	pid_t pid;
	int r = moo__supervise_start(dir, out, command, log, &pid, err);

	if (r == 0) {
		reap(w);
		w->kids = moo__realloc(w->kids, (w->n_kids + 1) * sizeof(*w->kids));
		w->kids[w->n_kids++] = pid;
	}
	return r;
}

static void local_wait_change(struct moo__transport *t, const char *dir, double timeout)
{
	struct local_impl *w = local_impl(t);
	struct pollfd p;
	char events[4096];

	reap(w);
	if (!w->dir || strcmp(w->dir, dir)) {
		if (w->fd >= 0) {
			close(w->fd);
		}
		free(w->dir);
		w->dir = moo__strdup(dir);
		w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->fd >= 0 &&
		    inotify_add_watch(w->fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
			close(w->fd);
			w->fd = -1;
		}
		return;
	}
	if (w->fd < 0) {
		/* No inotify (a full table, an old kernel): look again soon. */
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
		return;
	}
	p.fd = w->fd;
	p.events = POLLIN;
	if (poll(&p, 1, (int)(timeout * 1000)) > 0) {
		while (read(w->fd, events, sizeof(events)) > 0) {
		}
	}
}

static void local_close(struct moo__transport *t)
{
	struct local_impl *w = t->impl;

	if (w) {
		reap(w);
		if (w->fd >= 0) {
			close(w->fd);
		}
		free(w->dir);
		free(w->kids);
		free(w);
	}
}

static const struct moo__transport_ops local_ops = {
	.exec = local_exec,
	.read_file = local_read_file,
	.file_size = local_file_size,
	.write_file = local_write_file,
	.exists = local_exists,
	.mkdir_p = local_mkdir_p,
	.put = local_put,
	.collect = local_collect,
	.close = local_close,
	.wait_change = local_wait_change,
	.spawn = local_spawn,
	.supervise = local_supervise,
};

/* The job directory root here: $MOO_ROOT, else $HOME/.moo. */
static char *local_root(struct moo_error **err)
{
	const char *root = getenv("MOO_ROOT"), *home = getenv("HOME");

	if ((!root || !*root) && (!home || !*home)) {
		moo__fail(err, MOO_EIO,
			  "cannot place the job directory: neither MOO_ROOT nor HOME is set");
		return NULL;
	}
	return root && *root ? moo__strdup(root) : moo__path_join(home, ".moo");
}

int moo__transport_local_open(struct moo__transport **out, struct moo_error **err)
{
	char *root = local_root(err);
	struct moo__transport *t;

	if (!root) {
		return MOO_EIO;
	}
	t = moo__calloc(1, sizeof(*t));
	t->ops = &local_ops;
	t->host = moo__strdup("local");
	t->root = root;
	*out = t;
	return 0;
}

/* moo__job_root (job.h): this machine's job directory root, as its transport has it. */
int moo__job_root(struct moo_buf *out, struct moo_error **err)
{
	char *root = local_root(err);

	if (!root) {
		return MOO_EIO;
	}
	moo_buf_puts(out, root);
	free(root);
	return 0;
}
