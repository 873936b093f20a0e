/* libFuzzer target: the metadata.yaml parser must never crash, leak or hang on any input. */
#include <stddef.h>
#include <stdint.h>
#include <moo.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moo_spec *spec = NULL;
	struct moo_error *err = NULL;

	if (moo_spec_parse(&spec, (const char *)data, size, "fuzz.yaml", &err) == 0) {
		struct moo_buf json = MOO_BUF_INIT;

		moo_spec_to_json(&json, spec);
		moo_buf_dispose(&json);
		moo_spec_free(spec);
	}
	moo_error_free(err);
	return 0;
}
