/*
 * lock: moo.lock written from a plan and the facts of what ran, and parsed back into a
 * plan (moo reproduce); the lock of this machine.
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

void moo_lock_write(struct moo_buf *out, const struct moo_plan *p)
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

/* A runtime a lock may name (runtime.c runs them; lock.c stays below it). */
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

struct moo_plan *moo__plan_dup(const struct moo_plan *plan)
{
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_plan *p = NULL;

	moo_lock_write(&b, plan);
	if (moo_lock_parse(&p, b.ptr, b.len, "plan", NULL)) {
		p = NULL;
	}
	moo_buf_dispose(&b);
	return p;
}

int moo_lock_save(const struct moo_plan *plan, const char *path, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	int r;

	moo_lock_write(&b, plan);
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
