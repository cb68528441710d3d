/* mob_form_parse in both modes, and mob_form_escape of every decoded name and value.
 *
 * Invariants: on success every name and value honours the header's promise (valid
 * UTF-8, no control character, at most MOB_FORM_MAX_VALUE bytes, a non-empty name,
 * at most MOB_FORM_MAX_FIELDS fields); a body the strict mode accepts the lenient mode
 * accepts with the same table; on failure there is a reason; and escaping a value then
 * parsing it back gives the value again. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz_util.h"
#include "mob_form.h"

static int upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int escaped_ok(const char *e)
{
    for (; *e; e++) {
        unsigned char c = (unsigned char)*e;
        if (c == '%') {
            if (!upper_hex(e[1]) || !upper_hex(e[2])) {   /* e[2] read only if e[1] is hex */
                return 0;
            }
            e += 2;
        }
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                   || c == '-' || c == '.' || c == '_' || c == '~' || c == '@')) {
            return 0;
        }
    }
    return 1;
}

/* Escapes s and parses "x=<escaped>" back: it must give s. */
static void round_trip(apr_pool_t *p, const char *s)
{
    const char *e = mob_form_escape(p, s), *body, *why = NULL, *back;
    apr_table_t *t = NULL;

    FUZZ_CHECK(e != NULL);
    FUZZ_CHECK(escaped_ok(e));
    FUZZ_CHECK(strlen(e) <= 3 * strlen(s));
    body = apr_pstrcat(p, "x=", e, NULL);
    FUZZ_CHECK(mob_form_parse(p, body, strlen(body), MOB_FORM_STRICT, &t, &why) == APR_SUCCESS);
    back = apr_table_get(t, "x");
    FUZZ_CHECK(back != NULL && strcmp(back, s) == 0);
}

static void check_table(apr_pool_t *p, const apr_table_t *t)
{
    const apr_array_header_t *a = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    int i;

    FUZZ_CHECK(a->nelts <= MOB_FORM_MAX_FIELDS);
    for (i = 0; i < a->nelts; i++) {
        FUZZ_CHECK(e[i].key != NULL && e[i].val != NULL);
        FUZZ_CHECK(*e[i].key != '\0');
        FUZZ_CHECK(strlen(e[i].key) <= MOB_FORM_MAX_VALUE);
        FUZZ_CHECK(strlen(e[i].val) <= MOB_FORM_MAX_VALUE);
        FUZZ_CHECK(fuzz_utf8_text(e[i].key));
        FUZZ_CHECK(fuzz_utf8_text(e[i].val));
        round_trip(p, e[i].key);
        round_trip(p, e[i].val);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    /* an exact-size copy: the parser takes a length and must not read past it */
    char *body = malloc(size ? size : 1);
    apr_table_t *strict = NULL, *lenient = NULL;
    const char *why_s = NULL, *why_l = NULL;
    apr_status_t rs, rl;

    if (!body) {
        abort();
    }
    if (size) {
        memcpy(body, data, size);
    }
    rs = mob_form_parse(p, body, size, MOB_FORM_STRICT, &strict, &why_s);
    rl = mob_form_parse(p, body, size, MOB_FORM_LENIENT, &lenient, &why_l);
    FUZZ_CHECK(rs == APR_SUCCESS || rs == APR_EINVAL);
    FUZZ_CHECK(rl == APR_SUCCESS || rl == APR_EINVAL);
    FUZZ_CHECK(strict != NULL && lenient != NULL);
    FUZZ_CHECK(rs == APR_SUCCESS || why_s != NULL);
    FUZZ_CHECK(rl == APR_SUCCESS || why_l != NULL);
    if (rl == APR_SUCCESS) {
        check_table(p, lenient);
    }
    if (rs == APR_SUCCESS) {
        const apr_array_header_t *a = apr_table_elts(strict);
        const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
        int i;

        check_table(p, strict);
        /* what the strict mode takes, the lenient mode takes the same way */
        FUZZ_CHECK(rl == APR_SUCCESS);
        FUZZ_CHECK(apr_table_elts(lenient)->nelts == a->nelts);
        for (i = 0; i < a->nelts; i++) {
            const char *v = apr_table_get(lenient, e[i].key);
            FUZZ_CHECK(v != NULL && strcmp(v, e[i].val) == 0);
        }
    }
    free(body);
    apr_pool_destroy(p);
    return 0;
}
