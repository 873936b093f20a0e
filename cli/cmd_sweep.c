/* moo sweep: one job per point of a parameter grid, under one sweep id. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool detach, json, accept_new;
static const char *on, *grid_file, *resume, *runtime, *image;
static struct strlist grids, sets;
static long random_n, max_parallel, per_host, retries, seed;
static struct moo_slurm_opts slurm = MOO_SLURM_OPTS_INIT;
static volatile sig_atomic_t interrupted;

static const struct opt opts[] = {
	{0, "grid", "KEY=V1,V2", "sweep training_params.NAME or env.NAME over values (repeatable)",
	 OPT_LIST, &grids},
	{0, "grid-file", "FILE", "a YAML mapping of KEY to a list of values", OPT_STRING,
	 &grid_file},
	{0, "random", "N", "N points drawn at random (KEY=LO..HI[:log] ranges, or lists)", OPT_INT,
	 &random_n},
	{0, "seed", "N", "the seed of --random (default: from the clock)", OPT_INT, &seed},
	{0, "on", "HOSTS", "SSH hosts, comma-separated, or slurm:LOGIN; default: this machine",
	 OPT_STRING, &on},
	{0, "max-parallel", "N", "points running at once (default: as many as the hosts take)",
	 OPT_INT, &max_parallel},
	{0, "per-host", "N", "points per host (default: its GPU count, else 1)", OPT_INT,
	 &per_host},
	{0, "retries", "N", "retries of a point lost to the infrastructure (default 0)", OPT_INT,
	 &retries},
	{0, "set", "KEY=VALUE", "an override every point gets (repeatable)", OPT_LIST, &sets},
	{0, "runtime", "RUNTIME", "docker, podman, apptainer or host (default: chosen)", OPT_STRING,
	 &runtime},
	{0, "image", "REF", "the image a container runtime runs", OPT_STRING, &image},
	{0, "partition", "NAME", "Slurm partition", OPT_STRING, &slurm.partition},
	{0, "time", "LIMIT", "Slurm time limit of each point", OPT_STRING, &slurm.time},
	{0, "gres", "SPEC", "Slurm generic resources of each point", OPT_STRING, &slurm.gres},
	{0, "account", "NAME", "Slurm account", OPT_STRING, &slurm.account},
	{0, "qos", "NAME", "Slurm quality of service", OPT_STRING, &slurm.qos},
	{0, "constraint", "LIST", "Slurm node features", OPT_STRING, &slurm.constraint},
	{0, "accept-new-host-key", NULL, "record an unknown host key in known_hosts", OPT_FLAG,
	 &accept_new},
	{0, "resume", "SWEEP", "start the points of SWEEP that have not succeeded", OPT_STRING,
	 &resume},
	{'d', "detach", NULL, "print the sweep id once every point is started or submitted",
	 OPT_FLAG, &detach},
	{0, "json", NULL, "print the sweep's jobs as JSON at the end", OPT_FLAG, &json},
	OPT_END,
};

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void event(enum moo_sweep_event ev, const struct moo_job *job, const char *what, void *data)
{
	char outcome[160];

	(void)data;
	switch (ev) {
	case MOO_SWEEP_STARTED:
		fprintf(stderr, "moo: %s:%d started on %s as %s\n", job->sweep, job->sweep_index,
			what, job->id);
		break;
	case MOO_SWEEP_ENDED:
		job_outcome(job, outcome, sizeof(outcome));
		fprintf(stderr, "moo: %s:%d %s (%s)\n", job->sweep, job->sweep_index,
			moo_job_status_name(job->status), outcome);
		break;
	case MOO_SWEEP_RETRY:
		fprintf(stderr, "moo: %s:%d is retried (%s)\n", job->sweep, job->sweep_index,
			what ? what : "lost");
		break;
	case MOO_SWEEP_HOST_DOWN:
		fprintf(stderr, "moo: warning: cannot reach '%s'; its points go elsewhere\n", what);
		break;
	case MOO_SWEEP_SUBMITTED:
		fprintf(stderr, "moo: submitted as Slurm job array %s\n", what);
		break;
	}
}

/* Splits "a,b,c" in place into list. */
static void split(char *s, struct strlist *list)
{
	char *save = NULL, *w;

	for (w = strtok_r(s, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		list->items = realloc(list->items, (list->n + 1) * sizeof(*list->items));
		if (!list->items) {
			abort();
		}
		list->items[list->n++] = w;
	}
}

/* --json: {"sweep": ID or null, "jobs": [every job of the sweep], "diagnostics": [...]}. */
static void print_points(struct moo_store *st, const char *id, const struct moo_error *diags)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	struct moo_error *err = NULL;
	json_t *a = json_array(), *o = json_object();
	size_t n = 0, i;

	f.sweep = id;
	if (id && !moo_store_list_jobs(&jobs, &n, st, &f, &err)) {
		for (i = 0; i < n; i++) {
			json_array_append_new(a, job_to_json(jobs[i], false));
		}
	}
	json_object_set_new(o, "sweep", id ? json_string(id) : json_null());
	json_object_set_new(o, "jobs", a);
	json_object_set_new(o, "diagnostics", errors_to_json(err ? err : diags));
	print_json(o);
	moo_jobs_free(jobs, n);
	moo_error_free(err);
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_sweep_opts so = MOO_SWEEP_OPTS_INIT;
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct sigaction sa, old_int, old_term;
	struct moo_store *st = NULL;
	struct moo_bundle *b = NULL;
	struct moo_error *err = NULL;
	struct strlist hosts = {NULL, 0};
	char *on_copy = NULL, *id = NULL;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 1);
	if (r >= 0) {
		return r;
	}
	if (random_n < 0 || max_parallel < 0 || per_host < 0 || retries < 0 || seed < 0) {
		return usage_error(self, NULL, "numbers given must be 0 or more");
	}
	if (!resume && !grids.n && !grid_file) {
		return usage_error(self, "add --grid training_params.NAME=V1,V2",
				   "a sweep needs --grid or --grid-file");
	}
	if (resume && (npos || grids.n || grid_file || on)) {
		return usage_error(self, "a resumed sweep keeps its own source, grid and hosts",
				   "--resume takes no SOURCE, --grid or --on");
	}
	r = open_store(&st);
	if (r >= 0) {
		return r;
	}
	if (on) {
		on_copy = strdup(on);
		if (!on_copy) {
			abort();
		}
		split(on_copy, &hosts);
	}
	so.grid = grids.items;
	so.n_grid = grids.n;
	so.grid_file = grid_file;
	so.random = (size_t)random_n;
	so.seed = (uint64_t)seed;
	so.hosts = hosts.items;
	so.n_hosts = hosts.n;
	so.slurm = &slurm;
	so.max_parallel = (size_t)max_parallel;
	so.per_host = (size_t)per_host;
	so.retries = (unsigned)retries;
	so.set = sets.items;
	so.n_set = sets.n;
	so.runtime = runtime;
	so.image = image;
	so.detach = detach;
	so.cb = event;
	so.stop = &interrupted;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (resume) {
		r = moo_sweep_resume(st, resume, &so, &err);
		id = moo_sweep_find(st, resume);
	} else {
		bo.progress = progress_cb;
		bo.progress_data = (void *)"bundle";
		r = moo_bundle_open(&b, npos ? argv[0] : ".", &bo, &err);
		progress_end();
		if (!r) {
			r = moo_sweep_run(&id, st, b, &so, &err);
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (id && !json) {
		fprintf(stderr, "moo: sweep %s\n", id);
	}
	if (r == MOO_EINTR) {
		fprintf(stderr,
			"moo: stopped following %s; its running points go on\n"
			"moo: go on with: moo sweep --resume %s\n",
			id ? id : "the sweep", id ? id : "SWEEP");
		r = EXIT_INTERRUPTED;
	} else if (r && r != MOO_EJOB) {
		r = print_errors(err);
	} else {
		if (r == MOO_EJOB) {
			print_errors(err);
		}
		r = r ? EXIT_JOB_FAILED : EXIT_OK;
	}
	if (json) {
		print_points(st, id, err);
	} else if (id && detach && r == EXIT_OK) {
		printf("%s\n", id);
	}
	moo_error_free(err);
	moo_bundle_free(b);
	moo_store_close(st);
	free(hosts.items);
	free(on_copy);
	free(id);
	free(grids.items);
	free(sets.items);
	return r;
}

const struct cmd cmd_sweep = {
	.name = "sweep",
	.summary = "run one job per point of a parameter grid, here, over SSH hosts or on Slurm",
	.args = "[SOURCE]",
	.run = run,
};
