/*
 * log: the three tiers of diagnostics. log_warn says something and goes on;
 * log_fatal is for environment/config failures and exits with the given code;
 * panic is for bugs and aborts. Everything goes to stderr, prefixed with the
 * program name. log_info is shown unless --quiet; log_debug only with -v.
 */
#ifndef DS_CORE_LOG_H
#define DS_CORE_LOG_H

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
