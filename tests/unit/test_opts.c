/* Each options struct's version: one this libmoo does not know (999) is refused by every
 * call that takes the struct, with MOO_EARG and an error that names the struct and the
 * version, before anything is done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <moo.h>

static char dir[] = "/tmp/moo-test-opts.XXXXXX";
static char db[160];
static struct moo_store *st;

static int setup(void **state)
{
	struct moo_error *err = NULL;

	(void)state;
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(db, sizeof(db), "%s/moo.db", dir);
	return moo_store_open(&st, db, &err);
}

static int teardown(void **state)
{
	char cmd[200];

	(void)state;
	moo_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* r and err are what a call with version 999 of struct type gave. */
static void refused(int r, struct moo_error *err, const char *type)
{
	char want[64];

	assert_int_equal(r, MOO_EARG);
	assert_non_null(err);
	snprintf(want, sizeof(want), "struct %s has version 999", type);
	if (!strstr(err->message, want)) {
		fail_msg("'%s' does not say '%s'", err->message, want);
	}
	assert_non_null(err->hint);
	assert_non_null(strstr(err->hint, "_INIT"));
	moo_error_free(err);
}

/* call is evaluated before err is read (a function's arguments have no order) */
#define REFUSED(call, type)               \
	do {                              \
		int r_ = (call);          \
		refused(r_, err, (type)); \
		err = NULL;               \
	} while (0)

static void test_bundle_pack(void **state)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_pack_opts po = MOO_PACK_OPTS_INIT;
	struct moo_pack_result pr;
	struct moo_bundle *b = NULL;
	struct moo_error *err = NULL;
	char zip[200];

	(void)state;
	bo.version = 999;
	REFUSED(moo_bundle_open(&b, dir, &bo, &err), "moo_bundle_opts");
	assert_null(b);
	po.version = 999;
	snprintf(zip, sizeof(zip), "%s/out.zip", dir);
	memset(&pr, 0, sizeof(pr));
	REFUSED(moo_pack(&pr, dir, zip, &po, &err), "moo_pack_opts");
	assert_int_equal(access(zip, F_OK), -1); /* nothing written */
	{
		struct moo_bundle fake;
		char dest[200];

		memset(&fake, 0, sizeof(fake));
		fake.zip_path = zip;
		snprintf(dest, sizeof(dest), "%s/extracted", dir);
		REFUSED(moo_bundle_extract(&fake, dest, &bo, &err), "moo_bundle_opts");
		assert_int_equal(access(dest, F_OK), -1);
	}
}

static void test_connect(void **state)
{
	struct moo_connect_opts o = MOO_CONNECT_OPTS_INIT;
	struct moo_host_facts *f = NULL;
	struct moo_host_key k;
	struct moo_error *err = NULL;

	(void)state;
	o.version = 999;
	memset(&k, 0, sizeof(k));
	REFUSED(moo_host_trust(&k, "nowhere.invalid", &o, &err), "moo_connect_opts");
	REFUSED(moo_host_probe(&f, NULL, "nowhere.invalid", NULL, &o, &err), "moo_connect_opts");
	assert_null(f);
}

static void test_plan_resolve_run(void **state)
{
	struct moo_plan_opts po = MOO_PLAN_OPTS_INIT;
	struct moo_resolve_opts ro = MOO_RESOLVE_OPTS_INIT;
	struct moo_run_opts run = MOO_RUN_OPTS_INIT;
	struct moo_bundle b;
	struct moo_plan *p = NULL;
	struct moo_job *j = NULL;
	struct moo_error *err = NULL;

	(void)state;
	memset(&b, 0, sizeof(b));
	po.version = 999;
	REFUSED(moo_plan_make(&p, &b, &po, &err), "moo_plan_opts");
	assert_null(p);
	ro.version = 999;
	REFUSED(moo_resolve(&p, NULL, NULL, &ro, &err), "moo_resolve_opts");
	run.version = 999;
	REFUSED(moo_job_start(&j, st, &b, &run, &err), "moo_run_opts");
	assert_null(j);
	{
		struct moo_slurm_opts sl = MOO_SLURM_OPTS_INIT;

		sl.version = 999;
		run.version = MOO_RUN_OPTS_VERSION;
		run.host = "slurm:nowhere.invalid";
		run.slurm = &sl;
		REFUSED(moo_job_start(&j, st, &b, &run, &err), "moo_slurm_opts");
		assert_null(j);
	}
}

static void test_store_sweep_publish_serve(void **state)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_sweep_opts so = MOO_SWEEP_OPTS_INIT;
	struct moo_publish_opts pub = MOO_PUBLISH_OPTS_INIT;
	struct moo_serve_opts sv = MOO_SERVE_OPTS_INIT;
	struct moo_serve_model m;
	struct moo_publication out;
	struct moo_server *server = NULL;
	struct moo_bundle b;
	struct moo_job job, **jobs = NULL;
	struct moo_error *err = NULL;
	char *id = NULL;
	size_t n = 0;

	(void)state;
	f.version = 999;
	REFUSED(moo_store_list_jobs(&jobs, &n, st, &f, &err), "moo_job_filter");
	memset(&b, 0, sizeof(b));
	so.version = 999;
	REFUSED(moo_sweep_run(&id, st, &b, &so, &err), "moo_sweep_opts");
	assert_null(id);
	REFUSED(moo_sweep_resume(st, "moo-sweep-none", &so, &err), "moo_sweep_opts");
	{
		struct moo_slurm_opts sl = MOO_SLURM_OPTS_INIT;

		sl.version = 999;
		so.version = MOO_SWEEP_OPTS_VERSION;
		so.slurm = &sl;
		REFUSED(moo_sweep_run(&id, st, &b, &so, &err), "moo_slurm_opts");
		assert_null(id);
		so.version = 999;
	}
	memset(&job, 0, sizeof(job));
	pub.version = 999;
	pub.repo = dir;
	memset(&out, 0, sizeof(out));
	REFUSED(moo_publish(&out, st, &job, &pub, &err), "moo_publish_opts");
	memset(&m, 0, sizeof(m));
	sv.version = 999;
	REFUSED(moo_server_start(&server, &m, &sv, &err), "moo_serve_opts");
	assert_null(server);
}

/* The versions this libmoo knows still work: version 1 of a struct now at 2 or more. */
static void test_older_version_accepted(void **state)
{
	struct moo_job_filter f = MOO_JOB_FILTER_INIT;
	struct moo_job **jobs = NULL;
	struct moo_error *err = NULL;
	size_t n = 0;

	(void)state;
	f.version = 1;
	assert_int_equal(moo_store_list_jobs(&jobs, &n, st, &f, &err), 0);
	assert_null(err);
	moo_jobs_free(jobs, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_pack),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_plan_resolve_run),
		cmocka_unit_test(test_store_sweep_publish_serve),
		cmocka_unit_test(test_older_version_accepted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
