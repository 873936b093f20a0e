/*
 * config: moo's config.yaml (moo-config(5)), for now the inventory of hosts.
 *
 * Read through yamldoc (the bounded YAML reader spec.c uses) and checked against the
 * table of host fields below, every problem reported with its line and column; written
 * back whole and atomically, every string as a double-quoted YAML scalar.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "yamldoc.h"

struct cctx {
	const char *file;
	struct moo_error **diags;
	size_t errors;
};

static struct moo_error *cerr(struct cctx *c, const struct moo__ynode *at, const char *fmt, ...)
	MOO_PRINTF(3, 4);

static struct moo_error *cerr(struct cctx *c, const struct moo__ynode *at, const char *fmt, ...)
{
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(c->diags, MOO_EARG, MOO_SEV_ERROR, fmt, ap);
	va_end(ap);
	if (at) {
		moo__error_at(e, c->file, at->line, at->col);
	} else {
		moo__error_at(e, c->file, 0, 0);
	}
	c->errors++;
	return e;
}

/* ---- value rules, shared by the file and moo_config_add_host ------------------------ */

/* Host names: letters, digits, '.', '-', '_', not starting with '-' (it would read as an option).
 */
static bool name_ok(const char *s)
{
	return *s && *s != '-' && *s != '.' && strlen(s) <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		       strlen(s);
}

/* Addresses and user names reach ssh, never a shell; still, no control characters or spaces. */
static bool word_ok(const char *s)
{
	if (!*s || *s == '-') {
		return false;
	}
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f) {
			return false;
		}
	}
	return true;
}

/*
 * A host name (letters, digits, '-', '_', '.'), an IPv4 address or an IPv6 one (with ':',
 * a '%zone', in [] or not): what ssh and getaddrinfo take. Anything else (';', '$', a
 * space, quotes) is refused rather than passed on to ssh_config or a shell.
 */
static bool address_ok(const char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (!n || *s == '-' || *s == '.' || n > 253) {
		return false;
	}
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:%") >=
	       n;
}

static bool path_ok(const char *s)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if ((unsigned char)*s < ' ' || *s == 0x7f) {
			return false;
		}
	}
	return true;
}

static const char *const runtimes[] = {"docker", "podman", "apptainer", "singularity", "host"};

static bool runtime_ok(const char *s)
{
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(runtimes); i++) {
		if (!strcmp(s, runtimes[i])) {
			return true;
		}
	}
	return false;
}

static void entry_dispose(struct moo_host_entry *h)
{
	free(h->name);
	free(h->address);
	free(h->user);
	free(h->key);
	free(h->known_hosts);
	free(h->root);
	free(h->runtime);
}

/* ---- reading --------------------------------------------------------------------- */

typedef void (*hfield_fn)(struct cctx *c, const struct moo__ynode *v, const char *where,
			  struct moo_host_entry *h);

static char *need_string(struct cctx *c, const struct moo__ynode *v, const char *where)
{
	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) == MOO_S_NULL ||
	    moo__yaml_stype(v) == MOO_S_BOOL) {
		cerr(c, v, "'%s' must be a string, found %s", where, moo__yaml_kind_name(v));
		return NULL;
	}
	return v->text;
}

static void h_address(struct cctx *c, const struct moo__ynode *v, const char *where,
		      struct moo_host_entry *h)
{
	const char *s = need_string(c, v, where);

	if (s && !address_ok(s)) {
		moo__error_hint(
			cerr(c, v, "'%s' is not a host name or address: '%s'", where, s),
			"write a name like 'gpu1.example.org' or an address like '10.0.0.7'");
	} else if (s) {
		h->address = moo__strdup(s);
	}
}

static void h_user(struct cctx *c, const struct moo__ynode *v, const char *where,
		   struct moo_host_entry *h)
{
	const char *s = need_string(c, v, where);

	if (s && !word_ok(s)) {
		cerr(c, v, "'%s' is not a user name: '%s'", where, s);
	} else if (s) {
		h->user = moo__strdup(s);
	}
}

static void h_port(struct cctx *c, const struct moo__ynode *v, const char *where,
		   struct moo_host_entry *h)
{
	long long x;
	char *end;

	if (v->kind != MOO_Y_SCALAR || moo__yaml_stype(v) != MOO_S_INT) {
		cerr(c, v, "'%s' must be a whole number, found %s", where, moo__yaml_kind_name(v));
		return;
	}
	errno = 0;
	x = strtoll(v->text, &end, 10);
	if (errno || *end || x < 1 || x > 65535) {
		moo__error_hint(cerr(c, v, "'%s' is out of range: %s", where, v->text),
				"a port is between 1 and 65535");
		return;
	}
	h->port = (unsigned)x;
}

static void h_path(struct cctx *c, const struct moo__ynode *v, const char *where, char **dst)
{
	const char *s = need_string(c, v, where);

	if (s && !path_ok(s)) {
		cerr(c, v, "'%s' must be a path without control characters", where);
	} else if (s) {
		*dst = moo__strdup(s);
	}
}

static void h_key(struct cctx *c, const struct moo__ynode *v, const char *where,
		  struct moo_host_entry *h)
{
	h_path(c, v, where, &h->key);
}

static void h_known_hosts(struct cctx *c, const struct moo__ynode *v, const char *where,
			  struct moo_host_entry *h)
{
	h_path(c, v, where, &h->known_hosts);
}

static void h_root(struct cctx *c, const struct moo__ynode *v, const char *where,
		   struct moo_host_entry *h)
{
	h_path(c, v, where, &h->root);
}

static void h_runtime(struct cctx *c, const struct moo__ynode *v, const char *where,
		      struct moo_host_entry *h)
{
	const char *s = need_string(c, v, where);

	if (s && !runtime_ok(s)) {
		const char *near = moo__suggest(s, runtimes, MOO_ARRAY_SIZE(runtimes));
		struct moo_error *e = cerr(c, v, "'%s' must be a runtime, found '%s'", where, s);

		if (near) {
			moo__error_hint(e, "did you mean '%s'?", near);
		} else {
			moo__error_hint(e, "use docker, podman, apptainer, singularity or host");
		}
	} else if (s) {
		h->runtime = moo__strdup(s);
	}
}

struct hfield {
	const char *key;
	hfield_fn fn;
	bool required;
	const char *example;
};

static const struct hfield host_fields[] = {
	{"address", h_address, true, "address: gpu1.example.org"},
	{"user", h_user, false, NULL},
	{"port", h_port, false, NULL},
	{"key", h_key, false, NULL},
	{"known_hosts", h_known_hosts, false, NULL},
	{"root", h_root, false, NULL},
	{"runtime", h_runtime, false, NULL},
};

static const char *const top_keys[] = {"hosts", "images", "registries", "slurm"};

static void unknown_key(struct cctx *c, const struct moo__ynode *k, const char *where,
			const char *const *names, size_t n);

/* 'slurm:': a mapping of sbatch options (MOO_CONFIG_SLURM_KEYS), each a one-line string. */
static void read_slurm(struct cctx *c, const struct moo__ynode *v, struct moo_config *cfg)
{
	static const char *const keys[] = MOO_CONFIG_SLURM_KEYS;
	size_t i, j;

	if (v->kind != MOO_Y_MAP) {
		moo__error_hint(
			cerr(c, v, "'slurm' must be a mapping, found %s", moo__yaml_kind_name(v)),
			"write 'slurm:' then '  partition: gpu' and the like");
		return;
	}
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *x = v->kids[i + 1];
		char *where;

		if (k->kind != MOO_Y_SCALAR) {
			cerr(c, k, "a key in 'slurm' must be a string");
			continue;
		}
		for (j = 0; j < MOO_ARRAY_SIZE(keys) && strcmp(keys[j], k->text); j++) {
		}
		if (j == MOO_ARRAY_SIZE(keys)) {
			if (strncmp(k->text, "x-", 2)) {
				unknown_key(c, k, "slurm", keys, MOO_ARRAY_SIZE(keys));
			}
			continue;
		}
		where = moo__printf("slurm.%s", k->text);
		if (x->kind == MOO_Y_SCALAR && moo__yaml_stype(x) == MOO_S_INT) {
			free(cfg->slurm[j]);
			cfg->slurm[j] = moo__strdup(x->text); /* time: 30 */
		} else {
			const char *s = need_string(c, x, where);

			if (s && (!*s || strpbrk(s, "\n\r\t ") || s[0] == '-')) {
				moo__error_hint(
					cerr(c, x, "'%s' is not one sbatch value: '%s'", where, s),
					"write one word, as sbatch takes it");
			} else if (s) {
				free(cfg->slurm[j]);
				cfg->slurm[j] = moo__strdup(s);
			}
		}
		free(where);
	}
}

/* An unknown key: the nearest known one, or the list. */
static void unknown_key(struct cctx *c, const struct moo__ynode *k, const char *where,
			const char *const *names, size_t n)
{
	const char *near = moo__suggest(k->text, names, n);
	struct moo_error *e;

	e = cerr(c, k, "unknown key '%s'%s%s%s", k->text, where ? " in '" : "", where ? where : "",
		 where ? "'" : "");
	if (near) {
		moo__error_hint(e, "did you mean '%s'?", near);
	} else {
		struct moo_buf b = MOO_BUF_INIT;
		size_t i;

		for (i = 0; i < n; i++) {
			moo_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
		}
		moo__error_hint(e, "known keys are %s; prefix your own keys with 'x-'", b.ptr);
		moo_buf_dispose(&b);
	}
}

/* A key that appeared before in the same mapping, or NULL. */
static const struct moo__ynode *duplicate(const struct moo__ynode *map, size_t i)
{
	size_t j;

	for (j = 0; j < i; j += 2) {
		const struct moo__ynode *prev = map->kids[j];

		if (prev->kind == MOO_Y_SCALAR && !strcmp(prev->text, map->kids[i]->text)) {
			return prev;
		}
	}
	return NULL;
}

static void read_host(struct cctx *c, const struct moo__ynode *k, const struct moo__ynode *v,
		      struct moo_config *cfg)
{
	const char *names[MOO_ARRAY_SIZE(host_fields)];
	bool seen[MOO_ARRAY_SIZE(host_fields)] = {false};
	struct moo_host_entry h = {0};
	size_t errors = c->errors, i, j;
	char *where;

	if (!name_ok(k->text)) {
		moo__error_hint(
			cerr(c, k, "invalid host name '%s'", k->text),
			"use letters, digits, '.', '-' and '_', not starting with '-' or '.'");
		return;
	}
	if (v->kind != MOO_Y_MAP) {
		moo__error_hint(cerr(c, v, "'hosts.%s' must be a mapping, found %s", k->text,
				     moo__yaml_kind_name(v)),
				"write 'address:' and the other fields indented under the name");
		return;
	}
	for (j = 0; j < MOO_ARRAY_SIZE(host_fields); j++) {
		names[j] = host_fields[j].key;
	}
	h.name = moo__strdup(k->text);
	h.line = k->line;
	where = moo__printf("hosts.%s", k->text);
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *fk = v->kids[i], *fv = v->kids[i + 1];
		const struct moo__ynode *prev;
		char *path;

		if (fk->kind != MOO_Y_SCALAR) {
			cerr(c, fk, "a key in '%s' must be a string, found %s", where,
			     moo__yaml_kind_name(fk));
			continue;
		}
		if ((prev = duplicate(v, i))) {
			moo__error_hint(cerr(c, fk, "duplicate key '%s' in '%s'", fk->text, where),
					"the first is at line %d; keep one of them", prev->line);
			continue;
		}
		for (j = 0; j < MOO_ARRAY_SIZE(host_fields); j++) {
			if (!strcmp(host_fields[j].key, fk->text)) {
				break;
			}
		}
		if (j == MOO_ARRAY_SIZE(host_fields)) {
			if (strncmp(fk->text, "x-", 2)) {
				unknown_key(c, fk, where, names, MOO_ARRAY_SIZE(names));
			}
			continue;
		}
		seen[j] = true;
		path = moo__printf("%s.%s", where, fk->text);
		host_fields[j].fn(c, fv, path, &h);
		free(path);
	}
	for (j = 0; j < MOO_ARRAY_SIZE(host_fields); j++) {
		if (host_fields[j].required && !seen[j]) {
			moo__error_hint(cerr(c, k, "missing required key '%s' in '%s'",
					     host_fields[j].key, where),
					"add '%s'", host_fields[j].example);
		}
	}
	free(where);
	if (c->errors > errors) {
		entry_dispose(&h);
		return;
	}
	MOO_GROW(cfg->hosts, cfg->n_hosts);
	cfg->hosts[cfg->n_hosts++] = h;
}

static void read_hosts(struct cctx *c, const struct moo__ynode *v, struct moo_config *cfg)
{
	size_t i;

	if (v->kind == MOO_Y_SCALAR && moo__yaml_stype(v) == MOO_S_NULL) {
		return; /* "hosts:" with nothing under it */
	}
	if (v->kind != MOO_Y_MAP) {
		moo__error_hint(
			cerr(c, v, "'hosts' must be a mapping, found %s", moo__yaml_kind_name(v)),
			"write each host as 'NAME:' with its fields indented under it");
		return;
	}
	if (v->n / 2 > MOO_CONFIG_MAX_HOSTS) {
		cerr(c, v, "more than %u hosts", MOO_CONFIG_MAX_HOSTS);
		return;
	}
	for (i = 0; i < v->n; i += 2) {
		const struct moo__ynode *k = v->kids[i], *prev;

		if (k->kind != MOO_Y_SCALAR) {
			cerr(c, k, "a host name must be a string, found %s",
			     moo__yaml_kind_name(k));
			continue;
		}
		if ((prev = duplicate(v, i))) {
			moo__error_hint(cerr(c, k, "duplicate host '%s'", k->text),
					"the first is at line %d; keep one of them", prev->line);
			continue;
		}
		read_host(c, k, v->kids[i + 1], cfg);
	}
}

/*
 * Keeps the text of the top-level section root->kids[i] (its key's line up to the next
 * top-level key's) for moo_config_save to write back as it was.
 */
static void keep_section(struct moo_config *cfg, const struct moo__ynode *root, size_t i,
			 const char *data, size_t len)
{
	const struct moo__ynode *k = root->kids[i];
	int from = k->line, to = i + 2 < root->n ? root->kids[i + 2]->line : 0, line = 1;
	struct moo_buf b = MOO_BUF_INIT;
	size_t p = 0;

	if (k->col != 1) {
		cfg->kept_flow = true;
		return;
	}
	while (p < len && (to == 0 || line < to)) {
		size_t e = p;

		while (e < len && data[e] != '\n') {
			e++;
		}
		if (line >= from) {
			moo_buf_add(&b, data + p, e - p);
			moo_buf_putc(&b, '\n');
		}
		p = e + 1;
		line++;
	}
	if (cfg->kept) {
		char *all = moo__printf("%s%s", cfg->kept, b.ptr ? b.ptr : "");

		free(cfg->kept);
		cfg->kept = all;
	} else {
		cfg->kept = moo_buf_detach(&b);
	}
	moo_buf_dispose(&b);
}

int moo_config_parse(struct moo_config **out, const char *data, size_t len, const char *name,
		     struct moo_error **err)
{
	struct moo_error *diags = NULL;
	struct moo__ydoc *doc = NULL;
	struct moo__ynode *root;
	struct moo_config *cfg = NULL;
	struct cctx c = {0};
	size_t i;
	int r;

	name = name ? name : "config.yaml";
	c.file = name;
	c.diags = &diags;
	if (len > MOO_CONFIG_MAX_BYTES) {
		cerr(&c, NULL, "larger than the limit of %u bytes", MOO_CONFIG_MAX_BYTES);
		r = MOO_EARG;
		goto done;
	}
	cfg = moo__calloc(1, sizeof(*cfg));
	cfg->path = moo__strdup(name);
	root = moo__yaml_load(&doc, data, len, name, &diags);
	if (moo__error_code(diags)) {
		struct moo_error *e;

		for (e = diags; e; e = e->next) {
			e->code = MOO_EARG; /* the reader speaks of specs */
		}
		r = MOO_EARG;
		goto done;
	}
	cfg->aliased = moo__ydoc_has_aliases(doc);
	if (root && root->kind == MOO_Y_SCALAR && moo__yaml_stype(root) == MOO_S_NULL) {
		root = NULL;
	}
	if (root && root->kind != MOO_Y_MAP) {
		moo__error_hint(cerr(&c, root, "the document must be a mapping, found %s",
				     moo__yaml_kind_name(root)),
				"start with 'hosts:'");
	}
	for (i = 0; root && root->kind == MOO_Y_MAP && i < root->n; i += 2) {
		const struct moo__ynode *k = root->kids[i], *prev;

		if (k->kind != MOO_Y_SCALAR) {
			cerr(&c, k, "a key must be a string, found %s", moo__yaml_kind_name(k));
		} else if ((prev = duplicate(root, i))) {
			moo__error_hint(cerr(&c, k, "duplicate key '%s'", k->text),
					"the first is at line %d; keep one of them", prev->line);
		} else if (!strcmp(k->text, "hosts")) {
			read_hosts(&c, root->kids[i + 1], cfg);
		} else if (strncmp(k->text, "x-", 2) && strcmp(k->text, "images") &&
			   strcmp(k->text, "registries") && strcmp(k->text, "slurm")) {
			unknown_key(&c, k, NULL, top_keys, MOO_ARRAY_SIZE(top_keys));
		} else {
			if (!strcmp(k->text, "slurm")) {
				read_slurm(&c, root->kids[i + 1], cfg);
			}
			keep_section(cfg, root, i, data, len);
		}
	}
	/* 'images:' and 'registries:' are kept for images.c, which reads and checks them
	 * (moo_images_load) when a command needs images: config.c stays below images.c. */
	if (c.errors) {
		r = MOO_EARG;
		goto done;
	}
	*out = cfg;
	cfg = NULL;
	r = 0;
done:
	moo__ydoc_free(doc);
	moo_config_free(cfg);
	if (r && err) {
		struct moo_error **tail = err;

		while (*tail) {
			tail = &(*tail)->next;
		}
		*tail = diags;
		diags = NULL;
	}
	moo_error_free(diags);
	return r;
}

int moo_config_path(struct moo_buf *out, struct moo_error **err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg && *xdg == '/') {
		moo_buf_printf(out, "%s/moo/config.yaml", xdg);
		return 0;
	}
	if (!home || !*home) {
		return moo__fail(err, MOO_EIO,
				 "cannot place config.yaml: neither XDG_CONFIG_HOME "
				 "nor HOME is set");
	}
	moo_buf_printf(out, "%s/.config/moo/config.yaml", home);
	return 0;
}

int moo_config_load(struct moo_config **out, const char *path, struct moo_error **err)
{
	struct moo_buf file = MOO_BUF_INIT, data = MOO_BUF_INIT;
	struct moo_error *e = NULL;
	int r;

	if (path) {
		moo_buf_puts(&file, path);
	} else if ((r = moo_config_path(&file, err))) {
		goto done;
	}
	r = moo__read_file(file.ptr, MOO_CONFIG_MAX_BYTES, &data, &e);
	if (r == MOO_ENOTFOUND) {
		struct moo_config *cfg = moo__calloc(1, sizeof(*cfg));

		cfg->path = moo_buf_detach(&file);
		*out = cfg;
		r = 0;
		goto done;
	}
	if (r) {
		moo__error_at(e, file.ptr, 0, 0);
		if (err) {
			struct moo_error **tail = err;

			while (*tail) {
				tail = &(*tail)->next;
			}
			*tail = e;
			e = NULL;
		}
		goto done;
	}
	r = moo_config_parse(out, data.ptr ? data.ptr : "", data.len, file.ptr, err);
done:
	moo_error_free(e);
	moo_buf_dispose(&file);
	moo_buf_dispose(&data);
	return r;
}

/* ---- writing ------------------------------------------------------------------------- */

static void put_string(struct moo_buf *out, const char *key, const char *s)
{
	json_t *j;
	char *q;

	if (!s) {
		return;
	}
	/* A JSON string is a double-quoted YAML scalar: every byte comes back as it was. */
	j = json_string(s);
	q = json_dumps(j, JSON_ENCODE_ANY);
	moo_buf_printf(out, "    %s: %s\n", key, q);
	free(q);
	json_decref(j);
}

void moo_config_to_yaml(struct moo_buf *out, const struct moo_config *cfg)
{
	size_t i;

	moo_buf_puts(out,
		     "# moo's configuration (moo-config(5)); 'moo hosts' rewrites this file.\n");
	if (cfg->kept) {
		moo_buf_puts(out, cfg->kept);
	}
	if (!cfg->n_hosts) {
		moo_buf_puts(out, "hosts: {}\n");
		return;
	}
	moo_buf_puts(out, "hosts:\n");
	for (i = 0; i < cfg->n_hosts; i++) {
		const struct moo_host_entry *h = &cfg->hosts[i];

		moo_buf_printf(out, "  %s:\n", h->name); /* name_ok: a plain scalar */
		put_string(out, "address", h->address);
		put_string(out, "user", h->user);
		if (h->port) {
			moo_buf_printf(out, "    port: %u\n", h->port);
		}
		put_string(out, "key", h->key);
		put_string(out, "known_hosts", h->known_hosts);
		put_string(out, "root", h->root);
		put_string(out, "runtime", h->runtime);
	}
}

int moo_config_save(const struct moo_config *cfg, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	char *dir = moo__strdup(cfg->path), *slash = strrchr(dir, '/');
	int r;

	if (slash && slash != dir) {
		*slash = '\0';
		if ((r = moo__mkdir_p(dir, 0700, err))) {
			goto done;
		}
	}
	if (cfg->kept_flow) {
		r = MOO_EARG;
		moo__error_hint(moo__error_add(err, r, MOO_SEV_ERROR,
					       "'%s' holds sections in flow style ({…}) that moo "
					       "cannot rewrite",
					       cfg->path),
				"write them in block style, one key a line");
		goto done;
	}
	if (cfg->aliased) {
		r = MOO_EARG;
		moo__error_hint(
			moo__error_add(err, r, MOO_SEV_ERROR,
				       "'%s' uses YAML anchors or aliases (&a, *a), which moo "
				       "cannot keep when it rewrites the file",
				       cfg->path),
			"write the values out in full, then run the command again");
		goto done;
	}
	moo_config_to_yaml(&b, cfg);
	r = moo__write_file_atomic(cfg->path, b.ptr, b.len, 0600, true, err);
done:
	free(dir);
	moo_buf_dispose(&b);
	return r;
}

/* ---- changing ------------------------------------------------------------------------ */

const struct moo_host_entry *moo_config_host(const struct moo_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; cfg && i < cfg->n_hosts; i++) {
		if (!strcmp(cfg->hosts[i].name, name)) {
			return &cfg->hosts[i];
		}
	}
	return NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? moo__strdup(s) : NULL;
}

int moo_config_add_host(struct moo_config *cfg, const struct moo_host_entry *h,
			struct moo_error **err)
{
	struct moo_host_entry n = {0};
	struct moo_error *e;

	if (!h->name || !name_ok(h->name)) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "invalid host name '%s'",
				   h->name ? h->name : "");
		moo__error_hint(e,
				"use letters, digits, '.', '-' and '_', not starting with '-' or "
				"'.'");
		return MOO_EARG;
	}
	if (!h->address || !address_ok(h->address)) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "invalid address '%s'",
				   h->address ? h->address : "");
		moo__error_hint(e, "write a name like 'gpu1.example.org' or an address like "
				   "'10.0.0.7'");
		return MOO_EARG;
	}
	if (h->user && !word_ok(h->user)) {
		return moo__fail(err, MOO_EARG, "invalid user name '%s'", h->user);
	}
	if (h->port > 65535) {
		return moo__fail(err, MOO_EARG, "port %u is out of range", h->port);
	}
	if ((h->key && !path_ok(h->key)) || (h->known_hosts && !path_ok(h->known_hosts)) ||
	    (h->root && !path_ok(h->root))) {
		return moo__fail(err, MOO_EARG,
				 "a path must not be empty or hold control characters");
	}
	if (h->key) { /* a key that cannot be read would be passed over at each login */
		const char *home = getenv("HOME");
		char *kp = !strncmp(h->key, "~/", 2) && home ? moo__printf("%s%s", home, h->key + 1)
							     : moo__strdup(h->key);
		struct stat st;
		int bad = stat(kp, &st) < 0      ? errno
			  : !S_ISREG(st.st_mode) ? EISDIR
			  : access(kp, R_OK) < 0 ? errno
						 : 0;

		free(kp);
		if (bad) {
			e = moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
					   "the key '%s' cannot be read", h->key);
			moo__error_cause(e, strerror(bad));
			moo__error_hint(e, "give the path of a private key, or leave --key out to "
					   "log in with ssh's config and agent");
			return MOO_ENOTFOUND;
		}
	}
	if (h->runtime && !runtime_ok(h->runtime)) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "unknown runtime '%s'",
				   h->runtime);
		moo__error_hint(e, "use docker, podman, apptainer, singularity or host");
		return MOO_EARG;
	}
	if (moo_config_host(cfg, h->name)) {
		e = moo__error_add(err, MOO_EEXIST, MOO_SEV_ERROR, "host '%s' exists already",
				   h->name);
		moo__error_hint(e, "remove it first with 'moo hosts rm %s'", h->name);
		return MOO_EEXIST;
	}
	if (cfg->n_hosts >= MOO_CONFIG_MAX_HOSTS) {
		return moo__fail(err, MOO_EARG, "more than %u hosts", MOO_CONFIG_MAX_HOSTS);
	}
	n.name = moo__strdup(h->name);
	n.address = moo__strdup(h->address);
	n.user = dup_or_null(h->user);
	n.port = h->port;
	n.key = dup_or_null(h->key);
	n.known_hosts = dup_or_null(h->known_hosts);
	n.root = dup_or_null(h->root);
	n.runtime = dup_or_null(h->runtime);
	MOO_GROW(cfg->hosts, cfg->n_hosts);
	cfg->hosts[cfg->n_hosts++] = n;
	return 0;
}

int moo_config_remove_host(struct moo_config *cfg, const char *name, struct moo_error **err)
{
	size_t i;

	for (i = 0; i < cfg->n_hosts; i++) {
		if (!strcmp(cfg->hosts[i].name, name)) {
			entry_dispose(&cfg->hosts[i]);
			memmove(&cfg->hosts[i], &cfg->hosts[i + 1],
				(cfg->n_hosts - i - 1) * sizeof(cfg->hosts[0]));
			cfg->n_hosts--;
			return 0;
		}
	}
	moo__error_hint(
		moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR, "no host named '%s'", name),
		"'moo hosts ls' lists the hosts");
	return MOO_ENOTFOUND;
}

void moo_config_free(struct moo_config *cfg)
{
	size_t i;

	if (!cfg) {
		return;
	}
	for (i = 0; i < cfg->n_hosts; i++) {
		entry_dispose(&cfg->hosts[i]);
	}
	free(cfg->hosts);
	free(cfg->kept);
	for (i = 0; i < MOO_ARRAY_SIZE(cfg->slurm); i++) {
		free(cfg->slurm[i]);
	}
	free(cfg->path);
	free(cfg);
}
