/* raw_aside: see raw_aside.h. */
#include "app/raw_aside.h"

#include "db/store.h"

static void *run(void *arg)
{
	struct raw_aside *r = arg;
	r->rc = store_raw_put_fd(r->db, r->sha256, r->fd, r->size, r->source, NULL, &r->err);
	return NULL;
}

/* The copy-end hook: the thread starts (if it cannot, the gate stores). */
static void start(void *arg)
{
	struct raw_aside *r = arg;
	if (r->pending && pthread_create(&r->thread, NULL, run, r) == 0) {
		r->pending = false;
		r->running = true;
	}
}

/* The commit gate: the raw bytes stored (here if not started); 0 when they
 * are, or there were none to store. A failure stays: every later call says
 * it again. */
static int join(void *arg, struct err *e)
{
	struct raw_aside *r = arg;
	if (r->pending) {
		r->pending = false;
		run(r);
	} else if (r->running) {
		pthread_join(r->thread, NULL);
		r->running = false;
	}
	if (r->rc != 0) {
		*e = r->err;
		return -1;
	}
	return 0;
}

int raw_aside_begin(struct raw_aside *r, struct db *db, struct db *spare, const char *sha256,
                    int fd, uint64_t size, const char *source, bool *known, struct err *e)
{
	*r = (struct raw_aside){.sha256 = sha256, .source = source, .fd = fd, .size = size};
	bool done = false;
	if (!spare || size < RAW_ASIDE_MIN)
		return store_raw_put_fd(db, sha256, fd, size, source, known, e);
	if (store_raw_lookup(db, sha256, known, &done, e) != 0)
		return -1;
	if (*known)
		return 0;
	r->db = spare;
	r->pending = true;
	db_set_copy_end_hook(db, start, r);
	db_set_commit_gate(db, join, r);
	return 0;
}

int raw_aside_end(struct raw_aside *r, struct db *db, struct err *e)
{
	db_set_copy_end_hook(db, NULL, NULL);
	db_set_commit_gate(db, NULL, NULL);
	return join(r, e);
}
