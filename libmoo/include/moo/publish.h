#ifndef MOO_PUBLISH_H
#define MOO_PUBLISH_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/store.h"

/*
 * Publishing a finished job to a git repository (libgit2): a model folder holding the
 * result files, metadata.yaml, moo.lock, process.log and a model card README.md, committed
 * on a branch with the user's git identity, an annotated tag that is never moved, optional
 * alias branches that are, and a push. moo-publish(1) is the user's description.
 *
 * Remotes: a path or file:// URL; ssh:// or user@host:path, with the host key checked
 * against known_hosts as 'moo run --on' does; https:// (or http://) with credentials from
 * $MOO_GIT_USERNAME/$MOO_GIT_PASSWORD, then git's credential helper, each offered once.
 */

struct moo_publish_opts {
	unsigned version;    /* MOO_PUBLISH_OPTS_VERSION */
	const char *repo;    /* URL or path of the repository */
	const char *branch;  /* NULL: the remote's default branch, else "main" */
	const char *path;    /* NULL: models/<model.name>/<model.version or job id> */
	const char *tag;     /* NULL: <model.name>-<model.version or job id> */
	const char *alias;   /* a branch moved (forced) to the published commit, or NULL */
	const char *message; /* the commit and tag message, or NULL for moo's */
	bool dry_run;        /* everything but the push and the record */
	bool accept_new_host_key;
	uint64_t max_file_size; /* 0: 50 MB; files above are refused unless Git LFS takes them */
	bool allow_large_files; /* commit files above max_file_size anyway */
};
#define MOO_PUBLISH_OPTS_VERSION 1
#define MOO_PUBLISH_OPTS_INIT                                                                  \
	{                                                                                      \
		MOO_PUBLISH_OPTS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, false, false, 0, \
			false                                                                  \
	}

/* One publication, as moo_publish made it and the store records it. */
struct moo_publication {
	char *job_id;
	char *repo;
	char *branch;
	char *path;
	char *commit; /* hex */
	char *tag;
	char *alias; /* or NULL */
	double published;
	/* moo_publish only: */
	bool new_commit;  /* false: the branch already held this model folder */
	bool new_tag;     /* false: the tag was there already, on the same model */
	unsigned retries; /* pushes replayed after the remote moved on */
	size_t n_files;
	size_t n_lfs; /* files stored as Git LFS pointers */
};

/*
 * Publishes job (which must have succeeded and have its result here) to opts->repo.
 * Publishing the same job again makes no new commit (out->new_commit false). An existing
 * tag on another model, or the model folder on the branch holding other content, is
 * MOO_EEXIST and changes nothing remote; a ref the remote refuses is MOO_ENET naming it;
 * unreachable, host key and authentication failures are MOO_EHOST. On success the
 * publication is recorded in st (unless dry_run) and *out is the caller's
 * (moo_publication_dispose).
 */
MOO_EXTERN int moo_publish(struct moo_publication *out, struct moo_store *st,
			   const struct moo_job *job, const struct moo_publish_opts *opts,
			   struct moo_error **err);

/*
 * A published model, "REPO@TAG", to serve (moo serve REPO@TAG): the tag's model folder
 * checked out into a temporary folder (m->tmp_dir), the predictor from the bundle its
 * moo.lock names (from this machine's bundle store, checked by sha256: MOO_ENOTFOUND when
 * it is not there), in the environment the lock records, as moo_serve_model_from_job.
 */
struct moo_serve_model;
MOO_EXTERN int moo_publish_serve_model(struct moo_serve_model **out, const char *ref,
				       bool accept_new_host_key, struct moo_error **err);

#endif
