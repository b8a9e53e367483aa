/*
 * err: how failures travel up the stack.
 *
 * Functions return int (0 ok, negative failure) and fill a caller-owned
 * struct err. The first error set wins: err_set never overwrites an error that
 * is already there, so the most specific message survives the way up.
 * The kind says what the caller should do: INPUT quarantines the input and
 * carries on, RETRY retries the transaction or gives up with exit code 3
 * (database unreachable), CONFIG exits with a clear message, INTERNAL is a bug.
 * The stage says where the failure was detected: one of enum err_stage_id,
 * kept in the error as its name, which is also the text a quarantined
 * input's stage is stored as (docs/failures.md lists them).
 */
#ifndef DS_CORE_ERR_H
#define DS_CORE_ERR_H

#include <stdbool.h>

enum err_kind {
	ERR_NONE = 0,
	ERR_INPUT,    /* the bytes are bad: quarantine, go on */
	ERR_RETRY,    /* transient: database down, serialization failure */
	ERR_CONFIG,   /* the user's setup is wrong: exit with a message */
	ERR_INTERNAL, /* a bug or an environment failure we did not expect */
};

/* The one list of stages; docs/failures.md says what each covers. The
 * names (err_stage_name) are stored in dmarcsift.failures: add, never
 * rename. */
enum err_stage_id {
	ERR_STAGE_NONE = 0, /* "" */
	ERR_STAGE_READ,     /* "read": the input could not be read whole */
	ERR_STAGE_MIME,     /* "mime": the mail around a report */
	ERR_STAGE_UNPACK,   /* "unpack": gzip, zip, raw */
	ERR_STAGE_XML,      /* "xml": an aggregate report's XML */
	ERR_STAGE_JSON,     /* "json": a TLS report's JSON */
	ERR_STAGE_RUF,      /* "ruf": a failure report */
	ERR_STAGE_VALIDATE, /* "validate": well-formed, not a valid report */
	ERR_STAGE_BOUNCE,   /* "bounce": bounce logs and notices */
	ERR_STAGE_IMAP,     /* "imap": the IMAP server */
	ERR_STAGE_STORE,    /* "store": the database */
	ERR_STAGE_CORRELATE /* "correlate": the correlator */
};

struct err {
	enum err_kind kind;
	char stage[16];   /* err_stage_name() of the stage, "" when none */
	char sqlstate[6]; /* PostgreSQL SQLSTATE when the database said no */
	char msg[512];
};

/* Sets kind and message unless an error is already set. Returns -1. */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like err_set, also recording the stage. Returns -1. */
int err_stage(struct err *e, enum err_stage_id stage, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the stage of an already-set error if it has none yet. */
void err_set_stage_if_empty(struct err *e, enum err_stage_id stage);
/* "read", "mime", ... ("" for ERR_STAGE_NONE and anything unknown). */
const char *err_stage_name(enum err_stage_id stage);
void err_clear(struct err *e);
bool err_is_set(const struct err *e);
const char *err_kind_name(enum err_kind kind);

#endif
