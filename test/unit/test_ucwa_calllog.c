/* common/ucwa/ucwa_calllog: ids, previews, the SQL of conversation logs on SQLite (the
 * migrations of ucwa_schema applied first), and the resources. */
#include <apr_strings.h>
#include <jansson.h>

#include "unit_sqlite.h"
#include "ucwa_calllog.h"
#include "ucwa_schema.h"

static ucwa_db db;

static void setup(void)
{
    ucwa_schema_result res;
    const char *err = NULL;

    unit_sqlite_open("ucwa-calllog", "l.db", &db);
    ck_assert_int_eq(ucwa_schema_migrate(pool, db.driver, db.handle, apr_time_now(), &res,
                                         &err), APR_SUCCESS);
}

static void teardown(void)
{
    unit_sqlite_close(&db);
}

static ucwa_calllog entry(const char *owner, const char *id, ucwa_calllog_status st,
                          apr_int64_t created)
{
    ucwa_calllog e;

    memset(&e, 0, sizeof(e));
    e.id = id;
    e.owner = owner;
    e.type = ucwa_calllog_kind_name(UCWA_CALLLOG_MESSAGE);
    e.direction = ucwa_calllog_direction_name(UCWA_CALLLOG_INCOMING);
    e.status = ucwa_calllog_status_name(st);
    e.peer = "bob@x.test";
    e.peer_name = "Bob";
    e.modalities = "Messaging";
    e.preview = "hello";
    e.created = created;
    e.unread = 1;
    return e;
}

START_TEST(ids)
{
    const char *a = ucwa_calllog_new_id(pool, "a@x.test", "MessageLog", "fe\nc1");
    const char *b = ucwa_calllog_new_id(pool, "a@x.test", "MessageLog", "fe\nc1");
    const char *c = ucwa_calllog_new_id(pool, "b@x.test", "MessageLog", "fe\nc1");
    const char *r1 = ucwa_calllog_new_id(pool, "a@x.test", "MessageLog", NULL);
    const char *r2 = ucwa_calllog_new_id(pool, "a@x.test", "MessageLog", NULL);

    ck_assert(ucwa_calllog_id_valid(a));
    ck_assert_str_eq(a, b);            /* the same conversation recorded twice: one id */
    ck_assert_str_ne(a, c);            /* another owner: another id */
    ck_assert(ucwa_calllog_id_valid(r1));
    ck_assert_str_ne(r1, r2);
    ck_assert(!ucwa_calllog_id_valid(NULL));
    ck_assert(!ucwa_calllog_id_valid(""));
    ck_assert(!ucwa_calllog_id_valid("0123456789abcdef0123456"));
    ck_assert(!ucwa_calllog_id_valid("0123456789abcdef0123456A"));
    ck_assert(!ucwa_calllog_id_valid("0123456789abcdef01234567a"));
    ck_assert(ucwa_calllog_id_valid("0123456789abcdef01234567"));
}
END_TEST

START_TEST(previews)
{
    const char *html = "<p>Hi&nbsp;<b>there</b></p>\r\n<br/>&lt;3 &amp; more&unknown;";
    char *longtext = unit_repeat("\xc3\xa9", 150);   /* 300 bytes of é */
    const char *p;

    ck_assert_str_eq(ucwa_calllog_preview(pool, UCWA_MSG_PLAIN, "  a\tb\r\n\nc  ", 11), "a b c");
    ck_assert_str_eq(ucwa_calllog_preview(pool, UCWA_MSG_PLAIN, "<b>x</b>", 8), "<b>x</b>");
    ck_assert_str_eq(ucwa_calllog_preview(pool, UCWA_MSG_HTML, html, strlen(html)),
                     "Hi there <3 & more&unknown;");
    ck_assert_str_eq(ucwa_calllog_preview(pool, UCWA_MSG_HTML, "a<unclosed", 10), "a");
    ck_assert_str_eq(ucwa_calllog_preview(pool, UCWA_MSG_PLAIN, "", 0), "");
    p = ucwa_calllog_preview(pool, UCWA_MSG_PLAIN, longtext, strlen(longtext));
    ck_assert_uint_eq(strlen(p), UCWA_CALLLOG_PREVIEW_MAX);   /* 100 whole characters */
    longtext = apr_pstrcat(pool, "x", longtext, NULL);
    p = ucwa_calllog_preview(pool, UCWA_MSG_PLAIN, longtext, strlen(longtext));
    ck_assert_uint_eq(strlen(p), UCWA_CALLLOG_PREVIEW_MAX - 1);   /* not half an é */
}
END_TEST

START_TEST(add_get_and_counts)
{
    ucwa_calllog e = entry("a@x.test", "000000000000000000000001", UCWA_CALLLOG_MISSED, 1000);
    ucwa_calllog f = entry("a@x.test", "000000000000000000000002", UCWA_CALLLOG_ARCHIVED, 2000);
    ucwa_calllog got;
    ucwa_calllog_counts c;

    ck_assert_int_eq(ucwa_calllog_count(&db, pool, "a@x.test", &c), 0);
    ck_assert_int_eq(c.logs + c.missed + c.unread_missed, 0);
    ck_assert_int_eq(ucwa_calllog_add(&db, pool, &e), 1);
    ck_assert_int_eq(ucwa_calllog_add(&db, pool, &e), 0);   /* recorded twice: one row */
    ck_assert_int_eq(ucwa_calllog_add(&db, pool, &f), 1);
    ck_assert_int_eq(ucwa_calllog_count(&db, pool, "a@x.test", &c), 0);
    ck_assert_int_eq(c.logs, 2);
    ck_assert_int_eq(c.missed, 1);
    ck_assert_int_eq(c.unread_missed, 1);
    ck_assert_int_eq(ucwa_calllog_get(&db, pool, "a@x.test", e.id, &got), 1);
    ck_assert_str_eq(got.status, "Missed");
    ck_assert_str_eq(got.type, "MessageLog");
    ck_assert_str_eq(got.direction, "Incoming");
    ck_assert_str_eq(got.peer, "bob@x.test");
    ck_assert_str_eq(got.peer_name, "Bob");
    ck_assert_str_eq(got.preview, "hello");
    ck_assert_str_eq(got.importance, "Normal");
    ck_assert_int_eq(got.created, 1000);
    ck_assert(got.unread);
    /* another user's id is not found; another user's counts are not touched */
    ck_assert_int_eq(ucwa_calllog_get(&db, pool, "b@x.test", e.id, &got), 0);
    ck_assert_int_eq(ucwa_calllog_mark_read(&db, pool, "b@x.test", e.id), 0);
    ck_assert_int_eq(ucwa_calllog_delete(&db, pool, "b@x.test", e.id), 0);
    /* markAsRead once */
    ck_assert_int_eq(ucwa_calllog_mark_read(&db, pool, "a@x.test", e.id), 1);
    ck_assert_int_eq(ucwa_calllog_mark_read(&db, pool, "a@x.test", e.id), 0);
    ck_assert_int_eq(ucwa_calllog_count(&db, pool, "a@x.test", &c), 0);
    ck_assert_int_eq(c.missed, 1);
    ck_assert_int_eq(c.unread_missed, 0);
    ck_assert_int_eq(ucwa_calllog_delete(&db, pool, "a@x.test", e.id), 1);
    ck_assert_int_eq(ucwa_calllog_delete(&db, pool, "a@x.test", e.id), 0);
    ck_assert_int_eq(ucwa_calllog_count(&db, pool, "a@x.test", &c), 0);
    ck_assert_int_eq(c.logs, 1);
    ck_assert_int_eq(c.missed, 0);
}
END_TEST

START_TEST(newest_first_bounded)
{
    apr_array_header_t *list;
    ucwa_calllog_counts c;
    int i;

    for (i = 0; i < UCWA_CALLLOG_MAX + 5; i++) {
        ucwa_calllog e = entry("a@x.test", apr_psprintf(pool, "%024d", i),
                               UCWA_CALLLOG_MISSED, 1000 + i);
        ck_assert_int_eq(ucwa_calllog_add(&db, pool, &e), 1);
    }
    ucwa_calllog f = entry("b@x.test", apr_psprintf(pool, "%024d", 1), UCWA_CALLLOG_MISSED, 1);
    ck_assert_int_eq(ucwa_calllog_add(&db, pool, &f), 1);
    ck_assert_int_eq(ucwa_calllog_count(&db, pool, "a@x.test", &c), 0);
    ck_assert_int_eq(c.logs, UCWA_CALLLOG_MAX);   /* the 5 oldest went */
    ck_assert_int_eq(ucwa_calllog_list(&db, pool, "a@x.test", 3, &list), 0);
    ck_assert_int_eq(list->nelts, 3);
    ck_assert_int_eq(APR_ARRAY_IDX(list, 0, ucwa_calllog).created, 1000 + UCWA_CALLLOG_MAX + 4);
    ck_assert_int_eq(APR_ARRAY_IDX(list, 2, ucwa_calllog).created, 1000 + UCWA_CALLLOG_MAX + 2);
    ck_assert_int_eq(ucwa_calllog_list(&db, pool, "a@x.test", 1000, &list), 0);
    ck_assert_int_eq(list->nelts, UCWA_CALLLOG_MAX);
    ck_assert_int_eq(APR_ARRAY_IDX(list, UCWA_CALLLOG_MAX - 1, ucwa_calllog).created, 1005);
    ck_assert_int_eq(ucwa_calllog_count(&db, pool, "b@x.test", &c), 0);
    ck_assert_int_eq(c.logs, 1);                  /* nobody else's entries */
}
END_TEST

START_TEST(resources)
{
    ucwa_calllog e = entry("a@x.test", "00000000000000000000000a", UCWA_CALLLOG_MISSED,
                           1717200000123LL);
    ucwa_calllog_counts c = { 5, 2, 1 };
    apr_array_header_t *logs = apr_array_make(pool, 1, sizeof(ucwa_calllog));
    const char *base = "/ucwa/oauth/v1/applications/12";
    json_t *o, *r;

    e.modalities = "Audio,Video";
    o = ucwa_calllog_res_entry(pool, base, &e);
    ck_assert_str_eq(json_string_value(json_object_get(o, "rel")), "conversationLog");
    ck_assert_str_eq(json_string_value(json_object_get(o, "creationTime")),
                     "/Date(1717200000123)/");
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "Missed");
    ck_assert_str_eq(json_string_value(json_object_get(o, "previewMessage")), "hello");
    ck_assert_int_eq(json_array_size(json_object_get(o, "modalities")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "modalities"), 1)),
                     "Video");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(o,
                     "_links"), "markAsRead"), "href")),
                     "/ucwa/oauth/v1/applications/12/communication/conversationLogs/"
                     "00000000000000000000000a/markAsRead");
    r = json_array_get(json_object_get(json_object_get(o, "_embedded"),
                                       "conversationLogRecipient"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "sipUri")), "sip:bob@x.test");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(r,
                     "_links"), "contact"), "href")),
                     "/ucwa/oauth/v1/applications/12/people/bob@x.test");
    e.unread = 0;
    e.preview = "";
    o = ucwa_calllog_res_entry(pool, base, &e);
    ck_assert_ptr_null(json_object_get(json_object_get(o, "_links"), "markAsRead"));
    ck_assert_ptr_null(json_object_get(o, "previewMessage"));

    o = ucwa_calllog_res_list(pool, base, logs, NULL);
    ck_assert_ptr_null(json_object_get(json_object_get(o, "_links"), "conversationLog"));
    APR_ARRAY_PUSH(logs, ucwa_calllog) = e;
    o = ucwa_calllog_res_list(pool, base, logs, "limit=1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(o,
                     "_links"), "self"), "href")),
                     "/ucwa/oauth/v1/applications/12/communication/conversationLogs?limit=1");
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(o, "_links"),
                                                     "conversationLog")), 1);

    o = ucwa_calllog_res_missed(pool, base, &c);
    ck_assert_str_eq(json_string_value(json_object_get(o, "rel")), "missedItems");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "conversationLogsCount")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "missedConversationsCount")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "unreadMissedConversationsCount")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "voiceMailsCount")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "unreadVoicemailsCount")), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_calllog");
    TCase *tc = tcase_create("ucwa_calllog");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ids);
    tcase_add_test(tc, previews);
    tcase_add_test(tc, add_get_and_counts);
    tcase_add_test(tc, newest_first_bounded);
    tcase_add_test(tc, resources);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_calllog", s);
}
