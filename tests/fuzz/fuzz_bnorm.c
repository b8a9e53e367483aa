/*
 * fuzz_bnorm: the escalation text normaliser on arbitrary bytes, with output
 * buffers of every small size and a large one. Checks what the header
 * promises: NUL-terminated within the buffer, the returned length, no
 * leading, trailing or doubled spaces, and that normalising is stable.
 */
#include "core/bnorm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *text, char *out, size_t outsz)
{
	size_t n = bnorm_pattern(text, out, outsz);
	if (n >= outsz || out[n] != '\0' || strlen(out) != n)
		abort();
	if (n && (out[0] == ' ' || out[n - 1] == ' ' || strstr(out, "  ")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	char *big = malloc(size * 2 + 16);
	char *again = malloc(size * 2 + 16);
	char small[17];
	if (!text || !big || !again)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t sz = 1; sz <= sizeof small; sz++)
		check(text, small, sz);
	check(text, big, size * 2 + 16);
	/* A pattern is its own pattern: placeholders and words survive. */
	check(big, again, size * 2 + 16);
	if (strcmp(big, again) != 0)
		abort();
	free(text);
	free(big);
	free(again);
	return 0;
}
