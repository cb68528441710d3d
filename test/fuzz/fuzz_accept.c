/* mob_negotiate over the input as a NUL-terminated Accept value, and
 * mob_format_content_type of what it picks.
 *
 * Invariants: the result is one of the mob_format values; a value longer than
 * MOB_ACCEPT_MAX is not acceptable; an all-blank value means the default; the
 * Content-Type of every result is a UTF-8 media type; and a value's spelling does not
 * matter (upper case, or ranges separated by ", " rather than ","). */
#include <apr_lib.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mob_negotiate.h"

static void check_content_type(mob_format f)
{
    const char *ct = mob_format_content_type(f);

    FUZZ_CHECK(ct != NULL);
    FUZZ_CHECK(strstr(ct, "charset=utf-8") != NULL);
    FUZZ_CHECK(strchr(ct, '/') != NULL);
    switch (f) {
    case MOB_FMT_AD_XML:
        FUZZ_CHECK(!strncmp(ct, "application/vnd.microsoft.rtc.autodiscover+xml", 46));
        break;
    case MOB_FMT_AD_JSON:
        FUZZ_CHECK(!strncmp(ct, "application/vnd.microsoft.rtc.autodiscover+json", 47));
        break;
    case MOB_FMT_UCWA_XML:
        FUZZ_CHECK(!strncmp(ct, "application/xml", 15));
        break;
    default:
        FUZZ_CHECK(!strncmp(ct, "application/json", 16));
        break;
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
    char *accept = fuzz_cstr(data, size);
    size_t n = strlen(accept), i;
    mob_format f = mob_negotiate(accept), g;
    char *upper;

    FUZZ_CHECK(f >= MOB_FMT_NONE && f <= MOB_FMT_UCWA_XML);
    check_content_type(f);
    if (n > MOB_ACCEPT_MAX) {
        FUZZ_CHECK(f == MOB_FMT_NONE);
    }
    else if (strspn(accept, " \t") == n) {
        FUZZ_CHECK(f == MOB_FMT_HAL_JSON);
    }
    FUZZ_CHECK(mob_negotiate(NULL) == MOB_FMT_HAL_JSON);

    /* media types and parameter names are case-insensitive: so is the choice, as long
     * as no quoted version value changes ("V=1" and "v=1" are the same; values are
     * digits) */
    upper = apr_pstrdup(p, accept);
    for (i = 0; i < n; i++) {
        upper[i] = (char)apr_toupper(upper[i]);
    }
    g = mob_negotiate(upper);
    FUZZ_CHECK(g == f);

    /* ", " between ranges instead of "," (while the value stays within the limit) */
    if (n <= MOB_ACCEPT_MAX / 2 && strchr(accept, ',')) {
        char *spaced = apr_palloc(p, 2 * n + 1), *o = spaced;
        for (i = 0; i < n; i++) {
            *o++ = accept[i];
            if (accept[i] == ',') {
                *o++ = ' ';
            }
        }
        *o = '\0';
        g = mob_negotiate(spaced);
        FUZZ_CHECK(g == f);
    }
    free(accept);
    apr_pool_destroy(p);
    return 0;
}
