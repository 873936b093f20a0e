/* The only code that renders errors, tables, progress and JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
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

static void print_one(const struct moo_error *e, bool color)
{
	const char *red = color ? "\033[1;31m" : "", *yellow = color ? "\033[1;33m" : "";
	const char *bold = color ? "\033[1m" : "", *cyan = color ? "\033[36m" : "";
	const char *off = color ? "\033[0m" : "";
	bool warn = e->severity == MOO_SEV_WARNING;

	fprintf(stderr, "moo: %s%s%s: ", warn ? yellow : red, warn ? "warning" : "error", off);
	if (e->file) {
		fprintf(stderr, "%s%s", bold, e->file);
		if (e->line > 0) {
			fprintf(stderr, ":%d", e->line);
			if (e->column > 0) {
				fprintf(stderr, ":%d", e->column);
			}
		}
		fprintf(stderr, "%s: ", off);
	}
	fputs(e->message, stderr);
	if (e->cause) {
		fprintf(stderr, ": %s", e->cause);
	}
	fputc('\n', stderr);
	if (e->hint) {
		fprintf(stderr, "%shint:%s %s\n", cyan, off, e->hint);
	}
}

int print_errors(const struct moo_error *err)
{
	bool color = color_on(stderr);
	int code = 0;

	for (; err; err = err->next) {
		print_one(err, color);
		if (!code && err->severity == MOO_SEV_ERROR) {
			code = err->code;
		}
	}
	return exit_code_for(code);
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
		json_t *o = json_object();

		json_object_set_new(o, "severity",
				    json_string(err->severity == MOO_SEV_WARNING ? "warning" : "error"));
		json_object_set_new(o, "code", json_string(moo_code_name(err->code)));
		json_object_set_new(o, "file", err->file ? json_string(err->file) : json_null());
		json_object_set_new(o, "line", json_integer(err->line));
		json_object_set_new(o, "column", json_integer(err->column));
		json_object_set_new(o, "message", json_string(err->message));
		json_object_set_new(o, "hint", err->hint ? json_string(err->hint) : json_null());
		if (err->cause) {
			json_object_set_new(o, "cause", json_string(err->cause));
		}
		json_array_append_new(a, o);
	}
	return a;
}

void print_json(void *json)
{
	json_dumpf(json, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(json);
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
		fill = (int)((done > total ? total : done) * (uint64_t)width / total);
		snprintf(line, sizeof(line), "%-10.10s [%.*s%*s] %3d%% %8.1f MiB", label, fill,
			 "##############################", width - fill, "",
			 (int)(done * 100 / total), (double)done / 1048576.0);
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
