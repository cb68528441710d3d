/* mob_negotiate: which Autodiscover representation an Accept header gets. */
#include "unit.h"
#include "mob_negotiate.h"

#define AD_XML  "application/vnd.microsoft.rtc.autodiscover+xml"
#define AD_JSON "application/vnd.microsoft.rtc.autodiscover+json"

typedef struct {
    const char *accept;
    mob_format want;
} acase;

static void check_cases(const acase *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        mob_format got = mob_negotiate(c[i].accept);
        ck_assert_msg(got == c[i].want, "Accept '%s': got %d, want %d",
                      c[i].accept ? c[i].accept : "(none)", (int)got, (int)c[i].want);
    }
}

#define CHECK_CASES(c) check_cases(c, sizeof(c) / sizeof(c[0]))

START_TEST(default_hal_json)
{
    static const acase c[] = {
        { NULL, MOB_FMT_HAL_JSON },
        { "", MOB_FMT_HAL_JSON },
        { "   ", MOB_FMT_HAL_JSON },
        { "*/*", MOB_FMT_HAL_JSON },
        { "application/*", MOB_FMT_HAL_JSON },
        { "application/json", MOB_FMT_HAL_JSON },
        { "Application/JSON", MOB_FMT_HAL_JSON },
        { "application/json; charset=utf-8", MOB_FMT_HAL_JSON },
        { "  application/json  ", MOB_FMT_HAL_JSON },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(ad_xml)
{
    static const acase c[] = {
        { AD_XML ";v=1", MOB_FMT_AD_XML },
        { AD_XML "; v=1", MOB_FMT_AD_XML },
        { " " AD_XML " ; v = 1 ", MOB_FMT_AD_XML },
        { "Application/Vnd.Microsoft.RTC.Autodiscover+XML;V=1", MOB_FMT_AD_XML },
        { AD_XML ";v=\"1\"", MOB_FMT_AD_XML },
        { AD_XML ";v=1.0", MOB_FMT_AD_XML },
        { AD_XML ";charset=utf-8;v=1", MOB_FMT_AD_XML },
        { AD_XML, MOB_FMT_AD_XML },
        /* what pidgin-sipe sends */
        { AD_XML ";v=1", MOB_FMT_AD_XML },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(other_versions)
{
    static const acase c[] = {
        { AD_XML ";v=2", MOB_FMT_NONE },
        { AD_XML ";v=\"2\"", MOB_FMT_NONE },
        { AD_XML ";v=", MOB_FMT_NONE },
        { AD_XML ";v=11", MOB_FMT_NONE },
        { AD_JSON ";v=2", MOB_FMT_NONE },
        /* an unknown version falls back to what else is listed */
        { AD_XML ";v=2, application/json", MOB_FMT_HAL_JSON },
        { AD_XML ";v=2, " AD_XML ";v=1;q=0.5", MOB_FMT_AD_XML },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(ad_json)
{
    static const acase c[] = {
        { AD_JSON ";v=1", MOB_FMT_AD_JSON },
        { AD_JSON "; v=\"1\"", MOB_FMT_AD_JSON },
        { "APPLICATION/VND.MICROSOFT.RTC.AUTODISCOVER+JSON;v=1", MOB_FMT_AD_JSON },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(ucwa_xml)
{
    static const acase c[] = {
        { "application/xml", MOB_FMT_UCWA_XML },
        { "text/xml", MOB_FMT_UCWA_XML },
        { "text/html", MOB_FMT_UCWA_XML },
        { "text/*", MOB_FMT_UCWA_XML },
        /* a browser */
        { "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", MOB_FMT_UCWA_XML },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(q_values)
{
    static const acase c[] = {
        { "application/json;q=0.5, " AD_XML ";v=1", MOB_FMT_AD_XML },
        { AD_XML ";v=1;q=0.1, application/json;q=0.2", MOB_FMT_HAL_JSON },
        { "application/json;q=0.5,application/xml;q=0.501", MOB_FMT_UCWA_XML },
        { "application/xml;q=0.9, " AD_JSON ";v=1", MOB_FMT_AD_JSON },
        { "*/*;q=0.1, text/html;q=0.2", MOB_FMT_UCWA_XML },
        { "application/json;Q=0.5, application/xml;q=0.6", MOB_FMT_UCWA_XML },
        { "application/json;q=1.0, application/xml;q=1.000", MOB_FMT_HAL_JSON },
        { "application/json; q = 0.3 , application/xml ; q=0.4", MOB_FMT_UCWA_XML },
        /* equal q: the first listed wins */
        { AD_XML ";v=1, application/json", MOB_FMT_AD_XML },
        { "application/json, " AD_XML ";v=1", MOB_FMT_HAL_JSON },
        { "application/xml;q=0.5, application/json;q=0.5", MOB_FMT_UCWA_XML },
        /* ranges we do not serve do not win however high their q */
        { "image/png, application/json;q=0.1", MOB_FMT_HAL_JSON },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(q_zero_excludes)
{
    static const acase c[] = {
        { "application/json;q=0", MOB_FMT_NONE },
        { "application/json;q=0.000", MOB_FMT_NONE },
        { "*/*;q=0", MOB_FMT_NONE },
        { "application/json;q=0, application/xml", MOB_FMT_UCWA_XML },
        { AD_XML ";v=1;q=0, application/json;q=0.001", MOB_FMT_HAL_JSON },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(not_acceptable)
{
    static const acase c[] = {
        { "image/png", MOB_FMT_NONE },
        { "image/png, text/plain", MOB_FMT_NONE },
        { "application/xhtml+xml", MOB_FMT_NONE },
        { "application/jsonx", MOB_FMT_NONE },
        { "application", MOB_FMT_NONE },
        { ",", MOB_FMT_NONE },
        { ";;;", MOB_FMT_NONE },
        { "application/vnd.microsoft.rtc.autodiscover", MOB_FMT_NONE },
    };

    CHECK_CASES(c);
}
END_TEST

/* A malformed q drops its range (as if it were not listed), not the whole header. */
START_TEST(malformed_q)
{
    static const acase c[] = {
        { "application/json;q=abc", MOB_FMT_NONE },
        { "application/json;q=", MOB_FMT_NONE },
        { "application/json;q=1.5", MOB_FMT_NONE },
        { "application/json;q=2", MOB_FMT_NONE },
        { "application/json;q=-1", MOB_FMT_NONE },
        { "application/json;q=.5", MOB_FMT_NONE },
        { "application/json;q=0.1234", MOB_FMT_NONE },
        { "application/json;q=0.5x", MOB_FMT_NONE },
        { "application/xml;q=abc, application/json;q=0.1", MOB_FMT_HAL_JSON },
        { AD_XML ";v=1;q=9, application/xml;q=0.1", MOB_FMT_UCWA_XML },
    };

    CHECK_CASES(c);
}
END_TEST

START_TEST(too_long)
{
    /* "application/json" padded with blanks to exactly the limit, then one more byte */
    char *at_max = apr_pstrcat(pool, "application/json",
                               unit_repeat(" ", MOB_ACCEPT_MAX - 16), NULL);
    char *over = apr_pstrcat(pool, at_max, " ", NULL);

    ck_assert_uint_eq(strlen(at_max), MOB_ACCEPT_MAX);
    ck_assert_int_eq(mob_negotiate(at_max), MOB_FMT_HAL_JSON);
    ck_assert_int_eq(mob_negotiate(over), MOB_FMT_NONE);
    ck_assert_int_eq(mob_negotiate(apr_pstrcat(pool, "application/json, ",
                                               unit_repeat("x", MOB_ACCEPT_MAX), NULL)),
                     MOB_FMT_NONE);
}
END_TEST

START_TEST(content_types)
{
    static const mob_format served[] = {
        MOB_FMT_HAL_JSON, MOB_FMT_AD_XML, MOB_FMT_AD_JSON, MOB_FMT_UCWA_XML
    };
    size_t i;

    /* pidgin-sipe only parses a body whose Content-Type starts with the AD XML type */
    ck_assert_int_eq(strncmp(mob_format_content_type(MOB_FMT_AD_XML), AD_XML, strlen(AD_XML)), 0);
    ck_assert_ptr_nonnull(strstr(mob_format_content_type(MOB_FMT_AD_XML), "v=1"));
    ck_assert_int_eq(strncmp(mob_format_content_type(MOB_FMT_AD_JSON), AD_JSON,
                             strlen(AD_JSON)), 0);
    ck_assert_int_eq(strncmp(mob_format_content_type(MOB_FMT_HAL_JSON), "application/json", 16), 0);
    ck_assert_int_eq(strncmp(mob_format_content_type(MOB_FMT_UCWA_XML), "application/xml", 15), 0);
    /* each Content-Type, sent back as Accept, asks for the same representation */
    for (i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
        ck_assert_int_eq(mob_negotiate(mob_format_content_type(served[i])), served[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("negotiate");
    TCase *tc = unit_tcase("negotiate");

    tcase_add_test(tc, default_hal_json);
    tcase_add_test(tc, ad_xml);
    tcase_add_test(tc, other_versions);
    tcase_add_test(tc, ad_json);
    tcase_add_test(tc, ucwa_xml);
    tcase_add_test(tc, q_values);
    tcase_add_test(tc, q_zero_excludes);
    tcase_add_test(tc, not_acceptable);
    tcase_add_test(tc, malformed_q);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, content_types);
    suite_add_tcase(s, tc);
    return unit_run("test_negotiate", s);
}
