/*
 * report_int: what app/report.c (tenant report) and app/report_overview.c
 * (MSP overview) share: the resolved period, filling a table from a named
 * query, and running one section with progress.
 */
#ifndef DS_APP_REPORT_INT_H
#define DS_APP_REPORT_INT_H

#include "app/report.h"
#include "core/err.h"
#include "reports/report.h"

#include <stdbool.h>

struct db;

struct rperiod {
	char since[11];      /* first day */
	char until[11];      /* last day, included */
	char until_excl[11]; /* the day after */
	int days;
};

/* Resolves the period (see app/report.h); tenant_id < 0: all tenants for
 * "all". ERR_CONFIG for a bad date. Must run inside the read scope. */
int rperiod_resolve(struct db *db, const char *since, const char *until, int tenant_id,
                    struct rperiod *p, struct err *e);
/* "YYYY-MM-DDTHH:MM:SSZ": SOURCE_DATE_EPOCH when set, else now. */
void rperiod_generated_at(char out[21]);

struct rsection {
	struct db *db;
	const struct app_report_opts *o;
	int done, total;
	struct err *e; /* where a fatal (connection) failure goes */
};

/* Fills `t` from db/sql/NAME.sql: result columns go to the table columns of
 * the same key (others are ignored). A failed query marks the table
 * unavailable with the reason; returns -1 only for ERR_RETRY (in s->e). */
int rsection_fill(struct rsection *s, struct report_table *t, const char *name, int n,
                  const char *const *params);
void rsection_step(struct rsection *s, const char *step);

#endif
