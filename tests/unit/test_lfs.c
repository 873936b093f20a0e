/* Unit tests: libmoo/lfs.c (Git LFS pointers; the batch API is tested in publish-lfs.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "../../libmoo/lfs.h"

/* What `git lfs pointer --file=F` (git-lfs 3.3) prints for a file holding "hello\n". */
static const char hello[] =
	"version https://git-lfs.github.com/spec/v1\n"
	"oid sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n"
	"size 6\n";

static void test_pointer_bytes(void **state)
{
	struct moo_buf b = MOO_BUF_INIT;
	char oid[MOO__SHA256_HEX];

	(void)state;
	moo__sha256_buf("hello\n", 6, oid);
	moo__lfs_pointer(&b, oid, 6);
	assert_int_equal(b.len, strlen(hello));
	assert_memory_equal(b.ptr, hello, b.len);
	moo_buf_dispose(&b);
}

static void test_pointer_parse(void **state)
{
	char oid[MOO__SHA256_HEX];
	uint64_t size = 0;

	(void)state;
	assert_true(moo__lfs_pointer_parse(hello, strlen(hello), oid, &size));
	assert_string_equal(oid,
			    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	assert_int_equal(size, 6);
}

static void test_pointer_hostile(void **state)
{
	static const char *const bad[] = {
		"", /* empty */
		"version https://git-lfs.github.com/spec/v2\noid "
		"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\nsize 6\n",
		"version https://git-lfs.github.com/spec/v1\noid "
		"sha256:5891B5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\nsize 6\n",
		"version https://git-lfs.github.com/spec/v1\noid "
		"sha256:../../../etc/passwd0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\nsize "
		"6\n",
		"version https://git-lfs.github.com/spec/v1\noid "
		"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\nsize "
		"-6\n",
		"version https://git-lfs.github.com/spec/v1\noid "
		"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\nsize 6",
		"version https://git-lfs.github.com/spec/v1\noid "
		"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\nsize "
		"6x\n",
	};
	char oid[MOO__SHA256_HEX];
	uint64_t size;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(moo__lfs_pointer_parse(bad[i], strlen(bad[i]), oid, &size));
	}
	/* a NUL inside */
	assert_false(moo__lfs_pointer_parse(hello, strlen(hello) + 1, oid, &size));
}

static void test_origin(void **state)
{
	char *o;

	(void)state;
	o = moo__lfs_origin("https://alice:pw@git.example.com:8443/team/models.git/info/lfs");
	assert_string_equal(o, "https://git.example.com:8443");
	free(o);
	o = moo__lfs_origin("http://127.0.0.1:9/x");
	assert_string_equal(o, "http://127.0.0.1:9");
	free(o);
	assert_null(moo__lfs_origin("ssh://git@example.com/x"));
	assert_null(moo__lfs_origin("/srv/models.git"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pointer_bytes),
		cmocka_unit_test(test_pointer_parse),
		cmocka_unit_test(test_pointer_hostile),
		cmocka_unit_test(test_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
