/* moo init: scaffold a project from a template, never overwriting a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool json, list;
static const char *template_name = "sklearn";

static const struct opt opts[] = {
	{'t', "template", "NAME", "sklearn (default), pytorch or tensorflow", OPT_STRING,
	 &template_name},
	{0, "list", NULL, "list the templates and exit", OPT_FLAG, &list},
	{0, "json", NULL, "print what was written as JSON", OPT_FLAG, &json},
	OPT_END,
};

static void on_file(const char *rel, bool created, void *data)
{
	json_t *files = data;

	if (files) {
		json_t *o = json_object();

		json_object_set_new(o, "path", json_string(rel));
		json_object_set_new(o, "created", json_boolean(created));
		json_array_append_new(files, o);
	} else if (created) {
		printf("created %s\n", rel);
	} else {
		printf("kept    %s (exists; not overwritten)\n", rel);
	}
}

/* DIR as one sh word that is not an option: as it is when nothing in it is special. */
static void shell_word(struct moo_buf *w, const char *dir)
{
	const char *prefix = dir[0] == '-' ? "./" : "";

	if (dir[0] && !dir[strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_./+-:@%,=")]) {
		moo_buf_printf(w, "%s%s", prefix, dir);
		return;
	}
	moo_buf_puts(w, prefix);
	moo_buf_shquote(w, dir);
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_error *err = NULL;
	const char *dir;
	json_t *files = NULL;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 1);
	if (r >= 0) {
		return r;
	}
	if (list) {
		const char *const *t = moo_init_templates();
		json_t *names = json ? json_array() : NULL;

		for (; *t; t++) {
			if (names) {
				json_array_append_new(names, json_string(*t));
			} else {
				puts(*t);
			}
		}
		if (names) {
			print_json(names);
		}
		return EXIT_OK;
	}
	dir = npos ? argv[0] : ".";
	if (json) {
		files = json_array();
	}
	r = moo_init_project(dir, template_name, on_file, files, &err);
	if (r) {
		json_decref(files);
		r = print_errors(err);
		moo_error_free(err);
		return r;
	}
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "dir", json_string(dir));
		json_object_set_new(o, "template", json_string(template_name));
		json_object_set_new(o, "files", files);
		print_json(o);
	} else {
		struct moo_buf w = MOO_BUF_INIT;

		shell_word(&w, dir);
		printf("next: moo validate %s && moo run %s\n", w.ptr, w.ptr);
		moo_buf_dispose(&w);
	}
	return EXIT_OK;
}

const struct cmd cmd_init = {
	.name = "init",
	.summary = "start a project from a template",
	.args = "[DIR]",
	.run = run,
};
