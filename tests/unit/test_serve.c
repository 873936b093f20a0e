/*
 * serve.c: the one function that turns a job's runtime command and lock into the command a
 * predictor worker runs under (host runtime and a container, what belongs to training only
 * left out), and what a job without a result or a predictor gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "internal.h"

static char dir[] = "/tmp/moo-test-serve-XXXXXX";

static int setup(void **state)
{
	char *p;
	FILE *f;

	if (!mkdtemp(dir)) {
		return -1;
	}
	p = moo__printf("%s/work", dir);
	mkdir(p, 0755);
	free(p);
	p = moo__printf("%s/work/metadata.yaml", dir);
	f = fopen(p, "w");
	fputs("framework: {name: sklearn, version: \"1.2\", runtime: python3}\n"
	      "model: {name: m1, version: \"2\"}\nentry_point: train.py\n"
	      "inference: {entry_point: predict.py}\n",
	      f);
	fclose(f);
	free(p);
	p = moo__printf("%s/work/train.py", dir);
	fclose(fopen(p, "w"));
	free(p);
	p = moo__printf("%s/work/predict.py", dir);
	fclose(fopen(p, "w"));
	free(p);
	/* an empty result, as its manifest says (serve checks the result against it) */
	p = moo__printf("%s/out", dir);
	mkdir(p, 0755);
	free(p);
	p = moo__printf("%s/MANIFEST.sha256", dir);
	fclose(fopen(p, "w"));
	free(p);
	return 0;
}

static int teardown(void **state)
{
	char *cmd = moo__printf("rm -rf '%s'", dir);
	int r = system(cmd);

	free(cmd);
	return r == 0 ? 0 : -1;
}

static void job_init(struct moo_job *j, const char *command)
{
	memset(j, 0, sizeof(*j));
	j->id = "moo-job-abc123";
	j->dir = dir;
	j->status = MOO_JOB_SUCCEEDED;
	j->result_path = moo__printf("%s/out", dir);
	j->command = (char *)command;
}

static void host_runtime(void **state)
{
	struct moo_serve_model *m = NULL;
	struct moo_job j;

	job_init(&j, "env 'MOO_JOB_ID=moo-job-abc123' 'MOO_OUTPUT_DIR=/x/out' 'TF_LOG=2' "
		     "'/usr/bin/python3' '-u' 'train.py' '--alpha' '0.5'");
	assert_int_equal(moo_serve_model_from_job(&m, &j, NULL), 0);
	assert_string_equal(m->command, "'env' 'TF_LOG=2' '/usr/bin/python3'");
	assert_string_equal(m->model_dir, j.result_path);
	assert_string_equal(m->entry_point, "predict.py");
	assert_string_equal(m->name, "m1");
	assert_string_equal(m->version, "2");
	assert_null(m->host);
	moo_serve_model_free(m);
	free(j.result_path);
}

static void container_runtime(void **state)
{
	struct moo_serve_model *m = NULL;
	struct moo_job j;

	job_init(&j, "podman --root /st run --rm --init --name moo-job-abc123 --network host "
		     "-v /j:/j -w /j/work -e MOO_JOB_ID=moo-job-abc123 -e A=b "
		     "'img@sha256:0123' python3 -u train.py --alpha 0.5");
	assert_int_equal(moo_serve_model_from_job(&m, &j, NULL), 0);
	assert_string_equal(m->command, "'podman' '--root' '/st' 'run' -i '--rm' '--init' "
					"'--network' 'host' '-v' '/j:/j' '-w' '/j/work' '-e' "
					"'A=b' 'img@sha256:0123' 'python3'");
	moo_serve_model_free(m);
	free(j.result_path);
}

static void no_result(void **state)
{
	struct moo_serve_model *m = NULL;
	struct moo_error *err = NULL;
	struct moo_job j;

	job_init(&j, "env '/usr/bin/python3' '-u' 'train.py'");
	j.status = MOO_JOB_FAILED;
	assert_int_equal(moo_serve_model_from_job(&m, &j, &err), MOO_EJOB);
	assert_null(m);
	assert_non_null(strstr(err->message, "has no result"));
	moo_error_free(err);
	free(j.result_path);
}

static void unknown_interpreter(void **state)
{
	struct moo_serve_model *m = NULL;
	struct moo_error *err = NULL;
	struct moo_job j;

	job_init(&j, "sh -c 'something else'");
	assert_int_equal(moo_serve_model_from_job(&m, &j, &err), MOO_EJOB);
	assert_null(m);
	moo_error_free(err);
	free(j.result_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_runtime),
		cmocka_unit_test(container_runtime),
		cmocka_unit_test(no_result),
		cmocka_unit_test(unknown_interpreter),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
