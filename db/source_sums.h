/*
 * source_sums: a report's record_sources rows (one per source address and
 * header From: message counts, DKIM/SPF/DMARC passes, the failing
 * identifiers) computed by the client while its records stream, instead of
 * by the records' trigger on the server (migration 0034). store_report uses
 * it for a report whose rows stream by COPY into records: there the
 * trigger's statement cost about 3 s of a 200,000-record report's server
 * time, the client waiting.
 *
 * The rows equal the trigger's (test_source_sums compares them): keys
 * lower-cased as lower() does, which the client can only do for ASCII text
 * (lower() follows the database's ctype), so a record whose header From or
 * failing identifiers are not ASCII, or more distinct sources than the sums
 * keep in memory, hands the report to the server: source_sums_store then
 * has record_sources_of_report derive its rows from the stored records.
 */
#ifndef DS_DB_SOURCE_SUMS_H
#define DS_DB_SOURCE_SUMS_H

#include "core/buf.h"
#include "core/err.h"
#include "core/model.h"

#include <stddef.h>

struct db;
struct source_sums;

struct source_sums *source_sums_new(void);
void source_sums_free(struct source_sums *s);
/* One record of the report (any record store_report_record took). */
void source_sums_add(struct source_sums *s, const struct aggr_record *rec);
/* Before the report's COPY into records, inside its transaction: the
 * trigger leaves the report's record_sources rows to source_sums_store. */
int source_sums_claim(struct db *db, struct err *e);
/* After that COPY: the claim ended, and the rows stored (by COPY, or
 * derived by the server, above) for report `report` of tenant `tenant`. */
int source_sums_store(struct source_sums *s, struct db *db, const char *tenant, const char *report,
                      struct err *e);
/* A report of a batch (db/store_report.c): its rows as COPY text lines of
 * source_ip, header_from, messages, dkim_pass, spf_pass, dmarc_pass and
 * fails, appended to out, for the batch's end to store (migration 0035);
 * -1 when they are the server's to derive (above), or NULL. */
int source_sums_lines(const struct source_sums *s, struct buf *out);
/* The distinct (address, From) pairs kept before the server takes over;
 * 2^18 unless set. For tests. */
void source_sums_set_max(size_t max);
/* Reports whose rows this process stored by its own COPY. For tests. */
size_t source_sums_copied(void);
/* Reports whose rows this process handed over by source_sums_lines. */
size_t source_sums_sent(void);

#endif
