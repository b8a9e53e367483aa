/*
 * bounce_text: the reader of plain-text bounce notices — the human-readable
 * bodies MTAs send without (or instead of) an RFC 3464 delivery-status part:
 * Exim, qmail (QSBMF), Sendmail, dma, legacy Gmail, Exchange / Office 365,
 * Domino, Courier, OpenSMTPD, IMail, Zoho, gateways quoting the SMTP
 * dialogue, carriers, one-liners.
 *
 * It reads the notice from its layout, not from a list of known texts: an
 * address is a recipient where a recipient stands in such notices (alone
 * on its line, after a recipient label, after "delivering your mail to",
 * before Sendmail's "..."), the lines up to the next recipient are its
 * block, and the block's SMTP reply (wherever it stands: after "said:",
 * "<<<", "ERROR_CODE :", in quotes, "(#5.1.1)"), joined over continuation
 * and wrapped lines, is its reason. A reason written before the recipient
 * list, or once for a list, is shared. The text must be UTF-8 (the caller
 * decodes charsets and transfer encodings with gmime).
 *
 * btext_read fills a struct btext the caller frees with btext_free; it
 * never fails (no recipient found: n == 0). Pure: no I/O, no global state
 * beyond patterns compiled once.
 */
#ifndef DS_INGEST_BOUNCE_TEXT_H
#define DS_INGEST_BOUNCE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct btext_rcpt {
	char *addr;
	int reply_code;    /* 0 when none */
	char enhanced[16]; /* "" when none */
	char *text;        /* the diagnostic on one line ("" when none) */
	char *remote_mta;  /* NULL when the block names none */
	char *remote_ip;
	bool delayed; /* a warning / delay notice, or a "transient" section */
};

struct btext {
	const char *format; /* static: the layout family that matched, else "text" */
	bool delayed;       /* the notice as a whole is a warning / delay notice */
	size_t n;
	struct btext_rcpt *r;
	/* the reason written outside any recipient's block (gateways, lists) */
	int global_code;
	char global_enhanced[16];
	char *global_text; /* NULL when none */
};

/*
 * Reads a notice. `subject` may be NULL. `skip` (NULL-terminated, may be
 * NULL) lists addresses that are never recipients: the notice's own From
 * and To. Returns the number of recipients found.
 */
size_t btext_read(const char *text, size_t len, const char *subject, const char *const *skip,
                  struct btext *out);
void btext_free(struct btext *b);

/*
 * Whether a message reads as a bounce / delay notice at all: a known
 * layout, a failure phrase in the text, a bounce subject, or a sender that
 * is a mailer daemon. `from` is the notice's From address (may be NULL).
 */
bool btext_is_notice(const char *text, size_t len, const char *subject, const char *from);

#endif
