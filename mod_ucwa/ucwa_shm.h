/* The session store's shared-memory segment, its global mutex, and the futex wake-up of
 * parked event requests. Created once per httpd parent from the process pool, so a
 * graceful restart keeps every application, event and presence. */
#ifndef UCWA_SHM_H
#define UCWA_SHM_H

#include <httpd.h>
#include "ucwa_store.h"

#define UCWA_SHM_MUTEX "ucwa-shm"

void ucwa_shm_register_mutex(apr_pool_t *pconf);
int ucwa_shm_post_config(apr_pool_t *pconf, server_rec *s, const ucwa_store_limits *l);
void ucwa_shm_child_init(apr_pool_t *pchild, server_rec *s);

/* The store with the mutex held, or NULL (logged) if it cannot be locked. */
ucwa_store *ucwa_shm_lock(server_rec *s);
void ucwa_shm_unlock(void);

/* Wakes every request parked on the application's seq word, in any process. */
void ucwa_shm_wake(ucwa_app *a);
/* Sleeps until the seq word differs from seen, or max elapsed. */
void ucwa_shm_wait(ucwa_app *a, apr_uint32_t seen, apr_interval_time_t max);
/* The same for any word of the store (the push dispatcher waits on its queue's). */
void ucwa_shm_wake_word(volatile apr_uint32_t *w);
void ucwa_shm_wait_word(volatile apr_uint32_t *w, apr_uint32_t seen, apr_interval_time_t max);

#endif
