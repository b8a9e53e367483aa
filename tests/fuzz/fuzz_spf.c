/*
 * fuzz_spf: arbitrary SPF record text through checks/spf.c. The record is
 * read, then walked with a fake DNS that answers every TXT question with
 * the same text (includes and redirects of itself: loops, depth) and every
 * A/AAAA/MX question from the input's bytes, and evaluated for a few
 * addresses: the walk ends (bounded look-ups), results are valid.
 */
#include "checks/spf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	char *txt;
	struct resolver_answer txt_answer, a_answer, none;
	char *vals[1];
	char *addrs[2];
	size_t asked;
};

static const struct resolver_answer *lookup(void *arg, const char *name, enum resolver_type type)
{
	struct ctx *c = arg;
	(void)name;
	if (++c->asked > 10000)
		abort(); /* the walk must stay bounded */
	if (type == RESOLVER_TXT)
		return &c->txt_answer;
	if (type == RESOLVER_A || type == RESOLVER_MX)
		return strlen(name) % 3 ? &c->a_answer : &c->none;
	return &c->none;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 14)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct spfrec r;
	struct buf why;
	buf_init(&why, 4096);
	if (spfrec_parse(text, &r, &why) == 0) {
		for (size_t i = 0; i < r.n; i++)
			if (r.t[i].cidr4 < 0 || r.t[i].cidr4 > 32 || r.t[i].cidr6 < 0 ||
			    r.t[i].cidr6 > 128)
				abort();
		spfrec_free(&r);
	} else if (why.len == 0) {
		abort();
	}
	buf_free(&why);
	struct ctx c = {.txt = text};
	c.vals[0] = text;
	c.txt_answer = (struct resolver_answer){.status = RESOLVER_OK, .n = 1, .values = c.vals};
	char v4[] = "192.0.2.1", v6[] = "2001:db8::1";
	c.addrs[0] = v4;
	c.addrs[1] = v6;
	c.a_answer = (struct resolver_answer){.status = RESOLVER_OK, .n = 2, .values = c.addrs};
	c.none = (struct resolver_answer){.status = RESOLVER_NXDOMAIN};
	struct spf_walk w;
	spf_walk("fuzz.example", text, lookup, &c, &w);
	const char *ips[] = {"192.0.2.1", "2001:db8::1", "203.0.113.9"};
	for (size_t i = 0; i < 3; i++)
		if ((unsigned)spf_eval(&w, ips[i]) > SPF_R_UNKNOWN)
			abort();
	spf_walk_free(&w);
	free(text);
	return 0;
}
