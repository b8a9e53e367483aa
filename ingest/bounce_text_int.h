/*
 * bounce_text_int: the compiled patterns bounce_text.c reads notices with
 * (defined in bounce_text_patterns.c). Private to ingest/.
 */
#ifndef DS_INGEST_BOUNCE_TEXT_INT_H
#define DS_INGEST_BOUNCE_TEXT_INT_H

#include <regex.h>
#include <stddef.h>

struct btext_family {
	const char *name, *re;
};

extern const struct btext_family btext_families[];
extern const size_t btext_nfamilies;
extern regex_t btext_re_fam[], btext_re_cut, btext_re_label, btext_re_lead, btext_re_delay,
    btext_re_final, btext_re_sec_delay, btext_re_sec_perm, btext_re_host, btext_re_notice,
    btext_re_lead_label;

/* Compiles the patterns once (thread-safe); a pattern that does not
 * compile is a bug and panics. */
void btext_init_patterns(void);

#endif
