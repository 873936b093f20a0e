/*
 * pack: a project directory → a deterministic ZIP (moo pack).
 *
 * The ZIP is written by hand with zlib so that nothing of the machine leaks into it:
 * entries sorted by path, every time 1980-01-01 00:00, modes 0644/0755, no owner, no
 * extra fields. Small files are read whole and deflated in memory (stored when that
 * does not shrink them); large ones are stored when their name or a sample says they
 * are already compressed, and otherwise deflated as a stream with a data descriptor.
 * The sha256 is computed on the bytes as they are written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "internal.h"

/* ---- .mooignore: gitignore syntax ---------------------------------------------- */

struct ignore_rule {
	char *pat;
	char *text;    /* the line as written, for messages */
	unsigned line; /* in .mooignore, from 1 */
	bool negate, dir_only, anchored;
};

struct moo__ignore {
	struct ignore_rule *rules;
	size_t n;
};

static bool class_match(const char **pp, char c)
{
	const char *p = *pp + 1;
	bool neg = false, hit = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	if (*p == ']') {
		hit = c == ']';
		p++;
	}
	for (; *p && *p != ']'; p++) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			if ((unsigned char)c >= (unsigned char)p[0] &&
			    (unsigned char)c <= (unsigned char)p[2]) {
				hit = true;
			}
			p += 2;
		} else if (*p == c) {
			hit = true;
		}
	}
	*pp = *p ? p + 1 : p;
	return hit != neg;
}

/* Glob match: '*' and '?' stop at '/', '**' crosses it, "[...]" classes, '\' escapes. */
static bool glob(const char *p, const char *s)
{
	const char *t;

	for (;;) {
		switch (*p) {
		case '\0': return *s == '\0';
		case '*':
			if (p[1] == '*') {
				p += 2;
				if (*p == '/') { /* "**\/": zero or more whole folders */
					for (t = s;; t++) {
						if ((t == s || t[-1] == '/') && glob(p + 1, t)) {
							return true;
						}
						if (!*t) {
							return false;
						}
					}
				}
				for (t = s;; t++) {
					if (glob(p, t)) {
						return true;
					}
					if (!*t) {
						return false;
					}
				}
			}
			p++;
			for (t = s;; t++) {
				if (glob(p, t)) {
					return true;
				}
				if (!*t || *t == '/') {
					return false;
				}
			}
		case '?':
			if (!*s || *s == '/') {
				return false;
			}
			p++, s++;
			break;
		case '[':
			if (!*s || *s == '/' || !class_match(&p, *s)) {
				return false;
			}
			s++;
			break;
		case '\\':
			if (p[1]) {
				p++;
			}
			/* fallthrough */
		default:
			if (*p != *s) {
				return false;
			}
			p++, s++;
		}
	}
}

struct moo__ignore *moo__ignore_parse(const char *text, size_t len)
{
	struct moo__ignore *ig = moo__calloc(1, sizeof(*ig));
	const char *end = text + len, *line, *nl;
	unsigned lineno = 0;

	for (line = text; line < end; line = nl + 1) {
		struct ignore_rule r = {.line = ++lineno};
		size_t n;
		char *p;

		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl) {
			nl = end;
		}
		n = (size_t)(nl - line);
		if (n && line[n - 1] == '\r') {
			n--;
		}
		while (n && line[n - 1] == ' ' && !(n >= 2 && line[n - 2] == '\\')) {
			n--;
		}
		if (!n || line[0] == '#') {
			continue;
		}
		r.text = moo__strndup(line, n);
		if (line[0] == '!') {
			r.negate = true;
			line++, n--;
		} else if (line[0] == '\\' && n > 1 && (line[1] == '!' || line[1] == '#')) {
			line++, n--;
		}
		if (n && line[n - 1] == '/') {
			r.dir_only = true;
			n--;
		}
		if (!n) {
			free(r.text);
			continue;
		}
		p = moo__strndup(line, n);
		r.anchored = strchr(p, '/') != NULL;
		r.pat = moo__strdup(p + (p[0] == '/'));
		free(p);
		MOO_GROW(ig->rules, ig->n);
		ig->rules[ig->n++] = r;
	}
	return ig;
}

/* The rule that decides rel is left out (the last one matching, unless it is a '!'), or NULL. */
static const struct ignore_rule *rule_leaving_out(const struct moo__ignore *ig, const char *rel,
						  bool is_dir)
{
	const struct ignore_rule *hit = NULL;
	const char *base = strrchr(rel, '/');
	size_t i;

	base = base ? base + 1 : rel;
	for (i = 0; ig && i < ig->n; i++) {
		const struct ignore_rule *r = &ig->rules[i];

		if (r->dir_only && !is_dir) {
			continue;
		}
		if (glob(r->pat, r->anchored ? rel : base)) {
			hit = r->negate ? NULL : r;
		}
	}
	return hit;
}

bool moo__ignore_match(const struct moo__ignore *ig, const char *rel, bool is_dir)
{
	return rule_leaving_out(ig, rel, is_dir) != NULL;
}

void moo__ignore_free(struct moo__ignore *ig)
{
	size_t i;

	if (!ig) {
		return;
	}
	for (i = 0; i < ig->n; i++) {
		free(ig->rules[i].pat);
		free(ig->rules[i].text);
	}
	free(ig->rules);
	free(ig);
}

/* ---- walking the tree ----------------------------------------------------------- */

struct item {
	char *rel; /* directories end in '/' */
	bool dir, exec;
	uint64_t size;
};

/* The files a bundle must hold: metadata.yaml and the files the spec names. */
struct required {
	const char *rel, *what;
};

struct walk {
	const char *root;
	const char *output_folder;
	const struct moo__ignore *ig;
	struct required need[3];
	size_t n_need;
	bool refused; /* .mooignore left out a file the bundle must hold: said in err */
	dev_t skip_dev;
	ino_t skip_ino;
	bool have_skip;
	struct item *items;
	size_t n;
	uint64_t bytes;
	struct moo_error **err;
};

static bool job_id_text(const char *s, size_t n)
{
	size_t i;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
		n--;
	}
	if (n != 14 || strncmp(s, "moo-job-", 8)) {
		return false;
	}
	for (i = 8; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) {
			return false;
		}
	}
	return true;
}

/*
 * What moo itself wrote into a project, never bundled by default: its bundles (a ZIP whose
 * first entry has moo's fixed 1980-01-01 time and no extra field), a job stamp (a small file
 * holding just a job id, as 'moo run -d . > .job' writes) and fetched results (a folder
 * named as a job, or one holding a moo.lock and no metadata.yaml).
 */
static bool moo_output(const char *full, const char *name, const struct stat *st)
{
	unsigned char h[64];
	ssize_t n = 0;
	int fd;

	if (S_ISDIR(st->st_mode)) {
		char *lock = moo__path_join(full, "moo.lock"), *spec;
		bool r = job_id_text(name, strlen(name));

		spec = moo__path_join(full, "metadata.yaml");
		r = r || (access(lock, F_OK) == 0 && access(spec, F_OK) != 0);
		free(lock);
		free(spec);
		return r;
	}
	if (!S_ISREG(st->st_mode) ||
	    (fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		return false;
	}
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n > 0 && st->st_size <= 64 && job_id_text((const char *)h, (size_t)n)) {
		return true;
	}
	return n >= 30 && h[0] == 'P' && h[1] == 'K' && h[2] == 3 && h[3] == 4 && /* local header */
	       h[10] == 0 && h[11] == 0 && h[12] == 0x21 && h[13] == 0 &&         /* 1980-01-01 */
	       h[28] == 0 && h[29] == 0;                                          /* no extra */
}

/* A required file left out by a .mooignore rule, or a folder holding one, is refused:
 * the bundle would be one that inspect and run refuse. Every such file is said. */
static void ignored_required(struct walk *w, const char *sub, bool is_dir,
			     const struct ignore_rule *rule)
{
	char *file = strcmp(w->root, ".") ? moo__path_join(w->root, ".mooignore")
					  : moo__strdup(".mooignore");
	size_t i, n = strlen(sub);

	for (i = 0; i < w->n_need; i++) {
		const struct required *q = &w->need[i];
		struct moo_error *e;

		if (!strcmp(q->rel, sub)) {
			e = moo__error_add(w->err, MOO_EBUNDLE, MOO_SEV_ERROR,
					   "'%s' (%s) is left out of the bundle by '%s'", sub,
					   q->what, rule->text);
		} else if (is_dir && !strncmp(q->rel, sub, n) && q->rel[n] == '/') {
			e = moo__error_add(w->err, MOO_EBUNDLE, MOO_SEV_ERROR,
					   "'%s/' is left out of the bundle by '%s', but it holds "
					   "'%s' (%s)",
					   sub, rule->text, q->rel, q->what);
		} else {
			continue;
		}
		moo__error_at(e, file, (int)rule->line, 0);
		moo__error_hint(e, "a bundle must hold metadata.yaml and the files it names: "
				   "remove or narrow that line of .mooignore");
		w->refused = true;
	}
	free(file);
}

static int walk_dir(struct walk *w, const char *rel)
{
	char *path = rel[0] ? moo__path_join(w->root, rel) : moo__strdup(w->root);
	DIR *d = opendir(path);
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = moo__fail_errno(w->err, MOO_EIO, "cannot read directory '%s'", path);
		free(path);
		return r;
	}
	while (!r && (errno = 0, de = readdir(d))) {
		const char *name = de->d_name;
		const struct ignore_rule *rule;
		char *sub, *full;
		struct stat st;

		if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, ".git") ||
		    !strcmp(name, "__pycache__")) {
			continue;
		}
		sub = rel[0] ? moo__printf("%s/%s", rel, name) : moo__strdup(name);
		full = moo__path_join(w->root, sub);
		if (lstat(full, &st) < 0) {
			r = moo__fail_errno(w->err, MOO_EIO, "cannot stat '%s'", full);
		} else if ((rule = rule_leaving_out(w->ig, sub, S_ISDIR(st.st_mode)))) {
			ignored_required(w, sub, S_ISDIR(st.st_mode), rule);
		} else if ((S_ISDIR(st.st_mode) && !strcmp(sub, w->output_folder)) ||
			   !strcmp(sub, "moo.lock") || /* written by moo resolve: not the code */
			   moo_output(full, name, &st) ||
			   (w->have_skip && st.st_dev == w->skip_dev && st.st_ino == w->skip_ino)) {
			/* skipped */
		} else if (!moo__path_is_safe_relative(sub)) {
			struct moo_error *e = moo__error_add(
				w->err, MOO_EBUNDLE, MOO_SEV_ERROR,
				"'%s' has a name a bundle cannot hold (a backslash or control "
				"character)",
				sub);
			moo__error_hint(e, "rename it, or list it in .mooignore");
			r = MOO_EBUNDLE;
		} else if (S_ISDIR(st.st_mode)) {
			MOO_GROW(w->items, w->n);
			w->items[w->n++] = (struct item){moo__printf("%s/", sub), true, true, 0};
			r = walk_dir(w, sub);
		} else if (S_ISREG(st.st_mode)) {
			MOO_GROW(w->items, w->n);
			w->items[w->n++] =
				(struct item){moo__strdup(sub), false, (st.st_mode & S_IXUSR) != 0,
					      (uint64_t)st.st_size};
			w->bytes += (uint64_t)st.st_size;
		} else {
			struct moo_error *e = moo__error_add(
				w->err, MOO_EBUNDLE, MOO_SEV_ERROR, "'%s' is %s", sub,
				S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
			moo__error_hint(e, "bundles hold only regular files and directories; "
					   "replace it with a copy or list it in .mooignore");
			r = MOO_EBUNDLE;
		}
		free(sub);
		free(full);
	}
	if (!r && errno) {
		r = moo__fail_errno(w->err, MOO_EIO, "cannot read directory '%s'", path);
	}
	closedir(d);
	free(path);
	return r;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->rel, ((const struct item *)b)->rel);
}

/* Whatever else left a required file out (the output folder, .git, a name moo wrote),
 * the bundle written would be refused by inspect and run: refuse it here. */
static int check_required(struct walk *w)
{
	int r = 0;
	size_t i;

	for (i = 0; i < w->n_need; i++) {
		struct item key = {.rel = (char *)w->need[i].rel};
		struct moo_error *e;

		if (bsearch(&key, w->items, w->n, sizeof(*w->items), item_cmp)) {
			continue;
		}
		e = moo__error_add(w->err, MOO_EBUNDLE, MOO_SEV_ERROR,
				   "'%s' (%s) would be left out of the bundle", w->need[i].rel,
				   w->need[i].what);
		moo__error_hint(e, "moo pack leaves out .git, __pycache__, the output folder, "
				   "moo.lock and what moo wrote: move the file out of them");
		r = MOO_EBUNDLE;
	}
	return r;
}

/* ---- the ZIP writer ------------------------------------------------------------- */

#define WBUF       (1u << 20)
#define SMALL_FILE (4u << 20) /* read whole and deflated in memory */
#define CHUNK      (1u << 20)
#define DOS_DATE   0x0021 /* 1980-01-01 */

struct cent {
	uint32_t crc, csize, usize, offset, attr;
	uint16_t flags, method;
	const char *name;
};

struct zw {
	int fd;
	const char *path;
	unsigned char *buf;
	size_t len;
	uint64_t off;
	struct moo__sha256 *sha;
	struct cent *cents;
	size_t n_cents;
	z_stream z6, z1;
	unsigned char *in, *out; /* scratch: SMALL_FILE bytes, deflateBound(SMALL_FILE) */
	size_t out_cap;
	uint64_t done, total;
	const struct moo_pack_opts *opts;
	struct moo_error **err;
};

static int zw_flush(struct zw *w)
{
	size_t off = 0;

	if (moo__interrupted()) {
		return moo__fail(w->err, MOO_EINTR, "packing interrupted"); /* tmp removed */
	}
	moo__sha256_update(w->sha, w->buf, w->len);
	while (off < w->len) {
		ssize_t n = write(w->fd, w->buf + off, w->len - off);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return moo__fail_errno(w->err, MOO_EIO, "cannot write '%s'", w->path);
		}
		off += (size_t)n;
	}
	w->len = 0;
	return 0;
}

static int zw_put(struct zw *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		size_t n = WBUF - w->len < len ? WBUF - w->len : len;
		int r;

		memcpy(w->buf + w->len, p, n);
		w->len += n, w->off += n, p += n, len -= n;
		if (w->len == WBUF && (r = zw_flush(w))) {
			return r;
		}
	}
	return 0;
}

static void le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static bool ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80) {
			return false;
		}
	}
	return true;
}

static int local_header(struct zw *w, struct cent *c)
{
	unsigned char h[30];
	size_t nlen = strlen(c->name);

	le32(h, 0x04034b50);
	le16(h + 4, 20);
	le16(h + 6, c->flags);
	le16(h + 8, c->method);
	le16(h + 10, 0);
	le16(h + 12, DOS_DATE);
	le32(h + 14, c->crc);
	le32(h + 18, c->csize);
	le32(h + 22, c->usize);
	le16(h + 26, (uint16_t)nlen);
	le16(h + 28, 0);
	return zw_put(w, h, sizeof(h)) || zw_put(w, c->name, nlen) ? MOO_EIO : 0;
}

static int too_large(struct zw *w, const char *what)
{
	struct moo_error *e = moo__error_add(w->err, MOO_EBUNDLE, MOO_SEV_ERROR,
					     "the project is too large for a bundle: %s", what);

	moo__error_hint(e, "keep data sets and checkpoints out of the bundle (.mooignore) and "
			   "point to them with dataset.source");
	return MOO_EBUNDLE;
}

static struct cent *new_cent(struct zw *w, const struct item *it)
{
	struct cent *c;

	MOO_GROW(w->cents, w->n_cents);
	c = &w->cents[w->n_cents++];
	memset(c, 0, sizeof(*c));
	c->name = it->rel;
	c->offset = (uint32_t)w->off;
	c->flags = ascii(it->rel) ? 0 : 1u << 11;
	c->attr = it->dir ? (040755u << 16) | 0x10 : (uint32_t)(it->exec ? 0100755 : 0100644) << 16;
	return c;
}

static void progress(struct zw *w, size_t n)
{
	w->done += n;
	if (w->opts && w->opts->progress) {
		w->opts->progress(w->done, w->total, w->opts->progress_data);
	}
}

/* Reads exactly len bytes, or fails saying the file changed. */
static int read_full(struct zw *w, int fd, const char *rel, unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return moo__fail_errno(w->err, MOO_EIO, "cannot read '%s'", rel);
		}
		if (n == 0) {
			return moo__fail(w->err, MOO_EIO, "'%s' changed while it was being packed",
					 rel);
		}
		p += n, len -= (size_t)n;
	}
	return 0;
}

static bool stored_by_name(const char *rel)
{
	static const char *const ext[] = {
		".zip", ".gz",  ".tgz",  ".bz2", ".xz",   ".zst",  ".lz4", ".7z",      ".rar",
		".jar", ".whl", ".npz",  ".png", ".jpg",  ".jpeg", ".gif", ".webp",    ".mp3",
		".mp4", ".mkv", ".webm", ".ogg", ".flac", ".avi",  ".mov", ".parquet", ".pdf",
	};
	size_t len = strlen(rel), i;

	for (i = 0; i < MOO_ARRAY_SIZE(ext); i++) {
		size_t n = strlen(ext[i]);

		if (len > n && !strcasecmp(rel + len - n, ext[i])) {
			return true;
		}
	}
	return false;
}

/* Deflates all of in into w->out with the level-6 stream; returns the size. */
static size_t deflate_mem(struct zw *w, z_stream *z, const unsigned char *in, size_t len)
{
	deflateReset(z);
	z->next_in = (unsigned char *)in;
	z->avail_in = (uInt)len;
	z->next_out = w->out;
	z->avail_out = (uInt)w->out_cap;
	if (deflate(z, Z_FINISH) != Z_STREAM_END) {
		abort(); /* the buffer is deflateBound() of the input */
	}
	return w->out_cap - z->avail_out;
}

static int pack_small(struct zw *w, const struct item *it, int fd, size_t len)
{
	struct cent *c = new_cent(w, it);
	size_t clen = 0;
	int r;

	r = read_full(w, fd, it->rel, w->in, len);
	if (r) {
		return r;
	}
	c->crc = (uint32_t)crc32(0, w->in, (uInt)len);
	c->usize = (uint32_t)len;
	if (len >= 64 && !stored_by_name(it->rel)) {
		clen = deflate_mem(w, &w->z6, w->in, len);
	}
	if (clen && clen < len) {
		c->method = 8;
		c->csize = (uint32_t)clen;
	} else {
		c->csize = (uint32_t)len;
	}
	r = local_header(w, c);
	if (!r) {
		r = c->method ? zw_put(w, w->out, clen) : zw_put(w, w->in, len);
	}
	progress(w, len);
	return r;
}

static int pack_large_stored(struct zw *w, struct cent *c, const struct item *it, int fd)
{
	uint64_t left;
	uint32_t crc = 0;
	int r;

	for (left = it->size; left;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		r = read_full(w, fd, it->rel, w->in, n);
		if (r) {
			return r;
		}
		c->crc = (uint32_t)crc32(c->crc, w->in, (uInt)n);
		left -= n;
	}
	c->usize = c->csize = (uint32_t)it->size;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		return moo__fail_errno(w->err, MOO_EIO, "cannot read '%s'", it->rel);
	}
	r = local_header(w, c);
	for (left = it->size; !r && left;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		r = read_full(w, fd, it->rel, w->in, n);
		if (!r) {
			crc = (uint32_t)crc32(crc, w->in, (uInt)n);
			r = zw_put(w, w->in, n);
			progress(w, n);
		}
		left -= n;
	}
	if (!r && crc != c->crc) {
		r = moo__fail(w->err, MOO_EIO, "'%s' changed while it was being packed", it->rel);
	}
	return r;
}

static int pack_large_deflated(struct zw *w, struct cent *c, const struct item *it, int fd)
{
	unsigned char d[16];
	uint64_t left, csize = 0;
	int r;

	c->method = 8;
	c->flags |= 1u << 3; /* sizes and crc in a data descriptor after the data */
	r = local_header(w, c);
	deflateReset(&w->z6);
	for (left = it->size; !r && left;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		left -= n;
		r = read_full(w, fd, it->rel, w->in, n);
		if (r) {
			break;
		}
		c->crc = (uint32_t)crc32(c->crc, w->in, (uInt)n);
		w->z6.next_in = w->in;
		w->z6.avail_in = (uInt)n;
		do {
			int zr;

			w->z6.next_out = w->out;
			w->z6.avail_out = (uInt)w->out_cap;
			zr = deflate(&w->z6, left ? Z_NO_FLUSH : Z_FINISH);
			if (zr == Z_STREAM_ERROR) {
				abort();
			}
			csize += w->out_cap - w->z6.avail_out;
			r = zw_put(w, w->out, w->out_cap - w->z6.avail_out);
		} while (!r && (w->z6.avail_in || (!left && w->z6.avail_out == 0)));
		progress(w, n);
	}
	if (r) {
		return r;
	}
	if (csize > UINT32_MAX) {
		return too_large(w, "a file over 4 GiB");
	}
	c->csize = (uint32_t)csize;
	c->usize = (uint32_t)it->size;
	le32(d, 0x08074b50);
	le32(d + 4, c->crc);
	le32(d + 8, c->csize);
	le32(d + 12, c->usize);
	return zw_put(w, d, sizeof(d));
}

/* Is a sample of the file worth deflating? Level 1 on the first 128 KiB. */
static int compressible(struct zw *w, const struct item *it, int fd, bool *yes)
{
	size_t n = 128u << 10, clen;
	int r;

	r = read_full(w, fd, it->rel, w->in, n);
	if (r) {
		return r;
	}
	clen = deflate_mem(w, &w->z1, w->in, n);
	*yes = clen < n - n / 16;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		return moo__fail_errno(w->err, MOO_EIO, "cannot read '%s'", it->rel);
	}
	return 0;
}

static int pack_file(struct zw *w, const char *root, const struct item *it)
{
	char *path = moo__path_join(root, it->rel);
	struct stat st;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = moo__fail_errno(w->err, MOO_EIO, "cannot open '%s'", path);
		free(path);
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != it->size) {
		r = moo__fail(w->err, MOO_EIO, "'%s' changed while it was being packed", it->rel);
	} else if (it->size > UINT32_MAX || w->off > UINT32_MAX - 1024) {
		r = too_large(w, it->size > UINT32_MAX ? "a file over 4 GiB" : "over 4 GiB");
	} else if (it->size <= SMALL_FILE) {
		r = pack_small(w, it, fd, (size_t)it->size);
	} else {
		struct cent *c = new_cent(w, it);
		bool deflate_it = false;

		r = stored_by_name(it->rel) ? 0 : compressible(w, it, fd, &deflate_it);
		if (!r) {
			r = deflate_it ? pack_large_deflated(w, c, it, fd)
				       : pack_large_stored(w, c, it, fd);
		}
	}
	close(fd);
	free(path);
	return r;
}

static int central_directory(struct zw *w)
{
	uint64_t start = w->off;
	unsigned char h[46], e[22];
	size_t i;
	int r = 0;

	for (i = 0; !r && i < w->n_cents; i++) {
		const struct cent *c = &w->cents[i];
		size_t nlen = strlen(c->name);

		le32(h, 0x02014b50);
		le16(h + 4, (3u << 8) | 20); /* made by: unix, 2.0 */
		le16(h + 6, 20);
		le16(h + 8, c->flags);
		le16(h + 10, c->method);
		le16(h + 12, 0);
		le16(h + 14, DOS_DATE);
		le32(h + 16, c->crc);
		le32(h + 20, c->csize);
		le32(h + 24, c->usize);
		le16(h + 28, (uint16_t)nlen);
		le16(h + 30, 0);
		le16(h + 32, 0);
		le16(h + 34, 0);
		le16(h + 36, 0);
		le32(h + 38, c->attr);
		le32(h + 42, c->offset);
		r = zw_put(w, h, sizeof(h)) || zw_put(w, c->name, nlen) ? MOO_EIO : 0;
	}
	if (r) {
		return r;
	}
	if (w->off > UINT32_MAX) {
		return too_large(w, "over 4 GiB");
	}
	le32(e, 0x06054b50);
	le16(e + 4, 0);
	le16(e + 6, 0);
	le16(e + 8, (uint16_t)w->n_cents);
	le16(e + 10, (uint16_t)w->n_cents);
	le32(e + 12, (uint32_t)(w->off - start));
	le32(e + 16, (uint32_t)start);
	le16(e + 20, 0);
	r = zw_put(w, e, sizeof(e));
	return r ? r : zw_flush(w);
}

static int load_ignore(const char *dir, struct moo__ignore **out, struct moo_error **err)
{
	char *path = moo__path_join(dir, ".mooignore");
	struct moo_buf text = MOO_BUF_INIT;
	int r;

	r = moo__read_file(path, 1u << 20, &text, err);
	if (r == MOO_ENOTFOUND) {
		moo_error_free(*err);
		*err = NULL;
		r = 0;
	}
	if (!r) {
		*out = moo__ignore_parse(text.ptr ? text.ptr : "", text.len);
	}
	moo_buf_dispose(&text);
	free(path);
	return r;
}

void moo__packed_free(struct moo__packed *p)
{
	if (p) {
		for (size_t i = 0; i < p->n; i++) {
			free(p->v[i].rel);
		}
		free(p->v);
		free(p);
	}
}

int moo_pack(struct moo_pack_result *result, const char *dir, const char *out_zip,
	     const struct moo_pack_opts *opts, struct moo_error **err)
{
	return moo__pack(result, NULL, dir, out_zip, opts, err);
}

int moo__pack(struct moo_pack_result *result, struct moo__packed **packed, const char *dir,
	      const char *out_zip, const struct moo_pack_opts *opts, struct moo_error **err)
{
	struct moo_spec *spec = NULL;
	struct moo__ignore *ig = NULL;
	struct moo_error *local = NULL;
	struct walk wk = {0};
	struct zw w = {0};
	struct stat st;
	char *tmp = NULL, *folder = NULL, hex[MOO__SHA256_HEX];
	bool z6 = false, z1 = false;
	size_t i;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_PACK_OPTS_VERSION, "moo_pack_opts", err))) {
		return r;
	}
	w.fd = -1;
	if ((folder = moo__spec_folder(dir))) {
		dir = folder;
	}
	/* the files it names are checked with the rest: every problem at once, as validate */
	r = moo_spec_load_tree(&spec, dir, dir, &local);
	if (!r) {
		r = moo_spec_check_tree(spec, dir, &local);
	}
	if (!r) {
		r = load_ignore(dir, &ig, &local);
	}
	if (r) {
		goto done;
	}
	wk.root = dir;
	wk.output_folder = spec->output_folder;
	wk.ig = ig;
	wk.err = &local;
	wk.need[wk.n_need++] = (struct required){"metadata.yaml", "the spec"};
	wk.need[wk.n_need++] = (struct required){spec->entry_point, "entry_point"};
	if (spec->inference_entry_point) {
		wk.need[wk.n_need++] =
			(struct required){spec->inference_entry_point, "inference.entry_point"};
	}
	if (stat(out_zip, &st) == 0) {
		wk.have_skip = true;
		wk.skip_dev = st.st_dev;
		wk.skip_ino = st.st_ino;
	}
	r = walk_dir(&wk, "");
	if (!r && wk.refused) {
		r = MOO_EBUNDLE;
	}
	if (r) {
		goto done;
	}
	qsort(wk.items, wk.n, sizeof(*wk.items), item_cmp);
	r = check_required(&wk);
	if (r) {
		goto done;
	}
	w.err = &local;
	w.opts = opts;
	w.total = wk.bytes;
	if (wk.n > 65535) {
		r = too_large(&w, "more than 65535 files and folders");
		goto done;
	}
	tmp = moo__printf("%s.tmp-XXXXXX", out_zip);
	w.fd = mkstemp(tmp);
	if (w.fd < 0) {
		r = moo__fail_errno(&local, MOO_EIO, "cannot create '%s'", tmp);
		free(tmp);
		tmp = NULL;
		goto done;
	}
	w.path = out_zip;
	w.buf = moo__malloc(WBUF);
	w.in = moo__malloc(SMALL_FILE);
	w.sha = moo__sha256_new();
	if (deflateInit2(&w.z6, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		abort(); /* only allocation can fail */
	}
	z6 = true;
	if (deflateInit2(&w.z1, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		abort();
	}
	z1 = true;
	w.out_cap = deflateBound(&w.z6, SMALL_FILE);
	w.out = moo__malloc(w.out_cap);
	for (i = 0; !r && i < wk.n; i++) {
		const struct item *it = &wk.items[i];

		if (w.off > UINT32_MAX) {
			r = too_large(&w, "over 4 GiB");
		} else if (it->dir) {
			r = local_header(&w, new_cent(&w, it));
		} else {
			r = pack_file(&w, dir, it);
		}
	}
	if (!r) {
		r = central_directory(&w);
	}
	if (r) {
		goto done;
	}
	if (fchmod(w.fd, 0644) < 0 || close(w.fd) < 0) {
		w.fd = -1;
		r = moo__fail_errno(&local, MOO_EIO, "cannot write '%s'", tmp);
		goto done;
	}
	w.fd = -1;
	if (rename(tmp, out_zip) < 0) {
		r = moo__fail_errno(&local, MOO_EIO, "cannot rename '%s' to '%s'", tmp, out_zip);
		goto done;
	}
	free(tmp);
	tmp = NULL;
	moo__sha256_final(w.sha, hex);
	if (packed && w.n_cents == wk.n) {
		struct moo__packed *p = moo__calloc(1, sizeof(*p));

		p->v = moo__calloc(wk.n ? wk.n : 1, sizeof(*p->v));
		for (i = 0; i < wk.n; i++) {
			p->v[i].rel = wk.items[i].rel;
			wk.items[i].rel = NULL;
			p->v[i].size = wk.items[i].size;
			p->v[i].crc = w.cents[i].crc;
			p->v[i].dir = wk.items[i].dir;
			p->v[i].exec = wk.items[i].exec;
		}
		p->n = wk.n;
		*packed = p;
	}
	if (result) {
		memset(result, 0, sizeof(*result));
		memcpy(result->sha256, hex, sizeof(result->sha256));
		result->size = w.off;
		result->bytes_in = wk.bytes;
		for (i = 0; i < wk.n; i++) {
			wk.items[i].dir ? result->n_dirs++ : result->n_files++;
		}
	}
	r = 0;
done:
	if (w.fd >= 0) {
		close(w.fd);
	}
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (z6) {
		deflateEnd(&w.z6);
	}
	if (z1) {
		deflateEnd(&w.z1);
	}
	moo__sha256_free(w.sha);
	free(w.buf);
	free(w.in);
	free(w.out);
	free(w.cents);
	for (i = 0; i < wk.n; i++) {
		free(wk.items[i].rel);
	}
	free(wk.items);
	moo__ignore_free(ig);
	moo_spec_free(spec);
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
