/*
 * bclass: the bounce classifier, a pure function over a rule table.
 *
 * The table is data (data/bounce-rules.tsv, embedded into the binary at build
 * time; its columns are documented at its top). bclass_load parses such a
 * text into a table the caller owns and frees with bclass_free;
 * bclass_default returns the embedded table, loaded once and never freed (a
 * broken embedded table is a bug and panics). Errors in a rule file come back
 * in `e` (ERR_CONFIG, naming the line).
 *
 * bclass_classify picks, among the rules whose provider, reply-code pattern,
 * enhanced-code pattern and text regex all match, the one with the highest
 * priority (the earlier line on a tie). Precedence lives in the priorities:
 * provider wording > named blocklist > authentication wording > generic text
 * > enhanced code > reply code. It never fails: with no matching rule the
 * verdict is class "unknown". The verdict's strings point into the table.
 * The function keeps no state, so one table may be shared across threads.
 */
#ifndef DS_CORE_BCLASS_H
#define DS_CORE_BCLASS_H

#include "core/bounce.h"
#include "core/err.h"

#include <stddef.h>

struct bclass;

int bclass_load(struct bclass **out, const char *text, size_t len, struct err *e);
void bclass_free(struct bclass *t);
const struct bclass *bclass_default(void);
size_t bclass_rule_count(const struct bclass *t);
/* The id of the i-th rule (in the order they are tried), i < bclass_rule_count. */
const char *bclass_rule_id(const struct bclass *t, size_t i);

void bclass_classify(const struct bclass *t, int reply_code, const char *enhanced_code,
                     const char *text, const char *provider, struct bounce_verdict *out);

/* An SMTP reply split into its parts. */
struct bclass_reply {
	int code;          /* 0 when the text starts with no 3-digit code */
	char enhanced[16]; /* "" when there is no enhanced code */
	const char *text;  /* where the text after the codes starts (into the input) */
};

/*
 * Finds the reply code and enhanced status code at the start of `line`
 * ("550 5.7.1 text", "550-5.7.26 text", "550 text", "5.1.1 text", "#5.7.1"
 * forms are all accepted). Returns 0 when a reply code or an enhanced code
 * was found, -1 otherwise (r->text is then `line`).
 */
int bclass_split_reply(const char *line, struct bclass_reply *r);

/*
 * Searches `text` for the first enhanced status code ("5.7.26") anywhere in
 * it; copies it into out (size >= 16). Returns 0 when one was found.
 */
int bclass_find_enhanced(const char *text, char *out, size_t outsz);

/*
 * Verdicts a receiver wrote into its reply, as evidence for the correlator:
 * Gmail's "Authentication results: DKIM = did not pass SPF [d] with ip: [ip]
 * = did not pass" (or "SPF domain = d, SPF result = Did not pass") and
 * Microsoft 5.7.515's "Spf= Fail , Dkim= Pass , DMARC= Pass". Fields the
 * text does not state stay BCLASS_AUTH_UNKNOWN. Returns how many it found.
 */
enum bclass_auth { BCLASS_AUTH_UNKNOWN = 0, BCLASS_AUTH_PASS, BCLASS_AUTH_FAIL };

struct bclass_auth_evidence {
	enum bclass_auth spf, dkim, dmarc;
};

int bclass_auth_evidence(const char *text, struct bclass_auth_evidence *out);

#endif
