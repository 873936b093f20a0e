/*
 * transport: the one place a host's name becomes a transport. "local" is this machine
 * (transport_local.c); any other name an SSH host (transport_ssh.c), cached per process so
 * that every open of a host in one moo invocation shares one session. */
#include <stdlib.h>
#include <string.h>
#include "ssh.h"

/* ---- dispatch and the per-process cache of SSH transports ------------------------------ */

static struct moo__transport **cache;
static size_t n_cache;

/* handed to a master at exit (transport_mux.c): kept reachable, never closed here */
static struct moo__transport **kept;
static size_t n_kept;

static void really_close(struct moo__transport *t)
{
	t->ops->close(t);
	free(t->host);
	free(t->root);
	free(t);
}

static void uncache(struct moo__transport *t)
{
	size_t i;

	for (i = 0; i < n_cache; i++) {
		if (cache[i] == t) {
			cache[i] = cache[--n_cache];
			break;
		}
	}
	t->cached = false;
}

void moo__transport_close_all(void)
{
	while (n_cache) {
		struct moo__transport *t = cache[--n_cache];

		t->cached = false;
		if (moo__mux_handoff(t)) {
			MOO_GROW(kept, n_kept);
			kept[n_kept++] = t;
			continue;
		}
		really_close(t);
	}
	free(cache);
	cache = NULL;
}

static int open_host(struct moo__transport **out, const char *host, unsigned flags, int timeout_s,
		     struct moo_error **err)
{
	static bool registered;
	struct moo__transport *t = NULL;
	size_t i;
	int r;

	if (host && !strncmp(host, "slurm:", 6)) {
		host = host[6] ? host + 6 : "local"; /* a Slurm job: its login node (slurm.c) */
	}
	if (!host || !strcmp(host, "local")) {
		return moo__transport_local_open(out, err);
	}
	for (i = 0; i < n_cache; i++) {
		bool mux = moo__transport_is_mux(cache[i]);

		if (strcmp(cache[i]->host, host) || (mux && (flags & MOO__SSH_DIRECT))) {
			continue;
		}
		if (mux ? moo__mux_alive(cache[i])
			: moo__ssh_alive(moo__transport_ssh_session(cache[i]))) {
			*out = cache[i];
			return 0;
		}
		t = cache[i];
		uncache(t);
		really_close(t);
		break;
	}
	/* a kept connection (transport_mux.c), unless this one must check or do more */
	r = flags & (MOO__SSH_ACCEPT_NEW | MOO__SSH_NO_AUTH | MOO__SSH_DIRECT) || timeout_s
		    ? MOO_ENOTFOUND
		    : moo__mux_open(&t, host, err);
	if (r == MOO_ENOTFOUND) {
		r = moo__transport_ssh_open(&t, host, flags, timeout_s, err);
	}
	if (r) {
		return r;
	}
	if (!registered) {
		atexit(moo__transport_close_all);
		registered = true;
	}
	MOO_GROW(cache, n_cache);
	cache[n_cache++] = t;
	t->cached = true;
	*out = t;
	return 0;
}

int moo__transport_open_flags(struct moo__transport **out, const char *host, unsigned flags,
			      struct moo_error **err)
{
	return open_host(out, host, flags, 0, err);
}

int moo__transport_open_opts(struct moo__transport **out, const char *host,
			     const struct moo_connect_opts *opts, struct moo_error **err)
{
	/* the probe ('moo hosts check') times a connection: one of its own, never a kept one */
	return open_host(out, host,
			 (opts && opts->accept_new_host_key ? MOO__SSH_ACCEPT_NEW : 0) |
				 MOO__SSH_DIRECT,
			 opts ? opts->timeout_s : 0, err);
}

void moo__transport_describe(struct moo__transport *t, struct moo_host_key *key, double *connect_s,
			     double *auth_s)
{
	const struct moo__ssh *c;

	if (!moo__transport_is_remote(t) || !t->impl) {
		return;
	}
	if (moo__transport_is_mux(t)) {
		moo__mux_describe(t, key);
		return;
	}
	c = moo__transport_ssh_session(t);
	moo_host_key_dispose(key);
	key->display = c->display ? moo__strdup(c->display) : NULL;
	key->type = c->key_type ? moo__strdup(c->key_type) : NULL;
	key->fingerprint = c->fingerprint ? moo__strdup(c->fingerprint) : NULL;
	key->known_hosts = c->known_hosts ? moo__strdup(c->known_hosts) : NULL;
	key->added = c->key_added;
	if (connect_s) {
		*connect_s = c->connect_s;
	}
	if (auth_s) {
		*auth_s = c->auth_s;
	}
}

int moo__transport_open(struct moo__transport **out, const char *host, struct moo_error **err)
{
	return moo__transport_open_flags(out, host, 0, err);
}

int moo__transport_reopen(struct moo__transport **t, struct moo_error **err)
{
	char *host = moo__strdup((*t)->host);
	int r;

	if ((*t)->cached) {
		uncache(*t);
	}
	really_close(*t);
	*t = NULL;
	r = moo__transport_open(t, host, err);
	free(host);
	return r;
}

void moo__transport_close(struct moo__transport *t)
{
	if (!t || t->cached) {
		return;
	}
	really_close(t);
}
