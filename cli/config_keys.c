/*
 * config_keys: what each section of the configuration file may hold — one
 * table of sections, one table of keys per section, and the reader of each
 * key's value. config.c walks the file and looks keys up here.
 */
#include "cli/config_int.h"

#include "app/blocklists.h"
#include "core/duration.h"
#include "core/hostmap.h"
#include "core/xalloc.h"
#include "db/db.h"

#include <curl/curl.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

static void set_str(struct parse *ps, char **slot, const char *key, const char *value)
{
	if (!*value) {
		config_problem(ps, ps->line, "'%s' is empty", key);
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
		config_problem(ps, ps->line, "%s '%s' cannot be read: %s", k->name, value,
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
		config_problem(ps, ps->line, "'%s' must be true or false, not '%s'", k->name,
		               value);
}

/* A whole number in [lo, hi] for `what`; -1 after a problem. */
static long long read_count(struct parse *ps, const struct key *k, const char *value, long long lo,
                            long long hi, const char *what)
{
	char *end = NULL;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	if (errno || end == value || *end || n < lo || n > hi) {
		config_problem(ps, ps->line, "%s = '%s': expected %s", k->name, value, what);
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
		config_problem(ps, ps->line, "%s = '%s': expected a duration such as %s", k->name,
		               value, example);
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
		config_problem(ps, ps->line, "'url' is empty");
		return;
	}
	char why[300];
	if (db_conninfo_check(value, why, sizeof why) != 0)
		config_problem(ps, ps->line, "'url': %s", why);
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
		config_problem(ps, ps->line, "pinned must be 'owner' or 'strict', not '%s'", value);
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
			config_problem(
			    ps, ps->line,
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
		config_problem(ps, ps->line,
		               "url: unknown scheme '%.*s' (use imaps://HOST[:PORT]/FOLDER, "
		               "imap://..., maildir:/PATH or mbox:/PATH)",
		               (int)(strcspn(value, ":/@") > 16 ? 16 : strcspn(value, ":/@")),
		               value);
		return;
	}
	if (mb->path && mb->path[0] != '/') {
		config_problem(ps, ps->line, "url '%s': the path must be absolute", value);
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
		config_problem(
		    ps, ps->line,
		    "insecure_skip_verify = '%s': expected yes/no, true/false, on/off or 1/0",
		    value);
	else if (mb->insecure_skip_verify)
		config_warning(
		    ps, ps->line,
		    "insecure_skip_verify is on for [mailbox %s]: the server's TLS certificate "
		    "is NOT checked",
		    mb->name);
}

static void mb_backoff(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	long long ms = parse_ms(value);
	(void)k;
	if (ms <= 0 || ms > 600000)
		config_problem(
		    ps, ps->line,
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
		config_problem(ps, ps->line, "%s = '%s': expected a duration such as 2s, 500ms, 5m",
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
		config_problem(ps, ps->line,
		               "[smtp] url '%s': expected smtps://HOST[:PORT] or smtp://...",
		               value);
	else
		read_str(ps, obj, k, value);
}

static void smtp_from(struct parse *ps, void *obj, const struct key *k, const char *value)
{
	if (!strchr(value, '@') || strpbrk(value, " <>\r\n"))
		config_problem(ps, ps->line, "[smtp] from '%s' is not an address", value);
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
		config_problem(ps, ps->line, "[notify] webhook '%s': expected https://...", value);
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
		config_problem(ps, ps->line, "%s = '%s': expected a percentage above 0, up to 100",
		               k->name, value);
	else if (c->pass_at < c->fail_below)
		config_problem(ps, ps->line, "pass_at (%g %%) is below fail_below (%g %%)",
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
		config_problem(ps, ps->line, "%s = '%s': %s", k->name, value, e.msg);
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
		config_problem(ps, ps->line, "[mta-hosts]: %s", e.msg);
}

const struct section config_sections[] = {
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
const size_t config_n_sections = sizeof config_sections / sizeof config_sections[0];
