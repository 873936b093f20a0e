/*
 * libFuzzer target: config.yaml (hosts, and the image table's 'images:' and 'registries:'),
 * resolution against whatever table it builds, and moo.lock, on any input: never a crash,
 * leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <moo.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char spec_text[] = "framework: {name: sklearn, version: \"1.2\", runtime: python3}\n"
				"model: {name: m}\nentry_point: train.py\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moo_config *cfg = NULL;
	struct moo_images *t = NULL;
	struct moo_plan *plan = NULL;
	struct moo_error *err = NULL;
	struct moo_buf out = MOO_BUF_INIT;
	static struct moo_spec *spec;

	if (!spec && moo_spec_parse(&spec, spec_text, strlen(spec_text), "m.yaml", NULL)) {
		return 0;
	}
	if (moo_config_parse(&cfg, (const char *)data, size, "config.yaml", &err) == 0) {
		moo_config_to_yaml(&out, cfg);
		moo_config_free(cfg);
	}
	moo_error_free(err);
	err = NULL;
	if (moo_images_parse(&t, (const char *)data, size, "config.yaml", &err) == 0) {
		struct moo_resolve_opts o = MOO_RESOLVE_OPTS_INIT;

		if (moo_resolve(&plan, t, spec, &o, &err) == 0) {
			moo_lock_write(&out, plan);
			moo_plan_free(plan);
			plan = NULL;
		}
		moo_images_free(t);
	}
	moo_error_free(err);
	err = NULL;
	if (moo_lock_parse(&plan, (const char *)data, size, "moo.lock", &err) == 0) {
		moo_lock_write(&out, plan);
		moo_plan_free(plan);
	}
	moo_error_free(err);
	moo_buf_dispose(&out);
	return 0;
}
