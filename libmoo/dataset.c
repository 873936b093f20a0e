/*
 * dataset: a spec's dataset.source placed once per host, content-addressed.
 *
 * The source is an http(s) URL, a file or folder on this machine, or HOST:PATH already on
 * the job's host. Its sha256 is of the file's bytes, or for a folder of its manifest: the
 * lines 'SHA256  PATH' (sha256sum's format) of every regular file, paths relative to the
 * folder, sorted bytewise. It is checked against dataset.sha256 (or the lock's) before
 * anything is placed. What the job sees lands in <root>/datasets/<sha256>/ on the host:
 * a folder as it is, an archive (.zip, .tar.gz, .tgz, .tar.zst) extracted here with the
 * bundle rules (bundle.c), any other file as <basename>. The first upload sends the tree
 * in one put (pipelined) into staging/datasets/<sha256>.part, under a temporary name renamed
 * when complete; a cut leaves that temporary tree, which the next try adopts: it keeps the
 * files whose sha256 on the host is the one here, removes the rest and sends the missing
 * files one by one. The folder is renamed into datasets/ when complete and made read-only.
 * A host that has datasets/<sha256>/ is sent nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dataset.h"
#include "moo/dataset.h"
#include "moo/spec.h"
#include "transport.h"

#define DATASET_MAX_BYTES (1ull << 40) /* what an archive may extract to: 1 TiB */

enum kind { K_NONE, K_URL, K_LOCAL, K_HOST };

struct entry {
	char *rel;
	uint64_t size;
	bool dir;
	char *hash; /* host_hashes: the sha256 of the file on the host */
};

struct tree {
	struct entry *v;
	size_t n;
};

static void tree_dispose(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].rel);
		free(t->v[i].hash);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

/* Every file and folder under root (rel ""), refusing what is neither or badly named. */
static int walk(const char *root, const char *rel, struct tree *t, int depth,
		struct moo_error **err)
{
	char *path = *rel ? moo__path_join(root, rel) : moo__strdup(root);
	struct dirent *de;
	DIR *d = opendir(path);
	int r = 0;

	if (!d) {
		r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", path);
		free(path);
		return r;
	}
	while (!r && (errno = 0, de = readdir(d))) {
		char *sub, *full;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			continue;
		}
		sub = *rel ? moo__printf("%s/%s", rel, de->d_name) : moo__strdup(de->d_name);
		full = moo__path_join(root, sub);
		if (lstat(full, &st) < 0) {
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", full);
		} else if (!moo__path_is_safe_relative(sub) ||
			   (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
			struct moo_error *e = moo__error_add(
				err, MOO_EBUNDLE, MOO_SEV_ERROR,
				"dataset file '%s' refused: only regular files and folders, named "
				"without control characters or backslashes",
				full);

			moo__error_hint(e, "copy what links point to into the folder");
			r = MOO_EBUNDLE;
		} else if (depth > 64) {
			r = moo__fail(err, MOO_EBUNDLE, "'%s' is nested too deep", full);
		} else {
			MOO_GROW(t->v, t->n);
			t->v[t->n].rel = sub;
			t->v[t->n].size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
			t->v[t->n].dir = S_ISDIR(st.st_mode);
			t->v[t->n].hash = NULL;
			t->n++;
			sub = NULL;
			if (S_ISDIR(st.st_mode)) {
				r = walk(root, t->v[t->n - 1].rel, t, depth + 1, err);
			}
		}
		free(sub);
		free(full);
	}
	if (!r && errno) {
		r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", path);
	}
	closedir(d);
	free(path);
	if (!r && !depth && t->n) {
		qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
	}
	return r;
}

/* The sha256 of a folder: of its manifest, 'SHA256  PATH\n' per file in bytewise order. */
static int hash_folder(const char *dir, const struct tree *t, char hex[MOO__SHA256_HEX],
		       uint64_t *bytes, struct moo_error **err)
{
	struct moo_buf manifest = MOO_BUF_INIT;
	char fh[MOO__SHA256_HEX];
	size_t i;
	int r = 0;

	*bytes = 0;
	for (i = 0; i < t->n && !r; i++) {
		char *p;

		if (t->v[i].dir) {
			continue;
		}
		p = moo__path_join(dir, t->v[i].rel);
		r = moo__sha256_file(p, fh, NULL, err);
		free(p);
		moo_buf_printf(&manifest, "%s  %s\n", fh, t->v[i].rel);
		*bytes += t->v[i].size;
	}
	if (!r) {
		moo__sha256_buf(manifest.ptr ? manifest.ptr : "", manifest.len, hex);
	}
	moo_buf_dispose(&manifest);
	return r;
}

static bool is_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* HOST:PATH with an absolute or ~ PATH: *host and *path get the two parts. */
static bool split_host(const char *s, char **host, char **path)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@");

	if (!n || s[n] != ':' || (s[n + 1] != '/' && s[n + 1] != '~') || *s == '-' || *s == '.') {
		return false;
	}
	*host = moo__strndup(s, n);
	*path = moo__strdup(s + n + 1);
	return true;
}

/* The folder a relative source is relative to: the bundle's folder, or the ZIP's. */
static char *bundle_dir(const struct moo_bundle *b)
{
	struct stat st;
	const char *slash;

	if (!b->source || is_url(b->source) || stat(b->source, &st) < 0) {
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		return moo__strdup(b->source);
	}
	slash = strrchr(b->source, '/');
	return slash ? moo__strndup(b->source, (size_t)(slash - b->source)) : moo__strdup(".");
}

static char *absolute(const char *p)
{
	char *cwd, *r = realpath(p, NULL);

	if (r) {
		return r;
	}
	if (*p == '/') {
		return moo__strdup(p);
	}
	cwd = getcwd(NULL, 0);
	r = moo__printf("%s/%s", cwd ? cwd : ".", p);
	free(cwd);
	return r;
}

/* What the source is; *path gets the local path (made absolute) or the host's path. */
static enum kind classify(const char *src, const struct moo_bundle *b, char **path, char **host)
{
	const char *home = getenv("HOME");
	bool explicit = src[0] == '/' || !strncmp(src, "./", 2) || !strncmp(src, "../", 3);
	char *dir, *p;
	struct stat st;

	if (is_url(src)) {
		*path = moo__strdup(src);
		return K_URL;
	}
	if (split_host(src, host, path)) {
		return K_HOST;
	}
	if (!strncmp(src, "~/", 2) && home) {
		*path = moo__printf("%s/%s", home, src + 2);
		return K_LOCAL;
	}
	if (src[0] == '/') {
		*path = absolute(src);
		return K_LOCAL;
	}
	dir = bundle_dir(b);
	p = dir ? moo__path_join(dir, src) : NULL;
	free(dir);
	if (p && (explicit || stat(p, &st) == 0)) {
		*path = absolute(p);
		free(p);
		return K_LOCAL;
	}
	free(p);
	return K_NONE; /* a description, such as 'sklearn.datasets.load_diabetes' */
}

/* The archive kind by name: 0 none, 1 ZIP, 2 tar (gzip or zstd). */
static int archive_kind(const char *name)
{
	static const char *const tars[] = {".tar.gz", ".tgz", ".tar.zst", ".tzst"};
	size_t n = strcspn(name, "?#"), i, k;

	for (i = 0; i < MOO_ARRAY_SIZE(tars); i++) {
		k = strlen(tars[i]);
		if (n > k && !strncasecmp(name + n - k, tars[i], k)) {
			return 2;
		}
	}
	return n > 4 && !strncasecmp(name + n - 4, ".zip", 4) ? 1 : 0;
}

/* The last component of a path or URL's path, or "data". */
static char *base_name(const char *s)
{
	size_t n = strcspn(s, "?#");
	const char *end = s + n, *p = end;

	while (p > s && p[-1] != '/') {
		p--;
	}
	if (p == end || (is_url(s) && p <= strstr(s, "//") + 2)) {
		return moo__strdup("data");
	}
	return moo__strndup(p, (size_t)(end - p));
}

static int run_host(struct moo__transport *t, const char *cmd, struct moo_buf *out,
		    const char *what, struct moo_error **err)
{
	struct moo_buf errout = MOO_BUF_INIT;
	int status = -1, r = t->ops->exec(t, cmd, out, &errout, &status, err);

	if (!r && status) {
		struct moo_error *e =
			moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "cannot %s on '%s' (exit %d)",
				       what, t->host, status);

		moo_buf_putc(&errout, '\0');
		moo__error_cause(e, errout.ptr);
		r = MOO_EIO;
	}
	moo_buf_dispose(&errout);
	return r;
}

/* True when the host has the folder dir (asked with test -d: one answer, no cache). */
static bool host_has(struct moo__transport *t, const char *dir)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	int status = -1;

	moo_buf_puts(&cmd, "test -d ");
	moo_buf_shquote(&cmd, dir);
	if (t->ops->exec(t, cmd.ptr, NULL, NULL, &status, NULL)) {
		status = -1;
	}
	moo_buf_dispose(&cmd);
	return status == 0;
}

/* The sha256 of path on the host: the file's, or the folder's manifest's (as hash_folder). */
static int hash_on_host(struct moo__transport *t, const char *path, char hex[MOO__SHA256_HEX],
			struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	int r;

	moo_buf_puts(&cmd, "p=");
	moo_buf_shquote(&cmd, path);
	moo_buf_puts(&cmd, "; case $p in '~/'*) p=$HOME/${p#'~/'} ;; esac; "
			   "if [ -d \"$p\" ]; then cd -- \"$p\" && find . -type f | "
			   "sed 's|^\\./||' | LC_ALL=C sort | tr '\\n' '\\0' | "
			   "xargs -0r sha256sum -- | sha256sum; "
			   "elif [ -f \"$p\" ]; then sha256sum <\"$p\"; "
			   "else echo \"no such file or folder\" >&2; exit 66; fi");
	r = run_host(t, cmd.ptr, &out, "hash the dataset", err);
	if (!r && (out.len < 64 ||
		   (memcpy(hex, out.ptr, 64), hex[64] = '\0', !moo__is_sha256_hex(hex)))) {
		r = moo__fail(err, MOO_EIO, "cannot hash '%s' on '%s'", path, t->host);
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r;
}

/* Sizes of the files under dir on the host, "SIZE ./REL" lines, into *have. */
static int host_hashes(struct moo__transport *t, const char *dir, struct tree *have,
		       struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	char *line, *save = NULL;
	int r;

	moo_buf_puts(&cmd, "mkdir -p -- ");
	moo_buf_shquote(&cmd, dir);
	moo_buf_puts(&cmd, " && cd -- ");
	moo_buf_shquote(&cmd, dir);
	moo_buf_puts(&cmd, " && find . -type f -exec sha256sum -- {} +");
	r = run_host(t, cmd.ptr, &out, "list a cut transfer", err);
	moo_buf_putc(&out, '\0');
	for (line = r ? NULL : strtok_r(out.ptr, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) < 68 || strncmp(line + 64, "  ./", 4)) {
			continue; /* a name sha256sum escaped: not one of ours, never kept */
		}
		MOO_GROW(have->v, have->n);
		have->v[have->n].rel = moo__strdup(line + 68);
		have->v[have->n].hash = moo__strndup(line, 64);
		have->v[have->n].size = 0;
		have->v[have->n].dir = false;
		have->n++;
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r;
}

/*
 * Sends the local folder src into part on the host: in one put the first time, else file by
 * file, skipping the files a cut transfer already left there whole; *sent gets the bytes
 * sent.
 */
static int upload(struct moo__transport *t, const char *src, const char *part, uint64_t *sent,
		  struct moo_error **err)
{
	struct tree want = {NULL, 0}, have = {NULL, 0};
	struct moo_buf rm = MOO_BUF_INIT;
	bool *kept = NULL;
	size_t i, j;
	int r;

	*sent = 0;
	if ((r = walk(src, "", &want, 0, err))) {
		goto done;
	}
	/*
	 * Nothing sent before: the whole tree in one put (pipelined; under a temporary name
	 * renamed to part at the end). A cut leaves that temporary tree, its files written
	 * under their own names: the next try adopts it as part and goes file by file.
	 */
	moo_buf_puts(&rm, "cd -- \"${1%/*}\" 2>/dev/null || exit 0; b=${1##*/}; "
			  "for d in \"$b\".moo-tmp-*; do [ -d \"$d\" ] || continue; "
			  "if [ -e \"$b\" ]; then rm -rf -- \"$d\"; else mv -- \"$d\" \"$b\"; fi; "
			  "done; if [ -e \"$b\" ]; then echo resume; fi");
	{
		struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;

		moo_buf_puts(&cmd, "set -- ");
		moo_buf_shquote(&cmd, part);
		moo_buf_puts(&cmd, "; ");
		moo_buf_add(&cmd, rm.ptr, rm.len);
		r = run_host(t, cmd.ptr, &out, "look for a cut transfer", err);
		if (!r && !(out.len >= 6 && !memcmp(out.ptr, "resume", 6))) {
			r = t->ops->put(t, src, part, false, err);
			for (i = 0; !r && i < want.n; i++) {
				*sent += want.v[i].size;
			}
			moo_buf_dispose(&cmd);
			moo_buf_dispose(&out);
			goto done;
		}
		moo_buf_dispose(&cmd);
		moo_buf_dispose(&out);
		moo_buf_reset(&rm);
	}
	if (r || (r = host_hashes(t, part, &have, err))) {
		goto done;
	}
	/* What the cut transfer left: files whose bytes are the ones wanted are kept (the
	 * sha256 of each, here and there: a pipelined write can reach a file's full size
	 * before all of it is written), anything else (a put's temporary file) removed. */
	kept = moo__calloc(want.n + 1, sizeof(*kept));
	for (j = 0; j < have.n; j++) {
		bool keep = false;

		for (i = 0; i < want.n && !keep; i++) {
			if (!want.v[i].dir && !kept[i] && !strcmp(have.v[j].rel, want.v[i].rel)) {
				char *l = moo__path_join(src, want.v[i].rel), hex[MOO__SHA256_HEX];

				keep = kept[i] = !moo__sha256_file(l, hex, NULL, NULL) &&
						 !strcmp(hex, have.v[j].hash);
				free(l);
			}
		}
		if (!keep) {
			char *h = moo__path_join(part, have.v[j].rel);

			moo_buf_puts(&rm, rm.len ? " " : "rm -f -- ");
			moo_buf_shquote(&rm, h);
			free(h);
		}
	}
	if (rm.len && (r = run_host(t, rm.ptr, NULL, "remove what a cut transfer left", err))) {
		goto done;
	}
	for (i = 0; i < want.n && !r; i++) {
		char *l = moo__path_join(src, want.v[i].rel);
		char *h = moo__path_join(part, want.v[i].rel);

		if (want.v[i].dir) {
			r = t->ops->mkdir_p(t, h, err);
		} else if (!kept[i]) {
			struct moo_error *perr = NULL;

			r = t->ops->put(t, l, h, false, &perr);
			if (r && t->ops->exists(t, h)) {
				r = 0; /* another moo sending the same data put it first */
			} else if (!r) {
				*sent += want.v[i].size;
			}
			if (r) {
				moo__error_append(err, perr);
			} else {
				moo_error_free(perr);
			}
		}
		free(l);
		free(h);
	}
done:
	tree_dispose(&want);
	tree_dispose(&have);
	moo_buf_dispose(&rm);
	free(kept);
	return r;
}

static int lock_get(const char *lock, char **sha256, char **source)
{
	json_t *o = lock ? json_loads(lock, 0, NULL) : NULL;
	json_t *d = json_object_get(o, "dataset");
	const char *s = json_string_value(json_object_get(d, "sha256"));
	const char *src = json_string_value(json_object_get(d, "source"));

	*sha256 = s ? moo__strdup(s) : NULL;
	*source = src ? moo__strdup(src) : NULL;
	json_decref(o);
	return 0;
}

char *moo__dataset_lock(const char *lock, const char *name, const struct moo__dataset *d)
{
	json_t *o = json_loads(lock, 0, NULL), *n, *v, *ds;
	const char *k;
	char *s, *r;

	if (!json_is_object(o)) {
		json_decref(o);
		return moo__strdup(lock);
	}
	ds = json_object();
	json_object_set_new(ds, "name", json_string(name));
	json_object_set_new(ds, "source", json_string(d->source));
	json_object_set_new(ds, "sha256", json_string(d->sha256));
	n = json_object();
	json_object_foreach(o, k, v)
	{
		if (!strcmp(k, "dataset")) {
			continue;
		}
		json_object_set(n, k, v);
		if (!strcmp(k, "bundle")) {
			json_object_set(n, "dataset", ds);
		}
	}
	if (!json_object_get(n, "dataset")) {
		json_object_set(n, "dataset", ds);
	}
	s = json_dumps(n, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	r = moo__printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(ds);
	json_decref(n);
	json_decref(o);
	return r;
}

static int mismatch(struct moo_error **err, const char *name, const char *src, const char *want,
		    const char *got, bool locked)
{
	struct moo_error *e;

	if (locked) {
		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "dataset '%s' changed: the lock records sha256 %s, '%s' now has "
				   "%s",
				   name, want, src, got);
		moo__error_hint(e, "restore the dataset's bytes, or run the project again with "
				   "'moo run' to train on the new data");
		return MOO_ERESOLVE;
	}
	e = moo__error_add(err, MOO_EBUNDLE, MOO_SEV_ERROR,
			   "dataset '%s': sha256 mismatch: expected %s, '%s' has %s", name, want,
			   src, got);
	moo__error_hint(e, "check dataset.source, or set dataset.sha256 to the new sha256 if the "
			   "data is meant to change");
	return MOO_EBUNDLE;
}

/* Renames part into dir on the host (unless another job placed it first), read-only, and
 * writes dir.info. */
static int finish(struct moo__transport *t, const char *part, const char *dir,
		  const struct moo_spec *spec, const char *source, uint64_t bytes,
		  struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, info = MOO_BUF_INIT;
	char *path = moo__printf("%s.info", dir);
	int r;

	moo_buf_puts(&cmd, "d=");
	moo_buf_shquote(&cmd, dir);
	moo_buf_puts(&cmd, "; p=");
	moo_buf_shquote(&cmd, part);
	moo_buf_puts(&cmd, "; mkdir -p -- \"${d%/*}\" && if [ -e \"$d\" ]; then "
			   "chmod -R u+w -- \"$p\"; rm -rf -- \"$p\"; else mv -- \"$p\" \"$d\" "
			   "&& chmod -R a-w -- \"$d\"; fi");
	r = run_host(t, cmd.ptr, NULL, "place the dataset", err);
	moo_buf_printf(&info, "name=%s\nsource=%s\nbytes=%llu\nplaced=%lld\n",
		       spec->dataset.name ? spec->dataset.name : "", source,
		       (unsigned long long)bytes, (long long)time(NULL));
	if (!r && !t->ops->exists(t, path)) {
		r = t->ops->write_file(t, path, info.ptr, info.len, 0644, err);
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&info);
	free(path);
	return r;
}

/*
 * The tree of a local file or folder as the job will see it: the folder itself, an archive
 * extracted under stage, a file linked (or copied) into stage. *tree is the folder to send.
 */
static int make_tree(const char *path, const char *label, bool is_dir, const char *stage,
		     char **tree, struct moo_error **err)
{
	int kind = is_dir ? 0 : archive_kind(label);
	char *base, *dst;
	int r;

	if (is_dir) {
		*tree = moo__strdup(path);
		return 0;
	}
	moo__rm_rf(stage);
	if (kind) {
		r = moo__archive_extract(path, label, kind == 2, stage, DATASET_MAX_BYTES, err);
		if (!r) {
			*tree = moo__strdup(stage);
		}
		return r;
	}
	if ((r = moo__mkdir_p(stage, 0755, err))) {
		return r;
	}
	base = base_name(label);
	dst = moo__path_join(stage, base);
	if (link(path, dst) < 0) {
		r = moo__copy_tree(path, dst, err);
	}
	free(base);
	free(dst);
	if (!r) {
		*tree = moo__strdup(stage);
	}
	return r;
}

/* The file a URL without a sha256 was found to have, recorded when it was downloaded. */
static char *url_record(const char *lroot, const char *url)
{
	char h[MOO__SHA256_HEX];

	moo__sha256_buf(url, strlen(url), h);
	return moo__printf("%s/datasets/sources/%s", lroot, h);
}

int moo__dataset_place(struct moo__transport *t, const struct moo_bundle *b, const char *lock,
		       struct moo__dataset *out, struct moo_error **err)
{
	const struct moo_spec *spec = b->spec;
	const char *name = spec->dataset.name;
	char *lsha = NULL, *lsrc = NULL, *path = NULL, *host = NULL, *dir = NULL, *part = NULL;
	char *stage = NULL, *tree = NULL, *dl = NULL, *rec = NULL;
	char hex[MOO__SHA256_HEX] = "";
	const char *src, *want;
	struct moo_buf lroot = MOO_BUF_INIT;
	struct tree files = {NULL, 0};
	uint64_t bytes = 0;
	bool is_dir = false, have = false, remote = moo__transport_is_remote(t);
	enum kind kind;
	struct stat st;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!name || !spec->dataset.source) {
		return 0;
	}
	lock_get(lock, &lsha, &lsrc);
	src = lsrc ? lsrc : spec->dataset.source;
	want = lsha ? lsha : spec->dataset.sha256;
	kind = classify(src, b, &path, &host);
	if (kind == K_NONE && (!strncmp(src, "./", 2) || !strncmp(src, "../", 3))) {
		struct moo_error *e = moo__error_add(
			err, MOO_EARG, MOO_SEV_ERROR,
			"dataset '%s': '%s' is relative to the project's folder, and this bundle "
			"has none on this machine",
			name, src);

		moo__error_hint(e, "give an absolute path, a URL or HOST:PATH as dataset.source");
		r = MOO_EARG;
		goto done;
	}
	if (kind == K_NONE) {
		goto done;
	}
	if ((r = moo__job_root(&lroot, err))) {
		goto done;
	}
	if (kind == K_LOCAL) {
		if (stat(path, &st) < 0) {
			struct moo_error *e = moo__error_add(
				err, errno == ENOENT ? MOO_ENOTFOUND : MOO_EIO, MOO_SEV_ERROR,
				"dataset '%s': cannot read '%s': %s", name, path, strerror(errno));

			moo__error_hint(e, "dataset.source is a URL, a path on this machine "
					   "(relative to the project) or HOST:PATH");
			r = moo__error_code(e);
			goto done;
		}
		is_dir = S_ISDIR(st.st_mode);
		if (is_dir) {
			r = walk(path, "", &files, 0, err);
			r = r ? r : hash_folder(path, &files, hex, &bytes, err);
		} else {
			r = moo__sha256_file(path, hex, &bytes, err);
		}
	} else if (kind == K_HOST) {
		if (strcmp(host, t->host) && !(strcmp(host, "localhost") == 0 && !remote)) {
			struct moo_error *e =
				moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					       "dataset '%s' is on '%s', but the job runs on '%s'",
					       name, host, t->host);

			moo__error_hint(e,
					"run the job with --on %s, or give a URL or a path on "
					"this machine",
					host);
			r = MOO_EARG;
			goto done;
		}
		r = hash_on_host(t, path, hex, err);
	} else if (want) {
		memcpy(hex, want, sizeof(hex) - 1);
		hex[64] = '\0';
	} else {
		struct moo_buf known = MOO_BUF_INIT;

		rec = url_record(lroot.ptr, path);
		if (moo__read_file(rec, 128, &known, NULL) == 0 && known.len >= 64) {
			memcpy(hex, known.ptr, 64);
			hex[64] = '\0';
		}
		moo_buf_dispose(&known);
	}
	if (r) {
		goto done;
	}
	if (*hex && want && strcmp(hex, want)) {
		r = mismatch(err, name, src, want, hex, lsha != NULL);
		goto done;
	}
	if (*hex) {
		free(dir);
		dir = moo__printf("%s/datasets/%s", t->root, hex);
		have = host_has(t, dir);
	}
	if (!have && kind == K_URL) {
		char uh[MOO__SHA256_HEX];
		char *sdir = moo__printf("%s/staging/datasets", lroot.ptr);

		moo__sha256_buf(path, strlen(path), uh);
		uh[16] = '\0';
		dl = moo__printf("%s/url-%s.part", sdir, uh);
		r = moo__mkdir_p(sdir, 0700, err);
		free(sdir);
		r = r ? r : moo__download(path, dl, NULL, NULL, DATASET_MAX_BYTES, err);
		r = r ? r : moo__sha256_file(dl, hex, &bytes, err);
		if (r) {
			goto done;
		}
		if (want && strcmp(hex, want)) {
			unlink(dl); /* not the file asked for: the next try starts afresh */
			r = mismatch(err, name, src, want, hex, lsha != NULL);
			goto done;
		}
		if (!want) {
			char *rdir = moo__printf("%s/datasets/sources", lroot.ptr);

			free(rec);
			rec = url_record(lroot.ptr, path);
			if (!moo__mkdir_p(rdir, 0755, NULL)) {
				moo__write_file_atomic(rec, hex, 64, 0644, false, NULL);
			}
			free(rdir);
		}
		free(dir);
		dir = moo__printf("%s/datasets/%s", t->root, hex);
		have = host_has(t, dir);
	}
	if (!have) {
		char *pdir = moo__printf("%s/staging/datasets", t->root);

		/* a stable name on a remote host, so a cut upload resumes; here, one per moo,
		 * so two jobs placing the same data at once do not write into each other */
		part = remote ? moo__printf("%s/%s.part", pdir, hex)
			      : moo__printf("%s/%s.part-%ld", pdir, hex, (long)getpid());
		stage = moo__printf("%s/staging/datasets/%s.tree", lroot.ptr, hex);
		r = t->ops->mkdir_p(t, pdir, err);
		free(pdir);
		if (r) {
			goto done;
		}
		if (kind == K_HOST) {
			struct moo_buf cmd = MOO_BUF_INIT;
			char *base = base_name(path);

			moo_buf_puts(&cmd, "s=");
			moo_buf_shquote(&cmd, path);
			moo_buf_puts(&cmd, "; p=");
			moo_buf_shquote(&cmd, part);
			moo_buf_puts(&cmd, "; b=");
			moo_buf_shquote(&cmd, base);
			moo_buf_puts(&cmd, "; case $s in '~/'*) s=$HOME/${s#'~/'} ;; esac; "
					   "chmod -R u+w -- \"$p\" 2>/dev/null; rm -rf -- \"$p\"; "
					   "if [ -d \"$s\" ]; then cp -R -- \"$s\" \"$p\"; "
					   "else mkdir -p -- \"$p\" && cp -- \"$s\" \"$p/$b\"; fi");
			r = run_host(t, cmd.ptr, NULL, "copy the dataset", err);
			moo_buf_dispose(&cmd);
			free(base);
		} else {
			char *sdir = moo__printf("%s/staging/datasets", lroot.ptr);

			r = moo__mkdir_p(sdir, 0700, err);
			free(sdir);
			r = r ? r
			      : make_tree(kind == K_URL ? dl : path, path, is_dir, stage, &tree,
					  err);
			if (!r && remote) {
				r = upload(t, tree, part, &out->sent, err);
			} else if (!r) {
				struct stat pst;

				if (lstat(part, &pst) == 0) {
					moo__rm_rf(part);
				}
				if (!strcmp(tree, path)) {
					r = moo__copy_tree(tree, part, err);
				} else if (rename(tree, part) < 0) {
					r = moo__fail_errno(err, MOO_EIO, "cannot rename '%s'",
							    tree);
				}
				out->sent = bytes;
			}
		}
		r = r ? r : finish(t, part, dir, spec, kind == K_HOST ? src : path, bytes, err);
		if (r) {
			goto done;
		}
		if (dl) {
			unlink(dl);
		}
	}
	out->sha256 = moo__strdup(hex);
	out->source = moo__strdup(kind == K_HOST ? src : path);
	out->dir = dir;
	dir = NULL;
	moo_buf_printf(&out->log, "moo: dataset '%s' (sha256 %.12s) %s %s: %llu bytes sent\n", name,
		       hex, have ? "already on" : "placed on", t->host,
		       (unsigned long long)out->sent);
done:
	if (stage) {
		moo__rm_rf(stage);
	}
	tree_dispose(&files);
	moo_buf_dispose(&lroot);
	free(lsha);
	free(lsrc);
	free(path);
	free(host);
	free(dir);
	free(part);
	free(stage);
	free(tree);
	free(dl);
	free(rec);
	return r;
}

int moo__dataset_use(struct moo__transport *t, const struct moo__dataset *d, const char *job_id,
		     struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	int r;

	if (!d->dir) {
		return 0;
	}
	moo_buf_puts(&cmd, "echo ");
	moo_buf_shquote(&cmd, job_id);
	moo_buf_puts(&cmd, " \"$(date +%s)\" >>");
	{
		char *jobs = moo__printf("%s.jobs", d->dir);

		moo_buf_shquote(&cmd, jobs);
		free(jobs);
	}
	r = run_host(t, cmd.ptr, NULL, "record the dataset's use", err);
	moo_buf_dispose(&cmd);
	return r;
}

void moo__dataset_dispose(struct moo__dataset *d)
{
	if (!d) {
		return;
	}
	free(d->sha256);
	free(d->source);
	free(d->dir);
	moo_buf_dispose(&d->log);
	memset(d, 0, sizeof(*d));
}

/* ---- moo datasets: list, remove, gc ------------------------------------------------------- */

/*
 * One sh script lists every dataset on the host: "D SHA KIB", its .info as "I KEY=VALUE",
 * and each use as "J JOB EPOCH RUNNING" (running: the job's folder has no exit file and its
 * supervisor's pid, when written, is alive).
 */
static const char list_script[] =
	"cd -- \"$R/datasets\" 2>/dev/null || exit 0\n"
	"for d in *; do\n"
	"  [ -d \"$d\" ] && [ ${#d} -eq 64 ] || continue\n"
	"  case $d in *[!0-9a-f]*) continue ;; esac\n"
	"  echo \"D $d $(du -sk -- \"$d\" | cut -f1)\"\n"
	"  [ -f \"$d.info\" ] && sed 's/^/I /' \"$d.info\"\n"
	"  [ -f \"$d.jobs\" ] && while read -r j t; do\n"
	"    run=0; jd=$R/jobs/$j\n"
	"    if [ -d \"$jd\" ] && [ ! -e \"$jd/exit\" ]; then\n"
	"      pid=$(sed -n 's/^pid=//p' \"$jd/state\" 2>/dev/null)\n"
	"      if [ -z \"$pid\" ] || [ -d \"/proc/$pid\" ]; then run=1; fi\n"
	"    fi\n"
	"    echo \"J $j $t $run\"\n"
	"  done <\"$d.jobs\"\n"
	"done\n";

static void push(char ***v, size_t *n, const char *s)
{
	MOO_GROW(*v, *n);
	(*v)[(*n)++] = moo__strdup(s);
}

static int info_cmp(const void *a, const void *b)
{
	double x = ((const struct moo_dataset_info *)a)->last_used;
	double y = ((const struct moo_dataset_info *)b)->last_used;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int list_on(struct moo__transport *t, struct moo_dataset_info **out, size_t *n,
		   struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, text = MOO_BUF_INIT;
	struct moo_dataset_info *v = NULL, *cur = NULL;
	size_t nv = 0;
	char *line, *save = NULL;
	int r;

	moo_buf_puts(&cmd, "R=");
	moo_buf_shquote(&cmd, t->root);
	moo_buf_puts(&cmd, "\n");
	moo_buf_puts(&cmd, list_script);
	r = run_host(t, cmd.ptr, &text, "list the datasets", err);
	moo_buf_putc(&text, '\0');
	for (line = r ? NULL : strtok_r(text.ptr, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "D ", 2) && strlen(line) > 67) {
			MOO_GROW(v, nv);
			cur = &v[nv++];
			memset(cur, 0, sizeof(*cur));
			cur->sha256 = moo__strndup(line + 2, 64);
			cur->bytes = strtoull(line + 67, NULL, 10) * 1024;
		} else if (cur && !strncmp(line, "I name=", 7)) {
			cur->name = *(line + 7) ? moo__strdup(line + 7) : NULL;
		} else if (cur && !strncmp(line, "I source=", 9)) {
			cur->source = moo__strdup(line + 9);
		} else if (cur && !strncmp(line, "I bytes=", 8)) {
			cur->bytes = strtoull(line + 8, NULL, 10);
		} else if (cur && !strncmp(line, "I placed=", 9)) {
			cur->placed = strtod(line + 9, NULL);
			if (cur->last_used < cur->placed) {
				cur->last_used = cur->placed;
			}
		} else if (cur && !strncmp(line, "J ", 2)) {
			char id[128];
			double when = 0;
			int running = 0;

			if (sscanf(line + 2, "%127s %lf %d", id, &when, &running) == 3) {
				push(&cur->jobs, &cur->n_jobs, id);
				if (running) {
					push(&cur->running, &cur->n_running, id);
				}
				if (when > cur->last_used) {
					cur->last_used = when;
				}
			}
		}
	}
	if (r) {
		moo_dataset_list_free(v, nv);
	} else {
		if (nv) {
			qsort(v, nv, sizeof(*v), info_cmp);
		}
		*out = v;
		*n = nv;
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&text);
	return r;
}

int moo_dataset_list(struct moo_dataset_info **out, size_t *n, const char *host,
		     struct moo_error **err)
{
	struct moo__transport *t = NULL;
	int r = moo__transport_open(&t, host ? host : "local", err);

	*out = NULL;
	*n = 0;
	if (!r) {
		r = list_on(t, out, n, err);
	}
	moo__transport_close(t);
	return r;
}

void moo_dataset_list_free(struct moo_dataset_info *v, size_t n)
{
	size_t i, j;

	for (i = 0; v && i < n; i++) {
		free(v[i].sha256);
		free(v[i].name);
		free(v[i].source);
		for (j = 0; j < v[i].n_jobs; j++) {
			free(v[i].jobs[j]);
		}
		for (j = 0; j < v[i].n_running; j++) {
			free(v[i].running[j]);
		}
		free(v[i].jobs);
		free(v[i].running);
	}
	free(v);
}

/* Removes datasets/<sha256> and its .info and .jobs on the host. */
static int remove_one(struct moo__transport *t, const char *sha256, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	char *dir = moo__printf("%s/datasets/%s", t->root, sha256);
	int r;

	moo_buf_puts(&cmd, "d=");
	moo_buf_shquote(&cmd, dir);
	moo_buf_puts(&cmd, "; chmod -R u+w -- \"$d\" 2>/dev/null; rm -rf -- \"$d\" && "
			   "rm -f -- \"$d.info\" \"$d.jobs\"");
	r = run_host(t, cmd.ptr, NULL, "remove the dataset", err);
	moo_buf_dispose(&cmd);
	free(dir);
	return r;
}

static int refuse_running(const struct moo_dataset_info *d, struct moo_error **err)
{
	struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					     "dataset %.12s (%s) is used by running job %s",
					     d->sha256, d->name ? d->name : "?", d->running[0]);

	moo__error_hint(e, "wait for the job to end, or cancel it with 'moo cancel %s'",
			d->running[0]);
	return MOO_EARG;
}

int moo_dataset_remove(char **sha256, uint64_t *bytes, const char *host, const char *ref,
		       struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_dataset_info *v = NULL;
	size_t n = 0, i, hits = 0, hit = 0, len = strlen(ref);
	int r = moo__transport_open(&t, host ? host : "local", err);

	if (!r) {
		r = list_on(t, &v, &n, err);
	}
	if (r) {
		goto done;
	}
	for (i = 0; i < n; i++) {
		if ((len >= 8 && !strncmp(v[i].sha256, ref, len)) ||
		    (v[i].name && !strcmp(v[i].name, ref))) {
			hits++;
			hit = i;
		}
	}
	if (!hits) {
		struct moo_error *e = moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
						     "no dataset '%s' on '%s'", ref, t->host);

		moo__error_hint(e, "see them with 'moo datasets ls%s%s'", host ? " --on " : "",
				host ? host : "");
		r = MOO_ENOTFOUND;
		goto done;
	}
	if (hits > 1) {
		struct moo_error *e =
			moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				       "'%s' names %zu datasets on '%s'", ref, hits, t->host);

		moo__error_hint(e, "name one by its sha256");
		r = MOO_EARG;
		goto done;
	}
	if (v[hit].n_running) {
		r = refuse_running(&v[hit], err);
		goto done;
	}
	r = remove_one(t, v[hit].sha256, err);
	if (!r && sha256) {
		*sha256 = moo__strdup(v[hit].sha256);
	}
	if (!r && bytes) {
		*bytes = v[hit].bytes;
	}
done:
	moo_dataset_list_free(v, n);
	moo__transport_close(t);
	return r;
}

int moo_dataset_gc(char ***removed, size_t *n_removed, uint64_t *bytes, const char *host,
		   double older_than, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_dataset_info *v = NULL;
	struct moo_buf cmd = MOO_BUF_INIT;
	size_t n = 0, i;
	double now = (double)time(NULL);
	int r = moo__transport_open(&t, host ? host : "local", err);

	*removed = NULL;
	*n_removed = 0;
	*bytes = 0;
	if (!r) {
		r = list_on(t, &v, &n, err);
	}
	for (i = 0; !r && i < n; i++) {
		if (v[i].n_running || now - v[i].last_used < older_than) {
			continue;
		}
		r = remove_one(t, v[i].sha256, err);
		if (!r) {
			push(removed, n_removed, v[i].sha256);
			*bytes += v[i].bytes;
		}
	}
	if (!r) {
		/* cut transfers: nobody resumes them once the dataset they were for is gone */
		char *sd = moo__printf("%s/staging/datasets", t->root);

		moo_buf_puts(&cmd, "cd -- ");
		moo_buf_shquote(&cmd, sd);
		moo_buf_puts(&cmd, " 2>/dev/null || exit 0; for p in *.part; do [ -e \"$p\" ] || "
				   "continue; find \"$p\" -prune -mmin +60 | grep -q . || "
				   "continue; chmod -R u+w -- \"$p\"; rm -rf -- \"$p\"; done");
		r = run_host(t, cmd.ptr, NULL, "clean the dataset staging", err);
		free(sd);
	}
	moo_buf_dispose(&cmd);
	moo_dataset_list_free(v, n);
	moo__transport_close(t);
	return r;
}
