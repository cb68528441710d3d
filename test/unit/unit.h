/* Shared by the unit tests: a fresh APR pool per test, and a runner that prints one
 * summary line per binary (and the failures, if any). */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

/* Every test allocates from this pool; teardown destroys it, so valgrind sees leaks
 * that a pool cleanup should have released. */
static apr_pool_t *pool;

static inline void unit_pool_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static inline void unit_pool_teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

static inline TCase *unit_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    return tc;
}

/* s with a repeated n times, in pool. */
static inline char *unit_repeat(const char *s, int n)
{
    size_t len = strlen(s);
    char *out = apr_palloc(pool, len * (size_t)n + 1), *o = out;
    int i;

    for (i = 0; i < n; i++, o += len) {
        memcpy(o, s, len);
    }
    *o = '\0';
    return out;
}

/* Runs s and prints "name  NN%: Checks: ..." then any failure as
 * file:line:F:tcase:test:iter: message. Non-zero exit when a test failed or none ran. */
static inline int unit_run(const char *name, Suite *s)
{
    SRunner *sr;
    int run, failed;

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "%s: apr_initialize failed\n", name);
        return EXIT_FAILURE;
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_SILENT);
    run = srunner_ntests_run(sr);
    failed = srunner_ntests_failed(sr);
    printf("%-16s ", name);
    srunner_print(sr, CK_NORMAL);
    fflush(stdout);
    srunner_free(sr);
    apr_terminate();
    if (run == 0) {
        fprintf(stderr, "%s: no test ran\n", name);
        return EXIT_FAILURE;
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
