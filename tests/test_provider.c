/*
 * test_provider: the embedded provider map (data/providers.tsv) — recipient
 * domains, MX host patterns, org names — and map-file errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/provider.h"

#include <string.h>

static const char *pf(const char *domain, const char *mx)
{
	return provider_for(provider_map_default(), domain, mx);
}

static void test_domains(void **state)
{
	(void)state;
	assert_string_equal(pf("gmail.com", NULL), "google");
	assert_string_equal(pf("GoogleMail.COM", NULL), "google");
	assert_string_equal(pf("outlook.com", NULL), "microsoft");
	assert_string_equal(pf("hotmail.co.uk", NULL), "microsoft"); /* hotmail.* */
	assert_string_equal(pf("hotmail.fr", NULL), "microsoft");
	assert_string_equal(pf("live.com", NULL), "microsoft");
	assert_string_equal(pf("aol.com", NULL), "yahoo");
	assert_string_equal(pf("yahoo.co.jp", NULL), "yahoo");
	assert_string_equal(pf("icloud.com", NULL), "apple");
	assert_string_equal(pf("me.com", NULL), "apple");
	assert_string_equal(pf("web.de", NULL), "gmx");
	assert_string_equal(pf("gmx.net", NULL), "gmx");
	assert_string_equal(pf("comcast.net", NULL), "comcast");
	assert_string_equal(pf("orange.fr", NULL), "orange");
	assert_string_equal(pf("mail.ru", NULL), "mailru");
	assert_string_equal(pf("yandex.ru", NULL), "yandex");
	assert_string_equal(pf("zoho.com", NULL), "zoho");
	assert_string_equal(pf("fastmail.com", NULL), "fastmail");
	/* not a hosted domain, no MX known */
	assert_null(pf("corp.example", NULL));
	assert_null(pf("notgmail.com", NULL));
	assert_null(pf("gmail.com.evil.example", NULL));
	assert_null(pf(NULL, NULL));
	assert_null(pf("", ""));
}

static void test_mx(void **state)
{
	(void)state;
	/* Workspace / Microsoft 365 / gateway customers are found by MX */
	assert_string_equal(pf("corp.example", "aspmx.l.google.com"), "google");
	assert_string_equal(pf("corp.example", "gmail-smtp-in.l.google.com."), "google");
	assert_string_equal(pf("corp.example", "corp-example.mail.protection.outlook.com"),
	                    "microsoft");
	assert_string_equal(pf("corp.example", "eu-smtp-inbound-1.mimecast.com"), "mimecast");
	assert_string_equal(pf("corp.example", "mx0a-001234.pphosted.com"), "proofpoint");
	assert_string_equal(pf("corp.example", "d12345a.ess.barracudanetworks.com"), "barracuda");
	assert_string_equal(pf("corp.example", "mx1.hc1234-56.iphmx.com"), "cisco");
	assert_string_equal(pf("corp.example", "mta7.am0.yahoodns.net"), "yahoo");
	assert_string_equal(pf("corp.example", "mx01.mail.icloud.com"), "apple");
	assert_string_equal(pf("corp.example", "in1-smtp.messagingengine.com"), "fastmail");
	/* the suffix must be a whole label */
	assert_null(pf("corp.example", "evilgoogle.com"));
	assert_null(pf("corp.example", "google.com.evil.example"));
	assert_null(pf("corp.example", "mx.corp.example"));
	/* the recipient domain wins over the MX */
	assert_string_equal(pf("gmail.com", "mx.mimecast.com"), "google");
}

static void test_orgs(void **state)
{
	(void)state;
	const struct provider_map *m = provider_map_default();
	assert_string_equal(provider_for_org(m, "google.com"), "google");
	assert_string_equal(provider_for_org(m, "Outlook.com"), "microsoft");
	assert_string_equal(provider_for_org(m, "enterprise outlook"), "microsoft");
	assert_string_equal(provider_for_org(m, "Yahoo"), "yahoo");
	assert_string_equal(provider_for_org(m, "Mail.Ru"), "mailru");
	assert_null(provider_for_org(m, "Some Bank"));
	assert_string_equal(provider_kind(m, "mimecast"), "gateway");
	assert_string_equal(provider_kind(m, "google"), "mailbox");
	assert_null(provider_kind(m, "nobody"));
}

static void test_load(void **state)
{
	(void)state;
	const char *good =
	    "# x\nacme\tmailbox\tAcme Mail\tacme.example,acme.*\t*.mx.acme.example\n";
	struct provider_map *m = NULL;
	struct err e = {0};
	assert_int_equal(provider_map_load(&m, good, strlen(good), &e), 0);
	assert_string_equal(provider_for(m, "ACME.example", NULL), "acme");
	assert_string_equal(provider_for(m, "acme.co.uk", NULL), "acme");
	assert_string_equal(provider_for(m, "x.example", "in.mx.acme.example"), "acme");
	assert_null(provider_for(m, "x.example", "mx.acme.example"));
	assert_string_equal(provider_for_org(m, "acme mail"), "acme");
	provider_map_free(m);

	/* columns aligned with runs of tabs read the same */
	const char *aligned = "acme\t\t\tmailbox\tAcme Mail\t\tacme.example\t-\n";
	m = NULL;
	assert_int_equal(provider_map_load(&m, aligned, strlen(aligned), &e), 0);
	assert_string_equal(provider_for(m, "acme.example", NULL), "acme");
	provider_map_free(m);

	const char *bad[] = {
	    "acme\tmailbox\tA\tacme.example\n",                /* 4 columns */
	    "acme\tmailbox\tA\tacme.example\t-\textra\n",      /* 6 columns */
	    "acme\tisp\tA\tacme.example\t-\n",                 /* kind */
	    "acme\tmailbox\tA\tac*me.example\t-\n",            /* pattern */
	    "acme\tmailbox\tA\tacme.example\t*.a.*.example\n", /* pattern */
	    "# empty\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct err e2 = {0};
		m = NULL;
		assert_int_equal(provider_map_load(&m, bad[i], strlen(bad[i]), &e2), -1);
		assert_null(m);
		assert_int_equal(e2.kind, ERR_CONFIG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_domains),
	    cmocka_unit_test(test_mx),
	    cmocka_unit_test(test_orgs),
	    cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
