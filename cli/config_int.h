/*
 * config_int: what config.c (walking the file) and config_keys.c (the
 * sections, keys and their readers) share. cli/ only.
 */
#ifndef DS_CLI_CONFIG_INT_H
#define DS_CLI_CONFIG_INT_H

#include "cli/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct section;

/*
 * Parsing state. inih (Debian's build has INI_HANDLER_LINENO off) does not
 * tell the handler the line number, so our reader hands inih one line per
 * call and counts them; it also notes section headers, so a section that
 * has no keys, or a repeated [mailbox NAME], is still seen and placed.
 */
struct parse {
	struct config *cfg;
	const char *name; /* file name for messages */
	FILE *f;
	const char *text; /* or a string */
	size_t text_off;
	int line;
	int max_line;
	bool pending_section; /* a header was read, no key of it seen yet */
	int pending_line;
	char pending_raw[128];
	const struct section *sec; /* NULL: none yet, or an unknown one */
	bool sec_known;            /* sec was decided for the current header */
	struct config_mailbox *mb; /* current [mailbox] */
	unsigned seen;             /* keys seen in the current section (bit per key) */
	unsigned sections_seen;    /* bit per sections[] entry */
};

struct key;
/* Reads `value` into the section's struct `obj` (k->off: where, for the
 * shared readers); says what is wrong with it through problem(). */
typedef void (*key_read_fn)(struct parse *ps, void *obj, const struct key *k, const char *value);

struct key {
	const char *name;
	key_read_fn read;
	size_t off;
};

struct section {
	const char *name;
	bool named;    /* [mailbox NAME] */
	bool once;     /* a second [name] is a problem */
	bool empty_ok; /* no keys at all is fine (everything has a default) */
	/* The keys; NULL: any name is a key (mta-hosts), read by `any`. */
	const struct key *keys;
	void (*any)(struct parse *ps, const char *name, const char *value);
	void *(*obj)(struct parse *ps); /* the struct the keys fill */
};

extern const struct section config_sections[];
extern const size_t config_n_sections;

/* A problem (an error: the file is refused) or a warning at `line`. */
__attribute__((format(printf, 3, 4))) void config_problem(struct parse *ps, int line,
                                                          const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void config_warning(struct parse *ps, int line,
                                                          const char *fmt, ...);

#endif
