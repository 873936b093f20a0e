/* store.c: schema, add/get/update/list/remove, lookups by prefix and name, concurrency,
 * host facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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
	assert_int_equal(moo_store_schema_version(st), 7);
	moo_store_close(st);
	/* Opening again applies nothing and keeps the version. */
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_schema_version(st), 7);
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

	assert_int_equal(moo_store_get_job(&got, st, "moo-job-abc123", NULL), 0);
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
	assert_int_equal(moo_store_get_job(&got, st, "abc", NULL), 0);
	moo_job_free(got);
	assert_int_equal(moo_store_get_job(&got, st, "moo-job-ab", NULL), 0);
	moo_job_free(got);
	assert_int_equal(moo_store_get_job(&got, st, "first", NULL), 0);
	moo_job_free(got);
	got = NULL;
	assert_int_equal(moo_store_get_job(&got, st, "nope", &err), MOO_ENOTFOUND);
	assert_null(got);
	moo_error_free(err);
	err = NULL;
	/* '%' and '_' are not wildcards. */
	assert_int_equal(moo_store_get_job(&got, st, "a%_", &err), MOO_ENOTFOUND);
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
	assert_int_equal(moo_store_get_job(&got, st, "zzz", &err), MOO_EARG);
	assert_null(got);
	assert_non_null(strstr(err->message, "more than one job"));
	moo_error_free(err);
	assert_int_equal(moo_store_get_job(&got, st, "zzz2", NULL), 0);
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
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, &f, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(jobs[0]->id, "moo-job-abc123");
	moo_jobs_free(jobs, n);
	f.status_mask = 0;
	f.name = "first";
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, &f, NULL), 0);
	assert_int_equal(n, 1);
	moo_jobs_free(jobs, n);
	assert_int_equal(moo_store_remove_job(st, "moo-job-abc123", NULL), 0);
	assert_int_equal(moo_store_remove_job(st, "moo-job-abc123", NULL), MOO_ENOTFOUND);
	f.name = NULL;
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, &f, NULL), 0);
	assert_int_equal(n, 2);
	moo_jobs_free(jobs, n);
	f.host = "local"; /* every job of make_job runs there */
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, &f, NULL), 0);
	assert_int_equal(n, 2);
	moo_jobs_free(jobs, n);
	f.host = "gpu1";
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, &f, NULL), 0);
	assert_int_equal(n, 0);
	moo_jobs_free(jobs, n);
	moo_store_close(st);
}

static void test_cache(void **state)
{
	struct moo_store *st = NULL;
	struct moo_buf v = MOO_BUF_INIT;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo__store_cache_get(st, "k", 60, &v, NULL), MOO_ENOTFOUND);
	assert_int_equal(moo__store_cache_put(st, "k", "/usr/bin/python3\t3.11.2", NULL), 0);
	assert_int_equal(moo__store_cache_get(st, "k", 60, &v, NULL), 0);
	assert_string_equal(v.ptr, "/usr/bin/python3\t3.11.2");
	moo_buf_reset(&v);
	assert_int_equal(moo__store_cache_get(st, "k", -1, &v, NULL), MOO_ENOTFOUND);
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
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, NULL, NULL), 0);
	assert_int_equal(n, 160);
	moo_jobs_free(jobs, n);
	moo_store_close(st);
}

/* Frames in the store's WAL, as a new connection sees them (the sqlite3 program). */
static int wal_frames(const char *path)
{
	char cmd[256];
	int busy = -1, frames = -1, done = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'PRAGMA wal_checkpoint(PASSIVE)'", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d|%d|%d", &busy, &frames, &done), 3);
	pclose(f);
	return frames;
}

/* What moo_store_idle is for: the next process finds a short WAL to read. */
static void test_idle_folds_the_wal(void **state)
{
	char path[160], id[32];
	int i, with_idle = -1, without = -1;

	(void)state;
	for (int idle = 0; idle < 2; idle++) {
		struct moo_store *st = NULL;

		snprintf(path, sizeof(path), "%s/wal%d.db", dir, idle);
		assert_int_equal(moo_store_open(&st, path, NULL), 0);
		for (i = 0; i < 20; i++) {
			struct moo_job j;

			snprintf(id, sizeof(id), "moo-job-w%05d", i);
			j = make_job(id, NULL);
			assert_int_equal(moo_store_add_job(st, &j, NULL), 0);
		}
		if (idle) {
			moo_store_idle(st);
		}
		{
			struct moo_job j = make_job("moo-job-last00", NULL);

			assert_int_equal(moo_store_add_job(st, &j, NULL), 0);
		}
		moo_store_close(st);
		if (idle) {
			with_idle = wal_frames(path);
		} else {
			without = wal_frames(path);
		}
	}
	/* 21 commits leave dozens of frames; after idle only the last commit's are left. */
	assert_true(without >= 21);
	assert_true(with_idle > 0 && with_idle <= 8);
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

static const char facts_json[] =
	"{\"host_key\": {\"address\": \"root@10.0.0.2:22\", \"type\": \"ssh-ed25519\","
	" \"fingerprint\": \"SHA256:abc\", \"known_hosts\": \"/kh\", \"added\": false},"
	" \"connect_seconds\": 0.025, \"auth_seconds\": 0.007, \"probe_seconds\": 0.1,"
	" \"os\": {\"id\": \"debian\", \"version\": \"12\", \"name\": \"Debian 12\","
	" \"kernel\": \"6.1.0\"}, \"arch\": \"x86_64\", \"cpus\": 16,"
	" \"memory\": {\"total\": 137438953472, \"available\": 100},"
	" \"disk\": {\"root\": \"/root/.moo\", \"free\": 68719476736},"
	" \"driver_version\": \"580.65\", \"cuda_version\": \"13.0\","
	" \"gpus\": [{\"index\": 0, \"name\": \"NVIDIA H100 80GB HBM3\", \"uuid\": \"GPU-1\","
	" \"memory_total_mib\": 81559, \"memory_used_mib\": 0, \"driver\": \"580.65\","
	" \"compute_cap\": \"9.0\"}], \"npu_smi_version\": null, \"npus\": [],"
	" \"engines\": [{\"name\": \"podman\", \"version\": \"4.3.1\"}],"
	" \"pythons\": [{\"path\": \"/usr/bin/python3.11\", \"version\": \"3.11.2\"}]}";

static void test_host_facts(void **state)
{
	struct moo_store *st = NULL;
	struct moo_host_facts *f = NULL;
	struct moo_host_seen h = {0}, *v = NULL;
	struct moo_error *err = NULL;
	size_t n = 0;
	double t0 = (double)time(NULL) - 1;

	(void)state;
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	/* never checked: not found, and no error to print */
	assert_int_equal(moo_store_get_host_facts(&h, st, "gpu1", &err), MOO_ENOTFOUND);
	assert_null(err);
	assert_int_equal(moo_host_facts_from_json(&f, facts_json, NULL), 0);
	assert_int_equal(moo_store_put_host_facts(st, "gpu1", f, NULL), 0);
	f->cpus = 2; /* a second host, and a re-check of the first replaces it */
	assert_int_equal(moo_store_put_host_facts(st, "cpu1", f, NULL), 0);
	f->cpus = 32;
	assert_int_equal(moo_store_put_host_facts(st, "gpu1", f, NULL), 0);
	moo_host_facts_free(f);
	moo_store_close(st);

	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(moo_store_get_host_facts(&h, st, "gpu1", NULL), 0);
	assert_string_equal(h.name, "gpu1");
	assert_true(h.checked >= t0 && h.checked < t0 + 60);
	assert_int_equal(h.facts->cpus, 32);
	assert_string_equal(h.facts->arch, "x86_64");
	assert_string_equal(h.facts->os_id, "debian");
	assert_true(h.facts->mem_total == 137438953472ull);
	assert_true(h.facts->disk_free == 68719476736ull);
	assert_string_equal(h.facts->key.fingerprint, "SHA256:abc");
	assert_int_equal(h.facts->n_gpus, 1);
	assert_string_equal(h.facts->gpus[0].name, "NVIDIA H100 80GB HBM3");
	assert_int_equal(h.facts->gpus[0].memory_total_mib, 81559);
	assert_string_equal(h.facts->gpus[0].compute_cap, "9.0");
	assert_string_equal(h.facts->cuda_version, "13.0");
	assert_int_equal(h.facts->n_npus, 0);
	assert_int_equal(h.facts->n_engines, 1);
	assert_string_equal(h.facts->engines[0].name, "podman");
	assert_int_equal(h.facts->n_pythons, 1);
	assert_string_equal(h.facts->pythons[0].version, "3.11.2");
	moo_host_seen_dispose(&h);
	moo_host_seen_dispose(&h); /* twice: a disposed value is empty */

	assert_int_equal(moo_store_list_hosts(&v, &n, st, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "cpu1");
	assert_int_equal(v[0].facts->cpus, 2);
	assert_string_equal(v[1].name, "gpu1");
	moo_host_seen_free(v, n);
	moo_store_close(st);
}

static void test_host_facts_corrupt(void **state)
{
	char cmd[512];
	struct moo_store *st = NULL;
	struct moo_host_seen h = {0};
	struct moo_host_facts *f = NULL;
	struct moo_error *err = NULL;

	(void)state;
	/* a row someone broke by hand: a clear error, no crash */
	snprintf(cmd, sizeof(cmd),
		 "sqlite3 '%s' \"INSERT OR REPLACE INTO hosts VALUES ('bad', '[1, 2', NULL, 1)\"",
		 db);
	assert_int_equal(moo_store_open(&st, db, NULL), 0);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(moo_store_get_host_facts(&h, st, "bad", &err), MOO_EIO);
	assert_non_null(err);
	assert_non_null(strstr(err->message, "not a JSON object"));
	assert_non_null(err->hint);
	moo_error_free(err);
	moo_store_close(st);
	/* JSON of the wrong shape reads as unknown facts */
	assert_int_equal(moo_host_facts_from_json(&f, "{\"cpus\": \"many\", \"gpus\": 3}", NULL),
			 0);
	assert_int_equal(f->cpus, 0);
	assert_int_equal(f->n_gpus, 0);
	assert_null(f->arch);
	moo_host_facts_free(f);
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
		cmocka_unit_test(test_idle_folds_the_wal),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_host_facts),
		cmocka_unit_test(test_host_facts_corrupt),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
