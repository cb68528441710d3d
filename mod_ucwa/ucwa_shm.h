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

/* A transaction on the store: what runs under its lock. fn gets the store in t->store
 * and the pool p in t->pool, and reports to its caller through baton; whatever it must
 * render (JSON, XML, data URIs) it copies out into the baton and the caller renders
 * after the transaction. */
typedef void ucwa_txn_fn(ucwa_txn *t, void *baton);

/* Takes the store's lock, runs fn, releases the lock, then wakes every word fn asked to
 * wake (ucwa_txn_wake_app, ucwa_txn_wake_word). APR_SUCCESS; or, when the store is
 * missing or cannot be locked (logged), an error and fn did not run. The only way the
 * glue takes the lock (the request's application: ucwa_app_txn in ucwa_app). */
apr_status_t ucwa_txn_run(server_rec *s, apr_pool_t *p, ucwa_txn_fn *fn, void *baton);

/* Sleeps until the seq word differs from seen, or max elapsed. */
void ucwa_shm_wait(ucwa_app *a, apr_uint32_t seen, apr_interval_time_t max);
/* The same for any word of the store (the push dispatcher waits on its queue's). */
void ucwa_shm_wake_word(volatile apr_uint32_t *w);
void ucwa_shm_wait_word(volatile apr_uint32_t *w, apr_uint32_t seen, apr_interval_time_t max);

#endif
