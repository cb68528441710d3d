/* mob_form: application/x-www-form-urlencoded bodies and query strings. */
#include "unit.h"
#include "mob_form.h"

static apr_table_t *form;
static const char *why;

static apr_status_t parse(const char *s, mob_form_mode mode)
{
    form = NULL;
    why = NULL;
    return mob_form_parse(pool, s, strlen(s), mode, &form, &why);
}

static void ok(const char *s, mob_form_mode mode)
{
    ck_assert_msg(parse(s, mode) == APR_SUCCESS, "'%s' rejected: %s", s, why ? why : "");
    ck_assert_ptr_null(why);
}

/* Rejected in both modes, with a reason for the log. */
static void rejected(const char *s)
{
    ck_assert_msg(parse(s, MOB_FORM_STRICT) == APR_EINVAL, "'%s' accepted (strict)", s);
    ck_assert_msg(why && *why, "'%s': no reason", s);
    ck_assert_msg(parse(s, MOB_FORM_LENIENT) == APR_EINVAL, "'%s' accepted (lenient)", s);
    ck_assert_msg(why && *why, "'%s': no reason", s);
}

START_TEST(decoding)
{
    ok("grant_type=password&username=alice%40contoso.test&password=a+b%2Bc%25d%2f%2F",
       MOB_FORM_STRICT);
    ck_assert_str_eq(apr_table_get(form, "grant_type"), "password");
    ck_assert_str_eq(apr_table_get(form, "username"), "alice@contoso.test");
    ck_assert_str_eq(apr_table_get(form, "password"), "a b+c%d//");
    /* names are decoded too, and matched case-insensitively */
    ok("my+name=1&x%41y=2", MOB_FORM_STRICT);
    ck_assert_str_eq(apr_table_get(form, "my name"), "1");
    ck_assert_str_eq(apr_table_get(form, "xay"), "2");
    /* a name without '=' or with an empty value */
    ok("flag&empty=&v==x", MOB_FORM_STRICT);
    ck_assert_str_eq(apr_table_get(form, "flag"), "");
    ck_assert_str_eq(apr_table_get(form, "empty"), "");
    ck_assert_str_eq(apr_table_get(form, "v"), "=x");
    /* empty segments are skipped */
    ok("&&a=1&&b=2&", MOB_FORM_STRICT);
    ck_assert_int_eq(apr_table_elts(form)->nelts, 2);
    /* valid UTF-8: é, €, U+1F600 */
    ok("n=%C3%A9%E2%82%AC%F0%9F%98%80", MOB_FORM_STRICT);
    ck_assert_str_eq(apr_table_get(form, "n"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}
END_TEST

START_TEST(length_is_respected)
{
    const char *data = "a=1&b=2";

    ck_assert_int_eq(mob_form_parse(pool, data, 3, MOB_FORM_STRICT, &form, &why), APR_SUCCESS);
    ck_assert_str_eq(apr_table_get(form, "a"), "1");
    ck_assert_ptr_null(apr_table_get(form, "b"));
}
END_TEST

START_TEST(empty_body)
{
    ok("", MOB_FORM_STRICT);
    ck_assert_ptr_nonnull(form);
    ck_assert_int_eq(apr_table_elts(form)->nelts, 0);
    ck_assert_int_eq(mob_form_parse(pool, NULL, 0, MOB_FORM_LENIENT, &form, &why), APR_SUCCESS);
    ck_assert_int_eq(apr_table_elts(form)->nelts, 0);
}
END_TEST

START_TEST(strict_rejects_repeats)
{
    ck_assert_int_eq(parse("username=alice&password=x&username=mallory", MOB_FORM_STRICT),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(parse("a=1&A=2", MOB_FORM_STRICT), APR_EINVAL);
    ck_assert_int_eq(parse("a=1&a=1", MOB_FORM_STRICT), APR_EINVAL);
}
END_TEST

START_TEST(lenient_keeps_first)
{
    ok("originalDomain=contoso.test&originalDomain=evil.test&sipuri=x", MOB_FORM_LENIENT);
    ck_assert_str_eq(apr_table_get(form, "originalDomain"), "contoso.test");
    ck_assert_str_eq(apr_table_get(form, "sipuri"), "x");
    ck_assert_int_eq(apr_table_elts(form)->nelts, 2);
    ok("A=1&a=2", MOB_FORM_LENIENT);
    ck_assert_str_eq(apr_table_get(form, "a"), "1");
}
END_TEST

START_TEST(bad_escapes)
{
    rejected("a=%");
    rejected("a=%4");
    rejected("a=%zz");
    rejected("a=%g1");
    rejected("a=%1g");
    rejected("a=1%");
    rejected("a=x%4&b=1");
    rejected("%=1");
    rejected("a%2=1");
}
END_TEST

START_TEST(control_chars)
{
    rejected("a=%00");
    rejected("a=x%00y");
    rejected("a=%0a");
    rejected("a=%0D%0A");
    rejected("a=%09");
    rejected("a=%1f");
    rejected("a=%7f");
    rejected("a%00=1");
    rejected("a=x\ny");
    rejected("a=x\ty");
    rejected("a=%c2%85");              /* C1: NEL */
    rejected("a=%c2%9f");
    ok("a=%c2%a0", MOB_FORM_STRICT);    /* U+00A0 is not a control */
    /* a NUL in the raw body, inside len */
    ck_assert_int_eq(mob_form_parse(pool, "a=x\0y", 5, MOB_FORM_STRICT, &form, &why),
                     APR_EINVAL);
}
END_TEST

START_TEST(invalid_utf8)
{
    rejected("a=%ff");
    rejected("a=%fe");
    rejected("a=%80");                 /* lone continuation byte */
    rejected("a=%c3");                 /* truncated sequence */
    rejected("a=%c3%28");
    rejected("a=%c0%80");              /* overlong NUL */
    rejected("a=%c1%bf");              /* overlong '\x7f' */
    rejected("a=%e0%80%80");           /* overlong, 3 bytes */
    rejected("a=%f0%80%80%80");        /* overlong, 4 bytes */
    rejected("a=%ed%a0%80");           /* UTF-16 surrogate */
    rejected("a=%f4%90%80%80");        /* above U+10FFFF */
    rejected("a=%f8%88%80%80%80");     /* 5-byte form */
    rejected("%c0%af=1");
}
END_TEST

START_TEST(too_many_fields)
{
    char *max = apr_pstrdup(pool, "f0=0"), *over;
    int i;

    for (i = 1; i < MOB_FORM_MAX_FIELDS; i++) {
        max = apr_psprintf(pool, "%s&f%d=%d", max, i, i);
    }
    ok(max, MOB_FORM_STRICT);
    ck_assert_int_eq(apr_table_elts(form)->nelts, MOB_FORM_MAX_FIELDS);
    over = apr_psprintf(pool, "%s&f%d=x", max, MOB_FORM_MAX_FIELDS);
    rejected(over);
    /* also when the extra fields are repeats that lenient mode would drop */
    rejected(apr_pstrcat(pool, unit_repeat("a=1&", MOB_FORM_MAX_FIELDS), "a=1", NULL));
}
END_TEST

START_TEST(too_long)
{
    ok(apr_pstrcat(pool, "v=", unit_repeat("x", MOB_FORM_MAX_VALUE), NULL), MOB_FORM_STRICT);
    ck_assert_uint_eq(strlen(apr_table_get(form, "v")), MOB_FORM_MAX_VALUE);
    rejected(apr_pstrcat(pool, "v=", unit_repeat("x", MOB_FORM_MAX_VALUE + 1), NULL));
    /* the limit is on the decoded value */
    ok(apr_pstrcat(pool, "v=", unit_repeat("%41", MOB_FORM_MAX_VALUE), NULL), MOB_FORM_STRICT);
    rejected(apr_pstrcat(pool, "v=", unit_repeat("%41", MOB_FORM_MAX_VALUE + 1), NULL));
    /* and on names */
    rejected(apr_pstrcat(pool, unit_repeat("n", MOB_FORM_MAX_VALUE + 1), "=1", NULL));
    /* a huge body is refused without decoding it all */
    rejected(apr_pstrcat(pool, "v=", unit_repeat("x", 64 * MOB_FORM_MAX_VALUE), NULL));
}
END_TEST

START_TEST(empty_name)
{
    rejected("=value");
    rejected("a=1&=2");
}
END_TEST

START_TEST(escape)
{
    static const char tricky[] = "a b&c=d/e?f#g%h+i\xc3\xa9";
    const char *e;

    ck_assert_str_eq(mob_form_escape(pool, "alice@contoso.test"), "alice@contoso.test");
    ck_assert_str_eq(mob_form_escape(pool, "AZaz09-._~"), "AZaz09-._~");
    ck_assert_str_eq(mob_form_escape(pool, ""), "");
    ck_assert_str_eq(mob_form_escape(pool, "a b&c=d"), "a%20b%26c%3Dd");
    ck_assert_str_eq(mob_form_escape(pool, "/?#%+"), "%2F%3F%23%25%2B");
    ck_assert_str_eq(mob_form_escape(pool, "\xc3\xa9"), "%C3%A9");
    ck_assert_str_eq(mob_form_escape(pool, "<\">'"), "%3C%22%3E%27");
    /* what escape produces, parse gives back */
    e = mob_form_escape(pool, tricky);
    ck_assert_ptr_null(strpbrk(e, " &=/?#+"));
    ok(apr_pstrcat(pool, "x=", e, NULL), MOB_FORM_STRICT);
    ck_assert_str_eq(apr_table_get(form, "x"), tricky);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("form");
    TCase *tc = unit_tcase("form");

    tcase_add_test(tc, decoding);
    tcase_add_test(tc, length_is_respected);
    tcase_add_test(tc, empty_body);
    tcase_add_test(tc, strict_rejects_repeats);
    tcase_add_test(tc, lenient_keeps_first);
    tcase_add_test(tc, bad_escapes);
    tcase_add_test(tc, control_chars);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, too_many_fields);
    tcase_add_test(tc, too_long);
    tcase_add_test(tc, empty_name);
    tcase_add_test(tc, escape);
    suite_add_tcase(s, tc);
    return unit_run("test_form", s);
}
