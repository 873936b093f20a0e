#ifndef MOO_HOST_H
#define MOO_HOST_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"

struct moo_store; /* moo/store.h */

/*
 * Hosts reached over SSH, named by moo's inventory (moo-config(5)), ~/.ssh/config or
 * [user@]host[:port]; and what moo learns about them.
 */

struct moo_connect_opts {
	unsigned version;         /* MOO_CONNECT_OPTS_VERSION */
	bool accept_new_host_key; /* append an unknown host key to known_hosts */
	int timeout_s;            /* connect timeout; 0: 10 s */
};
#define MOO_CONNECT_OPTS_VERSION 1
#define MOO_CONNECT_OPTS_INIT                      \
	{                                          \
		MOO_CONNECT_OPTS_VERSION, false, 0 \
	}

/* A host's key as seen on connecting. */
struct moo_host_key {
	char *display;     /* user@address:port (the user only when known) */
	char *type;        /* "ssh-ed25519", … */
	char *fingerprint; /* "SHA256:…" */
	char *known_hosts; /* the file checked (and written) */
	bool added;        /* appended to known_hosts now */
};

struct moo_gpu {
	unsigned index;
	char *name;
	char *uuid;
	uint64_t memory_total_mib, memory_used_mib;
	char *driver;      /* driver version */
	char *compute_cap; /* "9.0" */
};

struct moo_npu {
	unsigned index;
	char *name;   /* "910B3" */
	char *health; /* "OK" */
};

struct moo_engine {
	char *name;    /* docker, podman, apptainer, singularity */
	char *version; /* "24.0.5", or the whole first line when no version is found */
};

struct moo_python {
	char *path;    /* "/usr/bin/python3.11" */
	char *version; /* "3.11.2" */
};

/* What a host probe found. Strings are NULL and numbers 0 when unknown. */
struct moo_host_facts {
	struct moo_host_key key; /* filled by moo_host_probe; empty from moo_host_facts_parse */
	double connect_s, auth_s, probe_s; /* seconds spent */

	char *kernel, *arch;                /* uname -r, uname -m */
	char *os_id, *os_version, *os_name; /* os-release ID, VERSION_ID, PRETTY_NAME */
	unsigned cpus;
	uint64_t mem_total, mem_available; /* bytes */
	char *root;                        /* the moo root on the host */
	uint64_t disk_free;                /* bytes available where the root is (or would be) */
	char *cuda_version;                /* from nvidia-smi's header, e.g. "13.0" */
	char *driver_version;
	char *npu_version; /* npu-smi's */

	struct moo_gpu *gpus;
	size_t n_gpus;
	struct moo_npu *npus;
	size_t n_npus;
	struct moo_engine *engines;
	size_t n_engines;
	struct moo_python *pythons;
	size_t n_pythons;
};

/* Parses the probe script's output. MOO_EHOST when it is not probe output at all. */
MOO_EXTERN int moo_host_facts_parse(struct moo_host_facts **out, const char *text, size_t len,
				    struct moo_error **err);

/*
 * Connects to host, checks its key, runs the probe on its remote sh and, when st is not
 * NULL, records the facts in the store as the host's last seen ('moo hosts ls'). root: the
 * moo root to report the free disk of (NULL: the inventory's, else $MOO_ROOT there, else
 * ~/.moo). On success *out is the caller's (moo_host_facts_free); on failure it is untouched.
 */
MOO_EXTERN int moo_host_probe(struct moo_host_facts **out, struct moo_store *st, const char *host,
			      const char *root, const struct moo_connect_opts *opts,
			      struct moo_error **err);

/*
 * Keeps SSH connections open between commands (moo-hosts(1), KEPT CONNECTIONS): when on,
 * a host's connection is reached through the process that keeps it, and at exit this
 * process forks one for each connection it made. Off until called: a program that links
 * libmoo does not leave processes behind unless it asks (moo(1) asks). $MOO_SSH_PERSIST=0
 * keeps it off whatever the call.
 */
MOO_EXTERN void moo_keep_connections(bool on);

/*
 * Ends the connection moo keeps open to host between commands ($MOO_SSH_PERSIST,
 * moo(1)), when there is one: for a host about to be removed or changed.
 */
MOO_EXTERN void moo_host_disconnect(const char *host);

/* The same facts of this machine: the probe script under a local sh. */
MOO_EXTERN int moo_host_probe_local(struct moo_host_facts **out, struct moo_error **err);

/* Appends the facts as a JSON object. */
MOO_EXTERN void moo_host_facts_to_json(struct moo_buf *out, const struct moo_host_facts *f);

/* Reads facts back from moo_host_facts_to_json's JSON (as the store keeps them). */
MOO_EXTERN int moo_host_facts_from_json(struct moo_host_facts **out, const char *text,
					struct moo_error **err);

MOO_EXTERN void moo_host_facts_free(struct moo_host_facts *f);

/*
 * Connects to host far enough to see its key, and records the key in known_hosts when it is
 * unknown (never when it changed). *out is filled on success; free with
 * moo_host_key_dispose.
 */
MOO_EXTERN int moo_host_trust(struct moo_host_key *out, const char *host,
			      const struct moo_connect_opts *opts, struct moo_error **err);
MOO_EXTERN void moo_host_key_dispose(struct moo_host_key *k);
#endif
