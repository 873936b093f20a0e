#ifndef MOO_BUNDLE_H
#define MOO_BUNDLE_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/spec.h"

/*
 * A model bundle: the ZIP of a project (metadata.yaml + code), opened from a directory,
 * a .zip file or an http(s) URL. Whatever the source, a bundle is a ZIP file on disk
 * with its sha256, and the spec read from it. Directories are packed deterministically
 * (moo pack), so the same tree always has the same sha256.
 */
struct moo_bundle {
	char *source;   /* as given */
	char *zip_path; /* the bundle's ZIP on this machine (packed, downloaded or given) */
	char *sha256;   /* of the ZIP's bytes, 64 lowercase hex digits */
	uint64_t size;  /* of the ZIP */
	char *prefix;   /* the single top folder the entries sit under ("" when none) */
	struct moo_spec *spec;
};

/* Progress of a long transfer or pack: done and total bytes (total 0 when unknown). */
typedef void (*moo_progress_cb)(uint64_t done, uint64_t total, void *data);

struct moo_bundle_opts {
	unsigned version;          /* MOO_BUNDLE_OPTS_VERSION */
	const char *sha256;        /* expected sha256 of the ZIP, or NULL */
	uint64_t max_bytes;        /* total bytes extracted; 0: MOO_BUNDLE_MAX_BYTES */
	uint64_t max_entries;      /* 0: MOO_BUNDLE_MAX_ENTRIES */
	uint64_t max_ratio;        /* per-entry uncompressed/compressed; 0: MOO_BUNDLE_MAX_RATIO */
	const char *cache_dir;     /* where packed and downloaded ZIPs go; NULL: a temp dir */
	moo_progress_cb progress;  /* NULL: none */
	void *progress_data;
};
#define MOO_BUNDLE_OPTS_VERSION 1
#define MOO_BUNDLE_OPTS_INIT {MOO_BUNDLE_OPTS_VERSION, NULL, 0, 0, 0, NULL, NULL, NULL}

/*
 * Opens a source and checks it completely (every entry against the extraction rules,
 * the spec valid) without extracting anything permanent. On success *out is the
 * caller's. Refusals are MOO_EBUNDLE or MOO_ESPEC naming the entry and the rule;
 * download failures MOO_ENET.
 */
MOO_EXTERN int moo_bundle_open(struct moo_bundle **out, const char *source,
			       const struct moo_bundle_opts *opts, struct moo_error **err);

/*
 * Extracts the bundle into dest, which must not exist yet (it is created). Only regular
 * files and directories; the single top folder, if any, is stripped. On failure dest
 * does not exist afterwards: nothing is left behind.
 */
MOO_EXTERN int moo_bundle_extract(const struct moo_bundle *b, const char *dest,
				  const struct moo_bundle_opts *opts, struct moo_error **err);

MOO_EXTERN void moo_bundle_free(struct moo_bundle *b);
#endif
