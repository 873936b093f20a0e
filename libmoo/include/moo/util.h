#ifndef MOO_UTIL_H
#define MOO_UTIL_H
#include "moo/common.h"

/* util/: what more than one stage uses. */

/* Progress of a long transfer or pack: done and total bytes (total 0 when unknown). */
typedef void (*moo_progress_cb)(uint64_t done, uint64_t total, void *data);

/*
 * Reports the bytes of bundle uploads and result downloads to and from SSH hosts, as
 * they go: cb(bytes so far in this transfer, its total bytes (0 where not known: downloads),
 * "upload" or "download"). NULL: none.
 * Process-wide; set it once (the moo command draws a bar on a terminal).
 */
MOO_EXTERN void moo_set_transfer_progress(moo_progress_cb cb);
#endif
