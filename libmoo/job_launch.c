/*
 * job_launch: stage a bundle on the host, write the job's files, launch the supervisor
 * (or submit to Slurm); the command line of a job (moo_plan_command).
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
#include "job.h"
#include "probe.h"

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

/*
 * The supervisor's script with its arguments set in front ("set -- OUT TEXT CMD…") and
 * killtree.sh's function, so one sh runs it: started detached in dir (transport spawn, or
 * setsid over the host's sh).
 */
static int supervisor_script(struct moo_buf *script, const struct moo_job *job,
			     struct moo_error **err)
{
	const struct moo__embedded *sup = moo__script_named("supervisor.sh");
	const struct moo__embedded *kt = moo__script_named("killtree.sh");

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

/*
 * Starts the supervisor detached on the job's host: supervise.c or the transport's spawn on
 * this machine; on a remote host its start is the last line of the job's setup script
 * (setsid over the host's sh), which the caller runs.
 */
static int launch(struct moo__transport *t, const struct moo_job *job, struct moo_buf *setup,
		  struct moo_error **err)
{
	struct moo_buf script = MOO_BUF_INIT;
	int r;

	if (t->ops->supervise && (r = t->ops->supervise(t, job->dir, job->output_folder,
							job->command, "process.log", err)) != 1) {
		return r;
	}
	r = supervisor_script(&script, job, err);
	if (!r && t->ops->spawn) {
		r = t->ops->spawn(t, job->dir, script.ptr, "process.log", err);
	} else if (!r) {
		moo_buf_puts(setup, "setsid sh -c ");
		moo_buf_shquote(setup, script.ptr);
		moo_buf_puts(setup, " moo-supervisor </dev/null >>process.log 2>&1 &\n");
	}
	moo_buf_dispose(&script);
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
 * One of the job's files, name relative to its folder: on a remote host a line of the
 * setup script (printf is sh's own: no program started, no round trip of its own), else
 * written by the transport. Text with a NUL byte cannot pass through sh: it is written
 * over the transport at once (only process.log can hold one, and the job's folder exists).
 */
static int job_file(struct moo__transport *t, struct moo_buf *setup, const struct moo_job *job,
		    const char *name, const char *data, size_t len, struct moo_error **err)
{
	char *path;
	int r;

	if (setup && strlen(data) == len) {
		moo_buf_puts(setup, "printf %s ");
		moo_buf_shquote(setup, data);
		moo_buf_puts(setup, " >");
		moo_buf_shquote(setup, name);
		moo_buf_puts(setup, " || exit\n");
		return 0;
	}
	path = moo__job_file(job, name);
	r = t->ops->write_file(t, path, data, len, 0644, err);
	free(path);
	return r;
}

/* True when the bundle's metadata.yaml text is whole (its size in the ZIP) and NUL-free. */
static bool spec_text_whole(const struct moo_bundle *b)
{
	size_t i;

	for (i = 0; b->spec_text && i < b->n_files; i++) {
		if (!strcmp(b->files[i].path, "metadata.yaml")) {
			return b->files[i].size == strlen(b->spec_text);
		}
	}
	return false;
}

/*
 * Stages a job on a remote host. The host keeps each bundle once, extracted, in
 * bundles/<sha256>/: the bundle is extracted and checked here (moo_bundle_extract, with
 * every rule and cap), so the host needs no unzip and runs no extraction code; the tree
 * is sent once (put: under a temporary name renamed at the end, so a cut upload never
 * looks complete) and copied with 'cp -R' into each job's work/. The ZIP is not sent as
 * well: jobs use the tree, and sending both would double the bytes. *sent gets the bytes
 * of files sent (0 when the host had the bundle).
 *
 * The copy is not run here: it begins the job's setup script (setup), which then writes
 * the job's files and starts its supervisor, all in one exec (see moo_job_start).
 */
static int stage_remote(struct moo__transport *t, const struct moo_bundle *b,
			const struct moo_job *job, uint64_t *sent, struct moo_buf *setup,
			struct moo_error **err)
{
	char *bdir = moo__printf("%s/bundles/%s", t->root, b->sha256);
	char *parent = moo__path_join(t->root, "bundles"), *stage = NULL, *path;
	struct moo_buf root = MOO_BUF_INIT;
	char tag[48];
	int r = 0;

	*sent = 0;
	if (!moo__is_sha256_hex(b->sha256)) {
		r = moo__fail(err, MOO_EBUNDLE, "the bundle has no sha256");
		goto done;
	}
	if (!t->ops->exists(t, bdir)) {
		struct moo_error *perr = NULL;

		if ((r = moo__job_root(&root, err))) {
			goto done;
		}
		moo_buf_puts(&root, "/staging");
		if ((r = moo__mkdir_p(root.ptr, 0700, err))) {
			goto done;
		}
		moo__sweep_dead(root.ptr, ""); /* what a killed moo left */
		moo__owner_tag(tag, sizeof(tag));
		stage = moo__printf("%s/%s-%s.up", root.ptr, tag, job->id);
		path = moo__printf("%s/%s", stage, job->output_folder);
		if ((r = moo_bundle_extract(b, stage, NULL, err)) ||
		    (r = moo__mkdir_p(path, 0755, err))) {
			free(path);
			goto done;
		}
		free(path);
		/* (the output folder goes with it, as the spec names it: cp -R makes it) */
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
	moo_buf_puts(setup, "cd ");
	moo_buf_shquote(setup, job->dir);
	moo_buf_puts(setup, " || exit\ncp -R -- ");
	moo_buf_shquote(setup, bdir);
	moo_buf_puts(setup, " work || exit\n");
	/* metadata.yaml beside work/: the bundle's, from here (printf: one cp less) */
	if (spec_text_whole(b)) {
		job_file(t, setup, job, "metadata.yaml", b->spec_text, strlen(b->spec_text), NULL);
	} else {
		moo_buf_puts(setup, "cp -- work/metadata.yaml metadata.yaml || exit\n");
	}
	/* The output folder, where the kept bundle has none (those sent before it was made
	 * with them): [ is sh's own, no program started for it. */
	path = moo__printf("work/%s", job->output_folder);
	moo_buf_puts(setup, "[ -d ");
	moo_buf_shquote(setup, path);
	moo_buf_puts(setup, " ] || mkdir -p -- ");
	moo_buf_shquote(setup, path);
	moo_buf_puts(setup, " || exit\n");
	free(path);
done:
	if (stage) {
		moo__rm_rf(stage);
	}
	moo_buf_dispose(&root);
	free(bdir);
	free(parent);
	free(stage);
	return r;
}

/* jobs/<id>/job.json on a remote host: what another client needs to know the job. */
static int write_record(struct moo__transport *t, const struct moo_job *job, struct moo_error **err)
{
	json_t *o = json_object();
	char *text, *path = moo__job_file(job, "job.json");
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
 * A Slurm job's batch script, <job>/slurm.sh: into the job directory, MOO_RUN set to the
 * run's number (SLURM_RESTART_COUNT), the exit file of an earlier run gone (a requeued job
 * runs again), then the supervisor. Submitted at once with
 * sbatch --parsable unless staged only (a sweep submits its points as one array); the
 * job's stdout and stderr append to process.log as on any host. The job is queued.
 */
static int submit_slurm(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			const char *args, bool staged_only, struct moo_error **err)
{
	struct moo_buf script = MOO_BUF_INIT, extra = MOO_BUF_INIT;
	char *path = moo__job_file(job, "slurm.sh"), *log = moo__job_file(job, "process.log"),
	     *id = NULL;
	int r;

	moo_buf_puts(&script, "#!/bin/sh\ncd ");
	moo_buf_shquote(&script, job->dir);
	/* MOO_RUN: which run this is (the supervisor writes it in state and exit), so that moo
	 * never takes the exit of a run before a requeue for this one's; MOO_BTIME: the compute
	 * node's boot (read by the shell itself), which the supervisor's times count from */
	moo_buf_puts(&script, " || exit 1\nMOO_RUN=${SLURM_RESTART_COUNT:-0}\nMOO_BTIME=\n"
			      "while read -r k v; do [ \"$k\" = btime ] && MOO_BTIME=$v && break; "
			      "done 2>/dev/null </proc/stat\nexport MOO_RUN MOO_BTIME\n"
			      "if [ -e exit ] || [ -e exit.tmp ]; then rm -f exit exit.tmp; fi\n");
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
	moo__set_detail(job, "submitted");
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
	struct moo_buf setup = MOO_BUF_INIT, *rsetup = NULL; /* a remote host's: see below */
	struct moo_job *job = NULL;
	struct moo__dataset ds;
	struct moo_plan *plan = NULL;
	struct moo_buf lock = MOO_BUF_INIT;
	char *stage = NULL, *path = NULL, *jobs_dir = NULL, *mark = NULL, tag[48];
	const struct moo_spec *spec = b->spec;
	struct moo_spec slurm_spec;
	struct moo_buf slurm_args = MOO_BUF_INIT;
	bool recorded = false, staged = false, setup_sent = false;
	double t0;
	int r, status, tries;

	memset(&rt, 0, sizeof(rt));
	if ((r = MOO__OPTS_VERSION(opts, MOO_RUN_OPTS_VERSION, "moo_run_opts", err)) ||
	    (opts && opts->version >= 6 &&
	     (r = MOO__OPTS_VERSION(opts->slurm, MOO_SLURM_OPTS_VERSION, "moo_slurm_opts", err)))) {
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
	r = moo__apply_sets(spec, opts, &params, &env, err);
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
		plan = moo__plan_dup(opts->plan);
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
		struct moo_plan *moo__now = moo__plan_dup(plan);
		bool replayed = plan->command != NULL;

		r = moo__now ? moo__runtime_record(moo__now, &rt, t, st, err) : MOO_EARG;
		if (!r && rt.engine == MOO__ENGINE_HOST &&
		    !(opts && opts->version >= 5 && opts->allow_drift) &&
		    (plan->interpreter || plan->n_packages)) {
			r = moo__plan_drift(plan, moo__now, t->host, err);
		}
		moo_plan_free(plan);
		plan = moo__now;
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
			moo_host_facts_to_json(&fj, f);
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
	moo_spec_to_json(&spec_json, spec);
	job->spec_json = moo_buf_detach(&spec_json);
	job->params_json = moo__params_to_json(&params);
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
	/* An id no job has, here or in the store (jobs/ itself is made with the first job's
	 * folder, by mkdir_p below). */
	for (tries = 0;; tries++) {
		struct moo_error *aerr = NULL;

		free(job->id);
		free(job->dir);
		job->id = moo__random_id("moo-job-");
		job->dir = moo__path_join(jobs_dir, job->id);
		job->created = moo__now();
		if (t->ops->exists(t, job->dir)) {
			continue;
		}
		moo__starting_mark(&mark, job->id);
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

		/*
		 * On a remote host everything from the copy of the bundle into work/ to the
		 * supervisor's start is one sh script, run in one exec after job.json and the
		 * store's record: one round trip where there were a dozen, and the fewest
		 * programs started on the host (cp, and setsid and sh for the supervisor).
		 */
		rsetup = &setup;
		r = stage_remote(t, b, job, &sent, rsetup, err);
		job->bytes_sent += sent;
		/* The zip stays here too, so 'moo reproduce' finds the bundle by its sha256. */
		if (!r) {
			r = moo__transport_open(&here, "local", err);
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
	r = moo__job_root(&stage_root, err);
	if (r) {
		goto done;
	}
	moo_buf_puts(&stage_root, "/staging");
	r = moo__mkdir_p(stage_root.ptr, 0700, err);
	if (r) {
		goto done;
	}
	moo__sweep_dead(stage_root.ptr, ""); /* what a killed moo left: named by its pid */
	moo__owner_tag(tag, sizeof(tag));
	stage = moo__printf("%s/%s-%s", stage_root.ptr, tag, job->id);
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
		char *dst = moo__job_file(job, "metadata.yaml");

		r = t->ops->put(t, path, dst, false, err);
		free(dst);
	}
	if (r) {
		goto done;
	}
	free(path);
	path = moo__job_file(job, "work");
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
	r = job_file(t, rsetup, job, "work/params.json", job->params_json, strlen(job->params_json),
		     err);
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
		moo_lock_write(&lock, plan);
		if (ds.dir) { /* the data it ran on, after the bundle */
			char *with = moo__dataset_lock(lock.ptr, spec->dataset.name, &ds);

			moo_buf_reset(&lock);
			moo_buf_puts(&lock, with);
			free(with);
		}
		job->lock = moo__strdup(lock.ptr);
		r = job_file(t, rsetup, job, "moo.lock", lock.ptr, lock.len, err);
		if (r) {
			goto done;
		}
		free(path);
		path = moo__printf("work/%s/moo.lock", job->output_folder);
		r = job_file(t, rsetup, job, path, lock.ptr, lock.len, err);
		if (r) {
			goto done;
		}
	}
	if (rt.log.len) {
		/* What was built or found for this job heads its log. */
		r = job_file(t, rsetup, job, "process.log", rt.log.ptr, rt.log.len, err);
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
	if (!slurm_args.ptr) {
		r = launch(t, job, &setup, err);
		if (r) {
			goto done;
		}
	}
	if (rsetup) {
		/* Seen to its end, Ctrl-C or not: it ends by starting the job, which moo then
		 * detaches from (moo-run(1)) rather than mark failed while it runs. */
		setup_sent = true;
		moo__hold_interrupts(true);
		r = t->ops->exec(t, setup.ptr, NULL, &sherr, &status, err);
		moo__hold_interrupts(false);
		if (!r && status != 0) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
					   "cannot stage '%s' on '%s' (exit %d)", job->id, t->host,
					   status);
			put_text(&sherr, NULL);
			moo__error_cause(e, sherr.ptr);
			if (strstr(sherr.ptr, "No space left on device")) {
				moo__error_hint(e, "make room in %s on %s, then run again", t->root,
						t->host);
			} else {
				moo__error_hint(
					e, "mend what the host says in %s on %s, then run again",
					t->root, t->host);
			}
			free(job->command);
			job->command = NULL; /* the supervisor's start is its last line: none ran */
			r = MOO_EIO;
		}
		if (r) {
			goto done; /* (a host lost meanwhile may have started it: see below) */
		}
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
	if (opts && opts->version >= 4 && opts->no_wait && moo__transport_is_remote(t)) {
		/* The caller follows the job: its log is read while the supervisor starts. */
		*out = job;
		job = NULL;
		goto done;
	}
	/* Wait for the supervisor to say it runs (or already ran). */
	free(path);
	path = moo__job_file(job, "state");
	for (t0 = moo__now(); moo__read_state(t, job, path, &state, NULL);
	     moo__wait_change(t, job->dir, 0.002)) {
		if (moo__now() - t0 > STATE_WAIT_S) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
					   "the supervisor of '%s' did not start within %.0f s",
					   job->id, STATE_WAIT_S);
			moo__error_hint(e, "see %s/process.log", job->dir);
			r = MOO_EIO;
			goto done;
		}
	}
	r = moo__refresh(t, st, job, err);
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
	} else if (r && job && recorded && r != MOO_EHOST && !(r == MOO_EINTR && setup_sent)) {
		/* (a host that could not be reached after the launch may run it all the same,
		 * as may one whose setup moo was interrupted waiting on: a kept connection's
		 * master runs it to its end. The record stays as it is, and the next refresh
		 * tells: running, or lost when no supervisor wrote state within a minute) */
		job->status = MOO_JOB_FAILED;
		job->ended = moo__now();
		moo_store_update_job(st, job, NULL);
	}
	if (staged) {
		moo__rm_rf(stage);
	}
	moo__starting_mark(&mark, NULL);
	moo_job_free(job);
	moo__runtime_dispose(&rt);
	moo_plan_free(plan);
	moo_buf_dispose(&lock);
	moo__dataset_dispose(&ds);
	moo__kvlist_dispose(&params);
	moo__kvlist_dispose(&env);
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&spec_json);
	moo_buf_dispose(&stage_root);
	moo_buf_dispose(&sherr);
	moo_buf_dispose(&setup);
	moo_buf_dispose(&state);
	moo_buf_dispose(&slurm_args);
	moo__transport_close(t);
	free(stage);
	free(path);
	free(jobs_dir);
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
	struct moo_host_facts *own = NULL;
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
	r = moo__apply_sets(spec, NULL, &params, &env, err);
	if (!r) {
		/* what the plan was resolved for (--accelerator) rules over the spec */
		struct moo_spec as = *spec;

		as.resources.accelerator = plan->accelerator;
		as.resources.count = plan->count;
		r = build_command(out, &job, &rt, &as, &params, &env, NULL, err);
	}
done:
	moo__kvlist_dispose(&params);
	moo__kvlist_dispose(&env);
	free(rt.interp.path);
	free(rt.image);
	free(job.dir);
	free(ref);
	moo_host_facts_free(own);
	return r;
}

int moo_plan_lock(struct moo_plan **out, const struct moo_bundle *b,
		  const struct moo_plan_opts *opts, const char *lock_path, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT;
	struct moo_plan *plan = NULL;
	int r;

	if ((r = moo_plan_make(&plan, b, opts, err))) {
		return r;
	}
	/* the command of the runtime the plan chose (the lock's), as moo run would start it */
	if ((r = moo_plan_command(&cmd, plan, b->spec,
				  opts && opts->runtime ? opts->runtime : plan->runtime, NULL,
				  err))) {
		goto fail;
	}
	plan->command = moo_buf_detach(&cmd);
	if (lock_path && (r = moo_lock_save(plan, lock_path, err))) {
		goto fail;
	}
	*out = plan;
	return 0;
fail:
	moo_buf_dispose(&cmd);
	moo_plan_free(plan);
	return r;
}
