/*
 * maildir: lists the messages of a Maildir that are still to be processed,
 * and files them away once they were.
 *
 * To do: everything in new/, and the messages in cur/ without the seen flag
 * (S in the ":2,FLAGS" info). The state lives in the file names, nowhere
 * else: a message is done once maildir_file_away renamed it — into cur/ with
 * the S flag added (the default), or, when `folder` is given, into the
 * Maildir++ sub-folder of that name ("dmarcsift/processed" becomes
 * ROOT/.dmarcsift.processed/cur/NAME:2,S, created when missing). rename(2)
 * is atomic, so a message is either still to do or done, never lost.
 * A message a person marked as read in cur/ is taken as done: point the
 * poller at a Maildir nobody reads by hand.
 *
 * maildir_list returns names relative to ROOT ("new/123.host",
 * "cur/124.host:2,"), sorted (oldest first, as delivery names start with the
 * time); the caller frees them with maildir_list_free. Errors: ERR_CONFIG
 * for a path that is not a Maildir, ERR_INPUT for a failed rename.
 */
#ifndef DS_SOURCES_MAILDIR_H
#define DS_SOURCES_MAILDIR_H

#include "core/err.h"

#include <stddef.h>

int maildir_list(const char *root, char ***names, size_t *n, struct err *e);
void maildir_list_free(char **names, size_t n);
/* Renames ROOT/name as described above; `folder` may be NULL. */
int maildir_file_away(const char *root, const char *name, const char *folder, struct err *e);

#endif
