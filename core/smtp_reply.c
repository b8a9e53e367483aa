/* smtp_reply: see smtp_reply.h. */
#include "core/smtp_reply.h"

#include "core/bclass.h"

#include <stdbool.h>
#include <string.h>

/* " 550-5.7.26 " and " 550 5.7.26 " as the first line gives them: code
 * 0 when there is none, and nothing is dropped inside lines. */
struct codes {
	struct bclass_reply first;
	char digits[3];
	size_t enh_len;
};

/* Length of the " 550-5.7.26 " (or " 550 5.7.26 ") at s, which ends at
 * end; 0 when there is none. */
static size_t repeated_at(const struct codes *c, const char *s, const char *end)
{
	size_t len = 6 + c->enh_len;
	if ((size_t)(end - s) < len || s[0] != ' ' || memcmp(s + 1, c->digits, 3) != 0 ||
	    (s[4] != '-' && s[4] != ' ') || memcmp(s + 5, c->first.enhanced, c->enh_len) != 0 ||
	    s[5 + c->enh_len] != ' ')
		return 0;
	return len;
}

/* Appends s..end, each repeat of the first line's codes dropped (its
 * leading space stays: the words on both sides keep one between them). */
static void put_text(struct buf *out, const struct codes *c, const char *s, const char *end)
{
	if (c->first.code) {
		for (const char *q = s; (q = memchr(q, ' ', (size_t)(end - q))) != NULL;) {
			size_t n = repeated_at(c, q, end);
			if (!n) {
				q++;
				continue;
			}
			buf_append(out, s, (size_t)(q - s) + 1);
			s = q + n;
			q = s;
		}
	}
	buf_append(out, s, (size_t)(end - s));
}

void smtp_reply_join(const char *reply, struct buf *out)
{
	struct codes c = {.first = {.code = 0}};
	struct bclass_reply cur;
	bool first = true;
	buf_reset(out);
	for (const char *p = reply; *p;) {
		const char *end = p + strcspn(p, "\r\n");
		const char *piece = p;
		bool after_prefix = first;
		if (first) {
			first = false;
			while (*piece == ' ')
				piece++;
			if (bclass_split_reply(piece, &c.first) == 0) {
				size_t prefix = (size_t)(c.first.text - piece);
				buf_append(out, piece, prefix);
				if (prefix >= 4 && out->data[3] == '-')
					out->data[3] = ' ';
				piece = c.first.text;
				c.digits[0] = (char)('0' + c.first.code / 100 % 10);
				c.digits[1] = (char)('0' + c.first.code / 10 % 10);
				c.digits[2] = (char)('0' + c.first.code % 10);
				c.enh_len = strlen(c.first.enhanced);
			} else {
				c.first.code = 0;
				c.first.enhanced[0] = '\0';
			}
		} else if (bclass_split_reply(p, &cur) == 0 && c.first.code == cur.code &&
		           strcmp(c.first.enhanced, cur.enhanced) == 0) {
			piece = cur.text;
		}
		if (piece < end) {
			if (out->len > 0 && !after_prefix)
				buf_putc(out, ' ');
			put_text(out, &c, piece, end);
		}
		p = end + strspn(end, "\r\n");
	}
}
