/*
 * supervise: supervisor.sh's work done in C, for a job on this machine.
 *
 * supervisor.sh runs on any host with a POSIX sh, but on this machine each program it
 * starts (sh, mkdir, setsid, rmdir, sha256sum, mv) costs milliseconds a job waits for. Here
 * moo forks the supervisor itself: no program but the job's own is started. It writes the
 * same files the same way (supervisor.sh's header is the contract: state, MANIFEST.sha256,
 * exit, the cgroup, the end of what the job left running), so everything that reads a job
 * reads either. It runs only commands made of plain words (moo_buf_shquote's quoting and
 * characters that need none); any other command is left to supervisor.sh.
 */
#define _GNU_SOURCE 1 /* close_range, environ */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <nettle/sha2.h>
#include "internal.h"

#define MAX_DEPTH 64 /* folders deeper than this in a result are left out of its manifest */

struct words {
	char **v;
	size_t n;
};

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i]);
	}
	free(w->v);
}

/* A character sh takes literally outside quotes, in a word. */
static bool plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_@%+=:,./-", c) != NULL;
}

/*
 * Splits a command line of plain words: unquoted characters sh takes literally and
 * '…' quoted parts ('\'' included, as moo_buf_shquote writes it). false for anything
 * else (a variable, a glob, an operator, a double quote, a backslash): sh must read it.
 */
static bool split_words(const char *s, struct words *w)
{
	struct moo_buf cur = MOO_BUF_INIT;
	bool in_word = false;

	memset(w, 0, sizeof(*w));
	for (;;) {
		char c = *s;

		if (c == '\0' || c == ' ' || c == '\t') {
			if (in_word) {
				w->v = moo__realloc(w->v, (w->n + 2) * sizeof(*w->v));
				w->v[w->n++] = moo__strdup(cur.ptr ? cur.ptr : "");
				w->v[w->n] = NULL;
				moo_buf_reset(&cur);
				in_word = false;
			}
			if (c == '\0') {
				break;
			}
			s++;
		} else if (c == '\'') {
			const char *end = strchr(s + 1, '\'');

			if (!end) {
				goto not_plain;
			}
			moo_buf_add(&cur, s + 1, (size_t)(end - s - 1));
			in_word = true;
			s = end + 1;
		} else if (plain_char(c)) {
			moo_buf_putc(&cur, c);
			in_word = true;
			s++;
		} else {
			goto not_plain;
		}
	}
	moo_buf_dispose(&cur);
	return w->n > 0;
not_plain:
	moo_buf_dispose(&cur);
	words_free(w);
	memset(w, 0, sizeof(*w));
	return false;
}

/* A name sh can export (supervisor.sh's test: none of '', [0-9]*, *[!A-Za-z0-9_]*). */
static bool var_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9')) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9'))) {
			return false;
		}
	}
	return true;
}

/* The first line of a small file into buf (its newline dropped); false when unreadable. */
static bool read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char *nl;

	if (fd < 0) {
		return false;
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0) {
		return false;
	}
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
	}
	return true;
}

/* NOW as supervisor.sh's now(): "up:<seconds since boot>", or epoch seconds. */
static void now(char *out, size_t size)
{
	char l[128];

	if (read_line("/proc/uptime", l, sizeof(l))) {
		l[strcspn(l, " ")] = '\0';
		snprintf(out, size, "up:%.40s", l);
	} else {
		snprintf(out, size, "%lld", (long long)time(NULL));
	}
}

/* Field 22 of /proc/PID/stat (the start time), as text; "0" when unreadable. */
static void starttime(pid_t pid, char *out, size_t size)
{
	char path[64], l[1024], *p;
	int field;

	snprintf(out, size, "0");
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!read_line(path, l, sizeof(l)) || !(p = strrchr(l, ')'))) {
		return;
	}
	for (field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p) {
		snprintf(out, size, "%.*s", (int)strcspn(p + 1, " "), p + 1);
	}
}

/* The job's cgroup v2 folder, made under this process's own, as supervisor.sh makes it. */
static char *make_cgroup(const char *id)
{
	const char *mounts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	char *rel = NULL, *mnt = NULL, *cg = NULL, *line = NULL;
	const char *e = getenv("MOO_CGROUP");
	size_t cap = 0;
	FILE *f;

	if (e && !strcmp(e, "0")) {
		return NULL;
	}
	if ((f = fopen("/proc/self/cgroup", "re"))) {
		while (getline(&line, &cap, f) > 0) {
			if (!strncmp(line, "0::/", 4)) {
				line[strcspn(line, "\n")] = '\0';
				free(rel);
				rel = moo__strdup(line + 3);
			}
		}
		fclose(f);
	}
	for (size_t i = 0; i < 2 && !mnt; i++) {
		char *c = moo__printf("%s/cgroup.controllers", mounts[i]);
		struct stat st;

		if (!stat(c, &st) && S_ISREG(st.st_mode)) {
			mnt = moo__strdup(mounts[i]);
		}
		free(c);
	}
	if (!mnt && (f = fopen("/proc/self/mounts", "re"))) {
		char dev[256], mp[4096], type[64];

		while (getline(&line, &cap, f) > 0) {
			if (sscanf(line, "%255s %4095s %63s", dev, mp, type) == 3 &&
			    !strcmp(type, "cgroup2")) {
				free(mnt);
				mnt = moo__strdup(mp);
			}
		}
		fclose(f);
	}
	if (rel && *rel && mnt) {
		size_t l = strlen(rel);

		if (l && rel[l - 1] == '/') {
			rel[l - 1] = '\0';
		}
		cg = moo__printf("%s%s/%s", mnt, rel, id);
		if (mkdir(cg, 0777) < 0) {
			free(cg);
			cg = NULL;
		}
	}
	free(line);
	free(rel);
	free(mnt);
	return cg;
}

/* ---- killtree.sh ---------------------------------------------------------------------- */

struct pids {
	pid_t *v;
	size_t n;
};

static void pids_add(struct pids *s, pid_t p)
{
	s->v = moo__realloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = p;
}

/*
 * killtree SIG PGID - CGROUP, as killtree.sh does it for the supervisor (which reaped the
 * group's leader itself): the cgroup's processes; else, while the group has a member, the
 * members of the group or session PGID and their descendants. 0: found (and signalled)
 * some; 1: none left.
 */
static int killtree(int sig, pid_t g, const char *cg)
{
	struct pids set = {0};
	int found = 1;

	if (cg) {
		char *path = moo__printf("%s/cgroup.procs", cg);
		FILE *f = fopen(path, "re");
		long p;

		if (f) {
			while (fscanf(f, "%ld", &p) == 1) {
				pids_add(&set, (pid_t)p);
			}
			fclose(f);
		}
		free(path);
	}
	if (!set.n) {
		struct {
			pid_t pid, ppid;
			bool in;
		} *all = NULL;
		size_t n = 0, cap = 0;
		DIR *d;
		struct dirent *de;
		bool more = true;

		if (kill(-g, 0) < 0) {
			return 1;
		}
		if (!(d = opendir("/proc"))) {
			return 1;
		}
		while ((de = readdir(d))) {
			char path[300], l[1024], *p;
			char st;
			long ppid, pgrp, sid;

			if (de->d_name[0] < '0' || de->d_name[0] > '9') {
				continue;
			}
			snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
			if (!read_line(path, l, sizeof(l)) || !(p = strrchr(l, ')')) ||
			    sscanf(p + 1, " %c %ld %ld %ld", &st, &ppid, &pgrp, &sid) != 4 ||
			    st == 'Z') {
				continue;
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				all = moo__realloc(all, cap * sizeof(*all));
			}
			all[n].pid = (pid_t)strtol(de->d_name, NULL, 10);
			all[n].ppid = (pid_t)ppid;
			all[n].in = pgrp == g || sid == g;
			n++;
		}
		closedir(d);
		while (more) {
			more = false;
			for (size_t i = 0; i < n; i++) {
				for (size_t j = 0; !all[i].in && j < n; j++) {
					if (all[j].in && all[j].pid == all[i].ppid) {
						all[i].in = more = true;
					}
				}
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (all[i].in && all[i].pid != 1 && all[i].pid != getpid()) {
				pids_add(&set, all[i].pid);
			}
		}
		free(all);
	}
	if (set.n) {
		found = 0;
		if (sig) {
			if (sig == SIGKILL && cg) {
				char *path = moo__printf("%s/cgroup.kill", cg);
				int fd = open(path, O_WRONLY | O_CLOEXEC);

				if (fd >= 0) {
					(void)!write(fd, "1\n", 2);
					close(fd);
				}
				free(path);
			}
			kill(-g, sig);
			for (size_t i = 0; i < set.n; i++) {
				kill(set.v[i], sig);
			}
		}
	}
	free(set.v);
	return found;
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* ---- MANIFEST.sha256 ------------------------------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line as sha256sum writes it: "HASH  ./PATH", or "\HASH  ./PATH" with \ and newline
 * escaped where the path has them. */
static void manifest_line(struct moo_buf *m, const char *hex, const char *path)
{
	bool esc = strpbrk(path, "\\\n") != NULL;

	if (esc) {
		moo_buf_putc(m, '\\');
	}
	moo_buf_printf(m, "%s  ./", hex);
	for (const char *p = path; *p; p++) {
		if (esc && *p == '\\') {
			moo_buf_puts(m, "\\\\");
		} else if (esc && *p == '\n') {
			moo_buf_puts(m, "\\n");
		} else {
			moo_buf_putc(m, *p);
		}
	}
	moo_buf_putc(m, '\n');
}

static bool hash_fd(int fd, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	char chunk[1 << 16];
	ssize_t n;

	sha256_init(&c);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return false;
		}
		sha256_update(&c, (size_t)n, (const uint8_t *)chunk);
	}
	sha256_digest(&c, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
	return true;
}

/* Every regular file under the folder dfd (prefix: its path), symbolic links left out. */
static void manifest_dir(struct moo_buf *m, int dfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			names = moo__realloc(names, (n + 1) * sizeof(*names));
			names[n++] = moo__strdup(de->d_name);
		}
	}
	if (n > 1) { /* names is NULL in an empty folder: qsort's never may be */
		qsort(names, n, sizeof(*names), cmp_names);
	}
	for (size_t i = 0; i < n; i++) {
		char *path = moo__printf("%s%s", prefix, names[i]);
		struct stat st;
		int fd;

		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* gone meanwhile */
		} else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
			fd = openat(dirfd(d), names[i],
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				char *sub = moo__printf("%s/", path);

				manifest_dir(m, fd, sub, depth + 1);
				free(sub);
			}
		} else if (S_ISREG(st.st_mode)) {
			char hex[65];

			fd = openat(dirfd(d), names[i],
				    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && hash_fd(fd, hex)) {
				manifest_line(m, hex, path);
			} else {
				dprintf(2, "moo-supervisor: cannot hash %s: %s\n", path,
					strerror(errno));
			}
			if (fd >= 0) {
				close(fd);
			}
		}
		free(path);
		free(names[i]);
	}
	free(names);
	closedir(d);
}

/* ---- the supervisor ------------------------------------------------------------------- */

struct job {
	const char *id;
	const char *out;  /* output_folder, relative to work/ */
	const char *text; /* the command as text (state's command=) */
	struct words argv;
	size_t nvars; /* leading NAME=VALUE words of an 'env' command, exported by the child */
};

/* Sets NAME=VALUE (entry, which the array keeps) in env, replacing one of the same name. */
static void env_put(struct words *env, char *entry)
{
	size_t n = strcspn(entry, "=") + 1;

	for (size_t i = 0; i < env->n; i++) {
		if (!strncmp(env->v[i], entry, n)) {
			free(env->v[i]);
			env->v[i] = entry;
			return;
		}
	}
	env->v = moo__realloc(env->v, (env->n + 2) * sizeof(*env->v));
	env->v[env->n++] = entry;
	env->v[env->n] = NULL;
}

/* What execvp would run for name under the PATH of env; NULL when none is found. */
static char *find_program(const char *name, const struct words *env)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";

	if (strchr(name, '/')) {
		return moo__strdup(name);
	}
	for (size_t i = 0; i < env->n; i++) {
		if (!strncmp(env->v[i], "PATH=", 5)) {
			path = env->v[i] + 5;
		}
	}
	while (*path) {
		size_t n = strcspn(path, ":");
		char *full = moo__printf("%.*s%s%s", (int)n, path, n ? "/" : "", name);
		struct stat st;

		if (!stat(full, &st) && S_ISREG(st.st_mode) && !access(full, X_OK)) {
			return full;
		}
		free(full);
		path += n + (path[n] == ':');
	}
	return NULL;
}

/* vfork, and in the child: into the cgroup (procs, when not NULL), work/, a session of its
 * own, exec. Only system calls in the child, and no variable of the caller's written. */
__attribute__((noinline)) static pid_t vfork_exec(const char *procs, const char *prog, char **argv,
						  char **envp, const char *msg)
{
	pid_t pid = vfork();

	if (pid == 0) {
		int fd, e;

		if (procs && (fd = open(procs, O_WRONLY | O_CLOEXEC)) >= 0) {
			(void)!write(fd, "0\n", 2);
			close(fd);
		}
		if (chdir("work") < 0) {
			_exit(1);
		}
		setsid();
		if (prog) {
			execve(prog, argv, envp);
		}
		e = prog ? errno : ENOENT;
		(void)!write(2, msg, strlen(msg));
		(void)!write(2, strerror(e), strlen(strerror(e)));
		(void)!write(2, "\n", 1);
		_exit(e == ENOENT ? 127 : 126);
	}
	return pid;
}

/*
 * Starts the job: its own session, in work/, in the cgroup, with what supervisor.sh's child
 * has (MOO_JOB_ID, the command's NAME=VALUE words, PWD). Everything is made ready first;
 * the child is vfork'ed and makes only system calls (no copy of this process's pages).
 */
static pid_t start_job(const struct job *j, const char *cg)
{
	struct words env = {0};
	char **argv = j->argv.v + (j->nvars ? 1 + j->nvars : 0), *prog, *procs = NULL;
	char cwd[4096], *msg;
	pid_t pid;

	for (char **e = environ; *e; e++) {
		env_put(&env, moo__strdup(*e));
	}
	env_put(&env, moo__printf("MOO_JOB_ID=%s", j->id));
	if (getenv("PWD") && getcwd(cwd, sizeof(cwd))) {
		env_put(&env, moo__printf("PWD=%s/work", cwd));
	}
	for (size_t i = 0; i < j->nvars; i++) {
		env_put(&env, moo__strdup(j->argv.v[1 + i]));
	}
	prog = find_program(argv[0], &env);
	if (cg) {
		procs = moo__printf("%s/cgroup.procs", cg);
	}
	msg = moo__printf("moo-supervisor: cannot run %s: ", argv[0]);
	pid = vfork_exec(procs, prog, argv, env.v, msg);
	free(msg);
	free(procs);
	free(prog);
	words_free(&env);
	return pid;
}

/* What the job put in place of a file the supervisor writes goes first (supervisor.sh). */
static void clear_place(const char *f, bool keep_regular)
{
	struct stat st;

	if (lstat(f, &st) < 0) {
		return;
	}
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode) || !keep_regular) {
		moo__rm_rf(f);
	}
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);

	if (fd >= 0) {
		(void)moo__write_all(fd, s, strlen(s));
		close(fd);
	}
}

/*
 * The output folder is never reached through a symbolic link the job made (to /etc, to /):
 * a link on its way (work/, or a part of output_folder) is removed, said in the log (our
 * stdout), and the job has no output folder. The job's processes are gone by now.
 */
static void drop_links(const char *out)
{
	struct moo_buf p = MOO_BUF_INIT;
	const char *c = out;
	struct stat st;

	moo_buf_puts(&p, "work");
	for (;;) {
		if (lstat(p.ptr, &st) < 0) {
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			printf("moo: '%s' is a symbolic link, not a folder: removed, not followed "
			       "(the job has no output folder)\n",
			       p.ptr);
			fflush(stdout);
			unlink(p.ptr);
			break;
		}
		if (!S_ISDIR(st.st_mode) || !*c) {
			break;
		}
		moo_buf_putc(&p, '/');
		moo_buf_add(&p, c, strcspn(c, "/"));
		c += strcspn(c, "/");
		c += *c == '/';
	}
	moo_buf_dispose(&p);
}

/* The supervisor's process, in the job's folder, from its start to its exit file. */
static void supervise(const struct job *j)
{
	char *cg, *s, started[64], ended[64], pid_start[32], pgid_start[32];
	const char *run = getenv("MOO_RUN"), *btime = getenv("MOO_BTIME"), *g;
	char *runv = moo__strdup(run ? run : "0"), *btimev = moo__strdup(btime ? btime : "");
	struct moo_buf m = MOO_BUF_INIT;
	struct moo_error *e = NULL;
	int code, ws = 0, i, grace = 5;
	pid_t child;
	int fd;

	unsetenv("MOO_RUN");
	unsetenv("MOO_BTIME");
	s = moo__printf("work/%s", j->out);
	if (moo__mkdir_p(s, 0777, &e)) {
		dprintf(2, "moo-supervisor: %s\n", e->message);
	}
	moo_error_free(e);
	free(s);
	cg = make_cgroup(j->id);
	child = start_job(j, cg);
	now(started, sizeof(started));
	starttime(getpid(), pid_start, sizeof(pid_start));
	starttime(child, pgid_start, sizeof(pgid_start));
	s = moo__printf("pid=%ld\npid_start=%s\npgid=%ld\npgid_start=%s\nstarted=%s\ncgroup=%s\n"
			"run=%s\nbtime=%s\ncommand=%s\n",
			(long)getpid(), pid_start, (long)child, pgid_start, started, cg ? cg : "",
			runv, btimev, j->text);
	write_file("state", s);
	free(s);
	/* room kept for the exit file, should the job fill the disk (rewritten in place) */
	{
		char room[4096];

		memset(room, ' ', sizeof(room));
		fd = open("exit.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0) {
			(void)moo__write_all(fd, room, sizeof(room));
			close(fd);
		}
	}

	code = 127;
	if (child > 0) {
		pid_t w;

		do {
			w = waitpid(child, &ws, 0);
		} while (w < 0 && errno == EINTR);
		if (w == child) {
			code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		}
	}
	/* What the entry point left running goes with it: what ends within 2 s by itself is
	 * let be; the rest gets SIGTERM, and SIGKILL after the grace. */
	for (i = 0; child > 0 && i < 20 && !killtree(0, child, cg); i++) {
		nap(100);
	}
	if (child > 0 && !killtree(SIGTERM, child, cg)) {
		if ((g = getenv("MOO_KILL_GRACE")) && *g && strspn(g, "0123456789") == strlen(g)) {
			grace = (int)strtol(g, NULL, 10);
		}
		for (i = 0; i < grace * 10 && !killtree(0, child, cg); i++) {
			nap(100);
		}
		killtree(SIGKILL, child, cg);
	}
	for (i = 0; cg && rmdir(cg) < 0 && i < 20; i++) {
		nap(50);
	}

	clear_place("MANIFEST.sha256", false);
	clear_place("exit.tmp", true);
	clear_place("exit", false);
	drop_links(j->out);
	s = moo__printf("work/%s", j->out);
	fd = open(s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(s);
	if (fd >= 0) {
		manifest_dir(&m, fd, "", 0);
	}
	write_file("MANIFEST.sha256", m.ptr ? m.ptr : "");
	moo_buf_dispose(&m);

	now(ended, sizeof(ended));
	{
		struct statvfs v;
		/* "full" when the job's disk has no byte left: the reason it failed */
		bool full = code != 0 && !statvfs(".", &v) &&
			    (unsigned long long)v.f_bavail * v.f_frsize / 1024 == 0;

		if (code > 128 && code < 193) {
			s = moo__printf("signal=%d\nended=%s\ndisk=%s\nrun=%s\nbtime=%s\n",
					code - 128, ended, full ? "full" : "", runv, btimev);
		} else {
			s = moo__printf("code=%d\nended=%s\ndisk=%s\nrun=%s\nbtime=%s\n", code,
					ended, full ? "full" : "", runv, btimev);
		}
	}
	write_file("exit.tmp", s);
	free(s);
	/* The last step, as supervisor.sh's 'exec mv': from here on this process is no longer
	 * the supervisor running (moo__exit_is_end). */
	prctl(PR_SET_NAME, "moo-exit", 0, 0, 0);
	if (rename("exit.tmp", "exit") < 0) {
		dprintf(2, "moo-supervisor: cannot write exit: %s\n", strerror(errno));
		_exit(1);
	}
	_exit(0);
}

int moo__supervise_start(const char *dir, const char *out, const char *command, const char *log,
			 pid_t *pid, struct moo_error **err)
{
	struct job j = {.out = out, .text = command};
	char *log_path = NULL;
	const char *slash;
	pid_t p;
	int r = 1;

	if (!split_words(command, &j.argv)) {
		return 1;
	}
	if (!strcmp(j.argv.v[0], "env")) {
		size_t i;

		for (i = 1; i < j.argv.n; i++) {
			const char *eq = strchr(j.argv.v[i], '=');

			if (!eq) {
				break;
			}
			if (!var_name(j.argv.v[i], (size_t)(eq - j.argv.v[i]))) {
				goto done; /* env itself must read them */
			}
		}
		if (i < j.argv.n) {
			j.nvars = i - 1;
		}
	}
	slash = strrchr(dir, '/');
	j.id = slash ? slash + 1 : dir;
	log_path = moo__path_join(dir, log);
	fflush(NULL);
	p = fork();
	if (p < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot start the supervisor in '%s'", dir);
		goto done;
	}
	if (p == 0) {
		static const int ours[] = {SIGTERM, SIGALRM, SIGPIPE, SIGCHLD};
		struct sigaction sa = {0};
		sigset_t none;
		int fd;

		setsid();
		/* what moo set goes back to the default (what moo's caller ignored stays ignored,
		 * as it did for supervisor.sh) */
		sa.sa_handler = SIG_DFL;
		for (size_t k = 0; k < sizeof(ours) / sizeof(ours[0]); k++) {
			sigaction(ours[k], &sa, NULL);
		}
		/* supervisor.sh's trap '' HUP INT; its job, an asynchronous list, also ignores
		 * INT and QUIT: so does the job here */
		sa.sa_handler = SIG_IGN;
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGQUIT, &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(fd, 0) < 0 ||
		    (fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
		    dup2(fd, 1) < 0 || dup2(1, 2) < 0 || chdir(dir) < 0) {
			_exit(127);
		}
		close_range(3, ~0U, 0);
		prctl(PR_SET_NAME, "moo-supervisor", 0, 0, 0);
		supervise(&j);
	}
	*pid = p;
	r = 0;
done:
	free(log_path);
	words_free(&j.argv);
	return r;
}
