/*
 * images: the image table — spec/images.yaml, built into the library (embedded.c), read with
 * yamldoc like every other YAML moo reads; config.yaml's 'images:' entries come first and
 * 'registries:' maps registries to mirrors; the CUDA → driver table. Resolution is
 * resolve.c, moo.lock lock.c.
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
#include "resolve.h"

#define MAX_ENTRIES 10000

const char *const moo__frameworks[] = {"tensorflow", "pytorch",   "sklearn",
				       "xgboost",    "mindspore", "python"};

/* ---- small helpers ------------------------------------------------------------------- */

void moo__strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

char *moo__dup0(const char *s)
{
	return s ? moo__strdup(s) : NULL;
}

/*
 * Compares dotted versions component by component, numerically where both are numbers
 * ("1.10" > "1.9"), else as text; a missing component is smaller.
 */
int moo__vercmp(const char *a, const char *b)
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
bool moo__verfits(const char *asked, const char *v)
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
const char *moo__served(const char *v, const char *asked)
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
char *moo__expand(const char *s, const char *version, const char *python)
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
const char *moo__canonical(const char *name)
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
	moo__strv_free(e->versions, e->n_versions);
	moo__strv_free(e->python, e->n_python);
	free(e->cuda);
	free(e->cann);
	free(e->min_driver);
	free(e->image);
	moo__strv_free(e->archs, e->n_archs);
	moo__strv_free(e->install, e->n_install);
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
				e.framework = moo__strdup(moo__canonical(s));
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
		char *x = moo__expand(e.image, "1.0", "3.11");
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

const char *moo__min_driver(const struct moo_images *t, const struct entry *e)
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
