/*
 * resolve: spec + host facts → a plan (one image, its requirements layer), and moo.lock.
 *
 * The table is spec/images.yaml, built into the library (embedded.c), read with yamldoc
 * like every other YAML moo reads; config.yaml's 'images:' entries come first and
 * 'registries:' maps registries to mirrors. Resolution walks the entries in order:
 * config.yaml's first (the first that fits wins), then the built-in ones (the newest
 * version that fits the asked one; on a GPU, the newest CUDA the host's driver runs).
 * When nothing fits, the error names the most specific constraint that failed and the
 * hint lists the nearest versions that do resolve.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <jansson.h>
#include "embedded.h"
#include "registry.h"
#include "yamldoc.h"

struct entry {
	char *framework;
	char **versions;
	size_t n_versions;
	char **python;
	size_t n_python;
	enum moo_accel accel;
	char *cuda, *cann, *min_driver;
	char *image;
	char **archs;
	size_t n_archs;
	char **install;
	size_t n_install;
	char *setup, *index;
	char *file;
	int line;
	bool from_config;
};

struct cuda_driver {
	char *cuda, *driver;
};

struct moo_images {
	struct entry *e;
	size_t n;
	struct cuda_driver *cd;
	size_t n_cd;
	struct moo__registry *reg;
	size_t n_reg;
};

#define MAX_ENTRIES 10000

static const char *const frameworks[] = {"tensorflow", "pytorch",   "sklearn",
					 "xgboost",    "mindspore", "python"};

/* ---- small helpers ------------------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

static char *dup0(const char *s)
{
	return s ? moo__strdup(s) : NULL;
}

/*
 * Compares dotted versions component by component, numerically where both are numbers
 * ("1.10" > "1.9"), else as text; a missing component is smaller.
 */
static int vercmp(const char *a, const char *b)
{
	while (*a || *b) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		int c;

		if (!la && !lb) {
			;
		} else if (!la) {
			return -1;
		} else if (!lb) {
			return 1;
		} else if (strspn(a, "0123456789") >= la && strspn(b, "0123456789") >= lb) {
			unsigned long long x = strtoull(a, NULL, 10), y = strtoull(b, NULL, 10);

			if (x != y) {
				return x < y ? -1 : 1;
			}
		} else {
			c = strncmp(a, b, la < lb ? la : lb);
			if (c || la != lb) {
				return c ? c : (la < lb ? -1 : 1);
			}
		}
		a += la + (a[la] == '.');
		b += lb + (b[lb] == '.');
	}
	return 0;
}

/* True when every component of asked equals v's: "3" fits "3.10", "1.12" fits "1.12.0". */
static bool verfits(const char *asked, const char *v)
{
	size_t la = strlen(asked);

	if (!strncmp(asked, v, la) && (v[la] == '\0' || v[la] == '.')) {
		return true;
	}
	/* "3.10.4" asked of an image with "3.10": the image's components are a prefix. */
	la = strlen(v);
	return !strncmp(asked, v, la) && asked[la] == '.';
}

/*
 * A table version as it serves an asked one: "2.11.*" (any release of a series, installed
 * by pip from the entry's index) serves an asked "2.11" or "2.11.0" as that version, and
 * nothing when no version is asked (the table's own releases are the default); a plain
 * version is itself.
 */
static const char *served(const char *v, const char *asked)
{
	size_t n = strlen(v);

	if (n < 1 || v[n - 1] != '*') {
		return v;
	}
	if (!asked || strchr(asked, '*')) {
		return NULL;
	}
	if (n == 1) {
		return asked;
	}
	/* "2.11.*": asked "2.11" or "2.11.<anything>" */
	if (!strncmp(asked, v, n - 2) && (asked[n - 2] == '\0' || asked[n - 2] == '.')) {
		return asked;
	}
	return NULL;
}

/* s with {version} and {python} replaced. */
static char *expand(const char *s, const char *version, const char *python)
{
	struct moo_buf b = MOO_BUF_INIT;

	moo_buf_puts(&b, "");
	while (*s) {
		if (!strncmp(s, "{version}", 9)) {
			moo_buf_puts(&b, version ? version : "");
			s += 9;
		} else if (!strncmp(s, "{pyver}", 7)) {
			/* "3.10" -> "310" */
			for (const char *q = python ? python : ""; *q; q++) {
				if (*q != '.') {
					moo_buf_putc(&b, *q);
				}
			}
			s += 7;
		} else if (!strncmp(s, "{python}", 8)) {
			moo_buf_puts(&b, python ? python : "");
			s += 8;
		} else {
			moo_buf_putc(&b, *s++);
		}
	}
	return moo_buf_detach(&b);
}

/* The name of a framework as the table spells it. */
static const char *canonical(const char *name)
{
	if (!strcmp(name, "torch")) {
		return "pytorch";
	}
	if (!strcmp(name, "scikit-learn") || !strcmp(name, "scikit_learn")) {
		return "sklearn";
	}
	if (!strcmp(name, "plain") || !strcmp(name, "none")) {
		return "python";
	}
	return name;
}

const char *moo_platform_for_arch(const char *m)
{
	static const struct {
		const char *uname, *platform;
	} map[] = {
		{"x86_64", "linux/amd64"},    {"amd64", "linux/amd64"},
		{"aarch64", "linux/arm64"},   {"arm64", "linux/arm64"},
		{"armv7l", "linux/arm/v7"},   {"armv6l", "linux/arm/v6"},
		{"ppc64le", "linux/ppc64le"}, {"s390x", "linux/s390x"},
		{"i686", "linux/386"},        {"i386", "linux/386"},
		{"riscv64", "linux/riscv64"},
	};
	size_t i;

	for (i = 0; m && i < MOO_ARRAY_SIZE(map); i++) {
		if (!strcmp(m, map[i].uname)) {
			return map[i].platform;
		}
	}
	return NULL;
}

/* ---- reading the table ----------------------------------------------------------------- */

struct rctx {
	const char *file;
	struct moo_error **diags;
	size_t errors;
	bool config;
};

static struct moo_error *rerr(struct rctx *c, const struct moo__ynode *at, const char *fmt, ...)
	MOO_PRINTF(3, 4);

static struct moo_error *rerr(struct rctx *c, const struct moo__ynode *at, const char *fmt, ...)
{
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(c->diags, c->config ? MOO_EARG : MOO_EIO, MOO_SEV_ERROR, fmt, ap);
	va_end(ap);
	moo__error_at(e, c->file, at ? at->line : 0, at ? at->col : 0);
	c->errors++;
	return e;
}

/* Printable text without spaces, quotes or control characters (image references, versions). */
static bool word_ok(const char *s)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '"' || *s == '\'' ||
		    *s == '\\') {
			return false;
		}
	}
	return true;
}

/* One line of sh (an entry's setup): a string without control characters. */
static const char *line_of(struct rctx *c, const struct moo__ynode *v, const char *where)
{
	const char *s;

	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) != MOO_S_STR || !*v->text) {
		rerr(c, v, "'%s' must be a string, found %s", where, moo__yaml_kind_name(v));
		return NULL;
	}
	for (s = v->text; *s; s++) {
		if ((unsigned char)*s < ' ' || *s == 0x7f) {
			rerr(c, v, "'%s' must be one line", where);
			return NULL;
		}
	}
	return v->text;
}

static const char *scalar(struct rctx *c, const struct moo__ynode *v, const char *where)
{
	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) == MOO_S_NULL ||
	    moo__yaml_stype(v) == MOO_S_BOOL) {
		rerr(c, v, "'%s' must be a string, found %s", where, moo__yaml_kind_name(v));
		return NULL;
	}
	if (!word_ok(v->text)) {
		rerr(c, v, "'%s' must be one word without spaces or quotes, found '%s'", where,
		     v->text);
		return NULL;
	}
	return v->text;
}

/* A list of words (a single word counts as a list of one). */
static void words(struct rctx *c, const struct moo__ynode *v, const char *where, char ***out,
		  size_t *n, bool spaces_ok)
{
	size_t i;

	if (v->kind == MOO_Y_SCALAR) {
		const char *s = spaces_ok ? v->text : scalar(c, v, where);

		if (s) {
			MOO_GROW(*out, *n);
			(*out)[(*n)++] = moo__strdup(s);
		}
		return;
	}
	if (v->kind != MOO_Y_SEQ) {
		rerr(c, v, "'%s' must be a list, found %s", where, moo__yaml_kind_name(v));
		return;
	}
	for (i = 0; i < v->n; i++) {
		const char *s;

		if (spaces_ok) {
			s = v->kids[i]->kind == MOO_Y_SCALAR ? v->kids[i]->text : NULL;
			if (!s) {
				rerr(c, v->kids[i], "'%s' must hold strings", where);
			}
		} else {
			s = scalar(c, v->kids[i], where);
		}
		if (s) {
			MOO_GROW(*out, *n);
			(*out)[(*n)++] = moo__strdup(s);
		}
	}
}

static void entry_dispose(struct entry *e)
{
	free(e->framework);
	strv_free(e->versions, e->n_versions);
	strv_free(e->python, e->n_python);
	free(e->cuda);
	free(e->cann);
	free(e->min_driver);
	free(e->image);
	strv_free(e->archs, e->n_archs);
	strv_free(e->install, e->n_install);
	free(e->setup);
	free(e->index);
	free(e->file);
}

static const char *const entry_keys[] = {"framework", "versions", "python",     "accelerator",
					 "cuda",      "cann",     "min_driver", "image",
					 "archs",     "install",  "setup",      "index"};

static void unknown_key(struct rctx *c, const struct moo__ynode *k, const char *where,
			const char *const *names, size_t n)
{
	const char *near = moo__suggest(k->text, names, n);
	struct moo_error *e = rerr(c, k, "unknown key '%s' in '%s'", k->text, where);
	struct moo_buf b = MOO_BUF_INIT;
	size_t i;

	if (near) {
		moo__error_hint(e, "did you mean '%s'?", near);
		return;
	}
	for (i = 0; i < n; i++) {
		moo_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
	}
	moo__error_hint(e, "known keys are %s", b.ptr);
	moo_buf_dispose(&b);
}

static void read_entry(struct rctx *c, const struct moo__ynode *v, size_t idx, struct moo_images *t)
{
	struct entry e = {0};
	size_t errors = c->errors, i;
	char where[64];
	bool have_accel = false;

	snprintf(where, sizeof(where), "images[%zu]", idx);
	if (v->kind != MOO_Y_MAP) {
		moo__error_hint(rerr(c, v, "'%s' must be a mapping, found %s", where,
				     moo__yaml_kind_name(v)),
				"write '- framework: …' with 'versions', 'python', 'accelerator' "
				"and 'image' under it");
		return;
	}
	e.line = v->line;
	e.file = moo__strdup(c->file);
	e.from_config = c->config;
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *x = v->kids[i + 1];
		const char *s;

		if (k->kind != MOO_Y_SCALAR) {
			rerr(c, k, "a key in '%s' must be a string", where);
			continue;
		}
		if (!strcmp(k->text, "framework")) {
			if ((s = scalar(c, x, "framework"))) {
				free(e.framework);
				e.framework = moo__strdup(canonical(s));
			}
		} else if (!strcmp(k->text, "versions")) {
			words(c, x, "versions", &e.versions, &e.n_versions, false);
		} else if (!strcmp(k->text, "python")) {
			words(c, x, "python", &e.python, &e.n_python, false);
		} else if (!strcmp(k->text, "accelerator")) {
			if ((s = scalar(c, x, "accelerator"))) {
				have_accel = true;
				if (!strcmp(s, "cpu")) {
					e.accel = MOO_ACCEL_CPU;
				} else if (!strcmp(s, "gpu")) {
					e.accel = MOO_ACCEL_GPU;
				} else if (!strcmp(s, "npu")) {
					e.accel = MOO_ACCEL_NPU;
				} else {
					moo__error_hint(rerr(c, x, "unknown accelerator '%s'", s),
							"use cpu, gpu or npu");
				}
			}
		} else if (!strcmp(k->text, "setup") || !strcmp(k->text, "index")) {
			char **dst = k->text[0] == 's' ? &e.setup : &e.index;

			if ((s = k->text[0] == 's' ? line_of(c, x, "setup")
						   : scalar(c, x, "index"))) {
				free(*dst);
				*dst = moo__strdup(s);
			}
		} else if (!strcmp(k->text, "cuda") || !strcmp(k->text, "cann") ||
			   !strcmp(k->text, "min_driver") || !strcmp(k->text, "image")) {
			char **dst = k->text[0] == 'i'   ? &e.image
				     : k->text[1] == 'u' ? &e.cuda
				     : k->text[1] == 'a' ? &e.cann
							 : &e.min_driver;

			if ((s = scalar(c, x, k->text))) {
				free(*dst);
				*dst = moo__strdup(s);
			}
		} else if (!strcmp(k->text, "archs")) {
			words(c, x, "archs", &e.archs, &e.n_archs, false);
		} else if (!strcmp(k->text, "install")) {
			words(c, x, "install", &e.install, &e.n_install, true);
		} else if (strncmp(k->text, "x-", 2)) {
			unknown_key(c, k, where, entry_keys, MOO_ARRAY_SIZE(entry_keys));
		}
	}
	if (!e.framework) {
		moo__error_hint(rerr(c, v, "missing key 'framework' in '%s'", where),
				"add 'framework: sklearn' (or tensorflow, pytorch, …)");
	}
	if (!e.n_versions) {
		moo__error_hint(rerr(c, v, "missing key 'versions' in '%s'", where),
				"add 'versions: [\"1.2.1\"]'");
	}
	if (!e.n_python) {
		moo__error_hint(rerr(c, v, "missing key 'python' in '%s'", where),
				"add 'python: [\"3.11\"]'");
	}
	if (!have_accel) {
		moo__error_hint(rerr(c, v, "missing key 'accelerator' in '%s'", where),
				"add 'accelerator: cpu' (or gpu, npu)");
	}
	if (!e.image) {
		moo__error_hint(rerr(c, v, "missing key 'image' in '%s'", where),
				"add 'image: registry.example.org/team/image:{version}'");
	}
	if (have_accel && e.accel == MOO_ACCEL_GPU && !e.cuda) {
		moo__error_hint(rerr(c, v, "a gpu entry needs 'cuda' in '%s'", where),
				"add the image's CUDA version: 'cuda: \"12.1\"'");
	}
	if (e.image && !strchr(e.image, ':') && !strchr(e.image, '@')) {
		moo__error_hint(rerr(c, v, "'%s.image' has no tag: '%s'", where, e.image),
				"name a tag, like 'python:{python}-slim'");
	}
	if (e.image) {
		/* The reference must parse whatever version and Python fill it in. */
		char *x = expand(e.image, "1.0", "3.11");
		struct moo__imageref ir;
		struct moo_error *ie = NULL;

		if (moo__imageref_parse(&ir, x, &ie)) {
			moo__error_hint(rerr(c, v, "'%s.image' is not an image reference: '%s'",
					     where, e.image),
					"write [registry/]repository:tag, in lowercase, with "
					"{version} and {python} where they go");
		} else {
			moo__imageref_dispose(&ir);
		}
		moo_error_free(ie);
		free(x);
	}
	if (!e.n_archs) {
		e.archs = moo__calloc(2, sizeof(*e.archs));
		e.archs[0] = moo__strdup("amd64");
		e.n_archs = 1;
	}
	if (c->errors > errors) {
		entry_dispose(&e);
		return;
	}
	MOO_GROW(t->e, t->n);
	t->e[t->n++] = e;
}

static void read_images(struct rctx *c, const struct moo__ynode *v, struct moo_images *t)
{
	size_t i;

	if (v->kind == MOO_Y_SCALAR && moo__yaml_stype(v) == MOO_S_NULL) {
		return;
	}
	if (v->kind != MOO_Y_SEQ) {
		moo__error_hint(
			rerr(c, v, "'images' must be a list, found %s", moo__yaml_kind_name(v)),
			"write each entry as '- framework: …'");
		return;
	}
	if (v->n + t->n > MAX_ENTRIES) {
		rerr(c, v, "more than %d image entries", MAX_ENTRIES);
		return;
	}
	for (i = 0; i < v->n; i++) {
		read_entry(c, v->kids[i], i, t);
	}
}

static void read_cuda(struct rctx *c, const struct moo__ynode *v, struct moo_images *t)
{
	size_t i;

	if (v->kind != MOO_Y_MAP) {
		rerr(c, v, "'cuda' must be a mapping of CUDA versions to drivers");
		return;
	}
	for (i = 0; i < v->n; i += 2) {
		const char *k = scalar(c, v->kids[i], "cuda"),
			   *d = scalar(c, v->kids[i + 1], "cuda");

		if (k && d) {
			MOO_GROW(t->cd, t->n_cd);
			t->cd[t->n_cd].cuda = moo__strdup(k);
			t->cd[t->n_cd++].driver = moo__strdup(d);
		}
	}
}

static bool host_ok(const char *s)
{
	return *s &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
		       strlen(s);
}

/* host[:port][/path], the path of repository characters. */
static bool mirror_ok(const char *s)
{
	size_t h = strcspn(s, "/");
	char *host = moo__strndup(s, h);
	bool ok = host_ok(host) &&
		  strspn(s + h, "abcdefghijklmnopqrstuvwxyz0123456789._-/") == strlen(s + h);

	free(host);
	return ok && !strstr(s, "//") && s[strlen(s) - 1] != '/';
}

static void read_registries(struct rctx *c, const struct moo__ynode *v, struct moo_images *t)
{
	static const char *const keys[] = {"mirror", "insecure"};
	size_t i, j;

	if (v->kind == MOO_Y_SCALAR && moo__yaml_stype(v) == MOO_S_NULL) {
		return;
	}
	if (v->kind != MOO_Y_MAP) {
		moo__error_hint(rerr(c, v, "'registries' must be a mapping, found %s",
				     moo__yaml_kind_name(v)),
				"write each registry as 'docker.io:' with 'mirror:' or "
				"'insecure:' under it");
		return;
	}
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *x = v->kids[i + 1];
		struct moo__registry r = {0};
		size_t errors = c->errors;

		if (k->kind != MOO_Y_SCALAR || !host_ok(k->text)) {
			moo__error_hint(rerr(c, k, "invalid registry name '%s'",
					     k->kind == MOO_Y_SCALAR ? k->text : "?"),
					"write a host and an optional port: 'docker.io', "
					"'127.0.0.1:5000'");
			continue;
		}
		if (x->kind != MOO_Y_MAP) {
			rerr(c, x, "'registries.%s' must be a mapping, found %s", k->text,
			     moo__yaml_kind_name(x));
			continue;
		}
		r.name = moo__strdup(k->text);
		for (j = 0; j < x->n; j += 2) {
			const struct moo__ynode *fk = x->kids[j], *fv = x->kids[j + 1];

			if (fk->kind != MOO_Y_SCALAR) {
				continue;
			}
			if (!strcmp(fk->text, "mirror")) {
				const char *s = scalar(c, fv, "mirror");

				if (s && !mirror_ok(s)) {
					moo__error_hint(rerr(c, fv, "invalid mirror '%s'", s),
							"write a host, an optional port and path, "
							"no scheme: "
							"'mirror.example.org:5000/dockerhub'");
					s = NULL;
				}
				if (s) {
					free(r.mirror);
					r.mirror = moo__strdup(s);
				}
			} else if (!strcmp(fk->text, "insecure")) {
				if (fv->kind != MOO_Y_SCALAR || moo__yaml_stype(fv) != MOO_S_BOOL) {
					rerr(c, fv,
					     "'registries.%s.insecure' must be true or false",
					     k->text);
				} else {
					r.insecure = !strcmp(fv->text, "true") ||
						     !strcmp(fv->text, "True") ||
						     !strcmp(fv->text, "TRUE");
				}
			} else if (strncmp(fk->text, "x-", 2)) {
				char *where = moo__printf("registries.%s", k->text);

				unknown_key(c, fk, where, keys, MOO_ARRAY_SIZE(keys));
				free(where);
			}
		}
		if (c->errors > errors) {
			free(r.name);
			free(r.mirror);
			continue;
		}
		MOO_GROW(t->reg, t->n_reg);
		t->reg[t->n_reg++] = r;
	}
}

/* Reads one document: the built-in table (cuda, images) or config.yaml (images, registries;
 * its other keys are config.c's). */
static void read_doc(struct rctx *c, const struct moo__ynode *root, struct moo_images *t)
{
	size_t i;

	if (!root || (root->kind == MOO_Y_SCALAR && moo__yaml_stype(root) == MOO_S_NULL)) {
		return;
	}
	if (root->kind != MOO_Y_MAP) {
		rerr(c, root, "the document must be a mapping, found %s",
		     moo__yaml_kind_name(root));
		return;
	}
	for (i = 0; i < root->n; i += 2) {
		const struct moo__ynode *k = root->kids[i], *v = root->kids[i + 1];

		if (k->kind != MOO_Y_SCALAR) {
			continue;
		}
		if (!strcmp(k->text, "images")) {
			read_images(c, v, t);
		} else if (!strcmp(k->text, "registries") && c->config) {
			read_registries(c, v, t);
		} else if (!strcmp(k->text, "cuda") && !c->config) {
			read_cuda(c, v, t);
		} else if (!c->config && strncmp(k->text, "x-", 2)) {
			rerr(c, k, "unknown key '%s'", k->text);
		}
	}
}

static int load_doc(struct moo_images *t, const char *data, size_t len, const char *name,
		    bool config, struct moo_error **err)
{
	struct moo_error *diags = NULL;
	struct moo__ydoc *doc = NULL;
	struct moo__ynode *root;
	struct rctx c = {0};
	int r = 0;

	c.file = name;
	c.diags = &diags;
	c.config = config;
	root = moo__yaml_load(&doc, data, len, name, &diags);
	if (moo__error_code(diags)) {
		struct moo_error *e;

		for (e = diags; e; e = e->next) {
			e->code = config ? MOO_EARG : MOO_EIO;
		}
		r = config ? MOO_EARG : MOO_EIO;
	} else {
		read_doc(&c, root, t);
		if (c.errors) {
			r = config ? MOO_EARG : MOO_EIO;
		}
	}
	moo__ydoc_free(doc);
	if (r) {
		moo__error_append(err, diags);
	} else {
		moo_error_free(diags);
	}
	return r;
}

static const struct moo__embedded *builtin_table(void)
{
	const struct moo__embedded *e;

	for (e = moo__embedded_tables; e->name; e++) {
		if (!strcmp(e->name, "images.yaml")) {
			return e;
		}
	}
	return NULL;
}

int moo_images_parse(struct moo_images **out, const char *config, size_t len, const char *name,
		     struct moo_error **err)
{
	const struct moo__embedded *b = builtin_table();
	struct moo_images *t = moo__calloc(1, sizeof(*t));
	int r;

	if (!b) {
		moo_images_free(t);
		return moo__fail(err, MOO_EIO, "libmoo was built without spec/images.yaml");
	}
	/* config.yaml's entries first: they are tried before the built-in ones. */
	if (config && (r = load_doc(t, config, len, name ? name : "config.yaml", true, err))) {
		moo_images_free(t);
		return r;
	}
	if ((r = load_doc(t, (const char *)b->data, b->size, "images.yaml", false, err))) {
		moo_images_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int moo_images_load(struct moo_images **out, const char *config_path, struct moo_error **err)
{
	struct moo_buf file = MOO_BUF_INIT, data = MOO_BUF_INIT;
	struct moo_error *e = NULL;
	int r;

	if (config_path) {
		moo_buf_puts(&file, config_path);
	} else if ((r = moo_config_path(&file, err))) {
		goto done;
	}
	r = moo__read_file(file.ptr, MOO_CONFIG_MAX_BYTES, &data, &e);
	if (r == MOO_ENOTFOUND) {
		r = moo_images_parse(out, NULL, 0, NULL, err);
		goto done;
	}
	if (r) {
		moo__error_at(e, file.ptr, 0, 0);
		moo__error_append(err, e);
		e = NULL;
		goto done;
	}
	r = moo_images_parse(out, data.ptr ? data.ptr : "", data.len, file.ptr, err);
done:
	moo_error_free(e);
	moo_buf_dispose(&file);
	moo_buf_dispose(&data);
	return r;
}

void moo_images_free(struct moo_images *t)
{
	size_t i;

	if (!t) {
		return;
	}
	for (i = 0; i < t->n; i++) {
		entry_dispose(&t->e[i]);
	}
	for (i = 0; i < t->n_cd; i++) {
		free(t->cd[i].cuda);
		free(t->cd[i].driver);
	}
	for (i = 0; i < t->n_reg; i++) {
		free(t->reg[i].name);
		free(t->reg[i].mirror);
	}
	free(t->e);
	free(t->cd);
	free(t->reg);
	free(t);
}

struct moo__registries moo__images_registries(const struct moo_images *t)
{
	struct moo__registries r = {t ? t->reg : NULL, t ? t->n_reg : 0};

	return r;
}

/* ---- resolving --------------------------------------------------------------------- */

/* How far a candidate got, in the order the constraints are checked. */
enum stage { ST_FRAMEWORK, ST_VERSION, ST_PYTHON, ST_ACCEL, ST_ARCH, ST_DRIVER, ST_OK };

struct want {
	const char *framework;
	const char *version; /* NULL: any */
	const char *python;  /* NULL: any */
	enum moo_accel accel;
	const char *arch;   /* "amd64", "arm/v7"; NULL: any */
	const char *driver; /* the host's NVIDIA driver; NULL: unknown */
	const char *cuda;   /* the newest CUDA it runs (nvidia-smi); NULL: unknown */
};

static const char *min_driver(const struct moo_images *t, const struct entry *e)
{
	size_t i;

	if (e->min_driver) {
		return e->min_driver;
	}
	for (i = 0; e->cuda && i < t->n_cd; i++) {
		if (!strcmp(t->cd[i].cuda, e->cuda)) {
			return t->cd[i].driver;
		}
	}
	return NULL;
}

/* The entry's Python that fits w->python, the newest of them; NULL when none. Caller frees. */
static char *pick_python(const struct entry *e, const char *version, const char *asked)
{
	char *best = NULL;
	size_t i;

	for (i = 0; i < e->n_python; i++) {
		char *p = expand(e->python[i], version, NULL);

		if ((!asked || verfits(asked, p)) && (!best || vercmp(p, best) > 0)) {
			free(best);
			best = p;
		} else {
			free(p);
		}
	}
	return best;
}

static bool arch_fits(const struct entry *e, const char *arch)
{
	size_t i, la;

	if (!arch) {
		return true;
	}
	la = strcspn(arch, "/");
	for (i = 0; i < e->n_archs; i++) {
		/* "arm64" in the table serves "arm64" and "arm64/v8". */
		if (!strcmp(e->archs[i], arch) ||
		    (strlen(e->archs[i]) == la && !strncmp(e->archs[i], arch, la))) {
			return true;
		}
	}
	return false;
}

static enum stage check(const struct moo_images *t, const struct entry *e, const char *v,
			const struct want *w)
{
	char *py;
	const char *md;

	if (strcmp(e->framework, w->framework)) {
		return ST_FRAMEWORK;
	}
	if (!(v = served(v, w->version)) || (w->version && !verfits(w->version, v))) {
		return ST_VERSION;
	}
	if (!(py = pick_python(e, v, w->python))) {
		return ST_PYTHON;
	}
	free(py);
	if (e->accel != w->accel) {
		return ST_ACCEL;
	}
	if (!arch_fits(e, w->arch)) {
		return ST_ARCH;
	}
	if (e->accel == MOO_ACCEL_GPU) {
		md = min_driver(t, e);
		if (w->driver && md && vercmp(w->driver, md) < 0) {
			return ST_DRIVER;
		}
		if (w->cuda && e->cuda && vercmp(w->cuda, e->cuda) < 0) {
			return ST_DRIVER;
		}
	}
	return ST_OK;
}

struct pick {
	const struct entry *e;
	const char *version;
};

/* The entry and version for w; config.yaml's entries first. */
static struct pick best(const struct moo_images *t, const struct want *w, enum stage *deepest)
{
	struct pick p = {NULL, NULL};
	size_t i, j;
	int pass;

	for (pass = 0; pass < 2 && !p.e; pass++) {
		for (i = 0; i < t->n; i++) {
			const struct entry *e = &t->e[i];

			if (e->from_config != (pass == 0)) {
				continue;
			}
			for (j = 0; j < e->n_versions; j++) {
				enum stage s = check(t, e, e->versions[j], w);
				const char *v = served(e->versions[j], w->version);
				int c;

				if (deepest && s > *deepest) {
					*deepest = s;
				}
				if (s != ST_OK) {
					continue;
				}
				if (!p.e) {
					p.e = e;
					p.version = v;
					continue;
				}
				if (pass == 0) {
					continue; /* config.yaml: the first that fits */
				}
				c = vercmp(v, p.version);
				if (c > 0 || (c == 0 && e->cuda && p.e->cuda &&
					      vercmp(e->cuda, p.e->cuda) > 0)) {
					p.e = e;
					p.version = v;
				}
			}
		}
	}
	return p;
}

static int cmp_versions(const void *a, const void *b)
{
	return vercmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The versions of w->framework that resolve with everything else in w as asked, the
 * nearest to w->version first (alternating below and above it), at most max, as
 * "a, b, c" in out. Returns how many.
 */
static size_t nearest(const struct moo_images *t, const struct want *w, size_t max,
		      struct moo_buf *out)
{
	struct want any = *w;
	const char **ok = NULL;
	size_t n = 0, i, j, k, lo, hi, shown = 0;

	any.version = NULL;
	for (i = 0; i < t->n; i++) {
		for (j = 0; j < t->e[i].n_versions; j++) {
			const char *v = t->e[i].versions[j];
			size_t lv = strlen(v);
			bool dup = false;
			enum stage s;

			if (lv > 2 && !strcmp(v + lv - 2, ".*")) {
				/* a series ("2.11.*"): shown as such when its first release fits */
				char *first = moo__printf("%.*s", (int)(lv - 2), v);

				any.version = first;
				s = check(t, &t->e[i], v, &any);
				any.version = NULL;
				free(first);
			} else {
				s = check(t, &t->e[i], v, &any);
			}
			if (s != ST_OK) {
				continue;
			}
			for (k = 0; k < n && !dup; k++) {
				dup = !strcmp(ok[k], v);
			}
			if (!dup) {
				MOO_GROW(ok, n);
				ok[n++] = v;
			}
		}
	}
	if (n) {
		qsort(ok, n, sizeof(*ok), cmp_versions);
	}
	/* ok[hi] is the first version above the asked one. */
	for (hi = 0; w->version && hi < n && vercmp(ok[hi], w->version) <= 0; hi++) {
		;
	}
	lo = hi;
	while (shown < max && (lo > 0 || hi < n)) {
		const char *v;

		if (lo > 0 && (hi >= n || shown % 2 == 0)) {
			v = ok[--lo];
		} else {
			v = ok[hi++];
		}
		moo_buf_printf(out, "%s%s", shown ? ", " : "", v);
		shown++;
	}
	free(ok);
	return n;
}

/* What the framework has, for hints: "cpu, gpu". */
static void accels_of(const struct moo_images *t, const struct want *w, struct moo_buf *out)
{
	bool seen[3] = {false, false, false};
	size_t i, j;
	int a, n = 0;

	for (i = 0; i < t->n; i++) {
		for (j = 0; j < t->e[i].n_versions; j++) {
			if (check(t, &t->e[i], t->e[i].versions[j], w) >= ST_ACCEL) {
				seen[t->e[i].accel] = true;
			}
		}
	}
	for (a = 0; a < 3; a++) {
		if (seen[a]) {
			moo_buf_printf(out, "%s%s", n++ ? ", " : "", moo_accel_name(a));
		}
	}
}

static void pythons_of(const struct moo_images *t, const struct want *w, struct moo_buf *out)
{
	struct want any = *w;
	char **seen = NULL;
	size_t n = 0, i, j, k, m;

	any.python = NULL;
	for (i = 0; i < t->n; i++) {
		for (j = 0; j < t->e[i].n_versions; j++) {
			if (check(t, &t->e[i], t->e[i].versions[j], &any) < ST_ACCEL) {
				continue;
			}
			for (m = 0; m < t->e[i].n_python; m++) {
				char *p = expand(t->e[i].python[m], t->e[i].versions[j], NULL);
				bool dup = false;

				for (k = 0; k < n && !dup; k++) {
					dup = !strcmp(seen[k], p);
				}
				if (dup) {
					free(p);
				} else {
					MOO_GROW(seen, n);
					seen[n++] = p;
				}
			}
		}
	}
	if (n) {
		qsort(seen, n, sizeof(*seen), cmp_versions);
	}
	for (k = 0; k < n; k++) {
		moo_buf_printf(out, "%s%s", k ? ", " : "", seen[k]);
	}
	strv_free(seen, n);
}

static int fail(const struct moo_images *t, const struct want *w, enum stage deepest,
		struct moo_error **err)
{
	struct moo_buf msg = MOO_BUF_INIT, hint = MOO_BUF_INIT, near = MOO_BUF_INIT;
	const char *py = w->python ? w->python : "any version";
	struct moo_error *e;
	size_t n;

	n = nearest(t, w, 6, &near);
	switch (deepest) {
	case ST_FRAMEWORK: {
		const char *names[MOO_ARRAY_SIZE(frameworks)];
		const char *sug;
		size_t i;

		for (i = 0; i < MOO_ARRAY_SIZE(frameworks); i++) {
			names[i] = frameworks[i];
		}
		sug = moo__suggest(w->framework, names, MOO_ARRAY_SIZE(names));
		moo_buf_printf(&msg, "no image for framework '%s'", w->framework);
		if (sug) {
			moo_buf_printf(&hint, "did you mean '%s'? ", sug);
		}
		moo_buf_puts(&hint, "the table knows tensorflow, pytorch, sklearn, xgboost, "
				    "mindspore and python; add others under 'images:' in "
				    "config.yaml");
		break;
	}
	case ST_VERSION:
		moo_buf_printf(&msg, "no image for %s %s", w->framework, w->version);
		break;
	case ST_PYTHON: {
		struct moo_buf p = MOO_BUF_INIT;

		pythons_of(t, w, &p);
		moo_buf_printf(&msg, "no image for %s %s with python %s", w->framework,
			       w->version ? w->version : "", py);
		moo_buf_printf(&hint, "%s %s has images for python %s; ", w->framework,
			       w->version ? w->version : "", p.ptr ? p.ptr : "");
		moo_buf_dispose(&p);
		break;
	}
	case ST_ACCEL: {
		struct moo_buf a = MOO_BUF_INIT;

		accels_of(t, w, &a);
		moo_buf_printf(&msg, "no %s image for %s %s with python %s",
			       moo_accel_name(w->accel), w->framework, w->version ? w->version : "",
			       py);
		moo_buf_printf(&hint, "it has images for %s; ", a.ptr ? a.ptr : "");
		moo_buf_dispose(&a);
		break;
	}
	case ST_ARCH:
		moo_buf_printf(&msg, "no linux/%s image for %s %s", w->arch, w->framework,
			       w->version ? w->version : "");
		break;
	case ST_DRIVER:
	case ST_OK:
		moo_buf_printf(&msg,
			       "no image for %s %s fits the host's NVIDIA driver %s (CUDA %s)",
			       w->framework, w->version ? w->version : "",
			       w->driver ? w->driver : "?", w->cuda ? w->cuda : "?");
		moo_buf_puts(&hint, "update the driver, or ");
		break;
	}
	if (deepest != ST_FRAMEWORK) {
		if (n) {
			moo_buf_printf(&hint, "%s versions that resolve with python %s on %s%s: %s",
				       deepest == ST_DRIVER ? "pick one of the" : "nearest", py,
				       moo_accel_name(w->accel),
				       w->driver ? " with this driver" : "", near.ptr);
		} else {
			moo_buf_printf(&hint,
				       "no %s version resolves with python %s on %s%s; add an "
				       "entry under 'images:' in config.yaml",
				       w->framework, py, moo_accel_name(w->accel),
				       w->driver ? " with this driver" : "");
		}
	}
	e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR, "%s", msg.ptr);
	moo__error_hint(e, "%s", hint.ptr);
	moo_buf_dispose(&msg);
	moo_buf_dispose(&hint);
	moo_buf_dispose(&near);
	return MOO_ERESOLVE;
}

int moo_resolve(struct moo_plan **out, const struct moo_images *t, const struct moo_spec *spec,
		const struct moo_resolve_opts *opts, struct moo_error **err)
{
	const struct moo_host_facts *f = opts ? opts->facts : NULL;
	const char *platform = f ? moo_platform_for_arch(f->arch) : NULL;
	struct want w = {0};
	struct moo_plan *p;
	struct pick pk;
	enum stage deepest = ST_FRAMEWORK;
	size_t i;

	if (MOO__OPTS_VERSION(opts, MOO_RESOLVE_OPTS_VERSION, "moo_resolve_opts", err)) {
		return MOO_EARG;
	}
	if (strcmp(spec->framework.runtime.name, "python")) {
		moo__error_hint(moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					       "no image for runtime '%s'",
					       spec->framework.runtime.name),
				"moo's images run Python: write 'runtime: python3.11'");
		return MOO_ERESOLVE;
	}
	w.framework = canonical(spec->framework.name);
	w.version = spec->framework.version;
	w.python = spec->framework.runtime.version;
	w.accel = opts && opts->accelerator >= 0 ? (enum moo_accel)opts->accelerator
						 : spec->resources.accelerator;
	w.arch = platform ? platform + strlen("linux/") : NULL;
	if (f && w.accel == MOO_ACCEL_GPU) {
		w.driver = f->driver_version;
		w.cuda = f->cuda_version;
	}
	if (f && w.accel == MOO_ACCEL_GPU && !f->n_gpus && !f->driver_version) {
		/* a warning: the plan is still shown, but moo run's preflight will refuse it */
		moo__error_hint(
			moo__error_add(err, MOO_ERESOLVE, MOO_SEV_WARNING,
				       "the host has no GPU: accelerator 'gpu' resolves, but "
				       "moo run there refuses it (exit 5)"),
			"resolve for a host with a GPU (--on HOST), or ask for "
			"--accelerator cpu");
	}
	pk = best(t, &w, &deepest);
	if (!pk.e) {
		return fail(t, &w, deepest, err);
	}
	p = moo__calloc(1, sizeof(*p));
	p->framework = moo__strdup(w.framework);
	p->framework_version = moo__strdup(pk.version);
	p->python = pick_python(pk.e, pk.version, w.python);
	p->accelerator = w.accel;
	p->count =
		w.accel == MOO_ACCEL_CPU ? 0 : (spec->resources.count ? spec->resources.count : 1);
	p->cuda = dup0(pk.e->cuda);
	p->cann = dup0(pk.e->cann);
	p->min_driver = w.accel == MOO_ACCEL_GPU ? dup0(min_driver(t, pk.e)) : NULL;
	p->image = expand(pk.e->image, pk.version, p->python);
	p->pull = moo__registry_pull_ref(&(struct moo__registries){t->reg, t->n_reg}, p->image);
	p->platform = dup0(platform);
	p->archs = moo__calloc(pk.e->n_archs + 1, sizeof(*p->archs));
	for (i = 0; i < pk.e->n_archs; i++) {
		p->archs[i] = moo__printf("linux/%s", pk.e->archs[i]);
	}
	p->n_archs = pk.e->n_archs;
	for (i = 0; i < pk.e->n_install; i++) {
		MOO_GROW(p->requirements, p->n_requirements);
		p->requirements[p->n_requirements++] =
			expand(pk.e->install[i], pk.version, p->python);
	}
	for (i = 0; i < spec->framework.runtime.n_requirement; i++) {
		MOO_GROW(p->requirements, p->n_requirements);
		p->requirements[p->n_requirements++] =
			moo__strdup(spec->framework.runtime.requirement[i]);
	}
	p->source = moo__printf("%s:%d", pk.e->file, pk.e->line);
	p->setup = pk.e->setup ? expand(pk.e->setup, pk.version, p->python) : NULL;
	p->index = pk.e->index ? expand(pk.e->index, pk.version, p->python) : NULL;
	*out = p;
	return 0;
}

int moo_plan_pin(struct moo_plan *plan, const struct moo_images *t, struct moo_error **err)
{
	struct moo__pinned pin = {0};
	const char *platform = plan->platform ? plan->platform : "linux/amd64";
	size_t i;
	int r;

	r = moo__registry_pin(&pin, &(struct moo__registries){t ? t->reg : NULL, t ? t->n_reg : 0},
			      plan->image, platform, err);
	if (r) {
		return r;
	}
	free(plan->digest);
	free(plan->platform_digest);
	plan->digest = pin.digest;
	plan->platform_digest = pin.platform_digest;
	pin.digest = pin.platform_digest = NULL;
	if (pin.n_platforms) {
		strv_free(plan->archs, plan->n_archs);
		plan->archs = moo__calloc(pin.n_platforms + 1, sizeof(*plan->archs));
		for (i = 0; i < pin.n_platforms; i++) {
			plan->archs[i] = moo__strdup(pin.platforms[i]);
		}
		plan->n_archs = pin.n_platforms;
	}
	if (!plan->platform) {
		plan->platform = moo__strdup(platform);
	}
	moo__pinned_dispose(&pin);
	return 0;
}

char *moo_plan_ref(const struct moo_plan *plan)
{
	const char *ref = plan->pull ? plan->pull : plan->image;

	if (plan->digest) {
		/* A tag and a digest: the digest decides, the tag stays for people. */
		return moo__printf("%s@%s", ref, plan->digest);
	}
	return moo__strdup(ref);
}

void moo_plan_free(struct moo_plan *p)
{
	if (!p) {
		return;
	}
	free(p->framework);
	free(p->framework_version);
	free(p->python);
	free(p->cuda);
	free(p->cann);
	free(p->min_driver);
	free(p->image);
	free(p->pull);
	free(p->digest);
	free(p->platform);
	free(p->platform_digest);
	strv_free(p->archs, p->n_archs);
	strv_free(p->requirements, p->n_requirements);
	free(p->source);
	free(p->setup);
	free(p->index);
	free(p->runtime);
	free(p->image_id);
	free(p->env_key);
	free(p->interpreter);
	free(p->interpreter_version);
	strv_free(p->packages, p->n_packages);
	free(p->bundle_sha256);
	free(p->bundle_source);
	free(p->host);
	free(p->host_facts);
	free(p->command);
	free(p->created);
	free(p);
}

/* ---- moo.lock ------------------------------------------------------------------------ */

/* 2 adds runtime, image.id, image.env_key, image.setup, image.index, interpreter */
#define LOCK_VERSION 2

static void set_str(json_t *o, const char *k, const char *v)
{
	json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_string(v[i]));
	}
	return a;
}

void moo_lock_write(const struct moo_plan *p, struct moo_buf *out)
{
	json_t *o = json_object(), *b = json_object(), *fw = json_object(), *img = json_object();
	json_t *host = json_object(), *facts = NULL;
	char *s;

	json_t *interp = json_object();

	json_object_set_new(o, "moo_lock", json_integer(LOCK_VERSION));
	set_str(o, "created", p->created);
	set_str(o, "runtime", p->runtime);
	set_str(b, "sha256", p->bundle_sha256);
	set_str(b, "source", p->bundle_source);
	json_object_set_new(o, "bundle", b);
	set_str(fw, "name", p->framework);
	set_str(fw, "version", p->framework_version);
	set_str(fw, "python", p->python);
	json_object_set_new(o, "framework", fw);
	set_str(img, "reference", p->image);
	set_str(img, "pull", p->pull);
	set_str(img, "digest", p->digest);
	set_str(img, "platform", p->platform);
	set_str(img, "platform_digest", p->platform_digest);
	json_object_set_new(img, "platforms", strv_json(p->archs, p->n_archs));
	set_str(img, "from", p->source);
	set_str(img, "setup", p->setup);
	set_str(img, "index", p->index);
	set_str(img, "env_key", p->env_key);
	set_str(img, "id", p->image_id);
	json_object_set_new(o, "image", img);
	set_str(o, "accelerator", moo_accel_name(p->accelerator));
	json_object_set_new(o, "count", json_integer(p->count));
	set_str(o, "cuda", p->cuda);
	set_str(o, "cann", p->cann);
	set_str(o, "min_driver", p->min_driver);
	json_object_set_new(o, "requirements", strv_json(p->requirements, p->n_requirements));
	set_str(interp, "path", p->interpreter);
	set_str(interp, "version", p->interpreter_version);
	json_object_set_new(interp, "packages", strv_json(p->packages, p->n_packages));
	json_object_set_new(o, "interpreter", interp);
	set_str(o, "command", p->command);
	set_str(host, "name", p->host);
	if (p->host_facts) {
		facts = json_loads(p->host_facts, 0, NULL);
	}
	json_object_set_new(host, "facts", facts ? facts : json_null());
	json_object_set_new(o, "host", host);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	moo_buf_puts(out, s);
	moo_buf_putc(out, '\n');
	free(s);
	json_decref(o);
}

int moo_lock_save(const struct moo_plan *plan, const char *path, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	int r;

	moo_lock_write(plan, &b);
	r = moo__write_file_atomic(path, b.ptr, b.len, 0644, false, err);
	if (r && err && *err) {
		struct moo_error *e = *err;

		while (e->next) {
			e = e->next;
		}
		moo__error_hint(e, "check that the folder exists and is writable");
	}
	moo_buf_dispose(&b);
	return r;
}

static char *get_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? moo__strdup(json_string_value(v)) : NULL;
}

static int get_strv(json_t *a, char ***out, size_t *n)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a)) {
		return a ? -1 : 0;
	}
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			return -1;
		}
		MOO_GROW(*out, *n);
		(*out)[(*n)++] = moo__strdup(json_string_value(v));
	}
	return 0;
}

/* A runtime a lock may name (runtime.c runs them; resolve.c stays below it). */
static bool known_runtime(const char *name)
{
	static const char *const names[] = {"host", "docker", "podman", "apptainer", "singularity"};
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(names); i++) {
		if (!strcmp(name, names[i])) {
			return true;
		}
	}
	return false;
}

int moo_lock_parse(struct moo_plan **out, const char *text, size_t len, const char *name,
		   struct moo_error **err)
{
	json_error_t je;
	json_t *o, *b, *fw, *img, *host, *facts, *interp;
	struct moo_plan *p = NULL;
	const char *accel;
	json_int_t version;
	int r = MOO_ESPEC;

	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		struct moo_error *e = moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR,
						     "not a moo.lock: %s", je.text);

		moo__error_at(e, name, je.line, je.column);
		return MOO_ESPEC;
	}
	version = json_integer_value(json_object_get(o, "moo_lock"));
	if (!json_is_object(o) || version < 1 || version > LOCK_VERSION) {
		moo__error_hint(moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR,
					       "'%s' is not a version %d moo.lock", name,
					       LOCK_VERSION),
				"write it again with 'moo resolve'");
		goto done;
	}
	b = json_object_get(o, "bundle");
	fw = json_object_get(o, "framework");
	img = json_object_get(o, "image");
	host = json_object_get(o, "host");
	p = moo__calloc(1, sizeof(*p));
	p->created = get_str(o, "created");
	p->bundle_sha256 = get_str(b, "sha256");
	p->bundle_source = get_str(b, "source");
	p->framework = get_str(fw, "name");
	p->framework_version = get_str(fw, "version");
	p->python = get_str(fw, "python");
	p->image = get_str(img, "reference");
	p->pull = get_str(img, "pull");
	p->digest = get_str(img, "digest");
	p->platform = get_str(img, "platform");
	p->platform_digest = get_str(img, "platform_digest");
	p->source = get_str(img, "from");
	p->cuda = get_str(o, "cuda");
	p->cann = get_str(o, "cann");
	p->min_driver = get_str(o, "min_driver");
	p->command = get_str(o, "command");
	p->runtime = get_str(o, "runtime");
	p->setup = get_str(img, "setup");
	p->index = get_str(img, "index");
	p->env_key = get_str(img, "env_key");
	p->image_id = get_str(img, "id");
	interp = json_object_get(o, "interpreter");
	p->interpreter = get_str(interp, "path");
	p->interpreter_version = get_str(interp, "version");
	p->host = get_str(host, "name");
	facts = json_object_get(host, "facts");
	if (json_is_object(facts)) {
		p->host_facts = json_dumps(facts, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	p->count = (unsigned)json_integer_value(json_object_get(o, "count"));
	accel = json_string_value(json_object_get(o, "accelerator"));
	if (accel && !strcmp(accel, "gpu")) {
		p->accelerator = MOO_ACCEL_GPU;
	} else if (accel && !strcmp(accel, "npu")) {
		p->accelerator = MOO_ACCEL_NPU;
	} else if (accel && !strcmp(accel, "cpu")) {
		p->accelerator = MOO_ACCEL_CPU;
	} else {
		moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR, "'%s': unknown accelerator", name);
		goto done;
	}
	if (get_strv(json_object_get(img, "platforms"), &p->archs, &p->n_archs) ||
	    get_strv(json_object_get(o, "requirements"), &p->requirements, &p->n_requirements) ||
	    get_strv(json_object_get(interp, "packages"), &p->packages, &p->n_packages)) {
		moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR, "'%s': a list holds a non-string",
			       name);
		goto done;
	}
	/* version 1 locks name no runtime (NULL: chosen again, as moo run does) */
	if (!p->framework || (!p->image && (!p->runtime || strcmp(p->runtime, "host"))) ||
	    (p->runtime && !known_runtime(p->runtime)) ||
	    (p->bundle_sha256 && !moo__is_sha256_hex(p->bundle_sha256)) ||
	    (p->digest &&
	     (strncmp(p->digest, "sha256:", 7) || !moo__is_sha256_hex(p->digest + 7)))) {
		moo__error_hint(moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR,
					       "'%s' lacks the framework or image, or holds an "
					       "invalid sha256",
					       name),
				"write it again with 'moo resolve'");
		goto done;
	}
	*out = p;
	p = NULL;
	r = 0;
done:
	moo_plan_free(p);
	json_decref(o);
	return r;
}

struct moo_plan *moo_plan_dup(const struct moo_plan *plan)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_plan *p = NULL;

	moo_lock_write(plan, &b);
	if (moo_lock_parse(&p, b.ptr, b.len, "plan", NULL)) {
		p = NULL;
	}
	moo_buf_dispose(&b);
	return p;
}
