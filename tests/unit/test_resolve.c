/* Unit tests: libmoo/resolve.c (images.yaml, config.yaml overrides, plans, moo.lock) and the
 * reference parsing of libmoo/registry.c. The registry protocol itself is tested against
 * real registries in tests/cli/registry.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../libmoo/registry.h"

static struct moo_spec *spec_of(const char *fw, const char *version, const char *runtime,
				const char *extra)
{
	struct moo_spec *s = NULL;
	struct moo_error *err = NULL;
	char *text = moo__printf("framework:\n  name: %s\n  version: \"%s\"\n  runtime: %s\n"
				 "model:\n  name: m\nentry_point: train.py\n%s",
				 fw, version, runtime, extra ? extra : "");

	if (moo_spec_parse(&s, text, strlen(text), "metadata.yaml", &err)) {
		fail_msg("spec: %s", err ? err->message : "?");
	}
	free(text);
	return s;
}

static struct moo_images *table(const char *config)
{
	struct moo_images *t = NULL;
	struct moo_error *err = NULL;

	if (moo_images_parse(&t, config, config ? strlen(config) : 0, "config.yaml", &err)) {
		fail_msg("images: %s", err ? err->message : "?");
	}
	return t;
}

/* Resolves; returns the plan or NULL with *err set. */
static struct moo_plan *resolve(const struct moo_images *t, const struct moo_spec *s, int accel,
				const struct moo_host_facts *f, struct moo_error **err)
{
	struct moo_resolve_opts o = MOO_RESOLVE_OPTS_INIT;
	struct moo_plan *p = NULL;

	o.accelerator = accel;
	o.facts = f;
	if (moo_resolve(&p, t, s, &o, err)) {
		assert_null(p);
		return NULL;
	}
	return p;
}

static void test_seed_resolves(void **state)
{
	struct moo_images *t = table(NULL);
	struct moo_spec *s = spec_of("tensorflow", "1.12.0", "python2.7", NULL);
	struct moo_host_facts f = {0};
	struct moo_plan *p;

	(void)state;
	f.arch = "x86_64";
	p = resolve(t, s, -1, &f, NULL);
	assert_non_null(p);
	assert_string_equal(p->image, "docker.io/tensorflow/tensorflow:1.12.0");
	assert_string_equal(p->python, "2.7");
	assert_string_equal(p->platform, "linux/amd64");
	assert_int_equal(p->accelerator, MOO_ACCEL_CPU);
	assert_null(p->cuda);
	assert_null(p->digest);
	assert_int_equal(p->n_requirements, 0);
	assert_true(!strncmp(p->source, "images.yaml:", 12));
	moo_plan_free(p);

	/* The same on a GPU: the -gpu image, CUDA 9.0 and the driver it needs. */
	p = resolve(t, s, MOO_ACCEL_GPU, NULL, NULL);
	assert_non_null(p);
	assert_string_equal(p->image, "docker.io/tensorflow/tensorflow:1.12.0-gpu");
	assert_string_equal(p->cuda, "9.0");
	assert_string_equal(p->min_driver, "384.81");
	assert_int_equal(p->count, 1);
	moo_plan_free(p);
	moo_spec_free(s);
	moo_images_free(t);
}

static void test_unresolvable_lists_nearest(void **state)
{
	struct moo_images *t = table(NULL);
	struct moo_spec *s = spec_of("tensorflow", "1.12.1", "python2.7", NULL);
	struct moo_error *err = NULL;

	(void)state;
	assert_null(resolve(t, s, -1, NULL, &err));
	assert_non_null(err);
	assert_int_equal(err->code, MOO_ERESOLVE);
	assert_string_equal(err->message, "no image for tensorflow 1.12.1");
	/* The nearest first: the one below, the one above. */
	assert_non_null(strstr(err->hint, ": 1.12.0, 1.12.3, 1.11.0"));
	moo_error_free(err);
	moo_spec_free(s);

	/* A Python the version never had: the ones it has, and versions that have it. */
	err = NULL;
	s = spec_of("tensorflow", "1.12.0", "python3.11", NULL);
	assert_null(resolve(t, s, -1, NULL, &err));
	assert_string_equal(err->message, "no image for tensorflow 1.12.0 with python 3.11");
	assert_non_null(strstr(err->hint, "python 2.7, 3.5"));
	assert_non_null(strstr(err->hint, "2.14.0"));
	moo_error_free(err);
	moo_spec_free(s);

	/* A misspelled framework. */
	err = NULL;
	s = spec_of("pytorh", "2.3.1", "python3.10", NULL);
	assert_null(resolve(t, s, -1, NULL, &err));
	assert_non_null(strstr(err->hint, "did you mean 'pytorch'?"));
	moo_error_free(err);
	moo_spec_free(s);

	/* No gpu image at all. */
	err = NULL;
	s = spec_of("sklearn", "1.2.1", "python3.11", NULL);
	assert_null(resolve(t, s, MOO_ACCEL_GPU, NULL, &err));
	assert_string_equal(err->message, "no gpu image for sklearn 1.2.1 with python 3.11");
	moo_error_free(err);
	moo_spec_free(s);
	moo_images_free(t);
}

static void test_driver_and_arch(void **state)
{
	struct moo_images *t = table(NULL);
	struct moo_spec *s = spec_of("pytorch", "2.3.1", "python3.10", NULL);
	struct moo_host_facts f = {0};
	struct moo_error *err = NULL;
	struct moo_plan *p;

	(void)state;
	f.arch = "x86_64";
	f.driver_version = "535.104.05";
	f.cuda_version = "12.2";
	p = resolve(t, s, MOO_ACCEL_GPU, &f, NULL);
	assert_non_null(p); /* the newest CUDA this driver runs */
	assert_string_equal(p->image, "docker.io/pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime");
	moo_plan_free(p);

	f.driver_version = "520.61.05";
	f.cuda_version = "11.8";
	p = resolve(t, s, MOO_ACCEL_GPU, &f, NULL);
	assert_non_null(p);
	assert_string_equal(p->cuda, "11.8");
	moo_plan_free(p);

	/* Too old for any 2.3.1 image: the versions this driver runs instead. */
	f.driver_version = "470.82.01";
	f.cuda_version = "11.4";
	assert_null(resolve(t, s, MOO_ACCEL_GPU, &f, &err));
	assert_non_null(strstr(err->message, "driver 470.82.01"));
	assert_non_null(strstr(err->hint, "with this driver"));
	moo_error_free(err);
	moo_spec_free(s);

	/* TensorFlow 2.4 needs CUDA 11.0; a CUDA 10.2 driver gets the 2.3 releases offered. */
	err = NULL;
	s = spec_of("tensorflow", "2.4.0", "python3.6", NULL);
	f.driver_version = "440.33";
	f.cuda_version = "10.2";
	assert_null(resolve(t, s, MOO_ACCEL_GPU, &f, &err));
	assert_string_equal(err->message, "no image for tensorflow 2.4.0 fits the host's NVIDIA "
					  "driver 440.33 (CUDA 10.2)");
	assert_non_null(strstr(err->hint, "with this driver: 2.3.4, "));
	moo_error_free(err);
	moo_spec_free(s);

	/* An amd64-only image on an arm64 host. */
	err = NULL;
	s = spec_of("tensorflow", "1.12.0", "python2.7", NULL);
	f.arch = "aarch64";
	assert_null(resolve(t, s, -1, &f, &err));
	assert_string_equal(err->message, "no linux/arm64 image for tensorflow 1.12.0");
	moo_error_free(err);
	moo_spec_free(s);

	/* "python3" picks the newest Python 3 the entry has; "1.2" the newest 1.2.x. */
	s = spec_of("sklearn", "1.2", "python3", "resources: {accelerator: cpu}\n");
	f.arch = "aarch64";
	p = resolve(t, s, -1, &f, NULL);
	assert_non_null(p);
	assert_string_equal(p->framework_version, "1.2.2");
	assert_string_equal(p->image, "docker.io/library/python:3.11-slim");
	assert_string_equal(p->platform, "linux/arm64");
	assert_int_equal(p->n_requirements, 1);
	assert_string_equal(p->requirements[0], "scikit-learn==1.2.2");
	moo_plan_free(p);
	moo_spec_free(s);
	moo_images_free(t);
}

static const char cfg_text[] = "hosts: {}\n"
			       "images:\n"
			       "  - framework: tensorflow\n"
			       "    versions: [\"1.12.0\"]\n"
			       "    python: [\"2.7\"]\n"
			       "    accelerator: cpu\n"
			       "    image: registry.example.org/ml/tf:{version}-py{python}\n"
			       "registries:\n"
			       "  docker.io:\n"
			       "    mirror: mirror.example.org:5000/hub\n"
			       "  registry.example.org: {insecure: true}\n";

static void test_config_overrides(void **state)
{
	struct moo_images *t = table(cfg_text);
	struct moo_spec *s = spec_of("tensorflow", "1.12.0", "python2.7", NULL);
	struct moo__registry_conf rc;
	struct moo__registries regs;
	struct moo_plan *p;
	char *ref;

	(void)state;
	p = resolve(t, s, -1, NULL, NULL);
	assert_non_null(p);
	assert_string_equal(p->image, "registry.example.org/ml/tf:1.12.0-py2.7");
	assert_string_equal(p->source, "config.yaml:3");
	regs = moo__images_registries(t);
	moo__registry_conf(&regs, "registry.example.org", &rc);
	assert_true(rc.insecure);
	moo_plan_free(p);
	moo_spec_free(s);

	/* A table image on docker.io is pulled from the mirror. */
	s = spec_of("tensorflow", "1.13.1", "python2.7", NULL);
	p = resolve(t, s, -1, NULL, NULL);
	assert_non_null(p);
	assert_string_equal(p->image, "docker.io/tensorflow/tensorflow:1.13.1");
	assert_string_equal(p->pull, "mirror.example.org:5000/hub/tensorflow/tensorflow:1.13.1");
	ref = moo_plan_ref(p);
	assert_string_equal(ref, p->pull);
	free(ref);
	moo_plan_free(p);
	moo_spec_free(s);
	moo_images_free(t);
}

static void test_config_errors(void **state)
{
	static const char bad[] =
		"images:\n"
		"  - framework: pytorch\n"
		"    version: [\"2.3.1\"]\n"
		"    python: [\"3.10\"]\n"
		"    accelerator: gpu\n"
		"    image: example.org/torch:1\n"
		"  - {framework: x, versions: [1], python: [\"3\"], accelerator: cpu,\n"
		"     image: \"example.org/x:1;reboot\"}\n"
		"registries:\n"
		"  docker.io: {mirror: \"https://mirror\"}\n";
	struct moo_images *t = NULL;
	struct moo_error *err = NULL, *e;
	struct moo_config *cfg = NULL;
	bool typo = false, cuda = false, mirror = false, ref = false;

	(void)state;
	assert_int_equal(moo_images_parse(&t, bad, strlen(bad), "config.yaml", &err), MOO_EARG);
	assert_null(t);
	for (e = err; e; e = e->next) {
		assert_string_equal(e->file, "config.yaml");
		if (strstr(e->message, "unknown key 'version'")) {
			typo = e->line == 3 && e->column == 5 &&
			       !strcmp(e->hint, "did you mean 'versions'?");
		}
		cuda |= strstr(e->message, "needs 'cuda'") != NULL;
		mirror |= strstr(e->message, "invalid mirror") != NULL && e->line == 10;
		ref |= strstr(e->message, "'images[1].image' is not an image reference") != NULL;
	}
	assert_true(typo);
	assert_true(cuda);
	assert_true(mirror);
	assert_true(ref);
	moo_error_free(err);

	/* config.c keeps 'images:' and 'registries:' for resolve.c to check: the hosts of
	 * a config.yaml whose image entries are broken still work (config.c is below
	 * resolve.c, docs/ARCHITECTURE.md); moo_images_load reports them. */
	err = NULL;
	assert_int_equal(moo_config_parse(&cfg, bad, strlen(bad), "config.yaml", &err), 0);
	assert_null(err);
	moo_config_free(cfg);
}

static void test_config_keeps_sections(void **state)
{
	struct moo_config *cfg = NULL;
	struct moo_host_entry h = {0};
	struct moo_buf out = MOO_BUF_INIT;

	(void)state;
	assert_int_equal(moo_config_parse(&cfg, cfg_text, strlen(cfg_text), "config.yaml", NULL),
			 0);
	h.name = "gpu1";
	h.address = "10.0.0.7";
	assert_int_equal(moo_config_add_host(cfg, &h, NULL), 0);
	moo_config_to_yaml(&out, cfg);
	/* 'moo hosts add' rewrites the file: the images and registries stay as written. */
	assert_non_null(strstr(out.ptr, strstr(cfg_text, "images:")));
	assert_non_null(strstr(out.ptr, "gpu1:"));
	moo_config_free(cfg);
	cfg = NULL;
	assert_int_equal(moo_config_parse(&cfg, out.ptr, out.len, "config.yaml", NULL), 0);
	assert_int_equal(cfg->n_hosts, 1);
	moo_config_free(cfg);
	moo_buf_dispose(&out);
}

static void test_lock_round_trip(void **state)
{
	struct moo_images *t = table(NULL);
	struct moo_spec *s =
		spec_of("sklearn", "1.2.1", "python3.11", "resources: {accelerator: cpu}\n");
	struct moo_buf a = MOO_BUF_INIT, b = MOO_BUF_INIT;
	struct moo_plan *p, *q = NULL;
	struct moo_error *err = NULL;

	(void)state;
	p = resolve(t, s, -1, NULL, NULL);
	assert_non_null(p);
	p->digest = moo__printf("sha256:%064d", 7);
	p->bundle_sha256 = moo__printf("%064d", 1);
	p->host = moo__strdup("local");
	p->host_facts = moo__strdup("{\"arch\": \"x86_64\"}");
	p->created = moo__strdup("2026-11-23T12:00:00Z");
	moo_lock_write(&a, p);
	assert_int_equal(moo_lock_parse(&q, a.ptr, a.len, "moo.lock", &err), 0);
	assert_string_equal(q->digest, p->digest);
	assert_string_equal(q->requirements[0], "scikit-learn==1.2.1");
	moo_lock_write(&b, q);
	assert_string_equal(a.ptr, b.ptr);
	moo_plan_free(q);
	q = NULL;

	/* Not a lock, or a lock with a hostile digest: refused, nothing returned. */
	assert_int_equal(moo_lock_parse(&q, "{", 1, "moo.lock", &err), MOO_ESPEC);
	assert_null(q);
	moo_error_free(err);
	err = NULL;
	moo_buf_reset(&b);
	moo_buf_puts(&b, a.ptr);
	{
		char *d = strstr(b.ptr, "sha256:0000");

		memcpy(d, "sha256:;rm ", 11);
	}
	assert_int_equal(moo_lock_parse(&q, b.ptr, b.len, "moo.lock", &err), MOO_ESPEC);
	assert_null(q);
	moo_error_free(err);
	moo_buf_dispose(&a);
	moo_buf_dispose(&b);
	moo_plan_free(p);
	moo_spec_free(s);
	moo_images_free(t);
}

static void test_imageref(void **state)
{
	struct moo__imageref r;

	(void)state;
	assert_int_equal(moo__imageref_parse(&r, "python:3.11-slim", NULL), 0);
	assert_string_equal(r.registry, "docker.io");
	assert_string_equal(r.repository, "library/python");
	assert_string_equal(r.tag, "3.11-slim");
	assert_null(r.digest);
	moo__imageref_dispose(&r);
	assert_int_equal(moo__imageref_parse(&r,
					     "127.0.0.1:5000/a/b:1@sha256:"
					     "0123456789abcdef0123456789abcdef"
					     "0123456789abcdef0123456789abcdef",
					     NULL),
			 0);
	assert_string_equal(r.registry, "127.0.0.1:5000");
	assert_string_equal(r.repository, "a/b");
	assert_string_equal(r.tag, "1");
	assert_non_null(r.digest);
	moo__imageref_dispose(&r);
	assert_int_equal(moo__imageref_parse(&r, "localhost/x:1", NULL), 0);
	assert_string_equal(r.registry, "localhost");
	moo__imageref_dispose(&r);
	/* Uppercase, no tag, shell characters, a short digest, '..' path tricks: refused. */
	assert_int_equal(moo__imageref_parse(&r, "Python:3", NULL), MOO_EARG);
	assert_int_equal(moo__imageref_parse(&r, "python", NULL), MOO_EARG);
	assert_int_equal(moo__imageref_parse(&r, "python:3;rm -rf", NULL), MOO_EARG);
	assert_int_equal(moo__imageref_parse(&r, "python@sha256:abc", NULL), MOO_EARG);
	assert_int_equal(moo__imageref_parse(&r, "example.org//x:1", NULL), MOO_EARG);
	assert_int_equal(moo__imageref_parse(&r, "example.org/a/../b:1", NULL), MOO_EARG);
	assert_int_equal(moo__imageref_parse(&r, "example.org/a/.b:1", NULL), MOO_EARG);
	assert_string_equal(moo_platform_for_arch("aarch64"), "linux/arm64");
	assert_null(moo_platform_for_arch("pdp11"));
}

/* The H100 host of tests/fixtures/gpu-host-h100 (driver 580.159.04, CUDA 13.0), as probed. */
static struct moo_host_facts *h100(void)
{
	struct moo_buf csv = MOO_BUF_INIT, smi = MOO_BUF_INIT, text = MOO_BUF_INIT;
	struct moo_host_facts *f = NULL;
	char *dir = moo__printf("%s/tests/fixtures/gpu-host-h100", getenv("MOO_SRC")), *p;

	p = moo__path_join(dir, "query-gpu.csv");
	assert_int_equal(moo__read_file(p, 1 << 20, &csv, NULL), 0);
	free(p);
	p = moo__path_join(dir, "nvidia-smi-plain.txt");
	assert_int_equal(moo__read_file(p, 1 << 20, &smi, NULL), 0);
	free(p);
	moo_buf_printf(&text,
		       "@@moo probe 1\n@@moo uname\nLinux 6.8.0 x86_64\n@@moo cpus\n16\n"
		       "@@moo nvidia-query\n%s@@moo nvidia-smi\n%s@@moo end\n",
		       csv.ptr, smi.ptr);
	assert_int_equal(moo_host_facts_parse(&f, text.ptr, text.len, NULL), 0);
	assert_string_equal(f->driver_version, "580.159.04");
	assert_string_equal(f->cuda_version, "13.0");
	moo_buf_dispose(&csv);
	moo_buf_dispose(&smi);
	moo_buf_dispose(&text);
	free(dir);
	return f;
}

static bool has_req(const struct moo_plan *p, const char *req)
{
	size_t i;

	for (i = 0; i < p->n_requirements; i++) {
		if (!strcmp(p->requirements[i], req)) {
			return true;
		}
	}
	return false;
}

/* Every release resolves: the prebuilt image when there is one, else a base + pip. */
static void test_every_release(void **state)
{
	struct moo_images *t = table(NULL);
	struct moo_host_facts *gpu = h100(), cpu = {0}, old = {0};
	struct moo_error *err = NULL;
	struct moo_plan *p;
	struct moo_spec *s;
	char v[32], req[64];
	int minor;

	(void)state;
	cpu.arch = "x86_64";
	/* torch 2.11 on the H100: NVIDIA's CUDA 13.0 base, torch from whl/cu130 */
	s = spec_of("pytorch", "2.11", "python3", "resources:\n  accelerator: gpu\n");
	p = resolve(t, s, -1, gpu, &err);
	assert_non_null(p);
	assert_string_equal(p->cuda, "13.0");
	assert_string_equal(p->min_driver, "580.65.06");
	assert_string_equal(p->image, "docker.io/nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04");
	assert_string_equal(p->index, "https://download.pytorch.org/whl/cu130");
	assert_non_null(p->setup);
	assert_non_null(strstr(p->setup, "python3-pip"));
	assert_true(has_req(p, "torch==2.11"));
	moo_plan_free(p);
	/* and on a CPU: the Python image, torch from whl/cpu */
	p = resolve(t, s, MOO_ACCEL_CPU, &cpu, &err);
	assert_non_null(p);
	assert_string_equal(p->image, "docker.io/library/python:3.13-slim");
	assert_string_equal(p->index, "https://download.pytorch.org/whl/cpu");
	assert_null(p->setup);
	moo_plan_free(p);
	moo_spec_free(s);
	/* PyTorch 1.11 to 2.11, each minor release .0 and .1, on a CPU and on the H100 */
	for (minor = 0; minor <= 24; minor++) {
		int major = minor <= 13 ? 1 : 2, mn = minor <= 13 ? minor : minor - 14;

		if (major == 1 && mn < 11) {
			continue;
		}
		for (int patch = 0; patch <= 1; patch++) {
			snprintf(v, sizeof(v), "%d.%d.%d", major, mn, patch);
			snprintf(req, sizeof(req), "torch==%s", v);
			s = spec_of("pytorch", v, "python3", NULL);
			p = resolve(t, s, MOO_ACCEL_CPU, &cpu, &err);
			if (!p) {
				fail_msg("torch %s on a CPU: %s", v, err->message);
			}
			assert_string_equal(p->framework_version, v);
			moo_plan_free(p);
			p = resolve(t, s, MOO_ACCEL_GPU, gpu, &err);
			if (!p) {
				fail_msg("torch %s on the H100: %s", v, err->message);
			}
			assert_non_null(p->cuda);
			moo_plan_free(p);
			moo_spec_free(s);
		}
	}
	/* A CUDA 11.4 driver (470) gets torch 1.12.1 from whl/cu113, and refuses 2.11 */
	old.arch = "x86_64";
	old.driver_version = "470.82.01";
	old.cuda_version = "11.4";
	s = spec_of("pytorch", "1.12.1", "python3", NULL);
	p = resolve(t, s, MOO_ACCEL_GPU, &old, &err);
	assert_non_null(p);
	assert_string_equal(p->index, "https://download.pytorch.org/whl/cu113");
	moo_plan_free(p);
	moo_spec_free(s);
	s = spec_of("pytorch", "2.11.0", "python3", NULL);
	assert_null(resolve(t, s, MOO_ACCEL_GPU, &old, &err));
	assert_non_null(strstr(err->message, "driver 470.82.01"));
	moo_error_free(err);
	err = NULL;
	moo_spec_free(s);
	/* TensorFlow 2.0 to 2.20, on a CPU and on the H100 */
	for (minor = 0; minor <= 20; minor++) {
		snprintf(v, sizeof(v), "2.%d.1", minor);
		s = spec_of("tensorflow", v, "python3", NULL);
		p = resolve(t, s, MOO_ACCEL_CPU, &cpu, &err);
		if (!p) {
			fail_msg("tensorflow %s on a CPU: %s", v, err->message);
		}
		moo_plan_free(p);
		p = resolve(t, s, MOO_ACCEL_GPU, gpu, &err);
		if (!p) {
			fail_msg("tensorflow %s on the H100: %s", v, err->message);
		}
		moo_plan_free(p);
		moo_spec_free(s);
	}
	/* scikit-learn and XGBoost releases the table does not list */
	{
		static const char *const any[][2] = {
			{"sklearn", "0.19.2"}, {"sklearn", "1.6.1"}, {"sklearn", "1.8.0"},
			{"xgboost", "0.82"},   {"xgboost", "1.4.2"}, {"xgboost", "3.0.2"},
		};

		for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
			s = spec_of(any[i][0], any[i][1], "python3", NULL);
			p = resolve(t, s, MOO_ACCEL_CPU, &cpu, &err);
			if (!p) {
				fail_msg("%s %s: %s", any[i][0], any[i][1], err->message);
			}
			snprintf(req, sizeof(req), "%s==%s",
				 !strcmp(any[i][0], "sklearn") ? "scikit-learn" : "xgboost",
				 any[i][1]);
			assert_true(has_req(p, req));
			moo_plan_free(p);
			moo_spec_free(s);
		}
	}
	/* a version no index has: exit 5's error, with the nearest series */
	s = spec_of("pytorch", "3.5", "python3", NULL);
	assert_null(resolve(t, s, MOO_ACCEL_CPU, &cpu, &err));
	assert_int_equal(err->code, MOO_ERESOLVE);
	assert_non_null(strstr(err->hint, "2.11.*"));
	moo_error_free(err);
	moo_spec_free(s);
	moo_host_facts_free(gpu);
	moo_images_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_resolves),
		cmocka_unit_test(test_unresolvable_lists_nearest),
		cmocka_unit_test(test_driver_and_arch),
		cmocka_unit_test(test_config_overrides),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_keeps_sections),
		cmocka_unit_test(test_lock_round_trip),
		cmocka_unit_test(test_imageref),
		cmocka_unit_test(test_every_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
