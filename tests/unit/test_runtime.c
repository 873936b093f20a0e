/*
 * runtime.c: the exact command line of each runtime (docker, podman, apptainer, host) for
 * cpu, gpu and npu jobs with limits, hostile values quoted; the preflight against the real
 * H100 host's facts (tests/fixtures) and a host without GPUs; environment keys, the
 * Containerfile and the build-only-when-missing command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "runtime.h"

static const char *const argv_py[] = {"python3", "-u", "train.py", "--alpha", "0.5"};
static const char *const env_std[] = {"MOO_JOB_ID=moo-job-abc123",
				      "MOO_OUTPUT_DIR=/r/jobs/moo-job-abc123/work/out"};

static void base_in(struct moo__rt_in *in, enum moo__engine e)
{
	memset(in, 0, sizeof(*in));
	in->engine = e;
	in->image = "localhost/moo-sklearn@sha256:"
		    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	in->name = "moo-job-abc123";
	in->job_dir = "/r/jobs/moo-job-abc123";
	in->work_dir = "/r/jobs/moo-job-abc123/work";
	in->env = env_std;
	in->n_env = 2;
	in->argv = argv_py;
	in->argc = 5;
}

static void expect(const struct moo__rt_in *in, const char *want)
{
	struct moo_buf out = MOO_BUF_INIT;
	struct moo_error *err = NULL;

	assert_int_equal(moo__runtime_command(&out, in, &err), 0);
	assert_null(err);
	assert_string_equal(out.ptr, want);
	moo_buf_dispose(&out);
}

#define IMG           \
	"'localhost/" \
	"moo-sklearn@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'"
#define ENVS "'MOO_JOB_ID=moo-job-abc123' 'MOO_OUTPUT_DIR=/r/jobs/moo-job-abc123/work/out'"
#define ARGV "'python3' '-u' 'train.py' '--alpha' '0.5'"
#define MNT                                                                      \
	" --network host -v '/r/jobs/moo-job-abc123:/r/jobs/moo-job-abc123' -w " \
	"'/r/jobs/moo-job-abc123/work'"

static void test_host(void **state)
{
	struct moo__rt_in in;

	(void)state;
	base_in(&in, MOO__ENGINE_HOST);
	expect(&in, "env " ENVS " " ARGV);
	in.accel = MOO_ACCEL_GPU;
	in.count = 2;
	expect(&in, "env 'CUDA_VISIBLE_DEVICES=0,1' " ENVS " " ARGV);
	in.visible = "3,5";
	expect(&in, "env 'CUDA_VISIBLE_DEVICES=3,5' " ENVS " " ARGV);
	in.accel = MOO_ACCEL_NPU;
	in.visible = NULL;
	in.count = 1;
	expect(&in, "env 'ASCEND_RT_VISIBLE_DEVICES=0' " ENVS " " ARGV);
}

static void test_docker(void **state)
{
	static const char *const opts[] = {"-H", "unix:///tmp/d/docker.sock"};
	struct moo__rt_in in;

	(void)state;
	base_in(&in, MOO__ENGINE_DOCKER);
	expect(&in, "'docker' run --rm --init --name 'moo-job-abc123'" MNT " -e "
		    "'MOO_JOB_ID=moo-job-abc123' -e "
		    "'MOO_OUTPUT_DIR=/r/jobs/moo-job-abc123/work/out' " IMG " " ARGV);
	in.engine_opts = opts;
	in.n_engine_opts = 2;
	in.accel = MOO_ACCEL_GPU;
	in.count = 2;
	in.cpus = 4;
	in.memory = 8ull << 30;
	expect(&in, "'docker' '-H' 'unix:///tmp/d/docker.sock' run --rm --init --name "
		    "'moo-job-abc123'" MNT " --gpus '\"device=0,1\"' --cpus '4' --memory "
		    "'8589934592' -e 'MOO_JOB_ID=moo-job-abc123' -e "
		    "'MOO_OUTPUT_DIR=/r/jobs/moo-job-abc123/work/out' " IMG " " ARGV);
	in.engine_opts = NULL;
	in.n_engine_opts = 0;
	in.accel = MOO_ACCEL_NPU;
	in.visible = "1";
	in.cpus = 0.5;
	in.memory = 0;
	in.n_env = 0;
	in.name = NULL;
	expect(&in, "'docker' run --rm --init" MNT " --device '/dev/davinci1' --device "
		    "'/dev/davinci_manager' --device '/dev/devmm_svm' --device '/dev/hisi_hdc' -v "
		    "'/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro' -e "
		    "'ASCEND_VISIBLE_DEVICES=1' --cpus '0.5' " IMG " " ARGV);
}

/* The dataset's folder: MOO_DATASET_DIR, bind-mounted read-only at the same path. */
static void test_dataset(void **state)
{
	struct moo_buf out = MOO_BUF_INIT;
	struct moo_error *err = NULL;
	struct moo__rt_in in;

	(void)state;
	base_in(&in, MOO__ENGINE_DOCKER);
	in.dataset_dir = "/r/datasets/ab12";
	in.n_env = 0;
	expect(&in, "'docker' run --rm --init --name 'moo-job-abc123' --network host -v "
		    "'/r/jobs/moo-job-abc123:/r/jobs/moo-job-abc123' -v "
		    "'/r/datasets/ab12:/r/datasets/ab12:ro' -w '/r/jobs/moo-job-abc123/work' " IMG
		    " " ARGV);
	base_in(&in, MOO__ENGINE_APPTAINER);
	in.image = "/r/envs/k/env.sif";
	in.dataset_dir = "/r/datasets/ab12";
	in.n_env = 0;
	assert_int_equal(moo__runtime_command(&out, &in, &err), 0);
	assert_non_null(strstr(out.ptr, " --bind '/r/jobs/moo-job-abc123' --bind "
					"'/r/datasets/ab12:/r/datasets/ab12:ro' --pwd"));
	moo_buf_reset(&out);
	base_in(&in, MOO__ENGINE_HOST);
	in.dataset_dir = "/r/datasets/ab12";
	expect(&in, "env " ENVS " " ARGV); /* the host runtime mounts nothing */
	base_in(&in, MOO__ENGINE_PODMAN);
	in.dataset_dir = "/r/data,sets";
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	assert_non_null(strstr(err->message, "dataset folder '/r/data,sets'"));
	moo_error_free(err);
	moo_buf_dispose(&out);
}

static void test_podman(void **state)
{
	static const char *const opts[] = {"--root", "/tmp/st", "--runroot", "/tmp/rr"};
	struct moo__rt_in in;

	(void)state;
	base_in(&in, MOO__ENGINE_PODMAN);
	in.engine_opts = opts;
	in.n_engine_opts = 4;
	expect(&in, "'podman' '--root' '/tmp/st' '--runroot' '/tmp/rr' run --rm --init --name "
		    "'moo-job-abc123'" MNT " -e 'MOO_JOB_ID=moo-job-abc123' -e "
		    "'MOO_OUTPUT_DIR=/r/jobs/moo-job-abc123/work/out' " IMG " " ARGV);
	in.n_engine_opts = 0;
	in.accel = MOO_ACCEL_GPU;
	in.visible = "0,2";
	in.memory = 1000000;
	in.n_env = 0;
	expect(&in,
	       "'podman' run --rm --init --name 'moo-job-abc123'" MNT
	       " --device 'nvidia.com/gpu=0' --device 'nvidia.com/gpu=2' --memory '1000000' " IMG
	       " " ARGV);
}

static void test_apptainer(void **state)
{
	struct moo__rt_in in;

	(void)state;
	base_in(&in, MOO__ENGINE_APPTAINER);
	in.image = "ghcr.io/acme/torch@sha256:"
		   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	in.accel = MOO_ACCEL_GPU;
	in.cpus = 2;
	in.memory = 1 << 30;
	expect(&in,
	       "'apptainer' exec --cleanenv --bind '/r/jobs/moo-job-abc123' --pwd "
	       "'/r/jobs/moo-job-abc123/work' --nv --env 'CUDA_VISIBLE_DEVICES=0' --cpus '2' "
	       "--memory '1073741824' --env 'MOO_JOB_ID=moo-job-abc123' --env "
	       "'MOO_OUTPUT_DIR=/r/jobs/moo-job-abc123/work/out' "
	       "'docker://ghcr.io/acme/torch@sha256:0123456789abcdef0123456789abcdef0123456789abc"
	       "def0123456789abcdef' " ARGV);
	in.image = "/r/envs/abc/env.sif";
	in.accel = MOO_ACCEL_NPU;
	in.cpus = 0;
	in.memory = 0;
	in.n_env = 0;
	expect(&in, "'apptainer' exec --cleanenv --bind '/r/jobs/moo-job-abc123' --pwd "
		    "'/r/jobs/moo-job-abc123/work' --bind "
		    "'/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro' --env "
		    "'ASCEND_VISIBLE_DEVICES=0' '/r/envs/abc/env.sif' " ARGV);
}

/* Hostile values: quoted as one word each, or refused when no engine could carry them. */
static void test_hostile(void **state)
{
	static const char *const env_bad[] = {"X='; rm -rf / #"};
	static const char *const argv_bad[] = {"python3", "$(reboot)", "`id`", "a'b"};
	static const char *const no_eq[] = {"JUSTNAME"};
	struct moo__rt_in in;
	struct moo_buf out = MOO_BUF_INIT;
	struct moo_error *err = NULL;

	(void)state;
	base_in(&in, MOO__ENGINE_DOCKER);
	in.name = NULL;
	in.env = env_bad;
	in.n_env = 1;
	in.argv = argv_bad;
	in.argc = 4;
	in.image = "img;id";
	expect(&in, "'docker' run --rm --init" MNT " -e 'X='\\''; rm -rf / #' 'img;id' 'python3' "
		    "'$(reboot)' '`id`' 'a'\\''b'");

	in.job_dir = "/r/a:b";
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	assert_non_null(strstr(err->message, "'/r/a:b'"));
	assert_int_equal(out.len, 0);
	moo_error_free(err);
	err = NULL;

	base_in(&in, MOO__ENGINE_PODMAN);
	in.image = "--privileged";
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;
	in.image = "img\nid";
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;

	base_in(&in, MOO__ENGINE_PODMAN);
	in.accel = MOO_ACCEL_GPU;
	in.visible = "0;reboot";
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;
	in.visible = "0,";
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;

	base_in(&in, MOO__ENGINE_HOST);
	in.env = no_eq;
	in.n_env = 1;
	assert_int_equal(moo__runtime_command(&out, &in, &err), MOO_EARG);
	moo_error_free(err);
	assert_int_equal(out.len, 0);
	moo_buf_dispose(&out);
}

/* ---- preflight ----------------------------------------------------------------------- */

static struct moo_host_facts *h100(void)
{
	struct moo_buf facts = MOO_BUF_INIT, csv = MOO_BUF_INIT, smi = MOO_BUF_INIT;
	struct moo_buf text = MOO_BUF_INIT;
	struct moo_host_facts *f = NULL;
	char *dir = moo__printf("%s/tests/fixtures/gpu-host-h100", getenv("MOO_SRC"));
	char *p;

	p = moo__path_join(dir, "host-facts.txt");
	assert_int_equal(moo__read_file(p, 1 << 20, &facts, NULL), 0);
	free(p);
	p = moo__path_join(dir, "query-gpu.csv");
	assert_int_equal(moo__read_file(p, 1 << 20, &csv, NULL), 0);
	free(p);
	p = moo__path_join(dir, "nvidia-smi-plain.txt");
	assert_int_equal(moo__read_file(p, 1 << 20, &smi, NULL), 0);
	free(p);
	/* What probe.sh prints on that host (as test_probe builds it). */
	moo_buf_printf(&text,
		       "@@moo probe 1\n@@moo uname\nLinux 6.8.0 x86_64\n@@moo cpus\n32\n"
		       "@@moo nvidia-query\n%s@@moo nvidia-smi\n%s@@moo engine podman\n"
		       "podman version 4.9.3\n@@moo end\n",
		       csv.ptr, smi.ptr);
	assert_int_equal(moo_host_facts_parse(&f, text.ptr, text.len, NULL), 0);
	moo_buf_dispose(&facts);
	moo_buf_dispose(&csv);
	moo_buf_dispose(&smi);
	moo_buf_dispose(&text);
	free(dir);
	return f;
}

static void refused(const struct moo__needs *n, const struct moo_host_facts *h, const char *part)
{
	struct moo_error *err = NULL;

	assert_int_equal(moo__runtime_preflight(n, h, &err), MOO_ERESOLVE);
	assert_non_null(err);
	assert_non_null(err->hint);
	if (!strstr(err->message, part)) {
		fail_msg("'%s' does not say '%s'", err->message, part);
	}
	moo_error_free(err);
}

static void test_preflight(void **state)
{
	static const char *const amd64[] = {"amd64"}, *const arm[] = {"arm64", "ppc64le"};
	struct moo_host_facts *gpu = h100(), nogpu;
	struct moo_engine podman = {(char *)"podman", (char *)"4.3.1"};
	struct moo__needs n;
	struct moo_error *err = NULL;

	(void)state;
	/* The fixture really is what the checks read: one H100, driver 580, CUDA 13.0. */
	assert_int_equal(gpu->n_gpus, 1);
	assert_string_equal(gpu->cuda_version, "13.0");
	assert_string_equal(gpu->driver_version, "580.159.04");
	assert_string_equal(gpu->arch, "x86_64");

	memset(&nogpu, 0, sizeof(nogpu));
	nogpu.arch = (char *)"x86_64";
	nogpu.engines = &podman;
	nogpu.n_engines = 1;

	memset(&n, 0, sizeof(n));
	n.image = "pytorch@sha256:aa";
	n.engine = MOO__ENGINE_PODMAN;
	n.archs = amd64;
	n.n_archs = 1;
	assert_int_equal(moo__runtime_preflight(&n, gpu, &err), 0);
	assert_int_equal(moo__runtime_preflight(&n, &nogpu, &err), 0);
	n.accel = MOO_ACCEL_GPU;
	n.cuda = "12.4";
	n.min_driver = "550.54.14";
	assert_int_equal(moo__runtime_preflight(&n, gpu, &err), 0);
	n.cuda = "13.0";
	assert_int_equal(moo__runtime_preflight(&n, gpu, &err), 0);
	assert_null(err);

	refused(&n, &nogpu, "the job asks for 1 GPU; the host has none");
	n.count = 2;
	refused(&n, gpu, "asks for 2 GPUs; the host has 1");
	n.count = 1;
	n.cuda = "13.1";
	refused(&n, gpu,
		"needs CUDA 13.1; the host's driver 580.159.04 supports CUDA 13.0 at most");
	n.cuda = "12.4";
	n.min_driver = "590.10";
	refused(&n, gpu, "needs NVIDIA driver 590.10 or newer; the host has 580.159.04");
	n.min_driver = NULL;
	n.archs = arm;
	n.n_archs = 2;
	refused(&n, gpu, "has no amd64 build (it has arm64, ppc64le)");
	{
		static const char *const plat[] = {"linux/arm64/v8", "linux/amd64"};
		static const char *const armonly[] = {"linux/arm64/v8"};

		/* resolve's plan gives platforms, not uname names. */
		n.archs = plat;
		assert_int_equal(moo__runtime_preflight(&n, gpu, &err), 0);
		n.archs = armonly;
		n.n_archs = 1;
		refused(&n, gpu, "has no amd64 build (it has linux/arm64/v8)");
	}
	n.archs = amd64;
	n.n_archs = 1;
	n.accel = MOO_ACCEL_NPU;
	refused(&n, gpu, "asks for 1 NPU; the host has 0");
	n.accel = MOO_ACCEL_CPU;
	n.engine = MOO__ENGINE_DOCKER;
	refused(&n, gpu, "runtime 'docker' is not installed");
	n.engine = MOO__ENGINE_HOST;
	assert_int_equal(moo__runtime_preflight(&n, &nogpu, &err), 0);

	{
		enum moo__engine e = MOO__ENGINE_DOCKER;

		assert_int_equal(moo__runtime_choose(&e, gpu, NULL, &err), 0);
		assert_int_equal(e, MOO__ENGINE_HOST);
		assert_int_equal(moo__runtime_choose(&e, gpu, "img", &err), 0);
		assert_int_equal(e, MOO__ENGINE_PODMAN);
		nogpu.n_engines = 0;
		assert_int_equal(moo__runtime_choose(&e, &nogpu, "img", &err), MOO_ERESOLVE);
		moo_error_free(err);
	}
	assert_true(moo__version_cmp("12.10", "12.4") > 0);
	assert_true(moo__version_cmp("12.4", "12.4.0") == 0);
	assert_true(moo__version_cmp("550.54.14", "580.159.04") < 0);
	assert_int_equal(moo__engine_parse("singularity"), MOO__ENGINE_APPTAINER);
	assert_int_equal(moo__engine_parse("lxc"), -1);
	moo_host_facts_free(gpu);
}

/* ---- derived environments ------------------------------------------------------------ */

static void test_env(void **state)
{
	static const char *const a[] = {"pandas==2.0.3", "numpy>=1.24"};
	static const char *const b[] = {"numpy>=1.24", "pandas==2.0.3"};
	static const char *const c[] = {"numpy>=1.25", "pandas==2.0.3"};
	static const char *const bad[] = {"--index-url=http://evil"};
	static const char *const nl[] = {"numpy\nRUN rm -rf /"};
	char k1[MOO__SHA256_HEX], k2[MOO__SHA256_HEX], k3[MOO__SHA256_HEX], k4[MOO__SHA256_HEX];
	struct moo_buf out = MOO_BUF_INIT;
	struct moo_error *err = NULL;

	(void)state;
	assert_int_equal(moo__env_key(k1, "base@sha256:aa", a, 2, NULL), 0);
	assert_int_equal(moo__env_key(k2, "base@sha256:aa", b, 2, NULL), 0);
	assert_int_equal(moo__env_key(k3, "base@sha256:aa", c, 2, NULL), 0);
	assert_int_equal(moo__env_key(k4, "base@sha256:bb", b, 2, NULL), 0);
	assert_true(moo__is_sha256_hex(k1));
	assert_string_equal(k1, k2); /* order does not matter */
	assert_string_not_equal(k1, k3);
	assert_string_not_equal(k1, k4);
	assert_int_equal(moo__env_key(k1, "base", bad, 1, &err), MOO_EARG);
	moo_error_free(err);
	err = NULL;
	assert_int_equal(moo__env_key(k1, "base", nl, 1, &err), MOO_EARG);
	moo_error_free(err);

	moo__env_containerfile(&out, "localhost/moo-sklearn@sha256:aa", a, 2);
	assert_string_equal(out.ptr,
			    "# moo: the job's environment, named by its hash\n"
			    "FROM localhost/moo-sklearn@sha256:aa\n"
			    "RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir "
			    "'numpy>=1.24' 'pandas==2.0.3'\n");
	moo_buf_reset(&out);
	moo__env_definition(&out, "docker://x@sha256:aa", a, 1);
	assert_string_equal(out.ptr, "# moo: the job's environment, named by its hash\n"
				     "Bootstrap: docker\nFrom: docker://x@sha256:aa\n%post\n"
				     "    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install "
				     "--no-cache-dir 'pandas==2.0.3'\n");
	moo_buf_reset(&out);
	{
		static const char *const opts[] = {"--root", "/t/st"};

		moo__env_build_command(&out, MOO__ENGINE_PODMAN, opts, 2, "k1", "/r/envs/k1");
		assert_string_equal(
			out.ptr, "'podman' '--root' '/t/st' image inspect 'moo-env:k1' >/dev/null "
				 "2>&1 || 'podman' '--root' '/t/st' build --network host -t "
				 "'moo-env:k1' -f '/r/envs/k1/Containerfile' '/r/envs/k1'");
		moo_buf_reset(&out);
		moo__env_build_command(&out, MOO__ENGINE_APPTAINER, NULL, 0, "k1", "/r/envs/k1");
		assert_string_equal(
			out.ptr, "test -f '/r/envs/k1/env.sif' || { apptainer build --force "
				 "'/r/envs/k1/env.sif.tmp' '/r/envs/k1/Containerfile.def' && mv -f "
				 "'/r/envs/k1/env.sif.tmp' '/r/envs/k1/env.sif'; }");
		moo_buf_reset(&out);
	}
	moo__env_venv_command(&out, "/usr/bin/python3", "/r", "k1", a, 2);
	assert_string_equal(out.ptr,
			    "test -x '/r/envs/k1'/bin/python || { rm -rf '/r/envs/.k1.tmp' "
			    "&& '/usr/bin/python3' -m venv --system-site-packages "
			    "'/r/envs/.k1.tmp' && '/r/envs/.k1.tmp/bin/python' -m pip "
			    "install --no-cache-dir 'numpy>=1.24' 'pandas==2.0.3' && mv -T "
			    "'/r/envs/.k1.tmp' '/r/envs/k1'; }");
	moo_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host),    cmocka_unit_test(test_docker),
		cmocka_unit_test(test_podman),  cmocka_unit_test(test_apptainer),
		cmocka_unit_test(test_hostile), cmocka_unit_test(test_preflight),
		cmocka_unit_test(test_env),     cmocka_unit_test(test_dataset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
