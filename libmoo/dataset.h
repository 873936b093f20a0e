/*
 * dataset: a spec's dataset.source placed once per host. Internal (moo/dataset.h is the
 * public part: list, remove, gc).
 */
#ifndef MOO__DATASET_H
#define MOO__DATASET_H
#include "internal.h"
#include "moo/bundle.h"

struct moo__transport;

/* Where a dataset was placed for a job. */
struct moo__dataset {
	char *sha256;  /* of the source's bytes (moo-datasets(1) says how a folder's is made) */
	char *source;  /* the source as placed: a local path made absolute */
	char *dir;     /* <root>/datasets/<sha256> on the host */
	uint64_t sent; /* bytes sent to the host (or, on this machine, copied or downloaded) */
	struct moo_buf log; /* one line for the head of the job's process.log */
};

/*
 * Places spec's dataset on t's host for a job of bundle b. Nothing is done (out->dir
 * NULL) when the spec has no dataset or its source is not a place (a URL, a path on this
 * machine, HOST:PATH): text such as 'sklearn.datasets.load_diabetes' stays a description.
 * lock: the job's moo.lock text, or NULL; its dataset.sha256 and dataset.source, when
 * there, win over the spec's. A sha256 that does not match is refused, naming the
 * dataset: MOO_EBUNDLE against the spec, MOO_ERESOLVE (drift) against a lock.
 */
int moo__dataset_place(struct moo__transport *t, const struct moo_bundle *b, const char *lock,
		       struct moo__dataset *out, struct moo_error **err);
/* Records that job_id uses the dataset (<sha256>.jobs on the host). */
int moo__dataset_use(struct moo__transport *t, const struct moo__dataset *d, const char *job_id,
		     struct moo_error **err);
/* lock with dataset {name, source, sha256} set: a new string (the caller frees it). */
char *moo__dataset_lock(const char *lock, const char *name, const struct moo__dataset *d);
void moo__dataset_dispose(struct moo__dataset *d);

/* bundle.c: its downloader (resuming from part) and its safe extraction, for datasets. */
int moo__download(const char *url, const char *part, moo_progress_cb progress, void *data,
		  uint64_t max, struct moo_error **err);
/* Extracts a ZIP (tar false) or a .tar.gz/.tar.zst into dest (not existing) with the
 * bundle rules: regular files and folders only, no '..', caps on bytes, entries, ratio. */
int moo__archive_extract(const char *path, const char *label, bool tar, const char *dest,
			 uint64_t max_bytes, struct moo_error **err);
#endif
