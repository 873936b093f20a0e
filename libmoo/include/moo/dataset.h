#ifndef MOO_DATASET_H
#define MOO_DATASET_H
#include "moo/common.h"
#include "moo/error.h"

/*
 * Datasets placed on hosts (moo-datasets(1)). A job whose spec names dataset.source gets
 * it once per host in <root>/datasets/<sha256>/ (read-only, handed to the job as
 * MOO_DATASET_DIR); <sha256>.info says what it is and <sha256>.jobs which jobs used it.
 */
struct moo_dataset_info {
	char *sha256;
	char *name;   /* dataset.name when placed, or NULL */
	char *source; /* dataset.source when placed, or NULL */
	uint64_t bytes;
	double placed;    /* epoch seconds, 0 when not known */
	double last_used; /* the last job's start, else placed */
	char **jobs;      /* every job that used it, oldest first */
	size_t n_jobs;
	char **running; /* those of them not ended: it is not removed while there are any */
	size_t n_running;
};

/* The datasets on host (NULL or "local": this machine), in *out (free with
 * moo_dataset_list_free), sorted by last use, newest first. */
MOO_EXTERN int moo_dataset_list(struct moo_dataset_info **out, size_t *n, const char *host,
				struct moo_error **err);
MOO_EXTERN void moo_dataset_list_free(struct moo_dataset_info *v, size_t n);

/*
 * Removes the dataset ref names (a sha256, a unique prefix of 8 digits or more, or a
 * name only one dataset has) from host. MOO_ENOTFOUND when none matches, MOO_EARG when
 * several do or a running job uses it (nothing removed). *sha256, when
 * not NULL, gets the one removed (the caller frees it); *bytes its size.
 */
MOO_EXTERN int moo_dataset_remove(char **sha256, uint64_t *bytes, const char *host, const char *ref,
				  struct moo_error **err);

/*
 * Removes from host every dataset no running job uses and last used more than
 * older_than seconds ago, and what cut transfers left in staging/datasets/. *removed
 * gets their sha256s (free each and the array), *bytes what was freed.
 */
MOO_EXTERN int moo_dataset_gc(char ***removed, size_t *n_removed, uint64_t *bytes, const char *host,
			      double older_than, struct moo_error **err);
#endif
