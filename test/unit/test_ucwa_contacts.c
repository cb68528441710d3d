/* ucwa_contacts: the contact list in SQL (groups, memberships, the implicit pinned and
 * default groups, the limits), against a migrated SQLite database through APR DBD. */
#include <stdlib.h>

#include "unit_sqlite.h"
#include "ucwa_contacts.h"
#include "ucwa_schema.h"

#define ALICE "alice@contoso.test"
#define BOB   "bob@contoso.test"
#define CAROL "carol@contoso.test"

static ucwa_db db;

static void setup(void)
{
    const char *err = NULL;
    ucwa_schema_result res;

    unit_sqlite_open("ucwa-contacts", "c.db", &db);
    ck_assert_int_eq(ucwa_schema_migrate(pool, db.driver, db.handle, apr_time_now(), &res,
                                         &err), APR_SUCCESS);
}

static void teardown(void)
{
    unit_sqlite_close(&db);
}

static const char *str(apr_array_header_t *a, int i)
{
    return APR_ARRAY_IDX(a, i, const char *);
}

START_TEST(group_ids)
{
    ucwa_group_kind k;
    const char *id = ucwa_contacts_new_group_id(pool), *other = ucwa_contacts_new_group_id(pool);

    ck_assert_uint_eq(strlen(id), UCWA_GROUP_ID_LEN);
    ck_assert_str_ne(id, other);
    ck_assert(ucwa_contacts_group_id_valid(id, &k) && k == UCWA_GROUP_KIND_CUSTOM);
    ck_assert(ucwa_contacts_group_id_valid("pinned", &k) && k == UCWA_GROUP_KIND_PINNED);
    ck_assert(ucwa_contacts_group_id_valid("default", &k) && k == UCWA_GROUP_KIND_DEFAULT);
    ck_assert(!ucwa_contacts_group_id_valid("Pinned", &k));
    ck_assert(!ucwa_contacts_group_id_valid("abc", &k));
    ck_assert(!ucwa_contacts_group_id_valid("AAAAAAAAAAAAAAA=", &k));
    ck_assert(!ucwa_contacts_group_id_valid("' OR 1=1 --AAAAA", &k));
    ck_assert(!ucwa_contacts_group_id_valid("AAAAAAAAAAAAAAAAA", &k));
    ck_assert(!ucwa_contacts_group_id_valid("", &k));
    ck_assert(!ucwa_contacts_group_id_valid(NULL, &k));
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(ucwa_contacts_name_key(pool, "My Team"), "my team");
    ck_assert_str_eq(ucwa_contacts_name_key(pool, "\xc3\x89quipe"), "\xc3\x89quipe");
    ck_assert_ptr_null(ucwa_contacts_name_key(pool, ""));
    ck_assert_ptr_null(ucwa_contacts_name_key(pool, "   "));
    ck_assert_ptr_null(ucwa_contacts_name_key(pool, "a\tb"));
    ck_assert_ptr_null(ucwa_contacts_name_key(pool, "bad \xff utf-8"));
    ck_assert_ptr_nonnull(ucwa_contacts_name_key(pool, unit_repeat("\xc3\xa9", 256)));
    ck_assert_ptr_null(ucwa_contacts_name_key(pool, unit_repeat("x", 257)));
}
END_TEST

START_TEST(empty_list)
{
    apr_array_header_t *a;
    ucwa_group g;

    ck_assert_int_eq(ucwa_contacts_groups(&db, pool, ALICE, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, ucwa_group).id, UCWA_GROUP_PINNED);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 0, ucwa_group).name, "Pinned Contacts");
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, ucwa_group).id, UCWA_GROUP_DEFAULT);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 1, ucwa_group).name, "Other Contacts");
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, "default", &a), UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_group(&db, pool, ALICE, "pinned", &g), UCWA_CT_OK);
    ck_assert_int_eq(g.kind, UCWA_GROUP_KIND_PINNED);
    ck_assert_int_eq(ucwa_contacts_group(&db, pool, ALICE, "AAAAAAAAAAAAAAAA", &g),
                     UCWA_CT_NOT_FOUND);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, "AAAAAAAAAAAAAAAA", &a),
                     UCWA_CT_NOT_FOUND);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, "junk!", &a), UCWA_CT_NOT_FOUND);
}
END_TEST

START_TEST(groups_and_members)
{
    const char *team = NULL, *other = NULL;
    apr_array_header_t *a, *members, *dropped;
    ucwa_group g;
    int listed = -1, left = -1;

    ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, ALICE, "Team", apr_time_now(), &team),
                     UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, ALICE, "team", apr_time_now(), &other),
                     UCWA_CT_EXISTS);
    ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, ALICE, "other contacts",
                                                apr_time_now(), &other), UCWA_CT_EXISTS);
    /* names are per owner */
    ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, BOB, "Team", apr_time_now(), &other),
                     UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_group(&db, pool, ALICE, other, &g), UCWA_CT_NOT_FOUND);

    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, team, BOB, apr_time_now(), &listed),
                     UCWA_CT_OK);
    ck_assert_int_eq(listed, 1);
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, team, BOB, apr_time_now(), &listed),
                     UCWA_CT_EXISTS);
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, NULL, BOB, apr_time_now(), &listed),
                     UCWA_CT_OK);   /* the default group */
    ck_assert_int_eq(listed, 0);
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, "pinned", CAROL, apr_time_now(),
                                       &listed), UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, "AAAAAAAAAAAAAAAA", CAROL,
                                       apr_time_now(), &listed), UCWA_CT_NOT_FOUND);

    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_str_eq(str(a, 0), BOB);
    ck_assert_str_eq(str(a, 1), CAROL);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, team, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 1);
    ck_assert_int_eq(ucwa_contacts_memberships(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 3);
    ck_assert_int_eq(ucwa_contacts_groups_of(&db, pool, ALICE, BOB, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, BOB, NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 0);

    ck_assert_int_eq(ucwa_contacts_group_rename(&db, pool, ALICE, team, "Crew"), UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_group(&db, pool, ALICE, team, &g), UCWA_CT_OK);
    ck_assert_str_eq(g.name, "Crew");
    ck_assert_int_eq(ucwa_contacts_group_rename(&db, pool, ALICE, team, "CREW"), UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_group_rename(&db, pool, ALICE, "default", "X"),
                     UCWA_CT_READ_ONLY);
    ck_assert_int_eq(ucwa_contacts_group_delete(&db, pool, ALICE, "pinned", &members, &dropped),
                     UCWA_CT_READ_ONLY);

    ck_assert_int_eq(ucwa_contacts_remove(&db, pool, ALICE, "default", BOB, &left), UCWA_CT_OK);
    ck_assert_int_eq(left, 0);   /* still in the team */
    ck_assert_int_eq(ucwa_contacts_remove(&db, pool, ALICE, "default", BOB, &left),
                     UCWA_CT_NOT_FOUND);
    ck_assert_int_eq(ucwa_contacts_group_delete(&db, pool, ALICE, team, &members, &dropped),
                     UCWA_CT_OK);
    ck_assert_int_eq(members->nelts, 1);
    ck_assert_int_eq(dropped->nelts, 1);
    ck_assert_str_eq(str(dropped, 0), BOB);
    ck_assert_int_eq(ucwa_contacts_group(&db, pool, ALICE, team, &g), UCWA_CT_NOT_FOUND);
    ck_assert_int_eq(ucwa_contacts_group_delete(&db, pool, ALICE, team, &members, &dropped),
                     UCWA_CT_NOT_FOUND);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 1);

    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, NULL, CAROL, apr_time_now(), &listed),
                     UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_remove_all(&db, pool, ALICE, CAROL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_int_eq(ucwa_contacts_remove_all(&db, pool, ALICE, CAROL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 0);
}
END_TEST

/* Values are bound, never spliced into the SQL. */
START_TEST(sql_metacharacters_are_data)
{
    const char *id = NULL;
    apr_array_header_t *a;
    int listed;

    ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, ALICE, "x'); DROP TABLE ucwa_groups; --",
                                                apr_time_now(), &id), UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, ALICE, id, "o'brien@contoso.test",
                                       apr_time_now(), &listed), UCWA_CT_OK);
    ck_assert_int_eq(ucwa_contacts_groups(&db, pool, ALICE, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(a, 2, ucwa_group).name, "x'); DROP TABLE ucwa_groups; --");
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, "' OR 1=1 --", NULL, &a), UCWA_CT_OK);
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_str_eq(str(a, 0), "o'brien@contoso.test");
}
END_TEST

START_TEST(limits)
{
    const char *id;
    int i, listed;

    for (i = 0; i < UCWA_GROUPS_MAX; i++) {
        ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, ALICE, apr_psprintf(pool, "g%d", i),
                                                    apr_time_now(), &id), UCWA_CT_OK);
    }
    ck_assert_int_eq(ucwa_contacts_group_create(&db, pool, ALICE, "one more", apr_time_now(),
                                                &id), UCWA_CT_TOO_MANY_GROUPS);
    for (i = 0; i < UCWA_CONTACTS_MAX; i++) {
        ck_assert_int_eq(ucwa_contacts_add(&db, pool, BOB, NULL,
                                           apr_psprintf(pool, "u%d@contoso.test", i),
                                           apr_time_now(), &listed), UCWA_CT_OK);
    }
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, BOB, NULL, "more@contoso.test", apr_time_now(),
                                       &listed), UCWA_CT_TOO_MANY_CONTACTS);
    /* a contact already on the list can still go into another group */
    ck_assert_int_eq(ucwa_contacts_add(&db, pool, BOB, "pinned", "u1@contoso.test",
                                       apr_time_now(), &listed), UCWA_CT_OK);
}
END_TEST

/* Statements are prepared once per connection, under their labels. */
START_TEST(statements_are_cached)
{
    apr_array_header_t *a;
    unsigned int n;

    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    n = apr_hash_count(db.prepared);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(apr_hash_get(db.prepared, "ucwa_sql_contacts_all", APR_HASH_KEY_STRING));
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_OK);
    ck_assert_uint_eq(apr_hash_count(db.prepared), n);
}
END_TEST

START_TEST(database_errors_are_reported)
{
    apr_array_header_t *a;
    int n;

    ck_assert_int_eq(apr_dbd_query(db.driver, db.handle, &n, "DROP TABLE ucwa_group_members"), 0);
    db.prepared = apr_hash_make(pool);
    ck_assert_int_eq(ucwa_contacts_list(&db, pool, ALICE, NULL, &a), UCWA_CT_ERROR);
    ck_assert_ptr_nonnull(db.err);
    ck_assert_ptr_nonnull(strstr(db.err, "ucwa_sql_contacts_all"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_contacts");
    TCase *tc = tcase_create("contacts");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, group_ids);
    tcase_add_test(tc, names);
    tcase_add_test(tc, empty_list);
    tcase_add_test(tc, groups_and_members);
    tcase_add_test(tc, sql_metacharacters_are_data);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, statements_are_cached);
    tcase_add_test(tc, database_errors_are_reported);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_contacts", s);
}
