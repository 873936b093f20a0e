/*
 * ssh: a libssh session to a host, its key checked against known_hosts, and one remote sh.
 *
 * Every step of a moo invocation runs on that one sh (RECIPES.md: a login shell with a slow
 * ~/.bashrc costs ~0.5 s per exec channel). Each command is sent as
 *
 *     (eval 'CMD') </dev/null; s=$?; printf '%s\n' MARK >&2; printf '%s %d\n' MARK "$s"
 *
 * and its output is everything on stdout before MARK (stderr likewise), MARK being a
 * random string with the command's sequence number, so no output can fake the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ssh.h"

#define RUN_MAX_OUT   (1u << 20)
#define CONNECT_TRIES 4
static const int backoff_ms[CONNECT_TRIES - 1] = {200, 500, 1000};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* The user's home as OpenSSH sees it: the password database, else $HOME. */
static char *home_dir(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *home = getenv("HOME");

	if (pw && pw->pw_dir && *pw->pw_dir) {
		return moo__strdup(pw->pw_dir);
	}
	return home && *home ? moo__strdup(home) : NULL;
}

/* ---- naming a host --------------------------------------------------------------------- */

void moo__ssh_target_dispose(struct moo__ssh_target *t)
{
	if (!t) {
		return;
	}
	free(t->name);
	free(t->address);
	free(t->user);
	free(t->key);
	free(t->known_hosts);
	free(t->root);
	memset(t, 0, sizeof(*t));
}

/* [user@]host[:port], host possibly [bracketed] for IPv6. */
static int parse_spec(struct moo__ssh_target *t, const char *s, struct moo_error **err)
{
	const char *at = strrchr(s, '@'), *host = at ? at + 1 : s, *colon = NULL, *end;
	char *hostpart;

	if (at) {
		t->user = moo__strndup(s, (size_t)(at - s));
	}
	if (*host == '[') {
		end = strchr(host, ']');
		if (!end) {
			return moo__fail(err, MOO_EARG, "unbalanced '[' in host '%s'", s);
		}
		hostpart = moo__strndup(host + 1, (size_t)(end - host - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon) {
			free(hostpart);
			return moo__fail(err, MOO_EARG, "unexpected text after ']' in host '%s'",
					 s);
		}
	} else {
		colon = strchr(host, ':');
		if (colon && strchr(colon + 1, ':')) {
			colon = NULL; /* a bare IPv6 address */
		}
		hostpart = colon ? moo__strndup(host, (size_t)(colon - host)) : moo__strdup(host);
	}
	t->address = hostpart;
	if (colon) {
		char *e;
		long p;

		errno = 0;
		p = strtol(colon + 1, &e, 10);
		if (errno || *e || e == colon + 1 || p < 1 || p > 65535) {
			return moo__fail(err, MOO_EARG, "invalid port in host '%s'", s);
		}
		t->port = (unsigned)p;
	}
	if (!*t->address || *t->address == '-' || (t->user && (!*t->user || *t->user == '-'))) {
		return moo__fail(err, MOO_EARG, "invalid host '%s'", s);
	}
	return 0;
}

int moo__ssh_resolve(struct moo__ssh_target *out, const char *name, struct moo_error **err)
{
	struct moo__ssh_target t = {0};
	struct moo_config *cfg = NULL;
	const struct moo_host_entry *h;
	int r;

	t.name = moo__strdup(name);
	if ((r = moo_config_load(&cfg, NULL, err))) {
		goto done;
	}
	h = moo_config_host(cfg, name);
	if (h) {
		t.address = moo__strdup(h->address);
		t.user = h->user ? moo__strdup(h->user) : NULL;
		t.port = h->port;
		t.key = h->key ? moo__strdup(h->key) : NULL;
		t.known_hosts = h->known_hosts ? moo__strdup(h->known_hosts) : NULL;
		t.root = h->root ? moo__strdup(h->root) : NULL;
		t.inventory = true;
	} else if ((r = parse_spec(&t, name, err))) {
		goto done;
	}
	*out = t;
	memset(&t, 0, sizeof(t));
	r = 0;
done:
	moo__ssh_target_dispose(&t);
	moo_config_free(cfg);
	return r;
}

/* ---- connecting ---------------------------------------------------------------------- */

static bool transient(const char *msg)
{
	static const char *const words[] = {
		"refused",  "reset",       "timed out",    "Timeout",           "timeout",
		"No route", "unreachable", "Socket error", "Connection closed", "disconnected"};
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(words); i++) {
		if (strstr(msg, words[i])) {
			return true;
		}
	}
	return false;
}

/* Sets the options of a fresh session for t; fills display. */
static int configure(ssh_session s, const struct moo__ssh_target *t, const char *known_hosts,
		     int timeout_s, char **display, struct moo_error **err)
{
	const char *cfgfile = getenv("MOO_SSH_CONFIG");
	long timeout = timeout_s > 0 ? timeout_s : 10;
	int one = 1;
	char *host = NULL, *user = NULL, *proxy = NULL;
	unsigned port = 22;
	int r;

	if (ssh_options_set(s, SSH_OPTIONS_HOST, t->address) < 0) {
		struct moo_error *e =
			moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "invalid host '%s'", t->name);

		moo__error_cause(e, ssh_get_error(s));
		r = MOO_EARG;
		goto done;
	}
	/* ~/.ssh/config for that name: HostName, User, Port, IdentityFile, ProxyJump. */
	if (ssh_options_parse_config(s, cfgfile && *cfgfile ? cfgfile : NULL) < 0) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "cannot read the ssh configuration");

		moo__error_cause(e, ssh_get_error(s));
		r = MOO_EARG;
		goto done;
	}
	/* moo's own values win over ~/.ssh/config's. */
	if (t->user) {
		ssh_options_set(s, SSH_OPTIONS_USER, t->user);
	}
	if (t->port) {
		ssh_options_set(s, SSH_OPTIONS_PORT, &t->port);
	}
	if (t->key) {
		ssh_options_set(s, SSH_OPTIONS_IDENTITY, t->key);
	}
	ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts);
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
	ssh_options_set(s, SSH_OPTIONS_NODELAY, &one);
	ssh_options_set(s, SSH_OPTIONS_PASSWORD_AUTH, &(int){0});
	ssh_options_set(s, SSH_OPTIONS_KBDINT_AUTH, &(int){0});
	ssh_options_set(s, SSH_OPTIONS_GSSAPI_AUTH, &(int){0});
	ssh_options_get(s, SSH_OPTIONS_HOST, &host);
	ssh_options_get(s, SSH_OPTIONS_USER, &user);
	ssh_options_get(s, SSH_OPTIONS_PROXYCOMMAND, &proxy);
	ssh_options_get_port(s, &port);
	/* A bare name no inventory, ssh config or resolver knows is a usage error, not an
	 * unreachable host. */
	if (!t->inventory && !proxy && host && !strcmp(host, t->name)) {
		struct addrinfo hints = {0}, *ai = NULL;
		int g;

		hints.ai_socktype = SOCK_STREAM;
		g = getaddrinfo(host, NULL, &hints, &ai);
		if (ai) {
			freeaddrinfo(ai);
		}
		if (g == EAI_NONAME) {
			struct moo_error *e = moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
							     "unknown host '%s'", t->name);

			moo__error_hint(e,
					"add it with 'moo hosts add %s --address ADDRESS', or "
					"write USER@ADDRESS[:PORT]",
					t->name);
			r = MOO_ENOTFOUND;
			goto done;
		}
	}
	*display = moo__printf("%s%s%s:%u", user ? user : "", user ? "@" : "", host ? host : "?",
			       port);
	r = 0;
done:
	ssh_string_free_char(host);
	ssh_string_free_char(user);
	ssh_string_free_char(proxy);
	return r;
}

/*
 * A link that goes silent (a cut cable, a host gone) is noticed by the kernel rather than
 * waited on for ever: keepalive probes after 5 s idle, every 2 s, 3 of them; and data
 * unacknowledged for 15 s closes the connection. Reads then fail, and the caller sees
 * MOO_EHOST (and may reconnect) instead of hanging.
 */
static void dead_link_timeouts(ssh_session s)
{
	int fd = ssh_get_fd(s), on = 1, idle = 5, intvl = 2, cnt = 3;
	unsigned user_timeout_ms = 15000;

	if (fd < 0) {
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

/*
 * Acknowledges what the host sends at once rather than after the kernel's delayed-ACK
 * timer (up to 40 ms). sshd sets TCP_NODELAY only on sessions with a terminal, so on ours
 * Nagle holds a small packet of its until the one before is acknowledged: after the login
 * (its hostkeys and debug messages go out in separate segments) every exchange stalled
 * 40 ms, the channel opens 60-90 ms instead of ~15 ms. Linux leaves quick-ack mode on its
 * own, so this is armed again before each wait for the host.
 */
static void quick_ack(ssh_session s)
{
#ifdef TCP_QUICKACK
	int fd = ssh_get_fd(s), on = 1;

	if (fd >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
	}
#else
	(void)s;
#endif
}

/*
 * The hint for a connection that failed. Through a ProxyJump or ProxyCommand, libssh runs
 * the command (OpenSSH's 'ssh -W' for a jump) with its standard error thrown away, so
 * whatever went wrong on the jump leg (an unknown jump host key, a refused login) shows
 * here only as a closed connection: the hint names the command to run by hand.
 */
static void proxy_hint(struct moo_error *e, ssh_session s)
{
	char *proxy = NULL;

	if (ssh_options_get(s, SSH_OPTIONS_PROXYCOMMAND, &proxy) == SSH_OK && proxy && *proxy) {
		moo__error_hint(e,
				"the host is reached through the proxy command \"%s\" (ProxyJump "
				"or ProxyCommand of the ssh configuration), whose errors are not "
				"shown: run the jump by hand (ssh JUMPHOST) to see why it fails, "
				"e.g. a jump host key missing from ~/.ssh/known_hosts",
				proxy);
	} else {
		moo__error_hint(e, "check that the host is up and that sshd listens on that "
				   "address and port");
	}
	ssh_string_free_char(proxy);
}

/* Appends the session's host key to known_hosts, creating the file (and ~/.ssh) if needed. */
static int append_known_host(ssh_session s, const char *file, struct moo_error **err)
{
	char *entry = NULL, *dir = moo__strdup(file), *slash = strrchr(dir, '/');
	size_t len;
	int fd = -1, r;

	if (ssh_session_export_known_hosts_entry(s, &entry) != SSH_OK) {
		struct moo_error *e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
						     "cannot write the host key entry");

		moo__error_cause(e, ssh_get_error(s));
		r = MOO_EHOST;
		goto done;
	}
	if (slash && slash != dir) {
		*slash = '\0';
		if ((r = moo__mkdir_p(dir, 0700, err))) {
			goto done;
		}
	}
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot open '%s'", file);
		goto done;
	}
	len = strlen(entry);
	if (write(fd, entry, len) != (ssize_t)len || fsync(fd) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", file);
		goto done;
	}
	r = 0;
done:
	if (fd >= 0) {
		close(fd);
	}
	ssh_string_free_char(entry);
	free(dir);
	return r;
}

/* Checks the server's key against known_hosts; with flags' ACCEPT_NEW, records an unknown one. */
static int check_host_key(struct moo__ssh *c, unsigned flags, struct moo_error **err)
{
	ssh_session s = c->session;
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;
	struct moo_error *e;
	enum ssh_known_hosts_e state;
	int r;

	if (ssh_get_server_publickey(s, &key) != SSH_OK ||
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0 ||
	    !(fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen))) {
		e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				   "cannot read the host key of '%s'", c->display);
		moo__error_cause(e, ssh_get_error(s));
		r = MOO_EHOST;
		goto done;
	}
	c->fingerprint = moo__strdup(fp);
	c->key_type = moo__strdup(ssh_key_type_to_char(ssh_key_type(key)));
	state = ssh_session_is_known_server(s);
	switch (state) {
	case SSH_KNOWN_HOSTS_OK: r = 0; break;
	case SSH_KNOWN_HOSTS_CHANGED:
		e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				   "the host key of '%s' has changed: %s key %s does not match "
				   "'%s'",
				   c->display, c->key_type, fp, c->known_hosts);
		moo__error_hint(e,
				"someone may be intercepting the connection; if the host was "
				"reinstalled, check the new fingerprint with its administrator "
				"and remove the old entry with 'ssh-keygen -R HOST -f %s'",
				c->known_hosts);
		r = MOO_EHOST;
		break;
	case SSH_KNOWN_HOSTS_OTHER:
		e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				   "the host key of '%s' is of another type than the one in '%s': "
				   "%s key %s",
				   c->display, c->known_hosts, c->key_type, fp);
		moo__error_hint(e,
				"someone may be intercepting the connection; check the "
				"fingerprint with the host's administrator before changing '%s'",
				c->known_hosts);
		r = MOO_EHOST;
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND: /* no known_hosts file: every key is unknown */
		if (flags & MOO__SSH_ACCEPT_NEW) {
			r = append_known_host(s, c->known_hosts, err);
			c->key_added = r == 0;
			break;
		}
		e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				   "unknown host key for '%s': %s key %s", c->display, c->key_type,
				   fp);
		moo__error_hint(e,
				"if that is the host's fingerprint, accept it with 'moo hosts "
				"trust %s' or --accept-new-host-key",
				c->target.name);
		r = MOO_EHOST;
		break;
	case SSH_KNOWN_HOSTS_ERROR:
	default:
		e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
				   "cannot check the host key of '%s' against '%s'", c->display,
				   c->known_hosts);
		moo__error_cause(e, ssh_get_error(s));
		r = MOO_EHOST;
		break;
	}
done:
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return r;
}

static int authenticate(struct moo__ssh *c, struct moo_error **err)
{
	struct moo_error *e;
	const char *why;
	int rc = ssh_userauth_publickey_auto(c->session, NULL, NULL);

	if (rc == SSH_AUTH_SUCCESS) {
		return 0;
	}
	e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR, "authentication to '%s' failed",
			   c->display);
	why = rc == SSH_AUTH_PARTIAL ? "the host asks for more than a key"
				     : ssh_get_error(c->session);
	if (!why || !*why) { /* libssh says nothing when no key was there to offer */
		why = getenv("SSH_AUTH_SOCK")
			      ? "the host accepted none of ssh-agent's keys or the key files"
			      : "no ssh-agent (SSH_AUTH_SOCK is not set) and no key file the host "
				"accepts";
	}
	moo__error_cause(e, why);
	moo__error_hint(e, "moo logs in with keys and ssh-agent only: add your public key to "
			   "~/.ssh/authorized_keys on the host, or name a key with 'moo hosts add "
			   "NAME --key FILE'");
	return MOO_EHOST;
}

int moo__ssh_open(struct moo__ssh **out, const char *name, unsigned flags, int timeout_s,
		  struct moo_error **err)
{
	struct moo__ssh *c = moo__calloc(1, sizeof(*c));
	const char *env_kh = getenv("MOO_KNOWN_HOSTS");
	char *home = NULL;
	int r, attempt;

	if ((r = moo__sshlib_load(err)) || (r = moo__ssh_resolve(&c->target, name, err))) {
		goto done;
	}
	if (c->target.known_hosts) {
		c->known_hosts = moo__strdup(c->target.known_hosts);
	} else if (env_kh && *env_kh) {
		c->known_hosts = moo__strdup(env_kh);
	} else if ((home = home_dir())) {
		c->known_hosts = moo__path_join(home, ".ssh/known_hosts");
	} else {
		r = moo__fail(err, MOO_EIO, "cannot find known_hosts: no home folder");
		goto done;
	}
	for (attempt = 0;; attempt++) {
		double t0;
		const char *msg;

		ssh_free(c->session);
		free(c->display);
		c->display = NULL;
		c->session = ssh_new();
		if (!c->session) {
			abort();
		}
		if ((r = configure(c->session, &c->target, c->known_hosts, timeout_s, &c->display,
				   err))) {
			goto done;
		}
		t0 = now_s();
		if (ssh_connect(c->session) == SSH_OK) {
			c->connect_s = now_s() - t0;
			dead_link_timeouts(c->session);
			quick_ack(c->session);
			break;
		}
		msg = ssh_get_error(c->session);
		if (attempt + 1 < CONNECT_TRIES && transient(msg)) {
			sleep_ms(backoff_ms[attempt]);
			continue;
		}
		{
			struct moo_error *e = moo__error_add(
				err, MOO_EHOST, MOO_SEV_ERROR, "host unreachable: '%s' (%d %s)",
				c->display, attempt + 1, attempt ? "tries" : "try");

			moo__error_cause(e, msg);
			proxy_hint(e, c->session);
		}
		r = MOO_EHOST;
		goto done;
	}
	if ((r = check_host_key(c, flags, err))) {
		goto done;
	}
	if (!(flags & MOO__SSH_NO_AUTH)) {
		double t0 = now_s();

		if ((r = authenticate(c, err))) {
			goto done;
		}
		c->auth_s = now_s() - t0;
		quick_ack(c->session);
	}
	moo__random_hex(c->marker);
	c->eager = (flags & MOO__SSH_EAGER) != 0;
	*out = c;
	c = NULL;
	r = 0;
done:
	free(home);
	moo__ssh_close(c);
	return r;
}

void moo__ssh_close(struct moo__ssh *c)
{
	if (!c) {
		return;
	}
	if (c->tail_f) {
		sftp_close(c->tail_f);
	}
	free(c->tail_path);
	if (c->sftp) {
		sftp_free(c->sftp);
	}
	if (c->sh) {
		ssh_channel_send_eof(c->sh);
		ssh_channel_close(c->sh);
		ssh_channel_free(c->sh);
	}
	if (c->session) {
		if (ssh_is_connected(c->session)) {
			ssh_disconnect(c->session);
		}
		ssh_free(c->session);
	}
	free(c->display);
	free(c->fingerprint);
	free(c->key_type);
	free(c->known_hosts);
	moo__ssh_target_dispose(&c->target);
	free(c);
}

bool moo__ssh_alive(struct moo__ssh *c)
{
	if (!c || !c->session || !ssh_is_connected(c->session)) {
		return false;
	}
	return !c->sh || (ssh_channel_is_open(c->sh) && !ssh_channel_is_eof(c->sh));
}

/* ---- the one remote sh ------------------------------------------------------------- */

static int lost(struct moo__ssh *c, struct moo_error **err, const char *what)
{
	struct moo_error *e =
		moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
			       "lost the connection to '%s' while %s", c->display, what);

	moo__error_cause(e, ssh_get_error(c->session));
	return MOO_EHOST;
}

/* Moves bytes [0, n) of pending to out (up to max in all) and drops them from pending. */
static void flush_to(struct moo_buf *pending, size_t n, struct moo_buf *out, size_t max)
{
	if (out && out->len < max) {
		size_t room = max - out->len;

		moo_buf_add(out, pending->ptr, n < room ? n : room);
	}
	memmove(pending->ptr, pending->ptr + n, pending->len - n);
	pending->len -= n;
	pending->ptr[pending->len] = '\0';
}

static char *find_bytes(char *hay, size_t n, const char *needle, size_t m)
{
	size_t i;

	for (i = 0; m && i + m <= n; i++) {
		if (hay[i] == needle[0] && !memcmp(hay + i, needle, m)) {
			return hay + i;
		}
	}
	return NULL;
}

/* Looks for "MARK" (stderr) or "MARK STATUS\n" (stdout) in pending; on a hit flushes what
 * precedes it and returns true. */
static bool scan(struct moo_buf *pending, const char *mark, size_t mlen, bool with_status,
		 struct moo_buf *out, size_t max, int *status)
{
	char *hit;

	if (!pending->len) {
		return false;
	}
	hit = find_bytes(pending->ptr, pending->len, mark, mlen);
	if (!hit) {
		/* keep a tail that could be the start of the mark */
		if (pending->len > mlen) {
			flush_to(pending, pending->len - mlen, out, max);
		}
		return false;
	}
	if (with_status) {
		char *nl = memchr(hit + mlen, '\n',
				  pending->len - (size_t)(hit - pending->ptr) - mlen);

		if (!nl) {
			return false;
		}
		*status = (int)strtol(hit + mlen + 1, NULL, 10);
	}
	flush_to(pending, (size_t)(hit - pending->ptr), out, max);
	return true;
}

/* Sends cmdline to the remote sh as command number ++c->seq; false when the write failed. */
static bool send_command(struct moo__ssh *c, const char *cmdline)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	bool ok;

	c->seq++;
	moo_buf_puts(&cmd, "(eval ");
	moo_buf_shquote(&cmd, cmdline);
	/* \036 is written by printf's octal escape, so the line itself holds no marker. */
	moo_buf_printf(&cmd,
		       ") </dev/null; moo_s=$?; printf '\\036moo-%s-%u\\n' >&2; "
		       "printf '\\036moo-%s-%u %%d\\n' \"$moo_s\"\n",
		       c->marker, c->seq, c->marker, c->seq);
	ok = ssh_channel_write(c->sh, cmd.ptr, (uint32_t)cmd.len) == (int)cmd.len;
	moo_buf_dispose(&cmd);
	return ok;
}

static int sftp_start_failed(struct moo__ssh *c, struct moo_error **err)
{
	struct moo_error *e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
					     "cannot start SFTP on '%s'", c->display);

	moo__error_cause(e, ssh_get_error(c->session));
	moo__error_hint(e, "the host's sshd needs an sftp Subsystem line");
	return MOO_EHOST;
}

/*
 * Opens the remote sh and the SFTP channel together: both channel opens go out before
 * either answer is awaited, then both requests (exec, subsystem), so the host starts the
 * two processes at once rather than one after the other (sshd forks for each, and the sh
 * may read a login profile). The sh's first command, ':', which drops whatever a login
 * shell prints before sh starts, is sent but not awaited here: the first moo__ssh_run
 * reads it (c->sh_pending), so SFTP work can go on meanwhile. Of the two asked for, only
 * what is not open yet is opened.
 */
static int open_channels(struct moo__ssh *c, bool sh, bool sftp_too, struct moo_error **err)
{
	ssh_channel ch[2] = {NULL, NULL}; /* sh, sftp */
	bool want[2] = {sh && !c->sh, sftp_too && !c->sftp}, opened[2] = {false, false},
	     asked[2] = {false, false};
	sftp_session sftp = NULL;
	int i, r;

	ssh_set_blocking(c->session, 0);
	for (i = 0; i < 2; i++) {
		if (want[i] && !(ch[i] = ssh_channel_new(c->session))) {
			r = lost(c, err, i ? "starting SFTP" : "starting sh");
			goto done;
		}
	}
	for (;;) {
		bool pending = false, moved = false;

		for (i = 0; i < 2; i++) {
			int rc = SSH_AGAIN;

			if (!want[i] || asked[i]) {
				continue;
			}
			if (!opened[i]) {
				rc = ssh_channel_open_session(ch[i]);
				opened[i] = rc == SSH_OK;
				moved = moved || opened[i];
			}
			if (opened[i]) { /* at once: the request goes out with the other's */
				rc = i ? ssh_channel_request_subsystem(ch[i], "sftp")
				       : ssh_channel_request_exec(ch[i], "sh");
				asked[i] = rc == SSH_OK;
				moved = moved || asked[i];
			}
			if (rc == SSH_ERROR) {
				r = i ? sftp_start_failed(c, err) : lost(c, err, "starting sh");
				goto done;
			}
			pending = pending || rc == SSH_AGAIN;
		}
		if (!pending) {
			break;
		}
		/* An answer that came in while the other channel was asked is already read:
		 * after any step, ask again before waiting on the socket. */
		if (!moved) {
			struct pollfd p = {ssh_get_fd(c->session), POLLIN, 0};

			quick_ack(c->session);
			if (poll(&p, 1, 10000) == 0) {
				r = lost(c, err, "starting sh and SFTP");
				goto done;
			}
		}
	}
	ssh_set_blocking(c->session, 1);
	if (want[0]) {
		c->sh = ch[0];
		ch[0] = NULL;
		/* Whatever a login shell prints before sh starts is dropped with this command. */
		if (!send_command(c, ":")) {
			r = lost(c, err, "starting sh");
			goto done;
		}
		c->sh_pending = c->seq;
	}
	if (want[1]) {
		sftp = sftp_new_channel(c->session, ch[1]);
		if (!sftp) {
			abort(); /* out of memory */
		}
		ch[1] = NULL;
		if (sftp_init(sftp) != SSH_OK) {
			r = sftp_start_failed(c, err);
			goto done;
		}
		c->sftp = sftp;
		sftp = NULL;
	}
	r = 0;
done:
	ssh_set_blocking(c->session, 1);
	if (sftp) {
		sftp_free(sftp); /* frees its channel */
	}
	for (i = 0; i < 2; i++) {
		if (ch[i]) {
			ssh_channel_free(ch[i]);
		}
	}
	return r;
}

/* Reads the output of command number seq up to its markers; see moo__ssh_run. */
static int wait_command(struct moo__ssh *c, unsigned seq, struct moo_buf *out, size_t max,
			struct moo_buf *errout, int *status, struct moo_error **err)
{
	struct moo_buf pend_o = MOO_BUF_INIT, pend_e = MOO_BUF_INIT;
	char mark[64], chunk[32768];
	size_t mlen, start_o = out ? out->len : 0, start_e = errout ? errout->len : 0;
	bool done_o = false, done_e = false;
	int st = -1, r;

	max = max ? max : RUN_MAX_OUT;
	mlen = (size_t)snprintf(mark, sizeof(mark), "\036moo-%s-%u", c->marker, seq);
	moo_buf_add(&pend_o, "", 0);
	moo_buf_add(&pend_e, "", 0);
	while (!done_o || !done_e) {
		int n;

		quick_ack(c->session);
		if (!done_o) {
			n = ssh_channel_read_timeout(c->sh, chunk, sizeof(chunk), 0, 100);
			if (n == SSH_ERROR) {
				r = lost(c, err, "reading a command's output");
				goto done;
			}
			if (n > 0) {
				moo_buf_add(&pend_o, chunk, (size_t)n);
				done_o = scan(&pend_o, mark, mlen, true, out, start_o + max, &st);
			}
		}
		do {
			n = done_e ? 0
				   : ssh_channel_read_timeout(c->sh, chunk, sizeof(chunk), 1,
							      done_o ? 100 : 0);
			if (n == SSH_ERROR) {
				r = lost(c, err, "reading a command's errors");
				goto done;
			}
			if (n > 0) {
				moo_buf_add(&pend_e, chunk, (size_t)n);
				done_e = scan(&pend_e, mark, mlen, false, errout, start_e + max,
					      &st);
			}
		} while (n > 0 && !done_e);
		if ((!done_o || !done_e) && ssh_channel_is_eof(c->sh) &&
		    !ssh_channel_poll(c->sh, 0) && !ssh_channel_poll(c->sh, 1)) {
			struct moo_error *e =
				moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
					       "the remote sh on '%s' ended", c->display);

			moo__error_cause(e, pend_e.len ? pend_e.ptr : NULL);
			r = MOO_EHOST;
			goto done;
		}
	}
	*status = st;
	r = 0;
done:
	if (r) {
		if (out) {
			out->len = start_o;
			if (out->ptr) {
				out->ptr[start_o] = '\0';
			}
		}
		if (errout) {
			errout->len = start_e;
			if (errout->ptr) {
				errout->ptr[start_e] = '\0';
			}
		}
	}
	moo_buf_dispose(&pend_o);
	moo_buf_dispose(&pend_e);
	return r;
}

int moo__ssh_run(struct moo__ssh *c, const char *cmdline, struct moo_buf *out, size_t max,
		 struct moo_buf *errout, int *status, struct moo_error **err)
{
	int r, st;

	if (!c->sh && (r = open_channels(c, true, c->eager, err))) {
		return r;
	}
	if (c->sh_pending) {
		/* The first command, sent with the sh (its output is the login shell's), is read
		 * to its end first: what follows its marker is not kept. */
		unsigned first = c->sh_pending;

		c->sh_pending = 0;
		if ((r = wait_command(c, first, NULL, 0, NULL, &st, err))) {
			return r;
		}
	}
	if (!send_command(c, cmdline)) {
		return lost(c, err, "sending a command");
	}
	return wait_command(c, c->seq, out, max, errout, status, err);
}

/* ---- SFTP ---------------------------------------------------------------------------- */

int moo__ssh_sftp(struct moo__ssh *c, sftp_session *out, struct moo_error **err)
{
	quick_ack(c->session); /* every SFTP request starts here: its answer is not delayed */
	if (!c->sftp) {
		int r = open_channels(c, c->eager, true, err);

		if (r) {
			return r;
		}
	}
	*out = c->sftp;
	return 0;
}

int moo__ssh_sftp_fail(struct moo__ssh *c, struct moo_error **err, int code, const char *what,
		       const char *path)
{
	static const char *const names[] = {"ok",
					    "end of file",
					    "no such file",
					    "permission denied",
					    "failure",
					    "bad message",
					    "no connection",
					    "connection lost",
					    "operation unsupported",
					    "invalid handle",
					    "no such path",
					    "file already exists",
					    "write protected",
					    "no media"};
	int fx = c->sftp ? sftp_get_error(c->sftp) : -1;
	struct moo_error *e;

	if (fx == SSH_FX_NO_SUCH_FILE || fx == SSH_FX_NO_SUCH_PATH) {
		code = MOO_ENOTFOUND;
	} else if (fx == SSH_FX_FILE_ALREADY_EXISTS) {
		code = MOO_EEXIST;
	} else if (fx < 0 || fx == SSH_FX_NO_CONNECTION || fx == SSH_FX_CONNECTION_LOST) {
		code = MOO_EHOST;
	}
	e = moo__error_add(err, code, MOO_SEV_ERROR, "cannot %s '%s' on '%s'", what, path,
			   c->display);
	if (fx >= 0 && (size_t)fx < MOO_ARRAY_SIZE(names) && fx != SSH_FX_FAILURE) {
		moo__error_cause(e, names[fx]);
	} else {
		moo__error_cause(e, ssh_get_error(c->session));
	}
	return code;
}

/* ---- moo hosts trust ----------------------------------------------------------------- */

int moo_host_trust(struct moo_host_key *out, const char *host, const struct moo_connect_opts *opts,
		   struct moo_error **err)
{
	struct moo__ssh *c = NULL;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_CONNECT_OPTS_VERSION, "moo_connect_opts", err))) {
		return r;
	}
	r = moo__ssh_open(&c, host, MOO__SSH_ACCEPT_NEW | MOO__SSH_NO_AUTH,
			  opts ? opts->timeout_s : 0, err);
	if (r) {
		return r;
	}
	out->display = moo__strdup(c->display);
	out->type = moo__strdup(c->key_type);
	out->fingerprint = moo__strdup(c->fingerprint);
	out->known_hosts = moo__strdup(c->known_hosts);
	out->added = c->key_added;
	moo__ssh_close(c);
	return 0;
}
