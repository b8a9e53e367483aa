/*
 * fuzz_bounce_text: arbitrary bytes through the plain-text notice reader
 * (ingest/bounce_text.h) directly — the text a gmime-decoded notice part
 * hands it — and through the whole message reader, so the layout engine
 * is reached with and without a MIME wrapper.
 */
#include "ingest/bounce_text.h"
#include "tests/fuzz/bounce_target.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const skip[] = {"news@example.com", NULL};
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct btext bt;
	btext_read(text, size, size > 8 ? text + size - 8 : NULL, skip, &bt);
	for (size_t i = 0; i < bt.n; i++)
		if (!bt.r[i].addr || !bt.r[i].text)
			abort();
	btext_free(&bt);
	(void)btext_is_notice(text, size, NULL, NULL);
	free(text);
	return fuzz_bounce(BOUNCE_FMT_DSN, data, size);
}
