#include "cli/config.h"

#include "app/blocklists.h"

#include "core/buf.h"
#include "core/duration.h"
#include "core/hostmap.h"
#include "core/xalloc.h"
#include "db/db.h"

#include <curl/curl.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

static struct config *config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);
	cfg->notify.retries = -1;
	correlate_settings_default(&cfg->correlate);
	cfg->blocklists.every_s = 6L * 3600;
	cfg->blocklists.floor = -1;
	return cfg;
}

static void add_msg(char ***list, size_t *n, char *msg)
{
	*list = xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = msg;
}

__attribute__((format(printf, 4, 0))) static void vadd(struct parse *ps, bool is_error, int line,
                                                       const char *fmt, va_list ap)
{
	char m[600];
	vsnprintf(m, sizeof m, fmt, ap);
	char *msg = xasprintf("%s:%d: %s", ps->name, line, m);
	if (is_error)
		add_msg(&ps->cfg->errors, &ps->cfg->n_errors, msg);
	else
		add_msg(&ps->cfg->warnings, &ps->cfg->n_warnings, msg);
}

__attribute__((format(printf, 3, 4))) static void problem(struct parse *ps, int line,
                                                          const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(ps, true, line, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void warning(struct parse *ps, int line,
                                                          const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(ps, false, line, fmt, ap);
	va_end(ap);
}

/* The section header text of a line, if it is one ("[mailbox x]" -> "mailbox x"). */
static bool header_of(const char *line, char *out, size_t outsz)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != '[')
		return false;
	const char *end = strchr(line, ']');
	size_t n = end ? (size_t)(end - line - 1) : strcspn(line + 1, "\r\n");
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, line + 1, n);
	out[n] = '\0';
	return true;
}

static void close_pending(struct parse *ps);

/* One whole line per call, so ps->line is the line inih is working on. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	char *line = NULL;
	size_t len = 0;
	if (ps->f) {
		size_t cap = 0;
		ssize_t n = getline(&line, &cap, ps->f);
		if (n < 0) {
			free(line);
			return NULL;
		}
		len = (size_t)n;
	} else {
		if (!ps->text[ps->text_off])
			return NULL;
		const char *s = ps->text + ps->text_off;
		const char *nl = strchr(s, '\n');
		len = nl ? (size_t)(nl - s + 1) : strlen(s);
		line = xstrndup(s, len);
		ps->text_off += len;
	}
	ps->line++;
	char hdr[128];
	if (header_of(line, hdr, sizeof hdr)) {
		close_pending(ps);
		ps->pending_section = true;
		ps->pending_line = ps->line;
		snprintf(ps->pending_raw, sizeof ps->pending_raw, "%s", hdr);
	}
	if (len + 3 > (size_t)num) {
		problem(ps, ps->line, "line too long (at most %d characters)", num - 3);
		snprintf(str, (size_t)num, ";\n");
	} else {
		memcpy(str, line, len);
		str[len] = '\0';
	}
	free(line);
	return str;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on", NULL};
	static const char *const no[] = {"0", "no", "false", "off", NULL};
	for (int i = 0; yes[i]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
	for (int i = 0; no[i]; i++)
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	return -1;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' || *s == '@'))
			return false;
	return true;
}

/* "90", "90%", "97.5 %": a percentage in (0, 100]. */
static int parse_percent(const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);
	while (*end == ' ')
		end++;
	if (*end == '%')
		end++;
	if (end == v || *end || !(d > 0 && d <= 100))
		return -1;
	*out = d / 100;
	return 0;
}

/* "30" (seconds), "30s", "500ms", "5m", "1h": milliseconds (at most a day),
 * -1 when not. */
static long long parse_ms(const char *v)
{
	return duration_parse_ms(v, 86400000LL);
}

/* ---- sections and keys: one table each, read by begin_section and handler ---- */

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

static void set_str(struct parse *ps, char **slot, const char *key, const char *value)
{
	if (!*value) {
		problem(ps, ps->line, "'%s' is empty", key);
		return;
	}
	free(*slot);
	*slot = xstrdup(value);
}

#define SLOT(obj, k, type) ((type *)((char *)(obj) + (k)->off))

static void read_str(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	set_str(ps, SLOT(obj, k, char *), k->name, value);
}

/* A file that must be readable now (a CA, a database, a table). */
static void read_file(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	char **slot = SLOT(obj, k, char *);
	set_str(ps, slot, k->name, value);
	if (*slot && access(*slot, R_OK) != 0)
		problem(ps, ps->line, "%s '%s' cannot be read: %s", k->name, value,
		        strerror(errno));
}

/* A zone or list that may be empty (empty turns the lookup off). */
static void read_str_or_empty(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	char **slot = SLOT(obj, k, char *);
	free(*slot);
	*slot = xstrdup(value);
	(void)ps;
}

static void read_bool(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	if (parse_bool(value, SLOT(obj, k, bool)) != 0)
		problem(ps, ps->line, "'%s' must be true or false, not '%s'", k->name, value);
}

/* A whole number in [lo, hi] for `what`; -1 after a problem. */
static long long read_count(struct parse *ps, const struct key *k, const char *value, long long lo,
                            long long hi, const char *what)
{
	char *end = NULL;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	if (errno || end == value || *end || n < lo || n > hi) {
		problem(ps, ps->line, "%s = '%s': expected %s", k->name, value, what);
		return -1;
	}
	return n;
}

/* A span of seconds up to `max`; -1 after a problem. */
static long long read_span(struct parse *ps, const struct key *k, const char *value, long long max,
                           const char *example)
{
	long long n = duration_parse(value, max);
	if (n < 0)
		problem(ps, ps->line, "%s = '%s': expected a duration such as %s", k->name, value,
		        example);
	return n;
}

/* [database] */
static void *obj_cfg(struct parse *ps)
{
	return ps->cfg;
}

static void db_url(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config *c = obj;
	(void)k;
	if (!*value) {
		problem(ps, ps->line, "'url' is empty");
		return;
	}
	char why[300];
	if (db_conninfo_check(value, why, sizeof why) != 0)
		problem(ps, ps->line, "'url': %s", why);
	c->db_url = xstrdup(value);
}

static const struct key database_keys[] = {{"url", db_url, 0}, {NULL, NULL, 0}};

/* [tenants] pinned: what a mailbox or --tenant pinned to one tenant does
 * with a report whose domain another tenant owns: store it under the owner
 * and warn (owner, the default), or quarantine it (strict). */
static void tenants_pinned(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config *c = obj;
	(void)k;
	if (strcmp(value, "strict") == 0)
		c->pinned_strict = true;
	else if (strcmp(value, "owner") == 0)
		c->pinned_strict = false;
	else
		problem(ps, ps->line, "pinned must be 'owner' or 'strict', not '%s'", value);
}

static const struct key tenants_keys[] = {{"pinned", tenants_pinned, 0}, {NULL, NULL, 0}};

/* [mailbox NAME] */
static void *obj_mailbox(struct parse *ps)
{
	return ps->mb;
}

static void mb_url(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config_mailbox *mb = obj;
	(void)k;
	mb->url_line = ps->line;
	if (strncmp(value, "imaps://", 8) == 0 || strncmp(value, "imap://", 7) == 0) {
		mb->kind = CONFIG_MAILBOX_IMAP;
		CURLU *u = curl_url();
		char *host = NULL;
		CURLUcode uc = curl_url_set(u, CURLUPART_URL, value, 0);
		if (uc == CURLUE_OK)
			uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
		bool ok = uc == CURLUE_OK && host && *host;
		curl_free(host);
		curl_url_cleanup(u);
		/* The URL may carry user:password@: named, never echoed. */
		if (!ok) {
			problem(ps, ps->line,
			        "url is not a valid URL (imaps://HOST[:PORT]/FOLDER): %s; the"
			        " URL is not shown, it may hold a password",
			        uc == CURLUE_OK ? "no host" : curl_url_strerror(uc));
			return;
		}
	} else if (strncmp(value, "maildir:", 8) == 0) {
		mb->kind = CONFIG_MAILBOX_MAILDIR;
		mb->path = xstrdup(value + 8);
	} else if (strncmp(value, "mbox:", 5) == 0) {
		mb->kind = CONFIG_MAILBOX_MBOX;
		mb->path = xstrdup(value + 5);
	} else {
		problem(ps, ps->line,
		        "url: unknown scheme '%.*s' (use imaps://HOST[:PORT]/FOLDER, "
		        "imap://..., maildir:/PATH or mbox:/PATH)",
		        (int)(strcspn(value, ":/@") > 16 ? 16 : strcspn(value, ":/@")), value);
		return;
	}
	if (mb->path && mb->path[0] != '/') {
		problem(ps, ps->line, "url '%s': the path must be absolute", value);
		return;
	}
	mb->url = xstrdup(value);
}

static void mb_folder(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	read_str(ps, obj, k, value);
	((struct config_mailbox *)obj)->folders_configured = true;
}

static void mb_insecure(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config_mailbox *mb = obj;
	(void)k;
	if (parse_bool(value, &mb->insecure_skip_verify) != 0)
		problem(ps, ps->line,
		        "insecure_skip_verify = '%s': expected yes/no, true/false, on/off or 1/0",
		        value);
	else if (mb->insecure_skip_verify)
		warning(ps, ps->line,
		        "insecure_skip_verify is on for [mailbox %s]: the server's TLS certificate "
		        "is NOT checked",
		        mb->name);
}

static void mb_backoff(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	long long ms = parse_ms(value);
	(void)k;
	if (ms <= 0 || ms > 600000)
		problem(ps, ps->line,
		        "retry_backoff = '%s': expected a delay such as 500ms, 2s or 1m (at most "
		        "10m)",
		        value);
	else
		((struct config_mailbox *)obj)->backoff_ms = (unsigned)ms;
}

#define MB(f) offsetof(struct config_mailbox, f)
static const struct key mailbox_keys[] = {
    {"url", mb_url, 0},
    {"user", read_str, MB(user)},
    {"password_file", read_str, MB(password_file)},
    {"password_env", read_str, MB(password_env)},
    {"oauth2_token_file", read_str, MB(oauth2_token_file)},
    {"oauth2_token_command", read_str, MB(oauth2_token_command)},
    {"tenant", read_str, MB(tenant)},
    {"processed_folder", mb_folder, MB(processed_folder)},
    {"failed_folder", mb_folder, MB(failed_folder)},
    {"tls_ca_file", read_file, MB(tls_ca_file)},
    {"insecure_skip_verify", mb_insecure, 0},
    {"retry_backoff", mb_backoff, 0},
    {NULL, NULL, 0},
};
#undef MB

/* [dns] */
static void *obj_dns(struct parse *ps)
{
	return &ps->cfg->dns;
}

static void dns_ms(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config_dns *d = obj;
	long long ms = parse_ms(value);
	if (ms <= 0)
		problem(ps, ps->line, "%s = '%s': expected a duration such as 2s, 500ms, 5m",
		        k->name, value);
	else if (strcmp(k->name, "timeout") == 0)
		d->timeout_ms = (int)ms;
	else
		d->budget_s = (unsigned)((ms + 999) / 1000);
}

static void dns_tries(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	long long n = read_count(ps, k, value, 1, 10, "a number from 1 to 10");
	if (n > 0)
		((struct config_dns *)obj)->tries = (int)n;
}

#define DNS(f) offsetof(struct config_dns, f)
static const struct key dns_keys[] = {
    {"servers", read_str, DNS(servers)},
    {"timeout", dns_ms, 0},
    {"tries", dns_tries, 0},
    {"budget", dns_ms, 0},
    /* Empty is allowed: it turns ASN lookups through DNS off. */
    {"origin_zone", read_str_or_empty, DNS(origin_zone)},
    {"origin6_zone", read_str_or_empty, DNS(origin6_zone)},
    {"asname_zone", read_str_or_empty, DNS(asname_zone)},
    {NULL, NULL, 0},
};
#undef DNS

/* [sources] */
static const struct key sources_keys[] = {
    {"mmdb", read_file, offsetof(struct config, sources_mmdb)},
    {"services", read_file, offsetof(struct config, sources_services)},
    {NULL, NULL, 0},
};

/* [smtp] */
static void *obj_smtp(struct parse *ps)
{
	return &ps->cfg->smtp;
}

static void smtp_url(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	if (strncmp(value, "smtps://", 8) != 0 && strncmp(value, "smtp://", 7) != 0)
		problem(ps, ps->line, "[smtp] url '%s': expected smtps://HOST[:PORT] or smtp://...",
		        value);
	else
		read_str(ps, obj, k, value);
}

static void smtp_from(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	if (!strchr(value, '@') || strpbrk(value, " <>\r\n"))
		problem(ps, ps->line, "[smtp] from '%s' is not an address", value);
	else
		read_str(ps, obj, k, value);
}

#define SMTP(f) offsetof(struct config_smtp, f)
static const struct key smtp_keys[] = {
    {"url", smtp_url, SMTP(url)},
    {"from", smtp_from, SMTP(from)},
    {"user", read_str, SMTP(user)},
    {"password_file", read_str, SMTP(password_file)},
    {"password_env", read_str, SMTP(password_env)},
    {"tls_ca_file", read_str, SMTP(tls_ca_file)},
    {NULL, NULL, 0},
};
#undef SMTP

/* [notify] */
static void *obj_notify(struct parse *ps)
{
	return &ps->cfg->notify;
}

static void notify_webhook(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	if (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0)
		problem(ps, ps->line, "[notify] webhook '%s': expected https://...", value);
	else
		read_str(ps, obj, k, value);
}

static void notify_retries(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	long long n = read_count(ps, k, value, 0, 20, "0 to 20");
	if (n >= 0)
		((struct config_notify *)obj)->retries = (int)n;
}

#define NOTIFY(f) offsetof(struct config_notify, f)
static const struct key notify_keys[] = {
    {"webhook", notify_webhook, NOTIFY(webhook)},
    {"secret_file", read_str, NOTIFY(secret_file)},
    {"secret_env", read_str, NOTIFY(secret_env)},
    {"retries", notify_retries, 0},
    {NULL, NULL, 0},
};
#undef NOTIFY

/* [ruf]: failure reports carry other people's mail: what to keep of it. */
static void *obj_ruf(struct parse *ps)
{
	return &ps->cfg->ruf;
}

static const struct key ruf_keys[] = {
    {"keep_body", read_bool, offsetof(struct ruf_options, keep_body)},
    {"redact", read_bool, offsetof(struct ruf_options, redact)},
    {NULL, NULL, 0},
};

/* [correlate] */
static void *obj_correlate(struct parse *ps)
{
	return &ps->cfg->correlate;
}

static void corr_percent(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct correlate_settings *c = obj;
	if (parse_percent(value, SLOT(obj, k, double)) != 0)
		problem(ps, ps->line, "%s = '%s': expected a percentage above 0, up to 100",
		        k->name, value);
	else if (c->pass_at < c->fail_below)
		problem(ps, ps->line, "pass_at (%g %%) is below fail_below (%g %%)",
		        c->pass_at * 100, c->fail_below * 100);
}

static void corr_count(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct correlate_settings *c = obj;
	long long n = read_count(ps, k, value, 1, 1000000000, "a whole number of at least 1");
	if (n < 0)
		return;
	if (strcmp(k->name, "min_messages") == 0)
		c->min_messages = (long)n;
	else
		c->resolve_days = (int)n;
}

#define CORR(f) offsetof(struct correlate_settings, f)
static const struct key correlate_keys[] = {
    {"fail_below", corr_percent, CORR(fail_below)},
    {"pass_at", corr_percent, CORR(pass_at)},
    {"min_messages", corr_count, 0},
    {"resolve_days", corr_count, 0},
    {NULL, NULL, 0},
};
#undef CORR

/* [blocklists] */
static void *obj_blocklists(struct parse *ps)
{
	return &ps->cfg->blocklists;
}

static void bl_zones(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct err e = {0};
	if (blocklists_check_zones(value, &e) != 0)
		problem(ps, ps->line, "%s = '%s': %s", k->name, value, e.msg);
	else
		read_str(ps, obj, k, value);
}

static void bl_span(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config_blocklists *b = obj;
	long long n = read_span(ps, k, value, 366LL * 86400, "6h, 30m or 90s");
	if (n < 0)
		return;
	if (strcmp(k->name, "every") == 0)
		b->every_s = (long)n;
	else
		b->budget_s = (unsigned)n;
}

static void bl_days(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	long long n = read_count(ps, k, value, 1, 3650, "a whole number of days, at least 1");
	if (n > 0)
		((struct config_blocklists *)obj)->days = (int)n;
}

static void bl_floor(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	long long n = read_count(ps, k, value, 0, 1000000000, "a whole number of messages");
	if (n >= 0)
		((struct config_blocklists *)obj)->floor = n;
}

#define BL(f) offsetof(struct config_blocklists, f)
static const struct key blocklists_keys[] = {
    {"ip", bl_zones, BL(ip)}, {"domain", bl_zones, BL(domain)}, {"every", bl_span, 0},
    {"days", bl_days, 0},     {"floor", bl_floor, 0},           {"budget", bl_span, 0},
    {NULL, NULL, 0},
};
#undef BL

/* [retention]: the longest window prune takes is a century, like failures
 * dismiss. */
#define RETENTION_MAX_S (100LL * 366 * 86400)

static void *obj_retention(struct parse *ps)
{
	return &ps->cfg->retention;
}

static void ret_older(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	struct config_retention *r = obj;
	r->line = ps->line;
	long long n = read_span(ps, k, value, RETENTION_MAX_S, "400d or 57w");
	if (n >= 0)
		r->older_s = n;
}

static const struct key retention_keys[] = {{"older_than", ret_older, 0}, {NULL, NULL, 0}};

/* [mta-hosts]: every key is a host name. */
static void mta_host_key(struct parse *ps, const char *name, const char *value)
{
	struct err e = {0};
	if (!ps->cfg->mta_hosts)
		ps->cfg->mta_hosts = hostmap_new();
	if (hostmap_add(ps->cfg->mta_hosts, name, value, &e) != 0)
		problem(ps, ps->line, "[mta-hosts]: %s", e.msg);
}

static const struct section sections[] = {
    {"database", false, true, false, database_keys, NULL, obj_cfg},
    {"tenants", false, false, false, tenants_keys, NULL, obj_cfg},
    {"mailbox", true, false, false, mailbox_keys, NULL, obj_mailbox},
    {"dns", false, true, false, dns_keys, NULL, obj_dns},
    {"sources", false, true, false, sources_keys, NULL, obj_cfg},
    {"smtp", false, false, false, smtp_keys, NULL, obj_smtp},
    {"notify", false, false, false, notify_keys, NULL, obj_notify},
    {"correlate", false, true, true, correlate_keys, NULL, obj_correlate},
    {"blocklists", false, true, true, blocklists_keys, NULL, obj_blocklists},
    {"mta-hosts", false, true, true, NULL, mta_host_key, NULL},
    {"retention", false, true, false, retention_keys, NULL, obj_retention},
    {"ruf", false, false, false, ruf_keys, NULL, obj_ruf},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

/* "[database], [tenants], [mailbox NAME], ... or [ruf]" */
static void section_list(struct buf *b)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		buf_printf(b, "%s[%s%s]",
		           i == 0                ? ""
		           : i + 1 == N_SECTIONS ? " or "
		                                 : ", ",
		           sections[i].name, sections[i].named ? " NAME" : "");
}

static void unknown_section(struct parse *ps, int line, const char *name)
{
	struct buf b;
	buf_init(&b, 0);
	section_list(&b);
	problem(ps, line, "unknown section [%s] (expected %s)", name, b.data);
	buf_free(&b);
}

/* The section a header names ("mailbox x" names mailbox), or NULL. */
static const struct section *section_of(const char *header, const char **arg)
{
	for (size_t i = 0; i < N_SECTIONS; i++) {
		const struct section *s = &sections[i];
		size_t n = strlen(s->name);
		if (strncmp(header, s->name, n) != 0)
			continue;
		if (header[n] == '\0' || (s->named && header[n] == ' ')) {
			*arg = header + n;
			while (**arg == ' ')
				(*arg)++;
			return s;
		}
	}
	return NULL;
}

/* A header was read and no key of it: an empty section. */
static void close_pending(struct parse *ps)
{
	if (!ps->pending_section)
		return;
	ps->pending_section = false;
	const char *arg;
	const struct section *s = section_of(ps->pending_raw, &arg);
	if (!s)
		unknown_section(ps, ps->pending_line, ps->pending_raw);
	else if (!s->empty_ok)
		problem(ps, ps->pending_line, "section [%s] has no keys", ps->pending_raw);
}

static void begin_section(struct parse *ps, const char *header)
{
	int line = ps->pending_section ? ps->pending_line : ps->line;
	ps->pending_section = false;
	ps->seen = 0;
	ps->mb = NULL;
	const char *name;
	const struct section *s = section_of(header, &name);
	ps->sec = s;
	ps->sec_known = true;
	if (!s) {
		unknown_section(ps, line, header);
		return;
	}
	size_t i = (size_t)(s - sections);
	if (s->once && ps->sections_seen & (1u << i))
		problem(ps, line, "[%s] given twice", s->name);
	ps->sections_seen |= 1u << i;
	if (!s->named)
		return;
	if (!*name) {
		problem(ps, line, "[mailbox] needs a name: [mailbox NAME]");
	} else if (!name_ok(name)) {
		problem(ps, line, "mailbox name '%s' may only contain letters, digits and - _ . @",
		        name);
	} else if (config_mailbox_find(ps->cfg, name)) {
		problem(ps, line, "mailbox '%s' defined twice", name);
	}
	struct config *c = ps->cfg;
	c->mailboxes = xrealloc(c->mailboxes, (c->n_mailboxes + 1) * sizeof *c->mailboxes);
	ps->mb = &c->mailboxes[c->n_mailboxes++];
	memset(ps->mb, 0, sizeof *ps->mb);
	ps->mb->name = xstrdup(name);
	ps->mb->line = line;
}

/* "[dns]", "[mailbox x]": how messages name the current section. */
static void section_label(const struct parse *ps, char *out, size_t n)
{
	if (ps->mb)
		snprintf(out, n, "[mailbox %s]", ps->mb->name);
	else
		snprintf(out, n, "[%s]", ps->sec->name);
}

static void section_key(struct parse *ps, const char *name, const char *value)
{
	const struct section *s = ps->sec;
	if (!s->keys) {
		s->any(ps, name, value);
		return;
	}
	char label[200];
	section_label(ps, label, sizeof label);
	size_t k = 0;
	while (s->keys[k].name && strcmp(s->keys[k].name, name) != 0)
		k++;
	if (!s->keys[k].name) {
		struct buf known;
		buf_init(&known, 0);
		for (size_t i = 0; s->keys[i].name; i++)
			buf_printf(&known, "%s%s", i ? ", " : "", s->keys[i].name);
		problem(ps, ps->line, "unknown key '%s' in %s (known: %s)", name, label,
		        known.data);
		buf_free(&known);
		return;
	}
	if (ps->seen & (1u << k)) {
		problem(ps, ps->line, "'%s' given twice in %s", name, label);
		return;
	}
	ps->seen |= 1u << k;
	void *obj = s->obj(ps);
	if (obj) /* (the analyzer cannot see that cfg is set for the whole parse) */
		s->keys[k].read(ps, obj, &s->keys[k], value);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	if (ps->pending_section || !ps->sec_known)
		begin_section(ps, section);
	if (ps->sec)
		section_key(ps, name, value);
	return 1;
}

/* Checks that need the whole section: required keys, exclusive ones, defaults. */
static void validate_mailbox(struct parse *ps, struct config_mailbox *mb)
{
	int line = mb->line;
	const char *n = mb->name;
	if (!mb->url) {
		/* An invalid url was reported on its own line already. */
		if (!mb->url_line)
			problem(ps, line, "[mailbox %s] has no url", n);
		return;
	}
	int pw = (mb->password_file != NULL) + (mb->password_env != NULL);
	int tok = (mb->oauth2_token_file != NULL) + (mb->oauth2_token_command != NULL);
	if (mb->kind == CONFIG_MAILBOX_IMAP) {
		if (!mb->user)
			problem(ps, line, "[mailbox %s] is IMAP and needs 'user'", n);
		if (pw + tok == 0)
			problem(ps, line,
			        "[mailbox %s] needs one of password_file, password_env, "
			        "oauth2_token_file, oauth2_token_command",
			        n);
		else if (pw + tok > 1)
			problem(ps, line,
			        "[mailbox %s] gives more than one of password_file, "
			        "password_env, "
			        "oauth2_token_file, oauth2_token_command; use exactly one",
			        n);
		if (mb->password_file && access(mb->password_file, R_OK) != 0)
			problem(ps, line, "[mailbox %s]: password_file '%s' cannot be read: %s", n,
			        mb->password_file, strerror(errno));
		if (mb->oauth2_token_file && access(mb->oauth2_token_file, R_OK) != 0)
			problem(ps, line, "[mailbox %s]: oauth2_token_file '%s' cannot be read: %s",
			        n, mb->oauth2_token_file, strerror(errno));
		if (mb->password_env && !getenv(mb->password_env))
			warning(ps, line,
			        "[mailbox %s]: environment variable %s (password_env) is "
			        "not set "
			        "now",
			        n, mb->password_env);
		if (mb->password_file) {
			struct stat st;
			if (stat(mb->password_file, &st) == 0 && (st.st_mode & 077))
				warning(ps, line,
				        "[mailbox %s]: password_file '%s' is readable by "
				        "group or "
				        "others (chmod 600 it)",
				        n, mb->password_file);
		}
	} else {
		const char *kind = config_mailbox_kind_name(mb->kind);
		if (mb->user || pw || tok)
			problem(ps, line,
			        "[mailbox %s] is a %s: user, password and oauth2 keys do "
			        "not apply",
			        n, kind);
		if (mb->tls_ca_file || mb->insecure_skip_verify)
			problem(ps, line, "[mailbox %s] is a %s: TLS keys do not apply", n, kind);
		if (mb->kind == CONFIG_MAILBOX_MBOX && mb->folders_configured)
			problem(ps, line,
			        "[mailbox %s] is an mbox, which dmarcsift never rewrites: "
			        "processed_folder/failed_folder do not apply",
			        n);
	}
	if (!mb->processed_folder)
		mb->processed_folder = xstrdup(CONFIG_DEFAULT_PROCESSED);
	if (!mb->failed_folder)
		mb->failed_folder = xstrdup(CONFIG_DEFAULT_FAILED);
	if (strcmp(mb->processed_folder, mb->failed_folder) == 0)
		problem(ps, line, "[mailbox %s]: processed_folder and failed_folder are the same",
		        n);
}

char *config_mailbox_source(const struct config_mailbox *mb)
{
	if (mb->kind != CONFIG_MAILBOX_IMAP) {
		if (!mb->path)
			return NULL;
		/* Symlinks, '..' and double slashes resolved: one directory or
		 * file, one name. */
		char *real = realpath(mb->path, NULL);
		char *src =
		    xasprintf("%s:%s", mb->kind == CONFIG_MAILBOX_MAILDIR ? "maildir" : "mbox",
		              real ? real : mb->path);
		free(real);
		return src;
	}
	if (!mb->url)
		return NULL;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *user = NULL, *path = NULL;
	char *src = NULL;
	if (curl_url_set(u, CURLUPART_URL, mb->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK)
			path = NULL;
		if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) != CURLUE_OK)
			user = NULL;
		/* Host names are case-insensitive; the scheme only picks TLS and
		 * the default port, so imap:// and imaps:// to one port meet. */
		for (char *h = host; *h; h++)
			if (*h >= 'A' && *h <= 'Z')
				*h = (char)(*h - 'A' + 'a');
		src = xasprintf("imap:%s@%s:%s%s",
		                mb->user ? mb->user
		                : user   ? user
		                         : "",
		                host, port, path && *path ? path : "/INBOX");
	}
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(path);
	curl_url_cleanup(u);
	return src;
}

/* Two sections reading one mailbox would race each other for its messages
 * (and store them twice under different tenants): refused. */
static void check_sources(struct parse *ps)
{
	struct config *cfg = ps->cfg;
	char **src = xcalloc(cfg->n_mailboxes + 1, sizeof *src);
	for (size_t i = 0; i < cfg->n_mailboxes; i++) {
		src[i] = config_mailbox_source(&cfg->mailboxes[i]);
		for (size_t j = 0; src[i] && j < i; j++) {
			if (src[j] && strcmp(src[i], src[j]) == 0) {
				problem(
				    ps, cfg->mailboxes[i].line,
				    "[mailbox %s] reads the same mailbox as [mailbox %s] (%s): one "
				    "section per mailbox",
				    cfg->mailboxes[i].name, cfg->mailboxes[j].name, src[i]);
				break;
			}
		}
	}
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		free(src[i]);
	free(src);
}

static int parse_with(struct config **out, struct parse *ps)
{
	struct config *cfg = ps->cfg;
	/* One meaning per line: no continuation lines, a value is what is on it. */
	ini_allow_multiline = false;
	ps->max_line = ini_max_line;
	int rc = ini_parse_stream(reader, ps, handler, ps);
	close_pending(ps);
	if (rc > 0)
		problem(ps, rc, "syntax error (expected [section], key = value, or a comment)");
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		validate_mailbox(ps, &cfg->mailboxes[i]);
	check_sources(ps);
	*out = cfg;
	return 0;
}

int config_load_string(struct config **out, const char *name, const char *text, struct err *e)
{
	(void)e;
	struct config *cfg = config_new();
	cfg->path = xstrdup(name);
	struct parse ps = {.cfg = cfg, .name = name, .text = text};
	return parse_with(out, &ps);
}

int config_load(struct config **out, const char *path, struct err *e)
{
	*out = NULL;
	if (!path) {
		*out = config_new();
		return 0;
	}
	FILE *f = fopen(path, "r");
	if (!f)
		return err_set(e, ERR_CONFIG, "cannot read config file %s: %s", path,
		               strerror(errno));
	struct config *cfg = config_new();
	cfg->path = xstrdup(path);
	struct parse ps = {.cfg = cfg, .name = path, .f = f};
	int rc = parse_with(out, &ps);
	fclose(f);
	return rc;
}

char *config_user_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg)
		return xasprintf("%s/dmarcsift/dmarcsift.conf", xdg);
	if (home && *home)
		return xasprintf("%s/.config/dmarcsift/dmarcsift.conf", home);
	return NULL;
}

int config_find(const char *cli_path, char **path_out, struct err *e)
{
	*path_out = NULL;
	if (cli_path) {
		if (access(cli_path, R_OK) != 0)
			return err_set(e, ERR_CONFIG, "cannot read config file %s: %s", cli_path,
			               strerror(errno));
		*path_out = xstrdup(cli_path);
		return 0;
	}
	char *cand = config_user_path();
	if (cand && access(cand, F_OK) == 0) {
		*path_out = cand;
		return 0;
	}
	free(cand);
	if (access("/etc/dmarcsift/dmarcsift.conf", F_OK) == 0)
		*path_out = xstrdup("/etc/dmarcsift/dmarcsift.conf");
	return 0;
}

bool config_ok(const struct config *cfg)
{
	return cfg && cfg->n_errors == 0;
}

const struct config_mailbox *config_mailbox_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg && i < cfg->n_mailboxes; i++)
		if (strcmp(cfg->mailboxes[i].name, name) == 0)
			return &cfg->mailboxes[i];
	return NULL;
}

const char *config_mailbox_kind_name(enum config_mailbox_kind kind)
{
	switch (kind) {
	case CONFIG_MAILBOX_IMAP:
		return "IMAP mailbox";
	case CONFIG_MAILBOX_MAILDIR:
		return "Maildir";
	case CONFIG_MAILBOX_MBOX:
		return "mbox";
	}
	return "?";
}

static void mailbox_free(struct config_mailbox *mb)
{
	char **fields[] = {&mb->name,
	                   &mb->url,
	                   &mb->path,
	                   &mb->user,
	                   &mb->password_file,
	                   &mb->password_env,
	                   &mb->oauth2_token_file,
	                   &mb->oauth2_token_command,
	                   &mb->tenant,
	                   &mb->processed_folder,
	                   &mb->failed_folder,
	                   &mb->tls_ca_file};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		free(*fields[i]);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_mailboxes; i++)
		mailbox_free(&cfg->mailboxes[i]);
	free(cfg->mailboxes);
	for (size_t i = 0; i < cfg->n_errors; i++)
		free(cfg->errors[i]);
	free(cfg->errors);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg->path);
	free(cfg->db_url);
	free(cfg->dns.servers);
	free(cfg->dns.origin_zone);
	free(cfg->dns.origin6_zone);
	free(cfg->dns.asname_zone);
	free(cfg->sources_mmdb);
	free(cfg->blocklists.ip);
	free(cfg->blocklists.domain);
	free(cfg->sources_services);
	free(cfg->smtp.url);
	free(cfg->smtp.from);
	free(cfg->smtp.user);
	free(cfg->smtp.password_file);
	free(cfg->smtp.password_env);
	free(cfg->smtp.tls_ca_file);
	free(cfg->notify.webhook);
	free(cfg->notify.secret_file);
	free(cfg->notify.secret_env);
	hostmap_free(cfg->mta_hosts);
	free(cfg);
}
