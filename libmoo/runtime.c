/*
 * runtime: the 'host' runtime. Picks the interpreter by asking the host (through the
 * transport), so it works the same on this machine and over SSH.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "registry.h"
#include "ssh.h"
#include "runtime.h"

#define CACHE_MAX_AGE 3600.0

/*
 * Asked of each candidate: prints "python X.Y.Z", "exe PATH" (sys.executable), then one line
 * per requirement: ok, mismatch or missing, the requirement and the version found. PEP 440
 * versions and specifiers (== != < <= > >= ~= ===, '.*' prefixes) are compared here rather
 * than with the 'packaging' module, which many interpreters (Debian's python3) lack.
 */
static const char probe_py[] =
	"import re, sys\n"
	"sys.stdout.write('python %d.%d.%d\\n' % tuple(sys.version_info[:3]))\n"
	"sys.stdout.write('exe %s\\n' % (sys.executable or ''))\n"
	"try:\n"
	"    from importlib.metadata import version\n"
	"except ImportError:\n"
	"    import pkg_resources\n"
	"    def version(n):\n"
	"        return pkg_resources.get_distribution(n).version\n"
	"V = "
	"re.compile(r'v?(?:(\\d+)!)?(\\d+(?:\\.\\d+)*)(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_"
	".]?(\\d*))?'\n"
	"               "
	"r'(?:-(\\d+)|[-_.]?(?:post|rev|r)[-_.]?(\\d*))?(?:[-_.]?dev[-_.]?(\\d*))?(?:\\+[a-z0-9._-]"
	"+)?$')\n"
	"def parse(s):\n"
	"    m = V.match(s.strip().lower())\n"
	"    if not m:\n"
	"        return None\n"
	"    e, rel, pl, pn, p1, p2, dn = m.groups()\n"
	"    rel = [int(x) for x in rel.split('.')]\n"
	"    pre = (3, 0) if pl is None else ({'a': 0, 'alpha': 0, 'b': 1, 'beta': 1}.get(pl, 2), "
	"int(pn or 0))\n"
	"    if pl is None and p1 is None and p2 is None and dn is not None:\n"
	"        pre = (-1, 0)\n"
	"    post = -1 if p1 is None and p2 is None else int(p1 or p2 or 0)\n"
	"    return int(e or 0), rel, pre, post, (1 << 62) if dn is None else int(dn)\n"
	"def key(v):\n"
	"    r = list(v[1])\n"
	"    while len(r) > 1 and r[-1] == 0:\n"
	"        r.pop()\n"
	"    return (v[0], r) + v[2:]\n"
	"def prefix(v, p):\n"
	"    r = p[1]\n"
	"    return v[0] == p[0] and (v[1] + [0] * len(r))[:len(r)] == r\n"
	"def match(op, want, have, h):\n"
	"    if op == '===':\n"
	"        return have == want\n"
	"    star = want.endswith('.*')\n"
	"    w = parse(want[:-2] if star else want)\n"
	"    if w is None or h is None:\n"
	"        return (have == want) == (op != '!=') if op in ('==', '!=') else True\n"
	"    if op == '~=':\n"
	"        return key(h) >= key(w) and prefix(h, (w[0], w[1][:-1] or w[1]))\n"
	"    if star:\n"
	"        return prefix(h, w) == (op == '==')\n"
	"    c = (key(h) > key(w)) - (key(h) < key(w))\n"
	"    return {'==': c == 0, '!=': c != 0, '<': c < 0, '>': c > 0, '<=': c <= 0, '>=': c >= "
	"0}[op]\n"
	"def contains(spec, have):\n"
	"    h = parse(have)\n"
	"    for s in re.sub(r'^[A-Za-z0-9._-]+\\s*(\\[[^]]*\\])?', '', "
	"spec.split(';')[0]).split(','):\n"
	"        m = re.match(r'\\s*(===|~=|==|!=|<=|>=|<|>)\\s*(\\S+)\\s*$', s)\n"
	"        if m and not match(m.group(1), m.group(2), have, h):\n"
	"            return False\n"
	"    return True\n"
	"for spec in sys.argv[1:]:\n"
	"    name = re.split(r'[<>=!~;\\[ ]', spec, 1)[0].strip()\n"
	"    try:\n"
	"        have = version(name)\n"
	"    except Exception:\n"
	"        sys.stdout.write('missing %s\\n' % spec)\n"
	"        continue\n"
	"    sys.stdout.write('%s %s %s\\n' % ('ok' if contains(spec, have) else 'mismatch', spec, "
	"have))\n";

struct reqs {
	char **v;
	size_t n;
};

static void reqs_add(struct reqs *r, char *s)
{
	MOO_GROW(r->v, r->n);
	r->v[r->n++] = s;
}

static void reqs_dispose(struct reqs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i]);
	}
	free(r->v);
}

/* The requirements to check: the framework's own package, then runtime.requirement. */
static void collect_reqs(const struct moo_spec *spec, struct reqs *r)
{
	static const char *const packages[][2] = {
		{"sklearn", "scikit-learn"}, {"scikit-learn", "scikit-learn"}, {"pytorch", "torch"},
		{"torch", "torch"},          {"tensorflow", "tensorflow"},     {"keras", "keras"},
		{"xgboost", "xgboost"},      {"lightgbm", "lightgbm"},
	};
	size_t i, j;

	for (i = 0; i < MOO_ARRAY_SIZE(packages); i++) {
		const char *pkg = packages[i][1];
		bool listed = false;

		if (strcmp(spec->framework.name, packages[i][0])) {
			continue;
		}
		for (j = 0; j < spec->framework.runtime.n_requirement; j++) {
			const char *q = spec->framework.runtime.requirement[j];
			size_t n = strlen(pkg);

			if (!strncmp(q, pkg, n) &&
			    !strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", q[n] ? q[n] : 'x')) {
				listed = true;
			}
			if (!strcmp(q, pkg)) {
				listed = true;
			}
		}
		if (!listed) {
			reqs_add(r, spec->framework.version
					    ? moo__printf("%s==%s.*", pkg, spec->framework.version)
					    : moo__strdup(pkg));
		}
		break;
	}
	for (j = 0; j < spec->framework.runtime.n_requirement; j++) {
		reqs_add(r, moo__strdup(spec->framework.runtime.requirement[j]));
	}
}

/* The interpreter's file names to look for: python3.11, python3, or python3 then python. */
static void names_for(const struct moo_spec *spec, struct moo_buf *names)
{
	const char *name = spec->framework.runtime.name, *v = spec->framework.runtime.version;

	if (v) {
		moo_buf_printf(names, "%s%s", name, v);
	} else if (!strcmp(name, "python")) {
		moo_buf_puts(names, "python3 python");
	} else {
		moo_buf_puts(names, name);
	}
}

static int find_candidates(struct moo__transport *t, const char *names, struct reqs *cands,
			   struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	const char *py = getenv("MOO_PYTHON");
	char *line, *save = NULL;
	int r, status;

	if (py && *py) {
		reqs_add(cands, moo__strdup(py));
		return 0;
	}
	moo_buf_puts(&cmd, "IFS=:; for d in $PATH; do for n in");
	{
		char *copy = moo__strdup(names), *s, *sv = NULL;

		for (s = strtok_r(copy, " ", &sv); s; s = strtok_r(NULL, " ", &sv)) {
			moo_buf_putc(&cmd, ' ');
			moo_buf_shquote(&cmd, s);
		}
		free(copy);
	}
	moo_buf_puts(&cmd, "; do [ -f \"${d:-.}/$n\" ] && [ -x \"${d:-.}/$n\" ] && "
			   "echo \"${d:-.}/$n\"; done; done; exit 0");
	r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, err);
	if (r) {
		goto done;
	}
	for (line = strtok_r(out.ptr ? out.ptr : "", "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t i;
		bool dup = false;

		for (i = 0; i < cands->n; i++) {
			dup = dup || !strcmp(cands->v[i], line);
		}
		if (!dup) {
			reqs_add(cands, moo__strdup(line));
		}
	}
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r;
}

/* What the host has: the python* names on its PATH, for the hint; each folder by its real
 * path, so /bin and /usr/bin (one folder on a merged /usr) list each interpreter once. */
static void installed_list(struct moo__transport *t, struct moo_buf *list)
{
	struct moo_buf out = MOO_BUF_INIT;
	struct moo_error *ignore = NULL;
	int status;

	if (!t->ops->exec(t,
			  "IFS=:; for d in $PATH; do d=$(cd -P -- \"${d:-.}\" 2>/dev/null && pwd) "
			  "|| continue; for f in \"$d\"/python*; do "
			  "case ${f##*/} in *-config|*[!0-9.a-z]*) ;; *) [ -x \"$f\" ] && "
			  "echo \"$f\";; esac; done; done | sort -u | tr '\\n' ' '",
			  &out, NULL, &status, &ignore) &&
	    out.len) {
		while (out.len && out.ptr[out.len - 1] == ' ') {
			out.ptr[--out.len] = '\0';
		}
		moo_buf_puts(list, out.ptr);
	}
	moo_error_free(ignore);
	moo_buf_dispose(&out);
}

/*
 * Asks one interpreter. Returns 0 and its version when it has everything; 1 with a
 * description of what it lacks in why; <0 on a transport failure.
 */
static int probe(struct moo__transport *t, const char *interp, const struct reqs *reqs,
		 char **version, char **exe, struct moo_buf *why, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	struct moo_buf missing = MOO_BUF_INIT, have = MOO_BUF_INIT;
	char *line, *save = NULL, *v = NULL;
	size_t i;
	int r, status;

	moo_buf_shquote(&cmd, interp);
	moo_buf_puts(&cmd, " -c ");
	moo_buf_shquote(&cmd, probe_py);
	for (i = 0; i < reqs->n; i++) {
		moo_buf_putc(&cmd, ' ');
		moo_buf_shquote(&cmd, reqs->v[i]);
	}
	r = t->ops->exec(t, cmd.ptr, &out, &errout, &status, err);
	if (r) {
		goto done;
	}
	if (status != 0 || strncmp(out.ptr ? out.ptr : "", "python ", 7)) {
		const char *e = errout.ptr ? errout.ptr : "";

		moo_buf_printf(why, "'%s' does not run (exit %d%s%.*s)", interp, status,
			       *e ? ": " : "", (int)strcspn(e, "\n"), e);
		r = 1;
		goto done;
	}
	for (line = strtok_r(out.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "python ", 7)) {
			v = moo__strdup(line + 7);
		} else if (!strncmp(line, "exe /", 5) && !*exe) {
			*exe = moo__strdup(line + 4);
		} else if (!strncmp(line, "missing ", 8)) {
			moo_buf_printf(&missing, "%s'%s'", missing.len ? ", " : "", line + 8);
		} else if (!strncmp(line, "mismatch ", 9)) {
			char *sp = strrchr(line, ' ');

			moo_buf_printf(&missing, "%s'%.*s' (has %s)", missing.len ? ", " : "",
				       (int)(sp - line - 9), line + 9, sp + 1);
		} else if (!strncmp(line, "ok ", 3)) {
			char *sp = strrchr(line, ' ');

			moo_buf_printf(&have, "%s%.*s %s", have.len ? ", " : "",
				       (int)strcspn(line + 3, "<>=!~; ["), line + 3, sp + 1);
		}
	}
	if (missing.len) {
		moo_buf_printf(why, "%s (Python %s) lacks %s", interp, v ? v : "?", missing.ptr);
		if (have.len) {
			moo_buf_printf(why, "; has %s", have.ptr);
		}
		r = 1;
		goto done;
	}
	*version = v;
	v = NULL;
	r = 0;
done:
	free(v);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	moo_buf_dispose(&errout);
	moo_buf_dispose(&missing);
	moo_buf_dispose(&have);
	return r;
}

int moo__runtime_resolve(struct moo__interp *out, struct moo__transport *t, struct moo_store *st,
			 const struct moo_spec *spec, struct moo_error **err)
{
	struct reqs reqs = {NULL, 0}, cands = {NULL, 0};
	struct moo_buf names = MOO_BUF_INIT, key = MOO_BUF_INIT, cached = MOO_BUF_INIT;
	struct moo_buf why = MOO_BUF_INIT;
	const char *py = getenv("MOO_PYTHON"), *path = getenv("PATH");
	char *version = NULL, *exe = NULL;
	size_t i;
	int r;

	if (strcmp(spec->framework.runtime.name, "python")) {
		struct moo_error *e;

		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "the host runtime runs Python, not '%s'",
				   spec->framework.runtime.name);
		moo__error_hint(e, "write 'framework.runtime: python3' in metadata.yaml");
		return MOO_ERESOLVE;
	}
	collect_reqs(spec, &reqs);
	names_for(spec, &names);
	moo_buf_printf(&key, "python\t%s\t%s\t%s\t%s", t->host, py && *py ? py : names.ptr,
		       path ? path : "", t->root);
	for (i = 0; i < reqs.n; i++) {
		moo_buf_printf(&key, "\t%s", reqs.v[i]);
	}
	/* A cached choice: "PATH\tVERSION", still there. */
	if (st && moo__store_cache_get(st, key.ptr, CACHE_MAX_AGE, &cached, NULL) == 0) {
		char *tab = strchr(cached.ptr, '\t');

		if (tab) {
			*tab = '\0';
			if (t->ops->exists(t, cached.ptr)) {
				out->path = moo__strdup(cached.ptr);
				out->version = moo__strdup(tab + 1);
				r = 0;
				goto done;
			}
		}
	}
	r = find_candidates(t, names.ptr, &cands, err);
	if (r) {
		goto done;
	}
	for (i = 0; i < cands.n; i++) {
		free(exe);
		exe = NULL;
		r = probe(t, cands.v[i], &reqs, &version, &exe, &why, err);
		if (r < 0) {
			goto done;
		}
		if (r == 0) {
			break;
		}
		moo_buf_puts(&why, "; ");
	}
	if (i == cands.n) {
		struct moo_buf have = MOO_BUF_INIT;
		struct moo_error *e;

		installed_list(t, &have);
		if (!cands.n) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "no interpreter '%s' for runtime '%s%s' on %s",
					   names.ptr, spec->framework.runtime.name,
					   spec->framework.runtime.version
						   ? spec->framework.runtime.version
						   : "",
					   t->host);
		} else {
			while (why.len &&
			       (why.ptr[why.len - 1] == ' ' || why.ptr[why.len - 1] == ';')) {
				why.ptr[--why.len] = '\0';
			}
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "no interpreter on %s has what '%s' needs: %s", t->host,
					   spec->file ? spec->file : "metadata.yaml", why.ptr);
		}
		moo__error_hint(e,
				"installed: %s; install what is missing, or point MOO_PYTHON "
				"at an interpreter that has it",
				have.len ? have.ptr : "no python on PATH");
		moo_buf_dispose(&have);
		r = MOO_ERESOLVE;
		goto done;
	}
	/*
	 * The interpreter that answered runs the job: its sys.executable, so a launcher in
	 * front of it (a pyenv shim costs ~1 s a start here, and picks a version by the
	 * current folder) neither slows every job nor swaps the interpreter that was checked.
	 */
	if (!exe) {
		exe = moo__strdup(cands.v[i]);
	}
	if (st) {
		struct moo_buf v = MOO_BUF_INIT;

		moo_buf_printf(&v, "%s\t%s", exe, version);
		moo__store_cache_put(st, key.ptr, v.ptr, NULL); /* a cache that fails is no loss */
		moo_buf_dispose(&v);
	}
	out->path = exe;
	exe = NULL;
	out->version = version;
	version = NULL;
	r = 0;
done:
	free(version);
	free(exe);
	reqs_dispose(&reqs);
	reqs_dispose(&cands);
	moo_buf_dispose(&names);
	moo_buf_dispose(&key);
	moo_buf_dispose(&cached);
	moo_buf_dispose(&why);
	return r;
}

void moo__interp_dispose(struct moo__interp *i)
{
	if (!i) {
		return;
	}
	free(i->path);
	free(i->version);
	i->path = i->version = NULL;
}

/* ---- container runtimes ---------------------------------------------------------------- */

static const char *const engine_names[] = {"host", "docker", "podman", "apptainer"};

const char *moo__engine_name(enum moo__engine e)
{
	return (unsigned)e < MOO_ARRAY_SIZE(engine_names) ? engine_names[e] : "?";
}

int moo__engine_parse(const char *name)
{
	size_t i;

	if (!name) {
		return -1;
	}
	for (i = 0; i < MOO_ARRAY_SIZE(engine_names); i++) {
		if (!strcmp(name, engine_names[i])) {
			return (int)i;
		}
	}
	return !strcmp(name, "singularity") ? MOO__ENGINE_APPTAINER : -1;
}

static void word(struct moo_buf *out, const char *w)
{
	moo_buf_putc(out, ' ');
	moo_buf_shquote(out, w);
}

static void wordf(struct moo_buf *out, const char *fmt, ...) MOO_PRINTF(2, 3);
static void wordf(struct moo_buf *out, const char *fmt, ...)
{
	struct moo_buf w = MOO_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(&w, fmt, ap);
	va_end(ap);
	word(out, w.ptr ? w.ptr : "");
	moo_buf_dispose(&w);
}

static bool has_ctl(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return true;
		}
	}
	return false;
}

/* The device indices: in->visible checked ("0,1"), else 0 … count-1. */
static int devices(struct moo_buf *out, const struct moo__rt_in *in, struct moo_error **err)
{
	unsigned i, n = in->count ? in->count : 1;
	const char *p;

	if (in->visible) {
		bool digit = false;

		for (p = in->visible; *p; p++) {
			if (*p >= '0' && *p <= '9') {
				digit = true;
			} else if (*p != ',' || !digit) {
				break;
			} else {
				digit = false;
			}
		}
		if (*p || !digit) {
			return moo__fail(err, MOO_EARG,
					 "visible devices '%s' are not indices like '0,1'",
					 in->visible);
		}
		moo_buf_puts(out, in->visible);
		return 0;
	}
	for (i = 0; i < n; i++) {
		moo_buf_printf(out, "%s%u", i ? "," : "", i);
	}
	return 0;
}

static int check_in(const struct moo__rt_in *in, struct moo_error **err)
{
	size_t i;

	if (!in->job_dir || !in->work_dir || !in->argc || *in->job_dir != '/' ||
	    *in->work_dir != '/') {
		return moo__fail(err, MOO_EARG,
				 "a runtime command needs absolute job and work "
				 "folders and a command");
	}
	if (in->engine != MOO__ENGINE_HOST) {
		if (!in->image || !*in->image || has_ctl(in->image) || *in->image == '-') {
			return moo__fail(err, MOO_EARG, "the %s runtime needs an image, not '%s'",
					 moo__engine_name(in->engine), in->image ? in->image : "");
		}
		/* -v SRC:DST and --bind SRC split on ':' (and apptainer's on ','). */
		const char *bad = NULL;

		if (strchr(in->job_dir, ':') || strchr(in->job_dir, ',') || has_ctl(in->job_dir)) {
			bad = in->job_dir;
		} else if (in->dataset_dir &&
			   (strchr(in->dataset_dir, ':') || strchr(in->dataset_dir, ',') ||
			    has_ctl(in->dataset_dir))) {
			bad = in->dataset_dir;
		}
		if (bad) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "the %s folder '%s' cannot be bind-mounted: it holds "
					   "':', ',' or a control character",
					   bad == in->job_dir ? "job" : "dataset", bad);
			moo__error_hint(e, "set MOO_ROOT on the host to a plain path");
			return MOO_EARG;
		}
	}
	for (i = 0; i < in->n_env; i++) {
		const char *eq = strchr(in->env[i], '=');

		if (!eq || eq == in->env[i]) {
			return moo__fail(err, MOO_EARG, "environment entry '%s' is not NAME=VALUE",
					 in->env[i]);
		}
	}
	return 0;
}

static void limits(struct moo_buf *out, const struct moo__rt_in *in)
{
	if (in->cpus > 0) {
		moo_buf_puts(out, " --cpus");
		wordf(out, "%g", in->cpus);
	}
	if (in->memory) {
		moo_buf_puts(out, " --memory");
		wordf(out, "%llu", (unsigned long long)in->memory);
	}
}

/* Ascend NPUs in a container: the chosen davinci devices, the shared ones, the driver. */
static void npu_devices(struct moo_buf *out, const char *list)
{
	static const char *const shared[] = {"/dev/davinci_manager", "/dev/devmm_svm",
					     "/dev/hisi_hdc"};
	const char *p = list;
	size_t i;

	while (*p) {
		size_t n = strcspn(p, ",");

		moo_buf_puts(out, " --device");
		wordf(out, "/dev/davinci%.*s", (int)n, p);
		p += n + (p[n] == ',');
	}
	for (i = 0; i < MOO_ARRAY_SIZE(shared); i++) {
		moo_buf_puts(out, " --device");
		word(out, shared[i]);
	}
	moo_buf_puts(out, " -v");
	word(out, "/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro");
	moo_buf_puts(out, " -e");
	wordf(out, "ASCEND_VISIBLE_DEVICES=%s", list);
}

static void oci_command(struct moo_buf *out, const struct moo__rt_in *in, const char *list)
{
	size_t i;

	moo_buf_puts(out, " run --rm --init");
	if (in->name) {
		moo_buf_puts(out, " --name");
		word(out, in->name);
	}
	moo_buf_puts(out, " --network host -v");
	wordf(out, "%s:%s", in->job_dir, in->job_dir);
	if (in->dataset_dir) {
		moo_buf_puts(out, " -v");
		wordf(out, "%s:%s:ro", in->dataset_dir, in->dataset_dir);
	}
	moo_buf_puts(out, " -w");
	word(out, in->work_dir);
	if (in->accel == MOO_ACCEL_GPU && in->engine == MOO__ENGINE_DOCKER) {
		/* --gpus reads CSV: the inner quotes keep "0,1" one field. */
		moo_buf_puts(out, " --gpus");
		wordf(out, "\"device=%s\"", list);
	} else if (in->accel == MOO_ACCEL_GPU) {
		const char *p = list;

		/* podman: the CDI devices of nvidia-ctk cdi generate. */
		while (*p) {
			size_t n = strcspn(p, ",");

			moo_buf_puts(out, " --device");
			wordf(out, "nvidia.com/gpu=%.*s", (int)n, p);
			p += n + (p[n] == ',');
		}
	} else if (in->accel == MOO_ACCEL_NPU) {
		npu_devices(out, list);
	}
	limits(out, in);
	for (i = 0; i < in->n_env; i++) {
		moo_buf_puts(out, " -e");
		word(out, in->env[i]);
	}
	word(out, in->image);
}

static void apptainer_command(struct moo_buf *out, const struct moo__rt_in *in, const char *list)
{
	const char *img = in->image;
	size_t i;

	moo_buf_puts(out, " exec --cleanenv --bind");
	word(out, in->job_dir);
	if (in->dataset_dir) {
		moo_buf_puts(out, " --bind");
		wordf(out, "%s:%s:ro", in->dataset_dir, in->dataset_dir);
	}
	moo_buf_puts(out, " --pwd");
	word(out, in->work_dir);
	if (in->accel == MOO_ACCEL_GPU) {
		moo_buf_puts(out, " --nv --env");
		wordf(out, "CUDA_VISIBLE_DEVICES=%s", list);
	} else if (in->accel == MOO_ACCEL_NPU) {
		moo_buf_puts(out, " --bind");
		word(out, "/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro");
		moo_buf_puts(out, " --env");
		wordf(out, "ASCEND_VISIBLE_DEVICES=%s", list);
	}
	limits(out, in);
	for (i = 0; i < in->n_env; i++) {
		moo_buf_puts(out, " --env");
		word(out, in->env[i]);
	}
	/* A reference (not a file, not already a URI) comes from a registry. */
	if (*img == '/' || !strncmp(img, "./", 2) || strstr(img, "://") ||
	    (strlen(img) > 4 && !strcmp(img + strlen(img) - 4, ".sif"))) {
		word(out, img);
	} else {
		wordf(out, "docker://%s", img);
	}
}

int moo__runtime_command(struct moo_buf *out, const struct moo__rt_in *in, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, list = MOO_BUF_INIT;
	size_t i;
	int r;

	r = check_in(in, err);
	if (r) {
		goto done;
	}
	if (in->accel != MOO_ACCEL_CPU) {
		r = devices(&list, in, err);
		if (r) {
			goto done;
		}
	}
	if (in->engine == MOO__ENGINE_HOST) {
		moo_buf_puts(&cmd, "env");
		if (in->accel == MOO_ACCEL_GPU) {
			wordf(&cmd, "CUDA_VISIBLE_DEVICES=%s", list.ptr);
		} else if (in->accel == MOO_ACCEL_NPU) {
			wordf(&cmd, "ASCEND_RT_VISIBLE_DEVICES=%s", list.ptr);
		}
		for (i = 0; i < in->n_env; i++) {
			word(&cmd, in->env[i]);
		}
	} else {
		moo_buf_shquote(&cmd, moo__engine_name(in->engine));
		for (i = 0; i < in->n_engine_opts; i++) {
			word(&cmd, in->engine_opts[i]);
		}
		if (in->engine == MOO__ENGINE_APPTAINER) {
			apptainer_command(&cmd, in, list.ptr);
		} else {
			oci_command(&cmd, in, list.ptr);
		}
	}
	for (i = 0; i < in->argc; i++) {
		word(&cmd, in->argv[i]);
	}
	moo_buf_add(out, cmd.ptr, cmd.len);
	r = 0;
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&list);
	return r;
}

/* ---- preflight ----------------------------------------------------------------------- */

int moo__version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

		if (x != y) {
			return x < y ? -1 : 1;
		}
		a = *ea == '.' ? ea + 1 : ea + strlen(ea);
		b = *eb == '.' ? eb + 1 : eb + strlen(eb);
	}
	return 0;
}

/* uname -m and OCI platform names for the same architecture. */
static const char *oci_arch(const char *a)
{
	static const char *const map[][2] = {
		{"x86_64", "amd64"},    {"aarch64", "arm64"}, {"armv7l", "arm"},
		{"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"},
	};
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(map); i++) {
		if (!strcmp(a, map[i][0])) {
			return map[i][1];
		}
	}
	return a;
}

static bool host_has_engine(const struct moo_host_facts *h, enum moo__engine e)
{
	size_t i;

	for (i = 0; i < h->n_engines; i++) {
		if (moo__engine_parse(h->engines[i].name) == (int)e) {
			return true;
		}
	}
	return false;
}

int moo__runtime_preflight(const struct moo__needs *need, const struct moo_host_facts *host,
			   struct moo_error **err)
{
	const char *img = need->image ? need->image : "the image";
	unsigned n = need->count ? need->count : 1;
	struct moo_error *e;
	size_t i;

	if (need->engine != MOO__ENGINE_HOST && !host_has_engine(host, need->engine)) {
		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "runtime '%s' is not installed on the host",
				   moo__engine_name(need->engine));
		moo__error_hint(e, "install it, or choose another with --runtime (moo hosts check "
				   "lists the engines a host has)");
		return MOO_ERESOLVE;
	}
	if (need->n_archs && host->arch) {
		const char *want = oci_arch(host->arch);
		struct moo_buf have = MOO_BUF_INIT;
		bool found = false;

		for (i = 0; i < need->n_archs; i++) {
			const char *a = need->archs[i];
			size_t len;

			a = !strncmp(a, "linux/", 6) ? a + 6 : a; /* a platform: linux/arm64/v8 */
			len = strcspn(a, "/");
			found = found || (strlen(want) == len && !strncmp(a, want, len)) ||
				!strcmp(oci_arch(a), want);
			moo_buf_printf(&have, "%s%s", i ? ", " : "", need->archs[i]);
		}
		if (!found) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "'%s' has no %s build (it has %s)", img, want, have.ptr);
			moo__error_hint(e, "choose an image built for %s, or another host", want);
			moo_buf_dispose(&have);
			return MOO_ERESOLVE;
		}
		moo_buf_dispose(&have);
	}
	if (need->accel == MOO_ACCEL_GPU) {
		if (host->n_gpus < n) {
			if (host->n_gpus) {
				e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
						   "the job asks for %u GPUs; the host has %zu", n,
						   host->n_gpus);
			} else {
				e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
						   "the job asks for %u GPU%s; the host has none",
						   n, n == 1 ? "" : "s");
			}
			moo__error_hint(e, "run it on a host with GPUs (--on HOST), or set "
					   "resources.accelerator: cpu");
			return MOO_ERESOLVE;
		}
		if (need->cuda && host->cuda_version &&
		    moo__version_cmp(need->cuda, host->cuda_version) > 0) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "'%s' needs CUDA %s; the host's driver %s supports CUDA "
					   "%s at most",
					   img, need->cuda,
					   host->driver_version ? host->driver_version : "?",
					   host->cuda_version);
			moo__error_hint(e, "update the NVIDIA driver, or pin an older framework "
					   "version");
			return MOO_ERESOLVE;
		}
		if (need->min_driver && host->driver_version &&
		    moo__version_cmp(need->min_driver, host->driver_version) > 0) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "'%s' needs NVIDIA driver %s or newer; the host has %s",
					   img, need->min_driver, host->driver_version);
			moo__error_hint(e, "update the NVIDIA driver, or pin an older framework "
					   "version");
			return MOO_ERESOLVE;
		}
	} else if (need->accel == MOO_ACCEL_NPU && host->n_npus < n) {
		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "the job asks for %u NPU%s; the host has %zu", n,
				   n == 1 ? "" : "s", host->n_npus);
		moo__error_hint(e, "run it on a host with Ascend NPUs (--on HOST), or set "
				   "resources.accelerator: cpu");
		return MOO_ERESOLVE;
	}
	return 0;
}

int moo__runtime_choose(enum moo__engine *out, const struct moo_host_facts *host, const char *image,
			struct moo_error **err)
{
	static const enum moo__engine order[] = {MOO__ENGINE_PODMAN, MOO__ENGINE_DOCKER,
						 MOO__ENGINE_APPTAINER};
	struct moo_error *e;
	size_t i;

	if (!image) {
		*out = MOO__ENGINE_HOST;
		return 0;
	}
	for (i = 0; i < MOO_ARRAY_SIZE(order); i++) {
		if (host_has_engine(host, order[i])) {
			*out = order[i];
			return 0;
		}
	}
	e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
			   "image '%s' needs a container engine; the host has none", image);
	moo__error_hint(e, "install podman, docker or apptainer there, or use --runtime host");
	return MOO_ERESOLVE;
}

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

int moo__env_key(char hex[MOO__SHA256_HEX], const char *base, const char *const *reqs, size_t n,
		 struct moo_error **err)
{
	struct moo_buf text = MOO_BUF_INIT;
	const char **v;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!*reqs[i] || *reqs[i] == '-' || has_ctl(reqs[i])) {
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
	size_t i;

	moo_buf_printf(out, "# moo: the job's environment, named by its hash\nFROM %s\n", base);
	if (setup) {
		moo_buf_printf(out, "RUN %s\n", setup);
	}
	if (n) {
		/* Debian's pythons refuse pip outside a venv without this (PEP 668). */
		moo_buf_puts(out, "RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install "
				  "--no-cache-dir");
		if (index) {
			moo_buf_puts(out, " --extra-index-url");
			word(out, index);
		}
		for (i = 0; i < n; i++) {
			word(out, v[i]);
		}
		moo_buf_putc(out, '\n');
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
	size_t i;

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
		moo_buf_puts(out, "    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install "
				  "--no-cache-dir");
		if (index) {
			moo_buf_puts(out, " --extra-index-url");
			word(out, index);
		}
		for (i = 0; i < n; i++) {
			word(out, v[i]);
		}
		moo_buf_putc(out, '\n');
	}
	free(v);
}

char *moo__env_image(const char *key)
{
	return moo__printf("moo-env:%s", key);
}

void moo__env_build_command(struct moo_buf *out, enum moo__engine engine,
			    const char *const *engine_opts, size_t n_opts, const char *key,
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
			word(out, engine_opts[i]);
		}
		moo_buf_puts(out, " build --force");
		word(out, tmp);
		word(out, file);
		moo_buf_puts(out, " && mv -f");
		word(out, tmp);
		word(out, sif);
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
			word(out, engine_opts[i]);
		}
		if (pass == 0) {
			moo_buf_puts(out, " image inspect");
			word(out, image);
			moo_buf_puts(out, " >/dev/null 2>&1 || ");
		} else {
			moo_buf_puts(out, " build --network host -t");
			word(out, image);
			moo_buf_puts(out, " -f");
			word(out, file);
			word(out, dir);
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
	word(out, tmp);
	moo_buf_puts(out, " && ");
	moo_buf_shquote(out, python);
	moo_buf_puts(out, " -m venv --system-site-packages");
	word(out, tmp);
	if (n) {
		moo_buf_puts(out, " && ");
		moo_buf_shquote(out, pip);
		moo_buf_puts(out, " -m pip install --no-cache-dir");
		for (i = 0; i < n; i++) {
			word(out, v[i]);
		}
	}
	moo_buf_puts(out, " && mv -T");
	word(out, tmp);
	word(out, dir);
	moo_buf_puts(out, "; }");
	free(v);
	free(dir);
	free(tmp);
	free(pip);
}

/* ---- choosing and preparing the runtime of one job ----------------------------------- */

static int probe_host(struct moo_host_facts **out, struct moo__transport *t, struct moo_error **err)
{
	struct moo_buf script = MOO_BUF_INIT, cmd = MOO_BUF_INIT, text = MOO_BUF_INIT;
	int r, status;

	moo__host_probe_script(&script);
	moo_buf_puts(&cmd, "sh -c ");
	moo_buf_shquote(&cmd, script.ptr);
	moo_buf_puts(&cmd, " moo-probe ");
	moo_buf_shquote(&cmd, t->root);
	r = t->ops->exec(t, cmd.ptr, &text, NULL, &status, err);
	if (!r) {
		r = moo_host_facts_parse(out, text.ptr ? text.ptr : "", text.len, err);
	}
	moo_buf_dispose(&script);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&text);
	return r;
}

/* $MOO_<ENGINE>_OPTS as the host's sh sees it, split on blanks. */
static int engine_opts(struct moo__runtime *rt, struct moo__transport *t, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	const char *n;
	char *w, *save = NULL;
	int r, status;

	moo_buf_puts(&cmd, "printf '%s' \"${MOO_");
	for (n = moo__engine_name(rt->engine); *n; n++) {
		moo_buf_putc(&cmd, (char)(*n - 'a' + 'A'));
	}
	moo_buf_puts(&cmd, "_OPTS-}\"");
	r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, err);
	if (!r && out.len) {
		for (w = strtok_r(out.ptr, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
			MOO_GROW(rt->engine_opts, rt->n_engine_opts);
			rt->engine_opts[rt->n_engine_opts++] = moo__strdup(w);
		}
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r;
}

/* The derived image from runtime.requirement, built on the host only when it is missing. */
static int derive(struct moo__runtime *rt, struct moo__transport *t, const struct moo_plan *plan,
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

/* The last non-empty line of a command's output (NUL-terminated in place): its error. */
static const char *last_line(struct moo_buf *out)
{
	size_t len = out->len;

	if (!out->ptr) {
		return "";
	}
	while (len && (out->ptr[len - 1] == '\n' || out->ptr[len - 1] == '\r')) {
		out->ptr[--len] = '\0';
	}
	while (len && out->ptr[len - 1] != '\n') {
		len--;
	}
	return out->ptr + len;
}

/*
 * The host runtime's interpreter: one that has everything, else — when the spec lists
 * requirements and some interpreter has the framework — a venv of it named by the
 * environment's key, made once (ROOT/envs/KEY) and found after that.
 */
static int host_interp(struct moo__runtime *rt, struct moo__transport *t, struct moo_store *st,
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
			moo__error_cause(e, last_line(&out));
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

/* ---- the plan: made once, before anything is sent ---------------------------------- */

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
int moo__host_facts(struct moo_host_facts **out, struct moo__transport *t, struct moo_store *st,
		    struct moo_error **err)
{
	struct moo_buf key = MOO_BUF_INIT, cached = MOO_BUF_INIT, json = MOO_BUF_INIT;
	int r;

	moo_buf_printf(&key, "facts\t%s\t%s\t", t->host, t->root);
	first_line(t, "/proc/sys/kernel/random/boot_id", &key);
	moo_buf_putc(&key, '\t');
	first_line(t, "/sys/module/nvidia/version", &key);
	if (st && moo__store_cache_get(st, key.ptr, FACTS_MAX_AGE, &cached, NULL) == 0 &&
	    moo_host_facts_from_json(out, cached.ptr, NULL) == 0) {
		r = 0;
		goto done;
	}
	r = probe_host(out, t, err);
	if (!r && st) {
		/* a cache that fails is no loss */
		moo_host_facts_to_json(*out, &json);
		moo__store_cache_put(st, key.ptr, json.ptr, NULL);
	}
done:
	if (!r && moo__transport_is_remote(t) && t->impl) {
		/* the key this session checked (an SSH transport's impl is its session) */
		const struct moo__ssh *c = t->impl;
		struct moo_host_key *k = &(*out)->key;

		moo_host_key_dispose(k);
		k->display = c->display ? moo__strdup(c->display) : NULL;
		k->type = c->key_type ? moo__strdup(c->key_type) : NULL;
		k->fingerprint = c->fingerprint ? moo__strdup(c->fingerprint) : NULL;
		k->known_hosts = c->known_hosts ? moo__strdup(c->known_hosts) : NULL;
		k->added = c->key_added;
	}
	moo_buf_dispose(&key);
	moo_buf_dispose(&cached);
	moo_buf_dispose(&json);
	return r;
}

/* $MOO_<ENGINE>_OPTS on the host, for a command line of the engine. */
static int engine_prefix(struct moo_buf *cmd, struct moo__transport *t, enum moo__engine engine,
			 struct moo_error **err)
{
	struct moo__runtime tmp;
	size_t i;
	int r;

	memset(&tmp, 0, sizeof(tmp));
	tmp.engine = engine;
	r = engine_opts(&tmp, t, err);
	moo_buf_shquote(cmd, moo__engine_name(engine));
	for (i = 0; i < tmp.n_engine_opts; i++) {
		word(cmd, tmp.engine_opts[i]);
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
	word(&cmd, image);
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
		r = moo_plan_pin(p, tbl, &rerr);
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
	if (image && (!*image || *image == '-' || has_ctl(image))) {
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
		if (!(o && o->offline) && (r = moo_plan_pin(p, tbl, err))) {
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
	moo_host_facts_to_json(facts, &fj);
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
	"import os\n"
	"for d in sys.path:\n"
	"    if d and os.path.isabs(d) and os.path.isdir(d) and '\\n' not in d:\n"
	"        w('path %s\\n' % d)\n";

/*
 * The state of what the interpreter imports from: each sys.path folder's modification
 * and change times and inode (installing, removing or upgrading a distribution adds or
 * removes entries in its folder), as one sha256. 0, or -1 when the host cannot be asked.
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
				word(&cmd, d);
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

		moo__error_cause(e, last_line(&errout));
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
		} else if ((r = host_interp(&rt, t, st, spec, err))) {
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
		r = engine_opts(&rt, t, err);
		if (r) {
			goto done;
		}
		/* The plan's requirements layer: the image's missing framework package too. */
		if (plan->n_requirements || plan->setup) {
			r = derive(&rt, t, plan, (const char *const *)plan->requirements,
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
