/*
 * bstorefx: the fixture of the bounce store tests (test_bounce_store.c,
 * test_bounce_paths.c): one database with the tenants acme (acme.example)
 * and globex (globex.example), verdicts as the classifier would give them,
 * events written in short, and batches stored through db/bounce_store.h.
 */
#ifndef DS_TESTS_BSTOREFX_H
#define DS_TESTS_BSTOREFX_H

#include "core/bounce.h"
#include "db/bounce_store.h"
#include "db/db.h"

#include <stddef.h>
#include <stdint.h>

#define DAY 86400
/* Midnight UTC, so the one-day escalation windows start here. */
#define BASE ((int64_t)1792972800)

#define SUPP_REASON "SELECT reason FROM dmarcsift.v_suppressions WHERE address = $1"

extern char *bs_conninfo;
extern struct db *bs_db;

/* Verdicts as the classifier would give them. */
extern const struct bounce_verdict V_OK, V_SOFT, V_HARD, V_POLICY, V_AUTH, V_LISTED, V_REPUTATION,
    V_CONTENT, V_DEFER;

struct bs_ev {
	int64_t at;
	enum bounce_status st;
	const char *rcpt;
	const char *from_domain; /* header From */
	int reply;
	const char *enh;
	const char *text;
	const char *queue_id;
	const char *mta;
	const struct bounce_verdict *v;
};

/* cmocka group setup/teardown: the database, connected, with the tenants. */
int bs_setup(void **state);
int bs_teardown(void **state);
/* The event of x (its recipient domain written into rdom). */
struct bounce_event bs_event(const struct bs_ev *x, char *rdom, size_t rdomsz);
/* Stores the events in one batch (tenant: an override, NULL none; rules:
 * NULL the defaults); a failure fails the test. */
struct bounce_store_stats bs_batch_rules(const struct bs_ev *evs, size_t n, const char *tenant,
                                         const struct bounce_rules *rules);
struct bounce_store_stats bs_batch(const struct bs_ev *evs, size_t n);
/* First column of the first row, or NULL when there is no row. */
char *bs_q1(const char *sql, const char *p1);
long bs_q1_long(const char *sql, const char *p1);
void bs_assert_q1(const char *sql, const char *p1, const char *want);

#endif
