/* moo serve: a job's model (or a model folder or ZIP) behind an HTTP endpoint. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include "cli.h"

static const char *on, *bind_addr, *max_body_s;
static long port = 8080, workers = 1, batch_max = 1, batch_wait_ms = 5, queue_max = -1,
	    timeout_s = 30;
static bool wait_ready, json;

static const struct opt opts[] = {
	{0, "on", "HOST", "run the workers on this SSH host (a job's own host by default)",
	 OPT_STRING, &on},
	{'p', "port", "N", "the port to listen on (default 8080; 0: any free one)", OPT_INT, &port},
	{0, "bind", "ADDR", "the address to listen on (default 127.0.0.1)", OPT_STRING, &bind_addr},
	{'w', "workers", "N", "resident predictor processes (default 1)", OPT_INT, &workers},
	{0, "wait-ready", NULL, "print the URL once load() is done; exit 1 if it fails", OPT_FLAG,
	 &wait_ready},
	{0, "max-body", "SIZE", "largest request body, K/M/G = KiB/MiB/GiB (default 64M)",
	 OPT_STRING, &max_body_s},
	{0, "batch-max", "N", "requests per predict_batch call (default 1: no batching)", OPT_INT,
	 &batch_max},
	{0, "batch-wait-ms", "T", "how long a batch waits to fill (default 5)", OPT_INT,
	 &batch_wait_ms},
	{0, "queue-max", "N", "requests waiting for a worker before 503 (default 64 per worker)",
	 OPT_INT, &queue_max},
	{0, "timeout", "S", "seconds a request may take to arrive before 408 (default 30)", OPT_INT,
	 &timeout_s},
	{0, "json", NULL, "print {url, model, state} as JSON once ready (or failed)", OPT_FLAG,
	 &json},
	OPT_END,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

/* "64M", "2G", "1048576": bytes (K, M, G, T are powers of 1024); 0 when not a size. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;

	if (end == s || *s == '-') {
		return 0;
	}
	switch (*end) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case 0: break;
	default: return 0;
	}
	if (*end && end[1] && strcmp(end + 1, "i") && strcmp(end + 1, "iB") &&
	    strcmp(end + 1, "B")) {
		return 0;
	}
	if (v > (UINT64_MAX >> shift)) {
		return 0;
	}
	return (uint64_t)v << shift;
}

/* REPO@TAG: an '@' whose tag part has no '/' and is no ZIP (a URL's user@host is not). */
static bool published_ref(const char *ref)
{
	const char *at = strrchr(ref, '@');
	size_t n = strlen(ref);

	return at && at != ref && at[1] && !strchr(at, '/') &&
	       !(n > 4 && !strcmp(ref + n - 4, ".zip"));
}

/*
 * The source as a model folder in its environment: a folder or ZIP that exists here, a
 * published model (REPO@TAG), else a job of the store.
 */
static int source_model(const char *ref, struct moo_serve_model **m)
{
	struct moo_store *st = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	struct stat sb;
	int r;

	if (stat(ref, &sb) != 0 && published_ref(ref)) {
		if (on) {
			return usage_error(&cmd_serve, "serve a published model here",
					   "--on HOST takes a job, not REPO@TAG");
		}
		r = moo_publish_serve_model(m, ref, false, &err);
	} else if (stat(ref, &sb) != 0 && !strstr(ref, "://") &&
		   (strchr(ref, '/') || strstr(ref, ".zip"))) {
		print_error_msg("give a model folder, a bundle ZIP, a job ('moo ps -a') or "
				"REPO@TAG",
				"no such file or folder '%s'", ref);
		return EXIT_USAGE;
	} else if (stat(ref, &sb) == 0 || strstr(ref, "://")) {
		r = moo_serve_model_from_dir(m, ref, &err);
		if (r >= 0 && on) {
			r = moo_serve_model_place(*m, on, &err); /* staged on the host */
			if (r < 0) {
				moo_serve_model_free(*m);
				*m = NULL;
			}
		}
	} else {
		if ((r = open_job(ref, on, true, &st, &job)) >= 0) {
			return r;
		}
		r = moo_serve_model_from_job(m, job, &err);
	}
	if (r < 0) {
		r = print_errors(err);
	} else {
		r = -1;
	}
	moo_error_free(err);
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_serve_opts so = MOO_SERVE_OPTS_INIT;
	struct moo_serve_model *m = NULL;
	struct moo_server *srv = NULL;
	struct moo_error *err = NULL;
	enum moo_server_state last = MOO_SERVER_LOADING;
	struct moo_buf hint = MOO_BUF_INIT;
	bool printed = false;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 1, 1);
	if (r >= 0) {
		return r;
	}
	if (port < 0 || port > 65535) {
		return usage_error(self, NULL, "--port %ld is not a port", port);
	}
	if (workers < 1 || workers > 256) {
		return usage_error(self, NULL, "--workers %ld is not between 1 and 256", workers);
	}
	if (batch_max < 1 || batch_max > 4096 || batch_wait_ms < 0 || batch_wait_ms > 60000) {
		return usage_error(self, NULL, "--batch-max 1..4096, --batch-wait-ms 0..60000");
	}
	if (queue_max == 0 || queue_max < -1 || timeout_s < 1) { /* -1: not given */
		return usage_error(self, NULL, "--queue-max and --timeout must be positive");
	}
	so.bind = bind_addr;
	so.port = (unsigned)port;
	so.workers = (unsigned)workers;
	so.batch_max = (unsigned)batch_max;
	so.batch_wait_ms = (unsigned)batch_wait_ms;
	so.queue_max = queue_max > 0 ? (unsigned)queue_max : 0; /* 0: 64 per worker */
	so.timeout_s = (unsigned)timeout_s;
	if (max_body_s) {
		so.max_body = parse_size(max_body_s);
		if (!so.max_body) {
			return usage_error(self, "write it as 64M, 2G or a number of bytes",
					   "--max-body '%s' is not a size", max_body_s);
		}
	}
	r = source_model(argv[0], &m);
	if (r >= 0) {
		return r;
	}
	r = moo_server_start(&srv, m, &so, &err);
	if (r < 0) {
		r = print_errors(err);
		goto done;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (m->no_output) { /* load() got the folder itself: most likely one never trained */
		moo_buf_printf(&hint,
			       "'%s' holds no %s/, so load() was given the folder itself: train "
			       "it first ('moo run %s') and serve the job, or serve the folder "
			       "that holds the model",
			       argv[0], m->no_output, argv[0]);
	} else {
		moo_buf_puts(&hint, "fix load() in the entry point and serve again");
	}
	if (!wait_ready && !json) {
		printf("%s\n", moo_server_url(srv));
		fflush(stdout);
		printed = true;
	}
	fprintf(stderr, "moo: serving '%s' at %s with %ld worker%s; loading…\n", m->name,
		moo_server_url(srv), workers, workers == 1 ? "" : "s");
	while (!stop) {
		char *why = NULL;
		enum moo_server_state s = moo_server_state(&why, srv);
		struct timespec ts = {0, 50 * 1000 * 1000};

		if (s != last) {
			if (s == MOO_SERVER_READY) {
				fprintf(stderr, "moo: '%s' is ready at %s\n", m->name,
					moo_server_url(srv));
			} else if (s == MOO_SERVER_FAILED) {
				print_error_msg(hint.ptr, "load() failed: %s", why ? why : "?");
			}
			if (!printed && s != MOO_SERVER_LOADING) {
				if (json) {
					json_t *o = json_pack(
						"{sssssssb}", "url", moo_server_url(srv), "model",
						m->name, "state",
						s == MOO_SERVER_READY ? "ready" : "failed", "ok",
						s == MOO_SERVER_READY);

					if (why && s == MOO_SERVER_FAILED) {
						json_object_set_new(o, "error", json_string(why));
						json_object_set_new(o, "hint",
								    json_string(hint.ptr));
					}
					print_json(o);
				} else if (s == MOO_SERVER_READY) {
					printf("%s\n", moo_server_url(srv));
				}
				fflush(stdout);
				printed = true;
			}
			if (s == MOO_SERVER_FAILED && (wait_ready || json)) {
				free(why);
				r = EXIT_JOB_FAILED;
				goto done;
			}
			last = s;
		}
		free(why);
		nanosleep(&ts, NULL);
	}
	r = stop == SIGINT ? EXIT_INTERRUPTED : EXIT_OK;
	if (r == EXIT_INTERRUPTED && json && !printed) { /* before its document: say so */
		struct moo_error e = {.code = MOO_EINTR, .severity = MOO_SEV_ERROR};
		char msg[256];

		snprintf(msg, sizeof(msg), "interrupted while '%s' was loading; nothing is served",
			 m->name);
		e.message = msg;
		json_failure_member("url", json_string(moo_server_url(srv)));
		json_failure_member("model", json_string(m->name));
		print_errors(&e);
	}
done:
	moo_server_stop(srv);
	moo_serve_model_free(m);
	moo_error_free(err);
	moo_buf_dispose(&hint);
	return r;
}

const struct cmd cmd_serve = {
	.name = "serve",
	.summary = "serve a trained model over HTTP (OIP v2, SageMaker/MLflow)",
	.args = "JOB|DIR|ZIP|REPO@TAG",
	.run = run,
};
