/* libFuzzer target: the bundle reader. Each input is written to a temporary ZIP, opened
 * (every rule and cap) and, when it opens, extracted into a temporary folder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../libmoo/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct moo_bundle_opts o = MOO_BUNDLE_OPTS_INIT;
	struct moo_bundle *b = NULL;
	char dir[] = "/tmp/moo-fuzz.XXXXXX";
	char *zip, *dest;
	FILE *f;

	if (!mkdtemp(dir)) {
		abort();
	}
	zip = moo__path_join(dir, "in.zip");
	dest = moo__path_join(dir, "out/work");
	f = fopen(zip, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		abort();
	}
	o.max_bytes = 8u << 20;
	o.max_entries = 1000;
	if (moo_bundle_open(&b, zip, &o, NULL) == 0) {
		moo_bundle_extract(b, dest, &o, NULL);
	}
	moo_bundle_free(b);
	moo__rm_rf(dir);
	free(zip);
	free(dest);
	return 0;
}
