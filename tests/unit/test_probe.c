/* Unit tests: libmoo/probe.c against a real H100 host's output (tests/fixtures) and this
 * machine's own, produced by the embedded probe script. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "../../libmoo/internal.h"

static void read_fixture(const char *name, struct moo_buf *out)
{
	char *path = moo__printf("%s/tests/fixtures/gpu-host-h100/%s", getenv("MOO_SRC"), name);

	assert_int_equal(moo__read_file(path, 1 << 20, out, NULL), 0);
	free(path);
}

/* host-facts.txt holds uname -a, os-release, nproc, free -b and df -B1 one after another:
 * cut it into the probe's sections. */
static void fixture_probe(struct moo_buf *text)
{
	struct moo_buf facts = MOO_BUF_INIT, csv = MOO_BUF_INIT, smi = MOO_BUF_INIT;
	char *line, *save = NULL, *w[16];
	int n = 0;

	read_fixture("host-facts.txt", &facts);
	read_fixture("query-gpu.csv", &csv);
	read_fixture("nvidia-smi-plain.txt", &smi);
	moo_buf_puts(text, "@@moo probe 1\n");
	for (line = strtok_r(facts.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n++ == 0) {
			char *s = moo__strdup(line), *p = s;
			int k = 0;

			while (k < 16 && (w[k] = strtok_r(p, " ", &p))) {
				k++;
			}
			/* uname -a: "Linux vm RELEASE #1 … MACHINE …" → uname -s -r -m */
			moo_buf_printf(text, "@@moo uname\n%s %s %s\n", w[0], w[2], "x86_64");
			free(s);
			moo_buf_puts(text, "@@moo os-release\n");
		} else if (strchr(line, '=')) {
			moo_buf_printf(text, "%s\n", line);
		} else if (!strcmp(line, "16")) {
			moo_buf_printf(text, "@@moo cpus\n%s\n@@moo memory\n", line);
		} else if (!strncmp(line, "Mem:", 4)) {
			moo_buf_printf(text, "%s\n@@moo root-hex 2f6d6f6f\n@@moo df\n", line);
		} else if (!strncmp(line, "Filesystem", 10) || !strncmp(line, "/dev/vda", 8)) {
			moo_buf_printf(text, "%s\n", line);
		}
	}
	moo_buf_printf(text, "@@moo nvidia-query\n%s@@moo nvidia-smi\n%s", csv.ptr, smi.ptr);
	moo_buf_puts(text, "@@moo python /opt/torch/.venv/bin/python3\nPython 3.12.3\n@@moo end\n");
	moo_buf_dispose(&facts);
	moo_buf_dispose(&csv);
	moo_buf_dispose(&smi);
}

static void test_h100_fixture(void **state)
{
	struct moo_buf text = MOO_BUF_INIT, json = MOO_BUF_INIT;
	struct moo_host_facts *f = NULL;

	(void)state;
	fixture_probe(&text);
	assert_int_equal(moo_host_facts_parse(&f, text.ptr, text.len, NULL), 0);
	assert_string_equal(f->os_id, "ubuntu");
	assert_string_equal(f->os_version, "24.04");
	assert_string_equal(f->os_name, "Ubuntu 24.04.3 LTS");
	assert_string_equal(f->kernel, "6.18.44-fc-v657-gpu");
	assert_string_equal(f->arch, "x86_64");
	assert_int_equal(f->cpus, 16);
	assert_true(f->mem_total == 135148564480ULL);
	assert_true(f->mem_available == 134636265472ULL);
	assert_true(f->disk_free == 68699807744ULL);
	assert_string_equal(f->root, "/moo");
	assert_int_equal(f->n_gpus, 1);
	assert_int_equal(f->gpus[0].index, 0);
	assert_string_equal(f->gpus[0].name, "NVIDIA H100 80GB HBM3");
	assert_string_equal(f->gpus[0].uuid, "GPU-dd71f19c-47b5-c74b-99d0-149a8cf59803");
	assert_true(f->gpus[0].memory_total_mib == 81559);
	assert_true(f->gpus[0].memory_used_mib == 0);
	assert_string_equal(f->gpus[0].driver, "580.159.04");
	assert_string_equal(f->gpus[0].compute_cap, "9.0");
	assert_string_equal(f->cuda_version, "13.0");
	assert_string_equal(f->driver_version, "580.159.04");
	assert_int_equal(f->n_engines, 0);
	assert_int_equal(f->n_pythons, 1);
	assert_string_equal(f->pythons[0].version, "3.12.3");
	moo_host_facts_to_json(&json, f);
	assert_non_null(strstr(json.ptr, "\"compute_cap\": \"9.0\""));
	assert_non_null(strstr(json.ptr, "\"cuda_version\": \"13.0\""));
	moo_host_facts_free(f);
	moo_buf_dispose(&text);
	moo_buf_dispose(&json);
}

/* nvidia-smi.txt is the plain table, the CSV and the head of -q in one: only the header
 * line and well-formed CSV rows count. */
static void test_nvidia_smi_combined(void **state)
{
	struct moo_buf text = MOO_BUF_INIT, all = MOO_BUF_INIT;
	struct moo_host_facts *f = NULL;

	(void)state;
	read_fixture("nvidia-smi.txt", &all);
	moo_buf_printf(&text, "@@moo probe 1\n@@moo nvidia-query\n%s@@moo nvidia-smi\n%s", all.ptr,
		       all.ptr);
	assert_int_equal(moo_host_facts_parse(&f, text.ptr, text.len, NULL), 0);
	assert_int_equal(f->n_gpus, 1);
	assert_string_equal(f->cuda_version, "13.0");
	moo_host_facts_free(f);
	moo_buf_dispose(&text);
	moo_buf_dispose(&all);
}

static void test_failures_and_npus(void **state)
{
	static const char failed[] =
		"@@moo probe 1\n@@moo nvidia-query\nNVIDIA-SMI has failed because it couldn't "
		"communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is "
		"installed and running.\n@@moo engine podman\npodman version 4.3.1\n"
		"@@moo engine apptainer\napptainer version 1.2.5-1.el8\n@@moo end\n";
	/* npu-smi info's layout (Ascend 910B), written from its documented form */
	static const char npu[] =
		"@@moo probe 1\n@@moo npu-smi\n"
		"+------------------------------------------------------------------------------+\n"
		"| npu-smi 23.0.rc2                 Version: 23.0.rc2                            "
		"|\n"
		"+---------------------------+---------------+----------------------------------+\n"
		"| NPU   Name                | Health        | Power(W)    Temp(C)              |\n"
		"| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)     |\n"
		"+===========================+===============+==================================+\n"
		"| 0     910B3               | OK            | 93.4        37                   |\n"
		"| 0                         | 0000:C1:00.0  | 0           0    / 0             |\n"
		"+===========================+===============+==================================+\n"
		"| 1     910B3               | Warning       | 90.1        36                   |\n"
		"| 0                         | 0000:C2:00.0  | 0           0    / 0             |\n"
		"+===========================+===============+==================================+\n"
		"@@moo end\n";
	struct moo_host_facts *f = NULL;
	struct moo_error *err = NULL;

	(void)state;
	assert_int_equal(moo_host_facts_parse(&f, failed, strlen(failed), NULL), 0);
	assert_int_equal(f->n_gpus, 0);
	assert_int_equal(f->n_engines, 2);
	assert_string_equal(f->engines[0].version, "4.3.1");
	assert_string_equal(f->engines[1].version, "1.2.5-1.el8");
	moo_host_facts_free(f);
	assert_int_equal(moo_host_facts_parse(&f, npu, strlen(npu), NULL), 0);
	assert_int_equal(f->n_npus, 2);
	assert_string_equal(f->npus[0].name, "910B3");
	assert_string_equal(f->npus[1].health, "Warning");
	assert_string_equal(f->npu_version, "23.0.rc2");
	moo_host_facts_free(f);
	f = NULL;
	assert_int_equal(moo_host_facts_parse(&f, "bash: sh: not found\n", 20, &err), MOO_EHOST);
	assert_null(f);
	assert_non_null(err);
	moo_error_free(err);
	/* a login shell's noise before the script is skipped */
	assert_int_equal(
		moo_host_facts_parse(&f, "welcome!\n@@moo probe 1\n@@moo cpus\n3\n", 35, NULL), 0);
	assert_int_equal(f->cpus, 3);
	moo_host_facts_free(f);
}

/* The embedded script, run here by sh, describes this machine. */
static void test_this_machine(void **state)
{
	char dir[] = "/tmp/moo-probe-XXXXXX";
	struct moo_buf script = MOO_BUF_INIT, out = MOO_BUF_INIT;
	struct moo_host_facts *f = NULL;
	struct utsname u;
	char *sh, *txt, *cmd;
	size_t i;
	bool usr_bin = false;

	(void)state;
	assert_non_null(mkdtemp(dir));
	sh = moo__printf("%s/probe.sh", dir);
	txt = moo__printf("%s/out.txt", dir);
	moo__host_probe_script(&script);
	assert_true(script.len > 100);
	assert_int_equal(moo__write_file_atomic(sh, script.ptr, script.len, 0600, false, NULL), 0);
	cmd = moo__printf("sh %s %s/root >%s 2>/dev/null", sh, dir, txt);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(moo__read_file(txt, 1 << 20, &out, NULL), 0);
	assert_int_equal(moo_host_facts_parse(&f, out.ptr, out.len, NULL), 0);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(f->arch, u.machine);
	assert_string_equal(f->kernel, u.release);
	assert_int_equal(f->cpus, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	assert_true(f->mem_total > 0 && f->mem_available <= f->mem_total);
	assert_true(f->disk_free > 0);
	assert_true(!strncmp(f->root, dir, strlen(dir)));
	assert_non_null(f->os_id);
	for (i = 0; i < f->n_pythons; i++) {
		usr_bin |= !strcmp(f->pythons[i].path, "/usr/bin/python3");
	}
	if (access("/usr/bin/python3", X_OK) == 0) {
		assert_true(usr_bin);
	}
	moo_host_facts_free(f);
	unlink(sh);
	unlink(txt);
	rmdir(dir);
	free(sh);
	free(txt);
	free(cmd);
	moo_buf_dispose(&script);
	moo_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h100_fixture),
		cmocka_unit_test(test_nvidia_smi_combined),
		cmocka_unit_test(test_failures_and_npus),
		cmocka_unit_test(test_this_machine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
