/* mob_route with and without a discovery host name, and mob_route_discovery_domain,
 * over the input as a NUL-terminated string.
 *
 * Invariants: the result is a mob_resource; a discovery host only adds routes (a path
 * that names a resource on any host names the same one there); a trailing '/' and
 * the case of the path do not matter; the discovery domain, when there is one, is a
 * non-empty tail of the host name after "lyncdiscover." or "lyncdiscoverinternal.". */
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mob_route.h"

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
    char *s = fuzz_cstr(data, size);
    size_t n = strlen(s), i;
    mob_resource any = mob_route(s, 0), disc = mob_route(s, 1);
    const char *dom = mob_route_discovery_domain(s);
    char *v;

    FUZZ_CHECK(any >= MOB_RES_NONE && any <= MOB_RES_XFRAME);
    FUZZ_CHECK(disc >= MOB_RES_NONE && disc <= MOB_RES_XFRAME);
    if (any != MOB_RES_NONE) {
        FUZZ_CHECK(disc == any);
    }
    FUZZ_CHECK(mob_route(NULL, 0) == MOB_RES_NONE && mob_route(NULL, 1) == MOB_RES_NONE);

    /* with a trailing slash added, and in upper case, the same resource */
    if (n > 0) {
        v = apr_pstrcat(p, s, "/", NULL);
        FUZZ_CHECK(mob_route(v, 0) == any);
        FUZZ_CHECK(mob_route(v, 1) == disc);
    }
    v = apr_pstrdup(p, s);
    for (i = 0; i < n; i++) {
        v[i] = (char)apr_toupper(v[i]);
    }
    FUZZ_CHECK(mob_route(v, 0) == any);
    FUZZ_CHECK(mob_route(v, 1) == disc);

    if (dom) {
        size_t off = (size_t)(dom - s);
        FUZZ_CHECK(dom > s && dom < s + n + 1 && *dom != '\0');
        FUZZ_CHECK((off == 13 && !strncasecmp(s, "lyncdiscover.", 13))
                   || (off == 21 && !strncasecmp(s, "lyncdiscoverinternal.", 21)));
    }
    else {
        FUZZ_CHECK(strncasecmp(s, "lyncdiscover.", 13) || n == 13);
    }
    FUZZ_CHECK(mob_route_discovery_domain(NULL) == NULL);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
