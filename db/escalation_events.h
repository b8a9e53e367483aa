/*
 * escalation_events: the escalations the [notify] webhook has not heard of
 * yet. escalations_claim returns each open escalation not announced before
 * (of `tenant`, or of every tenant when NULL) as a JSON object (text) with
 * the v_escalations columns, and marks it announced in the same statement:
 * an escalation is posted once when it opens, again only after it closed
 * and reopened (db/bounce_store.c clears the mark then).
 */
#ifndef DS_DB_ESCALATION_EVENTS_H
#define DS_DB_ESCALATION_EVENTS_H

#include "core/err.h"

#include <stddef.h>

struct db;

int escalations_claim(struct db *db, const char *tenant, char ***rows, size_t *n, struct err *e);
/* The same for blocklist listings (db/sql/listings_claim.sql): each listing
 * not announced since it was (last) first seen listed, as a JSON object
 * with the v_listings columns, impact rejecting first, then suspected,
 * then none. */
int listings_claim(struct db *db, const char *tenant, char ***rows, size_t *n, struct err *e);
void escalation_rows_free(char **rows, size_t n);

#endif
