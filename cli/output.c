/* The only code that renders errors, tables, progress and JSON. */
#define _XOPEN_SOURCE 700 /* wcwidth */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <jansson.h>
#include "cli.h"

bool color_on(FILE *f)
{
	const char *term = getenv("TERM");
	const char *no = getenv("NO_COLOR");

	return isatty(fileno(f)) && !(no && *no) && !(term && !strcmp(term, "dumb"));
}

int exit_code_for(int code)
{
	switch (code) {
	case MOO_OK: return EXIT_OK;
	case MOO_EJOB: return EXIT_JOB_FAILED;
	case MOO_EARG:
	case MOO_ENOTFOUND: return EXIT_USAGE;
	case MOO_ESPEC:
	case MOO_EBUNDLE: return EXIT_INVALID;
	case MOO_EHOST:
	case MOO_ENET: return EXIT_HOST;
	case MOO_ERESOLVE: return EXIT_RESOLVE;
	case MOO_EINTR: return EXIT_INTERRUPTED;
	default: return EXIT_LOCAL;
	}
}

bool json_mode;
static bool json_printed;
static json_t *json_error;   /* the first error rendered under --json */
static json_t *json_errors;  /* and all of them, in order (a refusal may list several) */
static json_t *json_members; /* what else the failure document holds (json_failure_member) */

void json_failure_member(const char *key, void *value)
{
	if (!json_members) {
		json_members = json_object();
	}
	json_object_set_new(json_members, key, value);
}

/* One diagnostic as validate --json gives it; a place that is not known is null. */
static json_t *diag_json(const struct moo_error *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "severity",
			    json_string(e->severity == MOO_SEV_WARNING ? "warning" : "error"));
	json_object_set_new(o, "code", json_string(moo_code_name(e->code)));
	json_object_set_new(o, "file", e->file ? json_string(e->file) : json_null());
	json_object_set_new(o, "line", e->line > 0 ? json_integer(e->line) : json_null());
	json_object_set_new(o, "column", e->column > 0 ? json_integer(e->column) : json_null());
	json_object_set_new(o, "message", json_string(e->message ? e->message : ""));
	json_object_set_new(o, "hint", e->hint ? json_string(e->hint) : json_null());
	json_object_set_new(o, "cause", e->cause ? json_string(e->cause) : json_null());
	return o;
}

/* The diagnostic code that goes with an exit code (moo(1), EXIT STATUS). */
static const char *exit_code_name(int code)
{
	switch (code) {
	case EXIT_JOB_FAILED: return "job";
	case EXIT_USAGE: return "usage";
	case EXIT_INVALID: return "spec";
	case EXIT_HOST: return "host";
	case EXIT_RESOLVE: return "resolve";
	case EXIT_INTERRUPTED: return "interrupted";
	}
	return "io";
}

int json_finish(int code)
{
	if (json_mode && !json_printed) {
		json_t *o = json_members ? json_members : json_object();

		if (!json_error) {
			struct moo_error e = {.severity = MOO_SEV_ERROR, .code = MOO_EIO};
			char msg[64];

			snprintf(msg, sizeof(msg), "failed with exit status %d", code);
			e.message = msg;
			json_error = diag_json(&e);
		}
		if (!strcmp(json_string_value(json_object_get(json_error, "code")), "ok")) {
			/* a message of the CLI's own has no library code: name it by the exit */
			json_object_set_new(json_error, "code", json_string(exit_code_name(code)));
		}
		json_object_set(o, "error", json_error);
		if (!json_errors) {
			json_errors = json_array();
			json_array_append(json_errors, json_error);
		}
		json_object_set_new(o, "errors", json_errors);
		json_errors = NULL;
		json_members = NULL;
		print_json(o);
	}
	json_decref(json_members);
	json_members = NULL;
	json_decref(json_error);
	json_decref(json_errors);
	json_error = NULL;
	json_errors = NULL;
	return code;
}

/*
 * Text from elsewhere (a bundle, a job, a remote host) as it may be shown: control
 * characters (C0, DEL, C1) and bytes that are not UTF-8 become \e, \n, \xNN…, so no
 * such text can move the cursor, retitle or clear the user's terminal. s itself when it
 * is clean, else a copy that lives until the 8th call after; NULL stays NULL.
 */
const char *esc(const char *s)
{
	static struct moo_buf ring[8];
	static unsigned next;
	const unsigned char *p;
	struct moo_buf *b;

	if (!s) {
		return NULL;
	}
	for (p = (const unsigned char *)s; *p >= 0x20 && *p < 0x7f; p++) {
	}
	if (!*p) {
		return s;
	}
	b = &ring[next++ % 8];
	moo_buf_reset(b);
	for (p = (const unsigned char *)s; *p;) {
		unsigned c = *p, n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;
		unsigned k;

		if (c >= 0x20 && c < 0x7f) {
			moo_buf_putc(b, (char)c);
			p++;
			continue;
		}
		for (k = 1; c >= 0x80 && n > 1 && k < n && (p[k] & 0xc0) == 0x80; k++) {
		}
		if (c >= 0xc2 && c < 0xf5 && k == n && !(c == 0xc2 && p[1] < 0xa0)) {
			moo_buf_add(b, (const char *)p, n); /* UTF-8, not a C1 control */
			p += n;
			continue;
		}
		switch (c) {
		case 0x1b: moo_buf_puts(b, "\\e"); break;
		case '\a': moo_buf_puts(b, "\\a"); break;
		case '\b': moo_buf_puts(b, "\\b"); break;
		case '\t': moo_buf_puts(b, "\\t"); break;
		case '\n': moo_buf_puts(b, "\\n"); break;
		case '\r': moo_buf_puts(b, "\\r"); break;
		default: moo_buf_printf(b, "\\x%02x", c); break;
		}
		p++;
	}
	return b->ptr;
}

static void print_one(const struct moo_error *e, bool color)
{
	const char *red = color ? "\033[1;31m" : "", *yellow = color ? "\033[1;33m" : "";
	const char *bold = color ? "\033[1m" : "", *cyan = color ? "\033[36m" : "";
	const char *off = color ? "\033[0m" : "";
	bool warn = e->severity == MOO_SEV_WARNING;

	if (json_mode && !warn) {
		json_t *d = diag_json(e);

		if (!json_error) {
			json_error = json_incref(d);
		}
		if (!json_errors) {
			json_errors = json_array();
		}
		json_array_append_new(json_errors, d);
	}

	/* With a place in a file: "file:line:col: error: …", the form editors and compilers
	 * use. Without one: "moo: error: …". */
	if (e->file) {
		fprintf(stderr, "%s%s", bold, esc(e->file));
		if (e->line > 0) {
			fprintf(stderr, ":%d", e->line);
			if (e->column > 0) {
				fprintf(stderr, ":%d", e->column);
			}
		}
		fprintf(stderr, ":%s ", off);
	} else {
		fputs("moo: ", stderr);
	}
	fprintf(stderr, "%s%s%s: ", warn ? yellow : red, warn ? "warning" : "error", off);
	fputs(esc(e->message), stderr);
	if (e->cause) {
		fprintf(stderr, ": %s", esc(e->cause));
	}
	fputc('\n', stderr);
	if (e->hint) {
		fprintf(stderr, "%shint:%s %s\n", cyan, off, esc(e->hint));
	}
}

int print_errors(const struct moo_error *err)
{
	bool color = color_on(stderr);
	int code = 0;

	progress_end();
	for (; err; err = err->next) {
		print_one(err, color);
		if (!code && err->severity == MOO_SEV_ERROR) {
			code = err->code;
		}
	}
	return exit_code_for(code);
}

void print_warning_cb(const struct moo_error *w, void *data)
{
	(void)data;
	progress_end();
	print_one(w, color_on(stderr));
}

void print_error_msg(const char *hint, const char *fmt, ...)
{
	struct moo_error e = {.severity = MOO_SEV_ERROR};
	struct moo_buf b = MOO_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	e.message = b.ptr;
	e.hint = (char *)hint;
	print_one(&e, color_on(stderr));
	moo_buf_dispose(&b);
}

void *errors_to_json(const struct moo_error *err)
{
	json_t *a = json_array();

	for (; err; err = err->next) {
		json_array_append_new(a, diag_json(err));
	}
	return a;
}

void format_number(char *out, size_t len, double v)
{
	int p, e;

	if (!isfinite(v)) {
		snprintf(out, len, "null");
		return;
	}
	for (p = 1; p < 17; p++) { /* the fewest digits that read back the same */
		snprintf(out, len, "%.*e", p - 1, v);
		if (strtod(out, NULL) == v) {
			break;
		}
	}
	e = (int)strtol(strchr(out, 'e') + 1, NULL, 10);
	if (e >= -4 && e < 16) { /* as Python's repr: 1000.0, 0.0001, 45.4951 */
		snprintf(out, len, "%.*f", p - 1 - e > 0 ? p - 1 - e : 0, v);
	}
}

/*
 * Numbers written as they were given (a parameter's 1.10, 1.00, 1e3): jansson has no such
 * value, so each is a string holding the number's text, registered here, that dump_json
 * writes bare. The registry holds a reference, so no other string can take its address
 * while it is registered; print_json empties it (a number printed later is a string).
 */
static struct {
	json_t **v;
	size_t n, cap;
} number_texts;

static bool is_number_text(const json_t *j)
{
	size_t i;

	for (i = 0; i < number_texts.n; i++) {
		if (number_texts.v[i] == j) {
			return true;
		}
	}
	return false;
}

/* text is a JSON number (moo_param_typed and not a boolean). */
static json_t *number_text(const char *text)
{
	json_t *j = json_string(text);

	if (!j) {
		return NULL;
	}
	if (number_texts.n == number_texts.cap) {
		size_t cap = number_texts.cap ? 2 * number_texts.cap : 16;
		json_t **v = realloc(number_texts.v, cap * sizeof(*v));

		if (!v) {
			abort();
		}
		number_texts.v = v;
		number_texts.cap = cap;
	}
	number_texts.v[number_texts.n++] = json_incref(j);
	return j;
}

void *param_to_json(const struct moo_kv *kv)
{
	json_t *v;

	if (kv->quoted) {
		v = json_string(kv->value);
	} else if (!strcmp(kv->value, "true") || !strcmp(kv->value, "false")) {
		v = json_boolean(kv->value[0] == 't');
	} else if (moo_param_typed(kv->value)) {
		v = number_text(kv->value);
	} else { /* an old record's null or nested value, as JSON */
		v = json_loads(kv->value, JSON_DECODE_ANY, NULL);
	}
	if (!v) {
		v = json_string(kv->value);
	}
	return v ? v : json_null();
}

void *params_to_json(const struct moo_job *j)
{
	json_t *o = json_object();
	struct moo_kv *kvs = NULL;
	size_t i, n = 0;

	if (!moo_job_params(&kvs, &n, j, NULL)) {
		for (i = 0; i < n; i++) {
			json_object_set_new(o, kvs[i].key, param_to_json(&kvs[i]));
		}
	}
	moo_job_params_free(kvs, n);
	return o;
}

/*
 * As jansson's JSON_INDENT(2) writes it, but reals in the shortest form that reads back
 * and a number_text as its text.
 */
static void dump_json(const json_t *j, int depth, FILE *f)
{
	const char *k;
	json_t *v;
	size_t i, n = 0;
	char num[32];

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (!json_object_size(j)) {
			fputs("{}", f);
			break;
		}
		fputc('{', f);
		json_object_foreach((json_t *)j, k, v)
		{
			json_t *key = json_string(k);

			fprintf(f, "%s\n%*s", n++ ? "," : "", 2 * (depth + 1), "");
			json_dumpf(key, f, JSON_ENCODE_ANY);
			json_decref(key);
			fputs(": ", f);
			dump_json(v, depth + 1, f);
		}
		fprintf(f, "\n%*s}", 2 * depth, "");
		break;
	case JSON_ARRAY:
		if (!json_array_size(j)) {
			fputs("[]", f);
			break;
		}
		fputc('[', f);
		json_array_foreach(j, i, v)
		{
			fprintf(f, "%s\n%*s", i ? "," : "", 2 * (depth + 1), "");
			dump_json(v, depth + 1, f);
		}
		fprintf(f, "\n%*s]", 2 * depth, "");
		break;
	case JSON_REAL:
		format_number(num, sizeof(num), json_real_value(j));
		/* still a real to a reader: 3 becomes 3.0 */
		fprintf(f, "%s%s", num, strpbrk(num, ".eu") ? "" : ".0");
		break;
	case JSON_STRING:
		if (is_number_text(j)) {
			fputs(json_string_value(j), f);
			break;
		}
		json_dumpf(j, f, JSON_ENCODE_ANY);
		break;
	default: json_dumpf(j, f, JSON_ENCODE_ANY); break;
	}
}

void print_json(void *json)
{
	json_printed = true;
	dump_json(json, 0, stdout);
	fputc('\n', stdout);
	json_decref(json);
	while (number_texts.n) {
		json_decref(number_texts.v[--number_texts.n]);
	}
}

/* Progress bars: drawn on stderr, only when it is a terminal, at most ~10 times a second. */
static struct {
	bool drawn;
	struct timespec last;
} bar;

void progress_cb(uint64_t done, uint64_t total, void *data)
{
	const char *label = data ? data : "";
	struct timespec now;
	char line[128];
	int width = 30, fill;

	if (!isatty(STDERR_FILENO)) {
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (bar.drawn && done != total &&
	    (now.tv_sec - bar.last.tv_sec) * 1000000000L + (now.tv_nsec - bar.last.tv_nsec) <
		    100000000L) {
		return;
	}
	bar.last = now;
	bar.drawn = true;
	if (total) {
		char d[32], t[32];

		fill = (int)((done > total ? total : done) * (uint64_t)width / total);
		format_size(d, sizeof(d), done);
		format_size(t, sizeof(t), total);
		snprintf(line, sizeof(line), "%-10.10s [%.*s%*s] %3d%% %s / %s", label, fill,
			 "##############################", width - fill, "",
			 (int)((done > total ? total : done) * 100 / total), d, t);
	} else {
		snprintf(line, sizeof(line), "%-10.10s %8.1f MiB", label, (double)done / 1048576.0);
	}
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
}

void progress_end(void)
{
	if (bar.drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		bar.drawn = false;
	}
}

void format_size(char *out, size_t len, uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0) {
		snprintf(out, len, "%llu B", (unsigned long long)bytes);
	} else {
		snprintf(out, len, "%.1f %s", v, units[u]);
	}
}

/* ---- jobs --------------------------------------------------------------------------- */

int open_store(struct moo_store **st)
{
	struct moo_error *err = NULL;
	int r = moo_store_open(st, NULL, &err);

	if (r) {
		r = print_errors(err);
		moo_error_free(err);
		return r;
	}
	return -1;
}

int find_job(struct moo_store *st, const char *ref, const char *host, bool refresh,
	     struct moo_job **job)
{
	struct moo_error *err = NULL;
	int r = moo_job_find(job, st, ref, host, refresh, &err);

	if (r) {
		r = print_errors(err);
		moo_error_free(err);
		return r;
	}
	return -1;
}

int open_job(const char *ref, const char *host, bool refresh, struct moo_store **st,
	     struct moo_job **job)
{
	int r = open_store(st);

	if (r < 0 && (r = find_job(*st, ref, host, refresh, job)) >= 0) {
		moo_store_close(*st);
		*st = NULL;
	}
	return r;
}

void format_duration(char *out, size_t len, double seconds)
{
	if (!(seconds >= 0)) {
		seconds = 0;
	} else if (seconds > 1e9) {
		seconds = 1e9; /* (int) below; no job runs 31 years */
	}
	if (seconds < 60) {
		snprintf(out, len, "%.1f s", seconds);
	} else if (seconds < 3600) {
		snprintf(out, len, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
	} else {
		snprintf(out, len, "%dh%02dm", (int)seconds / 3600, (int)seconds / 60 % 60);
	}
}

static void format_time(char *out, size_t len, double t)
{
	time_t s;
	struct tm tm;

	if (!(t > 0 && t < 1e11)) { /* none, or no time a job could have (NaN, 1e400) */
		snprintf(out, len, "-");
		return;
	}
	s = (time_t)t;
	localtime_r(&s, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How it ended, in words: "exit 0", "signal 9 (KILL)", "-". */
void job_outcome(const struct moo_job *j, char *out, size_t len)
{
	if (j->signal) {
		static const char *const names[] = {
			NULL,     "HUP",  "INT",    "QUIT", "ILL",   "TRAP", "ABRT", "BUS",
			"FPE",    "KILL", "USR1",   "SEGV", "USR2",  "PIPE", "ALRM", "TERM",
			"STKFLT", "CHLD", "CONT",   "STOP", "TSTP",  "TTIN", "TTOU", "URG",
			"XCPU",   "XFSZ", "VTALRM", "PROF", "WINCH", "IO",   "PWR",  "SYS",
		};
		const char *name = j->signal > 0 && j->signal < 32 ? names[j->signal] : NULL;

		snprintf(out, len, "signal %d%s%s%s", j->signal, name ? " (" : "", name ? name : "",
			 name ? ")" : "");
	} else if (j->exit_code >= 0) {
		snprintf(out, len, "exit %d", j->exit_code);
	} else if (j->status == MOO_JOB_FAILED && !j->command) {
		snprintf(out, len, "never started"); /* its moo was killed while staging it */
	} else {
		snprintf(out, len, "-");
	}
	if (j->detail) {
		/* what the scheduler said: "pending: Resources", "timeout", … */
		size_t n = strlen(out);

		if (!strcmp(out, "-")) {
			n = 0;
		}
		snprintf(out + n, len - n, "%s%s", n ? ", " : "", j->detail);
	}
}

static double job_elapsed(const struct moo_job *j)
{
	double start = j->started > 0 ? j->started : j->created;
	double end = j->ended > 0 ? j->ended : wall_now();

	return end - start;
}

void format_time_json(char *out, size_t len, double t)
{
	long long ms = (long long)(t * 1000.0 + 0.5);
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void *json_time(double t)
{
	char s[40];

	if (t <= 0) {
		return json_null();
	}
	format_time_json(s, sizeof(s), t);
	return json_string(s);
}

static json_t *json_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void *job_to_json(const struct moo_job *j, bool full)
{
	json_t *o = json_object(), *m = json_array();
	size_t i;

	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "name", json_or_null(j->name));
	json_object_set_new(o, "status", json_string(moo_job_status_name(j->status)));
	json_object_set_new(o, "detail", json_or_null(j->detail));
	json_object_set_new(o, "backend_id", json_or_null(j->backend_id));
	json_object_set_new(o, "sweep", json_or_null(j->sweep));
	json_object_set_new(o, "sweep_index",
			    j->sweep ? json_integer(j->sweep_index) : json_null());
	json_object_set_new(o, "host", json_or_null(j->host));
	json_object_set_new(o, "created", json_time(j->created));
	json_object_set_new(o, "started", json_time(j->started));
	json_object_set_new(o, "ended", json_time(j->ended));
	json_object_set_new(o, "exit_code",
			    j->exit_code >= 0 ? json_integer(j->exit_code) : json_null());
	json_object_set_new(o, "signal", j->signal ? json_integer(j->signal) : json_null());
	json_object_set_new(o, "source", json_or_null(j->source));
	json_object_set_new(o, "source_sha256", json_or_null(j->source_sha256));
	json_object_set_new(o, "dir", json_or_null(j->dir));
	json_object_set_new(o, "result_path", json_or_null(j->result_path));
	json_object_set_new(o, "bytes_sent", json_integer((json_int_t)j->bytes_sent));
	if (full) {
		json_t *spec = j->spec_json ? json_loads(j->spec_json, 0, NULL) : NULL;

		json_object_set_new(o, "pid", j->pid ? json_integer(j->pid) : json_null());
		json_object_set_new(o, "command", json_or_null(j->command));
		json_object_set_new(o, "output_folder", json_or_null(j->output_folder));
		json_object_set_new(o, "params", params_to_json(j));
		json_object_set_new(o, "spec", spec ? spec : json_null());
		json_object_set_new(o, "lock",
				    j->lock ? json_loads(j->lock, 0, NULL) : json_null());
	}
	for (i = 0; i < j->n_metrics; i++) {
		json_t *x = json_object();

		json_object_set_new(x, "name", json_string(j->metrics[i].name));
		json_object_set_new(x, "value", json_real(j->metrics[i].value));
		json_object_set_new(x, "step",
				    j->metrics[i].step >= 0 ? json_integer(j->metrics[i].step)
							    : json_null());
		json_object_set_new(x, "source",
				    json_string(j->metrics[i].from_file ? "metrics.json" : "log"));
		json_array_append_new(m, x);
	}
	json_object_set_new(o, "metrics", m);
	return o;
}

static const char *status_color(enum moo_job_status s)
{
	switch (s) {
	case MOO_JOB_SUCCEEDED: return "\033[32m";
	case MOO_JOB_FAILED:
	case MOO_JOB_LOST: return "\033[31m";
	case MOO_JOB_RUNNING: return "\033[36m";
	default: return "\033[33m";
	}
}

const char *cols(const char *s, int width)
{
	static struct moo_buf ring[4];
	static unsigned next;
	struct moo_buf *b = &ring[next++ % 4];
	mbstate_t st;
	int used = 0;

	memset(&st, 0, sizeof(st));
	moo_buf_reset(b);
	while (*s) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
		int w = 1;

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			n = 1; /* not a character here: one byte, one column */
			memset(&st, 0, sizeof(st));
		} else if ((w = wcwidth(wc)) < 0) {
			w = 1;
		}
		if (used + w > width) {
			break;
		}
		moo_buf_add(b, s, n);
		used += w;
		s += n;
	}
	while (used++ < width) {
		moo_buf_putc(b, ' ');
	}
	return b->ptr;
}

/* NAME is 20 wide: a sweep's points, moo-sweep-XXXXXX:N, keep their index up to 999. */
void print_job_table(struct moo_job **jobs, const char *const *problems, size_t n)
{
	bool color = color_on(stdout);
	size_t i;

	printf("%-14s  %-20s  %-9s  %-19s  %-9s  %-16s  %s\n", "JOB", "NAME", "STATUS", "CREATED",
	       "DURATION", "OUTCOME", "METRICS");
	for (i = 0; i < n; i++) {
		const struct moo_job *j = jobs[i];
		const struct moo_metric *fm[8];
		char created[32], dur[32], outcome[160];
		size_t k, nm = moo_job_final_metrics(fm, 8, j);

		format_time(created, sizeof(created), j->created);
		format_duration(dur, sizeof(dur), job_elapsed(j));
		job_outcome(j, outcome, sizeof(outcome));
		if (problems && problems[i]) { /* its state could not be read now: why */
			snprintf(outcome, sizeof(outcome), "%s", problems[i]);
		}
		printf("%-14s  %s  %s%-9s%s  %-19s  %-9s  %-16s ", esc(j->id),
		       cols(j->name ? esc(j->name) : "-", 20), color ? status_color(j->status) : "",
		       problems && problems[i] ? "unknown" : moo_job_status_name(j->status),
		       color ? "\033[0m" : "", created, dur, esc(outcome));
		for (k = 0; k < nm && k < 3; k++) {
			printf(" %s=%g", esc(fm[k]->name), fm[k]->value);
		}
		putchar('\n');
	}
}

void print_job_status(const struct moo_job *j)
{
	char dur[32], outcome[160];

	format_duration(dur, sizeof(dur), job_elapsed(j));
	job_outcome(j, outcome, sizeof(outcome));
	printf("%s  %s  %s  %s\n", esc(j->id), moo_job_status_name(j->status), dur, outcome);
}

void print_job_detail(const struct moo_job *j)
{
	json_t *spec = j->spec_json ? json_loads(j->spec_json, 0, NULL) : NULL;
	struct moo_kv *kvs = NULL;
	char a[32], b[32], c[32], dur[32], outcome[160];
	size_t i, n_kvs = 0;

	format_time(a, sizeof(a), j->created);
	format_time(b, sizeof(b), j->started);
	format_time(c, sizeof(c), j->ended);
	format_duration(dur, sizeof(dur), job_elapsed(j));
	job_outcome(j, outcome, sizeof(outcome));
	printf("job:        %s%s%s%s\n", esc(j->id), j->name ? " (" : "",
	       j->name ? esc(j->name) : "", j->name ? ")" : "");
	printf("status:     %s, %s\n", moo_job_status_name(j->status), outcome);
	printf("host:       %s\n", j->host ? esc(j->host) : "-");
	if (j->backend_id) {
		printf("slurm job:  %s\n", esc(j->backend_id));
	}
	if (j->sweep) {
		printf("sweep:      %s:%d\n", esc(j->sweep), j->sweep_index);
	}
	printf("source:     %s\n", j->source ? esc(j->source) : "-");
	printf("sha256:     %s\n", j->source_sha256 ? j->source_sha256 : "-");
	if (json_is_object(spec)) {
		json_t *fw = json_object_get(spec, "framework"),
		       *model = json_object_get(spec, "model");
		json_t *rt = json_object_get(fw, "runtime");

		printf("model:      %s %s\n",
		       esc(json_string_value(json_object_get(model, "name"))),
		       json_string_value(json_object_get(model, "version"))
			       ? esc(json_string_value(json_object_get(model, "version")))
			       : "");
		printf("framework:  %s %s, runtime %s%s\n",
		       esc(json_string_value(json_object_get(fw, "name"))),
		       esc(json_string_value(json_object_get(fw, "version"))),
		       esc(json_string_value(json_object_get(rt, "name"))),
		       json_string_value(json_object_get(rt, "version"))
			       ? esc(json_string_value(json_object_get(rt, "version")))
			       : "");
		printf("entry:      %s\n",
		       esc(json_string_value(json_object_get(spec, "entry_point"))));
	}
	printf("params:    ");
	if (!moo_job_params(&kvs, &n_kvs, j, NULL) && n_kvs) {
		for (i = 0; i < n_kvs; i++) { /* as --set takes them: "007" is text */
			bool q = kvs[i].quoted && moo_param_typed(kvs[i].value);

			printf(" %s=%s%s%s", esc(kvs[i].key), q ? "\"" : "", esc(kvs[i].value),
			       q ? "\"" : "");
		}
	} else {
		printf(" -");
	}
	moo_job_params_free(kvs, n_kvs);
	printf("\ncommand:    %s\n", j->command ? esc(j->command) : "-");
	printf("created:    %s\nstarted:    %s\nended:      %s\nduration:   %s\n", a, b, c, dur);
	printf("directory:  %s\n", j->dir ? esc(j->dir) : "-");
	printf("log:        %s/process.log\n", j->dir ? esc(j->dir) : "-");
	printf("result:     %s\n", j->result_path ? esc(j->result_path) : "-");
	printf("metrics:   ");
	if (!j->n_metrics) {
		printf(" -");
	}
	putchar('\n');
	for (i = 0; i < j->n_metrics; i++) {
		const struct moo_metric *m = &j->metrics[i];

		printf("  %-20s %-14g", esc(m->name), m->value);
		if (m->step >= 0) {
			printf(" step %lld", (long long)m->step);
		}
		if (m->from_file) {
			printf(" (metrics.json)");
		}
		putchar('\n');
	}
	json_decref(spec);
}
