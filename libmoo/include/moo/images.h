#ifndef MOO_IMAGES_H
#define MOO_IMAGES_H
#include "moo/common.h"
#include "moo/error.h"

/*
 * images.c: the image table moo_resolve picks from. It is spec/images.yaml, built into the
 * library, after config.yaml's own 'images:' entries; config.yaml's 'registries:' maps a
 * registry to a mirror and marks plain-HTTP ones (moo-config(5)).
 */

/* The table: the built-in entries and config.yaml's, and the registry settings. Opaque. */
struct moo_images;

/*
 * Loads the built-in table and the 'images:' and 'registries:' sections of config.yaml
 * (path NULL: moo_config_path; a missing file adds nothing). Problems name the file,
 * line and column.
 */
MOO_EXTERN int moo_images_load(struct moo_images **out, const char *config_path,
			       struct moo_error **err);

/* The same with config.yaml's text in memory (NULL: none); name is used in diagnostics. */
MOO_EXTERN int moo_images_parse(struct moo_images **out, const char *config, size_t len,
				const char *name, struct moo_error **err);

MOO_EXTERN void moo_images_free(struct moo_images *t);

/* "linux/amd64" for uname -m's "x86_64" (and arm64, arm/v7, ppc64le, s390x, 386, riscv64). */
MOO_EXTERN const char *moo_platform_for_arch(const char *uname_m);
#endif
