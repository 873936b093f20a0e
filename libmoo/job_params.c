/*
 * job_params: training_params of a job — --set checked against the spec, params.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "dataset.h"
#include "runtime.h"
#include "embedded.h"
#include "ssh.h"
#include "slurm.h"
#include "job.h"

static void kvlist_set(struct kvlist *l, const char *key, const char *value, bool quoted)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (!strcmp(l->v[i].key, key)) {
			free(l->v[i].value);
			l->v[i].value = moo__strdup(value);
			l->v[i].quoted = quoted;
			return;
		}
	}
	MOO_GROW(l->v, l->n);
	l->v[l->n++] = (struct moo_kv){moo__strdup(key), moo__strdup(value), quoted, {0, 0}};
}

void moo__kvlist_dispose(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
}

static bool ident(const char *s, bool upper)
{
	if (!*s || (*s >= '0' && *s <= '9')) {
		return false;
	}
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (upper && *s >= 'A' && *s <= 'Z'))) {
			return false;
		}
	}
	return true;
}

static bool declared(const struct moo_spec *spec, const char *key)
{
	size_t i;

	for (i = 0; i < spec->n_training_params; i++) {
		if (!strcmp(spec->training_params[i].key, key)) {
			return true;
		}
	}
	return false;
}

/*
 * Applies --set overrides to copies of the spec's params and env. A training parameter the
 * spec does not declare is refused (with the nearest name) unless written +training_params.
 */
int moo__apply_sets(const struct moo_spec *spec, const struct moo_run_opts *o,
		    struct kvlist *params, struct kvlist *env, struct moo_error **err)
{
	size_t i;

	for (i = 0; i < spec->n_training_params; i++) {
		kvlist_set(params, spec->training_params[i].key, spec->training_params[i].value,
			   spec->training_params[i].quoted);
	}
	for (i = 0; i < spec->n_env; i++) {
		kvlist_set(env, spec->env[i].key, spec->env[i].value, true);
	}
	for (i = 0; o && i < o->n_set; i++) {
		const char *s = o->set[i] + (o->set[i][0] == '+'), *eq = strchr(s, '=');
		const char *dot = strchr(s, '.');
		bool is_new = s != o->set[i]; /* +training_params.NAME: a parameter of one's own */
		char *key;
		bool is_env;

		if (!eq || !dot || dot > eq) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "cannot understand the override '%s'", s);
			moo__error_hint(e, "write --set training_params.NAME=VALUE or "
					   "--set env.NAME=VALUE");
			return MOO_EARG;
		}
		is_env = (size_t)(dot - s) == 3 && !strncmp(s, "env", 3);
		if (!is_env && ((size_t)(dot - s) != 15 || strncmp(s, "training_params", 15))) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "'%.*s' cannot be overridden with --set", (int)(dot - s),
					   s);
			moo__error_hint(e, "only training_params.NAME and env.NAME can be set");
			return MOO_EARG;
		}
		key = moo__strndup(dot + 1, (size_t)(eq - dot - 1));
		if (!ident(key, is_env) || (is_env && !strncmp(key, "MOO_", 4))) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "bad name '%s' in '%s'",
					   key, s);
			moo__error_hint(e, is_env ? "variable names are letters, digits and '_', "
						    "and MOO_ is reserved"
						  : "parameter names match [a-z][a-z0-9_]*");
			free(key);
			return MOO_EARG;
		}
		if (!is_env && !is_new && !declared(spec, key)) {
			const char **names =
				moo__calloc(spec->n_training_params + 1, sizeof(*names));
			const char *near;
			size_t k;
			struct moo_error *e;

			for (k = 0; k < spec->n_training_params; k++) {
				names[k] = spec->training_params[k].key;
			}
			near = moo__suggest(key, names, spec->n_training_params);
			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "'%s' is not a parameter of '%s'", key,
					   spec->file ? spec->file : "metadata.yaml");
			if (near) {
				moo__error_hint(e,
						"did you mean '%s'? A new one is written "
						"--set +training_params.%s=VALUE",
						near, key);
			} else {
				moo__error_hint(
					e, "a new one is written --set +training_params.%s=VALUE",
					key);
			}
			free(names);
			free(key);
			return MOO_EARG;
		}
		{
			/* "VALUE" (the shell's quotes kept: '"007"') is text, never a number */
			const char *v = eq + 1;
			size_t len = strlen(v);
			bool quoted = !is_env && len >= 2 && v[0] == '"' && v[len - 1] == '"';
			char *text = quoted ? moo__strndup(v + 1, len - 2) : moo__strdup(v);

			kvlist_set(is_env ? env : params, key, text, quoted);
			free(text);
		}
		free(key);
	}
	return 0;
}

/* A JSON number as RFC 8259 writes one (so 007, .5, +1 and 0x1f are not), and finite. */
static bool json_number_text(const char *s)
{
	const char *p = s;

	p += *p == '-';
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		p += strspn(p, "0123456789");
	} else {
		return false;
	}
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");

		if (!n) {
			return false;
		}
		p += 1 + n;
	}
	if (*p == 'e' || *p == 'E') {
		size_t n;

		p += 1 + (p[1] == '+' || p[1] == '-');
		n = strspn(p, "0123456789");
		if (!n) {
			return false;
		}
		p += n;
	}
	return !*p && isfinite(strtod(s, NULL));
}

bool moo_param_typed(const char *text)
{
	return !strcmp(text, "true") || !strcmp(text, "false") || json_number_text(text);
}

/*
 * The parameters as one JSON object, each value with the text it was given: true and false
 * as booleans, a JSON number written as typed (1.10 stays 1.10, 1e3 stays 1e3), anything
 * else and every quoted value as a string (so 007 is the string "007").
 */
char *moo__params_to_json(const struct kvlist *params)
{
	struct moo_buf b = MOO_BUF_INIT;
	size_t i;

	moo_buf_putc(&b, '{');
	for (i = 0; i < params->n; i++) {
		const struct moo_kv *kv = &params->v[i];
		json_t *k = json_string(kv->key), *v = json_string(kv->value);
		char *ks = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
		char *vs = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

		if (ks) {
			moo_buf_printf(&b, "%s%s:", i ? "," : "", ks);
			moo_buf_puts(&b, !kv->quoted && moo_param_typed(kv->value) ? kv->value
					 : vs                                      ? vs
										   : "null");
		}
		free(ks);
		free(vs);
		json_decref(k);
		json_decref(v);
	}
	moo_buf_putc(&b, '}');
	return moo_buf_detach(&b);
}

/* The end of the JSON string token at s ('"'), or NULL. */
static const char *string_end(const char *s)
{
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && !*++s) {
			return NULL;
		}
	}
	return *s ? s + 1 : NULL;
}

void moo_job_params_free(struct moo_kv *kvs, size_t n)
{
	size_t i;

	for (i = 0; kvs && i < n; i++) {
		free(kvs[i].key);
		free(kvs[i].value);
	}
	free(kvs);
}

int moo_job_params(struct moo_kv **out, size_t *n, const struct moo_job *job,
		   struct moo_error **err)
{
	const char *text = job->params_json ? job->params_json : "{}", *p = text;
	json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
	struct kvlist l = {NULL, 0};

	if (!json_is_object(o)) {
		json_decref(o);
		return moo__fail(err, MOO_ESTORE, "job '%s' has corrupt parameters", job->id);
	}
	/* jansson validated it; walk its text for each value's own text. */
	p += strspn(p, " \t\r\n{");
	while (*p == '"') {
		const char *ke = string_end(p), *ve;
		json_t *k = ke ? json_loadb(p, (size_t)(ke - p), JSON_DECODE_ANY, NULL) : NULL;
		json_t *v;
		bool quoted;

		if (!json_is_string(k)) {
			json_decref(k);
			break;
		}
		p = ke + strspn(ke, " \t\r\n:");
		p += strspn(p, " \t\r\n");
		v = json_object_get(o, json_string_value(k));
		quoted = *p == '"';
		if (quoted) {
			ve = string_end(p);
		} else if (*p == '{' || *p == '[') { /* an old record: nested values as JSON */
			ve = NULL;
		} else {
			ve = p + strcspn(p, " \t\r\n,}");
		}
		if (json_is_string(v)) {
			kvlist_set(&l, json_string_value(k), json_string_value(v), true);
		} else if (ve) {
			char *raw = moo__strndup(p, (size_t)(ve - p));

			kvlist_set(&l, json_string_value(k), raw, false);
			free(raw);
		} else {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			kvlist_set(&l, json_string_value(k), s ? s : "null", false);
			free(s);
		}
		json_decref(k);
		if (!ve) {
			break;
		}
		p = ve + strspn(ve, " \t\r\n,");
	}
	json_decref(o);
	*out = l.v;
	*n = l.n;
	return 0;
}
