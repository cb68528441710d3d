#include <httpd.h>
#include <string.h>
#include <curl/curl.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <mod_watchdog.h>
#include <ap_mpm.h>

#include "mod_ucwa.h"
#include "push_send.h"
#include "ucwa_config.h"
#include "ucwa_push.h"
#include "ucwa_push_dispatch.h"
#include "ucwa_push_reg.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define INTERVAL apr_time_from_msec(100)   /* between calls (each lasts WORK_SLICE) */
#define BATCH 16                       /* jobs taken per round (rounds follow at once) */
#define APNS_TOKEN_AGE apr_time_from_sec(40 * 60)   /* within APNs' 20..60 minutes */

/* The dispatcher's state, in the process that runs it (allocated on its first round from
 * the watchdog thread's pool). */
typedef struct {
    apr_pool_t *pool;
    push_sender *web, *apns, *fcm;     /* one connection each */
} dispatcher;

typedef struct {
    server_rec *s;
    dispatcher *d;                     /* per process: set in the child that runs it */
} holder;

static dispatcher *dispatcher_make(server_rec *s, apr_pool_t *p)
{
    const ucwa_push_conf *c = ucwa_config_get(s)->global->push;
    dispatcher *d = apr_pcalloc(p, sizeof(*d));
    push_send_options web, other;

    d->pool = p;
    memset(&web, 0, sizeof(web));
    web.ca_file = c->ca_file;
    web.connect_timeout = apr_time_from_sec(5);
    web.timeout = apr_time_from_sec(10);
    other = web;
    /* endpoints come from clients: every address they resolve to is checked again */
    web.address_policy = &c->policy;
    if (push_sender_create(p, &web, &d->web) != APR_SUCCESS
        || push_sender_create(p, &other, &d->apns) != APR_SUCCESS
        || push_sender_create(p, &other, &d->fcm) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00250)
                     "push: cannot create an HTTP client (libcurl)");
        return NULL;
    }
    return d;
}

/* --- credentials ------------------------------------------------------------------- */

/* The APNs provider token, shared through the store by every process and generation:
 * APNs answers 429 TooManyProviderTokenUpdates to a token renewed within 20 minutes, and
 * a graceful restart starts a new dispatcher. renew: the last one was refused. */
static const char *apns_token(server_rec *s, const ucwa_push_conf *c, apr_pool_t *p,
                              apr_time_t now, int renew)
{
    ucwa_store *st = ucwa_shm_lock(s);
    ucwa_push_credential *cred;
    const char *t = NULL;

    if (!st) {
        return NULL;
    }
    cred = ucwa_store_push_credential(st, UCWA_PUSH_CRED_APNS);
    if (!renew && cred->issued && now - cred->issued < APNS_TOKEN_AGE && now >= cred->issued) {
        t = apr_pstrdup(p, cred->value);
    }
    else if ((t = push_apns_provider_token(p, c->apns_key, c->apns_key_id, c->apns_team_id,
                                           now)) != NULL && strlen(t) < sizeof(cred->value)) {
        apr_cpystrn(cred->value, t, sizeof(cred->value));
        cred->issued = now;
    }
    ucwa_shm_unlock();
    return t;
}

/* The FCM access token (an hour), shared the same way. */
static const char *fcm_token(dispatcher *d, server_rec *s, const ucwa_push_conf *c,
                             apr_pool_t *p, apr_time_t now, int renew)
{
    push_http_request *rq;
    push_response resp;
    push_oauth_token tok;
    ucwa_push_credential *cred;
    ucwa_store *st;
    const char *why = NULL, *t = NULL;

    if (!renew && (st = ucwa_shm_lock(s)) != NULL) {
        cred = ucwa_store_push_credential(st, UCWA_PUSH_CRED_FCM);
        if (cred->issued && now < cred->expires - apr_time_from_sec(60)) {
            t = apr_pstrdup(p, cred->value);
        }
        ucwa_shm_unlock();
        if (t) {
            return t;
        }
    }
    memset(&resp, 0, sizeof(resp));
    if (push_google_token_request(p, &c->fcm_account, c->fcm_key, now, &rq) != APR_SUCCESS
        || push_send(d->fcm, p, rq, &resp) != APR_SUCCESS || resp.status != 200
        || push_google_token_parse(p, resp.body, resp.body_len, now, &tok, &why)
           != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00251)
                     "push: no FCM access token from %s: %s", c->fcm_account.token_uri,
                     resp.error ? resp.error : why ? why : apr_itoa(p, resp.status));
        return NULL;
    }
    if ((st = ucwa_shm_lock(s)) != NULL) {
        cred = ucwa_store_push_credential(st, UCWA_PUSH_CRED_FCM);
        if (strlen(tok.access_token) < sizeof(cred->value)) {
            apr_cpystrn(cred->value, tok.access_token, sizeof(cred->value));
            cred->issued = now;
            cred->expires = tok.expires;
        }
        ucwa_shm_unlock();
    }
    return tok.access_token;
}

/* --- one notification to one registration ------------------------------------------ */

static void notification_of(apr_pool_t *p, const ucwa_push_job *j, push_notification *n)
{
    memset(n, 0, sizeof(*n));
    n->event = ucwa_push_kind_name((ucwa_push_kind)j->kind);
    n->conversation = j->conversation[0] ? j->conversation : NULL;
    n->badge = (int)j->badge;
    n->title = j->sender[0] ? j->sender : NULL;
    n->body = j->preview[0] ? j->preview : NULL;
    /* an invitation is worth little after its 30 s; a missed one for a day */
    n->ttl = j->kind == UCWA_PUSH_MISSED ? 86400 : j->kind == UCWA_PUSH_INVITATION ? 60 : 3600;
    n->urgency = j->kind == UCWA_PUSH_MISSED ? PUSH_URGENCY_NORMAL : PUSH_URGENCY_HIGH;
}

/* Sends n to r: the classified result, *retry_in for PUSH_RETRY. */
static push_result send_one(dispatcher *d, server_rec *s, const ucwa_push_conf *c,
                            const ucwa_push_reg *r, const push_notification *n, apr_pool_t *p,
                            apr_interval_time_t *retry_in)
{
    push_provider prov;
    push_http_request *rq = NULL;
    push_sender *via;
    push_response resp;
    push_result res = PUSH_FAILED;
    const char *why = NULL;
    apr_time_t now = apr_time_now();
    int attempt;

    *retry_in = 0;
    if (ucwa_push_reg_provider(r->provider, &prov, NULL) != APR_SUCCESS
        || !ucwa_push_enabled(c, prov)) {
        return PUSH_FAILED;   /* switched off since it registered */
    }
    for (attempt = 0; attempt < 2; attempt++) {
        apr_status_t rv = APR_EGENERAL;
        if (prov == PUSH_PROVIDER_WEBPUSH) {
            push_webpush_config wc = { c->vapid_key, c->vapid_subject, 0, &c->policy };
            push_webpush_subscription sub = { r->endpoint, r->p256dh, r->auth };
            rv = push_webpush_request(p, &wc, &sub, n, now, &rq, &why);
            via = d->web;
        }
        else if (prov == PUSH_PROVIDER_APNS) {
            push_apns_config ac = { c->apns_host, c->apns_topic,
                                    apns_token(s, c, p, now, attempt > 0) };
            rv = ac.provider_token ? push_apns_request(p, &ac, r->token, n, now, &rq, &why)
                                   : APR_EGENERAL;
            via = d->apns;
        }
        else {
            push_fcm_config fc = { c->fcm_base, c->fcm_account.project_id,
                                   fcm_token(d, s, c, p, now, attempt > 0) };
            if (!fc.access_token) {
                *retry_in = 0;
                return PUSH_RETRY;
            }
            rv = push_fcm_request(p, &fc, r->token, n, &rq, &why);
            via = d->fcm;
        }
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00252)
                         "push: cannot build the %s request for registration %s: %s",
                         r->provider, r->id, why ? why : "error");
            return PUSH_FAILED;
        }
        push_send(via, p, rq, &resp);
        res = push_classify(prov, resp.status, resp.body, resp.retry_after, now, retry_in);
        if (resp.address_refused) {
            res = PUSH_FAILED;
        }
        ap_log_error(APLOG_MARK, res == PUSH_OK ? APLOG_DEBUG : APLOG_INFO, 0, s,
                     UCWALOGNO(00253) "push: %s to registration %s of %s: %d %s%s%s",
                     r->provider, r->id, r->owner, resp.status, push_result_name(res),
                     resp.error ? ": " : "", resp.error ? resp.error : "");
        if (res != PUSH_AUTH) {
            break;
        }
        /* our credential was refused: renew it and try once more */
    }
    return res == PUSH_AUTH ? PUSH_RETRY : res;
}

/* --- a round ----------------------------------------------------------------------- */

static void deliver(dispatcher *d, server_rec *s, ucwa_db *db, const ucwa_push_job *j,
                    apr_pool_t *p, ucwa_push_outcome *o, apr_interval_time_t *retry_in)
{
    const ucwa_push_conf *c = ucwa_config_get(s)->global->push;
    apr_array_header_t *regs = NULL;
    push_notification n;
    int i, again = 0;

    *o = UCWA_PUSH_DONE;
    *retry_in = 0;
    if (!db) {
        *o = UCWA_PUSH_AGAIN;
        *retry_in = ucwa_push_backoff(j->attempts, 0);
        return;
    }
    if (ucwa_push_reg_list(db, p, j->user, j->endpoint_id, &regs) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00254)
                     "push: cannot read the registrations of %s: %s", j->user, db->err);
        *o = UCWA_PUSH_AGAIN;
        *retry_in = ucwa_push_backoff(j->attempts, 0);
        return;
    }
    notification_of(p, j, &n);
    for (i = 0; i < regs->nelts; i++) {
        const ucwa_push_reg *r = &APR_ARRAY_IDX(regs, i, ucwa_push_reg);
        apr_interval_time_t wait = 0;
        switch (send_one(d, s, c, r, &n, p, &wait)) {
        case PUSH_GONE:
            /* the service says the device unsubscribed: never send to it again */
            if (ucwa_push_reg_delete(db, p, NULL, r->id) < 0) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00255)
                             "push: cannot delete registration %s: %s", r->id, db->err);
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00256)
                             "push: registration %s of %s is gone: deleted", r->id, r->owner);
            }
            break;
        case PUSH_RETRY:
            again = 1;
            wait = ucwa_push_backoff(j->attempts, wait);
            if (wait > *retry_in) {
                *retry_in = wait;
            }
            break;
        default:
            break;
        }
    }
    if (again) {
        *o = UCWA_PUSH_AGAIN;
    }
}

/* One round: up to BATCH due jobs sent; the number taken. */
static int dispatch_round(holder *h, apr_pool_t *p)
{
    server_rec *s = h->s;
    ucwa_push_job jobs[BATCH];
    APR_OPTIONAL_FN_TYPE(ap_dbd_open) *open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    APR_OPTIONAL_FN_TYPE(ap_dbd_close) *close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    ucwa_push_outcome out[BATCH];
    apr_interval_time_t wait[BATCH];
    ap_dbd_t *dbd = NULL;
    ucwa_db db;
    ucwa_store *st;
    int n, i;

    st = ucwa_shm_lock(s);
    if (!st) {
        return 0;
    }
    n = ucwa_push_take_locked(st, apr_time_now(), jobs, BATCH);
    ucwa_shm_unlock();
    if (n == 0) {
        return 0;
    }
    if (open && close) {
        dbd = open(p, s);
    }
    if (dbd) {
        memset(&db, 0, sizeof(db));
        db.driver = dbd->driver;
        db.handle = dbd->handle;
        db.prepared = dbd->prepared;
        db.pool = dbd->pool;
    }
    for (i = 0; i < n; i++) {
        if (!h->d) {
            out[i] = UCWA_PUSH_AGAIN;
            wait[i] = ucwa_push_backoff(jobs[i].attempts, 0);
            continue;
        }
        deliver(h->d, s, dbd ? &db : NULL, &jobs[i], p, &out[i], &wait[i]);
    }
    if (dbd) {
        close(s, dbd);
    }
    st = ucwa_shm_lock(s);
    if (!st) {
        return n;
    }
    for (i = 0; i < n; i++) {
        ucwa_push_finish_locked(st, &jobs[i], out[i], wait[i], apr_time_now());
    }
    ucwa_shm_unlock();
    return n;
}

static int stopping(void)
{
    int st = AP_MPMQ_STOPPING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &st) != APR_SUCCESS || st == AP_MPMQ_STOPPING;
}

/* mod_watchdog calls this every 100 ms at most, and sleeps 100 ms in between: so that a
 * notification does not wait for that, one call works for ten seconds, sending while jobs
 * are due and otherwise sleeping on the queue's futex word (woken when a job is queued),
 * looking at the server's state every WAIT_SLICE to stop promptly. */
#define WORK_SLICE apr_time_from_sec(10)
#define WAIT_SLICE apr_time_from_msec(50)

static apr_status_t push_callback(int state, void *data, apr_pool_t *pool)
{
    holder *h = data;
    apr_time_t end = apr_time_now() + WORK_SLICE;
    volatile apr_uint32_t *word = NULL;
    apr_pool_t *round;
    ucwa_store *st;

    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    if ((st = ucwa_shm_lock(h->s)) == NULL) {
        return APR_SUCCESS;
    }
    word = ucwa_store_word(st, UCWA_WORD_PUSH_QUEUED);
    ucwa_shm_unlock();
    if (!h->d) {
        /* from the watchdog thread's own pool: this call's pool is destroyed after it */
        h->d = dispatcher_make(h->s, apr_pool_parent_get(pool));
    }
    apr_pool_create(&round, pool);
    while (!stopping() && apr_time_now() < end) {
        apr_uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
        int n = dispatch_round(h, round);
        apr_pool_clear(round);
        if (n == 0) {
            ucwa_shm_wait_word(word, seen, WAIT_SLICE);
        }
    }
    apr_pool_destroy(round);
    return APR_SUCCESS;
}

int ucwa_push_post_config(apr_pool_t *pconf, server_rec *s, ucwa_store *st)
{
    const ucwa_push_conf *c = ucwa_config_get(s)->global->push;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *reg =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t *wd;
    holder *h;
    int on = c->webpush || c->apns || c->fcm;   /* resolved by ucwa_config_check */

    if (st) {
        ucwa_push_configure_locked(st, on, c->background_after, c->content);
    }
    if (!on) {
        return OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00258)
                     "push: libcurl cannot be initialised");
        return !OK;
    }
    h = apr_pcalloc(pconf, sizeof(*h));
    h->s = s;
    if (!get || !reg || get(&wd, "ucwa-push", 0, 1, pconf) != APR_SUCCESS
        || reg(wd, INTERVAL, h, push_callback) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00259)
                     "push: cannot start the dispatcher (mod_watchdog)");
        return !OK;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00260)
                 "push: dispatcher on (WebPush %s, APNs %s, FCM %s; content %s)",
                 c->webpush ? "on" : "off", c->apns ? "on" : "off", c->fcm ? "on" : "off",
                 c->content == UCWA_PUSH_CONTENT_NONE ? "None"
                 : c->content == UCWA_PUSH_CONTENT_SENDER ? "Sender" : "Preview");
    return OK;
}
