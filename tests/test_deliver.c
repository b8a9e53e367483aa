/*
 * test_deliver: delivery against real local receivers on loopback.
 *
 *  - `dmarcsift report --mail-to` through a Python aiosmtpd server: the
 *    message parses (gmime), is multipart/alternative with the text report
 *    as text/plain and the HTML page as text/html, to and from as asked;
 *    an SMTP server that is not there is retried, then an error;
 *  - the webhook against a Python HTTP listener that checks the
 *    HMAC-SHA256 signature itself: body and signature, retry on 500 until
 *    it succeeds, no retry on 400, nothing sent unsigned, and notify_flags
 *    returning at once while a child delivers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "app/deliver.h"
#include "app/notify.h"
#include "core/xalloc.h"
#include "ingest/mime.h"
#include "tests/support/run.h"
#include "tests/support/sink.h"
#include "tests/support/testdb.h"

#include <gmime/gmime.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SUPPORT TESTS_DIR "/support/"

static char *conninfo;
static char *tmp;

static char *dir_for(const char *name)
{
	char *d = xasprintf("%s/%s", tmp, name);
	assert_int_equal(mkdir(d, 0700), 0);
	return d;
}

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("DMARCSIFT_TEST_TMP");
	tmp = xasprintf("%s/deliver.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp))
		return -1;
	if (testdb_create(&conninfo) != 0)
		return -1;
	const char *t[] = {"tenant", "add", "demo", "example.com", "--db", conninfo, NULL};
	const char *in[] = {
	    "ingest", "--quiet", "--db", conninfo, FIXTURES_DIR "/reports/rfc7489-basic.xml", NULL};
	char *out = NULL;
	int rc = run_bin(t, NULL, &out);
	free(out);
	out = NULL;
	if (rc != 0 || run_bin(in, NULL, &out) != 0)
		rc = -1;
	free(out);
	mime_init();
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	testdb_drop(conninfo);
	free(conninfo);
	char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "test_deliver: could not remove %s\n", tmp);
	free(cmd);
	free(tmp);
	return 0;
}

static GMimeMessage *parse_message(const char *path)
{
	size_t len = 0;
	char *data = slurp(path, &len);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	free(data);
	assert_non_null(m);
	return m;
}

static char *part_text(GMimeObject *o)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(o));
	GMimeStream *out = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, out);
	GByteArray *b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	char *s = xstrndup((const char *)b->data, b->len);
	g_object_unref(out);
	return s;
}

static void test_mail_has_both_parts(void **state)
{
	(void)state;
	char *box = dir_for("smtp");
	const char *argv[] = {"/usr/bin/python3", SUPPORT "smtp_sink.py", box, NULL};
	int port;
	pid_t pid = sink_start(argv, &port);
	char *cfg = xasprintf("%s/mail.conf", tmp);
	FILE *f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f, "[smtp]\nurl = smtp://127.0.0.1:%d\nfrom = reports@example.com\n", port);
	fclose(f);
	const char *args[] = {"report",
	                      "--tenant",
	                      "demo",
	                      "--since",
	                      "all",
	                      "--until",
	                      "2023-11-30",
	                      "--config",
	                      cfg,
	                      "--mail-to",
	                      "client@example.org",
	                      "--db",
	                      conninfo,
	                      NULL};
	char *out = NULL;
	int rc = run_bin(args, NULL, &out);
	free(out);
	char *eml = xasprintf("%s/1.eml", box), *env = xasprintf("%s/1.env", box);
	bool got = sink_wait_file(eml, 5);
	sink_stop(pid);
	assert_int_equal(rc, 0);
	assert_true(got);
	char *envelope = slurp(env, NULL);
	assert_non_null(strstr(envelope, "from reports@example.com\n"));
	assert_non_null(strstr(envelope, "to client@example.org\n"));
	free(envelope);

	GMimeMessage *m = parse_message(eml);
	assert_non_null(strstr(g_mime_message_get_subject(m), "DMARC report: demo"));
	GMimeObject *top = g_mime_message_get_mime_part(m);
	GMimeContentType *ct = g_mime_object_get_content_type(top);
	assert_true(g_mime_content_type_is_type(ct, "multipart", "alternative"));
	GMimeMultipart *mp = GMIME_MULTIPART(top);
	assert_int_equal(g_mime_multipart_get_count(mp), 2);
	GMimeObject *plain = g_mime_multipart_get_part(mp, 0);
	GMimeObject *html = g_mime_multipart_get_part(mp, 1);
	assert_true(
	    g_mime_content_type_is_type(g_mime_object_get_content_type(plain), "text", "plain"));
	assert_true(
	    g_mime_content_type_is_type(g_mime_object_get_content_type(html), "text", "html"));
	char *pt = part_text(plain), *ht = part_text(html);
	assert_non_null(strstr(pt, "DMARC report: demo"));
	assert_non_null(strstr(pt, "=================="));
	assert_non_null(strstr(pt, "Sending sources"));
	assert_non_null(strstr(ht, "<!DOCTYPE html>"));
	assert_non_null(strstr(ht, "default-src 'none'"));
	assert_non_null(strstr(ht, "<svg"));
	free(pt);
	free(ht);
	g_object_unref(m);
	free(eml);
	free(env);
	free(cfg);
	free(box);
}

static void test_mail_retries_then_fails(void **state)
{
	(void)state;
	/* A port nobody listens on: take a free one from a sink, then stop it. */
	char *box = dir_for("smtp-gone");
	const char *argv[] = {"/usr/bin/python3", SUPPORT "smtp_sink.py", box, NULL};
	int port;
	sink_stop(sink_start(argv, &port));
	char *url = xasprintf("smtp://127.0.0.1:%d", port);
	struct deliver_smtp s = {.url = url,
	                         .from = "reports@example.com",
	                         .retries = 2,
	                         .backoff_ms = 20,
	                         .timeout_s = 5};
	struct err e = {0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(deliver_mail(&s, "a@example.org", "s", "t", "<p>h</p>", &e), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(e.kind, ERR_RETRY);
	assert_non_null(strstr(e.msg, "after retries"));
	/* Two pauses: 20 ms then 40 ms. */
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= 60);
	free(url);
	free(box);
}

struct req {
	int status;
	bool sig_ok;
	char event[64];
	char *body;
};

static void read_req(const char *dir, int n, struct req *r)
{
	char *path = xasprintf("%s/%d.req", dir, n);
	assert_true(sink_wait_file(path, 10));
	char *s = slurp(path, NULL);
	char sig[8] = {0};
	r->status = (int)strtol(s + 7, NULL, 10);
	const char *p = strstr(s, "\nsignature ");
	assert_non_null(p);
	snprintf(sig, sizeof sig, "%.2s", p + 11);
	r->sig_ok = strcmp(sig, "ok") == 0;
	p = strstr(s, "\nevent ");
	size_t k = strcspn(p + 7, "\n");
	snprintf(r->event, sizeof r->event, "%.*s", (int)k, p + 7);
	p = strstr(s, "\n\n");
	r->body = xstrdup(p + 2);
	free(s);
	free(path);
}

static void test_webhook_signed_and_retried_on_500(void **state)
{
	(void)state;
	char *dir = dir_for("hook500");
	const char *argv[] = {
	    "/usr/bin/python3", SUPPORT "http_sink.py", dir, "s3cret", "2", "500", NULL};
	int port;
	pid_t pid = sink_start(argv, &port);
	char *url = xasprintf("http://127.0.0.1:%d/hook", port);
	struct notify_hook h = {.url = url, .secret = "s3cret", .retries = 3, .backoff_ms = 20};
	json_object *flag = json_tokener_parse(
	    "{\"tenant\":\"demo\",\"kind\":\"auth_driven\",\"confidence\":\"high\"}");
	struct err e = {0};
	int rc = notify_event(&h, "flag.opened", "demo", flag, &e);
	struct req r[3];
	for (int i = 0; i < 3; i++)
		read_req(dir, i + 1, &r[i]);
	char *fourth = xasprintf("%s/4.req", dir);
	usleep(200000);
	bool extra = access(fourth, F_OK) == 0;
	sink_stop(pid);
	assert_int_equal(rc, 0);
	assert_false(extra);
	assert_int_equal(r[0].status, 500);
	assert_int_equal(r[1].status, 500);
	assert_int_equal(r[2].status, 204);
	for (int i = 0; i < 3; i++) {
		assert_true(r[i].sig_ok);
		assert_string_equal(r[i].event, "flag.opened");
		assert_string_equal(r[i].body, r[0].body);
	}
	json_object *body = json_tokener_parse(r[2].body), *v, *d;
	assert_non_null(body);
	assert_true(json_object_object_get_ex(body, "event", &v));
	assert_string_equal(json_object_get_string(v), "flag.opened");
	assert_true(json_object_object_get_ex(body, "tenant", &v));
	assert_string_equal(json_object_get_string(v), "demo");
	assert_true(json_object_object_get_ex(body, "data", &d));
	assert_true(json_object_object_get_ex(d, "kind", &v));
	assert_string_equal(json_object_get_string(v), "auth_driven");
	json_object_put(body);
	for (int i = 0; i < 3; i++)
		free(r[i].body);
	json_object_put(flag);
	free(fourth);
	free(url);
	free(dir);
}

static void test_webhook_no_retry_on_400_and_never_unsigned(void **state)
{
	(void)state;
	char *dir = dir_for("hook400");
	const char *argv[] = {
	    "/usr/bin/python3", SUPPORT "http_sink.py", dir, "k", "9", "400", NULL};
	int port;
	pid_t pid = sink_start(argv, &port);
	char *url = xasprintf("http://127.0.0.1:%d/", port);
	struct notify_hook h = {.url = url, .secret = "k", .retries = 3, .backoff_ms = 20};
	struct err e = {0};
	assert_int_equal(notify_post(&h, "flag.opened", "{}", &e), -1);
	if (e.kind != ERR_CONFIG)
		fail_msg("want a permanent error, got: %s", e.msg);
	assert_non_null(strstr(e.msg, "HTTP 400"));
	struct notify_hook unsigned_h = {.url = url, .secret = NULL, .retries = 0};
	struct err e2 = {0};
	assert_int_equal(notify_post(&unsigned_h, "flag.opened", "{}", &e2), -1);
	assert_int_equal(e2.kind, ERR_CONFIG);
	usleep(200000);
	char *second = xasprintf("%s/2.req", dir), *first = xasprintf("%s/1.req", dir);
	bool one = access(first, F_OK) == 0, two = access(second, F_OK) == 0;
	sink_stop(pid);
	assert_true(one);
	assert_false(two);
	free(first);
	free(second);
	free(url);
	free(dir);
}

static void test_notify_flags_does_not_wait(void **state)
{
	(void)state;
	char *dir = dir_for("hookasync");
	/* The receiver fails the first try: the caller must not sit through the back-off. */
	const char *argv[] = {
	    "/usr/bin/python3", SUPPORT "http_sink.py", dir, "k", "1", "503", NULL};
	int port;
	pid_t pid = sink_start(argv, &port);
	char *url = xasprintf("http://127.0.0.1:%d/", port);
	struct notify_hook h = {.url = url, .secret = "k", .retries = 3, .backoff_ms = 1500};
	json_object *flags[2] = {
	    json_tokener_parse(
	        "{\"tenant\":\"demo\",\"status\":\"open\",\"kind\":\"auth_driven\"}"),
	    json_tokener_parse(
	        "{\"tenant\":\"demo\",\"status\":\"reopened\",\"kind\":\"not_auth_driven\"}")};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	notify_flags(&h, flags, 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	struct req r[3];
	for (int i = 0; i < 3; i++)
		read_req(dir, i + 1, &r[i]);
	sink_stop(pid);
	assert_true(ms < 1000);
	assert_int_equal(r[0].status, 503);
	assert_string_equal(r[1].event, "flag.opened");
	assert_string_equal(r[2].event, "flag.reopened");
	for (int i = 0; i < 3; i++) {
		assert_true(r[i].sig_ok);
		free(r[i].body);
	}
	json_object_put(flags[0]);
	json_object_put(flags[1]);
	free(url);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mail_has_both_parts),
	    cmocka_unit_test(test_mail_retries_then_fails),
	    cmocka_unit_test(test_webhook_signed_and_retried_on_500),
	    cmocka_unit_test(test_webhook_no_retry_on_400_and_never_unsigned),
	    cmocka_unit_test(test_notify_flags_does_not_wait),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
