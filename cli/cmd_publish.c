/* moo publish: a finished job as a commit, a tag and a push to a git repository. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool dry_run, json, accept_new, allow_large;
static const char *repo, *branch, *path, *tag, *alias, *message, *on;
static long max_mb = -1;

static const struct opt opts[] = {
	{0, "repo", "URL", "the repository: a path, file://, ssh://, USER@HOST:PATH or https://",
	 OPT_STRING, &repo},
	{'b', "branch", "BRANCH", "the branch to commit on (default: the remote's, else main)",
	 OPT_STRING, &branch},
	{0, "path", "DIR", "the model folder (default models/NAME/VERSION)", OPT_STRING, &path},
	{0, "tag", "NAME", "the annotated tag (default NAME-VERSION); never moved", OPT_STRING,
	 &tag},
	{0, "alias", "NAME", "a branch moved to the published commit, like 'production'",
	 OPT_STRING, &alias},
	{'m', "message", "TEXT", "the commit and tag message's first line", OPT_STRING, &message},
	{0, "dry-run", NULL, "check and build everything, push nothing", OPT_FLAG, &dry_run},
	{0, "max-file-size", "MB", "refuse files above this many MB (default 50)", OPT_INT,
	 &max_mb},
	{0, "allow-large-files", NULL, "commit files above --max-file-size anyway", OPT_FLAG,
	 &allow_large},
	{0, "accept-new-host-key", NULL, "record an unknown ssh host key in known_hosts", OPT_FLAG,
	 &accept_new},
	OPT_ON(&on),
	{0, "json", NULL, "print the publication as JSON", OPT_FLAG, &json},
	OPT_END,
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/*
 * A failure under --json: moo(1)'s failure document, {"error": …, "errors": […]} (main's
 * json_finish), with publish's own members beside it; "diagnostics" is "errors" as this
 * verb printed it before it had them. Returns the exit code.
 */
static int fail_json(const char *job, const struct moo_error *err)
{
	json_failure_member("published", json_false());
	json_failure_member("dry_run", json_boolean(dry_run));
	json_failure_member("job", json_string(job));
	json_failure_member("repo", json_string(repo));
	json_failure_member("diagnostics", errors_to_json(err));
	return print_errors(err);
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_publish_opts po = MOO_PUBLISH_OPTS_INIT;
	struct moo_publication p;
	struct moo_store *st = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	int npos, r;

	memset(&p, 0, sizeof(p));
	r = opt_parse(self, opts, argc, argv, &npos, 1, 1);
	if (r >= 0) {
		return r;
	}
	if (!repo) {
		return usage_error(self, NULL, "option '--repo' is required");
	}
	if (max_mb == 0 || max_mb < -1) {
		return usage_error(self, NULL, "option '--max-file-size' needs a number above 0");
	}
	if ((r = open_store(&st)) >= 0) {
		goto done;
	}
	if (json && !on) { /* one JSON document on failure too */
		if ((r = moo_job_find(&job, st, argv[0], NULL, true, &err))) {
			r = fail_json(argv[0], err);
			goto done;
		}
	} else if ((r = find_job(st, argv[0], on, true, &job)) >= 0) {
		goto done;
	}
	po.repo = repo;
	po.branch = branch;
	po.path = path;
	po.tag = tag;
	po.alias = alias;
	po.message = message;
	po.dry_run = dry_run;
	po.accept_new_host_key = accept_new;
	po.allow_large_files = allow_large;
	po.max_file_size = max_mb > 0 ? (uint64_t)max_mb * 1000 * 1000 : 0;
	r = moo_publish(&p, st, job, &po, &err);
	if (json && r) {
		r = fail_json(job->id, err);
		goto done;
	}
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "published", json_boolean(!r && !dry_run));
		json_object_set_new(o, "dry_run", json_boolean(dry_run));
		json_object_set_new(o, "job", json_string(job->id));
		json_object_set_new(o, "repo", json_string(repo));
		if (!r) {
			json_object_set_new(o, "branch", json_string(p.branch));
			json_object_set_new(o, "path", json_string(p.path));
			json_object_set_new(o, "commit", json_string(p.commit));
			json_object_set_new(o, "tag", json_string(p.tag));
			json_object_set_new(o, "alias", str_or_null(p.alias));
			json_object_set_new(o, "new_commit", json_boolean(p.new_commit));
			json_object_set_new(o, "new_tag", json_boolean(p.new_tag));
			json_object_set_new(o, "retries", json_integer(p.retries));
			json_object_set_new(o, "files", json_integer((json_int_t)p.n_files));
			json_object_set_new(o, "lfs_files", json_integer((json_int_t)p.n_lfs));
		}
		json_object_set_new(o, "diagnostics", errors_to_json(err));
		print_json(o);
		r = exit_code_for(r);
		goto done;
	}
	if (r) {
		r = print_errors(err);
		goto done;
	}
	if (dry_run) {
		printf("would publish %s to %s: %s on %s, tag %s%s%s (%zu files%s)\n", job->id,
		       repo, p.path, p.branch, p.tag, alias ? ", alias " : "", alias ? alias : "",
		       p.n_files, p.new_commit ? "" : ", nothing new to commit");
	} else if (!p.new_commit) {
		printf("%s is published already: %.12s on %s, tag %s%s%s\n", job->id, p.commit,
		       p.branch, p.tag, alias ? ", alias " : "", alias ? alias : "");
	} else {
		printf("published %s to %s: %.12s on %s, tag %s%s%s\n", job->id, repo, p.commit,
		       p.branch, p.tag, alias ? ", alias " : "", alias ? alias : "");
	}
	r = EXIT_OK;
done:
	moo_publication_dispose(&p);
	moo_error_free(err);
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_publish = {
	.name = "publish",
	.summary = "commit a finished job's model, lock and card to a git repository and push",
	.args = "JOB",
	.run = run,
};
