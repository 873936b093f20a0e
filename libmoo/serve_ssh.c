/*
 * serve_ssh: moo serve's workers on an SSH host (moo-serve(1) --on). One thread owns the
 * host's one SSH session (the transport's, host keys checked as for moo run --on); each
 * worker is an exec channel of it whose stdin and stdout carry the frames a local worker's
 * socket carries, and this thread pumps them between the channel and the server's end of a
 * socketpair, so serve.c's loop treats local and remote workers alike. The worker's stderr
 * is copied to ours. No port is opened on the host.
 *
 * A lost session (sshd killed, a cut link noticed by the keepalive of ssh.c) ends every
 * channel with MOO__LINK_LOST written before its socket is closed; the server answers what
 * was in flight 503 and asks for its workers again, and this thread reconnects (with
 * backoff, for as long as the server runs) before it opens their channels.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "ssh.h"

#define TO_HOST_MAX (1u << 20) /* bytes read from a worker's socket not yet sent */

struct chan {
	ssh_channel ch;
	int fd;     /* the link's end of the worker's socketpair */
	int *ended; /* how it ended, written before fd is closed */
	char *cmd;
	struct moo_buf to_host;
	size_t to_pos;
	bool fd_eof, sent_eof;
	struct chan *next;
};

struct moo__serve_link {
	struct moo__transport *t; /* NULL while disconnected */
	char *host;
	pthread_t th;
	bool started;
	int wake;
	pthread_mutex_t mu;
	struct chan *pending; /* under mu: channels to open */
	bool stopping;        /* under mu */
	char *why;            /* under mu: why the last connection attempt failed, or NULL */
	struct chan *live;    /* the thread's own */
};

static void chan_end(struct chan *c, int how)
{
	if (c->ch) {
		if (how != MOO__LINK_LOST) {
			ssh_channel_send_eof(c->ch);
			ssh_channel_close(c->ch);
		}
		ssh_channel_free(c->ch);
	}
	__atomic_store_n(c->ended, how, __ATOMIC_SEQ_CST);
	close(c->fd);
	moo_buf_dispose(&c->to_host);
	free(c->cmd);
	free(c);
}

/* Opens c's exec channel (blocking, a round trip or two). false: the session is gone. */
static bool chan_start(struct moo__serve_link *l, struct chan *c)
{
	ssh_session s = moo__transport_ssh_session(l->t)->session;

	ssh_set_blocking(s, 1);
	c->ch = ssh_channel_new(s);
	if (!c->ch || ssh_channel_open_session(c->ch) != SSH_OK ||
	    ssh_channel_request_exec(c->ch, c->cmd) != SSH_OK) {
		if (c->ch) {
			ssh_channel_free(c->ch);
			c->ch = NULL;
		}
		ssh_set_blocking(s, 0);
		return false;
	}
	ssh_set_blocking(s, 0);
	return true;
}

/* Moves what is ready between c's socket and its channel; -1: the session is gone. */
static int chan_pump(struct chan *c, bool *done)
{
	char buf[65536];
	int k;

	if (!c->fd_eof && c->to_host.len - c->to_pos < TO_HOST_MAX) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			moo_buf_add(&c->to_host, buf, (size_t)n);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->fd_eof = true; /* the server let the worker go */
		}
	}
	while (c->to_pos < c->to_host.len) {
		k = ssh_channel_write(c->ch, c->to_host.ptr + c->to_pos,
				      (uint32_t)(c->to_host.len - c->to_pos));
		if (k == SSH_ERROR) {
			return -1;
		}
		if (k <= 0) {
			break; /* the window is full */
		}
		c->to_pos += (size_t)k;
	}
	if (c->to_pos == c->to_host.len) {
		c->to_host.len = c->to_pos = 0;
		if (c->fd_eof && !c->sent_eof) {
			ssh_channel_send_eof(c->ch);
			c->sent_eof = true;
		}
	}
	for (int is_err = 0; is_err < 2; is_err++) {
		while ((k = ssh_channel_read_nonblocking(c->ch, buf, sizeof(buf), is_err)) > 0) {
			const char *p = buf;

			while (k > 0) {
				ssize_t w = is_err ? write(2, p, (size_t)k)
						   : send(c->fd, p, (size_t)k, MSG_NOSIGNAL);

				if (w < 0 && errno == EINTR) {
					continue;
				}
				if (w <= 0) {
					break; /* the server closed its end: dropped */
				}
				p += w;
				k -= (int)w;
			}
		}
		if (k == SSH_ERROR) {
			return -1;
		}
	}
	*done = ssh_channel_is_eof(c->ch) || !ssh_channel_is_open(c->ch);
	return 0;
}

/* The exit code the worker's channel reported; -1 for a signal or none. */
static int chan_status(struct moo__serve_link *l, struct chan *c)
{
	ssh_session s = moo__transport_ssh_session(l->t)->session;
	int st;

	ssh_set_blocking(s, 1);
	st = ssh_channel_get_exit_status(c->ch);
	ssh_set_blocking(s, 0);
	return st;
}

/* Records how the last attempt to connect went (err NULL: it worked); frees err. */
static void set_why(struct moo__serve_link *l, struct moo_error *err)
{
	char *why = NULL;

	if (err) {
		why = err->cause ? moo__printf("%s: %s", err->message, err->cause)
				 : moo__strdup(err->message);
	}
	pthread_mutex_lock(&l->mu);
	free(l->why);
	l->why = why;
	pthread_mutex_unlock(&l->mu);
	moo_error_free(err);
}

static void lose_all(struct moo__serve_link *l)
{
	while (l->live) {
		struct chan *c = l->live;

		l->live = c->next;
		chan_end(c, MOO__LINK_LOST);
	}
}

static void *link_main(void *arg)
{
	struct moo__serve_link *l = arg;
	unsigned backoff_ms = 200;

	for (;;) {
		struct pollfd p[130];
		struct chan *start, **pc;
		nfds_t n = 0;
		bool stop, broken = false;

		pthread_mutex_lock(&l->mu);
		start = l->pending;
		l->pending = NULL;
		stop = l->stopping;
		pthread_mutex_unlock(&l->mu);
		if (stop) {
			while (start) {
				struct chan *c = start;

				start = c->next;
				chan_end(c, -1);
			}
			break;
		}
		if (!l->t) {
			struct moo_error *err = NULL;

			if (moo__transport_open_flags(&l->t, l->host, MOO__SSH_DIRECT, &err) < 0) {
				set_why(l, err);
				l->t = NULL;
			} else {
				set_why(l, NULL);
				ssh_set_blocking(moo__transport_ssh_session(l->t)->session, 0);
				backoff_ms = 200;
			}
		}
		while (start) {
			struct chan *c = start;

			start = c->next;
			if (l->t && !chan_start(l, c) &&
			    ssh_is_connected(moo__transport_ssh_session(l->t)->session)) {
				/* refused (sshd's MaxSessions): never run, never retried */
				moo__warn(MOO_EHOST,
					  "host '%s' refused a channel for a worker (sshd's "
					  "MaxSessions, default 10, allows 8): serving with one "
					  "worker fewer",
					  l->host);
				chan_end(c, 255);
				continue;
			}
			if (!l->t || !c->ch) {
				broken = l->t != NULL;
				pthread_mutex_lock(&l->mu); /* asked for again once connected */
				c->next = l->pending;
				l->pending = c;
				pthread_mutex_unlock(&l->mu);
				continue;
			}
			c->next = l->live;
			l->live = c;
		}
		for (pc = &l->live; *pc && !broken;) {
			struct chan *c = *pc;
			bool done = false;

			if (chan_pump(c, &done) < 0) {
				broken = true;
				break;
			}
			if (done) {
				*pc = c->next;
				chan_end(c, chan_status(l, c));
				continue;
			}
			pc = &c->next;
		}
		if (broken ||
		    (l->t && !ssh_is_connected(moo__transport_ssh_session(l->t)->session))) {
			struct moo_error *lost = NULL;

			moo__error_add(&lost, MOO_EHOST, MOO_SEV_ERROR, "the connection was lost");
			set_why(l, lost);
			lose_all(l);
			if (l->t) {
				/* dropped from the cache; the next open connects again */
				struct moo_error *err = NULL;

				moo__transport_reopen(&l->t, &err);
				set_why(l, err);
				if (l->t) {
					ssh_set_blocking(moo__transport_ssh_session(l->t)->session,
							 0);
				}
			}
			continue;
		}
		p[n++] = (struct pollfd){l->wake, POLLIN, 0};
		if (l->t) {
			p[n++] = (struct pollfd){
				ssh_get_fd(moo__transport_ssh_session(l->t)->session), POLLIN, 0};
		}
		for (struct chan *c = l->live; c && n < 130; c = c->next) {
			if (!c->fd_eof) {
				p[n++] = (struct pollfd){c->fd, POLLIN, 0};
			}
		}
		pthread_mutex_lock(&l->mu);
		stop = l->pending && l->t; /* channels to open: no waiting */
		pthread_mutex_unlock(&l->mu);
		if (!stop) {
			int ms = !l->t ? (int)backoff_ms : 100;

			if (poll(p, n, ms) > 0 && (p[0].revents & POLLIN)) {
				uint64_t v;
				ssize_t k = read(l->wake, &v, sizeof(v));

				(void)k;
			}
			if (!l->t && backoff_ms < 5000) {
				backoff_ms *= 2;
			}
		}
	}
	while (l->live) {
		struct chan *c = l->live;

		l->live = c->next;
		if (l->t) {
			ssh_set_blocking(moo__transport_ssh_session(l->t)->session, 1);
		}
		chan_end(c, -1);
	}
	if (l->t) {
		ssh_set_blocking(moo__transport_ssh_session(l->t)->session, 1);
	}
	return NULL;
}

int moo__serve_link_open(struct moo__serve_link **out, const char *host, struct moo_error **err)
{
	struct moo__serve_link *l = moo__calloc(1, sizeof(*l));
	int r;

	r = moo__transport_open_flags(&l->t, host, MOO__SSH_DIRECT, err);
	if (r < 0) {
		free(l);
		return r;
	}
	if (!moo__transport_is_remote(l->t)) {
		free(l);
		return moo__fail(err, MOO_EARG, "'%s' is this machine: serve without --on", host);
	}
	l->host = moo__strdup(host);
	l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&l->mu, NULL);
	ssh_set_blocking(moo__transport_ssh_session(l->t)->session, 0);
	if (l->wake < 0 || pthread_create(&l->th, NULL, link_main, l)) {
		moo__serve_link_close(l);
		return moo__fail_errno(err, MOO_EIO, "cannot start the thread for host '%s'", host);
	}
	l->started = true;
	*out = l;
	return 0;
}

void moo__serve_link_spawn(struct moo__serve_link *l, const char *cmdline, int fd, int *ended)
{
	struct chan *c = moo__calloc(1, sizeof(*c));
	uint64_t one = 1;
	ssize_t k;

	c->fd = fd;
	c->ended = ended;
	c->cmd = moo__strdup(cmdline);
	__atomic_store_n(ended, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&l->mu);
	c->next = l->pending;
	l->pending = c;
	pthread_mutex_unlock(&l->mu);
	k = write(l->wake, &one, sizeof(one));
	(void)k;
}

char *moo__serve_link_why(struct moo__serve_link *l)
{
	char *why;

	pthread_mutex_lock(&l->mu);
	why = l->why ? moo__strdup(l->why) : NULL;
	pthread_mutex_unlock(&l->mu);
	return why;
}

void moo__serve_link_close(struct moo__serve_link *l)
{
	if (!l) {
		return;
	}
	if (l->started) {
		uint64_t one = 1;
		ssize_t k;

		pthread_mutex_lock(&l->mu);
		l->stopping = true;
		pthread_mutex_unlock(&l->mu);
		k = write(l->wake, &one, sizeof(one));
		(void)k;
		pthread_join(l->th, NULL);
	}
	if (l->wake >= 0) {
		close(l->wake);
	}
	pthread_mutex_destroy(&l->mu);
	free(l->why);
	free(l->host);
	free(l);
}
