/*
 * bundle: open a model from a directory, a .zip or an http(s) URL, check it, stage it.
 *
 * Whatever the source, the bundle is a ZIP on disk (a directory is packed, a URL is
 * downloaded) read with libarchive in two passes. The first reads only the headers and
 * applies the rules on names and types, counts entries, finds duplicates and the single
 * top folder. The second inflates every entry, counting the bytes actually produced
 * (declared sizes lie) against the total and per-entry ratio caps, and either discards
 * them (open) or writes them into a fresh staging directory (extract) that is renamed
 * into place at the end or removed whole on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <zlib.h>
#include "archivelib.h"
#include "curl.h"
#include "dataset.h"
#include "internal.h"

#define READ_CHUNK (256u << 10)

/* ---- a set of entry names --------------------------------------------------------- */

enum kind { K_NONE, K_FILE, K_DIR, K_IMPLICIT_DIR };

struct nameset {
	char **names;
	unsigned char *kinds;
	size_t cap, n;
};

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	}
	return h;
}

static size_t set_slot(const struct nameset *s, const char *name)
{
	size_t i = name_hash(name) & (s->cap - 1);

	while (s->names[i] && strcmp(s->names[i], name)) {
		i = (i + 1) & (s->cap - 1);
	}
	return i;
}

static enum kind set_get(const struct nameset *s, const char *name)
{
	size_t i;

	if (!s->cap) {
		return K_NONE;
	}
	i = set_slot(s, name);
	return s->names[i] ? (enum kind)s->kinds[i] : K_NONE;
}

static void set_put(struct nameset *s, const char *name, enum kind k)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct nameset big = {0};

		big.cap = s->cap ? 2 * s->cap : 64;
		big.names = moo__calloc(big.cap, sizeof(*big.names));
		big.kinds = moo__calloc(big.cap, 1);
		for (i = 0; i < s->cap; i++) {
			if (s->names[i]) {
				size_t j = set_slot(&big, s->names[i]);

				big.names[j] = s->names[i];
				big.kinds[j] = s->kinds[i];
			}
		}
		big.n = s->n;
		free(s->names);
		free(s->kinds);
		*s = big;
	}
	i = set_slot(s, name);
	if (!s->names[i]) {
		s->names[i] = moo__strdup(name);
		s->n++;
	}
	s->kinds[i] = (unsigned char)k;
}

static void set_dispose(struct nameset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++) {
		free(s->names[i]);
	}
	free(s->names);
	free(s->kinds);
	memset(s, 0, sizeof(*s));
}

/* ---- reading the ZIP ---------------------------------------------------------------- */

struct scan {
	const char *zip;   /* the file read */
	const char *label; /* what messages call it */
	uint64_t max_bytes, max_entries, max_ratio;
	const char *dest; /* staging directory to write into, or NULL to check only */
	bool tar;         /* a dataset's .tar.gz or .tar.zst rather than a ZIP */
	int dest_fd;
	struct nameset names;
	char *prefix; /* "top/" or "" */
	uint64_t entries, total;
	struct moo_bundle_file *files;
	size_t n_files;
	struct moo_buf spec_text;
	bool have_spec;
	struct moo_error **err;
};

static struct moo_error *refuse(struct scan *s, const char *name, const char *fmt, ...)
	MOO_PRINTF(3, 4);

/* "entry 'NAME' refused: RULE", located at the bundle. */
static struct moo_error *refuse(struct scan *s, const char *name, const char *fmt, ...)
{
	struct moo_buf rule = MOO_BUF_INIT;
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(&rule, fmt, ap);
	va_end(ap);
	e = moo__error_add(s->err, MOO_EBUNDLE, MOO_SEV_ERROR, "entry '%s' refused: %s", name,
			   rule.ptr);
	moo__error_at(e, s->label, 0, 0);
	moo_buf_dispose(&rule);
	return e;
}

static int archive_open(struct scan *s, struct archive **out)
{
	struct archive *a = archive_read_new();
	struct moo_error *e;

	if (s->tar) {
		archive_read_support_format_tar(a);
		archive_read_support_filter_gzip(a);
		archive_read_support_filter_zstd(a);
	} else {
		archive_read_support_format_zip_seekable(a);
	}
	if (archive_read_open_filename(a, s->zip, 65536) == ARCHIVE_OK) {
		*out = a;
		return 0;
	}
	e = moo__error_add(s->err, MOO_EBUNDLE, MOO_SEV_ERROR,
			   "not a readable %s file (truncated, damaged or another format)",
			   s->tar ? "tar" : "ZIP");
	moo__error_at(e, s->label, 0, 0);
	moo__error_cause(e, archive_error_string(a));
	moo__error_hint(e, s->tar ? "check the archive and its name (.tar.gz, .tgz, .tar.zst)"
				  : "make the bundle with 'moo pack DIR'");
	archive_read_free(a);
	return MOO_EBUNDLE;
}

static bool is_junk(const char *name)
{
	return !strncmp(name, "__MACOSX/", 9);
}

/* The rules every entry's header must pass. Returns the name without a trailing '/'. */
static int check_header(struct scan *s, struct archive_entry *ae, char **out_name, bool *dir)
{
	const char *raw = archive_entry_pathname(ae);
	mode_t type = archive_entry_filetype(ae);
	char *name;
	size_t len;
	struct moo_error *e;

	if (!raw) {
		raw = archive_entry_pathname_utf8(ae);
	}
	if (!raw) {
		refuse(s, "?", "its name cannot be read");
		return MOO_EBUNDLE;
	}
	if (strchr(raw, '\\')) {
		refuse(s, raw, "a backslash in a path");
		return MOO_EBUNDLE;
	}
	if (raw[0] == '/') {
		refuse(s, raw, "an absolute path");
		return MOO_EBUNDLE;
	}
	len = strlen(raw);
	name = moo__strndup(raw, len && raw[len - 1] == '/' ? len - 1 : len);
	*dir = type == AE_IFDIR || (len && raw[len - 1] == '/');
	if (!moo__path_is_safe_relative(name)) {
		size_t nl = strlen(name);
		bool dotdot = !strcmp(name, "..") || !strncmp(name, "../", 3) ||
			      strstr(name, "/../") || (nl >= 3 && !strcmp(name + nl - 3, "/.."));

		refuse(s, raw,
		       dotdot ? "a '..' component leads outside the bundle"
			      : "an empty or '.' component, or a control character");
		free(name);
		return MOO_EBUNDLE;
	}
	if (archive_entry_hardlink(ae)) {
		refuse(s, raw, "a hard link");
	} else if (type == AE_IFLNK || archive_entry_symlink(ae)) {
		refuse(s, raw, "a symbolic link");
	} else if (type != AE_IFREG && type != AE_IFDIR) {
		refuse(s, raw,
		       "a device file, FIFO or socket (only regular files and directories)");
	} else if (*dir != (type == AE_IFDIR)) {
		refuse(s, raw, "a file whose name ends in '/'");
	} else if (archive_entry_mode(ae) & 07000) {
		refuse(s, raw, "a setuid, setgid or sticky mode");
	} else if (archive_entry_is_encrypted(ae)) {
		refuse(s, raw, "encrypted");
	} else if (archive_entry_size_is_set(ae) &&
		   (uint64_t)archive_entry_size(ae) > s->max_bytes) {
		e = refuse(s, raw, "declares %lld bytes, over the cap of %llu",
			   (long long)archive_entry_size(ae), (unsigned long long)s->max_bytes);
		moo__error_hint(e, "raise the cap with --max-bytes if the bundle is trusted");
	} else {
		*out_name = name;
		return 0;
	}
	free(name);
	return MOO_EBUNDLE;
}

/* Records name, refusing duplicates and a file used as a folder. */
static int add_name(struct scan *s, const char *raw, char *name, bool dir)
{
	char *p;
	enum kind k;

	for (p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		k = set_get(&s->names, name);
		if (k == K_FILE) {
			refuse(s, raw, "'%s' is a file earlier in the bundle, not a folder", name);
			*p = '/';
			return MOO_EBUNDLE;
		}
		if (k == K_NONE) {
			set_put(&s->names, name, K_IMPLICIT_DIR);
		}
		*p = '/';
	}
	k = set_get(&s->names, name);
	if (k == K_FILE || k == K_DIR || (k == K_IMPLICIT_DIR && !dir)) {
		refuse(s, raw, "a duplicate name");
		return MOO_EBUNDLE;
	}
	set_put(&s->names, name, dir ? K_DIR : K_FILE);
	return 0;
}

/* ---- the ZIP's own records: names and types as written -------------------------------- */

/*
 * libarchive rewrites what these rules are about before they can be checked: it turns a
 * backslash in a ZIP entry's name into '/' ('a\b' reads as 'a/b', 'C:\evil' as 'C:/evil')
 * and gives a FIFO's entry as a regular file. So the ZIP's central directory, and each
 * entry's local header (the name libarchive may read instead), are read here as written:
 * a name with a backslash or a NUL, and a Unix type other than file or folder, are
 * refused, the name shown as it is in the ZIP. The rest of the rules are pass 1's.
 */

#define RAW_WINDOW (1u << 20) /* the central directory is read through it */

struct rawzip {
	int fd;
	uint64_t size;
	unsigned char *win; /* RAW_WINDOW bytes of the file from win_at */
	uint64_t win_at;
	size_t win_len;
	char *name; /* the last local name read, NUL-terminated */
};

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
	return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const unsigned char *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool raw_read(struct rawzip *z, uint64_t off, void *buf, size_t len)
{
	unsigned char *p = buf;

	if (off > z->size || len > z->size - off) {
		return false;
	}
	while (len) {
		ssize_t n = pread(z->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		p += n, off += (uint64_t)n, len -= (size_t)n;
	}
	return true;
}

/* len bytes of the file at off, read through the window (len <= RAW_WINDOW), or NULL. */
static const unsigned char *raw_at(struct rawzip *z, uint64_t off, size_t len)
{
	size_t n;

	if (off >= z->win_at && off - z->win_at <= z->win_len &&
	    len <= z->win_len - (off - z->win_at)) {
		return z->win + (off - z->win_at);
	}
	if (off > z->size || len > z->size - off || len > RAW_WINDOW) {
		return NULL;
	}
	n = z->size - off < RAW_WINDOW ? (size_t)(z->size - off) : RAW_WINDOW;
	z->win_len = 0;
	if (!raw_read(z, off, z->win, n)) {
		return NULL;
	}
	z->win_at = off;
	z->win_len = n;
	return z->win;
}

/* Reads a name of len bytes at off into z->name. */
static bool raw_name(struct rawzip *z, uint64_t off, size_t len)
{
	free(z->name);
	z->name = moo__malloc(len + 1);
	z->name[len] = '\0';
	return raw_read(z, off, z->name, len);
}

static int raw_unreadable(struct scan *s, const char *what)
{
	struct moo_error *e =
		moo__error_add(s->err, MOO_EBUNDLE, MOO_SEV_ERROR,
			       "not a readable ZIP file (truncated, damaged or another format)");

	moo__error_at(e, s->label, 0, 0);
	moo__error_cause(e, what);
	moo__error_hint(e, "make the bundle with 'moo pack DIR'");
	return MOO_EBUNDLE;
}

/* The rules on a name as written: len bytes, which may hold a NUL (shown: the same up to
 * the first NUL, NUL-terminated). */
static int raw_check_name(struct scan *s, const char *name, const char *shown, size_t len)
{
	if (memchr(name, '\0', len)) {
		refuse(s, shown, "a NUL byte in its name");
		return MOO_EBUNDLE;
	}
	if (memchr(name, '\\', len)) {
		refuse(s, shown, "a backslash in a path");
		return MOO_EBUNDLE;
	}
	return 0;
}

/* Finds the central directory: *start (in the file), *count, *len, and *base, what was
 * put before the ZIP (its offsets are off by as much). */
static int raw_directory(struct scan *s, struct rawzip *z, uint64_t *start, uint64_t *count,
			 uint64_t *len, uint64_t *base)
{
	unsigned char *tail = NULL, loc[20], z64[56], sig[4];
	size_t n = z->size < 22 + 65535 ? (size_t)z->size : 22 + 65535, i;
	uint64_t end_at = 0, off, record;
	bool found = false;
	int r;

	tail = moo__malloc(n ? n : 1);
	if (!raw_read(z, z->size - n, tail, n)) {
		r = raw_unreadable(s, "it is too short");
		goto done;
	}
	for (i = n >= 22 ? n - 22 + 1 : 0; i-- > 0;) {
		if (rd32(tail + i) == 0x06054b50 && i + 22 + rd16(tail + i + 20) <= n) {
			found = true;
			break;
		}
	}
	if (!found) {
		r = raw_unreadable(s, "no end of central directory record");
		goto done;
	}
	end_at = z->size - n + i;
	record = end_at;
	*count = rd16(tail + i + 10);
	*len = rd32(tail + i + 12);
	off = rd32(tail + i + 16);
	if ((*count == 0xffff || *len == 0xffffffff || off == 0xffffffff) && end_at >= 20 &&
	    raw_read(z, end_at - 20, loc, sizeof(loc)) && rd32(loc) == 0x07064b50) {
		record = rd64(loc + 8);
		if (!raw_read(z, record, z64, sizeof(z64)) || rd32(z64) != 0x06064b50) {
			r = raw_unreadable(s, "a damaged ZIP64 end of central directory record");
			goto done;
		}
		*count = rd64(z64 + 32);
		*len = rd64(z64 + 40);
		off = rd64(z64 + 48);
	}
	/* where it says, or right before the record when data was put before the ZIP */
	if (raw_read(z, off, sig, 4) && rd32(sig) == 0x02014b50) {
		*start = off;
	} else if (*len <= record && record - *len >= off && raw_read(z, record - *len, sig, 4) &&
		   rd32(sig) == 0x02014b50) {
		*start = record - *len;
	} else if (*count == 0) {
		*start = off;
	} else {
		r = raw_unreadable(s, "no central directory where the ZIP says");
		goto done;
	}
	*base = *start - off;
	r = 0;
done:
	free(tail);
	return r;
}

/* The local header's offset from an entry's ZIP64 extra field (h: its central record, x:
 * its extra fields): after the sizes that are 0xffffffff in h. */
static bool raw_zip64_offset(const unsigned char *h, const unsigned char *x, uint64_t *out)
{
	size_t xlen = rd16(h + 30), i, n, skip;

	for (i = 0; i + 4 <= xlen; i += 4 + n) {
		n = rd16(x + i + 2);
		if (rd16(x + i) != 0x0001) {
			continue;
		}
		skip = (rd32(h + 24) == 0xffffffff ? 8 : 0) + (rd32(h + 20) == 0xffffffff ? 8 : 0);
		if (skip + 8 > n || i + 4 + skip + 8 > xlen) {
			return false;
		}
		*out = rd64(x + i + 4 + skip);
		return true;
	}
	return false;
}

/* Pass 0, for a ZIP: the names and types as the ZIP writes them. */
static int pass_raw(struct scan *s)
{
	struct rawzip z = {.fd = -1};
	uint64_t start, count, len, pos, i, base, local;
	struct stat st;
	int r;

	z.fd = open(s->zip, O_RDONLY | O_CLOEXEC);
	if (z.fd < 0 || fstat(z.fd, &st) < 0) {
		r = moo__fail_errno(s->err, MOO_EIO, "cannot read '%s'", s->label);
		goto done;
	}
	z.size = (uint64_t)st.st_size;
	z.win = moo__malloc(RAW_WINDOW);
	r = raw_directory(s, &z, &start, &count, &len, &base);
	if (r) {
		goto done;
	}
	for (i = 0, pos = start; i < count && i <= s->max_entries; i++) {
		const unsigned char *h = raw_at(&z, pos, 46), *name;
		unsigned char lh[30];
		size_t nlen, xlen;
		unsigned type;

		if (!h || rd32(h) != 0x02014b50) {
			r = raw_unreadable(s, "an entry's record is damaged");
			goto done;
		}
		nlen = rd16(h + 28);
		xlen = rd16(h + 30);
		h = raw_at(&z, pos, 46 + nlen + xlen); /* the window may have moved */
		if (!h) {
			r = raw_unreadable(s, "an entry's name is cut short");
			goto done;
		}
		name = h + 46;
		free(z.name);
		z.name = moo__strndup((const char *)name, nlen); /* for messages */
		if ((r = raw_check_name(s, (const char *)name, z.name, nlen))) {
			goto done;
		}
		type = (rd32(h + 38) >> 16) & S_IFMT;
		if (type && type != S_IFREG && type != S_IFDIR) {
			refuse(s, z.name, "%s (only regular files and directories)",
			       type == S_IFLNK                      ? "a symbolic link"
			       : type == S_IFIFO                    ? "a FIFO"
			       : type == S_IFSOCK                   ? "a socket"
			       : type == S_IFCHR || type == S_IFBLK ? "a device file"
								    : "of an unknown type");
			r = MOO_EBUNDLE;
			goto done;
		}
		/* the local header's name: libarchive reads it rather than this one */
		local = rd32(h + 42);
		if (local == 0xffffffff && !raw_zip64_offset(h, name + nlen, &local)) {
			r = raw_unreadable(s, "an entry's ZIP64 offset is missing");
			goto done;
		}
		pos += 46 + nlen + xlen + rd16(h + 32);
		if (raw_read(&z, base + local, lh, sizeof(lh)) && rd32(lh) == 0x04034b50 &&
		    raw_name(&z, base + local + 30, rd16(lh + 26)) &&
		    (r = raw_check_name(s, z.name, z.name, rd16(lh + 26)))) {
			goto done;
		}
	}
	r = 0;
done:
	if (z.fd >= 0) {
		close(z.fd);
	}
	free(z.win);
	free(z.name);
	return r;
}

/* Pass 1: headers only. */
static int pass_headers(struct scan *s)
{
	struct archive *a = NULL;
	struct archive_entry *ae;
	char *top = NULL;
	bool single = true;
	int r, ar;

	r = archive_open(s, &a);
	if (r) {
		return r;
	}
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		char *name = NULL;
		bool dir = false;
		size_t tl;

		if (++s->entries > s->max_entries) {
			const char *raw = archive_entry_pathname(ae);
			struct moo_error *e;

			e = refuse(s, raw ? raw : "?", "more than %llu entries",
				   (unsigned long long)s->max_entries);
			moo__error_hint(e, "raise the cap with --max-entries if the bundle is "
					   "trusted");
			r = MOO_EBUNDLE;
			goto done;
		}
		r = check_header(s, ae, &name, &dir);
		if (!r && !is_junk(name)) {
			r = add_name(s, archive_entry_pathname(ae), name, dir);
		}
		if (r) {
			free(name);
			goto done;
		}
		if (!is_junk(name)) {
			tl = strcspn(name, "/");
			if (!top) {
				top = moo__strndup(name, tl);
			}
			if (strlen(top) != tl || strncmp(top, name, tl) || (!name[tl] && !dir)) {
				single = false;
			}
		}
		free(name);
	}
	if (ar != ARCHIVE_EOF) {
		struct moo_error *e = moo__error_add(s->err, MOO_EBUNDLE, MOO_SEV_ERROR,
						     "the ZIP's directory cannot be read");

		moo__error_at(e, s->label, 0, 0);
		moo__error_cause(e, archive_error_string(a));
		r = MOO_EBUNDLE;
		goto done;
	}
	/* one top folder, and no metadata.yaml beside it: strip it */
	s->prefix = single && top && set_get(&s->names, "metadata.yaml") == K_NONE
			    ? moo__printf("%s/", top)
			    : moo__strdup("");
	r = 0;
done:
	free(top);
	archive_read_free(a);
	return r;
}

/* Creates the folders above rel (relative to the staging directory). */
static int make_parents(struct scan *s, const char *rel)
{
	char *p = moo__strdup(rel), *q;
	int r = 0;

	for (q = strchr(p, '/'); q; q = strchr(q + 1, '/')) {
		*q = '\0';
		if (mkdirat(s->dest_fd, p, 0755) < 0 && errno != EEXIST) {
			r = moo__fail_errno(s->err, MOO_EIO, "cannot create '%s/%s'", s->dest, p);
			break;
		}
		*q = '/';
	}
	free(p);
	return r;
}

/* Inflates one entry, counting what comes out against the caps, into fd when >= 0. */
static int copy_data(struct scan *s, struct archive *a, const char *raw, const char *rel, int fd,
		     bool is_spec, char *buf, uint64_t *n_out)
{
	la_int64_t start = archive_filter_bytes(a, -1);
	struct moo_error *e;

	for (;;) {
		la_ssize_t got = archive_read_data(a, buf, READ_CHUNK);
		uint64_t in;

		if (got == 0) {
			return 0;
		}
		if (moo__interrupted()) {
			return moo__fail(s->err, MOO_EINTR, "reading '%s' interrupted", s->label);
		}
		if (got < 0) {
			e = refuse(s, raw, "its data cannot be read");
			moo__error_cause(e, archive_error_string(a));
			return MOO_EBUNDLE;
		}
		*n_out += (uint64_t)got;
		s->total += (uint64_t)got;
		in = (uint64_t)(archive_filter_bytes(a, -1) - start);
		if (s->total > s->max_bytes) {
			e = refuse(s, raw, "the bundle inflates to more than the cap of %llu bytes",
				   (unsigned long long)s->max_bytes);
			moo__error_hint(e, "raise the cap with --max-bytes if the bundle is "
					   "trusted");
			return MOO_EBUNDLE;
		}
		if (*n_out > MOO_BUNDLE_RATIO_FLOOR && *n_out / (in ? in : 1) > s->max_ratio) {
			e = refuse(s, raw, "inflates more than %llu times (%llu bytes from %llu)",
				   (unsigned long long)s->max_ratio, (unsigned long long)*n_out,
				   (unsigned long long)in);
			moo__error_hint(e, "a zip bomb? raise the cap with --max-ratio if the "
					   "bundle is trusted");
			return MOO_EBUNDLE;
		}
		if (is_spec && s->spec_text.len <= MOO_SPEC_MAX_BYTES) {
			moo_buf_add(&s->spec_text, buf, (size_t)got);
		}
		if (fd >= 0 && moo__write_all(fd, buf, (size_t)got) < 0) {
			return moo__fail_errno(s->err, MOO_EIO, "cannot write '%s/%s'", s->dest,
					       rel);
		}
	}
}

/* Pass 2: every entry's data, counted, and written when extracting. */
static int pass_data(struct scan *s)
{
	struct archive *a = NULL;
	struct archive_entry *ae;
	size_t plen = strlen(s->prefix);
	char *buf = NULL;
	int r, ar, fd = -1;

	r = archive_open(s, &a);
	if (r) {
		return r;
	}
	buf = moo__malloc(READ_CHUNK);
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *raw = archive_entry_pathname(ae);
		char *name = NULL;
		const char *rel;
		bool dir = false, exec = (archive_entry_mode(ae) & 0100) != 0, is_spec;
		uint64_t n_out = 0;

		/* the file may have changed since pass 1: check it all again */
		r = check_header(s, ae, &name, &dir);
		if (r) {
			goto done;
		}
		if (is_junk(name)) {
			free(name);
			continue;
		}
		if (plen && dir && strlen(name) + 1 == plen &&
		    !strncmp(name, s->prefix, plen - 1)) {
			free(name); /* the top folder itself */
			continue;
		}
		if (set_get(&s->names, name) != (dir ? K_DIR : K_FILE) ||
		    strncmp(name, s->prefix, plen)) {
			refuse(s, raw, "the ZIP changed while it was being read");
			free(name);
			r = MOO_EBUNDLE;
			goto done;
		}
		rel = name + plen;
		is_spec = !dir && !strcmp(rel, "metadata.yaml");
		if (s->dest) {
			r = make_parents(s, rel);
			if (!r && dir && mkdirat(s->dest_fd, rel, 0755) < 0 && errno != EEXIST) {
				r = moo__fail_errno(s->err, MOO_EIO, "cannot create '%s/%s'",
						    s->dest, rel);
			}
			if (!r && !dir) {
				fd = openat(s->dest_fd, rel,
					    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					    exec ? 0755 : 0644);
				if (fd < 0) {
					r = moo__fail_errno(s->err, MOO_EIO,
							    "cannot create '%s/%s'", s->dest, rel);
				}
			}
			if (r) {
				free(name);
				goto done;
			}
		}
		if (!dir) {
			r = copy_data(s, a, raw, rel, fd, is_spec, buf, &n_out);
		}
		if (fd >= 0) {
			if (close(fd) < 0 && !r) {
				r = moo__fail_errno(s->err, MOO_EIO, "cannot write '%s/%s'",
						    s->dest, rel);
			}
			fd = -1;
		}
		if (!r) {
			struct moo_bundle_file *f;

			s->have_spec |= is_spec;
			MOO_GROW(s->files, s->n_files);
			f = &s->files[s->n_files++];
			f->path = dir ? moo__printf("%s/", rel) : moo__strdup(rel);
			f->size = n_out;
			f->dir = dir;
			f->exec = exec || dir;
		}
		free(name);
		if (r) {
			goto done;
		}
	}
	if (ar != ARCHIVE_EOF) {
		struct moo_error *e = moo__error_add(s->err, MOO_EBUNDLE, MOO_SEV_ERROR,
						     "the ZIP cannot be read");

		moo__error_at(e, s->label, 0, 0);
		moo__error_cause(e, archive_error_string(a));
		r = MOO_EBUNDLE;
		goto done;
	}
	r = 0;
done:
	if (fd >= 0) {
		close(fd);
	}
	free(buf);
	archive_read_free(a);
	return r;
}

static void scan_init(struct scan *s, const char *zip, const char *label,
		      const struct moo_bundle_opts *o, struct moo_error **err)
{
	memset(s, 0, sizeof(*s));
	s->zip = zip;
	s->label = label;
	s->max_bytes = o && o->max_bytes ? o->max_bytes : MOO_BUNDLE_MAX_BYTES;
	s->max_entries = o && o->max_entries ? o->max_entries : MOO_BUNDLE_MAX_ENTRIES;
	s->max_ratio = o && o->max_ratio ? o->max_ratio : MOO_BUNDLE_MAX_RATIO;
	s->dest_fd = -1;
	s->err = err;
}

static void scan_dispose(struct scan *s)
{
	size_t i;

	set_dispose(&s->names);
	free(s->prefix);
	for (i = 0; i < s->n_files; i++) {
		free(s->files[i].path);
	}
	free(s->files);
	moo_buf_dispose(&s->spec_text);
}

static int scan(struct scan *s)
{
	int r = s->tar ? 0 : pass_raw(s);

	if (!r) {
		r = moo__archivelib_load(s->err);
	}
	if (!r) {
		r = pass_headers(s);
	}
	return r ? r : pass_data(s);
}

/* ---- a scan kept by the ZIP's sha256 ------------------------------------------------------ */

/*
 * What a scan that passed found (prefix, entries, metadata.yaml) depends only on the ZIP's
 * bytes and the caps, and a folder run again packs to the same bytes: so it is kept in
 * $XDG_CACHE_HOME/moo/scans (else ~/.cache/moo/scans), named by sha256 and caps, and read
 * back instead of reading the ZIP twice through libarchive when it is opened. A
 * file that does not read back as this file writes it is ignored (scanned again).
 */
static char *scan_cache_path(const struct scan *s, const char *sha256)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if ((!xdg || *xdg != '/') && (!home || *home != '/')) {
		return NULL;
	}
	return moo__printf("%s%s/moo/scans/%s-%llu-%llu-%llu.json", xdg && *xdg == '/' ? xdg : home,
			   xdg && *xdg == '/' ? "" : "/.cache", sha256,
			   (unsigned long long)s->max_bytes, (unsigned long long)s->max_entries,
			   (unsigned long long)s->max_ratio);
}

/* Bumped whenever the rules change, so that a bundle passed by older rules is scanned again. */
#define SCAN_RULES 2

static bool scan_cache_get(struct scan *s, const char *sha256)
{
	char *path = scan_cache_path(s, sha256);
	struct moo_buf text = MOO_BUF_INIT;
	json_t *o = NULL, *files, *f;
	const char *prefix, *spec;
	size_t i, n;
	bool ok = false;

	if (!path || moo__read_file(path, 64u << 20, &text, NULL) || !text.ptr ||
	    !(o = json_loadb(text.ptr, text.len, 0, NULL)) ||
	    json_integer_value(json_object_get(o, "rules")) != SCAN_RULES ||
	    !(prefix = json_string_value(json_object_get(o, "prefix"))) ||
	    !(files = json_object_get(o, "files")) || !json_is_array(files) ||
	    !json_is_integer(json_object_get(o, "total")) ||
	    json_integer_value(json_object_get(o, "total")) < 0) {
		goto done;
	}
	s->total = (uint64_t)json_integer_value(json_object_get(o, "total"));
	spec = json_string_value(json_object_get(o, "spec"));
	n = json_array_size(files);
	s->files = moo__calloc(n ? n : 1, sizeof(*s->files));
	json_array_foreach(files, i, f)
	{
		const char *name = json_string_value(json_array_get(f, 0));
		json_t *size = json_array_get(f, 1);
		struct moo_bundle_file *bf;
		char *full;

		if (!name || !json_is_integer(size) || json_integer_value(size) < 0) {
			goto done;
		}
		bf = &s->files[s->n_files++];
		bf->path = moo__strdup(name);
		bf->size = (uint64_t)json_integer_value(size);
		bf->dir = json_is_true(json_array_get(f, 2));
		bf->exec = json_is_true(json_array_get(f, 3));
		full = moo__printf("%s%s", prefix, name);
		if (bf->dir && *full && full[strlen(full) - 1] == '/') {
			full[strlen(full) - 1] = '\0';
		}
		set_put(&s->names, full, bf->dir ? K_DIR : K_FILE);
		free(full);
	}
	s->prefix = moo__strdup(prefix);
	if (spec) {
		moo_buf_puts(&s->spec_text, spec);
		s->have_spec = true;
	}
	ok = true;
done:
	if (!ok) {
		/* back to a fresh scan */
		for (i = 0; i < s->n_files; i++) {
			free(s->files[i].path);
		}
		free(s->files);
		s->files = NULL;
		s->n_files = 0;
		s->total = 0;
		set_dispose(&s->names);
	}
	json_decref(o);
	moo_buf_dispose(&text);
	free(path);
	return ok;
}

static void scan_cache_put(const struct scan *s, const char *sha256)
{
	char *path = scan_cache_path(s, sha256), *dir, *text;
	json_t *o, *files = json_array();
	size_t i;

	if (!path || (s->have_spec && memchr(s->spec_text.ptr, '\0', s->spec_text.len))) {
		json_decref(files);
		free(path);
		return;
	}
	for (i = 0; i < s->n_files; i++) {
		const struct moo_bundle_file *f = &s->files[i];

		json_array_append_new(files, json_pack("[s, I, b, b]", f->path, (json_int_t)f->size,
						       f->dir, f->exec));
	}
	o = json_pack("{s: i, s: s, s: I, s: o}", "rules", SCAN_RULES, "prefix",
		      s->prefix ? s->prefix : "", "total", (json_int_t)s->total, "files", files);
	if (s->have_spec) {
		json_object_set_new(o, "spec", json_stringn(s->spec_text.ptr, s->spec_text.len));
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	dir = moo__strdup(path);
	*strrchr(dir, '/') = '\0';
	/* a cache that cannot be written is no loss */
	if (text && !moo__mkdir_p(dir, 0700, NULL)) {
		moo__write_file_atomic(path, text, strlen(text), 0600, false, NULL);
	}
	free(text);
	free(dir);
	json_decref(o);
	free(path);
}

/* The spec inside the bundle, and its entry points present as files. */
static int read_spec(struct scan *s, struct moo_spec **out)
{
	struct moo_spec *spec = NULL;
	struct moo_error *e;
	char *file;
	const char *eps[2];
	const struct moo_mark *marks[2];
	size_t i;
	int r;

	if (!s->have_spec) {
		e = moo__error_add(s->err, MOO_EBUNDLE, MOO_SEV_ERROR,
				   "the bundle has no %smetadata.yaml", s->prefix);
		moo__error_at(e, s->label, 0, 0);
		moo__error_hint(e, "put metadata.yaml at the top of the project, or run "
				   "'moo init'");
		return MOO_EBUNDLE;
	}
	file = moo__printf("%s/%smetadata.yaml", s->label, s->prefix);
	r = moo_spec_parse(&spec, s->spec_text.ptr, s->spec_text.len, file, s->err);
	if (r) {
		free(file);
		return r;
	}
	eps[0] = spec->entry_point;
	marks[0] = &spec->entry_point_mark;
	eps[1] = spec->inference_entry_point;
	marks[1] = &spec->inference_entry_point_mark;
	for (i = 0; i < 2; i++) {
		char *full;

		if (!eps[i]) {
			continue;
		}
		full = moo__printf("%s%s", s->prefix, eps[i]);
		if (set_get(&s->names, full) != K_FILE) {
			e = moo__error_add(s->err, MOO_ESPEC, MOO_SEV_ERROR,
					   "%s '%s' is not a file in the bundle",
					   i ? "inference.entry_point" : "entry_point", eps[i]);
			moo__error_at(e, file, marks[i]->line, marks[i]->column);
			r = MOO_ESPEC;
		}
		free(full);
	}
	free(file);
	if (r) {
		moo_spec_free(spec);
		return r;
	}
	*out = spec;
	return 0;
}

/* ---- downloading -------------------------------------------------------------------- */

struct dl {
	int fd, werr; /* werr: errno of a failed write (a full TMPDIR), else 0 */
	uint64_t have, got, max;
	bool too_big;
	const struct moo_bundle_opts *opts;
};

static size_t dl_write(char *data, size_t size, size_t n, void *p)
{
	struct dl *d = p;
	size_t len = size * n;

	if (d->have + d->got + len > d->max) {
		d->too_big = true;
		return 0;
	}
	if (moo__write_all(d->fd, data, len) < 0) {
		d->werr = errno ? errno : EIO;
		return 0;
	}
	d->got += len;
	return len;
}

static int dl_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct dl *d = p;

	(void)ultotal;
	(void)ulnow;
	if (moo__interrupted()) {
		return 1; /* CURLE_ABORTED_BY_CALLBACK: the caller removes the part */
	}
	if (d->opts && d->opts->progress) {
		uint64_t total = dltotal ? d->have + (uint64_t)dltotal : 0;

		d->opts->progress(d->have + (uint64_t)dlnow, total, d->opts->progress_data);
	}
	return 0;
}

static bool transient(CURLcode c)
{
	return c == CURLE_PARTIAL_FILE || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR ||
	       c == CURLE_OPERATION_TIMEDOUT || c == CURLE_GOT_NOTHING;
}

/* Downloads url into part, resuming what part already holds. */
static int download(const char *url, const char *part, const struct moo_bundle_opts *o,
		    uint64_t max, struct moo_error **err)
{
	char errbuf[CURL_ERROR_SIZE];
	struct dl d = {0};
	CURL *h = NULL;
	struct stat st;
	CURLcode c = CURLE_OK;
	int attempt, r, restarts = 0;
	long status = 0;
	bool announced = false; /* refused for its Content-Length, before its body */
	struct moo_error *e;
	char *ua = moo__printf("moo/%s", moo_version());

	d.fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (d.fd < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot create '%s'", part);
		goto done;
	}
	d.max = max;
	d.opts = o;
	r = moo__curl_load(err);
	if (r) {
		goto done;
	}
	h = curl_easy_init();
	if (!h) {
		abort();
	}
	for (attempt = 0; attempt < 6; attempt++) {
		if (fstat(d.fd, &st) < 0) {
			r = moo__fail_errno(err, MOO_EIO, "cannot stat '%s'", part);
			goto done;
		}
		d.have = (uint64_t)st.st_size;
		d.got = 0;
		errbuf[0] = '\0';
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_USERAGENT, ua);
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
		/* A server that drips (see curl.h) is given up on,
		 * not waited for; a body over the cap is refused from its Content-Length
		 * before a byte is written, else where it crosses the cap (dl_write). */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, MOO__HTTP_LOW_SPEED_BPS);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, MOO__HTTP_LOW_SPEED_S);
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(max - d.have));
		curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dl_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, dl_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &d);
		if (d.have) {
			curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d.have);
		}
		c = curl_easy_perform(h);
		status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (c == CURLE_OK) {
			r = 0;
			goto done;
		}
		if (c == CURLE_FILESIZE_EXCEEDED) {
			d.too_big = true;
			announced = true;
		}
		if (d.too_big || d.werr || c == CURLE_ABORTED_BY_CALLBACK ||
		    c == CURLE_OPERATION_TIMEDOUT) {
			break; /* a drip is not tried again: it would drip again */
		}
		/* the server cannot resume, or the part is stale: start again from zero */
		if (d.have && restarts < 1 &&
		    (c == CURLE_RANGE_ERROR || (c == CURLE_HTTP_RETURNED_ERROR && status == 416))) {
			restarts++;
			if (ftruncate(d.fd, 0) < 0) {
				r = moo__fail_errno(err, MOO_EIO, "cannot truncate '%s'", part);
				goto done;
			}
			continue;
		}
		if (!transient(c) || !d.got) {
			break;
		}
	}
	if (announced) {
		e = moo__error_add(
			err, MOO_EBUNDLE, MOO_SEV_ERROR,
			"cannot download '%s': its Content-Length is over the cap of %llu "
			"bytes",
			url, (unsigned long long)max);
		moo__error_hint(e, "raise the cap with --max-bytes if the source is trusted");
		r = MOO_EBUNDLE;
		goto done;
	}
	if (d.too_big) {
		e = moo__error_add(err, MOO_EBUNDLE, MOO_SEV_ERROR,
				   "cannot download '%s': larger than the cap of %llu bytes", url,
				   (unsigned long long)max);
		moo__error_hint(e, "raise the cap with --max-bytes if the source is trusted");
		r = MOO_EBUNDLE;
		goto done;
	}
	if (d.werr) {
		e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
				   "cannot write '%s' while downloading '%s'", part, url);
		moo__error_cause(e, strerror(d.werr));
		moo__error_hint(e, "free space on that disk, or point TMPDIR to another one");
		r = MOO_EIO;
		goto done;
	}
	if (c == CURLE_ABORTED_BY_CALLBACK) {
		r = moo__fail(err, MOO_EINTR, "download of '%s' interrupted", url);
		goto done;
	}
	e = moo__error_add(err, MOO_ENET, MOO_SEV_ERROR, "cannot download '%s'", url);
	moo__error_cause(e, errbuf[0] ? errbuf : curl_easy_strerror(c));
	if (c == CURLE_OPERATION_TIMEDOUT && d.got + d.have) {
		moo__error_hint(e, "the server sent under %ld bytes/s for %ld s",
				MOO__HTTP_LOW_SPEED_BPS, MOO__HTTP_LOW_SPEED_S);
	}
	if (c == CURLE_HTTP_RETURNED_ERROR) {
		moo__error_hint(e, "the server answered HTTP %ld; check the URL", status);
	}
	r = MOO_ENET;
done:
	if (h) {
		curl_easy_cleanup(h);
	}
	if (d.fd >= 0 && close(d.fd) < 0 && !r) {
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", part);
	}
	free(ua);
	return r;
}

/* ---- open, extract, free ------------------------------------------------------------ */

static bool is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* The directory packed and downloaded ZIPs go to: cache_dir, or a new temporary one. */
static int work_dir(const struct moo_bundle_opts *o, char **dir, char **owned,
		    struct moo_error **err)
{
	char *t;

	if (o && o->cache_dir) {
		*dir = moo__strdup(o->cache_dir);
		return moo__mkdir_p(o->cache_dir, 0755, err);
	}
	/* named by our pid, so the next moo removes it if we are killed (a partial download,
	 * a half-written zip) */
	if (!(t = moo__tmp_dir("moo-bundle-", err))) {
		return MOO_EIO;
	}
	*dir = moo__strdup(t);
	*owned = t;
	return 0;
}

static int get_zip(struct moo_bundle *b, const char *source, const struct moo_bundle_opts *o,
		   struct moo_error **err)
{
	struct moo_pack_opts po = MOO_PACK_OPTS_INIT;
	struct moo_pack_result res;
	char *dir = NULL, *tmp = NULL, hex[MOO__SHA256_HEX], uh[MOO__SHA256_HEX];
	struct stat st;
	int r;

	if (!is_url(source) && stat(source, &st) < 0) {
		r = moo__fail_errno(err, errno == ENOENT ? MOO_ENOTFOUND : MOO_EIO,
				    "cannot open '%s'", source);
		return r;
	}
	if (!is_url(source) && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		/* a FIFO or a device would block the read, or never end */
		r = MOO_EBUNDLE;
		moo__error_hint(moo__error_add(err, r, MOO_SEV_ERROR,
					       "'%s' is neither a folder nor a ZIP file", source),
				"give a project folder, a bundle ZIP or a URL");
		return r;
	}
	if (!is_url(source) && !S_ISDIR(st.st_mode)) {
		r = moo__sha256_file(source, hex, &b->size, err);
		if (!r) {
			b->zip_path = moo__strdup(source);
			b->sha256 = moo__strdup(hex);
		}
		return r;
	}
	r = work_dir(o, &dir, &b->owned_dir, err);
	if (r) {
		goto done;
	}
	if (is_url(source)) {
		moo__sha256_buf(source, strlen(source), uh);
		uh[16] = '\0';
		tmp = moo__printf("%s/url-%s.zip.part", dir, uh);
		r = download(source, tmp, o,
			     o && o->max_bytes ? o->max_bytes : MOO_BUNDLE_MAX_BYTES, err);
		if (!r) {
			r = moo__sha256_file(tmp, hex, &b->size, err);
		}
	} else {
		tmp = moo__printf("%s/pack-%ld.zip", dir, (long)getpid());
		po.progress = o ? o->progress : NULL;
		po.progress_data = o ? o->progress_data : NULL;
		r = moo__pack(&res, &b->packed, source, tmp, &po, err);
		if (!r) {
			memcpy(hex, res.sha256, sizeof(hex));
			b->size = res.size;
			b->packed_dir = realpath(source, NULL);
		}
	}
	if (r) {
		goto done;
	}
	b->zip_path = moo__printf("%s/%s.zip", dir, hex);
	b->sha256 = moo__strdup(hex);
	if (rename(tmp, b->zip_path) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot rename '%s' to '%s'", tmp, b->zip_path);
		goto done;
	}
	free(tmp);
	tmp = NULL;
	r = 0;
done:
	if (tmp && r != MOO_ENET) {
		unlink(tmp); /* a failed download's .part stays in a cache_dir to resume */
	}
	free(tmp);
	free(dir);
	return r;
}

void moo_bundle_free(struct moo_bundle *b)
{
	size_t i;

	if (!b) {
		return;
	}
	if (b->owned_dir) {
		moo__rm_rf(b->owned_dir);
		free(b->owned_dir);
	}
	free(b->source);
	free(b->packed_dir);
	free(b->spec_text);
	moo__packed_free(b->packed);
	free(b->zip_path);
	free(b->sha256);
	free(b->prefix);
	moo_spec_free(b->spec);
	for (i = 0; i < b->n_files; i++) {
		free(b->files[i].path);
	}
	free(b->files);
	free(b);
}

int moo_bundle_open(struct moo_bundle **out, const char *source, const struct moo_bundle_opts *opts,
		    struct moo_error **err)
{
	struct moo_bundle *b = moo__calloc(1, sizeof(*b));
	struct moo_error *local = NULL, *e;
	char *folder = NULL;
	struct scan s;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_BUNDLE_OPTS_VERSION, "moo_bundle_opts", err))) {
		free(b);
		*out = NULL;
		return r;
	}
	if (!is_url(source) && (folder = moo__spec_folder(source))) {
		source = folder;
	}
	scan_init(&s, NULL, source, opts, &local);
	b->source = moo__strdup(source);
	if (opts && opts->sha256 && !moo__is_sha256_hex(opts->sha256)) {
		e = moo__error_add(&local, MOO_EARG, MOO_SEV_ERROR,
				   "'%s' is not a sha256: 64 lowercase hex digits", opts->sha256);
		r = MOO_EARG;
		goto done;
	}
	r = get_zip(b, source, opts, &local);
	if (r) {
		goto done;
	}
	if (opts && opts->sha256 && strcmp(opts->sha256, b->sha256)) {
		e = moo__error_add(&local, MOO_EBUNDLE, MOO_SEV_ERROR,
				   "sha256 mismatch: expected %s, got %s", opts->sha256, b->sha256);
		moo__error_at(e, source, 0, 0);
		moo__error_hint(e, "the bundle is not the one expected; check the source and the "
				   "sha256");
		r = MOO_EBUNDLE;
		goto done;
	}
	s.zip = b->zip_path;
	r = 0;
	if (!scan_cache_get(&s, b->sha256) && !(r = scan(&s))) {
		scan_cache_put(&s, b->sha256);
	}
	if (!r) {
		r = read_spec(&s, &b->spec);
	}
	if (r) {
		goto done;
	}
	b->prefix = s.prefix;
	s.prefix = NULL;
	if (s.spec_text.ptr && !memchr(s.spec_text.ptr, '\0', s.spec_text.len)) {
		b->spec_text = moo__strdup(s.spec_text.ptr);
	}
	b->files = s.files;
	b->n_files = s.n_files;
	b->total_bytes = s.total;
	s.files = NULL;
	s.n_files = 0;
	*out = b;
	b = NULL;
	r = 0;
done:
	scan_dispose(&s);
	moo_bundle_free(b);
	free(folder);
	if (local) {
		if (err) {
			*err = local;
		} else {
			moo_error_free(local);
		}
	}
	return r;
}

/*
 * A bundle packed from a folder, extracted from that folder: the entries the ZIP holds
 * (checked by the scan), each file's bytes read again and checked against the size and
 * CRC-32 of what was packed. No libarchive (loading it costs ~8 ms) and nothing inflated.
 * false when a file differs (it changed since it was packed) or cannot be copied: the
 * caller extracts the ZIP instead, into a fresh folder.
 */
static bool stage_packed(const struct moo_bundle *b, int dest_fd)
{
	const struct moo__packed *p = b->packed;
	char *buf = NULL;
	bool ok = p && b->packed_dir && b->prefix && !*b->prefix && p->n == b->n_files;

	for (size_t i = 0; ok && i < p->n; i++) {
		char *src;
		struct stat st;
		uint32_t crc = 0;
		uint64_t n = 0;
		int in, out;

		if (strcmp(p->v[i].rel, b->files[i].path)) {
			ok = false;
			break;
		}
		if (p->v[i].dir) {
			char *d = moo__strndup(p->v[i].rel, strlen(p->v[i].rel) - 1);

			ok = mkdirat(dest_fd, d, 0755) == 0 || errno == EEXIST;
			free(d);
			continue;
		}
		src = moo__path_join(b->packed_dir, p->v[i].rel);
		in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		free(src);
		if (in < 0) {
			ok = false;
			break;
		}
		out = openat(dest_fd, p->v[i].rel,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     p->v[i].exec ? 0755 : 0644);
		ok = out >= 0 && !fstat(in, &st) && S_ISREG(st.st_mode) &&
		     (uint64_t)st.st_size == p->v[i].size;
		if (ok && !buf) {
			buf = moo__malloc(READ_CHUNK);
		}
		while (ok) {
			ssize_t got = read(in, buf, READ_CHUNK);

			if (got < 0 && errno == EINTR) {
				continue;
			}
			if (got <= 0) {
				ok = got == 0;
				break;
			}
			crc = (uint32_t)crc32(crc, (const unsigned char *)buf, (uInt)got);
			n += (uint64_t)got;
			ok = n <= p->v[i].size && !moo__write_all(out, buf, (size_t)got);
		}
		ok = ok && n == p->v[i].size && crc == p->v[i].crc;
		if (out >= 0 && close(out) < 0) {
			ok = false;
		}
		close(in);
	}
	free(buf);
	return ok;
}

int moo_bundle_extract(const struct moo_bundle *b, const char *dest,
		       const struct moo_bundle_opts *opts, struct moo_error **err)
{
	struct moo_error *local = NULL, *e;
	char *stage = NULL, *copy = NULL;
	struct stat st;
	struct scan s;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_BUNDLE_OPTS_VERSION, "moo_bundle_opts", err))) {
		return r;
	}
	scan_init(&s, b->zip_path, b->source ? b->source : b->zip_path, opts, &local);
	if (lstat(dest, &st) == 0) {
		e = moo__error_add(&local, MOO_EEXIST, MOO_SEV_ERROR, "'%s' exists already", dest);
		moo__error_hint(e, "extract into a new directory");
		r = MOO_EEXIST;
		goto done;
	}
	copy = moo__strdup(dest);
	r = moo__mkdir_p(dirname(copy), 0755, &local);
	if (r) {
		goto done;
	}
	stage = moo__printf("%s.tmp-XXXXXX", dest);
	if (!mkdtemp(stage)) {
		r = moo__fail_errno(&local, MOO_EIO, "cannot create '%s'", stage);
		free(stage);
		stage = NULL;
		goto done;
	}
	s.dest = stage;
	s.dest_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.dest_fd < 0) {
		r = moo__fail_errno(&local, MOO_EIO, "cannot open '%s'", stage);
		goto done;
	}
	if (b->packed) {
		if (stage_packed(b, s.dest_fd)) {
			goto staged;
		}
		/* changed since it was packed: from the ZIP, into a fresh folder */
		close(s.dest_fd);
		s.dest_fd = -1;
		if (moo__rm_rf(stage) < 0 || mkdir(stage, 0700) < 0 ||
		    (s.dest_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			r = moo__fail_errno(&local, MOO_EIO, "cannot create '%s'", stage);
			goto done;
		}
	}
	r = scan(&s);
	if (!r && !s.have_spec) {
		r = read_spec(&s, NULL); /* says what is missing */
	}
	if (r) {
		goto done;
	}
	if (strcmp(s.prefix, b->prefix ? b->prefix : "")) {
		e = moo__error_add(&local, MOO_EBUNDLE, MOO_SEV_ERROR,
				   "the ZIP changed since it was opened");
		moo__error_at(e, s.label, 0, 0);
		r = MOO_EBUNDLE;
		goto done;
	}
staged:
	if (fchmod(s.dest_fd, 0755) < 0 || rename(stage, dest) < 0) {
		r = moo__fail_errno(&local, MOO_EIO, "cannot rename '%s' to '%s'", stage, dest);
		goto done;
	}
	free(stage);
	stage = NULL;
	r = 0;
done:
	if (s.dest_fd >= 0) {
		close(s.dest_fd);
	}
	if (stage) {
		moo__rm_rf(stage);
		free(stage);
	}
	free(copy);
	scan_dispose(&s);
	if (local) {
		if (err) {
			*err = local;
		} else {
			moo_error_free(local);
		}
	}
	return r;
}

/* ---- datasets (dataset.c) --------------------------------------------------------------- */

int moo__download(const char *url, const char *part, moo_progress_cb progress, void *data,
		  uint64_t max, struct moo_error **err)
{
	struct moo_bundle_opts o = MOO_BUNDLE_OPTS_INIT;

	o.progress = progress;
	o.progress_data = data;
	return download(url, part, &o, max, err);
}

int moo__archive_extract(const char *path, const char *label, bool tar, const char *dest,
			 uint64_t max_bytes, struct moo_error **err)
{
	struct moo_bundle_opts o = MOO_BUNDLE_OPTS_INIT;
	char *stage = NULL;
	struct scan s;
	int r;

	o.max_bytes = max_bytes;
	scan_init(&s, path, label, &o, err);
	s.tar = tar;
	stage = moo__printf("%s.tmp-XXXXXX", dest);
	if (!mkdtemp(stage)) {
		r = moo__fail_errno(err, MOO_EIO, "cannot create '%s'", stage);
		free(stage);
		stage = NULL;
		goto done;
	}
	s.dest = stage;
	s.dest_fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.dest_fd < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot open '%s'", stage);
		goto done;
	}
	if ((r = scan(&s))) {
		goto done;
	}
	if (fchmod(s.dest_fd, 0755) < 0 || rename(stage, dest) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot rename '%s' to '%s'", stage, dest);
		goto done;
	}
	free(stage);
	stage = NULL;
done:
	if (s.dest_fd >= 0) {
		close(s.dest_fd);
	}
	if (stage) {
		moo__rm_rf(stage);
		free(stage);
	}
	scan_dispose(&s);
	return r;
}
