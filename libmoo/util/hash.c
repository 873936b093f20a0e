/* SHA-256 (OpenSSL's EVP) of buffers, files and streams, lowercase hex, and random bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/random.h>
#include <openssl/evp.h>
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

struct moo__sha256 *moo__sha256_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		abort(); /* only allocation can fail here */
	}
	return (struct moo__sha256 *)c;
}

void moo__sha256_update(struct moo__sha256 *h, const void *data, size_t len)
{
	if (len && !EVP_DigestUpdate((EVP_MD_CTX *)h, data, len)) {
		abort();
	}
}

void moo__sha256_final(struct moo__sha256 *h, char hex[MOO__SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex((EVP_MD_CTX *)h, md, &n) || n != 32) {
		abort();
	}
	moo__hex(md, 32, hex);
}

void moo__sha256_free(struct moo__sha256 *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
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
