/*
 * log: the three tiers of diagnostics. log_warn says something and goes on;
 * log_error says a command failed (the caller decides the exit code);
 * log_fatal is for environment/config failures and exits with the given code;
 * panic is for bugs and aborts. log_info is shown unless --quiet; log_debug
 * only with -v.
 *
 * Every line carries its level. Where it goes and how it looks is the log
 * format:
 *   text      stderr, "dmarcsift: warning: ..."; when stderr is not a terminal
 *             each line starts with an RFC 3339 UTC timestamp and names its
 *             level, info included (a file or a cron mail needs both);
 *   journald  stderr with sd-daemon "<N>" priority prefixes and no timestamp
 *             (journald adds its own); chosen automatically when stderr is
 *             the journal stream systemd gave us ($JOURNAL_STREAM);
 *   syslog    syslog(3), ident "dmarcsift", facility mail, with the PID.
 * The default is automatic: journald under systemd, else text. The
 * environment variable DMARCSIFT_LOG_FORMAT sets it as --log-format does.
 */
#ifndef DS_CORE_LOG_H
#define DS_CORE_LOG_H

#include <stdbool.h>

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };
enum log_format { LOG_FORMAT_AUTO = 0, LOG_FORMAT_TEXT, LOG_FORMAT_JOURNALD, LOG_FORMAT_SYSLOG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(enum log_format f);
/* "text", "journald", "syslog" or "auto": 0, or -1 for any other name (the
 * format is then unchanged). */
int log_set_format_name(const char *name);
/* The format lines are written in now (never LOG_FORMAT_AUTO). */
enum log_format log_get_format(void);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
