/* Unit tests: libmoo/config.c (config.yaml: the hosts inventory). */
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

static const char good[] = "hosts:\n"
			   "  gpu1:\n"
			   "    address: gpu1.example.org\n"
			   "    user: alice\n"
			   "    port: 2222\n"
			   "    key: ~/.ssh/id_ed25519\n"
			   "    known_hosts: /etc/moo/known_hosts\n"
			   "    root: /scratch/moo\n"
			   "    runtime: podman\n"
			   "    x-note: ours\n"
			   "  cpu2: {address: 10.0.0.7}\n"
			   "x-team: ml\n";

static void test_parse_good(void **state)
{
	struct moo_config *cfg = NULL;
	const struct moo_host_entry *h;

	(void)state;
	assert_int_equal(moo_config_parse(&cfg, good, strlen(good), "config.yaml", NULL), 0);
	assert_int_equal(cfg->n_hosts, 2);
	h = moo_config_host(cfg, "gpu1");
	assert_non_null(h);
	assert_string_equal(h->address, "gpu1.example.org");
	assert_string_equal(h->user, "alice");
	assert_int_equal(h->port, 2222);
	assert_string_equal(h->key, "~/.ssh/id_ed25519");
	assert_string_equal(h->known_hosts, "/etc/moo/known_hosts");
	assert_string_equal(h->root, "/scratch/moo");
	assert_string_equal(h->runtime, "podman");
	assert_int_equal(h->line, 2);
	h = moo_config_host(cfg, "cpu2");
	assert_non_null(h);
	assert_null(h->user);
	assert_int_equal(h->port, 0);
	assert_null(moo_config_host(cfg, "nope"));
	moo_config_free(cfg);
}

/* Every problem is reported with its place. */
static void test_errors(void **state)
{
	static const char bad[] = "hosts:\n"
				  "  gpu1:\n"
				  "    adress: x\n"
				  "    port: 70000\n"
				  "    runtime: podmn\n"
				  "  -bad:\n"
				  "    address: y\n"
				  "  gpu1:\n"
				  "    address: z\n"
				  "hsots: {}\n";
	struct moo_config *cfg = NULL;
	struct moo_error *err = NULL, *e;
	int n = 0;

	(void)state;
	assert_int_equal(moo_config_parse(&cfg, bad, strlen(bad), "config.yaml", &err), MOO_EARG);
	assert_null(cfg);
	for (e = err; e; e = e->next) {
		n++;
		assert_string_equal(e->file, "config.yaml");
		assert_true(e->line > 0 && e->column > 0);
	}
	assert_int_equal(n, 7);
	assert_string_equal(err->message, "unknown key 'adress' in 'hosts.gpu1'");
	assert_string_equal(err->hint, "did you mean 'address'?");
	assert_int_equal(err->line, 3);
	assert_int_equal(err->column, 5);
	assert_string_equal(err->next->message, "'hosts.gpu1.port' is out of range: 70000");
	assert_string_equal(err->next->next->hint, "did you mean 'podman'?");
	assert_string_equal(err->next->next->next->message, "missing required key 'address' in "
							    "'hosts.gpu1'");
	moo_error_free(err);
	err = NULL;
	assert_int_equal(moo_config_parse(&cfg, "- a\n", 4, "c.yaml", &err), MOO_EARG);
	assert_non_null(strstr(err->message, "must be a mapping"));
	moo_error_free(err);
	err = NULL;
	assert_int_equal(moo_config_parse(&cfg, "hosts: [\n", 9, "c.yaml", &err), MOO_EARG);
	assert_int_equal(err->code, MOO_EARG);
	moo_error_free(err);
	/* an empty file is an empty inventory */
	assert_int_equal(moo_config_parse(&cfg, "", 0, "c.yaml", NULL), 0);
	assert_int_equal(cfg->n_hosts, 0);
	moo_config_free(cfg);
}

/* Added, saved, loaded: every byte of every value comes back. */
static void test_add_save_load(void **state)
{
	char dir[] = "/tmp/moo-config-XXXXXX";
	struct moo_config *cfg = NULL, *back = NULL;
	struct moo_host_entry h = {0};
	struct moo_error *err = NULL;
	char *path, cwd[4096];

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = moo__printf("%s/sub/config.yaml", dir);
	assert_int_equal(moo_config_load(&cfg, path, NULL), 0); /* missing: empty */
	assert_int_equal(cfg->n_hosts, 0);
	h.name = "h1";
	h.address = "127.0.0.1";
	h.port = 22022;
	h.root = "/r/it's \"q\" #x: y $(touch M)\\ é";
	/* a key must be a readable file: one named like a YAML list item, here */
	assert_int_equal(getcwd(cwd, sizeof(cwd)) != NULL, 1);
	assert_int_equal(chdir(dir), 0);
	{
		FILE *f = fopen("- not: a list", "w");

		assert_non_null(f);
		fclose(f);
	}
	h.key = "- not: a list";
	assert_int_equal(moo_config_add_host(cfg, &h, NULL), 0);
	assert_int_equal(moo_config_add_host(cfg, &h, &err), MOO_EEXIST);
	moo_error_free(err);
	err = NULL;
	h.name = "-x";
	assert_int_equal(moo_config_add_host(cfg, &h, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;
	h.name = "h2";
	h.runtime = "dockr";
	assert_int_equal(moo_config_add_host(cfg, &h, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;
	h.runtime = NULL;
	h.root = NULL;
	h.key = NULL;
	assert_int_equal(chdir(cwd), 0);
	h.port = 0;
	assert_int_equal(moo_config_add_host(cfg, &h, NULL), 0);
	assert_int_equal(moo_config_save(cfg, NULL), 0);
	assert_int_equal(moo_config_load(&back, path, NULL), 0);
	assert_int_equal(back->n_hosts, 2);
	assert_string_equal(back->hosts[0].root, "/r/it's \"q\" #x: y $(touch M)\\ é");
	assert_string_equal(back->hosts[0].key, "- not: a list");
	assert_int_equal(back->hosts[0].port, 22022);
	assert_int_equal(back->hosts[1].port, 0);
	assert_int_equal(moo_config_remove_host(back, "h1", NULL), 0);
	assert_int_equal(moo_config_remove_host(back, "h1", &err), MOO_ENOTFOUND);
	moo_error_free(err);
	assert_int_equal(back->n_hosts, 1);
	assert_string_equal(back->hosts[0].name, "h2");
	moo_config_free(cfg);
	moo_config_free(back);
	unlink(path);
	free(path);
	path = moo__printf("%s/sub", dir);
	rmdir(path);
	free(path);
	path = moo__printf("%s/- not: a list", dir);
	unlink(path);
	rmdir(dir);
	free(path);
}

/* slurm: defaults, kept when saved; hostile values refused with their place. */
static void test_slurm(void **state)
{
	static const char text[] = "slurm:\n  partition: gpu\n  time: 30\n  qos: high\n"
				   "  x-note: ours\n";
	static const char bad[] = "slurm:\n  partion: gpu\n  gres: \"gpu:1 --wrap=x\"\n"
				  "  account: -x\n";
	struct moo_config *cfg = NULL;
	struct moo_error *err = NULL;
	struct moo_buf out = MOO_BUF_INIT;

	(void)state;
	assert_int_equal(moo_config_parse(&cfg, text, strlen(text), "config.yaml", NULL), 0);
	assert_string_equal(cfg->slurm[0], "gpu");
	assert_string_equal(cfg->slurm[1], "30");
	assert_null(cfg->slurm[2]);
	assert_string_equal(cfg->slurm[4], "high");
	moo_config_to_yaml(&out, cfg);
	assert_non_null(strstr(out.ptr, "partition: gpu"));
	moo_buf_dispose(&out);
	moo_config_free(cfg);
	cfg = NULL;
	assert_int_equal(moo_config_parse(&cfg, bad, strlen(bad), "config.yaml", &err), MOO_EARG);
	assert_null(cfg);
	assert_string_equal(err->message, "unknown key 'partion' in 'slurm'");
	assert_string_equal(err->hint, "did you mean 'partition'?");
	assert_int_equal(err->line, 2);
	assert_non_null(strstr(err->next->message, "is not one sbatch value"));
	assert_int_equal(err->next->line, 3);
	assert_non_null(strstr(err->next->next->message, "'slurm.account'"));
	moo_error_free(err);
}

static void test_path(void **state)
{
	struct moo_buf b = MOO_BUF_INIT;

	(void)state;
	setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
	assert_int_equal(moo_config_path(&b, NULL), 0);
	assert_string_equal(b.ptr, "/x/cfg/moo/config.yaml");
	moo_buf_reset(&b);
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(moo_config_path(&b, NULL), 0);
	assert_string_equal(b.ptr, "/home/u/.config/moo/config.yaml");
	moo_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_add_save_load), cmocka_unit_test(test_path),
		cmocka_unit_test(test_slurm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
