/*
 * job: the lifecycle of one job on its host — its state refreshed, cancel, remove, jobs
 * another client started. Staging and launch are job_launch.c, parameters job_params.c,
 * logs job_logs.c, results job_collect.c, the job's own files job_files.c (job.h).
 *
 * Everything that touches the host goes through a transport (transport.h): the job
 * directory is read and written with its file operations and every command is one sh
 * command line quoted with moo_buf_shquote, so a remote transport needs no change here.
 */
#include <dirent.h>
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

/* ---- refresh ------------------------------------------------------------------------ */

void moo_job_defer_results(bool defer)
{
	moo__defer_results = defer;
}

/*
 * <root>/staging/PID.NS-ID.starting (moo__owner_tag) on this machine, while moo_job_start stages
 * job ID: a queued job with no command and no such file of a running moo never started (refresh).
 * starting_mark(&mark, id) makes it (replacing the last), starting_mark(&mark, NULL)
 * removes it.
 */
void moo__starting_mark(char **mark, const char *id)
{
	struct moo_buf p = MOO_BUF_INIT;
	char tag[48];
	int fd;

	if (*mark) {
		unlink(*mark);
		free(*mark);
		*mark = NULL;
	}
	if (!id || moo__job_root(&p, NULL)) {
		moo_buf_dispose(&p);
		return;
	}
	moo_buf_puts(&p, "/staging");
	moo__mkdir_p(p.ptr, 0700, NULL);
	moo__owner_tag(tag, sizeof(tag));
	moo_buf_printf(&p, "/%s-%s.starting", tag, id);
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
	if (!moo__job_root(&p, NULL)) {
		moo_buf_puts(&p, "/staging");
		moo__sweep_dead(p.ptr, ""); /* a killed moo's mark goes */
		moo_buf_printf(&p, "/*-%s.starting", id);
		yes = glob(p.ptr, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
		globfree(&g);
	}
	moo_buf_dispose(&p);
	return yes;
}

void moo__set_detail(struct moo_job *job, const char *detail)
{
	free(job->detail);
	job->detail = detail ? moo__strdup(detail) : NULL;
}

/* The log of a job Slurm killed for passing its --mem without cgroups (slurmstepd's words). */
static bool log_says_oom(struct moo__transport *t, const struct moo_job *job)
{
	struct moo_buf b = MOO_BUF_INIT;
	char *log = moo__job_file(job, "process.log");
	bool oom = false;

	if (!moo__job_read(t, job, log, 0, 64u << 20, &b, NULL) && b.ptr) {
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

/* True when text (exit or state) is of another run than the one Slurm says is the job's. */
static bool other_run(const char *text, bool known, const struct moo__slurm_info *info)
{
	return known && info->restarts >= 0 && moo__kv_int(text, "run", 0) != info->restarts;
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
	char *exit_path = moo__job_file(job, "exit"), *state_path = moo__job_file(job, "state");
	enum moo_job_status before = job->status;
	char *detail_before = job->detail ? moo__strdup(job->detail) : NULL;
	bool known = false, has_exit;
	int r;

	if (!job->backend_id) {
		r = 0; /* staged, not submitted yet */
		goto done;
	}
	r = moo__job_read(t, job, exit_path, 0, 4096, &exit_text, err);
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
	/* the end of a run before a requeue (written late, or not yet cleared by this run's
	 * batch script) is not this run's */
	has_exit = has_exit && !other_run(exit_text.ptr, known, &info);
	if (!has_exit && (!known || moo__slurm_state_done(info.state))) {
		/* it may have ended between the read and Slurm's answer: look once more */
		moo_buf_reset(&exit_text);
		r = moo__job_read(t, job, exit_path, 0, 4096, &exit_text, err);
		if (r && r != MOO_ENOTFOUND) {
			goto done;
		}
		has_exit = !r && exit_text.len && !other_run(exit_text.ptr, known, &info);
		r = 0;
	}
	if (!moo__read_state(t, job, state_path, &state, NULL) &&
	    !other_run(state.ptr, known, &info)) {
		/* the run's start: Slurm's StartTime, by the controller's clock (the
		 * supervisor's counts from the boot of a compute node, which moo cannot see);
		 * the supervisor's where Slurm does not say */
		if (known && info.start > 0 && !slurm_waiting(info.state)) {
			job->started = info.start < job->created ? job->created : info.start;
		} else if (job->started <= 0) {
			job->started = moo__kv_time(t, state.ptr, "started");
		}
	}
	if (known && !moo__slurm_state_done(info.state)) {
		bool waiting = !strcmp(info.state, "PENDING") ||
			       !strncmp(info.state, "REQUEUE", 7) ||
			       !strcmp(info.state, "CONFIGURING");

		if (has_exit && !waiting) {
			/* the supervisor is done; Slurm has not caught up yet */
			r = moo__finish(t, job, exit_text.ptr, err);
			moo__set_detail(job, NULL);
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
			moo__set_detail(job, strcmp(info.state, "RUNNING") ? info.state : NULL);
		}
	} else if (known) {
		r = moo__finish(t, job, has_exit ? exit_text.ptr : "", err);
		if (!has_exit && info.exit_code >= 0) {
			job->signal = info.signal;
			job->exit_code = info.signal ? -1 : info.exit_code;
		}
		moo__set_detail(job, NULL);
		if (!strcmp(info.state, "CANCELLED")) {
			job->status = MOO_JOB_CANCELLED;
		} else if (!strcmp(info.state, "COMPLETED")) {
			if (!has_exit) {
				job->status = MOO_JOB_FAILED;
				moo__set_detail(job, "no exit file");
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
				moo__set_detail(job, "out_of_memory");
			} else {
				moo__set_detail(job, low);
			}
		}
	} else if (has_exit) {
		r = moo__finish(t, job, exit_text.ptr, err);
	} else if (moo__now() - job->created > 60) {
		job->status = MOO_JOB_LOST;
		job->ended = moo__now();
		moo__set_detail(job, "unknown to Slurm");
	}
	if (job->ended > 0 && job->started > job->ended) {
		job->ended = job->started; /* two clocks (Slurm's, the node's): kept in order */
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

int moo__refresh(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
		 struct moo_error **err)
{
	struct moo_buf exit_text = MOO_BUF_INIT, state = MOO_BUF_INIT;
	char *exit_path = moo__job_file(job, "exit"), *state_path = moo__job_file(job, "state");
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
		job->ended = moo__now();
		r = 0;
		goto save;
	}
	/* The state first: when and as which pid it started, even for a job that ended. */
	r = moo__read_state(t, job, state_path, &state, err);
	if (r && r != MOO_ENOTFOUND) {
		goto done;
	}
	if (!r) {
		moo__note_state(t, job, state.ptr);
	}
	for (tries = 0; tries < 2; tries++) {
		moo_buf_reset(&exit_text);
		r = moo__job_read(t, job, exit_path, 0, 4096, &exit_text, err);
		if (r == 0 && exit_text.len) {
			bool end;

			r = moo__exit_is_end(t, job, state.len ? state.ptr : NULL, &end, err);
			if (r) {
				goto done;
			}
			if (!end) {
				/* an exit the job wrote itself: it runs on */
				job->status = MOO_JOB_RUNNING;
				goto save;
			}
			r = moo__finish(t, job, exit_text.ptr, err);
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
			r = moo__read_state(t, job, state_path, &state, err);
		}
		if (r == MOO_ENOTFOUND) {
			/* Not started yet; a supervisor that never wrote state is lost, and so
			 * at once is a job whose folder is gone (removed by hand). */
			if (moo__now() - job->created < 60 && t->ops->exists(t, job->dir)) {
				r = 0;
				goto done;
			}
			break;
		}
		if (r) {
			goto done;
		}
		moo__note_state(t, job, state.ptr);
		if (job->pid > 0) {
			unsigned long long started_at = 0;

			r = moo__proc_start(t, job->pid, &started_at, err);
			if (r) {
				goto done;
			}
			if (started_at ==
			    (unsigned long long)moo__kv_int(state.ptr, "pid_start", -1)) {
				size_t had = job->n_metrics;

				/* what it has logged so far shows in ps, show and compare */
				job->status = MOO_JOB_RUNNING;
				moo__read_metrics(t, job);
				grew = job->n_metrics != had;
				goto save;
			}
		}
		/* The supervisor is gone: look once more for an exit file it wrote meanwhile. */
	}
	job->status = MOO_JOB_LOST;
	job->ended = moo__now();
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
	if (!r && !moo__defer_results &&
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
	r = moo__open_host(&t, job->host, err);
	if (!r) {
		r = moo__refresh(t, st, job, err);
	}
	moo__transport_close(t);
	return r;
}

/* ---- cancel, remove ----------------------------------------------------------------- */

/* Whether path exists on the host within seconds (looking every 10 ms). */
static bool appears(struct moo__transport *t, const char *path, double seconds)
{
	double t0 = moo__now();

	while (!t->ops->exists(t, path)) {
		if (moo__now() - t0 >= seconds) {
			return false;
		}
		moo__nap(0.01);
	}
	return true;
}

/* scancel, then Slurm's word that it ended (KillWait may pass before it does). */
static int cancel_slurm(struct moo__transport *t, struct moo_store *st, struct moo_job *job,
			double grace, struct moo_error **err)
{
	char *mark = moo__job_file(job, "cancelled");
	double t0;
	int r;

	if ((r = t->ops->write_file(t, mark, "cancelled\n", 10, 0644, err))) {
		goto done;
	}
	if (!job->backend_id) {
		job->status = MOO_JOB_CANCELLED; /* never submitted */
		job->ended = moo__now();
		r = moo_store_update_job(st, job, err);
		goto done;
	}
	if ((r = moo__slurm_cancel(t, job->backend_id, err))) {
		goto done;
	}
	for (t0 = moo__now();
	     !r && !moo_job_status_done(job->status) && moo__now() - t0 < grace + 60;) {
		moo__nap(0.6);
		r = moo__refresh(t, st, job, err);
	}
	if (!r && !moo_job_status_done(job->status)) {
		job->status = MOO_JOB_CANCELLED;
		job->ended = moo__now();
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
int moo_job_cancel(bool *was_running, struct moo_store *st, struct moo_job *job, double grace,
		   struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf state = MOO_BUF_INIT;
	char *state_path = moo__job_file(job, "state"), *exit_path = moo__job_file(job, "exit");
	char *mark = moo__job_file(job, "cancelled");
	bool lost;
	long pgid = 0;
	double t0;
	int r, live, status = 0;

	*was_running = false;
	r = moo__open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	r = moo__refresh(t, st, job, err);
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
	for (t0 = moo__now(); (r = moo__read_state(t, job, state_path, &state, err));
	     moo__nap(0.01)) {
		if (r != MOO_ENOTFOUND) {
			goto done;
		}
		if (lost) {
			r = 0; /* no state: nothing it started can be told from others */
			goto done;
		}
		if (moo__now() - t0 > STATE_WAIT_S) {
			r = moo__fail(err, MOO_EIO, "job '%s' has no state file to cancel by",
				      job->id);
			goto done;
		}
	}
	live = moo__job_group(t, job, state.ptr, &pgid, err);
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
		r = moo__signal_tree(t, job, state.ptr, pgid, "TERM", &status, err);
		if (r) {
			goto done;
		}
		if (lost) {
			/* no supervisor to wait for: until nothing of the job is left */
			for (t0 = moo__now(); moo__now() - t0 < grace; moo__nap(0.05)) {
				if ((r = moo__signal_tree(t, job, state.ptr, pgid, "0", &status,
							  err)) ||
				    status) {
					break;
				}
			}
		}
		if (!r && (lost || !appears(t, exit_path, grace))) {
			r = moo__signal_tree(t, job, state.ptr, pgid, "KILL", &status, err);
		}
		if (r) {
			goto done;
		}
	}
	if (lost) {
		job->status = MOO_JOB_CANCELLED;
		job->ended = moo__now();
		r = moo_store_update_job(st, job, err);
		goto done;
	}
	/* The supervisor writes exit once the entry point is reaped. */
	appears(t, exit_path, 10);
	r = moo__refresh(t, st, job, err);
	if (!r && !moo_job_status_done(job->status)) {
		/* The supervisor did not answer: the job is over all the same. */
		job->status = MOO_JOB_CANCELLED;
		job->ended = moo__now();
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
	if ((r = moo_store_add_job(st, job, err)) || (r = moo__refresh(t, st, job, err))) {
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

int moo_job_import(struct moo_job **out, struct moo_store *st, const char *host, const char *id,
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
	r = moo__open_host(&t, host, err);
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
		return moo_job_import(out, st, host, ref, err);
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

int moo_job_import_all(size_t *n_new, struct moo_store *st, const char *host,
		       struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	char *line, *save = NULL;
	int r, status;

	*n_new = 0;
	if ((r = moo__open_host(&t, host, err))) {
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
	char *dir = job->host && strcmp(job->host, "local") ? moo__results_dir(job) : NULL;
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
	char *state_path = moo__job_file(job, "state");
	long pgid;
	struct moo_buf errout = MOO_BUF_INIT;
	char *trash = NULL;
	int r, status;

	r = moo__open_host(&t, job->host, &open_err);
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
	r = moo__refresh(t, st, job, err);
	if (r) {
		goto done;
	}
	if (job->status == MOO_JOB_LOST) {
		/* Its supervisor is gone, but what it started may run on: then it stays. */
		r = moo__read_state(t, job, state_path, &state, err);
		if (r && r != MOO_ENOTFOUND) {
			goto done;
		}
		r = r ? 0 : moo__job_group(t, job, state.ptr, &pgid, err);
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

/* ---- a result checked against its manifest ------------------------------------------ */

int moo__job_verify_result(const struct moo_job *job, const char *dir, const char *hint,
			   struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf manifest = MOO_BUF_INIT;
	struct moo_error *e = NULL, *x;
	char *mpath = moo__job_file(job, "MANIFEST.sha256");
	int r;

	r = moo__open_host(&t, job->host, err);
	if (r) {
		goto done;
	}
	r = moo__job_read(t, job, mpath, 0, 64u << 20, &manifest, err);
	if (r == MOO_ENOTFOUND) {
		r = moo__fail(err, MOO_EIO, "job '%s' has no MANIFEST.sha256 on '%s'", job->id,
			      t->host);
	}
	if (r) {
		goto done;
	}
	moo_buf_putc(&manifest, '\0'); /* an empty manifest is "" */
	r = moo__verify_manifest(manifest.ptr, dir, dir, NULL, &e);
	if (r) {
		for (x = e; x; x = x->next) { /* a file gone is a result changed too */
			x->code = MOO_EIO;
		}
		moo__error_hint(e, "%s", hint);
		moo__error_append(err, e);
		r = MOO_EIO;
	}
done:
	moo__transport_close(t);
	moo_buf_dispose(&manifest);
	free(mpath);
	return r;
}
