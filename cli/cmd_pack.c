/* moo pack: a project directory → a deterministic ZIP, and its sha256. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"

static bool json;
static const char *output;

static const struct opt opts[] = {
	{'o', "output", "FILE", "write the ZIP to FILE (default: the folder's name + .zip)",
	 OPT_STRING, &output},
	{0, "json", NULL, "print what was written as JSON", OPT_FLAG, &json},
	OPT_END,
};

/*
 * DIR's own name + ".zip", in the current directory; beside DIR when the current directory
 * is DIR or inside it, so that pack never writes into the tree it packs unless told (-o).
 */
static char *default_output(const char *dir)
{
	char real[PATH_MAX], cwd[PATH_MAX], *base;
	struct moo_buf b = MOO_BUF_INIT;
	size_t n;

	if (!realpath(dir, real)) {
		return NULL;
	}
	n = strlen(real);
	base = basename(real);
	if (getcwd(cwd, sizeof(cwd)) && strcmp(real, "/") && !strncmp(cwd, real, n) &&
	    (cwd[n] == '\0' || cwd[n] == '/')) {
		char *name = strdup(base), *parent;

		real[n] = '\0';
		parent = dirname(real);
		moo_buf_printf(&b, "%s%s%s.zip", parent, strcmp(parent, "/") ? "/" : "", name);
		free(name);
		return moo_buf_detach(&b);
	}
	moo_buf_printf(&b, "%s.zip", strcmp(base, "/") ? base : "bundle");
	return moo_buf_detach(&b);
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_pack_opts po = MOO_PACK_OPTS_INIT;
	struct moo_pack_result res;
	struct moo_error *err = NULL;
	char *out = NULL, in_size[32], out_size[32];
	const char *dir;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 1);
	if (r >= 0) {
		return r;
	}
	dir = npos ? argv[0] : ".";
	out = output ? strdup(output) : default_output(dir);
	if (!out) {
		print_error_msg(NULL, "cannot open '%s': no such directory", dir);
		return EXIT_USAGE;
	}
	{ /* what validate warns about (an invalid spec is moo_pack's error) */
		struct moo_spec *spec = NULL;

		if (!moo_spec_load(&spec, dir, NULL)) {
			print_errors(spec->warnings);
		}
		moo_spec_free(spec);
	}
	po.progress = progress_cb;
	po.progress_data = (void *)"packing";
	r = moo_pack(&res, dir, out, &po, &err);
	progress_end();
	if (r) {
		r = print_errors(err);
		moo_error_free(err);
		free(out);
		return r;
	}
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "path", json_string(out));
		json_object_set_new(o, "sha256", json_string(res.sha256));
		json_object_set_new(o, "size", json_integer((json_int_t)res.size));
		json_object_set_new(o, "files", json_integer((json_int_t)res.n_files));
		json_object_set_new(o, "dirs", json_integer((json_int_t)res.n_dirs));
		json_object_set_new(o, "bytes", json_integer((json_int_t)res.bytes_in));
		print_json(o);
	} else {
		format_size(in_size, sizeof(in_size), res.bytes_in);
		format_size(out_size, sizeof(out_size), res.size);
		fprintf(stderr, "packed %zu files in %zu folders (%s) into %s (%s)\n", res.n_files,
			res.n_dirs, in_size, out, out_size);
		printf("%s  %s\n", res.sha256, out);
	}
	free(out);
	return EXIT_OK;
}

const struct cmd cmd_pack = {
	.name = "pack",
	.summary = "pack a project into a deterministic ZIP bundle",
	.args = "[DIR]",
	.run = run,
};
