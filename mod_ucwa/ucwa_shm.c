#include <httpd.h>
#include <limits.h>
#include <string.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <http_log.h>
#include <util_mutex.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "mod_ucwa.h"
#include "mob_shm.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define USERDATA_KEY "mod_ucwa-store"

/* Refreshed in every post_config from the process-pool userdata (glue/mob_shm). */
static mob_shm *segment;
static ucwa_store *store;

void ucwa_shm_register_mutex(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, UCWA_SHM_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int ucwa_shm_post_config(apr_pool_t *pconf, server_rec *s, const ucwa_store_limits *l)
{
    apr_size_t bytes = ucwa_store_bytes(l);
    const char *what = NULL;
    apr_status_t rv;
    mob_shm *seg;
    int created;

    rv = mob_shm_attach(s, USERDATA_KEY, UCWA_SHM_MUTEX, bytes, &seg, &created, &what);
    if (rv != APR_SUCCESS && !strcmp(what, "mutex")) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, UCWALOGNO(00011)
                     "cannot create the session store mutex");
        return !OK;
    }
    if (rv == APR_SUCCESS && !created && !ucwa_store_compatible(mob_shm_base(seg))) {
        /* an upgraded module with another store layout: the old store cannot be read.
         * The old generation keeps its segment until its children are gone. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00016)
                     "mod_ucwa was upgraded to another session store layout: signed-in "
                     "clients must sign in again");
        rv = mob_shm_renew(s, seg, bytes);
        created = 1;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, UCWALOGNO(00010)
                     "cannot create the session store (%" APR_SIZE_T_FMT " bytes): lower "
                     "UcwaMaxApplications, UcwaEventsPerApplication or UcwaEventSize", bytes);
        return !OK;
    }
    if (created) {
        /* an anonymous shared mapping is zero-filled: nothing to clear */
        ucwa_store_init_zeroed(mob_shm_base(seg), l);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00012)
                     "session store: %u applications, %u events of %u bytes each, "
                     "%" APR_SIZE_T_FMT " KiB", l->max_apps, l->ring_len, l->event_size,
                     bytes / 1024);
    }
    else if (!ucwa_store_attach(mob_shm_base(seg), l)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00013)
                     "the session store sizes changed: they take effect at the next full "
                     "restart; the running store and its sessions are kept");
    }
    segment = seg;
    store = mob_shm_base(seg);
    (void)pconf;
    return OK;
}

void ucwa_shm_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!segment) {
        return;
    }
    rv = mob_shm_child_init(segment, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, UCWALOGNO(00014)
                     "cannot attach the session store mutex in this child");
    }
}

/* The lock, taken only by ucwa_txn_run: the store with the mutex held, or NULL
 * (logged). */
static ucwa_store *shm_lock(server_rec *s)
{
    apr_status_t rv;

    if (!segment) {
        return NULL;
    }
    rv = mob_shm_lock(segment);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, UCWALOGNO(00015)
                     "cannot lock the session store");
        return NULL;
    }
    return store;
}

static void shm_unlock(void)
{
    mob_shm_unlock(segment);
}

apr_status_t ucwa_txn_run(server_rec *s, apr_pool_t *p, ucwa_txn_fn *fn, void *baton)
{
    ucwa_txn t;
    ucwa_store *st = shm_lock(s);
    int i;

    if (!st) {
        return APR_EGENERAL;
    }
    volatile apr_uint32_t *out = ucwa_store_word(st, UCWA_WORD_POOL_OUT);
    apr_uint32_t queued = *out;

    ucwa_txn_init(&t, st, p);
    fn(&t, baton);
    queued = *out != queued;
    shm_unlock();
    for (i = 0; i < ucwa_txn_wakes(&t); i++) {
        ucwa_shm_wake_word(ucwa_txn_wake_at(&t, i));
    }
    if (queued) {
        ucwa_shm_wake_word(out);   /* the outbox's taker (ucwa-sipd's doorbell) */
    }
    return APR_SUCCESS;
}

void ucwa_shm_wake_word(volatile apr_uint32_t *w)
{
#ifdef __linux__
    /* not FUTEX_PRIVATE_FLAG: the word is in a MAP_SHARED segment of several processes */
    syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
    (void)w;
#endif
}

void ucwa_shm_wait_word(volatile apr_uint32_t *w, apr_uint32_t seen, apr_interval_time_t max)
{
#ifdef __linux__
    struct timespec ts;

    if (max <= 0) {
        return;
    }
    ts.tv_sec = (time_t)apr_time_sec(max);
    ts.tv_nsec = (long)apr_time_usec(max) * 1000;
    syscall(SYS_futex, w, FUTEX_WAIT, seen, &ts, NULL, 0);
#else
    /* without futexes: poll the word */
    apr_interval_time_t step = apr_time_from_msec(50);
    while (max > 0 && __atomic_load_n(w, __ATOMIC_SEQ_CST) == seen) {
        apr_sleep(step < max ? step : max);
        max -= step;
    }
#endif
}

void ucwa_shm_wait(ucwa_app *a, apr_uint32_t seen, apr_interval_time_t max)
{
    ucwa_shm_wait_word(&a->seq, seen, max);
}
