#include "db/sql.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *db_sql(const char *name)
{
	for (const struct db_sql_text *t = db_sql_embedded; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t->sql;
	panic("no db/sql/%s.sql in this build", name);
}
