#include <errno.h>
#include <apr_strings.h>

#include "mob_number.h"

const char *mob_parse_number(apr_pool_t *p, const char *directive, const char *v,
                             apr_int64_t min, apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t n;

    errno = 0;
    n = apr_strtoi64(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max) {
        return apr_psprintf(p, "%s: '%s' must be a number from %" APR_INT64_T_FMT " to %"
                            APR_INT64_T_FMT, directive, v, min, max);
    }
    *out = n;
    return NULL;
}
