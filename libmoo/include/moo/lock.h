#ifndef MOO_LOCK_H
#define MOO_LOCK_H
#include "moo/common.h"
#include "moo/error.h"
#include "moo/buf.h"
#include "moo/resolve.h"

/* lock.c: moo.lock, a plan written down (spec/lockfile.md), and read back. */

/* moo.lock: the plan as JSON (spec/lockfile.md), ending with a newline. */
MOO_EXTERN void moo_lock_write(struct moo_buf *out, const struct moo_plan *plan);
/* moo_lock_write's text written to path, atomically (a reader sees the old lock or the new).
 * MOO_EIO, with the path and a hint, when it cannot be. */
MOO_EXTERN int moo_lock_save(const struct moo_plan *plan, const char *path, struct moo_error **err);

/*
 * Reads a moo.lock (version 1 or 2) into a plan, the way moo reproduce and moo serve replay
 * it; name is used in diagnostics. MOO_ESPEC when it is not a lock.
 */
MOO_EXTERN int moo_lock_parse(struct moo_plan **out, const char *text, size_t len, const char *name,
			      struct moo_error **err);
#endif
