/*
 * probe: what a host is (OS, CPUs, memory, disk, GPUs, NPUs, container engines, Pythons),
 * from one POSIX sh script (probe.sh, built into the library) run over a transport
 * (transport.c opens it), and cached in the store per host. The facts as data: hostfacts.c.
 *
 * The script prints sections, each opened by a line '@@moo NAME [ARG]' and holding what
 * a standard tool printed (os-release, /proc/meminfo, df -P -k, nvidia-smi's CSV query,
 * npu-smi info, --version lines); this file reads them, skipping what it cannot read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "embedded.h"
#include "probe.h"

static const struct moo__embedded *probe_script(void)
{
	const struct moo__embedded *e;

	for (e = moo__embedded_scripts; e->name; e++) {
		if (!strcmp(e->name, "probe.sh")) {
			return e;
		}
	}
	return NULL;
}

void moo__host_probe_script(struct moo_buf *out)
{
	const struct moo__embedded *e = probe_script();

	if (e) {
		moo_buf_add(out, e->data, e->size);
	}
}

/* ---- line helpers ---------------------------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
		*--e = '\0';
	}
	return s;
}

static bool to_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9') {
		return false;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || (*end && *end != ' ' && *end != '\t')) {
		return false;
	}
	*out = v;
	return true;
}

/* Splits s in place at runs of blanks; returns the number of fields (at most max). */
static size_t fields(char *s, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		s += strspn(s, " \t");
		if (!*s) {
			break;
		}
		f[n++] = s;
		s += strcspn(s, " \t");
		if (*s) {
			*s++ = '\0';
		}
	}
	return n;
}

/* ---- sections ------------------------------------------------------------------------ */

static void set(char **dst, const char *v)
{
	free(*dst);
	*dst = v && *v ? moo__strdup(v) : NULL;
}

/* Decodes lowercase hex; an odd length, a non-hex digit or a NUL leaves *dst as it was. */
static void set_hex(char **dst, const char *hex)
{
	size_t n = strlen(hex), i;
	char *s;

	if (n % 2 || strspn(hex, "0123456789abcdef") != n) {
		return;
	}
	s = moo__malloc(n / 2 + 1);
	for (i = 0; i < n / 2; i++) {
		int hi = hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10;
		int lo = hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10;

		s[i] = (char)(hi << 4 | lo);
		if (!s[i]) {
			free(s);
			return;
		}
	}
	s[n / 2] = '\0';
	free(*dst);
	*dst = s;
}

static void p_uname(struct moo_host_facts *f, char *line)
{
	char *w[8];
	size_t n = fields(line, w, 8);

	if (n >= 3) {
		set(&f->kernel, w[1]);
		set(&f->arch, w[n - 1]);
	}
}

static void p_os_release(struct moo_host_facts *f, char *line)
{
	char *eq = strchr(line, '='), *v;
	size_t n;

	if (!eq) {
		return;
	}
	*eq = '\0';
	v = trim(eq + 1);
	n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	if (!strcmp(line, "ID")) {
		set(&f->os_id, v);
	} else if (!strcmp(line, "VERSION_ID")) {
		set(&f->os_version, v);
	} else if (!strcmp(line, "PRETTY_NAME")) {
		set(&f->os_name, v);
	}
}

static void p_cpus(struct moo_host_facts *f, char *line)
{
	uint64_t v;

	if (to_u64(trim(line), &v) && v < 1u << 20) {
		f->cpus = (unsigned)v;
	}
}

/* /proc/meminfo (kB), or the "Mem:" line of free -b (bytes). */
static void p_memory(struct moo_host_facts *f, char *line)
{
	char *w[8];
	size_t n = fields(line, w, 8);
	uint64_t v;

	if (n >= 2 && !strcmp(w[0], "MemTotal:") && to_u64(w[1], &v)) {
		f->mem_total = v * 1024;
	} else if (n >= 2 && !strcmp(w[0], "MemAvailable:") && to_u64(w[1], &v)) {
		f->mem_available = v * 1024;
	} else if (n >= 7 && !strcmp(w[0], "Mem:")) {
		to_u64(w[1], &f->mem_total);
		to_u64(w[6], &f->mem_available);
	}
}

struct dfstate {
	uint64_t unit;
};

/* df -P -k (1024-blocks) or df -B1 (1B-blocks): the header gives the unit, the last line
 * the available blocks in its fourth field. */
static void p_df(struct moo_host_facts *f, char *line, struct dfstate *d)
{
	char *w[8];
	size_t n = fields(line, w, 8);
	uint64_t v;

	if (n >= 2 && !strcmp(w[0], "Filesystem")) {
		d->unit = !strcmp(w[1], "1B-blocks")                                   ? 1
			  : !strcmp(w[1], "512-blocks")                                ? 512
			  : !strcmp(w[1], "1024-blocks") || !strcmp(w[1], "1K-blocks") ? 1024
										       : 0;
		return;
	}
	if (n >= 4 && d->unit && to_u64(w[3], &v)) {
		f->disk_free = v * d->unit;
	}
}

/* index, name, uuid, memory.total, memory.used, driver_version, compute_cap (MiB). */
static void p_nvidia_query(struct moo_host_facts *f, char *line)
{
	char *c[7], *s = line;
	struct moo_gpu g = {0};
	uint64_t idx;
	size_t n = 0;

	while (n < 7) {
		char *comma = strchr(s, ',');

		c[n++] = s;
		if (!comma) {
			break;
		}
		*comma = '\0';
		s = comma + 1;
	}
	if (n != 7) {
		return; /* an error message, not a GPU */
	}
	for (n = 0; n < 7; n++) {
		c[n] = trim(c[n]);
	}
	if (!to_u64(c[0], &idx) || idx > 1024) {
		return;
	}
	g.index = (unsigned)idx;
	g.name = moo__strdup(c[1]);
	g.uuid = moo__strdup(c[2]);
	to_u64(c[3], &g.memory_total_mib);
	to_u64(c[4], &g.memory_used_mib);
	g.driver = moo__strdup(c[5]);
	g.compute_cap = moo__strdup(c[6]);
	MOO_GROW(f->gpus, f->n_gpus);
	f->gpus[f->n_gpus++] = g;
}

/* "| NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: 13.0 |" */
static void p_nvidia_smi(struct moo_host_facts *f, char *line)
{
	static const char *const keys[] = {"Driver Version:", "CUDA Version:"};
	char **dst[] = {&f->driver_version, &f->cuda_version};
	size_t i;

	for (i = 0; i < 2; i++) {
		char *p = strstr(line, keys[i]), *w[1];

		if (p) {
			char tmp[64];

			snprintf(tmp, sizeof(tmp), "%s", p + strlen(keys[i]));
			if (fields(tmp, w, 1) == 1) {
				set(dst[i], w[0]);
			}
		}
	}
}

/*
 * npu-smi info: a table whose device rows read "| 0     910B3   | OK   | …": an index and a
 * name in the first cell, the health in the second. The chip rows under them hold a
 * number alone. The title row carries "Version: X".
 */
static void p_npu_smi(struct moo_host_facts *f, char *line)
{
	char *cells[4], *w[3], *s = line, *v;
	size_t n = 0;
	uint64_t idx;

	if ((v = strstr(line, "Version:"))) {
		char *vw[1];

		if (fields(v + 8, vw, 1) == 1) {
			vw[0][strcspn(vw[0], "|")] = '\0';
			set(&f->npu_version, vw[0]);
		}
		return;
	}
	if (*line != '|') {
		return;
	}
	s = line + 1;
	while (n < 4) {
		char *bar = strchr(s, '|');

		if (!bar) {
			break;
		}
		*bar = '\0';
		cells[n++] = s;
		s = bar + 1;
	}
	if (n < 2 || fields(cells[0], w, 3) != 2 || !to_u64(w[0], &idx) || idx > 1024 ||
	    (w[1][0] >= '0' && w[1][0] <= '9' && strspn(w[1], "0123456789") == strlen(w[1]))) {
		return;
	}
	MOO_GROW(f->npus, f->n_npus);
	f->npus[f->n_npus].index = (unsigned)idx;
	f->npus[f->n_npus].name = moo__strdup(w[1]);
	f->npus[f->n_npus].health = moo__strdup(trim(cells[1]));
	f->n_npus++;
}

/* The first word that starts with a digit: "Docker version 24.0.5, build …" → 24.0.5. */
static char *version_word(const char *line)
{
	char tmp[256], *w[16];
	size_t n, i;

	snprintf(tmp, sizeof(tmp), "%s", line);
	n = fields(tmp, w, 16);
	for (i = 0; i < n; i++) {
		if (w[i][0] >= '0' && w[i][0] <= '9') {
			size_t len = strcspn(w[i], ",;()");

			return moo__strndup(w[i], len);
		}
	}
	return moo__strdup(trim(tmp));
}

static void p_engine(struct moo_host_facts *f, const char *name, char *line)
{
	struct moo_engine *e;

	if (!*trim(line)) {
		return;
	}
	MOO_GROW(f->engines, f->n_engines);
	e = &f->engines[f->n_engines++];
	e->name = moo__strdup(name);
	e->version = version_word(line);
}

static void p_python(struct moo_host_facts *f, const char *path, char *line)
{
	struct moo_python *p;

	if (strncmp(line, "Python ", 7)) {
		return;
	}
	MOO_GROW(f->pythons, f->n_pythons);
	p = &f->pythons[f->n_pythons++];
	p->path = moo__strdup(path);
	p->version = version_word(line + 7);
}

int moo_host_facts_parse(struct moo_host_facts **out, const char *text, size_t len,
			 struct moo_error **err)
{
	struct moo_host_facts *f = NULL;
	struct dfstate df = {0};
	char section[32] = "", *arg = NULL, *line = NULL;
	const char *p = text, *end = text + len;
	bool first = true, seen_any = false;
	int r;

	f = moo__calloc(1, sizeof(*f));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		free(line);
		line = moo__strndup(p, n);
		p += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n)) {
			continue; /* a NUL inside a line: not text */
		}
		if (!strncmp(line, "@@moo ", 6)) {
			char *name = line + 6, *sp = strchr(name, ' ');

			if (sp) {
				*sp = '\0';
			}
			snprintf(section, sizeof(section), "%s", name);
			free(arg);
			arg = sp ? moo__strdup(sp + 1) : NULL;
			if (first && (strcmp(section, "probe") || !arg || strcmp(arg, "1"))) {
				break;
			}
			seen_any = true;
			if (!strcmp(section, "root-hex") && arg) {
				set_hex(&f->root, arg);
			}
			first = false;
			continue;
		}
		if (first) {
			continue; /* what a login shell printed before the script */
		}
		if (!strcmp(section, "uname")) {
			p_uname(f, line);
		} else if (!strcmp(section, "os-release")) {
			p_os_release(f, line);
		} else if (!strcmp(section, "cpus")) {
			p_cpus(f, line);
		} else if (!strcmp(section, "memory")) {
			p_memory(f, line);
		} else if (!strcmp(section, "df")) {
			p_df(f, line, &df);
		} else if (!strcmp(section, "nvidia-query")) {
			p_nvidia_query(f, line);
		} else if (!strcmp(section, "nvidia-smi")) {
			p_nvidia_smi(f, line);
		} else if (!strcmp(section, "npu-smi")) {
			p_npu_smi(f, line);
		} else if (!strcmp(section, "engine") && arg) {
			p_engine(f, arg, line);
		} else if (!strcmp(section, "python") && arg) {
			p_python(f, arg, line);
		}
	}
	if (!seen_any) {
		struct moo_error *e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
						     "the host probe printed nothing moo can read");

		moo__error_hint(e, "run 'sh -s' on the host with moo's probe script to see why");
		r = MOO_EHOST;
		goto done;
	}
	/* nvidia-smi's header names the driver too; the CSV has it per GPU */
	if (!f->driver_version && f->n_gpus) {
		set(&f->driver_version, f->gpus[0].driver);
	}
	*out = f;
	f = NULL;
	r = 0;
done:
	free(line);
	free(arg);
	moo_host_facts_free(f);
	return r;
}

/* ---- over a transport -------------------------------------------------------------------- */

int moo__probe(struct moo_host_facts **out, struct moo__transport *t, const char *root,
	       struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, text = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	const struct moo__embedded *script = probe_script();
	struct timespec t0, t1;
	int status = -1, r;

	if (!script) {
		return moo__fail(err, MOO_EIO, "libmoo was built without its probe script");
	}
	moo_buf_puts(&cmd, "set -- ");
	moo_buf_shquote(&cmd, root ? root : t->root);
	moo_buf_putc(&cmd, '\n');
	moo_buf_add(&cmd, script->data, script->size);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = t->ops->exec(t, cmd.ptr, &text, &errout, &status, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r) {
		goto done;
	}
	if ((r = moo_host_facts_parse(out, text.ptr ? text.ptr : "", text.len, err))) {
		if (err && *err && errout.len) {
			moo__error_cause(*err, errout.ptr);
		}
		goto done;
	}
	(*out)->probe_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&text);
	moo_buf_dispose(&errout);
	return r;
}

static void facts_key(struct moo__transport *t, struct moo_buf *key);
static void facts_cache_put(struct moo__transport *t, struct moo_store *st,
			    const struct moo_host_facts *f);

int moo_host_probe(struct moo_host_facts **out, struct moo_store *st, const char *host,
		   const char *root, const struct moo_connect_opts *opts, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_host_facts *f = NULL;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_CONNECT_OPTS_VERSION, "moo_connect_opts", err))) {
		return r;
	}
	if ((r = moo__transport_open_opts(&t, host, opts, err))) {
		return r;
	}
	if (!(r = moo__probe(&f, t, root, err))) {
		moo__transport_describe(t, &f->key, &f->connect_s, &f->auth_s);
		if (st && (!root || !strcmp(root, t->root))) {
			facts_cache_put(t, st, f); /* what plans take from now: moo hosts check
						    * is how facts are probed again */
		}
	}
	moo__transport_close(t);
	if (!r && st) {
		r = moo_store_put_host_facts(st, host, f, err);
	}
	if (r) {
		moo_host_facts_free(f);
		return r;
	}
	*out = f;
	return 0;
}

int moo_host_probe_local(struct moo_host_facts **out, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	int r;

	if ((r = moo__transport_open(&t, "local", err))) {
		return r;
	}
	r = moo__probe(out, t, NULL, err);
	moo__transport_close(t);
	return r;
}

/* ---- cached per host ------------------------------------------------------------------- */

#define FACTS_MAX_AGE (24 * 3600.0)

/* A file's first line on the host ("" when it has none): what the facts' cache key holds. */
static void first_line(struct moo__transport *t, const char *path, struct moo_buf *out)
{
	struct moo_buf b = MOO_BUF_INIT;

	if (!t->ops->read_file(t, path, 0, 4096, &b, NULL) && b.len) {
		moo_buf_add(out, b.ptr, strcspn(b.ptr, "\n"));
	}
	moo_buf_dispose(&b);
}

/*
 * The host's facts: the probe script run over the transport, cached in the store per host
 * and keyed by what changes them (its boot id, its NVIDIA driver's version, its root), so a
 * reboot or a driver update probes again. Memory and disk are as seen when probed.
 */
static void facts_key(struct moo__transport *t, struct moo_buf *key)
{
	moo_buf_printf(key, "facts\t%s\t%s\t", t->host, t->root);
	first_line(t, "/proc/sys/kernel/random/boot_id", key);
	moo_buf_putc(key, '\t');
	first_line(t, "/sys/module/nvidia/version", key);
}

static void facts_cache_put(struct moo__transport *t, struct moo_store *st,
			    const struct moo_host_facts *f)
{
	struct moo_buf key = MOO_BUF_INIT, json = MOO_BUF_INIT;

	facts_key(t, &key);
	moo_host_facts_to_json(&json, f);
	moo__store_cache_put(st, key.ptr, json.ptr, NULL); /* a cache that fails is no loss */
	moo_buf_dispose(&key);
	moo_buf_dispose(&json);
}

int moo__host_facts(struct moo_host_facts **out, struct moo__transport *t, struct moo_store *st,
		    struct moo_error **err)
{
	struct moo_buf key = MOO_BUF_INIT, cached = MOO_BUF_INIT;
	int r;

	facts_key(t, &key);
	if (st && moo__store_cache_get(st, key.ptr, FACTS_MAX_AGE, &cached, NULL) == 0 &&
	    moo_host_facts_from_json(out, cached.ptr, NULL) == 0) {
		r = 0;
		goto done;
	}
	r = moo__probe(out, t, NULL, err);
	if (!r && st) {
		facts_cache_put(t, st, *out);
	}
done:
	if (!r) {
		moo__transport_describe(t, &(*out)->key, NULL, NULL);
	}
	moo_buf_dispose(&key);
	moo_buf_dispose(&cached);
	return r;
}
