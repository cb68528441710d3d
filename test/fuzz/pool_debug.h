/* Forced into every fuzz build (-include): apr_palloc and apr_pcalloc called from the
 * code under test become one malloc each, freed by a cleanup of their pool. APR pools
 * carve allocations out of 8 KiB blocks, where ASan sees no overflow; this way every
 * buffer that common/ sizes itself is a separate allocation with redzones, and a use
 * after the pool is destroyed is caught too. Allocations made inside libapr
 * (apr_pstrdup, apr_table_*, ...) keep the real allocator. */
#ifndef FUZZ_POOL_DEBUG_H
#define FUZZ_POOL_DEBUG_H

#include <stdlib.h>
#include <string.h>
#include <apr_pools.h>

static inline apr_status_t fuzz_pool_free(void *m)
{
    free(m);
    return APR_SUCCESS;
}

static inline void *fuzz_palloc(apr_pool_t *p, apr_size_t n)
{
    void *m = malloc(n ? n : 1);

    if (!m) {
        abort();
    }
    /* garbage, as pool memory is: code that wrongly expects zeroes shows it sooner */
    memset(m, 0xa5, n);
    apr_pool_cleanup_register(p, m, fuzz_pool_free, apr_pool_cleanup_null);
    return m;
}

#undef apr_palloc
#define apr_palloc fuzz_palloc
/* apr_pcalloc is a macro over apr_palloc in non-debug APR; make sure of it */
#undef apr_pcalloc
#define apr_pcalloc(p, n) memset(fuzz_palloc((p), (n)), 0, (n))

#endif
