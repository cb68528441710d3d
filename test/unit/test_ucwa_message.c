/* ucwa_message: sendMessage content types, the text rules, data URIs in and out. */
#include "unit.h"
#include "ucwa_message.h"

static ucwa_msg_status parse(const char *uri, char **text, apr_size_t *len,
                             ucwa_msg_format *fmt)
{
    const char *why = NULL;
    ucwa_msg_status st = ucwa_message_parse_data_uri(pool, uri, 100, fmt, text, len, &why);

    ck_assert_msg(st == UCWA_MSG_OK || why != NULL, "'%s': refused without a reason", uri);
    return st;
}

static void ok_uri(const char *uri, const char *want, ucwa_msg_format want_fmt)
{
    char *text = NULL;
    apr_size_t len = 0;
    ucwa_msg_format fmt = UCWA_MSG_HTML;

    ck_assert_msg(parse(uri, &text, &len, &fmt) == UCWA_MSG_OK, "'%s' refused", uri);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_msg(memcmp(text, want, len) == 0, "'%s' gave '%s'", uri, text);
    ck_assert_int_eq(text[len], '\0');
    ck_assert_int_eq(fmt, want_fmt);
}

static void bad_uri(const char *uri, ucwa_msg_status want)
{
    char *text = NULL;
    apr_size_t len = 0;
    ucwa_msg_format fmt;

    ck_assert_msg(parse(uri, &text, &len, &fmt) == want, "'%s': not refused as %d", uri, want);
}

START_TEST(content_types)
{
    ucwa_msg_format fmt;
    int ascii;
    const char *why;

    ck_assert_int_eq(ucwa_message_content_type(NULL, &fmt, &ascii, &why), UCWA_MSG_OK);
    ck_assert_int_eq(fmt, UCWA_MSG_PLAIN);
    ck_assert_int_eq(ucwa_message_content_type("text/plain", &fmt, &ascii, &why), UCWA_MSG_OK);
    ck_assert_int_eq(ucwa_message_content_type("Text/HTML; Charset=\"UTF-8\"", &fmt, &ascii,
                                               &why), UCWA_MSG_OK);
    ck_assert_int_eq(fmt, UCWA_MSG_HTML);
    ck_assert_int_eq(ascii, 0);
    ck_assert_int_eq(ucwa_message_content_type("text/plain;charset=us-ascii", &fmt, &ascii,
                                               &why), UCWA_MSG_OK);
    ck_assert_int_eq(ascii, 1);
    ck_assert_int_eq(ucwa_message_content_type("text/plain; format=flowed; charset=utf8", &fmt,
                                               &ascii, &why), UCWA_MSG_OK);
    ck_assert_int_eq(ucwa_message_content_type("application/json", &fmt, &ascii, &why),
                     UCWA_MSG_BAD_TYPE);
    ck_assert_int_eq(ucwa_message_content_type("", &fmt, &ascii, &why), UCWA_MSG_BAD_TYPE);
    ck_assert_int_eq(ucwa_message_content_type("text/plain; charset=iso-8859-1", &fmt, &ascii,
                                               &why), UCWA_MSG_BAD_TYPE);
    ck_assert_int_eq(ucwa_message_content_type("text/plain; flowed", &fmt, &ascii, &why),
                     UCWA_MSG_BAD_TYPE);
    ck_assert_int_eq(ucwa_message_content_type("text/plainx", &fmt, &ascii, &why),
                     UCWA_MSG_BAD_TYPE);
}
END_TEST

START_TEST(text_rules)
{
    const char *why;

    ck_assert_int_eq(ucwa_message_check("", 0, 10, 0, &why), UCWA_MSG_OK);
    ck_assert_int_eq(ucwa_message_check("h\xc3\xa9\t\r\n", 6, 10, 0, &why), UCWA_MSG_OK);
    ck_assert_int_eq(ucwa_message_check("\xf0\x9f\x98\x80", 4, 10, 0, &why), UCWA_MSG_OK);
    ck_assert_int_eq(ucwa_message_check("\xf4\x8f\xbf\xbf", 4, 10, 0, &why), UCWA_MSG_OK);
    ck_assert_int_eq(ucwa_message_check("abc", 3, 2, 0, &why), UCWA_MSG_TOO_LARGE);
    ck_assert_int_eq(ucwa_message_check("a\0b", 3, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xc3", 1, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xc0\xaf", 2, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xe0\x80\xaf", 3, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xed\xa0\x80", 3, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xf4\x90\x80\x80", 4, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xff", 1, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\x80", 1, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("\xe2\x82", 2, 10, 0, &why), UCWA_MSG_BAD_TEXT);
    ck_assert_int_eq(ucwa_message_check("h\xc3\xa9", 3, 10, 1, &why), UCWA_MSG_BAD_TEXT);
}
END_TEST

START_TEST(data_uris_in)
{
    /* the capture's form style */
    ok_uri("data:text/plain;charset=utf-8,Hi+Tosh%0d%0a", "Hi Tosh\r\n", UCWA_MSG_PLAIN);
    ok_uri("DATA:Text/Plain;Charset=UTF-8,Hi%20there", "Hi there", UCWA_MSG_PLAIN);
    ok_uri("data:,plain+by+default", "plain by default", UCWA_MSG_PLAIN);
    ok_uri("data:;charset=utf-8,x", "x", UCWA_MSG_PLAIN);
    ok_uri("data:text/html;charset=utf-8,%3Cb%3Ehi%3C%2Fb%3E", "<b>hi</b>", UCWA_MSG_HTML);
    ok_uri("data:text/plain;charset=\"utf-8\";foo=bar,raw \xc3\xa9 bytes", "raw \xc3\xa9 bytes",
           UCWA_MSG_PLAIN);
    ok_uri("data:text/plain;charset=us-ascii,abc", "abc", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain,", "", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain,a,b", "a,b", UCWA_MSG_PLAIN);
    /* base64: '+' is a digit there, percent escapes are decoded first */
    ok_uri("data:text/plain;base64,SGkgVG9zaA0K", "Hi Tosh\r\n", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain;charset=utf-8;base64,SGk=", "Hi", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain;base64,SGk", "Hi", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain;base64,SGk%3D", "Hi", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain;base64,Pj4+", ">>>", UCWA_MSG_PLAIN);
    ok_uri("data:text/plain;base64,", "", UCWA_MSG_PLAIN);
}
END_TEST

START_TEST(data_uris_refused)
{
    bad_uri("http://example.com/", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain", UCWA_MSG_BAD_TEXT);
    bad_uri("data:image/png;base64,AAAA", UCWA_MSG_BAD_TYPE);
    bad_uri("data:text/plain;charset=iso-8859-1,x", UCWA_MSG_BAD_TYPE);
    bad_uri("data:text/plain;charset=us-ascii,%c3%a9", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain,%zz", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain,%4", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain,50%", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain,%ff", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain,a%00b", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain;base64,!!!!", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain;base64,QQ=", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain;base64,Q", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain;base64,QR==", UCWA_MSG_BAD_TEXT);     /* non-zero spare bits */
    bad_uri("data:text/plain;base64,Q===", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain;base64;charset=utf-8,SGk=", UCWA_MSG_BAD_TEXT);
    bad_uri("data:text/plain;x,a", UCWA_MSG_BAD_TEXT);
    bad_uri(apr_pstrcat(pool, "data:text/plain", unit_repeat(";a=b", 70), ",x", NULL),
            UCWA_MSG_BAD_TEXT);
    bad_uri(apr_pstrcat(pool, "data:,", unit_repeat("a", 101), NULL), UCWA_MSG_TOO_LARGE);
    bad_uri(apr_pstrcat(pool, "data:,", unit_repeat("%41", 101), NULL), UCWA_MSG_TOO_LARGE);
    bad_uri(apr_pstrcat(pool, "data:,", unit_repeat("a", 100000), NULL), UCWA_MSG_TOO_LARGE);
}
END_TEST

START_TEST(data_uris_out)
{
    const char *u = ucwa_message_data_uri(pool, UCWA_MSG_PLAIN, "Hi Tosh\r\n", 9);
    static const char all[] = "a-Z_0.9!*()'~ +%&=/?\xc3\xa9";
    char *text;
    apr_size_t len;
    ucwa_msg_format fmt;

    ck_assert_str_eq(u, "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a");
    ck_assert_uint_eq(ucwa_message_data_uri_len(UCWA_MSG_PLAIN, "Hi Tosh\r\n", 9), strlen(u));
    u = ucwa_message_data_uri(pool, UCWA_MSG_HTML, all, strlen(all));
    ck_assert_str_eq(u, "data:text/html;charset=utf-8,a-Z_0.9!*()%27%7e+%2b%25%26%3d%2f%3f"
                        "%c3%a9");
    ck_assert_uint_eq(ucwa_message_data_uri_len(UCWA_MSG_HTML, all, strlen(all)), strlen(u));
    ck_assert_int_eq(ucwa_message_parse_data_uri(pool, u, 100, &fmt, &text, &len, &u),
                     UCWA_MSG_OK);
    ck_assert_str_eq(text, all);
    ck_assert_int_eq(fmt, UCWA_MSG_HTML);
    ck_assert_str_eq(ucwa_message_data_uri(pool, UCWA_MSG_PLAIN, "", 0),
                     "data:text/plain;charset=utf-8,");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_message");
    TCase *tc = unit_tcase("core");

    tcase_add_test(tc, content_types);
    tcase_add_test(tc, text_rules);
    tcase_add_test(tc, data_uris_in);
    tcase_add_test(tc, data_uris_refused);
    tcase_add_test(tc, data_uris_out);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_message", s);
}
