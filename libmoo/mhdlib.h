/*
 * mhdlib.h: libmicrohttpd, loaded the first time it is needed. Internal.
 *
 * libmicrohttpd brings GnuTLS and its ~10 libraries (p11-kit, idn2, tasn1, gmp, …): ~5 ms
 * of CPU at every start of moo, yet only moo serve uses it.
 * So libmoo does not link it: the file that uses it includes this header instead of the
 * library's own, and calls moo__mhdlib_load() first; the names below then go through
 * the table it fills (util/mhdlib.c), as archivelib.h does for libarchive.
 */
#ifndef MOO_MHDLIB_H
#define MOO_MHDLIB_H
#include <sys/socket.h>
#include <microhttpd.h>
#include "internal.h"

/* clang-format off */
#define MOO__MHDLIB_FUNCS(X) \
	X(MHD_add_response_header) \
	X(MHD_create_response_from_buffer) \
	X(MHD_destroy_response) \
	X(MHD_get_connection_info) \
	X(MHD_get_daemon_info) \
	X(MHD_get_fdset2) \
	X(MHD_get_timeout) \
	X(MHD_lookup_connection_value) \
	X(MHD_queue_response) \
	X(MHD_resume_connection) \
	X(MHD_run) \
	X(MHD_run_from_select) \
	X(MHD_start_daemon) \
	X(MHD_stop_daemon) \
	X(MHD_suspend_connection)
/* clang-format on */

struct moo__mhdlib {
#define MOO__MHDLIB_FIELD(f) __typeof__(f) *f;
	MOO__MHDLIB_FUNCS(MOO__MHDLIB_FIELD)
#undef MOO__MHDLIB_FIELD
};
extern struct moo__mhdlib moo__mhdlib;

/* Loads libmicrohttpd once (thread-safe). MOO_EIO, naming the library, when it cannot. */
int moo__mhdlib_load(struct moo_error **err);

#ifndef MOO__MHDLIB_NO_NAMES
/* clang-format off */
#define MHD_add_response_header         moo__mhdlib.MHD_add_response_header
#define MHD_create_response_from_buffer moo__mhdlib.MHD_create_response_from_buffer
#define MHD_destroy_response            moo__mhdlib.MHD_destroy_response
#define MHD_get_connection_info         moo__mhdlib.MHD_get_connection_info
#define MHD_get_daemon_info             moo__mhdlib.MHD_get_daemon_info
#define MHD_get_fdset2                  moo__mhdlib.MHD_get_fdset2
#define MHD_get_timeout                 moo__mhdlib.MHD_get_timeout
#define MHD_lookup_connection_value     moo__mhdlib.MHD_lookup_connection_value
#define MHD_queue_response              moo__mhdlib.MHD_queue_response
#define MHD_resume_connection           moo__mhdlib.MHD_resume_connection
#define MHD_run                         moo__mhdlib.MHD_run
#define MHD_run_from_select             moo__mhdlib.MHD_run_from_select
#define MHD_start_daemon                moo__mhdlib.MHD_start_daemon
#define MHD_stop_daemon                 moo__mhdlib.MHD_stop_daemon
#define MHD_suspend_connection          moo__mhdlib.MHD_suspend_connection
/* clang-format on */
#endif
#endif
