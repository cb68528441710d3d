/* Numbers in directives: one parser, one error message for every module. */
#ifndef MOB_NUMBER_H
#define MOB_NUMBER_H

#include <apr_pools.h>

/* Parses v as a decimal integer from min to max. NULL, or a message naming the
 * directive and the range. */
const char *mob_parse_number(apr_pool_t *p, const char *directive, const char *v,
                             apr_int64_t min, apr_int64_t max, apr_int64_t *out);

#endif
