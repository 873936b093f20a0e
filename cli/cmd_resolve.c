/*
 * moo resolve: which image a project runs in on a host, pinned to a digest, and moo.lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "cli.h"

static bool json, offline, accept_new;
static const char *on, *accelerator, *output, *runtime;

static const struct opt opts[] = {
	{0, "on", "HOST", "resolve for this host (probed over SSH); default this machine",
	 OPT_STRING, &on},
	{0, "runtime", "RUNTIME", "docker, podman, apptainer or host (default: as moo run chooses)",
	 OPT_STRING, &runtime},
	{0, "accelerator", "cpu|gpu|npu", "override resources.accelerator", OPT_STRING,
	 &accelerator},
	{'o', "output", "FILE", "where to write moo.lock ('-': nowhere); default the project's",
	 OPT_STRING, &output},
	{0, "offline", NULL, "do not ask the registry for the digest (the lock is not pinned)",
	 OPT_FLAG, &offline},
	{0, "accept-new-host-key", NULL, "record an unknown host key in known_hosts", OPT_FLAG,
	 &accept_new},
	{0, "json", NULL, "print the lock as JSON", OPT_FLAG, &json},
	OPT_END,
};

static void list_line(const char *label, char *const *v, size_t n)
{
	size_t i;

	printf("%-13s", label);
	for (i = 0; i < n; i++) {
		printf("%s%s", i ? ", " : "", v[i]);
	}
	printf("%s\n", n ? "" : "(none)");
}

static void print_human(const struct moo_plan *p, const char *lock)
{
	char *ref = moo_plan_ref(p);

	printf("%-13s%s %s, python %s (%s)\n", "framework", esc(p->framework),
	       esc(p->framework_version), p->python ? p->python : "?", p->source);
	printf("%-13s%s", "accelerator", moo_accel_name(p->accelerator));
	if (p->count) {
		printf(" x%u", p->count);
	}
	if (p->cuda) {
		printf(", CUDA %s", p->cuda);
	}
	if (p->min_driver) {
		printf(", NVIDIA driver %s or newer", p->min_driver);
	}
	if (p->cann) {
		printf(", CANN %s", p->cann);
	}
	putchar('\n');
	printf("%-13s%s\n", "image", p->image);
	if (p->pull && strcmp(p->pull, p->image)) {
		printf("%-13s%s\n", "pulled from", p->pull);
	}
	printf("%-13s%s\n", "digest", p->digest ? p->digest : "(not pinned: --offline)");
	if (p->platform) {
		printf("%-13s%s%s%s\n", "platform", p->platform, p->platform_digest ? " " : "",
		       p->platform_digest ? p->platform_digest : "");
	}
	list_line("platforms", p->archs, p->n_archs);
	list_line("requirements", p->requirements, p->n_requirements);
	printf("%-13s%s\n", "run", ref);
	if (p->command) {
		printf("%-13s%s\n", "command", p->command);
	}
	if (lock) {
		printf("%-13s%s\n", "lock", lock);
	}
	free(ref);
}

/* Where moo.lock goes: -o FILE ('-': nowhere), else the project folder's, else ./moo.lock. */
static char *lock_path_of(const char *source)
{
	struct stat st;
	size_t n;
	char *p;

	if (output) {
		return strcmp(output, "-") ? strdup(output) : NULL;
	}
	if (stat(source, &st) != 0 || !S_ISDIR(st.st_mode)) {
		return strdup("moo.lock");
	}
	n = strlen(source);
	p = malloc(n + sizeof("/moo.lock"));
	snprintf(p, n + sizeof("/moo.lock"), "%s%smoo.lock", source,
		 n && source[n - 1] == '/' ? "" : "/");
	return p;
}

static int run(const struct cmd *self, int argc, char **argv)
{
	struct moo_bundle_opts bo = MOO_BUNDLE_OPTS_INIT;
	struct moo_plan_opts po = MOO_PLAN_OPTS_INIT;
	struct moo_bundle *b = NULL;
	struct moo_plan *plan = NULL;
	struct moo_error *err = NULL;
	struct moo_buf lock = MOO_BUF_INIT;
	char *lock_path = NULL;
	const char *source;
	int npos, r;

	r = opt_parse(self, opts, argc, argv, &npos, 0, 1);
	if (r >= 0) {
		return r;
	}
	if (accelerator) {
		if (!strcmp(accelerator, "cpu")) {
			po.accelerator = MOO_ACCEL_CPU;
		} else if (!strcmp(accelerator, "gpu")) {
			po.accelerator = MOO_ACCEL_GPU;
		} else if (!strcmp(accelerator, "npu")) {
			po.accelerator = MOO_ACCEL_NPU;
		} else {
			return usage_error(self, "use cpu, gpu or npu", "unknown accelerator '%s'",
					   accelerator);
		}
	}
	source = npos ? argv[0] : ".";
	if ((r = moo_bundle_open(&b, source, &bo, &err))) {
		goto fail;
	}
	/* the plan moo run makes, with the image resolved whatever the runtime */
	po.host = on;
	po.runtime = runtime;
	po.offline = offline;
	po.accept_new_host_key = accept_new;
	po.resolve_image = true;
	po.no_preflight = true;
	lock_path = lock_path_of(source);
	if ((r = moo_plan_lock(&plan, b, &po, lock_path, &err))) {
		goto fail;
	}
	print_errors(err); /* warnings: a GPU asked of a host without one */
	moo_error_free(err);
	err = NULL;
	if (json) {
		json_t *o;

		moo_lock_write(&lock, plan);
		o = json_loads(lock.ptr, 0, NULL);
		json_object_set_new(o, "lock_file",
				    lock_path ? json_string(lock_path) : json_null());
		print_json(o);
	} else {
		print_human(plan, lock_path);
	}
	r = EXIT_OK;
	goto done;
fail:
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "source", json_string(source));
		json_object_set_new(o, "resolved", json_false());
		json_object_set_new(o, "diagnostics", errors_to_json(err));
		print_json(o);
		r = exit_code_for(r);
	} else {
		r = print_errors(err);
	}
done:
	moo_error_free(err);
	moo_buf_dispose(&lock);
	free(lock_path);
	moo_plan_free(plan);
	moo_bundle_free(b);
	return r;
}

const struct cmd cmd_resolve = {
	.name = "resolve",
	.summary = "pick the image a project runs in on a host, pin its digest, write moo.lock",
	.args = "[SOURCE]",
	.run = run,
};
