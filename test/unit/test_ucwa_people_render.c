/* ucwa_people_render and ucwa_photo: the inputs of the people resources (addresses,
 * search queries and limits, LIKE patterns), their JSON documents in the layout of the
 * real captures, the ASP.NET date spelling, the contact list events, and photos. */
#include <apr_base64.h>

#include "unit.h"
#include "mob_json.h"
#include "ucwa_people_render.h"
#include "ucwa_store.h"
#include "ucwa_photo.h"
#include "ucwa_event.h"

#define A "/ucwa/oauth/v1/applications/105"

static const char *dump(const json_t *j)
{
    return mob_json_dump(pool, j, NULL);
}

static const char *href(const json_t *doc, const char *rel)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(doc, "_links"),
                                                             rel), "href"));
}

START_TEST(utf8_length)
{
    ck_assert_int_eq(ucwa_people_utf8_length(""), 0);
    ck_assert_int_eq(ucwa_people_utf8_length("abc"), 3);
    ck_assert_int_eq(ucwa_people_utf8_length("\xc3\xa9t\xc3\xa9"), 3);
    ck_assert_int_eq(ucwa_people_utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), 2);
    ck_assert_int_eq(ucwa_people_utf8_length("\xc0\xaf"), -1);          /* overlong */
    ck_assert_int_eq(ucwa_people_utf8_length("\xe0\x80\xaf"), -1);      /* overlong */
    ck_assert_int_eq(ucwa_people_utf8_length("\xed\xa0\x80"), -1);      /* surrogate */
    ck_assert_int_eq(ucwa_people_utf8_length("\xf4\x90\x80\x80"), -1);  /* > U+10FFFF */
    ck_assert_int_eq(ucwa_people_utf8_length("\xc3"), -1);              /* cut short */
    ck_assert_int_eq(ucwa_people_utf8_length("\xff"), -1);
}
END_TEST

START_TEST(addresses)
{
    ck_assert_str_eq(ucwa_people_address(pool, "bob@contoso.test"), "bob@contoso.test");
    ck_assert_str_eq(ucwa_people_address(pool, "sip:Bob@Contoso.TEST"), "bob@contoso.test");
    ck_assert_str_eq(ucwa_people_address(pool, "SIP:o'brien+x@sub.contoso.test"),
                     "o'brien+x@sub.contoso.test");
    ck_assert_str_eq(ucwa_people_address(pool, "first.last@contoso.test"),
                     "first.last@contoso.test");
    {
        static const char *const bad[] = {
            "", "bob", "@contoso.test", "bob@", "bob@contoso", "bob@@contoso.test",
            "a@b@contoso.test", ".bob@contoso.test", "bob.@contoso.test", "b..ob@contoso.test",
            "bob@-contoso.test", "bob@contoso-.test", "bob@contoso..test", "bob@contoso.test.",
            "bob smith@contoso.test", "bob@contoso.test;x", "bob%40@contoso.test",
            "bob@contoso.test/../x", "' OR 1=1 --@contoso.test", "bob\"@contoso.test",
            "b\xc3\xa9@contoso.test", "bob@contoso_x.test", "sip:", "tel:+14255550101",
            NULL
        };
        int i;
        for (i = 0; bad[i]; i++) {
            ck_assert_msg(ucwa_people_address(pool, bad[i]) == NULL, "'%s' accepted", bad[i]);
        }
    }
    ck_assert_ptr_null(ucwa_people_address(pool, NULL));
    ck_assert_ptr_nonnull(ucwa_people_address(pool, apr_pstrcat(pool, unit_repeat("a", 64),
                                                                "@contoso.test", NULL)));
    ck_assert_ptr_null(ucwa_people_address(pool, apr_pstrcat(pool, unit_repeat("a", 65),
                                                             "@contoso.test", NULL)));
    ck_assert_ptr_null(ucwa_people_address(pool, apr_pstrcat(
        pool, "a@", unit_repeat("abcdefghi.", 25), "test", NULL)));   /* 256 bytes */
}
END_TEST

START_TEST(queries_and_limits)
{
    ck_assert_ptr_null(ucwa_people_query_check("bob"));
    ck_assert_ptr_null(ucwa_people_query_check(unit_repeat("\xc3\xa9", 256)));
    ck_assert_ptr_nonnull(ucwa_people_query_check(unit_repeat("x", 257)));
    ck_assert_ptr_nonnull(ucwa_people_query_check(""));
    ck_assert_ptr_nonnull(ucwa_people_query_check(NULL));
    ck_assert_ptr_nonnull(ucwa_people_query_check("\xff"));
    ck_assert_int_eq(ucwa_people_limit(NULL), UCWA_SEARCH_LIMIT_DEFAULT);
    ck_assert_int_eq(ucwa_people_limit("1"), 1);
    ck_assert_int_eq(ucwa_people_limit("100"), 100);
    ck_assert_int_eq(ucwa_people_limit("007"), 7);
    ck_assert_int_eq(ucwa_people_limit("0"), -1);
    ck_assert_int_eq(ucwa_people_limit("101"), -1);
    ck_assert_int_eq(ucwa_people_limit("-1"), -1);
    ck_assert_int_eq(ucwa_people_limit(""), -1);
    ck_assert_int_eq(ucwa_people_limit("1e2"), -1);
    ck_assert_int_eq(ucwa_people_limit("0100"), -1);
    ck_assert_int_eq(ucwa_people_limit(" 5"), -1);
}
END_TEST

START_TEST(like_patterns)
{
    ck_assert_str_eq(ucwa_people_like_pattern(pool, "Bob"), "%bob%");
    ck_assert_str_eq(ucwa_people_like_pattern(pool, "%"), "%\\%%");
    ck_assert_str_eq(ucwa_people_like_pattern(pool, "_"), "%\\_%");
    ck_assert_str_eq(ucwa_people_like_pattern(pool, "a\\b"), "%a\\\\b%");
    ck_assert_str_eq(ucwa_people_like_pattern(pool, "' OR 1=1 --"), "%' or 1=1 --%");
    ck_assert_str_eq(ucwa_people_like_pattern(pool, "\xc3\x89"), "%\xc3\x89%");
}
END_TEST

static ucwa_person sara(void)
{
    ucwa_person p;

    memset(&p, 0, sizeof(p));
    p.sip = "sarad@contoso.com";
    p.uri = "SaraD@contoso.com";
    p.known = 1;
    p.name = "Sara Davis";
    p.company = "Metio";
    p.department = "Sales & Marketing";
    p.office = "20/2107";
    p.title = "Product Manager";
    p.email = "SaraD@contoso.com";
    p.work_phone = "tel:+19185550107";
    return p;
}

/* The capture of SearchForUsersContact.md, property for property. */
START_TEST(contact_as_captured)
{
    ucwa_person p = sara();
    json_t *c = ucwa_people_contact(pool, A, &p), *copy;
    const char *etag;
    const char *keys[] = { "uri", "sourceNetwork", "company", "department", "office", "title",
                           "emailAddresses", "workPhoneNumber", "type", "name", "_links", "rel",
                           "etag" };
    const char *links[] = { "self", "contactPhoto", "contactPresence", "contactLocation",
                            "contactNote", "contactSupportedModalities",
                            "contactPrivacyRelationship" };
    const char *key;
    json_t *v;
    size_t i = 0;

    json_object_foreach(c, key, v) {
        ck_assert_msg(i < 13 && !strcmp(key, keys[i]), "property %zu is %s", i, key);
        i++;
    }
    ck_assert_uint_eq(i, 13);
    i = 0;
    json_object_foreach(json_object_get(c, "_links"), key, v) {
        ck_assert_str_eq(key, links[i++]);
    }
    ck_assert_str_eq(json_string_value(json_object_get(c, "uri")), "sip:SaraD@contoso.com");
    ck_assert_str_eq(href(c, "self"), A "/people/sarad@contoso.com");
    ck_assert_str_eq(href(c, "contactPhoto"), A "/photos/sarad@contoso.com");
    ck_assert_str_eq(href(c, "contactPresence"), A "/people/sarad@contoso.com/presence");
    ck_assert_str_eq(href(c, "contactSupportedModalities"),
                     A "/people/sarad@contoso.com/supportedMedia");
    ck_assert_str_eq(href(c, "contactPrivacyRelationship"),
                     A "/people/sarad@contoso.com/privacyRelationship");
    ck_assert_str_eq(json_string_value(json_object_get(c, "sourceNetwork")), "SameEnterprise");
    ck_assert_str_eq(json_string_value(json_object_get(c, "rel")), "contact");
    /* the etag is a decimal hash of the rest */
    etag = json_string_value(json_object_get(c, "etag"));
    copy = mob_json_own(pool, json_deep_copy(c));
    json_object_del(copy, "etag");
    ck_assert_str_eq(etag, ucwa_people_etag(pool, copy));
    ck_assert_uint_eq(strspn(etag, "0123456789"), strlen(etag));
}
END_TEST

/* An address the directory does not show: the same answer whether it exists or not. */
START_TEST(unknown_contact)
{
    ucwa_person p;
    json_t *c;

    memset(&p, 0, sizeof(p));
    p.sip = "ghost@contoso.test";
    c = ucwa_people_contact(pool, A, &p);
    ck_assert_str_eq(json_string_value(json_object_get(c, "uri")), "sip:ghost@contoso.test");
    ck_assert_str_eq(json_string_value(json_object_get(c, "name")), "ghost@contoso.test");
    ck_assert_str_eq(json_string_value(json_object_get(c, "sourceNetwork")), "Federated");
    ck_assert_str_eq(json_string_value(json_object_get(c, "type")), "User");
    ck_assert_ptr_null(json_object_get(c, "emailAddresses"));
    ck_assert_ptr_null(json_object_get(c, "title"));
    ck_assert_str_eq(href(c, "self"), A "/people/ghost@contoso.test");
}
END_TEST

START_TEST(contact_lists)
{
    ucwa_person list[2];
    json_t *doc, *arr;

    list[0] = sara();
    memset(&list[1], 0, sizeof(list[1]));
    list[1].sip = "x@fabrikam.test";
    doc = ucwa_people_contacts(pool, A, NULL, list, 2, 1);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "rel")), "myContacts");
    ck_assert_str_eq(href(doc, "self"), A "/people/contacts");
    arr = json_object_get(json_object_get(doc, "_embedded"), "contact");
    ck_assert_uint_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "rel")), "contact");
    /* expand=false: links only, an array even for one */
    doc = ucwa_people_contacts(pool, A, "pinned", list, 1, 0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "rel")), "groupContacts");
    ck_assert_str_eq(href(doc, "self"), A "/people/contacts?groupId=pinned");
    ck_assert_ptr_null(json_object_get(doc, "_embedded"));
    arr = json_object_get(json_object_get(doc, "_links"), "contact");
    ck_assert(json_is_array(arr));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "href")),
                     A "/people/sarad@contoso.com");
    doc = ucwa_people_contacts(pool, A, NULL, list, 0, 1);
    ck_assert_str_eq(dump(doc), "{\"_links\":{\"self\":{\"href\":\"" A "/people/contacts\"}},"
                                "\"_embedded\":{\"contact\":[]},\"rel\":\"myContacts\"}");
}
END_TEST

/* GetPresenceDataOfAContact.md: pinnedGroup, defaultGroup, group[], distributionGroup[]. */
START_TEST(groups_as_captured)
{
    ucwa_group gs[3] = {
        { "pinned", "Pinned Contacts", UCWA_GROUP_KIND_PINNED },
        { "default", "Other Contacts", UCWA_GROUP_KIND_DEFAULT },
        { "AbCdEfGhIjKlMnOp", "Team", UCWA_GROUP_KIND_CUSTOM },
    };
    json_t *doc = ucwa_people_groups(pool, A, gs, 3, 1), *emb, *g;
    const char *key;
    json_t *v;
    const char *order[] = { "pinnedGroup", "defaultGroup", "group", "distributionGroup" };
    size_t i = 0;

    ck_assert_str_eq(json_string_value(json_object_get(doc, "rel")), "myGroups");
    emb = json_object_get(doc, "_embedded");
    json_object_foreach(emb, key, v) {
        ck_assert_str_eq(key, order[i++]);
    }
    g = json_object_get(emb, "pinnedGroup");
    ck_assert_str_eq(json_string_value(json_object_get(g, "id")), "pinned");
    ck_assert_str_eq(json_string_value(json_object_get(g, "name")), "Pinned Contacts");
    ck_assert_str_eq(json_string_value(json_object_get(g, "rel")), "pinnedGroup");
    ck_assert_str_eq(href(g, "self"), A "/people/groups/pinned");
    ck_assert_str_eq(href(g, "groupContacts"), A "/people/contacts?groupId=pinned");
    ck_assert_str_eq(href(g, "subscribeToGroupPresence"),
                     A "/people/presenceSubscriptions?groupId=pinned");
    g = json_array_get(json_object_get(emb, "group"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(g, "rel")), "group");
    ck_assert_ptr_nonnull(json_object_get(g, "etag"));
    ck_assert_uint_eq(json_array_size(json_object_get(emb, "distributionGroup")), 0);
    /* links only */
    doc = ucwa_people_groups(pool, A, gs, 3, 0);
    ck_assert_ptr_null(json_object_get(doc, "_embedded"));
    ck_assert_str_eq(href(doc, "defaultGroup"), A "/people/groups/default");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(
        json_object_get(doc, "_links"), "group"), 0), "href")), A "/people/groups/AbCdEfGhIjKlMnOp");
}
END_TEST

START_TEST(memberships)
{
    ucwa_membership ms[2] = { { "default", "bob@contoso.test" },
                              { "AbCdEfGhIjKlMnOp", "bob@contoso.test" } };
    ucwa_group_kind kinds[2] = { UCWA_GROUP_KIND_DEFAULT, UCWA_GROUP_KIND_CUSTOM };
    json_t *doc = ucwa_people_memberships(pool, A, NULL, ms, kinds, 2), *m;

    ck_assert_str_eq(json_string_value(json_object_get(doc, "rel")), "myGroupMemberships");
    ck_assert_str_eq(href(doc, "removeContactFromAllGroups"),
                     A "/people/groupMemberships/removeContactFromAllGroups");
    m = json_array_get(json_object_get(json_object_get(doc, "_embedded"), "myGroupMembership"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(m, "rel")), "myGroupMembership");
    ck_assert_str_eq(href(m, "self"), A "/people/groupMemberships/default/bob@contoso.test");
    ck_assert_str_eq(href(m, "contact"), A "/people/bob@contoso.test");
    ck_assert_str_eq(href(m, "defaultGroup"), A "/people/groups/default");
    m = json_array_get(json_object_get(json_object_get(doc, "_embedded"), "myGroupMembership"), 1);
    ck_assert_str_eq(href(m, "group"), A "/people/groups/AbCdEfGhIjKlMnOp");
    doc = ucwa_people_memberships(pool, A, "default", ms, kinds, 1);
    ck_assert_str_eq(href(doc, "self"), A "/people/groupMemberships?groupId=default");
}
END_TEST

START_TEST(search_results)
{
    ucwa_person p = sara();
    json_t *doc = ucwa_people_search(pool, A, "sarad@contoso.com", "3", &p, 1, 1);

    ck_assert_str_eq(json_string_value(json_object_get(doc, "rel")), "search");
    ck_assert(json_is_true(json_object_get(doc, "moreResultsAvailable")));
    ck_assert_str_eq(href(doc, "self"), A "/people/search?query=sarad@contoso.com&limit=3");
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(doc, "_embedded"),
                                                      "contact")), 1);
    doc = ucwa_people_search(pool, A, "a&b=c d", NULL, NULL, 0, 0);
    ck_assert(json_is_false(json_object_get(doc, "moreResultsAvailable")));
    ck_assert_str_eq(href(doc, "self"), A "/people/search?query=a%26b%3Dc%20d");
}
END_TEST

START_TEST(presence_and_dates)
{
    ucwa_contact_presence pr = { "Offline", NULL, "Unknown", apr_time_from_msec(1358827096000) };
    json_t *doc = ucwa_people_presence(pool, A, "sarad@contoso.com", &pr, 0);
    apr_size_t len = 0;
    const char *text = ucwa_people_json(pool, doc, &len);

    /* GetPresenceDataOfAContact.md, byte for byte */
    ck_assert_str_eq(text, "{\"availability\":\"Offline\",\"deviceType\":\"Unknown\","
                           "\"lastActive\":\"\\/Date(1358827096000)\\/\",\"_links\":{\"self\":"
                           "{\"href\":\"" A "/people/sarad@contoso.com/presence\"}},"
                           "\"rel\":\"contactPresence\"}");
    ck_assert_uint_eq(len, strlen(text));
    /* parsed back, the value is the same string */
    ck_assert_str_eq(json_string_value(json_object_get(mob_json_own(pool, json_loads(text, 0, NULL)),
                                                       "lastActive")), "/Date(1358827096000)/");
    /* XML gets ISO 8601 */
    doc = ucwa_people_presence(pool, A, "sarad@contoso.com", &pr, 1);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "lastActive")), "2013-01-22T03:58:16Z");
    /* no activity, no lastActive when unknown */
    pr.last_active = 0;
    pr.availability = "Busy";
    pr.activity = "in-a-meeting";
    pr.device_type = "Mobile";
    doc = ucwa_people_presence(pool, A, "x@contoso.test", &pr, 0);
    ck_assert_ptr_null(json_object_get(doc, "lastActive"));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "activity")), "in-a-meeting");
    /* a note that looks like a date is harmless: still the same string */
    text = ucwa_people_json(pool, ucwa_people_note(pool, A, "x@contoso.test", "/Date(1)/"), NULL);
    ck_assert_str_eq(json_string_value(json_object_get(mob_json_own(pool, json_loads(text, 0, NULL)),
                                                       "message")), "/Date(1)/");
    ck_assert_str_eq(ucwa_people_json(pool, mob_json_own(pool, json_pack("{s:s}", "a", "/Date(x)/")), NULL),
                     "{\"a\":\"/Date(x)/\"}");
}
END_TEST

START_TEST(sub_resources)
{
    json_t *d;

    d = ucwa_people_note(pool, A, "b@c.test", "Heads down");
    ck_assert_str_eq(dump(d), "{\"message\":\"Heads down\",\"type\":\"Personal\",\"_links\":"
                              "{\"self\":{\"href\":\"" A "/people/b@c.test/note\"}},"
                              "\"rel\":\"contactNote\"}");
    d = ucwa_people_note(pool, A, "b@c.test", "");
    ck_assert_ptr_null(json_object_get(d, "message"));
    d = ucwa_people_location(pool, A, "b@c.test", "Building 7");
    ck_assert_str_eq(json_string_value(json_object_get(d, "location")), "Building 7");
    ck_assert_str_eq(json_string_value(json_object_get(d, "rel")), "contactLocation");
    d = ucwa_people_media(pool, A, "b@c.test", UCWA_MOD_MESSAGING);
    ck_assert_str_eq(dump(json_object_get(d, "modalities")), "[\"Messaging\"]");
    d = ucwa_people_media(pool, A, "b@c.test",
                          UCWA_MOD_MESSAGING | UCWA_MOD_AUDIO | UCWA_MOD_VIDEO);
    ck_assert_str_eq(dump(json_object_get(d, "modalities")),
                     "[\"Messaging\",\"Audio\",\"Video\"]");
    ck_assert_str_eq(href(d, "self"), A "/people/b@c.test/supportedMedia");
    d = ucwa_people_media(pool, A, "b@c.test", 0);
    ck_assert_str_eq(dump(json_object_get(d, "modalities")), "[]");
    d = ucwa_people_privacy(pool, A, "b@c.test", 1);
    ck_assert_str_eq(json_string_value(json_object_get(d, "relationshipLevel")), "Colleagues");
    ck_assert_str_eq(json_string_value(json_object_get(d, "rel")), "contactPrivacyRelationship");
}
END_TEST

START_TEST(events)
{
    ucwa_event e;

    ck_assert_int_eq(ucwa_people_event(pool, "contact", "/people/b@c.test", "group",
                                       "/people/groups/G", "added", &e), 0);
    ck_assert_str_eq(ucwa_event_sender_json(pool, A, &e),
                     "\"rel\":\"people\",\"href\":\"" A "/people\"");
    ck_assert_str_eq(ucwa_event_json(pool, A, &e),
                     "{\"link\":{\"rel\":\"contact\",\"href\":\"" A "/people/b@c.test\"},"
                     "\"in\":{\"rel\":\"group\",\"href\":\"" A "/people/groups/G\"},"
                     "\"type\":\"added\"}");
    ck_assert_int_eq(ucwa_people_event(pool, "group", "/people/groups/G", NULL, NULL,
                                       "updated", &e), 0);
    ck_assert_str_eq(ucwa_event_json(pool, A, &e),
                     "{\"link\":{\"rel\":\"group\",\"href\":\"" A "/people/groups/G\"},"
                     "\"type\":\"updated\"}");
}
END_TEST

START_TEST(photos)
{
    apr_size_t len = 0, got = 0;
    const unsigned char *def = ucwa_photo_default(&len), *back;
    char *b64;
    const char *etag;

    ck_assert_uint_gt(len, 100);
    ck_assert(def[0] == 0xff && def[1] == 0xd8 && def[2] == 0xff);
    ck_assert(def[len - 2] == 0xff && def[len - 1] == 0xd9);
    b64 = apr_palloc(pool, apr_base64_encode_len((int)len));
    apr_base64_encode_binary(b64, def, (int)len);
    back = ucwa_photo_decode(pool, b64, 1 << 20, &got);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(got, len);
    ck_assert_int_eq(memcmp(back, def, len), 0);
    /* line breaks in the column are fine */
    ck_assert_ptr_nonnull(ucwa_photo_decode(pool, apr_pstrcat(pool, apr_pstrndup(pool, b64, 8),
                                                              "\n", b64 + 8, NULL),
                                            1 << 20, &got));
    ck_assert_ptr_null(ucwa_photo_decode(pool, b64, len - 1, &got));     /* too large */
    ck_assert_ptr_null(ucwa_photo_decode(pool, "iVBORw0KGgo=", 1 << 20, &got));   /* PNG */
    ck_assert_ptr_null(ucwa_photo_decode(pool, "not base64!", 1 << 20, &got));
    ck_assert_ptr_null(ucwa_photo_decode(pool, "", 1 << 20, &got));
    ck_assert_ptr_null(ucwa_photo_decode(pool, NULL, 1 << 20, &got));
    etag = ucwa_photo_etag(pool, def, len);
    ck_assert_uint_eq(strlen(etag), 34);
    ck_assert(etag[0] == '"' && etag[33] == '"');
    ck_assert_str_eq(etag, ucwa_photo_etag(pool, back, got));
    ck_assert_str_ne(etag, ucwa_photo_etag(pool, def, len - 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_people_render");
    TCase *tc = unit_tcase("people");

    tcase_add_test(tc, utf8_length);
    tcase_add_test(tc, addresses);
    tcase_add_test(tc, queries_and_limits);
    tcase_add_test(tc, like_patterns);
    tcase_add_test(tc, contact_as_captured);
    tcase_add_test(tc, unknown_contact);
    tcase_add_test(tc, contact_lists);
    tcase_add_test(tc, groups_as_captured);
    tcase_add_test(tc, memberships);
    tcase_add_test(tc, search_results);
    tcase_add_test(tc, presence_and_dates);
    tcase_add_test(tc, sub_resources);
    tcase_add_test(tc, events);
    tcase_add_test(tc, photos);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_people_render", s);
}
