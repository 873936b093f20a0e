/*
 * sweep: a parameter grid run as one unit (moo/sweep.h). The points and options are kept
 * in the store (table sweeps) so a sweep can be resumed; each point is an ordinary job
 * carrying the sweep id and its point number.
 *
 * Over SSH hosts (or this machine) moo schedules: each host takes up to its slots (its GPU
 * count, one point per GPU pinned with CUDA_VISIBLE_DEVICES, or --per-host), within
 * --max-parallel; a host that cannot be reached takes no new points, and the points it ran
 * are retried elsewhere once it has been gone for MOO_SWEEP_LOST_S seconds (default 30),
 * as infrastructure failures are. On Slurm the points are one job array, cut into chunks of
 * MaxArraySize chained with afterany, so %P holds across all of them; Slurm schedules.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "slurm.h"
#include "yamldoc.h"

#define MAX_POINTS   100000
#define HOST_RETRY_S 20.0 /* a host that dropped is tried again after this */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};

	nanosleep(&ts, NULL);
}

/* ---- points ------------------------------------------------------------------------------- */

/* LO..HI[:log], parsed: drawn by --random */
struct range {
	double lo, hi;
	long long ilo, ihi; /* when ints */
	bool ints, log_scale;
};

struct axis {
	char *key;
	char **values;
	size_t n;
	char *what;   /* where it was written, for errors: "--grid 'KEY=…'", "FILE:LINE: 'KEY'" */
	bool in_file; /* --grid-file's: hints say KEY: VALUE, not KEY=VALUE */
	bool is_range;
	struct range range;
};

static void axis_add(struct axis **axes, size_t *n, const char *key, size_t keylen, char *what)
{
	MOO_GROW(*axes, *n);
	memset(&(*axes)[*n], 0, sizeof(**axes));
	(*axes)[*n].key = moo__strndup(key, keylen);
	(*axes)[*n].what = what;
	(*axes)[*n].in_file = strncmp(what, "--grid ", 7) != 0;
	(*n)++;
}

static void axis_value(struct axis *a, const char *v, size_t len)
{
	MOO_GROW(a->values, a->n);
	a->values[a->n++] = moo__strndup(v, len);
}

static int check_key(const char *key, size_t len, const char *what, struct moo_error **err)
{
	if ((len > 16 && !strncmp(key, "training_params.", 16)) ||
	    (len > 4 && !strncmp(key, "env.", 4))) {
		return 0;
	}
	moo__error_hint(moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				       "cannot sweep over '%.*s' (%s)", (int)len, key, what),
			"sweep training_params.NAME or env.NAME");
	return MOO_EARG;
}

static int parse_grid(struct axis **axes, size_t *n, const char *g, struct moo_error **err)
{
	const char *eq = strchr(g, '='), *p;
	int r;

	if (!eq || eq == g || !eq[1]) {
		moo__error_hint(moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					       "cannot understand --grid '%s'", g),
				"write --grid training_params.NAME=V1,V2,…");
		return MOO_EARG;
	}
	if ((r = check_key(g, (size_t)(eq - g), "--grid", err))) {
		return r;
	}
	axis_add(axes, n, g, (size_t)(eq - g), moo__printf("--grid '%s'", g));
	for (p = eq + 1;;) {
		size_t len = strcspn(p, ",");

		axis_value(&(*axes)[*n - 1], p, len);
		if (!p[len]) {
			break;
		}
		p += len + 1;
	}
	return 0;
}

static int parse_grid_file(struct axis **axes, size_t *n, const char *path, struct moo_error **err)
{
	struct moo_buf text = MOO_BUF_INIT;
	struct moo__ydoc *doc = NULL;
	const struct moo__ynode *root;
	size_t i, k;
	int r;

	if ((r = moo__read_file(path, 1u << 20, &text, err))) {
		return r;
	}
	root = moo__yaml_load(&doc, text.ptr ? text.ptr : "", text.len, path, err);
	if (!root || root->kind != MOO_Y_MAP) {
		r = moo__error_code(*err) ? MOO_EARG
					  : moo__fail(err, MOO_EARG,
						      "%s: a grid file is a mapping of "
						      "training_params.NAME to a list of values",
						      path);
		r = MOO_EARG;
		goto done;
	}
	for (i = 0; i < root->n; i += 2) {
		const struct moo__ynode *kn = root->kids[i], *v = root->kids[i + 1];

		if (kn->kind != MOO_Y_SCALAR ||
		    (r = check_key(kn->text, strlen(kn->text), path, err))) {
			r = MOO_EARG;
			goto done;
		}
		axis_add(axes, n, kn->text, strlen(kn->text),
			 moo__printf("%s:%d: '%s'", path, v->line, kn->text));
		if (v->kind == MOO_Y_SCALAR) {
			axis_value(&(*axes)[*n - 1], v->text, strlen(v->text));
			continue;
		}
		for (k = 0; v->kind == MOO_Y_SEQ && k < v->n; k++) {
			if (v->kids[k]->kind != MOO_Y_SCALAR) {
				break;
			}
			axis_value(&(*axes)[*n - 1], v->kids[k]->text, strlen(v->kids[k]->text));
		}
		if (v->kind != MOO_Y_SEQ || k < v->n || !v->n) {
			struct moo_error *e =
				moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					       "%s:%d: '%s' needs a list of plain values", path,
					       v->line, kn->text);

			moo__error_hint(e, "write %s: [0.1, 0.01]", kn->text);
			r = MOO_EARG;
			goto done;
		}
	}
done:
	moo__ydoc_free(doc);
	moo_buf_dispose(&text);
	return r;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: small, and the same draw from the same seed everywhere */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* Whether v is written as a range, LO..HI[:log]: "..", and no '/' (a path such as ../data
 * or data/../x is a plain value). */
static bool range_written(const char *v)
{
	return strstr(v, "..") && !strchr(v, '/');
}

/* The number s[0..len) fully, finite; *whole when it is written as a whole number. */
static bool number(const char *s, size_t len, double *d, long long *ll, bool *whole)
{
	char buf[64], *end;

	if (!len || len >= sizeof(buf) || isspace((unsigned char)s[0])) {
		return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	*d = strtod(buf, &end);
	if (*end || !isfinite(*d)) {
		return false;
	}
	errno = 0;
	*ll = strtoll(buf, &end, 10);
	*whole = !*end && !errno;
	return true;
}

/* A range of axis a (its one value, "LO..HI[:log]") parsed into a->range, or an error that
 * names where it was written. */
static int parse_range(struct axis *a, struct moo_error **err)
{
	const char *v = a->values[0], *dots = strstr(v, ".."), *hi = dots + 2;
	size_t hilen = strlen(hi);
	struct range *rg = &a->range;
	struct moo_error *e;
	bool wlo = false, whi = false, lo_ok;

	if (hilen >= 4 && !strcmp(hi + hilen - 4, ":log")) {
		rg->log_scale = true;
		hilen -= 4;
	}
	if (dots == v || !hilen) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				   "%s: the range '%s' lacks an end (a range is LO..HI)", a->what,
				   v);
		moo__error_hint(e, "write both ends, e.g. %s%s0.001..0.1", a->key,
				a->in_file ? ": " : "=");
		return MOO_EARG;
	}
	lo_ok = number(v, (size_t)(dots - v), &rg->lo, &rg->ilo, &wlo);
	if (!lo_ok || !number(hi, hilen, &rg->hi, &rg->ihi, &whi)) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				   "%s: '%.*s' is not a number (a range is LO..HI)", a->what,
				   lo_ok ? (int)hilen : (int)(dots - v), lo_ok ? hi : v);
		moo__error_hint(e,
				"write a range of numbers, e.g. %s%s0.001..0.1 or 1e-4..1e-1:log",
				a->key, a->in_file ? ": " : "=");
		return MOO_EARG;
	}
	rg->ints = wlo && whi;
	if (rg->lo > rg->hi) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				   "%s: the range runs backwards (%.*s is above %.*s)", a->what,
				   (int)(dots - v), v, (int)hilen, hi);
		moo__error_hint(e, "write the low end first: %s%s%.*s..%.*s%s", a->key,
				a->in_file ? ": " : "=", (int)hilen, hi, (int)(dots - v), v,
				rg->log_scale ? ":log" : "");
		return MOO_EARG;
	}
	if (rg->log_scale && rg->lo <= 0) {
		e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
				   "%s: a :log range needs both ends above 0", a->what);
		moo__error_hint(e, "start the range above 0, e.g. %s%s1e-4..1e-1:log, or drop :log",
				a->key, a->in_file ? ": " : "=");
		return MOO_EARG;
	}
	a->is_range = true;
	return 0;
}

/*
 * The axes' values checked before anything starts: no empty value; a range (LO..HI[:log])
 * only as an axis's one value, of numbers, low end first, above 0 when :log, and only with
 * --random (which draws from it). Every problem is reported.
 */
static int check_axes(struct axis *axes, size_t n, bool random, struct moo_error **err)
{
	struct moo_error *e;
	size_t i, k;
	int r = 0;

	for (i = 0; i < n; i++) {
		struct axis *a = &axes[i];

		for (k = 0; k < a->n && *a->values[k]; k++) {
		}
		if (k < a->n) {
			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "%s: value %zu of '%s' is empty", a->what, k + 1,
					   a->key);
			moo__error_hint(
				e,
				a->in_file ? "give every value, e.g. %s: [1, 2]"
					   : "write a value between each two commas, e.g. %s=1,2",
				a->key);
			r = MOO_EARG;
			continue;
		}
		for (k = 0; a->n > 1 && k < a->n && !range_written(a->values[k]); k++) {
		}
		if (a->n > 1 && k < a->n) {
			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "%s: the range '%s' is one of several values", a->what,
					   a->values[k]);
			moo__error_hint(e, "sweep a range alone, with --random N: %s%s%s", a->key,
					a->in_file ? ": " : "=", a->values[k]);
			r = MOO_EARG;
			continue;
		}
		if (a->n != 1 || !range_written(a->values[0])) {
			continue;
		}
		if (parse_range(a, err)) {
			r = MOO_EARG;
		} else if (!random) {
			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "%s: a range needs --random, which draws points from it",
					   a->what);
			moo__error_hint(e,
					"add --random N (N points drawn from %s), or list the "
					"values: %s%s",
					a->values[0], a->key, a->in_file ? ": [V1, V2]" : "=V1,V2");
			r = MOO_EARG;
		}
	}
	return r;
}

/* One value of an axis, drawn: from its range, uniformly (whole numbers when both ends
 * are) or log-uniformly, else one of its values. */
static char *draw(const struct axis *a, uint64_t *seed)
{
	const struct range *rg = &a->range;
	double u, x;

	if (!a->is_range) {
		return moo__strdup(a->values[rng_next(seed) % a->n]);
	}
	u = rng_unit(seed);
	if (rg->ints) {
		/* [ILO, IHI + 1), floored: every whole number of the range can be drawn */
		unsigned long long span = (unsigned long long)rg->ihi - (unsigned long long)rg->ilo,
				   off;

		if (rg->log_scale) {
			x = exp(log(rg->lo) + u * (log(rg->hi + 1) - log(rg->lo)));
			off = x - rg->lo >= (double)span ? span : (unsigned long long)(x - rg->lo);
		} else {
			off = span == ULLONG_MAX ? rng_next(seed)
						 : (unsigned long long)(u * ((double)span + 1));
			off = off > span ? span : off;
		}
		return moo__printf("%lld", (long long)((unsigned long long)rg->ilo + off));
	}
	x = rg->log_scale ? exp(log(rg->lo) + u * (log(rg->hi) - log(rg->lo)))
			  : rg->lo + u * (rg->hi - rg->lo);
	return moo__printf("%.6g", x);
}

/* The points as JSON: [["training_params.lr=0.1", …], …]. */
static int make_points(json_t **out, const struct moo_sweep_opts *o, uint64_t seed,
		       struct moo_error **err)
{
	struct axis *axes = NULL;
	size_t n_axes = 0, i, k, total = 1;
	json_t *points = json_array();
	int r = 0;

	for (i = 0; i < o->n_grid && !r; i++) {
		r = parse_grid(&axes, &n_axes, o->grid[i], err);
	}
	if (!r && o->grid_file) {
		r = parse_grid_file(&axes, &n_axes, o->grid_file, err);
	}
	if (!r && !n_axes) {
		r = moo__fail(err, MOO_EARG, "a sweep needs --grid or --grid-file");
	}
	if (!r) {
		r = check_axes(axes, n_axes, o->random > 0, err);
	}
	for (i = 0; !r && i < n_axes; i++) {
		for (k = 0; k < i; k++) {
			if (!strcmp(axes[k].key, axes[i].key)) {
				r = moo__fail(err, MOO_EARG, "'%s' is swept twice", axes[i].key);
			}
		}
		total = total * axes[i].n;
		if (total > MAX_POINTS) {
			r = moo__fail(err, MOO_EARG, "the grid has more than %d points",
				      MAX_POINTS);
		}
	}
	if (!r && o->random > MAX_POINTS) {
		r = moo__fail(err, MOO_EARG, "--random takes at most %d points", MAX_POINTS);
	}
	if (r) {
		goto done;
	}
	total = o->random ? o->random : total;
	for (i = 0; i < total; i++) {
		json_t *p = json_array();
		size_t rest = i;

		/* the last axis varies fastest, as Hydra's multirun does */
		for (k = n_axes; k-- > 0;) {
			char *v = o->random ? draw(&axes[k], &seed)
					    : moo__strdup(axes[k].values[rest % axes[k].n]);
			char *kv = moo__printf("%s=%s", axes[k].key, v);

			json_array_insert_new(p, 0, json_string(kv));
			rest /= axes[k].n;
			free(v);
			free(kv);
		}
		json_array_append_new(points, p);
	}
	*out = points;
	points = NULL;
done:
	json_decref(points);
	for (i = 0; i < n_axes; i++) {
		for (k = 0; k < axes[i].n; k++) {
			free(axes[i].values[k]);
		}
		free(axes[i].values);
		free(axes[i].key);
		free(axes[i].what);
	}
	free(axes);
	return r;
}

/* ---- running ------------------------------------------------------------------------------ */

enum pstate { P_PENDING, P_RUNNING, P_DONE };

struct point {
	enum pstate state;
	struct moo_job *job;
	unsigned attempts; /* retries used */
	size_t host;
	int gpu; /* the GPU it is pinned to, or -1 */
	bool ok;
};

struct host {
	const char *name;
	size_t slots, used;
	bool *gpu_busy; /* when slots are GPUs */
	double down_since;
	double last_try;
	bool reached; /* a point started, or was refreshed, there in this run */
	char *why;    /* why it was last not reached */
};

struct run {
	struct moo_store *st;
	const struct moo_bundle *b;
	const char *id;
	json_t *points, *opts;
	struct point *p;
	size_t n;
	struct host *hosts;
	size_t n_hosts;
	bool slurm;
	size_t max_parallel;
	unsigned retries;
	bool unreachable;               /* stopped: no host that is left can be reached */
	const struct moo_sweep_opts *o; /* callbacks, stop, detach */
	struct moo_slurm_opts so;
};

static void emit(struct run *rn, enum moo_sweep_event ev, const struct moo_job *job,
		 const char *what)
{
	if (rn->o && rn->o->cb) {
		rn->o->cb(ev, job, what, rn->o->cb_data);
	}
}

static const char *opt_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Starts point i (on host h, or Slurm); staged_only for a Slurm array. */
static int start_point(struct run *rn, size_t i, size_t h, bool staged_only, struct moo_error **err)
{
	struct moo_run_opts ro = MOO_RUN_OPTS_INIT;
	json_t *pt = json_array_get(rn->points, i), *sets = json_object_get(rn->opts, "set"), *v;
	const char **set =
		moo__calloc(json_array_size(pt) + json_array_size(sets) + 2, sizeof(*set));
	struct point *p = &rn->p[i];
	struct moo_job *job = NULL;
	char *gpu = NULL, *name = moo__printf("%s:%zu", rn->id, i);
	size_t k, n = 0;
	int r;

	json_array_foreach(sets, k, v)
	{
		set[n++] = json_string_value(v);
	}
	json_array_foreach(pt, k, v)
	{
		set[n++] = json_string_value(v);
	}
	p->gpu = -1;
	if (!rn->slurm && rn->hosts[h].gpu_busy) {
		for (k = 0; k < rn->hosts[h].slots && rn->hosts[h].gpu_busy[k]; k++) {
		}
		p->gpu = (int)k;
		gpu = moo__printf("env.CUDA_VISIBLE_DEVICES=%zu", k);
		set[n++] = gpu;
	}
	ro.name = name;
	ro.set = set;
	ro.n_set = n;
	ro.host = rn->hosts[h].name;
	ro.runtime = opt_str(rn->opts, "runtime");
	ro.image = opt_str(rn->opts, "image");
	ro.slurm = &rn->so;
	ro.sweep = rn->id;
	ro.sweep_index = (int)i;
	ro.no_launch = staged_only;
	r = moo_job_start(&job, rn->st, rn->b, &ro, err);
	if (!r) {
		moo_job_free(p->job);
		p->job = job;
		p->state = P_RUNNING;
		p->host = h;
		rn->hosts[h].used++;
		if (p->gpu >= 0) {
			rn->hosts[h].gpu_busy[p->gpu] = true;
		}
		if (!staged_only) {
			emit(rn, MOO_SWEEP_STARTED, job, rn->hosts[h].name);
		}
	}
	free(set);
	free(gpu);
	free(name);
	return r;
}

static void release(struct run *rn, struct point *p)
{
	struct host *h = &rn->hosts[p->host];

	if (h->used) {
		h->used--;
	}
	if (p->gpu >= 0 && h->gpu_busy) {
		h->gpu_busy[p->gpu] = false;
	}
	p->gpu = -1;
}

/* A point's job ended: done, or pending again for an infrastructure failure with retries left. */
static void ended(struct run *rn, struct point *p)
{
	release(rn, p);
	emit(rn, MOO_SWEEP_ENDED, p->job, NULL);
	if (p->job->status == MOO_JOB_LOST && p->attempts < rn->retries) {
		p->attempts++;
		p->state = P_PENDING;
		emit(rn, MOO_SWEEP_RETRY, p->job, p->job->detail);
		return;
	}
	p->state = P_DONE;
	p->ok = p->job->status == MOO_JOB_SUCCEEDED;
}

static double lost_after(void)
{
	const char *e = getenv("MOO_SWEEP_LOST_S");

	return e && *e ? strtod(e, NULL) : 30.0;
}

static bool cancelled(struct run *rn)
{
	char *status = NULL;
	bool c = false;

	if (!moo__store_sweep_get(rn->st, rn->id, NULL, NULL, NULL, &status, NULL)) {
		c = status && !strcmp(status, "cancelled");
	}
	free(status);
	return c;
}

/* Host h could not be reached (e: why, or NULL). Said once, unless no host is left to take
 * its points and it was never reached: the sweep stops then, saying so (unreachable). */
static void host_down(struct run *rn, size_t h, const struct moo_job *job,
		      const struct moo_error *e)
{
	struct host *x = &rn->hosts[h];
	size_t k;

	if (e && e->message) {
		free(x->why);
		x->why = e->cause ? moo__printf("%s: %s", e->message, e->cause)
				  : moo__strdup(e->message);
	}
	if (x->down_since <= 0) {
		x->down_since = now();
		for (k = 0; k < rn->n_hosts && (k == h || rn->hosts[k].down_since > 0); k++) {
		}
		if (x->reached || k < rn->n_hosts) {
			emit(rn, MOO_SWEEP_HOST_DOWN, job, x->name);
		}
	}
}

/*
 * Point i could not be launched on host h for the infrastructure's sake (the host cut off,
 * its supervisor not started in time: MOO_EHOST, MOO_EIO), e says why. A job moo_job_start
 * recorded meanwhile (created since t0) is marked lost with the reason and uses one of the
 * point's retries; with none left the point is done, not succeeded. A launch that recorded
 * nothing (the host not reached at all) costs no retry.
 */
static void launch_lost(struct run *rn, size_t i, size_t h, const struct moo_error *e, double t0)
{
	struct point *p = &rn->p[i];
	struct moo_job *job = NULL;
	char *ref = moo__printf("%s:%zu", rn->id, i);

	if (!moo_store_get_job(&job, rn->st, ref, NULL) && job->created >= t0 - 1 &&
	    (!p->job || strcmp(p->job->id, job->id))) {
		job->status = MOO_JOB_LOST;
		job->ended = now();
		free(job->detail);
		job->detail = moo__printf("not started on '%s': %s", rn->hosts[h].name,
					  e && e->message ? e->message : "host lost");
		moo_store_update_job(rn->st, job, NULL);
		moo_job_free(p->job);
		p->job = job;
		job = NULL;
		p->host = h;
		emit(rn, MOO_SWEEP_ENDED, p->job, NULL);
		if (p->attempts < rn->retries) {
			p->attempts++;
			emit(rn, MOO_SWEEP_RETRY, p->job, p->job->detail);
		} else {
			p->state = P_DONE;
			p->ok = false;
		}
	}
	moo_job_free(job);
	free(ref);
}

/* Refreshes the running points; a host that cannot be reached is marked down. */
static int poll_points(struct run *rn, struct moo_error **err)
{
	size_t i;

	for (i = 0; i < rn->n; i++) {
		if (rn->p[i].state == P_RUNNING && rn->p[i].job->backend_id) {
			moo__slurm_want(rn->p[i].job->host + 6, rn->p[i].job->backend_id);
		}
	}
	for (i = 0; i < rn->n; i++) {
		struct point *p = &rn->p[i];
		struct host *h = &rn->hosts[p->host];
		struct moo_error *e = NULL;
		int r;

		if (p->state != P_RUNNING) {
			continue;
		}
		if (h->down_since > 0 && now() - h->last_try < HOST_RETRY_S) {
			r = MOO_EHOST; /* not asked again yet */
		} else {
			h->last_try = now();
			r = moo_job_refresh(rn->st, p->job, &e);
		}
		if (r == MOO_EHOST) {
			host_down(rn, p->host, p->job, e);
			moo_error_free(e);
			if (!rn->slurm && now() - h->down_since > lost_after()) {
				/* given up on: its point goes elsewhere */
				p->job->status = MOO_JOB_LOST;
				p->job->ended = now();
				free(p->job->detail);
				p->job->detail = moo__printf("host '%s' unreachable", h->name);
				moo_store_update_job(rn->st, p->job, NULL);
				ended(rn, p);
			}
			continue;
		}
		if (r) {
			moo__error_append(err, e);
			return r;
		}
		h->down_since = 0;
		h->reached = true;
		if (moo_job_status_done(p->job->status)) {
			ended(rn, p);
		}
	}
	return 0;
}

static size_t count(const struct run *rn, enum pstate s)
{
	size_t i, c = 0;

	for (i = 0; i < rn->n; i++) {
		c += rn->p[i].state == s;
	}
	return c;
}

/* Fills free slots of reachable hosts with pending points. */
static int fill(struct run *rn, struct moo_error **err)
{
	size_t i, h, k, running = count(rn, P_RUNNING);

	for (i = 0; i < rn->n; i++) {
		struct moo_error *e = NULL;
		int r;

		if (rn->p[i].state != P_PENDING) {
			continue;
		}
		if (rn->max_parallel && running >= rn->max_parallel) {
			break;
		}
		/* the reachable host with the most free slots */
		for (h = rn->n_hosts, k = 0; k < rn->n_hosts; k++) {
			struct host *x = &rn->hosts[k];

			if ((x->down_since <= 0 || now() - x->last_try > HOST_RETRY_S) &&
			    x->used < x->slots &&
			    (h == rn->n_hosts ||
			     x->slots - x->used > rn->hosts[h].slots - rn->hosts[h].used)) {
				h = k;
			}
		}
		if (h == rn->n_hosts) {
			break; /* every host is full or down */
		}
		rn->hosts[h].last_try = now();
		r = start_point(rn, i, h, false, &e);
		if (r == MOO_EHOST || r == MOO_EIO) {
			/* the infrastructure's failure, not the point's: the host is taken for
			 * dropped and the point goes elsewhere (a failure of the entry point
			 * itself shows later, as its exit) */
			host_down(rn, h, NULL, e);
			launch_lost(rn, i, h, e, rn->hosts[h].last_try);
			rn->hosts[h].last_try = now(); /* tried again HOST_RETRY_S from now */
			moo_error_free(e);
			i--; /* the same point, elsewhere (unless it has used its retries) */
			continue;
		}
		if (r) {
			moo__error_append(err, e);
			return r;
		}
		rn->hosts[h].down_since = 0;
		rn->hosts[h].reached = true;
		running++;
	}
	return 0;
}

/* Points staged for an array Slurm did not take: their folders and records go. */
static void unstage(struct run *rn, struct moo__transport *t, const size_t *idx, size_t n)
{
	struct moo_buf rm = MOO_BUF_INIT;
	size_t i;
	int status;

	moo_buf_puts(&rm, "rm -rf --");
	for (i = 0; i < n; i++) {
		struct point *p = &rn->p[idx[i]];

		if (!p->job || p->job->backend_id) {
			continue;
		}
		moo_buf_putc(&rm, ' ');
		moo_buf_shquote(&rm, p->job->dir);
		moo_store_remove_job(rn->st, p->job->id, NULL);
		moo_job_free(p->job);
		p->job = NULL;
		p->state = P_PENDING;
	}
	if (t && rm.len > 9) {
		t->ops->exec(t, rm.ptr, NULL, NULL, &status, NULL);
	}
	moo_buf_dispose(&rm);
}

/* Slurm: the pending points staged, then submitted as arrays of at most MaxArraySize. */
static int submit_array(struct run *rn, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf list = MOO_BUF_INIT, args = MOO_BUF_INIT;
	size_t *idx = NULL, n = 0, i, c;
	char *dir = NULL, *prev = NULL;
	long max = 1001;
	int r;

	for (i = 0; i < rn->n; i++) {
		if (rn->p[i].state == P_PENDING) {
			if ((r = start_point(rn, i, 0, true, err))) {
				goto done;
			}
			moo_buf_printf(&list, "%s\n", rn->p[i].job->dir);
			MOO_GROW(idx, n);
			idx[n++] = i;
		}
	}
	if (!n) {
		r = 0;
		goto done;
	}
	if ((r = moo__transport_open(&t, rn->hosts[0].name, err)) ||
	    (r = moo__slurm_max_array(t, &max, err)) ||
	    (r = moo__slurm_args(&args, &rn->so, rn->b->spec, err))) {
		goto done;
	}
	dir = moo__printf("%s/sweeps/%s", t->root, rn->id);
	if ((r = t->ops->mkdir_p(t, dir, err))) {
		goto done;
	}
	{
		char *lp = moo__printf("%s/points-%.0f.txt", dir, now() * 1000);

		r = t->ops->write_file(t, lp, list.ptr, list.len, 0644, err);
		moo_buf_reset(&list);
		moo_buf_puts(&list, lp);
		free(lp);
		if (r) {
			goto done;
		}
	}
	for (c = 0; c * (size_t)max < n; c++) {
		size_t first = c * (size_t)max,
		       len = n - first > (size_t)max ? (size_t)max : n - first;
		struct moo_buf script = MOO_BUF_INIT, extra = MOO_BUF_INIT;
		char *sp = moo__printf("%s/array-%zu-%.0f.sh", dir, c, now() * 1000), *sid = NULL;

		/* the task's line of the list read by the shell itself, and its slurm.sh run by
		 * the same shell: no program started before the point's own supervisor */
		moo_buf_printf(&script, "#!/bin/sh\nn=$((SLURM_ARRAY_TASK_ID + %zu))\nd=\n", first);
		moo_buf_puts(&script, "while [ \"$n\" -ge 0 ] && IFS= read -r d; do n=$((n - 1)); "
				      "done <");
		moo_buf_shquote(&script, list.ptr);
		moo_buf_puts(&script, "\n[ \"$n\" -lt 0 ] && [ -n \"$d\" ] || exit 1\n"
				      "exec >>\"$d/process.log\" 2>&1\n. \"$d/slurm.sh\"\n");
		r = t->ops->write_file(t, sp, script.ptr, script.len, 0755, err);
		moo_buf_printf(&extra, " --array=0-%zu", len - 1);
		if (rn->max_parallel) {
			moo_buf_printf(&extra, "%%%zu", rn->max_parallel);
		}
		moo_buf_puts(&extra, " --job-name=");
		moo_buf_shquote(&extra, rn->id);
		moo_buf_puts(&extra, " --chdir=");
		moo_buf_shquote(&extra, dir);
		moo_buf_puts(&extra, " --output=");
		moo_buf_shquote(&extra, dir);
		moo_buf_puts(&extra, "/slurm-%A_%a.out");
		if (prev) {
			/* the next chunk starts when the last has ended: %P holds across chunks */
			moo_buf_printf(&extra, " --dependency=afterany:%s", prev);
		}
		if (!r) {
			r = moo__slurm_submit(t, sp, args.ptr, extra.ptr, &sid, err);
		}
		for (i = 0; !r && i < len; i++) {
			struct moo_job *job = rn->p[idx[first + i]].job;

			job->backend_id = moo__printf("%s_%zu", sid, i);
			free(job->detail);
			job->detail = moo__strdup("submitted");
			r = moo_store_update_job(rn->st, job, err);
		}
		if (!r) {
			emit(rn, MOO_SWEEP_SUBMITTED, NULL, sid);
		}
		free(prev);
		prev = sid;
		free(sp);
		moo_buf_dispose(&script);
		moo_buf_dispose(&extra);
		if (r) {
			goto done;
		}
	}
done:
	if (r) {
		unstage(rn, t, idx, n);
	}
	moo__transport_close(t);
	moo_buf_dispose(&list);
	moo_buf_dispose(&args);
	free(idx);
	free(dir);
	free(prev);
	return r;
}

static int slots_of(struct run *rn, struct host *h, size_t per_host)
{
	struct moo_host_seen seen;

	memset(&seen, 0, sizeof(seen));
	h->slots = per_host ? per_host : 1;
	if (!per_host && !moo_store_get_host_facts(&seen, rn->st, h->name, NULL) && seen.facts &&
	    seen.facts->n_gpus) {
		h->slots = seen.facts->n_gpus;
		h->gpu_busy = moo__calloc(h->slots, sizeof(bool));
	}
	moo_host_seen_dispose(&seen);
	return 0;
}

/*
 * Points are left (pending, or running on a host cut off) and no host is left to run them:
 * every host is down, each either never reached in this run or down for longer than the
 * points it ran are waited for (MOO_SWEEP_LOST_S). The sweep stops then (MOO_EHOST), saying
 * which hosts, rather than trying them again every HOST_RETRY_S for ever.
 */
static int unreachable(struct run *rn, struct moo_error **err)
{
	struct moo_buf names = MOO_BUF_INIT, whys = MOO_BUF_INIT;
	struct moo_error *e;
	size_t k, left = count(rn, P_PENDING) + count(rn, P_RUNNING);

	if (!left || rn->slurm) {
		return 0;
	}
	for (k = 0; k < rn->n_hosts; k++) {
		const struct host *h = &rn->hosts[k];

		if (h->down_since <= 0 || (h->reached && now() - h->down_since <= lost_after())) {
			return 0;
		}
	}
	for (k = 0; k < rn->n_hosts; k++) {
		moo_buf_printf(&names, "%s'%s'", k ? ", " : "", rn->hosts[k].name);
		if (rn->hosts[k].why) {
			moo_buf_printf(&whys, "%s%s", whys.len ? "; " : "", rn->hosts[k].why);
		}
	}
	e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR,
			   "cannot reach %s, %s of sweep '%s' (%zu of %zu points not done)",
			   names.ptr, rn->n_hosts > 1 ? "every host" : "the one host", rn->id, left,
			   rn->n);
	if (whys.len) {
		moo__error_cause(e, whys.ptr);
	}
	moo__error_hint(e, "moo sweep --resume %s once %s back", rn->id,
			rn->n_hosts > 1 ? "they are" : "it is");
	moo_buf_dispose(&names);
	moo_buf_dispose(&whys);
	rn->unreachable = true;
	return MOO_EHOST;
}

/* Loads the sweep's jobs, then runs the points that have not succeeded. */
static int run_sweep(struct run *rn, struct moo_error **err)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	json_t *hosts = json_object_get(rn->opts, "hosts"), *v;
	size_t n_jobs = 0, i, k;
	bool failed = false;
	int r;

	rn->n = json_array_size(rn->points);
	rn->p = moo__calloc(rn->n, sizeof(*rn->p));
	rn->max_parallel = (size_t)json_integer_value(json_object_get(rn->opts, "max_parallel"));
	rn->retries = (unsigned)json_integer_value(json_object_get(rn->opts, "retries"));
	rn->so.version = MOO_SLURM_OPTS_VERSION;
	rn->so.partition = opt_str(rn->opts, "partition");
	rn->so.time = opt_str(rn->opts, "time");
	rn->so.gres = opt_str(rn->opts, "gres");
	rn->so.account = opt_str(rn->opts, "account");
	rn->so.qos = opt_str(rn->opts, "qos");
	rn->so.constraint = opt_str(rn->opts, "constraint");
	rn->n_hosts = json_array_size(hosts) ? json_array_size(hosts) : 1;
	rn->hosts = moo__calloc(rn->n_hosts, sizeof(*rn->hosts));
	for (k = 0; k < rn->n_hosts; k++) {
		v = json_array_get(hosts, k);
		rn->hosts[k].name = v ? json_string_value(v) : "local";
		slots_of(rn, &rn->hosts[k],
			 (size_t)json_integer_value(json_object_get(rn->opts, "per_host")));
	}
	rn->slurm = moo__slurm_host(rn->hosts[0].name);
	/* what ran before (a resume): the newest job of each point counts; lost ones used a retry
	 */
	f.sweep = rn->id;
	if ((r = moo_store_list_jobs(&jobs, &n_jobs, rn->st, &f, err))) {
		goto done;
	}
	for (i = 0; i < n_jobs; i++) {
		struct moo_job *j = jobs[i];
		struct point *p;

		if (j->sweep_index < 0 || (size_t)j->sweep_index >= rn->n) {
			continue;
		}
		p = &rn->p[j->sweep_index];
		if (j->status == MOO_JOB_LOST) {
			p->attempts++;
		}
		if (p->job) {
			continue; /* an older one */
		}
		p->job = j;
		jobs[i] = NULL;
		p->gpu = -1;
		for (k = 0; k < rn->n_hosts && strcmp(rn->hosts[k].name, j->host); k++) {
		}
		p->host = k < rn->n_hosts ? k : 0;
		if (j->status == MOO_JOB_SUCCEEDED) {
			p->state = P_DONE;
			p->ok = true;
		} else if (!moo_job_status_done(j->status) && (j->backend_id || !rn->slurm)) {
			p->state = P_RUNNING;
			rn->hosts[p->host].used++;
		}
	}
	for (i = 0; i < rn->n; i++) {
		rn->p[i].attempts = 0; /* a resume gives each point its retries again */
	}
	if (rn->slurm && (r = submit_array(rn, err))) {
		goto done;
	}
	for (;;) {
		if (rn->o && rn->o->stop && *rn->o->stop) {
			r = MOO_EINTR;
			goto done;
		}
		if (cancelled(rn)) {
			break;
		}
		if ((r = poll_points(rn, err))) {
			goto done;
		}
		if (rn->slurm) {
			/* Slurm schedules; a point lost to the infrastructure is submitted alone */
			for (i = 0; i < rn->n; i++) {
				if (rn->p[i].state == P_PENDING &&
				    (r = start_point(rn, i, 0, false, err))) {
					goto done;
				}
			}
		} else if ((r = fill(rn, err)) || (r = unreachable(rn, err))) {
			goto done;
		}
		if ((rn->o && rn->o->detach) || count(rn, P_DONE) == rn->n) {
			break;
		}
		nap(rn->slurm ? 0.5 : 0.2);
	}
	for (i = 0; i < rn->n; i++) {
		failed |= !rn->p[i].ok;
	}
	if (rn->o && rn->o->detach && count(rn, P_PENDING)) {
		/* detached after the first wave: nothing starts the rest unless asked */
		moo__warn(MOO_EJOB,
			  "%zu of %zu points of '%s' are not started (detached after the first "
			  "wave); 'moo sweep --resume %s' starts them",
			  count(rn, P_PENDING), rn->n, rn->id, rn->id);
	}
	if (!(rn->o && rn->o->detach)) {
		bool c = cancelled(rn);

		moo__store_sweep_put(rn->st, rn->id, NULL, NULL, NULL, c ? "cancelled" : "done",
				     NULL);
		r = c ? MOO_EINTR : failed ? MOO_EJOB : 0;
		if (r == MOO_EJOB) {
			size_t nf = 0;

			for (i = 0; i < rn->n; i++) {
				nf += !rn->p[i].ok;
			}
			moo__error_hint(moo__error_add(err, MOO_EJOB, MOO_SEV_ERROR,
						       "%zu of %zu points of '%s' did not succeed",
						       nf, rn->n, rn->id),
					"moo sweep --resume %s starts them again", rn->id);
		}
	}
done:
	moo_jobs_free(jobs, n_jobs);
	for (i = 0; i < rn->n; i++) {
		moo_job_free(rn->p[i].job);
	}
	free(rn->p);
	for (k = 0; k < rn->n_hosts; k++) {
		free(rn->hosts[k].gpu_busy);
		free(rn->hosts[k].why);
	}
	free(rn->hosts);
	return r;
}

/*
 * After a sweep stopped on an error of its own (r: not its points' failure, not an
 * interrupt): one that left no job is forgotten, as if never started (true); one whose
 * points ran is kept as 'failed', for --resume, as is one stopped for its hosts
 * (unreachable), which --resume goes on once they are back.
 */
static bool start_failed(struct moo_store *st, const char *id, int r, bool unreachable)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	size_t n = 0;
	bool gone = false;

	if (!r || r == MOO_EJOB || r == MOO_EINTR) {
		return false;
	}
	f.sweep = id;
	if (!unreachable && !moo_store_list_jobs(&jobs, &n, st, &f, NULL) && !n) {
		gone = !moo__store_sweep_remove(st, id, NULL);
	}
	if (!gone) {
		moo__store_sweep_put(st, id, NULL, NULL, NULL, "failed", NULL);
	}
	moo_jobs_free(jobs, n);
	return gone;
}

int moo_sweep_run(char **id_out, struct moo_store *st, const struct moo_bundle *b,
		  const struct moo_sweep_opts *o, struct moo_error **err)
{
	struct run rn;
	json_t *opts = json_object(), *hosts = json_array(), *set = json_array();
	uint64_t seed;
	char *points_text = NULL, *opts_text = NULL, *id = NULL;
	size_t i;
	int r;

	memset(&rn, 0, sizeof(rn));
	if (!o) {
		r = moo__fail(err, MOO_EARG, "moo_sweep_run: no options");
		goto done;
	}
	if ((r = moo__opts_version(o->version, MOO_SWEEP_OPTS_VERSION, "moo_sweep_opts", err)) ||
	    (r = MOO__OPTS_VERSION(o->slurm, MOO_SLURM_OPTS_VERSION, "moo_slurm_opts", err))) {
		goto done;
	}
	seed = o->seed ? o->seed : (uint64_t)(now() * 1e6);
	if ((r = make_points(&rn.points, o, seed, err))) {
		goto done;
	}
	for (i = 0; i < o->n_hosts; i++) {
		if (moo__slurm_host(o->hosts[i]) && o->n_hosts > 1) {
			r = moo__fail(err, MOO_EARG, "a sweep on Slurm takes one slurm: host");
			goto done;
		}
		json_array_append_new(hosts, json_string(o->hosts[i]));
	}
	for (i = 0; i < o->n_set; i++) {
		json_array_append_new(set, json_string(o->set[i]));
	}
	json_object_set_new(opts, "hosts", hosts);
	json_object_set_new(opts, "set", set);
	hosts = set = NULL;
	json_object_set_new(opts, "seed", json_integer((json_int_t)(seed >> 1)));
	json_object_set_new(opts, "max_parallel", json_integer((json_int_t)o->max_parallel));
	json_object_set_new(opts, "per_host", json_integer((json_int_t)o->per_host));
	json_object_set_new(opts, "retries", json_integer((json_int_t)o->retries));
	if (o->runtime) {
		json_object_set_new(opts, "runtime", json_string(o->runtime));
	}
	if (o->image) {
		json_object_set_new(opts, "image", json_string(o->image));
	}
	if (o->slurm) {
		const char *v[6] = {o->slurm->partition, o->slurm->time, o->slurm->gres,
				    o->slurm->account,   o->slurm->qos,  o->slurm->constraint};
		static const char *const keys[] = MOO_CONFIG_SLURM_KEYS;

		for (i = 0; i < 6; i++) {
			if (v[i]) {
				json_object_set_new(opts, keys[i], json_string(v[i]));
			}
		}
	}
	points_text = json_dumps(rn.points, JSON_COMPACT);
	opts_text = json_dumps(opts, JSON_COMPACT);
	for (i = 0; i < 8; i++) {
		free(id);
		id = moo__random_id("moo-sweep-");
		if (!moo_sweep_find(st, id)) {
			break;
		}
	}
	if ((r = moo__store_sweep_put(st, id, b->source, points_text, opts_text, "running", err))) {
		goto done;
	}
	rn.st = st;
	rn.b = b;
	rn.id = id;
	rn.opts = opts;
	rn.o = o;
	r = run_sweep(&rn, err);
	if (!start_failed(st, id, r, rn.unreachable)) {
		*id_out = moo__strdup(id);
	}
done:
	json_decref(rn.points);
	json_decref(opts);
	json_decref(hosts);
	json_decref(set);
	free(points_text);
	free(opts_text);
	free(id);
	return r;
}

int moo_sweep_resume(struct moo_store *st, const char *ref, const struct moo_sweep_opts *o,
		     struct moo_error **err)
{
	struct run rn;
	struct moo_bundle *b = NULL;
	char *id = moo_sweep_find(st, ref), *source = NULL, *points = NULL, *opts = NULL;
	int r;

	memset(&rn, 0, sizeof(rn));
	if ((r = MOO__OPTS_VERSION(o, MOO_SWEEP_OPTS_VERSION, "moo_sweep_opts", err))) {
		free(id);
		return r;
	}
	if (!id) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR, "no sweep '%s'", ref);

		moo__error_hint(e, "'moo ps -a' shows a sweep's id as the NAME of its jobs");
		r = MOO_ENOTFOUND;
		goto done;
	}
	if ((r = moo__store_sweep_get(st, id, &source, &points, &opts, NULL, err))) {
		goto done;
	}
	if ((r = moo_bundle_open(&b, source, NULL, err))) {
		goto done;
	}
	rn.points = json_loads(points, 0, NULL);
	rn.opts = json_loads(opts, 0, NULL);
	if (!json_is_array(rn.points) || !json_is_object(rn.opts)) {
		r = moo__fail(err, MOO_ESTORE, "sweep '%s' is damaged in the store", id);
		goto done;
	}
	moo__store_sweep_put(st, id, NULL, NULL, NULL, "running", NULL);
	rn.st = st;
	rn.b = b;
	rn.id = id;
	rn.o = o;
	r = run_sweep(&rn, err);
	if (r && r != MOO_EJOB && r != MOO_EINTR) {
		moo__store_sweep_put(st, id, NULL, NULL, NULL, "failed", NULL);
	}
done:
	json_decref(rn.points);
	json_decref(rn.opts);
	moo_bundle_free(b);
	free(id);
	free(source);
	free(points);
	free(opts);
	return r;
}

char *moo_sweep_find(struct moo_store *st, const char *ref)
{
	char *id = NULL, *src = NULL;

	if (!moo__store_sweep_get(st, ref, &src, NULL, NULL, NULL, NULL)) {
		id = strncmp(ref, "moo-sweep-", 10) ? moo__printf("moo-sweep-%s", ref)
						    : moo__strdup(ref);
	}
	free(src);
	return id;
}

int moo_sweep_cancel(size_t *n, struct moo_store *st, const char *ref, struct moo_error **err)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	char *id = moo_sweep_find(st, ref);
	size_t n_jobs = 0, i;
	int r;

	*n = 0;
	if (!id) {
		return moo__fail(err, MOO_ENOTFOUND, "no sweep '%s'", ref);
	}
	/* first: a moo sweep running it starts nothing more */
	if ((r = moo__store_sweep_put(st, id, NULL, NULL, NULL, "cancelled", err))) {
		goto done;
	}
	f.sweep = id;
	f.status_mask = 1u << MOO_JOB_QUEUED | 1u << MOO_JOB_RUNNING;
	if ((r = moo_store_list_jobs(&jobs, &n_jobs, st, &f, err))) {
		goto done;
	}
	for (i = 0; i < n_jobs && !r; i++) {
		bool was = false;

		r = moo_job_cancel(&was, st, jobs[i], 5.0, err);
		*n += was;
	}
done:
	moo_jobs_free(jobs, n_jobs);
	free(id);
	return r;
}
