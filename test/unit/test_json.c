/* mob_json: jansson values owned by an APR pool, and compact ordered output. */
#include "unit.h"
#include "mob_json.h"

/* The pool's cleanup drops exactly the one reference it was given. */
START_TEST(own_releases_on_clear)
{
    apr_pool_t *sub;
    json_t *j = json_object();

    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    json_incref(j);
    ck_assert_ptr_eq(mob_json_own(sub, j), j);
    ck_assert_uint_eq(j->refcount, 2);
    apr_pool_destroy(sub);
    ck_assert_uint_eq(j->refcount, 1);
    json_decref(j);
    /* NULL (a failed json_*() constructor) passes through */
    ck_assert_ptr_null(mob_json_own(pool, NULL));
}
END_TEST

START_TEST(dump_compact_in_order)
{
    json_t *j = mob_json_own(pool, json_object());
    apr_size_t len = 0;
    const char *s;

    json_object_set_new(j, "z", json_integer(1));
    json_object_set_new(j, "a", json_pack("[bn]", 1));
    json_object_set_new(j, "m", json_string("\xc3\xa9\"</x>"));
    s = mob_json_dump(pool, j, &len);
    ck_assert_str_eq(s, "{\"z\":1,\"a\":[true,null],\"m\":\"\xc3\xa9\\\"</x>\"}");
    ck_assert_uint_eq(len, strlen(s));
    ck_assert_str_eq(mob_json_dump(pool, j, NULL), s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = unit_tcase("json");

    tcase_add_test(tc, own_releases_on_clear);
    tcase_add_test(tc, dump_compact_in_order);
    suite_add_tcase(s, tc);
    return unit_run("test_json", s);
}
