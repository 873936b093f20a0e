/* Files built into libmoo by tools/embed.py: the project templates and the scripts. */
#ifndef MOO_EMBEDDED_H
#define MOO_EMBEDDED_H
#include <stddef.h>

struct moo__embedded {
	const char *name; /* "sklearn/train.py" */
	const unsigned char *data;
	size_t size;
};

/* Sorted by name, ended by an entry whose name is NULL. */
extern const struct moo__embedded moo__embedded_files[];
/* Scripts libmoo runs on hosts ("supervisor.sh"), the same shape. */
extern const struct moo__embedded moo__embedded_scripts[];
/* Tables libmoo reads ("images.yaml"), the same shape. */
extern const struct moo__embedded moo__embedded_tables[];
#endif
