/*
 * job_files: a job's own files and processes on its host — key=value files (state, exit),
 * process checks, the process group, metrics — trusted only as far as checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "dataset.h"
#include "runtime.h"
#include "embedded.h"
#include "ssh.h"
#include "slurm.h"
#include "job.h"
#define MAX_TIME 1e11 /* seconds since 1970: the year 5138; a later time is no time */

double moo__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void moo__nap(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};

	nanosleep(&ts, NULL); /* a signal cuts it short: callers look at their stop flag */
}

/*
 * Until something in dir may have changed: at once where the transport is told of changes
 * (a local job directory, through inotify: no poll lag at a job's end), else after about
 * seconds (how long polling waits; the caller backs off).
 */
void moo__wait_change(struct moo__transport *t, const char *dir, double seconds)
{
	if (t->ops->wait_change) {
		t->ops->wait_change(t, dir, seconds < 1.0 ? 1.0 : seconds);
	} else {
		moo__nap(seconds);
	}
}

int moo__open_host(struct moo__transport **out, const char *host, struct moo_error **err)
{
	return moo__transport_open(out, host ? host : "local", err);
}

char *moo__job_file(const struct moo_job *job, const char *name)
{
	return moo__path_join(job->dir, name);
}

/* ---- key=value files (state, exit) ------------------------------------------------ */

/* The value of key in a key=value text, or NULL; "command" runs to the end of the text. */
char *moo__kv_get(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == '=') {
			const char *v = p + n + 1;
			size_t len = strcmp(key, "command") ? strcspn(v, "\n") : strlen(v);

			while (len && v[len - 1] == '\n') {
				len--;
			}
			return moo__strndup(v, len);
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

long long moo__kv_int(const char *text, const char *key, long long def)
{
	char *v = moo__kv_get(text, key), *end;
	long long x;

	if (!v) {
		return def;
	}
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v) {
		x = def;
	}
	free(v);
	return x;
}

/* The host's boot time (btime of /proc/stat), or 0. */
/*
 * The host's boot, on this machine's clock: now less the host's /proc/uptime, to the
 * centisecond (plus the time the read took). /proc/stat's btime is whole seconds on the
 * host's clock: up to a second early, which made a job of 0.3 s end before it was created
 * and shown as 0.0 s. It stays the answer where /proc/uptime cannot be read.
 */
static double host_btime(struct moo__transport *t)
{
	struct moo_buf b = MOO_BUF_INIT;
	const char *p;
	double v = 0, up = 0;

	if (!t->ops->read_file(t, "/proc/uptime", 0, 4096, &b, NULL) && b.ptr) {
		up = strtod(b.ptr, NULL);
	}
	moo_buf_reset(&b);
	if (up > 0) {
		v = moo__now() - up;
	} else if (!t->ops->read_file(t, "/proc/stat", 0, 1 << 16, &b, NULL) && b.ptr &&
		   (p = strstr(b.ptr, "\nbtime "))) {
		v = strtod(p + 7, NULL);
	}
	moo_buf_dispose(&b);
	return v;
}

/*
 * A time the supervisor wrote: "up:SECONDS" since the host booted, or epoch seconds. The
 * boot is the btime= the text names (a Slurm job's, of its compute node), else the host's.
 */
double moo__kv_time(struct moo__transport *t, const char *text, const char *key)
{
	char *v = moo__kv_get(text, key);
	double x = 0;

	if (v && !strncmp(v, "up:", 3)) {
		long long named = moo__kv_int(text, "btime", 0);
		double b = named > 0 && named <= MAX_TIME ? (double)named : host_btime(t);

		x = b > 0 ? b + strtod(v + 3, NULL) : 0;
	} else if (v) {
		x = strtod(v, NULL);
	}
	/* A number the job may have written: refused unless a time from 1970 to year 5138. */
	if (v && !(x >= 0 && x <= MAX_TIME)) {
		moo__warn(MOO_EIO, "ignoring %s='%s' of a job: not a time", key, v);
		x = 0;
	}
	free(v);
	return x;
}

/* moo_job_defer_results: ends told, not recorded, results not downloaded. */
_Thread_local bool moo__defer_results;

/* One of the scripts built into libmoo, or NULL. */
const struct moo__embedded *moo__script_named(const char *name)
{
	const struct moo__embedded *e;

	for (e = moo__embedded_scripts; e->name; e++) {
		if (!strcmp(e->name, name)) {
			return e;
		}
	}
	return NULL;
}

/* ---- process checks -------------------------------------------------------------- */

/* What /proc/PID/stat on the host says of a process. */
struct proc_info {
	unsigned long long start; /* field 22, its start time; 0: no such pid, or a zombie */
	long pgrp, sid;           /* fields 5 and 6 */
	char comm[32];            /* field 2, without its parentheses */
};

/*
 * Reads /proc/PID/stat on the host. Fails only when the host cannot be asked: a job is
 * never taken for gone because its host could not be reached.
 */
static int proc_info(struct moo__transport *t, long pid, struct proc_info *pi,
		     struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	char path[64];
	const char *p, *open_paren;
	int field, r = 0;

	memset(pi, 0, sizeof(*pi));
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (pid > 0) {
		r = t->ops->read_file(t, path, 0, 4096, &b, err);
		if (r == MOO_ENOTFOUND || (r && !moo__transport_is_remote(t))) {
			r = 0;
		}
	}
	if (r || pid <= 0 || !b.ptr) {
		goto done;
	}
	p = strrchr(b.ptr, ')');
	open_paren = strchr(b.ptr, '(');
	/* Field 3, the state: a zombie (ended, not yet reaped by its parent) is gone. */
	if (!p || !open_paren || open_paren > p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
		goto done;
	}
	snprintf(pi->comm, sizeof(pi->comm), "%.*s",
		 (int)(p - open_paren - 1 < 31 ? p - open_paren - 1 : 31), open_paren + 1);
	/* After "pid (comm)" comes field 3; walk to field 22. */
	for (field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
		if (p && field == 4) {
			pi->pgrp = strtol(p + 1, NULL, 10);
		} else if (p && field == 5) {
			pi->sid = strtol(p + 1, NULL, 10);
		}
	}
	if (p) {
		pi->start = strtoull(p + 1, NULL, 10);
	}
done:
	moo_buf_dispose(&b);
	return r;
}

/* *v gets the start time of pid on the host (field 22), or 0 when it does not run. */
int moo__proc_start(struct moo__transport *t, long pid, unsigned long long *v_out,
		    struct moo_error **err)
{
	struct proc_info pi;
	int r = proc_info(t, pid, &pi, err);

	*v_out = pi.start;
	return r;
}

/* ---- a job's own files and processes: trusted only as far as checked ---------------- */

/*
 * MOO_EIO: the job is bad, its files not what its supervisor writes, with why. A job's
 * code can rewrite every file of its folder; moo never acts on what it cannot check.
 */
static int bad_job(struct moo_error **err, const struct moo_job *job, const char *why)
{
	struct moo_error *e =
		moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "job '%s' is bad: %s", job->id, why);

	moo__error_hint(e,
			"the job changed its own files: stop what it runs yourself (moo ssh "
			"%s), remove '%s', then moo rm %s",
			job->id, job->dir, job->id);
	return MOO_EIO;
}

/*
 * Reads a file of the job's folder (read_file: a regular file, never a FIFO or a link):
 * one that is there but cannot be read as such makes the job bad.
 */
int moo__job_read(struct moo__transport *t, const struct moo_job *job, const char *path,
		  uint64_t offset, size_t max, struct moo_buf *out, struct moo_error **err)
{
	struct moo_error *e = NULL;
	int r = t->ops->read_file(t, path, offset, max, out, &e);

	if (r && r != MOO_ENOTFOUND && r != MOO_EHOST && e) {
		r = bad_job(err, job, e->message);
		moo_error_free(e);
		return r;
	}
	moo__error_append(err, e);
	return r;
}

/*
 * What the state says, as far as moo has not recorded it already: the supervisor's pid is
 * taken once (a job that rewrites its state later cannot make another process pass for
 * its supervisor).
 */
void moo__note_state(struct moo__transport *t, struct moo_job *job, const char *state)
{
	if (job->pid <= 0) {
		job->pid = (long)moo__kv_int(state, "pid", 0);
	}
	if (job->started <= 0) {
		job->started = moo__kv_time(t, state, "started");
	}
}

/* Whether the n bytes of needle are somewhere in the len bytes of hay. */
static bool has_bytes(const char *hay, size_t len, const char *needle, size_t n)
{
	size_t i;

	for (i = 0; n && i + n <= len; i++) {
		if (hay[i] == needle[0] && !memcmp(hay + i, needle, n)) {
			return true;
		}
	}
	return false;
}

/*
 * The job's process group as its state names it. 1 and *pgid set: its leader runs, started
 * when the state says, leads its own session, and has MOO_JOB_ID=<id> in its environment
 * (the supervisor exports it). 0: no process runs under that pid, or (lost: a state no
 * supervisor keeps) one that is not the job's. A pgid of 1 or less, or a process that is not
 * the job's leader while its supervisor runs, makes the job bad: a state the job rewrote
 * never turns cancel on another process.
 */
int moo__job_group(struct moo__transport *t, const struct moo_job *job, const char *state,
		   long *pgid, struct moo_error **err)
{
	long g = (long)moo__kv_int(state, "pgid", 0);
	struct moo_buf env = MOO_BUF_INIT;
	char marker[64], why[160];
	struct proc_info pi;
	bool mine;
	int r;

	if (g <= 1) {
		snprintf(why, sizeof(why), "its state names the process group %ld", g);
		return bad_job(err, job, why);
	}
	r = proc_info(t, g, &pi, err);
	if (r || !pi.start) {
		return r;
	}
	mine = pi.start == (unsigned long long)moo__kv_int(state, "pgid_start", -1) &&
	       pi.pgrp == g && pi.sid == g;
	if (mine) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%ld/environ", g);
		snprintf(marker, sizeof(marker), "MOO_JOB_ID=%s", job->id);
		mine = !t->ops->read_file(t, path, 0, 1u << 20, &env, NULL) && env.ptr &&
		       has_bytes(env.ptr, env.len, marker, strlen(marker) + 1);
		moo_buf_dispose(&env);
	}
	if (mine) {
		*pgid = g;
		return 1;
	}
	if (job->status == MOO_JOB_LOST) {
		return 0; /* its pid taken by another process since */
	}
	snprintf(why, sizeof(why),
		 "process %ld, which its state names as its group, is not the job's", g);
	return bad_job(err, job, why);
}

/*
 * killtree.sh on the host: sig to the job's processes (its group, its session and their
 * descendants, or its cgroup). *status: 0 signalled, 1 none left (and the job's cgroup, now
 * empty, is removed), 3 the group is not the job's (its leader's start time changed since
 * it was checked).
 */
int moo__signal_tree(struct moo__transport *t, const struct moo_job *job, const char *state,
		     long pgid, const char *sig, int *status, struct moo_error **err)
{
	const struct moo__embedded *kt = moo__script_named("killtree.sh");
	struct moo_buf c = MOO_BUF_INIT;
	char *cg = moo__kv_get(state, "cgroup"), *want = moo__printf("/%s", job->id);
	int r;

	if (!kt) {
		r = moo__fail(err, MOO_EIO, "libmoo was built without its supervisor script");
		goto done;
	}
	/* Only a cgroup the supervisor could have made for this job. */
	if (cg && (strncmp(cg, "/sys/fs/cgroup/", 15) || strstr(cg, "/.") ||
		   strlen(cg) < strlen(want) || strcmp(cg + strlen(cg) - strlen(want), want))) {
		free(cg);
		cg = NULL;
	}
	moo_buf_add(&c, kt->data, kt->size);
	moo_buf_printf(&c, "\nkilltree %s %ld %llu ", sig, pgid,
		       (unsigned long long)moo__kv_int(state, "pgid_start", 0));
	moo_buf_shquote(&c, cg ? cg : "");
	if (cg) {
		/* nothing of the job left: its cgroup goes too (a lost job's supervisor, which
		 * removes it at the end, is gone); one with processes in it is not removed */
		moo_buf_puts(&c, "\n_s=$?\n[ $_s = 1 ] && rmdir -- ");
		moo_buf_shquote(&c, cg);
		moo_buf_puts(&c, " 2>/dev/null\nexit $_s");
	}
	r = t->ops->exec(t, c.ptr, NULL, NULL, status, err);
done:
	moo_buf_dispose(&c);
	free(cg);
	free(want);
	return r;
}

/*
 * Whether an exit file is the job's end: once its supervisor wrote it, the supervisor no
 * longer runs as itself (it is gone, or has become the mv that put exit in place, its last
 * step; supervise.c names itself moo-exit for that step) and the group leader it waited for is
 * gone. An exit the job wrote itself while it runs is not its end.
 */
int moo__exit_is_end(struct moo__transport *t, const struct moo_job *job, const char *state,
		     bool *end, struct moo_error **err)
{
	struct proc_info pi;
	long g;
	int r;

	*end = true;
	if (!state || job->pid <= 0) {
		return 0;
	}
	r = proc_info(t, job->pid, &pi, err);
	if (r) {
		return r;
	}
	if (pi.start && pi.start == (unsigned long long)moo__kv_int(state, "pid_start", -1) &&
	    strcmp(pi.comm, "mv") && strcmp(pi.comm, "moo-exit")) {
		*end = false;
		return 0;
	}
	g = (long)moo__kv_int(state, "pgid", 0);
	if (g > 1) {
		r = proc_info(t, g, &pi, err);
		if (!r && pi.start &&
		    pi.start == (unsigned long long)moo__kv_int(state, "pgid_start", -1) &&
		    pi.sid == g) {
			*end = false;
		}
	}
	return r;
}

/* ---- metrics ----------------------------------------------------------------------- */

static void add_metric(struct moo_job *job, const char *name, size_t n, double v, int64_t step,
		       bool from_file)
{
	MOO_GROW(job->metrics, job->n_metrics);
	job->metrics[job->n_metrics++] =
		(struct moo_metric){moo__strndup(name, n), v, step, from_file};
}

/*
 * A metric line's step=, when it has one, is a whole number from 0 to 2^53 (exact in a
 * double and an int64); a line with another is refused whole, with a warning.
 */
static bool metric_step_ok(const char *p, const char *stop)
{
	const char *s;

	for (s = p; s + 5 <= stop; s++) {
		char buf[64], *e;
		size_t n = 0;
		double v;

		if (memcmp(s, "step=", 5) || (s > p && s[-1] != ' ' && s[-1] != '\t')) {
			continue;
		}
		while (s + 5 + n < stop && s[5 + n] != ' ' && s[5 + n] != '\t' &&
		       s[5 + n] != '\r') {
			n++;
		}
		if (n >= sizeof(buf)) {
			n = sizeof(buf) - 1; /* refused below: no such number is this long */
		}
		memcpy(buf, s + 5, n);
		buf[n] = '\0';
		v = strtod(buf, &e);
		if (n == sizeof(buf) - 1 || e == buf || *e ||
		    !(v >= 0 && v <= 9007199254740992.0) || v != floor(v)) {
			moo__warn(MOO_EIO,
				  "ignoring a 'moo:metric' line: step='%s' is not a whole "
				  "number from 0 to 2^53",
				  buf);
			return false;
		}
	}
	return true;
}

void moo_job_parse_metrics(struct moo_job *job, const char *text, size_t len)
{
	static const char tag[] = "moo:metric ";
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q, *stop;
		size_t first = job->n_metrics, i;
		int64_t step = -1;

		stop = eol ? eol : end;
		if ((size_t)(stop - p) > sizeof(tag) - 1 && !memcmp(p, tag, sizeof(tag) - 1) &&
		    metric_step_ok(p, stop)) {
			for (q = p + sizeof(tag) - 1; q < stop;) {
				const char *w = q, *eq;
				char buf[64], *e;
				size_t wl;
				double v;

				while (w < stop && (*w == ' ' || *w == '\t')) {
					w++;
				}
				q = w;
				while (q < stop && *q != ' ' && *q != '\t' && *q != '\r') {
					q++;
				}
				wl = (size_t)(q - w);
				if (q < stop && *q == '\r') {
					q++;
				}
				eq = memchr(w, '=', wl);
				if (!eq || eq == w || (size_t)(w + wl - eq - 1) >= sizeof(buf)) {
					continue;
				}
				memcpy(buf, eq + 1, (size_t)(w + wl - eq - 1));
				buf[w + wl - eq - 1] = '\0';
				v = strtod(buf, &e);
				if (e == buf || *e || !isfinite(v)) {
					continue;
				}
				if ((size_t)(eq - w) == 4 && !memcmp(w, "step", 4)) {
					step = (int64_t)v; /* in range: metric_step_ok */
					continue;
				}
				add_metric(job, w, (size_t)(eq - w), v, -1, false);
			}
			for (i = first; i < job->n_metrics; i++) {
				job->metrics[i].step = step;
			}
		}
		p = eol ? eol + 1 : end;
	}
}

void moo__read_metrics(struct moo__transport *t, struct moo_job *job)
{
	struct moo_buf b = MOO_BUF_INIT, carry = MOO_BUF_INIT;
	char *log = moo__job_file(job, "process.log"), *mj;
	uint64_t off = 0;
	size_t i;

	for (i = 0; i < job->n_metrics; i++) {
		free(job->metrics[i].name);
	}
	job->n_metrics = 0;
	/* The log, chunk by chunk, lines cut at chunk ends carried over. */
	for (;;) {
		size_t cut;

		moo_buf_reset(&b);
		if (t->ops->read_file(t, log, off, LOG_CHUNK, &b, NULL) || !b.len) {
			break;
		}
		off += b.len;
		moo_buf_add(&carry, b.ptr, b.len);
		for (cut = carry.len; cut && carry.ptr[cut - 1] != '\n'; cut--) {
		}
		moo_job_parse_metrics(job, carry.ptr, cut);
		memmove(carry.ptr, carry.ptr + cut, carry.len - cut + 1);
		carry.len -= cut;
	}
	if (carry.len) {
		moo_job_parse_metrics(job, carry.ptr, carry.len);
	}
	/* metrics.json: a flat object of numbers in the output folder. */
	mj = moo__printf("%s/work/%s/metrics.json", job->dir, job->output_folder);
	moo_buf_reset(&b);
	if (!t->ops->read_file(t, mj, 0, LOG_CHUNK, &b, NULL) && b.len) {
		json_t *o = json_loadb(b.ptr, b.len, 0, NULL);
		const char *k;
		json_t *v;

		if (json_is_object(o)) {
			json_object_foreach(o, k, v)
			{
				if (json_is_number(v)) {
					add_metric(job, k, strlen(k), json_number_value(v), -1,
						   true);
				}
			}
		}
		json_decref(o);
	}
	free(mj);
	free(log);
	moo_buf_dispose(&b);
	moo_buf_dispose(&carry);
}

/*
 * Reads a job's state file. The supervisor writes it with one printf, not through a
 * rename (an mv started beside the job's own start slowed a short job by ~3 ms on two
 * cores), so a reader can find it empty or cut short. command= is its last field: until it
 * is there the state counts as not written yet (MOO_ENOTFOUND), and once it is, every field
 * before it is whole.
 */
int moo__read_state(struct moo__transport *t, const struct moo_job *job, const char *path,
		    struct moo_buf *b, struct moo_error **err)
{
	int r;

	moo_buf_reset(b);
	r = moo__job_read(t, job, path, 0, 1 << 16, b, err);
	if (!r && (!b->ptr || (strncmp(b->ptr, "command=", 8) && !strstr(b->ptr, "\ncommand=")))) {
		moo_buf_reset(b);
		r = MOO_ENOTFOUND;
	}
	return r;
}
