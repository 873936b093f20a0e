/*
 * SHA-256 of buffers, files and streams (GNU Nettle), lowercase hex, and random bytes.
 *
 * Nettle rather than OpenSSL: libarchive brings nettle into every moo process already,
 * while mapping libcrypto (21,000 relocations) and setting up its EVP layer (config file,
 * providers) cost ~6 ms of CPU at each start of moo, about a tenth of what 'moo run' adds to
 * a short job. Nettle uses the CPU's SHA instructions as OpenSSL does (1.45 against 1.6
 * GB/s here). OpenSSL still comes with libssh and libcurl, which are loaded when needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/random.h>
#include <nettle/sha2.h>
#include "../internal.h"

void moo__hex(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/* The kernel's generator, not OpenSSL's: setting up OpenSSL's DRBG cost ~1.5 ms of CPU at
 * every 'moo run' (for a job id), for bytes getrandom(2) gives at once. */
void moo__random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			abort(); /* no randomness: nothing safe to do */
		}
		p += n;
		len -= (size_t)n;
	}
}

void moo__random_hex(char out[17])
{
	unsigned char r[8];

	moo__random(r, sizeof(r));
	moo__hex(r, sizeof(r), out);
}

struct moo__sha256 {
	struct sha256_ctx ctx;
};

struct moo__sha256 *moo__sha256_new(void)
{
	struct moo__sha256 *h = moo__malloc(sizeof(*h));

	sha256_init(&h->ctx);
	return h;
}

void moo__sha256_update(struct moo__sha256 *h, const void *data, size_t len)
{
	sha256_update(&h->ctx, len, data);
}

void moo__sha256_final(struct moo__sha256 *h, char hex[MOO__SHA256_HEX])
{
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_digest(&h->ctx, sizeof(md), md);
	moo__hex(md, sizeof(md), hex);
}

void moo__sha256_free(struct moo__sha256 *h)
{
	free(h);
}

void moo__sha256_buf(const void *data, size_t len, char hex[MOO__SHA256_HEX])
{
	struct moo__sha256 *h = moo__sha256_new();

	moo__sha256_update(h, data, len);
	moo__sha256_final(h, hex);
	moo__sha256_free(h);
}

int moo__sha256_file(const char *path, char hex[MOO__SHA256_HEX], uint64_t *size,
		     struct moo_error **err)
{
	struct moo__sha256 *h = NULL;
	char *chunk = NULL;
	uint64_t total = 0;
	int fd, r;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return moo__fail_errno(err, errno == ENOENT ? MOO_ENOTFOUND : MOO_EIO,
				       "cannot open '%s'", path);
	}
	chunk = moo__malloc(1 << 20);
	h = moo__sha256_new();
	while ((n = read(fd, chunk, 1 << 20)) != 0) {
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			r = moo__fail_errno(err, MOO_EIO, "cannot read '%s'", path);
			goto done;
		}
		moo__sha256_update(h, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	moo__sha256_final(h, hex);
	if (size) {
		*size = total;
	}
	r = 0;
done:
	moo__sha256_free(h);
	free(chunk);
	close(fd);
	return r;
}

bool moo__is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[64] == '\0';
}

char *moo__random_id(const char *prefix)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	char tail[sizeof(rnd) + 1];
	size_t i;

	moo__random(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		tail[i] = alnum[rnd[i] % 36];
	}
	tail[i] = '\0';
	return moo__printf("%s%s", prefix, tail);
}
