/*
 * ssh: one SSH session to a host, and the one remote sh that every step of a moo
 * invocation runs through. Internal; transport_ssh.c and probe.c build on it.
 *
 * A host is named by an entry of moo's inventory (config.yaml), a Host of ~/.ssh/config,
 * or [user@]host[:port], looked up in that order. Host keys are always checked against
 * known_hosts; authentication is by key or ssh-agent only.
 */
#ifndef MOO_SSH_H
#define MOO_SSH_H
#include "sshlib.h"
#include "internal.h"
#include "transport.h"

/* Where a host name led: the inventory entry's values, or what the name itself says. */
struct moo__ssh_target {
	char *name;    /* as given */
	char *address; /* host name or address to connect to (NULL: libssh's, from ssh config) */
	char *user;    /* NULL: ~/.ssh/config's, else the local user */
	unsigned port; /* 0: ~/.ssh/config's, else 22 */
	char *key;     /* identity file, or NULL */
	char *known_hosts; /* NULL: $MOO_KNOWN_HOSTS, else ~/.ssh/known_hosts */
	char *root;        /* MOO_ROOT on the host, or NULL */
	bool inventory;    /* found in config.yaml */
};

/*
 * Resolves name: the inventory, then ~/.ssh/config ($MOO_SSH_CONFIG for tests), then
 * [user@]host[:port]. MOO_ENOTFOUND for a bare name that none of them knows.
 */
int moo__ssh_resolve(struct moo__ssh_target *out, const char *name, struct moo_error **err);
void moo__ssh_target_dispose(struct moo__ssh_target *t);

struct moo__ssh {
	ssh_session session;
	ssh_channel sh;    /* the one remote sh; opened on first use */
	sftp_session sftp; /* opened on first use */
	sftp_file tail_f;  /* kept open between reads at an offset (a log followed) */
	char *tail_path;   /* ... of this file */
	char *display;     /* user@address:port, for messages */
	char *fingerprint; /* the host key's "SHA256:…" */
	char *key_type;    /* "ssh-ed25519", … */
	char *known_hosts; /* the file the key was checked against */
	bool key_added;    /* the key was appended to known_hosts by this connection */
	struct moo__ssh_target target;
	char marker[40]; /* the sentinel that ends each command's output */
	unsigned seq;
	unsigned sh_pending;      /* a command sent with the sh whose end is not read yet, or 0 */
	bool eager;               /* open the sh together with SFTP (MOO__SSH_EAGER) */
	double connect_s, auth_s; /* seconds spent, for 'moo hosts check' */
};

enum moo__ssh_flags {
	MOO__SSH_ACCEPT_NEW = 1 << 0, /* append an unknown host key to known_hosts */
	MOO__SSH_NO_AUTH = 1 << 1,    /* stop after the host key check (moo hosts trust) */
	MOO__SSH_EAGER = 1 << 2,      /* the sh will be needed: start it with SFTP, in parallel */
	MOO__SSH_DIRECT = 1 << 3,     /* a session of this process's own: no kept connection */
};

/*
 * Connects to the host named name and checks its key, retrying transient failures
 * (refused, reset, timed out) with backoff. timeout_s 0: 10 s. MOO_EHOST on
 * unreachable, host-key or authentication failures.
 */
int moo__ssh_open(struct moo__ssh **out, const char *name, unsigned flags, int timeout_s,
		  struct moo_error **err);

/*
 * Runs cmdline on the one remote sh (in a subshell, stdin from /dev/null) and waits for
 * it: stdout is appended to out (at most max bytes; the rest is read and dropped; max
 * 0: 1 MiB), stderr to errout; *status is its exit status.
 */
int moo__ssh_run(struct moo__ssh *c, const char *cmdline, struct moo_buf *out, size_t max,
		 struct moo_buf *errout, int *status, struct moo_error **err);

/* The session's SFTP channel, opened on first use. */
int moo__ssh_sftp(struct moo__ssh *c, sftp_session *out, struct moo_error **err);

/* Appends the SFTP error of the last call (with its path) to *err; returns code. */
int moo__ssh_sftp_fail(struct moo__ssh *c, struct moo_error **err, int code, const char *what,
		       const char *path);

void moo__ssh_close(struct moo__ssh *c); /* NULL-safe */

/* True while the session is connected and its remote sh (when started) has not ended. */
bool moo__ssh_alive(struct moo__ssh *c);

/* The SSH transport (transport_ssh.c): the job seam over one session. */
int moo__transport_ssh_open(struct moo__transport **out, const char *host, unsigned flags,
			    int timeout_s, struct moo_error **err);
/* The session under an SSH transport (borrowed), for callers that need more. */
struct moo__ssh *moo__transport_ssh_session(struct moo__transport *t);

/*
 * Kept connections (transport_mux.c), as OpenSSH's ControlPersist: a command's SSH session
 * outlives it in a master process that later commands reach over a unix socket.
 * moo__mux_open: a transport through host's master; MOO_ENOTFOUND (no error added) when
 * there is none to use. moo__mux_handoff, at exit: forks the master for t's session (true:
 * t is the master's now and must not be closed). moo__mux_stop: asks host's master to end.
 */
int moo__mux_open(struct moo__transport **out, const char *host, struct moo_error **err);
bool moo__mux_handoff(struct moo__transport *t);
void moo__mux_stop(const char *host);
bool moo__transport_is_mux(const struct moo__transport *t);
bool moo__mux_alive(struct moo__transport *t);
void moo__mux_describe(struct moo__transport *t, struct moo_host_key *key);
/* $MOO_SSH_PERSIST: seconds a master waits for the next command (0: none is kept). */
double moo__mux_persist_s(void);

/*
 * moo serve's workers on a host (serve_ssh.c): exec channels of the host's one session,
 * pumped by a thread of their own, reconnected when the session is lost.
 */
struct moo__serve_link;
#define MOO__LINK_LOST (-2)
/* Connects (MOO_EHOST as moo__ssh_open) and starts the thread. */
int moo__serve_link_open(struct moo__serve_link **out, const char *host, struct moo_error **err);
/*
 * Runs cmdline on the host in an exec channel whose stdin and stdout are carried to and
 * from fd (the link's end of a socketpair; the link closes it). Before it closes fd the
 * link writes to *ended how the worker ended: its exit code, -1 for a signal, or
 * MOO__LINK_LOST when the session was lost (the link is reconnecting).
 */
void moo__serve_link_spawn(struct moo__serve_link *l, const char *cmdline, int fd, int *ended);
/* Why the last attempt to connect again failed (malloc'd), or NULL while connected. */
char *moo__serve_link_why(struct moo__serve_link *l);
/* Ends every channel (their workers see EOF) and the thread. NULL-safe. */
void moo__serve_link_close(struct moo__serve_link *l);
#endif
