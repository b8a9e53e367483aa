/*
 * sha256: the SHA-256 of raw inputs, as 64 lowercase hex digits, through
 * OpenSSL's libcrypto (EVP), which uses the CPU's SHA instructions (SHA-NI,
 * ARMv8 crypto) where there are any. Raw messages are identified by it
 * (raw_messages.sha256): duplicates, reprocess, the quarantine.
 *
 * A running hash is fed as bytes stream (sha256_update) and read once
 * (sha256_final), after which sha256_reset starts it anew. sha256_new aborts
 * when libcrypto cannot set up a digest (as allocation failure does); the
 * caller frees the handle with sha256_free, which takes NULL.
 */
#ifndef DS_INGEST_SHA256_H
#define DS_INGEST_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

struct sha256;

int sha256_new(struct sha256 **out);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the digest of everything fed since the last reset, NUL-terminated. */
void sha256_final(struct sha256 *h, char out[SHA256_HEX_LEN + 1]);
void sha256_reset(struct sha256 *h);
void sha256_free(struct sha256 *h);

/* The digest of one buffer. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
