/*
 * resolve: what the image table (images.c), resolution (resolve.c) and moo.lock (lock.c)
 * share (internal).
 */
#ifndef MOO__RESOLVE_H
#define MOO__RESOLVE_H
#include "moo.h"
#include "registry.h"

struct entry {
	char *framework;
	char **versions;
	size_t n_versions;
	char **python;
	size_t n_python;
	enum moo_accel accel;
	char *cuda, *cann, *min_driver;
	char *image;
	char **archs;
	size_t n_archs;
	char **install;
	size_t n_install;
	char *setup, *index;
	char *file;
	int line;
	bool from_config;
};

struct cuda_driver {
	char *cuda, *driver;
};

struct moo_images {
	struct entry *e;
	size_t n;
	struct cuda_driver *cd;
	size_t n_cd;
	struct moo__registry *reg;
	size_t n_reg;
};

extern const char *const moo__frameworks[6]; /* images.c: the frameworks a table names */
void moo__strv_free(char **v, size_t n);
char *moo__dup0(const char *s);
int moo__vercmp(const char *a, const char *b);
bool moo__verfits(const char *asked, const char *v);
const char *moo__served(const char *v, const char *asked);
char *moo__expand(const char *s, const char *version, const char *python);
const char *moo__canonical(const char *name);
const char *moo__min_driver(const struct moo_images *t, const struct entry *e);
#endif
