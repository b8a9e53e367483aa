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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET_MAX 16384

static int first_line(FILE *f, char **out, const char *what, const char *name, struct err *e);

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
	enum {
		SEC_NONE,
		SEC_DATABASE,
		SEC_TENANTS,
		SEC_MAILBOX,
		SEC_DNS,
		SEC_SOURCES,
		SEC_SMTP,
		SEC_NOTIFY,
		SEC_RUF,
		SEC_CORRELATE,
		SEC_BLOCKLISTS,
		SEC_MTA_HOSTS,
		SEC_RETENTION,
		SEC_UNKNOWN
	} sec;
	struct config_mailbox *mb; /* current [mailbox] */
	unsigned seen;             /* keys seen in the current section (bit per key) */
	bool db_seen, dns_seen, sources_seen, corr_seen, hosts_seen, bl_seen, ret_seen;
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

static void close_pending(struct parse *ps)
{
	if (!ps->pending_section)
		return;
	ps->pending_section = false;
	if (strncmp(ps->pending_raw, "mailbox", 7) == 0 ||
	    strcmp(ps->pending_raw, "database") == 0 || strcmp(ps->pending_raw, "dns") == 0 ||
	    strcmp(ps->pending_raw, "sources") == 0 || strcmp(ps->pending_raw, "smtp") == 0 ||
	    strcmp(ps->pending_raw, "notify") == 0 || strcmp(ps->pending_raw, "ruf") == 0 ||
	    strcmp(ps->pending_raw, "retention") == 0)
		problem(ps, ps->pending_line, "section [%s] has no keys", ps->pending_raw);
	else if (strcmp(ps->pending_raw, "correlate") == 0 ||
	         strcmp(ps->pending_raw, "blocklists") == 0 ||
	         strcmp(ps->pending_raw, "mta-hosts") == 0)
		; /* all defaults / no hosts: fine */
	else
		problem(
		    ps, ps->pending_line,
		    "unknown section [%s] (expected [database], [tenants], [mailbox NAME], "
		    "[dns], [sources], [smtp], [notify], [correlate], [blocklists], [mta-hosts], "
		    "[retention] or [ruf])",
		    ps->pending_raw);
}

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

static const char *const mailbox_keys[] = {
    "url",
    "user",
    "password_file",
    "password_env",
    "oauth2_token_file",
    "oauth2_token_command",
    "tenant",
    "processed_folder",
    "failed_folder",
    "tls_ca_file",
    "insecure_skip_verify",
    "retry_backoff",
    NULL,
};

static int key_index(const char *const *keys, const char *name)
{
	for (int i = 0; keys[i]; i++)
		if (strcmp(keys[i], name) == 0)
			return i;
	return -1;
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

static void begin_section(struct parse *ps, const char *section)
{
	int line = ps->pending_section ? ps->pending_line : ps->line;
	ps->pending_section = false;
	ps->seen = 0;
	ps->mb = NULL;
	if (strcmp(section, "database") == 0) {
		if (ps->db_seen)
			problem(ps, line, "[database] given twice");
		ps->db_seen = true;
		ps->sec = SEC_DATABASE;
		return;
	}
	if (strcmp(section, "tenants") == 0) {
		ps->sec = SEC_TENANTS;
		return;
	}
	if (strcmp(section, "ruf") == 0) {
		ps->sec = SEC_RUF;
		return;
	}
	if (strcmp(section, "smtp") == 0 || strcmp(section, "notify") == 0) {
		ps->sec = section[0] == 's' ? SEC_SMTP : SEC_NOTIFY;
		return;
	}
	if (strcmp(section, "dns") == 0 || strcmp(section, "sources") == 0) {
		bool dns = section[0] == 'd';
		bool *seen = dns ? &ps->dns_seen : &ps->sources_seen;
		if (*seen)
			problem(ps, line, "[%s] given twice", section);
		*seen = true;
		ps->sec = dns ? SEC_DNS : SEC_SOURCES;
		return;
	}
	if (strncmp(section, "mailbox", 7) == 0 && (section[7] == ' ' || section[7] == '\0')) {
		const char *name = section + 7;
		while (*name == ' ')
			name++;
		ps->sec = SEC_MAILBOX;
		if (!*name) {
			problem(ps, line, "[mailbox] needs a name: [mailbox NAME]");
		} else if (!name_ok(name)) {
			problem(ps, line,
			        "mailbox name '%s' may only contain letters, digits and - _ . @",
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
		return;
	}
	if (strcmp(section, "blocklists") == 0) {
		if (ps->bl_seen)
			problem(ps, line, "[blocklists] given twice");
		ps->bl_seen = true;
		ps->sec = SEC_BLOCKLISTS;
		return;
	}
	if (strcmp(section, "retention") == 0) {
		if (ps->ret_seen)
			problem(ps, line, "[retention] given twice");
		ps->ret_seen = true;
		ps->sec = SEC_RETENTION;
		return;
	}
	if (strcmp(section, "correlate") == 0 || strcmp(section, "mta-hosts") == 0) {
		bool corr = section[0] == 'c';
		bool *seen = corr ? &ps->corr_seen : &ps->hosts_seen;
		if (*seen)
			problem(ps, line, "[%s] given twice", section);
		*seen = true;
		ps->sec = corr ? SEC_CORRELATE : SEC_MTA_HOSTS;
		return;
	}
	ps->sec = SEC_UNKNOWN;
	problem(ps, line,
	        "unknown section [%s] (expected [database], [tenants], [mailbox NAME], [dns], "
	        "[sources], [smtp], [notify], [correlate], [blocklists], [mta-hosts], "
	        "[retention] or [ruf])",
	        section);
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

static const char *const correlate_keys[] = {"fail_below", "pass_at", "min_messages",
                                             "resolve_days", NULL};

static void correlate_key(struct parse *ps, const char *name, const char *value)
{
	struct correlate_settings *c = &ps->cfg->correlate;
	int k = key_index(correlate_keys, name);
	if (k < 0) {
		problem(ps, ps->line,
		        "unknown key '%s' in [correlate] (known: fail_below, pass_at, "
		        "min_messages, resolve_days)",
		        name);
		return;
	}
	if (ps->seen & (1u << k)) {
		problem(ps, ps->line, "'%s' given twice in [correlate]", name);
		return;
	}
	ps->seen |= 1u << k;
	char *end;
	long n;
	switch (k) {
	case 0:
	case 1:
		if (parse_percent(value, k == 0 ? &c->fail_below : &c->pass_at) != 0)
			problem(ps, ps->line, "%s = '%s': expected a percentage above 0, up to 100",
			        name, value);
		else if (c->pass_at < c->fail_below)
			problem(ps, ps->line, "pass_at (%g %%) is below fail_below (%g %%)",
			        c->pass_at * 100, c->fail_below * 100);
		break;
	case 2:
	case 3:
		n = strtol(value, &end, 10);
		if (end == value || *end || n < 1 || n > 1000000000)
			problem(ps, ps->line, "%s = '%s': expected a whole number of at least 1",
			        name, value);
		else if (k == 2)
			c->min_messages = n;
		else
			c->resolve_days = (int)n;
		break;
	}
}

static void set_str(struct parse *ps, char **slot, const char *key, const char *value);

static const char *const blocklists_keys[] = {"ip",    "domain", "every", "days",
                                              "floor", "budget", NULL};

static void blocklists_key(struct parse *ps, const char *name, const char *value)
{
	struct config_blocklists *b = &ps->cfg->blocklists;
	int k = key_index(blocklists_keys, name);
	if (k < 0) {
		problem(ps, ps->line,
		        "unknown key '%s' in [blocklists] (known: ip, domain, every, days, floor, "
		        "budget)",
		        name);
		return;
	}
	if (ps->seen & (1u << k)) {
		problem(ps, ps->line, "'%s' given twice in [blocklists]", name);
		return;
	}
	ps->seen |= 1u << k;
	struct err e = {0};
	char *end;
	long n;
	switch (k) {
	case 0:
	case 1:
		if (blocklists_check_zones(value, &e) != 0)
			problem(ps, ps->line, "%s = '%s': %s", name, value, e.msg);
		else
			set_str(ps, k == 0 ? &b->ip : &b->domain, name, value);
		break;
	case 2:
	case 5:
		n = (long)duration_parse(value, 366LL * 86400);
		if (n < 0)
			problem(ps, ps->line,
			        "%s = '%s': expected a duration such as 6h, 30m or 90s", name,
			        value);
		else if (k == 2)
			b->every_s = n;
		else
			b->budget_s = (unsigned)n;
		break;
	case 3:
	case 4:
		n = strtol(value, &end, 10);
		if (end == value || *end || n < (k == 3 ? 1 : 0) ||
		    n > (k == 3 ? 3650 : 1000000000))
			problem(ps, ps->line, "%s = '%s': expected a whole number%s", name, value,
			        k == 3 ? " of days, at least 1" : " of messages");
		else if (k == 3)
			b->days = (int)n;
		else
			b->floor = n;
		break;
	}
}

/* The longest window prune takes: a century, like failures dismiss. */
#define RETENTION_MAX_S (100LL * 366 * 86400)

static void retention_key(struct parse *ps, const char *name, const char *value)
{
	struct config_retention *r = &ps->cfg->retention;
	if (strcmp(name, "older_than") != 0) {
		problem(ps, ps->line, "unknown key '%s' in [retention] (known: older_than)", name);
		return;
	}
	if (r->line) {
		problem(ps, ps->line, "'older_than' given twice in [retention]");
		return;
	}
	r->line = ps->line;
	long long n = duration_parse(value, RETENTION_MAX_S);
	if (n < 0)
		problem(ps, ps->line, "older_than = '%s': expected a duration such as 400d or 57w",
		        value);
	else
		r->older_s = n;
}

static void mta_host_key(struct parse *ps, const char *name, const char *value)
{
	struct err e = {0};
	if (!ps->cfg->mta_hosts)
		ps->cfg->mta_hosts = hostmap_new();
	if (hostmap_add(ps->cfg->mta_hosts, name, value, &e) != 0)
		problem(ps, ps->line, "[mta-hosts]: %s", e.msg);
}

static void set_str(struct parse *ps, char **slot, const char *key, const char *value)
{
	if (!*value) {
		problem(ps, ps->line, "'%s' is empty", key);
		return;
	}
	free(*slot);
	*slot = xstrdup(value);
}

static long long parse_ms(const char *v);

static void mailbox_key(struct parse *ps, const char *name, const char *value)
{
	struct config_mailbox *mb = ps->mb;
	int k = key_index(mailbox_keys, name);
	if (k < 0) {
		problem(ps, ps->line,
		        "unknown key '%s' in [mailbox %s] (known: url, user, "
		        "password_file, password_env, oauth2_token_file, "
		        "oauth2_token_command, tenant, processed_folder, failed_folder, "
		        "tls_ca_file, insecure_skip_verify, retry_backoff)",
		        name, mb->name);
		return;
	}
	if (ps->seen & (1u << k)) {
		problem(ps, ps->line, "'%s' given twice in [mailbox %s]", name, mb->name);
		return;
	}
	ps->seen |= 1u << k;
	switch (k) {
	case 0:
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
				problem(
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
			problem(ps, ps->line,
			        "url: unknown scheme '%.*s' (use imaps://HOST[:PORT]/FOLDER, "
			        "imap://..., maildir:/PATH or mbox:/PATH)",
			        (int)(strcspn(value, ":/@") > 16 ? 16 : strcspn(value, ":/@")),
			        value);
			return;
		}
		if (mb->path && mb->path[0] != '/') {
			problem(ps, ps->line, "url '%s': the path must be absolute", value);
			return;
		}
		mb->url = xstrdup(value);
		break;
	case 1:
		set_str(ps, &mb->user, name, value);
		break;
	case 2:
		set_str(ps, &mb->password_file, name, value);
		break;
	case 3:
		set_str(ps, &mb->password_env, name, value);
		break;
	case 4:
		set_str(ps, &mb->oauth2_token_file, name, value);
		break;
	case 5:
		set_str(ps, &mb->oauth2_token_command, name, value);
		break;
	case 6:
		set_str(ps, &mb->tenant, name, value);
		break;
	case 7:
		set_str(ps, &mb->processed_folder, name, value);
		mb->folders_configured = true;
		break;
	case 8:
		set_str(ps, &mb->failed_folder, name, value);
		mb->folders_configured = true;
		break;
	case 9:
		set_str(ps, &mb->tls_ca_file, name, value);
		if (mb->tls_ca_file && access(mb->tls_ca_file, R_OK) != 0)
			problem(ps, ps->line, "tls_ca_file '%s' cannot be read: %s", value,
			        strerror(errno));
		break;
	case 10:
		if (parse_bool(value, &mb->insecure_skip_verify) != 0)
			problem(ps, ps->line,
			        "insecure_skip_verify = '%s': expected yes/no, true/false, on/off "
			        "or 1/0",
			        value);
		else if (mb->insecure_skip_verify)
			warning(ps, ps->line,
			        "insecure_skip_verify is on for [mailbox %s]: the server's TLS "
			        "certificate is NOT checked",
			        mb->name);
		break;
	case 11: {
		long long ms = parse_ms(value);
		if (ms <= 0 || ms > 600000)
			problem(ps, ps->line,
			        "retry_backoff = '%s': expected a delay such as 500ms, 2s or 1m "
			        "(at most 10m)",
			        value);
		else
			mb->backoff_ms = (unsigned)ms;
		break;
	}
	}
}

/* "30" (seconds), "30s", "500ms", "5m", "1h": milliseconds, -1 when not. */
static long long parse_ms(const char *v)
{
	char *end = NULL;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || end == v || n < 0)
		return -1;
	long long mult = 1000;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else if (*end && strcmp(end, "s") != 0)
		return -1;
	if (n > 86400000LL / mult)
		return -1;
	return n * mult;
}

static void dns_key(struct parse *ps, struct config_dns *d, const char *name, const char *value)
{
	char **zone = strcmp(name, "origin_zone") == 0    ? &d->origin_zone
	              : strcmp(name, "origin6_zone") == 0 ? &d->origin6_zone
	              : strcmp(name, "asname_zone") == 0  ? &d->asname_zone
	                                                  : NULL;
	if (strcmp(name, "servers") == 0) {
		set_str(ps, &d->servers, name, value);
	} else if (zone) {
		/* Empty is allowed: it turns ASN lookups through DNS off. */
		free(*zone);
		*zone = xstrdup(value);
	} else if (strcmp(name, "timeout") == 0 || strcmp(name, "budget") == 0) {
		long long ms = parse_ms(value);
		if (ms <= 0)
			problem(ps, ps->line,
			        "%s = '%s': expected a duration such as 2s, 500ms, 5m", name,
			        value);
		else if (name[0] == 't')
			d->timeout_ms = (int)ms;
		else
			d->budget_s = (unsigned)((ms + 999) / 1000);
	} else if (strcmp(name, "tries") == 0) {
		char *end = NULL;
		long n = strtol(value, &end, 10);
		if (end == value || *end || n < 1 || n > 10)
			problem(ps, ps->line, "tries = '%s': expected a number from 1 to 10",
			        value);
		else
			d->tries = (int)n;
	} else {
		problem(ps, ps->line,
		        "unknown key '%s' in [dns] (known: servers, timeout, tries, budget, "
		        "origin_zone, origin6_zone, asname_zone)",
		        name);
	}
}

static void sources_key(struct parse *ps, const char *name, const char *value)
{
	char **slot = strcmp(name, "mmdb") == 0       ? &ps->cfg->sources_mmdb
	              : strcmp(name, "services") == 0 ? &ps->cfg->sources_services
	                                              : NULL;
	if (!slot) {
		problem(ps, ps->line, "unknown key '%s' in [sources] (known: mmdb, services)",
		        name);
		return;
	}
	set_str(ps, slot, name, value);
	if (*slot && access(*slot, R_OK) != 0)
		problem(ps, ps->line, "%s '%s' cannot be read: %s", name, value, strerror(errno));
}

static void smtp_key(struct parse *ps, const char *name, const char *value)
{
	struct config_smtp *s = &ps->cfg->smtp;
	static const char *const keys[] = {"url",          "from",        "user", "password_file",
	                                   "password_env", "tls_ca_file", NULL};
	char **slots[] = {&s->url,           &s->from,         &s->user,
	                  &s->password_file, &s->password_env, &s->tls_ca_file};
	int k = key_index(keys, name);
	if (k < 0) {
		problem(ps, ps->line,
		        "unknown key '%s' in [smtp] (known: url, from, user, password_file, "
		        "password_env, tls_ca_file)",
		        name);
		return;
	}
	if (*slots[k]) {
		problem(ps, ps->line, "'%s' given twice in [smtp]", name);
		return;
	}
	if (k == 0 && strncmp(value, "smtps://", 8) != 0 && strncmp(value, "smtp://", 7) != 0) {
		problem(ps, ps->line, "[smtp] url '%s': expected smtps://HOST[:PORT] or smtp://...",
		        value);
		return;
	}
	if (k == 1 && (!strchr(value, '@') || strpbrk(value, " <>\r\n"))) {
		problem(ps, ps->line, "[smtp] from '%s' is not an address", value);
		return;
	}
	set_str(ps, slots[k], name, value);
}

static void notify_key(struct parse *ps, const char *name, const char *value)
{
	struct config_notify *n = &ps->cfg->notify;
	if (strcmp(name, "retries") == 0) {
		char *end = NULL;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || !*value || *end || v < 0 || v > 20)
			problem(ps, ps->line, "[notify] retries = '%s': expected 0 to 20", value);
		else
			n->retries = (int)v;
		return;
	}
	static const char *const keys[] = {"webhook", "secret_file", "secret_env", NULL};
	char **slots[] = {&n->webhook, &n->secret_file, &n->secret_env};
	int k = key_index(keys, name);
	if (k < 0) {
		problem(ps, ps->line,
		        "unknown key '%s' in [notify] (known: webhook, secret_file, "
		        "secret_env, "
		        "retries)",
		        name);
		return;
	}
	if (*slots[k]) {
		problem(ps, ps->line, "'%s' given twice in [notify]", name);
		return;
	}
	if (k == 0 && strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) {
		problem(ps, ps->line, "[notify] webhook '%s': expected https://...", value);
		return;
	}
	set_str(ps, slots[k], name, value);
}

int config_read_secret(const char *section, const char *file, const char *env, char **out,
                       struct err *e)
{
	*out = NULL;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return err_set(e, ERR_CONFIG, "[%s]: cannot read %s: %s", section, file,
			               strerror(errno));
		int rc = first_line(f, out, "the secret file", section, e);
		fclose(f);
		return rc;
	}
	if (env) {
		const char *v = getenv(env);
		if (!v || !*v)
			return err_set(e, ERR_CONFIG, "[%s]: environment variable %s is not set",
			               section, env);
		*out = xstrdup(v);
	}
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	if (ps->pending_section || ps->sec == SEC_NONE)
		begin_section(ps, section);
	switch (ps->sec) {
	case SEC_NONE:
	case SEC_UNKNOWN:
		break;
	case SEC_DATABASE:
		if (strcmp(name, "url") != 0) {
			problem(ps, ps->line, "unknown key '%s' in [database] (known: url)", name);
		} else if (ps->cfg->db_url) {
			problem(ps, ps->line, "'url' given twice in [database]");
		} else if (!*value) {
			problem(ps, ps->line, "'url' is empty");
		} else {
			char why[300];
			if (db_conninfo_check(value, why, sizeof why) != 0)
				problem(ps, ps->line, "'url': %s", why);
			ps->cfg->db_url = xstrdup(value);
		}
		break;
	case SEC_TENANTS:
		/* pinned: what a mailbox or --tenant pinned to one tenant does with
		 * a report whose domain another tenant owns: store it under the
		 * owner and warn (owner, the default), or quarantine it (strict). */
		if (strcmp(name, "pinned") != 0)
			problem(ps, ps->line, "unknown key '%s' in [tenants] (known: pinned)",
			        name);
		else if (strcmp(value, "strict") == 0)
			ps->cfg->pinned_strict = true;
		else if (strcmp(value, "owner") == 0)
			ps->cfg->pinned_strict = false;
		else
			problem(ps, ps->line, "pinned must be 'owner' or 'strict', not '%s'",
			        value);
		break;
	case SEC_MAILBOX:
		mailbox_key(ps, name, value);
		break;
	case SEC_DNS:
		/* (the analyzer cannot see that cfg is set for the whole parse) */
		if (ps->cfg)
			dns_key(ps, &ps->cfg->dns, name, value);
		break;
	case SEC_SOURCES:
		sources_key(ps, name, value);
		break;
	case SEC_SMTP:
		smtp_key(ps, name, value);
		break;
	case SEC_NOTIFY:
		notify_key(ps, name, value);
		break;
	case SEC_RUF: {
		/* Failure reports carry other people's mail: what to keep of it. */
		bool *slot = strcmp(name, "keep_body") == 0 ? &ps->cfg->ruf.keep_body
		             : strcmp(name, "redact") == 0  ? &ps->cfg->ruf.redact
		                                            : NULL;
		if (!slot)
			problem(ps, ps->line,
			        "unknown key '%s' in [ruf] (known: keep_body, redact)", name);
		else if (parse_bool(value, slot) != 0)
			problem(ps, ps->line, "'%s' must be true or false, not '%s'", name, value);
		break;
	}
	case SEC_CORRELATE:
		correlate_key(ps, name, value);
		break;
	case SEC_BLOCKLISTS:
		blocklists_key(ps, name, value);
		break;
	case SEC_MTA_HOSTS:
		mta_host_key(ps, name, value);
		break;
	case SEC_RETENTION:
		retention_key(ps, name, value);
		break;
	}
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

void config_secret_free(char *secret)
{
	if (!secret)
		return;
	/* volatile, so the wipe is not optimised away */
	for (volatile char *p = secret; *p; p++)
		*p = '\0';
	free(secret);
}

/* The first line of what `f` yields, without its line end. */
static int first_line(FILE *f, char **out, const char *what, const char *name, struct err *e)
{
	struct buf b;
	buf_init(&b, SECRET_MAX);
	int c;
	while ((c = fgetc(f)) != EOF && c != '\n') {
		if (buf_putc(&b, (char)c) != 0) {
			config_secret_free(buf_steal(&b));
			return err_set(e, ERR_CONFIG, "%s of [mailbox %s] is longer than %d bytes",
			               what, name, SECRET_MAX);
		}
	}
	if (b.len && b.data[b.len - 1] == '\r')
		b.data[--b.len] = '\0';
	if (b.len == 0) {
		buf_free(&b);
		return err_set(e, ERR_CONFIG, "%s of [mailbox %s] is empty", what, name);
	}
	*out = buf_steal(&b);
	return 0;
}

int config_mailbox_secret(const struct config_mailbox *mb, char **password, char **bearer,
                          struct err *e)
{
	*password = *bearer = NULL;
	if (mb->password_env) {
		const char *v = getenv(mb->password_env);
		if (!v || !*v)
			return err_set(e, ERR_CONFIG,
			               "[mailbox %s]: environment variable %s (password_env) is "
			               "not set",
			               mb->name, mb->password_env);
		*password = xstrdup(v);
		return 0;
	}
	const char *file = mb->password_file ? mb->password_file : mb->oauth2_token_file;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return err_set(e, ERR_CONFIG, "[mailbox %s]: cannot read %s: %s", mb->name,
			               file, strerror(errno));
		int rc = first_line(f, mb->password_file ? password : bearer,
		                    mb->password_file ? "password_file" : "oauth2_token_file",
		                    mb->name, e);
		fclose(f);
		return rc;
	}
	if (mb->oauth2_token_command) {
		fflush(stdout);
		FILE *p = popen(mb->oauth2_token_command, "r");
		if (!p)
			return err_set(e, ERR_CONFIG,
			               "[mailbox %s]: cannot run oauth2_token_command: %s",
			               mb->name, strerror(errno));
		int rc = first_line(p, bearer, "the output of oauth2_token_command", mb->name, e);
		/* Drain, so the command does not die of SIGPIPE and report failure. */
		while (fgetc(p) != EOF)
			;
		int st = pclose(p);
		if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			config_secret_free(*bearer);
			*bearer = NULL;
			return err_set(e, ERR_CONFIG,
			               "[mailbox %s]: oauth2_token_command failed (exit status %d)",
			               mb->name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		}
		return rc;
	}
	return err_set(e, ERR_CONFIG, "[mailbox %s] has no password or token configured", mb->name);
}
