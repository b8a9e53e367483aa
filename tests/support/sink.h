/*
 * sink: the local receivers some tests point the binary at —
 * tests/support/http_sink.py (a webhook: each post logged to DIR/N.req,
 * HMAC checked) and tests/support/smtp_sink.py (python3-aiosmtpd: each
 * message to DIR/N.eml, its envelope to DIR/N.env). Each prints the port
 * it listens on, on loopback, as its first line.
 */
#ifndef DS_TESTS_SINK_H
#define DS_TESTS_SINK_H

#include <stdbool.h>
#include <sys/types.h>

/* Starts argv (python3 and a sink script with its arguments, at most 7
 * words); fails the test when it does not start. */
pid_t sink_start(const char *const *argv, int *port);
/* http_sink.py writing to dir, checking signatures with `key`, answering
 * the first `fail_first` posts with `fail_status`. */
pid_t sink_start_http(const char *dir, const char *key, int fail_first, int fail_status, int *port);
void sink_stop(pid_t pid);
/* Waits up to `secs` for PATH to exist. */
bool sink_wait_file(const char *path, int secs);
/* A request or message file (up to 64 KiB), or NULL when it is not there. */
char *sink_read(const char *path);

#endif
