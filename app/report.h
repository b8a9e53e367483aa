/*
 * report (app): builds the reports people read from the database — a
 * tenant's report and the MSP overview — into the report model
 * (reports/report.h), which the writers then print. Each report reads in
 * one read scope (db/report_read.h): a tenant's report as that tenant.
 *
 * Sections that depend on views other issues add (v_flags, v_sources) read
 * them when they exist and say "not available" otherwise; a section whose
 * query fails says why and the report goes on. Only a lost connection
 * (ERR_RETRY) or a bad option (ERR_CONFIG) fails the whole report.
 *
 * Periods: since/until are days (YYYY-MM-DD), both included. since may also
 * be "Nd" (the last N days up to until) or "all" (from the first day with
 * data). Defaults: until today (UTC), since 30 days with it.
 * SOURCE_DATE_EPOCH, when set, is the "generated at" time (reproducible
 * output; the golden files use it).
 */
#ifndef DS_APP_REPORT_H
#define DS_APP_REPORT_H

#include "core/err.h"
#include "reports/report.h"

#include <stddef.h>

struct db;

struct app_report_opts {
	const char *tenant; /* tenant name (tenant report) */
	const char *since, *until;
	int source_limit; /* rows of the source table; 0: 100 */
	/* Called before each section (step names the section). May be NULL. */
	void (*progress)(void *ctx, const char *step, int done, int total);
	void *progress_ctx;
};

int app_report_tenant(struct db *db, const struct app_report_opts *o, struct report **out,
                      struct err *e);
int app_report_overview(struct db *db, const struct app_report_opts *o, struct report **out,
                        struct err *e);
/* Every tenant name (for one report per tenant); free with app_report_names_free. */
int app_report_tenant_names(struct db *db, char ***names, size_t *n, struct err *e);
void app_report_names_free(char **names, size_t n);

#endif
