/*
 * dmarcsift version (also --version): the version CMake was given, the git
 * revision when built from a clone, the versions of the libraries in use (as
 * loaded, not as compiled against), and the PostgreSQL server's when the
 * database the other commands would use can be reached (never started for
 * this).
 */
#include "cli/cmd.h"
#include "cli/common.h"
#include "db/db.h"
#include "dmarcsift_version.h"

#include <archive.h>
#include <curl/curl.h>
#include <gmime/gmime.h>
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

int cmd_version(int argc, char **argv)
{
	const char *db_opt = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: dmarcsift version [--db CONN]\n"
			       "Prints the version, the git revision it was built from, the "
			       "libraries'\nversions and the PostgreSQL server's when the database "
			       "can be reached.\n");
			return EXIT_OK;
		} else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db_opt = argv[++i];
		} else if (strncmp(argv[i], "--db=", 5) == 0) {
			db_opt = argv[i] + 5;
		} else {
			fprintf(stderr, "usage: dmarcsift version [--db CONN]\n");
			return EXIT_USAGE;
		}
	}
	if (*DMARCSIFT_GIT_DESCRIBE)
		printf("dmarcsift %s (git %s)\n", DMARCSIFT_VERSION, DMARCSIFT_GIT_DESCRIBE);
	else
		printf("dmarcsift %s\n", DMARCSIFT_VERSION);

	/* xmlParserVersion: "21004" for 2.10.4. */
	long xml = strtol(xmlParserVersion, NULL, 10);
	printf("libxml2 %ld.%ld.%ld\n", xml / 10000, xml / 100 % 100, xml % 100);
	const char *arch = archive_version_string();
	if (strncmp(arch, "libarchive ", 11) == 0)
		arch += 11;
	printf("libarchive %s\n", arch);
	printf("gmime %u.%u.%u\n", gmime_major_version, gmime_minor_version, gmime_micro_version);
	printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
	char v[32];
	pg_version(v, sizeof v, PQlibVersion());
	printf("libpq %s\n", v);

	/* The server: only a database that is already there, and quietly. */
	struct err e = {0};
	char *conninfo = NULL, *origin = NULL;
	struct db *db = NULL;
	if (cli_db_resolve(db_opt, false, &conninfo, &origin, NULL, &e) == 0 &&
	    db_connect(&db, conninfo, false, &e) == 0) {
		pg_version(v, sizeof v, PQserverVersion(db_pg(db)));
		printf("PostgreSQL server %s (%s)\n", v, origin);
	} else {
		printf("PostgreSQL server: not reached (%s)\n", e.msg);
	}
	db_close(db);
	free(conninfo);
	free(origin);
	return EXIT_OK;
}
