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
#include "runtime.h"
#include "embedded.h"
#include "ssh.h"

#define STATE_WAIT_S 10.0 /* how long a new supervisor may take to write state */
#define RECONNECT_S  60.0 /* how long moo logs -f tries to reach a host again */
#define LOG_CHUNK    (1u << 20)
#define TAIL_BYTES   65536u /* what moo logs -n N reads, from the end */
#define MAX_TIME     1e11   /* seconds since 1970: the year 5138; a later time is no time */

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

int moo_job_root(struct moo_buf *out, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	int r = moo__transport_local_open(&t, err);

	if (!r) {
		moo_buf_puts(out, t->root);
	}
	moo__transport_close(t);
	return r;
}

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

static char *new_id(void)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	char id[16] = "moo-job-";
	size_t i;

	moo__random(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		id[8 + i] = alnum[rnd[i] % 36];
	}
	id[14] = '\0';
	return moo__strdup(id);
}

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

/* Applies --set overrides to copies of the spec's params and env. */
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
		const char *s = o->set[i], *eq = strchr(s, '='), *dot = strchr(s, '.');
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
		kvlist_set(is_env ? env : params, key, eq + 1, false);
		free(key);
	}
	return 0;
}

/* A parameter as JSON: numbers and booleans keep their type unless quoted. */
static json_t *param_json(const struct moo_kv *kv)
{
	char *end;
	double d;

	if (!kv->quoted) {
		if (!strcmp(kv->value, "true")) {
			return json_true();
		}
		if (!strcmp(kv->value, "false")) {
			return json_false();
		}
		if (*kv->value) {
			long long i;

			errno = 0;
			i = strtoll(kv->value, &end, 10);
			if (!errno && !*end) {
				return json_integer(i);
			}
			d = strtod(kv->value, &end);
			if (!*end && isfinite(d)) {
				return json_real(d);
			}
		}
	}
	return json_string(kv->value);
}

static char *params_to_json(const struct kvlist *params)
{
	json_t *o = json_object();
	char *s, *r;
	size_t i;

	for (i = 0; i < params->n; i++) {
		json_object_set_new(o, params->v[i].key, param_json(&params->v[i]));
	}
	s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(o);
	r = moo__strdup(s ? s : "{}");
	free(s);
	return r;
}

/*
 * The runtime command: the entry point's argv (interpreter -u entry --k v …) and its
 * environment (the spec's env, MOO_JOB_ID, MOO_OUTPUT_DIR, MOO_PARAM_*), wrapped by the
 * job's runtime (runtime.c: env for host, docker/podman/apptainer run for containers).
 */
static int build_command(struct moo_buf *cmd, const struct moo_job *job,
			 const struct moo__runtime *rt, const struct moo_spec *spec,
			 const struct kvlist *params, const struct kvlist *env,
			 struct moo_error **err)
{
	char *outdir = moo__printf("%s/work/%s", job->dir, job->output_folder);
	char *workdir = moo__printf("%s/work", job->dir);
	char **envv = moo__calloc(env->n + params->n + 2, sizeof(*envv));
	char **argv = moo__calloc(3 + 2 * params->n, sizeof(*argv));
	struct moo__rt_in in;
	size_t i, ne = 0, na = 0;
	int r;

	for (i = 0; i < env->n; i++) {
		envv[ne++] = moo__printf("%s=%s", env->v[i].key, env->v[i].value);
	}
	envv[ne++] = moo__printf("MOO_JOB_ID=%s", job->id);
	envv[ne++] = moo__printf("MOO_OUTPUT_DIR=%s", outdir);
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

/*
 * The supervisor's script with its arguments set in front ("set -- OUT TEXT CMD…"), so one
 * sh runs it: started detached in dir (transport spawn, or setsid over the host's sh).
 */
static int supervisor_script(struct moo_buf *script, const struct moo_job *job,
			     struct moo_error **err)
{
	const struct moo__embedded *sup = NULL, *e;

	for (e = moo__embedded_scripts; e->name; e++) {
		if (!strcmp(e->name, "supervisor.sh")) {
			sup = e;
		}
	}
	if (!sup) {
		return moo__fail(err, MOO_EIO, "libmoo was built without its supervisor script");
	}
	moo_buf_puts(script, "set -- ");
	moo_buf_shquote(script, job->output_folder);
	moo_buf_putc(script, ' ');
	moo_buf_shquote(script, job->command);
	moo_buf_putc(script, ' ');
	moo_buf_puts(script, job->command);
	moo_buf_putc(script, '\n');
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

/*
 * *v gets field 22 of /proc/PID/stat on the host (start time), or 0 when there is no such
 * pid or it is a zombie. Fails only when the host cannot be asked: a job is never taken
 * for gone because its host could not be reached.
 */
static int proc_start(struct moo__transport *t, long pid, unsigned long long *v_out,
		      struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	unsigned long long v = 0;
	char path[64];
	const char *p;
	int field, r = 0;

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
	/* Field 3, the state: a zombie (ended, not yet reaped by its parent) is gone. */
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
		goto done;
	}
	/* After "pid (comm)" comes field 3; walk to field 22. */
	for (field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p) {
		v = strtoull(p + 1, NULL, 10);
	}
done:
	moo_buf_dispose(&b);
	*v_out = v;
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
static int read_state(struct moo__transport *t, const char *path, struct moo_buf *b,
		      struct moo_error **err)
{
	int r;

	moo_buf_reset(b);
	r = t->ops->read_file(t, path, 0, 1 << 16, b, err);
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
	r = t->ops->read_file(t, mpath, 0, 64u << 20, &manifest, err);
	if (r == MOO_ENOTFOUND) {
		r = moo__fail(err, MOO_EIO, "job '%s' has no MANIFEST.sha256 on '%s'", job->id,
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
	int r;

	if (moo__transport_is_remote(t) && !defer_results) {
		r = pull_result(t, job, &local, &perr);
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

static int refresh(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
		   struct moo_error **err)
{
	struct moo_buf exit_text = MOO_BUF_INIT, state = MOO_BUF_INIT;
	char *exit_path = job_file(job, "exit"), *state_path = job_file(job, "state");
	enum moo_job_status before = job->status;
	int r, tries;

	if (moo_job_status_done(job->status)) {
		r = 0;
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
	r = read_state(t, state_path, &state, err);
	if (r && r != MOO_ENOTFOUND) {
		goto done;
	}
	if (!r) {
		job->pid = (long)kv_int(state.ptr, "pid", 0);
		if (job->started <= 0) {
			job->started = kv_time(t, state.ptr, "started");
		}
	}
	for (tries = 0; tries < 2; tries++) {
		moo_buf_reset(&exit_text);
		r = t->ops->read_file(t, exit_path, 0, 4096, &exit_text, err);
		if (r == 0 && exit_text.len) {
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
			r = read_state(t, state_path, &state, err);
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
		job->pid = (long)kv_int(state.ptr, "pid", 0);
		if (job->started <= 0) {
			job->started = kv_time(t, state.ptr, "started");
		}
		if (job->pid > 0) {
			unsigned long long started_at = 0;

			r = proc_start(t, job->pid, &started_at, err);
			if (r) {
				goto done;
			}
			if (started_at == (unsigned long long)kv_int(state.ptr, "pid_start", -1)) {
				job->status = MOO_JOB_RUNNING;
				goto save;
			}
		}
		/* The supervisor is gone: look once more for an exit file it wrote meanwhile. */
	}
	job->status = MOO_JOB_LOST;
	job->ended = now();
	r = 0;
save:
	if (!r && !defer_results && (job->status != before || moo_job_status_done(job->status))) {
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

int moo_job_start(struct moo_job **out, struct moo_store *st, const struct moo_bundle *b,
		  const struct moo_run_opts *opts, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo__runtime rt;
	struct kvlist params = {NULL, 0}, env = {NULL, 0};
	struct moo_buf cmd = MOO_BUF_INIT, spec_json = MOO_BUF_INIT;
	struct moo_buf stage_root = MOO_BUF_INIT, sherr = MOO_BUF_INIT, state = MOO_BUF_INIT;
	struct moo_job *job = NULL;
	char *stage = NULL, *path = NULL, *jobs_dir = NULL, *mark = NULL;
	const struct moo_spec *spec = b->spec;
	bool recorded = false, staged = false;
	double t0;
	int r, status, tries;

	memset(&rt, 0, sizeof(rt));
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
	/* Nothing is created before we know the host can run it. */
	r = moo__runtime_prepare(&rt, t, st, spec,
				 opts && opts->version >= 3 ? opts->runtime : NULL,
				 opts && opts->version >= 3 ? opts->image : NULL, err);
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
	job->host = moo__strdup(t->host);
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
		job->id = new_id();
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
	r = t->ops->mkdir_p(t, job->dir, err);
	if (r) {
		goto done;
	}
	if (moo__transport_is_remote(t)) {
		struct moo__transport *here = NULL;

		r = stage_remote(t, b, job, &job->bytes_sent, err);
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
	if (opts && opts->version >= 3 && opts->lock) {
		/*
		 * The lock in the store (the next update records it), beside the job, and in
		 * the result folder (it is in MANIFEST.sha256).
		 */
		job->lock = moo__strdup(opts->lock);
		free(path);
		path = job_file(job, "moo.lock");
		r = t->ops->write_file(t, path, opts->lock, strlen(opts->lock), 0644, err);
		if (r) {
			goto done;
		}
		free(path);
		path = moo__printf("%s/work/%s/moo.lock", job->dir, job->output_folder);
		r = t->ops->write_file(t, path, opts->lock, strlen(opts->lock), 0644, err);
		if (r) {
			goto done;
		}
	}
	r = build_command(&cmd, job, &rt, spec, &params, &env, err);
	if (r) {
		goto done;
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
	for (t0 = now(); read_state(t, path, &state, NULL); wait_change(t, job->dir, 0.002)) {
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
	kvlist_dispose(&params);
	kvlist_dispose(&env);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&spec_json);
	moo_buf_dispose(&stage_root);
	moo_buf_dispose(&sherr);
	moo_buf_dispose(&state);
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

int moo_job_logs(struct moo_store *st, struct moo_job *job, uint64_t *offset, bool follow,
		 moo_log_cb cb, void *cb_data, const volatile sig_atomic_t *stop,
		 struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf b = MOO_BUF_INIT;
	struct moo_error *lerr = NULL;
	char *log = job_file(job, "process.log"), *exit_path = job_file(job, "exit");
	uint64_t off = *offset;
	double wait = 0.002, last_check = now();
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
		}
		moo_buf_reset(&b);
		r = t->ops->read_file(t, log, off, LOG_CHUNK, &b, &lerr);
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
		if (!follow || ended) {
			break;
		}
		if (stop && *stop) {
			r = MOO_EINTR;
			goto done;
		}
		if (now() - last_check > 1.0) {
			/* A supervisor killed outright never writes exit: notice it. */
			last_check = now();
			r = refresh(t, st, job, &lerr);
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
	if (follow) {
		r = refresh(t, st, job, &lerr);
	}
done:
	if (r) {
		moo__error_append(err, lerr);
		lerr = NULL;
	}
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

		r = t->ops->read_file(t, log, size, LOG_CHUNK, &chunk, err);
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

static int signal_group(struct moo__transport *t, long pgid, const char *sig)
{
	struct moo_buf c = MOO_BUF_INIT;
	int status = 0;

	moo_buf_printf(&c, "kill -s %s -- -%ld 2>/dev/null || kill -s %s %ld 2>/dev/null; exit 0",
		       sig, pgid, sig, pgid);
	t->ops->exec(t, c.ptr, NULL, NULL, &status, NULL);
	moo_buf_dispose(&c);
	return status;
}

int moo_job_cancel(struct moo_store *st, struct moo_job *job, double grace, bool *was_running,
		   struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf state = MOO_BUF_INIT;
	char *state_path = job_file(job, "state"), *exit_path = job_file(job, "exit");
	char *mark = job_file(job, "cancelled");
	long pgid;
	double t0;
	int r;

	r = open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	r = refresh(t, st, job, err);
	if (r) {
		goto done;
	}
	if (moo_job_status_done(job->status)) {
		*was_running = false;
		goto done;
	}
	/* A supervisor still starting gets a moment to write state. */
	for (t0 = now(); read_state(t, state_path, &state, NULL); nap(0.01)) {
		if (now() - t0 > STATE_WAIT_S) {
			r = moo__fail(err, MOO_EIO, "job '%s' has no state file to cancel by",
				      job->id);
			goto done;
		}
	}
	pgid = (long)kv_int(state.ptr, "pgid", 0);
	r = t->ops->write_file(t, mark, "cancelled\n", 10, 0644, err);
	if (r) {
		goto done;
	}
	if (pgid > 0) {
		signal_group(t, pgid, "TERM");
		for (t0 = now(); !t->ops->exists(t, exit_path) && now() - t0 < grace; nap(0.01)) {
		}
		if (!t->ops->exists(t, exit_path)) {
			signal_group(t, pgid, "KILL");
		}
		/* The supervisor writes exit once the entry point is reaped. */
		for (t0 = now(); !t->ops->exists(t, exit_path) && now() - t0 < 10; nap(0.01)) {
		}
	}
	*was_running = true;
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
		r = moo__fail(err, MOO_EEXIST, "'%s' exists already", dest);
		goto done;
	}
	r = moo__copy_tree(result, dest, err);
	made = true;
	if (r) {
		goto done;
	}
	r = t->ops->read_file(t, mpath, 0, 64u << 20, &manifest, err);
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
		if (moo_store_get_job(st, line, &known, NULL) == 0) {
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

int moo_job_remove(struct moo_store *st, struct moo_job *job, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf rm = MOO_BUF_INIT, errout = MOO_BUF_INIT;
	char *trash = NULL;
	int r, status;

	r = open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	r = refresh(t, st, job, err);
	if (r) {
		goto done;
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
done:
	moo__transport_close(t);
	moo_buf_dispose(&rm);
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
	char *ref = moo_plan_ref(plan);
	const char *root = facts && facts->root ? facts->root : "~/.moo";
	int e, r;

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
		r = build_command(out, &job, &rt, &as, &params, &env, err);
	}
done:
	kvlist_dispose(&params);
	kvlist_dispose(&env);
	free(rt.interp.path);
	free(rt.image);
	free(job.dir);
	free(ref);
	return r;
}
