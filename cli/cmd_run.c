/* moo run: stage a project as a job on this machine or an SSH host, start it detached, follow
 * its log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool detach, json, accept_new;
static const char *name, *on, *runtime, *image;
static struct moo_slurm_opts slurm = MOO_SLURM_OPTS_INIT;
static struct strlist sets;
static long tail_lines = 20;

static const struct opt opts[] = {
	{'d', "detach", NULL, "print the job id and return at once", OPT_FLAG, &detach},
	{0, "name", "NAME", "a name kept beside the job id", OPT_STRING, &name},
	{0, "on", "HOST",
	 "run on this SSH host, or on Slurm: slurm:LOGIN (slurm: for this machine); "
	 "default: this machine",
	 OPT_STRING, &on},
	{0, "partition", "NAME", "Slurm partition (slurm: hosts)", OPT_STRING, &slurm.partition},
	{0, "time", "LIMIT", "Slurm time limit, as sbatch --time", OPT_STRING, &slurm.time},
	{0, "gres", "SPEC", "Slurm generic resources, e.g. gpu:2", OPT_STRING, &slurm.gres},
	{0, "account", "NAME", "Slurm account", OPT_STRING, &slurm.account},
	{0, "qos", "NAME", "Slurm quality of service", OPT_STRING, &slurm.qos},
	{0, "constraint", "LIST", "Slurm node features", OPT_STRING, &slurm.constraint},
	{0, "accept-new-host-key", NULL, "record an unknown host key in known_hosts", OPT_FLAG,
	 &accept_new},
	{0, "set", "KEY=VALUE", "override training_params.NAME or env.NAME (repeatable)", OPT_LIST,
	 &sets},
	{0, "runtime", "RUNTIME", "docker, podman, apptainer or host (default: chosen)", OPT_STRING,
	 &runtime},
	{0, "image", "REF", "the image a container runtime runs (name@sha256:digest)", OPT_STRING,
	 &image},
	{0, "tail", "N", "log lines shown when the job fails (default 20)", OPT_INT, &tail_lines},
	{0, "json", NULL, "print the job record as JSON at the end", OPT_FLAG, &json},
	OPT_END,
};

int check_job_name(const struct cmd *self, const char *job_name)
{
	const char *p;

	for (p = job_name; *p && (unsigned char)*p >= 0x20 && *p != 0x7f && *p != ':'; p++) {
	}
	if (!*job_name || *p) {
		return usage_error(
			self,
			"a name is one or more characters, none a control character or ':' "
			"(SWEEP:N names a sweep's point)",
			"'%s' cannot be a job's name", esc(job_name));
	}
	if (!strncmp(job_name, "moo-job-", 8) || !strncmp(job_name, "moo-sweep-", 10)) {
		return usage_error(self, "names beginning 'moo-job-' or 'moo-sweep-' are ids",
				   "'%s' cannot be a job's name", job_name);
	}
	return -1;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_run_opts ro = MOO_RUN_OPTS_INIT;
	struct moo_store *st = NULL;
	struct moo_bundle *b = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	struct moo_plan *plan = NULL;
	const char *source;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 1);
	if (r >= 0) {
		return r;
	}
	if (tail_lines < 0) {
		return usage_error(self, NULL, "option '--tail' needs a number of 0 or more");
	}
	if (name && (r = check_job_name(self, name)) >= 0) {
		return r;
	}
	if (runtime && strcmp(runtime, "docker") && strcmp(runtime, "podman") &&
	    strcmp(runtime, "apptainer") && strcmp(runtime, "host")) {
		return usage_error(self, "choose docker, podman, apptainer or host",
				   "unknown runtime '%s'", runtime);
	}
	if ((slurm.partition || slurm.time || slurm.gres || slurm.account || slurm.qos ||
	     slurm.constraint) &&
	    (!on || strncmp(on, "slurm:", 6))) {
		return usage_error(self, "add --on slurm:LOGIN (or --on slurm: on a login node)",
				   "Slurm options need a Slurm host");
	}
	source = npos ? argv[0] : ".";
	r = open_store(&st);
	if (r >= 0) {
		goto done;
	}
	bo.progress = progress_cb;
	bo.progress_data = (void *)"bundle";
	r = moo_bundle_open(&b, source, &bo, &err);
	progress_end();
	if (!r) {
		/* One plan, made before anything is sent: the runtime, the image pinned (an
		 * --image name:tag too), the host's facts; the job's moo.lock records it with
		 * what then ran. */
		struct moo_plan_opts po = MOO_PLAN_OPTS_INIT;

		print_errors(b->spec->warnings); /* what validate warns about */
		po.host = on;
		po.runtime = runtime;
		po.image = image;
		po.accept_new_host_key = accept_new;
		po.store = st;
		/* a Slurm login node need not have the GPUs the compute nodes have */
		po.no_preflight = on && !strncmp(on, "slurm:", 6);
		r = moo_plan_make(&plan, b, &po, &err);
	}
	if (!r) {
		ro.plan = plan;
		ro.name = name;
		ro.set = sets.items;
		ro.n_set = sets.n;
		ro.host = on;
		ro.accept_new_host_key = accept_new;
		ro.slurm = &slurm;
		ro.no_wait = !detach; /* followed at once: no wait for the supervisor's state */
		r = moo_job_start(&job, st, b, &ro, &err);
		/* Its temporary folder goes now, while the job starts, not after it ends. */
		moo_bundle_free(b);
		b = NULL;
	}
	if (r) {
		r = print_errors(err);
		goto done;
	}
	progress_end();
	if (!detach) {
		if (job->host && strcmp(job->host, "local") && strcmp(job->host, "slurm:")) {
			char size[32];

			format_size(size, sizeof(size), job->bytes_sent);
			fprintf(stderr, "moo: bundle %.12s %s %s\n",
				job->source_sha256 ? job->source_sha256 : "",
				job->bytes_sent ? "sent," : "already on",
				job->bytes_sent ? size : job->host);
		}
	}
	r = attend_job(st, job, detach, json, tail_lines);
done:
	moo_error_free(err);
	moo_plan_free(plan);
	moo_job_free(job);
	moo_bundle_free(b);
	moo_store_close(st);
	free(sets.items);
	return r;
}

const struct cmd cmd_run = {
	.name = "run",
	.summary = "run a project as a job here or on an SSH host, and follow it",
	.args = "[SOURCE]",
	.run = run,
};
