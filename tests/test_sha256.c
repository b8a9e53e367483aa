/* sha256: known digests (FIPS 180-2 examples), streaming in pieces equals
 * one buffer, and a reset after final starts over. */
#include "ingest/sha256.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const struct {
	const char *in;
	const char *hex;
} vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_vectors(void **state)
{
	(void)state;
	char out[SHA256_HEX_LEN + 1];
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		sha256_hex(vectors[i].in, strlen(vectors[i].in), out);
		assert_string_equal(out, vectors[i].hex);
	}
}

/* One million 'a', fed in uneven pieces: the FIPS 180-2 long example. */
static void test_streaming_and_reset(void **state)
{
	(void)state;
	static char a[1000];
	char out[SHA256_HEX_LEN + 1];
	struct sha256 *h = NULL;
	memset(a, 'a', sizeof a);
	assert_int_equal(sha256_new(&h), 0);
	sha256_update(h, "junk", 4);
	sha256_reset(h);
	size_t left = 1000000, step = 1;
	while (left > 0) {
		size_t n = step < left ? step : left;
		if (n > sizeof a)
			n = sizeof a;
		sha256_update(h, a, n);
		left -= n;
		step = step * 7 % 997 + 1;
	}
	sha256_final(h, out);
	assert_string_equal(out,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* After final the hash starts over by itself. */
	sha256_update(h, "abc", 3);
	sha256_final(h, out);
	assert_string_equal(out, vectors[1].hex);
	sha256_free(h);
	sha256_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_streaming_and_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
