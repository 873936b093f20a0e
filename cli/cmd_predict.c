/* moo predict: one prediction from a job's model or a moo serve endpoint, for scripts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <jansson.h>
#include "cli.h"

static const char *data, *on;
static bool json;
static long timeout_s = 300;

static const struct opt opts[] = {
	{'d', "data", "JSON", "the request body (application/json)", OPT_STRING, &data},
	OPT_ON(&on),
	{0, "timeout", "S",
	 "seconds a URL's answer may take, connecting included (default 300; connecting: 10)",
	 OPT_INT, &timeout_s},
	{0, "json", NULL, "print {status, answer} (one document for all calls)", OPT_FLAG, &json},
	OPT_END,
};

/* The content type of a file, by its extension. */
static const char *type_of(const char *path)
{
	static const char *const map[][2] = {
		{".json", "application/json"}, {".csv", "text/csv"},    {".png", "image/png"},
		{".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"}, {".txt", "text/plain"},
	};
	size_t n = strlen(path), i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t k = strlen(map[i][0]);

		if (n > k && !strcasecmp(path + n - k, map[i][0])) {
			return map[i][1];
		}
	}
	return "application/octet-stream";
}

/* An answer's bytes as a JSON string: bytes that are not UTF-8 become U+FFFD. */
static json_t *text_json(const struct moo_buf *b)
{
	struct moo_buf t = MOO_BUF_INIT;
	json_t *s = json_stringn(b->ptr ? b->ptr : "", b->len);
	size_t i;

	if (s) {
		return s;
	}
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->ptr[i];

		if (c && c < 0x80) {
			moo_buf_putc(&t, (char)c);
		} else {
			moo_buf_puts(&t, "\xef\xbf\xbd");
		}
	}
	s = json_stringn(t.ptr ? t.ptr : "", t.len);
	moo_buf_dispose(&t);
	return s;
}

static int slurp(FILE *f, const char *name, struct moo_buf *out)
{
	char chunk[65536];
	size_t k;

	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		moo_buf_add(out, chunk, k);
	}
	if (ferror(f)) {
		print_error_msg(NULL, "cannot read '%s': %s", name, strerror(errno));
		return EXIT_LOCAL;
	}
	return -1;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_serve_opts so = MOO_SERVE_OPTS_INIT;
	struct moo_predict_opts po = MOO_PREDICT_OPTS_INIT;
	struct moo_serve_model *m = NULL;
	struct moo_server *srv = NULL;
	struct moo_store *st = NULL;
	struct moo_job *job = NULL;
	struct moo_error *err = NULL;
	json_t *all = json_array();
	const char *target;
	bool is_url;
	int npos, r, i, n_calls, failed = 0;

	r = opt_parse(self, opts, argc, argv, &npos, 1, 1000);
	if (r >= 0) {
		json_decref(all);
		return r;
	}
	if (timeout_s < 1 || timeout_s > 86400 * 7) {
		json_decref(all);
		return usage_error(self, NULL, "--timeout %ld is not between 1 and 604800 seconds",
				   timeout_s);
	}
	po.timeout_s = (unsigned)timeout_s;
	target = argv[0];
	if (data && npos > 1) {
		json_decref(all);
		return usage_error(self, NULL, "give -d JSON or files, not both");
	}
	is_url = !strncmp(target, "http://", 7) || !strncmp(target, "https://", 8);
	{ /* HOST:PORT, as 'moo serve' prints it without its scheme: http:// */
		const char *colon = strrchr(target, ':');
		static char url[512];

		if (!is_url && colon && colon != target && colon[1] &&
		    strspn(colon + 1, "0123456789") == strlen(colon + 1) && !strchr(target, '/') &&
		    strlen(target) < sizeof(url) - 8) {
			snprintf(url, sizeof(url), "http://%s", target);
			target = url;
			is_url = true;
		}
	}
	if (!is_url) {
		if ((r = open_job(target, on, true, &st, &job)) >= 0) {
			goto done;
		}
		if (moo_serve_model_from_job(&m, job, &err) < 0 ||
		    moo_server_start(&srv, m, (so.port = 0, &so), &err) < 0) {
			r = print_errors(err);
			goto done;
		}
		for (;;) {
			char *why = NULL;
			enum moo_server_state s = moo_server_state(&why, srv);
			struct timespec ts = {0, 20 * 1000 * 1000};

			if (s == MOO_SERVER_FAILED) {
				print_error_msg("fix load() in the entry point",
						"load() failed: %s", why ? why : "?");
				free(why);
				r = EXIT_JOB_FAILED;
				goto done;
			}
			free(why);
			if (s == MOO_SERVER_READY) {
				break;
			}
			nanosleep(&ts, NULL);
		}
	}
	n_calls = npos > 1 ? npos - 1 : 1;
	for (i = 0; i < n_calls; i++) {
		struct moo_buf body = MOO_BUF_INIT, ans = MOO_BUF_INIT;
		const char *type = "application/json";
		/* what --json's "input" and an error name: the file, "-d" or "-" (stdin) */
		const char *name = data ? "-d" : npos > 1 ? argv[i + 1] : "-";
		int status = 0;

		if (data) {
			moo_buf_puts(&body, data);
		} else if (npos > 1 && strcmp(argv[i + 1], "-")) {
			FILE *f = fopen(name, "rb");

			if (!f) {
				print_error_msg(NULL, "cannot open '%s': %s", name,
						strerror(errno));
				r = EXIT_LOCAL;
				goto done;
			}
			type = type_of(name);
			r = slurp(f, name, &body);
			fclose(f);
			if (r >= 0) {
				moo_buf_dispose(&body);
				goto done;
			}
		} else {
			r = slurp(stdin, "stdin", &body);
			if (r >= 0) {
				goto done;
			}
		}
		r = is_url ? moo_predict_url_opts(&ans, &status, target, type,
						  body.ptr ? body.ptr : "", body.len, &po, &err)
			   : moo_server_call(&ans, &status, srv, "/invocations", type,
					     body.ptr ? body.ptr : "", body.len, &err);
		moo_buf_dispose(&body);
		if (r < 0) { /* no answer: under --json, {"error": …} as every verb (moo(1)) */
			moo_buf_dispose(&ans);
			r = print_errors(err);
			if (r == EXIT_INVALID || r == EXIT_RESOLVE) {
				r = EXIT_HOST;
			}
			goto done;
		}
		if (status != 200) {
			failed = 1;
		}
		if (json) {
			json_t *a =
				json_loadb(ans.ptr ? ans.ptr : "", ans.len, JSON_DECODE_ANY, NULL);
			json_t *res = json_pack("{sssiso}", "input", name, "status", status,
						"answer", a ? a : json_null());

			if (!a) { /* an answer that is not JSON: its text, never a silent null */
				json_object_set_new(res, "answer_text", text_json(&ans));
			}
			json_array_append_new(all, res);
		} else if (status == 200) {
			printf("%.*s\n", (int)ans.len, ans.ptr ? ans.ptr : "");
		} else {
			json_t *a = json_loadb(ans.ptr ? ans.ptr : "", ans.len, 0, NULL);
			const char *e = a ? json_string_value(json_object_get(a, "error")) : NULL;

			print_error_msg(NULL, "%s: HTTP %d: %.*s", name, status,
					e ? (int)strlen(e) : (int)ans.len,
					e         ? e
					: ans.ptr ? ans.ptr
						  : "");
			json_decref(a);
		}
		moo_buf_dispose(&ans);
	}
	if (json) {
		print_json(json_pack("{sbsO}", "ok", !failed, "results", all));
	}
	r = failed ? EXIT_JOB_FAILED : EXIT_OK;
done:
	json_decref(all);
	moo_server_stop(srv);
	moo_serve_model_free(m);
	moo_error_free(err);
	moo_job_free(job);
	moo_store_close(st);
	return r;
}

const struct cmd cmd_predict = {
	.name = "predict",
	.summary = "one prediction from a job's model or a serving URL",
	.args = "JOB|URL [FILE...]",
	.run = run,
};
