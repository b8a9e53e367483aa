/*
 * buf: a growable byte buffer with a hard cap, for untrusted bytes.
 *
 * buf_append refuses (returns -1) instead of growing past `max`, so a hostile
 * input can never make us allocate without bound. The data is always
 * NUL-terminated for convenience. The caller owns the buffer and releases it
 * with buf_free; buf_reset keeps the allocation.
 */
#ifndef DS_CORE_BUF_H
#define DS_CORE_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = no cap */
};

void buf_init(struct buf *b, size_t max);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *buf_steal(struct buf *b);

#endif
