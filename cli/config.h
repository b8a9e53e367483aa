/*
 * config: the INI configuration file (parsed by inih): [database],
 * [tenants], any number of [mailbox NAME] sections, [dns], [sources],
 * [smtp], [notify], [blocklists], [correlate] (the correlator's
 * thresholds: fail_below, pass_at as percentages, min_messages,
 * resolve_days), [mta-hosts] (our MTA host names and the addresses they
 * send from: "mail1.example.net = 198.51.100.7, 2001:db8::7") and
 * [retention] (older_than: the window `prune` keeps).
 *
 * config_find picks the file: the --config PATH, else
 * $XDG_CONFIG_HOME/dmarcsift/dmarcsift.conf (fallback ~/.config/...), else
 * /etc/dmarcsift/dmarcsift.conf, else none (*path_out NULL, returns 0).
 * config_load parses and validates a file. It returns -1 with `e` set only
 * when the file cannot be read at all; problems inside the file are collected
 * in cfg->errors as "FILE:LINE: problem" lines (every one, not only the
 * first) and the caller decides (config_ok). Secrets are never stored in the
 * struct: only where to get them (password_file, password_env,
 * oauth2_token_file, oauth2_token_command); config_mailbox_secret reads them
 * at the moment they are needed, and no message ever contains one.
 * The caller owns the struct and frees it with config_free (NULL is fine).
 */
#ifndef DS_CLI_CONFIG_H
#define DS_CLI_CONFIG_H

#include "app/correlate.h"
#include "core/err.h"
#include "ingest/ruf.h"

#include <stdbool.h>
#include <stddef.h>

enum config_mailbox_kind {
	CONFIG_MAILBOX_IMAP,
	CONFIG_MAILBOX_MAILDIR,
	CONFIG_MAILBOX_MBOX,
};

#define CONFIG_DEFAULT_PROCESSED "dmarcsift/processed"
#define CONFIG_DEFAULT_FAILED    "dmarcsift/failed"

struct config_mailbox {
	char *name;
	int line; /* line of the [mailbox NAME] header */
	enum config_mailbox_kind kind;
	char *url;    /* as written; NULL when missing or invalid */
	int url_line; /* 0 when no url key was given */
	char *path;   /* maildir: / mbox: the file system path */
	char *user;
	char *password_file;
	char *password_env;
	char *oauth2_token_file;
	char *oauth2_token_command;
	char *tenant;
	char *processed_folder;  /* never NULL after load: default applied */
	char *failed_folder;     /* never NULL after load: default applied */
	bool folders_configured; /* processed_folder or failed_folder given */
	char *tls_ca_file;
	bool insecure_skip_verify;
	unsigned backoff_ms; /* retry_backoff: first delay before an IMAP retry; 0: 1 s */
};

/* [dns]: the resolver used to name sending sources (0 / NULL: defaults). */
struct config_dns {
	char *servers;  /* "IP[:PORT],..."; NULL: /etc/resolv.conf */
	int timeout_ms; /* per try */
	int tries;
	unsigned budget_s; /* time allowed after ingest/poll/bounces ingest */
	char *origin_zone; /* IPv4 origin TXT zone; "" turns ASN lookups off */
	char *origin6_zone;
	char *asname_zone;
};

/* [smtp]: where `report --mail-to` sends (secrets: where to read them). */
struct config_smtp {
	char *url; /* smtps://HOST[:PORT] or smtp://HOST[:PORT] */
	char *from;
	char *user;
	char *password_file;
	char *password_env;
	char *tls_ca_file;
};

/* [notify]: the webhook new or reopened flags and escalations are posted to. */
struct config_notify {
	char *webhook; /* https://... */
	char *secret_file;
	char *secret_env;
	int retries; /* -1: the default */
};

/* [blocklists]: what `blocklists check` asks, and how often `poll` runs it. */
struct config_blocklists {
	char *ip;          /* IP list zones, comma-separated; NULL: the default */
	char *domain;      /* domain list zones; NULL: the default */
	long every_s;      /* poll runs the check when the last is older; default 6 h */
	int days;          /* window of sending data; 0: 30 */
	long long floor;   /* messages a non-own source needs; -1: 10 */
	unsigned budget_s; /* time allowed at the end of poll; 0: the default */
};

/* [retention]: the window `dmarcsift prune` keeps when not given one. */
struct config_retention {
	long long older_s; /* older_than, seconds; 0: not configured */
	int line;          /* where older_than was given (0: not given) */
};

struct config {
	char *path;   /* the file read, NULL when there was none */
	char *db_url; /* [database] url, NULL when not given */
	struct config_dns dns;
	char *sources_mmdb;     /* [sources] mmdb: a MaxMind-format database */
	char *sources_services; /* [sources] services: a services table file */
	struct config_smtp smtp;
	struct config_notify notify;
	/* [tenants] pinned = strict: quarantine a report a pinned mailbox or
	 * --tenant delivers for a domain another tenant owns (default: store it
	 * under that owner and warn). */
	bool pinned_strict;
	struct ruf_options ruf; /* [ruf] keep_body, redact (both false by default) */
	struct config_mailbox *mailboxes;
	size_t n_mailboxes;
	struct correlate_settings correlate; /* defaults unless [correlate] says */
	struct config_blocklists blocklists;
	struct config_retention retention;
	struct hostmap *mta_hosts; /* [mta-hosts]; NULL when none */
	char **errors;             /* "FILE:LINE: problem" */
	size_t n_errors;
	char **warnings;
	size_t n_warnings;
};

/* Which file to read; *path_out is the caller's (NULL: no file found). */
int config_find(const char *cli_path, char **path_out, struct err *e);
/* The user's file config_find looks at first ($XDG_CONFIG_HOME/dmarcsift/
 * dmarcsift.conf, else ~/.config/...), expanded; NULL without either
 * variable. The caller frees it. */
char *config_user_path(void);
/* Loads `path` (NULL: an empty configuration). */
int config_load(struct config **out, const char *path, struct err *e);
/* Loads from a string (tests); `name` is used in messages. */
int config_load_string(struct config **out, const char *name, const char *text, struct err *e);
bool config_ok(const struct config *cfg);
void config_free(struct config *cfg);
/* What a mailbox section reads, resolved: "maildir:/real/path",
 * "mbox:/real/path" or "imap:USER@host:PORT/FOLDER" (never the password);
 * NULL when its url is missing or invalid. The caller frees it. Two sections
 * with one source are refused by the loader, and pollers lock by it. */
char *config_mailbox_source(const struct config_mailbox *mb);
const struct config_mailbox *config_mailbox_find(const struct config *cfg, const char *name);

/*
 * The secret of an IMAP mailbox: the password (password_file, first line; or
 * password_env) or an XOAUTH2 bearer token (oauth2_token_file, first line; or
 * the first line printed by oauth2_token_command run with /bin/sh -c).
 * Exactly one of *password / *bearer is set; the caller frees it with
 * config_secret_free, which wipes it. ERR_CONFIG when it cannot be had.
 */
int config_mailbox_secret(const struct config_mailbox *mb, char **password, char **bearer,
                          struct err *e);
void config_secret_free(char *secret);
const char *config_mailbox_kind_name(enum config_mailbox_kind kind);
/* The secret of [smtp] (password) or [notify] (HMAC key): the first line of
 * `file`, else the value of environment variable `env`; *out is NULL when
 * neither is configured. Free with config_secret_free. */
int config_read_secret(const char *section, const char *file, const char *env, char **out,
                       struct err *e);

#endif
