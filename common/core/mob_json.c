#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "mob_json.h"

static apr_status_t json_release(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *mob_json_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_release, apr_pool_cleanup_null);
    }
    return j;
}

const char *mob_json_dump(apr_pool_t *p, const json_t *j, apr_size_t *len)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy;

    if (!s) {
        return NULL;
    }
    copy = apr_pstrdup(p, s);
    free(s);
    if (len) {
        *len = strlen(copy);
    }
    return copy;
}

const char *mob_json_str(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}

const json_t *mob_json_obj(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

    return json_is_object(v) ? v : NULL;
}

const char *mob_json_href(const json_t *o, const char *rel)
{
    return mob_json_str(mob_json_obj(mob_json_obj(o, "_links"), rel), "href");
}
