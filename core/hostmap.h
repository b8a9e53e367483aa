/*
 * hostmap: our own MTA hosts and the addresses they send from, so that a
 * bounce whose log line names only the host (Postfix's syslog host field, a
 * DSN's Reporting-MTA) gets its sending IP. Filled from the config file's
 * [mta-hosts] section (hostmap_add: "mail1.example.net = 198.51.100.7,
 * 2001:db8::7") and from `bounces ingest --mta-hosts FILE` (hostmap_load_tsv:
 * first column the host name, second the IP; a header line, blank lines,
 * '#' comments and further columns ignored).
 *
 * Host names compare case-insensitively and without a trailing dot; a short
 * syslog name ("mail1") also finds a fully qualified entry
 * ("mail1.example.net") when only one entry has that first label. A host
 * with several addresses answers with the one of the family asked for
 * (the family of the receiving server's address), else its first.
 * Errors (ERR_CONFIG, naming the line or the value) come back in `e`.
 * The caller owns the map (hostmap_free takes NULL); returned strings are
 * the map's.
 */
#ifndef DS_CORE_HOSTMAP_H
#define DS_CORE_HOSTMAP_H

#include "core/err.h"

#include <stddef.h>

struct hostmap;

struct hostmap *hostmap_new(void);
void hostmap_free(struct hostmap *m);
/* One host and a list of addresses separated by commas and/or blanks. */
int hostmap_add(struct hostmap *m, const char *host, const char *addrs, struct err *e);
/* A TSV text; `name` is used in messages. */
int hostmap_load_tsv(struct hostmap *m, const char *text, size_t len, const char *name,
                     struct err *e);
size_t hostmap_count(const struct hostmap *m);
/* family: 4, 6 or 0 (no preference). NULL when the host is unknown. */
const char *hostmap_lookup(const struct hostmap *m, const char *host, int family);
/* 4 or 6 for a valid address, 0 otherwise. */
int hostmap_family(const char *addr);

#endif
