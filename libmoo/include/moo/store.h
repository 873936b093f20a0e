#ifndef MOO_STORE_H
#define MOO_STORE_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/host.h"

/*
 * The job store: one SQLite database (WAL) holding every job and its metrics, at
 * $MOO_HOME/moo.db when MOO_HOME is set, else $XDG_DATA_HOME/moo/moo.db (XDG_DATA_HOME
 * defaulting to ~/.local/share). Any number of moo processes may use it at once; a
 * writer waits for the others instead of failing, so no record is ever lost.
 */
struct moo_store;       /* opaque */
struct moo_job;         /* moo/job.h */
struct moo_publication; /* moo/publish.h */

/* Filters for moo_store_list; a NULL or zero field matches everything. */
struct moo_job_filter {
	unsigned version;     /* MOO_JOB_FILTER_VERSION */
	unsigned status_mask; /* 1 << enum moo_job_status; 0: all */
	const char *name;     /* exact --name */
	size_t limit;         /* newest first; 0: no limit */
	/* version 2 */
	const char *sweep; /* only the points of this sweep, in point order */
	/* version 3 */
	const char *host; /* only the jobs of this host, as named ("local": this machine) */
};
#define MOO_JOB_FILTER_VERSION 3
#define MOO_JOB_FILTER_INIT                                    \
	{                                                      \
		MOO_JOB_FILTER_VERSION, 0, NULL, 0, NULL, NULL \
	}

/*
 * Opens (creating it and its folder when missing) and migrates the store at path, or at
 * the default path when path is NULL. On success *out is the caller's.
 */
MOO_EXTERN int moo_store_open(struct moo_store **out, const char *path, struct moo_error **err);
MOO_EXTERN void moo_store_close(struct moo_store *st);

/*
 * Tells the store the caller has time to spare (waiting on a job, say): what this
 * connection wrote is folded from the WAL into the database, so that the next process to
 * open the store has less to read. Costs a sync of the disk; never blocks other moo
 * processes. NULL-safe.
 */
MOO_EXTERN void moo_store_idle(struct moo_store *st);

/* The schema version the store is at (migrations applied). */
MOO_EXTERN int moo_store_schema_version(struct moo_store *st);

/* Records a new job; MOO_EEXIST when its id is taken. */
MOO_EXTERN int moo_store_add_job(struct moo_store *st, const struct moo_job *job,
				 struct moo_error **err);
/* Writes every field of an existing job, its metrics included. */
MOO_EXTERN int moo_store_update_job(struct moo_store *st, const struct moo_job *job,
				    struct moo_error **err);
/*
 * Finds a job by id, by a unique id prefix (at least 3 characters after "moo-job-"), or
 * by name (the newest of that name). MOO_ENOTFOUND when nothing matches, MOO_EARG when a
 * prefix is ambiguous.
 */
MOO_EXTERN int moo_store_get_job(struct moo_job **out, struct moo_store *st, const char *ref,
				 struct moo_error **err);
/* Jobs matching the filter, newest first. *out is an array of *n jobs (moo_jobs_free). */
MOO_EXTERN int moo_store_list_jobs(struct moo_job ***out, size_t *n, struct moo_store *st,
				   const struct moo_job_filter *filter, struct moo_error **err);
MOO_EXTERN int moo_store_remove_job(struct moo_store *st, const char *id, struct moo_error **err);

/*
 * What 'moo hosts check' last saw of a host, by the name it was checked under: the
 * facts (host key included) and when. A plain value; moo_host_seen_dispose.
 */
struct moo_host_seen {
	char *name;
	double checked; /* Unix time in seconds */
	struct moo_host_facts *facts;
};

/* Records (replacing what was there) the facts a check of the host named name found. */
MOO_EXTERN int moo_store_put_host_facts(struct moo_store *st, const char *name,
					const struct moo_host_facts *facts, struct moo_error **err);
/* Forgets the facts recorded for name (moo hosts rm). MOO_ENOTFOUND, with no error added,
 * when there were none. */
MOO_EXTERN int moo_store_remove_host_facts(struct moo_store *st, const char *name,
					   struct moo_error **err);
/*
 * The facts last recorded for name, and when. MOO_ENOTFOUND, with no error added, when the
 * host was never checked. On success *out is the caller's (moo_host_seen_dispose).
 */
MOO_EXTERN int moo_store_get_host_facts(struct moo_host_seen *out, struct moo_store *st,
					const char *name, struct moo_error **err);
/* Every host ever checked, by name. *out is an array of *n (moo_host_seen_free). */
MOO_EXTERN int moo_store_list_hosts(struct moo_host_seen **out, size_t *n, struct moo_store *st,
				    struct moo_error **err);
MOO_EXTERN void moo_host_seen_dispose(struct moo_host_seen *h);
MOO_EXTERN void moo_host_seen_free(struct moo_host_seen *v, size_t n);

/* Lists the publications, newest first (moo_publications_free). */
MOO_EXTERN int moo_store_list_publications(struct moo_publication **out, size_t *n,
					   struct moo_store *st, struct moo_error **err);

MOO_EXTERN void moo_publication_dispose(struct moo_publication *p); /* NULL-safe */
MOO_EXTERN void moo_publications_free(struct moo_publication *v, size_t n);
#endif
