/* moo inspect: open a bundle (directory, ZIP or URL), check it, and say what is in it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static bool json;
static const char *sha256, *extract;
static long max_bytes = LONG_MIN, max_entries = LONG_MIN, max_ratio = LONG_MIN; /* not given */

static const struct opt opts[] = {
	{0, "json", NULL, "print the bundle as JSON", OPT_FLAG, &json},
	{0, "sha256", "HEX", "refuse the bundle unless its ZIP has this sha256", OPT_STRING,
	 &sha256},
	{0, "max-bytes", "N", "cap on the bytes extracted (default 4294967296)", OPT_INT,
	 &max_bytes},
	{0, "max-entries", "N", "cap on the files and folders (default 100000)", OPT_INT,
	 &max_entries},
	{0, "max-ratio", "N", "cap on one entry's compression ratio (default 100)", OPT_INT,
	 &max_ratio},
	{0, "extract", "DIR", "also extract the bundle into DIR, which must not exist", OPT_STRING,
	 &extract},
	OPT_END,
};

static json_t *bundle_json(const struct moo_bundle *b)
{
	struct moo_buf spec = MOO_BUF_INIT;
	json_t *o = json_object(), *files = json_array();
	size_t i;

	moo_spec_to_json(&spec, b->spec);
	json_object_set_new(o, "source", json_string(b->source));
	json_object_set_new(o, "sha256", json_string(b->sha256));
	json_object_set_new(o, "size", json_integer((json_int_t)b->size));
	json_object_set_new(o, "prefix", json_string(b->prefix));
	json_object_set_new(o, "spec", json_loads(spec.ptr, 0, NULL));
	for (i = 0; i < b->n_files; i++) {
		const struct moo_bundle_file *f = &b->files[i];
		json_t *e = json_object();

		json_object_set_new(e, "path", json_string(f->path));
		json_object_set_new(e, "size", json_integer((json_int_t)f->size));
		json_object_set_new(e, "dir", json_boolean(f->dir));
		json_object_set_new(e, "exec", json_boolean(f->exec));
		json_array_append_new(files, e);
	}
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "bytes", json_integer((json_int_t)b->total_bytes));
	moo_buf_dispose(&spec);
	return o;
}

static void print_human(const struct moo_bundle *b)
{
	const struct moo_spec *s = b->spec;
	char size[32], total[32];
	size_t i, n = 0;

	format_size(size, sizeof(size), b->size);
	format_size(total, sizeof(total), b->total_bytes);
	for (i = 0; i < b->n_files; i++) {
		n += !b->files[i].dir;
	}
	printf("source      %s\n", esc(b->source));
	printf("sha256      %s\n", b->sha256);
	printf("size        %s\n", size);
	if (b->prefix[0]) {
		printf("top folder  %s\n", esc(b->prefix));
	}
	printf("model       %s%s%s\n", esc(s->model.name), s->model.version ? " " : "",
	       s->model.version ? esc(s->model.version) : "");
	/* as validate and show write it: python3.11, the spec's own shorthand */
	printf("framework   %s %s, runtime %s%s\n", esc(s->framework.name),
	       esc(s->framework.version), esc(s->framework.runtime.name),
	       s->framework.runtime.version ? esc(s->framework.runtime.version) : "");
	printf("entry point %s\n", esc(s->entry_point));
	printf("output      %s\n", esc(s->output_folder));
	printf("resources   %s", moo_accel_name(s->resources.accelerator));
	if (s->resources.count) {
		printf(" x%u", s->resources.count);
	}
	putchar('\n');
	printf("files       %zu (%s)\n", n, total);
	for (i = 0; i < b->n_files; i++) {
		if (!b->files[i].dir) {
			printf("  %12llu  %s\n", (unsigned long long)b->files[i].size,
			       esc(b->files[i].path));
		}
	}
}

/* A cap given is at least 1: 0 would refuse every bundle (the library reads 0 as "the
 * default", which a user writing 0 does not mean either). */
static bool cap(const char *name, long v, uint64_t *dst)
{
	if (v == LONG_MIN) {
		return true; /* the library's default */
	}
	if (v < 1) {
		usage_error(&cmd_inspect, NULL, "option '--%s' needs a positive number, found %ld",
			    name, v);
		return false;
	}
	*dst = (uint64_t)v;
	return true;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_bundle *b = NULL;
	struct moo_error *err = NULL;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 1, 1);
	if (r >= 0) {
		return r;
	}
	if (!cap("max-bytes", max_bytes, &bo.max_bytes) ||
	    !cap("max-entries", max_entries, &bo.max_entries) ||
	    !cap("max-ratio", max_ratio, &bo.max_ratio)) {
		return EXIT_USAGE;
	}
	bo.sha256 = sha256;
	bo.progress = progress_cb;
	bo.progress_data = (void *)"reading";
	r = moo_bundle_open(&b, argv[0], &bo, &err);
	progress_end();
	if (!r && extract) {
		r = moo_bundle_extract(b, extract, &bo, &err);
	}
	if (r) {
		if (json) {
			json_t *o = json_object();

			json_object_set_new(o, "source", json_string(argv[0]));
			json_object_set_new(o, "valid", json_false());
			json_object_set_new(o, "diagnostics", errors_to_json(err));
			print_json(o);
			r = exit_code_for(r);
		} else {
			r = print_errors(err);
		}
		moo_error_free(err);
		moo_bundle_free(b);
		return r;
	}
	if (json) {
		json_t *o = bundle_json(b);

		json_object_set_new(o, "valid", json_true());
		if (extract) {
			json_object_set_new(o, "extracted", json_string(extract));
		}
		print_json(o);
	} else {
		print_errors(b->spec->warnings);
		print_human(b);
		if (extract) {
			printf("extracted   %s\n", extract);
		}
	}
	moo_bundle_free(b);
	return EXIT_OK;
}

const struct cmd cmd_inspect = {
	.name = "inspect",
	.summary = "check a bundle (folder, ZIP or URL) and list what is in it",
	.args = "SOURCE",
	.run = run,
};
