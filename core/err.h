/*
 * err: how failures travel up the stack.
 *
 * Functions return int (0 ok, negative failure) and fill a caller-owned
 * struct err. The first error set wins: err_set never overwrites an error that
 * is already there, so the most specific message survives the way up.
 * The kind says what the caller should do: INPUT quarantines the input and
 * carries on, RETRY retries the transaction or gives up with exit code 3
 * (database unreachable), CONFIG exits with a clear message, INTERNAL is a bug.
 * `stage` names the pipeline stage for quarantine: mime, unpack, xml,
 * validate, store (empty when not relevant).
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

struct err {
	enum err_kind kind;
	char stage[16];   /* mime | unpack | xml | validate | store | "" */
	char sqlstate[6]; /* PostgreSQL SQLSTATE when the database said no */
	char msg[512];
};

/* Sets kind and message unless an error is already set. Returns -1. */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like err_set, also recording the stage. Returns -1. */
int err_stage(struct err *e, const char *stage, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the stage of an already-set error if it has none yet. */
void err_set_stage_if_empty(struct err *e, const char *stage);
void err_clear(struct err *e);
bool err_is_set(const struct err *e);
const char *err_kind_name(enum err_kind kind);

#endif
