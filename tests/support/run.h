/*
 * run: helpers for integration tests that drive the real binary and look at
 * the database with libpq.
 *
 * run_bin runs DMARCSIFT_BIN with the given arguments (NULL-terminated),
 * optionally feeding a file to standard input, and returns its exit code
 * (or 128+signal); its standard output is captured into *out (caller frees;
 * may pass NULL), standard error is passed through so failures are visible.
 * q_* run one parameterised query on a fresh connection and return the first
 * column of the first row; they fail the test on any database error.
 */
#ifndef DS_TESTS_RUN_H
#define DS_TESTS_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Starts DMARCSIFT_BIN with args: standard input from stdin_path (NULL:
 * /dev/null), standard output to out_fd (-1: /dev/null) and, with
 * with_stderr, standard error there too (open out_fd close-on-exec: only
 * the copies on 1 and 2 reach the binary). The one process runner of the
 * tests; run_wait returns its exit code (or 128+signal). */
pid_t run_spawn(const char *const *args, const char *stdin_path, int out_fd, bool with_stderr);
int run_wait(pid_t pid);
int run_bin(const char *const *args, const char *stdin_path, char **out);
/* Starts the binary without waiting; returns its pid. */
pid_t run_bin_async(const char *const *args);
int64_t q_int(const char *conninfo, const char *sql, int nparams, const char *const *params);
/* Runs one or more statements (simple protocol) on a fresh connection;
 * fails the test on any error. */
void q_exec(const char *conninfo, const char *sql);
/* Returns a malloc'd string ("" for NULL). */
char *q_str(const char *conninfo, const char *sql, int nparams, const char *const *params);
/* Reads a whole file (tests only; aborts on error); *len may be NULL. */
char *slurp(const char *path, size_t *len);

#endif
