#ifndef MOO_BUNDLE_H
#define MOO_BUNDLE_H
#include "moo/common.h"
#include "moo/util.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/spec.h"

/*
 * A model bundle: the ZIP of a project (metadata.yaml + code), opened from a directory,
 * a .zip file or an http(s) URL. Whatever the source, a bundle is a ZIP file on disk
 * with its sha256, and the spec read from it. Directories are packed deterministically
 * (moo_pack), so the same tree always has the same sha256.
 */

/* One entry of a bundle, as it will be extracted. */
struct moo_bundle_file {
	char *path;    /* relative, the top folder stripped; directories end in '/' */
	uint64_t size; /* bytes, as counted while reading (not as declared) */
	bool dir;
	bool exec; /* extracted with mode 0755 rather than 0644 */
};

struct moo_bundle {
	char *source;   /* as given */
	char *zip_path; /* the bundle's ZIP on this machine (packed, downloaded or given);
			   valid until moo_bundle_free: copy it to keep it */
	char *sha256;   /* of the ZIP's bytes, 64 lowercase hex digits */
	uint64_t size;  /* of the ZIP */
	char *prefix;   /* the single top folder the entries sit under, with its '/'
			   ("" when none) */
	struct moo_spec *spec;
	struct moo_bundle_file *files; /* in the ZIP's order */
	size_t n_files;
	uint64_t total_bytes; /* sum of the files' sizes */
	char *owned_dir;      /* private: a temporary directory moo_bundle_free removes, or NULL */
	char *packed_dir;     /* private: the folder the ZIP was packed from, or NULL */
	struct moo__packed *packed; /* private: what was packed, checked again when staged */
	char *spec_text; /* private: metadata.yaml's bytes as in the ZIP (NULL: it holds a NUL) */
};

/* Caps on what a bundle may extract to; refusals past them are MOO_EBUNDLE. */
#define MOO_BUNDLE_MAX_BYTES   (4ull << 30) /* bytes actually written, all entries */
#define MOO_BUNDLE_MAX_ENTRIES 100000u      /* files and directories */
#define MOO_BUNDLE_MAX_RATIO   100u         /* uncompressed / compressed, per entry */
#define MOO_BUNDLE_RATIO_FLOOR (1u << 20)   /* entries smaller than this skip the ratio cap */

struct moo_bundle_opts {
	unsigned version;         /* MOO_BUNDLE_OPTS_VERSION */
	const char *sha256;       /* expected sha256 of the ZIP, or NULL */
	uint64_t max_bytes;       /* total bytes extracted; 0: MOO_BUNDLE_MAX_BYTES */
	uint64_t max_entries;     /* 0: MOO_BUNDLE_MAX_ENTRIES */
	uint64_t max_ratio;       /* per-entry uncompressed/compressed; 0: MOO_BUNDLE_MAX_RATIO */
	const char *cache_dir;    /* where packed and downloaded ZIPs go; NULL: a temp dir */
	moo_progress_cb progress; /* NULL: none */
	void *progress_data;
};
#define MOO_BUNDLE_OPTS_VERSION 1
#define MOO_BUNDLE_OPTS_INIT                                             \
	{                                                                \
		MOO_BUNDLE_OPTS_VERSION, NULL, 0, 0, 0, NULL, NULL, NULL \
	}

/*
 * Opens a source and checks it completely (every entry against the extraction rules,
 * every byte inflated and counted, the spec valid, its entry points present) without
 * extracting anything. A directory is packed (moo_pack) into cache_dir; a URL is
 * downloaded there, resuming an interrupted transfer with a Range request (redirects
 * followed; connect timeout 30 s; a transfer that stalls for 60 s fails). On success
 * *out is the caller's. Refusals are MOO_EBUNDLE or MOO_ESPEC naming the entry and the
 * rule; download failures MOO_ENET; a sha256 other than opts->sha256 MOO_EBUNDLE.
 */
MOO_EXTERN int moo_bundle_open(struct moo_bundle **out, const char *source,
			       const struct moo_bundle_opts *opts, struct moo_error **err);

/*
 * Extracts the bundle into dest, which must not exist yet (its parent is created). Only
 * regular files and directories; the single top folder, if any, is stripped. Every rule
 * and cap is enforced again while writing. Entries are staged in dest.tmp-XXXXXX beside
 * dest and renamed to dest at the end; on failure dest does not exist afterwards and the
 * staging directory is removed: nothing is left behind.
 */
MOO_EXTERN int moo_bundle_extract(const struct moo_bundle *b, const char *dest,
				  const struct moo_bundle_opts *opts, struct moo_error **err);

/* Frees b and removes the temporary directory it owns, if any. NULL-safe. */
MOO_EXTERN void moo_bundle_free(struct moo_bundle *b);
#endif
