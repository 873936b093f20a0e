/*
 * transport: how libmoo reaches the host a job runs on. Internal.
 *
 * Everything job.c and runtime.c do on a host goes through these operations, and every
 * command is one POSIX sh command line built with moo_buf_shquote, so the same line runs
 * under a local 'sh -c' now and under a remote sh over SSH later (transport_ssh.c).
 * Paths are paths on the host.
 */
#ifndef MOO_TRANSPORT_H
#define MOO_TRANSPORT_H
#include <string.h>
#include "internal.h"

struct moo__transport;

struct moo__transport_ops {
	/*
	 * Runs cmdline under sh on the host and waits for it. Its standard output is
	 * appended to out (when not NULL; at most 1 MiB), standard error to errout (when
	 * not NULL); *status is its exit status (128 + N when killed by signal N).
	 */
	int (*exec)(struct moo__transport *t, const char *cmdline, struct moo_buf *out,
		    struct moo_buf *errout, int *status, struct moo_error **err);
	/*
	 * Appends the bytes of a file from offset on (at most max) to out. MOO_ENOTFOUND,
	 * with no error added, when the file does not exist. Regular files only: a symbolic
	 * link, FIFO, device or folder at path is refused (MOO_EIO, "'PATH' is a FIFO, not a
	 * regular file") without being opened for reading where that could block.
	 */
	int (*read_file)(struct moo__transport *t, const char *path, uint64_t offset, size_t max,
			 struct moo_buf *out, struct moo_error **err);
	/* The size of a regular file, checked as read_file checks it. */
	int (*file_size)(struct moo__transport *t, const char *path, uint64_t *size,
			 struct moo_error **err);
	/* Writes a whole file atomically (temporary file, rename). */
	int (*write_file)(struct moo__transport *t, const char *path, const void *data, size_t len,
			  int mode, struct moo_error **err);
	/* True when path exists on the host. */
	bool (*exists)(struct moo__transport *t, const char *path);
	/* mkdir -p on the host. */
	int (*mkdir_p)(struct moo__transport *t, const char *path, struct moo_error **err);
	/*
	 * Makes the local file or folder src exist at dst on the host (dst must not exist).
	 * move: src is the transport's to consume (a local host renames it).
	 */
	int (*put)(struct moo__transport *t, const char *src, const char *dst, bool move,
		   struct moo_error **err);
	/*
	 * Makes the host's folder src available on this machine: *local is a path here
	 * (the folder itself on a local host; a copy under cache_dir otherwise).
	 */
	int (*collect)(struct moo__transport *t, const char *src, const char *cache_dir,
		       char **local, struct moo_error **err);
	void (*close)(struct moo__transport *t);
	/*
	 * Optional (NULL: callers sleep a little and look again). Returns when something in
	 * the folder dir may have changed (a file written, created or renamed into it), or
	 * after timeout seconds. The first call for a folder returns at once: what changed
	 * before it was watched must be looked at.
	 */
	void (*wait_change)(struct moo__transport *t, const char *dir, double timeout);
	/*
	 * Optional (NULL: job.c runs 'setsid sh -c SCRIPT &' through exec). Starts script
	 * under sh in the folder dir, detached: a session of its own, standard input
	 * /dev/null, standard output and error appended to log (relative to dir). Returns
	 * once it is started.
	 */
	int (*spawn)(struct moo__transport *t, const char *dir, const char *script, const char *log,
		     struct moo_error **err);
	/*
	 * Optional (NULL, or 1 returned: spawn supervisor.sh). Starts the job folder dir's
	 * supervisor without a script: supervise.c on this machine. out is the output
	 * folder, command the job's command line.
	 */
	int (*supervise)(struct moo__transport *t, const char *dir, const char *out,
			 const char *command, const char *log, struct moo_error **err);
};

struct moo__transport {
	const struct moo__transport_ops *ops;
	char *host; /* "local", or the name an SSH host was given by */
	char *root; /* the job directory root on the host: $MOO_ROOT, else ~/.moo */
	void *impl;
	bool cached;     /* held by the per-process cache: moo__transport_close leaves it open */
	bool no_persist; /* opened MOO__SSH_DIRECT: never handed to a master (transport_mux.c) */
};

/*
 * The transport for a host by name: "local" is this machine; any other name is an SSH
 * host (transport_ssh.c; named as moo__ssh_resolve says). The one place hosts are
 * dispatched. SSH transports are cached per process: every open of the same host in one
 * moo invocation gets the same session (one SSH connection, one remote sh), checked
 * alive first and reconnected when it died; they are closed at exit. flags are
 * MOO__SSH_* (ssh.h), used when a new connection is made.
 */
int moo__transport_open(struct moo__transport **out, const char *host, struct moo_error **err);
int moo__transport_open_flags(struct moo__transport **out, const char *host, unsigned flags,
			      struct moo_error **err);
/* moo__transport_open_flags with a public moo_connect_opts (NULL: defaults). */
int moo__transport_open_opts(struct moo__transport **out, const char *host,
			     const struct moo_connect_opts *opts, struct moo_error **err);
/*
 * What the connection under t checked: the host key (into key, when t reaches another
 * machine; left as it is otherwise) and the seconds spent connecting and authenticating
 * (when not NULL).
 */
void moo__transport_describe(struct moo__transport *t, struct moo_host_key *key, double *connect_s,
			     double *auth_s);
/*
 * After a lost connection: drops *t (from the cache too) and connects again once
 * (moo__ssh_open's own retries and backoff included). *t is NULL when that fails.
 */
int moo__transport_reopen(struct moo__transport **t, struct moo_error **err);
/*
 * Transfer progress (moo_set_transfer_progress): put and collect call begin once, with the
 * bytes the transfer will move (0: not known), then progress with each chunk's bytes.
 */
void moo__transfer_begin(bool upload, uint64_t total);
void moo__transfer_progress(bool upload, uint64_t bytes);
/* This thread's begin and progress go to fn instead (NULL: back to the callback). */
void moo__transfer_forward(void (*fn)(bool upload, bool begin, uint64_t n, void *arg), void *arg);

/* "a FIFO", "a folder"…: what a file of that st_mode is, for an error naming it. */
const char *moo__file_kind(unsigned mode);
/* True for a transport that reaches another machine. */
static inline bool moo__transport_is_remote(const struct moo__transport *t)
{
	return t && strcmp(t->host, "local") != 0;
}
/*
 * "HOST-PID.NS-": this machine's name (letters, digits, '.' only) and this process
 * (moo__owner_tag), as temporary names on a host carry them; "HOST-" without owner.
 */
void moo__client_tag(char *out, size_t len, bool owner);
/*
 * On an SSH host, removes the temporary files and folders in dir (".moo-tmp-" names)
 * that this machine's moo left when it was killed: those of a pid no longer running.
 */
void moo__transport_sweep(struct moo__transport *t, const char *dir);
/* Closes every cached transport (also done at exit). */
void moo__transport_close_all(void);
/* This machine. The root is $MOO_ROOT, else $HOME/.moo. */
int moo__transport_local_open(struct moo__transport **out, struct moo_error **err);
/* NULL-safe; a cached transport stays open for the next open of its host. */
void moo__transport_close(struct moo__transport *t);
#endif
