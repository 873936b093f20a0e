/*
 * spec: metadata.yaml → struct moo_spec (spec/metadata.md is normative).
 *
 * yaml.c reads the document into a node tree, stopping hostile YAML on the way; this
 * file walks the tree against the field tables below and reports every problem with
 * its line and column.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "yamldoc.h"

/* ---- pass 2: nodes → struct moo_spec -------------------------------------------- */

struct vctx {
	const char *file;
	struct moo_error **diags;
	struct moo_spec *spec;
	size_t errors;
};

static struct moo_error *verr(struct vctx *c, const struct moo__ynode *at, const char *fmt, ...)
	MOO_PRINTF(3, 4);

static struct moo_error *verr(struct vctx *c, const struct moo__ynode *at, const char *fmt, ...)
{
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(c->diags, MOO_ESPEC, MOO_SEV_ERROR, fmt, ap);
	va_end(ap);
	moo__error_at(e, c->file, at->line, at->col);
	c->errors++;
	return e;
}

static void expected(struct vctx *c, const struct moo__ynode *v, const char *where,
		     const char *what)
{
	verr(c, v, "'%s' must be %s, found %s", where, what, moo__yaml_kind_name(v));
}

typedef void (*field_fn)(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst);

struct field {
	const char *key;
	field_fn fn;
	size_t off; /* into struct moo_spec */
	bool required;
	const char *example; /* for the hint of a missing required key */
};

/* Handler for keys not in the table (NULL: unknown keys are errors). */
typedef void (*other_fn)(struct vctx *c, const struct moo__ynode *k, const struct moo__ynode *v,
			 const char *where);

static char *sub(const char *where, const char *key)
{
	return where ? moo__printf("%s.%s", where, key) : moo__strdup(key);
}

static void walk_map(struct vctx *c, const struct moo__ynode *map, const char *where,
		     const struct field *fields, size_t nf, other_fn other)
{
	const char *names[32];
	bool seen[32] = {false};
	size_t i, j;

	for (j = 0; j < nf && j < MOO_ARRAY_SIZE(names); j++) {
		names[j] = fields[j].key;
	}
	for (i = 0; i < map->n; i += 2) {
		const struct moo__ynode *k = map->kids[i], *v = map->kids[i + 1];
		char *path;

		if (k->kind != MOO_Y_SCALAR) {
			verr(c, k, "a key in '%s' must be a string, found %s",
			     where ? where : "the document", moo__yaml_kind_name(k));
			continue;
		}
		for (j = 0; j < i; j += 2) {
			const struct moo__ynode *prev = map->kids[j];

			if (prev->kind == MOO_Y_SCALAR && !strcmp(prev->text, k->text)) {
				moo__error_hint(verr(c, k, "duplicate key '%s'%s%s%s", k->text,
						     where ? " in '" : "", where ? where : "",
						     where ? "'" : ""),
						"the first is at line %d; keep one of them",
						prev->line);
				break;
			}
		}
		if (j < i) {
			continue;
		}
		for (j = 0; j < nf; j++) {
			if (!strcmp(fields[j].key, k->text)) {
				break;
			}
		}
		if (j < nf) {
			seen[j] = true;
			path = sub(where, k->text);
			fields[j].fn(c, v, path, (char *)c->spec + fields[j].off);
			free(path);
		} else if (!strncmp(k->text, "x-", 2)) {
			/* the user's own: ignored */
		} else if (other) {
			other(c, k, v, where);
		} else {
			struct moo_error *e;
			const char *near = moo__suggest(k->text, names, nf);

			e = verr(c, k, "unknown key '%s'%s%s%s", k->text, where ? " in '" : "",
				 where ? where : "", where ? "'" : "");
			if (near) {
				moo__error_hint(e, "did you mean '%s'?", near);
			} else {
				struct moo_buf b = MOO_BUF_INIT;

				for (j = 0; j < nf; j++) {
					moo_buf_printf(&b, "%s%s", j ? ", " : "", fields[j].key);
				}
				moo__error_hint(e,
						"known keys are %s; prefix your own keys with 'x-'",
						b.ptr ? b.ptr : "none");
				moo_buf_dispose(&b);
			}
		}
	}
	for (j = 0; j < nf; j++) {
		if (fields[j].required && !seen[j]) {
			struct moo_error *e;

			e = verr(c, map, "missing required key '%s'%s%s%s", fields[j].key,
				 where ? " in '" : "", where ? where : "", where ? "'" : "");
			if (fields[j].example) {
				moo__error_hint(e, "add '%s'", fields[j].example);
			}
		}
	}
}

static bool need_map(struct vctx *c, const struct moo__ynode *v, const char *where)
{
	if (v->kind != MOO_Y_MAP) {
		expected(c, v, where, "a mapping");
		return false;
	}
	return true;
}

/* Any scalar but null and booleans: versions and names written as 1.12 or 2. */
static void f_version(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	enum moo__stype t;

	if (v->kind != MOO_Y_SCALAR || (t = moo__yaml_stype(v)) == MOO_S_NULL || t == MOO_S_BOOL) {
		expected(c, v, where, "a string");
		return;
	}
	if (!*v->text) {
		verr(c, v, "'%s' must not be empty", where);
		return;
	}
	*(char **)dst = moo__strdup(v->text);
}

/* Lowercase names: tensorflow, python, scikit-learn, mindspore. */
static bool ident_ok(const char *s)
{
	return ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s);
}

static void f_ident(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	char *s = NULL;

	f_version(c, v, where, &s);
	if (s && !ident_ok(s)) {
		moo__error_hint(verr(c, v, "'%s' must be a lowercase name, found '%s'", where, s),
				"use lowercase letters, digits, '.', '-' and '_'");
		free(s);
		return;
	}
	*(char **)dst = s;
}

static void f_string(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) != MOO_S_STR) {
		expected(c, v, where, "a string");
		return;
	}
	if (!*v->text) {
		verr(c, v, "'%s' must not be empty", where);
		return;
	}
	*(char **)dst = moo__strdup(v->text);
}

static void f_path(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	char *s = NULL;

	f_string(c, v, where, &s);
	if (!s) {
		return;
	}
	if (!moo__path_is_safe_relative(s)) {
		moo__error_hint(verr(c, v,
				     "'%s' must be a relative path inside the bundle, found '%s'",
				     where, s),
				"write it relative to the folder holding metadata.yaml, "
				"without '..', '//', a leading '/' or backslashes");
		free(s);
		return;
	}
	*(char **)dst = s;
	/* Entry points keep their place for moo_spec_check_tree's diagnostics. */
	if (dst == &c->spec->entry_point) {
		c->spec->entry_point_mark = (struct moo_mark){v->line, v->col};
	} else if (dst == &c->spec->inference_entry_point) {
		c->spec->inference_entry_point_mark = (struct moo_mark){v->line, v->col};
	}
}

static void f_sha256(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	size_t i;

	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) == MOO_S_NULL ||
	    moo__yaml_stype(v) == MOO_S_BOOL) {
		expected(c, v, where, "a sha256 of 64 hex digits");
		return;
	}
	for (i = 0; v->text[i]; i++) {
		if (!strchr("0123456789abcdef", v->text[i])) {
			break;
		}
	}
	if (i != 64 || v->text[i]) {
		moo__error_hint(verr(c, v, "'%s' must be 64 lowercase hex digits, found '%s'",
				     where, v->text),
				"compute it with 'sha256sum FILE'");
		return;
	}
	*(char **)dst = moo__strdup(v->text);
}

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

static int num(const char *s, size_t n)
{
	int x = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		x = x * 10 + (s[i] - '0');
	}
	return x;
}

/* YYYY-MM-DD, a real calendar day, optionally with a time: THH:MM:SS[.frac][Z|±HH[:]MM]. */
static bool date_ok(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2)) {
		return false;
	}
	y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) {
		return false;
	}
	s += 10;
	if (!*s) {
		return true;
	}
	if ((*s != 'T' && *s != 't' && *s != ' ') || !digits(s + 1, 2) || s[3] != ':' ||
	    !digits(s + 4, 2) || s[6] != ':' || !digits(s + 7, 2) || num(s + 1, 2) > 23 ||
	    num(s + 4, 2) > 59 || num(s + 7, 2) > 60) {
		return false;
	}
	s += 9;
	if (*s == '.') {
		if (!digits(s + 1, 1)) {
			return false;
		}
		for (s++; *s >= '0' && *s <= '9'; s++) {
		}
	}
	if (*s == 'Z' || *s == 'z') {
		return s[1] == '\0';
	}
	if (*s == '+' || *s == '-') {
		if (!digits(s + 1, 2) || num(s + 1, 2) > 23) {
			return false;
		}
		s += 3;
		s += *s == ':';
		return digits(s, 2) && num(s, 2) <= 59 && s[2] == '\0';
	}
	return *s == '\0';
}

static void f_date(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) != MOO_S_STR) {
		expected(c, v, where, "a date (YYYY-MM-DD)");
		return;
	}
	if (!date_ok(v->text)) {
		moo__error_hint(verr(c, v, "'%s' must be a date, found '%s'", where, v->text),
				"write a real day as YYYY-MM-DD, or an ISO 8601 date and time "
				"like 2024-05-01T12:00:00Z");
		return;
	}
	*(char **)dst = moo__strdup(v->text);
}

static bool parse_number(const struct moo__ynode *v, double *out)
{
	enum moo__stype t;
	char *end;

	if (v->kind != MOO_Y_SCALAR ||
	    ((t = moo__yaml_stype(v)) != MOO_S_INT && t != MOO_S_FLOAT)) {
		return false;
	}
	*out = t == MOO_S_INT ? (double)strtoll(v->text, &end, 10) : strtod(v->text, &end);
	if (t == MOO_S_FLOAT) { /* YAML's .inf, -.inf and .nan, which strtod reads as 0 */
		const char *p = v->text + (v->text[0] == '-' || v->text[0] == '+');

		if (p[0] == '.' && (p[1] == 'i' || p[1] == 'I')) {
			*out = v->text[0] == '-' ? -INFINITY : INFINITY;
		} else if (p[0] == '.' && (p[1] == 'n' || p[1] == 'N')) {
			*out = NAN; /* a number still: each caller's range refuses it */
		}
	}
	return true;
}

static void f_int_min(struct vctx *c, const struct moo__ynode *v, const char *where, unsigned *dst,
		      long long min)
{
	long long x;
	char *end;

	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) != MOO_S_INT) {
		expected(c, v, where, "an integer");
		return;
	}
	errno = 0;
	x = strtoll(v->text, &end, 10);
	if (errno || x < min || x > 1000000000LL) {
		verr(c, v, "'%s' must be an integer from %lld to 1000000000, found %s", where, min,
		     v->text);
		return;
	}
	*dst = (unsigned)x;
}

/* training_params.batch_size, epoch: integers ≥ 1 stored as text in training_params. */
static void check_positive_int(struct vctx *c, const struct moo__ynode *v, const char *where)
{
	unsigned x = 0;

	f_int_min(c, v, where, &x, 1);
}

static void f_count(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	f_int_min(c, v, where, dst, 0);
}

static void f_cpus(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	double x;

	if (!parse_number(v, &x)) {
		expected(c, v, where, "a number");
		return;
	}
	if (!(x > 0) || isinf(x)) {
		verr(c, v, "'%s' must be %s, found %s", where,
		     isinf(x) ? "a finite number" : "greater than 0", v->text);
		return;
	}
	*(double *)dst = x;
}

static void f_accel(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	static const char *const names[] = {"cpu", "gpu", "npu"};
	size_t i;

	if (v->kind == MOO_Y_SCALAR && moo__yaml_stype(v) == MOO_S_STR) {
		for (i = 0; i < MOO_ARRAY_SIZE(names); i++) {
			if (!strcmp(v->text, names[i])) {
				*(enum moo_accel *)dst = (enum moo_accel)i;
				return;
			}
		}
	}
	{
		const char *near = v->kind == MOO_Y_SCALAR ? moo__suggest(v->text, names, 3) : NULL;
		struct moo_error *e =
			verr(c, v, "'%s' must be one of cpu, gpu, npu, found '%s'", where,
			     v->kind == MOO_Y_SCALAR ? v->text : moo__yaml_kind_name(v));

		if (near) {
			moo__error_hint(e, "did you mean '%s'?", near);
		}
	}
}

/* 4Gi, 4GiB, 4G, 512M, 1024 (bytes). Binary and decimal units, K M G T. */
static void f_memory(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	const char *s = v->text;
	unsigned long long x, mul = 1;
	char *end;

	if (v->kind != MOO_Y_SCALAR ||
	    (moo__yaml_stype(v) != MOO_S_STR && moo__yaml_stype(v) != MOO_S_INT)) {
		expected(c, v, where, "a size like 4Gi or 512M");
		return;
	}
	errno = 0;
	x = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-') {
		goto bad;
	}
	if (*end) {
		static const char units[] = "KMGT";
		const char *u = strchr(units, *end);
		int i;
		bool binary = end[1] == 'i';

		if (!u) {
			goto bad;
		}
		end += 1 + binary;
		if (*end == 'B') {
			end++;
		}
		if (*end) {
			goto bad;
		}
		for (i = 0; i <= u - units; i++) {
			mul *= binary ? 1024 : 1000;
		}
	}
	if (x == 0 || x > UINT64_MAX / mul) {
		goto bad;
	}
	*(uint64_t *)dst = x * mul;
	return;
bad:
	moo__error_hint(verr(c, v, "'%s' must be a size, found '%s'", where, s),
			"write a number of bytes or a number with a unit: 512Mi, 4Gi, 4G");
}

static void f_padding(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	if (v->kind != MOO_Y_SCALAR ||
	    (strcmp(v->text, "none") && strcmp(v->text, "pre") && strcmp(v->text, "post")) ||
	    !v->plain) {
		verr(c, v, "'%s' must be one of none, pre, post, found %s", where,
		     v->kind == MOO_Y_SCALAR ? v->text : moo__yaml_kind_name(v));
		return;
	}
	*(char **)dst = moo__strdup(v->text);
}

static bool is_ident(const char *s, bool upper_ok)
{
	if (!(*s >= 'a' && *s <= 'z') && !(upper_ok && ((*s >= 'A' && *s <= 'Z') || *s == '_'))) {
		return false;
	}
	for (s++; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (upper_ok && *s >= 'A' && *s <= 'Z'))) {
			return false;
		}
	}
	return true;
}

/* Whether the scalar key at index i of map appeared before it. */
static bool dup_before(const struct moo__ynode *map, size_t i)
{
	size_t j;

	for (j = 0; j < i; j += 2) {
		if (map->kids[j]->kind == MOO_Y_SCALAR &&
		    !strcmp(map->kids[j]->text, map->kids[i]->text)) {
			return true;
		}
	}
	return false;
}

static void f_split(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	struct moo_spec *spec = c->spec;
	double sum = 0;
	size_t i, named = 0;

	(void)dst;
	if (!need_map(c, v, where)) {
		return;
	}
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *x = v->kids[i + 1];
		double f;

		if (k->kind == MOO_Y_SCALAR && !strncmp(k->text, "x-", 2)) {
			continue;
		}
		named++; /* a split named, valid or not: an invalid one has its own error */
		if (k->kind != MOO_Y_SCALAR || !is_ident(k->text, false)) {
			verr(c, k, "a split name in '%s' must match [a-z][a-z0-9_]*, found '%s'",
			     where, k->kind == MOO_Y_SCALAR ? k->text : moo__yaml_kind_name(k));
			continue;
		}
		if (dup_before(v, i)) {
			verr(c, k, "duplicate key '%s' in '%s'", k->text, where);
			continue;
		}
		if (!parse_number(x, &f)) {
			expected(c, x, where, "a mapping of split names to fractions");
			continue;
		}
		if (!(f > 0 && f <= 1)) {
			verr(c, x,
			     "the fraction '%s.%s' must be greater than 0 and at most 1, found %s",
			     where, k->text, x->text);
			continue;
		}
		sum += f;
		MOO_GROW(spec->data_process.data_split, spec->data_process.n_data_split);
		spec->data_process.data_split[spec->data_process.n_data_split++] = (struct moo_kv){
			moo__strdup(k->text), moo__strdup(x->text), false, {k->line, k->col}};
	}
	if (!named) {
		moo__error_hint(verr(c, v, "'%s' names no split", where),
				"write e.g. '{train: 0.8, test: 0.2}', or leave data_split out");
	}
	if (sum > 1 + 1e-9) {
		moo__error_hint(
			verr(c, v, "the fractions of '%s' add up to %g, more than 1", where, sum),
			"make the parts add up to 1 or less");
	}
}

static bool has_control(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return true;
		}
	}
	return false;
}

static void f_requirements(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	struct moo_spec *spec = c->spec;
	size_t i;

	(void)dst;
	if (v->kind != MOO_Y_SEQ) {
		moo__error_hint(verr(c, v, "'%s' must be a list of pip requirements, found %s",
				     where, moo__yaml_kind_name(v)),
				"write one '- package==version' per line");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct moo__ynode *r = v->kids[i];

		if (r->kind != MOO_Y_SCALAR || moo__yaml_stype(r) != MOO_S_STR || !*r->text) {
			expected(c, r, where, "a list of pip requirement strings");
			continue;
		}
		if (strchr(" \t-", r->text[0]) || has_control(r->text)) {
			verr(c, r, "'%s' has an invalid requirement '%s'", where, r->text);
			continue;
		}
		MOO_GROW(spec->framework.runtime.requirement,
			 spec->framework.runtime.n_requirement);
		spec->framework.runtime.requirement[spec->framework.runtime.n_requirement++] =
			moo__strdup(r->text);
	}
}

/* "python2.7" → python, 2.7; "python3" → python, 3; "python" → python, NULL. */
static void split_runtime(const char *s, char **name, char **version)
{
	size_t n = strcspn(s, "0123456789");

	*name = moo__strndup(s, n);
	*version = s[n] ? moo__strdup(s + n) : NULL;
}

/* ^[a-z]+([0-9]+(\.[0-9]+)*)?$ */
static bool runtime_short_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

	if (n == 0) {
		return false;
	}
	s += n;
	if (!*s) {
		return true;
	}
	for (;;) {
		n = strspn(s, "0123456789");
		if (n == 0) {
			return false;
		}
		s += n;
		if (!*s) {
			return true;
		}
		if (*s++ != '.') {
			return false;
		}
	}
}

static const struct field runtime_fields[] = {
	{"name", f_ident, offsetof(struct moo_spec, framework.runtime.name), true, "name: python"},
	{"version", f_version, offsetof(struct moo_spec, framework.runtime.version), false, NULL},
	{"requirement", f_requirements, 0, false, NULL},
};

static void f_runtime(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	struct moo_spec *spec = c->spec;

	(void)dst;
	if (v->kind == MOO_Y_SCALAR && moo__yaml_stype(v) == MOO_S_STR) {
		if (!runtime_short_ok(v->text)) {
			moo__error_hint(verr(c, v,
					     "'%s' must be a name and a version like 'python3.11', "
					     "found '%s'",
					     where, v->text),
					"write 'python3.11', or the long form "
					"'{name: python, version: \"3.11\"}'");
			return;
		}
		split_runtime(v->text, &spec->framework.runtime.name,
			      &spec->framework.runtime.version);
		return;
	}
	if (v->kind != MOO_Y_MAP) {
		moo__error_hint(verr(c, v, "'%s' must be a string or a mapping, found %s", where,
				     moo__yaml_kind_name(v)),
				"write 'runtime: python3.11' or 'runtime: {name: python, version: "
				"\"3.11\"}'");
		return;
	}
	walk_map(c, v, where, runtime_fields, MOO_ARRAY_SIZE(runtime_fields), NULL);
}

static const struct field framework_fields[] = {
	{"name", f_ident, offsetof(struct moo_spec, framework.name), true, "name: sklearn"},
	{"version", f_version, offsetof(struct moo_spec, framework.version), true,
	 "version: 1.2.1"},
	{"runtime", f_runtime, 0, true, "runtime: python3"},
};

static void f_framework(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	(void)dst;
	if (need_map(c, v, where)) {
		walk_map(c, v, where, framework_fields, MOO_ARRAY_SIZE(framework_fields), NULL);
	}
}

static const struct field model_fields[] = {
	{"name", f_version, offsetof(struct moo_spec, model.name), true, "name: my-model"},
	{"version", f_version, offsetof(struct moo_spec, model.version), false, NULL},
	{"source", f_string, offsetof(struct moo_spec, model.source), false, NULL},
	{"creator", f_string, offsetof(struct moo_spec, model.creator), false, NULL},
	{"time", f_date, offsetof(struct moo_spec, model.time), false, NULL},
};

static void f_model(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	(void)dst;
	if (need_map(c, v, where)) {
		walk_map(c, v, where, model_fields, MOO_ARRAY_SIZE(model_fields), NULL);
	}
}

static const struct field dataset_fields[] = {
	{"name", f_version, offsetof(struct moo_spec, dataset.name), true, "name: mnist"},
	{"version", f_version, offsetof(struct moo_spec, dataset.version), false, NULL},
	{"source", f_string, offsetof(struct moo_spec, dataset.source), false, NULL},
	{"sha256", f_sha256, offsetof(struct moo_spec, dataset.sha256), false, NULL},
};

static void f_dataset(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	(void)dst;
	if (need_map(c, v, where)) {
		walk_map(c, v, where, dataset_fields, MOO_ARRAY_SIZE(dataset_fields), NULL);
	}
}

static const struct field data_process_fields[] = {
	{"data_load", f_path, offsetof(struct moo_spec, data_process.data_load), false, NULL},
	{"data_split", f_split, 0, false, NULL},
	{"padding", f_padding, offsetof(struct moo_spec, data_process.padding), false, NULL},
};

static void f_data_process(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	(void)dst;
	if (need_map(c, v, where)) {
		walk_map(c, v, where, data_process_fields, MOO_ARRAY_SIZE(data_process_fields),
			 NULL);
	}
}

static bool has_infinite(const struct moo__ynode *n)
{
	size_t i;

	if (n->kind == MOO_Y_SCALAR) {
		/* YAML writes them .inf, -.inf, .nan, which strtod does not read */
		return moo__yaml_stype(n) == MOO_S_FLOAT && strchr(n->text, '.') &&
		       strspn(strchr(n->text, '.') + 1, "infINFaN") > 0 &&
		       strchr("iInN", strchr(n->text, '.')[1]);
	}
	for (i = 0; i < n->n; i++) {
		if (has_infinite(n->kids[i])) {
			return true;
		}
	}
	return false;
}

static void f_architecture(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	json_t *j;
	size_t i;

	if (!need_map(c, v, where)) {
		return;
	}
	/* Free-form, but the documented keys have types. */
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *x = v->kids[i + 1];
		char *path = sub(where, k->text);

		if (!strcmp(k->text, "type") &&
		    (x->kind != MOO_Y_SCALAR || moo__yaml_stype(x) != MOO_S_STR)) {
			expected(c, x, path, "a string");
		} else if (!strcmp(k->text, "layers") && x->kind != MOO_Y_SEQ) {
			expected(c, x, path, "a list");
		} else if (has_infinite(x)) {
			verr(c, x, "'%s' must not hold .inf or .nan: JSON cannot carry them", path);
		} else if (!strcmp(k->text, "parameters")) {
			unsigned n = 0;

			f_int_min(c, x, path, &n, 0);
		}
		free(path);
	}
	j = moo__yaml_to_json(v);
	*(char **)dst = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
}

static const char *const known_params[] = {"learning_rate", "loss",      "batch_size",
					   "epoch",         "optimizer", "train_op"};

static void add_param(struct vctx *c, const struct moo__ynode *k, const struct moo__ynode *v)
{
	struct moo_spec *spec = c->spec;

	MOO_GROW(spec->training_params, spec->n_training_params);
	spec->training_params[spec->n_training_params++] = (struct moo_kv){
		moo__strdup(k->text), moo__strdup(v->text), !v->plain, {k->line, k->col}};
}

static void other_param(struct vctx *c, const struct moo__ynode *k, const struct moo__ynode *v,
			const char *where)
{
	const char *near;

	if (!is_ident(k->text, false)) {
		moo__error_hint(verr(c, k, "parameter name '%s' in '%s' must match [a-z][a-z0-9_]*",
				     k->text, where),
				"parameters become command-line options and MOO_PARAM_ variables; "
				"use lowercase letters, digits and '_'");
		return;
	}
	if (v->kind == MOO_Y_SCALAR && moo__yaml_stype(v) == MOO_S_NULL) {
		moo__error_hint(verr(c, k, "parameter '%s.%s' has no value", where, k->text),
				"give it a value (\"\" for an empty text), or remove the line");
		return;
	}
	if (v->kind != MOO_Y_SCALAR) {
		expected(c, v, where, "a mapping of parameter names to single values");
		return;
	}
	near = moo__suggest(k->text, known_params, MOO_ARRAY_SIZE(known_params));
	if (near) {
		struct moo_error *e;

		e = moo__error_add(c->diags, MOO_ESPEC, MOO_SEV_WARNING,
				   "'%s.%s' is not a known parameter; it is passed as your own",
				   where, k->text);
		moo__error_at(e, c->file, k->line, k->col);
		moo__error_hint(e, "did you mean '%s'?", near);
	}
	add_param(c, k, v);
}

/* Known parameters are typed, then kept in order with the user's own. */
static void p_number(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	double x;

	(void)dst;
	if (!parse_number(v, &x)) {
		expected(c, v, where, "a number");
	} else if (!(x > 0) || isinf(x)) {
		verr(c, v, "'%s' must be %s, found %s", where,
		     isinf(x) ? "a finite number" : "greater than 0", v->text);
	}
}

static void p_int(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	(void)dst;
	check_positive_int(c, v, where);
}

static void p_string(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	char *s = NULL;

	(void)dst;
	f_string(c, v, where, &s);
	free(s);
}

static const struct field param_fields[] = {
	{"learning_rate", p_number, 0, false, NULL}, {"loss", p_string, 0, false, NULL},
	{"batch_size", p_int, 0, false, NULL},       {"epoch", p_int, 0, false, NULL},
	{"optimizer", p_string, 0, false, NULL},     {"train_op", p_string, 0, false, NULL},
};

static void f_params(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	size_t i, j, before = c->errors;

	(void)dst;
	if (!need_map(c, v, where)) {
		return;
	}
	walk_map(c, v, where, param_fields, MOO_ARRAY_SIZE(param_fields), other_param);
	if (c->errors != before) {
		return;
	}
	/* walk_map checked the known ones; record them in document order with the rest. */
	for (i = 0; i < v->n; i += 2) {
		for (j = 0; j < MOO_ARRAY_SIZE(param_fields); j++) {
			if (!strcmp(v->kids[i]->text, param_fields[j].key)) {
				size_t at = c->spec->n_training_params, k;

				add_param(c, v->kids[i], v->kids[i + 1]);
				/* keep document order: move before later user params */
				for (k = 0; k < at; k++) {
					if (c->spec->training_params[k].mark.line >
						    v->kids[i]->line ||
					    (c->spec->training_params[k].mark.line ==
						     v->kids[i]->line &&
					     c->spec->training_params[k].mark.column >
						     v->kids[i]->col)) {
						struct moo_kv t = c->spec->training_params[at];

						memmove(&c->spec->training_params[k + 1],
							&c->spec->training_params[k],
							(at - k) * sizeof(t));
						c->spec->training_params[k] = t;
						break;
					}
				}
			}
		}
	}
}

static const struct field resources_fields[] = {
	{"accelerator", f_accel, offsetof(struct moo_spec, resources.accelerator), false, NULL},
	{"count", f_count, offsetof(struct moo_spec, resources.count), false, NULL},
	{"cpus", f_cpus, offsetof(struct moo_spec, resources.cpus), false, NULL},
	{"memory", f_memory, offsetof(struct moo_spec, resources.memory), false, NULL},
};

static void f_resources(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	struct moo_spec *spec = c->spec;

	(void)dst;
	if (!need_map(c, v, where)) {
		return;
	}
	walk_map(c, v, where, resources_fields, MOO_ARRAY_SIZE(resources_fields), NULL);
	if (spec->resources.accelerator == MOO_ACCEL_CPU && spec->resources.count != UINT32_MAX &&
	    spec->resources.count > 0) {
		moo__error_hint(
			verr(c, v, "'%s.count' must be 0 when the accelerator is cpu", where),
			"set 'accelerator: gpu' or 'npu', or use 'cpus' for processor cores");
	}
}

static const struct field inference_fields[] = {
	{"entry_point", f_path, offsetof(struct moo_spec, inference_entry_point), true,
	 "entry_point: predict.py"},
};

static void f_inference(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	(void)dst;
	if (need_map(c, v, where)) {
		walk_map(c, v, where, inference_fields, MOO_ARRAY_SIZE(inference_fields), NULL);
	}
}

static void f_env(struct vctx *c, const struct moo__ynode *v, const char *where, void *dst)
{
	struct moo_spec *spec = c->spec;
	size_t i;

	(void)dst;
	if (!need_map(c, v, where)) {
		return;
	}
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *x = v->kids[i + 1];

		if (k->kind == MOO_Y_SCALAR && !strncmp(k->text, "x-", 2)) {
			continue;
		}
		if (k->kind != MOO_Y_SCALAR || !is_ident(k->text, true)) {
			moo__error_hint(
				verr(c, k, "'%s' has an invalid variable name '%s'", where,
				     k->kind == MOO_Y_SCALAR ? k->text : moo__yaml_kind_name(k)),
				"names are letters, digits and '_', not starting with a digit");
			continue;
		}
		if (!strncmp(k->text, "MOO_", 4)) {
			moo__error_hint(verr(c, k,
					     "variable '%s' in '%s' uses the reserved prefix "
					     "'MOO_'",
					     k->text, where),
					"moo sets MOO_ variables itself; rename it");
			continue;
		}
		if (dup_before(v, i)) {
			verr(c, k, "duplicate key '%s' in '%s'", k->text, where);
			continue;
		}
		if (x->kind != MOO_Y_SCALAR || moo__yaml_stype(x) == MOO_S_NULL) {
			expected(c, x, where, "a mapping of variable names to single values");
			continue;
		}
		MOO_GROW(spec->env, spec->n_env);
		spec->env[spec->n_env++] = (struct moo_kv){
			moo__strdup(k->text), moo__strdup(x->text), !x->plain, {k->line, k->col}};
	}
}

static const struct field top_fields[] = {
	{"framework", f_framework, 0, true,
	 "framework: {name: sklearn, version: 1.2.1, runtime: python3}"},
	{"model", f_model, 0, true, "model: {name: my-model}"},
	{"dataset", f_dataset, 0, false, NULL},
	{"data_process", f_data_process, 0, false, NULL},
	{"model_architecture", f_architecture, offsetof(struct moo_spec, model_architecture), false,
	 NULL},
	{"training_params", f_params, 0, false, NULL},
	{"entry_point", f_path, offsetof(struct moo_spec, entry_point), true,
	 "entry_point: train.py"},
	{"output_folder", f_path, offsetof(struct moo_spec, output_folder), false, NULL},
	{"resources", f_resources, 0, false, NULL},
	{"inference", f_inference, 0, false, NULL},
	{"env", f_env, 0, false, NULL},
};

static void check_file(const char *dir, const char *rel, const char *what, struct moo_mark m,
		       const char *file, struct moo_error **diags);

/* tree_dir: the project folder, whose files the spec names are checked even when the spec
 * has errors, so that every problem is reported at once; NULL: the spec alone. */
static int parse(struct moo_spec **out, const char *data, size_t len, const char *name,
		 const char *tree_dir, struct moo_error **err)
{
	struct moo_error *diags = NULL;
	struct moo__ydoc *doc = NULL;
	struct moo_spec *spec = NULL;
	struct moo__ynode *root;
	struct vctx c = {0};
	int r;

	name = name ? name : "metadata.yaml";
	if (len > MOO_SPEC_MAX_BYTES) {
		struct moo_error *e =
			moo__error_add(&diags, MOO_ESPEC, MOO_SEV_ERROR,
				       "larger than the limit of %u bytes", MOO_SPEC_MAX_BYTES);

		moo__error_at(e, name, 0, 0);
		moo__error_hint(e,
				"keep data out of metadata.yaml; point to it with dataset.source");
		r = MOO_ESPEC;
		goto done;
	}
	root = moo__yaml_load(&doc, data, len, name, &diags);
	if (!root || moo__error_code(diags)) {
		if (!diags) {
			struct moo_error *e = moo__error_add(&diags, MOO_ESPEC, MOO_SEV_ERROR,
							     "the document is empty");

			moo__error_at(e, name, 1, 1);
			moo__error_hint(e, "run 'moo init' to write a starting metadata.yaml");
		}
		r = MOO_ESPEC;
		goto done;
	}
	spec = moo__calloc(1, sizeof(*spec));
	spec->file = moo__strdup(name);
	spec->resources.count = UINT32_MAX;
	c.file = name;
	c.diags = &diags;
	c.spec = spec;
	if (root->kind != MOO_Y_MAP) {
		moo__error_hint(verr(&c, root, "the document must be a mapping, found %s",
				     moo__yaml_kind_name(root)),
				"start with 'framework:', 'model:' and 'entry_point:' keys");
	} else {
		walk_map(&c, root, NULL, top_fields, MOO_ARRAY_SIZE(top_fields), NULL);
	}
	if (c.errors) {
		if (tree_dir && spec->entry_point) {
			check_file(tree_dir, spec->entry_point, "entry_point",
				   spec->entry_point_mark, spec->file, &diags);
		}
		r = MOO_ESPEC;
		goto done;
	}
	if (!spec->output_folder) {
		spec->output_folder = moo__strdup("training_result");
	}
	if (spec->resources.count == UINT32_MAX) {
		spec->resources.count = spec->resources.accelerator == MOO_ACCEL_CPU ? 0 : 1;
	}
	spec->warnings = diags;
	diags = NULL;
	*out = spec;
	spec = NULL;
	r = 0;
done:
	moo__ydoc_free(doc);
	moo_spec_free(spec);
	if (diags) {
		/* errors first, so the chain's head names the failure */
		struct moo_error *errs = NULL, *warns = NULL, **te = &errs, **tw = &warns, *e;

		while ((e = diags)) {
			diags = e->next;
			e->next = NULL;
			if (e->severity == MOO_SEV_ERROR) {
				*te = e, te = &e->next;
			} else {
				*tw = e, tw = &e->next;
			}
		}
		*te = warns;
		if (err) {
			*err = errs;
		} else {
			moo_error_free(errs);
		}
	}
	return r;
}

int moo_spec_parse(struct moo_spec **out, const char *data, size_t len, const char *name,
		   struct moo_error **err)
{
	return parse(out, data, len, name, NULL, err);
}

static int load(struct moo_spec **out, const char *path, const char *tree_dir,
		struct moo_error **err)
{
	struct moo_buf data = MOO_BUF_INIT;
	struct stat st;
	char *file = NULL;
	int r;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		file = moo__path_join(path, "metadata.yaml");
	} else {
		file = moo__strdup(path);
	}
	r = moo__read_file(file, MOO_SPEC_MAX_BYTES, &data, err);
	if (r) {
		if (r == MOO_ENOTFOUND && err && *err) {
			moo__error_hint(*err, "run 'moo init' to create one, or name the file");
		}
		if (r == MOO_EARG) {
			r = MOO_ESPEC;
			if (err && *err) {
				(*err)->code = MOO_ESPEC;
			}
		}
		goto done;
	}
	r = parse(out, data.ptr ? data.ptr : "", data.len, file, tree_dir, err);
done:
	moo_buf_dispose(&data);
	free(file);
	return r;
}

int moo_spec_load(struct moo_spec **out, const char *path, struct moo_error **err)
{
	return load(out, path, NULL, err);
}

int moo_spec_load_tree(struct moo_spec **out, const char *path, const char *dir,
		       struct moo_error **err)
{
	return load(out, path, dir, err);
}

static void check_file(const char *dir, const char *rel, const char *what, struct moo_mark m,
		       const char *file, struct moo_error **diags)
{
	char *p = moo__path_join(dir, rel);
	struct stat st;
	struct moo_error *e = NULL;

	if (lstat(p, &st) < 0) {
		e = moo__error_add(diags, MOO_ESPEC, MOO_SEV_ERROR, "%s '%s' does not exist", what,
				   rel);
		moo__error_hint(e, "create it, or correct the path in metadata.yaml");
	} else if (!S_ISREG(st.st_mode)) {
		e = moo__error_add(diags, MOO_ESPEC, MOO_SEV_ERROR, "%s '%s' is not a regular file",
				   what, rel);
	}
	moo__error_at(e, file, m.line, m.column);
	free(p);
}

int moo_spec_check_tree(const struct moo_spec *spec, const char *dir, struct moo_error **err)
{
	struct moo_error *diags = NULL;

	check_file(dir, spec->entry_point, "entry_point", spec->entry_point_mark, spec->file,
		   &diags);
	if (spec->inference_entry_point) {
		check_file(dir, spec->inference_entry_point, "inference.entry_point",
			   spec->inference_entry_point_mark, spec->file, &diags);
	}
	if (!diags) {
		return 0;
	}
	if (err) {
		*err = diags;
	} else {
		moo_error_free(diags);
	}
	return MOO_ESPEC;
}

const char *moo_accel_name(enum moo_accel a)
{
	switch (a) {
	case MOO_ACCEL_CPU: return "cpu";
	case MOO_ACCEL_GPU: return "gpu";
	case MOO_ACCEL_NPU: return "npu";
	}
	return "cpu";
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v) {
		json_object_set_new(o, key, json_string(v));
	}
}

/* A scalar value as JSON: plain numbers and booleans keep their type. */
static json_t *kv_json(const struct moo_kv *kv)
{
	struct moo__ynode n = {.kind = MOO_Y_SCALAR, .text = kv->value, .plain = !kv->quoted};

	return moo__yaml_to_json(&n);
}

static json_t *kvs_json(const struct moo_kv *kv, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++) {
		json_object_set_new(o, kv[i].key, kv_json(&kv[i]));
	}
	return o;
}

void moo_spec_to_json(struct moo_buf *out, const struct moo_spec *s)
{
	json_t *o = json_object(), *fw = json_object(), *rt = json_object(), *m = json_object();
	json_t *res = json_object(), *req = json_array();
	char *text;
	size_t i;

	set_str(fw, "name", s->framework.name);
	set_str(fw, "version", s->framework.version);
	set_str(rt, "name", s->framework.runtime.name);
	set_str(rt, "version", s->framework.runtime.version);
	for (i = 0; i < s->framework.runtime.n_requirement; i++) {
		json_array_append_new(req, json_string(s->framework.runtime.requirement[i]));
	}
	json_object_set_new(rt, "requirement", req);
	json_object_set_new(fw, "runtime", rt);
	json_object_set_new(o, "framework", fw);
	set_str(m, "name", s->model.name);
	set_str(m, "version", s->model.version);
	set_str(m, "source", s->model.source);
	set_str(m, "creator", s->model.creator);
	set_str(m, "time", s->model.time);
	json_object_set_new(o, "model", m);
	if (s->dataset.name) {
		json_t *d = json_object();

		set_str(d, "name", s->dataset.name);
		set_str(d, "version", s->dataset.version);
		set_str(d, "source", s->dataset.source);
		set_str(d, "sha256", s->dataset.sha256);
		json_object_set_new(o, "dataset", d);
	}
	if (s->data_process.data_load || s->data_process.padding || s->data_process.n_data_split) {
		json_t *d = json_object();

		set_str(d, "data_load", s->data_process.data_load);
		if (s->data_process.n_data_split) {
			json_object_set_new(
				d, "data_split",
				kvs_json(s->data_process.data_split, s->data_process.n_data_split));
		}
		set_str(d, "padding", s->data_process.padding);
		json_object_set_new(o, "data_process", d);
	}
	if (s->model_architecture) {
		json_object_set_new(o, "model_architecture",
				    json_loads(s->model_architecture, 0, NULL));
	}
	json_object_set_new(o, "training_params",
			    kvs_json(s->training_params, s->n_training_params));
	set_str(o, "entry_point", s->entry_point);
	set_str(o, "output_folder", s->output_folder);
	json_object_set_new(res, "accelerator",
			    json_string(moo_accel_name(s->resources.accelerator)));
	json_object_set_new(res, "count", json_integer(s->resources.count));
	if (s->resources.cpus > 0) {
		json_object_set_new(res, "cpus", json_real(s->resources.cpus));
	}
	if (s->resources.memory) {
		json_object_set_new(res, "memory", json_integer((json_int_t)s->resources.memory));
	}
	json_object_set_new(o, "resources", res);
	if (s->inference_entry_point) {
		json_t *inf = json_object();

		set_str(inf, "entry_point", s->inference_entry_point);
		json_object_set_new(o, "inference", inf);
	}
	json_object_set_new(o, "env", kvs_json(s->env, s->n_env));
	text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
	moo_buf_puts(out, text);
	free(text);
	json_decref(o);
}

static void free_kvs(struct moo_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void moo_spec_free(struct moo_spec *s)
{
	size_t i;

	if (!s) {
		return;
	}
	free(s->file);
	free(s->framework.name);
	free(s->framework.version);
	free(s->framework.runtime.name);
	free(s->framework.runtime.version);
	for (i = 0; i < s->framework.runtime.n_requirement; i++) {
		free(s->framework.runtime.requirement[i]);
	}
	free(s->framework.runtime.requirement);
	free(s->model.name);
	free(s->model.version);
	free(s->model.source);
	free(s->model.creator);
	free(s->model.time);
	free(s->dataset.name);
	free(s->dataset.version);
	free(s->dataset.source);
	free(s->dataset.sha256);
	free(s->data_process.data_load);
	free(s->data_process.padding);
	free_kvs(s->data_process.data_split, s->data_process.n_data_split);
	free(s->model_architecture);
	free_kvs(s->training_params, s->n_training_params);
	free(s->entry_point);
	free(s->output_folder);
	free(s->inference_entry_point);
	free_kvs(s->env, s->n_env);
	moo_error_free(s->warnings);
	free(s);
}
