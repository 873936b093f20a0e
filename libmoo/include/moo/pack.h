/* pack.c: a project folder as a deterministic bundle ZIP (moo pack). */
#ifndef MOO_PACK_H
#define MOO_PACK_H
#include "moo/common.h"
#include "moo/util.h"
#include "moo/error.h"

struct moo_pack_opts {
	unsigned version;         /* MOO_PACK_OPTS_VERSION */
	moo_progress_cb progress; /* bytes of files read; NULL: none */
	void *progress_data;
};
#define MOO_PACK_OPTS_VERSION 1
#define MOO_PACK_OPTS_INIT                        \
	{                                         \
		MOO_PACK_OPTS_VERSION, NULL, NULL \
	}

/* What a pack wrote. */
struct moo_pack_result {
	char sha256[65]; /* of the ZIP, lowercase hex */
	uint64_t size;   /* of the ZIP */
	size_t n_files;  /* regular files */
	size_t n_dirs;
	uint64_t bytes_in; /* of the files packed */
};

/*
 * Packs the project in dir into out_zip, deterministically: entries sorted by path,
 * every timestamp 1980-01-01 00:00, modes 0644 or 0755 (by the owner's exec bit) and
 * 0755 for directories, no owner, no extra fields; deflated (zlib level 6) unless the
 * data does not compress. The same tree gives the same bytes. Skips .git,
 * __pycache__, the spec's output_folder, the ZIP itself and what dir/.mooignore
 * (gitignore syntax) names. Refuses an invalid metadata.yaml (MOO_ESPEC), and symbolic
 * links and special files (MOO_EBUNDLE). out_zip is written to a temporary file and
 * renamed; on failure it is left as it was. result may be NULL.
 */
MOO_EXTERN int moo_pack(struct moo_pack_result *result, const char *dir, const char *out_zip,
			const struct moo_pack_opts *opts, struct moo_error **err);
#endif
