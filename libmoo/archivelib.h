/*
 * archivelib.h: libarchive, loaded the first time a bundle is read. Internal.
 *
 * libarchive brings libxml2, ICU, libstdc++, lzma, zstd, lz4, bzip2 and acl: a dozen
 * libraries whose mapping and relocation cost ~4 ms of CPU at every start of moo, yet only
 * commands that open a bundle read zips (moo_pack writes them with zlib). bundle.c
 * includes this header instead of libarchive's and scan() calls moo__archivelib_load()
 * first; the names below go through the table it fills (util/archivelib.c). (Loading it
 * on a second thread while the store opens was tried: the two threads contend for the
 * address space's lock and 'moo run' got ~2 ms slower.)
 */
#ifndef MOO_ARCHIVELIB_H
#define MOO_ARCHIVELIB_H
#include <archive.h>
#include <archive_entry.h>
#include "internal.h"

/* clang-format off */
#define MOO__ARCHIVELIB_FUNCS(X) \
	X(archive_entry_filetype) \
	X(archive_entry_hardlink) \
	X(archive_entry_is_encrypted) \
	X(archive_entry_mode) \
	X(archive_entry_pathname) \
	X(archive_entry_pathname_utf8) \
	X(archive_entry_size) \
	X(archive_entry_size_is_set) \
	X(archive_entry_symlink) \
	X(archive_error_string) \
	X(archive_filter_bytes) \
	X(archive_read_data) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open_filename) \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_tar) \
	X(archive_read_support_format_zip_seekable)
/* clang-format on */

struct moo__archivelib {
#define MOO__ARCHIVELIB_FIELD(f) __typeof__(f) *f;
	MOO__ARCHIVELIB_FUNCS(MOO__ARCHIVELIB_FIELD)
#undef MOO__ARCHIVELIB_FIELD
};
extern struct moo__archivelib moo__archivelib;

/* Loads libarchive once (thread-safe). MOO_EIO, naming the library, when it cannot. */
int moo__archivelib_load(struct moo_error **err);

#ifndef MOO__ARCHIVELIB_NO_NAMES
/* clang-format off */
#define archive_entry_filetype                   moo__archivelib.archive_entry_filetype
#define archive_entry_hardlink                   moo__archivelib.archive_entry_hardlink
#define archive_entry_is_encrypted               moo__archivelib.archive_entry_is_encrypted
#define archive_entry_mode                       moo__archivelib.archive_entry_mode
#define archive_entry_pathname                   moo__archivelib.archive_entry_pathname
#define archive_entry_pathname_utf8              moo__archivelib.archive_entry_pathname_utf8
#define archive_entry_size                       moo__archivelib.archive_entry_size
#define archive_entry_size_is_set                moo__archivelib.archive_entry_size_is_set
#define archive_entry_symlink                    moo__archivelib.archive_entry_symlink
#define archive_error_string                     moo__archivelib.archive_error_string
#define archive_filter_bytes                     moo__archivelib.archive_filter_bytes
#define archive_read_data                        moo__archivelib.archive_read_data
#define archive_read_free                        moo__archivelib.archive_read_free
#define archive_read_new                         moo__archivelib.archive_read_new
#define archive_read_next_header                 moo__archivelib.archive_read_next_header
#define archive_read_open_filename               moo__archivelib.archive_read_open_filename
#define archive_read_support_filter_gzip         moo__archivelib.archive_read_support_filter_gzip
#define archive_read_support_filter_zstd         moo__archivelib.archive_read_support_filter_zstd
#define archive_read_support_format_tar          moo__archivelib.archive_read_support_format_tar
#define archive_read_support_format_zip_seekable moo__archivelib.archive_read_support_format_zip_seekable
/* clang-format on */
#endif
#endif
