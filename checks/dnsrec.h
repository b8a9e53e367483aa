/*
 * dnsrec: readers of the policy records a domain publishes in DNS — DMARC
 * (RFC 7489 / RFC 9989), the DKIM key record (RFC 6376, RFC 8463), the
 * MTA-STS TXT record and policy file (RFC 8461) and the TLS-RPT record
 * (RFC 8460). The bytes come from DNS (or an HTTPS server) and are
 * untrusted: each reader takes a NUL-terminated text, never writes past its
 * output, and says what is wrong in `why` (a capped buffer the caller
 * owns). No I/O here; checks/dnscheck.c asks the questions.
 *
 * Every reader returns 0 when the record is usable, -1 when it is not (the
 * reason in `why`). The structures' pointers belong to them: *_free.
 */
#ifndef DS_CHECKS_DNSREC_H
#define DS_CHECKS_DNSREC_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Tag lists (RFC 6376 section 3.2): "tag=value; tag=value". */
#define TAGLIST_MAX 32
struct tagval {
	char *name; /* lower-cased */
	char *value;
};
struct taglist {
	struct tagval v[TAGLIST_MAX];
	size_t n;
};
/* -1 for a tag without '=', a bad tag name, a tag given twice, more than
 * TAGLIST_MAX tags. */
int taglist_parse(const char *txt, struct taglist *out, struct buf *why);
const char *taglist_get(const struct taglist *l, const char *name);
void taglist_free(struct taglist *l);

/* Whether a TXT record is meant to be of this kind: it starts with
 * "v=<version>" (case-insensitive, then end, ';' or space). */
bool dnsrec_is(const char *txt, const char *version);

/* DMARC. Syntax problems are listed in `problems` (one "; "-joined text);
 * unknown tags in `unknown`. -1 only when it is no DMARC record at all
 * (v=DMARC1 not first, or no tag list). */
struct dmarcrec {
	char p[12], sp[12], np[12]; /* "" when absent */
	int pct;                    /* -1 when absent */
	bool testing;               /* t=y */
	char adkim, aspf;           /* 'r', 's', or 0 when absent */
	char psd;                   /* 'y', 'n', 'u', or 0 */
	char *rua, *ruf;            /* as published, NULL when absent */
	struct buf problems, unknown;
};
int dmarcrec_parse(const char *txt, struct dmarcrec *r, struct buf *why);
void dmarcrec_free(struct dmarcrec *r);
/* The host of each mailto: URI of a rua/ruf list (lower-cased, in order).
 * URIs that are not mailto:local@host are named in `bad`. */
size_t dmarc_uri_hosts(const char *list, char ***hosts, struct buf *bad);
void dnsrec_strings_free(char **v, size_t n);

/* DKIM key record. bits: RSA modulus size from the SubjectPublicKeyInfo
 * (OpenSSL), 256 for ed25519, 0 when revoked (empty p=). */
struct dkimkey {
	char k[16]; /* "rsa" (default) or "ed25519" */
	bool revoked, testing;
	int bits;
};
int dkimkey_parse(const char *txt, struct dkimkey *out, struct buf *why);

/* MTA-STS TXT record: the id (1-32 alphanumerics) into id. */
int mtasts_txt_parse(const char *txt, char *id, size_t idsz, struct buf *why);

/* MTA-STS policy file (key: value lines, CRLF or LF). */
struct mtasts_policy {
	char mode[12]; /* enforce | testing | none */
	long max_age;
	char **mx;
	size_t nmx;
};
int mtasts_policy_parse(const char *body, size_t len, struct mtasts_policy *p, struct buf *why);
void mtasts_policy_free(struct mtasts_policy *p);
/* Whether an MX host name matches one of the policy's mx patterns
 * ("mail.example.com", or "*.example.com" for exactly one label). */
bool mtasts_mx_match(const struct mtasts_policy *p, const char *host);

/* TLS-RPT record: returns the number of rua URIs (mailto: or https:), or
 * -1 with why. */
int tlsrptrec_parse(const char *txt, struct buf *why);

#endif
