/* Unit tests of libmoo/bundle.c, pack.c and util/hash.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include "../../libmoo/internal.h"

static const char meta[] = "framework:\n  name: sklearn\n  version: '1.2'\n  runtime: python3\n"
			   "model:\n  name: m\nentry_point: train.py\n";

static char tmp[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/moo-unit.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return moo__rm_rf(tmp);
}

static void put(const char *rel, const char *data)
{
	char *p = moo__path_join(tmp, rel);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(data, f);
	fclose(f);
	free(p);
}

static void test_sha256(void **state)
{
	char hex[MOO__SHA256_HEX];

	(void)state;
	moo__sha256_buf("abc", 3, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(moo__is_sha256_hex(hex));
	assert_false(moo__is_sha256_hex("BA7816BF"));
	moo__hex("\x01\xff", 2, hex);
	assert_string_equal(hex, "01ff");
}

static void test_ignore(void **state)
{
	const char *rules = "# comment\n\n*.log\n!keep.log\nbuild/\n/top.txt\ndocs/**/*.md\n"
			    "data/[ab]?.csv\n";
	struct moo__ignore *ig = moo__ignore_parse(rules, strlen(rules));

	(void)state;
	assert_true(moo__ignore_match(ig, "x.log", false));
	assert_true(moo__ignore_match(ig, "deep/er/x.log", false));
	assert_false(moo__ignore_match(ig, "keep.log", false));
	assert_true(moo__ignore_match(ig, "a/build", true));
	assert_false(moo__ignore_match(ig, "a/build", false)); /* build/ matches folders only */
	assert_true(moo__ignore_match(ig, "top.txt", false));
	assert_false(moo__ignore_match(ig, "sub/top.txt", false)); /* anchored */
	assert_true(moo__ignore_match(ig, "docs/a.md", false));
	assert_true(moo__ignore_match(ig, "docs/x/y/a.md", false));
	assert_true(moo__ignore_match(ig, "data/a1.csv", false));
	assert_false(moo__ignore_match(ig, "data/c1.csv", false));
	assert_false(moo__ignore_match(ig, "train.py", false));
	moo__ignore_free(ig);
	moo__ignore_free(NULL);
}

static void make_project(void)
{
	char *d = moo__path_join(tmp, "p");

	assert_int_equal(mkdir(d, 0755), 0);
	free(d);
	put("p/metadata.yaml", meta);
	put("p/train.py", "print(1)\n");
}

static void test_pack_open_extract(void **state)
{
	struct moo_pack_result res, res2;
	struct moo_bundle *b = NULL;
	struct moo_error *err = NULL;
	char *dir = moo__path_join(tmp, "p"), *zip = moo__path_join(tmp, "p.zip");
	char *zip2 = moo__path_join(tmp, "p2.zip"), *dest = moo__path_join(tmp, "out/work");
	char *f = moo__path_join(tmp, "out/work/train.py");
	struct stat st;

	(void)state;
	make_project();
	assert_int_equal(moo_pack(&res, dir, zip, NULL, &err), 0);
	assert_null(err);
	assert_int_equal(res.n_files, 2);
	put("p/train.py", "print(1)\n"); /* a new mtime */
	assert_int_equal(moo_pack(&res2, dir, zip2, NULL, NULL), 0);
	assert_string_equal(res.sha256, res2.sha256);
	assert_int_equal(moo_bundle_open(&b, zip, NULL, &err), 0);
	assert_string_equal(b->sha256, res.sha256);
	assert_string_equal(b->prefix, "");
	assert_string_equal(b->spec->entry_point, "train.py");
	assert_int_equal(b->n_files, 2);
	assert_int_equal(moo_bundle_extract(b, dest, NULL, &err), 0);
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_size, 9);
	/* dest exists now: refused, and left as it is */
	assert_int_equal(moo_bundle_extract(b, dest, NULL, &err), MOO_EEXIST);
	assert_non_null(err);
	assert_int_equal(stat(f, &st), 0);
	moo_error_free(err);
	moo_bundle_free(b);
	moo_bundle_free(NULL);
	free(dir), free(zip), free(zip2), free(dest), free(f);
}

static void test_open_directory(void **state)
{
	struct moo_bundle_opts o = MOO_BUNDLE_OPTS_INIT;
	struct moo_bundle *b = NULL;
	char *dir, *zip;
	struct stat st;

	(void)state;
	make_project();
	dir = moo__path_join(tmp, "p");
	o.cache_dir = zip = moo__path_join(tmp, "cache");
	assert_int_equal(moo_bundle_open(&b, dir, &o, NULL), 0);
	assert_non_null(strstr(b->zip_path, b->sha256));
	assert_int_equal(stat(b->zip_path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, b->size);
	assert_null(b->owned_dir); /* in the cache: kept */
	moo_bundle_free(b);
	assert_int_equal(moo_bundle_open(&b, dir, NULL, NULL), 0);
	assert_non_null(b->owned_dir);
	free(zip);
	zip = moo__strdup(b->owned_dir);
	moo_bundle_free(b);
	assert_int_equal(stat(zip, &st), -1); /* a temporary folder goes with the bundle */
	free(dir), free(zip);
}

static char *slurp(const char *rel)
{
	char *p = moo__path_join(tmp, rel);
	struct moo_buf b = MOO_BUF_INIT;

	assert_int_equal(moo__read_file(p, 1 << 20, &b, NULL), 0);
	free(p);
	return moo_buf_detach(&b);
}

/* tmp/rel, in one of a few static buffers */
static const char *at(const char *rel)
{
	static char bufs[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(bufs[k], sizeof(bufs[k]), "%s/%s", tmp, rel);
	return bufs[k];
}

/*
 * A bundle opened from a folder is staged from the folder (no libarchive), each file
 * checked against what was packed: one changed since is taken from the ZIP instead, so the
 * staged tree is always the bundle its sha256 names.
 */
static void test_extract_packed_folder(void **state)
{
	struct moo_bundle *b = NULL;
	char *text;
	struct stat st;

	(void)state;
	make_project();
	assert_int_equal(mkdir(at("p/lib"), 0755), 0);
	put("p/lib/util.py", "X = 1\n");
	assert_int_equal(moo_bundle_open(&b, at("p"), NULL, NULL), 0);
	assert_non_null(b->packed);
	assert_int_equal(moo_bundle_extract(b, at("a"), NULL, NULL), 0);
	text = slurp("a/lib/util.py");
	assert_string_equal(text, "X = 1\n");
	free(text);
	text = slurp("a/metadata.yaml");
	assert_string_equal(text, meta);
	free(text);
	/* the same size, other bytes: the CRC tells */
	put("p/train.py", "print(2)\n");
	assert_int_equal(moo_bundle_extract(b, at("b"), NULL, NULL), 0);
	text = slurp("b/train.py");
	assert_string_equal(text, "print(1)\n");
	free(text);
	/* another size, and a file gone */
	put("p/train.py", "print('changed')\n");
	assert_int_equal(unlink(at("p/lib/util.py")), 0);
	assert_int_equal(moo_bundle_extract(b, at("c"), NULL, NULL), 0);
	text = slurp("c/train.py");
	assert_string_equal(text, "print(1)\n");
	free(text);
	assert_int_equal(stat(at("c/lib/util.py"), &st), 0);
	moo_bundle_free(b);
}

/* Writes a ZIP with libarchive; entries are (name, type, mode, data). */
static char *write_zip(const char *name, const char *const *entries, size_t n)
{
	char *path = moo__path_join(tmp, name);
	struct archive *a = archive_write_new();
	size_t i;

	archive_write_set_format_zip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i += 3) {
		struct archive_entry *e = archive_entry_new();
		const char *data = entries[i + 2];

		archive_entry_set_pathname(e, entries[i]);
		archive_entry_set_mode(e, (mode_t)strtol(entries[i + 1], NULL, 8));
		if (archive_entry_filetype(e) == AE_IFLNK) {
			archive_entry_set_symlink(e, data);
			data = "";
		}
		archive_entry_set_size(e, (la_int64_t)strlen(data));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		archive_write_data(a, data, strlen(data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

/* moo_bundle_extract enforces the rules on its own, even on a bundle never opened. */
static void test_extract_refuses(void **state)
{
	const char *const hostile[] = {
		"metadata.yaml", "100644", meta,   "train.py",      "100644", "x",
		"link",          "120777", "/tmp", "link/evil.txt", "100644", "pwned",
	};
	struct moo_bundle fake = {0};
	struct moo_error *err = NULL;
	char *dest = moo__path_join(tmp, "work"), *evil = moo__path_join(tmp, "evil.txt");
	struct stat st;

	(void)state;
	fake.zip_path = write_zip("h.zip", hostile, MOO_ARRAY_SIZE(hostile));
	fake.prefix = "";
	assert_int_equal(moo_bundle_extract(&fake, dest, NULL, &err), MOO_EBUNDLE);
	assert_non_null(err);
	assert_non_null(strstr(err->message, "entry 'link' refused: a symbolic link"));
	moo_error_free(err);
	err = NULL;
	assert_int_equal(stat(dest, &st), -1);
	free(fake.zip_path);
	/* the byte cap, counted while writing: nothing is left, staging folder included */
	{
		const char *const big[] = {
			"metadata.yaml", "100644", meta,
			"train.py",      "100644", "0123456789012345678901234567890123456789"};
		struct moo_bundle_opts o = MOO_BUNDLE_OPTS_INIT;
		o.max_bytes = sizeof(meta) + 10;
		fake.zip_path = write_zip("big.zip", big, MOO_ARRAY_SIZE(big));
		assert_int_equal(moo_bundle_extract(&fake, dest, &o, &err), MOO_EBUNDLE);
		assert_non_null(strstr(err->message, "cap"));
		moo_error_free(err);
		free(fake.zip_path);
	}
	assert_int_equal(stat(dest, &st), -1);
	assert_int_equal(stat(evil, &st), -1);
	{
		/* tmp holds the two ZIPs and nothing else: no staging folder */
		char *cmd = moo__printf("test $(ls -A %s | wc -l) = 2", tmp);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	free(dest), free(evil);
}

static void test_open_errors(void **state)
{
	struct moo_bundle_opts o = MOO_BUNDLE_OPTS_INIT;
	struct moo_bundle *b = (struct moo_bundle *)0x1;
	struct moo_error *err = NULL;
	char *dir;

	(void)state;
	assert_int_equal(moo_bundle_open(&b, "/nonexistent/x.zip", NULL, &err), MOO_ENOTFOUND);
	assert_ptr_equal(b, (struct moo_bundle *)0x1); /* untouched on failure */
	moo_error_free(err);
	err = NULL;
	make_project();
	dir = moo__path_join(tmp, "p");
	o.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(moo_bundle_open(&b, dir, &o, &err), MOO_EBUNDLE);
	assert_non_null(strstr(err->message, "sha256 mismatch"));
	moo_error_free(err);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_ignore),
		cmocka_unit_test_setup_teardown(test_pack_open_extract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_packed_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
