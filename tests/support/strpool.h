/*
 * strpool: copies of strings a test builds the model's structs from (their
 * strings are `char *`), freed together once the test is done with them.
 */
#ifndef DS_TESTS_STRPOOL_H
#define DS_TESTS_STRPOOL_H

/* A copy of s, kept until strpool_free; NULL stays NULL. */
char *strpool_dup(const char *s);
void strpool_free(void);

#endif
