/*
 * job_collect: a job's end — its results pulled to this machine and checked against
 * MANIFEST.sha256, the end recorded; moo fetch.
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

/* Where a remote job's result lands on this machine: <store folder>/results/<id>/. */
char *moo__results_dir(const struct moo_job *job)
{
	struct moo_buf p = MOO_BUF_INIT;
	char *slash, *dir = NULL;

	if (!moo__store_default_path(&p, NULL) && p.ptr) {
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
 * Whether the job left no output folder (it removed MOO_OUTPUT_DIR): it has no result. Its
 * supervisor then wrote an empty manifest, so only a job whose manifest is empty is looked
 * at (an empty folder is a result, empty).
 */
static bool left_none(struct moo__transport *t, const struct moo_job *job,
		      const struct moo_buf *manifest)
{
	char *out;
	bool none;

	if (manifest->len) {
		return false;
	}
	out = moo__printf("%s/work/%s", job->dir, job->output_folder);
	none = !t->ops->exists(t, out);
	free(out);
	return none;
}

/*
 * A remote result checked here keeps its manifest beside it, results/<id>/MANIFEST.sha256,
 * written once the result matched it: moo fetch copies and checks it again without the
 * host. Not kept where it would stand in the result's place (an output folder named so):
 * fetch then reads the host's.
 */
static void keep_manifest(const char *cache, const char *result, const struct moo_buf *manifest)
{
	char *path = moo__path_join(cache, "MANIFEST.sha256");

	if (strcmp(path, result)) {
		/* a copy it cannot write costs only that: fetch reads the host's */
		struct moo_error *e = NULL;

		moo__write_file_atomic(path, manifest->len ? manifest->ptr : "", manifest->len,
				       0644, false, &e);
		moo_error_free(e);
	}
	free(path);
}

/*
 * The manifest kept beside a remote job's result downloaded and checked here
 * (keep_manifest), into out; false when there is none.
 */
static bool kept_manifest(const struct moo_job *job, const char *result, struct moo_buf *out)
{
	char *cache = moo__results_dir(job), *path = NULL;
	size_t n = cache ? strlen(cache) : 0;
	bool ok = false;

	if (cache && result && !strncmp(result, cache, n) && result[n] == '/') {
		path = moo__path_join(cache, "MANIFEST.sha256");
		ok = strcmp(path, result) && !moo__read_file(path, 64u << 20, out, NULL);
		if (!ok) {
			moo_buf_reset(out);
		}
	}
	free(cache);
	free(path);
	return ok;
}

/*
 * Downloads a remote job's output folder into results_dir (pipelined SFTP reads; a cut
 * download resumes from its .moo-part files) and checks every file against the job's
 * MANIFEST.sha256 on the host. A result that does not match is removed here, so the next
 * try downloads it afresh. *local gets the folder's path, or NULL when the job left no
 * output folder (left_none).
 */
static int pull_result(struct moo__transport *t, const struct moo_job *job, char **local,
		       struct moo_error **err)
{
	char *out = moo__printf("%s/work/%s", job->dir, job->output_folder);
	char *cache = moo__results_dir(job), *got = NULL,
	     *mpath = moo__job_file(job, "MANIFEST.sha256");
	struct moo_buf manifest = MOO_BUF_INIT;
	int r;

	r = moo__job_read(t, job, mpath, 0, 64u << 20, &manifest, err);
	if (r == MOO_ENOTFOUND) { /* a job stopped before its supervisor wrote one: its
				   * caller tells by MOO_ENOTFOUND; the error says EIO (exit 6) */
		moo__fail(err, MOO_EIO, "job '%s' has no MANIFEST.sha256 on '%s'", job->id,
			  t->host);
	}
	if (r) {
		goto done;
	}
	if (left_none(t, job, &manifest)) {
		*local = NULL;
		r = 0;
		goto done;
	}
	if (!cache) {
		r = moo__fail(err, MOO_EIO, "cannot place the results of '%s'", job->id);
		goto done;
	}
	if ((r = moo__mkdir_p(cache, 0755, err)) ||
	    (r = t->ops->collect(t, out, cache, &got, err))) {
		goto done;
	}
	r = moo__verify_manifest(manifest.len ? manifest.ptr : "", got, out, t->host, err);
	if (r) {
		moo__rm_rf(got);
		goto done;
	}
	keep_manifest(cache, got, &manifest);
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
 * leaves result_path NULL (moo fetch says why). A job that left no output folder has no
 * result, here as on a host: result_path NULL, and a warning when it succeeded.
 */
int moo__finish(struct moo__transport *t, struct moo_job *job, const char *exit_text,
		struct moo_error **err)
{
	char *cancelled = moo__job_file(job, "cancelled"), *out = NULL, *local = NULL;
	struct moo_error *perr = NULL;
	int r, pulled = 0;
	bool none = false;

	out = moo__printf("%s/work/%s", job->dir, job->output_folder);
	if (moo__transport_is_remote(t) && !moo__defer_results) {
		r = pulled = pull_result(t, job, &local, &perr);
		if (r == MOO_EHOST) {
			moo__error_append(err, perr);
			free(cancelled);
			free(out);
			return r;
		}
		none = !r && !local;
	} else if (!moo__transport_is_remote(t)) {
		none = !t->ops->exists(t, out);
	}
	job->signal = (int)moo__kv_int(exit_text, "signal", 0);
	job->exit_code = job->signal ? -1 : (int)moo__kv_int(exit_text, "code", -1);
	job->ended = moo__kv_time(t, exit_text, "ended");
	if (job->ended <= 0) {
		job->ended = moo__now();
	}
	if (t->ops->exists(t, cancelled)) {
		job->status = MOO_JOB_CANCELLED;
	} else {
		job->status = job->exit_code == 0 ? MOO_JOB_SUCCEEDED : MOO_JOB_FAILED;
	}
	moo__read_metrics(t, job);
	{
		char *disk = moo__kv_get(exit_text, "disk");

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

		if (moo__error_no_room(perr)) { /* not for a file that does not match */
			moo__error_hint(e, "make room, then: moo fetch %s", job->id);
		}
		moo__error_append(err, perr);
		free(local);
		free(cancelled);
		free(out);
		return MOO_EIO;
	}
	if (none && job->status == MOO_JOB_SUCCEEDED) {
		moo__warn_hint(MOO_EIO,
			       "keep MOO_OUTPUT_DIR in place: what the job leaves there is its "
			       "result",
			       "job '%s' succeeded but left no output folder '%s': it has no "
			       "result",
			       job->id, job->output_folder);
	}
	r = moo__transport_is_remote(t) || none ? 0 : t->ops->collect(t, out, NULL, &local, err);
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

/* True when manifest has a line for the file rel, as sha256sum writes it (escaped where rel
 * has a backslash or a line break). */
static bool manifest_names(const char *manifest, const char *rel)
{
	struct moo_buf want = MOO_BUF_INIT;
	bool esc = strpbrk(rel, "\\\n") != NULL, found = false;
	const char *p = manifest;

	moo_buf_puts(&want, "  ./");
	for (const char *c = rel; *c; c++) {
		if (esc && (*c == '\\' || *c == '\n')) {
			moo_buf_puts(&want, *c == '\\' ? "\\\\" : "\\n");
		} else {
			moo_buf_putc(&want, *c);
		}
	}
	while (*p && !found) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p), at = esc ? 65 : 64;

		found = len == at + want.len && (!esc || *p == '\\') &&
			!memcmp(p + at, want.ptr, want.len);
		p += len + (eol ? 1 : 0);
	}
	moo_buf_dispose(&want);
	return found;
}

struct unlisted_walk {
	const char *manifest, *src, *host;
};

/* MOO_EIO naming (as src's) a regular file the manifest does not name; links are left out,
 * as the manifest leaves them. */
static int unlisted(const char *path, const char *rel, const struct stat *st, void *data,
		    struct moo_error **err)
{
	const struct unlisted_walk *w = data;
	char *shown;
	int r;

	(void)path;
	(void)st;
	if (manifest_names(w->manifest, rel)) {
		return 0;
	}
	shown = moo__path_join(w->src, rel);
	r = w->host ? moo__fail(err, MOO_EIO, "'%s' on '%s' is not in MANIFEST.sha256", shown,
				w->host)
		    : moo__fail(err, MOO_EIO, "'%s' is not in MANIFEST.sha256", shown);
	free(shown);
	return r;
}

/*
 * Checks every file of the manifest under dir, a copy of src (on host, when not NULL), and
 * that dir holds no file the manifest leaves out: MOO_EIO naming the first that differs,
 * the first missing or the first added (as src's: the copy has or lacks it because the
 * source did).
 */
int moo__verify_manifest(const char *manifest, const char *dir, const char *src, const char *host,
			 struct moo_error **err)
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
			struct moo_error *herr = NULL;

			r = moo__sha256_file(file, hex, NULL, &herr);
			if (r == MOO_ENOTFOUND) {
				char *gone = moo__path_join(src, rel);

				r = host ? moo__fail(err, MOO_EIO,
						     "'%s' on '%s' is missing: MANIFEST.sha256 "
						     "lists it",
						     gone, host)
					 : moo__fail(err, MOO_EIO,
						     "'%s' is missing: MANIFEST.sha256 lists it",
						     gone);
				free(gone);
			} else if (r) {
				moo__error_append(err, herr);
				herr = NULL;
			} else if (memcmp(hex, p, 64)) {
				struct moo_error *e;

				char *job_file = moo__path_join(src, rel);

				e = host ? moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
							  "'%s' on '%s' does not match "
							  "MANIFEST.sha256 as downloaded",
							  job_file, host)
					 : moo__error_add(err, MOO_EIO, MOO_SEV_ERROR,
							  "'%s' does not match MANIFEST.sha256",
							  job_file);
				moo__error_hint(e, "fetch it again");
				free(job_file);
				r = MOO_EIO;
			}
			moo_error_free(herr);
			free(rel);
			free(file);
		}
		p += len + (eol ? 1 : 0);
	}
	if (!r) {
		struct unlisted_walk w = {manifest, src, host};

		r = moo__walk_files(dir, unlisted, &w, err);
	}
	return r;
}

int moo_job_fetch(const struct moo_job *job, const char *dest, struct moo_error **err)
{
	struct moo__transport *t = NULL;
	struct moo_buf manifest = MOO_BUF_INIT;
	char *mpath = moo__job_file(job, "MANIFEST.sha256"), *pulled = NULL;
	const char *result = job->result_path;
	bool ended = moo_job_status_done(job->status), made = false, none = false, kept = false;
	int r;

	if (ended && job->host && strcmp(job->host, "local") &&
	    (!result || access(result, F_OK) != 0)) {
		/* a remote result not here yet (or refused): download it now */
		r = moo__open_host(&t, job->host, err);
		if (!r) {
			r = pull_result(t, job, &pulled, err);
		}
		if (r) {
			goto done;
		}
		result = pulled;
		none = !pulled;
	} else if (ended && (!result || access(result, F_OK) != 0)) {
		/* here: the job removed its output folder (an older record's result_path still
		 * names it); a job whose folder is gone (never started) did not */
		char *out = moo__printf("%s/work/%s", job->dir, job->output_folder);

		none = job->dir && access(job->dir, F_OK) == 0 && access(out, F_OK) != 0;
		result = NULL;
		free(out);
	}
	if (!ended || !result) {
		struct moo_error *e;

		if (none) { /* it removed MOO_OUTPUT_DIR */
			e = moo__error_add(
				err, MOO_EARG, MOO_SEV_ERROR,
				"job '%s' left no result: it %s with no output folder '%s'",
				job->id, moo_job_status_name(job->status), job->output_folder);
			moo__error_hint(e, "see what it did with: moo logs %s", job->id);
		} else if (ended) { /* ended with none: what the log says */
			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "job '%s' has no result (%s)", job->id,
					   moo_job_status_name(job->status));
			moo__error_hint(e, "it ended %s with no result: see why with moo logs %s",
					moo_job_status_name(job->status), job->id);
		} else {
			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "job '%s' has no result (%s)", job->id,
					   moo_job_status_name(job->status));
			moo__error_hint(e, "wait for it: moo logs -f %s", job->id);
		}
		r = MOO_EARG;
		goto done;
	}
	/* a result downloaded and checked before is copied and checked again without its
	 * host (down, or removed from the inventory) */
	kept = !t && job->host && strcmp(job->host, "local") &&
	       kept_manifest(job, result, &manifest);
	if (!kept && !t && (r = moo__open_host(&t, job->host, err))) {
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
	r = kept ? 0 : moo__job_read(t, job, mpath, 0, 64u << 20, &manifest, err);
	if (r == MOO_ENOTFOUND) {
		r = moo__fail(err, MOO_EIO, "job '%s' has no MANIFEST.sha256", job->id);
	}
	if (!r) {
		r = moo__verify_manifest(manifest.len ? manifest.ptr : "", dest, result, NULL, err);
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
