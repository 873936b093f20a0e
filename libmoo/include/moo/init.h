#ifndef MOO_INIT_H
#define MOO_INIT_H
#include "moo/common.h"
#include "moo/error.h"

/* The project templates moo can scaffold, NULL-terminated: "sklearn", "pytorch", … */
MOO_EXTERN const char *const *moo_init_templates(void);

/* Called once per file, with its path relative to the project, as it is written or kept. */
typedef void (*moo_init_cb)(const char *relpath, bool created, void *data);

/*
 * Writes the template's files into dir (created if missing). An existing file is
 * never overwritten: it is kept and reported with created=false.
 */
MOO_EXTERN int moo_init_project(const char *dir, const char *template_name, moo_init_cb cb,
				void *data, struct moo_error **err);
#endif
