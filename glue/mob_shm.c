/* Segments that outlive generations (mob_shm.h). */
#include <httpd.h>
#include <util_mutex.h>

#include "mob_shm.h"

apr_status_t mob_shm_attach(server_rec *s, const char *key, const char *mutex_type,
                            apr_size_t bytes, mob_shm **out, int *created, const char **what)
{
    apr_pool_t *pp = s->process->pool;
    mob_shm *m = NULL;
    apr_status_t rv;

    *out = NULL;
    *created = 0;
    apr_pool_userdata_get((void **)&m, key, pp);
    if (m) {
        *out = m;
        return APR_SUCCESS;
    }
    m = apr_pcalloc(pp, sizeof(*m));
    if ((rv = apr_shm_create(&m->shm, bytes, NULL, pp)) != APR_SUCCESS) {
        *what = "segment";
        return rv;
    }
    /* one mutex for every generation: two generations must not use two locks */
    if ((rv = ap_global_mutex_create(&m->mutex, NULL, mutex_type, NULL, s, pp, 0))
        != APR_SUCCESS) {
        *what = "mutex";
        return rv;
    }
    apr_pool_userdata_set(m, key, apr_pool_cleanup_null, pp);
    *out = m;
    *created = 1;
    return APR_SUCCESS;
}

apr_status_t mob_shm_renew(server_rec *s, mob_shm *m, apr_size_t bytes)
{
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, bytes, NULL, s->process->pool);

    if (rv == APR_SUCCESS) {
        m->shm = shm;
    }
    return rv;
}

void *mob_shm_base(const mob_shm *m)
{
    return apr_shm_baseaddr_get(m->shm);
}

apr_size_t mob_shm_size(const mob_shm *m)
{
    return apr_shm_size_get(m->shm);
}

apr_status_t mob_shm_child_init(mob_shm *m, apr_pool_t *pchild)
{
    return apr_global_mutex_child_init(&m->mutex, apr_global_mutex_lockfile(m->mutex), pchild);
}

apr_status_t mob_shm_lock(mob_shm *m)
{
    return apr_global_mutex_lock(m->mutex);
}

void mob_shm_unlock(mob_shm *m)
{
    apr_global_mutex_unlock(m->mutex);
}
