/*
 * plan: spec + host facts + the user's --runtime/--image → one plan, pinned to a digest,
 * made once before anything is sent (moo_plan_make); what ran (the record moo.lock keeps,
 * drift from a lock); the runtime of one job prepared from its plan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "registry.h"
#include "probe.h"
#include "ssh.h"
#include "runtime.h"

/* ---- the plan: made once, before anything is sent ---------------------------------- */

#define FACTS_MAX_AGE (24 * 3600.0)

/* $MOO_<ENGINE>_OPTS on the host, for a command line of the engine. */
static int engine_prefix(struct moo_buf *cmd, struct moo__transport *t, enum moo__engine engine,
			 struct moo_error **err)
{
	struct moo__runtime tmp;
	size_t i;
	int r;

	memset(&tmp, 0, sizeof(tmp));
	tmp.engine = engine;
	r = moo__engine_opts(&tmp, t, err);
	moo_buf_shquote(cmd, moo__engine_name(engine));
	for (i = 0; i < tmp.n_engine_opts; i++) {
		moo__word(cmd, tmp.engine_opts[i]);
	}
	moo__runtime_dispose(&tmp);
	return r;
}

/* The engine's id of an image on the host ("sha256:…" stripped to its hex); NULL: none. */
static char *image_id(struct moo__transport *t, enum moo__engine engine, const char *image)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	char *id = NULL, *s;
	int status;

	if (engine == MOO__ENGINE_APPTAINER || engine == MOO__ENGINE_HOST ||
	    engine_prefix(&cmd, t, engine, NULL)) {
		goto done;
	}
	moo_buf_puts(&cmd, " image inspect --format '{{.Id}}'");
	moo__word(&cmd, image);
	moo_buf_puts(&cmd, " 2>/dev/null");
	if (t->ops->exec(t, cmd.ptr, &out, NULL, &status, NULL) || status != 0 || !out.len) {
		goto done;
	}
	s = out.ptr + (strncmp(out.ptr, "sha256:", 7) ? 0 : 7);
	s[strcspn(s, "\n")] = '\0';
	if (moo__is_sha256_hex(s)) {
		id = moo__strdup(s);
	}
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return id;
}

/*
 * --image REF, pinned: a digest given stays; else the registry's digest (over the OCI
 * distribution API); else, for an image only the host's engine has (localhost/…, or one
 * no registry serves), its id there, which then names it (image.pull).
 */
static int pin_image(struct moo_plan *p, struct moo__transport *t, const struct moo_images *tbl,
		     enum moo__engine engine, const char *image, bool offline,
		     struct moo_error **err)
{
	const char *at = strstr(image, "@sha256:");
	struct moo__registries regs;
	struct moo_error *rerr = NULL;
	char *id;
	int r;

	if (at) {
		p->image = moo__printf("%.*s", (int)(at - image), image);
		p->pull = moo__strdup(p->image);
		p->digest = moo__strdup(at + 1);
		return 0;
	}
	p->image = moo__strdup(image);
	regs = moo__images_registries(tbl);
	p->pull = moo__registry_pull_ref(&regs, image);
	if (offline) {
		return 0;
	}
	if (strncmp(image, "localhost/", 10)) {
		r = moo__plan_pin(p, tbl, &rerr);
		if (!r) {
			return 0;
		}
	} else {
		r = MOO_ERESOLVE;
	}
	id = image_id(t, engine, image);
	if (id) {
		moo_error_free(rerr);
		free(p->pull);
		p->pull = id;
		return 0;
	}
	if (rerr) {
		moo__error_append(err, rerr);
		return r;
	}
	moo__error_hint(moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				       "image '%s' is on no registry and not on %s", image,
				       t->host),
			"push it to a registry, or load it into the host's engine");
	return MOO_ERESOLVE;
}

static char *utc_now(void)
{
	char buf[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return moo__strdup(buf);
}

int moo__plan_make(struct moo_plan **out, struct moo__transport *t, struct moo_store *st,
		   const struct moo_bundle *b, const struct moo_plan_opts *o,
		   struct moo_error **err)
{
	const struct moo_spec *spec = b->spec;
	struct moo_resolve_opts ro = MOO_RESOLVE_OPTS_INIT;
	struct moo_host_facts *facts = NULL;
	struct moo_images *tbl = NULL;
	struct moo_plan *p = NULL;
	struct moo_buf fj = MOO_BUF_INIT;
	enum moo__engine engine = MOO__ENGINE_HOST;
	const char *image = o ? o->image : NULL;
	struct moo__needs need;
	int r;

	if (o && o->runtime) {
		int e = moo__engine_parse(o->runtime);

		if (e < 0) {
			moo__error_hint(moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
						       "unknown runtime '%s'", o->runtime),
					"choose docker, podman, apptainer or host");
			return MOO_ERESOLVE;
		}
		engine = (enum moo__engine)e;
	}
	if (image && (!*image || *image == '-' || moo__has_ctl(image))) {
		return moo__fail(err, MOO_EARG, "'%s' is not an image reference", image);
	}
	if (image && o->runtime && engine == MOO__ENGINE_HOST) {
		moo__error_hint(moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					       "the host runtime runs no image ('%s')", image),
				"leave out --image, or choose a container runtime");
		return MOO_EARG;
	}
	if ((r = moo__host_facts(&facts, t, st, err))) {
		goto done;
	}
	if (!(o && o->runtime) && (r = moo__runtime_choose(&engine, facts, image, err))) {
		goto done;
	}
	/* the image table only where an image is resolved or pinned (~8 ms to parse) */
	if ((engine != MOO__ENGINE_HOST || (o && o->resolve_image)) &&
	    (r = moo_images_load(&tbl, o ? o->config_path : NULL, err))) {
		goto done;
	}
	ro.facts = facts;
	ro.accelerator = o ? o->accelerator : -1;
	if (engine != MOO__ENGINE_HOST && image) {
		p = moo__calloc(1, sizeof(*p));
		p->framework = moo__strdup(spec->framework.name);
		p->framework_version =
			spec->framework.version ? moo__strdup(spec->framework.version) : NULL;
		p->python = spec->framework.runtime.version
				    ? moo__strdup(spec->framework.runtime.version)
				    : NULL;
		p->accelerator = ro.accelerator >= 0 ? (enum moo_accel)ro.accelerator
						     : spec->resources.accelerator;
		p->count = p->accelerator == MOO_ACCEL_CPU
				   ? 0
				   : (spec->resources.count ? spec->resources.count : 1);
		p->platform = facts->arch && moo_platform_for_arch(facts->arch)
				      ? moo__strdup(moo_platform_for_arch(facts->arch))
				      : NULL;
		p->source = moo__strdup("--image");
		for (size_t i = 0; i < spec->framework.runtime.n_requirement; i++) {
			MOO_GROW(p->requirements, p->n_requirements);
			p->requirements[p->n_requirements++] =
				moo__strdup(spec->framework.runtime.requirement[i]);
		}
		memset(&need, 0, sizeof(need));
		need.image = image;
		need.accel = p->accelerator;
		need.count = p->count;
		need.engine = engine;
		if (!(o && o->no_preflight) && (r = moo__runtime_preflight(&need, facts, err))) {
			goto done;
		}
		if ((r = pin_image(p, t, tbl, engine, image, o->offline, err))) {
			goto done;
		}
	} else if (engine != MOO__ENGINE_HOST || (o && o->resolve_image)) {
		if ((r = moo_resolve(&p, tbl, spec, &ro, err))) {
			goto done;
		}
		memset(&need, 0, sizeof(need));
		need.image = p->image;
		need.cuda = p->cuda;
		need.min_driver = p->min_driver;
		need.archs = (const char *const *)p->archs;
		need.n_archs = p->n_archs;
		need.accel = p->accelerator;
		need.count = p->count;
		need.engine = engine;
		if (engine != MOO__ENGINE_HOST && !(o && o->no_preflight) &&
		    (r = moo__runtime_preflight(&need, facts, err))) {
			goto done;
		}
		if (!(o && o->offline) && (r = moo__plan_pin(p, tbl, err))) {
			goto done;
		}
	} else {
		/* The host runtime resolves no image: what ran is recorded at the start. */
		p = moo__calloc(1, sizeof(*p));
		p->framework = moo__strdup(spec->framework.name);
		p->framework_version =
			spec->framework.version ? moo__strdup(spec->framework.version) : NULL;
		p->accelerator = ro.accelerator >= 0 ? (enum moo_accel)ro.accelerator
						     : spec->resources.accelerator;
		p->count = p->accelerator == MOO_ACCEL_CPU
				   ? 0
				   : (spec->resources.count ? spec->resources.count : 1);
		for (size_t i = 0; i < spec->framework.runtime.n_requirement; i++) {
			MOO_GROW(p->requirements, p->n_requirements);
			p->requirements[p->n_requirements++] =
				moo__strdup(spec->framework.runtime.requirement[i]);
		}
		memset(&need, 0, sizeof(need));
		need.accel = p->accelerator;
		need.count = p->count;
		need.engine = engine;
		if (!(o && o->no_preflight) && (r = moo__runtime_preflight(&need, facts, err))) {
			goto done;
		}
	}
	p->runtime = moo__strdup(moo__engine_name(engine));
	moo_host_facts_to_json(&fj, facts);
	p->host_facts = moo_buf_detach(&fj);
	p->host = moo__strdup(t->host);
	p->bundle_sha256 = b->sha256 ? moo__strdup(b->sha256) : NULL;
	p->bundle_source = b->source ? moo__strdup(b->source) : NULL;
	p->created = utc_now();
	*out = p;
	p = NULL;
done:
	moo_plan_free(p);
	moo_images_free(tbl);
	moo_host_facts_free(facts);
	moo_buf_dispose(&fj);
	return r;
}

int moo_plan_make(struct moo_plan **out, const struct moo_bundle *b, const struct moo_plan_opts *o,
		  struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_store *st = NULL;
	int r;

	if ((r = MOO__OPTS_VERSION(o, MOO_PLAN_OPTS_VERSION, "moo_plan_opts", err))) {
		return r;
	}
	r = moo__transport_open_flags(
		&t, o && o->host ? o->host : "local",
		o && o->accept_new_host_key ? MOO__SSH_ACCEPT_NEW | MOO__SSH_EAGER : MOO__SSH_EAGER,
		err);
	if (r) {
		return r;
	}
	/* the facts' cache; a store that cannot be opened only costs a probe */
	if (!(o && o->store)) {
		moo_store_open(&st, NULL, NULL);
	}
	r = moo__plan_make(out, t, o && o->store ? o->store : st, b, o, err);
	moo_store_close(st);
	moo__transport_close(t);
	return r;
}

/* ---- what ran ----------------------------------------------------------------------- */

/*
 * Asked of the host runtime's interpreter when a job starts (from /, so the current folder
 * adds nothing): its version, sys.executable, then every distribution it can import, the
 * first of a name on sys.path winning as for import (importlib.metadata; pkg_resources on
 * Pythons before 3.8).
 */
static const char packages_py[] =
	"import sys\n"
	"w = sys.stdout.write\n"
	"w('python %d.%d.%d\\n' % tuple(sys.version_info[:3]))\n"
	"w('exe %s\\n' % (sys.executable or ''))\n"
	"try:\n"
	"    from importlib.metadata import distributions\n"
	"    ds = [(d.metadata['Name'], d.version) for d in distributions()]\n"
	"except ImportError:\n"
	"    import pkg_resources\n"
	"    ds = [(d.project_name, d.version) for d in pkg_resources.working_set]\n"
	"seen = {}\n"
	"for n, v in ds:\n"
	"    if n and n.lower().replace('_', '-') not in seen:\n"
	"        seen[n.lower().replace('_', '-')] = '%s==%s' % (n, v)\n"
	"for k in sorted(seen):\n"
	"    w('pkg %s\\n' % seen[k])\n"
	"import os, site\n"
	"ps = list(sys.path)\n"
	"try:\n"
	"    if site.ENABLE_USER_SITE is not False:\n"
	"        ps.append(site.getusersitepackages())\n"
	"except Exception:\n"
	"    pass\n"
	"ps += os.environ.get('PYTHONPATH', '').split(os.pathsep)\n"
	"for d in dict.fromkeys(ps):\n"
	"    if d and os.path.isabs(d) and '\\n' not in d:\n"
	"        w('path %s\\n' % d)\n";

/*
 * The state of what the interpreter imports from: each sys.path folder's modification
 * and change times and inode (installing, removing or upgrading a distribution adds or
 * removes entries in its folder), as one sha256. The folders include those that do not
 * exist yet but would be imported from once made (the user's site-packages, which a first
 * 'pip install --user' makes; PYTHONPATH's): their coming changes the state too. 0, or -1
 * when the host cannot be asked.
 */
static int site_state(struct moo__transport *t, const char *listing, char hex[MOO__SHA256_HEX])
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	const char *l;
	int r, status;

	bool here = !moo__transport_is_remote(t);

	/* this machine: stat(2) here, without starting sh and stat(1) (~2 ms a run) */
	moo_buf_puts(&cmd, "stat -c '%n %.9Y %.9Z %i' --");
	for (l = listing; l && *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n')) {
		if (!strncmp(l, "path /", 6)) {
			char *d = moo__printf("%.*s", (int)strcspn(l + 5, "\n"), l + 5);
			struct stat sb;

			if (!here) {
				moo__word(&cmd, d);
			} else if (stat(d, &sb) == 0) {
				moo_buf_printf(
					&out, "%s %lld.%09ld %lld.%09ld %llu\n", d,
					(long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec,
					(long long)sb.st_ctim.tv_sec, (long)sb.st_ctim.tv_nsec,
					(unsigned long long)sb.st_ino);
			} else {
				moo_buf_printf(&out, "%s -\n", d);
			}
			free(d);
		}
	}
	if (here) {
		moo__sha256_buf(out.ptr ? out.ptr : "", out.len, hex);
		moo_buf_dispose(&cmd);
		moo_buf_dispose(&out);
		return 0;
	}
	moo_buf_puts(&cmd, " 2>&1; exit 0");
	r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, NULL);
	if (!r) {
		moo__sha256_buf(out.ptr ? out.ptr : "", out.len, hex);
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r ? -1 : 0;
}

int moo__runtime_record(struct moo_plan *p, const struct moo__runtime *rt, struct moo__transport *t,
			struct moo_store *st, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	struct moo_buf key = MOO_BUF_INIT, cached = MOO_BUF_INIT;
	char *line, *save = NULL, state[MOO__SHA256_HEX];
	int r = 0, status;
	size_t i;

	free(p->env_key);
	p->env_key = rt->env_key ? moo__strdup(rt->env_key) : NULL;
	if (rt->engine != MOO__ENGINE_HOST) {
		free(p->image_id);
		p->image_id = image_id(t, rt->engine, rt->image);
		goto done;
	}
	/*
	 * The listing is cached per host and interpreter, and used again while the folders
	 * it imports from are as they were (site_state): a stat instead of a Python start.
	 */
	moo_buf_printf(&key, "packages\t%s\t%s\t%s", t->host, t->root, rt->interp.path);
	if (!moo__transport_is_remote(t)) {
		/* here the job has moo's environment: what moves its imports is in the key */
		static const char *const vars[] = {"PYTHONPATH", "HOME", "PYTHONUSERBASE",
						   "PYTHONNOUSERSITE"};
		size_t v;

		for (v = 0; v < sizeof(vars) / sizeof(vars[0]); v++) {
			const char *e = getenv(vars[v]);

			moo_buf_printf(&key, "\t%s=%s", vars[v], e ? e : "");
		}
	}
	if (st && moo__store_cache_get(st, key.ptr, FACTS_MAX_AGE, &cached, NULL) == 0 &&
	    cached.len > MOO__SHA256_HEX && cached.ptr[MOO__SHA256_HEX - 1] == '\n' &&
	    site_state(t, cached.ptr + MOO__SHA256_HEX, state) == 0 &&
	    !strncmp(state, cached.ptr, MOO__SHA256_HEX - 1)) {
		moo_buf_puts(&out, cached.ptr + MOO__SHA256_HEX);
		status = 0;
		goto parse;
	}
	moo_buf_puts(&cmd, "cd / && ");
	moo_buf_shquote(&cmd, rt->interp.path);
	moo_buf_puts(&cmd, " -c ");
	moo_buf_shquote(&cmd, packages_py);
	r = t->ops->exec(t, cmd.ptr, &out, &errout, &status, err);
	if (r) {
		goto done;
	}
	if (status == 0 && st && site_state(t, out.ptr, state) == 0) {
		struct moo_buf v = MOO_BUF_INIT;

		moo_buf_printf(&v, "%.*s\n%s", MOO__SHA256_HEX - 1, state, out.ptr ? out.ptr : "");
		moo__store_cache_put(st, key.ptr, v.ptr, NULL); /* a cache that fails is no loss */
		moo_buf_dispose(&v);
	}
parse:
	if (status != 0) {
		struct moo_error *e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
						     "cannot list the packages of '%s' on %s",
						     rt->interp.path, t->host);

		moo__error_cause(e, moo__last_line(&errout));
		r = MOO_ERESOLVE;
		goto done;
	}
	for (i = 0; i < p->n_packages; i++) {
		free(p->packages[i]);
	}
	p->n_packages = 0;
	free(p->interpreter);
	free(p->interpreter_version);
	p->interpreter = moo__strdup(rt->interp.path);
	p->interpreter_version = NULL;
	for (line = strtok_r(out.ptr ? out.ptr : "", "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "python ", 7) && !p->interpreter_version) {
			p->interpreter_version = moo__strdup(line + 7);
		} else if (!strncmp(line, "pkg ", 4)) {
			MOO_GROW(p->packages, p->n_packages);
			p->packages[p->n_packages++] = moo__strdup(line + 4);
		}
	}
	free(p->python);
	p->python = NULL;
	if (p->interpreter_version) {
		/* "3.11.2" -> "3.11", as the framework's Python is written */
		const char *v = p->interpreter_version, *dot = strchr(v, '.');
		size_t n = dot ? (size_t)(dot - v) + 1 + strcspn(dot + 1, ".") : strlen(v);

		p->python = moo__printf("%.*s", (int)n, v);
	}
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&errout);
	moo_buf_dispose(&key);
	moo_buf_dispose(&cached);
	return r;
}

/* The name of "name==version", lowercased with '_' as '-', in buf. */
static const char *pkg_name(const char *s, char *buf, size_t size)
{
	size_t i, n = strcspn(s, "=");

	for (i = 0; i < n && i + 1 < size; i++) {
		buf[i] = s[i] == '_' ? '-' : (s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
	}
	buf[i] = '\0';
	return buf;
}

static const char *pkg_version(const char *s)
{
	const char *eq = strstr(s, "==");

	return eq ? eq + 2 : "";
}

void moo_packages_diff(char *const *a, size_t na, char *const *b, size_t nb,
		       void (*cb)(const char *name, const char *was, const char *now, void *data),
		       void *data)
{
	size_t i = 0, j = 0;
	char x[256], y[256];

	/* both lists are sorted by normalized name (packages_py) */
	while (i < na || j < nb) {
		int c = i >= na   ? 1
			: j >= nb ? -1
				  : strcmp(pkg_name(a[i], x, sizeof(x)),
					   pkg_name(b[j], y, sizeof(y)));

		if (c < 0) {
			cb(pkg_name(a[i], x, sizeof(x)), pkg_version(a[i]), NULL, data);
			i++;
		} else if (c > 0) {
			cb(pkg_name(b[j], y, sizeof(y)), NULL, pkg_version(b[j]), data);
			j++;
		} else {
			if (strcmp(pkg_version(a[i]), pkg_version(b[j]))) {
				cb(x, pkg_version(a[i]), pkg_version(b[j]), data);
			}
			i++;
			j++;
		}
	}
}

struct drift {
	struct moo_error **err;
	size_t n;
};

static void drift_pkg(const char *name, const char *was, const char *now, void *data)
{
	struct drift *d = data;

	d->n++;
	if (!now) {
		moo__error_add(d->err, MOO_ERESOLVE, MOO_SEV_ERROR,
			       "package '%s' %s is in the lock but not installed", name, was);
	} else if (!was) {
		moo__error_add(d->err, MOO_ERESOLVE, MOO_SEV_ERROR,
			       "package '%s' %s is installed but not in the lock", name, now);
	} else {
		moo__error_add(d->err, MOO_ERESOLVE, MOO_SEV_ERROR,
			       "package '%s' is %s, the lock has %s", name, now, was);
	}
}

int moo__plan_drift(const struct moo_plan *locked, const struct moo_plan *now, const char *host,
		    struct moo_error **err)
{
	struct moo_error *list = NULL, *head;
	struct drift d = {&list, 0};

	if (locked->interpreter && now->interpreter &&
	    strcmp(locked->interpreter, now->interpreter)) {
		d.n++;
		moo__error_add(&list, MOO_ERESOLVE, MOO_SEV_ERROR,
			       "interpreter is '%s', the lock has '%s'", now->interpreter,
			       locked->interpreter);
	}
	if (locked->interpreter_version && now->interpreter_version &&
	    strcmp(locked->interpreter_version, now->interpreter_version)) {
		d.n++;
		moo__error_add(&list, MOO_ERESOLVE, MOO_SEV_ERROR, "Python is %s, the lock has %s",
			       now->interpreter_version, locked->interpreter_version);
	}
	moo_packages_diff(locked->packages, locked->n_packages, now->packages, now->n_packages,
			  drift_pkg, &d);
	if (!d.n) {
		return 0;
	}
	head = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
			      "the environment on %s differs from the lock in %zu way%s", host, d.n,
			      d.n == 1 ? "" : "s");
	moo__error_hint(head, "restore what the lock lists, or pass --allow-drift to run anyway");
	moo__error_append(err, list);
	return MOO_ERESOLVE;
}

/* ---- preparing the runtime of one job ------------------------------------------------ */

int moo__runtime_prepare(struct moo__runtime *out, struct moo__transport *t, struct moo_store *st,
			 const struct moo_spec *spec, const struct moo_plan *plan,
			 struct moo_error **err)
{
	struct moo__runtime rt;
	int r, e = moo__engine_parse(plan->runtime ? plan->runtime : "host");

	memset(&rt, 0, sizeof(rt));
	if (e < 0) {
		return moo__fail(err, MOO_EARG, "unknown runtime '%s'", plan->runtime);
	}
	rt.engine = (enum moo__engine)e;
	if (rt.engine == MOO__ENGINE_HOST) {
		if (plan->interpreter && t->ops->exists(t, plan->interpreter)) {
			/* a lock replayed: its interpreter, when the host still has it (what it
			 * has installed is compared with the lock by the caller) */
			rt.interp.path = moo__strdup(plan->interpreter);
			rt.interp.version = plan->interpreter_version
						    ? moo__strdup(plan->interpreter_version)
						    : NULL;
		} else if ((r = moo__host_interp(&rt, t, st, spec, err))) {
			goto done;
		}
	} else {
		rt.base = moo_plan_ref(plan);
		rt.interp.path = spec->framework.runtime.version
					 ? moo__printf("%s%s", spec->framework.runtime.name,
						       spec->framework.runtime.version)
				 : !strcmp(spec->framework.runtime.name, "python")
					 ? moo__strdup("python3")
					 : moo__strdup(spec->framework.runtime.name);
		r = moo__engine_opts(&rt, t, err);
		if (r) {
			goto done;
		}
		/* The plan's requirements layer: the image's missing framework package too. */
		if (plan->n_requirements || plan->setup) {
			r = moo__derive(&rt, t, plan, (const char *const *)plan->requirements,
					plan->n_requirements, err);
			if (r) {
				goto done;
			}
		} else {
			rt.image = moo__strdup(rt.base);
		}
	}
	*out = rt;
	memset(&rt, 0, sizeof(rt));
	r = 0;
done:
	moo__runtime_dispose(&rt);
	return r;
}

void moo__runtime_dispose(struct moo__runtime *rt)
{
	size_t i;

	if (!rt) {
		return;
	}
	free(rt->base);
	free(rt->image);
	free(rt->env_key);
	moo_buf_dispose(&rt->log);
	for (i = 0; i < rt->n_engine_opts; i++) {
		free(rt->engine_opts[i]);
	}
	free(rt->engine_opts);
	moo__interp_dispose(&rt->interp);
	memset(rt, 0, sizeof(*rt));
}
