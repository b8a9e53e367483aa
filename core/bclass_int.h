/*
 * bclass_int: the rule table as the loader (bclass_rules.c) builds it and
 * the classifier (bclass.c) reads it. core/ only.
 */
#ifndef DS_CORE_BCLASS_INT_H
#define DS_CORE_BCLASS_INT_H

#include "core/bclass.h"

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_ALTS  12
#define MAX_LITS  16
#define MIN_LIT   3
#define LOWER_MAX 4096

struct range {
	int lo, hi;
};

struct enh_alt {
	struct range part[3]; /* lo = -1: any */
};

struct rule {
	char *id;
	char *provider; /* NULL: any */
	int n_reply;    /* 0: any */
	struct range reply[MAX_ALTS];
	int enh_mode;     /* 0 any, 1 must be absent, 2 listed alternatives */
	bool enh_or_none; /* mode 2: "-" was one of the alternatives */
	int n_enh;
	struct enh_alt enh[MAX_ALTS];
	bool has_re;
	regex_t re;
	int n_lit; /* 0: no prefilter */
	char *lit[MAX_LITS];
	uint64_t litmask[MAX_LITS][4]; /* the bigrams of each literal, hashed */
	char *klass, *sev_temp, *sev_perm, *action, *listed_on, *listed_asset;
	bool is_block;
	long priority;
	size_t line;
};

struct bclass {
	size_t n;
	struct rule *rules;       /* sorted: priority desc, then file order */
	struct rule **bucket[10]; /* by class digit; [0] = no code known */
	size_t nbucket[10];
};

/* Sets the bit of every (hashed) pair of adjacent bytes of s[0..n): a rule's
 * literal can only occur in a text whose mask holds all of its bits. */
void bclass_bigrams(const char *s, size_t n, uint64_t mask[4]);

#endif
