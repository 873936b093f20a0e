/*
 * resolve: spec + host facts → a plan (one image, its requirements layer); moo.lock is lock.c.
 *
 * The table is images.c (spec/images.yaml and config.yaml's entries). Resolution walks the entries
 * in order: config.yaml's first (the first that fits wins), then the built-in ones (the newest
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
#include "resolve.h"

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

/* The entry's Python that fits w->python, the newest of them; NULL when none. Caller frees. */
static char *pick_python(const struct entry *e, const char *version, const char *asked)
{
	char *best = NULL;
	size_t i;

	for (i = 0; i < e->n_python; i++) {
		char *p = moo__expand(e->python[i], version, NULL);

		if ((!asked || moo__verfits(asked, p)) && (!best || moo__vercmp(p, best) > 0)) {
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
	if (!(v = moo__served(v, w->version)) || (w->version && !moo__verfits(w->version, v))) {
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
		md = moo__min_driver(t, e);
		if (w->driver && md && moo__vercmp(w->driver, md) < 0) {
			return ST_DRIVER;
		}
		if (w->cuda && e->cuda && moo__vercmp(w->cuda, e->cuda) < 0) {
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
				const char *v = moo__served(e->versions[j], w->version);
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
				c = moo__vercmp(v, p.version);
				if (c > 0 || (c == 0 && e->cuda && p.e->cuda &&
					      moo__vercmp(e->cuda, p.e->cuda) > 0)) {
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
	return moo__vercmp(*(char *const *)a, *(char *const *)b);
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
	for (hi = 0; w->version && hi < n && moo__vercmp(ok[hi], w->version) <= 0; hi++) {
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
				char *p = moo__expand(t->e[i].python[m], t->e[i].versions[j], NULL);
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
	moo__strv_free(seen, n);
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
		const char *names[MOO_ARRAY_SIZE(moo__frameworks)];
		const char *sug;
		size_t i;

		for (i = 0; i < MOO_ARRAY_SIZE(moo__frameworks); i++) {
			names[i] = moo__frameworks[i];
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
	w.framework = moo__canonical(spec->framework.name);
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
	p->cuda = moo__dup0(pk.e->cuda);
	p->cann = moo__dup0(pk.e->cann);
	p->min_driver = w.accel == MOO_ACCEL_GPU ? moo__dup0(moo__min_driver(t, pk.e)) : NULL;
	p->image = moo__expand(pk.e->image, pk.version, p->python);
	p->pull = moo__registry_pull_ref(&(struct moo__registries){t->reg, t->n_reg}, p->image);
	p->platform = moo__dup0(platform);
	p->archs = moo__calloc(pk.e->n_archs + 1, sizeof(*p->archs));
	for (i = 0; i < pk.e->n_archs; i++) {
		p->archs[i] = moo__printf("linux/%s", pk.e->archs[i]);
	}
	p->n_archs = pk.e->n_archs;
	for (i = 0; i < pk.e->n_install; i++) {
		MOO_GROW(p->requirements, p->n_requirements);
		p->requirements[p->n_requirements++] =
			moo__expand(pk.e->install[i], pk.version, p->python);
	}
	for (i = 0; i < spec->framework.runtime.n_requirement; i++) {
		MOO_GROW(p->requirements, p->n_requirements);
		p->requirements[p->n_requirements++] =
			moo__strdup(spec->framework.runtime.requirement[i]);
	}
	p->source = moo__printf("%s:%d", pk.e->file, pk.e->line);
	p->setup = pk.e->setup ? moo__expand(pk.e->setup, pk.version, p->python) : NULL;
	p->index = pk.e->index ? moo__expand(pk.e->index, pk.version, p->python) : NULL;
	*out = p;
	return 0;
}

int moo__plan_pin(struct moo_plan *plan, const struct moo_images *t, struct moo_error **err)
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
		moo__strv_free(plan->archs, plan->n_archs);
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
	moo__strv_free(p->archs, p->n_archs);
	moo__strv_free(p->requirements, p->n_requirements);
	free(p->source);
	free(p->setup);
	free(p->index);
	free(p->runtime);
	free(p->image_id);
	free(p->env_key);
	free(p->interpreter);
	free(p->interpreter_version);
	moo__strv_free(p->packages, p->n_packages);
	free(p->bundle_sha256);
	free(p->bundle_source);
	free(p->host);
	free(p->host_facts);
	free(p->command);
	free(p->created);
	free(p);
}
