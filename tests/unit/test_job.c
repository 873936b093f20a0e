/* job.c: metric lines and their last values, and the supervisor command line quoting hostile
 * values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "internal.h"
#include "job.h"
#include "transport.h"

static void test_metrics(void **state)
{
	struct moo_job j;
	const char log[] = "epoch 1\n"
			   "moo:metric mae=3.27 step=10\n"
			   "moo:metric loss=0.5 acc=0.91\r\n"
			   "  moo:metric ignored=1\n"
			   "moo:metric bad=abc nan=nan inf=inf =3 ok=1e-3\n"
			   "moo:metric last=7";

	(void)state;
	memset(&j, 0, sizeof(j));
	moo_job_parse_metrics(&j, log, strlen(log));
	assert_int_equal(j.n_metrics, 5);
	assert_string_equal(j.metrics[0].name, "mae");
	assert_true(j.metrics[0].value == 3.27);
	assert_int_equal(j.metrics[0].step, 10);
	assert_string_equal(j.metrics[1].name, "loss");
	assert_int_equal(j.metrics[1].step, -1);
	assert_string_equal(j.metrics[2].name, "acc");
	assert_true(j.metrics[2].value == 0.91);
	assert_string_equal(j.metrics[3].name, "ok");
	assert_string_equal(j.metrics[4].name, "last");
	j.id = NULL;
	{
		size_t i;

		for (i = 0; i < j.n_metrics; i++) {
			free(j.metrics[i].name);
		}
		free(j.metrics);
	}
}

/* The last value of each metric, in first-seen order, at most max of them. */
static void test_final_metrics(void **state)
{
	struct moo_metric m[] = {
		{"loss", 1, 1, false}, {"acc", 0.5, 1, false}, {"loss", 0.5, 2, false},
		{"mae", 3, -1, false}, {"acc", 0.9, 2, false},
	};
	const struct moo_metric *fm[4];
	struct moo_job j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.metrics = m;
	j.n_metrics = sizeof(m) / sizeof(m[0]);
	assert_int_equal(moo_job_final_metrics(fm, 4, &j), 3);
	assert_ptr_equal(fm[0], &m[2]);
	assert_ptr_equal(fm[1], &m[4]);
	assert_ptr_equal(fm[2], &m[3]);
	assert_int_equal(moo_job_final_metrics(fm, 1, &j), 1);
	assert_ptr_equal(fm[0], &m[2]);
	j.n_metrics = 0;
	assert_int_equal(moo_job_final_metrics(fm, 4, &j), 0);
}

static void count_warning(const struct moo_error *w, void *data)
{
	assert_int_equal(w->severity, MOO_SEV_WARNING);
	(*(int *)data)++;
}

/* A step out of range (UBSan's float-cast-overflow before) refuses its line, with a warning. */
static void test_metric_steps(void **state)
{
	struct moo_job j;
	const char log[] = "moo:metric loss=1 step=1e30\n"
			   "moo:metric loss=2 step=-1\n"
			   "moo:metric loss=3 step=1.5\n"
			   "moo:metric loss=4 step=nan\n"
			   "moo:metric loss=6 step=9007199254740992\n"
			   "moo:metric loss=7 step=0\n";
	int warnings = 0;
	size_t i;

	(void)state;
	memset(&j, 0, sizeof(j));
	moo_set_warning_cb(count_warning, &warnings);
	moo_job_parse_metrics(&j, log, strlen(log));
	moo_set_warning_cb(NULL, NULL);
	assert_int_equal(warnings, 4);
	assert_int_equal(j.n_metrics, 2);
	assert_true(j.metrics[0].value == 6);
	assert_true(j.metrics[0].step == 9007199254740992LL);
	assert_true(j.metrics[1].value == 7);
	assert_int_equal(j.metrics[1].step, 0);
	for (i = 0; i < j.n_metrics; i++) {
		free(j.metrics[i].name);
	}
	free(j.metrics);
}

/* "up:" times count from the btime= the text names (a Slurm compute node's boot), else
 * from the host's own boot. */
static void test_up_times(void **state)
{
	struct moo__transport *t = NULL;
	struct moo_buf b = MOO_BUF_INIT;
	double host = 0, x;
	const char *p;

	(void)state;
	assert_int_equal(moo__transport_local_open(&t, NULL), 0);
	/* the boot on this machine's clock: now less /proc/uptime (to a hundredth of a second),
	 * within a second of /proc/stat's btime (whole seconds) */
	assert_int_equal(moo__read_file("/proc/stat", 1 << 20, &b, NULL), 0);
	p = strstr(b.ptr, "\nbtime ");
	assert_non_null(p);
	host = strtod(p + 7, NULL);
	x = moo__kv_time(t, "code=0\nended=up:10.5\nrun=0\nbtime=1000000000\n", "ended");
	assert_true(x == 1000000010.5);
	x = moo__kv_time(t, "code=0\nended=up:10.5\nrun=0\nbtime=\n", "ended");
	assert_true(x > host + 10.5 - 1.1 && x < host + 10.5 + 1.1);
	x = moo__kv_time(t, "ended=up:10.5\nbtime=99999999999999999\n", "ended");
	assert_true(x > host + 10.5 - 1.1 && x < host + 10.5 + 1.1); /* not a time: the host's */
	moo_buf_dispose(&b);
	moo__transport_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metric_steps),
		cmocka_unit_test(test_final_metrics),
		cmocka_unit_test(test_up_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
