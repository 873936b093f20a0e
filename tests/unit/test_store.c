/* store.c: schema, add/get/update/list/remove, lookups by prefix and name, concurrency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "internal.h"

static char dir[] = "/tmp/moo-test-store.XXXXXX";
static char db[128];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(db, sizeof(db), "%s/sub/moo.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	moo__rm_rf(dir);
	return 0;
}

static struct moo_job make_job(const char *id, const char *name)
{
	struct moo_job j;

	memset(&j, 0, sizeof(j));
	j.id = (char *)id;
	j.name = (char *)name;
	j.source = (char *)"examples/x";
	j.host = (char *)"local";
	j.dir = (char *)"/tmp/x";
	j.status = MOO_JOB_QUEUED;
	j.exit_code = -1;
	return j;
}

static void test_open_migrates(void **state)
{
	struct moo_store *st = NULL;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_schema_version(st), 3);
	moo_store_close(st);
	/* Opening again applies nothing and keeps the version. */
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_schema_version(st), 3);
	moo_store_close(st);
}

static void test_newer_schema_refused(void **state)
{
	char path[160];
	struct moo_store *st = NULL;
	struct moo_error *err = NULL;
	char cmd[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/newer.db", dir);
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA user_version = 99'", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(moo_store_open(&st, path, &err), MOO_ESTORE);
	assert_null(st);
	assert_non_null(strstr(err->message, "schema version 99"));
	moo_error_free(err);
}

static void test_add_get_update(void **state)
{
	struct moo_store *st = NULL;
	struct moo_job j = make_job("moo-job-abc123", "first"), *got = NULL;
	struct moo_metric m[2] = {{(char *)"mae", 3.27, 10, false}, {(char *)"r2", 0.5, -1, true}};
	struct moo_error *err = NULL;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_add_job(st, &j, NULL), 0);
	assert_int_equal(moo_store_add_job(st, &j, &err), MOO_EEXIST);
	moo_error_free(err);
	err = NULL;

	j.status = MOO_JOB_FAILED;
	j.signal = 9;
	j.metrics = m;
	j.n_metrics = 2;
	j.command = (char *)"env 'A=b' python3 -u train.py";
	assert_int_equal(moo_store_update_job(st, &j, NULL), 0);

	assert_int_equal(moo_store_get_job(st, "moo-job-abc123", &got, NULL), 0);
	assert_string_equal(got->name, "first");
	assert_int_equal(got->status, MOO_JOB_FAILED);
	assert_int_equal(got->signal, 9);
	assert_int_equal(got->exit_code, -1);
	assert_string_equal(got->command, "env 'A=b' python3 -u train.py");
	assert_int_equal(got->n_metrics, 2);
	assert_string_equal(got->metrics[0].name, "mae");
	assert_true(got->metrics[0].value == 3.27);
	assert_int_equal(got->metrics[0].step, 10);
	assert_int_equal(got->metrics[1].step, -1);
	assert_true(got->metrics[1].from_file);
	moo_job_free(got);
	got = NULL;

	/* A prefix, with or without "moo-job-", and the name. */
	assert_int_equal(moo_store_get_job(st, "abc", &got, NULL), 0);
	moo_job_free(got);
	assert_int_equal(moo_store_get_job(st, "moo-job-ab", &got, NULL), 0);
	moo_job_free(got);
	assert_int_equal(moo_store_get_job(st, "first", &got, NULL), 0);
	moo_job_free(got);
	got = NULL;
	assert_int_equal(moo_store_get_job(st, "nope", &got, &err), MOO_ENOTFOUND);
	assert_null(got);
	moo_error_free(err);
	err = NULL;
	/* '%' and '_' are not wildcards. */
	assert_int_equal(moo_store_get_job(st, "a%_", &got, &err), MOO_ENOTFOUND);
	moo_error_free(err);
	moo_store_close(st);
}

static void test_ambiguous_prefix(void **state)
{
	struct moo_store *st = NULL;
	struct moo_job a = make_job("moo-job-zzz111", NULL), b = make_job("moo-job-zzz222", NULL);
	struct moo_job *got = NULL;
	struct moo_error *err = NULL;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_add_job(st, &a, NULL), 0);
	assert_int_equal(moo_store_add_job(st, &b, NULL), 0);
	assert_int_equal(moo_store_get_job(st, "zzz", &got, &err), MOO_EARG);
	assert_null(got);
	assert_non_null(strstr(err->message, "more than one job"));
	moo_error_free(err);
	assert_int_equal(moo_store_get_job(st, "zzz2", &got, NULL), 0);
	assert_string_equal(got->id, "moo-job-zzz222");
	moo_job_free(got);
	moo_store_close(st);
}

static void test_list_filter_remove(void **state)
{
	struct moo_store *st = NULL;
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	f.status_mask = 1u << MOO_JOB_FAILED;
	assert_int_equal(moo_store_list_jobs(st, &f, &jobs, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(jobs[0]->id, "moo-job-abc123");
	moo_jobs_free(jobs, n);
	f.status_mask = 0;
	f.name = "first";
	assert_int_equal(moo_store_list_jobs(st, &f, &jobs, &n, NULL), 0);
	assert_int_equal(n, 1);
	moo_jobs_free(jobs, n);
	assert_int_equal(moo_store_remove_job(st, "moo-job-abc123", NULL), 0);
	assert_int_equal(moo_store_remove_job(st, "moo-job-abc123", NULL), MOO_ENOTFOUND);
	f.name = NULL;
	assert_int_equal(moo_store_list_jobs(st, &f, &jobs, &n, NULL), 0);
	assert_int_equal(n, 2);
	moo_jobs_free(jobs, n);
	moo_store_close(st);
}

static void test_cache(void **state)
{
	struct moo_store *st = NULL;
	struct moo_buf v = MOO_BUF_INIT;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_cache_get(st, "k", 60, &v, NULL), MOO_ENOTFOUND);
	assert_int_equal(moo_store_cache_put(st, "k", "/usr/bin/python3\t3.11.2", NULL), 0);
	assert_int_equal(moo_store_cache_get(st, "k", 60, &v, NULL), 0);
	assert_string_equal(v.ptr, "/usr/bin/python3\t3.11.2");
	moo_buf_reset(&v);
	assert_int_equal(moo_store_cache_get(st, "k", -1, &v, NULL), MOO_ENOTFOUND);
	moo_buf_dispose(&v);
	moo_store_close(st);
}

/* Writers in many processes at once: every record lands. */
static void test_concurrent_writers(void **state)
{
	char path[160];
	struct moo_store *st = NULL;
	struct moo_job **jobs = NULL;
	size_t n = 0;
	int i, status;

	(void)state;
	snprintf(path, sizeof(path), "%s/concurrent.db", dir);
	for (i = 0; i < 16; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct moo_store *s = NULL;
			int k, bad = 0;

			if (moo_store_open(&s, path, NULL)) {
				_exit(1);
			}
			for (k = 0; k < 10; k++) {
				char id[32];
				struct moo_job j;

				snprintf(id, sizeof(id), "moo-job-%02d%04d", i, k);
				j = make_job(id, NULL);
				bad |= moo_store_add_job(s, &j, NULL) != 0;
				j.status = MOO_JOB_SUCCEEDED;
				bad |= moo_store_update_job(s, &j, NULL) != 0;
			}
			moo_store_close(s);
			_exit(bad);
		}
	}
	for (i = 0; i < 16; i++) {
		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(moo_store_open(&st, path, NULL), 0);
	assert_int_equal(moo_store_list_jobs(st, NULL, &jobs, &n, NULL), 0);
	assert_int_equal(n, 160);
	moo_jobs_free(jobs, n);
	moo_store_close(st);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(moo_job_status_name(MOO_JOB_CANCELLED), "cancelled");
	assert_int_equal(moo_job_status_parse("lost"), MOO_JOB_LOST);
	assert_int_equal(moo_job_status_parse("done"), -1);
	assert_false(moo_job_status_done(MOO_JOB_RUNNING));
	assert_true(moo_job_status_done(MOO_JOB_LOST));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_migrates),
		cmocka_unit_test(test_newer_schema_refused),
		cmocka_unit_test(test_add_get_update),
		cmocka_unit_test(test_ambiguous_prefix),
		cmocka_unit_test(test_list_filter_remove),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_concurrent_writers),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
