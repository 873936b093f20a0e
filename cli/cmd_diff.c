/*
 * moo diff: what differs between two runs, from their locks and records — the bundle, the
 * parameters, the runtime and image digest, the packages added, removed or changed, the
 * host, its NVIDIA driver and CUDA. The first question when two runs' metrics differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool json;
static const char *on;

static const struct opt opts[] = {
	OPT_ON(&on),
	{0, "json", NULL, "print the differences as one JSON object", OPT_FLAG, &json},
	OPT_END,
};

struct side {
	struct moo_job *job;
	struct moo_plan *lock; /* NULL when the job has none */
	struct moo_host_facts *facts;
	struct moo_kv *params; /* each with the text it was given */
	size_t n_params;
};

/* The differences as {what: {"a": …, "b": …}}, packages as {added, removed, changed}. */
static void differ(json_t *d, const char *what, const char *a, const char *b)
{
	json_t *o;

	if ((!a && !b) || (a && b && !strcmp(a, b))) {
		return;
	}
	o = json_object();
	json_object_set_new(o, "a", a ? json_string(a) : json_null());
	json_object_set_new(o, "b", b ? json_string(b) : json_null());
	json_object_set_new(d, what, o);
}

static void pkg_cb(const char *name, const char *was, const char *now, void *data)
{
	json_t *p = data, *x = json_object();

	json_object_set_new(x, "name", json_string(name));
	if (!now) {
		json_object_set_new(x, "version", json_string(was));
		json_array_append_new(json_object_get(p, "removed"), x);
	} else if (!was) {
		json_object_set_new(x, "version", json_string(now));
		json_array_append_new(json_object_get(p, "added"), x);
	} else {
		json_object_set_new(x, "a", json_string(was));
		json_object_set_new(x, "b", json_string(now));
		json_array_append_new(json_object_get(p, "changed"), x);
	}
}

static char *image_of(const struct moo_plan *p)
{
	if (!p || (!p->image && !p->image_id)) {
		return NULL;
	}
	return p->image ? moo_plan_ref(p) : strdup(p->image_id);
}

static void load(struct side *s)
{
	struct moo_error *err = NULL;

	if (s->job->lock &&
	    moo_lock_parse(&s->lock, s->job->lock, strlen(s->job->lock), "moo.lock", &err)) {
		s->lock = NULL;
	}
	moo_error_free(err);
	err = NULL;
	if (s->lock && s->lock->host_facts &&
	    moo_host_facts_from_json(&s->facts, s->lock->host_facts, &err)) {
		s->facts = NULL;
	}
	moo_error_free(err);
	if (moo_job_params(&s->params, &s->n_params, s->job, NULL)) {
		s->params = NULL;
		s->n_params = 0;
	}
}

static const struct moo_kv *param_of(const struct side *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_params; i++) {
		if (!strcmp(s->params[i].key, key)) {
			return &s->params[i];
		}
	}
	return NULL;
}

/* The same value only when the same text, and text both or neither: 1 is not 1.0. */
static bool same_param(const struct moo_kv *x, const struct moo_kv *y)
{
	return x && y && x->quoted == y->quoted && !strcmp(x->value, y->value);
}

static void param_differs(json_t *params, const char *key, const struct moo_kv *x,
			  const struct moo_kv *y)
{
	json_t *o = json_object();

	json_object_set_new(o, "a", x ? param_to_json(x) : json_null());
	json_object_set_new(o, "b", y ? param_to_json(y) : json_null());
	json_object_set_new(params, key, o);
}

static json_t *diff(struct side *a, struct side *b)
{
	json_t *d = json_object(), *params = json_object(), *pk;
	const struct moo_plan *la = a->lock, *lb = b->lock;
	char *ia = image_of(la), *ib = image_of(lb);
	size_t i;

	differ(d, "bundle", a->job->source_sha256, b->job->source_sha256);
	for (i = 0; i < a->n_params; i++) {
		const struct moo_kv *x = &a->params[i], *y = param_of(b, x->key);

		if (!same_param(x, y)) {
			param_differs(params, x->key, x, y);
		}
	}
	for (i = 0; i < b->n_params; i++) {
		if (!param_of(a, b->params[i].key)) {
			param_differs(params, b->params[i].key, NULL, &b->params[i]);
		}
	}
	if (json_object_size(params)) {
		json_object_set(d, "parameters", params);
	}
	json_decref(params);
	differ(d, "runtime", la ? la->runtime : NULL, lb ? lb->runtime : NULL);
	differ(d, "image", ia, ib);
	differ(d, "image_id", la ? la->image_id : NULL, lb ? lb->image_id : NULL);
	differ(d, "interpreter", la ? la->interpreter : NULL, lb ? lb->interpreter : NULL);
	differ(d, "python", la ? la->interpreter_version : NULL,
	       lb ? lb->interpreter_version : NULL);
	pk = json_object();
	json_object_set_new(pk, "added", json_array());
	json_object_set_new(pk, "removed", json_array());
	json_object_set_new(pk, "changed", json_array());
	if (la && lb) {
		moo_packages_diff(la->packages, la->n_packages, lb->packages, lb->n_packages,
				  pkg_cb, pk);
	}
	if (json_array_size(json_object_get(pk, "added")) ||
	    json_array_size(json_object_get(pk, "removed")) ||
	    json_array_size(json_object_get(pk, "changed"))) {
		json_object_set(d, "packages", pk);
	}
	json_decref(pk);
	differ(d, "host", a->job->host, b->job->host);
	differ(d, "driver", a->facts ? a->facts->driver_version : NULL,
	       b->facts ? b->facts->driver_version : NULL);
	differ(d, "cuda", a->facts ? a->facts->cuda_version : NULL,
	       b->facts ? b->facts->cuda_version : NULL);
	free(ia);
	free(ib);
	return d;
}

/* A difference's side: its text, or (none). */
static void print_value(json_t *v)
{
	fputs(json_is_string(v) ? json_string_value(v) : "(none)", stdout);
}

/* As moo show and --set write it: "12" in quotes is text, (none) when the job has none. */
static void print_param(const struct side *s, const char *key)
{
	const struct moo_kv *kv = param_of(s, key);
	bool q = kv && kv->quoted && moo_param_typed(kv->value);

	if (!kv) {
		fputs("(none)", stdout);
		return;
	}
	printf("%s%s%s", q ? "\"" : "", esc(kv->value), q ? "\"" : "");
}

static void print_human(json_t *d, const struct side *a, const struct side *b)
{
	const char *k;
	json_t *v;

	printf("a: %s\nb: %s\n", a->job->id, b->job->id);
	if (!a->lock || !b->lock) {
		printf("(%s has no moo.lock: only its record is compared)\n",
		       !a->lock ? a->job->id : b->job->id);
	}
	if (!json_object_size(d)) {
		printf("no differences\n");
		return;
	}
	json_object_foreach(d, k, v)
	{
		if (!strcmp(k, "parameters")) {
			const char *p;
			json_t *x;

			json_object_foreach(v, p, x)
			{
				printf("%-12s %s: ", "parameter", esc(p));
				print_param(a, p);
				fputs(" -> ", stdout);
				print_param(b, p);
				putchar('\n');
			}
		} else if (!strcmp(k, "packages")) {
			size_t i;
			json_t *x;

			json_array_foreach(json_object_get(v, "added"), i, x)
			{
				printf("%-12s + %s %s\n", "package",
				       json_string_value(json_object_get(x, "name")),
				       json_string_value(json_object_get(x, "version")));
			}
			json_array_foreach(json_object_get(v, "removed"), i, x)
			{
				printf("%-12s - %s %s\n", "package",
				       json_string_value(json_object_get(x, "name")),
				       json_string_value(json_object_get(x, "version")));
			}
			json_array_foreach(json_object_get(v, "changed"), i, x)
			{
				printf("%-12s ~ %s %s -> %s\n", "package",
				       json_string_value(json_object_get(x, "name")),
				       json_string_value(json_object_get(x, "a")),
				       json_string_value(json_object_get(x, "b")));
			}
		} else {
			printf("%-12s ", k);
			print_value(json_object_get(v, "a"));
			fputs(" -> ", stdout);
			print_value(json_object_get(v, "b"));
			putchar('\n');
		}
	}
}

static int exec(const struct cmd *self, struct cmd_ctx *ctx)
{
	struct side s[2];
	json_t *d;
	int r, i;

	(void)self;
	memset(s, 0, sizeof(s));
	for (i = 0; i < 2; i++) {
		if ((r = find_job(ctx->st, ctx->argv[i], on, false, &s[i].job)) >= 0) {
			goto fail;
		}
		load(&s[i]);
	}
	d = diff(&s[0], &s[1]);
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "a", json_string(s[0].job->id));
		json_object_set_new(o, "b", json_string(s[1].job->id));
		json_object_set_new(o, "same", json_boolean(!json_object_size(d)));
		json_object_set_new(o, "differences", d);
		print_json(o);
	} else {
		print_human(d, &s[0], &s[1]);
		json_decref(d);
	}
	r = EXIT_OK;
fail: /* under --json, main's json_finish prints {"error": …} with the first error */
	for (i = 0; i < 2; i++) {
		moo_plan_free(s[i].lock);
		moo_host_facts_free(s[i].facts);
		moo_job_params_free(s[i].params, s[i].n_params);
		moo_job_free(s[i].job);
	}
	return r;
}

const struct cmd cmd_diff = {
	.name = "diff",
	.summary = "what differs between two runs: bundle, parameters, image, packages, host",
	.args = "JOB1 JOB2",
	.exec = exec,
	.opts = opts,
	.min_pos = 2,
	.max_pos = 2,
	.flags = CMD_STORE,
};
