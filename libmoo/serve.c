/*
 * serve: the HTTP endpoint (libmicrohttpd: one epoll thread, suspended connections while
 * a worker answers) and the resident predictor workers (one C thread each, feeding its
 * process frames over a socket). Implements moo/serve.h; moo-serve(1) is the user's view.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <jansson.h>
#include <microhttpd.h>
#include "internal.h"
#include "curl.h"
#include "embedded.h"
#include "runtime.h"
#include "transport.h"
#include "moo/serve.h"

extern char **environ;

#define SPOOL_AT   (1u << 20) /* bodies larger than this go to a file */
#define MAX_FRAME  (256u << 20)
#define RETRY_SECS "1"
#define PIPE_MAX   16 /* requests written to a worker at once (no predict_batch) */

/* ---- where a model comes from ------------------------------------------------------ */

void moo_serve_model_free(struct moo_serve_model *m)
{
	if (!m) {
		return;
	}
	if (m->tmp_dir) {
		char *argv[] = {"rm", "-rf", m->tmp_dir, NULL};
		pid_t pid;

		if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0) {
			waitpid(pid, NULL, 0);
		}
	}
	free(m->name);
	free(m->version);
	free(m->code_dir);
	free(m->entry_point);
	free(m->model_dir);
	free(m->command);
	free(m->host);
	free(m->tmp_dir);
	free(m);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int spec_model(struct moo_serve_model *m, const struct moo_spec *spec,
		      struct moo_error **err)
{
	if (!spec->inference_entry_point) {
		struct moo_error *e =
			moo__error_add(err, MOO_ESPEC, MOO_SEV_ERROR,
				       "'%s' names no inference.entry_point", spec->file);
		if (e) {
			moo__error_hint(e, "add 'inference: {entry_point: predict.py}' defining "
					   "load(model_dir) and predict(model, request)");
		}
		return MOO_ESPEC;
	}
	m->name = moo__strdup(spec->model.name ? spec->model.name : "model");
	m->version = spec->model.version ? moo__strdup(spec->model.version) : NULL;
	m->entry_point = moo__strdup(spec->inference_entry_point);
	return 0;
}

int moo_serve_model_from_dir(struct moo_serve_model **out, const char *source,
			     struct moo_error **err)
{
	struct moo_serve_model *m = moo__calloc(1, sizeof(*m));
	struct moo_spec *spec = NULL;
	struct moo_bundle *b = NULL;
	struct moo__transport *t = NULL;
	struct moo__interp interp = {0};
	struct moo_buf cmd = MOO_BUF_INIT;
	char *path = NULL, *outdir = NULL;
	int r;

	if (!is_dir(source)) {
		/* A ZIP (or URL): checked, then extracted to a folder of our own. */
		const char *tmp = getenv("TMPDIR");

		r = moo_bundle_open(&b, source, NULL, err);
		if (r < 0) {
			goto done;
		}
		m->tmp_dir = moo__printf("%s/moo-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(m->tmp_dir)) {
			free(m->tmp_dir);
			m->tmp_dir = NULL;
			r = moo__fail_errno(err, MOO_EIO, "cannot make a temporary folder");
			goto done;
		}
		m->code_dir = moo__path_join(m->tmp_dir, "model");
		r = moo_bundle_extract(b, m->code_dir, NULL, err);
		if (r < 0) {
			goto done;
		}
	} else {
		m->code_dir = realpath(source, NULL);
		if (!m->code_dir) {
			r = moo__fail_errno(err, MOO_EIO, "cannot resolve '%s'", source);
			goto done;
		}
	}
	path = moo__path_join(m->code_dir, "metadata.yaml");
	r = moo_spec_load(&spec, path, err);
	if (r < 0) {
		goto done;
	}
	r = spec_model(m, spec, err);
	if (r < 0) {
		goto done;
	}
	outdir = moo__path_join(m->code_dir,
				spec->output_folder ? spec->output_folder : "training_result");
	m->model_dir = moo__strdup(is_dir(outdir) ? outdir : m->code_dir);
	/* The interpreter moo run would pick here (host runtime). */
	r = moo__transport_local_open(&t, err);
	if (r < 0) {
		goto done;
	}
	r = moo__runtime_resolve(&interp, t, NULL, spec, err);
	if (r < 0) {
		goto done;
	}
	moo_buf_shquote(&cmd, interp.path);
	m->command = moo_buf_detach(&cmd);
	*out = m;
	m = NULL;
	r = 0;
done:
	moo_serve_model_free(m);
	moo_spec_free(spec);
	moo_bundle_free(b);
	moo__transport_close(t);
	moo__interp_dispose(&interp);
	moo_buf_dispose(&cmd);
	free(path);
	free(outdir);
	return r;
}

/* Splits a sh command line of the kind moo_buf_shquote builds into words. */
static size_t sh_split(const char *s, char ***words)
{
	struct moo_buf w = MOO_BUF_INIT;
	size_t n = 0;
	bool in = false;

	*words = NULL;
	for (;;) {
		char c = *s;

		if (!c || c == ' ' || c == '\t' || c == '\n') {
			if (in) {
				MOO_GROW(*words, n);
				(*words)[n++] = moo_buf_detach(&w);
				in = false;
			}
			if (!c) {
				break;
			}
			s++;
			continue;
		}
		in = true;
		if (c == '\'') {
			const char *e = strchr(s + 1, '\'');

			if (!e) {
				e = s + strlen(s);
			}
			moo_buf_add(&w, s + 1, (size_t)(e - s - 1));
			s = *e ? e + 1 : e;
			if (!w.ptr) {
				moo_buf_puts(&w, "");
			}
		} else if (c == '\\' && s[1]) {
			moo_buf_putc(&w, s[1]);
			s += 2;
		} else {
			moo_buf_putc(&w, c);
			s++;
		}
	}
	moo_buf_dispose(&w);
	return n;
}

/*
 * THE one place a job's environment becomes a worker command: the words of the job's
 * runtime command up to its interpreter (the word before "-u ENTRY_POINT"), with what
 * belongs to the training run only left out (MOO_* variables, a container's --name) and a
 * container's stdin kept open (-i). lock is the job's moo.lock, when it has one: a pinned
 * image digest in it must be what the command runs.
 */
static int job_worker_command(struct moo_serve_model *m, const struct moo_job *job,
			      const struct moo_plan *lock, const struct moo_spec *spec,
			      struct moo_error **err)
{
	const char *line = job->command ? job->command : lock ? lock->command : NULL;
	struct moo_buf cmd = MOO_BUF_INIT;
	char **w = NULL;
	size_t n = line ? sh_split(line, &w) : 0, i, interp = n;
	bool container = n && (strstr(w[0], "docker") || strstr(w[0], "podman"));
	int r = 0;

	for (i = 1; i + 1 < n; i++) {
		if (!strcmp(w[i], "-u") && !strcmp(w[i + 1], spec->entry_point)) {
			interp = i - 1;
			break;
		}
	}
	if (interp >= n) {
		r = moo__fail(err, MOO_EJOB,
			      "cannot tell the interpreter of job '%s' from its command", job->id);
		goto done;
	}
	for (i = 0; i <= interp; i++) {
		if (!strncmp(w[i], "MOO_", 4) && strchr(w[i], '=') && !container) {
			continue;
		}
		if (container && !strcmp(w[i], "--name") && i + 1 < interp) {
			i++;
			continue;
		}
		if (container && (!strncmp(w[i], "MOO_", 4) && strchr(w[i], '=')) && i > 0 &&
		    !strcmp(w[i - 1], "-e") && cmd.len >= 3) {
			cmd.len -= 3; /* the "-e " before it */
			continue;
		}
		if (cmd.len) {
			moo_buf_putc(&cmd, ' ');
		}
		moo_buf_shquote(&cmd, w[i]);
		if (container && !strcmp(w[i], "run")) {
			moo_buf_puts(&cmd, " -i");
		}
	}
	if (lock && lock->digest && container && !strstr(cmd.ptr, lock->digest)) {
		r = moo__fail(err, MOO_ERESOLVE,
			      "job '%s' ran an image other than its lock's digest %s", job->id,
			      lock->digest);
		goto done;
	}
	m->command = moo_buf_detach(&cmd);
done:
	for (i = 0; i < n; i++) {
		free(w[i]);
	}
	free(w);
	moo_buf_dispose(&cmd);
	return r;
}

int moo_serve_model_from_job(struct moo_serve_model **out, const struct moo_job *job,
			     struct moo_error **err)
{
	struct moo_serve_model *m = moo__calloc(1, sizeof(*m));
	struct moo_spec *spec = NULL;
	struct moo_plan *lock = NULL;
	int r;

	if (job->status != MOO_JOB_SUCCEEDED || !job->result_path) {
		r = moo__fail(err, MOO_EJOB, "job '%s' has no result to serve", job->id);
		goto done;
	}
	{
		/* The spec as the job ran it: its work folder's metadata.yaml. */
		char *path = moo__printf("%s/work/metadata.yaml", job->dir);

		r = moo_spec_load(&spec, path, err);
		free(path);
		if (r < 0) {
			goto done;
		}
	}
	r = spec_model(m, spec, err);
	if (r < 0) {
		goto done;
	}
	if (job->lock) {
		r = moo_lock_parse(&lock, job->lock, strlen(job->lock), "moo.lock", err);
		if (r < 0) {
			goto done;
		}
	}
	m->code_dir = moo__printf("%s/work", job->dir);
	m->model_dir = moo__strdup(job->result_path);
	if (job->host && strcmp(job->host, "local")) {
		m->host = moo__strdup(job->host);
	}
	r = job_worker_command(m, job, lock, spec, err);
	if (r < 0) {
		goto done;
	}
	*out = m;
	m = NULL;
done:
	moo_serve_model_free(m);
	moo_spec_free(spec);
	moo_plan_free(lock);
	return r;
}

/* ---- the server ---------------------------------------------------------------------- */

struct req {
	struct moo_server *srv;
	struct MHD_Connection *conn; /* NULL for moo_server_call */
	char *path;
	char *ctype;
	char *id; /* X-Request-Id, given or made */
	struct moo_buf body;
	int spool_fd;
	char *spool_path;
	uint64_t size;
	double started;
	bool replied; /* an answer was queued before the body had all arrived */
	/* the answer */
	bool answered;
	int status;
	char *answer;
	size_t answer_len;
	bool retry;
	struct req *next;
};

struct worker {
	struct moo_server *srv;
	pthread_t thread;
	bool started;
	pid_t pid;
	int fd;
	bool batch;
	bool loaded;
	struct moo_buf in; /* bytes read and not yet used */
	size_t in_pos;
};

struct moo_server {
	struct MHD_Daemon *d;
	char *url;
	char *name, *version, *code_dir, *entry_point, *model_dir, *command;
	const struct moo__embedded *shim, *page, *openapi;
	struct moo_serve_opts o;
	char *spool_dir;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* the queue has a request, or we stop */
	pthread_cond_t done_cv; /* a moo_server_call request was answered */
	struct req *head, *tail;
	unsigned queued;
	unsigned ready, failed;
	char *load_error;
	bool stopping;
	unsigned long next_id;
	unsigned long pid; /* for request ids */
	struct worker *w;
	unsigned n_w;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct moo__embedded *script(const char *name)
{
	const struct moo__embedded *e;

	for (e = moo__embedded_scripts; e->name; e++) {
		if (!strcmp(e->name, name)) {
			return e;
		}
	}
	return NULL;
}

static void req_free(struct req *q)
{
	if (!q) {
		return;
	}
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
	}
	if (q->spool_path) {
		unlink(q->spool_path);
		free(q->spool_path);
	}
	moo_buf_dispose(&q->body);
	free(q->path);
	free(q->ctype);
	free(q->id);
	free(q->answer);
	free(q);
}

static struct req *req_new(struct moo_server *s, const char *path, const char *ctype,
			   const char *id)
{
	struct req *q = moo__calloc(1, sizeof(*q));

	q->srv = s;
	q->path = moo__strdup(path);
	q->ctype = moo__strdup(ctype ? ctype : "");
	q->spool_fd = -1;
	q->started = now();
	if (id && *id && strlen(id) < 200 && !strpbrk(id, "\r\n")) {
		q->id = moo__strdup(id);
	} else {
		pthread_mutex_lock(&s->mu);
		q->id = moo__printf("moo-%lx-%lu", s->pid, ++s->next_id);
		pthread_mutex_unlock(&s->mu);
	}
	return q;
}

/* Sets the answer: a JSON text, or {"error": msg} when json is NULL. */
static void req_answer(struct req *q, int status, const char *json, const char *msg)
{
	free(q->answer);
	if (json) {
		q->answer = moo__strdup(json);
	} else {
		json_t *o = json_pack("{ss}", "error", msg);

		q->answer = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	q->answer_len = strlen(q->answer);
	q->status = status;
	q->answered = true;
}

static int spool_add(struct req *q, const char *data, size_t n)
{
	if (q->spool_fd < 0 && q->body.len + n > SPOOL_AT) {
		q->spool_path = moo__printf("%s/moo-body-XXXXXX", q->srv->spool_dir);
		q->spool_fd = mkstemp(q->spool_path);
		if (q->spool_fd < 0) {
			free(q->spool_path);
			q->spool_path = NULL;
			return -1;
		}
		if (q->body.len &&
		    write(q->spool_fd, q->body.ptr, q->body.len) != (ssize_t)q->body.len) {
			return -1;
		}
		moo_buf_dispose(&q->body);
	}
	if (q->spool_fd >= 0) {
		while (n) {
			ssize_t k = write(q->spool_fd, data, n);

			if (k < 0 && errno == EINTR) {
				continue;
			}
			if (k <= 0) {
				return -1;
			}
			data += k;
			n -= (size_t)k;
		}
	} else {
		moo_buf_add(&q->body, data, n);
	}
	q->size += n;
	return 0;
}

/* ---- workers ------------------------------------------------------------------------- */

static int send_all(int fd, struct iovec *iov, int n)
{
	while (n) {
		struct msghdr mh = {0};
		ssize_t k;

		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		k = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			return -1;
		}
		while (n && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* Reads one frame into *data (pointing into w->in, valid until the next read). */
static int read_frame(struct worker *w, const char **data, size_t *len)
{
	size_t need = 4;
	uint32_t n = 0;

	for (;;) {
		size_t have = w->in.len - w->in_pos;

		if (have >= 4) {
			const unsigned char *p = (const unsigned char *)w->in.ptr + w->in_pos;

			n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
			    p[3];
			if (n > MAX_FRAME) {
				return -1;
			}
			need = 4 + (size_t)n;
			if (have >= need) {
				*data = w->in.ptr + w->in_pos + 4;
				*len = n;
				w->in_pos += need;
				return 0;
			}
		}
		if (w->in_pos && w->in_pos == w->in.len) {
			w->in.len = 0;
			w->in_pos = 0;
		} else if (w->in_pos > (1u << 20)) {
			memmove(w->in.ptr, w->in.ptr + w->in_pos, w->in.len - w->in_pos);
			w->in.len -= w->in_pos;
			w->in_pos = 0;
		}
		{
			char chunk[65536];
			ssize_t k = recv(w->fd, chunk, sizeof(chunk), 0);

			if (k < 0 && errno == EINTR) {
				continue;
			}
			if (k <= 0) {
				return -1;
			}
			moo_buf_add(&w->in, chunk, (size_t)k);
		}
	}
}

static int spawn_worker(struct worker *w)
{
	struct moo_server *s = w->srv;
	struct moo_buf line = MOO_BUF_INIT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *shim = moo__strndup((const char *)s->shim->data, s->shim->size);
	int sv[2];
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(shim);
		return -1;
	}
	moo_buf_puts(&line, "cd ");
	moo_buf_shquote(&line, s->code_dir);
	moo_buf_printf(&line, " && exec %s -u -c ", s->command);
	moo_buf_shquote(&line, shim);
	moo_buf_putc(&line, ' ');
	moo_buf_shquote(&line, s->entry_point);
	moo_buf_putc(&line, ' ');
	moo_buf_shquote(&line, s->model_dir);
	moo_buf_putc(&line, ' ');
	moo_buf_shquote(&line, s->name);
	{
		char *argv[] = {"/bin/sh", "-c", line.ptr, NULL};

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
		posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
		posix_spawnattr_init(&at);
		posix_spawnattr_setpgroup(&at, 0);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
		r = posix_spawn(&w->pid, "/bin/sh", &fa, &at, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
	}
	close(sv[1]);
	free(shim);
	moo_buf_dispose(&line);
	if (r) {
		close(sv[0]);
		w->pid = 0;
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	w->fd = sv[0];
	pthread_mutex_unlock(&s->mu);
	moo_buf_reset(&w->in);
	w->in_pos = 0;
	return 0;
}

/* Ends the worker's process; returns its wait status. */
static int reap_worker(struct worker *w)
{
	int st = 0, i;

	pthread_mutex_lock(&w->srv->mu);
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	pthread_mutex_unlock(&w->srv->mu);
	if (!w->pid) {
		return 0;
	}
	for (i = 0; i < 200; i++) {
		if (waitpid(w->pid, &st, WNOHANG) == w->pid) {
			w->pid = 0;
			return st;
		}
		usleep(10000);
	}
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
	w->pid = 0;
	return st;
}

/* Waits for the shim's first frame: load() done, or its error. */
static int await_load(struct worker *w)
{
	struct moo_server *s = w->srv;
	const char *data;
	size_t len;
	json_t *o = NULL;
	int r = -1;

	if (read_frame(w, &data, &len) == 0) {
		o = json_loadb(data, len, 0, NULL);
	}
	pthread_mutex_lock(&s->mu);
	if (o && json_is_true(json_object_get(o, "ready"))) {
		w->batch = json_is_true(json_object_get(o, "batch"));
		w->loaded = true;
		s->ready++;
		r = 0;
	} else {
		const char *e = o ? json_string_value(json_object_get(o, "error")) : NULL;

		free(s->load_error);
		s->load_error = moo__strdup(e ? e : "the worker exited before load() finished");
		s->failed++;
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(o);
	return r;
}

/* The queue's first request; the caller holds the lock. */
static struct req *pop(struct moo_server *s)
{
	struct req *q = s->head;

	s->head = q->next;
	if (!s->head) {
		s->tail = NULL;
	}
	q->next = NULL;
	s->queued--;
	return q;
}

/* Takes up to batch_max requests off the queue: blocks for the first, waits batch_wait_ms
 * for more. Returns how many; 0 when stopping. */
static size_t take(struct worker *w, struct req **out, size_t max)
{
	struct moo_server *s = w->srv;
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	while (!s->head && !s->stopping) {
		pthread_cond_wait(&s->cv, &s->mu);
	}
	if (w->batch && max > 1 && s->head) {
		struct timespec dl;
		long ns;

		clock_gettime(CLOCK_REALTIME, &dl);
		ns = dl.tv_nsec + (long)s->o.batch_wait_ms * 1000000L;
		dl.tv_sec += ns / 1000000000L;
		dl.tv_nsec = ns % 1000000000L;
		while (n < max && !s->stopping) {
			if (s->head) {
				out[n++] = pop(s);
				continue;
			}
			if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
				break;
			}
		}
	} else if (s->head) {
		/* Pipelined: this worker's share of what waits goes in one write; it answers
		 * them one by one, each delivered as it comes. */
		size_t share = (s->queued + s->n_w - 1) / s->n_w;

		if (share > max) {
			share = max;
		}
		do {
			out[n++] = pop(s);
		} while (s->head && n < share);
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void put_u32(unsigned char *p, size_t n)
{
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
}

static int send_reqs(struct worker *w, struct req **reqs, size_t n)
{
	struct moo_buf heads = MOO_BUF_INIT;
	struct iovec *iov = moo__calloc(4 * n + 4, sizeof(*iov));
	unsigned char(*lens)[4] = moo__calloc(2 * n + 2, 4);
	size_t *off = moo__calloc(n + 1, sizeof(*off)), *hl = moo__calloc(n + 1, sizeof(*hl));
	size_t i, k = 0, li = 0;
	char batch_head[64];
	int r;

	for (i = 0; i < n; i++) {
		json_t *h = json_pack("{ss ss ss}", "path", reqs[i]->path, "content_type",
				      reqs[i]->ctype, "id", reqs[i]->id);
		char *t;

		if (reqs[i]->spool_path) {
			json_object_set_new(h, "body_file", json_string(reqs[i]->spool_path));
		}
		t = json_dumps(h, JSON_COMPACT);
		off[i] = heads.len;
		hl[i] = strlen(t);
		moo_buf_puts(&heads, t);
		free(t);
		json_decref(h);
	}
	if (n > 1) {
		int bl = snprintf(batch_head, sizeof(batch_head), "{\"batch\":%zu}", n);

		put_u32(lens[li], (size_t)bl);
		iov[k++] = (struct iovec){lens[li++], 4};
		iov[k++] = (struct iovec){batch_head, (size_t)bl};
		put_u32(lens[li], 0);
		iov[k++] = (struct iovec){lens[li++], 4};
	}
	for (i = 0; i < n; i++) {
		size_t bl = reqs[i]->spool_path ? 0 : reqs[i]->body.len;

		put_u32(lens[li], hl[i]);
		iov[k++] = (struct iovec){lens[li++], 4};
		iov[k++] = (struct iovec){heads.ptr + off[i], hl[i]};
		put_u32(lens[li], bl);
		iov[k++] = (struct iovec){lens[li++], 4};
		if (bl) {
			iov[k++] = (struct iovec){reqs[i]->body.ptr, bl};
		}
	}
	r = send_all(w->fd, iov, (int)k);
	moo_buf_dispose(&heads);
	free(iov);
	free(lens);
	free(off);
	free(hl);
	return r;
}

/*
 * Hands a request its answer (answer is taken) and wakes whoever waits for it: its
 * connection, or moo_server_call. The request may be freed at once: not touched after.
 */
static void deliver(struct moo_server *s, struct req *q, int status, char *answer, size_t len,
		    bool retry)
{
	pthread_mutex_lock(&s->mu);
	free(q->answer);
	q->answer = answer;
	q->answer_len = len;
	q->status = status;
	q->retry = retry;
	q->answered = true;
	if (q->conn) {
		MHD_resume_connection(q->conn);
	} else {
		pthread_cond_broadcast(&s->done_cv);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Reads and delivers the answers in order; returns how many were delivered. */
static size_t read_answers(struct worker *w, struct req **reqs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *data;
		size_t len;
		json_t *h;
		int status;

		if (read_frame(w, &data, &len) < 0) {
			break;
		}
		h = json_loadb(data, len, 0, NULL);
		status = h ? (int)json_integer_value(json_object_get(h, "status")) : 0;
		json_decref(h);
		if (read_frame(w, &data, &len) < 0) {
			break;
		}
		deliver(w->srv, reqs[i], status >= 200 && status < 600 ? status : 500,
			moo__strndup(data, len), len, false);
	}
	return i;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct moo_server *s = w->srv;
	size_t max = s->o.batch_max > PIPE_MAX ? s->o.batch_max : PIPE_MAX;
	struct req **reqs = moo__calloc(max, sizeof(*reqs));

	for (;;) {
		size_t n, i, done;

		if (w->fd < 0) {
			if (s->stopping || spawn_worker(w) < 0 || await_load(w) < 0) {
				break;
			}
		}
		n = take(w, reqs, !w->batch ? PIPE_MAX : s->o.batch_max > 1 ? s->o.batch_max : 1);
		if (!n) {
			break;
		}
		done = send_reqs(w, reqs, n) < 0 ? 0 : read_answers(w, reqs, n);
		if (done < n) {
			int st = reap_worker(w);
			char why[96];

			if (WIFSIGNALED(st)) {
				snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(st));
			} else {
				snprintf(why, sizeof(why), "exited with status %d",
					 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			}
			pthread_mutex_lock(&s->mu);
			if (w->loaded) {
				s->ready--;
				w->loaded = false;
			}
			pthread_mutex_unlock(&s->mu);
			for (i = done; i < n; i++) {
				json_t *o = json_object();
				char *t;

				json_object_set_new(
					o, "error",
					json_sprintf("the worker answering this request %s; it is "
						     "being restarted",
						     why));
				t = json_dumps(o, JSON_COMPACT);
				json_decref(o);
				deliver(s, reqs[i], 502, t, strlen(t), true);
			}
		}
	}
	free(reqs);
	return NULL;
}

/* ---- HTTP ---------------------------------------------------------------------------- */

static enum MHD_Result send_answer(struct req *q)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	const char *ct = "application/json";

	if (q->status == 200 && !strcmp(q->path, "/")) {
		ct = "text/html; charset=utf-8";
	}
	resp = MHD_create_response_from_buffer(q->answer_len, q->answer, MHD_RESPMEM_MUST_FREE);
	q->answer = NULL;
	if (!resp) {
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ct);
	MHD_add_response_header(resp, "X-Request-Id", q->id);
	if (q->retry || q->status == 503) {
		MHD_add_response_header(resp, "Retry-After", RETRY_SECS);
	}
	r = MHD_queue_response(q->conn, (unsigned)q->status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply(struct req *q, int status, const char *json, const char *msg)
{
	req_answer(q, status, json, msg);
	return send_answer(q);
}

/*
 * An answer while the body is still arriving (408, a chunked body over --max-body):
 * libmicrohttpd queues answers only once the request is complete, so it is written to
 * the socket directly (it is small) and the connection is then closed.
 */
static enum MHD_Result reply_early(struct req *q, int status, const char *reason, const char *msg)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	json_t *o = json_pack("{ss}", "error", msg);
	char *body = json_dumps(o, JSON_COMPACT);
	char *text = moo__printf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
				 "X-Request-Id: %s\r\nConnection: close\r\nContent-Length: %zu"
				 "\r\n\r\n%s",
				 status, reason, q->id, strlen(body), body);

	if (ci) {
		ssize_t k = send(ci->connect_fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);

		(void)k;
	}
	free(text);
	free(body);
	json_decref(o);
	q->replied = true;
	return MHD_NO;
}

static bool model_path(const struct moo_server *s, const char *url, const char **rest)
{
	size_t n = strlen(s->name);

	if (strncmp(url, "/v2/models/", 11) || strncmp(url + 11, s->name, n)) {
		return false;
	}
	*rest = url + 11 + n;
	return **rest == 0 || **rest == '/';
}

static enum MHD_Result ready_answer(struct req *q)
{
	struct moo_server *s = q->srv;
	enum MHD_Result r;
	char *why = NULL;
	enum moo_server_state st = moo_server_state(s, &why);

	if (st == MOO_SERVER_READY) {
		r = reply(q, 200, "{\"ready\":true}", NULL);
	} else {
		json_t *o =
			json_pack("{sbss}", "ready", 0, "error",
				  st == MOO_SERVER_FAILED && why ? why : "the model is loading");
		char *t = json_dumps(o, JSON_COMPACT);

		q->retry = st == MOO_SERVER_LOADING;
		r = reply(q, 503, t, NULL);
		free(t);
		json_decref(o);
	}
	free(why);
	return r;
}

static enum MHD_Result enqueue(struct req *q)
{
	struct moo_server *s = q->srv;
	const char *refuse = NULL;
	int status = 503;

	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		refuse = "the server is stopping";
	} else if (!s->ready && s->failed >= s->n_w) {
		refuse = s->load_error;
	} else if (!s->ready) {
		refuse = "the model is loading";
	} else if (s->queued >= s->o.queue_max) {
		refuse = "too many requests are waiting: try again shortly";
	}
	if (refuse) {
		char *msg = moo__strdup(refuse);

		pthread_mutex_unlock(&s->mu);
		q->retry = true;
		req_answer(q, status, NULL, msg);
		free(msg);
		return send_answer(q);
	}
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
		q->spool_fd = -1;
	}
	MHD_suspend_connection(q->conn);
	q->next = NULL;
	if (s->tail) {
		s->tail->next = q;
	} else {
		s->head = q;
	}
	s->tail = q;
	s->queued++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return MHD_YES;
}

static enum MHD_Result route(struct req *q, const char *method)
{
	struct moo_server *s = q->srv;
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");
	const char *rest = NULL;
	const char *u = q->path;

	if (!strcmp(u, "/v2/health/live")) {
		return get ? reply(q, 200, "{\"live\":true}", NULL)
			   : reply(q, 405, NULL, "use GET");
	}
	if (!strcmp(u, "/v2/health/ready") || !strcmp(u, "/ping")) {
		return get ? ready_answer(q) : reply(q, 405, NULL, "use GET");
	}
	if (!strcmp(u, "/invocations") || !strcmp(u, "/predict")) {
		return post ? enqueue(q) : reply(q, 405, NULL, "use POST");
	}
	if (!strcmp(u, "/") || !strcmp(u, "/openapi.json")) {
		const struct moo__embedded *e = u[1] ? s->openapi : s->page;
		struct moo_buf t = MOO_BUF_INIT;
		enum MHD_Result r;

		moo_buf_add(&t, e->data, e->size);
		if (!get) {
			moo_buf_dispose(&t);
			return reply(q, 405, NULL, "use GET");
		}
		/* The model's name, where the text says {{MODEL}}. */
		{
			struct moo_buf o = MOO_BUF_INIT;
			const char *p = t.ptr, *m;

			while ((m = strstr(p, "{{MODEL}}"))) {
				moo_buf_add(&o, p, (size_t)(m - p));
				moo_buf_puts(&o, s->name);
				p = m + 9;
			}
			moo_buf_puts(&o, p);
			r = reply(q, 200, o.ptr, NULL);
			moo_buf_dispose(&o);
		}
		moo_buf_dispose(&t);
		return r;
	}
	if (!strcmp(u, "/v2") || !strcmp(u, "/v2/")) {
		json_t *o = json_pack("{sssss[]}", "name", "moo", "version", moo_version(),
				      "extensions");
		char *t = json_dumps(o, JSON_COMPACT);
		enum MHD_Result r = get ? reply(q, 200, t, NULL) : reply(q, 405, NULL, "use GET");

		free(t);
		json_decref(o);
		return r;
	}
	if (!strncmp(u, "/v2/models/", 11)) {
		if (!model_path(s, u, &rest)) {
			char *msg = moo__printf("no model '%.*s' here: this server has '%s'",
						(int)strcspn(u + 11, "/"), u + 11, s->name);
			enum MHD_Result r = reply(q, 404, NULL, msg);

			free(msg);
			return r;
		}
		if (!strncmp(rest, "/versions/", 10)) {
			rest += 10 + strcspn(rest + 10, "/");
		}
		if (!*rest) {
			json_t *o =
				json_pack("{sss[]sss[]s[{sssss[i]}]}", "name", s->name, "versions",
					  "platform", "moo-python", "inputs", "outputs", "name",
					  "predictions", "datatype", "FP64", "shape", -1);
			char *t;
			enum MHD_Result r;

			if (s->version) {
				json_array_append_new(json_object_get(o, "versions"),
						      json_string(s->version));
			}
			t = json_dumps(o, JSON_COMPACT);
			r = get ? reply(q, 200, t, NULL) : reply(q, 405, NULL, "use GET");
			free(t);
			json_decref(o);
			return r;
		}
		if (!strcmp(rest, "/ready")) {
			return get ? ready_answer(q) : reply(q, 405, NULL, "use GET");
		}
		if (!strcmp(rest, "/infer")) {
			return post ? enqueue(q) : reply(q, 405, NULL, "use POST");
		}
	}
	{
		char *msg = moo__printf("no such path '%s'", u);
		enum MHD_Result r = reply(q, 404, NULL, msg);

		free(msg);
		return r;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **cc)
{
	struct moo_server *s = cls;
	struct req *q = *cc;

	if (!q) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");

		q = req_new(s, url, ct, id);
		q->conn = c;
		*cc = q;
		if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
			char *msg = moo__printf("the body of %s bytes is over the limit of %llu "
						"(moo serve --max-body)",
						cl, (unsigned long long)s->o.max_body);
			enum MHD_Result r = reply(q, 413, NULL, msg);

			free(msg);
			q->replied = true;
			return r;
		}
		return MHD_YES;
	}
	if (q->replied) {
		*size = 0;
		return MHD_YES;
	}
	if (*size) {
		enum MHD_Result r = MHD_YES;

		if (now() - q->started > s->o.timeout_s) {
			char *msg = moo__printf("the request took over %u s to arrive (moo serve "
						"--timeout)",
						s->o.timeout_s);

			r = reply_early(q, 408, "Request Timeout", msg);
			free(msg);
		} else if (q->size + *size > s->o.max_body) {
			char *msg = moo__printf("the body is over the limit of %llu bytes (moo "
						"serve --max-body)",
						(unsigned long long)s->o.max_body);

			r = reply_early(q, 413, "Content Too Large", msg);
			free(msg);
		} else if (spool_add(q, data, *size) < 0) {
			r = reply_early(q, 500, "Internal Server Error",
					"cannot spool the request body to a file");
		}
		*size = 0;
		return r;
	}
	if (q->answered) {
		return send_answer(q);
	}
	return route(q, method);
}

static void on_done(void *cls, struct MHD_Connection *c, void **cc,
		    enum MHD_RequestTerminationCode toe)
{
	req_free(*cc);
	*cc = NULL;
}

/* ---- the server's life ------------------------------------------------------------- */

static void server_free(struct moo_server *s)
{
	free(s->url);
	free(s->name);
	free(s->version);
	free(s->code_dir);
	free(s->entry_point);
	free(s->model_dir);
	free(s->command);
	free(s->spool_dir);
	free(s->load_error);
	free(s->w);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->done_cv);
	free(s);
}

int moo_server_start(struct moo_server **out, const struct moo_serve_model *m,
		     const struct moo_serve_opts *opts, struct moo_error **err)
{
	struct moo_server *s;
	struct sockaddr_storage ss;
	const char *bind_addr;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
	const char *tmp = getenv("TMPDIR");
	unsigned i, port;

	if (!opts || opts->version != MOO_SERVE_OPTS_VERSION) {
		return moo__fail(err, MOO_EARG, "moo_serve_opts of an unknown version");
	}
	if (m->host) {
		return moo__fail(err, MOO_EARG,
				 "serving with workers on host '%s' is not built yet: fetch the "
				 "job (moo fetch) and serve the folder here",
				 m->host);
	}
	s = moo__calloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	s->o = *opts;
	s->o.bind = NULL;
	s->o.spool_dir = NULL;
	if (!s->o.workers) {
		s->o.workers = 1;
	}
	if (!s->o.max_body) {
		s->o.max_body = 64ull << 20;
	}
	if (!s->o.queue_max) {
		s->o.queue_max = 64 * s->o.workers;
	}
	if (!s->o.timeout_s) {
		s->o.timeout_s = 30;
	}
	s->spool_dir = moo__strdup(opts->spool_dir ? opts->spool_dir : tmp && *tmp ? tmp : "/tmp");
	s->name = moo__strdup(m->name);
	s->version = m->version ? moo__strdup(m->version) : NULL;
	s->code_dir = moo__strdup(m->code_dir);
	s->entry_point = moo__strdup(m->entry_point);
	s->model_dir = moo__strdup(m->model_dir);
	s->command = moo__strdup(m->command);
	s->shim = script("worker.py");
	s->page = script("serve.html");
	s->openapi = script("openapi.json");
	if (!s->shim || !s->page || !s->openapi) {
		server_free(s);
		return moo__fail(err, MOO_EIO, "libmoo was built without its worker shim");
	}

	bind_addr = opts->bind ? opts->bind : "127.0.0.1";
	memset(&ss, 0, sizeof(ss));
	if (strchr(bind_addr, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)opts->port);
		if (inet_pton(AF_INET6, bind_addr, &a->sin6_addr) != 1) {
			server_free(s);
			return moo__fail(err, MOO_EARG, "'%s' is not an IP address", bind_addr);
		}
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)opts->port);
		if (inet_pton(AF_INET, bind_addr, &a->sin_addr) != 1) {
			server_free(s);
			return moo__fail(err, MOO_EARG, "'%s' is not an IP address", bind_addr);
		}
	}
	s->d = MHD_start_daemon(flags, (uint16_t)opts->port, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_END);
	if (!s->d) {
		int e = errno;

		server_free(s);
		errno = e;
		return moo__fail_errno(err, MOO_EIO, "cannot listen on %s port %u", bind_addr,
				       opts->port);
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : opts->port;
	s->url = strchr(bind_addr, ':') ? moo__printf("http://[%s]:%u", bind_addr, port)
					: moo__printf("http://%s:%u", bind_addr, port);

	s->pid = (unsigned long)getpid();
	s->n_w = s->o.workers;
	s->w = moo__calloc(s->n_w, sizeof(*s->w));
	for (i = 0; i < s->n_w; i++) {
		s->w[i].srv = s;
		s->w[i].fd = -1;
		s->w[i].started = pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]) == 0;
	}
	*out = s;
	return 0;
}

const char *moo_server_url(const struct moo_server *s)
{
	return s->url;
}

enum moo_server_state moo_server_state(struct moo_server *s, char **why)
{
	enum moo_server_state st;

	pthread_mutex_lock(&s->mu);
	st = s->ready              ? MOO_SERVER_READY
	     : s->failed >= s->n_w ? MOO_SERVER_FAILED
				   : MOO_SERVER_LOADING;
	if (why) {
		*why = s->load_error ? moo__strdup(s->load_error) : NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return st;
}

int moo_server_call(struct moo_server *s, const char *path, const char *content_type,
		    const void *body, size_t len, int *status, struct moo_buf *out,
		    struct moo_error **err)
{
	struct req *q = req_new(s, path, content_type, NULL);
	int r = 0;

	if (spool_add(q, body, len) < 0) {
		req_free(q);
		return moo__fail_errno(err, MOO_EIO, "cannot spool the request body");
	}
	if (q->spool_fd >= 0) {
		close(q->spool_fd);
		q->spool_fd = -1;
	}
	pthread_mutex_lock(&s->mu);
	if (!s->ready) {
		pthread_mutex_unlock(&s->mu);
		req_free(q);
		return moo__fail(err, MOO_EJOB, "the model is not ready: %s",
				 s->load_error ? s->load_error : "still loading");
	}
	if (s->tail) {
		s->tail->next = q;
	} else {
		s->head = q;
	}
	s->tail = q;
	s->queued++;
	pthread_cond_signal(&s->cv);
	while (!q->answered) {
		pthread_cond_wait(&s->done_cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	*status = q->status;
	moo_buf_add(out, q->answer, q->answer_len);
	req_free(q);
	return r;
}

void moo_server_stop(struct moo_server *s)
{
	unsigned i;

	if (!s) {
		return;
	}
	if (s->d) {
		MHD_quiesce_daemon(s->d);
	}
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	for (i = 0; i < s->n_w; i++) {
		if (s->w[i].fd >= 0) {
			shutdown(s->w[i].fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < s->n_w; i++) {
		if (s->w[i].started) {
			pthread_join(s->w[i].thread, NULL);
		}
		reap_worker(&s->w[i]);
		moo_buf_dispose(&s->w[i].in);
	}
	/* Requests still waiting: answered, so their connections can end. */
	pthread_mutex_lock(&s->mu);
	while (s->head) {
		struct req *q = s->head;

		s->head = q->next;
		req_answer(q, 503, NULL, "the server is stopping");
		if (q->conn) {
			MHD_resume_connection(q->conn);
		}
	}
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->d) {
		MHD_stop_daemon(s->d);
	}
	server_free(s);
}

/* ---- moo predict URL ----------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *out)
{
	moo_buf_add(out, data, size * n);
	return size * n;
}

int moo_predict_url(const char *url, const char *content_type, const void *body, size_t len,
		    int *status, struct moo_buf *out, struct moo_error **err)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	const char *p = strstr(url, "://");
	char *full, *ct;
	CURL *h;
	CURLcode c;
	long code = 0;
	int r;

	r = moo__curl_load(err);
	if (r < 0) {
		return r;
	}
	p = p ? strchr(p + 3, '/') : NULL;
	full = !p || !strcmp(p, "/") ? moo__printf("%.*s/invocations",
						   (int)(p ? p - url : (long)strlen(url)), url)
				     : moo__strdup(url);
	ct = moo__printf("Content-Type: %s", content_type);
	h = curl_easy_init();
	if (!h) {
		free(full);
		free(ct);
		return moo__fail(err, MOO_EIO, "cannot start libcurl");
	}
	hdr = curl_slist_append(hdr, ct);
	hdr = curl_slist_append(hdr, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c = curl_easy_perform(h);
	if (c != CURLE_OK) {
		struct moo_error *e =
			moo__error_add(err, MOO_ENET, MOO_SEV_ERROR, "no answer from '%s'", full);

		if (e) {
			moo__error_cause(e, ebuf[0] ? ebuf : curl_easy_strerror(c));
			moo__error_hint(e, "is 'moo serve' running there?");
		}
		r = MOO_ENET;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		*status = (int)code;
		r = 0;
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	free(full);
	free(ct);
	return r;
}
