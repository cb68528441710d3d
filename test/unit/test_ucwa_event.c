/* ucwa_event: an event as data (hrefs relative to the application) and its rendering per
 * request with the application's base: the rewrite of relative hrefs (exact, data: URIs
 * and text that only looks like an href left alone), an event made from its JSON object
 * rendered back byte for byte, the layouts it refuses, and a slot of the store holding the
 * data and handing it back in a package. */
#include "unit.h"
#include "mob_json.h"
#include "ucwa_event.h"
#include "ucwa_store.h"

#define A "/ucwa/oauth/v1/applications/123"
#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

START_TEST(rebase_exact)
{
    ck_assert_str_eq(ucwa_event_rebase(pool, A, "\"in\":{\"rel\":\"x\",\"href\":\"/people\"}"),
                     "\"in\":{\"rel\":\"x\",\"href\":\"" A "/people\"}");
    /* two hrefs, a data URI, an absolute URL */
    ck_assert_str_eq(ucwa_event_rebase(pool, A, "{\"a\":{\"href\":\"/a\"},\"b\":{\"href\":"
                                       "\"data:text/plain,x\"},\"c\":{\"href\":\"https://h/\"},"
                                       "\"d\":{\"href\":\"/d?x=1\"}}"),
                     "{\"a\":{\"href\":\"" A "/a\"},\"b\":{\"href\":\"data:text/plain,x\"},"
                     "\"c\":{\"href\":\"https://h/\"},\"d\":{\"href\":\"" A "/d?x=1\"}}");
    /* inside a string value the quotes are escaped: not an href */
    ck_assert_str_eq(ucwa_event_rebase(pool, A, "\"message\":\"say \\\"href\\\":\\\"/x\"}"),
                     "\"message\":\"say \\\"href\\\":\\\"/x\"}");
    ck_assert_str_eq(ucwa_event_rebase(pool, A, ""), "");
    ck_assert_str_eq(ucwa_event_rebase(pool, "", "\"href\":\"/a\""), "\"href\":\"/a\"");
}
END_TEST

/* An event object with relative hrefs, made into data, rendered with base A, equals the
 * same object with A written into every relative href (what the rings held before). */
static void round_trip(const char *relative, const char *absolute)
{
    json_error_t err;
    json_t *ev = mob_json_own(pool, json_loads(relative, JSON_DECODE_ANY, &err));
    ucwa_event e;

    ck_assert_msg(ev != NULL, "%s", err.text);
    ck_assert_int_eq(ucwa_event_from_json(pool, "conversation", "/communication/conversations/c",
                                          ev, &e), 0);
    ck_assert_str_eq(ucwa_event_json(pool, A, &e), absolute);
    ck_assert_str_eq(ucwa_event_sender_json(pool, A, &e),
                     "\"rel\":\"conversation\",\"href\":\"" A "/communication/conversations/c\"");
}

START_TEST(from_json_renders_byte_for_byte)
{
    round_trip("{\"link\":{\"rel\":\"messaging\",\"href\":\"/m\"},\"type\":\"updated\"}",
               "{\"link\":{\"rel\":\"messaging\",\"href\":\"" A "/m\"},\"type\":\"updated\"}");
    /* a title that needs escaping, in, status, _embedded with a data URI, reason */
    round_trip("{\"link\":{\"rel\":\"participant\",\"href\":\"/p/b\",\"title\":\"B \\\"Q\\\" \\u00e9\\n\"},"
               "\"in\":{\"rel\":\"conversation\",\"href\":\"/c\"},\"status\":\"Success\","
               "\"_embedded\":{\"message\":{\"_links\":{\"self\":{\"href\":\"/c/m/1\"},"
               "\"plainMessage\":{\"href\":\"data:text/plain;charset=utf-8,hi\"}}}},"
               "\"reason\":{\"code\":\"x\"},\"type\":\"completed\"}",
               "{\"link\":{\"rel\":\"participant\",\"href\":\"" A "/p/b\",\"title\":\"B \\\"Q\\\" "
               "\xc3\xa9\\n\"},\"in\":{\"rel\":\"conversation\",\"href\":\"" A "/c\"},"
               "\"status\":\"Success\",\"_embedded\":{\"message\":{\"_links\":{\"self\":"
               "{\"href\":\"" A "/c/m/1\"},\"plainMessage\":{\"href\":"
               "\"data:text/plain;charset=utf-8,hi\"}}}},\"reason\":{\"code\":\"x\"},"
               "\"type\":\"completed\"}");
    /* an empty title is a title; members of the link after it */
    round_trip("{\"link\":{\"rel\":\"x\",\"href\":\"/x\",\"title\":\"\",\"revision\":2},"
               "\"type\":\"added\"}",
               "{\"link\":{\"rel\":\"x\",\"href\":\"" A "/x\",\"title\":\"\",\"revision\":2},"
               "\"type\":\"added\"}");
    /* type right after the link (makeMeAvailable's communication event) */
    round_trip("{\"link\":{\"rel\":\"communication\",\"href\":\"/communication\"},"
               "\"type\":\"updated\",\"_embedded\":{\"communication\":{\"_links\":{\"self\":"
               "{\"href\":\"/communication\"}}}}}",
               "{\"link\":{\"rel\":\"communication\",\"href\":\"" A "/communication\"},"
               "\"type\":\"updated\",\"_embedded\":{\"communication\":{\"_links\":{\"self\":"
               "{\"href\":\"" A "/communication\"}}}}}");
}
END_TEST

START_TEST(from_json_refuses_other_layouts)
{
    static const char *const bad[] = {
        "{\"type\":\"added\",\"link\":{\"rel\":\"x\",\"href\":\"/x\"}}",
        "{\"link\":{\"href\":\"/x\",\"rel\":\"x\"},\"type\":\"added\"}",
        "{\"link\":{\"rel\":\"x\",\"href\":\"/x\",\"a\":1,\"title\":\"t\"},\"type\":\"added\"}",
        "{\"link\":{\"rel\":\"x\",\"href\":\"/x\"},\"a\":1,\"type\":\"added\",\"b\":2}",
        "{\"link\":{\"rel\":\"x\"},\"type\":\"added\"}",
        "{\"link\":{\"rel\":\"x\",\"href\":\"/x\"}}",
        "{\"link\":{\"rel\":\"x\",\"href\":\"/x\",\"title\":3},\"type\":\"added\"}",
    };
    ucwa_event e;
    json_error_t err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *ev = mob_json_own(pool, json_loads(bad[i], 0, &err));
        ck_assert_ptr_nonnull(ev);
        ck_assert_msg(ucwa_event_from_json(pool, "s", "/s", ev, &e) == -1, "took %s", bad[i]);
    }
}
END_TEST

/* text with every % replaced by base */
static const char *with_base(const char *text, const char *base)
{
    const char *out = "";

    for (; *text; text++) {
        out = *text == '%' ? apr_pstrcat(pool, out, base, NULL)
                           : apr_pstrcat(pool, out, apr_pstrndup(pool, text, 1), NULL);
    }
    return out;
}

START_TEST(slot_holds_data)
{
    ucwa_store_limits l = { 2, 4, 256, 2, 1, 1 };
    void *mem = apr_pcalloc(pool, ucwa_store_bytes(&l) + 8);
    ucwa_store *s = ucwa_store_init((void *)(((apr_uintptr_t)mem + 7) & ~(apr_uintptr_t)7), &l);
    ucwa_app_params in;
    ucwa_windows w = { 0, 0 };
    ucwa_package pkg;
    ucwa_event e, big;
    apr_size_t len;
    int idx = -1;
    char *pad;

    memset(&in, 0, sizeof(in));
    in.user = "alice@contoso.test";
    in.endpoint_id = "ep";
    in.user_agent = "tests";
    in.culture = "en-US";
    in.prefix = "/ucwa/oauth/v1/applications";
    ck_assert_int_eq(ucwa_store_create_locked(s, &in, T0, &idx), UCWA_CREATE_NEW);
    memset(&e, 0, sizeof(e));
    e.sender_rel = "people";
    e.sender_href = "/people";
    e.rel = "contact";
    e.href = "/people/b@contoso.test";
    e.title = "";
    e.extra = "\"in\":{\"rel\":\"group\",\"href\":\"/people/groups/G\"}";
    e.type = "added";
    ck_assert_int_eq(ucwa_store_post_locked(s, idx, UCWA_PRIO_HIGH, &e, T0), 0);
    ck_assert_int_eq(ucwa_store_post_user_locked(s, ucwa_store_app(s, idx)->user, 0,
                                                 UCWA_PRIO_HIGH, "people", "/people", "group",
                                                 "/people/groups/G", "deleted", T0, pool), 1);
    /* too big for a slot of 256 bytes, header included: not stored */
    big = e;
    pad = apr_pcalloc(pool, 200);
    memset(pad, 'x', 199);
    big.title = pad;
    ck_assert_uint_gt(ucwa_event_bytes(&big), 256);
    ck_assert_int_eq(ucwa_store_post_locked(s, idx, UCWA_PRIO_HIGH, &big, T0), -1);
    ck_assert_int_eq(ucwa_store_poll_locked(s, idx, 1, &w, 0, T0, pool, &pkg), UCWA_POLL_READY);
    ck_assert_int_eq(pkg.count, 2);
    ck_assert_str_eq(pkg.events[0].href, "/people/b@contoso.test");
    ck_assert_str_eq(pkg.events[0].title, "");
    ck_assert_ptr_null(pkg.events[1].title);
    ck_assert_int_eq(pkg.events[1].prio, UCWA_PRIO_HIGH);
    ck_assert_str_eq(ucwa_package_json(pool, ucwa_store_app(s, idx)->base, &pkg, 0, &len),
                     with_base("{\"_links\":{\"self\":{\"href\":\"%/events?ack=1\"},"
                                  "\"next\":{\"href\":\"%/events?ack=2\"}},\"sender\":[{"
                                  "\"rel\":\"people\",\"href\":\"%/people\",\"events\":[{"
                                  "\"link\":{\"rel\":\"contact\",\"href\":"
                                  "\"%/people/b@contoso.test\",\"title\":\"\"},\"in\":{"
                                  "\"rel\":\"group\",\"href\":\"%/people/groups/G\"},"
                                  "\"type\":\"added\"},{\"link\":{\"rel\":\"group\",\"href\":"
                                  "\"%/people/groups/G\"},\"type\":\"deleted\"}]}]}",
                                  ucwa_store_app(s, idx)->base));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_event");
    TCase *tc = unit_tcase("ucwa_event");

    tcase_add_test(tc, rebase_exact);
    tcase_add_test(tc, from_json_renders_byte_for_byte);
    tcase_add_test(tc, from_json_refuses_other_layouts);
    tcase_add_test(tc, slot_holds_data);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_event", s);
}
