/*
 * probe: what a host is (OS, CPUs, memory, disk, GPUs, NPUs, container engines, Pythons),
 * from one POSIX sh script (probe.sh, built into the library) run on its one remote sh.
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
#include "ssh.h"
#include "transport.h"

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

/* ---- JSON -------------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void moo_host_facts_to_json(const struct moo_host_facts *f, struct moo_buf *out)
{
	json_t *o = json_object(), *a;
	char *s;
	size_t i;

	if (f->key.fingerprint) {
		json_t *k = json_object();

		json_object_set_new(k, "address", str_or_null(f->key.display));
		json_object_set_new(k, "type", str_or_null(f->key.type));
		json_object_set_new(k, "fingerprint", str_or_null(f->key.fingerprint));
		json_object_set_new(k, "known_hosts", str_or_null(f->key.known_hosts));
		json_object_set_new(k, "added", json_boolean(f->key.added));
		json_object_set_new(o, "host_key", k);
		json_object_set_new(o, "connect_seconds", json_real(f->connect_s));
		json_object_set_new(o, "auth_seconds", json_real(f->auth_s));
		json_object_set_new(o, "probe_seconds", json_real(f->probe_s));
	}
	a = json_object();
	json_object_set_new(a, "id", str_or_null(f->os_id));
	json_object_set_new(a, "version", str_or_null(f->os_version));
	json_object_set_new(a, "name", str_or_null(f->os_name));
	json_object_set_new(a, "kernel", str_or_null(f->kernel));
	json_object_set_new(o, "os", a);
	json_object_set_new(o, "arch", str_or_null(f->arch));
	json_object_set_new(o, "cpus", json_integer(f->cpus));
	a = json_object();
	json_object_set_new(a, "total", json_integer((json_int_t)f->mem_total));
	json_object_set_new(a, "available", json_integer((json_int_t)f->mem_available));
	json_object_set_new(o, "memory", a);
	a = json_object();
	json_object_set_new(a, "root", str_or_null(f->root));
	json_object_set_new(a, "free", json_integer((json_int_t)f->disk_free));
	json_object_set_new(o, "disk", a);
	json_object_set_new(o, "driver_version", str_or_null(f->driver_version));
	json_object_set_new(o, "cuda_version", str_or_null(f->cuda_version));
	a = json_array();
	for (i = 0; i < f->n_gpus; i++) {
		const struct moo_gpu *g = &f->gpus[i];
		json_t *x = json_object();

		json_object_set_new(x, "index", json_integer(g->index));
		json_object_set_new(x, "name", str_or_null(g->name));
		json_object_set_new(x, "uuid", str_or_null(g->uuid));
		json_object_set_new(x, "memory_total_mib",
				    json_integer((json_int_t)g->memory_total_mib));
		json_object_set_new(x, "memory_used_mib",
				    json_integer((json_int_t)g->memory_used_mib));
		json_object_set_new(x, "driver", str_or_null(g->driver));
		json_object_set_new(x, "compute_cap", str_or_null(g->compute_cap));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "gpus", a);
	json_object_set_new(o, "npu_smi_version", str_or_null(f->npu_version));
	a = json_array();
	for (i = 0; i < f->n_npus; i++) {
		json_t *x = json_object();

		json_object_set_new(x, "index", json_integer(f->npus[i].index));
		json_object_set_new(x, "name", str_or_null(f->npus[i].name));
		json_object_set_new(x, "health", str_or_null(f->npus[i].health));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "npus", a);
	a = json_array();
	for (i = 0; i < f->n_engines; i++) {
		json_t *x = json_object();

		json_object_set_new(x, "name", str_or_null(f->engines[i].name));
		json_object_set_new(x, "version", str_or_null(f->engines[i].version));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "engines", a);
	a = json_array();
	for (i = 0; i < f->n_pythons; i++) {
		json_t *x = json_object();

		json_object_set_new(x, "path", str_or_null(f->pythons[i].path));
		json_object_set_new(x, "version", str_or_null(f->pythons[i].version));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "pythons", a);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	moo_buf_puts(out, s);
	free(s);
	json_decref(o);
}

static char *jdup(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? moo__strdup(v) : NULL;
}

static uint64_t ju64(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* The array under key, or NULL; *n its length. */
static json_t *jarr(json_t *o, const char *key, size_t *n)
{
	json_t *a = json_object_get(o, key);

	*n = json_is_array(a) ? json_array_size(a) : 0;
	return *n ? a : NULL;
}

int moo_host_facts_from_json(struct moo_host_facts **out, const char *text, struct moo_error **err)
{
	struct moo_host_facts *f;
	json_error_t je;
	json_t *o = json_loads(text, 0, &je), *a, *k;
	size_t i, n;

	if (!json_is_object(o)) {
		struct moo_error *e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
						     "stored host facts are not a JSON object");

		moo__error_cause(e, o ? NULL : je.text);
		json_decref(o);
		return MOO_EIO;
	}
	f = moo__calloc(1, sizeof(*f));
	if (json_is_object(k = json_object_get(o, "host_key"))) {
		f->key.display = jdup(k, "address");
		f->key.type = jdup(k, "type");
		f->key.fingerprint = jdup(k, "fingerprint");
		f->key.known_hosts = jdup(k, "known_hosts");
		f->key.added = json_is_true(json_object_get(k, "added"));
	}
	f->connect_s = json_number_value(json_object_get(o, "connect_seconds"));
	f->auth_s = json_number_value(json_object_get(o, "auth_seconds"));
	f->probe_s = json_number_value(json_object_get(o, "probe_seconds"));
	a = json_object_get(o, "os");
	f->os_id = jdup(a, "id");
	f->os_version = jdup(a, "version");
	f->os_name = jdup(a, "name");
	f->kernel = jdup(a, "kernel");
	f->arch = jdup(o, "arch");
	f->cpus = (unsigned)ju64(o, "cpus");
	a = json_object_get(o, "memory");
	f->mem_total = ju64(a, "total");
	f->mem_available = ju64(a, "available");
	a = json_object_get(o, "disk");
	f->root = jdup(a, "root");
	f->disk_free = ju64(a, "free");
	f->driver_version = jdup(o, "driver_version");
	f->cuda_version = jdup(o, "cuda_version");
	f->npu_version = jdup(o, "npu_smi_version");
	if ((a = jarr(o, "gpus", &n))) {
		f->gpus = moo__calloc(n, sizeof(*f->gpus));
		for (i = 0; i < n; i++) {
			json_t *x = json_array_get(a, i);
			struct moo_gpu *g = &f->gpus[f->n_gpus++];

			g->index = (unsigned)ju64(x, "index");
			g->name = jdup(x, "name");
			g->uuid = jdup(x, "uuid");
			g->memory_total_mib = ju64(x, "memory_total_mib");
			g->memory_used_mib = ju64(x, "memory_used_mib");
			g->driver = jdup(x, "driver");
			g->compute_cap = jdup(x, "compute_cap");
		}
	}
	if ((a = jarr(o, "npus", &n))) {
		f->npus = moo__calloc(n, sizeof(*f->npus));
		for (i = 0; i < n; i++) {
			json_t *x = json_array_get(a, i);
			struct moo_npu *u = &f->npus[f->n_npus++];

			u->index = (unsigned)ju64(x, "index");
			u->name = jdup(x, "name");
			u->health = jdup(x, "health");
		}
	}
	if ((a = jarr(o, "engines", &n))) {
		f->engines = moo__calloc(n, sizeof(*f->engines));
		for (i = 0; i < n; i++) {
			f->engines[i].name = jdup(json_array_get(a, i), "name");
			f->engines[i].version = jdup(json_array_get(a, i), "version");
		}
		f->n_engines = n;
	}
	if ((a = jarr(o, "pythons", &n))) {
		f->pythons = moo__calloc(n, sizeof(*f->pythons));
		for (i = 0; i < n; i++) {
			f->pythons[i].path = jdup(json_array_get(a, i), "path");
			f->pythons[i].version = jdup(json_array_get(a, i), "version");
		}
		f->n_pythons = n;
	}
	json_decref(o);
	*out = f;
	return 0;
}

void moo_host_key_dispose(struct moo_host_key *k)
{
	if (!k) {
		return;
	}
	free(k->display);
	free(k->type);
	free(k->fingerprint);
	free(k->known_hosts);
	memset(k, 0, sizeof(*k));
}

void moo_host_facts_free(struct moo_host_facts *f)
{
	size_t i;

	if (!f) {
		return;
	}
	moo_host_key_dispose(&f->key);
	free(f->kernel);
	free(f->arch);
	free(f->os_id);
	free(f->os_version);
	free(f->os_name);
	free(f->root);
	free(f->cuda_version);
	free(f->driver_version);
	free(f->npu_version);
	for (i = 0; i < f->n_gpus; i++) {
		free(f->gpus[i].name);
		free(f->gpus[i].uuid);
		free(f->gpus[i].driver);
		free(f->gpus[i].compute_cap);
	}
	free(f->gpus);
	for (i = 0; i < f->n_npus; i++) {
		free(f->npus[i].name);
		free(f->npus[i].health);
	}
	free(f->npus);
	for (i = 0; i < f->n_engines; i++) {
		free(f->engines[i].name);
		free(f->engines[i].version);
	}
	free(f->engines);
	for (i = 0; i < f->n_pythons; i++) {
		free(f->pythons[i].path);
		free(f->pythons[i].version);
	}
	free(f->pythons);
	free(f);
}

/* ---- over SSH ---------------------------------------------------------------------------- */

static void key_from(struct moo_host_key *k, const struct moo__ssh *c)
{
	k->display = moo__strdup(c->display);
	k->type = moo__strdup(c->key_type);
	k->fingerprint = moo__strdup(c->fingerprint);
	k->known_hosts = moo__strdup(c->known_hosts);
	k->added = c->key_added;
}

int moo_host_trust(struct moo_host_key *out, const char *host, const struct moo_connect_opts *opts,
		   struct moo_error **err)
{
	struct moo__ssh *c = NULL;
	int r;

	if ((r = MOO__OPTS_VERSION(opts, MOO_CONNECT_OPTS_VERSION, "moo_connect_opts", err))) {
		return r;
	}
	r = moo__ssh_open(&c, host, MOO__SSH_ACCEPT_NEW | MOO__SSH_NO_AUTH,
			  opts ? opts->timeout_s : 0, err);
	if (r) {
		return r;
	}
	key_from(out, c);
	moo__ssh_close(c);
	return 0;
}

int moo_host_probe(struct moo_host_facts **out, const char *host, const char *root,
		   const struct moo_connect_opts *opts, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, text = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	struct moo_host_facts *f = NULL;
	struct moo__ssh *c = NULL;
	struct timespec t0, t1;
	const struct moo__embedded *script = probe_script();
	int status = -1, r;

	if (!script) {
		return moo__fail(err, MOO_EIO, "libmoo was built without its probe script");
	}
	if ((r = MOO__OPTS_VERSION(opts, MOO_CONNECT_OPTS_VERSION, "moo_connect_opts", err))) {
		return r;
	}
	r = moo__ssh_open(&c, host, opts && opts->accept_new_host_key ? MOO__SSH_ACCEPT_NEW : 0,
			  opts ? opts->timeout_s : 0, err);
	if (r) {
		goto done;
	}
	if (!root) {
		root = c->target.root;
	}
	moo_buf_puts(&cmd, "set -- ");
	moo_buf_shquote(&cmd, root ? root : "");
	moo_buf_putc(&cmd, '\n');
	moo_buf_add(&cmd, script->data, script->size);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = moo__ssh_run(c, cmd.ptr, &text, 0, &errout, &status, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r) {
		goto done;
	}
	if ((r = moo_host_facts_parse(&f, text.ptr ? text.ptr : "", text.len, err))) {
		if (err && *err && errout.len) {
			moo__error_cause(*err, errout.ptr);
		}
		goto done;
	}
	key_from(&f->key, c);
	f->connect_s = c->connect_s;
	f->auth_s = c->auth_s;
	f->probe_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	*out = f;
	f = NULL;
	r = 0;
done:
	moo_host_facts_free(f);
	moo__ssh_close(c);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&text);
	moo_buf_dispose(&errout);
	return r;
}

int moo_host_probe_local(struct moo_host_facts **out, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, text = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	const struct moo__embedded *script = probe_script();
	struct moo__transport *t = NULL;
	struct timespec t0, t1;
	int status = -1, r;

	if (!script) {
		return moo__fail(err, MOO_EIO, "libmoo was built without its probe script");
	}
	if ((r = moo__transport_local_open(&t, err))) {
		goto done;
	}
	moo_buf_puts(&cmd, "set -- ");
	moo_buf_shquote(&cmd, t->root);
	moo_buf_putc(&cmd, '\n');
	moo_buf_add(&cmd, script->data, script->size);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = t->ops->exec(t, cmd.ptr, &text, &errout, &status, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r) {
		goto done;
	}
	if ((r = moo_host_facts_parse(out, text.ptr ? text.ptr : "", text.len, err))) {
		goto done;
	}
	(*out)->probe_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
done:
	moo__transport_close(t);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&text);
	moo_buf_dispose(&errout);
	return r;
}
