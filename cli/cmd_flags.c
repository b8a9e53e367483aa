/*
 * dmarcsift flags: the correlator's flags from dmarcsift.v_flags, most
 * severe first. Text: each flag with its numbers, one sentence of what to
 * do (reports/flag_text.h) and the evidence that matters; CSV and JSON:
 * exactly the v_flags columns (JSON: one object per line, evidence nested).
 */
#include "app/correlate.h"
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "core/buf.h"
#include "db/db.h"
#include "db/flags.h"
#include "reports/flag_text.h"
#include "reports/rows.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_TENANT = OPT_KEY, O_KIND, O_SINCE, O_OPEN };

static const struct opt options[] = {
    {"tenant", O_TENANT, "T", "only this tenant"},
    {"kind", O_KIND, "K", "auth_driven, not_auth_driven, mixed or no_evidence"},
    {"since", O_SINCE, "DATE", "flags with rejects on or after DATE (YYYY-MM-DD or Nd)"},
    {"open", O_OPEN, NULL, "leave out resolved flags"},
    {NULL, 0, NULL, NULL},
};

struct args {
	struct flags_filter flt;
	char since[16];
};

static int on_opt(void *ctx, int key, const char *arg)
{
	static const char *const kinds[] = {"auth_driven", "not_auth_driven", "mixed",
	                                    "no_evidence", NULL};
	struct args *a = ctx;
	struct err e = {0};
	bool ok = false;
	switch (key) {
	case O_TENANT:
		a->flt.tenant = arg;
		break;
	case O_KIND:
		for (int i = 0; kinds[i]; i++)
			ok = ok || strcmp(kinds[i], arg) == 0;
		if (!ok) {
			fprintf(stderr,
			        "dmarcsift flags: unknown --kind '%s' (auth_driven, "
			        "not_auth_driven, mixed, no_evidence)\n",
			        arg);
			return EXIT_USAGE;
		}
		a->flt.kind = arg;
		break;
	case O_SINCE:
		if (correlate_day(arg, a->since, sizeof a->since, &e) < 0)
			return cli_fail(&e);
		a->flt.since = a->since;
		break;
	default:
		a->flt.all = false;
		break;
	}
	return 0;
}

static const struct opt_cmd cmd = {
    .name = "flags",
    .synopsis = "usage: dmarcsift flags [--tenant T] [--kind K] [--since DATE] [--open]\n"
                "                       [--format text|csv|json]\n",
    .about = "Lists the correlator's flags, most severe first: auth_driven (the provider's\n"
             "own DMARC reports show that source failing DKIM/SPF alignment for that domain),\n"
             "not_auth_driven (authentication passes: reputation, content, a blocklist or\n"
             "policy is the cause), mixed (between the thresholds) and no_evidence (no\n"
             "aggregate data from that provider), each with one sentence of what to do.\n"
             "CSV and JSON have exactly the columns of dmarcsift.v_flags.\n",
    .opts = options,
    .formats = OPT_TEXT | OPT_CSV | OPT_JSON,
    .on_opt = on_opt,
};

static const char *val(const PGresult *res, int r, const char *name)
{
	int c = PQfnumber(res, name);
	return c < 0 || PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

static double num(const PGresult *res, int r, const char *name)
{
	const char *v = val(res, r, name);
	return v ? strtod(v, NULL) : 0;
}

static void print_pct(const char *label, const PGresult *res, int r, const char *name)
{
	const char *v = val(res, r, name);
	if (v)
		printf(" · %s %.1f %%", label, strtod(v, NULL) * 100);
}

static void print_text(const PGresult *res)
{
	struct buf b;
	buf_init(&b, 0);
	for (int r = 0; r < PQntuples(res); r++) {
		struct flag_view f = {
		    .tenant = val(res, r, "tenant"),
		    .kind = val(res, r, "kind"),
		    .confidence = val(res, r, "confidence"),
		    .cause = val(res, r, "cause"),
		    .provider = val(res, r, "provider"),
		    .domain = val(res, r, "domain"),
		    .source_ip = val(res, r, "source_ip"),
		    .status = val(res, r, "status"),
		    .rejects = (long long)num(res, r, "rejects"),
		    .dmarc_messages = (long long)num(res, r, "dmarc_messages"),
		    .has_rates = val(res, r, "dmarc_pass_rate") != NULL,
		    .dkim_pass_rate = num(res, r, "dkim_pass_rate"),
		    .spf_pass_rate = num(res, r, "spf_pass_rate"),
		    .dmarc_pass_rate = num(res, r, "dmarc_pass_rate"),
		};
		const char *ev = val(res, r, "evidence");
		f.evidence = ev ? json_tokener_parse(ev) : NULL;
		printf("%s%s  %s/%s  %s  %s  %s  [%s]\n", r ? "\n" : "", f.kind, f.confidence,
		       f.cause ? f.cause : "-", f.tenant, f.provider, f.domain, f.status);
		printf("  source %s", f.source_ip ? f.source_ip : "unknown (domain-level)");
		json_object *o;
		if (f.evidence && json_object_object_get_ex(f.evidence, "ip_source", &o))
			printf(" (ip_source %s)", json_object_get_string(o));
		printf(" · %s .. %s · %lld rejects · %lld DMARC messages",
		       val(res, r, "first_seen"), val(res, r, "last_seen"), f.rejects,
		       f.dmarc_messages);
		print_pct("DMARC pass", res, r, "dmarc_pass_rate");
		print_pct("DKIM", res, r, "dkim_pass_rate");
		print_pct("SPF", res, r, "spf_pass_rate");
		printf("\n");
		buf_reset(&b);
		flag_text_advice(&f, &b);
		printf("  %s\n", b.data ? b.data : "");
		if (f.evidence && json_object_object_get_ex(f.evidence, "note", &o))
			printf("  note: %s\n", json_object_get_string(o));
		json_object *a;
		if (f.evidence && json_object_object_get_ex(f.evidence, "samples", &a) &&
		    json_object_array_length(a) > 0) {
			json_object *s = json_object_array_get_idx(a, 0), *t = NULL, *rule = NULL;
			json_object_object_get_ex(s, "text", &t);
			json_object_object_get_ex(s, "rule", &rule);
			const char *txt = t ? json_object_get_string(t) : "";
			printf("  sample (rule %s): %.160s%s\n",
			       rule ? json_object_get_string(rule) : "-", txt,
			       strlen(txt) > 160 ? "..." : "");
		}
		if (f.evidence && json_object_object_get_ex(f.evidence, "reports", &o)) {
			json_object *n = NULL, *items = NULL;
			json_object_object_get_ex(o, "count", &n);
			json_object_object_get_ex(o, "items", &items);
			if (n && json_object_get_int64(n) > 0 && items &&
			    json_object_array_length(items) > 0) {
				json_object *it = json_object_array_get_idx(items, 0), *on = NULL,
				            *rid = NULL;
				json_object_object_get_ex(it, "org_name", &on);
				json_object_object_get_ex(it, "report_id", &rid);
				printf("  reports: %lld (e.g. %s %s)\n",
				       (long long)json_object_get_int64(n),
				       on ? json_object_get_string(on) : "?",
				       rid ? json_object_get_string(rid) : "?");
			}
		}
		json_object_put(f.evidence);
	}
	buf_free(&b);
}

int cmd_flags(int argc, char **argv)
{
	struct args a = {.flt = {.all = true}};
	struct opt_common co;
	struct err e = {0};
	int rc;
	if (!opt_parse(&cmd, argc, argv, &a, &co, &rc))
		return rc;
	enum rows_format fmt = co.format;
	const struct flags_filter flt = a.flt;
	struct db *db = NULL;
	PGresult *res = NULL;
	rc = cli_connect(co.db, &db);
	if (rc != 0)
		return rc;
	if (flags_list(db, &flt, &res, &e) < 0) {
		rc = cli_fail(&e);
		goto out;
	}
	if (fmt == ROWS_TEXT && PQntuples(res) == 0)
		printf("no flags\n");
	else if (fmt == ROWS_TEXT)
		print_text(res);
	else
		cli_rows_print(stdout, res, fmt, 0);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_SOME_FAILED;
out:
	PQclear(res);
	db_close(db);
	return rc;
}
