/*
 * redact: replaces the local part of every e-mail address in a text by its
 * SHA-256 (OpenSSL libcrypto), for failure reports kept under
 * `[ruf] redact = true`.
 *
 * "Alice <alice@example.com>" becomes "Alice <sha256:2bd806c9...@example.com>":
 * the domain stays (it is what DMARC is about), the same person gets the same
 * hash in every report (so samples can still be grouped), and the address is
 * not readable. Addresses are found with a GLib regular expression. Returns a
 * new string (the caller frees it with free()), or NULL for NULL.
 */
#ifndef DS_INGEST_REDACT_H
#define DS_INGEST_REDACT_H

char *redact_addresses(const char *text);

#endif
