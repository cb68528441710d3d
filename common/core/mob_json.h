/* jansson values whose lifetime follows an APR pool. */
#ifndef MOB_JSON_H
#define MOB_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* Takes over the reference to j: it is released when p is cleared. Returns j. */
json_t *mob_json_own(apr_pool_t *p, json_t *j);

/* Serialises j into p (compact, keys in insertion order). NULL on failure. */
const char *mob_json_dump(apr_pool_t *p, const json_t *j, apr_size_t *len);

/* Readers of a JSON document whose shape is not trusted: NULL when o is not an object,
 * the member is missing or has another type. */
const char *mob_json_str(const json_t *o, const char *key);
const json_t *mob_json_obj(const json_t *o, const char *key);
/* o._links[rel].href (HAL), or NULL. */
const char *mob_json_href(const json_t *o, const char *rel);

#endif
