#include "app/bounce_batch.h"

#include "core/bclass.h"
#include "core/log.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void count_class(struct bounce_totals *t, const char *klass)
{
	for (size_t i = 0; i < t->nclass; i++)
		if (strcmp(t->by_class[i].klass, klass) == 0) {
			t->by_class[i].n++;
			return;
		}
	if (t->nclass < BOUNCE_BATCH_CLASSES) {
		t->by_class[t->nclass].klass = klass;
		t->by_class[t->nclass++].n = 1;
	}
}

static void add_stats(struct bounce_totals *t, const struct bounce_stats *st)
{
	t->events += st->events;
	t->lines += st->lines;
	t->skipped += st->skipped;
	t->malformed += st->malformed;
	for (size_t i = 0; i < st->nreasons; i++) {
		size_t k;
		for (k = 0; k < t->nreasons; k++)
			if (strcmp(t->reasons[k].reason, st->reasons[i].reason) == 0)
				break;
		if (k == t->nreasons) {
			if (k == BOUNCE_MAX_REASONS)
				continue;
			t->reasons[k] = st->reasons[i];
			t->reasons[k].count = 0;
			t->nreasons++;
		}
		t->reasons[k].count += st->reasons[i].count;
	}
}

static void add_store(struct bounce_store_stats *t, const struct bounce_store_stats *st)
{
	t->added += st->added;
	t->known += st->known;
	t->suppressed += st->suppressed;
	t->lifted += st->lifted;
	t->escalations_opened += st->escalations_opened;
}

struct input_run {
	struct bounce_batch *b;
	struct bounce_store *store;
};

static int on_event(void *ctx, const struct bounce_event *ev, struct err *e)
{
	struct input_run *r = ctx;
	struct bounce_verdict v;
	const char *provider = bounce_classify_event(r->b->rules, NULL, ev, &v);
	count_class(&r->b->tot, v.klass);
	if (r->store)
		return bounce_store_add(r->store, ev, &v, e);
	if (r->b->event)
		r->b->event(r->b->ctx, ev, &v, provider);
	return 0;
}

/* Parses one input into r. Returns 0, 1 when it could not be read, or -1
 * when the callback failed (e set). */
static int parse_input(struct input_run *r, const char *path, struct err *e)
{
	FILE *f = stdin;
	struct bounce_parser *p = NULL;
	char *chunk = NULL;
	int rc = 0;
	int64_t ref = (int64_t)time(NULL);
	if (strcmp(path, "-") != 0) {
		struct stat st;
		f = fopen(path, "rb");
		if (!f || fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode)) {
			log_error("%s: %s", path, f ? "is a directory" : strerror(errno));
			rc = 1;
			goto out;
		}
		/* classic syslog has no year: the file's age gives it */
		ref = (int64_t)st.st_mtime;
	}
	if (bounce_parser_new(&p, r->b->format, ref, on_event, r, e) < 0) {
		rc = -1;
		goto out;
	}
	bounce_parser_set_hosts(p, r->b->hosts);
	chunk = xmalloc(1 << 16);
	size_t n;
	while ((n = fread(chunk, 1, 1 << 16, f)) > 0) {
		if (bounce_parser_feed(p, chunk, n, e) < 0) {
			rc = -1;
			goto out;
		}
	}
	if (ferror(f)) {
		log_error("%s: read error", path);
		rc = 1;
		goto out;
	}
	if (bounce_parser_finish(p, e) < 0) {
		rc = -1;
		goto out;
	}
out:
	if (p)
		add_stats(&r->b->tot, bounce_parser_stats(p));
	bounce_parser_free(p);
	free(chunk);
	if (f && f != stdin)
		fclose(f);
	return rc;
}

int bounce_batch_input(struct bounce_batch *b, const char *path, struct err *e)
{
	struct input_run r = {.b = b};
	if (b->db && bounce_store_begin(&r.store, b->db, b->tenant, e) < 0)
		return -1;
	int rc = parse_input(&r, path, e);
	if (!r.store)
		return rc;
	if (rc < 0) {
		bounce_store_abort(r.store);
		return -1;
	}
	/* What was read of an input that broke off is kept: events are
	 * stored once by their key, so reading it again adds only the rest. */
	struct bounce_store_stats st = {0};
	if (bounce_store_commit(r.store, &st, e) < 0)
		return -1;
	add_store(&b->tot.store, &st);
	return rc;
}
