/*
 * job: stage, launch, follow, collect, cancel — the lifecycle of one job on its host.
 *
 * Everything that touches the host goes through a transport (transport.h): the job
 * directory is read and written with its file operations and every command is one sh
 * command line quoted with moo_buf_shquote, so a remote transport needs no change here.
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

#define STATE_WAIT_S 10.0 /* how long a new supervisor may take to write state */
#define RECONNECT_S  60.0 /* how long moo logs -f tries to reach a host again */
#define LOG_CHUNK    (1u << 20)
#define TAIL_BYTES   65536u /* what moo logs -n N reads, from the end */
#define MAX_TIME     1e11   /* seconds since 1970: the year 5138; a later time is no time */
#define BAD_WAIT_S   15.0   /* how long a follower waits for a job's bad files to go */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};

	nanosleep(&ts, NULL); /* a signal cuts it short: callers look at their stop flag */
}

/*
 * Until something in dir may have changed: at once where the transport is told of changes
 * (a local job directory, through inotify: no poll lag at a job's end), else after about
 * seconds (how long polling waits; the caller backs off).
 */
static void wait_change(struct moo__transport *t, const char *dir, double seconds)
{
	if (t->ops->wait_change) {
		t->ops->wait_change(t, dir, seconds < 1.0 ? 1.0 : seconds);
	} else {
		nap(seconds);
	}
}

static int open_host(struct moo__transport **out, const char *host, struct moo_error **err)
{
	return moo__transport_open(out, host ? host : "local", err);
}

static int verify_manifest(const char *manifest, const char *dir, struct moo_error **err);

static char *job_file(const struct moo_job *job, const char *name)
{
	return moo__path_join(job->dir, name);
}

/* ---- key=value files (state, exit) ------------------------------------------------ */

/* The value of key in a key=value text, or NULL; "command" runs to the end of the text. */
static char *kv_get(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == '=') {
			const char *v = p + n + 1;
			size_t len = strcmp(key, "command") ? strcspn(v, "\n") : strlen(v);

			while (len && v[len - 1] == '\n') {
				len--;
			}
			return moo__strndup(v, len);
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

static long long kv_int(const char *text, const char *key, long long def)
{
	char *v = kv_get(text, key), *end;
	long long x;

	if (!v) {
		return def;
	}
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v) {
		x = def;
	}
	free(v);
	return x;
}

/* The host's boot time (btime of /proc/stat), or 0. */
static double host_btime(struct moo__transport *t)
{
	struct moo_buf b = MOO_BUF_INIT;
	const char *p;
	double v = 0;

	if (!t->ops->read_file(t, "/proc/stat", 0, 1 << 16, &b, NULL) && b.ptr &&
	    (p = strstr(b.ptr, "\nbtime "))) {
		v = strtod(p + 7, NULL);
	}
	moo_buf_dispose(&b);
	return v;
}

/* A time the supervisor wrote: "up:SECONDS" since the host booted, or epoch seconds. */
static double kv_time(struct moo__transport *t, const char *text, const char *key)
{
	char *v = kv_get(text, key);
	double x = 0;

	if (v && !strncmp(v, "up:", 3)) {
		double b = host_btime(t);

		x = b > 0 ? b + strtod(v + 3, NULL) : 0;
	} else if (v) {
		x = strtod(v, NULL);
	}
	/* A number the job may have written: refused unless a time from 1970 to year 5138. */
	if (v && !(x >= 0 && x <= MAX_TIME)) {
		moo__warn(MOO_EIO, "ignoring %s='%s' of a job: not a time", key, v);
		x = 0;
	}
	free(v);
	return x;
}

/* moo_job_defer_results: ends told, not recorded, results not downloaded. */
static _Thread_local bool defer_results;

void moo_job_defer_results(bool defer)
{
	defer_results = defer;
}

/* ---- ids, parameters, the command -------------------------------------------------- */

struct kvlist {
	struct moo_kv *v;
	size_t n;
};

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

static void kvlist_dispose(struct kvlist *l)
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
static int apply_sets(const struct moo_spec *spec, const struct moo_run_opts *o,
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
static char *params_to_json(const struct kvlist *params)
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

int moo_job_params(const struct moo_job *job, struct moo_kv **out, size_t *n,
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

/*
 * The runtime command: the entry point's argv (interpreter -u entry --k v …) and its
 * environment (the spec's env, MOO_JOB_ID, MOO_OUTPUT_DIR, MOO_PARAM_*), wrapped by the
 * job's runtime (runtime.c: env for host, docker/podman/apptainer run for containers).
 */
static int build_command(struct moo_buf *cmd, const struct moo_job *job,
			 const struct moo__runtime *rt, const struct moo_spec *spec,
			 const struct kvlist *params, const struct kvlist *env,
			 const char *dataset_dir, struct moo_error **err)
{
	char *outdir = moo__printf("%s/work/%s", job->dir, job->output_folder);
	char *workdir = moo__printf("%s/work", job->dir);
	char **envv = moo__calloc(env->n + params->n + 3, sizeof(*envv));
	char **argv = moo__calloc(3 + 2 * params->n, sizeof(*argv));
	struct moo__rt_in in;
	size_t i, ne = 0, na = 0;
	int r;

	for (i = 0; i < env->n; i++) {
		envv[ne++] = moo__printf("%s=%s", env->v[i].key, env->v[i].value);
	}
	envv[ne++] = moo__printf("MOO_JOB_ID=%s", job->id);
	envv[ne++] = moo__printf("MOO_OUTPUT_DIR=%s", outdir);
	if (dataset_dir) {
		envv[ne++] = moo__printf("MOO_DATASET_DIR=%s", dataset_dir);
	}
	for (i = 0; i < params->n; i++) {
		struct moo_buf w = MOO_BUF_INIT;
		const char *k;

		moo_buf_puts(&w, "MOO_PARAM_");
		for (k = params->v[i].key; *k; k++) {
			moo_buf_putc(&w, (char)(*k >= 'a' && *k <= 'z' ? *k - 'a' + 'A' : *k));
		}
		moo_buf_printf(&w, "=%s", params->v[i].value);
		envv[ne++] = moo_buf_detach(&w);
	}
	argv[na++] = moo__strdup(rt->interp.path);
	argv[na++] = moo__strdup("-u");
	argv[na++] = moo__strdup(spec->entry_point);
	for (i = 0; i < params->n; i++) {
		argv[na++] = moo__printf("--%s", params->v[i].key);
		argv[na++] = moo__strdup(params->v[i].value);
	}
	memset(&in, 0, sizeof(in));
	in.engine = rt->engine;
	in.engine_opts = (const char *const *)rt->engine_opts;
	in.n_engine_opts = rt->n_engine_opts;
	in.image = rt->image;
	in.name = job->id;
	in.accel = spec->resources.accelerator;
	in.count = spec->resources.count;
	in.cpus = spec->resources.cpus;
	in.memory = spec->resources.memory;
	in.job_dir = job->dir;
	in.work_dir = workdir;
	in.dataset_dir = dataset_dir;
	in.env = (const char *const *)envv;
	in.n_env = ne;
	in.argv = (const char *const *)argv;
	in.argc = na;
	r = moo__runtime_command(cmd, &in, err);
	for (i = 0; i < ne; i++) {
		free(envv[i]);
	}
	for (i = 0; i < na; i++) {
		free(argv[i]);
	}
	free(envv);
	free(argv);
	free(outdir);
	free(workdir);
	return r;
}

/* One of the scripts built into libmoo, or NULL. */
static const struct moo__embedded *script_named(const char *name)
{
	const struct moo__embedded *e;

	for (e = moo__embedded_scripts; e->name; e++) {
		if (!strcmp(e->name, name)) {
			return e;
		}
	}
	return NULL;
}

/*
 * The supervisor's script with its arguments set in front ("set -- OUT TEXT CMD…") and
 * killtree.sh's function, so one sh runs it: started detached in dir (transport spawn, or
 * setsid over the host's sh).
 */
static int supervisor_script(struct moo_buf *script, const struct moo_job *job,
			     struct moo_error **err)
{
	const struct moo__embedded *sup = script_named("supervisor.sh");
	const struct moo__embedded *kt = script_named("killtree.sh");

	if (!sup || !kt) {
		return moo__fail(err, MOO_EIO, "libmoo was built without its supervisor script");
	}
	moo_buf_puts(script, "set -- ");
	moo_buf_shquote(script, job->output_folder);
	moo_buf_putc(script, ' ');
	moo_buf_shquote(script, job->command);
	moo_buf_putc(script, ' ');
	moo_buf_puts(script, job->command);
	moo_buf_putc(script, '\n');
	moo_buf_add(script, kt->data, kt->size);
	moo_buf_add(script, sup->data, sup->size);
	return 0;
}

/* Starts the supervisor detached on the job's host; *status is how the start went. */
static int launch(struct moo__transport *t, const struct moo_job *job, struct moo_buf *errout,
		  int *status, struct moo_error **err)
{
	struct moo_buf script = MOO_BUF_INIT, line = MOO_BUF_INIT;
	int r = supervisor_script(&script, job, err);

	if (r) {
		goto done;
	}
	if (t->ops->spawn) {
		r = t->ops->spawn(t, job->dir, script.ptr, "process.log", err);
		*status = 0;
		goto done;
	}
	moo_buf_puts(&line, "cd ");
	moo_buf_shquote(&line, job->dir);
	moo_buf_puts(&line, " || exit 1; setsid sh -c ");
	moo_buf_shquote(&line, script.ptr);
	moo_buf_puts(&line, " moo-supervisor </dev/null >>process.log 2>&1 &");
	r = t->ops->exec(t, line.ptr, NULL, errout, status, err);
done:
	moo_buf_dispose(&script);
	moo_buf_dispose(&line);
	return r;
}

/* ---- process checks -------------------------------------------------------------- */

/* What /proc/PID/stat on the host says of a process. */
struct proc_info {
	unsigned long long start; /* field 22, its start time; 0: no such pid, or a zombie */
	long pgrp, sid;           /* fields 5 and 6 */
	char comm[32];            /* field 2, without its parentheses */
};

/*
 * Reads /proc/PID/stat on the host. Fails only when the host cannot be asked: a job is
 * never taken for gone because its host could not be reached.
 */
static int proc_info(struct moo__transport *t, long pid, struct proc_info *pi,
		     struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	char path[64];
	const char *p, *open_paren;
	int field, r = 0;

	memset(pi, 0, sizeof(*pi));
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (pid > 0) {
		r = t->ops->read_file(t, path, 0, 4096, &b, err);
		if (r == MOO_ENOTFOUND || (r && !moo__transport_is_remote(t))) {
			r = 0;
		}
	}
	if (r || pid <= 0 || !b.ptr) {
		goto done;
	}
	p = strrchr(b.ptr, ')');
	open_paren = strchr(b.ptr, '(');
	/* Field 3, the state: a zombie (ended, not yet reaped by its parent) is gone. */
	if (!p || !open_paren || open_paren > p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
		goto done;
	}
	snprintf(pi->comm, sizeof(pi->comm), "%.*s",
		 (int)(p - open_paren - 1 < 31 ? p - open_paren - 1 : 31), open_paren + 1);
	/* After "pid (comm)" comes field 3; walk to field 22. */
	for (field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
		if (p && field == 4) {
			pi->pgrp = strtol(p + 1, NULL, 10);
		} else if (p && field == 5) {
			pi->sid = strtol(p + 1, NULL, 10);
		}
	}
	if (p) {
		pi->start = strtoull(p + 1, NULL, 10);
	}
done:
	moo_buf_dispose(&b);
	return r;
}

/* *v gets the start time of pid on the host (field 22), or 0 when it does not run. */
static int proc_start(struct moo__transport *t, long pid, unsigned long long *v_out,
		      struct moo_error **err)
{
	struct proc_info pi;
	int r = proc_info(t, pid, &pi, err);

	*v_out = pi.start;
	return r;
}

/* ---- a job's own files and processes: trusted only as far as checked ---------------- */

/*
 * MOO_EIO: the job is bad, its files not what its supervisor writes, with why. A job's
 * code can rewrite every file of its folder; moo never acts on what it cannot check.
 */
static int bad_job(struct moo_error **err, const struct moo_job *job, const char *why)
{
	struct moo_error *e =
		moo__error_add(err, MOO_EIO, MOO_SEV_ERROR, "job '%s' is bad: %s", job->id, why);

	moo__error_hint(e,
			"the job changed its own files: stop what it runs yourself (moo ssh "
			"%s), remove '%s', then moo rm %s",
			job->id, job->dir, job->id);
	return MOO_EIO;
}

/*
 * Reads a file of the job's folder (read_file: a regular file, never a FIFO or a link):
 * one that is there but cannot be read as such makes the job bad.
 */
static int job_read(struct moo__transport *t, const struct moo_job *job, const char *path,
		    uint64_t offset, size_t max, struct moo_buf *out, struct moo_error **err)
{
	struct moo_error *e = NULL;
	int r = t->ops->read_file(t, path, offset, max, out, &e);

	if (r && r != MOO_ENOTFOUND && r != MOO_EHOST && e) {
		r = bad_job(err, job, e->message);
		moo_error_free(e);
		return r;
	}
	moo__error_append(err, e);
	return r;
}

/*
 * What the state says, as far as moo has not recorded it already: the supervisor's pid is
 * taken once (a job that rewrites its state later cannot make another process pass for
 * its supervisor).
 */
static void note_state(struct moo__transport *t, struct moo_job *job, const char *state)
{
	if (job->pid <= 0) {
		job->pid = (long)kv_int(state, "pid", 0);
	}
	if (job->started <= 0) {
		job->started = kv_time(t, state, "started");
	}
}

/* Whether the n bytes of needle are somewhere in the len bytes of hay. */
static bool has_bytes(const char *hay, size_t len, const char *needle, size_t n)
{
	size_t i;

	for (i = 0; n && i + n <= len; i++) {
		if (hay[i] == needle[0] && !memcmp(hay + i, needle, n)) {
			return true;
		}
	}
	return false;
}

/*
 * The job's process group as its state names it. 1 and *pgid set: its leader runs, started
 * when the state says, leads its own session, and has MOO_JOB_ID=<id> in its environment
 * (the supervisor exports it). 0: no process runs under that pid, or (lost: a state no
 * supervisor keeps) one that is not the job's. A pgid of 1 or less, or a process that is not
 * the job's leader while its supervisor runs, makes the job bad: a state the job rewrote
 * never turns cancel on another process.
 */
static int job_group(struct moo__transport *t, const struct moo_job *job, const char *state,
		     long *pgid, struct moo_error **err)
{
	long g = (long)kv_int(state, "pgid", 0);
	struct moo_buf env = MOO_BUF_INIT;
	char marker[64], why[160];
	struct proc_info pi;
	bool mine;
	int r;

	if (g <= 1) {
		snprintf(why, sizeof(why), "its state names the process group %ld", g);
		return bad_job(err, job, why);
	}
	r = proc_info(t, g, &pi, err);
	if (r || !pi.start) {
		return r;
	}
	mine = pi.start == (unsigned long long)kv_int(state, "pgid_start", -1) && pi.pgrp == g &&
	       pi.sid == g;
	if (mine) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%ld/environ", g);
		snprintf(marker, sizeof(marker), "MOO_JOB_ID=%s", job->id);
		mine = !t->ops->read_file(t, path, 0, 1u << 20, &env, NULL) && env.ptr &&
		       has_bytes(env.ptr, env.len, marker, strlen(marker) + 1);
		moo_buf_dispose(&env);
	}
	if (mine) {
		*pgid = g;
		return 1;
	}
	if (job->status == MOO_JOB_LOST) {
		return 0; /* its pid taken by another process since */
	}
	snprintf(why, sizeof(why),
		 "process %ld, which its state names as its group, is not the job's", g);
	return bad_job(err, job, why);
}

/*
 * killtree.sh on the host: sig to the job's processes (its group, its session and their
 * descendants, or its cgroup). *status: 0 signalled, 1 none left, 3 the group is not the
 * job's (its leader's start time changed since it was checked).
 */
static int signal_tree(struct moo__transport *t, const struct moo_job *job, const char *state,
		       long pgid, const char *sig, int *status, struct moo_error **err)
{
	const struct moo__embedded *kt = script_named("killtree.sh");
	struct moo_buf c = MOO_BUF_INIT;
	char *cg = kv_get(state, "cgroup"), *want = moo__printf("/%s", job->id);
	int r;

	if (!kt) {
		r = moo__fail(err, MOO_EIO, "libmoo was built without its supervisor script");
		goto done;
	}
	/* Only a cgroup the supervisor could have made for this job. */
	if (cg && (strncmp(cg, "/sys/fs/cgroup/", 15) || strstr(cg, "/.") ||
		   strlen(cg) < strlen(want) || strcmp(cg + strlen(cg) - strlen(want), want))) {
		free(cg);
		cg = NULL;
	}
	moo_buf_add(&c, kt->data, kt->size);
	moo_buf_printf(&c, "\nkilltree %s %ld %llu ", sig, pgid,
		       (unsigned long long)kv_int(state, "pgid_start", 0));
	moo_buf_shquote(&c, cg ? cg : "");
	r = t->ops->exec(t, c.ptr, NULL, NULL, status, err);
done:
	moo_buf_dispose(&c);
	free(cg);
	free(want);
	return r;
}

/*
 * Whether an exit file is the job's end: once its supervisor wrote it, the supervisor no
 * longer runs as itself (it is gone, or has become the mv that put exit in place, its last
 * step) and the group leader it waited for is gone. An exit the job wrote itself while it
 * runs is not its end.
 */
static int exit_is_end(struct moo__transport *t, const struct moo_job *job, const char *state,
		       bool *end, struct moo_error **err)
{
	struct proc_info pi;
	long g;
	int r;

	*end = true;
	if (!state || job->pid <= 0) {
		return 0;
	}
	r = proc_info(t, job->pid, &pi, err);
	if (r) {
		return r;
	}
	if (pi.start && pi.start == (unsigned long long)kv_int(state, "pid_start", -1) &&
	    strcmp(pi.comm, "mv")) {
		*end = false;
		return 0;
	}
	g = (long)kv_int(state, "pgid", 0);
	if (g > 1) {
		r = proc_info(t, g, &pi, err);
		if (!r && pi.start &&
		    pi.start == (unsigned long long)kv_int(state, "pgid_start", -1) &&
		    pi.sid == g) {
			*end = false;
		}
	}
	return r;
}

/* ---- metrics ----------------------------------------------------------------------- */

static void add_metric(struct moo_job *job, const char *name, size_t n, double v, int64_t step,
		       bool from_file)
{
	MOO_GROW(job->metrics, job->n_metrics);
	job->metrics[job->n_metrics++] =
		(struct moo_metric){moo__strndup(name, n), v, step, from_file};
}

/*
 * A metric line's step=, when it has one, is a whole number from 0 to 2^53 (exact in a
 * double and an int64); a line with another is refused whole, with a warning.
 */
static bool metric_step_ok(const char *p, const char *stop)
{
	const char *s;

	for (s = p; s + 5 <= stop; s++) {
		char buf[64], *e;
		size_t n = 0;
		double v;

		if (memcmp(s, "step=", 5) || (s > p && s[-1] != ' ' && s[-1] != '\t')) {
			continue;
		}
		while (s + 5 + n < stop && s[5 + n] != ' ' && s[5 + n] != '\t' &&
		       s[5 + n] != '\r') {
			n++;
		}
		if (n >= sizeof(buf)) {
			n = sizeof(buf) - 1; /* refused below: no such number is this long */
		}
		memcpy(buf, s + 5, n);
		buf[n] = '\0';
		v = strtod(buf, &e);
		if (n == sizeof(buf) - 1 || e == buf || *e ||
		    !(v >= 0 && v <= 9007199254740992.0) || v != floor(v)) {
			moo__warn(MOO_EIO,
				  "ignoring a 'moo:metric' line: step='%s' is not a whole "
				  "number from 0 to 2^53",
				  buf);
			return false;
		}
	}
	return true;
}

void moo_job_parse_metrics(struct moo_job *job, const char *text, size_t len)
{
	static const char tag[] = "moo:metric ";
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q, *stop;
		size_t first = job->n_metrics, i;
		int64_t step = -1;

		stop = eol ? eol : end;
		if ((size_t)(stop - p) > sizeof(tag) - 1 && !memcmp(p, tag, sizeof(tag) - 1) &&
		    metric_step_ok(p, stop)) {
			for (q = p + sizeof(tag) - 1; q < stop;) {
				const char *w = q, *eq;
				char buf[64], *e;
				size_t wl;
				double v;

				while (w < stop && (*w == ' ' || *w == '\t')) {
					w++;
				}
				q = w;
				while (q < stop && *q != ' ' && *q != '\t' && *q != '\r') {
					q++;
				}
				wl = (size_t)(q - w);
				if (q < stop && *q == '\r') {
					q++;
				}
				eq = memchr(w, '=', wl);
				if (!eq || eq == w || (size_t)(w + wl - eq - 1) >= sizeof(buf)) {
					continue;
				}
				memcpy(buf, eq + 1, (size_t)(w + wl - eq - 1));
				buf[w + wl - eq - 1] = '\0';
				v = strtod(buf, &e);
				if (e == buf || *e || !isfinite(v)) {
					continue;
				}
				if ((size_t)(eq - w) == 4 && !memcmp(w, "step", 4)) {
					step = (int64_t)v; /* in range: metric_step_ok */
					continue;
				}
				add_metric(job, w, (size_t)(eq - w), v, -1, false);
			}
			for (i = first; i < job->n_metrics; i++) {
				job->metrics[i].step = step;
			}
		}
		p = eol ? eol + 1 : end;
	}
}

static void read_metrics(struct moo__transport *t, struct moo_job *job)
{
	struct moo_buf b = MOO_BUF_INIT, carry = MOO_BUF_INIT;
	char *log = job_file(job, "process.log"), *mj;
	uint64_t off = 0;
	size_t i;

	for (i = 0; i < job->n_metrics; i++) {
		free(job->metrics[i].name);
	}
	job->n_metrics = 0;
	/* The log, chunk by chunk, lines cut at chunk ends carried over. */
	for (;;) {
		size_t cut;

		moo_buf_reset(&b);
		if (t->ops->read_file(t, log, off, LOG_CHUNK, &b, NULL) || !b.len) {
			break;
		}
		off += b.len;
		moo_buf_add(&carry, b.ptr, b.len);
		for (cut = carry.len; cut && carry.ptr[cut - 1] != '\n'; cut--) {
		}
		moo_job_parse_metrics(job, carry.ptr, cut);
		memmove(carry.ptr, carry.ptr + cut, carry.len - cut + 1);
		carry.len -= cut;
	}
	if (carry.len) {
		moo_job_parse_metrics(job, carry.ptr, carry.len);
	}
	/* metrics.json: a flat object of numbers in the output folder. */
	mj = moo__printf("%s/work/%s/metrics.json", job->dir, job->output_folder);
	moo_buf_reset(&b);
	if (!t->ops->read_file(t, mj, 0, LOG_CHUNK, &b, NULL) && b.len) {
		json_t *o = json_loadb(b.ptr, b.len, 0, NULL);
		const char *k;
		json_t *v;

		if (json_is_object(o)) {
			json_object_foreach(o, k, v)
			{
				if (json_is_number(v)) {
					add_metric(job, k, strlen(k), json_number_value(v), -1,
						   true);
				}
			}
		}
		json_decref(o);
	}
	free(mj);
	free(log);
	moo_buf_dispose(&b);
	moo_buf_dispose(&carry);
}

/*
 * Reads a job's state file. The supervisor writes it with one printf, not through a
 * rename (an mv started beside the job's own start slowed a short job by ~3 ms on two
 * cores), so a reader can find it empty or cut short. command= is its last field: until it
 * is there the state counts as not written yet (MOO_ENOTFOUND), and once it is, every field
 * before it is whole.
 */
static int read_state(struct moo__transport *t, const struct moo_job *job, const char *path,
		      struct moo_buf *b, struct moo_error **err)
{
	int r;

	moo_buf_reset(b);
	r = job_read(t, job, path, 0, 1 << 16, b, err);
	if (!r && (!b->ptr || (strncmp(b->ptr, "command=", 8) && !strstr(b->ptr, "\ncommand=")))) {
		moo_buf_reset(b);
		r = MOO_ENOTFOUND;
	}
	return r;
}

/* ---- refresh ------------------------------------------------------------------------ */

/* Where a remote job's result lands on this machine: <store folder>/results/<id>/. */
static char *results_dir(const struct moo_job *job)
{
	struct moo_buf p = MOO_BUF_INIT;
	char *slash, *dir = NULL;

	if (!moo_store_default_path(&p, NULL) && p.ptr) {
		slash = strrchr(p.ptr, '/');
		if (slash) {
			*slash = '\0';
		}
		dir = moo__printf("%s/results/%s", slash ? p.ptr : ".", job->id);
	}
	moo_buf_dispose(&p);
	return dir;
}

/*
 * Downloads a remote job's output folder into results_dir (pipelined SFTP reads; a cut
 * download resumes from its .moo-part files) and checks every file against the job's
 * MANIFEST.sha256 on the host. A result that does not match is removed here, so the next
 * try downloads it afresh. *local gets the folder's path.
 */
static int pull_result(struct moo__transport *t, const struct moo_job *job, char **local,
		       struct moo_error **err)
{
	char *out = moo__printf("%s/work/%s", job->dir, job->output_folder);
	char *cache = results_dir(job), *got = NULL, *mpath = job_file(job, "MANIFEST.sha256");
	struct moo_buf manifest = MOO_BUF_INIT;
	int r;

	if (!cache) {
		r = moo__fail(err, MOO_EIO, "cannot place the results of '%s'", job->id);
		goto done;
	}
	if ((r = moo__mkdir_p(cache, 0755, err)) ||
	    (r = t->ops->collect(t, out, cache, &got, err))) {
		goto done;
	}
	r = job_read(t, job, mpath, 0, 64u << 20, &manifest, err);
	if (r == MOO_ENOTFOUND) { /* a job stopped before its supervisor wrote one: its
				   * caller tells by MOO_ENOTFOUND; the error says EIO (exit 6) */
		moo__fail(err, MOO_EIO, "job '%s' has no MANIFEST.sha256 on '%s'", job->id,
			  t->host);
	}
	if (r) {
		goto done;
	}
	r = verify_manifest(manifest.len ? manifest.ptr : "", got, err);
	if (r) {
		moo__rm_rf(got);
		goto done;
	}
	*local = got;
	got = NULL;
done:
	moo_buf_dispose(&manifest);
	free(out);
	free(cache);
	free(got);
	free(mpath);
	return r;
}

/*
 * The job has an exit file: record how it ended and collect its result. Of a remote job
 * the result is downloaded now; when the host cannot be reached the job is left as it
 * was (and the next refresh tries again); a result that does not match its manifest
 * leaves result_path NULL (moo fetch says why).
 */
static int finish(struct moo__transport *t, struct moo_job *job, const char *exit_text,
		  struct moo_error **err)
{
	char *cancelled = job_file(job, "cancelled"), *out = NULL, *local = NULL;
	struct moo_error *perr = NULL;
	int r, pulled = 0;

	if (moo__transport_is_remote(t) && !defer_results) {
		r = pulled = pull_result(t, job, &local, &perr);
		if (r == MOO_EHOST) {
			moo__error_append(err, perr);
			free(cancelled);
			return r;
		}
	}
	job->signal = (int)kv_int(exit_text, "signal", 0);
	job->exit_code = job->signal ? -1 : (int)kv_int(exit_text, "code", -1);
	job->ended = kv_time(t, exit_text, "ended");
	if (job->ended <= 0) {
		job->ended = now();
	}
	if (t->ops->exists(t, cancelled)) {
		job->status = MOO_JOB_CANCELLED;
	} else {
		job->status = job->exit_code == 0 ? MOO_JOB_SUCCEEDED : MOO_JOB_FAILED;
	}
	read_metrics(t, job);
	{
		char *disk = kv_get(exit_text, "disk");

		if (disk && !strcmp(disk, "full")) {
			moo__warn(MOO_EIO, "job '%s' %s with the disk of '%s' on %s full", job->id,
				  moo_job_status_name(job->status), job->dir, t->host);
		}
		free(disk);
	}
	if (perr && pulled == MOO_ENOTFOUND && job->status != MOO_JOB_SUCCEEDED) {
		/* cancelled or killed before its supervisor hashed a result: there is none */
		moo_error_free(perr);
		perr = NULL;
	}
	if (perr) {
		/* It ended, and how is recorded (refresh); that its result is not here is said,
		 * not taken for success: moo fetch tries again. */
		struct moo_error *e =
			moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
				       "job '%s' %s, but its result could not be "
				       "downloaded from '%s'",
				       job->id, moo_job_status_name(job->status), t->host);

		moo__error_hint(e, "make room, then: moo fetch %s", job->id);
		moo__error_append(err, perr);
		free(local);
		free(cancelled);
		return MOO_EIO;
	}
	out = moo__printf("%s/work/%s", job->dir, job->output_folder);
	r = moo__transport_is_remote(t) ? 0 : t->ops->collect(t, out, NULL, &local, err);
	if (!r) {
		free(job->result_path);
		job->result_path = local;
		local = NULL;
	}
	free(local);
	free(out);
	free(cancelled);
	return r;
}

/*
 * <root>/staging/PID-ID.starting on this machine, while moo_job_start stages job ID: a
 * queued job with no command and no such file of a running moo never started (refresh).
 * starting_mark(&mark, id) makes it (replacing the last), starting_mark(&mark, NULL)
 * removes it.
 */
static void starting_mark(char **mark, const char *id)
{
	struct moo_buf p = MOO_BUF_INIT;
	int fd;

	if (*mark) {
		unlink(*mark);
		free(*mark);
		*mark = NULL;
	}
	if (!id || moo_job_root(&p, NULL)) {
		moo_buf_dispose(&p);
		return;
	}
	moo_buf_puts(&p, "/staging");
	moo__mkdir_p(p.ptr, 0700, NULL);
	moo_buf_printf(&p, "/%ld-%s.starting", (long)getpid(), id);
	fd = open(p.ptr, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		*mark = moo_buf_detach(&p);
	}
	moo_buf_dispose(&p);
}

/* Whether a running moo stages job id now (its starting_mark is there). */
static bool starting(const char *id)
{
	struct moo_buf p = MOO_BUF_INIT;
	bool yes = false;
	glob_t g;

	memset(&g, 0, sizeof(g));
	if (!moo_job_root(&p, NULL)) {
		moo_buf_puts(&p, "/staging");
		moo__sweep_dead(p.ptr, ""); /* a killed moo's mark goes */
		moo_buf_printf(&p, "/*-%s.starting", id);
		yes = glob(p.ptr, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
		globfree(&g);
	}
	moo_buf_dispose(&p);
	return yes;
}

static void set_detail(struct moo_job *job, const char *detail)
{
	free(job->detail);
	job->detail = detail ? moo__strdup(detail) : NULL;
}

/* The log of a job Slurm killed for passing its --mem without cgroups (slurmstepd's words). */
static bool log_says_oom(struct moo__transport *t, const struct moo_job *job)
{
	struct moo_buf b = MOO_BUF_INIT;
	char *log = job_file(job, "process.log");
	bool oom = false;

	if (!job_read(t, job, log, 0, 64u << 20, &b, NULL) && b.ptr) {
		oom = strstr(b.ptr, "Exceeded job memory limit") ||
		      strstr(b.ptr, "oom-kill event") || strstr(b.ptr, "Out Of Memory");
	}
	moo_buf_dispose(&b);
	free(log);
	return oom;
}

static bool slurm_waiting(const char *state)
{
	return !strcmp(state, "PENDING") || !strncmp(state, "REQUEUE", 7) ||
	       !strcmp(state, "CONFIGURING");
}

/*
 * A Slurm job: Slurm says whether it waits, runs or has ended, and how (TIMEOUT,
 * OUT_OF_MEMORY, NODE_FAIL, CANCELLED…: the detail); the supervisor's exit file, where it
 * wrote one, stays the truth of the exit code. A query that fails leaves the job as it was.
 */
static int refresh_slurm(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			 struct moo_error **err)
{
	struct moo__slurm_info info;
	struct moo_buf exit_text = MOO_BUF_INIT, state = MOO_BUF_INIT;
	char *exit_path = job_file(job, "exit"), *state_path = job_file(job, "state");
	enum moo_job_status before = job->status;
	char *detail_before = job->detail ? moo__strdup(job->detail) : NULL;
	bool known = false, has_exit;
	int r;

	if (!job->backend_id) {
		r = 0; /* staged, not submitted yet */
		goto done;
	}
	r = job_read(t, job, exit_path, 0, 4096, &exit_text, err);
	if (r && r != MOO_ENOTFOUND) {
		goto done;
	}
	has_exit = !r && exit_text.len;
	if ((r = moo__slurm_state(t, job->backend_id, &info, &known, err))) {
		goto done;
	}
	if (has_exit && known && slurm_waiting(info.state)) {
		/* an answer from before the job ran, or an exit file of a run before a requeue
		 * (its batch script removes it): Slurm is asked afresh */
		moo__slurm_forget(t->host);
		if ((r = moo__slurm_state(t, job->backend_id, &info, &known, err))) {
			goto done;
		}
	}
	if (!has_exit && (!known || moo__slurm_state_done(info.state))) {
		/* it may have ended between the read and Slurm's answer: look once more */
		moo_buf_reset(&exit_text);
		r = job_read(t, job, exit_path, 0, 4096, &exit_text, err);
		if (r && r != MOO_ENOTFOUND) {
			goto done;
		}
		has_exit = !r && exit_text.len;
		r = 0;
	}
	if (!read_state(t, job, state_path, &state, NULL) && job->started <= 0) {
		job->started = kv_time(t, state.ptr, "started");
	}
	if (known && !moo__slurm_state_done(info.state)) {
		bool waiting = !strcmp(info.state, "PENDING") ||
			       !strncmp(info.state, "REQUEUE", 7) ||
			       !strcmp(info.state, "CONFIGURING");

		if (has_exit && !waiting) {
			/* the supervisor is done; Slurm has not caught up yet */
			r = finish(t, job, exit_text.ptr, err);
			set_detail(job, NULL);
		} else if (waiting) {
			char *d = !strcmp(info.state, "PENDING")
					  ? moo__printf("pending: %s", info.reason)
					  : moo__printf("%s: %s", info.state, info.reason);

			for (char *c = d; *c && *c != ':'; c++) {
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
			}
			job->status = MOO_JOB_QUEUED;
			free(job->detail);
			job->detail = d;
		} else {
			job->status = MOO_JOB_RUNNING;
			set_detail(job, strcmp(info.state, "RUNNING") ? info.state : NULL);
		}
	} else if (known) {
		r = finish(t, job, has_exit ? exit_text.ptr : "", err);
		if (!has_exit && info.exit_code >= 0) {
			job->signal = info.signal;
			job->exit_code = info.signal ? -1 : info.exit_code;
		}
		set_detail(job, NULL);
		if (!strcmp(info.state, "CANCELLED")) {
			job->status = MOO_JOB_CANCELLED;
		} else if (!strcmp(info.state, "COMPLETED")) {
			if (!has_exit) {
				job->status = MOO_JOB_FAILED;
				set_detail(job, "no exit file");
			}
		} else if (!strcmp(info.state, "NODE_FAIL") || !strcmp(info.state, "BOOT_FAIL") ||
			   !strcmp(info.state, "PREEMPTED")) {
			/* the infrastructure failed it, not the entry point: a sweep retries it */
			job->status = MOO_JOB_LOST;
		} else if (job->status != MOO_JOB_CANCELLED) {
			job->status = MOO_JOB_FAILED;
		}
		if (strcmp(info.state, "COMPLETED") && job->status != MOO_JOB_SUCCEEDED &&
		    job->status != MOO_JOB_CANCELLED && !job->detail) {
			char low[32];
			size_t i;

			for (i = 0; info.state[i] && i < sizeof(low) - 1; i++) {
				char c = info.state[i];

				low[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			}
			low[i] = '\0';
			if (!strcmp(info.state, "OUT_OF_MEMORY") ||
			    (!strcmp(info.state, "FAILED") && log_says_oom(t, job))) {
				set_detail(job, "out_of_memory");
			} else {
				set_detail(job, low);
			}
		}
	} else if (has_exit) {
		r = finish(t, job, exit_text.ptr, err);
	} else if (now() - job->created > 60) {
		job->status = MOO_JOB_LOST;
		job->ended = now();
		set_detail(job, "unknown to Slurm");
	}
	if (!r && (job->status != before || moo_job_status_done(job->status) ||
		   (job->detail ? !detail_before || strcmp(job->detail, detail_before)
				: detail_before != NULL))) {
		r = moo_store_update_job(st, job, err);
	}
done:
	moo_buf_dispose(&exit_text);
	moo_buf_dispose(&state);
	free(exit_path);
	free(state_path);
	free(detail_before);
	return r;
}

static int refresh(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
		   struct moo_error **err)
{
	struct moo_buf exit_text = MOO_BUF_INIT, state = MOO_BUF_INIT;
	char *exit_path = job_file(job, "exit"), *state_path = job_file(job, "state");
	enum moo_job_status before = job->status;
	bool grew = false; /* a running job logged new metrics */
	int r, tries;

	if (moo_job_status_done(job->status)) {
		r = 0;
		goto done;
	}
	if (moo__slurm_host(job->host)) {
		r = refresh_slurm(t, st, job, err);
		goto done;
	}
	if (job->status == MOO_JOB_QUEUED && !job->command && job->dir && !starting(job->id)) {
		/* The moo that staged it was killed before it could start it: it never ran. */
		struct moo_buf rm = MOO_BUF_INIT;
		int status;

		moo_buf_puts(&rm, "rm -rf -- ");
		moo_buf_shquote(&rm, job->dir);
		t->ops->exec(t, rm.ptr, NULL, NULL, &status, NULL);
		moo_buf_dispose(&rm);
		moo__sweep_tmp(); /* and its zip */
		job->status = MOO_JOB_FAILED;
		job->ended = now();
		r = 0;
		goto save;
	}
	/* The state first: when and as which pid it started, even for a job that ended. */
	r = read_state(t, job, state_path, &state, err);
	if (r && r != MOO_ENOTFOUND) {
		goto done;
	}
	if (!r) {
		note_state(t, job, state.ptr);
	}
	for (tries = 0; tries < 2; tries++) {
		moo_buf_reset(&exit_text);
		r = job_read(t, job, exit_path, 0, 4096, &exit_text, err);
		if (r == 0 && exit_text.len) {
			bool end;

			r = exit_is_end(t, job, state.len ? state.ptr : NULL, &end, err);
			if (r) {
				goto done;
			}
			if (!end) {
				/* an exit the job wrote itself: it runs on */
				job->status = MOO_JOB_RUNNING;
				goto save;
			}
			r = finish(t, job, exit_text.ptr, err);
			if (r == MOO_EIO && moo_job_status_done(job->status)) {
				moo_store_update_job(st, job,
						     NULL); /* ended; its result not here */
			}
			goto save;
		}
		if (r && r != MOO_ENOTFOUND) {
			goto done;
		}
		if (tries) {
			break;
		}
		r = 0;
		if (!state.len) {
			moo_buf_reset(&state);
			r = read_state(t, job, state_path, &state, err);
		}
		if (r == MOO_ENOTFOUND) {
			/* Not started yet; a supervisor that never wrote state is lost. */
			if (now() - job->created < 60) {
				r = 0;
				goto done;
			}
			break;
		}
		if (r) {
			goto done;
		}
		note_state(t, job, state.ptr);
		if (job->pid > 0) {
			unsigned long long started_at = 0;

			r = proc_start(t, job->pid, &started_at, err);
			if (r) {
				goto done;
			}
			if (started_at == (unsigned long long)kv_int(state.ptr, "pid_start", -1)) {
				size_t had = job->n_metrics;

				/* what it has logged so far shows in ps, show and compare */
				job->status = MOO_JOB_RUNNING;
				read_metrics(t, job);
				grew = job->n_metrics != had;
				goto save;
			}
		}
		/* The supervisor is gone: look once more for an exit file it wrote meanwhile. */
	}
	job->status = MOO_JOB_LOST;
	job->ended = now();
	r = 0;
save:
	/* The supervisor's times count from the host's boot, whose time /proc/stat gives in
	 * whole seconds: kept in order with the record's own, created <= started <= ended. */
	if (job->started > 0 && job->started < job->created) {
		job->started = job->created;
	}
	if (job->ended > 0 && job->ended < (job->started > 0 ? job->started : job->created)) {
		job->ended = job->started > 0 ? job->started : job->created;
	}
	if (!r && !defer_results &&
	    (job->status != before || moo_job_status_done(job->status) || grew)) {
		r = moo_store_update_job(st, job, err);
	}
done:
	moo_buf_dispose(&exit_text);
	moo_buf_dispose(&state);
	free(exit_path);
	free(state_path);
	return r;
}

int moo_job_refresh(struct moo_store *st, struct moo_job *job, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	int r;

	if (moo_job_status_done(job->status)) {
		return 0;
	}
	r = open_host(&t, job->host, err);
	if (!r) {
		r = refresh(t, st, job, err);
	}
	moo__transport_close(t);
	return r;
}

/* ---- start ---------------------------------------------------------------------------- */

static void put_text(struct moo_buf *b, const char *s)
{
	moo_buf_puts(b, s ? s : "");
}

/* Keeps the bundle's zip as <root>/bundles/<sha256>.zip on the host, unless it is there. */
static int keep_zip(struct moo__transport *t, const struct moo_bundle *b, struct moo_error **err)
{
	char *path = moo__printf("%s/bundles/%s.zip", t->root, b->sha256);
	struct moo_error *perr = NULL;
	int r = 0;

	if (b->zip_path && !t->ops->exists(t, path)) {
		char *dir = moo__path_join(t->root, "bundles");

		r = t->ops->mkdir_p(t, dir, &perr);
		free(dir);
		if (!r) {
			r = t->ops->put(t, b->zip_path, path, false, &perr);
		}
		if (r && t->ops->exists(t, path)) {
			r = 0; /* another job put it there first */
		}
		if (r) {
			moo__error_append(err, perr);
			perr = NULL;
		}
	}
	moo_error_free(perr);
	free(path);
	return r;
}

/*
 * Stages a job on a remote host. The host keeps each bundle once, extracted, in
 * bundles/<sha256>/: the bundle is extracted and checked here (moo_bundle_extract, with
 * every rule and cap), so the host needs no unzip and runs no extraction code; the tree
 * is sent once (put: under a temporary name renamed at the end, so a cut upload never
 * looks complete) and copied with 'cp -R' into each job's work/. The ZIP is not sent as
 * well: jobs use the tree, and sending both would double the bytes. *sent gets the bytes
 * of files sent (0 when the host had the bundle).
 */
static int stage_remote(struct moo__transport *t, const struct moo_bundle *b,
			const struct moo_job *job, uint64_t *sent, struct moo_error **err)
{
	char *bdir = moo__printf("%s/bundles/%s", t->root, b->sha256);
	char *parent = moo__path_join(t->root, "bundles"), *stage = NULL;
	struct moo_buf root = MOO_BUF_INIT, cmd = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	int r, status = -1;

	*sent = 0;
	if (!moo__is_sha256_hex(b->sha256)) {
		r = moo__fail(err, MOO_EBUNDLE, "the bundle has no sha256");
		goto done;
	}
	if (!t->ops->exists(t, bdir)) {
		struct moo_error *perr = NULL;

		if ((r = moo_job_root(&root, err))) {
			goto done;
		}
		moo_buf_puts(&root, "/staging");
		if ((r = moo__mkdir_p(root.ptr, 0700, err))) {
			goto done;
		}
		moo__sweep_dead(root.ptr, ""); /* what a killed moo left */
		stage = moo__printf("%s/%ld-%s.up", root.ptr, (long)getpid(), job->id);
		if ((r = moo_bundle_extract(b, stage, NULL, err))) {
			free(stage);
			stage = NULL;
			goto done;
		}
		r = t->ops->mkdir_p(t, parent, &perr);
		moo__transport_sweep(t, parent); /* a bundle a killed moo left half sent */
		if (!r) {
			r = t->ops->put(t, stage, bdir, false, &perr);
		}
		if (r && t->ops->exists(t, bdir)) {
			r = 0; /* another moo sent it meanwhile */
		} else if (!r) {
			*sent = b->total_bytes;
		}
		if (r) {
			moo__error_append(err, perr);
			perr = NULL;
			goto done;
		}
		moo_error_free(perr);
	}
	moo_buf_puts(&cmd, "cp -R -- ");
	moo_buf_shquote(&cmd, bdir);
	moo_buf_puts(&cmd, " ");
	{
		char *work = job_file(job, "work"), *meta = job_file(job, "metadata.yaml");
		char *in = moo__printf("%s/metadata.yaml", bdir);
		char *outdir = moo__printf("%s/%s", work, job->output_folder);

		moo_buf_shquote(&cmd, work);
		moo_buf_puts(&cmd, " && cp -- ");
		moo_buf_shquote(&cmd, in);
		moo_buf_putc(&cmd, ' ');
		moo_buf_shquote(&cmd, meta);
		moo_buf_puts(&cmd, " && mkdir -p -- ");
		moo_buf_shquote(&cmd, outdir);
		free(work);
		free(meta);
		free(in);
		free(outdir);
	}
	if ((r = t->ops->exec(t, cmd.ptr, NULL, &errout, &status, err))) {
		goto done;
	}
	if (status) {
		struct moo_error *e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
						     "cannot stage '%s' on '%s' (exit %d)", job->id,
						     t->host, status);

		put_text(&errout, NULL);
		moo__error_cause(e, errout.ptr);
		r = MOO_EIO;
	}
done:
	if (stage) {
		moo__rm_rf(stage);
	}
	moo_buf_dispose(&root);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&errout);
	free(bdir);
	free(parent);
	free(stage);
	return r;
}

/* jobs/<id>/job.json on a remote host: what another client needs to know the job. */
static int write_record(struct moo__transport *t, const struct moo_job *job, struct moo_error **err)
{
	json_t *o = json_object();
	char *text, *path = job_file(job, "job.json");
	int r;

	json_object_set_new(o, "id", json_string(job->id));
	json_object_set_new(o, "name", job->name ? json_string(job->name) : json_null());
	json_object_set_new(o, "source", json_string(job->source ? job->source : ""));
	json_object_set_new(o, "source_sha256",
			    job->source_sha256 ? json_string(job->source_sha256) : json_null());
	json_object_set_new(o, "spec", json_string(job->spec_json ? job->spec_json : "null"));
	json_object_set_new(o, "params", json_string(job->params_json ? job->params_json : "{}"));
	json_object_set_new(o, "output_folder", json_string(job->output_folder));
	json_object_set_new(o, "command", json_string(job->command ? job->command : ""));
	json_object_set_new(o, "created", json_real(job->created));
	json_object_set_new(o, "bytes_sent", json_integer((json_int_t)job->bytes_sent));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	r = t->ops->write_file(t, path, text ? text : "{}", text ? strlen(text) : 2, 0644, err);
	free(text);
	free(path);
	return r;
}

/*
 * A Slurm job's batch script, <job>/slurm.sh: into the job directory, the exit file of an
 * earlier run gone (a requeued job runs again), then the supervisor. Submitted at once with
 * sbatch --parsable unless staged only (a sweep submits its points as one array); the
 * job's stdout and stderr append to process.log as on any host. The job is queued.
 */
static int submit_slurm(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			const char *args, bool staged_only, struct moo_error **err)
{
	struct moo_buf script = MOO_BUF_INIT, extra = MOO_BUF_INIT;
	char *path = job_file(job, "slurm.sh"), *log = job_file(job, "process.log"), *id = NULL;
	int r;

	moo_buf_puts(&script, "#!/bin/sh\ncd ");
	moo_buf_shquote(&script, job->dir);
	moo_buf_puts(&script, " || exit 1\nrm -f exit exit.tmp\n");
	if ((r = supervisor_script(&script, job, err)) ||
	    (r = t->ops->write_file(t, path, script.ptr, script.len, 0755, err))) {
		goto done;
	}
	if (staged_only) {
		goto done;
	}
	moo_buf_puts(&extra, " --job-name=");
	moo_buf_shquote(&extra, job->id);
	moo_buf_puts(&extra, " --open-mode=append --output=");
	moo_buf_shquote(&extra, log);
	moo_buf_puts(&extra, " --chdir=");
	moo_buf_shquote(&extra, job->dir);
	if ((r = moo__slurm_submit(t, path, args, extra.ptr, &id, err))) {
		goto done;
	}
	job->backend_id = id;
	set_detail(job, "submitted");
	r = moo_store_update_job(st, job, err);
done:
	moo_buf_dispose(&script);
	moo_buf_dispose(&extra);
	free(path);
	free(log);
	return r;
}

int moo_job_start(struct moo_job **out, struct moo_store *st, const struct moo_bundle *b,
		  const struct moo_run_opts *opts, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo__runtime rt;
	struct kvlist params = {NULL, 0}, env = {NULL, 0};
	struct moo_buf cmd = MOO_BUF_INIT, spec_json = MOO_BUF_INIT;
	struct moo_buf stage_root = MOO_BUF_INIT, sherr = MOO_BUF_INIT, state = MOO_BUF_INIT;
	struct moo_job *job = NULL;
	struct moo__dataset ds;
	struct moo_plan *plan = NULL;
	struct moo_buf lock = MOO_BUF_INIT;
	char *stage = NULL, *path = NULL, *jobs_dir = NULL, *mark = NULL;
	const struct moo_spec *spec = b->spec;
	struct moo_spec slurm_spec;
	struct moo_buf slurm_args = MOO_BUF_INIT;
	bool recorded = false, staged = false;
	double t0;
	int r, status, tries;

	memset(&rt, 0, sizeof(rt));
	if ((r = MOO__OPTS_VERSION(opts, MOO_RUN_OPTS_VERSION, "moo_run_opts", err))) {
		return r;
	}
	memset(&ds, 0, sizeof(ds));
	r = moo__transport_open_flags(
		&t, opts && opts->version >= 2 && opts->host ? opts->host : "local",
		opts && opts->version >= 2 && opts->accept_new_host_key
			? MOO__SSH_ACCEPT_NEW | MOO__SSH_EAGER
			: MOO__SSH_EAGER,
		err);
	if (r) {
		goto done;
	}
	r = apply_sets(spec, opts, &params, &env, err);
	if (r) {
		goto done;
	}
	/* Nothing is created before we know the host can run it. A Slurm login node is
	 * asked only for the interpreter or engine (the compute nodes see the same files):
	 * the GPUs are Slurm's to find (--gres), so its plan has no preflight. */
	if (moo__slurm_host(opts && opts->version >= 2 ? opts->host : NULL)) {
		moo_buf_puts(&slurm_args, ""); /* non-NULL: a Slurm job */
		slurm_spec = *spec;
		slurm_spec.resources.accelerator = MOO_ACCEL_CPU;
		slurm_spec.resources.count = 0;
		r = moo__slurm_args(&slurm_args, opts->version >= 6 ? opts->slurm : NULL, spec,
				    err);
		if (r) {
			goto done;
		}
	}
	/* The plan: the caller's, a lock given as text, else made now (probe, resolve, pin). */
	if (opts && opts->version >= 5 && opts->plan) {
		plan = moo_plan_dup(opts->plan);
		if (!plan) {
			r = moo__fail(err, MOO_EARG, "the plan names no framework or no runtime");
			goto done;
		}
	} else if (opts && opts->version >= 3 && opts->lock) {
		r = moo_lock_parse(&plan, opts->lock, strlen(opts->lock), "moo.lock", err);
	} else {
		struct moo_plan_opts po = MOO_PLAN_OPTS_INIT;

		po.runtime = opts && opts->version >= 3 ? opts->runtime : NULL;
		po.image = opts && opts->version >= 3 ? opts->image : NULL;
		po.no_preflight = slurm_args.ptr != NULL;
		r = moo__plan_make(&plan, t, st, b, &po, err);
	}
	if (r) {
		goto done;
	}
	/* Nothing is created before we know the host can run it. */
	r = moo__runtime_prepare(&rt, t, st, slurm_args.ptr ? &slurm_spec : spec, plan, err);
	if (r) {
		goto done;
	}
	{
		/* What runs, recorded now: a replayed lock's interpreter and packages must
		 * still be what the host has. A lock names its command; a new plan does not. */
		struct moo_plan *now = moo_plan_dup(plan);
		bool replayed = plan->command != NULL;

		r = now ? moo__runtime_record(now, &rt, t, st, err) : MOO_EARG;
		if (!r && rt.engine == MOO__ENGINE_HOST &&
		    !(opts && opts->version >= 5 && opts->allow_drift) &&
		    (plan->interpreter || plan->n_packages)) {
			r = moo__plan_drift(plan, now, t->host, err);
		}
		moo_plan_free(plan);
		plan = now;
		if (r) {
			goto done;
		}
		/* the host it runs on now, the bundle it runs, when */
		if (replayed || !plan->host_facts ||
		    strcmp(plan->host ? plan->host : "", t->host)) {
			struct moo_host_facts *f = NULL;
			struct moo_buf fj = MOO_BUF_INIT;

			r = moo__host_facts(&f, t, st, err);
			if (r) {
				goto done;
			}
			moo_host_facts_to_json(f, &fj);
			moo_host_facts_free(f);
			free(plan->host_facts);
			plan->host_facts = moo_buf_detach(&fj);
		}
		free(plan->host);
		plan->host = moo__strdup(t->host);
		free(plan->bundle_sha256);
		plan->bundle_sha256 = b->sha256 ? moo__strdup(b->sha256) : NULL;
		free(plan->bundle_source);
		plan->bundle_source = b->source ? moo__strdup(b->source) : NULL;
	}
	/* The dataset on the host, verified, before the job exists (dataset.c); a lock given
	 * beside the plan (moo reproduce) names the sha256 the data must have. */
	r = moo__dataset_place(t, b, opts && opts->version >= 3 ? opts->lock : NULL, &ds, err);
	if (r) {
		goto done;
	}
	job = moo__calloc(1, sizeof(*job));
	job->name = opts && opts->name ? moo__strdup(opts->name) : NULL;
	job->source = moo__strdup(b->source ? b->source : "");
	job->source_sha256 = b->sha256 ? moo__strdup(b->sha256) : NULL;
	moo_spec_to_json(spec, &spec_json);
	job->spec_json = moo_buf_detach(&spec_json);
	job->params_json = params_to_json(&params);
	job->host = moo__strdup(slurm_args.ptr ? opts->host : t->host);
	job->sweep_index = -1;
	if (opts && opts->version >= 6 && opts->sweep) {
		job->sweep = moo__strdup(opts->sweep);
		job->sweep_index = opts->sweep_index;
	}
	job->output_folder =
		moo__strdup(spec->output_folder ? spec->output_folder : "training_result");
	job->status = MOO_JOB_QUEUED;
	job->exit_code = -1;
	jobs_dir = moo__path_join(t->root, "jobs");
	r = t->ops->mkdir_p(t, jobs_dir, err);
	if (r) {
		goto done;
	}
	/* An id no job has, here or in the store. */
	for (tries = 0;; tries++) {
		struct moo_error *aerr = NULL;

		free(job->id);
		free(job->dir);
		job->id = moo__random_id("moo-job-");
		job->dir = moo__path_join(jobs_dir, job->id);
		job->created = now();
		if (t->ops->exists(t, job->dir)) {
			continue;
		}
		starting_mark(&mark, job->id);
		r = moo_store_add_job(st, job, &aerr);
		if (r != MOO_EEXIST || tries >= 8) {
			/* a full or read-only store is said, not only an id taken 8 times */
			moo__error_append(err, aerr);
			break;
		}
		moo_error_free(aerr);
	}
	if (r) {
		goto done;
	}
	recorded = true;
	job->bytes_sent = moo__transport_is_remote(t) ? ds.sent : 0;
	r = t->ops->mkdir_p(t, job->dir, err);
	if (r) {
		goto done;
	}
	if (moo__transport_is_remote(t)) {
		struct moo__transport *here = NULL;

		uint64_t sent = 0;

		r = stage_remote(t, b, job, &sent, err);
		job->bytes_sent += sent;
		/* The zip stays here too, so 'moo reproduce' finds the bundle by its sha256. */
		if (!r) {
			r = moo__transport_local_open(&here, err);
		}
		if (!r) {
			r = keep_zip(here, b, err);
		}
		moo__transport_close(here);
		if (r) {
			goto done;
		}
		goto staged_remote;
	}
	/* Stage: extract here, then hand the tree to the host's work/. */
	r = moo_job_root(&stage_root, err);
	if (r) {
		goto done;
	}
	moo_buf_puts(&stage_root, "/staging");
	r = moo__mkdir_p(stage_root.ptr, 0700, err);
	if (r) {
		goto done;
	}
	moo__sweep_dead(stage_root.ptr, ""); /* what a killed moo left: named by its pid */
	stage = moo__printf("%s/%ld-%s", stage_root.ptr, (long)getpid(), job->id);
	r = moo_bundle_extract(b, stage, NULL, err);
	if (r) {
		goto done;
	}
	staged = true;
	path = moo__printf("%s/%s", stage, job->output_folder);
	r = moo__mkdir_p(path, 0755, err);
	if (r) {
		goto done;
	}
	free(path);
	path = moo__printf("%s/metadata.yaml", stage);
	{
		char *dst = job_file(job, "metadata.yaml");

		r = t->ops->put(t, path, dst, false, err);
		free(dst);
	}
	if (r) {
		goto done;
	}
	free(path);
	path = job_file(job, "work");
	r = t->ops->put(t, stage, path, true, err);
	if (r) {
		goto done;
	}
	staged = false;
	free(path);
	path = NULL;
	r = keep_zip(t, b, err);
	if (r) {
		goto done;
	}
staged_remote:
	free(path);
	path = moo__printf("%s/work/params.json", job->dir);
	r = t->ops->write_file(t, path, job->params_json, strlen(job->params_json), 0644, err);
	if (r) {
		goto done;
	}
	r = build_command(&cmd, job, &rt, spec, &params, &env, ds.dir, err);
	if (r) {
		goto done;
	}
	if (ds.log.len) {
		moo_buf_add(&rt.log, ds.log.ptr, ds.log.len);
		r = moo__dataset_use(t, &ds, job->id, err);
		if (r) {
			goto done;
		}
	}
	{
		/*
		 * The lock of what runs: in the store (the next update records it), beside the
		 * job, and in the result folder (it is in MANIFEST.sha256).
		 */
		free(plan->command);
		plan->command = moo__strdup(cmd.ptr);
		free(plan->created);
		plan->created = NULL;
		{
			char when[32];
			time_t tnow = time(NULL);
			struct tm tm;

			gmtime_r(&tnow, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			plan->created = moo__strdup(when);
		}
		moo_lock_write(plan, &lock);
		if (ds.dir) { /* the data it ran on, after the bundle */
			char *with = moo__dataset_lock(lock.ptr, spec->dataset.name, &ds);

			moo_buf_reset(&lock);
			moo_buf_puts(&lock, with);
			free(with);
		}
		job->lock = moo__strdup(lock.ptr);
		free(path);
		path = job_file(job, "moo.lock");
		r = t->ops->write_file(t, path, lock.ptr, lock.len, 0644, err);
		if (r) {
			goto done;
		}
		free(path);
		path = moo__printf("%s/work/%s/moo.lock", job->dir, job->output_folder);
		r = t->ops->write_file(t, path, lock.ptr, lock.len, 0644, err);
		if (r) {
			goto done;
		}
	}
	if (rt.log.len) {
		/* What was built or found for this job heads its log. */
		free(path);
		path = job_file(job, "process.log");
		r = t->ops->write_file(t, path, rt.log.ptr, rt.log.len, 0644, err);
		if (r) {
			goto done;
		}
	}
	job->command = moo_buf_detach(&cmd);
	if (moo__transport_is_remote(t) && (r = write_record(t, job, err))) {
		free(job->command);
		job->command = NULL; /* nothing ran: removed below */
		goto done;
	}
	r = moo_store_update_job(st, job, err);
	if (r) {
		goto done;
	}
	if (slurm_args.ptr) {
		r = submit_slurm(t, st, job, slurm_args.ptr, opts->version >= 6 && opts->no_launch,
				 err);
		if (!r) {
			*out = job;
			job = NULL;
		} else {
			free(job->command);
			job->command = NULL; /* Slurm refused it: nothing runs, nothing stays */
		}
		goto done;
	}
	r = launch(t, job, &sherr, &status, err);
	if (r) {
		goto done;
	}
	if (status != 0) {
		struct moo_error *e;

		e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
				   "cannot start the supervisor of '%s' on %s (exit %d)", job->id,
				   t->host, status);
		put_text(&sherr, NULL);
		moo__error_cause(e, sherr.ptr);
		r = MOO_EIO;
		goto done;
	}
	if (opts && opts->version >= 4 && opts->no_wait && moo__transport_is_remote(t)) {
		/* The caller follows the job: its log is read while the supervisor starts. */
		*out = job;
		job = NULL;
		goto done;
	}
	/* Wait for the supervisor to say it runs (or already ran). */
	free(path);
	path = job_file(job, "state");
	for (t0 = now(); read_state(t, job, path, &state, NULL); wait_change(t, job->dir, 0.002)) {
		if (now() - t0 > STATE_WAIT_S) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
					   "the supervisor of '%s' did not start within %.0f s",
					   job->id, STATE_WAIT_S);
			moo__error_hint(e, "see %s/process.log", job->dir);
			r = MOO_EIO;
			goto done;
		}
	}
	r = refresh(t, st, job, err);
	if (r) {
		goto done;
	}
	*out = job;
	job = NULL;
done:
	if (r && job && recorded && !job->command) {
		/* Failed before it could run: leave nothing behind (the folder first: on a
		 * full disk that makes the room the store needs to forget the job). */
		if (job->dir) {
			struct moo_buf rm = MOO_BUF_INIT;

			moo_buf_puts(&rm, "rm -rf -- ");
			moo_buf_shquote(&rm, job->dir);
			t->ops->exec(t, rm.ptr, NULL, NULL, &status, NULL);
			moo_buf_dispose(&rm);
		}
		moo_store_remove_job(st, job->id, NULL);
	} else if (r && job && recorded && r != MOO_EHOST) {
		/* (a host that could not be reached after the launch may run it all the same:
		 * the record stays as it is, and the next refresh tells) */
		job->status = MOO_JOB_FAILED;
		job->ended = now();
		moo_store_update_job(st, job, NULL);
	}
	if (staged) {
		moo__rm_rf(stage);
	}
	starting_mark(&mark, NULL);
	moo_job_free(job);
	moo__runtime_dispose(&rt);
	moo_plan_free(plan);
	moo_buf_dispose(&lock);
	moo__dataset_dispose(&ds);
	kvlist_dispose(&params);
	kvlist_dispose(&env);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&spec_json);
	moo_buf_dispose(&stage_root);
	moo_buf_dispose(&sherr);
	moo_buf_dispose(&state);
	moo_buf_dispose(&slurm_args);
	moo__transport_close(t);
	free(stage);
	free(path);
	free(jobs_dir);
	return r;
}

/* ---- logs ------------------------------------------------------------------------------- */

/*
 * After a lost connection to a remote host: connects again with backoff (0.5 s doubling
 * to 5 s) for up to $MOO_RECONNECT_S seconds (default RECONNECT_S), or until *stop.
 */
static int reconnect(struct moo__transport **t, const char *host, const volatile sig_atomic_t *stop,
		     struct moo_error **err)
{
	const char *env = getenv("MOO_RECONNECT_S");
	double limit = env && *env ? strtod(env, NULL) : RECONNECT_S, t0 = now(), wait = 0.5;

	for (;;) {
		struct moo_error *e = NULL;
		int r = *t ? moo__transport_reopen(t, &e) : moo__transport_open(t, host, &e);

		if (!r) {
			return 0;
		}
		if (r != MOO_EHOST || now() - t0 + wait > limit || (stop && *stop)) {
			moo__error_append(err, e);
			return r;
		}
		moo_error_free(e);
		nap(wait);
		wait = wait * 2 > 5 ? 5 : wait * 2;
	}
}

/*
 * A log cut shorter than the offset followed (truncated while the job runs): the offset
 * goes to its new end, with a warning, so what is written after is not lost.
 */
static void log_shrunk(struct moo__transport *t, const struct moo_job *job, const char *log,
		       uint64_t *off, struct moo_error **warn)
{
	uint64_t size = 0;

	if (t->ops->file_size && !t->ops->file_size(t, log, &size, NULL) && size < *off) {
		struct moo_error *e = moo__error_add(
			warn, MOO_EIO, MOO_SEV_WARNING,
			"the log of '%s' was cut from %llu to %llu bytes while it was followed; "
			"following on from its new end",
			job->id, (unsigned long long)*off, (unsigned long long)size);

		moo__error_hint(e, "what was written between the two is lost: the job truncated "
				   "its process.log");
		*off = size;
	}
}

/*
 * refresh while a job is followed. A job whose files are bad for a moment is followed on
 * for up to BAD_WAIT_S: its supervisor removes what the job put in place of exit when the
 * job ends, and a follower should not give up on it before.
 */
static int follow_refresh(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			  double *bad_since, struct moo_error **err)
{
	struct moo_error *e = NULL;
	int r = refresh(t, st, job, &e);

	if (r == MOO_EIO && !moo_job_status_done(job->status)) {
		if (*bad_since <= 0) {
			*bad_since = now();
		}
		if (now() - *bad_since < BAD_WAIT_S) {
			moo_error_free(e);
			nap(0.05);
			return 0;
		}
	} else if (!r) {
		*bad_since = 0;
	}
	moo__error_append(err, e);
	return r;
}

int moo_job_logs(struct moo_store *st, struct moo_job *job, uint64_t *offset, bool follow,
		 moo_log_cb cb, void *cb_data, const volatile sig_atomic_t *stop,
		 struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_error *lerr = NULL, *warn = NULL;
	char *log = job_file(job, "process.log"), *exit_path = job_file(job, "exit");
	uint64_t off = *offset;
	double wait = 0.002, last_check = now(), bad_since = 0;
	bool ended = false, idle = false;
	int r;

	r = open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	for (;;) {
		size_t cut;

		if (r == MOO_EHOST && follow && moo__transport_is_remote(t)) {
			/* Lost the host: reach it again and go on from the same byte. */
			moo_error_free(lerr);
			lerr = NULL;
			r = reconnect(&t, job->host, stop, &lerr);
			if (r) {
				goto done;
			}
			ended = false;
		}

		/* Whether it has ended is asked before the read (then the read sees it all), and
		 * only once a read brought nothing: a job writing its log is not asked. */
		if (follow && !ended && (idle || moo_job_status_done(job->status))) {
			ended = t->ops->exists(t, exit_path) || moo_job_status_done(job->status);
			if (ended) {
				log_shrunk(t, job, log, &off, &warn);
				*offset = off;
			}
		}
		moo_buf_reset(&b);
		r = job_read(t, job, log, off, LOG_CHUNK, &b, &lerr);
		if (r == MOO_ENOTFOUND) {
			r = 0;
		}
		if (r == MOO_EHOST && follow && moo__transport_is_remote(t)) {
			continue;
		}
		if (r) {
			goto done;
		}
		cut = b.len;
		idle = false;
		if (follow && !ended) {
			while (cut && b.ptr[cut - 1] != '\n') {
				cut--;
			}
			if (!cut && b.len == LOG_CHUNK) {
				cut = b.len; /* one endless line: pass it on */
			}
		}
		if (cut) {
			cb(b.ptr, cut, cb_data);
			off += cut;
			*offset = off;
			wait = 0.002;
		}
		if (b.len == LOG_CHUNK) {
			continue;
		}
		if (!follow) {
			break;
		}
		if (ended) {
			r = follow_refresh(t, st, job, &bad_since, &lerr);
			if (r == MOO_EHOST && moo__transport_is_remote(t)) {
				ended = false;
				continue;
			}
			if (r || moo_job_status_done(job->status)) {
				break;
			}
			/* an exit the job wrote itself: it runs on */
			ended = false;
		}
		if (stop && *stop) {
			r = MOO_EINTR;
			goto done;
		}
		if (now() - last_check > 1.0) {
			/* A supervisor killed outright never writes exit: notice it. */
			last_check = now();
			log_shrunk(t, job, log, &off, &warn);
			*offset = off;
			r = follow_refresh(t, st, job, &bad_since, &lerr);
			if (r == MOO_EHOST && follow && moo__transport_is_remote(t)) {
				continue;
			}
			if (r) {
				goto done;
			}
			continue;
		}
		if (!cut) {
			idle = true;
			wait_change(t, job->dir, wait);
			wait = wait * 2 > 0.01 ? 0.01 : wait * 2;
		}
	}
done:
	if (r) {
		moo__error_append(err, lerr);
		lerr = NULL;
	}
	/* warnings reach the caller on success too (moo prints them when it is done) */
	moo__error_append(err, warn);
	moo_error_free(lerr);
	moo__transport_close(t);
	moo_buf_dispose(&b);
	free(log);
	free(exit_path);
	return r;
}

/* The size of a file on t's host, or 0 when it cannot be told. */
static uint64_t log_size(struct moo__transport *t, const char *path)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	uint64_t size = 0;
	struct stat st;
	int status = -1;

	if (!moo__transport_is_remote(t)) {
		return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	}
	moo_buf_puts(&cmd, "wc -c < ");
	moo_buf_shquote(&cmd, path);
	if (!t->ops->exec(t, cmd.ptr, &out, NULL, &status, NULL) && !status && out.len) {
		size = strtoull(out.ptr, NULL, 10);
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return size;
}

int moo_job_log_tail(const struct moo_job *job, size_t n, struct moo_buf *out, uint64_t *end,
		     struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf b = MOO_BUF_INIT;
	char *log = job_file(job, "process.log");
	uint64_t size = 0;
	size_t start, lines = 0;
	int r;

	r = open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	/* Only its last 64 KiB are read (a log of 500 MB is not read through): from its size,
	 * stat here, 'wc -c' (an fstat for GNU and BSD wc) on a host. */
	size = log_size(t, log);
	size = size > TAIL_BYTES ? size - TAIL_BYTES : 0;
	for (;;) {
		struct moo_buf chunk = MOO_BUF_INIT;

		r = job_read(t, job, log, size, LOG_CHUNK, &chunk, err);
		if (r || !chunk.len) {
			moo_buf_dispose(&chunk);
			break;
		}
		size += chunk.len;
		moo_buf_add(&b, chunk.ptr, chunk.len);
		moo_buf_dispose(&chunk);
		if (b.len > TAIL_BYTES) {
			memmove(b.ptr, b.ptr + b.len - TAIL_BYTES, TAIL_BYTES + 1);
			b.len = TAIL_BYTES;
		}
	}
	if (r == MOO_ENOTFOUND) {
		r = 0;
	}
	if (r) {
		goto done;
	}
	if (end) {
		*end = size;
	}
	if (!b.len) {
		goto done;
	}
	start = b.len;
	if (b.ptr[start - 1] == '\n') {
		start--;
	}
	while (start > 0 && lines < n) {
		if (b.ptr[start - 1] == '\n' && ++lines == n) {
			break;
		}
		start--;
	}
	if (n) {
		moo_buf_add(out, b.ptr + start, b.len - start);
	}
done:
	moo__transport_close(t);
	moo_buf_dispose(&b);
	free(log);
	return r;
}

/* ---- cancel, fetch, remove ------------------------------------------------------------ */

/* Whether path exists on the host within seconds (looking every 10 ms). */
static bool appears(struct moo__transport *t, const char *path, double seconds)
{
	double t0 = now();

	while (!t->ops->exists(t, path)) {
		if (now() - t0 >= seconds) {
			return false;
		}
		nap(0.01);
	}
	return true;
}

/* scancel, then Slurm's word that it ended (KillWait may pass before it does). */
static int cancel_slurm(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			double grace, struct moo_error **err)
{
	char *mark = job_file(job, "cancelled");
	double t0;
	int r;

	if ((r = t->ops->write_file(t, mark, "cancelled\n", 10, 0644, err))) {
		goto done;
	}
	if (!job->backend_id) {
		job->status = MOO_JOB_CANCELLED; /* never submitted */
		job->ended = now();
		r = moo_store_update_job(st, job, err);
		goto done;
	}
	if ((r = moo__slurm_cancel(t, job->backend_id, err))) {
		goto done;
	}
	for (t0 = now(); !r && !moo_job_status_done(job->status) && now() - t0 < grace + 60;) {
		nap(0.6);
		r = refresh(t, st, job, err);
	}
	if (!r && !moo_job_status_done(job->status)) {
		job->status = MOO_JOB_CANCELLED;
		job->ended = now();
		r = moo_store_update_job(st, job, err);
	}
done:
	free(mark);
	return r;
}

/*
 * Stops a job: its group only while the state's group is the job's (job_group), never a
 * bare pid. A running job's supervisor records the end (exit); a lost job (its supervisor
 * gone) whose processes still ran is marked cancelled here.
 */
int moo_job_cancel(struct moo_store *st, struct moo_job *job, double grace, bool *was_running,
		   struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf state = MOO_BUF_INIT;
	char *state_path = job_file(job, "state"), *exit_path = job_file(job, "exit");
	char *mark = job_file(job, "cancelled");
	bool lost;
	long pgid = 0;
	double t0;
	int r, live, status = 0;

	*was_running = false;
	r = open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	r = refresh(t, st, job, err);
	if (r) {
		goto done;
	}
	lost = job->status == MOO_JOB_LOST;
	if (moo_job_status_done(job->status) && !lost) {
		goto done;
	}
	if (moo__slurm_host(job->host)) {
		r = cancel_slurm(t, st, job, grace, err);
		*was_running = !r;
		goto done;
	}
	/* A supervisor still starting gets a moment to write state. */
	for (t0 = now(); (r = read_state(t, job, state_path, &state, err)); nap(0.01)) {
		if (r != MOO_ENOTFOUND) {
			goto done;
		}
		if (lost) {
			r = 0; /* no state: nothing it started can be told from others */
			goto done;
		}
		if (now() - t0 > STATE_WAIT_S) {
			r = moo__fail(err, MOO_EIO, "job '%s' has no state file to cancel by",
				      job->id);
			goto done;
		}
	}
	live = job_group(t, job, state.ptr, &pgid, err);
	if (live < 0) {
		r = live;
		goto done;
	}
	if (!live && lost) {
		r = 0; /* nothing of it runs */
		goto done;
	}
	r = t->ops->write_file(t, mark, "cancelled\n", 10, 0644, err);
	if (r) {
		goto done;
	}
	*was_running = true;
	if (live) {
		r = signal_tree(t, job, state.ptr, pgid, "TERM", &status, err);
		if (r) {
			goto done;
		}
		if (lost) {
			/* no supervisor to wait for: until nothing of the job is left */
			for (t0 = now(); now() - t0 < grace; nap(0.05)) {
				if ((r = signal_tree(t, job, state.ptr, pgid, "0", &status, err)) ||
				    status) {
					break;
				}
			}
		}
		if (!r && (lost || !appears(t, exit_path, grace))) {
			r = signal_tree(t, job, state.ptr, pgid, "KILL", &status, err);
		}
		if (r) {
			goto done;
		}
	}
	if (lost) {
		job->status = MOO_JOB_CANCELLED;
		job->ended = now();
		r = moo_store_update_job(st, job, err);
		goto done;
	}
	/* The supervisor writes exit once the entry point is reaped. */
	appears(t, exit_path, 10);
	r = refresh(t, st, job, err);
	if (!r && !moo_job_status_done(job->status)) {
		/* The supervisor did not answer: the job is over all the same. */
		job->status = MOO_JOB_CANCELLED;
		job->ended = now();
		r = moo_store_update_job(st, job, err);
	}
done:
	moo__transport_close(t);
	moo_buf_dispose(&state);
	free(state_path);
	free(exit_path);
	free(mark);
	return r;
}

/* Checks every file of the manifest under dir; MOO_EIO naming the first that differs. */
static int verify_manifest(const char *manifest, const char *dir, struct moo_error **err)
{
	const char *p = manifest;
	int r = 0;

	while (*p && !r) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char hex[65];

		if (len > 68 && p[64] == ' ' && p[65] == ' ' && p[66] == '.' && p[67] == '/') {
			char *rel = moo__strndup(p + 68, len - 68);
			char *file = moo__path_join(dir, rel);

			r = moo__sha256_file(file, hex, NULL, err);
			if (!r && memcmp(hex, p, 64)) {
				struct moo_error *e;

				e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
						   "'%s' does not match MANIFEST.sha256", file);
				moo__error_hint(e, "fetch it again");
				r = MOO_EIO;
			}
			free(rel);
			free(file);
		}
		p += len + (eol ? 1 : 0);
	}
	return r;
}

int moo_job_fetch(const struct moo_job *job, const char *dest, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf manifest = MOO_BUF_INIT;
	char *mpath = job_file(job, "MANIFEST.sha256"), *pulled = NULL;
	const char *result = job->result_path;
	bool made = false;
	int r;

	if (moo_job_status_done(job->status) && job->host && strcmp(job->host, "local") &&
	    (!result || access(result, F_OK) != 0)) {
		/* a remote result not here yet (or refused): download it now */
		r = open_host(&t, job->host, err);
		if (!r) {
			r = pull_result(t, job, &pulled, err);
		}
		if (r) {
			goto done;
		}
		result = pulled;
	}
	if (!moo_job_status_done(job->status) || !result) {
		struct moo_error *e;

		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "job '%s' has no result (%s)",
				   job->id, moo_job_status_name(job->status));
		moo__error_hint(e, "wait for it: moo logs -f %s", job->id);
		r = MOO_EARG;
		goto done;
	}
	r = open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	if (access(dest, F_OK) == 0) {
		moo__error_hint(
			moo__error_add(err, MOO_EEXIST, MOO_SEV_ERROR, "'%s' exists already", dest),
			"fetch into a new folder: moo fetch %s -o DIR", job->id);
		r = MOO_EEXIST;
		goto done;
	}
	r = moo__copy_tree(result, dest, err);
	made = true;
	if (r) {
		goto done;
	}
	r = job_read(t, job, mpath, 0, 64u << 20, &manifest, err);
	if (r == MOO_ENOTFOUND) {
		r = moo__fail(err, MOO_EIO, "job '%s' has no MANIFEST.sha256", job->id);
	}
	if (!r && manifest.len) {
		r = verify_manifest(manifest.ptr, dest, err);
	}
done:
	if (r && made) {
		moo__rm_rf(dest);
	}
	moo__transport_close(t);
	moo_buf_dispose(&manifest);
	free(mpath);
	free(pulled);
	return r;
}

/* ---- jobs another client started -------------------------------------------------------- */

static bool valid_id(const char *id)
{
	size_t i;

	if (strlen(id) != 14 || strncmp(id, "moo-job-", 8)) {
		return false;
	}
	for (i = 8; i < 14; i++) {
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9'))) {
			return false;
		}
	}
	return true;
}

static char *json_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? moo__strdup(v) : NULL;
}

static int import_one(struct moo__transport *t, struct moo_store *st, const char *host,
		      const char *id, struct moo_job **out, struct moo_error **err)
{
	struct moo_buf text = MOO_BUF_INIT;
	struct moo_job *job = NULL;
	json_t *o = NULL;
	char *dir = moo__printf("%s/jobs/%s", t->root, id), *path = moo__path_join(dir, "job.json");
	int r;

	r = t->ops->read_file(t, path, 0, 64u << 20, &text, err);
	if (r == MOO_ENOTFOUND) {
		struct moo_error *e = moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
						     "no job '%s' on '%s'", id, host);

		moo__error_hint(e, "'moo ps --all --on %s' lists the jobs there", host);
	}
	if (r) {
		goto done;
	}
	o = json_loadb(text.ptr ? text.ptr : "", text.len, 0, NULL);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")) ||
	    strcmp(json_string_value(json_object_get(o, "id")), id) ||
	    !json_is_string(json_object_get(o, "output_folder")) ||
	    !moo__path_is_safe_relative(json_string_value(json_object_get(o, "output_folder")))) {
		r = moo__fail(err, MOO_EIO, "'%s' on '%s' is not a job record", path, host);
		goto done;
	}
	job = moo__calloc(1, sizeof(*job));
	job->id = moo__strdup(id);
	job->name = json_str(o, "name");
	job->source = json_str(o, "source");
	job->source_sha256 = json_str(o, "source_sha256");
	job->spec_json = json_str(o, "spec");
	job->params_json = json_str(o, "params");
	job->output_folder = json_str(o, "output_folder");
	job->command = json_str(o, "command");
	if (!job->command) {
		job->command = moo__strdup(""); /* not ours to take for never started */
	}
	job->created = json_number_value(json_object_get(o, "created"));
	job->bytes_sent = (uint64_t)json_integer_value(json_object_get(o, "bytes_sent"));
	job->host = moo__strdup(host);
	job->dir = dir;
	dir = NULL;
	job->status = MOO_JOB_QUEUED;
	job->exit_code = -1;
	if ((r = moo_store_add_job(st, job, err)) || (r = refresh(t, st, job, err))) {
		goto done;
	}
	if (out) {
		*out = job;
		job = NULL;
	}
done:
	json_decref(o);
	moo_job_free(job);
	moo_buf_dispose(&text);
	free(dir);
	free(path);
	return r;
}

int moo_job_import(struct moo_store *st, const char *host, const char *id, struct moo_job **out,
		   struct moo_error **err)
{
	struct moo__transport *t = NULL;
	int r;

	if (!valid_id(id)) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "no job '%s' here, and it is not a job id to "
						     "look for on '%s'",
						     id, host);

		moo__error_hint(e, "name a job of another client by its id, moo-job-XXXXXX");
		return MOO_EARG;
	}
	r = open_host(&t, host, err);
	if (!r) {
		r = import_one(t, st, host, id, out, err);
	}
	moo__transport_close(t);
	return r;
}

int moo_job_find(struct moo_job **out, struct moo_store *st, const char *ref, const char *host,
		 bool refresh, struct moo_error **err)
{
	int r = moo_store_get_job(out, st, ref, host ? NULL : err);

	if (r == MOO_ENOTFOUND && host) {
		/* a job another client started there: read its record from the host */
		return moo_job_import(st, host, ref, out, err);
	}
	if (r && host) {
		r = moo_store_get_job(out, st, ref, err);
	}
	if (!r && host && strcmp((*out)->host ? (*out)->host : "local", host)) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "job '%s' runs on '%s', not on '%s'",
						     (*out)->id, (*out)->host, host);

		moo__error_hint(e, "leave out --on, or name the job's own host");
		r = MOO_EARG;
	}
	if (!r && refresh) {
		r = moo_job_refresh(st, *out, err);
	}
	if (r && *out) {
		moo_job_free(*out);
		*out = NULL;
	}
	return r;
}

int moo_job_import_all(struct moo_store *st, const char *host, size_t *n_new,
		       struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	char *line, *save = NULL;
	int r, status;

	*n_new = 0;
	if ((r = open_host(&t, host, err))) {
		goto done;
	}
	moo_buf_puts(&cmd, "cd ");
	moo_buf_shquote(&cmd, t->root);
	moo_buf_puts(&cmd, "/jobs 2>/dev/null || exit 0; for d in moo-job-*; do "
			   "[ -f \"$d/job.json\" ] && printf '%s\\n' \"$d\"; done; exit 0");
	if ((r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, err))) {
		goto done;
	}
	for (line = strtok_r(out.ptr ? out.ptr : "", "\n", &save); line && !r;
	     line = strtok_r(NULL, "\n", &save)) {
		struct moo_job *known = NULL;

		if (!valid_id(line)) {
			continue;
		}
		if (moo_store_get_job(&known, st, line, NULL) == 0) {
			moo_job_free(known);
			continue;
		}
		r = import_one(t, st, host, line, NULL, err);
		*n_new += !r;
	}
done:
	moo__transport_close(t);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r;
}

/* The results of a remote job pulled here ($MOO_HOME/results/<id>), if any. */
static int remove_results(const struct moo_job *job, struct moo_error **err)
{
	char *dir = job->host && strcmp(job->host, "local") ? results_dir(job) : NULL;
	int r = 0;

	if (dir && moo__rm_rf(dir) < 0) {
		r = moo__fail(err, MOO_EIO, "cannot remove '%s': %s", dir, strerror(errno));
	}
	free(dir);
	return r;
}

int moo_job_remove(struct moo_store *st, struct moo_job *job, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_error *open_err = NULL;
	struct moo_buf rm = MOO_BUF_INIT, state = MOO_BUF_INIT;
	char *state_path = job_file(job, "state");
	long pgid;
	struct moo_buf errout = MOO_BUF_INIT;
	char *trash = NULL;
	int r, status;

	r = open_host(&t, job->host, &open_err);
	if (r == MOO_ENOTFOUND && job->host && strcmp(job->host, "local")) {
		/* A host no inventory, ssh config or resolver knows any more (moo hosts rm): the
		 * job cannot be reached, so it is forgotten here and left as it is there. */
		moo__error_hint(moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_WARNING,
					       "%s: unknown host '%s': forgotten here, its folder "
					       "'%s' there left as it is",
					       job->id, job->host, job->dir),
				"add the host again to reach such jobs (moo hosts add)");
		moo_error_free(open_err);
		r = remove_results(job, err);
		if (!r) {
			r = moo_store_remove_job(st, job->id, err);
		}
		goto done;
	}
	if (r) {
		moo__error_append(err, open_err);
		goto done;
	}
	r = refresh(t, st, job, err);
	if (r) {
		goto done;
	}
	if (job->status == MOO_JOB_LOST) {
		/* Its supervisor is gone, but what it started may run on: then it stays. */
		r = read_state(t, job, state_path, &state, err);
		if (r && r != MOO_ENOTFOUND) {
			goto done;
		}
		r = r ? 0 : job_group(t, job, state.ptr, &pgid, err);
		if (r < 0) {
			goto done;
		}
		if (r) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "job '%s' is lost, but its processes run on (group %ld)",
					   job->id, pgid);
			moo__error_hint(e, "stop them first: moo cancel %s (or moo rm -f %s)",
					job->id, job->id);
			r = MOO_EARG;
			goto done;
		}
	}
	if (!moo_job_status_done(job->status)) {
		struct moo_error *e;

		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "job '%s' is %s", job->id,
				   moo_job_status_name(job->status));
		moo__error_hint(e, "cancel it first: moo cancel %s", job->id);
		r = MOO_EARG;
		goto done;
	}
	/*
	 * The record and the folder go together or neither: the folder is moved aside (one
	 * rename), then the record removed (else the folder is moved back), then the folder
	 * deleted. A folder that cannot be deleted then stays as <dir>.moo-rm, out of the
	 * job's way, with a warning.
	 */
	trash = moo__printf("%s.moo-rm", job->dir);
	moo_buf_puts(&rm, "rm -rf -- ");
	moo_buf_shquote(&rm, trash);
	moo_buf_puts(&rm, " && { [ ! -e ");
	moo_buf_shquote(&rm, job->dir);
	moo_buf_puts(&rm, " ] || mv -- ");
	moo_buf_shquote(&rm, job->dir);
	moo_buf_putc(&rm, ' ');
	moo_buf_shquote(&rm, trash);
	moo_buf_puts(&rm, "; }");
	r = t->ops->exec(t, rm.ptr, NULL, &errout, &status, err);
	if (!r && status) {
		struct moo_error *e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
						     "cannot remove '%s' on %s", job->dir, t->host);

		moo__error_cause(e, errout.len ? errout.ptr : NULL);
		r = MOO_EIO;
	}
	if (r) {
		goto done;
	}
	r = moo_store_remove_job(st, job->id, err);
	moo_buf_reset(&rm);
	if (r) {
		moo_buf_puts(&rm, "mv -- "); /* the record stays: so does its folder */
		moo_buf_shquote(&rm, trash);
		moo_buf_putc(&rm, ' ');
		moo_buf_shquote(&rm, job->dir);
		t->ops->exec(t, rm.ptr, NULL, NULL, &status, NULL);
		goto done;
	}
	moo_buf_puts(&rm, "rm -rf -- ");
	moo_buf_shquote(&rm, trash);
	if (t->ops->exec(t, rm.ptr, NULL, NULL, &status, NULL) || status) {
		moo__warn(MOO_EIO, "job '%s' is removed, but not all of '%s' on %s", job->id, trash,
			  t->host);
	}
	if (!r) {
		r = remove_results(job, err); /* what was pulled here of a remote job */
	}
done:
	moo__transport_close(t);
	moo_buf_dispose(&rm);
	moo_buf_dispose(&state);
	free(state_path);
	moo_buf_dispose(&errout);
	free(trash);
	return r;
}

/* ---- the command moo resolve shows ------------------------------------------------------ */

int moo_plan_command(struct moo_buf *out, const struct moo_plan *plan, const struct moo_spec *spec,
		     const char *runtime, const struct moo_host_facts *facts,
		     struct moo_error **err)
{
	struct kvlist params = {NULL, 0}, env = {NULL, 0};
	struct moo__runtime rt;
	struct moo_job job;
	struct moo_host_facts *own = NULL;
	char *ref = moo_plan_ref(plan);
	const char *root;
	int e, r;

	if (!facts && plan->host_facts) { /* the facts the plan was made for */
		if ((r = moo_host_facts_from_json(&own, plan->host_facts, err))) {
			free(ref);
			return r;
		}
		facts = own;
	}
	root = facts && facts->root ? facts->root : "~/.moo";
	memset(&rt, 0, sizeof(rt));
	memset(&job, 0, sizeof(job));
	job.id = "JOB_ID";
	job.dir = moo__printf("%s/jobs/JOB_ID", root);
	job.output_folder = spec->output_folder ? spec->output_folder : "training_result";
	if (runtime) {
		e = moo__engine_parse(runtime);
		if (e < 0) {
			struct moo_error *ue = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
							      "unknown runtime '%s'", runtime);

			moo__error_hint(ue, "choose docker, podman, apptainer or host");
			r = MOO_ERESOLVE;
			goto done;
		}
	} else {
		enum moo__engine chosen = MOO__ENGINE_HOST;

		r = moo__runtime_choose(&chosen, facts, ref, err);
		if (r) {
			goto done;
		}
		e = (int)chosen;
	}
	rt.engine = (enum moo__engine)e;
	rt.interp.path = moo__printf("python%s", plan->python ? plan->python : "3");
	if (rt.engine != MOO__ENGINE_HOST && plan->n_requirements) {
		char key[MOO__SHA256_HEX];

		r = moo__env_key(key, ref, (const char *const *)plan->requirements,
				 plan->n_requirements, err);
		if (r) {
			goto done;
		}
		/* apptainer runs the .sif moo builds beside the definition file */
		rt.image = rt.engine == MOO__ENGINE_APPTAINER
				   ? moo__printf("%s/envs/%s/env.sif", root, key)
				   : moo__env_image(key);
	} else {
		rt.image = moo__strdup(ref);
	}
	r = apply_sets(spec, NULL, &params, &env, err);
	if (!r) {
		/* what the plan was resolved for (--accelerator) rules over the spec */
		struct moo_spec as = *spec;

		as.resources.accelerator = plan->accelerator;
		as.resources.count = plan->count;
		r = build_command(out, &job, &rt, &as, &params, &env, NULL, err);
	}
done:
	kvlist_dispose(&params);
	kvlist_dispose(&env);
	free(rt.interp.path);
	free(rt.image);
	free(job.dir);
	free(ref);
	moo_host_facts_free(own);
	return r;
}
