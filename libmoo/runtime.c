/*
 * runtime: the container engines (docker, podman, apptainer) and the 'host' runtime — one
 * sh command line each (moo__runtime_command), the preflight that refuses a job a host
 * cannot run, the choice of a runtime. The host's Python is runtime_python.c, derived
 * environments runtime_env.c, the plan and what ran plan.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "registry.h"
#include "ssh.h"
#include "runtime.h"

/* ---- container runtimes ---------------------------------------------------------------- */

static const char *const engine_names[] = {"host", "docker", "podman", "apptainer"};

const char *moo__engine_name(enum moo__engine e)
{
	return (unsigned)e < MOO_ARRAY_SIZE(engine_names) ? engine_names[e] : "?";
}

int moo__engine_parse(const char *name)
{
	size_t i;

	if (!name) {
		return -1;
	}
	for (i = 0; i < MOO_ARRAY_SIZE(engine_names); i++) {
		if (!strcmp(name, engine_names[i])) {
			return (int)i;
		}
	}
	return !strcmp(name, "singularity") ? MOO__ENGINE_APPTAINER : -1;
}

void moo__word(struct moo_buf *out, const char *w)
{
	moo_buf_putc(out, ' ');
	moo_buf_shquote(out, w);
}

static void wordf(struct moo_buf *out, const char *fmt, ...) MOO_PRINTF(2, 3);
static void wordf(struct moo_buf *out, const char *fmt, ...)
{
	struct moo_buf w = MOO_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	moo_buf_vprintf(&w, fmt, ap);
	va_end(ap);
	moo__word(out, w.ptr ? w.ptr : "");
	moo_buf_dispose(&w);
}

bool moo__has_ctl(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			return true;
		}
	}
	return false;
}

/* The device indices: in->visible checked ("0,1"), else 0 … count-1. */
static int devices(struct moo_buf *out, const struct moo__rt_in *in, struct moo_error **err)
{
	unsigned i, n = in->count ? in->count : 1;
	const char *p;

	if (in->visible) {
		bool digit = false;

		for (p = in->visible; *p; p++) {
			if (*p >= '0' && *p <= '9') {
				digit = true;
			} else if (*p != ',' || !digit) {
				break;
			} else {
				digit = false;
			}
		}
		if (*p || !digit) {
			return moo__fail(err, MOO_EARG,
					 "visible devices '%s' are not indices like '0,1'",
					 in->visible);
		}
		moo_buf_puts(out, in->visible);
		return 0;
	}
	for (i = 0; i < n; i++) {
		moo_buf_printf(out, "%s%u", i ? "," : "", i);
	}
	return 0;
}

static int check_in(const struct moo__rt_in *in, struct moo_error **err)
{
	size_t i;

	if (!in->job_dir || !in->work_dir || !in->argc || *in->job_dir != '/' ||
	    *in->work_dir != '/') {
		return moo__fail(err, MOO_EARG,
				 "a runtime command needs absolute job and work "
				 "folders and a command");
	}
	if (in->engine != MOO__ENGINE_HOST) {
		if (!in->image || !*in->image || moo__has_ctl(in->image) || *in->image == '-') {
			return moo__fail(err, MOO_EARG, "the %s runtime needs an image, not '%s'",
					 moo__engine_name(in->engine), in->image ? in->image : "");
		}
		/* -v SRC:DST and --bind SRC split on ':' (and apptainer's on ','). */
		const char *bad = NULL;

		if (strchr(in->job_dir, ':') || strchr(in->job_dir, ',') ||
		    moo__has_ctl(in->job_dir)) {
			bad = in->job_dir;
		} else if (in->dataset_dir &&
			   (strchr(in->dataset_dir, ':') || strchr(in->dataset_dir, ',') ||
			    moo__has_ctl(in->dataset_dir))) {
			bad = in->dataset_dir;
		}
		if (bad) {
			struct moo_error *e;

			e = moo__error_add(err, MOO_EARG, MOO_SEV_ERROR,
					   "the %s folder '%s' cannot be bind-mounted: it holds "
					   "':', ',' or a control character",
					   bad == in->job_dir ? "job" : "dataset", bad);
			moo__error_hint(e, "set MOO_ROOT on the host to a plain path");
			return MOO_EARG;
		}
	}
	for (i = 0; i < in->n_env; i++) {
		const char *eq = strchr(in->env[i], '=');

		if (!eq || eq == in->env[i]) {
			return moo__fail(err, MOO_EARG, "environment entry '%s' is not NAME=VALUE",
					 in->env[i]);
		}
	}
	return 0;
}

static void limits(struct moo_buf *out, const struct moo__rt_in *in)
{
	if (in->cpus > 0) {
		moo_buf_puts(out, " --cpus");
		wordf(out, "%g", in->cpus);
	}
	if (in->memory) {
		moo_buf_puts(out, " --memory");
		wordf(out, "%llu", (unsigned long long)in->memory);
	}
}

/* Ascend NPUs in a container: the chosen davinci devices, the shared ones, the driver. */
static void npu_devices(struct moo_buf *out, const char *list)
{
	static const char *const shared[] = {"/dev/davinci_manager", "/dev/devmm_svm",
					     "/dev/hisi_hdc"};
	const char *p = list;
	size_t i;

	while (*p) {
		size_t n = strcspn(p, ",");

		moo_buf_puts(out, " --device");
		wordf(out, "/dev/davinci%.*s", (int)n, p);
		p += n + (p[n] == ',');
	}
	for (i = 0; i < MOO_ARRAY_SIZE(shared); i++) {
		moo_buf_puts(out, " --device");
		moo__word(out, shared[i]);
	}
	moo_buf_puts(out, " -v");
	moo__word(out, "/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro");
	moo_buf_puts(out, " -e");
	wordf(out, "ASCEND_VISIBLE_DEVICES=%s", list);
}

static void oci_command(struct moo_buf *out, const struct moo__rt_in *in, const char *list)
{
	size_t i;

	moo_buf_puts(out, " run --rm --init");
	if (in->name) {
		moo_buf_puts(out, " --name");
		moo__word(out, in->name);
	}
	moo_buf_puts(out, " --network host -v");
	wordf(out, "%s:%s", in->job_dir, in->job_dir);
	if (in->dataset_dir) {
		moo_buf_puts(out, " -v");
		wordf(out, "%s:%s:ro", in->dataset_dir, in->dataset_dir);
	}
	moo_buf_puts(out, " -w");
	moo__word(out, in->work_dir);
	if (in->accel == MOO_ACCEL_GPU && in->engine == MOO__ENGINE_DOCKER) {
		/* --gpus reads CSV: the inner quotes keep "0,1" one field. */
		moo_buf_puts(out, " --gpus");
		wordf(out, "\"device=%s\"", list);
	} else if (in->accel == MOO_ACCEL_GPU) {
		const char *p = list;

		/* podman: the CDI devices of nvidia-ctk cdi generate. */
		while (*p) {
			size_t n = strcspn(p, ",");

			moo_buf_puts(out, " --device");
			wordf(out, "nvidia.com/gpu=%.*s", (int)n, p);
			p += n + (p[n] == ',');
		}
	} else if (in->accel == MOO_ACCEL_NPU) {
		npu_devices(out, list);
	}
	limits(out, in);
	for (i = 0; i < in->n_env; i++) {
		moo_buf_puts(out, " -e");
		moo__word(out, in->env[i]);
	}
	moo__word(out, in->image);
}

static void apptainer_command(struct moo_buf *out, const struct moo__rt_in *in, const char *list)
{
	const char *img = in->image;
	size_t i;

	moo_buf_puts(out, " exec --cleanenv --bind");
	moo__word(out, in->job_dir);
	if (in->dataset_dir) {
		moo_buf_puts(out, " --bind");
		wordf(out, "%s:%s:ro", in->dataset_dir, in->dataset_dir);
	}
	moo_buf_puts(out, " --pwd");
	moo__word(out, in->work_dir);
	if (in->accel == MOO_ACCEL_GPU) {
		moo_buf_puts(out, " --nv --env");
		wordf(out, "CUDA_VISIBLE_DEVICES=%s", list);
	} else if (in->accel == MOO_ACCEL_NPU) {
		moo_buf_puts(out, " --bind");
		moo__word(out, "/usr/local/Ascend/driver:/usr/local/Ascend/driver:ro");
		moo_buf_puts(out, " --env");
		wordf(out, "ASCEND_VISIBLE_DEVICES=%s", list);
	}
	limits(out, in);
	for (i = 0; i < in->n_env; i++) {
		moo_buf_puts(out, " --env");
		moo__word(out, in->env[i]);
	}
	/* A reference (not a file, not already a URI) comes from a registry. */
	if (*img == '/' || !strncmp(img, "./", 2) || strstr(img, "://") ||
	    (strlen(img) > 4 && !strcmp(img + strlen(img) - 4, ".sif"))) {
		moo__word(out, img);
	} else {
		wordf(out, "docker://%s", img);
	}
}

int moo__runtime_command(struct moo_buf *out, const struct moo__rt_in *in, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, list = MOO_BUF_INIT;
	size_t i;
	int r;

	r = check_in(in, err);
	if (r) {
		goto done;
	}
	if (in->accel != MOO_ACCEL_CPU) {
		r = devices(&list, in, err);
		if (r) {
			goto done;
		}
	}
	if (in->engine == MOO__ENGINE_HOST) {
		moo_buf_puts(&cmd, "env");
		if (in->accel == MOO_ACCEL_GPU) {
			wordf(&cmd, "CUDA_VISIBLE_DEVICES=%s", list.ptr);
		} else if (in->accel == MOO_ACCEL_NPU) {
			wordf(&cmd, "ASCEND_RT_VISIBLE_DEVICES=%s", list.ptr);
		}
		for (i = 0; i < in->n_env; i++) {
			moo__word(&cmd, in->env[i]);
		}
	} else {
		moo_buf_shquote(&cmd, moo__engine_name(in->engine));
		for (i = 0; i < in->n_engine_opts; i++) {
			moo__word(&cmd, in->engine_opts[i]);
		}
		if (in->engine == MOO__ENGINE_APPTAINER) {
			apptainer_command(&cmd, in, list.ptr);
		} else {
			oci_command(&cmd, in, list.ptr);
		}
	}
	for (i = 0; i < in->argc; i++) {
		moo__word(&cmd, in->argv[i]);
	}
	moo_buf_add(out, cmd.ptr, cmd.len);
	r = 0;
done:
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&list);
	return r;
}

/* ---- preflight ----------------------------------------------------------------------- */

int moo__version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

		if (x != y) {
			return x < y ? -1 : 1;
		}
		a = *ea == '.' ? ea + 1 : ea + strlen(ea);
		b = *eb == '.' ? eb + 1 : eb + strlen(eb);
	}
	return 0;
}

/* uname -m and OCI platform names for the same architecture. */
static const char *oci_arch(const char *a)
{
	static const char *const map[][2] = {
		{"x86_64", "amd64"},    {"aarch64", "arm64"}, {"armv7l", "arm"},
		{"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"},
	};
	size_t i;

	for (i = 0; i < MOO_ARRAY_SIZE(map); i++) {
		if (!strcmp(a, map[i][0])) {
			return map[i][1];
		}
	}
	return a;
}

static bool host_has_engine(const struct moo_host_facts *h, enum moo__engine e)
{
	size_t i;

	for (i = 0; i < h->n_engines; i++) {
		if (moo__engine_parse(h->engines[i].name) == (int)e) {
			return true;
		}
	}
	return false;
}

int moo__runtime_preflight(const struct moo__needs *need, const struct moo_host_facts *host,
			   struct moo_error **err)
{
	const char *img = need->image ? need->image : "the image";
	unsigned n = need->count ? need->count : 1;
	struct moo_error *e;
	size_t i;

	if (need->engine != MOO__ENGINE_HOST && !host_has_engine(host, need->engine)) {
		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "runtime '%s' is not installed on the host",
				   moo__engine_name(need->engine));
		moo__error_hint(e, "install it, or choose another with --runtime (moo hosts check "
				   "lists the engines a host has)");
		return MOO_ERESOLVE;
	}
	if (need->n_archs && host->arch) {
		const char *want = oci_arch(host->arch);
		struct moo_buf have = MOO_BUF_INIT;
		bool found = false;

		for (i = 0; i < need->n_archs; i++) {
			const char *a = need->archs[i];
			size_t len;

			a = !strncmp(a, "linux/", 6) ? a + 6 : a; /* a platform: linux/arm64/v8 */
			len = strcspn(a, "/");
			found = found || (strlen(want) == len && !strncmp(a, want, len)) ||
				!strcmp(oci_arch(a), want);
			moo_buf_printf(&have, "%s%s", i ? ", " : "", need->archs[i]);
		}
		if (!found) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "'%s' has no %s build (it has %s)", img, want, have.ptr);
			moo__error_hint(e, "choose an image built for %s, or another host", want);
			moo_buf_dispose(&have);
			return MOO_ERESOLVE;
		}
		moo_buf_dispose(&have);
	}
	if (need->accel == MOO_ACCEL_GPU) {
		if (host->n_gpus < n) {
			if (host->n_gpus) {
				e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
						   "the job asks for %u GPUs; the host has %zu", n,
						   host->n_gpus);
			} else {
				e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
						   "the job asks for %u GPU%s; the host has none",
						   n, n == 1 ? "" : "s");
			}
			moo__error_hint(e, "run it on a host with GPUs (--on HOST), or set "
					   "resources.accelerator: cpu");
			return MOO_ERESOLVE;
		}
		if (need->cuda && host->cuda_version &&
		    moo__version_cmp(need->cuda, host->cuda_version) > 0) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "'%s' needs CUDA %s; the host's driver %s supports CUDA "
					   "%s at most",
					   img, need->cuda,
					   host->driver_version ? host->driver_version : "?",
					   host->cuda_version);
			moo__error_hint(e, "update the NVIDIA driver, or pin an older framework "
					   "version");
			return MOO_ERESOLVE;
		}
		if (need->min_driver && host->driver_version &&
		    moo__version_cmp(need->min_driver, host->driver_version) > 0) {
			e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
					   "'%s' needs NVIDIA driver %s or newer; the host has %s",
					   img, need->min_driver, host->driver_version);
			moo__error_hint(e, "update the NVIDIA driver, or pin an older framework "
					   "version");
			return MOO_ERESOLVE;
		}
	} else if (need->accel == MOO_ACCEL_NPU && host->n_npus < n) {
		e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
				   "the job asks for %u NPU%s; the host has %zu", n,
				   n == 1 ? "" : "s", host->n_npus);
		moo__error_hint(e, "run it on a host with Ascend NPUs (--on HOST), or set "
				   "resources.accelerator: cpu");
		return MOO_ERESOLVE;
	}
	return 0;
}

int moo__runtime_choose(enum moo__engine *out, const struct moo_host_facts *host, const char *image,
			struct moo_error **err)
{
	static const enum moo__engine order[] = {MOO__ENGINE_PODMAN, MOO__ENGINE_DOCKER,
						 MOO__ENGINE_APPTAINER};
	struct moo_error *e;
	size_t i;

	if (!image) {
		*out = MOO__ENGINE_HOST;
		return 0;
	}
	for (i = 0; i < MOO_ARRAY_SIZE(order); i++) {
		if (host_has_engine(host, order[i])) {
			*out = order[i];
			return 0;
		}
	}
	e = moo__error_add(err, MOO_ERESOLVE, MOO_SEV_ERROR,
			   "image '%s' needs a container engine; the host has none", image);
	moo__error_hint(e, "install podman, docker or apptainer there, or use --runtime host");
	return MOO_ERESOLVE;
}

/* $MOO_<ENGINE>_OPTS as the host's sh sees it, split on blanks. */
int moo__engine_opts(struct moo__runtime *rt, struct moo__transport *t, struct moo_error **err)
{
	struct moo_buf cmd = MOO_BUF_INIT, out = MOO_BUF_INIT;
	const char *n;
	char *w, *save = NULL;
	int r, status;

	moo_buf_puts(&cmd, "printf '%s' \"${MOO_");
	for (n = moo__engine_name(rt->engine); *n; n++) {
		moo_buf_putc(&cmd, (char)(*n - 'a' + 'A'));
	}
	moo_buf_puts(&cmd, "_OPTS-}\"");
	r = t->ops->exec(t, cmd.ptr, &out, NULL, &status, err);
	if (!r && out.len) {
		for (w = strtok_r(out.ptr, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
			MOO_GROW(rt->engine_opts, rt->n_engine_opts);
			rt->engine_opts[rt->n_engine_opts++] = moo__strdup(w);
		}
	}
	moo_buf_dispose(&cmd);
	moo_buf_dispose(&out);
	return r;
}
