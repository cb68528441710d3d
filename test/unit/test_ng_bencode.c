/* ng_bencode: rtpengine's NG messages, byte for byte, and what the decoder refuses. */
#include "unit.h"
#include "ng_bencode.h"

static const char *enc(const ng_benc *v)
{
    apr_size_t len;
    char *s = ng_benc_encode(pool, v, &len);

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, strlen(s));
    return s;
}

static ng_benc *dec(const char *s)
{
    ng_benc *v = NULL;
    const char *err = ng_benc_decode(pool, s, strlen(s), &v);

    ck_assert_msg(err == NULL, "%s: %s", s, err);
    ck_assert_ptr_nonnull(v);
    return v;
}

static void refused(const char *s, apr_size_t len)
{
    ng_benc *v = (ng_benc *)1;
    const char *err = ng_benc_decode(pool, s, len, &v);

    ck_assert_msg(err != NULL, "accepted: %.*s", (int)len, s);
    ck_assert_ptr_null(v);
}

START_TEST(ping)
{
    ng_benc *d = ng_benc_dict(pool);

    ng_benc_dict_add_str(pool, d, "command", "ping");
    ck_assert_str_eq(enc(d), "d7:command4:pinge");
    ck_assert_str_eq(ng_benc_dict_str(dec("d6:result4:ponge"), "result"), "pong");
}
END_TEST

/* The offer of rtpengine's NG documentation (call-id, from-tag, sdp, flags, replace,
 * ICE, transport-protocol), in the order it lists them. */
START_TEST(offer)
{
    static const char *const flags[] = { "trust-address" };
    static const char *const replace[] = { "origin", "session-connection" };
    const char *sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
                      "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    ng_benc *d = ng_benc_dict(pool), *back;
    const ng_benc *l;
    const char *expect;

    ng_benc_dict_add_str(pool, d, "command", "offer");
    ng_benc_dict_add_str(pool, d, "call-id", "abc123@192.0.2.1");
    ng_benc_dict_add_str(pool, d, "from-tag", "f00b4r");
    ng_benc_dict_add_str(pool, d, "sdp", sdp);
    ng_benc_dict_add_strs(pool, d, "flags", flags, 1);
    ng_benc_dict_add_strs(pool, d, "replace", replace, 2);
    ng_benc_dict_add_str(pool, d, "ICE", "remove");
    ng_benc_dict_add_str(pool, d, "transport-protocol", "RTP/AVP");
    expect = apr_psprintf(pool, "d7:command5:offer7:call-id16:abc123@192.0.2.1"
                          "8:from-tag6:f00b4r3:sdp%d:%s5:flagsl13:trust-addresse"
                          "7:replacel6:origin18:session-connectione3:ICE6:remove"
                          "18:transport-protocol7:RTP/AVPe", (int)strlen(sdp), sdp);
    ck_assert_str_eq(enc(d), expect);
    back = dec(expect);
    ck_assert_str_eq(ng_benc_dict_str(back, "sdp"), sdp);
    ck_assert_str_eq(ng_benc_dict_str(back, "transport-protocol"), "RTP/AVP");
    l = ng_benc_dict_get(back, "replace");
    ck_assert_int_eq(l->type, NG_BENC_LIST);
    ck_assert_str_eq(l->first->str, "origin");
    ck_assert_str_eq(l->first->next->str, "session-connection");
    ck_assert_ptr_null(l->first->next->next);
    ck_assert_str_eq(enc(back), expect);   /* the same bytes again */
}
END_TEST

START_TEST(integers)
{
    ck_assert_str_eq(enc(ng_benc_int(pool, 0)), "i0e");
    ck_assert_str_eq(enc(ng_benc_int(pool, -42)), "i-42e");
    ck_assert_str_eq(enc(ng_benc_int(pool, APR_INT64_MAX)), "i9223372036854775807e");
    ck_assert_str_eq(enc(ng_benc_int(pool, APR_INT64_MIN)), "i-9223372036854775808e");
    ck_assert(dec("i9223372036854775807e")->num == APR_INT64_MAX);
    ck_assert(dec("i-9223372036854775808e")->num == APR_INT64_MIN);
    ck_assert(dec("i-1e")->num == -1);
    refused("i9223372036854775808e", 21);
    refused("i-9223372036854775809e", 22);
    refused("i-0e", 4);
    refused("i03e", 4);
    refused("ie", 2);
    refused("i1", 2);
    refused("i+1e", 4);
}
END_TEST

START_TEST(strings)
{
    ck_assert_str_eq(enc(ng_benc_str(pool, "")), "0:");
    ck_assert_str_eq(enc(ng_benc_str(pool, "pong")), "4:pong");
    ck_assert_str_eq(dec("4:pong")->str, "pong");
    ck_assert_uint_eq(dec("0:")->len, 0);
}
END_TEST

START_TEST(binary_strings)
{
    ng_benc *v = NULL;

    ck_assert_ptr_null(ng_benc_decode(pool, "3:a\0b", 5, &v));
    ck_assert_uint_eq(v->len, 3);
    ck_assert_int_eq(memcmp(v->str, "a\0b", 3), 0);
    ck_assert_int_eq(v->str[3], '\0');
    refused("4:abc", 5);
    refused("03:abc", 6);
    refused("99999999999999999999:a", 22);
    refused(":a", 2);
    refused("3abc", 4);
}
END_TEST

START_TEST(containers)
{
    ng_benc *v = dec("d1:ali1ei2ee1:bd1:c0:ee");
    const ng_benc *a = ng_benc_dict_get(v, "a"), *b = ng_benc_dict_get(v, "b");

    ck_assert_int_eq(a->type, NG_BENC_LIST);
    ck_assert(a->first->num == 1 && a->first->next->num == 2);
    ck_assert_str_eq(ng_benc_dict_str(b, "c"), "");
    ck_assert_ptr_null(ng_benc_dict_get(v, "z"));
    ck_assert_ptr_null(ng_benc_dict_get(a, "a"));   /* not a dictionary */
    ck_assert_ptr_null(ng_benc_dict_str(v, "a"));   /* not a string */
    ck_assert_str_eq(enc(dec("le")), "le");
    ck_assert_str_eq(enc(dec("de")), "de");
    refused("d", 1);
    refused("l", 1);
    refused("di1e1:ae", 8);            /* an integer key */
    refused("d1:ae", 5);               /* a key without a value */
    refused("lei0e", 5);               /* trailing bytes */
    refused("", 0);
    refused("x", 1);
}
END_TEST

START_TEST(depth_and_size)
{
    int n = NG_BENC_MAX_DEPTH;
    char *ok = apr_pstrcat(pool, unit_repeat("l", n), unit_repeat("e", n), NULL);
    char *deep = apr_pstrcat(pool, unit_repeat("l", n + 1), unit_repeat("e", n + 1), NULL);
    ng_benc *chain = ng_benc_list(pool), *c = chain;
    apr_size_t len;
    int i;

    dec(ok);
    refused(deep, strlen(deep));
    refused(unit_repeat("l", 100000), 100000);
    refused(unit_repeat("i1e", NG_BENC_MAX_ITEMS + 1), 3 * (NG_BENC_MAX_ITEMS + 1));
    dec(apr_pstrcat(pool, "l", unit_repeat("i1e", NG_BENC_MAX_ITEMS - 1), "e", NULL));
    refused(apr_pstrcat(pool, "l", unit_repeat("i1e", NG_BENC_MAX_ITEMS), "e", NULL),
            2 + 3 * NG_BENC_MAX_ITEMS);
    for (i = 1; i <= n; i++) {      /* n + 1 levels: too deep to encode */
        ng_benc *inner = ng_benc_list(pool);
        ng_benc_list_add(c, inner);
        c = inner;
    }
    ck_assert_ptr_null(ng_benc_encode(pool, chain, &len));
}
END_TEST

START_TEST(message_split)
{
    const char *cookie, *body;
    apr_size_t len;
    const char *m = "5c0ffee d6:result4:ponge";

    ck_assert_ptr_null(ng_message_split(pool, m, strlen(m), &cookie, &body, &len));
    ck_assert_str_eq(cookie, "5c0ffee");
    ck_assert_uint_eq(len, strlen("d6:result4:ponge"));
    ck_assert_int_eq(memcmp(body, "d6:result4:ponge", len), 0);
    ck_assert_ptr_nonnull(ng_message_split(pool, " d6:result4:ponge", 17, &cookie, &body, &len));
    ck_assert_ptr_nonnull(ng_message_split(pool, "abc", 3, &cookie, &body, &len));
    ck_assert_ptr_nonnull(ng_message_split(pool, "a\tb de", 6, &cookie, &body, &len));
    ck_assert_ptr_nonnull(ng_message_split(pool, "", 0, &cookie, &body, &len));
    m = apr_pstrcat(pool, unit_repeat("x", NG_MAX_COOKIE + 1), " de", NULL);
    ck_assert_ptr_nonnull(ng_message_split(pool, m, strlen(m), &cookie, &body, &len));
    m = apr_pstrcat(pool, unit_repeat("x", NG_MAX_COOKIE), " de", NULL);
    ck_assert_ptr_null(ng_message_split(pool, m, strlen(m), &cookie, &body, &len));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ng_bencode");
    TCase *tc = unit_tcase("ng_bencode");

    tcase_add_test(tc, ping);
    tcase_add_test(tc, offer);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, binary_strings);
    tcase_add_test(tc, containers);
    tcase_add_test(tc, depth_and_size);
    tcase_add_test(tc, message_split);
    suite_add_tcase(s, tc);
    return unit_run("ng_bencode", s);
}
