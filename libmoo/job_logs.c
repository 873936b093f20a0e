/*
 * job_logs: process.log read, tailed and followed (across reconnects).
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

/* ---- logs ------------------------------------------------------------------------------- */

/*
 * A host lost while it is followed: since when (0: it is not lost), and the pause before
 * the next try. Kept across reconnects until something is read from the host again: a
 * reconnect that succeeds does not show that the host is back, when it reached the
 * host's kept connection (transport_mux.c), which answers without the host and then
 * fails each request with MOO_EHOST. Counted from each reconnect instead, the window
 * began again every few seconds and moo followed a host that was gone for ever.
 */
struct lost {
	double since, wait;
};

/*
 * After a lost connection to a remote host (*err: why): connects again with backoff
 * (0.5 s doubling to 5 s) until $MOO_RECONNECT_S seconds (default RECONNECT_S) after the
 * host was lost, or until *stop. On failure *err holds the last try's errors.
 */
static int reconnect(struct moo__transport **t, const char *host, struct lost *lost,
		     const volatile sig_atomic_t *stop, struct moo_error **err)
{
	const char *env = getenv("MOO_RECONNECT_S");
	double limit = env && *env ? strtod(env, NULL) : RECONNECT_S;
	int r = MOO_EHOST;

	if (lost->since <= 0) {
		lost->since = moo__now();
		lost->wait = 0; /* the first try at once */
	}
	for (;;) {
		struct moo_error *e = NULL;

		if (lost->wait > 0) {
			if (moo__now() - lost->since + lost->wait > limit || (stop && *stop)) {
				return r;
			}
			moo__nap(lost->wait);
		}
		lost->wait = lost->wait <= 0 ? 0.5 : lost->wait * 2 > 5 ? 5 : lost->wait * 2;
		r = *t ? moo__transport_reopen(t, &e) : moo__transport_open(t, host, &e);
		moo_error_free(*err);
		*err = e;
		if (r != MOO_EHOST) {
			return r;
		}
	}
}

/*
 * A log cut shorter than the offset followed (truncated while the job runs): the offset
 * goes to its new end, with a warning, so what is written after is not lost. The warning
 * is given when the cut is seen (the warning callback), else at the end in warn.
 */
static void log_shrunk(struct moo__transport *t, const struct moo_job *job, const char *log,
		       uint64_t *off, struct moo_error **warn)
{
	static const char hint[] = "what was written between the two is lost: the job truncated "
				   "its process.log";
#define CUT_FMT                                                                   \
	"the log of '%s' was cut from %llu to %llu bytes while it was followed; " \
	"following on from its new end"
	uint64_t size = 0;

	if (t->ops->file_size && !t->ops->file_size(t, log, &size, NULL) && size < *off) {
		if (!moo__warn_hint(MOO_EIO, hint, CUT_FMT, job->id, (unsigned long long)*off,
				    (unsigned long long)size)) {
			moo__error_hint(moo__error_add(warn, MOO_EIO, MOO_SEV_WARNING, CUT_FMT,
						       job->id, (unsigned long long)*off,
						       (unsigned long long)size),
					"%s", hint);
		}
		*off = size;
	}
#undef CUT_FMT
}

/*
 * refresh while a job is followed. A job whose files are bad for a moment is followed on
 * for up to BAD_WAIT_S: its supervisor removes what the job put in place of exit when the
 * job ends, and a follower should not give up on it before.
 */
static int follow_refresh(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			  double *bad_since, struct moo_error **err)
{
	struct moo_error *e = NULL;
	int r = moo__refresh(t, st, job, &e);

	if (r == MOO_EIO && !moo_job_status_done(job->status)) {
		if (*bad_since <= 0) {
			*bad_since = moo__now();
		}
		if (moo__now() - *bad_since < BAD_WAIT_S) {
			moo_error_free(e);
			moo__nap(0.05);
			return 0;
		}
	} else if (!r) {
		*bad_since = 0;
	}
	moo__error_append(err, e);
	return r;
}

int moo_job_logs(struct moo_store *st, struct moo_job *job, uint64_t *offset, bool follow,
		 moo_log_cb cb, void *cb_data, const volatile sig_atomic_t *stop,
		 struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_error *lerr = NULL, *warn = NULL;
	char *log = moo__job_file(job, "process.log"), *exit_path = moo__job_file(job, "exit");
	uint64_t off = *offset;
	double wait = 0.002, last_check = moo__now(), bad_since = 0;
	struct lost lost = {0, 0};
	bool ended = false, idle = false;
	int r;

	r = moo__open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	if (off && t->ops->file_size) {
		uint64_t size = 0;

		/* an offset past the end is the caller's, not a log the job cut */
		if (!t->ops->file_size(t, log, &size, NULL) && size < off) {
			r = MOO_EARG;
			moo__error_hint(moo__error_add(err, r, MOO_SEV_ERROR,
						       "offset %llu is past the end of the log of "
						       "'%s' (%llu bytes)",
						       (unsigned long long)off, job->id,
						       (unsigned long long)size),
					"give an offset moo printed when it detached, or none");
			goto done;
		}
	}
	for (;;) {
		size_t cut;

		if (r == MOO_EHOST && follow && moo__transport_is_remote(t)) {
			/* Lost the host: reach it again and go on from the same byte. */
			r = reconnect(&t, job->host, &lost, stop, &lerr);
			if (r) {
				goto done;
			}
			ended = false;
		}

		/* Whether it has ended is asked before the read (then the read sees it all), and
		 * only once a read brought nothing: a job writing its log is not asked. */
		if (follow && !ended && (idle || moo_job_status_done(job->status))) {
			ended = t->ops->exists(t, exit_path) || moo_job_status_done(job->status);
			if (ended) {
				log_shrunk(t, job, log, &off, &warn);
				*offset = off;
			}
		}
		moo_buf_reset(&b);
		r = moo__job_read(t, job, log, off, LOG_CHUNK, &b, &lerr);
		if (r == MOO_ENOTFOUND) {
			r = 0;
		}
		if (r == MOO_EHOST && follow && moo__transport_is_remote(t)) {
			continue;
		}
		if (r) {
			goto done;
		}
		lost.since = 0; /* the host answered */
		cut = b.len;
		idle = false;
		if (follow && !ended) {
			while (cut && b.ptr[cut - 1] != '\n') {
				cut--;
			}
			if (!cut && b.len == LOG_CHUNK) {
				cut = b.len; /* one endless line: pass it on */
			}
		}
		if (cut) {
			cb(b.ptr, cut, cb_data);
			off += cut;
			*offset = off;
			wait = 0.002;
		}
		if (b.len == LOG_CHUNK) {
			continue;
		}
		if (!follow) {
			break;
		}
		if (ended) {
			r = follow_refresh(t, st, job, &bad_since, &lerr);
			if (r == MOO_EHOST && moo__transport_is_remote(t)) {
				ended = false;
				continue;
			}
			if (r || moo_job_status_done(job->status)) {
				break;
			}
			/* an exit the job wrote itself: it runs on */
			ended = false;
		}
		if (stop && *stop) {
			r = MOO_EINTR;
			goto done;
		}
		if (moo__now() - last_check > 1.0) {
			/* A supervisor killed outright never writes exit: notice it. */
			last_check = moo__now();
			log_shrunk(t, job, log, &off, &warn);
			*offset = off;
			r = follow_refresh(t, st, job, &bad_since, &lerr);
			if (r == MOO_EHOST && follow && moo__transport_is_remote(t)) {
				continue;
			}
			if (r) {
				goto done;
			}
			continue;
		}
		if (!cut) {
			idle = true;
			moo__wait_change(t, job->dir, wait);
			wait = wait * 2 > 0.01 ? 0.01 : wait * 2;
		}
	}
done:
	if (r) {
		moo__error_append(err, lerr);
		lerr = NULL;
	}
	/* warnings reach the caller on success too (moo prints them when it is done) */
	moo__error_append(err, warn);
	moo_error_free(lerr);
	moo__transport_close(t);
	moo_buf_dispose(&b);
	free(log);
	free(exit_path);
	return r;
}

/* The size of a file on t's host, or 0 when it cannot be told. */
static uint64_t log_size(struct moo__transport *t, const char *path)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	uint64_t size = 0;
	struct stat st;
	int status = -1;

	if (!moo__transport_is_remote(t)) {
		return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	}
	moo_buf_puts(&cmd, "wc -c < ");
	moo_buf_shquote(&cmd, path);
	if (!t->ops->exec(t, cmd.ptr, &out, NULL, &status, NULL) && !status && out.len) {
		size = strtoull(out.ptr, NULL, 10);
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return size;
}

int moo_job_log_tail(struct moo_buf *out, uint64_t *end, const struct moo_job *job, size_t n,
		     struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf b = MOO_BUF_INIT;
	char *log = moo__job_file(job, "process.log");
	uint64_t size = 0;
	size_t start, lines = 0;
	int r;

	r = moo__open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	/* Only its last 64 KiB are read (a log of 500 MB is not read through): from its size,
	 * stat here, 'wc -c' (an fstat for GNU and BSD wc) on a host. */
	size = log_size(t, log);
	size = size > TAIL_BYTES ? size - TAIL_BYTES : 0;
	for (;;) {
		struct moo_buf chunk = MOO_BUF_INIT;

		r = moo__job_read(t, job, log, size, LOG_CHUNK, &chunk, err);
		if (r || !chunk.len) {
			moo_buf_dispose(&chunk);
			break;
		}
		size += chunk.len;
		moo_buf_add(&b, chunk.ptr, chunk.len);
		moo_buf_dispose(&chunk);
		if (b.len > TAIL_BYTES) {
			memmove(b.ptr, b.ptr + b.len - TAIL_BYTES, TAIL_BYTES + 1);
			b.len = TAIL_BYTES;
		}
	}
	if (r == MOO_ENOTFOUND) {
		r = 0;
	}
	if (r) {
		goto done;
	}
	if (end) {
		*end = size;
	}
	if (!b.len) {
		goto done;
	}
	start = b.len;
	if (b.ptr[start - 1] == '\n') {
		start--;
	}
	while (start > 0 && lines < n) {
		if (b.ptr[start - 1] == '\n' && ++lines == n) {
			break;
		}
		start--;
	}
	if (n) {
		moo_buf_add(out, b.ptr + start, b.len - start);
	}
done:
	moo__transport_close(t);
	moo_buf_dispose(&b);
	free(log);
	return r;
}
