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

#include "mob_dbd.h"
#include "mod_ucwa.h"
#include "push_send.h"
#include "ucwa_config.h"
#include "ucwa_push.h"
#include "ucwa_push_dispatch.h"
#include "ucwa_push_pool.h"
#include "ucwa_push_reg.h"
#include "ucwa_pool.h"
#include "ucwa_shm.h"
#include "ucwa_watchdog.h"

APLOG_USE_MODULE(ucwa);

#define INTERVAL apr_time_from_msec(100)   /* between calls (each lasts WORK_SLICE) */
#define BATCH 16                       /* jobs taken per round (rounds follow at once) */
#define APNS_TOKEN_AGE apr_time_from_sec(40 * 60)   /* within APNs' 20..60 minutes */
#define POOL_POLL apr_time_from_msec(500)  /* a look at the pool's table with nothing here */
#define POOL_AGAIN apr_time_from_sec(1)    /* a job the pool's table could not take */

/* The dispatcher's state, in the process that runs it (allocated on its first round from
 * the watchdog thread's pool). */
typedef struct {
    apr_pool_t *pool;
    push_sender *web, *apns, *fcm;     /* one connection each */
    apr_time_t poll_at;                /* pool: the next look at the pool's table */
    int pool_warned;                   /* pool: its database was said to be away */
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
typedef struct {
    const ucwa_push_conf *c;
    apr_time_t now;
    int renew;
    const char *token;
} apns_txn;

static void apns_token_locked(ucwa_txn *t, void *baton)
{
    apns_txn *x = baton;
    ucwa_push_credential *cred = ucwa_store_push_credential(t->store, UCWA_PUSH_CRED_APNS);
    const ucwa_push_conf *c = x->c;

    if (!x->renew && cred->issued && x->now - cred->issued < APNS_TOKEN_AGE
        && x->now >= cred->issued) {
        x->token = apr_pstrdup(t->pool, cred->value);
    }
    /* signed under the lock: two processes must not both renew within 20 minutes */
    else if ((x->token = push_apns_provider_token(t->pool, c->apns_key, c->apns_key_id,
                                                  c->apns_team_id, x->now)) != NULL
             && strlen(x->token) < sizeof(cred->value)) {
        apr_cpystrn(cred->value, x->token, sizeof(cred->value));
        cred->issued = x->now;
    }
}

static const char *apns_token(server_rec *s, const ucwa_push_conf *c, apr_pool_t *p,
                              apr_time_t now, int renew)
{
    apns_txn x = { c, now, renew, NULL };

    ucwa_txn_run(s, p, apns_token_locked, &x);
    return x.token;
}

/* In a pool of Front Ends, the APNs provider token is the pool's (in its database): with
 * one each, Apple would refuse all but the first within 20 minutes. refused: the token
 * APNs just refused (renew it, unless another Front End did already), or NULL. */
static const char *apns_pool_token(server_rec *s, ucwa_db *db, const ucwa_push_conf *c,
                                   apr_pool_t *p, apr_time_t now, const char *refused)
{
    int tries;

    for (tries = 0; tries < 2; tries++) {
        const char *value = NULL, *token;
        apr_time_t issued = 0;
        int r = ucwa_push_pool_credential_get(db, p, UCWA_PUSH_CRED_APNS, &value, &issued);
        if (r < 0) {
            break;
        }
        if (r == 1 && now >= issued && now - issued < APNS_TOKEN_AGE
            && (!refused || strcmp(value, refused) != 0)) {
            return value;
        }
        token = push_apns_provider_token(p, c->apns_key, c->apns_key_id, c->apns_team_id, now);
        if (!token) {
            return NULL;
        }
        switch (ucwa_push_pool_credential_put(db, p, UCWA_PUSH_CRED_APNS, token, now,
                                              r == 1 ? issued : 0)) {
        case 1: return token;
        case 0: continue;   /* another Front End renewed it first: theirs */
        default: break;
        }
        break;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00472)
                 "push: no APNs provider token from the pool's database: %s",
                 db->err ? db->err : "renewed by others meanwhile");
    return NULL;
}

/* The FCM access token in the store: read (when it is still good), or written. */
typedef struct {
    apr_time_t now;
    const push_oauth_token *tok;   /* NULL: read */
    const char *token;
} fcm_txn;

static void fcm_token_locked(ucwa_txn *t, void *baton)
{
    fcm_txn *x = baton;
    ucwa_push_credential *cred = ucwa_store_push_credential(t->store, UCWA_PUSH_CRED_FCM);

    if (!x->tok) {
        if (cred->issued && x->now < cred->expires - apr_time_from_sec(60)) {
            x->token = apr_pstrdup(t->pool, cred->value);
        }
    }
    else if (strlen(x->tok->access_token) < sizeof(cred->value)) {
        apr_cpystrn(cred->value, x->tok->access_token, sizeof(cred->value));
        cred->issued = x->now;
        cred->expires = x->tok->expires;
    }
}

/* The FCM access token (an hour), shared the same way. */
static const char *fcm_token(dispatcher *d, server_rec *s, const ucwa_push_conf *c,
                             apr_pool_t *p, apr_time_t now, int renew)
{
    push_http_request *rq;
    push_response resp;
    push_oauth_token tok;
    fcm_txn x = { now, NULL, NULL };
    const char *why = NULL;

    if (!renew && ucwa_txn_run(s, p, fcm_token_locked, &x) == APR_SUCCESS && x.token) {
        return x.token;
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
    x.tok = &tok;
    ucwa_txn_run(s, p, fcm_token_locked, &x);
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
    /* an invitation is worth little after its 30 s, a call after its ringing; a missed
     * one for a day */
    switch (j->kind) {
    case UCWA_PUSH_MISSED:
    case UCWA_PUSH_MISSED_CALL:
        n->ttl = 86400;
        n->urgency = PUSH_URGENCY_NORMAL;
        break;
    case UCWA_PUSH_CALL:
        n->ttl = 30;
        n->urgency = PUSH_URGENCY_HIGH;
        break;
    default:
        n->ttl = j->kind == UCWA_PUSH_INVITATION ? 60 : 3600;
        n->urgency = PUSH_URGENCY_HIGH;
    }
}

/* Sends n to r: the classified result, *retry_in for PUSH_RETRY. */
static push_result send_one(dispatcher *d, server_rec *s, const ucwa_push_conf *c,
                            const ucwa_push_reg *r, const push_notification *n, apr_pool_t *p,
                            ucwa_db *pool_db, apr_interval_time_t *retry_in)
{
    const char *apns_refused = NULL;
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
                                    pool_db ? apns_pool_token(s, pool_db, c, p, now, apns_refused)
                                            : apns_token(s, c, p, now, attempt > 0) };
            if (!ac.provider_token && pool_db) {
                *retry_in = 0;
                return PUSH_RETRY;
            }
            apns_refused = ac.provider_token;
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

/* Sends job j to its device's registrations: the outcome, and the wait before the next
 * attempt. pooled: a pool's dispatcher (db is the pool's database). */
static void deliver(dispatcher *d, server_rec *s, ucwa_db *db, int pooled,
                    const ucwa_push_job *j, apr_pool_t *p, ucwa_push_outcome *o,
                    apr_interval_time_t *retry_in)
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
        switch (send_one(d, s, c, r, &n, p, pooled ? db : NULL, &wait)) {
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

/* The store's side of a round: due jobs taken (out NULL), or their outcomes recorded;
 * pool: moved[i] says whether job i is in the pool's table now (else it goes back). */
typedef struct {
    ucwa_push_job *jobs;
    int n;                         /* in: jobs to finish (0: take); out: jobs taken */
    const ucwa_push_outcome *out;
    const apr_interval_time_t *wait;
    const int *moved;
    int pool;                      /* in a pool: take nothing while its database is away */
    int away;                      /* out: it is (its thread says so) */
} round_txn;

static void round_locked(ucwa_txn *t, void *baton)
{
    round_txn *x = baton;
    apr_time_t now = apr_time_now();
    int i;

    if (!x->out && !x->moved) {
        x->away = x->pool && !ucwa_store_pool_area(t->store)->up;
        x->n = x->away ? 0 : ucwa_push_take_locked(t->store, now, x->jobs, BATCH);
        return;
    }
    for (i = 0; i < x->n; i++) {
        if (x->moved && !x->moved[i]) {
            ucwa_push_release_locked(t->store, &x->jobs[i], now + POOL_AGAIN);
        }
        else {
            ucwa_push_finish_locked(t->store, &x->jobs[i], x->moved ? UCWA_PUSH_DONE : x->out[i],
                                    x->moved ? 0 : x->wait[i], now);
        }
    }
}

/* The round's connection (mod_dbd's, in this child: checked, and after the database
 * restarted its statements are prepared again, glue/mob_dbd), or 0. */
static int db_open(server_rec *s, apr_pool_t *p, ap_dbd_t **dbd, ucwa_db *db)
{
    if (!(*dbd = mob_dbd_open(s, p))) {
        return 0;
    }
    memset(db, 0, sizeof(*db));
    db->driver = (*dbd)->driver;
    db->handle = (*dbd)->handle;
    db->prepared = (*dbd)->prepared;
    db->pool = (*dbd)->pool;
    return 1;
}

/* One round on a single Front End: up to BATCH due jobs of the store sent; the number
 * taken. */
static int dispatch_round(holder *h, apr_pool_t *p)
{
    server_rec *s = h->s;
    ucwa_push_job jobs[BATCH];
    ucwa_push_outcome out[BATCH];
    apr_interval_time_t wait[BATCH];
    ap_dbd_t *dbd = NULL;
    ucwa_db db;
    round_txn x = { jobs, 0, NULL, NULL, NULL, 0, 0 };
    int n, i;

    if (ucwa_txn_run(s, p, round_locked, &x) != APR_SUCCESS) {
        return 0;
    }
    n = x.n;
    if (n == 0) {
        return 0;
    }
    db_open(s, p, &dbd, &db);
    for (i = 0; i < n; i++) {
        if (!h->d) {
            out[i] = UCWA_PUSH_AGAIN;
            wait[i] = ucwa_push_backoff(jobs[i].attempts, 0);
            continue;
        }
        deliver(h->d, s, dbd ? &db : NULL, 0, &jobs[i], p, &out[i], &wait[i]);
    }
    mob_dbd_close(s, dbd);
    x.out = out;
    x.wait = wait;
    ucwa_txn_run(s, p, round_locked, &x);
    return n;
}

/* The pool's database refused a step: said once until it answers again. */
static void pool_trouble(dispatcher *d, server_rec *s, const char *what, const char *err)
{
    if (!d->pool_warned) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00470)
                     "push: the pool's database cannot %s: %s (queued notifications wait "
                     "in this Front End's store; retrying every second)", what,
                     err ? err : "no connection");
        d->pool_warned = 1;
    }
}

/* One round in a pool of Front Ends (UcwaPoolFrontEnd): the jobs queued in this Front
 * End's store move into the pool's table, then up to BATCH due jobs of the table (queued
 * by any Front End of the pool) are taken, sent and given their verdict there. The
 * number of jobs moved and taken. */
static int pool_round(holder *h, const char *fe, apr_pool_t *p)
{
    server_rec *s = h->s;
    dispatcher *d = h->d;
    ucwa_push_job jobs[BATCH];
    ucwa_push_pool_ticket tickets[BATCH];
    int moved[BATCH];
    ap_dbd_t *dbd = NULL;
    ucwa_db db;
    round_txn x = { jobs, 0, NULL, NULL, NULL, 0, 0 };
    apr_time_t now = apr_time_now();
    int n, i, taken, all_moved = 1;

    x.pool = 1;
    if (ucwa_txn_run(s, p, round_locked, &x) != APR_SUCCESS || x.away) {
        return 0;   /* the pool's thread retries the database every second: then we do */
    }
    n = x.n;
    if (n == 0 && now < d->poll_at) {
        return 0;
    }
    d->poll_at = now + POOL_POLL;
    if (!db_open(s, p, &dbd, &db)) {
        pool_trouble(d, s, "be reached", NULL);
    }
    for (i = 0; i < n; i++) {
        moved[i] = dbd && ucwa_push_pool_move(&db, p, fe, &jobs[i]) == 0;
        all_moved &= moved[i];
        if (!moved[i] && dbd) {
            pool_trouble(d, s, "take a notification", db.err);
        }
    }
    if (n > 0) {
        x.moved = moved;
        ucwa_txn_run(s, p, round_locked, &x);
    }
    if (!dbd) {
        return n;
    }
    taken = ucwa_push_pool_take(&db, p, fe, BATCH, UCWA_PUSH_SENDING_STALE, jobs, tickets);
    if (taken < 0) {
        pool_trouble(d, s, "hand out notifications", db.err);
        taken = 0;
    }
    else if (all_moved) {
        d->pool_warned = 0;   /* it answers again */
    }
    for (i = 0; i < taken; i++) {
        ucwa_push_outcome o;
        apr_interval_time_t wait;
        deliver(d, s, &db, 1, &jobs[i], p, &o, &wait);
        if (ucwa_push_pool_finish(&db, p, &jobs[i], &tickets[i], o, wait) != 0) {
            /* held until its lease ends, then sent again: at least once */
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00471)
                         "push: cannot record the outcome of a notification to %s in the "
                         "pool's database: %s", jobs[i].user, db.err);
        }
    }
    mob_dbd_close(s, dbd);
    return n + taken;
}

/* mod_watchdog calls this every 100 ms at most, and sleeps 100 ms in between: so that a
 * notification does not wait for that, one call works for ten seconds, sending while jobs
 * are due and otherwise sleeping on the queue's futex word (woken when a job is queued),
 * looking at the server's state every WAIT_SLICE to stop promptly. */
#define WORK_SLICE apr_time_from_sec(10)
#define WAIT_SLICE apr_time_from_msec(50)

static void queue_word_locked(ucwa_txn *t, void *baton)
{
    *(volatile apr_uint32_t **)baton = ucwa_store_word(t->store, UCWA_WORD_PUSH_QUEUED);
}

static apr_status_t push_callback(int state, void *data, apr_pool_t *pool)
{
    holder *h = data;
    const dbd_cfg_t *dbc = mob_dbd_config(h->s);
    /* in a pool: its name; a pool without its PostgreSQL database (UCWA00422) keeps the
     * store's queue, as a single Front End */
    const char *fe = dbc && !strcmp(dbc->name, "pgsql") ? ucwa_config_get(h->s)->global->pool_fe
                                                        : NULL;
    apr_time_t end = apr_time_now() + WORK_SLICE;
    volatile apr_uint32_t *word = NULL;
    apr_pool_t *round;

    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    if (ucwa_txn_run(h->s, pool, queue_word_locked, &word) != APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (!h->d) {
        /* from the watchdog thread's own pool: this call's pool is destroyed after it */
        h->d = dispatcher_make(h->s, apr_pool_parent_get(pool));
    }
    apr_pool_create(&round, pool);
    while (!ucwa_watchdog_stopping() && apr_time_now() < end) {
        apr_uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
        int n = fe && h->d ? pool_round(h, fe, round) : dispatch_round(h, round);
        apr_pool_clear(round);
        if (n == 0) {
            ucwa_shm_wait_word(word, seen, WAIT_SLICE);
        }
    }
    apr_pool_destroy(round);
    return APR_SUCCESS;
}

static void configure_locked(ucwa_txn *t, void *baton)
{
    const ucwa_push_conf *c = baton;

    ucwa_push_configure_locked(t->store, c->webpush || c->apns || c->fcm, c->background_after,
                               c->content);
}

int ucwa_push_post_config(apr_pool_t *pconf, server_rec *s)
{
    const ucwa_push_conf *c = ucwa_config_get(s)->global->push;
    holder *h;
    int on = c->webpush || c->apns || c->fcm;   /* resolved by ucwa_config_check */

    ucwa_txn_run(s, pconf, configure_locked, (void *)c);
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
    if (ucwa_watchdog_start(pconf, "ucwa-push", INTERVAL, h, push_callback) != APR_SUCCESS) {
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
