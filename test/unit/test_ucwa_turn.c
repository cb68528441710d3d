/* ucwa_turn: the TURN REST credentials (against a vector computed with the openssl
 * command line), what is refused, the UcwaTurnServer and secret file parsing, and the
 * mediaRelayAccessToken and mediaPolicies resources. */
#include <jansson.h>

#include "unit.h"
#include "ucwa_turn.h"

#define SECRET "Sh4red-Secret"
#define NOW apr_time_from_sec(1700000000)
#define BASE "/ucwa/oauth/v1/applications/42"

/* printf '%s' '1700028800:alice@contoso.test' | openssl dgst -sha1 -hmac 'Sh4red-Secret' \
 *     -binary | base64 */
#define VECTOR "UUPpZVsQoDGDdaLjgfRq8UVYa5U="

START_TEST(mint_vector)
{
    ucwa_turn_token t;

    ck_assert_int_eq(ucwa_turn_mint(pool, SECRET, "alice@contoso.test", NOW, 480, &t),
                     APR_SUCCESS);
    ck_assert_str_eq(t.user_name, "1700028800:alice@contoso.test");
    ck_assert_str_eq(t.password, VECTOR);
    ck_assert(t.valid_until == apr_time_from_sec(1700028800));
    ck_assert_uint_eq(t.minutes, 480);
}
END_TEST

START_TEST(mint_changes_with_every_input)
{
    ucwa_turn_token a, b, c, d;

    ucwa_turn_mint(pool, SECRET, "alice@contoso.test", NOW, 480, &a);
    ucwa_turn_mint(pool, "other", "alice@contoso.test", NOW, 480, &b);
    ucwa_turn_mint(pool, SECRET, "bob@contoso.test", NOW, 480, &c);
    ucwa_turn_mint(pool, SECRET, "alice@contoso.test", NOW, 1, &d);
    ck_assert_str_ne(a.password, b.password);
    ck_assert_str_ne(a.password, c.password);
    ck_assert_str_ne(a.password, d.password);
    ck_assert_str_eq(d.user_name, "1700000060:alice@contoso.test");
    /* sub-second parts of now do not leak into the name */
    ucwa_turn_mint(pool, SECRET, "alice@contoso.test", NOW + 999999, 480, &b);
    ck_assert_str_eq(a.user_name, b.user_name);
}
END_TEST

START_TEST(mint_refuses)
{
    ucwa_turn_token t;

    ck_assert_int_eq(ucwa_turn_mint(pool, "", "a@b", NOW, 480, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, NULL, "a@b", NOW, 480, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, SECRET, "", NOW, 480, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, SECRET, "sip:a@b", NOW, 480, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, SECRET, "a@b\n", NOW, 480, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, SECRET, "a@b", NOW, 0, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, SECRET, "a@b", NOW, UCWA_TURN_MINUTES_MAX + 1, &t),
                     APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, unit_repeat("s", UCWA_TURN_SECRET_MAX + 1), "a@b",
                                    NOW, 480, &t), APR_EINVAL);
    ck_assert_int_eq(ucwa_turn_mint(pool, unit_repeat("s", UCWA_TURN_SECRET_MAX), "a@b",
                                    NOW, UCWA_TURN_MINUTES_MAX, &t), APR_SUCCESS);
}
END_TEST

START_TEST(server_parse)
{
    ucwa_turn_server s;

    ck_assert_ptr_null(ucwa_turn_server_parse(pool, "turn.contoso.test", NULL, NULL, &s));
    ck_assert_str_eq(s.host, "turn.contoso.test");
    ck_assert_int_eq(s.udp_port, 3478);
    ck_assert_int_eq(s.tcp_port, 3478);
    ck_assert_ptr_null(ucwa_turn_server_parse(pool, "127.0.0.1", "23478", NULL, &s));
    ck_assert_int_eq(s.udp_port, 23478);
    ck_assert_int_eq(s.tcp_port, 23478);
    ck_assert_ptr_null(ucwa_turn_server_parse(pool, "::1", "3478", "443", &s));
    ck_assert_int_eq(s.tcp_port, 443);
    ck_assert_ptr_null(ucwa_turn_server_parse(pool, "edge", "-", "443", &s));
    ck_assert_int_eq(s.udp_port, -1);
    ck_assert_ptr_null(ucwa_turn_server_parse(pool, "edge", "3478", "-", &s));
    ck_assert_int_eq(s.tcp_port, -1);

    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "edge", "-", "-", &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "", NULL, NULL, &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "[::1]", NULL, NULL, &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "edge:3478", "x", NULL, &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "edge", "0", NULL, &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "edge", "65536", NULL, &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "edge", "3478", "abc", &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, "a\"b", NULL, NULL, &s));
    ck_assert_ptr_nonnull(ucwa_turn_server_parse(pool, unit_repeat("a", 254), NULL, NULL,
                                                 &s));
}
END_TEST

START_TEST(secret_parse)
{
    const char *err = NULL, *s;

    s = ucwa_turn_secret_parse(pool, "abc \t\r\nsecond line", 18, &err);
    ck_assert_str_eq(s, "abc");
    s = ucwa_turn_secret_parse(pool, "abc", 3, &err);
    ck_assert_str_eq(s, "abc");
    ck_assert_ptr_null(ucwa_turn_secret_parse(pool, "", 0, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(ucwa_turn_secret_parse(pool, "\nabc", 4, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(ucwa_turn_secret_parse(pool, "a\001b", 3, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(ucwa_turn_secret_parse(pool, unit_repeat("x", 1025), 1025, &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(render)
{
    ucwa_turn_server servers[2];
    ucwa_turn_token t;
    json_t *res, *relays, *r;

    ucwa_turn_server_parse(pool, "127.0.0.1", "23478", NULL, &servers[0]);
    ucwa_turn_server_parse(pool, "turn.contoso.test", "-", "443", &servers[1]);
    ucwa_turn_mint(pool, SECRET, "alice@contoso.test", NOW, 480, &t);
    res = ucwa_turn_render(pool, &t, "alice@contoso.test", servers, 2, 1, BASE);
    ck_assert_str_eq(json_string_value(json_object_get(res, "rel")), "mediaRelayAccessToken");
    ck_assert_str_eq(json_string_value(json_object_get(res, "userName")),
                     "1700028800:alice@contoso.test");
    ck_assert_str_eq(json_string_value(json_object_get(res, "password")), VECTOR);
    ck_assert_int_eq(json_integer_value(json_object_get(res, "duration")), 480);
    ck_assert_str_eq(json_string_value(json_object_get(res, "validUntil")),
                     "/Date(1700028800000)/");
    ck_assert_str_eq(json_string_value(json_object_get(res, "uri")), "sip:alice@contoso.test");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
        res, "_links"), "self"), "href")), BASE "/communication/mediaRelayAccessToken");
    relays = json_object_get(json_object_get(res, "_embedded"), "mediaRelay");
    ck_assert_int_eq(json_array_size(relays), 2);
    r = json_array_get(relays, 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "rel")), "mediaRelay");
    ck_assert_str_eq(json_string_value(json_object_get(r, "host")), "127.0.0.1");
    ck_assert_str_eq(json_string_value(json_object_get(r, "ipv4")), "127.0.0.1");
    ck_assert_ptr_null(json_object_get(r, "ipv6"));
    ck_assert_str_eq(json_string_value(json_object_get(r, "location")), "Internet");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "udpPort")), 23478);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "tcpPort")), 23478);
    r = json_array_get(relays, 1);
    ck_assert_ptr_null(json_object_get(r, "ipv4"));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "udpPort")), -1);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "tcpPort")), 443);

    /* the internal site */
    res = ucwa_turn_render(pool, &t, "alice@contoso.test", servers, 1, 0, BASE);
    r = json_array_get(json_object_get(json_object_get(res, "_embedded"), "mediaRelay"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "location")), "Intranet");
    ucwa_turn_server_parse(pool, "::1", NULL, NULL, &servers[0]);
    res = ucwa_turn_render(pool, &t, "alice@contoso.test", servers, 1, 0, BASE);
    r = json_array_get(json_object_get(json_object_get(res, "_embedded"), "mediaRelay"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "ipv6")), "::1");
}
END_TEST

START_TEST(media_policies)
{
    json_t *res = ucwa_turn_media_policies(pool, 1, BASE);

    ck_assert_str_eq(json_string_value(json_object_get(res, "rel")), "mediaPolicies");
    ck_assert_str_eq(json_string_value(json_object_get(res, "video")), "Enabled");
    ck_assert_str_eq(json_string_value(json_object_get(res, "audioVideoEncryption")),
                     "Supported");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(
        res, "_links"), "self"), "href")), BASE "/communication/mediaPolicies");
    res = ucwa_turn_media_policies(pool, 0, BASE);
    ck_assert_str_eq(json_string_value(json_object_get(res, "video")), "Disabled");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_turn");
    TCase *tc = unit_tcase("turn");

    tcase_add_test(tc, mint_vector);
    tcase_add_test(tc, mint_changes_with_every_input);
    tcase_add_test(tc, mint_refuses);
    tcase_add_test(tc, server_parse);
    tcase_add_test(tc, secret_parse);
    tcase_add_test(tc, render);
    tcase_add_test(tc, media_policies);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_turn", s);
}
