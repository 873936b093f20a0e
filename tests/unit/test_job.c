/* job.c: metric lines, and the supervisor command line quoting hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "internal.h"

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

/* The one quoting function: whatever goes in comes out of sh unchanged. */
static void test_shquote_roundtrip(void **state)
{
	static const char *const hostile[] = {
		"plain",      "it's",      "$(touch /tmp/moo-pwned)",
		"`id`",       "a b\tc\nd", "\\",
		"'",          "''",        "--flag",
		"*",          "",          "\"quoted\"",
		"; rm -rf /", "é ü 日本",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
		FILE *p;
		char chunk[256];
		size_t n;

		moo_buf_puts(&cmd, "printf '%s' ");
		moo_buf_shquote(&cmd, hostile[i]);
		p = popen(cmd.ptr, "r");
		assert_non_null(p);
		while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
			moo_buf_add(&out, chunk, n);
		}
		assert_int_equal(pclose(p), 0);
		assert_string_equal(out.ptr ? out.ptr : "", hostile[i]);
		moo_buf_dispose(&cmd);
		moo_buf_dispose(&out);
	}
	assert_int_equal(access("/tmp/moo-pwned", F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_shquote_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
