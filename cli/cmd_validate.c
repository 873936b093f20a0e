/* moo validate: check a metadata.yaml and the project it describes. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "cli.h"

static bool json, spec_only;

static const struct opt opts[] = {
	{0, "json", NULL, "print diagnostics as JSON", OPT_FLAG, &json},
	{0, "spec-only", NULL, "check the spec alone, not the files it names", OPT_FLAG,
	 &spec_only},
	OPT_END,
};

/* The project folder: PATH itself, or the folder holding the file. */
static char *project_dir(const char *path)
{
	struct stat st;
	char *copy, *dir;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		return strdup(path);
	}
	copy = strdup(path);
	dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_spec *spec = NULL;
	struct moo_error *err = NULL, *tree_err = NULL;
	const char *path;
	char *dir = NULL;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 1);
	if (r >= 0) {
		return r;
	}
	path = npos ? argv[0] : ".";
	dir = spec_only ? NULL : project_dir(path);
	r = moo_spec_load_tree(&spec, path, dir, &err); /* missing files beside other errors */
	if (!r && !spec_only) {
		r = moo_spec_check_tree(spec, dir, &tree_err);
	}
	free(dir);
	if (json) {
		json_t *o = json_object(), *diags;

		diags = errors_to_json(r ? (err ? err : tree_err) : spec->warnings);
		if (!r || err) {
			/* nothing more */
		}
		if (tree_err && spec && spec->warnings) {
			json_array_extend(diags, errors_to_json(spec->warnings));
		}
		json_object_set_new(o, "path", json_string(spec ? spec->file : path));
		json_object_set_new(o, "valid", json_boolean(r == 0));
		json_object_set_new(o, "diagnostics", diags);
		print_json(o);
	} else if (r) {
		print_errors(err ? err : tree_err);
		if (spec) {
			print_errors(spec->warnings);
		}
	} else {
		print_errors(spec->warnings);
		printf("%s: ok (%s %s, runtime %s%s, entry point %s)\n", esc(spec->file),
		       esc(spec->framework.name), esc(spec->framework.version),
		       esc(spec->framework.runtime.name),
		       spec->framework.runtime.version ? esc(spec->framework.runtime.version) : "",
		       esc(spec->entry_point));
	}
	moo_error_free(err);
	moo_error_free(tree_err);
	moo_spec_free(spec);
	/* no metadata.yaml (or no PATH) is exit 2, as in every verb; an invalid one 3 */
	return r == MOO_ENOTFOUND ? EXIT_USAGE : r ? EXIT_INVALID : EXIT_OK;
}

const struct cmd cmd_validate = {
	.name = "validate",
	.summary = "check a metadata.yaml and the files it names",
	.args = "[PATH]",
	.run = run,
};
