#include <httpd.h>
#include <poll.h>
#include <string.h>
#include <stdlib.h>
#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "mob_dbd.h"
#include <mod_watchdog.h>
#include <libpq-fe.h>

#include "mob_json.h"
#include "mod_ucwa.h"
#include "ucwa_config.h"
#include "ucwa_people_db.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_move.h"
#include "ucwa_pool_relay.h"
#include "ucwa_pool_sql.h"
#include "ucwa_shm.h"
#include "ucwa_sipd.h"
#include "ucwa_watchdog.h"

APLOG_USE_MODULE(ucwa);

#define WAIT_MS 2                           /* between looks at the outbox */
#define RETRY apr_time_from_sec(1)          /* after a failed connection */
#define FETCH_EVERY apr_time_from_sec(1)    /* a look at the inbox without a notification */
#define SHIP_MAX 64
#define DIRTY_MAX 256
#define FETCH_MAX "256"
#define SDP_CTYPE "application/sdp"
#define SIP_FETCH_MAX 64

/* The thread's state, one per process (only the process running the singleton
 * watchdog uses it). */
typedef struct {
    server_rec *s;
    PGconn *conn;
    apr_time_t retry_at, beat_at, fetch_at, relay_at, sip_fetch_at;
    int notified;
    int sip_notified;              /* a message for this Front End's SIP side waits */
    int sip_warned;                /* ucwa-sipd did not take them (said once) */
    int relay_notified;            /* a message for another pool waits in the relay */
    int move_notified;             /* a Front End asks for an application (ucwa_pool_move) */
    void *link_sender;             /* ucwa_pool_relay's libcurl sender, made on first use */
    apr_pool_t *keep;              /* what lives as long as the thread (mod_watchdog's pool
                                    * is cleared after every call) */
    int warned;                    /* the database was said to be unreachable */
} pool_thread;

const char *ucwa_pool_name(const server_rec *s)
{
    return ucwa_config_get(s)->global->pool_fe;
}

/* --- the thread's connection --------------------------------------------------------- */

static PGresult *exec(pool_thread *th, const char *sql, int n, const char *const *params,
                      int want)
{
    /* without parameters, the simple protocol: it takes several statements (the schema) */
    PGresult *res = n ? PQexecParams(th->conn, sql, n, NULL, params, NULL, NULL, 0)
                      : PQexec(th->conn, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != (ExecStatusType)want && !(want == PGRES_COMMAND_OK && st == PGRES_TUPLES_OK)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, th->s, UCWALOGNO(00420)
                     "pool: the database refused a step: %s", PQerrorMessage(th->conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

static int run(pool_thread *th, const char *sql, int n, const char *const *params)
{
    PGresult *res = exec(th, sql, n, params, PGRES_COMMAND_OK);

    PQclear(res);
    return res ? 0 : -1;
}

static void disconnect(pool_thread *th)
{
    if (th->conn) {
        PQfinish(th->conn);
        th->conn = NULL;
    }
    th->retry_at = apr_time_now() + RETRY;
}

typedef struct {
    const char *fe;
    apr_uint64_t last_seq;
    int registered;
    int up;
    int set;                       /* for up_locked: start from set_seq (joined) */
    apr_uint64_t set_seq;
} area_copy;

static void read_area_locked(ucwa_txn *t, void *baton)
{
    area_copy *x = baton;
    ucwa_pool_area *a = ucwa_store_pool_area(t->store);

    x->registered = (int)a->registered;
    x->last_seq = a->last_seq;
}

/* The pool's database answers again (or no more: up 0). */
static void up_locked(ucwa_txn *t, void *baton)
{
    area_copy *x = baton;
    ucwa_pool_area *a = ucwa_store_pool_area(t->store);

    a->up = (apr_uint32_t)x->up;
    if (x->set) {
        a->last_seq = x->set_seq;
        a->registered = 1;
    }
}

static void set_up(pool_thread *th, apr_pool_t *p, int up)
{
    area_copy x = { NULL, 0, 0, up, 0, 0 };

    ucwa_txn_run(th->s, p, up_locked, &x);
}

/* Joining afresh: the conversations with other Front Ends ended with this store's last
 * life (the others were told: fe-gone), and the users here are announced again. */
typedef struct {
    const ucwa_idle_rules *rules;
    apr_time_t now;
} rejoin_txn;

static void rejoin_locked(ucwa_txn *t, void *baton)
{
    rejoin_txn *x = baton;
    ucwa_store *s = t->store;
    apr_uint32_t i, n = ucwa_store_get_limits(s)->max_users, nc = ucwa_conv_used_locked(s);
    ucwa_conv_touched touched;

    for (i = 0; i < nc; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (c->state == UCWA_SLOT_LIVE && c->peer_fe[0]) {
            int k;
            touched.n = 0;
            ucwa_conv_fe_gone_locked(s, c->peer_fe, x->now, t->pool, &touched);
            for (k = 0; k < touched.n; k++) {
                ucwa_txn_wake_app(t, touched.app[k]);
            }
        }
    }
    for (i = 0; i < n; i++) {
        ucwa_user *u = ucwa_store_user(s, (int)i);
        if (u->state == UCWA_SLOT_LIVE && u->available_apps > 0) {
            ucwa_pool_user_dirty_locked(s, (int)i);
        }
    }
}

/* The linked pools' names (UcwaPoolLink) as a JSON array, for the reaper and a join:
 * a Front End gone is told to them too. */
static const char *links_json(apr_pool_t *p, const ucwa_global *g)
{
    json_t *a = json_array();
    const char *out;
    int i;

    for (i = 0; g->pool_links && i < g->pool_links->nelts; i++) {
        json_array_append_new(a, json_string(APR_ARRAY_IDX(g->pool_links, i,
                                                           ucwa_pool_peer).pool));
    }
    out = mob_json_dump(p, a, NULL);
    json_decref(a);
    return out ? out : "[]";
}

static int join(pool_thread *th, apr_pool_t *p, int again)
{
    const ucwa_global *g = ucwa_config_get(th->s)->global;
    const char *params[3];
    area_copy x = { NULL, 0, 0, 1, 1, 0 };
    PGresult *res;

    params[0] = g->pool_fe;
    params[1] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_sec(g->pool_lease));
    params[2] = links_json(p, g);
    res = exec(th, "SELECT ucwa_pool_join($1, $2::float8, $3::json)", 3, params,
               PGRES_TUPLES_OK);
    if (!res) {
        return -1;
    }
    /* what was sent to this Front End's earlier life is gone: start after it */
    x.set_seq = (apr_uint64_t)apr_atoi64(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (g->sip->enabled) {
        /* its SIP side joins with it: what the others held with its earlier life ends */
        params[0] = ucwa_pool_sip_name(p, g->pool_fe);
        params[2] = "[]";
        res = exec(th, "SELECT ucwa_pool_join($1, $2::float8, $3::json)", 3, params,
                   PGRES_TUPLES_OK);
        if (!res) {
            return -1;
        }
        PQclear(res);
    }
    ucwa_txn_run(th->s, p, up_locked, &x);
    if (again) {
        rejoin_txn r = { &g->idle_rules, apr_time_now() };
        ucwa_txn_run(th->s, p, rejoin_locked, &r);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, th->s, UCWALOGNO(00421)
                 "pool: Front End %s joined the pool%s", g->pool_fe,
                 again ? " again (its lease had expired: the others had counted it gone)" : "");
    return 0;
}

static int connect_pool(pool_thread *th, apr_pool_t *p)
{
    const ucwa_global *g = ucwa_config_get(th->s)->global;
    const dbd_cfg_t *cfg = mob_dbd_config(th->s);
    const char *params[1];
    area_copy x;
    PGresult *res;
    int locked;

    if (!cfg || strcmp(cfg->name, "pgsql") != 0) {
        if (!th->warned) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, th->s, UCWALOGNO(00422)
                         "pool: UcwaPoolFrontEnd needs the pool's PostgreSQL database "
                         "(DBDriver pgsql and its DBDParams): this Front End stays alone");
            th->warned = 1;
        }
        th->retry_at = apr_time_now() + apr_time_from_sec(60);
        return -1;
    }
    th->conn = PQconnectdb(cfg->params);
    if (PQstatus(th->conn) != CONNECTION_OK) {
        if (!th->warned) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, th->s, UCWALOGNO(00423)
                         "pool: cannot reach the pool's database: %s (retrying every second; "
                         "requests that need the pool answer 503)",
                         PQerrorMessage(th->conn));
            th->warned = 1;
        }
        set_up(th, p, 0);
        disconnect(th);
        return -1;
    }
    /* one thread per Front End ships and applies: during a graceful restart the old
     * generation's keeps the lock until its process ends */
    params[0] = g->pool_fe;
    res = exec(th, "SELECT pg_try_advisory_lock(hashtext('ucwa_pool:' || $1))", 1, params,
               PGRES_TUPLES_OK);
    locked = res && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    if (!locked) {
        disconnect(th);
        return -1;
    }
    if (run(th, UCWA_POOL_SCHEMA, 0, NULL) || run(th, "LISTEN ucwa_pool", 0, NULL)) {
        disconnect(th);
        return -1;
    }
    memset(&x, 0, sizeof(x));
    ucwa_txn_run(th->s, p, read_area_locked, &x);
    if (!x.registered) {
        if (join(th, p, 0) != 0) {
            disconnect(th);
            return -1;
        }
    }
    if (th->warned) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, th->s, UCWALOGNO(00424)
                     "pool: the pool's database answers again");
        th->warned = 0;
    }
    set_up(th, p, 1);
    th->beat_at = 0;
    th->fetch_at = 0;
    return 0;
}

/* --- heartbeat and the others' leases ------------------------------------------------ */

static int heartbeat(pool_thread *th, apr_pool_t *p)
{
    const ucwa_global *g = ucwa_config_get(th->s)->global;
    const char *params[2];
    PGresult *res;
    int i;

    params[0] = g->pool_fe;
    params[1] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_sec(g->pool_lease));
    res = exec(th, "UPDATE ucwa_pool_fe SET lease_until = now() + $2::float8 * interval '1 s' "
               "WHERE fe = $1", 2, params, PGRES_COMMAND_OK);
    if (!res) {
        return -1;
    }
    if (!strcmp(PQcmdTuples(res), "0")) {
        /* our lease expired while we could not renew it, and a survivor cleared it */
        PQclear(res);
        if (join(th, p, 1) != 0) {
            return -1;
        }
    }
    else {
        PQclear(res);
    }
    if (g->sip->enabled) {
        /* the SIP side's lease is this Front End's: they die together */
        const char *sp[2] = { ucwa_pool_sip_name(p, g->pool_fe), params[1] };
        res = exec(th, "SELECT ucwa_pool_sip_beat($1, $2::float8)", 2, sp, PGRES_TUPLES_OK);
        if (!res) {
            return -1;
        }
        PQclear(res);
    }
    params[1] = links_json(p, g);
    res = exec(th, "SELECT * FROM ucwa_pool_reap($1, $2::json)", 2, params, PGRES_TUPLES_OK);
    if (!res) {
        return -1;
    }
    for (i = 0; i < PQntuples(res); i++) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, th->s, UCWALOGNO(00425)
                     "pool: Front End %s missed its lease: its users are Offline and its "
                     "conversations ended (this Front End took over)", PQgetvalue(res, i, 0));
    }
    PQclear(res);
    th->beat_at = apr_time_now() + g->pool_lease / 5;
    return 0;
}

/* --- shipping the outbox -------------------------------------------------------------- */

typedef struct {
    const ucwa_global *g;
    apr_array_header_t *dirty;     /* ucwa_pool_presence_out */
    ucwa_pool_out *out;
    int nout;
} take_txn;

static void take_locked(ucwa_txn *t, void *baton)
{
    take_txn *x = baton;

    ucwa_pool_dirty_take_locked(t->store, t->pool, &x->g->idle_rules, apr_time_now(), DIRTY_MAX,
                                x->dirty);
    x->nout = ucwa_pool_out_peek_locked(t->store, t->pool, SHIP_MAX, &x->out);
}

typedef struct {
    take_txn *take;
    int ok;
    int *won;                      /* per outbox message: claims' verdicts */
} shipped_txn;

static void shipped_locked(ucwa_txn *t, void *baton)
{
    shipped_txn *x = baton;
    take_txn *tk = x->take;
    int i;

    if (!x->ok) {
        for (i = 0; i < tk->dirty->nelts; i++) {
            ucwa_pool_dirty_again_locked(t->store,
                APR_ARRAY_IDX(tk->dirty, i, ucwa_pool_presence_out).sip);
        }
        return;
    }
    ucwa_pool_out_done_locked(t->store, tk->nout);
    for (i = 0; i < tk->nout; i++) {
        const ucwa_pool_out *o = &tk->out[i];
        if (o->op == UCWA_POOL_CLAIM_ACCEPT || o->op == UCWA_POOL_CLAIM_DECLINE) {
            ucwa_pool_claim_verdict_locked(t, o->target, o->key,
                                           o->op == UCWA_POOL_CLAIM_ACCEPT, x->won[i],
                                           apr_time_now());
        }
    }
}

/* A description a message carries inline (sdp, its "sdpData", from rnd) written into the
 * pool's table under a fresh key (hex of rnd into key), which the message names as "sdp"
 * instead. 0, or -1. */
static int sdp_inline(pool_thread *th, json_t *m, const char *sdp, const unsigned char *rnd,
                      char *key)
{
    const char *sp[3] = { key, SDP_CTYPE, sdp };
    int lengths[3] = { 0, (int)strlen(SDP_CTYPE), (int)strlen(sdp) }, formats[3] = { 0, 1, 1 };
    PGresult *res;
    int i, rv;

    for (i = 0; i < 16; i++) {
        apr_snprintf(key + 2 * i, 3, "%02x", rnd[i]);
    }
    res = PQexecParams(th->conn, "INSERT INTO ucwa_pool_sdp (key, ctype, body) "
                       "VALUES ($1, $2, $3)", 3, NULL, sp, lengths, formats, 0);
    rv = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    if (rv == 0) {
        json_object_set_new(m, "sdp", json_string(key));
        json_object_del(m, "sdpData");
    }
    return rv;
}

/* A message of ucwa-sipd to one Front End with its description inline
 * (UCWA_POOL_SEND_SDP): the description into the pool's table, then the message naming it,
 * in this shipment's transaction. */
static int ship_sdp_send(pool_thread *th, const ucwa_pool_out *o)
{
    json_t *m = json_loadb(o->body, o->len, 0, NULL);
    const char *sdp = m ? mob_json_str(m, "sdpData") : NULL;
    const char *params[2];
    unsigned char rnd[16];
    char key[33];
    apr_pool_t *p;
    int rv;

    if (!sdp || apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        json_decref(m);
        return 0;   /* malformed: dropped */
    }
    apr_pool_create(&p, NULL);
    rv = sdp_inline(th, m, sdp, rnd, key);
    if (rv == 0) {
        params[0] = o->target;
        params[1] = mob_json_dump(p, m, NULL);
        rv = params[1] ? run(th, "SELECT ucwa_pool_post($1, $2)", 2, params) : -1;
    }
    json_decref(m);
    apr_pool_destroy(p);
    return rv;
}

/* A call from SIP that this Front End's ucwa-sipd took (UCWA_POOL_INVITE_USER): its offer
 * (inline, "sdpData") goes into the pool's table under a fresh key in this shipment's
 * transaction, so it is there before any Front End reads the invitation that names it;
 * the invitation goes to every Front End where the user has applications. */
static int ship_sip_invite(pool_thread *th, const ucwa_pool_out *o)
{
    json_t *m = json_loadb(o->body, o->len, 0, NULL);
    const char *sdp = m ? mob_json_str(m, "sdpData") : NULL, *to = m ? mob_json_str(m, "to")
                                                                     : NULL;
    const char *params[4];
    unsigned char rnd[16];
    char key[33];
    apr_pool_t *p;
    int rv = -1;

    if (!sdp || !to || apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        json_decref(m);
        return 0;   /* malformed: dropped (ucwa-sipd's ring timer ends the call) */
    }
    apr_pool_create(&p, NULL);
    rv = sdp_inline(th, m, sdp, rnd, key);
    if (rv == 0) {
        params[0] = o->target;
        params[1] = o->key;
        params[2] = to;
        params[3] = mob_json_dump(p, m, NULL);
        rv = params[3] ? run(th, "SELECT ucwa_pool_invite_user($1, $2, $3, $4)", 4, params) : -1;
    }
    json_decref(m);
    apr_pool_destroy(p);
    return rv;
}

static int ship_one(pool_thread *th, const ucwa_pool_out *o, int *won)
{
    const char *fe = ucwa_config_get(th->s)->global->pool_fe;
    const char *params[6];
    char lease[32];
    PGresult *res;

    switch (o->op) {
    case UCWA_POOL_SEND:
        params[0] = o->target;
        params[1] = o->body;
        return run(th, "SELECT ucwa_pool_post($1, $2)", 2, params);
    case UCWA_POOL_INVITE:
        params[0] = fe;
        params[1] = o->key;
        params[2] = o->target;
        params[3] = o->body;
        return run(th, "SELECT ucwa_pool_invite($1, $2, $3, $4)", 4, params);
    case UCWA_POOL_TO_INVITED:
        params[0] = o->target;
        params[1] = o->key;
        params[2] = o->body;
        return run(th, "SELECT ucwa_pool_to_invited($1, $2, $3)", 3, params);
    case UCWA_POOL_GONE:
        params[0] = o->target;
        params[1] = o->key;
        params[2] = fe;
        params[3] = o->body;
        return run(th, "SELECT ucwa_pool_gone($1, $2, $3, $4)", 4, params);
    case UCWA_POOL_CLAIM_ACCEPT:
    case UCWA_POOL_CLAIM_DECLINE:
        params[0] = o->target;
        params[1] = o->key;
        params[2] = fe;
        params[3] = o->op == UCWA_POOL_CLAIM_ACCEPT ? "accept" : "decline";
        params[4] = o->body;
        params[5] = o->body + o->len + 1;
        res = exec(th, "SELECT ucwa_pool_claim($1, $2, $3, $4, $5, $6)", 6, params,
                   PGRES_TUPLES_OK);
        if (!res) {
            return -1;
        }
        *won = !strcmp(PQgetvalue(res, 0, 0), "t");
        PQclear(res);
        return 0;
    case UCWA_POOL_INVITE_USER:
        return ship_sip_invite(th, o);
    case UCWA_POOL_SEND_SDP:
        return ship_sdp_send(th, o);
    case UCWA_POOL_SIP_CLAIM:
        /* the claimer is the SIP side itself: nothing goes back to it, every Front End
         * the call rang (this one's too) hears the body; lost, nothing is posted, and the
         * winner's own message reaches the SIP side */
        params[0] = o->target;
        params[1] = o->key;
        params[2] = o->body;
        return run(th, "SELECT ucwa_pool_claim($1, $2, $1, 'accept', $3, $3)", 3, params);
    case UCWA_POOL_SIP_JOIN: {
        /* the established calls the new process took back stay (its body's "keep") */
        json_t *m = json_loadb(o->body, o->len, 0, NULL), *keep = json_object_get(m, "keep");
        apr_pool_t *p;
        int rv;
        apr_pool_create(&p, NULL);
        apr_snprintf(lease, sizeof(lease), "%" APR_TIME_T_FMT,
                     apr_time_sec(ucwa_config_get(th->s)->global->pool_lease));
        params[0] = o->target;
        params[1] = lease;
        params[2] = json_is_array(keep) ? mob_json_dump(p, keep, NULL) : "[]";
        rv = run(th, "SELECT ucwa_pool_sip_join($1, $2::float8, $3::json)", 3, params);
        json_decref(m);
        apr_pool_destroy(p);
        return rv;
    }
    default:
        return 0;   /* unknown: dropped */
    }
}

/* One shipment: the dirty users' presence and the outbox, in one transaction. 1 when
 * something was shipped, 0 nothing to do, -1 failed (kept for the next try). */
static int ship(pool_thread *th, apr_pool_t *p)
{
    const char *fe = ucwa_config_get(th->s)->global->pool_fe;
    take_txn tk;
    shipped_txn done;
    int i, rv = 0;

    tk.g = ucwa_config_get(th->s)->global;
    tk.dirty = apr_array_make(p, 16, sizeof(ucwa_pool_presence_out));
    tk.out = NULL;
    tk.nout = 0;
    if (ucwa_txn_run(th->s, p, take_locked, &tk) != APR_SUCCESS) {
        return -1;
    }
    if (tk.dirty->nelts == 0 && tk.nout == 0) {
        return 0;
    }
    done.take = &tk;
    done.won = apr_pcalloc(p, sizeof(int) * (apr_size_t)(tk.nout + 1));
    rv = run(th, "BEGIN", 0, NULL);
    if (rv == 0 && tk.dirty->nelts) {
        /* every presence change in one round trip */
        json_t *users = json_array();
        const char *params[2];
        for (i = 0; i < tk.dirty->nelts; i++) {
            const ucwa_pool_presence_out *d = &APR_ARRAY_IDX(tk.dirty, i,
                                                             ucwa_pool_presence_out);
            if (d->body) {
                json_array_append_new(users, json_pack("[s,i,I,s]", d->sip, d->available,
                                                       (json_int_t)d->changed, d->body));
            }
        }
        params[0] = fe;
        params[1] = mob_json_dump(p, users, NULL);
        json_decref(users);
        rv = params[1] ? run(th, "SELECT ucwa_pool_presence_many($1, $2::json)", 2, params) : -1;
    }
    for (i = 0; rv == 0 && i < tk.nout; i++) {
        int k;
        if (tk.out[i].op != UCWA_POOL_SEND) {
            rv = ship_one(th, &tk.out[i], &done.won[i]);
            continue;
        }
        /* a run of plain messages in one round trip, in their order */
        for (k = i; k < tk.nout && tk.out[k].op == UCWA_POOL_SEND; k++) {
        }
        if (k - i == 1) {
            rv = ship_one(th, &tk.out[i], &done.won[i]);
        }
        else {
            json_t *msgs = json_array();
            const char *params[1];
            int j;
            for (j = i; j < k; j++) {
                json_array_append_new(msgs, json_pack("[s,s]", tk.out[j].target, tk.out[j].body));
            }
            params[0] = mob_json_dump(p, msgs, NULL);
            json_decref(msgs);
            rv = params[0] ? run(th, "SELECT ucwa_pool_post_many($1::json)", 1, params) : -1;
        }
        i = k - 1;
    }
    if (rv == 0) {
        rv = run(th, "COMMIT", 0, NULL);
    }
    else {
        PGresult *res = PQexec(th->conn, "ROLLBACK");
        PQclear(res);
    }
    done.ok = rv == 0;
    ucwa_txn_run(th->s, p, shipped_locked, &done);
    return rv == 0 ? 1 : -1;
}

/* --- applying what the others sent ------------------------------------------------- */

typedef struct {
    pool_thread *th;
    PGresult *res;
    const ucwa_global *g;
    apr_uint64_t last;
    int skipped;
    const ucwa_pool_sdp **sdp;     /* per message: the description it names, or NULL */
} apply_txn;

static void apply_locked(ucwa_txn *t, void *baton)
{
    apply_txn *x = baton;
    ucwa_pool_area *a = ucwa_store_pool_area(t->store);
    apr_time_t now = apr_time_now();
    int i;

    for (i = 0; i < PQntuples(x->res); i++) {
        apr_uint64_t seq = (apr_uint64_t)apr_atoi64(PQgetvalue(x->res, i, 0));
        ucwa_pool_applied res;
        if (seq <= a->last_seq) {
            continue;   /* seen already (at least once, never twice) */
        }
        if (ucwa_pool_apply_sdp_locked(t, PQgetvalue(x->res, i, 1),
                                       (apr_size_t)PQgetlength(x->res, i, 1), x->sdp[i],
                                       &x->g->idle_rules, now, &res) != 0) {
            x->skipped++;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, x->th->s, UCWALOGNO(00426)
                         "pool: message %" APR_UINT64_T_FMT " skipped: %s", seq,
                         res.what ? res.what : "malformed");
        }
        a->last_seq = seq;
    }
    x->last = a->last_seq;
}

/* The session descriptions the fetched messages name (calls; their bodies in column
 * col), read before the store is locked: sdp[i] for message i, NULL when it names none or
 * the pool's table has it no more. 0, or -1 when the database failed. */
static int read_sdps(pool_thread *th, apr_pool_t *p, PGresult *events, int col,
                     const ucwa_pool_sdp **sdp)
{
    int i, n = PQntuples(events), want = 0;
    const char **keys = apr_pcalloc(p, sizeof(*keys) * (apr_size_t)(n + 1));
    const char *list = "", *params[1];
    int formats[1] = { 0 };
    apr_hash_t *found;
    PGresult *res;

    for (i = 0; i < n; i++) {
        keys[i] = ucwa_pool_sdp_key(p, PQgetvalue(events, i, col),
                                    (apr_size_t)PQgetlength(events, i, col));
        if (keys[i]) {
            list = apr_pstrcat(p, list, want++ ? "," : "", keys[i], NULL);
        }
    }
    if (!want) {
        return 0;
    }
    params[0] = apr_pstrcat(p, "{", list, "}", NULL);
    /* binary results: the descriptions' bytes as they came */
    res = PQexecParams(th->conn, "SELECT key, ctype, body FROM ucwa_pool_sdp "
                       "WHERE key = ANY($1::text[])", 1, NULL, params, NULL, formats, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, th->s, UCWALOGNO(00580)
                     "pool: cannot read calls' session descriptions: %s",
                     PQerrorMessage(th->conn));
        PQclear(res);
        return -1;
    }
    found = apr_hash_make(p);
    for (i = 0; i < PQntuples(res); i++) {
        ucwa_pool_sdp *d = apr_pcalloc(p, sizeof(*d));
        d->ctype = apr_pstrmemdup(p, PQgetvalue(res, i, 1), (apr_size_t)PQgetlength(res, i, 1));
        d->len = (apr_size_t)PQgetlength(res, i, 2);
        d->body = apr_pmemdup(p, PQgetvalue(res, i, 2), d->len + 1);
        apr_hash_set(found, apr_pstrmemdup(p, PQgetvalue(res, i, 0),
                                           (apr_size_t)PQgetlength(res, i, 0)),
                     APR_HASH_KEY_STRING, d);
    }
    PQclear(res);
    for (i = 0; i < n; i++) {
        sdp[i] = keys[i] ? apr_hash_get(found, keys[i], APR_HASH_KEY_STRING) : NULL;
    }
    return 0;
}

/* Reads and applies what waits for this Front End, then deletes it. 1 when something was
 * applied, 0 nothing, -1 failed. */
static int fetch(pool_thread *th, apr_pool_t *p)
{
    const char *params[2];
    area_copy c;
    apply_txn x;
    int n;

    memset(&c, 0, sizeof(c));
    ucwa_txn_run(th->s, p, read_area_locked, &c);
    params[0] = ucwa_config_get(th->s)->global->pool_fe;
    params[1] = apr_psprintf(p, "%" APR_UINT64_T_FMT, c.last_seq);
    x.res = exec(th, "SELECT seq, body FROM ucwa_pool_event WHERE fe = $1 AND seq > "
                 "$2::bigint ORDER BY seq LIMIT " FETCH_MAX, 2, params, PGRES_TUPLES_OK);
    if (!x.res) {
        return -1;
    }
    n = PQntuples(x.res);
    th->fetch_at = apr_time_now() + FETCH_EVERY;
    if (n == 0) {
        PQclear(x.res);
        return 0;
    }
    x.th = th;
    x.g = ucwa_config_get(th->s)->global;
    x.last = c.last_seq;
    x.skipped = 0;
    x.sdp = apr_pcalloc(p, sizeof(*x.sdp) * (apr_size_t)(n + 1));
    if (read_sdps(th, p, x.res, 1, x.sdp) != 0) {
        PQclear(x.res);
        return -1;
    }
    ucwa_txn_run(th->s, p, apply_locked, &x);
    PQclear(x.res);
    params[1] = apr_psprintf(p, "%" APR_UINT64_T_FMT, x.last);
    if (run(th, "DELETE FROM ucwa_pool_event WHERE fe = $1 AND seq <= $2::bigint", 2, params)) {
        return -1;
    }
    if (n == atoi(FETCH_MAX)) {
        th->fetch_at = 0;   /* more waiting */
    }
    return 1;
}

/* --- this Front End's SIP side ------------------------------------------------------ */

/* The messages for this Front End's SIP side ("~sip:FE", UcwaSip On): read in order with
 * the descriptions they name and handed to ucwa-sipd over its command socket (inline),
 * one command each; deleted once it took them. Each command has an id made of the
 * message's number and a hash of its body, so a message handed again after a lost answer
 * is not applied twice (ucwa-sipd answers a known id from its cache). ucwa-sipd not
 * answering (restarting): they wait in the table and go when it is back. 1 when some
 * went, 0 nothing, -1 the database failed. */
static int fetch_sip(pool_thread *th, apr_pool_t *p)
{
    const ucwa_global *g = ucwa_config_get(th->s)->global;
    const char *params[2], *last = NULL;
    const ucwa_pool_sdp **sdp;
    PGresult *res;
    int i, n, done = 0;

    params[0] = ucwa_pool_sip_name(p, g->pool_fe);
    res = exec(th, "SELECT seq, body FROM ucwa_pool_event WHERE fe = $1 ORDER BY seq LIMIT "
               APR_STRINGIFY(SIP_FETCH_MAX), 1, params, PGRES_TUPLES_OK);
    if (!res) {
        return -1;
    }
    n = PQntuples(res);
    th->sip_fetch_at = apr_time_now() + FETCH_EVERY;
    sdp = apr_pcalloc(p, sizeof(*sdp) * (apr_size_t)(n + 1));
    if (n == 0 || read_sdps(th, p, res, 1, sdp) != 0) {
        PQclear(res);
        return n == 0 ? 0 : -1;
    }
    for (i = 0; i < n; i++) {
        const char *body = PQgetvalue(res, i, 1), *seq = PQgetvalue(res, i, 0), *line, *answer;
        json_t *cmd = json_pack("{s:s,s:s,s:s}", "cmd", "pool", "id",
                                apr_psprintf(p, "pool:%s:%08x", seq,
                                             apr_hashfunc_default(body, &(apr_ssize_t){
                                                 APR_HASH_KEY_STRING })),
                                "body", body);
        if (cmd && sdp[i] && sdp[i]->len < UCWA_SIPD_MAX_LINE - 16384) {
            json_t *v = json_stringn(sdp[i]->body, sdp[i]->len);
            if (v) {
                json_object_set_new(cmd, "sdp", v);
            }
        }
        line = cmd ? mob_json_dump(p, cmd, NULL) : NULL;
        json_decref(cmd);
        if (!line) {
            last = seq;   /* cannot be sent (not UTF-8): dropped */
            continue;
        }
        answer = ucwa_sipd_ask(p, th->s, apr_pstrcat(p, line, "\n", NULL),
                               apr_time_from_sec(2));
        if (!answer || !strstr(answer, "\"ok\":true")) {
            if (!th->sip_warned) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, th->s, UCWALOGNO(00900)
                             "pool: ucwa-sipd did not take the SIP side's messages (%s): "
                             "they wait for it", answer ? answer : "no answer");
                th->sip_warned = 1;
            }
            th->sip_fetch_at = apr_time_now() + apr_time_from_msec(200);
            break;
        }
        th->sip_warned = 0;
        last = seq;
        done++;
    }
    if (last) {
        params[1] = apr_pstrdup(p, last);
        PQclear(res);
        if (run(th, "DELETE FROM ucwa_pool_event WHERE fe = $1 AND seq <= $2::bigint", 2,
                params)) {
            return -1;
        }
    }
    else {
        PQclear(res);
    }
    if (done == SIP_FETCH_MAX) {
        th->sip_fetch_at = 0;   /* more waiting */
    }
    return done > 0;
}

/* --- relaying to other pools ------------------------------------------------------- */

#define RELAY_MAX 32
#define RELAY_EVERY apr_time_from_sec(1)

/* Sends what waits in the relay table to the other pools, oldest first; one Front End
 * of the pool at a time (an advisory lock) so that a conversation's messages keep their
 * order. A pool that does not answer keeps its messages (later ones to it wait behind
 * them) and does not hold up the others. 1 when something went, 0 nothing, -1 the
 * database failed. */
static int relay(pool_thread *th, apr_pool_t *p, apr_pool_t *keep)
{
    apr_array_header_t *failed = apr_array_make(p, 2, sizeof(const char *));
    const ucwa_pool_sdp **sdp;
    const char *ids = "", *params[1];
    PGresult *res;
    int i, n, sent = 0;

    th->relay_at = apr_time_now() + RELAY_EVERY;
    th->relay_notified = 0;
    if (run(th, "BEGIN", 0, NULL)) {
        return -1;
    }
    res = exec(th, "SELECT id, target, body FROM ucwa_pool_relay "
               "WHERE pg_try_advisory_xact_lock(7715) ORDER BY id LIMIT " APR_STRINGIFY(RELAY_MAX), 0, NULL,
               PGRES_TUPLES_OK);
    if (!res) {
        PQclear(PQexec(th->conn, "ROLLBACK"));
        return -1;
    }
    n = PQntuples(res);
    /* the calls' descriptions they name: the other pool cannot read this pool's table */
    sdp = apr_pcalloc(p, sizeof(*sdp) * (apr_size_t)(n + 1));
    if (read_sdps(th, p, res, 2, sdp) != 0) {
        PQclear(res);
        PQclear(PQexec(th->conn, "ROLLBACK"));
        return -1;
    }
    for (i = 0; i < n; i++) {
        const char *target = PQgetvalue(res, i, 1), *fe, *pool, *why = NULL;
        int k, skip = 0, rv;
        ucwa_pool_link_split(p, target, &fe, &pool);
        for (k = 0; k < failed->nelts; k++) {
            skip |= !strcasecmp(APR_ARRAY_IDX(failed, k, const char *), pool);
        }
        if (skip) {
            continue;
        }
        if (!sdp[i] && ucwa_pool_sdp_key(p, PQgetvalue(res, i, 2),
                                         (apr_size_t)PQgetlength(res, i, 2))) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, th->s, UCWALOGNO(00601)
                         "pool link: a call's message for %s names a session description "
                         "this pool's table has no more: sent without it", target);
        }
        rv = ucwa_pool_link_send(th->s, keep, p, &th->link_sender, target, PQgetvalue(res, i, 2),
                                 (apr_size_t)PQgetlength(res, i, 2), sdp[i], &why);
        if (rv < 0) {
            APR_ARRAY_PUSH(failed, const char *) = pool;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, th->s, UCWALOGNO(00435)
                         "pool link: pool %s did not take a message (%s): kept, retrying",
                         pool, why);
            continue;
        }
        if (rv > 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, th->s, UCWALOGNO(00436)
                         "pool link: a message for %s was dropped: %s", target, why);
        }
        ids = apr_pstrcat(p, ids, *ids ? "," : "", PQgetvalue(res, i, 0), NULL);
        sent++;
    }
    PQclear(res);
    if (sent) {
        params[0] = apr_pstrcat(p, "{", ids, "}", NULL);
        if (run(th, "DELETE FROM ucwa_pool_relay WHERE id = ANY($1::bigint[])", 1, params)) {
            PQclear(PQexec(th->conn, "ROLLBACK"));
            return -1;
        }
    }
    if (n == RELAY_MAX && sent) {
        th->relay_at = 0;   /* more waiting */
    }
    return run(th, "COMMIT", 0, NULL) ? -1 : sent > 0;
}

/* Waits up to ms for a notification; sets th->notified when one for us came. -1 when the
 * connection broke. */
static int wait_notify(pool_thread *th, int ms)
{
    const char *fe = ucwa_config_get(th->s)->global->pool_fe;
    struct pollfd pfd;
    PGnotify *n;

    pfd.fd = PQsocket(th->conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0) {
        return -1;
    }
    if (poll(&pfd, 1, ms) > 0 && !PQconsumeInput(th->conn)) {
        return -1;
    }
    while ((n = PQnotifies(th->conn)) != NULL) {
        if (n->extra && !strcmp(n->extra, fe)) {
            th->notified = 1;
        }
        else if (n->extra && ucwa_pool_is_pool_sip(n->extra)
                 && !strcmp(n->extra + sizeof(UCWA_POOL_SIP_PREFIX) - 1, fe)) {
            th->sip_notified = 1;
        }
        else if (n->extra && !strcmp(n->extra, "@relay")) {
            th->relay_notified = 1;
        }
        else if (n->extra && !strcmp(n->extra, "@move")) {
            th->move_notified = 1;   /* a Front End asks for an application */
        }
        PQfreemem(n);
    }
    return PQstatus(th->conn) == CONNECTION_OK ? 0 : -1;
}

static apr_status_t pool_callback(int state, void *data, apr_pool_t *pool)
{
    pool_thread *th = data;
    apr_pool_t *p;

    if (state == AP_WATCHDOG_STATE_STOPPING) {
        if (th->conn) {
            PQfinish(th->conn);    /* the advisory lock goes with it */
            th->conn = NULL;
        }
        return APR_SUCCESS;
    }
    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    apr_pool_create(&p, pool);
    /* One call for the process's life: mod_watchdog sleeps 100 ms (AP_WD_TM_SLICE)
     * between two calls, and a message across Front Ends posted then waited for it. The
     * loop ends when the child stops (graceful restart, stop, a killed child's exit). */
    while (!ucwa_watchdog_stopping()) {
        int busy = 0;
        apr_pool_clear(p);
        if (!th->conn) {
            if (apr_time_now() < th->retry_at || connect_pool(th, p) != 0) {
                apr_sleep(apr_time_from_msec(50));
                continue;
            }
        }
        if (apr_time_now() >= th->beat_at && heartbeat(th, p) != 0) {
            goto broken;
        }
        switch (ship(th, p)) {
        case -1: goto broken;
        case 1: busy = 1; break;
        default: break;
        }
        if (ucwa_config_get(th->s)->global->pool_links
            && (th->relay_notified || apr_time_now() >= th->relay_at)) {
            if (!th->keep && apr_pool_create_unmanaged_ex(&th->keep, NULL, NULL) != APR_SUCCESS) {
                th->keep = NULL;
                goto broken;
            }
            switch (relay(th, p, th->keep)) {
            case -1: goto broken;
            case 1: busy = 1; break;
            default: break;
            }
        }
        if (th->move_notified) {
            th->move_notified = 0;
            switch (ucwa_pool_move_serve(th->s, th->conn, p)) {
            case -1: goto broken;
            case 1: busy = 1; break;
            default: break;
            }
        }
        if (th->notified || apr_time_now() >= th->fetch_at) {
            th->notified = 0;
            switch (fetch(th, p)) {
            case -1: goto broken;
            case 1: busy = 1; break;
            default: break;
            }
        }
        if (ucwa_config_get(th->s)->global->sip->enabled
            && (th->sip_notified || apr_time_now() >= th->sip_fetch_at)) {
            th->sip_notified = 0;
            switch (fetch_sip(th, p)) {
            case -1: goto broken;
            case 1: busy = 1; break;
            default: break;
            }
        }
        /* busy, a look only: an ask for an application (@move) waits for no quiet moment */
        if (wait_notify(th, busy ? 0 : WAIT_MS) != 0) {
            goto broken;
        }
        continue;
broken:
        if (!th->warned) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, th->s, UCWALOGNO(00427)
                         "pool: lost the pool's database: %s (what this Front End must tell "
                         "the others waits in its outbox; retrying every second)",
                         th->conn ? PQerrorMessage(th->conn) : "no connection");
            th->warned = 1;
        }
        set_up(th, p, 0);
        disconnect(th);
    }
    apr_pool_destroy(p);
    return APR_SUCCESS;
}

/* --- post_config --------------------------------------------------------------------- */

typedef struct {
    const char *fe;
} enable_txn;

static void enable_locked(ucwa_txn *t, void *baton)
{
    ucwa_pool_enable_locked(t->store, ((enable_txn *)baton)->fe);
}

/* The pool's tables before any child serves a request (the thread makes them too, when
 * the database was not reachable at start). */
static void create_schema(pool_thread *th)
{
    const dbd_cfg_t *cfg = mob_dbd_config(th->s);

    if (!cfg || strcmp(cfg->name, "pgsql") != 0) {
        return;
    }
    th->conn = PQconnectdb(cfg->params);
    if (PQstatus(th->conn) == CONNECTION_OK) {
        run(th, UCWA_POOL_SCHEMA, 0, NULL);
    }
    PQfinish(th->conn);
    th->conn = NULL;
}

int ucwa_pool_post_config(apr_pool_t *pconf, server_rec *s)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    enable_txn e = { g->pool_fe };
    pool_thread *th;
    apr_status_t rv;

    if (ucwa_txn_run(s, pconf, enable_locked, &e) != APR_SUCCESS) {
        return !OK;
    }
    if (!g->pool_fe) {
        return OK;
    }
    th = apr_pcalloc(pconf, sizeof(*th));
    th->s = s;
    create_schema(th);
    rv = ucwa_watchdog_start(pconf, "ucwa-pool", apr_time_from_msec(100), th, pool_callback);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, UCWALOGNO(00428)
                     "pool: cannot start the pool's thread (mod_watchdog)");
        return !OK;
    }
    return OK;
}

/* --- reads for requests --------------------------------------------------------------- */

/* The request's connection to the pool's database (mod_dbd's, used natively: LISTEN
 * and typed parameters are libpq's), or NULL (logged). */
static PGconn *request_conn(request_rec *r)
{
    return ucwa_pool_request_conn(r);
}

PGconn *ucwa_pool_request_conn(request_rec *r)
{
    ap_dbd_t *dbd = mob_dbd_acquire(r);

    if (!dbd || strcmp(apr_dbd_name(dbd->driver), "pgsql") != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00429)
                      "pool: no connection to the pool's PostgreSQL database");
        return NULL;
    }
    return apr_dbd_native_handle(dbd->driver, dbd->handle);
}

static PGresult *request_query(request_rec *r, const char *sql, int n, const char *const *params)
{
    PGconn *c = request_conn(r);
    PGresult *res;

    if (!c) {
        return NULL;
    }
    res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQstatus(c) == CONNECTION_BAD) {
        /* mod_dbd's pooled connection outlived a restart of the database: once more */
        PQclear(res);
        PQreset(c);
        res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00430)
                      "pool: the pool's database refused a read: %s", PQerrorMessage(c));
        PQclear(res);
        return NULL;
    }
    return res;
}

int ucwa_pool_user_fes(request_rec *r, const char *sip, apr_array_header_t **fes)
{
    const char *params[2];
    PGresult *res;
    int i;

    params[0] = sip;
    params[1] = ucwa_pool_name(r->server);
    res = request_query(r, "SELECT u.fe FROM ucwa_pool_user u JOIN ucwa_pool_fe f "
                        "ON f.fe = u.fe WHERE u.sip = $1 AND u.fe <> $2 AND u.available > 0 "
                        "AND f.lease_until > now() ORDER BY u.fe", 2, params);
    if (!res) {
        return -1;
    }
    *fes = apr_array_make(r->pool, PQntuples(res) + 1, sizeof(const char *));
    for (i = 0; i < PQntuples(res) && i < UCWA_CONV_ENDPOINTS; i++) {
        APR_ARRAY_PUSH(*fes, const char *) = apr_pstrdup(r->pool, PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return 0;
}

int ucwa_pool_read_presence(request_rec *r, const char *sip, ucwa_pool_presence_in *out)
{
    const char *params[2];
    PGresult *res;
    int found = 0;

    params[0] = sip;
    params[1] = ucwa_pool_name(r->server);
    res = request_query(r, "SELECT u.body FROM ucwa_pool_user u JOIN ucwa_pool_fe f "
                        "ON f.fe = u.fe WHERE u.sip = $1 AND u.fe <> $2 AND u.available > 0 "
                        "AND f.lease_until > now() ORDER BY u.changed DESC LIMIT 1", 2, params);
    if (!res) {
        return -1;
    }
    if (PQntuples(res) == 1) {
        found = ucwa_pool_presence_parse(r->pool, PQgetvalue(res, 0, 0),
                                         (apr_size_t)PQgetlength(res, 0, 0), out) == 0;
    }
    PQclear(res);
    return found;
}

int ucwa_pool_sdp_put_key(request_rec *r, const char *key, const char *ctype, const char *body,
                          apr_size_t len)
{
    const char *params[3];
    int lengths[3], formats[3] = { 0, 1, 1 };
    PGconn *c = request_conn(r);
    PGresult *res;

    if (!c) {
        return -1;
    }
    params[0] = key;
    params[1] = ctype ? ctype : "";
    params[2] = body;
    lengths[0] = 0;
    lengths[1] = (int)strlen(params[1]);
    lengths[2] = (int)len;
    res = PQexecParams(c, "INSERT INTO ucwa_pool_sdp (key, ctype, body) VALUES ($1, $2, $3)",
                       3, NULL, params, lengths, formats, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(c) == CONNECTION_BAD) {
        /* mod_dbd's pooled connection outlived a restart of the database: once more */
        PQclear(res);
        PQreset(c);
        res = PQexecParams(c, "INSERT INTO ucwa_pool_sdp (key, ctype, body) VALUES ($1, $2, $3)",
                           3, NULL, params, lengths, formats, 0);
    }
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00581)
                      "pool: cannot write a call's session description to the pool's "
                      "database: %s", PQerrorMessage(c));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

int ucwa_pool_sdp_put(request_rec *r, const char *ctype, const char *body, apr_size_t len,
                      const char **key)
{
    char *k = apr_palloc(r->pool, UCWA_POOL_SDP_KEY_MAX);

    ucwa_pool_sdp_new_key(k);
    if (ucwa_pool_sdp_put_key(r, k, ctype, body, len) != 0) {
        return -1;
    }
    *key = k;
    return 0;
}

int ucwa_pool_busy(ucwa_req *q)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00566)
                  "pool: this Front End's outbox to the pool is full (a burst): %s answered 503",
                  q->user);
    apr_table_setn(q->r->err_headers_out, "Retry-After", "1");
    return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                           "This server has more to tell the pool's other Front Ends than it "
                           "can hold now: try again shortly.");
}

int ucwa_pool_unavailable(ucwa_req *q)
{
    apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
    return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                           "The pool's database cannot be reached: try again shortly.");
}

/* --- delivery of what another pool relayed (ucwa_pool_relay) ------------------------- */

static int request_run(request_rec *r, const char *sql, int n, const char *const *params)
{
    PGresult *res = request_query(r, sql, n, params);

    PQclear(res);
    return res ? 0 : -1;
}

int ucwa_pool_deliver(request_rec *r, const char *to, const ucwa_pool_link_in *in,
                      const char **why)
{
    const char *params[4];
    PGresult *res;
    int i, n, rv = 0;

    *why = "the pool's database refused it";
    if (*to) {
        params[0] = to;
        params[1] = in->body;
        return request_run(r, "SELECT ucwa_pool_post($1, $2)", 2, params);
    }
    if (!strcmp(in->kind, "presence") || !strcmp(in->kind, "fe-gone")) {
        /* a user of that pool some watcher here registered for, or a Front End of that
         * pool gone (what it held with this pool ends): every live Front End */
        params[0] = in->body;
        return request_run(r, "SELECT ucwa_pool_post(fe, $1) FROM ucwa_pool_fe "
                           "WHERE lease_until > now() AND fe NOT LIKE '~%' ORDER BY fe", 1,
                           params);
    }
    if (!*in->fe || !*in->conv) {
        *why = "no Front End named and no conversation key";
        return -1;
    }
    if (strcmp(in->kind, "invite") != 0) {
        /* to every Front End here that the invitation with this key rang */
        params[0] = in->fe;
        params[1] = in->conv;
        params[2] = in->body;
        return request_run(r, "SELECT ucwa_pool_to_invited($1, $2, $3)", 3, params);
    }
    /* an invitation to a user of this pool: wherever his applications are */
    params[0] = in->to;
    res = request_query(r, "SELECT u.fe FROM ucwa_pool_user u JOIN ucwa_pool_fe f ON f.fe = u.fe "
                        "WHERE u.sip = $1 AND u.available > 0 AND f.lease_until > now() "
                        "ORDER BY u.fe", 1, params);
    if (!res) {
        return -1;
    }
    n = PQntuples(res);
    if (request_run(r, "BEGIN", 0, NULL) != 0) {
        PQclear(res);
        return -1;
    }
    for (i = 0; rv == 0 && i < n; i++) {
        params[0] = in->fe;
        params[1] = in->conv;
        params[2] = PQgetvalue(res, i, 0);
        params[3] = in->body;
        rv = request_run(r, "SELECT ucwa_pool_invite($1, $2, $3, $4)", 4, params);
    }
    PQclear(res);
    if (rv == 0 && n == 0) {
        /* nobody of this pool to alert: the inviter counts this pool out */
        json_t *g = json_pack("{s:s,s:s,s:s}", "k", "gone", "fe", in->fe, "conv", in->conv);
        params[0] = in->fe;
        params[1] = mob_json_dump(r->pool, g, NULL);
        json_decref(g);
        rv = params[1] ? request_run(r, "SELECT ucwa_pool_post($1, $2)", 2, params) : -1;
    }
    if (request_run(r, rv == 0 ? "COMMIT" : "ROLLBACK", 0, NULL) != 0) {
        rv = -1;
    }
    return rv;
}

int ucwa_pool_watch(request_rec *r, const char *sip, const char *pool, const char **found)
{
    const char *params[2];
    PGresult *res;

    *found = NULL;
    params[0] = sip;
    params[1] = pool;
    if (request_run(r, "INSERT INTO ucwa_pool_watch (sip, pool, until) VALUES ($1, $2, now() "
                    "+ interval '30 min') ON CONFLICT (sip, pool) DO UPDATE SET until = "
                    "EXCLUDED.until", 2, params) != 0) {
        return -1;
    }
    res = request_query(r, "SELECT u.body FROM ucwa_pool_user u JOIN ucwa_pool_fe f "
                        "ON f.fe = u.fe WHERE u.sip = $1 AND u.available > 0 "
                        "AND f.lease_until > now() ORDER BY u.changed DESC LIMIT 1", 1, params);
    if (!res) {
        return -1;
    }
    if (PQntuples(res) == 1) {
        *found = apr_pstrdup(r->pool, PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return 0;
}
