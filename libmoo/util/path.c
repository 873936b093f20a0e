#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ctype.h>
#include <ftw.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../internal.h"

int moo__read_file(const char *path, size_t max, struct moo_buf *out, struct moo_error **err)
{
	char chunk[65536];
	size_t start = out->len;
	int fd, r = 0;
	ssize_t n;

	/*
	 * A FIFO nothing writes to would block open() for ever: opened without waiting, then
	 * read as usual (a pipe with a writer, <(...), still gives all it writes; one with
	 * none reads as empty).
	 */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		return moo__fail_errno(err, errno == ENOENT ? MOO_ENOTFOUND : MOO_EIO,
				       "cannot open '%s'", path);
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", path);
			break;
		}
		if (out->len - start + (size_t)n > max) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "'%s' is larger than the limit of %zu bytes", path, max);
			(void)e;
			r = MOO_EARG;
			break;
		}
		moo_buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	if (r) {
		out->len = start;
		if (out->ptr) {
			out->ptr[start] = '\0';
		}
	}
	return r;
}

int moo__write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			errno = n ? errno : EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int moo__write_file_atomic(const char *path, const void *data, size_t len, int mode, bool durable,
			   struct moo_error **err)
{
	char *tmp = moo__printf("%s.tmp.%ld", path, (long)getpid());
	int fd = -1, r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot create '%s'", tmp);
		goto done;
	}
	if (moo__write_all(fd, data, len) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", tmp);
		goto done;
	}
	if ((durable && fsync(fd) < 0) || close(fd) < 0) {
		fd = -1;
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", tmp);
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot rename '%s' to '%s'", tmp, path);
		goto done;
	}
	r = 0;
done:
	if (fd >= 0) {
		close(fd);
	}
	if (r) {
		unlink(tmp);
	}
	free(tmp);
	return r;
}

int moo__mkdir_p(const char *path, int mode, struct moo_error **err)
{
	char *p = moo__strdup(path), *s;
	int r = 0;

	for (s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
				r = moo__fail_errno(err, MOO_EIO, "cannot create directory '%s'",
						    p);
				break;
			}
			*s = c;
			if (!c) {
				break;
			}
		}
	}
	free(p);
	return r;
}

char *moo__path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/') {
		la--;
	}
	while (*b == '/') {
		b++;
	}
	return moo__printf("%.*s/%s", (int)la, a, b);
}

bool moo__path_is_safe_relative(const char *rel)
{
	const char *s = rel, *comp = rel;

	if (!*rel || *rel == '/') {
		return false;
	}
	for (;; s++) {
		if (*s == '/' || *s == '\0') {
			size_t n = (size_t)(s - comp);

			if (n == 0 && *s == '/') {
				return false; /* "a//b" */
			}
			if ((n == 1 && comp[0] == '.') ||
			    (n == 2 && comp[0] == '.' && comp[1] == '.')) {
				return false;
			}
			if (!*s) {
				return true;
			}
			comp = s + 1;
		} else if (*s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f) {
			return false;
		}
	}
}

bool moo__all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	return !n || (!c[0] && !memcmp(c, c + 1, n - 1));
}

/*
 * src to dst (temporary name, renamed when complete), COPY_CHUNK at a time: memory stays
 * flat whatever the size, and runs of zeros become holes, so a sparse file stays sparse.
 */
#define COPY_CHUNK (1u << 20)
static int copy_file(const char *src, const char *dst, int mode, struct moo_error **err)
{
	char *tmp = moo__printf("%s.tmp.%ld", dst, (long)getpid()), *buf = NULL;
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, r;
	off_t size = 0;

	if (in < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot open '%s'", src);
		goto done;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot create '%s'", tmp);
		goto done;
	}
	buf = moo__malloc(COPY_CHUNK);
	for (;;) {
		ssize_t n = read(in, buf, COPY_CHUNK), w = 0;

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", src);
			goto done;
		}
		if (!n) {
			break;
		}
		if (moo__interrupted()) {
			r = moo__fail(err, MOO_EINTR, "copying '%s' interrupted", src);
			goto done;
		}
		if (moo__all_zero(buf, (size_t)n)) {
			w = lseek(out, n, SEEK_CUR) < 0 ? -1 : n;
		}
		while (!moo__all_zero(buf, (size_t)n) && w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR) {
				continue;
			}
			if (k < 0) {
				w = -1;
				break;
			}
			w += k;
		}
		if (w < 0) {
			r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", tmp);
			goto done;
		}
		size += n;
	}
	if (ftruncate(out, size) < 0 || close(out) < 0) {
		out = -1;
		r = moo__fail_errno(err, MOO_EIO, "cannot write '%s'", tmp);
		goto done;
	}
	out = -1;
	if (rename(tmp, dst) < 0) {
		r = moo__fail_errno(err, MOO_EIO, "cannot rename '%s' to '%s'", tmp, dst);
		goto done;
	}
	r = 0;
done:
	if (in >= 0) {
		close(in);
	}
	if (out >= 0) {
		close(out);
	}
	if (r) {
		unlink(tmp);
	}
	free(tmp);
	free(buf);
	return r;
}

int moo__copy_tree(const char *src, const char *dst, struct moo_error **err)
{
	struct stat st;
	DIR *d = NULL;
	struct dirent *e;
	int r = 0;

	if (lstat(src, &st) < 0) {
		return moo__fail_errno(err, MOO_EIO, "cannot read '%s'", src);
	}
	if (S_ISREG(st.st_mode)) {
		return copy_file(src, dst, (int)(st.st_mode & 0777), err);
	}
	if (!S_ISDIR(st.st_mode)) {
		return 0; /* only regular files and folders are copied */
	}
	if (mkdir(dst, 0755) < 0 && errno != EEXIST) {
		return moo__fail_errno(err, MOO_EIO, "cannot create directory '%s'", dst);
	}
	d = opendir(src);
	if (!d) {
		return moo__fail_errno(err, MOO_EIO, "cannot read directory '%s'", src);
	}
	while (!r && (e = readdir(d))) {
		char *s, *t;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
			continue;
		}
		s = moo__path_join(src, e->d_name);
		t = moo__path_join(dst, e->d_name);
		r = moo__copy_tree(s, t, err);
		free(s);
		free(t);
	}
	closedir(d);
	return r;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP) {
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	}
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* The inode number of this process's pid namespace; 0 where /proc cannot tell. */
static unsigned long pid_ns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long)st.st_ino : 0;
}

void moo__owner_tag(char *out, size_t len)
{
	snprintf(out, len, "%ld.%lu", (long)getpid(), pid_ns());
}

bool moo__owner_gone(const char *s)
{
	unsigned long ns;
	char *end;
	long pid;

	if (!isdigit((unsigned char)*s)) {
		return false;
	}
	errno = 0;
	pid = strtol(s, &end, 10);
	if (errno || pid <= 0 || pid == (long)getpid()) {
		return false;
	}
	if (*end == '.') { /* a maker of another pid namespace cannot be judged from here */
		if (!isdigit((unsigned char)end[1])) {
			return false;
		}
		ns = strtoul(end + 1, &end, 10);
		if (errno || ns != pid_ns()) {
			return false;
		}
	}
	return *end == '-' && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

void moo__sweep_dead(const char *dir, const char *prefix)
{
	size_t n = strlen(prefix);
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		struct stat st;
		char *path;

		if (strncmp(de->d_name, prefix, n) || !moo__owner_gone(de->d_name + n)) {
			continue; /* its maker may still be at it */
		}
		path = moo__path_join(dir, de->d_name);
		if (lstat(path, &st) == 0 && st.st_uid == geteuid()) {
			moo__rm_rf(path);
		}
		free(path);
	}
	if (d) {
		closedir(d);
	}
}

char *moo__spec_folder(const char *path)
{
	size_t n = strlen(path);
	struct stat st;

	if (n < 13 || strcmp(path + n - 13, "metadata.yaml") || (n > 13 && path[n - 14] != '/') ||
	    stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		return NULL;
	}
	return n == 13 ? moo__strdup(".") : moo__strndup(path, n > 14 ? n - 14 : 1);
}

void moo__sweep_tmp(void)
{
	static const char *const prefixes[] = {"moo-bundle-", "moo-serve-", "moo-model-",
					       "moo-publish-"};
	const char *tmpdir = getenv("TMPDIR");
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		moo__sweep_dead(tmpdir && *tmpdir ? tmpdir : "/tmp", prefixes[i]);
	}
}

char *moo__tmp_dir(const char *prefix, struct moo_error **err)
{
	const char *tmpdir = getenv("TMPDIR");
	char tag[48], *t;

	moo__sweep_tmp(); /* what killed moos left */
	moo__owner_tag(tag, sizeof(tag));
	t = moo__printf("%s/%s%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", prefix, tag);
	if (!mkdtemp(t)) {
		moo__fail_errno(err, MOO_EIO, "cannot make a temporary folder in '%s'",
				tmpdir && *tmpdir ? tmpdir : "/tmp");
		free(t);
		return NULL;
	}
	return t;
}

int moo__rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		return errno == ENOENT ? 0 : -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		return unlink(path);
	}
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int walk_files(const char *dir, const char *rel, moo__file_cb cb, void *data,
		      struct moo_error **err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d) {
		return moo__fail_errno(err, MOO_EIO, "cannot read '%s'", dir);
	}
	while (!r && (de = readdir(d))) {
		char *path, *sub;
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			continue;
		}
		path = moo__path_join(dir, de->d_name);
		sub = *rel ? moo__path_join(rel, de->d_name) : moo__strdup(de->d_name);
		if (lstat(path, &sb) < 0) {
			/* gone since it was listed: not a file of the tree */
		} else if (S_ISDIR(sb.st_mode)) {
			r = walk_files(path, sub, cb, data, err);
		} else if (S_ISREG(sb.st_mode)) {
			r = cb(path, sub, &sb, data, err);
		}
		free(path);
		free(sub);
	}
	closedir(d);
	return r;
}

int moo__walk_files(const char *dir, moo__file_cb cb, void *data, struct moo_error **err)
{
	return walk_files(dir, "", cb, data, err);
}
