/*
 * hostfacts: a host's facts as data — struct moo_host_facts (moo/host.h) to and from JSON,
 * as the store, moo.lock and the plan keep them, and freed. No I/O: probe.c gets the facts
 * from a host, store.c, resolve and runtime read them.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "internal.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void moo_host_facts_to_json(struct moo_buf *out, const struct moo_host_facts *f)
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
