#include "ingest/validate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct alias {
	const char *from; /* lower-case spelling as sent */
	const char *to;   /* RFC spelling */
};

struct enum_table {
	const char *what;
	const char *const *names;    /* RFC spellings, NULL-terminated */
	const struct alias *aliases; /* NULL-terminated */
};

static const char *const disposition_names[] = {"none", "pass", "quarantine", "reject", NULL};
static const struct alias disposition_aliases[] = {{"nil", "none"}, {NULL, NULL}};

static const char *const policy_result_names[] = {"pass", "fail", NULL};
static const struct alias policy_result_aliases[] = {
    {"softfail", "fail"}, {"hardfail", "fail"}, {NULL, NULL}};

static const char *const dkim_names[] = {"none",    "pass",      "fail",      "policy",
                                         "neutral", "temperror", "permerror", NULL};
static const struct alias dkim_aliases[] = {{"invalid", "permerror"},
                                            {"unknown", "temperror"},
                                            {"error", "permerror"},
                                            {"hardfail", "fail"},
                                            {NULL, NULL}};

static const char *const spf_names[] = {"none",      "neutral",   "pass",   "fail", "softfail",
                                        "temperror", "permerror", "policy", NULL};
static const struct alias spf_aliases[] = {
    {"hardfail", "fail"}, {"unknown", "temperror"}, {"error", "permerror"}, {NULL, NULL}};

static const char *const scope_names[] = {"helo", "mfrom", NULL};
static const struct alias scope_aliases[] = {{"mailfrom", "mfrom"}, {NULL, NULL}};

static const char *const reason_names[] = {
    "forwarded",    "sampled_out", "trusted_forwarder", "mailing_list",
    "local_policy", "other",       "policy_test_mode",  NULL};
static const char *const align_names[] = {"r", "s", NULL};
static const char *const policy_names[] = {"none", "quarantine", "reject", NULL};
static const char *const testing_names[] = {"n", "y", NULL};
static const char *const discovery_names[] = {"psl", "treewalk", NULL};
static const struct alias no_aliases[] = {{NULL, NULL}};

/* Indexed by enum validate_enum. */
static const struct enum_table tables[] = {
    [VALIDATE_DISPOSITION] = {"a disposition", disposition_names, disposition_aliases},
    [VALIDATE_POLICY_RESULT] = {"a policy_evaluated result", policy_result_names,
                                policy_result_aliases},
    [VALIDATE_DKIM_RESULT] = {"a DKIM result", dkim_names, dkim_aliases},
    [VALIDATE_SPF_RESULT] = {"an SPF result", spf_names, spf_aliases},
    [VALIDATE_SPF_SCOPE] = {"an SPF scope", scope_names, scope_aliases},
    [VALIDATE_REASON_TYPE] = {"a policy override reason", reason_names, no_aliases},
    [VALIDATE_ALIGNMENT] = {"an alignment mode", align_names, no_aliases},
    [VALIDATE_POLICY] = {"a policy", policy_names, no_aliases},
    [VALIDATE_TESTING] = {"a testing flag", testing_names, no_aliases},
    [VALIDATE_DISCOVERY] = {"a discovery method", discovery_names, no_aliases},
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Finds the trimmed span of s. */
static void trim_span(const char *s, const char **start, size_t *len)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*start = s;
	*len = n;
}

static bool span_eq(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

const char *validate_enum_what(enum validate_enum kind)
{
	return tables[kind].what;
}

int validate_enum(enum validate_enum kind, const char *value, const char **out)
{
	*out = NULL;
	if (!value)
		return 0;
	const char *s;
	size_t n;
	trim_span(value, &s, &n);
	if (n == 0)
		return 0;
	const struct enum_table *t = &tables[kind];
	for (const char *const *p = t->names; *p; p++)
		if (span_eq(s, n, *p)) {
			*out = *p;
			return 0;
		}
	for (const struct alias *a = t->aliases; a->from; a++)
		if (span_eq(s, n, a->from)) {
			*out = a->to;
			return 0;
		}
	return -1;
}

/* Parses the digits of [s, s+n) into *out, refusing overflow. */
static int digits(const char *s, size_t n, int64_t *out)
{
	if (n == 0)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		int d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int validate_count(const char *s, int64_t *out)
{
	const char *p;
	size_t n;
	if (!s)
		return -1;
	trim_span(s, &p, &n);
	return digits(p, n, out);
}

int validate_timestamp(const char *s, int64_t *out)
{
	const char *p;
	size_t n;
	if (!s)
		return -1;
	trim_span(s, &p, &n);
	const char *dot = memchr(p, '.', n);
	if (dot) {
		/* The fraction must be digits too ("1524268800.000"). */
		for (const char *q = dot + 1; q < p + n; q++)
			if (*q < '0' || *q > '9')
				return -1;
		n = (size_t)(dot - p);
	}
	return digits(p, n, out);
}

int validate_pct(const char *s, int *out)
{
	int64_t v;
	if (validate_count(s, &v) != 0 || v > 100)
		return -1;
	*out = (int)v;
	return 0;
}

int validate_ip(const char *s, char *out)
{
	const char *p;
	size_t n;
	char tmp[VALIDATE_IP_MAX + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	if (!s)
		return -1;
	trim_span(s, &p, &n);
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	int af = strchr(tmp, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, tmp, bin) != 1)
		return -1;
	if (af == AF_INET) {
		/* inet_pton takes only the dotted quad without leading zeros
		 * (test_validate checks that it refuses "192.0.02.1"), which is
		 * what inet_ntop would write back; inet_ntop goes through
		 * sprintf, and IPv4 is most of every report. */
		memcpy(out, tmp, n + 1);
		return 0;
	}
	/* An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 sender:
	 * stored as IPv4 so that its records meet the other reports' ones. */
	struct in6_addr a6;
	memcpy(&a6, bin, sizeof a6);
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (!inet_ntop(AF_INET, bin + 12, out, VALIDATE_IP_MAX))
			return -1;
		return 0;
	}
	if (!inet_ntop(af, bin, out, VALIDATE_IP_MAX))
		return -1;
	return 0;
}

bool validate_ip_unspecified(const char *ip)
{
	return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

void validate_enum_names(enum validate_enum kind, char *out, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (const char *const *p = tables[kind].names; *p; p++) {
		int w = snprintf(out + used, n - used, "%s%s", used ? "/" : "", *p);
		if (w < 0 || (size_t)w >= n - used)
			return;
		used += (size_t)w;
	}
}

char *validate_header_from(char *s)
{
	const char *p;
	size_t n;
	trim_span(s, &p, &n);
	memmove(s, p, n);
	s[n] = '\0';

	/* "Name <user@example.com>": the part inside the first angle brackets
	 * (checked first: a display name may hold a comma). */
	char *lt = strchr(s, '<');
	if (lt) {
		char *gt = strchr(lt + 1, '>');
		if (gt)
			*gt = '\0';
		memmove(s, lt + 1, strlen(lt + 1) + 1);
	}
	/* The first of several addresses or domains. */
	s[strcspn(s, ",;")] = '\0';
	char *at = strrchr(s, '@');
	if (at)
		memmove(s, at + 1, strlen(at + 1) + 1);
	trim_span(s, &p, &n);
	/* "x.example y.example": the first word. */
	size_t word = 0;
	while (word < n && !is_space(p[word]))
		word++;
	memmove(s, p, word);
	s[word] = '\0';
	return s;
}
