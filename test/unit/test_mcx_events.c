/* common/mcx/mcx_events: UCWA event packages as MCX notifications. */
#include "unit.h"
#include "mcx_events.h"
#include "mob_json.h"

#define A "/ucwa/oauth/v1/applications/9"

static mcx_batch convert(const char *json)
{
    json_t *pkg = mob_json_own(pool, json_loads(json, 0, NULL));
    const char *why = NULL;
    mcx_batch b;

    ck_assert_ptr_nonnull(pkg);
    ck_assert_int_eq(mcx_events_convert(pool, pkg, &b, &why), 0);
    return b;
}

#define NOTE(b, i) (&APR_ARRAY_IDX((b).notes, i, mcx_note))

START_TEST(im_events)
{
    mcx_batch b = convert(
        "{\"_links\":{\"self\":{\"href\":\"" A "/events?ack=4\"},\"next\":{\"href\":\"" A
        "/events?ack=5\"}},\"sender\":[{\"rel\":\"communication\",\"events\":["
        "{\"link\":{\"rel\":\"messagingInvitation\",\"href\":\"" A
        "/communication/messagingInvitations/ab12\"},\"_embedded\":{\"messagingInvitation\":"
        "{\"direction\":\"Incoming\",\"subject\":\"Lunch\",\"_links\":{\"conversation\":{\"href\":\""
        A "/communication/conversations/cd34\"},\"message\":{\"href\":"
        "\"data:text/plain;charset=utf-8,Hi+Bob%0d%0a\"}},\"_embedded\":{\"from\":{\"uri\":"
        "\"sip:alice@x\",\"name\":\"Alice\"}}}},\"type\":\"started\"},"
        "{\"link\":{\"rel\":\"messagingInvitation\",\"href\":\"" A
        "/communication/messagingInvitations/ab12\"},\"status\":\"Failure\",\"reason\":"
        "{\"code\":\"RemoteFailure\",\"subcode\":\"Declined\"},\"type\":\"completed\"},"
        "{\"link\":{\"rel\":\"conversation\",\"href\":\"" A "/communication/conversations/cd34\"},"
        "\"type\":\"deleted\"}]},"
        "{\"rel\":\"conversation\",\"events\":["
        "{\"link\":{\"rel\":\"message\",\"href\":\"" A "/communication/conversations/cd34/"
        "messaging/messages/3\"},\"_embedded\":{\"message\":{\"direction\":\"Incoming\","
        "\"_links\":{\"contact\":{\"href\":\"" A "/people/alice@x\"},\"participant\":"
        "{\"title\":\"Alice\"},\"plainMessage\":{\"href\":\"data:text/plain;charset=utf-8,ok\"}}}},"
        "\"type\":\"completed\"},"
        "{\"link\":{\"rel\":\"message\",\"href\":\"" A "/communication/conversations/cd34/"
        "messaging/messages/4\"},\"_embedded\":{\"message\":{\"direction\":\"Outgoing\"}},"
        "\"type\":\"completed\"},"
        "{\"link\":{\"rel\":\"participant\",\"href\":\"" A "/communication/conversations/cd34/"
        "participants/alice@x\"},\"in\":{\"rel\":\"typingParticipants\"},\"type\":\"added\"}]}]}");

    ck_assert_uint_eq(b.sequence, 4);
    ck_assert_uint_eq(b.next, 5);
    ck_assert_int_eq(b.notes->nelts, 5);   /* the outgoing message is not told */
    ck_assert_int_eq(NOTE(b, 0)->kind, MCX_N_INVITATION);
    ck_assert_str_eq(NOTE(b, 0)->invitation, "ab12");
    ck_assert_str_eq(NOTE(b, 0)->conversation, "cd34");
    ck_assert_str_eq(NOTE(b, 0)->uri, "sip:alice@x");
    ck_assert_str_eq(NOTE(b, 0)->text, "Hi Bob\r\n");
    ck_assert_str_eq(NOTE(b, 0)->subject, "Lunch");
    ck_assert_int_eq(NOTE(b, 1)->kind, MCX_N_INVITATION_RESULT);
    ck_assert_str_eq(NOTE(b, 1)->result, "Declined");
    ck_assert_int_eq(NOTE(b, 2)->kind, MCX_N_ENDED);
    ck_assert_str_eq(NOTE(b, 2)->conversation, "cd34");
    ck_assert_int_eq(NOTE(b, 3)->kind, MCX_N_MESSAGE);
    ck_assert_uint_eq(NOTE(b, 3)->number, 3);
    ck_assert_str_eq(NOTE(b, 3)->text, "ok");
    ck_assert_str_eq(NOTE(b, 3)->uri, "sip:alice@x");
    ck_assert_str_eq(NOTE(b, 3)->name, "Alice");
    ck_assert_int_eq(NOTE(b, 4)->kind, MCX_N_TYPING);
    ck_assert_str_eq(NOTE(b, 4)->uri, "sip:alice@x");
}
END_TEST

START_TEST(presence_once_per_contact)
{
    mcx_batch b = convert(
        "{\"_links\":{\"self\":{\"href\":\"" A "/events?ack=1\"},\"resume\":{\"href\":\"" A
        "/events?ack=2\"},\"next\":{\"href\":\"" A "/events?ack=2\"}},\"sender\":[{\"rel\":"
        "\"people\",\"events\":[{\"link\":{\"rel\":\"contactPresence\",\"href\":\"" A
        "/people/bob@x/presence\"},\"type\":\"updated\"},{\"link\":{\"rel\":\"contactNote\","
        "\"href\":\"" A "/people/bob@x/note\"},\"type\":\"updated\"}]},{\"rel\":\"me\","
        "\"events\":[{\"link\":{\"rel\":\"presence\",\"href\":\"" A "/me/presence\"},"
        "\"type\":\"updated\"}]}]}");

    ck_assert_int_eq(b.resume, 1);
    ck_assert_int_eq(b.notes->nelts, 2);
    ck_assert_int_eq(NOTE(b, 0)->kind, MCX_N_PRESENCE);
    ck_assert_str_eq(NOTE(b, 0)->uri, "sip:bob@x");
    ck_assert_str_eq(NOTE(b, 0)->fetch, A "/people/bob@x/presence");
    ck_assert_int_eq(NOTE(b, 1)->kind, MCX_N_MY_PRESENCE);
}
END_TEST

START_TEST(resync_and_refusal)
{
    json_t *bad = mob_json_own(pool, json_loads("{\"_links\":{}}", 0, NULL));
    const char *why = NULL;
    mcx_batch b = convert("{\"_links\":{\"self\":{\"href\":\"" A "/events?ack=7\"},"
                          "\"resync\":{\"href\":\"" A "/events?ack=3\"}},\"sender\":[]}");

    ck_assert_int_eq(b.resync, 1);
    ck_assert_uint_eq(b.next, 3);
    ck_assert_int_eq(mcx_events_convert(pool, bad, &b, &why), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(mcx_href_tail(pool, "/a/b/c?x=1"), "c");
    ck_assert_ptr_null(mcx_href_tail(pool, "/a/b/"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mcx_events");
    TCase *tc = unit_tcase("mcx_events");

    tcase_add_test(tc, im_events);
    tcase_add_test(tc, presence_once_per_contact);
    tcase_add_test(tc, resync_and_refusal);
    suite_add_tcase(s, tc);
    return unit_run("test_mcx_events", s);
}
