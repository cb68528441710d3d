#include <httpd.h>
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <libpq-fe.h>

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_config.h"
#include "ucwa_conv.h"
#include "ucwa_conv_http.h"
#include "ucwa_conversations.h"
#include "ucwa_move.h"
#include "ucwa_pool.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_move.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

/* A statement on a native connection: its result, or NULL (cleared) when it failed.
 * binary: the result's columns in binary (a bytea as its bytes). */
static PGresult *pq(PGconn *c, const char *sql, int n, const char *const *params,
                    const int *lengths, const int *formats, int binary)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, lengths, formats, binary);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        PQclear(res);
        return NULL;
    }
    return res;
}

/* --- the Front End the client was moved to ------------------------------------------- */

typedef struct {
    const char *id;
    int found;                     /* the id names an application here (now) */
    apr_uint32_t ring_len, event_size;
} look_txn;

static void look_locked(ucwa_txn *t, void *baton)
{
    look_txn *x = baton;
    const ucwa_store_limits *l = ucwa_store_get_limits(t->store);
    int expired;

    x->found = ucwa_store_find_locked(t->store, x->id, &expired) >= 0;
    x->ring_len = l->ring_len;
    x->event_size = l->event_size;
}

typedef struct {
    const char *data;
    apr_size_t len;
    const char *sip;
    const ucwa_idle_rules *rules;
    apr_time_t now;
    int ok, idx;
    const char *why;
} import_txn;

static void import_locked(ucwa_txn *t, void *baton)
{
    import_txn *x = baton;

    x->ok = ucwa_move_import_locked(t->store, x->data, x->len, x->sip, x->rules, x->now,
                                    t->pool, t, &x->idx, &x->why) == 0;
    if (x->ok) {
        ucwa_txn_wake_app(t, x->idx);
    }
}

static int install(server_rec *s, apr_pool_t *p, const char *data, apr_size_t len,
                   const char *sip, const char **why)
{
    import_txn x;

    memset(&x, 0, sizeof(x));
    x.data = data;
    x.len = len;
    x.sip = sip;
    x.rules = &ucwa_config_get(s)->global->idle_rules;
    x.now = apr_time_now();
    x.why = "the session store is unavailable";
    if (ucwa_txn_run(s, p, import_locked, &x) != APR_SUCCESS) {
        x.ok = 0;
    }
    *why = x.why;
    return x.ok;
}

static int plain_id(const char *id)
{
    size_t n = strlen(id);

    return n > 0 && n < UCWA_ID_MAX && strspn(id, "0123456789") == n;
}

int ucwa_pool_move_fetch(ucwa_req *q)
{
    request_rec *r = q->r;
    const char *me = ucwa_pool_name(r->server);
    char key[UCWA_POOL_SDP_KEY_MAX];
    const char *params[7], *why;
    apr_time_t start = apr_time_now(), deadline;
    apr_interval_time_t nap = 1000;
    look_txn look;
    PGresult *res;
    PGconn *c;
    int askees = 0, answered = 0, got = 0;

    if (!me || !q->app_id || !q->user || !plain_id(q->app_id)) {
        return 0;
    }
    c = ucwa_pool_request_conn(r);
    if (!c) {
        return 0;
    }
    /* one ask for an application at a time, pool-wide: a second request for it (the
     * client's event request beside another) waits for the first, then finds it here */
    params[0] = q->app_id;
    res = pq(c, "SELECT pg_advisory_lock(hashtext('ucwa_move:' || $1))", 1, params, NULL,
             NULL, 0);
    if (!res) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00940)
                      "pool: cannot ask the pool for application %s: %s", q->app_id,
                      PQerrorMessage(c));
        return 0;
    }
    PQclear(res);
    memset(&look, 0, sizeof(look));
    look.id = q->app_id;
    if (ucwa_txn_run(r->server, r->pool, look_locked, &look) != APR_SUCCESS) {
        goto done;
    }
    if (look.found) {
        got = 1;
        goto done;
    }
    ucwa_pool_sdp_new_key(key);
    params[0] = key;
    params[1] = me;
    params[2] = q->app_id;
    params[3] = q->user;
    params[4] = apr_psprintf(r->pool, "%u", look.ring_len);
    params[5] = apr_psprintf(r->pool, "%u", look.event_size);
    /* a Front End that missed heartbeats for half its lease (killed, cut off) is not
     * waited for: its clients' requests answer 404 at once, not after the whole wait */
    params[6] = apr_psprintf(r->pool, "%.3f",
                             (double)ucwa_config_get(r->server)->global->pool_lease
                             / APR_USEC_PER_SEC / 2);
    res = pq(c, "SELECT ucwa_pool_move_ask($1, $2, $3, $4, $5::int, $6::int, $7::float8)", 7,
             params, NULL, NULL, 0);
    if (!res) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00941)
                      "pool: cannot ask the pool for application %s: %s", q->app_id,
                      PQerrorMessage(c));
        goto done;
    }
    askees = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (askees == 0) {
        goto done;   /* no other Front End is alive */
    }
    deadline = start + apr_time_from_msec(UCWA_POOL_MOVE_WAIT_MS);
    params[0] = key;
    while (apr_time_now() < deadline) {
        int ready;
        apr_sleep(nap);
        if (nap < apr_time_from_msec(16)) {
            nap *= 2;
        }
        res = pq(c, "SELECT data IS NOT NULL OR cardinality(answered) >= askees "
                 "FROM ucwa_pool_move WHERE key = $1", 1, params, NULL, NULL, 0);
        if (!res) {
            break;
        }
        ready = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
        PQclear(res);
        if (ready) {
            break;
        }
    }
    /* taken: the holder, whose UPDATE now finds no row, keeps what it did not hand */
    res = pq(c, "DELETE FROM ucwa_pool_move WHERE key = $1 RETURNING data, "
             "cardinality(answered)::text", 1, params, NULL, NULL, 1);
    if (!res) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00942)
                      "pool: cannot read the pool's answer for application %s: %s", q->app_id,
                      PQerrorMessage(c));
        goto done;
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        apr_size_t len = (apr_size_t)PQgetlength(res, 0, 0);
        const char *data = apr_pmemdup(r->pool, PQgetvalue(res, 0, 0), len);
        PQclear(res);
        got = install(r->server, r->pool, data, len, q->user, &why);
        if (got) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00943)
                          "pool: application %s of %s moved here from another Front End "
                          "(%" APR_TIME_T_FMT " ms)", q->app_id, q->user,
                          apr_time_as_msec(apr_time_now() - start));
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00944)
                          "pool: application %s of %s, handed over by another Front End, "
                          "cannot be installed here (%s): it is lost, the client signs in "
                          "again", q->app_id, q->user, why);
        }
        goto done;
    }
    if (PQntuples(res) == 1) {
        answered = atoi(PQgetvalue(res, 0, 1));   /* text, as its bytes */
    }
    PQclear(res);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00945)
                  "pool: no Front End handed application %s over to %s (%d of %d answered "
                  "in %" APR_TIME_T_FMT " ms): 404", q->app_id, q->user, answered, askees,
                  apr_time_as_msec(apr_time_now() - start));
done:
    params[0] = q->app_id;
    PQclear(pq(c, "SELECT pg_advisory_unlock(hashtext('ucwa_move:' || $1))", 1, params,
               NULL, NULL, 0));
    return got;
}

/* --- the Front End that holds it ------------------------------------------------------- */

typedef struct {
    const char *id, *sip;
    apr_uint32_t ring_len, event_size;
    const ucwa_idle_rules *rules;
    apr_time_t now;
    const char *data;              /* handed over: the bytes */
    apr_size_t len;
    int refused;                   /* here, but not to be handed to that asker */
} export_txn;

/* The connected conversations of application idx end as its leaving them: the other
 * party sees it leave, and the application is told it left (what remains, an invitation,
 * ends as for a sign-out). */
static void leave_all_locked(ucwa_txn *t, int idx, apr_time_t now)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(t->store), gen = ucwa_store_app(t->store, idx)->gen;
    ucwa_conv_touched touched;
    int side;

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(t->store, (int)i);
        if (c->state != UCWA_SLOT_LIVE || c->phase != UCWA_CONV_CONNECTED) {
            continue;
        }
        for (side = 0; side < 2; side++) {
            if (c->party[side].app == idx && c->party[side].app_gen == gen) {
                memset(&touched, 0, sizeof(touched));
                ucwa_conv_leave_locked(t->store, (int)i, side, now, t->pool, &touched);
                ucwa_conv_http_wake(t, &touched);
                break;
            }
        }
    }
}

static void export_locked(ucwa_txn *t, void *baton)
{
    export_txn *x = baton;
    int expired, idx = ucwa_store_find_locked(t->store, x->id, &expired);

    if (idx < 0 || expired) {
        return;
    }
    if (!ucwa_move_exportable_locked(t->store, idx, x->sip, x->ring_len, x->event_size)) {
        x->refused = 1;
        return;
    }
    /* its conversations do not move: they end first, so that what the application itself
     * is told of their end travels with its ring */
    leave_all_locked(t, idx, x->now);
    ucwa_conversations_app_gone_locked(t, idx, x->now);
    if (ucwa_move_export_locked(t->store, idx, x->sip, x->ring_len, x->event_size, t->pool,
                                &x->data, &x->len) != 0) {
        x->refused = 1;
        return;
    }
    /* forgotten here, as a sign-out, but its parked event request is told to ask again */
    ucwa_store_app(t->store, idx)->moved_out = 1;
    ucwa_app_gone_locked(t, idx, x->rules, x->now);
}

int ucwa_pool_move_serve(server_rec *s, PGconn *c, apr_pool_t *p)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    const char *params[2];
    PGresult *asks;
    int i, n;

    params[0] = g->pool_fe;
    asks = pq(c, "SELECT key, app, sip, ring_len, event_size, asker FROM ucwa_pool_move "
              "WHERE asker <> $1 AND data IS NULL AND NOT ($1 = ANY (answered)) "
              "AND asked > now() - interval '10 s' ORDER BY asked", 1, params, NULL, NULL, 0);
    if (!asks) {
        return -1;
    }
    n = PQntuples(asks);
    for (i = 0; i < n; i++) {
        const char *key = PQgetvalue(asks, i, 0), *asker = PQgetvalue(asks, i, 5);
        export_txn x;
        PGresult *res;
        memset(&x, 0, sizeof(x));
        x.id = PQgetvalue(asks, i, 1);
        x.sip = PQgetvalue(asks, i, 2);
        x.ring_len = (apr_uint32_t)atoi(PQgetvalue(asks, i, 3));
        x.event_size = (apr_uint32_t)atoi(PQgetvalue(asks, i, 4));
        x.rules = &g->idle_rules;
        x.now = apr_time_now();
        if (plain_id(x.id) && ucwa_txn_run(s, p, export_locked, &x) != APR_SUCCESS) {
            x.data = NULL;
        }
        params[0] = key;
        if (x.data) {
            int lengths[2] = { 0, (int)x.len }, formats[2] = { 0, 1 };
            const char *why;
            int handed;
            params[1] = x.data;
            res = pq(c, "UPDATE ucwa_pool_move SET data = $2 WHERE key = $1 AND data IS NULL",
                     2, params, lengths, formats, 0);
            handed = res && strcmp(PQcmdTuples(res), "0") != 0;
            PQclear(res);
            if (handed) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00946)
                             "pool: application %s of %s handed over to Front End %s",
                             x.id, x.sip, asker);
                continue;
            }
            /* the asker gave up (its wait ended) or the database failed: it stays here */
            if (install(s, p, x.data, x.len, x.sip, &why)) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00947)
                             "pool: Front End %s no longer waits for application %s of %s: "
                             "it stays here (its conversations ended)", asker, x.id, x.sip);
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00948)
                             "pool: application %s of %s could not be handed over nor kept "
                             "(%s): it is lost, the client signs in again", x.id, x.sip, why);
            }
            if (!res) {
                PQclear(asks);
                return -1;
            }
            continue;
        }
        if (x.refused) {
            /* another user's id, or a store of other sizes: the asker hears "none", as
             * for an id nobody has, and the requester 404 */
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00949)
                         "pool: application %s not handed over to Front End %s: not %s's, "
                         "or that Front End's ring has other sizes", x.id, asker, x.sip);
        }
        params[1] = g->pool_fe;
        res = pq(c, "UPDATE ucwa_pool_move SET answered = array_append(answered, $2) "
                 "WHERE key = $1", 2, params, NULL, NULL, 0);
        if (!res) {
            PQclear(asks);
            return -1;
        }
        PQclear(res);
    }
    PQclear(asks);
    return n > 0;
}
