/* Unit tests: libmoo/spec.c, the metadata.yaml parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../libmoo/internal.h"

static struct moo_spec *parse_ok(const char *yaml)
{
	struct moo_spec *spec = NULL;
	struct moo_error *err = NULL;
	int r = moo_spec_parse(&spec, yaml, strlen(yaml), "m.yaml", &err);

	if (r) {
		fail_msg("parse failed: %s:%d:%d: %s", err->file, err->line, err->column,
			 err->message);
	}
	assert_non_null(spec);
	return spec;
}

/* Parses a document that must fail; returns its diagnostics (caller frees). */
static struct moo_error *parse_bad(const char *yaml, size_t len)
{
	struct moo_spec *spec = (struct moo_spec *)0x1;
	struct moo_error *err = NULL;
	int r = moo_spec_parse(&spec, yaml, len, "m.yaml", &err);

	assert_int_equal(r, MOO_ESPEC);
	assert_ptr_equal(spec, (struct moo_spec *)0x1); /* *out untouched on failure */
	assert_non_null(err);
	assert_int_equal(err->severity, MOO_SEV_ERROR);
	return err;
}

static bool has_message(const struct moo_error *e, const char *needle)
{
	for (; e; e = e->next) {
		if (strstr(e->message, needle)) {
			return true;
		}
	}
	return false;
}

static const char seed[] = "framework:\n"
			   "  name: tensorflow\n"
			   "  version: 1.12.0\n"
			   "  runtime: python2.7\n"
			   "model:\n"
			   "  name: EMNIST\n"
			   "entry_point: tensorflow_test_mnist.py\n"
			   "output_folder: training_result\n";

static void test_seed_example(void **state)
{
	struct moo_spec *s = parse_ok(seed);

	(void)state;
	assert_string_equal(s->framework.name, "tensorflow");
	assert_string_equal(s->framework.version, "1.12.0");
	assert_string_equal(s->framework.runtime.name, "python");
	assert_string_equal(s->framework.runtime.version, "2.7");
	assert_string_equal(s->model.name, "EMNIST");
	assert_string_equal(s->entry_point, "tensorflow_test_mnist.py");
	assert_int_equal(s->entry_point_mark.line, 7);
	assert_int_equal(s->entry_point_mark.column, 14);
	assert_string_equal(s->output_folder, "training_result");
	assert_int_equal(s->resources.accelerator, MOO_ACCEL_CPU);
	assert_int_equal(s->resources.count, 0);
	assert_null(s->dataset.name);
	assert_null(s->warnings);
	moo_spec_free(s);
}

static void test_full(void **state)
{
	struct moo_spec *s =
		parse_ok("framework:\n"
			 "  name: pytorch\n"
			 "  version: 2.0\n"
			 "  runtime: {name: python, version: \"3.11\", requirement: "
			 "[numpy==1.24.2, 'torch>=2']}\n"
			 "model: {name: m, time: 2024-05-01}\n"
			 "dataset: {name: d, sha256: "
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855}\n"
			 "data_process: {data_split: {train: 0.8, test: 0.2}, padding: post}\n"
			 "model_architecture: {type: cnn, layers: [conv, dense], parameters: 10}\n"
			 "training_params:\n"
			 "  seed: 7\n"
			 "  learning_rate: 1e-3\n"
			 "  epoch: 3\n"
			 "  tag: \"5\"\n"
			 "entry_point: src/train.py\n"
			 "output_folder: out\n"
			 "resources: {accelerator: gpu, cpus: 2.5, memory: 4Gi}\n"
			 "inference: {entry_point: predict.py}\n"
			 "env: {OMP_NUM_THREADS: 1}\n"
			 "x-team: {anything: [1, 2]}\n");
	struct moo_buf j = MOO_BUF_INIT;

	(void)state;
	assert_string_equal(s->framework.version, "2.0");
	assert_string_equal(s->framework.runtime.version, "3.11");
	assert_int_equal(s->framework.runtime.n_requirement, 2);
	assert_string_equal(s->framework.runtime.requirement[1], "torch>=2");
	assert_string_equal(s->model.time, "2024-05-01");
	assert_int_equal(s->data_process.n_data_split, 2);
	assert_string_equal(s->model_architecture,
			    "{\"type\":\"cnn\",\"layers\":[\"conv\",\"dense\"],\"parameters\":10}");
	/* parameters keep document order, known and user ones alike */
	assert_int_equal(s->n_training_params, 4);
	assert_string_equal(s->training_params[0].key, "seed");
	assert_string_equal(s->training_params[1].key, "learning_rate");
	assert_string_equal(s->training_params[1].value, "1e-3");
	assert_string_equal(s->training_params[2].key, "epoch");
	assert_string_equal(s->training_params[3].key, "tag");
	assert_true(s->training_params[3].quoted);
	assert_int_equal(s->resources.accelerator, MOO_ACCEL_GPU);
	assert_int_equal(s->resources.count, 1); /* default for gpu */
	assert_true(s->resources.memory == 4ull << 30);
	assert_string_equal(s->inference_entry_point, "predict.py");
	assert_string_equal(s->env[0].key, "OMP_NUM_THREADS");
	moo_spec_to_json(&j, s);
	assert_non_null(strstr(j.ptr, "\"tag\":\"5\""));
	assert_non_null(strstr(j.ptr, "\"seed\":7"));
	assert_non_null(strstr(j.ptr, "\"memory\":4294967296"));
	moo_buf_dispose(&j);
	moo_spec_free(s);
}

static void test_every_error_reported(void **state)
{
	static const char doc[] = "framework:\n"
				  "  name: tensorflow\n"
				  "  verison: 1.12.0\n"
				  "  runtime: python2.7\n"
				  "model:\n"
				  "  name: EMNIST\n"
				  "entry_point: ../escape.py\n"
				  "training_params: {epoch: 0, batch_size: \"8\"}\n"
				  "bogus: 1\n";
	struct moo_error *err = parse_bad(doc, sizeof(doc) - 1), *e;
	int n = 0;

	(void)state;
	for (e = err; e; e = e->next) {
		n++;
	}
	assert_true(n >= 6);
	/* the typo first, at its line and column, with the nearest key as hint */
	assert_string_equal(err->message, "unknown key 'verison' in 'framework'");
	assert_string_equal(err->file, "m.yaml");
	assert_int_equal(err->line, 3);
	assert_int_equal(err->column, 3);
	assert_string_equal(err->hint, "did you mean 'version'?");
	assert_true(has_message(err, "missing required key 'version' in 'framework'"));
	assert_true(has_message(err, "'entry_point' must be a relative path"));
	assert_true(has_message(err, "'training_params.epoch' must be an integer from 1"));
	assert_true(has_message(err,
				"'training_params.batch_size' must be an integer, found a string"));
	assert_true(has_message(err, "unknown key 'bogus'"));
	moo_error_free(err);
}

static void test_duplicate_key(void **state)
{
	static const char doc[] = "framework: {name: a, version: 1, runtime: python3}\n"
				  "model: {name: m}\n"
				  "entry_point: a.py\n"
				  "entry_point: b.py\n";
	struct moo_error *err = parse_bad(doc, sizeof(doc) - 1);

	(void)state;
	assert_string_equal(err->message, "duplicate key 'entry_point'");
	assert_int_equal(err->line, 4);
	assert_string_equal(err->hint, "the first is at line 3; keep one of them");
	moo_error_free(err);
}

static void test_depth_bomb(void **state)
{
	size_t n = 100000, i;
	char *doc = malloc(n + 1);
	struct moo_error *err;

	(void)state;
	for (i = 0; i < n; i++) {
		doc[i] = '[';
	}
	doc[n] = '\0';
	err = parse_bad(doc, n);
	assert_non_null(strstr(err->message, "nesting deeper than 64"));
	moo_error_free(err);
	free(doc);
}

static void test_alias_bomb(void **state)
{
	static const char doc[] = "a: &a [x, x, x, x, x, x, x, x, x]\n"
				  "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				  "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				  "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
	struct moo_error *err = parse_bad(doc, sizeof(doc) - 1);

	(void)state;
	assert_non_null(strstr(err->message, "expands to more than 10000 nodes"));
	moo_error_free(err);
}

static void test_hostile_bytes(void **state)
{
	static const char utf8[] = "framework: {name: \xff\xfe}\n";
	static const char tag[] = "framework: !!python/object:os.system {name: x}\n";
	static const char cycle[] = "a: &a [*a]\n";
	static const char two[] = "a: 1\n---\nb: 2\n";
	struct moo_error *err;
	char *big;

	(void)state;
	err = parse_bad(utf8, sizeof(utf8) - 1);
	assert_non_null(strstr(err->message, "invalid UTF-8 at byte 18"));
	assert_int_equal(err->line, 1);
	moo_error_free(err);
	err = parse_bad(tag, sizeof(tag) - 1);
	assert_non_null(strstr(err->message, "unsupported tag"));
	moo_error_free(err);
	err = parse_bad(cycle, sizeof(cycle) - 1);
	assert_non_null(strstr(err->message, "names no anchor defined before it"));
	moo_error_free(err);
	err = parse_bad(two, sizeof(two) - 1);
	assert_string_equal(err->message, "more than one YAML document");
	moo_error_free(err);
	big = calloc(1, MOO_SPEC_MAX_BYTES + 2);
	memset(big, ' ', MOO_SPEC_MAX_BYTES + 1);
	err = parse_bad(big, MOO_SPEC_MAX_BYTES + 1);
	assert_non_null(strstr(err->message, "larger than the limit"));
	moo_error_free(err);
	free(big);
	err = parse_bad("", 0);
	assert_string_equal(err->message, "the document is empty");
	moo_error_free(err);
}

static void test_merge_and_aliases(void **state)
{
	struct moo_spec *s =
		parse_ok("x-base: &base {name: sklearn, version: '1.2', runtime: python3}\n"
			 "framework:\n"
			 "  <<: *base\n"
			 "  version: '1.3'\n"
			 "model: {name: m}\n"
			 "entry_point: t.py\n");

	(void)state;
	assert_string_equal(s->framework.name, "sklearn");
	assert_string_equal(s->framework.version, "1.3"); /* explicit keys win */
	moo_spec_free(s);
}

static void test_warning_near_known_param(void **state)
{
	struct moo_spec *s = parse_ok("framework: {name: a, version: 1, runtime: python3}\n"
				      "model: {name: m}\n"
				      "entry_point: a.py\n"
				      "training_params: {learning_rat: 0.1}\n");

	(void)state;
	assert_non_null(s->warnings);
	assert_int_equal(s->warnings->severity, MOO_SEV_WARNING);
	assert_string_equal(s->warnings->hint, "did you mean 'learning_rate'?");
	assert_int_equal(s->n_training_params, 1);
	moo_spec_free(s);
}

static void test_values(void **state)
{
	static const struct {
		const char *yaml, *message;
	} bad[] = {
		{"resources: {accelerator: gpuu}", "must be one of cpu, gpu, npu, found 'gpuu'"},
		{"resources: {count: 2}",
		 "'resources.count' must be 0 when the accelerator is cpu"},
		{"resources: {memory: 4Q}", "'resources.memory' must be a size, found '4Q'"},
		{"resources: {cpus: 0}", "'resources.cpus' must be greater than 0"},
		{"env: {MOO_X: 1}", "reserved prefix 'MOO_'"},
		{"env: {1X: 1}", "invalid variable name '1X'"},
		{"data_process: {data_split: {train: 0.8, test: 0.4}}",
		 "add up to 1.2, more than 1"},
		{"data_process: {padding: left}", "must be one of none, pre, post"},
		{"dataset: {name: d, sha256: abc}", "must be 64 lowercase hex digits"},
		{"model_architecture: [a]", "'model_architecture' must be a mapping, found a list"},
		{"output_folder: a/../../b",
		 "'output_folder' must be a relative path inside the bundle"},
		{"inference: {}", "missing required key 'entry_point' in 'inference'"},
		{"training_params: {Bad-Name: 1}", "parameter name 'Bad-Name'"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct moo_buf doc = MOO_BUF_INIT;
		struct moo_error *err;

		moo_buf_printf(&doc,
			       "framework: {name: a, version: 1, runtime: python3}\n"
			       "model: {name: m}\nentry_point: a.py\n%s\n",
			       bad[i].yaml);
		err = parse_bad(doc.ptr, doc.len);
		if (!has_message(err, bad[i].message)) {
			fail_msg("'%s': got '%s', want '%s'", bad[i].yaml, err->message,
				 bad[i].message);
		}
		moo_error_free(err);
		moo_buf_dispose(&doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_example),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_hostile_bytes),
		cmocka_unit_test(test_merge_and_aliases),
		cmocka_unit_test(test_warning_near_known_param),
		cmocka_unit_test(test_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
