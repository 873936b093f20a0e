/*
 * runtime_env: derived environments — the image with the requirements layer (a
 * Containerfile or an apptainer definition, built on the host), venvs, and the
 * interpreter of the host runtime for one job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "registry.h"
#include "ssh.h"
#include "runtime.h"

/* ---- derived environments ------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **sorted(const char *const *reqs, size_t n)
{
	const char **v = moo__calloc(n + 1, sizeof(*v));

	if (n) {
		memcpy(v, reqs, n * sizeof(*v));
		qsort(v, n, sizeof(*v), cmp_str);
	}
	return v;
}

/*
 * The requirements layer of both definitions: one pip install line after prefix. Debian's
 * pythons refuse pip outside a venv without PIP_BREAK_SYSTEM_PACKAGES (PEP 668).
 */
static void pip_install(struct moo_buf *out, const char *prefix, const char *index,
			const char *const *v, size_t n)
{
	size_t i;

	moo_buf_printf(out, "%sPIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir",
		       prefix);
	if (index) {
		moo_buf_puts(out, " --extra-index-url");
		moo__word(out, index);
	}
	for (i = 0; i < n; i++) {
		moo__word(out, v[i]);
	}
	moo_buf_putc(out, '\n');
}

int moo__env_key(char hex[MOO__SHA256_HEX], const char *base, const char *const *reqs, size_t n,
		 struct moo_error **err)
{
	struct moo_buf text = MOO_BUF_INIT;
	const char **v;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!*reqs[i] || *reqs[i] == '-' || moo__has_ctl(reqs[i])) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "requirement '%s' is not a pip requirement", reqs[i]);
			moo__error_hint(e, "write a name with an optional version, like "
					   "'numpy>=1.24'");
			return MOO_EARG;
		}
	}
	v = sorted(reqs, n);
	moo_buf_printf(&text, "moo-env 1\n%s\n", base);
	for (i = 0; i < n; i++) {
		moo_buf_printf(&text, "%s\n", v[i]);
	}
	moo__sha256_buf(text.ptr, text.len, hex);
	moo_buf_dispose(&text);
	free(v);
	return 0;
}

void moo__env_containerfile(struct moo_buf *out, const char *base, const char *const *reqs,
			    size_t n)
{
	moo__env_containerfile_with(out, base, NULL, NULL, reqs, n);
}

void moo__env_containerfile_with(struct moo_buf *out, const char *base, const char *setup,
				 const char *index, const char *const *reqs, size_t n)
{
	const char **v = sorted(reqs, n);

	moo_buf_printf(out, "# moo: the job's environment, named by its hash\nFROM %s\n", base);
	if (setup) {
		moo_buf_printf(out, "RUN %s\n", setup);
	}
	if (n) {
		pip_install(out, "RUN ", index, v, n);
	}
	free(v);
}

void moo__env_definition(struct moo_buf *out, const char *base, const char *const *reqs, size_t n)
{
	moo__env_definition_with(out, base, NULL, NULL, reqs, n);
}

void moo__env_definition_with(struct moo_buf *out, const char *base, const char *setup,
			      const char *index, const char *const *reqs, size_t n)
{
	const char **v = sorted(reqs, n);

	moo_buf_printf(out,
		       "# moo: the job's environment, named by its hash\n"
		       "Bootstrap: docker\nFrom: %s\n",
		       base);
	if (n || setup) {
		moo_buf_puts(out, "%post\n");
	}
	if (setup) {
		moo_buf_printf(out, "    %s\n", setup);
	}
	if (n) {
		pip_install(out, "    ", index, v, n);
	}
	free(v);
}

char *moo__env_image(const char *key)
{
	return moo__printf("moo-env:%s", key);
}

void moo__env_build_command(struct moo_buf *out, enum moo__engine engine,
			    const char *const *moo__engine_opts, size_t n_opts, const char *key,
			    const char *dir)
{
	char *image = moo__env_image(key), *file;
	size_t pass, i;

	if (engine == MOO__ENGINE_APPTAINER) {
		char *sif = moo__path_join(dir, "env.sif"),
		     *tmp = moo__path_join(dir, "env.sif.tmp");

		file = moo__path_join(dir, "Containerfile.def");
		moo_buf_puts(out, "test -f ");
		moo_buf_shquote(out, sif);
		moo_buf_puts(out, " || { apptainer");
		for (i = 0; i < n_opts; i++) {
			moo__word(out, moo__engine_opts[i]);
		}
		moo_buf_puts(out, " build --force");
		moo__word(out, tmp);
		moo__word(out, file);
		moo_buf_puts(out, " && mv -f");
		moo__word(out, tmp);
		moo__word(out, sif);
		moo_buf_puts(out, "; }");
		free(sif);
		free(tmp);
		free(file);
		free(image);
		return;
	}
	file = moo__path_join(dir, "Containerfile");
	for (pass = 0; pass < 2; pass++) {
		moo_buf_shquote(out, moo__engine_name(engine));
		for (i = 0; i < n_opts; i++) {
			moo__word(out, moo__engine_opts[i]);
		}
		if (pass == 0) {
			moo_buf_puts(out, " image inspect");
			moo__word(out, image);
			moo_buf_puts(out, " >/dev/null 2>&1 || ");
		} else {
			moo_buf_puts(out, " build --network host -t");
			moo__word(out, image);
			moo_buf_puts(out, " -f");
			moo__word(out, file);
			moo__word(out, dir);
		}
	}
	free(file);
	free(image);
}

void moo__env_venv_command(struct moo_buf *out, const char *python, const char *root,
			   const char *key, const char *const *reqs, size_t n)
{
	char *dir = moo__printf("%s/envs/%s", root, key);
	char *tmp = moo__printf("%s/envs/.%s.tmp", root, key);
	char *pip = moo__printf("%s/bin/python", tmp);
	const char **v = sorted(reqs, n);
	size_t i;

	moo_buf_puts(out, "test -x ");
	moo_buf_shquote(out, dir);
	moo_buf_puts(out, "/bin/python || { rm -rf");
	moo__word(out, tmp);
	moo_buf_puts(out, " && ");
	moo_buf_shquote(out, python);
	moo_buf_puts(out, " -m venv --system-site-packages");
	moo__word(out, tmp);
	if (n) {
		moo_buf_puts(out, " && ");
		moo_buf_shquote(out, pip);
		moo_buf_puts(out, " -m pip install --no-cache-dir");
		for (i = 0; i < n; i++) {
			moo__word(out, v[i]);
		}
	}
	moo_buf_puts(out, " && mv -T");
	moo__word(out, tmp);
	moo__word(out, dir);
	moo_buf_puts(out, "; }");
	free(v);
	free(dir);
	free(tmp);
	free(pip);
}

/* ---- choosing and preparing the runtime of one job ----------------------------------- */

/* The derived image from runtime.requirement, built on the host only when it is missing. */
int moo__derive(struct moo__runtime *rt, struct moo__transport *t, const struct moo_plan *plan,
		const char *const *reqs, size_t n, struct moo_error **err)
{
	struct moo_buf file = MOO_BUF_INIT, cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	struct moo_buf base = MOO_BUF_INIT;
	char key[MOO__SHA256_HEX], *dir = NULL, *path = NULL;
	bool apptainer = rt->engine == MOO__ENGINE_APPTAINER;
	const char *setup = plan ? plan->setup : NULL, *index = plan ? plan->index : NULL;
	int r, status;

	/* The key covers what the build does: base, then setup and index when there are. */
	moo_buf_puts(&base, rt->base);
	if (setup || index) {
		moo_buf_printf(&base, "\nsetup %s\nindex %s", setup ? setup : "",
			       index ? index : "");
	}
	r = moo__env_key(key, base.ptr, reqs, n, err);
	if (r) {
		goto done; /* MOO_EARG: spec.c should not have let it through */
	}
	dir = moo__printf("%s/envs/%s", t->root, key);
	r = t->ops->mkdir_p(t, dir, err);
	if (r) {
		goto done;
	}
	if (apptainer) {
		char *from = strstr(rt->base, "://") ? moo__strdup(rt->base)
						     : moo__printf("docker://%s", rt->base);

		moo__env_definition_with(&file, from, setup, index, reqs, n);
		free(from);
		path = moo__path_join(dir, "Containerfile.def");
	} else {
		moo__env_containerfile_with(&file, rt->base, setup, index, reqs, n);
		path = moo__path_join(dir, "Containerfile");
	}
	r = t->ops->write_file(t, path, file.ptr, file.len, 0644, err);
	if (r) {
		goto done;
	}
	moo__env_build_command(&cmd, rt->engine, (const char *const *)rt->engine_opts,
			       rt->n_engine_opts, key, dir);
	moo_buf_puts(&cmd, " 2>&1");
	r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, err);
	if (r) {
		goto done;
	}
	rt->env_key = moo__strdup(key);
	rt->image = apptainer ? moo__path_join(dir, "env.sif") : moo__env_image(key);
	if (status != 0) {
		struct moo_error *e;
		const char *tail = out.ptr ? out.ptr : "";
		size_t len = out.len;

		while (len && tail[len - 1] == '\n') {
			len--;
		}
		for (; len && out.ptr[len - 1] != '\n'; len--) {
		}
		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "cannot build the environment '%s' on %s (exit %d)", rt->image,
				   t->host, status);
		moo__error_cause(e, tail + len);
		moo__error_hint(e, "see %s: it installs framework.runtime.requirement on '%s'",
				path, rt->base);
		r = MOO_ERESOLVE;
		goto done;
	}
	/* The check is silent: any output is the build's. */
	rt->env_built = out.len > 0;
	if (rt->env_built) {
		moo_buf_printf(&rt->log, "moo: built the environment %s on %s from %s\n", rt->image,
			       t->host, path);
		moo_buf_add(&rt->log, out.ptr, out.len);
		if (out.ptr[out.len - 1] != '\n') {
			moo_buf_putc(&rt->log, '\n');
		}
	} else {
		moo_buf_printf(&rt->log, "moo: environment %s found on %s, not rebuilt\n",
			       rt->image, t->host);
	}
	r = 0;
done:
	moo_buf_dispose(&file);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&base);
	free(dir);
	free(path);
	return r;
}

/*
 * The host runtime's interpreter: one that has everything, else — when the spec lists
 * requirements and some interpreter has the framework — a venv of it named by the
 * environment's key, made once (ROOT/envs/KEY) and found after that.
 */
int moo__host_interp(struct moo__runtime *rt, struct moo__transport *t, struct moo_store *st,
		     const struct moo_spec *spec, struct moo_error **err)
{
	const char *const *reqs = (const char *const *)spec->framework.runtime.requirement;
	size_t n = spec->framework.runtime.n_requirement;
	struct moo_error *first = NULL, *verr = NULL;
	struct moo__interp base = {NULL, NULL};
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT, id = MOO_BUF_INIT;
	char key[MOO__SHA256_HEX], *python = NULL;
	struct moo_spec bare;
	int r, status;

	r = moo__runtime_resolve(&rt->interp, t, st, spec, &first);
	if (r != MOO_ERESOLVE || !n) {
		goto done;
	}
	/* The same spec without runtime.requirement: an interpreter to make the venv of. */
	bare = *spec;
	bare.framework.runtime.n_requirement = 0;
	if (moo__runtime_resolve(&base, t, st, &bare, NULL)) {
		goto done; /* the first error says what is missing where */
	}
	moo_buf_printf(&id, "host %s %s", base.path, base.version);
	r = moo__env_key(key, id.ptr, reqs, n, &verr);
	if (r) {
		goto done;
	}
	python = moo__printf("%s/envs/%s/bin/python", t->root, key);
	rt->env_key = moo__strdup(key);
	if (t->ops->exists(t, python)) {
		moo_buf_printf(&rt->log, "moo: environment %s/envs/%s found on %s, not rebuilt\n",
			       t->root, key, t->host);
	} else {
		char *envs = moo__path_join(t->root, "envs");

		r = t->ops->mkdir_p(t, envs, &verr);
		free(envs);
		if (r) {
			goto done;
		}
		moo__env_venv_command(&cmd, base.path, t->root, key, reqs, n);
		moo_buf_puts(&cmd, " 2>&1");
		r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, &verr);
		if (r) {
			goto done;
		}
		if (status != 0) {
			struct moo_error *e;

			e = moo__error_add(&verr, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "cannot make the environment %s/envs/%s on %s (exit %d)",
					   t->root, key, t->host, status);
			moo__error_cause(e, moo__last_line(&out));
			moo__error_hint(e,
					"it pip-installs framework.runtime.requirement into a "
					"venv of %s",
					base.path);
			r = MOO_ERESOLVE;
			goto done;
		}
		rt->env_built = true;
		moo_buf_printf(&rt->log, "moo: made the environment %s/envs/%s on %s from %s\n",
			       t->root, key, t->host, base.path);
		moo_buf_add(&rt->log, out.ptr ? out.ptr : "", out.len);
	}
	moo__interp_dispose(&rt->interp);
	rt->interp.path = python;
	rt->interp.version = base.version;
	python = NULL;
	base.version = NULL;
	r = 0;
done:
	if (r && first) {
		/* What no interpreter had, then why the venv could not be made. */
		moo__error_append(err, first);
		first = NULL;
	}
	if (r && verr) {
		moo__error_append(err, verr);
		verr = NULL;
	}
	moo_error_free(first);
	moo_error_free(verr);
	moo__interp_dispose(&base);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&id);
	free(python);
	return r;
}
