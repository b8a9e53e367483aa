/*
 * mmdb: see mmdb.h.
 */
#include "senders/mmdb.h"

#include "core/xalloc.h"

#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>

struct senders_mmdb {
	MMDB_s db;
};

int senders_mmdb_open(struct senders_mmdb **out, const char *path, struct err *e)
{
	struct senders_mmdb *m = xcalloc(1, sizeof *m);
	int rc = MMDB_open(path, MMDB_MODE_MMAP, &m->db);
	if (rc != MMDB_SUCCESS) {
		free(m);
		*out = NULL;
		return err_set(e, ERR_CONFIG, "[sources] mmdb '%s': %s", path, MMDB_strerror(rc));
	}
	*out = m;
	return 0;
}

void senders_mmdb_close(struct senders_mmdb *m)
{
	if (!m)
		return;
	MMDB_close(&m->db);
	free(m);
}

static void copy_utf8(const MMDB_entry_data_s *d, char *out, size_t outsz)
{
	size_t n = d->data_size < outsz ? d->data_size : outsz - 1;
	memcpy(out, d->utf8_string, n);
	out[n] = '\0';
}

int senders_mmdb_lookup(struct senders_mmdb *m, const char *ip, uint32_t *asn, char *as_name,
                        size_t as_name_sz, char country[3])
{
	int gai = 0, mmerr = 0;
	*asn = 0;
	as_name[0] = '\0';
	country[0] = '\0';
	MMDB_lookup_result_s res = MMDB_lookup_string(&m->db, ip, &gai, &mmerr);
	if (gai != 0 || mmerr != MMDB_SUCCESS)
		return -1;
	if (!res.found_entry)
		return 0;
	MMDB_entry_data_s d;
	if (MMDB_get_value(&res.entry, &d, "autonomous_system_number", NULL) == MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UINT32)
		*asn = d.uint32;
	if (MMDB_get_value(&res.entry, &d, "autonomous_system_organization", NULL) ==
	        MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING && as_name_sz > 0)
		copy_utf8(&d, as_name, as_name_sz);
	if (MMDB_get_value(&res.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size == 2)
		copy_utf8(&d, country, 3);
	return 1;
}
