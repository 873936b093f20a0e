/*
 * transport_mux: one SSH connection per host kept open between moo commands, as OpenSSH's
 * ControlPersist keeps one. Internal.
 *
 * When a moo command that connected to a host ends, its connection is not closed: the
 * process forks, and the child (the "master") keeps the SSH session and listens on a unix
 * socket, $MOO_HOME/run/ssh-HASH (HASH of everything that chose the connection: the host's
 * name, address, user, port, key, known_hosts, root and $MOO_SSH_CONFIG). The next
 * command for that host connects to the socket instead of to the host and has the master
 * run each transport operation (transport.h) on the session: no handshake, no
 * authentication, no remote sh started again. A master ends after $MOO_SSH_PERSIST
 * seconds (default 120; 0 turns all of this off) with no command connected.
 *
 * Decisions:
 * - The master is this user's alone: its folder is 0700 and must be owned by the user and
 *   closed to others (else no master is used or made), and it answers only peers of its
 *   own uid (SO_PEERCRED); a client checks the master's uid the same way.
 * - Each client connection has a thread in the master; each operation takes an idle
 *   session from the master's pool, or connects one more when all are busy (a command
 *   waiting for a long 'podman pull' never holds up another), and gives it back.
 * - A session found dead (its peer gone) is dropped and another connected, its host key
 *   checked against known_hosts as for any connection; a failure is the command's error.
 * - A master of another moo version or protocol is told to quit and not used.
 * - Local paths (put's source, collect's cache folder) travel absolute: the master shares
 *   this machine and this user, not the command's working folder.
 * - What a command interrupted while the master works on its request leaves: the
 *   operation finishes in the master (a put completes under its temporary name and is
 *   renamed, or removed by the next sweep), as an SSH command's would on the host.
 *
 * Wire: frames of a u64 length (big-endian) and a payload whose first byte is the type.
 * Strings are a u32 length (0xffffffff: NULL) and bytes; byte blocks a u64 length.
 */
#define _GNU_SOURCE 1 /* struct ucred, accept4 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "ssh.h"

#define MUX_PROTO         1
#define PERSIST_DEFAULT_S 120.0
#define NO_STR            0xffffffffu
#define POOL_MAX          4 /* idle sessions a master keeps */

/* ---- settings and the socket's path -------------------------------------------------- */

static bool keep_on;

void moo_keep_connections(bool on)
{
	keep_on = on;
}

double moo__mux_persist_s(void)
{
	const char *v = getenv("MOO_SSH_PERSIST");
	char *end;
	double s;

	if (!keep_on) {
		return 0;
	}
	if (!v || !*v) {
		return PERSIST_DEFAULT_S;
	}
	errno = 0;
	s = strtod(v, &end);
	if (errno || *end || s < 0 || s != s) {
		return PERSIST_DEFAULT_S; /* moo(1) documents that a bad value is the default */
	}
	return s;
}

static void hash_str(struct moo__sha256 *h, const char *s)
{
	moo__sha256_update(h, s ? s : "\1", s ? strlen(s) + 1 : 1);
}

/*
 * The socket of host's master in out (size len): 0, or -1 when there is none to use (no
 * inventory entry or name that resolves, a folder that is not this user's alone, a path
 * too long for a unix socket).
 */
/*
 * The socket of host's master, in out. -1 where there is none to be had: keeping is then
 * off, and where warn, the user is told why once (a run/ folder others can reach, a path
 * too long for a socket).
 */
static int sock_path(const char *host, char *out, size_t len, bool warn)
{
	static bool warned;
	struct moo__ssh_target tg = {0};
	struct moo_buf dir = MOO_BUF_INIT;
	struct moo__sha256 *h;
	char hex[MOO__SHA256_HEX], port[16];
	struct stat st;
	int r = -1;

	if (moo__ssh_resolve(&tg, host, NULL) || moo__store_default_path(&dir, NULL)) {
		goto done;
	}
	/* ".../moo.db" -> ".../run" */
	while (dir.len && dir.ptr[dir.len - 1] != '/') {
		dir.len--;
	}
	dir.ptr[dir.len] = '\0';
	moo_buf_puts(&dir, "run");
	if (mkdir(dir.ptr, 0700) && errno != EEXIST && errno != ENOENT) {
		goto done;
	}
	if (errno == ENOENT) { /* the store's folder itself is not there yet */
		char *parent = moo__strndup(dir.ptr, dir.len - 4);
		bool ok = moo__mkdir_p(parent, 0700, NULL) == 0 && mkdir(dir.ptr, 0700) == 0;

		free(parent);
		if (!ok) {
			goto done;
		}
	}
	if (lstat(dir.ptr, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		if (warn && !warned && !lstat(dir.ptr, &st)) {
			warned = true;
			moo__warn_hint(
				MOO_EHOST,
				"chmod 700 it (and own it), or set MOO_SSH_PERSIST=0 to "
				"connect anew each time without this warning",
				"SSH connections are not kept: '%s' is %s (mode %03o, "
				"owner uid %u); moo keeps them only in a folder of yours alone",
				dir.ptr,
				S_ISDIR(st.st_mode) ? "a folder others can reach" : "not a folder",
				(unsigned)(st.st_mode & 0777), (unsigned)st.st_uid);
		}
		goto done;
	}
	h = moo__sha256_new();
	snprintf(port, sizeof(port), "%u", tg.port);
	hash_str(h, tg.name);
	hash_str(h, tg.address);
	hash_str(h, tg.user);
	hash_str(h, port);
	hash_str(h, tg.key);
	hash_str(h, tg.known_hosts);
	hash_str(h, tg.root);
	hash_str(h, getenv("MOO_KNOWN_HOSTS"));
	hash_str(h, getenv("MOO_SSH_CONFIG"));
	hash_str(h, getenv("HOME"));
	moo__sha256_final(h, hex);
	moo__sha256_free(h);
	if (snprintf(out, len, "%s/ssh-%.16s", dir.ptr, hex) < (int)len) {
		r = 0;
	} else if (warn && !warned) {
		warned = true;
		moo__warn_hint(
			MOO_EHOST,
			"set MOO_HOME to a shorter folder, or MOO_SSH_PERSIST=0 to connect "
			"anew each time without this warning",
			"SSH connections are not kept: a socket in '%s' would be longer than "
			"the %zu bytes a socket's path may have",
			dir.ptr, len - 1);
	}
done:
	moo__ssh_target_dispose(&tg);
	moo_buf_dispose(&dir);
	return r;
}

static int sock_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		return -1;
	}
	memcpy(a->sun_path, path, strlen(path));
	return 0;
}

static bool peer_is_me(int fd)
{
	struct ucred c;
	socklen_t n = sizeof(c);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &n) && c.uid == geteuid();
}

/* ---- the wire ----------------------------------------------------------------------- */

static void w_u8(struct moo_buf *b, unsigned v)
{
	moo_buf_putc(b, (char)(unsigned char)v);
}

static void w_u32(struct moo_buf *b, uint32_t v)
{
	unsigned char x[4] = {v >> 24, v >> 16, v >> 8, v};

	moo_buf_add(b, x, 4);
}

static void w_u64(struct moo_buf *b, uint64_t v)
{
	w_u32(b, (uint32_t)(v >> 32));
	w_u32(b, (uint32_t)v);
}

static void w_str(struct moo_buf *b, const char *s)
{
	if (!s) {
		w_u32(b, NO_STR);
		return;
	}
	w_u32(b, (uint32_t)strlen(s));
	moo_buf_puts(b, s);
}

static void w_bytes(struct moo_buf *b, const void *p, size_t n)
{
	w_u64(b, n);
	moo_buf_add(b, p, n);
}

struct rd {
	const unsigned char *p;
	size_t n;
	bool bad;
};

static const unsigned char *take_n(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || r->n < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->n -= n;
	return p;
}

static unsigned r_u8(struct rd *r)
{
	const unsigned char *p = take_n(r, 1);

	return p ? *p : 0;
}

static uint32_t r_u32(struct rd *r)
{
	const unsigned char *p = take_n(r, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint64_t r_u64(struct rd *r)
{
	uint64_t hi = r_u32(r);

	return hi << 32 | r_u32(r);
}

/* A string (malloc'd; NULL when it was sent as NULL or the frame is short). */
static char *r_str(struct rd *r)
{
	uint32_t n = r_u32(r);
	const unsigned char *p;

	if (n == NO_STR || r->bad) {
		return NULL;
	}
	p = take_n(r, n);
	return p ? moo__strndup((const char *)p, n) : NULL;
}

static void r_bytes(struct rd *r, struct moo_buf *out)
{
	uint64_t n = r_u64(r);
	const unsigned char *p = n > SIZE_MAX ? NULL : take_n(r, (size_t)n);

	if (p && out) {
		moo_buf_add(out, p, (size_t)n);
	}
}

static void w_errors(struct moo_buf *b, const struct moo_error *e)
{
	const struct moo_error *x;
	uint32_t n = 0;

	for (x = e; x; x = x->next) {
		n++;
	}
	w_u32(b, n);
	for (x = e; x; x = x->next) {
		w_u32(b, (uint32_t)x->code);
		w_u8(b, x->severity);
		w_str(b, x->message);
		w_str(b, x->hint);
		w_str(b, x->file);
		w_u32(b, (uint32_t)x->line);
		w_u32(b, (uint32_t)x->column);
		w_str(b, x->cause);
	}
}

static void r_errors(struct rd *r, struct moo_error **err)
{
	uint32_t n = r_u32(r), i;

	for (i = 0; i < n && !r->bad; i++) {
		struct moo_error *e = moo__calloc(1, sizeof(*e));

		e->code = (int)r_u32(r);
		e->severity = (enum moo_severity)r_u8(r);
		e->message = r_str(r);
		e->hint = r_str(r);
		e->file = r_str(r);
		e->line = (int)r_u32(r);
		e->column = (int)r_u32(r);
		e->cause = r_str(r);
		if (!e->message) {
			e->message = moo__strdup("(no message)");
		}
		moo__error_append(err, e);
	}
}

/* All n bytes to the socket fd; a peer gone is -1 (EPIPE), never SIGPIPE. */
static int send_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			return -1;
		}
		p = (const char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

static int send_frame(int fd, const struct moo_buf *b)
{
	struct moo_buf head = MOO_BUF_INIT;
	int r;

	w_u64(&head, b->len);
	r = send_all(fd, head.ptr, head.len) || send_all(fd, b->ptr, b->len) ? -1 : 0;
	moo_buf_dispose(&head);
	return r;
}

/* -1 at EOF or on an error, -2 when moo was interrupted (Ctrl-C) while it waited */
static int read_full(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);

		if (k < 0 && errno == EINTR) {
			if (moo__interrupted()) {
				return -2;
			}
			continue;
		}
		if (k <= 0) {
			return -1;
		}
		p = (char *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

/* One frame into out (reset first); read_full's -1 or -2 when there is none. */
static int recv_frame(int fd, struct moo_buf *out)
{
	unsigned char h[8];
	struct rd r = {h, 8, false};
	char chunk[65536];
	uint64_t n;
	int e;

	moo_buf_reset(out);
	if ((e = read_full(fd, h, 8))) {
		return e;
	}
	n = r_u64(&r);
	while (n) {
		size_t k = n < sizeof(chunk) ? (size_t)n : sizeof(chunk);

		if ((e = read_full(fd, chunk, k))) {
			return e;
		}
		moo_buf_add(out, chunk, k);
		n -= k;
	}
	return 0;
}

/* ---- the client: a transport whose operations the master runs ---------------------------- */

struct mux {
	int fd;
	bool interrupted; /* fd was closed at Ctrl-C: later calls say so, not "lost" */
	char *display, *fingerprint, *key_type, *known_hosts;
	struct moo_buf in;
};

static struct mux *mx(struct moo__transport *t)
{
	return t->impl;
}

static int lost(struct moo__transport *t, struct moo_error **err)
{
	moo__error_hint(moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				       "lost moo's kept connection to '%s' (its moo-ssh-keep "
				       "process ended)",
				       t->host),
			"run the command again (it connects anew), or set MOO_SSH_PERSIST=0 to "
			"connect every time (moo-hosts(1), KEPT CONNECTIONS)");
	return MOO_EHOST;
}

/*
 * Sends req (its type byte first) and reads frames until the answer: progress frames are
 * reported here, rd reads the answer after its type byte. Returns the answer's status with
 * its errors appended to err.
 */
static int call(struct moo__transport *t, struct moo_buf *req, struct rd *rd,
		struct moo_error **err)
{
	struct mux *m = mx(t);
	int r;

	if (m->fd < 0 && m->interrupted) {
		return moo__fail(err, MOO_EINTR, "interrupted while waiting on '%s'", t->host);
	}
	if (m->fd < 0 || send_frame(m->fd, req)) {
		goto gone;
	}
	for (;;) {
		if ((r = recv_frame(m->fd, &m->in)) == -2) {
			/* the master sees us go: a transfer it runs for us stops, as ours would */
			close(m->fd);
			m->fd = -1;
			m->interrupted = true;
			return moo__fail(err, MOO_EINTR, "interrupted while waiting on '%s'",
					 t->host);
		}
		if (r || !m->in.len) {
			goto gone;
		}
		rd->p = (const unsigned char *)m->in.ptr + 1;
		rd->n = m->in.len - 1;
		rd->bad = false;
		if (m->in.ptr[0] == 'B' || m->in.ptr[0] == 'P') {
			bool up = r_u8(rd);
			uint64_t n = r_u64(rd);

			if (m->in.ptr[0] == 'B') {
				moo__transfer_begin(up, n);
			} else {
				moo__transfer_progress(up, n);
			}
			continue;
		}
		break;
	}
	r = (int)r_u32(rd);
	r_errors(rd, err);
	if (rd->bad) {
		goto gone;
	}
	return r;
gone:
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	return lost(t, err);
}

static void req_start(struct moo_buf *b, char type)
{
	moo_buf_reset(b);
	w_u8(b, (unsigned char)type);
}

static int mux_exec(struct moo__transport *t, const char *cmdline, struct moo_buf *out,
		    struct moo_buf *errout, int *status, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct rd rd;
	int r;

	req_start(&b, 'X');
	w_str(&b, cmdline);
	w_u8(&b, out != NULL);
	w_u8(&b, errout != NULL);
	if (!(r = call(t, &b, &rd, err))) {
		*status = (int)r_u32(&rd);
		r_bytes(&rd, out);
		r_bytes(&rd, errout);
	}
	moo_buf_dispose(&b);
	return r;
}

static int mux_read_file(struct moo__transport *t, const char *path, uint64_t offset, size_t max,
			 struct moo_buf *out, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct rd rd;
	int r;

	req_start(&b, 'r');
	w_str(&b, path);
	w_u64(&b, offset);
	w_u64(&b, max);
	if (!(r = call(t, &b, &rd, err))) {
		r_bytes(&rd, out);
	}
	moo_buf_dispose(&b);
	return r;
}

static int mux_file_size(struct moo__transport *t, const char *path, uint64_t *size,
			 struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct rd rd;
	int r;

	req_start(&b, 's');
	w_str(&b, path);
	if (!(r = call(t, &b, &rd, err))) {
		*size = r_u64(&rd);
	}
	moo_buf_dispose(&b);
	return r;
}

static int mux_write_file(struct moo__transport *t, const char *path, const void *data, size_t len,
			  int mode, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct rd rd;
	int r;

	req_start(&b, 'w');
	w_str(&b, path);
	w_bytes(&b, data, len);
	w_u32(&b, (uint32_t)mode);
	r = call(t, &b, &rd, err);
	moo_buf_dispose(&b);
	return r;
}

static bool mux_exists(struct moo__transport *t, const char *path)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_error *e = NULL;
	struct rd rd;
	int r;

	req_start(&b, 'e');
	w_str(&b, path);
	r = call(t, &b, &rd, &e);
	moo_buf_dispose(&b);
	moo_error_free(e);
	return r == 1;
}

static int mux_mkdir_p(struct moo__transport *t, const char *path, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct rd rd;
	int r;

	req_start(&b, 'm');
	w_str(&b, path);
	r = call(t, &b, &rd, err);
	moo_buf_dispose(&b);
	return r;
}

/* path made absolute against the working folder (malloc'd) */
static char *absolute(const char *path)
{
	char *cwd, *p;

	if (path[0] == '/' || !(cwd = getcwd(NULL, 0))) {
		return moo__strdup(path);
	}
	p = moo__path_join(cwd, path);
	free(cwd);
	return p;
}

static int mux_put(struct moo__transport *t, const char *src, const char *dst, bool move,
		   struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	char *abs = absolute(src);
	struct rd rd;
	int r;

	req_start(&b, 'p');
	w_str(&b, abs);
	w_str(&b, dst);
	w_u8(&b, move);
	r = call(t, &b, &rd, err);
	moo_buf_dispose(&b);
	free(abs);
	return r;
}

static int mux_collect(struct moo__transport *t, const char *src, const char *cache_dir,
		       char **local, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	char *abs = cache_dir ? absolute(cache_dir) : NULL;
	struct rd rd;
	int r;

	req_start(&b, 'c');
	w_str(&b, src);
	w_str(&b, abs);
	if (!(r = call(t, &b, &rd, err))) {
		*local = r_str(&rd);
		if (!*local) {
			r = lost(t, err);
		}
	}
	moo_buf_dispose(&b);
	free(abs);
	return r;
}

static void mux_free(struct mux *m)
{
	if (m->fd >= 0) {
		close(m->fd);
	}
	free(m->display);
	free(m->fingerprint);
	free(m->key_type);
	free(m->known_hosts);
	moo_buf_dispose(&m->in);
	free(m);
}

static void mux_close(struct moo__transport *t)
{
	mux_free(mx(t));
	t->impl = NULL;
}

static const struct moo__transport_ops mux_ops = {
	.exec = mux_exec,
	.read_file = mux_read_file,
	.file_size = mux_file_size,
	.write_file = mux_write_file,
	.exists = mux_exists,
	.mkdir_p = mux_mkdir_p,
	.put = mux_put,
	.collect = mux_collect,
	.close = mux_close,
};

bool moo__transport_is_mux(const struct moo__transport *t)
{
	return t && t->ops == &mux_ops;
}

bool moo__mux_alive(struct moo__transport *t)
{
	struct pollfd p = {mx(t)->fd, POLLIN, 0};

	/* between calls nothing is owed: readable means the master hung up */
	return p.fd >= 0 && poll(&p, 1, 0) == 0;
}

void moo__mux_describe(struct moo__transport *t, struct moo_host_key *key)
{
	struct mux *m = mx(t);

	moo_host_key_dispose(key);
	key->display = m->display ? moo__strdup(m->display) : NULL;
	key->type = m->key_type ? moo__strdup(m->key_type) : NULL;
	key->fingerprint = m->fingerprint ? moo__strdup(m->fingerprint) : NULL;
	key->known_hosts = m->known_hosts ? moo__strdup(m->known_hosts) : NULL;
}

static int dial(const char *path)
{
	struct sockaddr_un a;
	int fd;

	if (sock_addr(&a, path) || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) || !peer_is_me(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_quit(int fd)
{
	struct moo_buf b = MOO_BUF_INIT;

	w_u8(&b, 'q');
	(void)send_frame(fd, &b);
	moo_buf_dispose(&b);
}

int moo__mux_open(struct moo__transport **out, const char *host, struct moo_error **err)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct moo__transport *t;
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_error *e = NULL;
	struct mux *m;
	struct rd rd;
	char *version;
	int fd, r;

	if (moo__mux_persist_s() <= 0 || sock_path(host, path, sizeof(path), true) ||
	    (fd = dial(path)) < 0) {
		return MOO_ENOTFOUND;
	}
	m = moo__calloc(1, sizeof(*m));
	m->fd = fd;
	t = moo__calloc(1, sizeof(*t));
	t->ops = &mux_ops;
	t->host = moo__strdup(host);
	t->impl = m;
	req_start(&b, 'H');
	w_u32(&b, MUX_PROTO);
	w_str(&b, moo_version());
	w_str(&b, host);
	r = call(t, &b, &rd, &e);
	if (r == 0) {
		uint32_t proto = r_u32(&rd);

		version = r_str(&rd);
		t->root = r_str(&rd);
		m->display = r_str(&rd);
		m->fingerprint = r_str(&rd);
		m->key_type = r_str(&rd);
		m->known_hosts = r_str(&rd);
		if (rd.bad || proto != MUX_PROTO || !version || strcmp(version, moo_version()) ||
		    !t->root) {
			send_quit(m->fd); /* another moo's master: let this one make its own */
			r = MOO_ENOTFOUND;
		}
		free(version);
	} else if (m->fd < 0) {
		r = MOO_ENOTFOUND; /* it hung up before answering: connect directly */
	} else {
		moo__error_append(err, e);
		e = NULL;
	}
	moo_error_free(e);
	moo_buf_dispose(&b);
	if (r) {
		free(t->root);
		free(t->host);
		mux_free(m);
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

/* ---- the master --------------------------------------------------------------------------- */

struct master {
	int lfd;
	char *host, *path, *root;
	char *display, *fingerprint, *key_type, *known_hosts;
	ino_t ino;
	double persist, last;
	pthread_mutex_t mu;
	struct moo__transport *idle[POOL_MAX];
	size_t n_idle;
	int clients;
	bool quit;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* True when the session's peer has hung up (read as EOF without taking a byte). */
static bool peer_gone(struct moo__transport *t)
{
	struct moo__ssh *c = moo__transport_ssh_session(t);
	ssize_t n;
	char x;
	int fd;

	if (!moo__ssh_alive(c)) {
		return true;
	}
	fd = ssh_get_fd(c->session);
	if (fd < 0) {
		return true;
	}
	n = recv(fd, &x, 1, MSG_PEEK | MSG_DONTWAIT);
	/* EOF, or reset (a peer killed with data unread) */
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static int take(struct master *m, struct moo__transport **out, struct moo_error **err)
{
	struct moo__transport *t = NULL;

	pthread_mutex_lock(&m->mu);
	while (m->n_idle && !t) {
		t = m->idle[--m->n_idle];
		if (peer_gone(t)) {
			t->ops->close(t);
			free(t->host);
			free(t->root);
			free(t);
			t = NULL;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (t) {
		*out = t;
		return 0;
	}
	return moo__transport_ssh_open(out, m->host, 0, 0, err);
}

static void give(struct master *m, struct moo__transport *t)
{
	pthread_mutex_lock(&m->mu);
	if (m->n_idle < POOL_MAX && !peer_gone(t)) {
		m->idle[m->n_idle++] = t;
		t = NULL;
	}
	pthread_mutex_unlock(&m->mu);
	if (t) {
		t->ops->close(t);
		free(t->host);
		free(t->root);
		free(t);
	}
}

/* Progress of this thread's transfer, to its client. */
static void forward_progress(bool upload, bool begin, uint64_t n, void *arg)
{
	struct moo_buf b = MOO_BUF_INIT;

	w_u8(&b, begin ? 'B' : 'P');
	w_u8(&b, upload);
	w_u64(&b, n);
	if (send_frame(*(int *)arg, &b)) {
		moo__set_thread_interrupted(true); /* the client is gone: the transfer stops */
	}
	moo_buf_dispose(&b);
}

/* One request (rd after its type byte) into the answer ans. */
static void answer(struct master *m, int fd, char type, struct rd *rd, struct moo_buf *ans)
{
	struct moo_buf out = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	struct moo_error *err = NULL;
	struct moo__transport *t = NULL;
	char *a = r_str(rd), *b2 = NULL, *local = NULL;
	uint64_t u = 0, v = 0;
	int r, status = 0, want_out = 0, want_err = 0;
	unsigned mode = 0;

	switch (type) {
	case 'X':
		want_out = (int)r_u8(rd);
		want_err = (int)r_u8(rd);
		break;
	case 'r':
		u = r_u64(rd);
		v = r_u64(rd);
		break;
	case 'w':
		r_bytes(rd, &out);
		mode = r_u32(rd);
		break;
	case 'p':
	case 'c':
		b2 = r_str(rd);
		u = type == 'p' ? r_u8(rd) : 0;
		break;
	}
	if (rd->bad || !a || (type == 'p' && !b2)) {
		r = moo__fail(&err, MOO_EIO, "moo's master got a request it cannot read");
		goto reply;
	}
	if ((r = take(m, &t, &err))) {
		goto reply;
	}
	moo__transfer_forward(forward_progress, &fd);
	switch (type) {
	case 'X':
		r = t->ops->exec(t, a, want_out ? &out : NULL, want_err ? &errout : NULL, &status,
				 &err);
		break;
	case 'r':
		r = t->ops->read_file(t, a, u, v > SIZE_MAX ? SIZE_MAX : (size_t)v, &out, &err);
		break;
	case 's': r = t->ops->file_size(t, a, &u, &err); break;
	case 'w': r = t->ops->write_file(t, a, out.ptr, out.len, (int)mode, &err); break;
	case 'e': r = t->ops->exists(t, a); break;
	case 'm': r = t->ops->mkdir_p(t, a, &err); break;
	case 'p': r = t->ops->put(t, a, b2, u != 0, &err); break;
	case 'c': r = t->ops->collect(t, a, b2, &local, &err); break;
	default: r = moo__fail(&err, MOO_EIO, "moo's master got an unknown request");
	}
	moo__transfer_forward(NULL, NULL);
	moo__set_thread_interrupted(false);
	give(m, t);
reply:
	moo_buf_reset(ans);
	w_u8(ans, 'R');
	w_u32(ans, (uint32_t)r);
	w_errors(ans, err);
	if (!r) {
		switch (type) {
		case 'X':
			w_u32(ans, (uint32_t)status);
			w_bytes(ans, out.ptr, out.len);
			w_bytes(ans, errout.ptr, errout.len);
			break;
		case 'r': w_bytes(ans, out.ptr, out.len); break;
		case 's': w_u64(ans, u); break;
		case 'c': w_str(ans, local); break;
		}
	}
	moo_error_free(err);
	moo_buf_dispose(&out);
	moo_buf_dispose(&errout);
	free(a);
	free(b2);
	free(local);
}

struct conn {
	struct master *m;
	int fd;
};

static void *client_main(void *arg)
{
	struct conn *c = arg;
	struct master *m = c->m;
	struct moo_buf in = MOO_BUF_INIT, ans = MOO_BUF_INIT;

	while (!recv_frame(c->fd, &in) && in.len) {
		struct rd rd = {(const unsigned char *)in.ptr + 1, in.len - 1, false};
		char type = in.ptr[0];

		if (type == 'q') {
			pthread_mutex_lock(&m->mu);
			m->quit = true;
			pthread_mutex_unlock(&m->mu);
			break;
		}
		if (type == 'H') {
			moo_buf_reset(&ans);
			w_u8(&ans, 'R');
			w_u32(&ans, 0);
			w_u32(&ans, 0);
			w_u32(&ans, MUX_PROTO);
			w_str(&ans, moo_version());
			w_str(&ans, m->root);
			w_str(&ans, m->display);
			w_str(&ans, m->fingerprint);
			w_str(&ans, m->key_type);
			w_str(&ans, m->known_hosts);
		} else {
			answer(m, c->fd, type, &rd, &ans);
		}
		if (send_frame(c->fd, &ans)) {
			break;
		}
	}
	close(c->fd);
	pthread_mutex_lock(&m->mu);
	m->clients--;
	m->last = now_s();
	pthread_mutex_unlock(&m->mu);
	moo_buf_dispose(&in);
	moo_buf_dispose(&ans);
	free(c);
	return NULL;
}

/* SIGTERM or SIGINT to a master: it ends as at its idle time, its socket removed */
static volatile sig_atomic_t master_stop;

static void on_stop(int sig)
{
	(void)sig;
	master_stop = 1;
}

static void serve(struct master *m)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	m->last = now_s();
	for (;;) {
		struct pollfd p = {m->lfd, POLLIN, 0};
		struct stat st;
		bool done;
		int fd;

		pthread_mutex_lock(&m->mu);
		done = m->quit || master_stop || (!m->clients && now_s() - m->last > m->persist);
		pthread_mutex_unlock(&m->mu);
		/* another master took the path (ours was removed): end */
		if (done || stat(m->path, &st) || st.st_ino != m->ino) {
			break;
		}
		if (poll(&p, 1, 500) <= 0) {
			continue;
		}
		fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			continue;
		}
		if (!peer_is_me(fd)) {
			close(fd);
			continue;
		}
		{
			struct conn *c = moo__calloc(1, sizeof(*c));
			pthread_t th;

			c->m = m;
			c->fd = fd;
			pthread_mutex_lock(&m->mu);
			m->clients++;
			pthread_mutex_unlock(&m->mu);
			if (pthread_create(&th, &attr, client_main, c)) {
				close(fd);
				free(c);
				pthread_mutex_lock(&m->mu);
				m->clients--;
				pthread_mutex_unlock(&m->mu);
			}
		}
	}
	pthread_attr_destroy(&attr);
}

/* Every descriptor but keep1 and keep2 (and 0-2) becomes /dev/null: the numbers stay taken. */
static void quiet_fds(int keep1, int keep2)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), dfd = d ? dirfd(d) : -1;

	if (null < 0) {
		if (d) {
			closedir(d);
		}
		return;
	}
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	while (d && (e = readdir(d))) {
		int fd = (int)strtol(e->d_name, NULL, 10);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd <= 2 || fd == keep1 ||
		    fd == keep2 || fd == null || fd == dfd) {
			continue;
		}
		dup2(null, fd);
	}
	if (d) {
		closedir(d);
	}
}

static int single_threaded(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		n += e->d_name[0] != '.';
	}
	if (d) {
		closedir(d);
	}
	return n == 1;
}

/* A listening socket at path, or -1 (a live master answers there, or it cannot be made). */
static int listen_at(const char *path, ino_t *ino)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, live = -1;

	if (sock_addr(&a, path) || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (errno != EADDRINUSE || (live = dial(path)) >= 0) {
			if (errno == EADDRINUSE && live >= 0) {
				close(live);
			}
			close(fd);
			return -1;
		}
		unlink(path); /* a master that died: its socket is left */
		if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			return -1;
		}
	}
	if (listen(fd, 64) || stat(path, &st)) {
		close(fd);
		return -1;
	}
	*ino = st.st_ino;
	return fd;
}

/*
 * What ps -f and pgrep -f show of the master: "moo-ssh-keep HOST", written over the argv of
 * the command that forked it (the span /proc/self/stat gives as arg_start and arg_end; it
 * cannot grow), so that a user does not take a kept connection for a 'moo run' that never
 * ended. The master reads nothing of that argv any more.
 */
static void set_title(const char *host)
{
	unsigned long start = 0, end = 0;
	char buf[2048], *p;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), i;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0) {
		close(fd);
	}
	if (n <= 0) {
		return;
	}
	buf[n] = '\0';
	p = strrchr(buf, ')');          /* the name before it may hold anything */
	for (i = 2; p && i < 48; i++) { /* to field 48, arg_start (proc(5)) */
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p + 1, "%lu %lu", &start, &end) != 2 || !start || end <= start ||
	    end - start > (1ul << 20)) {
		return;
	}
	memset((char *)start, 0, end - start);
	snprintf((char *)start, end - start, "moo-ssh-keep %s", host);
}

bool moo__mux_handoff(struct moo__transport *t)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct master m = {0};
	struct moo__ssh *c = moo__transport_ssh_session(t);
	pid_t pid;

	if (!c || t->no_persist || moo__mux_persist_s() <= 0 || !moo__ssh_alive(c) ||
	    !single_threaded() || sock_path(t->host, path, sizeof(path), true) ||
	    (m.lfd = listen_at(path, &m.ino)) < 0) {
		return false;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		unlink(path);
		close(m.lfd);
		return false;
	}
	if (pid > 0) {
		close(m.lfd);
		return true; /* the session is the master's now: not closed here */
	}
	/* the master */
	setsid();
	prctl(PR_SET_NAME, "moo-ssh-keep");
	if (chdir("/")) { /* the command's folder is not held */
		_exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGHUP, SIG_IGN);
	quiet_fds(m.lfd, ssh_get_fd(c->session));
	moo_set_transfer_progress(NULL);
	m.host = moo__strdup(t->host); /* t may be closed and freed while the master lives */
	set_title(m.host);
	m.root = moo__strdup(t->root);
	m.path = path;
	m.persist = moo__mux_persist_s();
	m.display = c->display ? moo__strdup(c->display) : NULL;
	m.fingerprint = c->fingerprint ? moo__strdup(c->fingerprint) : NULL;
	m.key_type = c->key_type ? moo__strdup(c->key_type) : NULL;
	m.known_hosts = c->known_hosts ? moo__strdup(c->known_hosts) : NULL;
	pthread_mutex_init(&m.mu, NULL);
	t->cached = false;
	m.idle[m.n_idle++] = t;
	serve(&m);
	{
		struct stat st;

		if (!stat(path, &st) && st.st_ino == m.ino) {
			unlink(path);
		}
	}
	_exit(0);
}

void moo_host_disconnect(const char *host)
{
	moo__mux_stop(host);
}

void moo__mux_stop(const char *host)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;

	if (!sock_path(host, path, sizeof(path), false) && (fd = dial(path)) >= 0) {
		send_quit(fd);
		close(fd);
	}
}
