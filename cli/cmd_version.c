/*
 * dmarcsift version (also --version): the version CMake was given, the git
 * revision when built from a clone, the versions of the libraries in use (as
 * loaded, not as compiled against), and the PostgreSQL server's when the
 * database the other commands would use can be reached (never started for
 * this).
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "cli/opt.h"
#include "db/db.h"
#include "dmarcsift_version.h"
#include "reports/rows.h"

#include <archive.h>
#include <curl/curl.h>
#include <gmime/gmime.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <libxml/globals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's version numbers: 150005 is 15.5 (10 and later). */
static void pg_version(char *buf, size_t n, int v)
{
	if (v >= 100000)
		snprintf(buf, n, "%d.%d", v / 10000, v % 10000);
	else
		snprintf(buf, n, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}

static const struct opt_cmd cmd = {
    .name = "version",
    .synopsis = "usage: dmarcsift version [--format text|json]\n",
    .about = "Prints the version, the git revision it was built from, the libraries'\n"
             "versions and the PostgreSQL server's when the database can be reached.\n",
    .formats = OPT_TEXT | OPT_JSON,
};

/* One "name version" line, or one member of the JSON object. */
static void put(json_object *o, const char *name, const char *key, const char *v)
{
	if (o)
		json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
	else if (v)
		printf("%s %s\n", name, v);
}

int cmd_version(int argc, char **argv)
{
	struct opt_common co;
	int rc;
	if (!opt_parse(&cmd, argc, argv, NULL, &co, &rc))
		return rc;
	json_object *o = co.format == ROWS_JSON ? json_object_new_object() : NULL;
	if (o) {
		put(o, NULL, "version", DMARCSIFT_VERSION);
		put(o, NULL, "git", *DMARCSIFT_GIT_DESCRIBE ? DMARCSIFT_GIT_DESCRIBE : NULL);
	} else if (*DMARCSIFT_GIT_DESCRIBE) {
		printf("dmarcsift %s (git %s)\n", DMARCSIFT_VERSION, DMARCSIFT_GIT_DESCRIBE);
	} else {
		printf("dmarcsift %s\n", DMARCSIFT_VERSION);
	}

	char v[64];
	/* xmlParserVersion: "21004" for 2.10.4. */
	long xml = strtol(xmlParserVersion, NULL, 10);
	snprintf(v, sizeof v, "%ld.%ld.%ld", xml / 10000, xml / 100 % 100, xml % 100);
	put(o, "libxml2", "libxml2", v);
	const char *arch = archive_version_string();
	if (strncmp(arch, "libarchive ", 11) == 0)
		arch += 11;
	put(o, "libarchive", "libarchive", arch);
	snprintf(v, sizeof v, "%u.%u.%u", gmime_major_version, gmime_minor_version,
	         gmime_micro_version);
	put(o, "gmime", "gmime", v);
	put(o, "libcurl", "libcurl", curl_version_info(CURLVERSION_NOW)->version);
	pg_version(v, sizeof v, PQlibVersion());
	put(o, "libpq", "libpq", v);

	/* The server: only a database that is already there, and quietly. */
	struct err e = {0};
	char *conninfo = NULL, *origin = NULL;
	struct db *db = NULL;
	if (cli_db_resolve(co.db, false, &conninfo, &origin, NULL, &e) == 0 &&
	    db_connect(&db, conninfo, false, &e) == 0) {
		pg_version(v, sizeof v, PQserverVersion(db_pg(db)));
		if (o) {
			put(o, NULL, "server", v);
			put(o, NULL, "database", origin);
			put(o, NULL, "server_error", NULL);
		} else {
			printf("PostgreSQL server %s (%s)\n", v, origin);
		}
	} else if (o) {
		put(o, NULL, "server", NULL);
		put(o, NULL, "database", origin);
		put(o, NULL, "server_error", e.msg);
	} else {
		printf("PostgreSQL server: not reached (%s)\n", e.msg);
	}
	if (o) {
		rows_json_print(stdout, o);
		json_object_put(o);
	}
	db_close(db);
	free(conninfo);
	free(origin);
	return EXIT_OK;
}
