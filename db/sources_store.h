/*
 * sources_store: the database side of source naming (migration 0009):
 * which addresses need a lookup, storing what the lookups found, the
 * organisational domains of record domains, the user's service rows and
 * labels, and the per-tenant source marks.
 *
 * Functions return 0 or -1 with `e` set (ERR_RETRY when the database went
 * away, ERR_INPUT for a value PostgreSQL refused, e.g. a malformed CIDR).
 * Batches are written in one statement each (array parameters); the caller
 * wraps them in a transaction when it wants them atomic. Lists returned
 * through char *** are the caller's to free with sources_store_free_list.
 */
#ifndef DS_DB_SOURCES_STORE_H
#define DS_DB_SOURCES_STORE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* The tenant id of `name`; ERR_CONFIG "no tenant NAME" when unknown. */
int sources_store_tenant_id(struct db *db, const char *name, int *id, struct err *e);

/* Addresses without fresh facts, busiest first. tenant_id < 0: all tenants;
 * since: a timestamptz text or NULL. */
int sources_store_stale(struct db *db, int tenant_id, const char *since, char ***ips, size_t *n,
                        struct err *e);
void sources_store_free_list(char **list, size_t n);

struct sources_fact_row {
	const char *ip;
	const char *ptr; /* NULL: none */
	bool ptr_confirmed;
	const char *ptr_org_domain;
	const char *ptr_status; /* resolver_status_name */
	int64_t asn;            /* 0: unknown */
	const char *as_name;    /* NULL or "" : unknown */
	const char *country;    /* NULL or "": unknown */
	const char *asn_status;
	uint32_t ptr_ttl, asn_ttl; /* seconds to keep */
};
int sources_store_save_facts(struct db *db, const struct sources_fact_row *rows, size_t n,
                             struct err *e);

/* One input row of source marking: one record (sources_mark_input.sql),
 * ordered by tenant and source address. */
struct sources_mark_in {
	int tenant_id;
	const char *ip;
	int64_t count;
	const char *header_from; /* lower case, NULL when absent */
	bool forwarded_reason;   /* an override reason says forwarded or a list */
	const char *const *dkim; /* passing DKIM d= domains */
	size_t ndkim;
	const char *const *spf; /* passing SPF domains */
	size_t nspf;
	const char *ptr; /* the source's cached PTR, NULL when none */
	bool ptr_confirmed;
	int64_t asn; /* 0: unknown */
};
typedef int (*sources_mark_in_cb)(void *arg, const struct sources_mark_in *row, struct err *e);
/* Streams the rows (single-row mode: memory does not grow with records).
 * changed_since NULL: every source; else only sources with reports ingested
 * or facts looked up since then. */
int sources_store_mark_input(struct db *db, int tenant_id, const char *changed_since,
                             sources_mark_in_cb cb, void *arg, struct err *e);

struct sources_mark_row {
	int tenant_id;
	const char *ip;
	const char *service, *service_type, *matched_by; /* NULL: none */
	bool forwarded;
	int64_t forwarded_messages;
};
int sources_store_save_marks(struct db *db, const struct sources_mark_row *rows, size_t n,
                             struct err *e);
int sources_store_prune_marks(struct db *db, int tenant_id, struct err *e);

int sources_store_unknown_domains(struct db *db, int tenant_id, const char *changed_since,
                                  char ***domains, size_t *n, struct err *e);
/* The database's clock now (a timestamptz text for changed_since). */
int sources_store_now(struct db *db, char *out, size_t outsz, struct err *e);
/* orgs[i] NULL: domains[i] has no organisational domain. */
int sources_store_save_org_domains(struct db *db, char *const *domains, const char *const *orgs,
                                   size_t n, struct err *e);

/* The user's service rows, concatenated (data/services.tsv format); *text is
 * the caller's (NULL when there are none). */
int sources_store_user_services(struct db *db, char **text, struct err *e);
/* Replaces the rows loaded from `source` with `lines`. */
int sources_store_load_services(struct db *db, const char *source, char *const *lines, size_t n,
                                struct err *e);

int sources_store_label(struct db *db, int tenant_id, const char *cidr, const char *name,
                        struct err *e);
/* *removed: whether a label was there. */
int sources_store_unlabel(struct db *db, int tenant_id, const char *cidr, bool *removed,
                          struct err *e);

#endif
