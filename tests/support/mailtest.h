/*
 * mailtest: what the mailbox-polling integration tests share.
 *
 * mt_corpus_build makes a corpus of whole e-mail messages in memory (built
 * with gmime): `reports` aggregate reports, each a copy of the fixture
 * fixtures/archives/report-plain.xml with its own report_id
 * ("<tag>-<n>"), attached in turn as .xml, .xml.gz (zlib) and .zip
 * (libarchive); `broken` messages whose report attachment is truncated
 * XML; `dsn` copies of fixtures/mail/classify/dsn.eml and `unrelated`
 * copies of fixtures/mail/classify/plain.eml and failure-report.eml, each
 * made unique by an extra header. records_per_report is counted from the
 * fixture. mt_run / mt_spawn run the real binary (DMARCSIFT_BIN) with
 * standard output and error captured together (mt_run returns the exit
 * code, 128+signal when killed); mt_wait returns the same for a spawned one.
 * Everything returned is the caller's (free / mt_corpus_free).
 */
#ifndef DS_TESTS_MAILTEST_H
#define DS_TESTS_MAILTEST_H

#include "sources/source.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum mt_kind { MT_REPORT, MT_BROKEN, MT_DSN, MT_UNRELATED };

struct mt_msg {
	char *data;
	size_t len;
	enum mt_kind kind;
};

struct mt_corpus {
	struct mt_msg *msgs;
	size_t n;
	size_t n_reports, n_broken, n_dsn, n_unrelated;
	int64_t records_per_report;
	int64_t messages_per_report; /* sum of <count> in the fixture */
};

void mt_corpus_build(struct mt_corpus *c, const char *tag, size_t reports, size_t broken,
                     size_t dsn, size_t unrelated);
void mt_corpus_free(struct mt_corpus *c);

/* args: NULL-terminated, without the program. *out may be NULL. */
int mt_run(const char *const *args, char **out);
/* Output goes to `outfile`. */
pid_t mt_spawn(const char *const *args, const char *outfile);
int mt_wait(pid_t pid);
/* Writes `text` into DIR/NAME and returns the path. */
char *mt_write_file(const char *dir, const char *name, const char *text);
/* Count of matches of `needle` in `hay`. */
size_t mt_count(const char *hay, const char *needle);
/* Sum of N over every "N fetched" in a poll's output. */
int64_t mt_sum_fetched(const char *out);
/* A fresh directory under /tmp, searchable by other users. */
char *mt_tmpdir(const char *name);
/* Waits (at most `secs`) until `sql` returns at least `min`; returns the value. */
int64_t mt_wait_count(const char *conninfo, const char *sql, int64_t min, double secs);

/* A source's progress kept in memory (tests of the source interface):
 * the last saved state and how many saves there were. */
struct mt_progress {
	struct source_progress p;
	int saves;
};
struct source_memory mt_progress_memory(struct mt_progress *k);

#endif
