/*
 * bench_bclass: bounce classification throughput on a generated Postfix log.
 *   bench_bclass gen FILE LINES   writes a log of LINES lines (a mix of
 *                                 cleanup/qmgr/smtp lines, deliveries,
 *                                 deferrals and bounces with varied texts)
 *   bench_bclass gen-mix FILE LINES  the same with the ingest mix (gen():
 *                                 senders of several tenants, recurring
 *                                 recipients, retries, more providers)
 *   bench_bclass run FILE         prints lines/s for a bare line-splitting
 *                                 loop (the baseline), parsing alone, and
 *                                 parsing + classification, on one core
 *   bench_bclass mail LABEL FILE...
 *                                 bounce messages (DSN, plain-text notices)
 *                                 parsed + classified per second, one core
 *   bench_bclass tsv FILE [DOMAIN=TENANT_ID...]
 *                                 parses + classifies a Postfix log and
 *                                 prints the rows `bounces ingest` stores, as
 *                                 COPY text for the columns
 *                                 BOUNCE_STORE_COLUMNS of dmarcsift.bounces
 *                                 (the COPY baseline; db/bounce_store.c
 *                                 builds them); the
 *                                 sender domain -> tenant map is given (the
 *                                 rest is tenant 0, unassigned)
 * Built and driven by tests/bench/bench_bclass.sh and bench_bounce_ingest.sh.
 */
#include "core/bclass.h"
#include "core/buf.h"
#include "db/bounce_store.h"
#include "db/tenant_domain.h"
#include "ingest/bounce.h"

#include <arpa/inet.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const replies[] = {
    "250 2.0.0 OK  1763862723 a1b2c3d4e5f6.12 - gsmtp",
    "250 2.6.0 <m@example.org> [InternalId=1234] Queued mail for delivery",
    "250 ok dirdel",
    "550-5.7.26 This email has been blocked because the sender is unauthenticated. 550-5.7.26 "
    "Gmail requires all senders to authenticate with either SPF or DKIM. 550 5.7.26 - gsmtp",
    "451 4.7.650 The mail server [198.51.100.%d] has been temporarily rate limited due to IP "
    "reputation. (S775)",
    "421 4.7.0 [TSS04] Messages from 198.51.100.%d temporarily deferred due to unexpected volume "
    "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    "550 5.1.1 <u%d@corp.example>: Recipient address rejected: User unknown in virtual mailbox "
    "table",
    "552 5.2.2 The recipient's inbox is out of storage space. - gsmtp",
    "554 5.7.1 Service unavailable; Client host [198.51.100.%d] blocked using zen.spamhaus.org",
    "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
    "https://support.apple.com/en-us/HT204137",
    "450 4.7.1 <u%d@corp.example>: Recipient address rejected: Greylisted",
    "554 5.7.9 Message not accepted for policy reasons. See "
    "https://postmaster.yahooinc.com/error-codes",
};
static const char *const hosts[][2] = {
    {"gmail.com", "gmail-smtp-in.l.google.com"},
    {"outlook.com", "outlook-com.olc.protection.outlook.com"},
    {"yahoo.com", "mta7.am0.yahoodns.net"},
    {"corp.example", "mx.corp.example"},
    {"icloud.com", "mx01.mail.icloud.com"},
};

/* The ingest mix (gen-mix) adds what the classification mix leaves out and
 * the store cares about: several senders (four tenants' domains, one of them
 * a subdomain, and one nobody owns), a recipient pool in which addresses come
 * back (some always unknown, some always full: suppression history), 1-4
 * recipients per message, more providers and ~200 corporate gateways, retries
 * of deferred recipients under the same queue id, and six days of time. */
static const char *const senders[] = {
    "news@example.org",    "billing@shop.example",       "noreply@mail.bank.example",
    "alerts@saas.example", "hello@letters.shop.example", "info@nobody-owns.example",
};
static const char *const mix_hosts[][2] = {
    {"gmail.com", "gmail-smtp-in.l.google.com"},
    {"googlemail.com", "alt1.gmail-smtp-in.l.google.com"},
    {"outlook.com", "outlook-com.olc.protection.outlook.com"},
    {"hotmail.com", "hotmail-com.olc.protection.outlook.com"},
    {"yahoo.com", "mta7.am0.yahoodns.net"},
    {"aol.com", "mx-aol.mail.gm0.yahoodns.net"},
    {"icloud.com", "mx01.mail.icloud.com"},
    {"gmx.de", "mx00.gmx.net"},
    {"web.de", "mx-ha03.web.de"},
    {"orange.fr", "smtp-in.orange.fr"},
    {"comcast.net", "mx1a1.comcast.net"},
};
enum { N_MIX_HOSTS = sizeof mix_hosts / sizeof mix_hosts[0], N_CORP = 200, RING = 64 };

struct mix {
	int ingest; /* 0: the classification mix, 1: the ingest mix */
	long pool;  /* recipient addresses (ingest mix) */
};

struct pending { /* a deferred recipient waiting for its retry */
	char qid[24], rcpt[64], host[64], dom[32];
	int attempts;
	long tried; /* the message during which it was last tried */
};

/* A reply of the table with its "%d" (if any) replaced by n. */
static void expand(char *out, size_t outsz, const char *reply, int n)
{
	const char *d = strstr(reply, "%d");
	if (d)
		snprintf(out, outsz, "%.*s%d%s", (int)(d - reply), reply, n, d + 2);
	else
		snprintf(out, outsz, "%s", reply);
}

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Recipient i of the pool: its domain and MX are a function of i. */
static void pool_rcpt(long i, char *rcpt, size_t rsz, char *dom, size_t dsz, char *host, size_t hsz)
{
	unsigned h = (unsigned)i * 2654435761u;
	unsigned k = (h >> 8) % 100;
	if (k < 80) { /* the big providers, weighted by their index */
		size_t j = (h >> 16) % (N_MIX_HOSTS * (N_MIX_HOSTS + 1) / 2), n = N_MIX_HOSTS;
		size_t idx = 0;
		while (j >= n) {
			j -= n--;
			idx++;
		}
		snprintf(dom, dsz, "%s", mix_hosts[idx][0]);
		snprintf(host, hsz, "%s", mix_hosts[idx][1]);
	} else { /* corporate gateways */
		unsigned c = (h >> 16) % N_CORP;
		snprintf(dom, dsz, "corp%u.example", c);
		snprintf(host, hsz, "mx%u.corp%u.example", c % 2 + 1, c);
	}
	snprintf(rcpt, rsz, "u%ld@%s", i, dom);
}

/* A Postfix delivery line. dsn= of a failure is "X.0.0" in the classification
 * mix; in the ingest mix (real_dsn) it is the reply's enhanced code, as
 * Postfix logs it. */
static void smtp_line(FILE *f, const char *ts, const char *qid, const char *rcpt, const char *host,
                      int ipn, const char *reply, const char *cmd, int real_dsn)
{
	const char *status = reply[0] == '2' ? "sent" : reply[0] == '4' ? "deferred" : "bounced";
	char dsn[16] = {reply[0], '.', '0', '.', '0', '\0'};
	size_t n = strlen(reply) > 4 ? strspn(reply + 4, "0123456789.") : 0;
	if (real_dsn && n > 4 && n < sizeof dsn && reply[5] == '.')
		snprintf(dsn, sizeof dsn, "%.*s", (int)n, reply + 4);
	if (reply[0] == '2')
		fprintf(f,
		        "%s mail postfix/smtp[300]: %s: to=<%s>, relay=%s[192.0.2.%d]:25, "
		        "delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=%s (%s)\n",
		        ts, qid, rcpt, host, ipn, status, reply);
	else
		fprintf(f,
		        "%s mail postfix/smtp[300]: %s: to=<%s>, relay=%s[192.0.2.%d]:25, "
		        "delay=1.2, delays=0.1/0/0.5/0.6, dsn=%s, status=%s (host "
		        "%s[192.0.2.%d] said: %s (in reply to %s command))\n",
		        ts, qid, rcpt, host, ipn, dsn, status, host, ipn, reply, cmd);
}

static int gen(const char *path, long lines, const struct mix *m)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	unsigned seed = 42, seed2 = 7; /* seed2: the ingest mix's own draws */
	long n = 0, q = 0;
	struct pending ring[RING];
	int nring = 0;
	while (n < lines) {
		char qid[24];
		snprintf(qid, sizeof qid, "4H%08lX", q++);
		char ts[32];
		if (m->ingest) { /* one message every 3 s from Nov 17 */
			long t = q * 3 % (6 * 86400);
			snprintf(ts, sizeof ts, "Nov %2ld %02ld:%02ld:%02ld", 17 + t / 86400,
			         t / 3600 % 24, t / 60 % 60, t % 60);
		} else {
			int sec = (int)(q % 86400);
			snprintf(ts, sizeof ts, "Nov 23 %02d:%02d:%02d", sec / 3600, sec / 60 % 60,
			         sec % 60);
		}
		/* retries of recipients deferred a few messages ago */
		while (m->ingest && nring > 0 && n < lines && rnd(&seed2) % 4 == 0) {
			struct pending *p = &ring[rnd(&seed2) % (unsigned)nring];
			if (p->tried == q)
				break; /* one try per recipient per second */
			p->tried = q;
			unsigned k = rnd(&seed2) % 100;
			const char *reply = k < 65                      ? replies[0]
			                    : k < 85 && p->attempts < 4 ? replies[10]
			                                                : replies[6];
			char txt[512];
			expand(txt, sizeof txt, reply, 7);
			smtp_line(f, ts, p->qid, p->rcpt, p->host, 1, txt, "RCPT TO", 1);
			n++;
			if (txt[0] == '4')
				p->attempts++;
			else
				*p = ring[--nring];
		}
		const char *sender = m->ingest ? senders[rnd(&seed2) % 6] : "news@example.org";
		int nrcpt = m->ingest ? 1 + (int)(rnd(&seed2) % 4) : 2;
		fprintf(f, "%s mail postfix/cleanup[201]: %s: message-id=<%ld@%s>\n", ts, qid, q,
		        strchr(sender, '@') + 1);
		fprintf(f,
		        "%s mail postfix/qmgr[120]: %s: from=<%s>, size=4821, nrcpt=%d "
		        "(queue active)\n",
		        ts, qid, sender, nrcpt);
		n += 2;
		int deferred = 0;
		long used[4]; /* the pool addresses of this message so far */
		for (int r = 0; r < nrcpt && n < lines; r++, n++) {
			seed = seed * 1103515245u + 12345u;
			unsigned k = (seed >> 16) % 100;
			/* 70% delivered, the rest spread over the reject texts */
			size_t ri = k < 70 ? k % 3 : 3 + k % 9;
			char rcpt[64], dom[32], host[64];
			if (m->ingest) {
				/* skewed towards the start of the pool: frequent addresses */
				unsigned a = rnd(&seed2) % (unsigned)m->pool, b = rnd(&seed2);
				long i = (long)(a * (unsigned long long)(b % (unsigned)m->pool) /
				                (unsigned long long)m->pool);
				for (int j = 0; j < r; j++) /* a message names an address once */
					if (used[j] == i) {
						i = (i + 1) % m->pool;
						j = -1;
					}
				used[r] = i;
				pool_rcpt(i, rcpt, sizeof rcpt, dom, sizeof dom, host, sizeof host);
				if (i % 40 == 7)
					ri = 6; /* a dead address: user unknown, every time */
				else if (i % 60 == 11)
					ri = k < 50 ? 0 : 7; /* a full mailbox, sometimes */
			} else {
				const char *const *h = hosts[(seed >> 8) % 5];
				snprintf(rcpt, sizeof rcpt, "u%ld@%s", q, h[0]);
				snprintf(dom, sizeof dom, "%s", h[0]);
				snprintf(host, sizeof host, "%s", h[1]);
			}
			char reply[512];
			expand(reply, sizeof reply, replies[ri], (int)(seed % 250));
			smtp_line(f, ts, qid, rcpt, host, r + 1, reply, "RCPT TO", m->ingest);
			if (m->ingest && reply[0] == '4' && nring < RING) {
				struct pending *p = &ring[nring++];
				snprintf(p->qid, sizeof p->qid, "%s", qid);
				snprintf(p->rcpt, sizeof p->rcpt, "%s", rcpt);
				snprintf(p->host, sizeof p->host, "%s", host);
				snprintf(p->dom, sizeof p->dom, "%s", dom);
				p->attempts = 1;
				p->tried = q;
				deferred = 1;
			}
		}
		/* a message with a recipient still queued is not removed yet */
		if (n < lines && !deferred) {
			fprintf(f, "%s mail postfix/qmgr[120]: %s: removed\n", ts, qid);
			n++;
		}
	}
	return fclose(f) == 0 ? 0 : 1;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct counts {
	unsigned long events, blocks;
	int classify;
};

static int on_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)e;
	struct counts *c = ctx;
	c->events++;
	if (c->classify) {
		struct bounce_verdict v;
		bounce_classify_event(NULL, NULL, ev, &v);
		c->blocks += v.is_block;
	}
	return 0;
}

#define CHUNK (1 << 20)

static double pass(const char *path, int mode, unsigned long *lines, struct counts *c)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	char *buf = malloc(CHUNK);
	struct bounce_parser *p = NULL;
	struct err e = {0};
	if (mode > 0)
		bounce_parser_new(&p, BOUNCE_FMT_POSTFIX, 1795435200, on_event, c, &e);
	double t0 = now();
	size_t n;
	*lines = 0;
	while ((n = fread(buf, 1, CHUNK, f)) > 0) {
		if (mode == 0) { /* baseline: split into lines, touch each */
			const char *s = buf, *end = buf + n;
			while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
				(*lines)++;
				s++;
			}
		} else if (bounce_parser_feed(p, buf, n, &e) < 0) {
			exit(1);
		}
	}
	if (p) {
		bounce_parser_finish(p, &e);
		*lines = bounce_parser_stats(p)->lines;
		bounce_parser_free(p);
	}
	double t = now() - t0;
	free(buf);
	fclose(f);
	return t;
}

/* --- tsv: the rows `bounces ingest` stores, built by the store's own
 * bounce_store_row (db/bounce_store.c) for the tenant the given map names,
 * so that the COPY baseline loads the very rows the ingest stores;
 * bench_bounce_ingest.sh checks they are equal. */
struct tsv {
	int argc;
	char **map; /* DOMAIN=TENANT_ID */
	struct buf row;
	unsigned long rows, unkeyed;
};

static int tenant_of(const struct tsv *t, const char *d)
{
	for (int i = 0; *d && i < t->argc; i++) {
		size_t n = strcspn(t->map[i], "=");
		if (strlen(d) == n && g_ascii_strncasecmp(d, t->map[i], n) == 0)
			return (int)strtol(t->map[i] + n + 1, NULL, 10);
	}
	return 0;
}

static int on_tsv(void *ctx, const struct bounce_event *ev, struct err *e)
{
	(void)e;
	struct tsv *t = ctx;
	struct bounce_verdict v;
	char dom[256], org[256];
	bool keyed;
	bounce_classify_event(NULL, NULL, ev, &v);
	bounce_store_tenant_domain(ev, dom, sizeof dom);
	bool has_org = *dom && tenant_domain_org(dom, org, sizeof org) == 0;
	buf_reset(&t->row);
	if (bounce_store_row(&t->row, NULL, ev, &v, tenant_of(t, dom), has_org ? org : NULL,
	                     &keyed) < 0)
		return -1;
	t->unkeyed += !keyed;
	fwrite(t->row.data, 1, t->row.len, stdout);
	t->rows++;
	return 0;
}

static int tsv(const char *path, int argc, char **map)
{
	struct tsv t = {.argc = argc, .map = map};
	struct bounce_parser *p = NULL;
	struct err e = {0};
	struct stat st;
	int rc = 1;
	FILE *f = fopen(path, "rb");
	char *buf = malloc(CHUNK);
	/* the year of syslog timestamps comes from the file's mtime, as in
	 * `dmarcsift bounces ingest` */
	if (!f || !buf || fstat(fileno(f), &st) != 0 ||
	    bounce_parser_new(&p, BOUNCE_FMT_POSTFIX, (int64_t)st.st_mtime, on_tsv, &t, &e) < 0)
		goto out;
	size_t n;
	while ((n = fread(buf, 1, CHUNK, f)) > 0)
		if (bounce_parser_feed(p, buf, n, &e) < 0)
			goto out;
	if (bounce_parser_finish(p, &e) < 0)
		goto out;
	fprintf(stderr, "%lu rows\n", t.rows);
	/* a row without its key would be NULL in event_key: not a stored row */
	rc = fflush(stdout) == 0 && t.unkeyed == 0 ? 0 : 1;
out:
	if (rc)
		fprintf(stderr, "bench_bclass tsv: %s: %s\n", path,
		        e.msg[0] ? e.msg : "cannot read");
	bounce_parser_free(p);
	free(buf);
	if (f)
		fclose(f);
	buf_free(&t.row);
	return rc;
}

/* Messages per second for one kind of bounce mail: every file of the list
 * is parsed and classified, round after round, for about two seconds. */
static int mail(const char *label, int nfiles, char **files)
{
	char **data = calloc((size_t)nfiles, sizeof *data);
	size_t *len = calloc((size_t)nfiles, sizeof *len);
	for (int i = 0; i < nfiles; i++) {
		FILE *f = fopen(files[i], "rb");
		if (!f) {
			perror(files[i]);
			return 1;
		}
		data[i] = malloc(1 << 20);
		len[i] = fread(data[i], 1, 1 << 20, f);
		fclose(f);
	}
	(void)bclass_default();
	struct counts c = {0, 0, 1};
	unsigned long msgs = 0;
	double t0 = now(), t = 0;
	do {
		for (int i = 0; i < nfiles; i++) {
			struct bounce_parser *p = NULL;
			struct err e = {0};
			if (bounce_parser_new(&p, BOUNCE_FMT_DSN, 0, on_event, &c, &e) == 0 &&
			    bounce_parser_feed(p, data[i], len[i], &e) == 0)
				bounce_parser_finish(p, &e);
			bounce_parser_free(p);
			msgs++;
		}
		t = now() - t0;
	} while (t < 2.0);
	printf("%-40s %10lu msgs  %7.3f s %12.0f messages/s  (%lu events)\n", label, msgs, t,
	       (double)msgs / t, c.events);
	for (int i = 0; i < nfiles; i++)
		free(data[i]);
	free(data);
	free(len);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "mail") == 0)
		return mail(argv[2], argc - 3, argv + 3);
	if (argc == 4 && (strcmp(argv[1], "gen") == 0 || strcmp(argv[1], "gen-mix") == 0)) {
		long lines = strtol(argv[3], NULL, 10);
		struct mix m = {argv[1][3] == '-', lines / 8 > 1000 ? lines / 8 : 1000};
		return gen(argv[2], lines, &m);
	}
	if (argc == 2 && strcmp(argv[1], "columns") == 0)
		return puts(BOUNCE_STORE_COLUMNS) < 0;
	if (argc >= 3 && strcmp(argv[1], "tsv") == 0)
		return tsv(argv[2], argc - 3, argv + 3);
	if (argc != 3 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: bench_bclass gen|gen-mix FILE LINES | run FILE | tsv FILE "
		                "[DOMAIN=TENANT_ID...] | columns | mail LABEL FILE...\n");
		return 2;
	}
	(void)bclass_default(); /* load the table outside the timing */
	static const char *const names[] = {"baseline: line split (memchr)",
	                                    "parse (postfix parser only)",
	                                    "parse + classify (provider + rules)"};
	for (int mode = 0; mode < 3; mode++) {
		struct counts c = {0, 0, mode == 2};
		unsigned long lines;
		pass(argv[2], mode, &lines, &c); /* warm the page cache */
		double t = pass(argv[2], mode, &lines, &c);
		printf("%-40s %10lu lines %7.3f s %12.0f lines/s", names[mode], lines, t,
		       (double)lines / t);
		if (mode > 0)
			printf("  (%lu events", c.events / 2);
		if (mode == 2)
			printf(", %lu blocks", c.blocks / 2);
		printf("%s\n", mode > 0 ? ")" : "");
	}
	return 0;
}
