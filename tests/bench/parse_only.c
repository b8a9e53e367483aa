/*
 * parse_only: how fast aggr_parse alone goes (tests/bench/bench_ingest.sh).
 *
 *   parse_only FILE.xml
 *
 * Streams FILE through aggr_parse with handlers that only count, reading it
 * with read(2) in 64 KiB chunks as a file source would, and prints
 * "records N", "messages N", "bytes N" and "seconds S" (wall clock of the
 * parse, monotonic). Exits 1 with the parser's error on failure.
 * A benchmark tool, not part of dmarcsift.
 */
#include "core/err.h"
#include "ingest/aggr.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct src {
	int fd;
	uint64_t bytes;
};

struct counts {
	uint64_t headers;
	uint64_t records;
};

static ssize_t read_file(void *ctx, void *buf, size_t n, struct err *e)
{
	struct src *s = ctx;
	ssize_t r;
	do
		r = read(s->fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_set(e, ERR_INTERNAL, "read: %s", strerror(errno));
	s->bytes += (uint64_t)r;
	return r;
}

static int on_header(void *ctx, const struct aggr_report *r, struct err *e)
{
	struct counts *c = ctx;
	(void)r;
	(void)e;
	c->headers++;
	return 0;
}

static int on_record(void *ctx, const struct aggr_record *rec, struct err *e)
{
	struct counts *c = ctx;
	(void)rec;
	(void)e;
	c->records++;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct src s = {.fd = -1};
	struct counts c = {0};
	struct aggr_handler h = {.header = on_header, .record = on_record, .ctx = &c};
	struct aggr_limits lim;
	struct aggr_result res;
	struct err e;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: parse_only FILE.xml\n");
		return 2;
	}
	err_clear(&e);
	memset(&res, 0, sizeof res);
	aggr_limits_default(&lim);
	s.fd = open(argv[1], O_RDONLY);
	if (s.fd < 0) {
		fprintf(stderr, "parse_only: %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	double t0 = now();
	if (aggr_parse(read_file, &s, false, &lim, &h, &res, &e) != 0) {
		fprintf(stderr, "parse_only: %s: %s%s%s\n", argv[1], e.stage,
		        e.stage[0] ? ": " : "", e.msg);
		goto out;
	}
	double t1 = now();
	if (c.headers != 1 || c.records != res.records) {
		fprintf(stderr,
		        "parse_only: handler saw %" PRIu64 " headers, %" PRIu64
		        " records; the parser says %" PRIu64 " records\n",
		        c.headers, c.records, res.records);
		goto out;
	}
	printf("records %" PRIu64 "\nmessages %" PRIu64 "\nbytes %" PRIu64 "\nseconds %.6f\n",
	       res.records, res.messages, s.bytes, t1 - t0);
	rc = 0;
out:
	if (s.fd >= 0)
		close(s.fd);
	return rc;
}
