#include <httpd.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <http_log.h>
#include <util_mutex.h>

#include "mod_autodiscover.h"
#include "ad_lockout.h"

APLOG_USE_MODULE(autodiscover);

#define USERDATA_KEY "mod_autodiscover-lockout"

typedef struct {
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;
    apr_uint32_t entries;
} lockout_segment;

/* Refreshed in every post_config from the process-pool userdata; the segment itself
 * outlives the generation that created it. */
static lockout_segment *segment;

void ad_lockout_register_mutex(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, AD_LOCKOUT_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int ad_lockout_post_config(apr_pool_t *pconf, server_rec *s, apr_uint32_t entries)
{
    apr_pool_t *pp = s->process->pool;
    lockout_segment *seg = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&seg, USERDATA_KEY, pp);
    if (seg && apr_shm_size_get(seg->shm) != mob_lockout_bytes(seg->entries)) {
        /* made by a build with another entry layout (a module upgrade followed by a
         * graceful restart): its children keep it; ours get a new one, with the same
         * mutex */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, ADLOGNO(00018)
                     "the lockout table has a new layout in this version of the module: "
                     "failed sign-ins counted so far are forgotten");
        rv = apr_shm_create(&seg->shm, mob_lockout_bytes(seg->entries), NULL, pp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00019)
                         "cannot create the lockout table (%u entries)", seg->entries);
            return !OK;
        }
        mob_lockout_init(apr_shm_baseaddr_get(seg->shm), seg->entries);
    }
    if (!seg) {
        seg = apr_pcalloc(pp, sizeof(*seg));
        rv = apr_shm_create(&seg->shm, mob_lockout_bytes(entries), NULL, pp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00010)
                         "cannot create the lockout table (%u entries)", entries);
            return !OK;
        }
        rv = ap_global_mutex_create(&seg->mutex, NULL, AD_LOCKOUT_MUTEX, NULL, s, pp, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00011)
                         "cannot create the lockout mutex");
            return !OK;
        }
        seg->entries = entries;
        mob_lockout_init(apr_shm_baseaddr_get(seg->shm), entries);
        apr_pool_userdata_set(seg, USERDATA_KEY, apr_pool_cleanup_null, pp);
    }
    else if (seg->entries != entries) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ADLOGNO(00012)
                     "AutodiscoverLockoutEntries changed to %u: it takes effect at the next full "
                     "restart; %u entries stay in use", entries, seg->entries);
    }
    segment = seg;
    return OK;
}

void ad_lockout_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!segment) {
        return;
    }
    rv = apr_global_mutex_child_init(&segment->mutex,
                                     apr_global_mutex_lockfile(segment->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00013)
                     "cannot attach the lockout mutex in this child");
    }
}

static mob_lockout_table *lock_table(request_rec *r)
{
    mob_lockout_table *t;

    if (!segment || apr_global_mutex_lock(segment->mutex) != APR_SUCCESS) {
        return NULL;
    }
    t = apr_shm_baseaddr_get(segment->shm);
    if (!mob_lockout_valid(t, segment->entries)) {
        /* a child died in the middle of a write: start over rather than trust it */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ADLOGNO(00014)
                      "lockout table was damaged; reset");
        mob_lockout_init(t, segment->entries);
    }
    return t;
}

static void unlock_table(void)
{
    apr_global_mutex_unlock(segment->mutex);
}

int ad_lockout_locked(request_rec *r, const char *user, const char *device)
{
    mob_lockout_table *t = lock_table(r);
    unsigned v;

    if (!t) {
        return 0;
    }
    v = mob_lockout_check(t, user, r->useragent_ip, device, apr_time_now());
    unlock_table();
    return (v & (MOB_LOCKOUT_ACCOUNT_LOCKED | MOB_LOCKOUT_ADDRESS_LOCKED)) != 0;
}

void ad_lockout_failed(request_rec *r, const char *user, const char *device,
                       const char *password, const mob_lockout_policy *account,
                       const mob_lockout_policy *address)
{
    mob_lockout_table *t = lock_table(r);
    unsigned v;

    if (!t) {
        return;
    }
    v = mob_lockout_failed(t, user, r->useragent_ip, device, password, account, address,
                           apr_time_now());
    unlock_table();
    if (v & MOB_LOCKOUT_REPEATED) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00017)
                      "sign-in for %s repeated a recent wrong password: not counted", user);
    }
    if (v & MOB_LOCKOUT_ACCOUNT_LOCKS) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, ADLOGNO(00015)
                      "sign-in for %s locked after repeated failures, for %s", user,
                      (v & MOB_LOCKOUT_FAMILIAR_ORIGIN)
                      ? "the addresses and devices that signed it in before"
                      : "every address and device that has not signed it in before");
    }
    if (v & MOB_LOCKOUT_ADDRESS_LOCKS) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, ADLOGNO(00016)
                      "sign-in from %s locked after repeated failures", r->useragent_ip);
    }
}

void ad_lockout_succeeded(request_rec *r, const char *user, const char *device)
{
    mob_lockout_table *t = lock_table(r);

    if (t) {
        mob_lockout_succeeded(t, user, r->useragent_ip, device, apr_time_now());
        unlock_table();
    }
}
