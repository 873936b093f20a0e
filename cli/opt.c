/* Declarative options: one table per verb gives parsing, --help and the man page check. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const struct opt help_opt = {'h', "help", NULL, "show this help and exit", OPT_FLAG, NULL};

int usage_error(const struct cmd *cmd, const char *hint, const char *fmt, ...)
{
	struct moo_buf b = MOO_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	print_error_msg(hint, "%s", b.ptr);
	moo_buf_dispose(&b);
	if (cmd) {
		fprintf(stderr, "moo: try 'moo %s --help'\n", cmd->name);
	} else {
		fprintf(stderr, "moo: try 'moo --help'\n");
	}
	return EXIT_USAGE;
}

void opt_usage(const struct cmd *cmd, const struct opt *opts, FILE *f)
{
	const struct opt *o;
	int pass;

	fprintf(f, "usage: moo %s [options]%s%s\n\n%s\n\noptions:\n", cmd->name,
		*cmd->args ? " " : "", cmd->args, cmd->summary);
	for (pass = 0; pass < 2; pass++) {
		for (o = pass ? &help_opt : opts; o && o->long_name; o = pass ? NULL : o + 1) {
			char left[64];

			snprintf(left, sizeof(left), "%c%c%s--%s%s%s", o->short_name ? '-' : ' ',
				 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ",
				 o->long_name, o->arg ? " " : "", o->arg ? o->arg : "");
			fprintf(f, "  %-28s %s\n", left, o->help);
			if (pass) {
				break;
			}
		}
	}
	fprintf(f, "\nSee moo-%s(1).\n", cmd->name);
}

static int set_value(const struct cmd *cmd, const struct opt *o, const char *val)
{
	char *end;
	long v;

	switch (o->type) {
	case OPT_FLAG: *(bool *)o->ptr = true; break;
	case OPT_STRING: *(const char **)o->ptr = val; break;
	case OPT_INT:
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || end == val || *end) {
			return usage_error(cmd, NULL, "option '--%s' needs a number, found '%s'",
					   o->long_name, val);
		}
		*(long *)o->ptr = v;
		break;
	case OPT_LIST: {
		struct strlist *l = o->ptr;

		l->items = realloc(l->items, (l->n + 1) * sizeof(*l->items));
		if (!l->items) {
			abort();
		}
		l->items[l->n++] = val;
		break;
	}
	}
	return -1;
}

static int unknown_option(const struct cmd *cmd, const struct opt *opts, const char *arg)
{
	const char *names[64];
	char hint[96];
	const char *near;
	size_t n = 0;
	const struct opt *o;
	size_t len = strcspn(arg, "=");
	char *name = strndup(arg, len);

	for (o = opts; o && o->long_name && n < 63; o++) {
		names[n++] = o->long_name;
	}
	names[n++] = "help";
	near = name ? moo__suggest(name + 2, names, n) : NULL;
	if (near) {
		snprintf(hint, sizeof(hint), "did you mean '--%s'?", near);
	}
	usage_error(cmd, near ? hint : NULL, "unknown option '%s'", name ? name : arg);
	free(name);
	return EXIT_USAGE;
}

int opt_parse(const struct cmd *cmd, const struct opt *opts, int argc, char **argv, int *npos,
	      int min_pos, int max_pos)
{
	int i, n = 0, r;
	bool only_pos = false;
	const struct opt *jo;

	for (jo = opts; jo && jo->long_name; jo++) { /* --json: errors below come as JSON too */
		for (i = 1; !strcmp(jo->long_name, "json") && i < argc && strcmp(argv[i], "--");
		     i++) {
			json_mode = json_mode || !strcmp(argv[i], "--json");
		}
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct opt *o = NULL;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			argv[n++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			opt_usage(cmd, opts, stdout);
			return EXIT_OK;
		}
		if (a[1] == '-') {
			size_t len = strcspn(a + 2, "=");

			for (o = opts; o && o->long_name; o++) {
				if (strlen(o->long_name) == len &&
				    !strncmp(o->long_name, a + 2, len)) {
					break;
				}
			}
			if (!o || !o->long_name) {
				return unknown_option(cmd, opts, a);
			}
			if (a[2 + len] == '=') {
				if (!o->arg) {
					return usage_error(cmd, NULL,
							   "option '--%s' takes no value",
							   o->long_name);
				}
				val = a + 3 + len;
			}
		} else {
			for (o = opts; o && o->long_name; o++) {
				if (o->short_name == a[1]) {
					break;
				}
			}
			if (!o || !o->long_name) {
				return unknown_option(cmd, opts, a);
			}
			if (a[2]) {
				if (!o->arg) {
					return usage_error(cmd, NULL,
							   "option '-%c' takes no value; "
							   "write flags one by one",
							   a[1]);
				}
				val = a + 2;
			}
		}
		if (o->arg && !val) {
			if (i + 1 >= argc) {
				return usage_error(cmd, NULL, "option '--%s' needs a value (%s)",
						   o->long_name, o->arg);
			}
			val = argv[++i];
		}
		r = set_value(cmd, o, val);
		if (r >= 0) {
			return r;
		}
	}
	*npos = n;
	if (n < min_pos) {
		/* "moo diff a": say how many it takes, not that all of them are missing */
		return usage_error(cmd, NULL, "'moo %s' takes %s; %d given", cmd->name, cmd->args,
				   n);
	}
	if (max_pos >= 0 && n > max_pos) {
		return usage_error(cmd, NULL, "unexpected argument '%s'", argv[max_pos]);
	}
	return -1;
}
