#ifndef MOO_COMMON_H
#define MOO_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define MOO_EXTERN       __attribute__((visibility("default")))
#define MOO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MOO_EXTERN
#define MOO_PRINTF(f, a)
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
MOO_EXTERN const char *moo_version(void);

/*
 * Memory: libmoo aborts the process when an allocation fails, as git and GLib do.
 * No function returns an out-of-memory error; callers need not check for one.
 */
#endif
