#include "cli/config_int.h"

#include "core/buf.h"
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
#include <sys/stat.h>
#include <unistd.h>

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

void config_problem(struct parse *ps, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(ps, true, line, fmt, ap);
	va_end(ap);
}

void config_warning(struct parse *ps, int line, const char *fmt, ...)
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
		config_problem(ps, ps->line, "line too long (at most %d characters)", num - 3);
		snprintf(str, (size_t)num, ";\n");
	} else {
		memcpy(str, line, len);
		str[len] = '\0';
	}
	free(line);
	return str;
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

/* "[database], [tenants], [mailbox NAME], ... or [ruf]" */
static void section_list(struct buf *b)
{
	for (size_t i = 0; i < config_n_sections; i++)
		buf_printf(b, "%s[%s%s]",
		           i == 0                       ? ""
		           : i + 1 == config_n_sections ? " or "
		                                        : ", ",
		           config_sections[i].name, config_sections[i].named ? " NAME" : "");
}

static void unknown_section(struct parse *ps, int line, const char *name)
{
	struct buf b;
	buf_init(&b, 0);
	section_list(&b);
	config_problem(ps, line, "unknown section [%s] (expected %s)", name, b.data);
	buf_free(&b);
}

/* The section a header names ("mailbox x" names mailbox), or NULL. */
static const struct section *section_of(const char *header, const char **arg)
{
	for (size_t i = 0; i < config_n_sections; i++) {
		const struct section *s = &config_sections[i];
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
		config_problem(ps, ps->pending_line, "section [%s] has no keys", ps->pending_raw);
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
	size_t i = (size_t)(s - config_sections);
	if (s->once && ps->sections_seen & (1u << i))
		config_problem(ps, line, "[%s] given twice", s->name);
	ps->sections_seen |= 1u << i;
	if (!s->named)
		return;
	if (!*name) {
		config_problem(ps, line, "[mailbox] needs a name: [mailbox NAME]");
	} else if (!name_ok(name)) {
		config_problem(ps, line,
		               "mailbox name '%s' may only contain letters, digits and - _ . @",
		               name);
	} else if (config_mailbox_find(ps->cfg, name)) {
		config_problem(ps, line, "mailbox '%s' defined twice", name);
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
		config_problem(ps, ps->line, "unknown key '%s' in %s (known: %s)", name, label,
		               known.data);
		buf_free(&known);
		return;
	}
	if (ps->seen & (1u << k)) {
		config_problem(ps, ps->line, "'%s' given twice in %s", name, label);
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
			config_problem(ps, line, "[mailbox %s] has no url", n);
		return;
	}
	int pw = (mb->password_file != NULL) + (mb->password_env != NULL);
	int tok = (mb->oauth2_token_file != NULL) + (mb->oauth2_token_command != NULL);
	if (mb->kind == CONFIG_MAILBOX_IMAP) {
		if (!mb->user)
			config_problem(ps, line, "[mailbox %s] is IMAP and needs 'user'", n);
		if (pw + tok == 0)
			config_problem(ps, line,
			               "[mailbox %s] needs one of password_file, password_env, "
			               "oauth2_token_file, oauth2_token_command",
			               n);
		else if (pw + tok > 1)
			config_problem(ps, line,
			               "[mailbox %s] gives more than one of password_file, "
			               "password_env, "
			               "oauth2_token_file, oauth2_token_command; use exactly one",
			               n);
		if (mb->password_file && access(mb->password_file, R_OK) != 0)
			config_problem(ps, line,
			               "[mailbox %s]: password_file '%s' cannot be read: %s", n,
			               mb->password_file, strerror(errno));
		if (mb->oauth2_token_file && access(mb->oauth2_token_file, R_OK) != 0)
			config_problem(ps, line,
			               "[mailbox %s]: oauth2_token_file '%s' cannot be read: %s", n,
			               mb->oauth2_token_file, strerror(errno));
		if (mb->password_env && !getenv(mb->password_env))
			config_warning(ps, line,
			               "[mailbox %s]: environment variable %s (password_env) is "
			               "not set "
			               "now",
			               n, mb->password_env);
		if (mb->password_file) {
			struct stat st;
			if (stat(mb->password_file, &st) == 0 && (st.st_mode & 077))
				config_warning(ps, line,
				               "[mailbox %s]: password_file '%s' is readable by "
				               "group or "
				               "others (chmod 600 it)",
				               n, mb->password_file);
		}
	} else {
		const char *kind = config_mailbox_kind_name(mb->kind);
		if (mb->user || pw || tok)
			config_problem(ps, line,
			               "[mailbox %s] is a %s: user, password and oauth2 keys do "
			               "not apply",
			               n, kind);
		if (mb->tls_ca_file || mb->insecure_skip_verify)
			config_problem(ps, line, "[mailbox %s] is a %s: TLS keys do not apply", n,
			               kind);
		if (mb->kind == CONFIG_MAILBOX_MBOX && mb->folders_configured)
			config_problem(ps, line,
			               "[mailbox %s] is an mbox, which dmarcsift never rewrites: "
			               "processed_folder/failed_folder do not apply",
			               n);
	}
	if (!mb->processed_folder)
		mb->processed_folder = xstrdup(CONFIG_DEFAULT_PROCESSED);
	if (!mb->failed_folder)
		mb->failed_folder = xstrdup(CONFIG_DEFAULT_FAILED);
	if (strcmp(mb->processed_folder, mb->failed_folder) == 0)
		config_problem(ps, line,
		               "[mailbox %s]: processed_folder and failed_folder are the same", n);
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
				config_problem(
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
		config_problem(ps, rc,
		               "syntax error (expected [section], key = value, or a comment)");
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
