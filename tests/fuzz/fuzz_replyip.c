/*
 * fuzz_replyip: the reply-text IP finder on arbitrary bytes. Checks what the
 * header promises: an answer is NUL-terminated, fits, is an address
 * inet_pton accepts, and appears in the text.
 */
#include "core/replyip.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	char out[REPLYIP_MAX];
	unsigned char b[16];
	if (replyip_find(text, NULL, out, sizeof out) == 0) {
		if (strlen(out) >= sizeof out || !strstr(text, out))
			abort();
		if (inet_pton(AF_INET, out, b) != 1 && inet_pton(AF_INET6, out, b) != 1)
			abort();
		/* skipping the answer never gives the same answer back */
		char again[REPLYIP_MAX];
		char skip[REPLYIP_MAX];
		memcpy(skip, out, sizeof skip);
		if (replyip_find(text, skip, again, sizeof again) == 0 && strcmp(again, skip) == 0)
			abort();
	}
	free(text);
	return 0;
}
