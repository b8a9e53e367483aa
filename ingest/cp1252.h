/*
 * cp1252: reading a byte that is not valid UTF-8 as Windows-1252.
 *
 * Reports that declare (or default to) UTF-8 but hold a stray 0xE4 or 0x96
 * were almost always written in Windows-1252 (or Latin-1, its subset for
 * printable characters): reading the byte that way keeps "Empfänger" instead
 * of "Empf\uFFFDnger". The table is built once from iconv (through glib);
 * bytes Windows-1252 leaves undefined give U+FFFD.
 */
#ifndef DS_INGEST_CP1252_H
#define DS_INGEST_CP1252_H

#include <stddef.h>

/* Writes the UTF-8 form of byte `b` (>= 0x80) read as Windows-1252 into
 * `out` (at least 3 bytes) and returns its length (2 or 3). */
size_t cp1252_to_utf8(unsigned char b, unsigned char *out);

#endif
