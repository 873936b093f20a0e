/* Unit tests: libmoo/util (buffers, shell quoting, suggestions, path rules). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../libmoo/internal.h"

static void test_buf(void **state)
{
	struct moo_buf b = MOO_BUF_INIT;
	char *s;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		moo_buf_printf(&b, "%d,", i);
	}
	assert_int_equal(b.len, strlen(b.ptr));
	assert_memory_equal(b.ptr, "0,1,2,", 6);
	assert_string_equal(b.ptr + b.len - 4, "999,");
	moo_buf_reset(&b);
	assert_string_equal(b.ptr, "");
	moo_buf_puts(&b, "x");
	s = moo_buf_detach(&b);
	assert_string_equal(s, "x");
	assert_null(b.ptr);
	free(s);
	moo_buf_dispose(NULL);
}

/* The quoted word, run through a real sh, must come back byte for byte. */
static void test_shquote_roundtrip(void **state)
{
	static const char *const hostile[] = {
		"plain",       "it's",       "'",
		"''",          "a b",        "$(touch /tmp/moo-pwned)",
		"`id`",        "; rm -rf x", "-n",
		"--help",      "new\nline",  "tab\there",
		"back\\slash", "\"dq\"",     "*",
		"~",           "$HOME",      "!",
		"a'b'c",       "",           "\\",
		"a b\tc\nd",   "é ü 日本",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
		char chunk[256];
		size_t n;
		FILE *p;

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
	/* and nothing inside any of them ran */
	assert_int_equal(access("/tmp/moo-pwned", F_OK), -1);
}

static void test_suggest(void **state)
{
	static const char *const keys[] = {"name", "version", "runtime"};

	(void)state;
	assert_int_equal(moo__edit_distance("kitten", "sitting"), 3);
	assert_int_equal(moo__edit_distance("", "abc"), 3);
	assert_string_equal(moo__suggest("verison", keys, 3), "version");
	assert_string_equal(moo__suggest("runtim", keys, 3), "runtime");
	assert_null(moo__suggest("zzzzzz", keys, 3));
	assert_null(moo__suggest("name", keys, 3)); /* exact: nothing to suggest */
	assert_null(moo__suggest("ab", keys, 3));   /* too short to be a typo of anything */
}

static void test_safe_relative(void **state)
{
	static const char *const good[] = {"train.py", "src/train.py", "a/b/c", "training_result",
					   "out/",     ".hidden",      "a..b",  "..a"};
	static const char *const bad[] = {"",  "/abs", "../x", "a/../../b", "a/..",  "..",
					  ".", "./x",  "a//b", "a\\b",      "c:\\x", "new\nline"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(moo__path_is_safe_relative(good[i]));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (moo__path_is_safe_relative(bad[i])) {
			fail_msg("'%s' was accepted", bad[i]);
		}
	}
}

static void test_errors(void **state)
{
	struct moo_error *err = NULL;
	int r;

	(void)state;
	moo__error_add(&err, MOO_ESPEC, MOO_SEV_WARNING, "first %d", 1);
	r = moo__fail(&err, MOO_EIO, "second '%s'", "x");
	assert_int_equal(r, MOO_EIO);
	assert_int_equal(moo__error_code(err), MOO_EIO); /* the first error, not the warning */
	assert_string_equal(err->next->message, "second 'x'");
	assert_string_equal(moo_code_name(MOO_ESPEC), "spec");
	moo_error_free(err);
	moo_error_free(NULL);
	assert_null(moo__error_add(NULL, MOO_EIO, MOO_SEV_ERROR, "dropped"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),     cmocka_unit_test(test_shquote_roundtrip),
		cmocka_unit_test(test_suggest), cmocka_unit_test(test_safe_relative),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
