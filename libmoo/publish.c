/*
 * publish: a finished job as a commit in a git repository (libgit2), and back.
 *
 * Each publish works in a temporary bare repository: it lists the remote's refs, fetches
 * the branch (and the tag, when the remote has it), builds the new tree in memory (the
 * branch's tree with the model folder added), commits, tags, and pushes the branch first,
 * then the tag and the alias: when the branch push is refused nothing remote changed. A
 * branch that moved on meanwhile is fetched again and the model folder replayed on its new
 * tip (a few times); the same folder with other content there is a conflict.
 *
 * Decisions (also in moo-publish(1)):
 * - an alias is a branch, refs/heads/<alias>, force-moved to the published commit: tags
 *   are never moved, so a movable name cannot be one;
 * - the commit and the tag carry "Moo-Job:" and "Moo-Path:" trailers; moo__publish_checkout
 *   finds the model folder of a tag by its Moo-Path;
 * - the files moo writes (README.md, metadata.yaml, params.json, process.log; moo.lock
 *   when the result has none) win over result files of the same name;
 * - nothing in the folder depends on the time of publishing, so the same job gives the
 *   same tree, and publishing it again makes no commit;
 * - Git LFS (lfs.c): every non-empty file the base's .gitattributes route through
 *   filter=lfs becomes a pointer (git lfs pointer's bytes), whatever its size; the objects
 *   go up before any ref (batch API at lfs.url or URL.git/info/lfs; a repository on this
 *   machine gets them in its lfs/objects, as git-lfs's standalone transfer reads them);
 *   ssh without lfs.url is refused (no git-lfs-authenticate); the git remote's credential
 *   goes only to an LFS server on its origin.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "internal.h"
#include "gitlib.h"
#include "lfs.h"
#include "ssh.h"

#define DEFAULT_MAX_FILE (50ull * 1000 * 1000)
#define PUSH_TRIES       5

/* ---- small helpers ------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void iso_time(double t, char out[32])
{
	time_t s = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		snprintf(out, 32, "-");
		return;
	}
	gmtime_r(&s, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds libgit2's last error as the cause of a new error; returns code. */
static int git_fail(struct moo_error **err, int code, const char *fmt, ...) MOO_PRINTF(3, 4);
static int git_fail(struct moo_error **err, int code, const char *fmt, ...)
{
	const git_error *ge = git_error_last();
	struct moo_error *e;
	va_list ap;

	va_start(ap, fmt);
	e = moo__error_vadd(err, code, MOO_SEV_ERROR, fmt, ap);
	va_end(ap);
	if (ge && ge->message) {
		moo__error_cause(e, ge->message);
	}
	return code;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A YAML double-quoted scalar (JSON's escapes are YAML's). */
static void yq(struct moo_buf *b, const char *s)
{
	json_t *v = json_string(s ? s : "");
	char *q = json_dumps(v, JSON_ENCODE_ANY);

	moo_buf_puts(b, q ? q : "\"\"");
	free(q);
	json_decref(v);
}

/* ---- the model folder ---------------------------------------------------------------- */

struct file {
	char *rel;  /* path inside the model folder */
	char *src;  /* a file on disk, or NULL: data below */
	char *data; /* content written by moo */
	size_t len;
	uint64_t size;
	bool lfs;                  /* committed as a Git LFS pointer */
	char oid[MOO__SHA256_HEX]; /* its LFS object, once hashed */
};

struct folder {
	struct file *v;
	size_t n;
};

static void folder_dispose(struct folder *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].rel);
		free(f->v[i].src);
		free(f->v[i].data);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static struct file *folder_find(struct folder *f, const char *rel)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		if (!strcmp(f->v[i].rel, rel)) {
			return &f->v[i];
		}
	}
	return NULL;
}

/* Adds (or replaces) a file moo writes. Takes data. */
static void folder_put(struct folder *f, const char *rel, struct moo_buf *data)
{
	struct file *x = folder_find(f, rel);

	if (!x) {
		MOO_GROW(f->v, f->n);
		x = &f->v[f->n++];
		memset(x, 0, sizeof(*x));
		x->rel = moo__strdup(rel);
	}
	free(x->src);
	free(x->data);
	x->src = NULL;
	x->len = data->len;
	x->size = data->len;
	x->data = moo_buf_detach(data);
}

/* One regular file of the result, added to the folder (moo__walk_files). */
static int add_file(const char *path, const char *rel, const struct stat *st, void *data,
		    struct moo_error **err)
{
	struct folder *f = data;
	struct file *x;

	(void)err;
	MOO_GROW(f->v, f->n);
	x = &f->v[f->n++];
	memset(x, 0, sizeof(*x));
	x->rel = moo__strdup(rel);
	x->src = moo__strdup(path);
	x->size = (uint64_t)st->st_size;
	return 0;
}

static char *model_version(const struct moo_job *job, json_t *spec)
{
	const char *v = jstr(json_object_get(spec, "model"), "version");

	return moo__strdup(v && *v ? v : job->id);
}

static char *model_name(const struct moo_job *job, json_t *spec)
{
	const char *n = jstr(json_object_get(spec, "model"), "name");

	return moo__strdup(n && *n ? n : job->name ? job->name : "model");
}

/* The last value of each metric, in first-seen order. */
static size_t last_metrics(const struct moo_job *j, const struct moo_metric **out, size_t max)
{
	size_t n = 0, i, k;

	for (i = 0; i < j->n_metrics; i++) {
		for (k = 0; k < n && strcmp(out[k]->name, j->metrics[i].name); k++) {
		}
		if (k < n) {
			out[k] = &j->metrics[i];
		} else if (n < max) {
			out[n++] = &j->metrics[i];
		}
	}
	return n;
}

/*
 * A job's parameters as they were given (1.10 stays 1.10: jansson would write a parsed
 * 0.1 as 0.10000000000000001), sorted by name: each value as JSON text.
 */
static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct moo_kv *)a)->key, ((const struct moo_kv *)b)->key);
}

static void param_text(struct moo_buf *b, const struct moo_kv *kv)
{
	json_t *v = kv->quoted ? json_string(kv->value) : NULL;
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

	/* unquoted: a number, true, false or an old record's JSON, valid JSON as it is */
	moo_buf_puts(b, kv->quoted ? (s ? s : "\"\"") : kv->value);
	free(s);
	json_decref(v);
}

/* The model card: Hugging Face front matter, then what made the model. */
static void model_card(struct moo_buf *b, const struct moo_job *job, json_t *spec, json_t *lock,
		       const char *name, const char *version)
{
	const struct moo_metric *m[64];
	size_t nm = last_metrics(job, m, 64), i;
	json_t *fw = json_object_get(spec, "framework"), *ds = json_object_get(spec, "dataset");
	json_t *img = json_object_get(lock, "image");
	json_t *host = json_object_get(lock, "host"), *facts = json_object_get(host, "facts");
	const char *fwname = jstr(fw, "name"), *dsname = jstr(ds, "name");
	const char *task = jstr(spec, "model_architecture");
	char *specj = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
	char t0[32], t1[32], t2[32];
	struct moo_kv *kvs = NULL;
	size_t nk = 0;

	moo_buf_puts(b, "---\nlibrary_name: ");
	yq(b, fwname ? fwname : "other");
	moo_buf_puts(b, "\ntags:\n- moo\n");
	if (fwname) {
		moo_buf_puts(b, "- ");
		yq(b, fwname);
		moo_buf_putc(b, '\n');
	}
	if (dsname) {
		moo_buf_puts(b, "datasets:\n- ");
		yq(b, dsname);
		moo_buf_putc(b, '\n');
	}
	moo_buf_puts(b, "model-index:\n- name: ");
	yq(b, name);
	moo_buf_puts(b, "\n  results:\n  - task:\n      type: ");
	yq(b, task && *task ? task : "other");
	moo_buf_puts(b, "\n    dataset:\n      name: ");
	yq(b, dsname ? dsname : "unspecified");
	moo_buf_puts(b, "\n      type: ");
	yq(b, dsname ? dsname : "unspecified");
	moo_buf_puts(b, "\n    metrics:");
	if (!nm) {
		moo_buf_puts(b, " []");
	}
	moo_buf_putc(b, '\n');
	for (i = 0; i < nm; i++) {
		moo_buf_puts(b, "    - type: ");
		yq(b, m[i]->name);
		moo_buf_puts(b, "\n      name: ");
		yq(b, m[i]->name);
		moo_buf_printf(b, "\n      value: %.15g\n", m[i]->value);
	}
	moo_buf_printf(b, "---\n\n# %s %s\n\n", name, version);
	moo_buf_printf(b,
		       "Trained by moo as job `%s` on host `%s`; published with its moo.lock, "
		       "metadata.yaml and process.log beside this card.\n\n",
		       job->id, job->host ? job->host : "local");
	moo_buf_puts(b, "## Metrics\n\n| metric | value |\n| --- | --- |\n");
	for (i = 0; i < nm; i++) {
		moo_buf_printf(b, "| %s | %.15g |\n", m[i]->name, m[i]->value);
	}
	moo_buf_puts(b, "\n## Parameters\n\n| parameter | value |\n| --- | --- |\n");
	if (moo_job_params(&kvs, &nk, job, NULL)) {
		nk = 0;
	}
	if (nk > 1) { /* kvs is NULL when there are none: qsort's is never */
		qsort(kvs, nk, sizeof(*kvs), by_key);
	}
	for (i = 0; i < nk; i++) {
		moo_buf_printf(b, "| %s | `", kvs[i].key);
		param_text(b, &kvs[i]);
		moo_buf_puts(b, "` |\n");
	}
	moo_job_params_free(kvs, nk);
	moo_buf_puts(b, "\n## Environment\n\n");
	moo_buf_printf(b, "- bundle sha256: `%s`\n",
		       job->source_sha256 ? job->source_sha256 : "unknown");
	if (jstr(img, "digest")) {
		moo_buf_printf(b, "- image: `%s@%s`\n", jstr(img, "reference"),
			       jstr(img, "digest"));
	} else {
		json_t *req = json_object_get(lock, "requirements"), *v;

		moo_buf_printf(b, "- interpreter: `%s`\n", job->command ? job->command : "unknown");
		moo_buf_puts(b, "- packages:");
		if (!json_array_size(req)) {
			moo_buf_puts(b, " none beyond the interpreter's");
		}
		json_array_foreach(req, i, v)
		{
			moo_buf_printf(b, " `%s`", json_is_string(v) ? json_string_value(v) : "?");
		}
		moo_buf_putc(b, '\n');
	}
	moo_buf_printf(b, "- host: `%s` (%s)\n", job->host ? job->host : "local",
		       jstr(facts, "arch") ? jstr(facts, "arch") : "unknown arch");
	iso_time(job->created, t0);
	iso_time(job->started, t1);
	iso_time(job->ended, t2);
	moo_buf_printf(b, "- created %s, started %s, ended %s (%.1f s)\n", t0, t1, t2,
		       job->ended > job->started && job->started > 0 ? job->ended - job->started
								     : 0.0);
	moo_buf_printf(b, "\n## Spec\n\n```json\n%s\n```\n", specj ? specj : "{}");
	free(specj);
}

/* The folder's files: the result, then moo's own. */
static int build_folder(struct folder *f, const struct moo_job *job, const char *name,
			const char *version, struct moo_error **err)
{
	struct moo_buf b = MOO_BUF_INIT;
	json_t *spec = json_loads(job->spec_json ? job->spec_json : "{}", 0, NULL);
	json_t *lock = job->lock ? json_loads(job->lock, 0, NULL) : NULL;
	char *p = NULL;
	int r;

	if ((r = moo__walk_files(job->result_path, add_file, f, err))) {
		goto done;
	}
	if (!folder_find(f, "moo.lock")) {
		if (!job->lock) {
			r = moo__fail(err, MOO_ENOTFOUND, "job %s has no moo.lock", job->id);
			goto done;
		}
		moo_buf_puts(&b, job->lock);
		folder_put(f, "moo.lock", &b);
	}
	if (!lock) { /* the result's copy */
		struct moo_buf t = MOO_BUF_INIT;
		struct file *x = folder_find(f, "moo.lock");

		if (x->src && !moo__read_file(x->src, 4u << 20, &t, NULL)) {
			lock = json_loads(t.ptr, 0, NULL);
		}
		moo_buf_dispose(&t);
	}
	/* metadata.yaml as the job ran it; else the spec as JSON (YAML reads it too). */
	p = job->dir && (!job->host || !strcmp(job->host, "local"))
		    ? moo__path_join(job->dir, "metadata.yaml")
		    : NULL;
	if (!p || moo__read_file(p, 4u << 20, &b, NULL)) {
		char *s = json_dumps(spec, JSON_INDENT(2));

		moo_buf_reset(&b);
		moo_buf_printf(&b, "%s\n", s ? s : "{}");
		free(s);
	}
	folder_put(f, "metadata.yaml", &b);
	/* the parameters as run, overrides included: what moo reproduce REPO@TAG passes */
	{
		struct moo_kv *kvs = NULL;
		size_t nk = 0, i;

		if (moo_job_params(&kvs, &nk, job, NULL)) {
			nk = 0;
		}
		if (nk > 1) {
			qsort(kvs, nk, sizeof(*kvs), by_key);
		}
		moo_buf_putc(&b, '{');
		for (i = 0; i < nk; i++) {
			json_t *k = json_string(kvs[i].key);
			char *ks = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;

			moo_buf_printf(&b, "%s\n  %s: ", i ? "," : "", ks ? ks : "\"\"");
			param_text(&b, &kvs[i]);
			free(ks);
			json_decref(k);
		}
		moo_buf_puts(&b, nk ? "\n}\n" : "}\n");
		moo_job_params_free(kvs, nk);
		folder_put(f, "params.json", &b);
	}
	if ((r = moo_job_log_tail(&b, NULL, job, SIZE_MAX, err))) {
		goto done;
	}
	folder_put(f, "process.log", &b);
	model_card(&b, job, spec, lock, name, version);
	folder_put(f, "README.md", &b);
	r = 0;
done:
	free(p);
	moo_buf_dispose(&b);
	json_decref(spec);
	json_decref(lock);
	return r;
}

/* ---- remotes and credentials --------------------------------------------------------- */

enum kind { K_LOCAL, K_SSH, K_HTTP };

struct remote {
	enum kind kind;
	char *url;         /* what libgit2 connects to */
	char *shown;       /* the repo as the user gave it */
	char *ssh_name;    /* [user@]host[:port] for moo__ssh_open */
	char *ssh_user;    /* after ~/.ssh/config */
	char *fingerprint; /* SHA256:… checked against known_hosts */
	char **keys;       /* identity files to offer */
	size_t n_keys;
	/* per connection: which credential source is next */
	unsigned stage;
	bool agent_tried;
	/* https: the credential that worked, offered first on later connections */
	char *user, *pass;
	bool from_helper;         /* it came from git credential fill */
	char *cred_url;           /* protocol/host/path for git credential */
	struct moo_error *cb_err; /* what a callback refused */
	char **rejected;          /* "ref: why", from push_update_reference */
	size_t n_rejected;
	const char *expect_ref; /* a push of this ref expects the remote to have expect */
	git_oid expect;
	bool moved; /* it did not: the remote moved on */
};

static void remote_dispose(struct remote *r)
{
	size_t i;

	free(r->url);
	free(r->shown);
	free(r->ssh_name);
	free(r->ssh_user);
	free(r->fingerprint);
	for (i = 0; i < r->n_keys; i++) {
		free(r->keys[i]);
	}
	free(r->keys);
	if (r->pass) {
		explicit_bzero(r->pass, strlen(r->pass));
	}
	free(r->user);
	free(r->pass);
	free(r->cred_url);
	moo_error_free(r->cb_err);
	for (i = 0; i < r->n_rejected; i++) {
		free(r->rejected[i]);
	}
	free(r->rejected);
}

static void add_key(struct remote *rm, const char *path)
{
	size_t i;

	if (!path || access(path, R_OK)) {
		return;
	}
	for (i = 0; i < rm->n_keys; i++) {
		if (!strcmp(rm->keys[i], path)) {
			return;
		}
	}
	MOO_GROW(rm->keys, rm->n_keys);
	rm->keys[rm->n_keys++] = moo__strdup(path);
}

/*
 * ssh: the host key checked by moo's own ssh code (known_hosts, --accept-new-host-key),
 * its fingerprint kept for certificate_check; the user, address and port after
 * ~/.ssh/config, and the identity files to offer.
 */
static int ssh_prepare(struct remote *rm, const char *path, bool accept_new, struct moo_error **err)
{
	struct moo__ssh *c = NULL;
	char *host = NULL, *user = NULL, *ident = NULL;
	const char *home = getenv("HOME");
	unsigned port = 22;
	int r;

	if ((r = moo__ssh_open(&c, rm->ssh_name,
			       MOO__SSH_NO_AUTH | (accept_new ? MOO__SSH_ACCEPT_NEW : 0), 10,
			       err))) {
		goto done;
	}
	rm->fingerprint = moo__strdup(c->fingerprint);
	ssh_options_get(c->session, SSH_OPTIONS_HOST, &host);
	ssh_options_get(c->session, SSH_OPTIONS_USER, &user);
	ssh_options_get_port(c->session, &port);
	if (ssh_options_get(c->session, SSH_OPTIONS_IDENTITY, &ident) == SSH_OK && ident) {
		if (!strncmp(ident, "%d/", 3) && home) {
			char *p = moo__printf("%s/.ssh/%s", home, ident + 3);

			add_key(rm, p);
			free(p);
		} else if (!strchr(ident, '%')) {
			add_key(rm, ident);
		}
	}
	add_key(rm, c->target.key);
	if (home) {
		static const char *const names[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
		size_t i;

		for (i = 0; i < MOO_ARRAY_SIZE(names); i++) {
			char *p = moo__printf("%s/.ssh/%s", home, names[i]);

			add_key(rm, p);
			free(p);
		}
	}
	rm->ssh_user = moo__strdup(user ? user : "git");
	free(rm->url);
	rm->url = moo__printf("ssh://%s@%s%s%s:%u%s%s", rm->ssh_user,
			      strchr(host ? host : "", ':') ? "[" : "", host ? host : "",
			      strchr(host ? host : "", ':') ? "]" : "", port,
			      *path == '/' ? "" : "/~/", path);
	r = 0;
done:
	ssh_string_free_char(host);
	ssh_string_free_char(user);
	ssh_string_free_char(ident);
	moo__ssh_close(c);
	return r;
}

/* Sorts out what repo names: the kind of remote and the URL libgit2 gets. */
static int remote_parse(struct remote *rm, const char *repo, bool accept_new,
			struct moo_error **err)
{
	const char *sep = strstr(repo, "://");
	const char *colon = strchr(repo, ':'), *slash = strchr(repo, '/');
	int r = 0;

	memset(rm, 0, sizeof(*rm));
	rm->shown = moo__strdup(repo);
	if (!*repo) {
		return moo__fail(err, MOO_EARG, "empty repository");
	}
	if (sep && (!strncmp(repo, "https://", 8) || !strncmp(repo, "http://", 7))) {
		rm->kind = K_HTTP;
		rm->url = moo__strdup(repo);
		return 0;
	}
	if (sep && !strncmp(repo, "file://", 7)) {
		rm->kind = K_LOCAL;
		rm->url = moo__strdup(repo);
		return 0;
	}
	if (sep && !strncmp(repo, "ssh://", 6)) {
		const char *hp = repo + 6, *p = strchr(hp, '/');

		if (!p || p == hp) {
			return moo__fail(err, MOO_EARG, "no path in '%s'", repo);
		}
		rm->kind = K_SSH;
		rm->ssh_name = moo__strndup(hp, (size_t)(p - hp));
		if (!strncmp(p, "/~/", 3)) {
			p += 3;
		}
		rm->url = moo__strdup(repo);
		return ssh_prepare(rm, p, accept_new, err);
	}
	if (sep) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "unsupported repository URL '%s'", repo);

		moo__error_hint(e, "use a path, file://, ssh://, USER@HOST:PATH or https://");
		return MOO_EARG;
	}
	if (colon && (!slash || colon < slash) && colon != repo) { /* scp-like user@host:path */
		rm->kind = K_SSH;
		rm->ssh_name = moo__strndup(repo, (size_t)(colon - repo));
		rm->url = moo__strdup(repo);
		return ssh_prepare(rm, colon + 1, accept_new, err);
	}
	rm->kind = K_LOCAL;
	{
		char abs[PATH_MAX];

		if (!realpath(repo, abs)) {
			r = moo__fail_errno(err, MOO_ENOTFOUND, "no repository at '%s'", repo);
			moo__error_hint(*err,
					"give the repository 'moo publish --repo' pushed to (a "
					"path, file://, ssh or https URL); 'moo models' lists "
					"them");
			return r;
		}
		rm->url = moo__strdup(abs);
	}
	return 0;
}

/* Runs `git credential ACTION` with input; output (fill) into out. */
static int run_git_credential(const char *action, const char *input, struct moo_buf *out)
{
	int in[2], o[2], status = 0;
	pid_t pid;
	char buf[4096];
	ssize_t n;

	if (pipe(in) || pipe(o)) {
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(in[0], 0);
		dup2(o[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 2); /* git's own chatter never reaches moo's output */
		}
		close(in[1]);
		close(o[0]);
		execlp("git", "git", "credential", action, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	if (write(in[1], input, strlen(input)) < 0) {
		status = -1;
	}
	close(in[1]);
	while ((n = read(o[0], buf, sizeof(buf))) > 0) {
		if (out) {
			moo_buf_add(out, buf, (size_t)n);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	close(o[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		return -1;
	}
	return 0;
}

/* "protocol=…\nhost=…\npath=…\n" of an http(s) URL, with the user of the URL if any. */
static char *credential_input(const char *url, const char *user, const char *pass)
{
	const char *p = strstr(url, "://") + 3, *slash = strchr(p, '/'), *at;
	struct moo_buf b = MOO_BUF_INIT;
	char *hostpart = slash ? moo__strndup(p, (size_t)(slash - p)) : moo__strdup(p);

	at = strrchr(hostpart, '@');
	moo_buf_printf(&b, "protocol=%.*s\nhost=%s\n", (int)(strstr(url, "://") - url), url,
		       at ? at + 1 : hostpart);
	if (slash && slash[1]) {
		moo_buf_printf(&b, "path=%s\n", slash + 1);
	}
	if (user) {
		moo_buf_printf(&b, "username=%s\n", user);
	}
	if (pass) {
		moo_buf_printf(&b, "password=%s\n", pass);
	}
	moo_buf_putc(&b, '\n');
	free(hostpart);
	return moo_buf_detach(&b);
}

static char *line_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *e = strchr(p + kl + 1, '\n');

			return e ? moo__strndup(p + kl + 1, (size_t)(e - p - kl - 1))
				 : moo__strdup(p + kl + 1);
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

/*
 * Credentials: each source once per connection, so a wrong password ends after a bounded
 * number of tries (libgit2 asks again for as long as the callback answers). https: the
 * credential that worked before, $MOO_GIT_USERNAME/$MOO_GIT_PASSWORD, git credential fill.
 * ssh: the agent, then each identity file.
 */
static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
		   unsigned int allowed, void *payload)
{
	struct remote *rm = payload;

	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		const char *user = user_from_url ? user_from_url : rm->ssh_user;

		if (!rm->agent_tried && getenv("SSH_AUTH_SOCK")) {
			rm->agent_tried = true;
			return git_credential_ssh_key_from_agent(out, user);
		}
		while (rm->stage < rm->n_keys) {
			const char *k = rm->keys[rm->stage++];
			char *pub = moo__printf("%s.pub", k);
			int r = git_credential_ssh_key_new(out, user,
							   access(pub, R_OK) ? NULL : pub, k, NULL);

			free(pub);
			if (!r) {
				return 0;
			}
		}
		return GIT_PASSTHROUGH;
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		for (;;) {
			unsigned s = rm->stage++;

			if (s == 0 && rm->user && rm->pass) {
				return git_credential_userpass_plaintext_new(out, rm->user,
									     rm->pass);
			}
			if (s == 1 && getenv("MOO_GIT_PASSWORD")) {
				const char *u = getenv("MOO_GIT_USERNAME");

				free(rm->user);
				free(rm->pass);
				rm->user = moo__strdup(u ? u : user_from_url ? user_from_url : "");
				rm->pass = moo__strdup(getenv("MOO_GIT_PASSWORD"));
				rm->from_helper = false;
				return git_credential_userpass_plaintext_new(out, rm->user,
									     rm->pass);
			}
			if (s == 2) {
				struct moo_buf o = MOO_BUF_INIT;
				char *in = credential_input(url, user_from_url, NULL);
				char *u = NULL, *p = NULL;
				int r = GIT_PASSTHROUGH;

				if (!run_git_credential("fill", in, &o) &&
				    (u = line_value(o.ptr, "username")) &&
				    (p = line_value(o.ptr, "password"))) {
					free(rm->user);
					free(rm->pass);
					rm->user = u;
					rm->pass = p;
					u = p = NULL;
					rm->from_helper = true;
					free(rm->cred_url);
					rm->cred_url = moo__strdup(url);
					r = git_credential_userpass_plaintext_new(out, rm->user,
										  rm->pass);
				}
				if (o.ptr) {
					explicit_bzero(o.ptr, o.len);
				}
				moo_buf_dispose(&o);
				free(in);
				free(u);
				if (p) {
					explicit_bzero(p, strlen(p));
				}
				free(p);
				return r;
			}
			if (s > 2) {
				return GIT_PASSTHROUGH;
			}
		}
	}
	return GIT_PASSTHROUGH;
}

/* The fingerprint libssh checked against known_hosts must be the key libgit2 sees. */
static int cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct remote *rm = payload;
	git_cert_hostkey *hk = (git_cert_hostkey *)cert;
	char b64[64], fp[80];
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
		return GIT_PASSTHROUGH; /* https: libgit2's own verification */
	}
	if (!(hk->type & GIT_CERT_SSH_SHA256) || !rm->fingerprint) {
		moo__error_add(&rm->cb_err, MOO_EHOST, MOO_SEV_ERROR,
			       "cannot check the host key of '%s'", host);
		return -1;
	}
	for (i = 0; i < 32; i += 3) { /* base64 without padding, as ssh prints it */
		unsigned v = (unsigned)hk->hash_sha256[i] << 16;

		v |= i + 1 < 32 ? (unsigned)hk->hash_sha256[i + 1] << 8 : 0;
		v |= i + 2 < 32 ? hk->hash_sha256[i + 2] : 0;
		b64[o++] = tbl[(v >> 18) & 63];
		b64[o++] = tbl[(v >> 12) & 63];
		if (i + 1 < 32) {
			b64[o++] = tbl[(v >> 6) & 63];
		}
		if (i + 2 < 32) {
			b64[o++] = tbl[v & 63];
		}
	}
	b64[o] = 0;
	snprintf(fp, sizeof(fp), "SHA256:%s", b64);
	if (strcmp(fp, rm->fingerprint)) {
		struct moo_error *e = moo__error_add(
			&rm->cb_err, MOO_EHOST, MOO_SEV_ERROR,
			"the host key of '%s' changed between two connections: %s, then %s", host,
			rm->fingerprint, fp);

		moo__error_hint(e, "someone may be intercepting the connection");
		return -1;
	}
	(void)valid;
	return 0;
}

static int push_ref_cb(const char *refname, const char *status, void *data)
{
	struct remote *rm = data;

	if (status) {
		MOO_GROW(rm->rejected, rm->n_rejected);
		rm->rejected[rm->n_rejected++] = moo__printf("%s: %s", refname, status);
	}
	return 0;
}

/*
 * Before the push: the remote's branch must still be where this publish built on (libgit2's
 * local transport would otherwise overwrite a commit pushed meanwhile).
 */
static int negotiation_cb(const git_push_update **updates, size_t len, void *payload)
{
	struct remote *rm = payload;
	size_t i;

	for (i = 0; rm->expect_ref && i < len; i++) {
		if (!strcmp(updates[i]->dst_refname, rm->expect_ref) &&
		    git_oid_cmp(&updates[i]->src, &rm->expect)) {
			rm->moved = true;
			return -1;
		}
	}
	return 0;
}

static void callbacks(git_remote_callbacks *cb, struct remote *rm)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = cred_cb;
	cb->certificate_check = cert_cb;
	cb->push_update_reference = push_ref_cb;
	cb->push_negotiation = negotiation_cb;
	cb->payload = rm;
	rm->stage = 0;
	rm->agent_tried = false;
}

/* A failed network call: the callback's own error when it refused, else libgit2's. */
static int net_fail(struct remote *rm, struct moo_error **err, const char *what)
{
	const git_error *ge = git_error_last();
	const char *msg = ge && ge->message ? ge->message : "";
	struct moo_error *e;

	if (rm->cb_err) {
		moo__error_append(err, rm->cb_err);
		rm->cb_err = NULL;
		return MOO_EHOST;
	}
	if (strstr(msg, "authentication") || strstr(msg, "401") || strstr(msg, "credentials") ||
	    strstr(msg, "auth")) {
		e = moo__error_add(err, MOO_EHOST, MOO_SEV_ERROR, "authentication to '%s' failed",
				   rm->shown);
		moo__error_cause(e, msg);
		moo__error_hint(
			e, rm->kind == K_SSH
				   ? "moo logs in with keys and ssh-agent only"
				   : "set up git's credential helper for it ('git credential "
				     "approve'), or set MOO_GIT_USERNAME and MOO_GIT_PASSWORD");
		if (rm->from_helper && rm->cred_url) {
			char *in = credential_input(rm->cred_url, rm->user, rm->pass);

			run_git_credential("reject", in, NULL);
			explicit_bzero(in, strlen(in));
			free(in);
		}
		return MOO_EHOST;
	}
	e = moo__error_add(err, rm->kind == K_LOCAL ? MOO_ENOTFOUND : MOO_EHOST, MOO_SEV_ERROR,
			   "cannot %s '%s'", what, rm->shown);
	moo__error_cause(e, msg);
	return rm->kind == K_LOCAL ? MOO_ENOTFOUND : MOO_EHOST;
}

/* ---- the remote's refs ----------------------------------------------------------------- */

struct refs {
	git_oid branch, tag, alias; /* zero when absent */
	char *head_branch;          /* what the remote's HEAD names, or NULL */
};

static int list_refs(git_remote *remote, struct remote *rm, const char *branch, const char *tag,
		     const char *alias, struct refs *out, struct moo_error **err)
{
	git_remote_callbacks cb;
	const git_remote_head **heads;
	size_t n, i;
	char *bref = branch ? moo__printf("refs/heads/%s", branch) : NULL;
	char *tref = moo__printf("refs/tags/%s", tag);
	char *aref = alias ? moo__printf("refs/heads/%s", alias) : NULL;
	int r;

	memset(out, 0, sizeof(*out));
	callbacks(&cb, rm);
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) ||
	    git_remote_ls(&heads, &n, remote)) {
		r = net_fail(rm, err, "reach the repository");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(heads[i]->name, "HEAD") && heads[i]->symref_target &&
		    !strncmp(heads[i]->symref_target, "refs/heads/", 11)) {
			out->head_branch = moo__strdup(heads[i]->symref_target + 11);
		}
		if (bref && !strcmp(heads[i]->name, bref)) {
			git_oid_cpy(&out->branch, &heads[i]->oid);
		}
		if (!strcmp(heads[i]->name, tref)) {
			git_oid_cpy(&out->tag, &heads[i]->oid);
		}
		if (aref && !strcmp(heads[i]->name, aref)) {
			git_oid_cpy(&out->alias, &heads[i]->oid);
		}
	}
	/* A remote HEAD that names a branch the remote has is its default branch. */
	if (!branch && out->head_branch) {
		char *h = moo__printf("refs/heads/%s", out->head_branch);

		for (i = 0; i < n; i++) {
			if (!strcmp(heads[i]->name, h)) {
				break;
			}
		}
		if (i == n) {
			free(out->head_branch);
			out->head_branch = NULL;
		}
		free(h);
	}
	r = 0;
done:
	git_remote_disconnect(remote);
	free(bref);
	free(tref);
	free(aref);
	return r;
}

static int fetch(git_remote *remote, struct remote *rm, char **specs, size_t n,
		 struct moo_error **err)
{
	git_fetch_options fo;
	git_strarray arr = {specs, n};

	if (!n) {
		return 0;
	}
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	callbacks(&fo.callbacks, rm);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (git_remote_fetch(remote, &arr, &fo, NULL)) {
		return net_fail(rm, err, "fetch from");
	}
	return 0;
}

/* ---- building the commit ----------------------------------------------------------------- */

/* The oid of the tree at path in commit, or zero. */
static void subtree_at(git_repository *repo, const git_oid *commit, const char *path, git_oid *out)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_tree_entry *e = NULL;

	memset(out, 0, sizeof(*out));
	if (!git_oid_is_zero(commit) && !git_commit_lookup(&c, repo, commit) &&
	    !git_commit_tree(&t, c) && !git_tree_entry_bypath(&e, t, path)) {
		git_oid_cpy(out, git_tree_entry_id(e));
	}
	git_tree_entry_free(e);
	git_tree_free(t);
	git_commit_free(c);
}

/* Whether the base commit's .gitattributes route path through Git LFS. */
static bool lfs_path(git_repository *repo, const git_oid *base, const char *path)
{
	git_attr_options ao;
	const char *v = NULL;

	memset(&ao, 0, sizeof(ao));
	ao.version = GIT_ATTR_OPTIONS_VERSION;
	if (git_oid_is_zero(base)) {
		return false;
	}
	ao.flags = GIT_ATTR_CHECK_NO_SYSTEM | GIT_ATTR_CHECK_INCLUDE_COMMIT |
		   GIT_ATTR_CHECK_INDEX_ONLY;
	git_oid_cpy(&ao.attr_commit_id, base);
	return !git_attr_get_ext(&v, repo, &ao, path, "filter") && v &&
	       git_attr_value(v) == GIT_ATTR_VALUE_STRING && !strcmp(v, "lfs");
}

/* The blobs of the folder; the tree of base with the folder at dir. */
static int build_tree(git_repository *repo, const git_oid *base, const char *dir, struct folder *f,
		      const struct moo_publish_opts *o, git_oid *tree, size_t *n_lfs,
		      struct moo_error **err)
{
	uint64_t max = o->max_file_size ? o->max_file_size : DEFAULT_MAX_FILE;
	git_index *idx = NULL;
	git_commit *c = NULL;
	git_tree *t = NULL;
	size_t i;
	int r;

	*n_lfs = 0;
	if (git_index_new(&idx)) {
		r = git_fail(err, MOO_EIO, "cannot make an index");
		goto done;
	}
	if (!git_oid_is_zero(base)) {
		if (git_commit_lookup(&c, repo, base) || git_commit_tree(&t, c) ||
		    git_index_read_tree(idx, t)) {
			r = git_fail(err, MOO_EIO, "cannot read the branch's tree");
			goto done;
		}
		git_index_remove_directory(idx, dir, 0);
	}
	for (i = 0; i < f->n; i++) {
		struct file *x = &f->v[i];
		git_index_entry e;
		char *path = moo__path_join(dir, x->rel);
		int g;

		/* an empty file stays an empty blob, as git-lfs's clean filter leaves it */
		x->lfs = x->size > 0 && lfs_path(repo, base, path);
		if (!x->lfs && x->src && x->size > max && !o->allow_large_files) {
			struct moo_error *me = moo__error_add(
				err, MOO_EARG, MOO_SEV_ERROR,
				"'%s' is %llu bytes, over the %llu bytes moo commits to git",
				x->rel, (unsigned long long)x->size, (unsigned long long)max);

			moo__error_hint(me, "pass --allow-large-files to commit it anyway, raise "
					    "--max-file-size, or track it with Git LFS "
					    "('git lfs track') in the repository");
			free(path);
			r = MOO_EARG;
			goto done;
		}
		memset(&e, 0, sizeof(e));
		e.mode = GIT_FILEMODE_BLOB;
		e.path = path;
		if (x->lfs) { /* every file .gitattributes routes to LFS, as git-lfs's clean filter
			       */
			struct moo_buf ptr = MOO_BUF_INIT;

			if (!x->oid[0] && x->src &&
			    (r = moo__sha256_file(x->src, x->oid, &x->size, err))) {
				free(path);
				goto done;
			} else if (!x->oid[0] && !x->src) {
				moo__sha256_buf(x->data, x->len, x->oid);
			}
			moo__lfs_pointer(&ptr, x->oid, x->size);
			g = git_blob_create_from_buffer(&e.id, repo, ptr.ptr, ptr.len);
			moo_buf_dispose(&ptr);
			++*n_lfs;
		} else {
			g = x->src ? git_blob_create_from_disk(&e.id, repo, x->src)
				   : git_blob_create_from_buffer(&e.id, repo, x->data, x->len);
		}
		if (!g) {
			g = git_index_add(idx, &e);
		}
		free(path);
		if (g) {
			r = git_fail(err, MOO_EIO, "cannot store '%s'", x->rel);
			goto done;
		}
	}
	if (git_index_write_tree_to(tree, idx, repo)) {
		r = git_fail(err, MOO_EIO, "cannot write the tree");
		goto done;
	}
	r = 0;
done:
	git_tree_free(t);
	git_commit_free(c);
	git_index_free(idx);
	return r;
}

static int signature(git_signature **out, git_repository *repo, struct moo_error **err)
{
	if (git_signature_default(out, repo)) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "no git identity to commit with");

		moo__error_hint(e, "set one with 'git config --global user.name \"Your Name\"' "
				   "and 'git config --global user.email you@example.com'");
		return MOO_EARG;
	}
	return 0;
}

/* ---- publish ----------------------------------------------------------------------------- */

struct ctx {
	git_repository *repo;
	git_remote *remote;
	struct remote rm;
	char *tmp;
	git_repository *nonbare; /* a repository on this machine with a work tree: its refs
				  * and objects are written here (libgit2 does not push to it) */
};

static void ctx_dispose(struct ctx *c)
{
	git_remote_free(c->remote);
	git_repository_free(c->repo);
	git_repository_free(c->nonbare);
	if (c->tmp) {
		moo__rm_rf(c->tmp);
	}
	free(c->tmp);
	remote_dispose(&c->rm);
}

static int ctx_open(struct ctx *c, const char *repo, bool accept_new, struct moo_error **err)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = remote_parse(&c->rm, repo, accept_new, err))) {
		return r;
	}
	if (!(c->tmp = moo__tmp_dir("moo-publish-", err))) {
		return MOO_EIO;
	}
	if (git_repository_init(&c->repo, c->tmp, 1) ||
	    git_remote_create_anonymous(&c->remote, c->repo, c->rm.url)) {
		return git_fail(err, MOO_EIO, "cannot set up a repository in '%s'", c->tmp);
	}
	if (c->rm.kind == K_LOCAL) {
		const char *path = strncmp(c->rm.url, "file://", 7) ? c->rm.url : c->rm.url + 7;

		if (!git_repository_open(&c->nonbare, path) && git_repository_is_bare(c->nonbare)) {
			git_repository_free(c->nonbare);
			c->nonbare = NULL;
		}
	}
	return 0;
}

/*
 * A branch checked out in a repository with a work tree is not moved under it (as git's
 * receive.denyCurrentBranch): its index and files would no longer match it.
 */
static int refuse_checked_out(struct ctx *c, const char *branch, struct moo_error **err)
{
	char *name = moo__printf("refs/heads/%s", branch);
	git_reference *ref = NULL;
	const char *head = NULL;
	bool out = false;
	int r = 0;

	if (!git_reference_lookup(&ref, c->nonbare, "HEAD")) {
		head = git_reference_symbolic_target(ref);
		out = head && !strcmp(head, name);
		git_reference_free(ref);
		ref = NULL;
	}
	if (!out && !git_reference_lookup(&ref, c->nonbare, name)) {
		out = git_branch_is_checked_out(ref) == 1; /* in a linked work tree */
	}
	if (out) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
				       "'%s' refused the ref %s: the branch is checked out there",
				       c->rm.shown, name);

		moo__error_hint(e,
				"publish to another branch (-b BRANCH), or to a bare clone: git "
				"clone --bare '%s' '%s.git'",
				c->rm.shown, c->rm.shown);
		r = MOO_ENET;
	}
	git_reference_free(ref);
	free(name);
	return r;
}

/*
 * What a push to a repository with a work tree would write, fetched into it from ours
 * instead: the same refspecs, the same objects.
 */
static int fetch_into(struct ctx *c, char **specs, size_t n, struct moo_error **err)
{
	git_remote *from = NULL;
	git_fetch_options fo;
	git_strarray arr = {specs, n};
	int r = 0;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	if (git_remote_create_anonymous(&from, c->nonbare, c->tmp) ||
	    git_remote_fetch(from, &arr, &fo, "moo publish")) {
		r = git_fail(err, MOO_EIO, "cannot write the commit into '%s'", c->rm.shown);
	}
	git_remote_free(from);
	return r;
}

/* Pushes refspecs; a refused ref is an error naming it. *nonff: refused as not fast-forward. */
static int push(struct ctx *c, char **specs, size_t n, bool *nonff, struct moo_error **err)
{
	git_push_options po;
	git_strarray arr = {specs, n};
	size_t i;
	int g;

	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	*nonff = false;
	callbacks(&po.callbacks, &c->rm);
	for (i = 0; i < c->rm.n_rejected; i++) {
		free(c->rm.rejected[i]);
	}
	c->rm.n_rejected = 0;
	c->rm.moved = false;
	if (c->nonbare) {
		return fetch_into(c, specs, n, err);
	}
	g = git_remote_push(c->remote, &arr, &po);
	if (g == GIT_ENONFASTFORWARD || c->rm.moved) {
		*nonff = true;
		return MOO_ENET;
	}
	if (g) {
		return net_fail(&c->rm, err, "push to");
	}
	for (i = 0; i < c->rm.n_rejected; i++) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENET, MOO_SEV_ERROR, "'%s' refused the ref %s",
				       c->rm.shown, c->rm.rejected[i]);

		moo__error_hint(e, "check the repository's rules for that ref (protected "
				   "branches, hooks) and its permissions for you");
	}
	return c->rm.n_rejected ? MOO_ENET : 0;
}

/*
 * A branch of a repository on this machine: libgit2's local transport overwrites the ref
 * without looking at what it holds now, so the objects go under a temporary ref and the
 * branch is then moved by compare-and-swap under git's ref lock (expect: what the branch
 * must hold, zero: it must not exist). *nonff when it changed meanwhile.
 */
static int push_local_branch(struct ctx *c, const char *lref, const git_oid *commit,
			     const git_oid *expect, bool *nonff, struct moo_error **err)
{
	char hex[17], *tmpref, *spec, *path;
	git_repository *dst = NULL;
	git_reference *ref = NULL;
	int r, g;

	moo__random_hex(hex);
	tmpref = moo__printf("refs/moo-publish/%s", hex);
	spec = moo__printf("%s:%s", lref, tmpref);
	path = moo__strdup(strncmp(c->rm.url, "file://", 7) ? c->rm.url : c->rm.url + 7);
	c->rm.expect_ref = NULL;
	if ((r = push(c, &spec, 1, nonff, err))) {
		goto done;
	}
	if (git_repository_open_bare(&dst, path) && git_repository_open(&dst, path)) {
		r = git_fail(err, MOO_EIO, "cannot open '%s'", path);
		goto done;
	}
	g = git_oid_is_zero(expect)
		    ? git_reference_create(&ref, dst, lref, commit, 0, "moo publish")
		    : git_reference_create_matching(&ref, dst, lref, commit, 1, expect,
						    "moo publish");
	if (g == GIT_EEXISTS || g == GIT_EMODIFIED || g == GIT_ELOCKED) {
		*nonff = true;
		r = MOO_ENET;
	} else if (g) {
		r = git_fail(err, MOO_EIO, "cannot update '%s' in '%s'", lref, path);
	}
	git_reference_free(ref);
	ref = NULL;
	if (!git_reference_lookup(&ref, dst, tmpref)) {
		git_reference_delete(ref);
	}
done:
	git_reference_free(ref);
	git_repository_free(dst);
	free(tmpref);
	free(spec);
	free(path);
	return r;
}

/* ---- Git LFS ------------------------------------------------------------------------------ */

/* Key of a git configuration file (NULL when unset); the file's text from a blob or disk. */
static char *config_value(git_config *cfg, const char *key)
{
	git_buf b = {0};
	char *v = NULL;

	if (cfg && !git_config_get_string_buf(&b, cfg, key) && b.ptr && *b.ptr) {
		v = moo__strdup(b.ptr);
	}
	git_buf_dispose(&b);
	return v;
}

/*
 * Where the objects go, as git-lfs finds it: lfs.url of git's configuration, else of the
 * .lfsconfig at the root of base; else https://HOST/PATH.git/info/lfs for an http(s)
 * remote. *out NULL: a repository on this machine, whose lfs/objects folder takes them.
 */
static int lfs_endpoint(struct ctx *c, const git_oid *base, char **out, struct moo_error **err)
{
	git_config *cfg = NULL;
	char *url = NULL;
	int r = 0;

	*out = NULL;
	if (!git_repository_config(&cfg, c->repo)) { /* the user's global and system config */
		url = config_value(cfg, "lfs.url");
		git_config_free(cfg);
		cfg = NULL;
	}
	if (!url && !git_oid_is_zero(base)) {
		git_commit *cm = NULL;
		git_tree *t = NULL;
		git_tree_entry *e = NULL;
		git_blob *b = NULL;

		if (!git_commit_lookup(&cm, c->repo, base) && !git_commit_tree(&t, cm) &&
		    !git_tree_entry_bypath(&e, t, ".lfsconfig") &&
		    !git_blob_lookup(&b, c->repo, git_tree_entry_id(e))) {
			char *p = moo__path_join(c->tmp, "lfsconfig");

			if (!moo__write_file_atomic(p, git_blob_rawcontent(b),
						    (size_t)git_blob_rawsize(b), 0600, false,
						    NULL) &&
			    !git_config_open_ondisk(&cfg, p)) {
				url = config_value(cfg, "lfs.url");
				git_config_free(cfg);
			}
			free(p);
		}
		git_blob_free(b);
		git_tree_entry_free(e);
		git_tree_free(t);
		git_commit_free(cm);
	}
	if (url && strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		struct moo_error *me = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						      "lfs.url '%s' is not an http(s) URL", url);

		moo__error_hint(me, "moo talks to LFS servers over http(s) only");
		r = MOO_EARG;
	} else if (!url && c->rm.kind == K_HTTP) { /* without a user:password of the URL */
		char *origin = moo__lfs_origin(c->rm.url);
		const char *path = strchr(strstr(c->rm.url, "://") + 3, '/');
		size_t n = path ? strlen(path) : 0;

		while (n && path[n - 1] == '/') {
			n--;
		}
		url = moo__printf("%s%.*s%s/info/lfs", origin ? origin : c->rm.url, (int)n,
				  path ? path : "",
				  n > 4 && !strncmp(path + n - 4, ".git", 4) ? "" : ".git");
		free(origin);
	} else if (!url && c->rm.kind == K_SSH) {
		struct moo_error *me = moo__error_add(
			err, MOO_EARG, MOO_SEV_ERROR,
			"'%s' routes files to Git LFS, which moo does not upload over ssh",
			c->rm.shown);

		moo__error_hint(me, "set lfs.url to the server's https LFS endpoint in the "
				    "repository's .lfsconfig, or publish to its https URL");
		r = MOO_EARG;
	}
	if (r) {
		free(url);
		return r;
	}
	*out = url;
	return 0;
}

/* The git folder of a repository on this machine: PATH, or PATH/.git when it has one. */
static char *local_gitdir(const struct remote *rm)
{
	const char *path = strncmp(rm->url, "file://", 7) ? rm->url : rm->url + 7;
	char *dotgit = moo__path_join(path, ".git");
	struct stat sb;

	if (stat(dotgit, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		return dotgit;
	}
	free(dotgit);
	return moo__strdup(path);
}

/*
 * The credential for the LFS server at api: the one the git remote took, when api is on the
 * remote's origin (never sent elsewhere); after a 401 (again: true), what git's credential
 * helper has for api, as git-lfs asks it.
 */
static bool lfs_credential(struct remote *rm, const char *api, bool again, char **user, char **pass)
{
	char *ao = moo__lfs_origin(api), *ro = moo__lfs_origin(rm->url);
	bool ok = false;

	*user = *pass = NULL;
	if (!again) {
		if (ao && ro && !strcmp(ao, ro) && rm->user && rm->pass) {
			*user = moo__strdup(rm->user);
			*pass = moo__strdup(rm->pass);
		}
		ok = true;
	} else {
		struct moo_buf o = MOO_BUF_INIT;
		char *in = credential_input(api, NULL, NULL);

		if (!run_git_credential("fill", in, &o) &&
		    (*user = line_value(o.ptr, "username")) &&
		    (*pass = line_value(o.ptr, "password"))) {
			ok = true;
		}
		if (o.ptr) {
			explicit_bzero(o.ptr, o.len);
		}
		moo_buf_dispose(&o);
		free(in);
	}
	free(ao);
	free(ro);
	return ok;
}

static void forget(char **user, char **pass)
{
	if (*pass) {
		explicit_bzero(*pass, strlen(*pass));
	}
	free(*user);
	free(*pass);
	*user = *pass = NULL;
}

/*
 * Sends the LFS objects of the folder before its commit is pushed: a ref is never pushed
 * whose objects the server lacks. *sent counts the objects sent.
 */
static int lfs_push(struct ctx *c, const git_oid *base, const struct folder *f, const char *branch,
		    size_t *sent, struct moo_error **err)
{
	struct moo__lfs_object *v = NULL;
	char *api = NULL, *ref = moo__printf("refs/heads/%s", branch), *user = NULL, *pass = NULL;
	size_t n = 0, i;
	bool unauthorized = false;
	int r;

	*sent = 0;
	for (i = 0; i < f->n; i++) {
		const struct file *x = &f->v[i];

		if (x->lfs) {
			MOO_GROW(v, n);
			v[n++] = (struct moo__lfs_object){x->rel, x->oid,  x->size,
							  x->src, x->data, x->len};
		}
	}
	if (!n || (r = lfs_endpoint(c, base, &api, err))) {
		r = n ? r : 0;
		goto done;
	}
	if (!api) {
		char *gitdir = local_gitdir(&c->rm);

		r = moo__lfs_store_local(gitdir, v, n, sent, err);
		free(gitdir);
		goto done;
	}
	lfs_credential(&c->rm, api, false, &user, &pass);
	{
		struct moo_error *first = NULL;

		r = moo__lfs_upload(api, ref, user, pass, v, n, sent, &unauthorized, &first);
		if (r && unauthorized) {
			forget(&user, &pass);
			if (lfs_credential(&c->rm, api, true, &user, &pass)) {
				moo_error_free(first);
				first = NULL;
				r = moo__lfs_upload(api, ref, user, pass, v, n, sent, &unauthorized,
						    &first);
				if (!r) {
					char *in = credential_input(api, user, pass);

					run_git_credential("approve", in, NULL);
					explicit_bzero(in, strlen(in));
					free(in);
				}
			}
			if (r && unauthorized) {
				moo__error_hint(first,
						"set up git's credential helper for it ('git "
						"credential approve')");
			}
		}
		moo__error_append(err, first);
	}
done:
	forget(&user, &pass);
	free(v);
	free(api);
	free(ref);
	return r;
}

static bool valid_ref_part(const char *kind, const char *name, struct moo_error **err)
{
	char *full = moo__printf("refs/%s/%s", kind, name);
	int ok = 0;

	git_reference_name_is_valid(&ok, full);
	free(full);
	if (!ok) {
		moo__error_add(err, MOO_EARG, MOO_SEV_ERROR, "invalid %s name '%s'",
			       !strcmp(kind, "tags") ? "tag" : "branch", name);
	}
	return ok;
}

int moo_publish(struct moo_publication *out, struct moo_store *st, const struct moo_job *job,
		const struct moo_publish_opts *o, struct moo_error **err)
{
	struct ctx c;
	struct folder f = {NULL, 0};
	struct refs refs = {0};
	struct moo_publication p;
	struct moo_buf msg = MOO_BUF_INIT;
	json_t *spec = NULL;
	char *name = NULL, *version = NULL, *dir = NULL, *tag = NULL, *branch = NULL;
	git_signature *sig = NULL;
	git_oid tree, commit, ours, theirs, tagged;
	bool nonff = false, moved_alias = false;
	size_t lfs_sent = 0;
	unsigned attempt;
	int r;

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	if (!o) {
		return moo__fail(err, MOO_EARG, "moo_publish: no options");
	}
	if ((r = moo__opts_version(o->version, MOO_PUBLISH_OPTS_VERSION, "moo_publish_opts",
				   err))) {
		return r;
	}
	if ((r = moo__gitlib_load(err))) {
		return r;
	}
	git_libgit2_init();
	if (!o->repo) {
		return moo__fail(err, MOO_EARG, "moo_publish: no repository in its options");
	}
	if (job->status != MOO_JOB_SUCCEEDED || !job->result_path) {
		struct moo_error *e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						     "job %s has no result to publish (%s)",
						     job->id, moo_job_status_name(job->status));

		moo__error_hint(e, "publish a job that succeeded; 'moo ps -a' lists them");
		return MOO_EARG;
	}
	spec = json_loads(job->spec_json ? job->spec_json : "{}", 0, NULL);
	name = model_name(job, spec);
	version = model_version(job, spec);
	dir = o->path ? moo__strdup(o->path) : moo__printf("models/%s/%s", name, version);
	tag = o->tag ? moo__strdup(o->tag) : moo__printf("%s-%s", name, version);
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/') {
		dir[strlen(dir) - 1] = 0;
	}
	if (!moo__path_is_safe_relative(dir)) {
		r = moo__fail(err, MOO_EARG, "invalid model folder '%s'", dir);
		moo__error_hint(*err ? *err : NULL,
				"give --path a relative path inside the repository");
		goto done;
	}
	if (o->message) { /* one line: a second could forge the Moo-Path: trailer */
		const char *q = o->message;

		while (*q && !((unsigned char)*q < 0x20 || *q == 0x7f)) {
			q++;
		}
		if (*q) {
			r = moo__fail(err, MOO_EARG,
				      "the message has a line break or control character (byte %u)",
				      (unsigned)(unsigned char)*q);
			moo__error_hint(*err ? *err : NULL,
					"give -m one line: moo writes the rest of the message");
			goto done;
		}
	}
	if (!valid_ref_part("tags", tag, err) ||
	    (o->branch && !valid_ref_part("heads", o->branch, err)) ||
	    (o->alias && !valid_ref_part("heads", o->alias, err))) {
		r = MOO_EARG;
		goto done;
	}
	{
		/* what moo.lock says ran made the result: one changed since is not published */
		char *hint = moo__printf("the result changed since job %s ended: put it back as "
					 "the job left it, or run it again ('moo reproduce %s') "
					 "and publish that",
					 job->id, job->id);

		r = moo__job_verify_result(job, job->result_path, hint, err);
		free(hint);
		if (r) {
			goto done;
		}
	}
	if ((r = build_folder(&f, job, name, version, err))) {
		goto done;
	}
	if ((r = ctx_open(&c, o->repo, o->accept_new_host_key, err))) {
		goto done;
	}
	if ((r = signature(&sig, c.repo, err))) {
		goto done;
	}
	moo_buf_printf(&msg, "%s\n\nModel %s %s, trained by job %s.\n\nMoo-Job: %s\nMoo-Path: %s\n",
		       o->message ? o->message : "", name, version, job->id, job->id, dir);
	if (!o->message) {
		moo_buf_reset(&msg);
		moo_buf_printf(&msg,
			       "Publish %s %s\n\nModel %s %s, trained by job %s.\n\nMoo-Job: "
			       "%s\nMoo-Path: %s\n",
			       name, version, name, version, job->id, job->id, dir);
	}
	for (attempt = 0;; attempt++) {
		char *specs[3], *bref, *tref;
		size_t ns = 0, i;
		git_reference *ref = NULL;

		free(refs.head_branch);
		refs.head_branch = NULL;
		if ((r = list_refs(c.remote, &c.rm, branch ? branch : o->branch, tag, o->alias,
				   &refs, err))) {
			goto done;
		}
		if (!branch) { /* the remote's default branch, else main: list again for its tip */
			branch = moo__strdup(o->branch          ? o->branch
					     : refs.head_branch ? refs.head_branch
								: "main");
			free(refs.head_branch);
			refs.head_branch = NULL;
			if (!o->branch &&
			    (r = list_refs(c.remote, &c.rm, branch, tag, o->alias, &refs, err))) {
				goto done;
			}
		}
		if (c.nonbare && ((r = refuse_checked_out(&c, branch, err)) ||
				  (o->alias && (r = refuse_checked_out(&c, o->alias, err))))) {
			goto done;
		}
		bref = moo__printf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch);
		tref = moo__printf("+refs/tags/%s:refs/tags/%s", tag, tag);
		if (!git_oid_is_zero(&refs.branch)) {
			specs[ns++] = bref;
		}
		if (!git_oid_is_zero(&refs.tag)) {
			specs[ns++] = tref;
		}
		r = fetch(c.remote, &c.rm, specs, ns, err);
		free(bref);
		free(tref);
		if (r) {
			goto done;
		}
		/* The folder as it would be, and as the branch has it. */
		if ((r = build_tree(c.repo, &refs.branch, dir, &f, o, &tree, &p.n_lfs, err))) {
			goto done;
		}
		{
			git_tree *t = NULL;
			git_tree_entry *e = NULL;

			memset(&ours, 0, sizeof(ours));
			if (!git_tree_lookup(&t, c.repo, &tree) &&
			    !git_tree_entry_bypath(&e, t, dir)) {
				git_oid_cpy(&ours, git_tree_entry_id(e));
			}
			git_tree_entry_free(e);
			git_tree_free(t);
		}
		subtree_at(c.repo, &refs.branch, dir, &theirs);
		if (!git_oid_is_zero(&theirs) && git_oid_cmp(&theirs, &ours)) {
			struct moo_error *e = moo__error_add(
				err, MOO_EEXIST, MOO_SEV_ERROR,
				"'%s' on branch '%s' of '%s' holds other content%s", dir, branch,
				c.rm.shown, attempt ? " (pushed there meanwhile)" : "");

			moo__error_hint(e, "a published model is never overwritten: give this one "
					   "a new model.version, or --path");
			r = MOO_EEXIST;
			goto done;
		}
		/* The tag, when the remote has it, must hold this very folder. */
		memset(&tagged, 0, sizeof(tagged));
		if (!git_oid_is_zero(&refs.tag)) {
			git_object *obj = NULL, *peeled = NULL;
			git_oid at;

			if (git_object_lookup(&obj, c.repo, &refs.tag, GIT_OBJECT_ANY) ||
			    git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT)) {
				git_object_free(obj);
				r = git_fail(err, MOO_EIO, "cannot read the tag '%s'", tag);
				goto done;
			}
			git_oid_cpy(&tagged, git_object_id(peeled));
			git_object_free(peeled);
			git_object_free(obj);
			subtree_at(c.repo, &tagged, dir, &at);
			if (git_oid_cmp(&at, &ours)) {
				char hex[GIT_OID_HEXSZ + 1];
				struct moo_error *e;

				git_oid_tostr(hex, sizeof(hex), &tagged);
				e = moo__error_add(err, MOO_EEXIST, MOO_SEV_ERROR,
						   "tag '%s' exists on another commit (%.12s) with "
						   "other content in '%s'",
						   tag, hex, dir);
				moo__error_hint(e, "tags are never moved: give this model a new "
						   "model.version or --tag");
				r = MOO_EEXIST;
				goto done;
			}
		}
		p.new_commit = git_oid_is_zero(&theirs);
		if (p.new_commit) {
			git_commit *parent = NULL;
			git_tree *t = NULL;
			const git_commit *parents[1];

			if (!git_oid_is_zero(&refs.branch) &&
			    git_commit_lookup(&parent, c.repo, &refs.branch)) {
				r = git_fail(err, MOO_EIO, "cannot read the branch's tip");
				goto done;
			}
			parents[0] = parent;
			if (git_tree_lookup(&t, c.repo, &tree) ||
			    git_commit_create(&commit, c.repo, NULL, sig, sig, NULL, msg.ptr, t,
					      parent ? 1 : 0, parents)) {
				git_commit_free(parent);
				git_tree_free(t);
				r = git_fail(err, MOO_EIO, "cannot commit");
				goto done;
			}
			git_commit_free(parent);
			git_tree_free(t);
		} else if (!git_oid_is_zero(&tagged)) {
			git_oid_cpy(&commit, &tagged); /* published before: the tagged commit */
		} else {
			git_oid_cpy(&commit, &refs.branch);
		}
		p.new_tag = git_oid_is_zero(&refs.tag);
		if (o->dry_run && p.n_lfs) { /* where the LFS objects would go must be known */
			char *api = NULL;

			r = lfs_endpoint(&c, &refs.branch, &api, err);
			free(api);
			if (r) {
				goto done;
			}
		}
		if (o->dry_run) {
			break;
		}
		if (!p.new_commit) {
			break;
		}
		/* The LFS objects before any ref: a pushed pointer always has its object. */
		if (p.n_lfs && (r = lfs_push(&c, &refs.branch, &f, branch, &lfs_sent, err))) {
			goto done;
		}
		/* The branch first: when it is refused nothing remote changed. */
		{
			char *lref = moo__printf("refs/heads/%s", branch);

			if (git_reference_create(&ref, c.repo, lref, &commit, 1, "moo publish")) {
				free(lref);
				r = git_fail(err, MOO_EIO, "cannot make the branch");
				goto done;
			}
			git_reference_free(ref);
			specs[0] = moo__printf("%s:%s", lref, lref);
			c.rm.expect_ref = lref;
			git_oid_cpy(&c.rm.expect, &refs.branch);
		}
		if (c.rm.kind == K_LOCAL) {
			char *lref = (char *)c.rm.expect_ref;

			r = push_local_branch(&c, lref, &commit, &refs.branch, &nonff, err);
			c.rm.expect_ref = lref;
		} else {
			r = push(&c, specs, 1, &nonff, err);
		}
		free((char *)c.rm.expect_ref);
		c.rm.expect_ref = NULL;
		free(specs[0]);
		for (i = 0; i < c.rm.n_rejected && nonff == false; i++) {
			/* a server that refuses a stale update: the branch moved on */
			if (strstr(c.rm.rejected[i], "fetch first") ||
			    strstr(c.rm.rejected[i], "non-fast-forward") ||
			    strstr(c.rm.rejected[i], "failed to update") ||
			    strstr(c.rm.rejected[i], "failed to lock")) {
				nonff = true;
			}
		}
		if (!r) {
			break;
		}
		if (!nonff || attempt + 1 >= PUSH_TRIES) {
			if (nonff) {
				moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
					       "branch '%s' of '%s' kept moving: %u pushes refused",
					       branch, c.rm.shown, attempt + 1);
			} else if (*err == NULL) {
				moo__error_add(err, MOO_ENET, MOO_SEV_ERROR, "push to '%s' failed",
					       c.rm.shown);
			}
			goto done;
		}
		if (err && *err) { /* the refusal that sent us round again is no error */
			moo_error_free(*err);
			*err = NULL;
		}
		p.retries++;
		usleep(50000u * (attempt + 1));
	}
	/* The tag and the alias, on the commit the branch now has. */
	if (!o->dry_run) {
		char *specs[2];
		size_t ns = 0, i;
		git_object *target = NULL;

		if (p.new_tag) {
			git_oid toid;

			if (git_object_lookup(&target, c.repo, &commit, GIT_OBJECT_COMMIT) ||
			    git_tag_create(&toid, c.repo, tag, target, sig, msg.ptr, 1)) {
				git_object_free(target);
				r = git_fail(err, MOO_EIO, "cannot make the tag '%s'", tag);
				goto done;
			}
			git_object_free(target);
			specs[ns++] = moo__printf("refs/tags/%s:refs/tags/%s", tag, tag);
		}
		if (o->alias && git_oid_cmp(&refs.alias, &commit)) {
			git_reference *ref = NULL;
			char *aref = moo__printf("refs/heads/%s", o->alias);

			if (git_reference_create(&ref, c.repo, aref, &commit, 1, "moo publish")) {
				free(aref);
				r = git_fail(err, MOO_EIO, "cannot make the alias");
				goto done;
			}
			git_reference_free(ref);
			moved_alias = true;
			specs[ns++] = moo__printf("+%s:%s", aref, aref);
			free(aref);
		}
		r = ns ? push(&c, specs, ns, &nonff, err) : 0;
		for (i = 0; i < ns; i++) {
			free(specs[i]);
		}
		if (r) {
			if (nonff) {
				moo__error_add(err, MOO_ENET, MOO_SEV_ERROR,
					       "'%s' refused the tag or alias", c.rm.shown);
			}
			goto done;
		}
		if (c.rm.from_helper && c.rm.cred_url) { /* it worked: let the helper keep it */
			char *in = credential_input(c.rm.cred_url, c.rm.user, c.rm.pass);

			run_git_credential("approve", in, NULL);
			explicit_bzero(in, strlen(in));
			free(in);
		}
	}
	{
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), &commit);
		p.commit = moo__strdup(hex);
	}
	p.job_id = moo__strdup(job->id);
	p.repo = moo__strdup(o->repo);
	p.branch = moo__strdup(branch);
	p.path = moo__strdup(dir);
	p.tag = moo__strdup(tag);
	p.alias = o->alias ? moo__strdup(o->alias) : NULL;
	p.published = now_s();
	p.n_files = f.n;
	/* Recorded when something remote changed: publishing again adds no row. */
	if (!o->dry_run && st && (p.new_commit || p.new_tag || moved_alias) &&
	    (r = moo__store_add_publication(st, &p, err))) {
		goto done;
	}
	*out = p;
	memset(&p, 0, sizeof(p));
	r = 0;
done:
	moo_publication_dispose(&p);
	git_signature_free(sig);
	ctx_dispose(&c);
	folder_dispose(&f);
	moo_buf_dispose(&msg);
	json_decref(spec);
	free(refs.head_branch);
	free(name);
	free(version);
	free(dir);
	free(tag);
	free(branch);
	git_libgit2_shutdown();
	return r;
}

/* ---- back: REPO@TAG into a folder ------------------------------------------------------- */

/* A checkout's Git LFS objects: where they come from, found on the first pointer. */
struct lfs_get {
	struct ctx *c;
	git_oid commit;
	bool looked; /* api below is known (NULL: the repository's own lfs/objects) */
	char *api;
	char *user, *pass;
};

/* The object of the pointer at rel (the path in the commit) into dest. */
static int lfs_get(struct lfs_get *lg, const char *rel, const char *oid, uint64_t size,
		   const char *dest, struct moo_error **err)
{
	bool unauthorized = false;
	struct moo_error *first = NULL;
	int r;

	if (!lg->looked) {
		if ((r = lfs_endpoint(lg->c, &lg->commit, &lg->api, err))) {
			return r;
		}
		lg->looked = true;
		if (lg->api) {
			lfs_credential(&lg->c->rm, lg->api, false, &lg->user, &lg->pass);
		}
	}
	if (!lg->api) {
		char *gitdir = local_gitdir(&lg->c->rm), *src = moo__lfs_local_path(gitdir, oid);
		char hex[MOO__SHA256_HEX];
		uint64_t got = 0;

		r = moo__sha256_file(src, hex, &got, NULL) || strcmp(hex, oid) || got != size
			    ? moo__fail(err, MOO_ENOTFOUND,
					"the Git LFS object of '%s' is not in '%s' (or not whole)",
					rel, lg->c->rm.shown)
			    : moo__copy_tree(src, dest, err);
		free(gitdir);
		free(src);
		return r;
	}
	r = moo__lfs_download(lg->api, lg->user, lg->pass, rel, oid, size, dest, &unauthorized,
			      &first);
	if (r && unauthorized) {
		forget(&lg->user, &lg->pass);
		if (lfs_credential(&lg->c->rm, lg->api, true, &lg->user, &lg->pass)) {
			moo_error_free(first);
			first = NULL;
			r = moo__lfs_download(lg->api, lg->user, lg->pass, rel, oid, size, dest,
					      &unauthorized, &first);
		}
	}
	moo__error_append(err, first);
	return r;
}

/*
 * Writes every blob of tree (at rel in the commit) under dest; a Git LFS pointer that
 * .gitattributes routes to LFS is replaced by its object.
 */
static int write_tree(git_repository *repo, git_tree *tree, const char *dest, const char *rel,
		      struct lfs_get *lg, struct moo_error **err)
{
	size_t i, n = git_tree_entrycount(tree);
	int r = moo__mkdir_p(dest, 0755, err);

	for (i = 0; !r && i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *nm = git_tree_entry_name(e);
		char *path, *sub_rel;

		if (!moo__path_is_safe_relative(nm)) {
			return moo__fail(err, MOO_EBUNDLE, "unsafe name '%s' in the tree", nm);
		}
		path = moo__path_join(dest, nm);
		sub_rel = moo__path_join(rel, nm);
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			git_tree *sub = NULL;

			if (git_tree_lookup(&sub, repo, git_tree_entry_id(e))) {
				r = git_fail(err, MOO_EIO, "cannot read '%s'", nm);
			} else {
				r = write_tree(repo, sub, path, sub_rel, lg, err);
			}
			git_tree_free(sub);
		} else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			git_blob *b = NULL;
			char oid[MOO__SHA256_HEX];
			uint64_t size;

			if (git_blob_lookup(&b, repo, git_tree_entry_id(e))) {
				r = git_fail(err, MOO_EIO, "cannot read '%s'", nm);
			} else if (moo__lfs_pointer_parse(git_blob_rawcontent(b),
							  (size_t)git_blob_rawsize(b), oid,
							  &size) &&
				   lfs_path(repo, &lg->commit, sub_rel)) {
				r = lfs_get(lg, sub_rel, oid, size, path, err);
			} else {
				r = moo__write_file_atomic(path, git_blob_rawcontent(b),
							   (size_t)git_blob_rawsize(b), 0644, false,
							   err);
			}
			git_blob_free(b);
		}
		free(path);
		free(sub_rel);
	}
	return r;
}

int moo__publish_checkout(struct moo_buf *lock, const char *ref, const char *dest,
			  bool accept_new_host_key, struct moo_error **err)
{
	const char *at = ref ? strrchr(ref, '@') : NULL;
	char *repo = NULL, *spec = NULL, *path = NULL;
	struct ctx c;
	git_object *obj = NULL, *peeled = NULL;
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *e = NULL;
	const char *message = NULL;
	struct lfs_get lg;
	struct stat sb;
	int r;

	memset(&c, 0, sizeof(c));
	memset(&lg, 0, sizeof(lg));
	if ((r = moo__gitlib_load(err))) { /* before anything the cleanup below frees */
		return r;
	}
	if (!at || at == ref || !at[1]) {
		struct moo_error *me = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
						      "'%s' is not REPO@TAG", ref ? ref : "");

		moo__error_hint(me, "name a published model: the repository, '@', its tag");
		return MOO_EARG;
	}
	if (!lstat(dest, &sb)) {
		return moo__fail(err, MOO_EEXIST, "'%s' exists already", dest);
	}
	git_libgit2_init(); /* balanced at done */
	repo = moo__strndup(ref, (size_t)(at - ref));
	spec = moo__printf("+refs/tags/%s:refs/tags/%s", at + 1, at + 1);
	if ((r = ctx_open(&c, repo, accept_new_host_key, err)) ||
	    (r = fetch(c.remote, &c.rm, &spec, 1, err))) {
		goto done;
	}
	{
		char *full = moo__printf("refs/tags/%s", at + 1);
		int g = git_revparse_single(&obj, c.repo, full);

		free(full);
		if (g) {
			r = moo__fail(err, MOO_ENOTFOUND, "no tag '%s' in '%s'", at + 1, repo);
			goto done;
		}
	}
	if (git_object_type(obj) == GIT_OBJECT_TAG) {
		message = git_tag_message((git_tag *)obj);
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) ||
	    git_commit_tree(&root, (git_commit *)peeled)) {
		r = git_fail(err, MOO_EIO, "cannot read the commit of '%s'", at + 1);
		goto done;
	}
	if (!message) {
		message = git_commit_message((git_commit *)peeled);
	}
	{ /* the trailer "Moo-Path: DIR" */
		const char *p = message ? strstr(message, "\nMoo-Path: ") : NULL;

		if (p) {
			const char *s = p + 11, *nl = strchr(s, '\n');

			path = nl ? moo__strndup(s, (size_t)(nl - s)) : moo__strdup(s);
		}
	}
	if (!path || !moo__path_is_safe_relative(path) || git_tree_entry_bypath(&e, root, path) ||
	    git_tree_lookup(&sub, c.repo, git_tree_entry_id(e))) {
		struct moo_error *me =
			moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
				       "tag '%s' names no model folder moo published", at + 1);

		moo__error_hint(me, "moo finds the folder by the Moo-Path: line of the tag's "
				    "message, which 'moo publish' writes");
		r = MOO_ENOTFOUND;
		goto done;
	}
	lg.c = &c;
	git_oid_cpy(&lg.commit, git_object_id(peeled));
	if ((r = write_tree(c.repo, sub, dest, path, &lg, err))) {
		moo__rm_rf(dest);
		goto done;
	}
	if (lock) {
		char *lp = moo__path_join(dest, "moo.lock");

		r = moo__read_file(lp, 4u << 20, lock, err);
		free(lp);
	}
done:
	forget(&lg.user, &lg.pass);
	free(lg.api);
	git_tree_entry_free(e);
	git_tree_free(sub);
	git_tree_free(root);
	git_object_free(peeled);
	git_object_free(obj);
	ctx_dispose(&c);
	free(repo);
	free(spec);
	free(path);
	git_libgit2_shutdown();
	return r;
}

int moo__publish_read(struct moo_buf *lock, struct moo_buf *params, const char *ref,
		      struct moo_error **err)
{
	char *tmp = moo__tmp_dir("moo-model-", err); /* swept if we are killed */
	char *dest = NULL, *pp = NULL;
	int r;

	if (!tmp) {
		r = MOO_EIO;
		goto done;
	}
	dest = moo__path_join(tmp, "model");
	if ((r = moo__publish_checkout(lock, ref, dest, false, err))) {
		goto done;
	}
	pp = moo__path_join(dest, "params.json");
	if (access(pp, F_OK) == 0) {
		r = moo__read_file(pp, 4u << 20, params, err);
	}
done:
	if (tmp) {
		moo__rm_rf(tmp);
	}
	free(tmp);
	free(dest);
	free(pp);
	return r;
}

int moo_publish_serve_model(struct moo_serve_model **out, const char *ref, bool accept_new_host_key,
			    struct moo_error **err)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_buf lock = MOO_BUF_INIT, zip = MOO_BUF_INIT;
	struct moo_bundle *b = NULL;
	struct moo_plan *plan = NULL;
	struct moo_serve_model *m = NULL;
	struct moo_job job;
	char *tmp = moo__tmp_dir("moo-serve-", err); /* swept if we are killed */
	char *model = NULL, *work = NULL;
	int r;

	memset(&job, 0, sizeof(job));
	if (!tmp) {
		return MOO_EIO;
	}
	model = moo__path_join(tmp, "model");
	work = moo__path_join(tmp, "work");
	if ((r = moo__publish_checkout(&lock, ref, model, accept_new_host_key, err)) ||
	    (r = moo_lock_parse(&plan, lock.ptr ? lock.ptr : "", lock.len, "moo.lock", err))) {
		goto done;
	}
	/* The code: the bundle the lock names, from this machine's store (as moo reproduce). */
	if (!plan->bundle_sha256 || (r = moo__job_root(&zip, err))) {
		r = moo__fail(err, MOO_ENOTFOUND, "the moo.lock of '%s' names no bundle", ref);
		goto done;
	}
	moo_buf_printf(&zip, "/bundles/%s.zip", plan->bundle_sha256);
	if (access(zip.ptr, R_OK)) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENOTFOUND, MOO_SEV_ERROR,
				       "the code of '%s' (bundle %.12s) is not on this machine",
				       ref, plan->bundle_sha256);

		moo__error_hint(e, "serve it where it was trained, or 'moo run' its project here "
				   "once (the same files give the same bundle)");
		r = MOO_ENOTFOUND;
		goto done;
	}
	bo.sha256 = plan->bundle_sha256; /* the bytes the job ran, or nothing */
	if ((r = moo_bundle_open(&b, zip.ptr, &bo, err)) ||
	    (r = moo_bundle_extract(b, work, NULL, err))) {
		goto done;
	}
	/* The published model as a finished job: served as serving the job would. */
	job.id = (char *)ref;
	job.host = (char *)"local";
	job.dir = tmp;
	job.status = MOO_JOB_SUCCEEDED;
	job.result_path = model;
	job.lock = lock.ptr;
	job.command = plan->command;
	if ((r = moo__serve_model_from_job(&m, &job, false, err))) {
		goto done;
	}
	m->tmp_dir = tmp;
	tmp = NULL;
	*out = m;
done:
	if (tmp) {
		moo__rm_rf(tmp);
	}
	free(tmp);
	free(model);
	free(work);
	moo_bundle_free(b);
	moo_plan_free(plan);
	moo_buf_dispose(&lock);
	moo_buf_dispose(&zip);
	return r;
}
