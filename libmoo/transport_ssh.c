/*
 * transport_ssh: the job transport over one SSH session (ssh.c).
 *
 * Commands run on the session's one remote sh. Everything else travels over SFTP, which
 * costs the host no process per request (a log polled while a job is followed, exists,
 * small writes renamed into place): files of 1 MiB and more are written with up to 16
 * writes of 128 KiB in flight on an SFTP channel of our own (libssh 0.10 has no
 * asynchronous writes), smaller ones with libssh's sftp_write; downloads are pipelined with
 * ~16 requests of 32 KiB in flight. Everything lands under a temporary name first and is
 * renamed, so an interrupted transfer never leaves a partial file at its destination.
 * Every path put into a command line goes through moo_buf_shquote.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ssh.h"

#define WRITE_CHUNK      (64u << 10)
#define STREAM_MIN       (1u << 20)
#define READ_CHUNK       (32u << 10)
#define READ_DEPTH       16
#define NOT_FOUND_STATUS 66

static struct moo__ssh *sess(struct moo__transport *t)
{
	return t->impl;
}

static const struct moo__transport_ops ssh_ops;

struct moo__ssh *moo__transport_ssh_session(struct moo__transport *t)
{
	return t && t->ops == &ssh_ops ? sess(t) : NULL;
}

/* Runs a command built by the caller; a non-zero status becomes MOO_EIO with its stderr. */
static int run_ok(struct moo__transport *t, const char *cmd, const char *what, const char *path,
		  struct moo_buf *out, int *status_out, struct moo_error **err)
{
	struct moo_buf errout = MOO_BUF_INIT;
	int status = -1, r;

	r = moo__ssh_run(sess(t), cmd, out, 0, &errout, &status, err);
	if (r) {
		goto done;
	}
	if (status_out) {
		*status_out = status;
	}
	if (status && !(status_out && status == NOT_FOUND_STATUS)) {
		struct moo_error *e =
			moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "cannot %s '%s' on '%s'", what,
				       path, sess(t)->display);

		while (errout.len && errout.ptr[errout.len - 1] == '\n') {
			errout.ptr[--errout.len] = '\0';
		}
		moo__error_cause(e, errout.len ? errout.ptr : NULL);
		r = MOO_EIO;
	}
done:
	moo_buf_dispose(&errout);
	return r;
}

static int ssh_exec(struct moo__transport *t, const char *cmdline, struct moo_buf *out,
		    struct moo_buf *errout, int *status, struct moo_error **err)
{
	return moo__ssh_run(sess(t), cmdline, out, 0, errout, status, err);
}

/*
 * SFTP's status of the last request that failed: a request that got no answer (the
 * connection is gone) leaves errnum as the last failure left it, so the caller clears it
 * first and a failure with errnum still 0 is a lost connection.
 */
static int sftp_errnum(struct moo__ssh *c)
{
	return c->sftp && moo__ssh_alive(c) ? sftp_get_error(c->sftp) : -1;
}

/*
 * lstat over SFTP, for a file to be read: regular files only. A FIFO is never opened (the
 * host's sftp server would block in its open for ever, and with it every request of the
 * session), nor a link followed. What is swapped in between the lstat and the open is not
 * caught: a job doing that can only hang its own reader.
 */
static int remote_regular(struct moo__ssh *c, sftp_session sftp, const char *path, uint64_t *size,
			  struct moo_error **err)
{
	sftp_attributes a;
	int r = 0, fx;

	sftp->errnum = 0;
	a = sftp_lstat(sftp, path);
	if (!a) {
		fx = sftp_errnum(c);
		if (fx == SSH_FX_NO_SUCH_FILE || fx == SSH_FX_NO_SUCH_PATH) {
			return MOO_ENOTFOUND;
		}
		return moo__ssh_sftp_fail(c, err, fx > 0 ? MOO_EIO : MOO_EHOST, "read", path);
	}
	if (!(a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) || !S_ISREG(a->permissions)) {
		r = moo__fail(
			err, MOO_EIO, "'%s' on '%s' is %s, not a regular file", path, c->display,
			a->flags & SSH_FILEXFER_ATTR_PERMISSIONS ? moo__file_kind(a->permissions)
								 : "of an unknown kind");
	} else if (size) {
		*size = a->size;
	}
	sftp_attributes_free(a);
	return r;
}

static int ssh_file_size(struct moo__transport *t, const char *path, uint64_t *size,
			 struct moo_error **err)
{
	sftp_session sftp;
	int r = moo__ssh_sftp(sess(t), &sftp, err);

	return r ? r : remote_regular(sess(t), sftp, path, size, err);
}

/*
 * Reads over SFTP: the host's sshd answers from its own process (internal-sftp or one
 * sftp-server per session), where a command would cost the host a fork and an exec of
 * tail and head on every poll of a log.
 */
static int ssh_read_file(struct moo__transport *t, const char *path, uint64_t offset, size_t max,
			 struct moo_buf *out, struct moo_error **err)
{
	struct moo__ssh *c = sess(t);
	sftp_session sftp;
	sftp_file f = NULL;
	size_t got = 0, start = out->len;
	char *buf = NULL;
	int r, fx;

	if (!max) {
		return 0;
	}
	if ((r = moo__ssh_sftp(c, &sftp, err))) {
		return r;
	}
	if (c->tail_f && (!offset || strcmp(c->tail_path, path))) {
		sftp_close(c->tail_f);
		c->tail_f = NULL;
	}
	if (!c->tail_f && (r = remote_regular(c, sftp, path, NULL, err))) {
		return r;
	}
	sftp->errnum = 0;
	f = c->tail_f ? c->tail_f : sftp_open(sftp, path, O_RDONLY, 0);
	c->tail_f = NULL;
	if (!f) {
		fx = sftp_errnum(c);
		if (fx == SSH_FX_NO_SUCH_FILE || fx == SSH_FX_NO_SUCH_PATH) {
			return MOO_ENOTFOUND;
		}
		return moo__ssh_sftp_fail(c, err, fx > 0 ? MOO_EIO : MOO_EHOST, "read", path);
	}
	if (sftp_seek64(f, offset) < 0) { /* resets the eof a kept handle saw */
		r = moo__ssh_sftp_fail(c, err, MOO_EIO, "read", path);
		goto done;
	}
	buf = moo__malloc(READ_CHUNK);
	while (got < max) {
		size_t want = max - got < READ_CHUNK ? max - got : READ_CHUNK;
		ssize_t n;

		sftp->errnum = 0;
		n = sftp_read(f, buf, want);
		if (n < 0) {
			fx = sftp_errnum(c);
			r = moo__ssh_sftp_fail(c, err, fx > 0 ? MOO_EIO : MOO_EHOST, "read", path);
			goto done;
		}
		if (!n) {
			break;
		}
		moo_buf_add(out, buf, (size_t)n);
		got += (size_t)n;
	}
	r = 0;
done:
	if (r) {
		out->len = start;
		if (out->ptr) {
			out->ptr[start] = '\0';
		}
	}
	if (!r && offset + got > 0) {
		/* The next read at an offset of this file (the rest of a log) needs no open. */
		if (!c->tail_path || strcmp(c->tail_path, path)) {
			free(c->tail_path);
			c->tail_path = moo__strdup(path);
		}
		c->tail_f = f;
	} else {
		sftp_close(f);
	}
	free(buf);
	return r;
}

/*
 * dst + ".moo-tmp-" + this client (moo__client_tag: host and pid) + "-" + random: beside
 * dst, so the rename stays on one file system; the client's pid in it lets the next moo
 * of this client remove what a killed one left (moo__transport_sweep).
 */
static char *temp_name(const char *dst)
{
	char hex[17], tag[96];
	size_t n = strlen(dst);

	moo__random_hex(hex);
	moo__client_tag(tag, sizeof(tag), true);
	while (n > 1 && dst[n - 1] == '/') {
		n--;
	}
	return moo__printf("%.*s.moo-tmp-%s%s", (int)n, dst, tag, hex);
}

/* Writes len bytes from data, or from the local fd when data is NULL, to a new remote file. */
static int sftp_put_file(struct moo__transport *t, const char *remote, const void *data, size_t len,
			 int fd, int mode, struct moo_error **err)
{
	struct moo__ssh *c = sess(t);
	sftp_session sftp;
	sftp_file f = NULL;
	char *buf = NULL;
	int r;

	if ((r = moo__ssh_sftp(c, &sftp, err))) {
		return r;
	}
	f = sftp_open(sftp, remote, O_WRONLY | O_CREAT | O_EXCL, (mode_t)(mode & 07777));
	if (!f) {
		return moo__ssh_sftp_fail(c, err, MOO_EIO, "create", remote);
	}
	if (!data) {
		buf = moo__malloc(WRITE_CHUNK);
	}
	for (;;) {
		const char *p;
		size_t n;
		ssize_t w;

		if (moo__interrupted()) {
			r = moo__fail(err, MOO_EINTR, "upload interrupted"); /* tmp removed */
			goto done;
		}
		if (data) {
			n = len < WRITE_CHUNK ? len : WRITE_CHUNK;
			p = data;
			if (!n) {
				break;
			}
		} else {
			ssize_t got = read(fd, buf, WRITE_CHUNK);

			if (got < 0 && errno == EINTR) {
				continue;
			}
			if (got < 0) {
				r = moo__fail_errno(err, MOO_EIO, "cannot read a file to upload");
				goto done;
			}
			if (!got) {
				break;
			}
			n = (size_t)got;
			p = buf;
		}
		w = sftp_write(f, p, n);
		if (w != (ssize_t)n) {
			r = moo__ssh_sftp_fail(c, err, MOO_EIO, "write", remote);
			goto done;
		}
		moo__transfer_progress(true, n);
		if (data) {
			data = (const char *)data + n;
			len -= n;
		}
	}
	/* the server's umask applied at creation; the mode asked for is the one kept */
	if (sftp_close(f) != SSH_OK) {
		f = NULL;
		r = moo__ssh_sftp_fail(c, err, MOO_EIO, "write", remote);
		goto done;
	}
	f = NULL;
	if (sftp_chmod(sftp, remote, (mode_t)(mode & 07777)) < 0) {
		r = moo__ssh_sftp_fail(c, err, MOO_EIO, "set the mode of", remote);
		goto done;
	}
	r = 0;
done:
	if (f) {
		sftp_close(f);
	}
	free(buf);
	return r;
}

/* ---- pipelined SFTP writes ------------------------------------------------------------
 *
 * libssh 0.10's sftp_write waits for each write's answer: one round trip per 64 KiB, and on
 * a loaded host one scheduling delay of the client per block. Uploads of big files speak
 * SFTP v3 (draft-ietf-secsh-filexfer-02) themselves on a channel of their own, with up to
 * PIPE_DEPTH writes in flight (2 MiB, OpenSSH's channel window), as OpenSSH's sftp does;
 * answers are matched by id. Writes of 128 KiB stay under sftp-server's 256 KiB packets.
 */
#define PIPE_CHUNK (128u << 10)
#define PIPE_DEPTH 16

enum {
	FXP_INIT = 1,
	FXP_VERSION = 2,
	FXP_OPEN = 3,
	FXP_CLOSE = 4,
	FXP_WRITE = 6,
	FXP_FSETSTAT = 10,
	FXP_STATUS = 101,
	FXP_HANDLE = 102,
	FXF_WRITE = 0x02,
	FXF_CREAT = 0x08,
	FXF_EXCL = 0x20,
	FX_ATTR_PERMISSIONS = 0x04,
};

struct pipe {
	struct moo__transport *t;
	ssh_channel ch;
	struct moo_buf in; /* bytes read, not yet a whole packet */
	uint32_t id;
};

static void put_u32(struct moo_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};

	moo_buf_add(b, (const char *)x, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_str(struct moo_buf *b, const void *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	moo_buf_add(b, s, n);
}

static int pipe_lost(struct pipe *p, struct moo_error **err, const char *what)
{
	struct moo__ssh *c = sess(p->t);
	struct moo_error *e =
		moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
			       "lost the connection to '%s' while %s", c->display, what);

	moo__error_cause(e, ssh_get_error(c->session));
	return MOO_EHOST;
}

/* Sends one packet: pkt holds 4 bytes of room for the length, then type and payload. */
static int pipe_send(struct pipe *p, struct moo_buf *pkt, struct moo_error **err)
{
	size_t off = 0;
	uint32_t n = (uint32_t)(pkt->len - 4);
	unsigned char *q = (unsigned char *)pkt->ptr;

	q[0] = (unsigned char)(n >> 24);
	q[1] = (unsigned char)(n >> 16);
	q[2] = (unsigned char)(n >> 8);
	q[3] = (unsigned char)n;
	while (off < pkt->len) {
		int w = ssh_channel_write(p->ch, pkt->ptr + off, (uint32_t)(pkt->len - off));

		if (w <= 0) {
			return pipe_lost(p, err, "uploading");
		}
		off += (size_t)w;
	}
	return 0;
}

static void pkt_start(struct moo_buf *pkt, int type)
{
	moo_buf_reset(pkt);
	put_u32(pkt, 0);
	moo_buf_putc(pkt, (char)type);
}

/*
 * Reads the next packet: *type, and its payload (after the type byte) at *body, *len bytes,
 * valid until the next call.
 */
static int pipe_recv(struct pipe *p, int *type, const unsigned char **body, size_t *len,
		     struct moo_error **err)
{
	char chunk[4096];
	size_t need;

	for (;;) {
		if (p->in.len >= 4) {
			need = get_u32((unsigned char *)p->in.ptr);
			if (need < 1 || need > (256u << 10)) {
				return moo__fail(err, MOO_EHOST,
						 "the SFTP server on '%s' sent a bad packet",
						 sess(p->t)->display);
			}
			if (p->in.len >= 4 + need) {
				*type = (unsigned char)p->in.ptr[4];
				*body = (const unsigned char *)p->in.ptr + 5;
				*len = need - 1;
				return 0;
			}
		}
		{
			int n = ssh_channel_read(p->ch, chunk, sizeof(chunk), 0);

			if (n < 0 || (n == 0 && ssh_channel_is_eof(p->ch))) {
				return pipe_lost(p, err, "uploading");
			}
			moo_buf_add(&p->in, chunk, (size_t)n);
		}
	}
}

/* Drops the packet pipe_recv returned. */
static void pipe_consume(struct pipe *p)
{
	size_t n = 4 + get_u32((unsigned char *)p->in.ptr);

	memmove(p->in.ptr, p->in.ptr + n, p->in.len - n);
	p->in.len -= n;
}

/* A STATUS answer: 0 when it is SSH_FX_OK for id; an error naming path otherwise. */
static int pipe_status(struct pipe *p, uint32_t id, const char *what, const char *path,
		       struct moo_error **err)
{
	const unsigned char *b;
	size_t len;
	int type, r;

	if ((r = pipe_recv(p, &type, &b, &len, err))) {
		return r;
	}
	if (type != FXP_STATUS || len < 8 || get_u32(b) != id) {
		r = moo__fail(err, MOO_EHOST, "the SFTP server on '%s' answered out of turn",
			      sess(p->t)->display);
	} else if (get_u32(b + 4) != 0) {
		uint32_t mlen = len >= 12 ? get_u32(b + 8) : 0;
		struct moo_error *e =
			moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "cannot %s '%s' on '%s'", what,
				       path, sess(p->t)->display);
		char *msg = mlen && mlen <= len - 12
				    ? moo__printf("%.*s", (int)mlen, b + 12)
				    : moo__printf("SFTP status %u", get_u32(b + 4));

		moo__error_cause(e, msg);
		free(msg);
		r = MOO_EIO;
	}
	pipe_consume(p);
	return r;
}

static void pipe_close(struct pipe *p)
{
	if (p->ch) {
		ssh_channel_close(p->ch);
		ssh_channel_free(p->ch);
		p->ch = NULL;
	}
	moo_buf_dispose(&p->in);
}

static int pipe_open(struct pipe *p, struct moo__transport *t, struct moo_error **err)
{
	struct moo_buf pkt = MOO_BUF_INIT;
	const unsigned char *b;
	size_t len;
	int type, r;

	p->t = t;
	p->ch = ssh_channel_new(sess(t)->session);
	if (!p->ch || ssh_channel_open_session(p->ch) != SSH_OK ||
	    ssh_channel_request_subsystem(p->ch, "sftp") != SSH_OK) {
		r = pipe_lost(p, err, "starting SFTP");
		goto done;
	}
	pkt_start(&pkt, FXP_INIT);
	put_u32(&pkt, 3);
	if ((r = pipe_send(p, &pkt, err)) || (r = pipe_recv(p, &type, &b, &len, err))) {
		goto done;
	}
	if (type != FXP_VERSION || len < 4 || get_u32(b) < 3) {
		r = moo__fail(err, MOO_EHOST, "the SFTP server on '%s' does not speak version 3",
			      sess(t)->display);
		goto done;
	}
	pipe_consume(p);
	r = 0;
done:
	moo_buf_dispose(&pkt);
	return r;
}

/* Uploads size bytes of fd to a new remote file (O_EXCL), mode set at the end. */
static int pipe_put_file(struct pipe *p, const char *remote, int fd, uint64_t size, int mode,
			 struct moo_error **err)
{
	struct moo_buf pkt = MOO_BUF_INIT, handle = MOO_BUF_INIT;
	char *buf = moo__malloc(PIPE_CHUNK);
	uint32_t ids[PIPE_DEPTH], id;
	size_t head = 0, inflight = 0;
	uint64_t off = 0;
	const unsigned char *b;
	size_t len;
	int type, r;

	id = ++p->id;
	pkt_start(&pkt, FXP_OPEN);
	put_u32(&pkt, id);
	put_str(&pkt, remote, strlen(remote));
	put_u32(&pkt, FXF_WRITE | FXF_CREAT | FXF_EXCL);
	put_u32(&pkt, FX_ATTR_PERMISSIONS);
	put_u32(&pkt, 0600);
	if ((r = pipe_send(p, &pkt, err)) || (r = pipe_recv(p, &type, &b, &len, err))) {
		goto done;
	}
	if (type == FXP_HANDLE && len >= 8 && get_u32(b) == id && get_u32(b + 4) <= len - 8) {
		moo_buf_add(&handle, (const char *)b + 8, get_u32(b + 4));
		pipe_consume(p);
	} else if (type == FXP_STATUS) {
		/* an error (pipe_recv kept the packet: let pipe_status read it again) */
		r = pipe_status(p, id, "create", remote, err);
		r = r ? r : moo__fail(err, MOO_EHOST, "cannot create '%s'", remote);
		goto done;
	} else {
		r = moo__fail(err, MOO_EHOST, "the SFTP server on '%s' answered out of turn",
			      sess(p->t)->display);
		goto done;
	}
	while (off < size || inflight) {
		while (off < size && inflight < PIPE_DEPTH) {
			size_t want = size - off < PIPE_CHUNK ? (size_t)(size - off) : PIPE_CHUNK;
			ssize_t got;

			if (moo__interrupted()) {
				r = moo__fail(err, MOO_EINTR,
					      "upload interrupted"); /* tmp removed */
				goto drain;
			}
			got = read(fd, buf, want);

			if (got < 0 && errno == EINTR) {
				continue;
			}
			if (got <= 0) {
				r = got < 0 ? moo__fail_errno(err, MOO_EIO,
							      "cannot read a file to upload")
					    : moo__fail(
						      err, MOO_EIO,
						      "a file to upload shrank while it was read");
				goto drain;
			}
			id = ++p->id;
			pkt_start(&pkt, FXP_WRITE);
			put_u32(&pkt, id);
			put_str(&pkt, handle.ptr, handle.len);
			put_u32(&pkt, (uint32_t)(off >> 32));
			put_u32(&pkt, (uint32_t)off);
			put_str(&pkt, buf, (size_t)got);
			if ((r = pipe_send(p, &pkt, err))) {
				goto done;
			}
			ids[(head + inflight++) % PIPE_DEPTH] = id;
			off += (uint64_t)got;
			moo__transfer_progress(true, (uint64_t)got);
		}
		if (inflight) {
			r = pipe_status(p, ids[head], "write", remote, err);
			head = (head + 1) % PIPE_DEPTH;
			inflight--;
			if (r) {
				goto drain;
			}
		}
	}
	id = ++p->id;
	pkt_start(&pkt, FXP_FSETSTAT);
	put_u32(&pkt, id);
	put_str(&pkt, handle.ptr, handle.len);
	put_u32(&pkt, FX_ATTR_PERMISSIONS);
	put_u32(&pkt, (uint32_t)(mode & 07777));
	if ((r = pipe_send(p, &pkt, err)) ||
	    (r = pipe_status(p, id, "set the mode of", remote, err))) {
		goto drain;
	}
drain:
	while (inflight && r != MOO_EHOST) { /* answers still due */
		pipe_status(p, ids[head], "write", remote, NULL);
		head = (head + 1) % PIPE_DEPTH;
		inflight--;
	}
	if (r != MOO_EHOST) {
		int rc;

		id = ++p->id;
		pkt_start(&pkt, FXP_CLOSE);
		put_u32(&pkt, id);
		put_str(&pkt, handle.ptr, handle.len);
		rc = pipe_send(p, &pkt, err);
		rc = rc ? rc : pipe_status(p, id, "write", remote, r ? NULL : err);
		r = r ? r : rc;
	}
done:
	moo_buf_dispose(&pkt);
	moo_buf_dispose(&handle);
	free(buf);
	return r;
}

/* rm -rf of a temporary on the host, after a failure: best effort. */
static void remote_remove(struct moo__transport *t, const char *path)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	int status;

	moo_buf_puts(&cmd, "rm -rf -- ");
	moo_buf_shquote(&cmd, path);
	moo__ssh_run(sess(t), cmd.ptr, NULL, 0, NULL, &status, NULL);
	moo_buf_dispose(&cmd);
}

static int ssh_write_file(struct moo__transport *t, const char *path, const void *data, size_t len,
			  int mode, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	char *tmp = temp_name(path);
	int r;

	r = sftp_put_file(t, tmp, data ? data : "", len, -1, mode, err);
	if (r) {
		goto done;
	}
	/* SFTP v3's rename refuses to replace a file: then mv -f does. */
	if (sftp_rename(sess(t)->sftp, tmp, path) == 0) {
		goto done;
	}
	moo_buf_puts(&cmd, "mv -f -- ");
	moo_buf_shquote(&cmd, tmp);
	moo_buf_putc(&cmd, ' ');
	moo_buf_shquote(&cmd, path);
	r = run_ok(t, cmd.ptr, "write", path, NULL, NULL, err);
done:
	if (r) {
		remote_remove(t, tmp);
	}
	moo_buf_dispose(&cmd);
	free(tmp);
	return r;
}

/* lstat over SFTP: a link counts, dangling or not ([ -e ] || [ -h ]). */
static bool ssh_exists(struct moo__transport *t, const char *path)
{
	sftp_session sftp;
	sftp_attributes a;

	if (moo__ssh_sftp(sess(t), &sftp, NULL)) {
		return false;
	}
	a = sftp_lstat(sftp, path);
	sftp_attributes_free(a);
	return a != NULL;
}

/* A folder made, or there already, over SFTP; false leaves it to mkdir -p. */
static bool sftp_mkdir_one(struct moo__transport *t, const char *path)
{
	sftp_session sftp;
	sftp_attributes a;
	bool dir;

	if (moo__ssh_sftp(sess(t), &sftp, NULL)) {
		return false;
	}
	if (sftp_mkdir(sftp, path, 0777) == 0) { /* the host's umask applies, as to mkdir -p */
		return true;
	}
	a = sftp_stat(sftp, path);
	dir = a && a->type == SSH_FILEXFER_TYPE_DIRECTORY;
	sftp_attributes_free(a);
	return dir;
}

/* The folder's parents, or an error, take mkdir -p on the host's sh. */
static int ssh_mkdir_p(struct moo__transport *t, const char *path, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	int r;

	if (sftp_mkdir_one(t, path)) {
		return 0;
	}
	moo_buf_puts(&cmd, "mkdir -p -- ");
	moo_buf_shquote(&cmd, path);
	r = run_ok(t, cmd.ptr, "create the folder", path, NULL, NULL, err);
	moo_buf_dispose(&cmd);
	return r;
}

/* ---- put ----------------------------------------------------------------------------- */

static int put_tree(struct moo__transport *t, struct pipe *pp, const char *src, const char *dst,
		    struct moo_error **err)
{
	struct moo__ssh *c = sess(t);
	struct stat st;
	DIR *d = NULL;
	int fd = -1, r;

	if (lstat(src, &st) < 0) {
		return moo__fail_errno(err, MOO_EIO, "cannot read '%s'", src);
	}
	if (S_ISREG(st.st_mode)) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			return moo__fail_errno(err, MOO_EIO, "cannot open '%s'", src);
		}
		if ((uint64_t)st.st_size >= STREAM_MIN) {
			r = pp->ch ? 0 : pipe_open(pp, t, err);
			r = r ? r
			      : pipe_put_file(pp, dst, fd, (uint64_t)st.st_size,
					      (int)(st.st_mode & 0777), err);
		} else {
			r = sftp_put_file(t, dst, NULL, 0, fd, (int)(st.st_mode & 0777), err);
		}
		close(fd);
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "cannot upload '%s': not a regular file or "
						     "folder",
						     src);

		moo__error_hint(e, "links and special files are not uploaded; copy what they point "
				   "to into the folder");
		return MOO_EARG;
	}
	{
		sftp_session sftp;
		struct dirent *de;

		if ((r = moo__ssh_sftp(c, &sftp, err))) {
			return r;
		}
		if (sftp_mkdir(sftp, dst, (mode_t)((st.st_mode & 0777) | 0700)) < 0) {
			return moo__ssh_sftp_fail(c, err, MOO_EIO, "create the folder", dst);
		}
		d = opendir(src);
		if (!d) {
			return moo__fail_errno(err, MOO_EIO, "cannot open '%s'", src);
		}
		r = 0;
		while (!r && (errno = 0, de = readdir(d))) {
			char *s, *t2;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
				continue;
			}
			s = moo__path_join(src, de->d_name);
			t2 = moo__path_join(dst, de->d_name);
			r = put_tree(t, pp, s, t2, err);
			free(s);
			free(t2);
		}
		if (!r && errno) {
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", src);
		}
		closedir(d);
	}
	return r;
}

/* The bytes of the regular files under path (or of path itself), as put_tree sends them. */
static uint64_t tree_bytes(const char *path, int depth)
{
	struct stat st;
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;

	if (lstat(path, &st) < 0) {
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		return (uint64_t)st.st_size;
	}
	if (!S_ISDIR(st.st_mode) || depth > 64 || !(d = opendir(path))) {
		return 0;
	}
	while ((de = readdir(d))) {
		char *sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			continue;
		}
		sub = moo__path_join(path, de->d_name);
		n += tree_bytes(sub, depth + 1);
		free(sub);
	}
	closedir(d);
	return n;
}

/* rm -rf of a local path: links removed, never followed. */
static int remove_local(const char *path, struct moo_error **err)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (lstat(path, &st) < 0) {
		return errno == ENOENT ? 0
				       : moo__fail_errno(err, MOO_EIO, "cannot remove '%s'", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		return unlink(path) < 0 ? moo__fail_errno(err, MOO_EIO, "cannot remove '%s'", path)
					: 0;
	}
	d = opendir(path);
	if (!d) {
		return moo__fail_errno(err, MOO_EIO, "cannot remove '%s'", path);
	}
	while (!r && (de = readdir(d))) {
		char *sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			continue;
		}
		sub = moo__path_join(path, de->d_name);
		r = remove_local(sub, err);
		free(sub);
	}
	closedir(d);
	if (!r && rmdir(path) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot remove '%s'", path);
	}
	return r;
}

static int ssh_put(struct moo__transport *t, const char *src, const char *dst, bool move,
		   struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	struct pipe pp = {0};
	char *tmp = NULL;
	int r;

	if (ssh_exists(t, dst)) {
		struct moo_error *e =
			moo__error_add(err, MOO_EEXIST, MOO_SEV_ERROR,
				       "'%s' exists already on '%s'", dst, sess(t)->display);

		(void)e;
		return MOO_EEXIST;
	}
	tmp = temp_name(dst);
	moo__transfer_begin(true, tree_bytes(src, 0));
	r = put_tree(t, &pp, src, tmp, err);
	pipe_close(&pp);
	if (r) {
		goto done;
	}
	/* mv onto an existing folder would move into it: refuse instead */
	moo_buf_puts(&cmd, "if [ -e ");
	moo_buf_shquote(&cmd, dst);
	moo_buf_puts(&cmd, " ]; then echo 'exists already' >&2; exit 1; fi; mv -- ");
	moo_buf_shquote(&cmd, tmp);
	moo_buf_putc(&cmd, ' ');
	moo_buf_shquote(&cmd, dst);
	if ((r = run_ok(t, cmd.ptr, "move into place", dst, NULL, NULL, err))) {
		goto done;
	}
	if (move) {
		r = remove_local(src, err);
	}
done:
	if (r && tmp) {
		remote_remove(t, tmp);
	}
	moo_buf_dispose(&cmd);
	free(tmp);
	return r;
}

void moo__client_tag(char *out, size_t len, bool owner)
{
	char host[64] = "", who[48] = "";
	size_t i, k = 0;

	gethostname(host, sizeof(host) - 1);
	for (i = 0; host[i] && k < 40; i++) {
		if (isalnum((unsigned char)host[i]) || host[i] == '.') {
			host[k++] = host[i];
		}
	}
	host[k] = '\0';
	if (owner) {
		moo__owner_tag(who, sizeof(who));
	}
	snprintf(out, len, "%s-%s%s", k ? host : "host", who, owner ? "-" : "");
}

void moo__transport_sweep(struct moo__transport *t, const char *dir)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT, rm = MOO_BUF_INIT;
	char tag[96], *line, *save = NULL;
	int status = -1;
	size_t n;

	if (!moo__transport_is_remote(t)) {
		return;
	}
	moo__client_tag(tag, sizeof(tag), false);
	n = strlen(tag);
	moo_buf_puts(&cmd, "cd -- ");
	moo_buf_shquote(&cmd, dir);
	moo_buf_puts(&cmd, " 2>/dev/null && for f in *.moo-tmp-");
	moo_buf_shquote(&cmd, tag);
	moo_buf_puts(&cmd, "*; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; true");
	if (t->ops->exec(t, cmd.ptr, &out, NULL, &status, NULL) || status || !out.len) {
		goto done;
	}
	moo_buf_puts(&rm, "cd -- ");
	moo_buf_shquote(&rm, dir);
	moo_buf_puts(&rm, " && rm -rf --");
	for (line = strtok_r(out.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *p = strstr(line, ".moo-tmp-");

		if (!p || strncmp(p + 9, tag, n) || !moo__owner_gone(p + 9 + n)) {
			continue; /* another machine's, or that moo may still be at it */
		}
		moo_buf_putc(&rm, ' ');
		moo_buf_shquote(&rm, line);
		status = 1; /* something to remove */
	}
	if (status == 1) {
		t->ops->exec(t, rm.ptr, NULL, NULL, &status, NULL);
	}
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&rm);
}

/* ---- collect --------------------------------------------------------------------------- */

struct req {
	uint32_t id, len;
};

/*
 * Downloads remote (size bytes) to local, resuming from local.moo-part when there is one:
 * reads pipelined, READ_DEPTH requests of READ_CHUNK in flight, every returned length
 * checked (a short answer restarts the pipeline at the right offset).
 */
static int get_file(struct moo__transport *t, const char *remote, const char *local, uint64_t size,
		    int mode, struct moo_error **err)
{
	struct moo__ssh *c = sess(t);
	struct req q[READ_DEPTH];
	size_t qh = 0, qn = 0;
	char *part = moo__printf("%s.moo-part", local), *buf = moo__malloc(READ_CHUNK);
	uint64_t done_off = 0, next;
	sftp_session sftp;
	sftp_file f = NULL;
	struct stat st;
	int fd = -1, r;

	if (stat(local, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size) {
		r = 0; /* renamed into place only once complete: done before */
		goto done;
	}
	if ((r = moo__ssh_sftp(c, &sftp, err))) {
		goto done;
	}
	fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot create '%s'", part);
		goto done;
	}
	done_off = (uint64_t)st.st_size;
	if (done_off > size) {
		done_off = 0;
	}
	if (ftruncate(fd, (off_t)done_off) < 0 || lseek(fd, (off_t)done_off, SEEK_SET) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", part);
		goto done;
	}
	f = sftp_open(sftp, remote, O_RDONLY, 0);
	if (!f) {
		r = moo__ssh_sftp_fail(c, err, MOO_EIO, "open", remote);
		goto done;
	}
	if (sftp_seek64(f, done_off) < 0) {
		r = moo__ssh_sftp_fail(c, err, MOO_EIO, "read", remote);
		goto done;
	}
	next = done_off;
	while (done_off < size) {
		struct req cur;
		int got;

		while (qn < READ_DEPTH && next < size) {
			uint32_t len =
				size - next < READ_CHUNK ? (uint32_t)(size - next) : READ_CHUNK;
			int id = sftp_async_read_begin(f, len);

			if (id < 0) {
				r = moo__ssh_sftp_fail(c, err, MOO_EHOST, "read", remote);
				goto done;
			}
			q[(qh + qn) % READ_DEPTH] = (struct req){(uint32_t)id, len};
			qn++;
			next += len;
		}
		cur = q[qh];
		qh = (qh + 1) % READ_DEPTH;
		qn--;
		got = sftp_async_read(f, buf, cur.len, cur.id);
		if (got < 0) {
			r = moo__ssh_sftp_fail(c, err, MOO_EHOST, "read", remote);
			goto done;
		}
		if (got == 0 || (uint32_t)got > cur.len) {
			r = moo__fail(err, MOO_EIO, "'%s' on '%s' changed while it was read",
				      remote, c->display);
			goto done;
		}
		/* zeros are a hole: a sparse result stays sparse (ftruncate below) */
		if (moo__all_zero(buf, (size_t)got) ? lseek(fd, got, SEEK_CUR) < 0
						    : moo__write_all(fd, buf, (size_t)got) < 0) {
			/* this disk is full (or failing): a part kept to resume would keep it
			 * full */
			r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", part);
			unlink(part);
			goto done;
		}
		moo__transfer_progress(false, (uint64_t)got);
		done_off += (uint64_t)got;
		if ((uint32_t)got < cur.len) {
			/* a short answer: drop the requests in flight and go on from here */
			while (qn) {
				sftp_async_read(f, buf, q[qh].len, q[qh].id);
				qh = (qh + 1) % READ_DEPTH;
				qn--;
			}
			if (sftp_seek64(f, done_off) < 0) {
				r = moo__ssh_sftp_fail(c, err, MOO_EIO, "read", remote);
				goto done;
			}
			next = done_off;
		}
	}
	if (ftruncate(fd, (off_t)size) < 0 || fchmod(fd, (mode_t)(mode & 0777)) < 0 ||
	    fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", part);
		goto done;
	}
	fd = -1;
	if (rename(part, local) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot rename '%s'", part);
		goto done;
	}
	r = 0;
done:
	if (f) {
		while (qn) { /* answers still due belong to this handle */
			sftp_async_read(f, buf, q[qh].len, q[qh].id);
			qh = (qh + 1) % READ_DEPTH;
			qn--;
		}
		sftp_close(f);
	}
	if (fd >= 0) {
		close(fd);
	}
	free(part);
	free(buf);
	return r;
}

static int get_tree(struct moo__transport *t, const char *remote, const char *local, int depth,
		    struct moo_error **err)
{
	struct moo__ssh *c = sess(t);
	sftp_session sftp;
	sftp_dir d = NULL;
	sftp_attributes a;
	int r;

	if (depth > 64) {
		return moo__fail(err, MOO_EIO, "'%s' on '%s' is nested too deeply", remote,
				 c->display);
	}
	if ((r = moo__ssh_sftp(c, &sftp, err)) || (r = moo__mkdir_p(local, 0755, err))) {
		return r;
	}
	d = sftp_opendir(sftp, remote);
	if (!d) {
		return moo__ssh_sftp_fail(c, err, MOO_EIO, "list", remote);
	}
	r = 0;
	while (!r && (a = sftp_readdir(sftp, d))) {
		const char *n = a->name;
		char *rp, *lp;

		if (!n || !strcmp(n, ".") || !strcmp(n, "..")) {
			sftp_attributes_free(a);
			continue;
		}
		if (!moo__path_is_safe_relative(n) || strchr(n, '/') || strstr(n, ".moo-part")) {
			r = moo__fail(err, MOO_EIO, "refusing the name '%s' listed in '%s' on '%s'",
				      n, remote, c->display);
			sftp_attributes_free(a);
			break;
		}
		rp = moo__path_join(remote, n);
		lp = moo__path_join(local, n);
		if (a->type == SSH_FILEXFER_TYPE_DIRECTORY) {
			r = get_tree(t, rp, lp, depth + 1, err);
		} else if (a->type == SSH_FILEXFER_TYPE_REGULAR) {
			r = get_file(t, rp, lp, a->size, (int)(a->permissions & 0777), err);
		} /* links and special files are not collected */
		free(rp);
		free(lp);
		sftp_attributes_free(a);
	}
	if (!r && !sftp_dir_eof(d)) {
		r = moo__ssh_sftp_fail(c, err, MOO_EHOST, "list", remote);
	}
	sftp_closedir(d);
	return r;
}

static int ssh_collect(struct moo__transport *t, const char *src, const char *cache_dir,
		       char **local, struct moo_error **err)
{
	const char *base;
	char *trimmed = moo__strdup(src), *dst = NULL;
	size_t n = strlen(trimmed);
	int r;

	while (n > 1 && trimmed[n - 1] == '/') {
		trimmed[--n] = '\0';
	}
	base = strrchr(trimmed, '/') ? strrchr(trimmed, '/') + 1 : trimmed;
	if (!moo__path_is_safe_relative(base)) {
		r = moo__fail(err, MOO_EARG, "cannot collect '%s': name a folder", src);
		goto done;
	}
	dst = moo__path_join(cache_dir, base);
	moo__transfer_begin(false, 0);
	if ((r = get_tree(t, trimmed, dst, 0, err))) {
		goto done;
	}
	*local = dst;
	dst = NULL;
done:
	free(trimmed);
	free(dst);
	return r;
}

static void ssh_close_op(struct moo__transport *t)
{
	moo__ssh_close(sess(t));
	t->impl = NULL;
}

/* No wait_change (polled) and no spawn (setsid over the remote sh). */
static const struct moo__transport_ops ssh_ops = {
	.exec = ssh_exec,
	.read_file = ssh_read_file,
	.file_size = ssh_file_size,
	.write_file = ssh_write_file,
	.exists = ssh_exists,
	.mkdir_p = ssh_mkdir_p,
	.put = ssh_put,
	.collect = ssh_collect,
	.close = ssh_close_op,
};

int moo__transport_ssh_open(struct moo__transport **out, const char *host, unsigned flags,
			    int timeout_s, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo__ssh *c = NULL;
	struct moo_buf root = MOO_BUF_INIT;
	int status = -1, r;

	if ((r = moo__ssh_open(&c, host, flags, timeout_s, err))) {
		goto done;
	}
	if (c->target.root) {
		moo_buf_puts(&root, c->target.root);
	} else {
		r = moo__ssh_run(c, "printf '%s' \"${MOO_ROOT:-$HOME/.moo}\"", &root, 4096, NULL,
				 &status, err);
		if (r) {
			goto done;
		}
		if (status || !root.len) {
			r = moo__fail(err, MOO_EHOST, "cannot find the job folder on '%s'",
				      c->display);
			goto done;
		}
	}
	t = moo__calloc(1, sizeof(*t));
	t->ops = &ssh_ops;
	t->host = moo__strdup(host);
	t->root = moo_buf_detach(&root);
	t->impl = c;
	t->no_persist = (flags & (MOO__SSH_DIRECT | MOO__SSH_NO_AUTH)) != 0;
	c = NULL;
	*out = t;
	r = 0;
done:
	moo__ssh_close(c);
	moo_buf_dispose(&root);
	return r;
}
