#include "ingest/sha256.h"

#include "core/log.h"
#include "core/xalloc.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct sha256 {
	EVP_MD_CTX *ctx;
};

static void start(struct sha256 *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		panic("libcrypto: cannot start a SHA-256 digest");
}

int sha256_new(struct sha256 **out)
{
	struct sha256 *h = xmalloc(sizeof *h);
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx)
		panic("libcrypto: cannot allocate a digest context");
	start(h);
	*out = h;
	return 0;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
		panic("libcrypto: SHA-256 update failed");
}

void sha256_final(struct sha256 *h, char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != SHA256_HEX_LEN / 2)
		panic("libcrypto: SHA-256 final failed");
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[SHA256_HEX_LEN] = '\0';
	/* Final leaves the context unusable until it is started again. */
	start(h);
}

void sha256_reset(struct sha256 *h)
{
	start(h);
}

void sha256_free(struct sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	struct sha256 *h = NULL;
	sha256_new(&h);
	sha256_update(h, data, len);
	sha256_final(h, out);
	sha256_free(h);
}
