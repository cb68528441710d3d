#include <httpd.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_config.h"
#include "ucwa_conversation_logs.h"
#include "ucwa_conversations.h"
#include "ucwa_events.h"
#include "ucwa_me.h"
#include "ucwa_messaging.h"
#include "ucwa_phone.h"
#include "ucwa_shm.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);

#define INTERVAL apr_time_from_sec(1)

/* A changed policy is announced only by the newest configuration: during a graceful
 * restart the old generation's sweeper still runs with the old policies. */
static int policy_generation_ok(ucwa_store *s)
{
    apr_uint32_t *word = ucwa_store_word(s, UCWA_WORD_POLICY_GEN);
    int gen = 0;

    ap_mpm_query(AP_MPMQ_GENERATION, &gen);
    if ((apr_uint32_t)gen < *word) {
        return 0;
    }
    *word = (apr_uint32_t)gen;
    return 1;
}

/* How long the application may go without an event request: its own limit (an MCX
 * session's), else UcwaApplicationIdleTimeout; for an application whose device registered
 * for push, at least UcwaPushSessionLifetime (it is woken by push, not polling). */
static apr_interval_time_t idle_limit(const ucwa_global *g, const ucwa_app *a)
{
    apr_interval_time_t t = a->idle_limit ? apr_time_from_sec(a->idle_limit) : g->idle_timeout;
    apr_interval_time_t push = apr_time_from_sec(g->push->session_lifetime);

    return a->push && push > t ? push : t;
}

/* An application the sweep ended, logged once the lock is released. */
typedef struct {
    const char *id, *sip;
    apr_time_t idle;
} expired_app;

typedef struct {
    const ucwa_global *g;
    apr_time_t now;
    apr_array_header_t *expired;   /* expired_app */
} sweep_txn;

static void sweep_locked(ucwa_txn *t, void *baton)
{
    sweep_txn *x = baton;
    const ucwa_global *g = x->g;
    apr_time_t now = x->now;
    ucwa_store *st = t->store;
    apr_pool_t *p = t->pool;
    apr_uint32_t i, n = ucwa_store_max_apps(st);
    int policies = policy_generation_ok(st);

    for (i = 0; i < n; i++) {
        ucwa_app *a = ucwa_store_app(st, (int)i);
        if (a->state == UCWA_SLOT_EXPIRED && now - a->last_seen > g->tombstone) {
            ucwa_store_delete_locked(st, (int)i);   /* the id now answers 404 */
            continue;
        }
        if (a->state != UCWA_SLOT_LIVE) {
            continue;
        }
        if (a->parked && now > a->parked_until + apr_time_from_sec(5)) {
            /* the requests died with their child process (killed): nobody will unpark */
            a->parked = 0;
            a->last_seen = a->parked_until;   /* when that request would have ended */
        }
        if (a->parked == 0 && now - a->last_seen > idle_limit(g, a)) {
            int user = (int)a->user;
            expired_app *e = apr_array_push(x->expired);
            e->id = apr_pstrdup(p, a->id);
            e->sip = apr_pstrdup(p, ucwa_store_user(st, user)->sip);
            e->idle = now - a->last_seen;
            ucwa_subscriptions_app_gone_locked(t, (int)i);
            ucwa_conversations_app_gone_locked(t, (int)i, now);
            ucwa_store_expire_locked(st, (int)i);
            ucwa_txn_wake_app(t, (int)i);
            if (ucwa_me_publish_locked(t, user, &g->idle_rules, now)) {
                ucwa_events_wake_user_locked(t, user);
            }
            continue;
        }
        if (policies) {
            const ucwa_policy *pol = ucwa_app_policy(g, a->policy_tag);
            apr_uint32_t fp = ucwa_policy_fingerprint(pol);
            a->outside_voice = (apr_uint32_t)ucwa_phone_available(g, pol);
            if (fp != a->policy_fp) {
                a->policy_fp = fp;
                static const ucwa_event updated = {
                    .sender_rel = "policies", .sender_href = "/policies", .rel = "policies",
                    .href = "/policies", .type = "updated"
                };
                ucwa_store_post_locked(st, (int)i, UCWA_PRIO_MEDIUM, &updated, now);
                ucwa_txn_wake_app(t, (int)i);
            }
        }
    }
    ucwa_subscriptions_sweep_locked(t, now);
    ucwa_conversations_sweep_locked(t, now, g->call_suspend);
    /* idle transitions: Online -> IdleOnline -> Away without reportMyActivity */
    for (i = 0; i < n; i++) {
        ucwa_app *a = ucwa_store_app(st, (int)i);
        if (a->state == UCWA_SLOT_LIVE && a->available
            && ucwa_me_publish_locked(t, (int)a->user, &g->idle_rules, now)) {
            ucwa_events_wake_user_locked(t, (int)a->user);
        }
    }
}

void ucwa_watchdog_sweep(server_rec *s, apr_pool_t *p)
{
    sweep_txn x;
    apr_pool_t *tp;
    int i;

    /* one pool per sweep: what it copies and the wake list go with it */
    if (apr_pool_create(&tp, p) != APR_SUCCESS) {
        return;
    }
    x.g = ucwa_config_get(s)->global;
    x.now = apr_time_now();
    x.expired = apr_array_make(tp, 4, sizeof(expired_app));
    if (ucwa_txn_run(s, tp, sweep_locked, &x) == APR_SUCCESS) {
        for (i = 0; i < x.expired->nelts; i++) {
            const expired_app *e = &APR_ARRAY_IDX(x.expired, i, expired_app);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00070)
                         "application %s of %s expired: no event request for %" APR_TIME_T_FMT
                         " s", e->id, e->sip, apr_time_sec(e->idle));
        }
        /* the logs the sweep's transitions (invitation timeouts, inviters gone) left, and
         * those the pool's thread left (a cancel or an accept from another Front End) */
        ucwa_conversation_logs_collect(s, tp);
    }
    apr_pool_destroy(tp);
}

static apr_status_t sweep_callback(int state, void *data, apr_pool_t *pool)
{
    if (state == AP_WATCHDOG_STATE_RUNNING) {
        ucwa_watchdog_sweep((server_rec *)data, pool);
    }
    return APR_SUCCESS;
}

int ucwa_watchdog_stopping(void)
{
    int st = AP_MPMQ_STOPPING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &st) != APR_SUCCESS || st == AP_MPMQ_STOPPING;
}

apr_status_t ucwa_watchdog_start(apr_pool_t *pconf, const char *name,
                                apr_interval_time_t interval, void *data,
                                ap_watchdog_callback_fn_t *callback)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *reg =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t *wd;
    apr_status_t rv;

    if (!get || !reg) {
        return APR_ENOTIMPL;
    }
    rv = get(&wd, name, 0, 1, pconf);
    return rv == APR_SUCCESS ? reg(wd, interval, data, callback) : rv;
}

int ucwa_watchdog_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv = ucwa_watchdog_start(pconf, "ucwa-sweep", INTERVAL, s, sweep_callback);

    if (rv == APR_ENOTIMPL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00071)
                     "mod_watchdog is not available: idle applications would never end");
        return !OK;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, UCWALOGNO(00072)
                     "cannot start the session store sweeper");
        return !OK;
    }
    return OK;
}
