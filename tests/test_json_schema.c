/*
 * test_json_schema: every command's --format json against docs/json.md,
 * read at test time. The real binary runs against a test database filled
 * with the fixtures (reports, bounces with a spike that escalates, the
 * correlator's scenario, a quarantined input, a Maildir for poll); each line
 * (or the one object, or the report's document) is parsed with json-c and
 * checked: every key is documented for that command, every documented key
 * not marked `?` is there, every value has the documented type, times are
 * RFC 3339 UTC, and no output has a "\/" escape. A command of
 * `dmarcsift --help` without a section in docs/json.md fails, and so does a
 * section this test does not run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "support/mailtest.h"
#include "support/run.h"
#include "support/testdb.h"

#include <json-c/json.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BDIR FIXTURES_DIR "/bounces/"
#define CDIR FIXTURES_DIR "/correlate/"

/* One documented field: "a", "a.b" (member of object a) or "a[].b"
 * (member of the objects of array a). */
struct field {
	char *name;
	char *base; /* string integer number boolean time date object json */
	bool array, nullable, optional;
};

struct section {
	char *command; /* "tenant list" */
	char *shape;   /* lines, object, document */
	struct field *f;
	size_t n;
	bool run;
};

static struct section *sections;
static size_t nsections;
static char *db, *dir, *conf;

static char *dup_range(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* "string[]\|null?" into the field's type. */
static void parse_type(struct field *f, const char *cell, size_t n)
{
	char *t = xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!(cell[i] == '\\' && i + 1 < n && cell[i + 1] == '|') && cell[i] != '`' &&
		    cell[i] != ' ')
			t[k++] = cell[i];
	t[k] = '\0';
	if (k > 0 && t[k - 1] == '?') {
		f->optional = true;
		t[--k] = '\0';
	}
	char *bar = strstr(t, "|null");
	if (bar) {
		f->nullable = true;
		*bar = '\0';
	}
	k = strlen(t);
	if (k > 2 && strcmp(t + k - 2, "[]") == 0) {
		f->array = true;
		t[k - 2] = '\0';
	}
	static const char *const known[] = {"string", "integer", "number", "boolean", "time",
	                                    "date",   "object",  "json",   NULL};
	bool ok = false;
	for (int i = 0; known[i]; i++)
		ok = ok || strcmp(known[i], t) == 0;
	if (!ok)
		fail_msg("docs/json.md: field %s has an unknown type '%.*s'", f->name, (int)n,
		         cell);
	f->base = t;
}

static void load_docs(void)
{
	char *text = slurp(SOURCE_DIR "/docs/json.md", NULL);
	struct section *cur = NULL;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "### dmarcsift ", 14) == 0) {
			sections = xrealloc(sections, (nsections + 1) * sizeof *sections);
			cur = &sections[nsections++];
			memset(cur, 0, sizeof *cur);
			cur->command = xstrdup(line + 14);
		} else if (strncmp(line, "## ", 3) == 0) {
			cur = NULL;
		} else if (cur && strncmp(line, "Shape: `", 8) == 0) {
			const char *end = strchr(line + 8, '`');
			assert_non_null(end);
			cur->shape = dup_range(line + 8, (size_t)(end - line - 8));
		} else if (cur && strncmp(line, "| `", 3) == 0) {
			const char *name = line + 3, *end = strchr(name, '`');
			assert_non_null(end);
			const char *cell = strstr(end, "| ");
			assert_non_null(cell);
			cell += 2;
			const char *stop = cell;
			while (*stop && !(*stop == '|' && stop[-1] != '\\'))
				stop++;
			cur->f = xrealloc(cur->f, (cur->n + 1) * sizeof *cur->f);
			struct field *f = &cur->f[cur->n++];
			memset(f, 0, sizeof *f);
			f->name = dup_range(name, (size_t)(end - name));
			parse_type(f, cell, (size_t)(stop - cell));
		}
	}
	free(text);
	if (nsections == 0)
		fail_msg("docs/json.md has no '### dmarcsift COMMAND' section");
	for (size_t i = 0; i < nsections; i++)
		if (!sections[i].shape || sections[i].n == 0)
			fail_msg("docs/json.md: section '%s' lacks its Shape line or its fields",
			         sections[i].command);
}

static struct section *section_of(const char *command)
{
	for (size_t i = 0; i < nsections; i++)
		if (strcmp(sections[i].command, command) == 0)
			return &sections[i];
	fail_msg("docs/json.md has no section '### dmarcsift %s'", command);
	return NULL;
}

static bool matches(const char *re, const char *s)
{
	regex_t r;
	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

/* One value (not an array's) against the field's base type. */
static bool type_ok(const struct field *f, json_object *v, const char **why)
{
	const char *b = f->base;
	*why = "";
	switch (json_object_get_type(v)) {
	case json_type_string:
		if (strcmp(b, "time") == 0) {
			*why = " (not RFC 3339 UTC)";
			return matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
			               json_object_get_string(v));
		}
		if (strcmp(b, "date") == 0) {
			*why = " (not YYYY-MM-DD)";
			return matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", json_object_get_string(v));
		}
		return strcmp(b, "string") == 0 || strcmp(b, "json") == 0;
	case json_type_int:
		return strcmp(b, "integer") == 0 || strcmp(b, "number") == 0 ||
		       strcmp(b, "json") == 0;
	case json_type_double: {
		/* rounded to 4 places, written without an exponent */
		*why = " (more than 4 decimals)";
		const char *txt = json_object_to_json_string(v);
		return (strcmp(b, "number") == 0 || strcmp(b, "json") == 0) &&
		       matches("^-?[0-9]+(\\.[0-9]{1,4})?$", txt);
	}
	case json_type_boolean:
		return strcmp(b, "boolean") == 0 || strcmp(b, "json") == 0;
	case json_type_object:
		return strcmp(b, "object") == 0 || strcmp(b, "json") == 0;
	case json_type_array:
		return strcmp(b, "json") == 0;
	case json_type_null:
		return false;
	}
	return false;
}

static bool has_members(const struct section *s, const char *prefix)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->f[i].name, prefix, n) == 0)
			return true;
	return false;
}

static void check_object(const struct section *s, json_object *o, const char *prefix,
                         const char *line);

static void check_value(const struct section *s, const struct field *f, json_object *v,
                        const char *line)
{
	const char *why = "";
	if (!v) {
		if (!f->nullable)
			fail_msg("dmarcsift %s: %s is null, documented as never null:\n%s",
			         s->command, f->name, line);
		return;
	}
	if (f->array) {
		if (!json_object_is_type(v, json_type_array))
			fail_msg("dmarcsift %s: %s is not an array:\n%s", s->command, f->name,
			         line);
		char *sub = xasprintf("%s[].", f->name);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *el = json_object_array_get_idx(v, i);
			if (!el || !type_ok(f, el, &why))
				fail_msg("dmarcsift %s: an element of %s is not %s%s:\n%s",
				         s->command, f->name, f->base, why, line);
			if (strcmp(f->base, "object") == 0 && has_members(s, sub))
				check_object(s, el, sub, line);
		}
		free(sub);
		return;
	}
	if (!type_ok(f, v, &why))
		fail_msg("dmarcsift %s: %s is not %s%s:\n%s", s->command, f->name, f->base, why,
		         line);
	char *sub = xasprintf("%s.", f->name);
	if (strcmp(f->base, "object") == 0 && has_members(s, sub))
		check_object(s, v, sub, line);
	free(sub);
}

/* The members of `o` are exactly the fields named prefix + NAME (no
 * further '.'), those not marked optional all there. */
static void check_object(const struct section *s, json_object *o, const char *prefix,
                         const char *line)
{
	size_t plen = strlen(prefix);
	json_object_object_foreach(o, key, val)
	{
		const struct field *f = NULL;
		for (size_t i = 0; i < s->n && !f; i++)
			if (strncmp(s->f[i].name, prefix, plen) == 0 &&
			    strcmp(s->f[i].name + plen, key) == 0)
				f = &s->f[i];
		if (!f)
			fail_msg("dmarcsift %s: key '%s%s' is not in docs/json.md:\n%s", s->command,
			         prefix, key, line);
		check_value(s, f, val, line);
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct field *f = &s->f[i];
		const char *rest = f->name + plen;
		if (strncmp(f->name, prefix, plen) != 0 || strchr(rest, '.') || f->optional)
			continue;
		if (!json_object_object_get_ex(o, rest, NULL))
			fail_msg("dmarcsift %s: documented key '%s' is missing:\n%s", s->command,
			         f->name, line);
	}
}

/* Runs the command (argv without the program) and checks its output
 * against its section; returns how many objects it printed. */
static size_t check_command(const char *command, const char *const *args, int want_rc)
{
	struct section *s = section_of(command);
	s->run = true;
	char *out = NULL;
	int rc = run_bin(args, NULL, &out);
	if (rc != want_rc)
		fail_msg("dmarcsift %s: exit %d, wanted %d:\n%s", command, rc, want_rc, out);
	if (strstr(out, "\\/"))
		fail_msg("dmarcsift %s: a \\/ escape in:\n%s", command, out);
	size_t objects = 0;
	if (strcmp(s->shape, "lines") == 0 || strcmp(s->shape, "object") == 0) {
		for (char *line = out, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (!next)
				fail_msg("dmarcsift %s: output does not end in a newline:\n%s",
				         command, line);
			*next++ = '\0';
			enum json_tokener_error err;
			json_object *o = json_tokener_parse_verbose(line, &err);
			if (!o || !json_object_is_type(o, json_type_object))
				fail_msg("dmarcsift %s: not one JSON object on a line: %s", command,
				         line);
			check_object(s, o, "", line);
			json_object_put(o);
			objects++;
		}
		if (strcmp(s->shape, "object") == 0 && objects != 1)
			fail_msg("dmarcsift %s: %zu objects, documented as one", command, objects);
	} else {
		json_object *o = json_tokener_parse(out);
		if (!o || !json_object_is_type(o, json_type_object))
			fail_msg("dmarcsift %s: not one JSON document:\n%s", command, out);
		check_object(s, o, "", out);
		json_object_put(o);
		objects = 1;
	}
	free(out);
	return objects;
}

static void run_quiet(const char *const *args)
{
	char *out = NULL;
	int rc = run_bin(args, NULL, &out);
	if (rc != 0 && rc != 1)
		fail_msg("%s %s: exit %d:\n%s", args[0], args[1] ? args[1] : "", rc, out);
	free(out);
}

static int setup(void **state)
{
	(void)state;
	if (testdb_create(&db) != 0)
		return -1;
	dir = mt_tmpdir("ds-json-schema");
	/* A Maildir with one report for poll, and a file that never parses. */
	char *md = xasprintf("%s/Maildir", dir);
	for (const char *sub = "cur\0new\0tmp\0"; *sub; sub += strlen(sub) + 1) {
		char *p = xasprintf("%s/%s", md, sub);
		char *cmd = xasprintf("mkdir -p '%s'", p);
		if (system(cmd) != 0)
			return -1;
		free(cmd);
		free(p);
	}
	char *msg = slurp(FIXTURES_DIR "/mail/classify/dsn.eml", NULL);
	char *newdir = xasprintf("%s/new", md);
	free(mt_write_file(newdir, "1.host", msg));
	free(newdir);
	free(msg);
	char *text = xasprintf("[mailbox rua]\nurl = maildir:%s\n", md);
	conf = mt_write_file(dir, "dmarcsift.conf", text);
	free(text);
	free(md);
	free(mt_write_file(dir, "bad.xml", "<?xml version=\"1.0\"?>\n<feedback><report_"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(cmd);
	testdb_drop(db);
	free(db);
	free(dir);
	free(conf);
	return 0;
}

static void test_every_command(void **state)
{
	(void)state;
	load_docs();
	char *bad = xasprintf("%s/bad.xml", dir);

	/* The data: a tenant, the report fixtures and a broken input. */
	run_quiet((const char *[]){"tenant", "add", "--db", db, "acme", "example.com", NULL});
	assert_true(
	    check_command("ingest",
	                  (const char *[]){"ingest", "--db", db, "--format", "json", "--no-resolve",
	                                   "--no-correlate", FIXTURES_DIR "/reports", bad, NULL},
	                  1) == 1);
	/* Bounces that suppress and a spike that escalates. */
	assert_true(
	    check_command("bounces ingest",
	                  (const char *[]){"bounces", "ingest", "--db", db, "--format", "json",
	                                   "--no-resolve", "--no-correlate", BDIR "postfix.log",
	                                   BDIR "exim_main.log", BDIR "dsn_multi.eml",
	                                   BDIR "esp_export.csv", BDIR "postfix_spike.log", NULL},
	                  0) == 1);
	/* The correlator's first scenario: an auth-driven flag. */
	run_quiet((const char *[]){"ingest", "--db", db, "--quiet", "--no-resolve",
	                           "--no-correlate", CDIR "s1-esp-dkim/google-2026-11-10.xml",
	                           NULL});
	run_quiet((const char *[]){"bounces", "ingest", "--db", db, "--no-resolve",
	                           "--no-correlate", CDIR "s1-esp-dkim/esp-2026-11-10.csv", NULL});
	assert_true(check_command("correlate",
	                          (const char *[]){"correlate", "--db", db, "--config", conf,
	                                           "--full", "--json", NULL},
	                          0) == 1);

	const char *where[] = {bad};
	char *bad_sha =
	    q_str(db, "SELECT sha256 FROM dmarcsift.v_failures WHERE source = $1", 1, where);
	assert_int_equal(strlen(bad_sha), 64);
	struct {
		const char *command;
		const char *const *args;
		int rc;
		size_t min; /* objects at least: the fixtures give these rows */
	} cases[] = {
	    {"failures", (const char *[]){"failures", "--db", db, "--format", "json", NULL}, 0, 1},
	    {"tenant list", (const char *[]){"tenant", "list", "--db", db, "--json", NULL}, 0, 2},
	    {"tenant show",
	     (const char *[]){"tenant", "show", "acme", "--db", db, "--format", "json", NULL}, 0,
	     1},
	    {"suppressions", (const char *[]){"suppressions", "--db", db, "--format", "json", NULL},
	     0, 1},
	    {"escalations",
	     (const char *[]){"escalations", "--db", db, "--all", "--format", "json", NULL}, 0, 1},
	    {"flags", (const char *[]){"flags", "--db", db, "--format", "json", NULL}, 0, 1},
	    {"bounces classify",
	     (const char *[]){"bounces", "classify", "--format", "json", BDIR "postfix.log",
	                      BDIR "dsn_multi.eml", NULL},
	     0, 1},
	    {"config check",
	     (const char *[]){"config", "check", "--config", conf, "--db", db, "--format", "json",
	                      NULL},
	     0, 1},
	    {"db status", (const char *[]){"db", "status", "--db", db, "--format", "json", NULL}, 0,
	     1},
	    {"sources resolve",
	     (const char *[]){"sources", "resolve", "--db", db, "--config", conf, "--no-lookup",
	                      "--format", "json", NULL},
	     0, 1},
	    {"blocklists list",
	     (const char *[]){"blocklists", "list", "--db", db, "--config", conf, "--format",
	                      "json", NULL},
	     0, 0},
	    {"blocklists check",
	     (const char *[]){"blocklists", "check", "--db", db, "--config", conf, "--tenant",
	                      "acme", "--dns-servers", "127.0.0.1:1", "--no-correlate", "--format",
	                      "json", NULL},
	     0, 0},
	    {"dns check",
	     (const char *[]){"dns", "check", "--db", db, "--config", conf, "--tenant", "acme",
	                      "--dns-servers", "127.0.0.1:1", "--no-fetch", "--format", "json",
	                      NULL},
	     0, 1},
	    {"dns changes",
	     (const char *[]){"dns", "changes", "--db", db, "--config", conf, "--format", "json",
	                      NULL},
	     0, 0},
	    {"version", (const char *[]){"version", "--db", db, "--format", "json", NULL}, 0, 1},
	    {"report",
	     (const char *[]){"report", "--db", db, "--tenant", "acme", "--since", "all",
	                      "--format", "json", NULL},
	     0, 1},
	    {"poll",
	     (const char *[]){"poll", "--db", db, "--config", conf, "--no-resolve",
	                      "--no-correlate", "--format", "json", NULL},
	     0, 1},
	    {"prune",
	     (const char *[]){"prune", "--db", db, "--older-than", "36500d", "--dry-run",
	                      "--format", "json", NULL},
	     0, 1},
	    {"prune",
	     (const char *[]){"prune", "--db", db, "--older-than", "36500d", "--json", NULL}, 0, 1},
	    {"sources load",
	     (const char *[]){"sources", "load", SOURCE_DIR "/data/services.tsv", "--db", db,
	                      "--config", conf, "--format", "json", NULL},
	     0, 1},
	    {"sources label",
	     (const char *[]){"sources", "label", "--tenant", "acme", "198.51.100.0/24", "our MTAs",
	                      "--db", db, "--config", conf, "--json", NULL},
	     0, 1},
	    {"sources unlabel",
	     (const char *[]){"sources", "unlabel", "--tenant", "acme", "198.51.100.0/24", "--db",
	                      db, "--config", conf, "--json", NULL},
	     0, 1},
	    {"failures dismiss",
	     (const char *[]){"failures", "dismiss", "--dry-run", bad_sha, "--db", db, "--format",
	                      "json", NULL},
	     0, 1},
	    /* Last: it retries the broken input (still quarantined: exit 1). */
	    {"reprocess", (const char *[]){"reprocess", "--db", db, "--all", "--json", NULL}, 1, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = check_command(cases[i].command, cases[i].args, cases[i].rc);
		if (n < cases[i].min)
			fail_msg("dmarcsift %s: %zu objects, the fixtures give at least %zu",
			         cases[i].command, n, cases[i].min);
	}
	free(bad);
	free(bad_sha);

	/* Every section is exercised above: none documents a command that
	 * does not exist or is never checked. */
	for (size_t i = 0; i < nsections; i++)
		if (!sections[i].run)
			fail_msg(
			    "docs/json.md documents 'dmarcsift %s', which this test does not run",
			    sections[i].command);
}

/* Every command of `dmarcsift --help` has its section: a new command
 * cannot land without its JSON documented. */
static void test_every_command_documented(void **state)
{
	(void)state;
	if (nsections == 0)
		load_docs();
	char *out = NULL;
	assert_int_equal(run_bin((const char *[]){"--help", NULL}, NULL, &out), 0);
	char *p = strstr(out, "commands:\n");
	assert_non_null(p);
	size_t commands = 0;
	for (p += 10; strncmp(p, "  ", 2) == 0;) {
		p += 2;
		size_t n = strcspn(p, " \n");
		bool found = false;
		for (size_t i = 0; i < nsections && !found; i++)
			found = strncmp(sections[i].command, p, n) == 0 &&
			        (sections[i].command[n] == '\0' || sections[i].command[n] == ' ');
		if (!found)
			fail_msg("dmarcsift %.*s has no section in docs/json.md", (int)n, p);
		commands++;
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	assert_true(commands >= 17);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_command),
	    cmocka_unit_test(test_every_command_documented),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
