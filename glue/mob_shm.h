/* A shared-memory segment and its global mutex that outlive configuration generations:
 * created once from the process pool, kept there under a key, and found again by every
 * post_config, so that `apachectl graceful` keeps what they hold and both generations of
 * a graceful restart use one lock. Written once for mod_ucwa's session store and
 * mod_autodiscover's lockout table (glue/ is httpd glue compiled into each module). */
#ifndef MOB_SHM_H
#define MOB_SHM_H

#include <httpd.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>

#include "mob_glue.h"

typedef struct {
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;
    apr_uint32_t tag;              /* the owner's: what the segment was made for */
} mob_shm;

/* The segment kept under key in s's process pool (*created 0), or a new one of bytes,
 * zero-filled (an anonymous mapping), with a new mutex of mutex_type (registered in
 * pre_config with ap_mutex_register) (*created 1). On failure *out is NULL and *what says
 * which of the two could not be made. */
MOB_GLUE apr_status_t mob_shm_attach(server_rec *s, const char *key, const char *mutex_type,
                                     apr_size_t bytes, mob_shm **out, int *created,
                                     const char **what);
/* A new zero-filled segment of bytes in place of m's, with the same mutex: for a running
 * segment of a layout this code cannot read (a module upgrade followed by a graceful
 * restart). The older generation's children keep the old one. */
MOB_GLUE apr_status_t mob_shm_renew(server_rec *s, mob_shm *m, apr_size_t bytes);
MOB_GLUE void *mob_shm_base(const mob_shm *m);
MOB_GLUE apr_size_t mob_shm_size(const mob_shm *m);
/* In each child (child_init). */
MOB_GLUE apr_status_t mob_shm_child_init(mob_shm *m, apr_pool_t *pchild);
MOB_GLUE apr_status_t mob_shm_lock(mob_shm *m);
MOB_GLUE void mob_shm_unlock(mob_shm *m);

#endif
