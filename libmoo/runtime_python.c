/*
 * runtime_python: the 'host' runtime's interpreter. Picks the interpreter by asking the host
 * (through the transport), so it works the same on this machine and over SSH.
 */
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

/* The last non-empty line of a command's output (NUL-terminated in place): its error. */
const char *moo__last_line(struct moo_buf *out)
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
