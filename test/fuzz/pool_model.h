/* A pool of two Front Ends in one process, for the unit test (test/unit/test_ucwa_pool.c)
 * and the fuzz harness (fuzz_ucwa_pool.c) of common/ucwa/ucwa_pool: two session stores
 * in ordinary memory, and in place of PostgreSQL what the pool's SQL functions
 * (mod_ucwa/ucwa_pool_sql.h) and its thread (mod_ucwa/ucwa_pool_db.c) do with them:
 *
 *   ship     a Front End's dirty users (ucwa_pool_presence: the user table, a message to
 *            every other live Front End) and its outbox in order: SEND posts the body,
 *            INVITE remembers the Front End as invited and posts, TO_INVITED posts to
 *            every Front End the key invited, a CLAIM wins if it is the key's first
 *            (its body to the key's Front End, the other text to the other invited
 *            ones, never to the claimer) and gets its verdict at once, as the thread
 *            applies it after the commit;
 *   deliver  what waits for a Front End, in the order of its sequence, one message per
 *            ucwa_pool_apply_sdp_locked (with the session description it names, read
 *            from ucwa_pool_sdp, where pm_sdp_put wrote it as a request does), each
 *            applied once and then deleted;
 *   gone     a Front End's lease ran out (ucwa_pool_reap): what it held is deleted, the
 *            others hear fe-gone; restart joins it again with an empty store.
 *
 * Everything is allocated from the model's pool; nothing is kept between models. */
#ifndef POOL_MODEL_H
#define POOL_MODEL_H

#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ucwa_pool.h"

#define PM_FES 2

typedef struct {
    apr_uint64_t seq;
    const char *body;
    apr_size_t len;
} pm_event;

typedef struct {
    const char *kfe, *kconv;
    int fe;                            /* invited: the Front End; claim: the winner */
} pm_key;

typedef struct {
    int fe;
    const char *sip;
    int available;
} pm_user;

typedef struct {
    apr_pool_t *p;
    ucwa_store_limits limits;
    ucwa_idle_rules rules;
    void *mem[PM_FES];
    ucwa_store *s[PM_FES];
    const char *name[PM_FES];
    int alive[PM_FES];
    apr_uint64_t seq[PM_FES];          /* ucwa_pool_fe.seq */
    apr_array_header_t *events[PM_FES];   /* pm_event for that Front End */
    int head[PM_FES];                  /* events before this one were deleted */
    apr_array_header_t *invited;       /* pm_key: ucwa_pool_invite */
    apr_array_header_t *claims;        /* pm_key: ucwa_pool_claim */
    apr_array_header_t *users;         /* pm_user: ucwa_pool_user */
    apr_hash_t *sdps;                  /* key -> ucwa_pool_sdp: ucwa_pool_sdp */
    /* what happened, for the checks */
    apr_uint64_t shipped[PM_FES], posted[PM_FES], applied[PM_FES], skipped[PM_FES];
    apr_uint64_t delivered_seq[PM_FES];   /* the last number delivered (they only grow) */
    int wins, losses;
    int last_rv;                       /* of the last message delivered */
    const char *last_what;
} pm_model;

static inline int pm_index(const pm_model *m, const char *fe)
{
    int i;

    for (i = 0; i < PM_FES; i++) {
        if (!strcmp(m->name[i], fe)) {
            return i;
        }
    }
    return -1;
}

static inline void pm_store_new(pm_model *m, int i)
{
    free(m->mem[i]);
    m->mem[i] = calloc(1, ucwa_store_bytes(&m->limits));
    if (!m->mem[i]) {
        abort();
    }
    m->s[i] = ucwa_store_init(m->mem[i], &m->limits);
    ucwa_pool_enable_locked(m->s[i], m->name[i]);
    m->shipped[i] = m->applied[i] = 0;
}

/* Two Front Ends fe1 and fe2, each with a store of these limits. */
static inline void pm_init(pm_model *m, apr_pool_t *p, const ucwa_store_limits *l)
{
    int i;

    memset(m, 0, sizeof(*m));
    m->p = p;
    m->limits = *l;
    m->rules.idle = apr_time_from_sec(300);
    m->rules.away = apr_time_from_sec(3600);
    for (i = 0; i < PM_FES; i++) {
        m->name[i] = i ? "fe2" : "fe1";
        m->alive[i] = 1;
        m->events[i] = apr_array_make(p, 16, sizeof(pm_event));
        pm_store_new(m, i);
    }
    m->invited = apr_array_make(p, 8, sizeof(pm_key));
    m->claims = apr_array_make(p, 8, sizeof(pm_key));
    m->users = apr_array_make(p, 8, sizeof(pm_user));
    m->sdps = apr_hash_make(p);
}

static inline void pm_free(pm_model *m)
{
    int i;

    for (i = 0; i < PM_FES; i++) {
        free(m->mem[i]);
        m->mem[i] = NULL;
    }
}

/* ucwa_pool_post: the next number of the target's sequence (nothing for a Front End
 * that is not in the pool). */
static inline void pm_post(pm_model *m, int target, const char *body, apr_size_t len)
{
    pm_event *e;

    if (target < 0 || !m->alive[target]) {
        return;
    }
    e = apr_array_push(m->events[target]);
    e->seq = ++m->seq[target];
    e->body = apr_pstrmemdup(m->p, body, len);
    e->len = len;
    m->posted[target]++;
}

static inline pm_key *pm_find_key(apr_array_header_t *a, const char *kfe, const char *kconv,
                                  int fe)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        pm_key *k = &APR_ARRAY_IDX(a, i, pm_key);
        if (!strcmp(k->kfe, kfe) && !strcmp(k->kconv, kconv) && (fe < 0 || k->fe == fe)) {
            return k;
        }
    }
    return NULL;
}

static inline void pm_user_set(pm_model *m, int fe, const char *sip, int available)
{
    int i;

    for (i = 0; i < m->users->nelts; i++) {
        pm_user *u = &APR_ARRAY_IDX(m->users, i, pm_user);
        if (u->fe == fe && !strcmp(u->sip, sip)) {
            u->available = available;
            return;
        }
    }
    if (available > 0) {
        pm_user *u = apr_array_push(m->users);
        u->fe = fe;
        u->sip = apr_pstrdup(m->p, sip);
        u->available = available;
    }
}

/* ucwa_pool_user_fes: the other live Front Ends where sip has available applications. */
static inline int pm_user_fes(const pm_model *m, int me, const char *sip, const char **fes)
{
    int i, n = 0;

    for (i = 0; i < m->users->nelts; i++) {
        const pm_user *u = &APR_ARRAY_IDX(m->users, i, pm_user);
        if (u->fe != me && m->alive[u->fe] && u->available > 0 && !strcmp(u->sip, sip)) {
            fes[n++] = m->name[u->fe];
        }
    }
    return n;
}

/* One shipment of Front End i (everything it has queued): the number of outbox messages
 * and presence changes shipped. */
static inline int pm_ship(pm_model *m, int i, apr_time_t now, apr_pool_t *p)
{
    ucwa_store *s = m->s[i];
    apr_array_header_t *dirty = apr_array_make(p, 8, sizeof(ucwa_pool_presence_out));
    ucwa_pool_out *out = NULL;
    ucwa_txn txn;
    int *won, n, k, f;

    if (!m->alive[i]) {
        return 0;
    }
    ucwa_pool_dirty_take_locked(s, p, &m->rules, now, (int)m->limits.max_users + 1, dirty);
    for (k = 0; k < dirty->nelts; k++) {
        const ucwa_pool_presence_out *d = &APR_ARRAY_IDX(dirty, k, ucwa_pool_presence_out);
        pm_user_set(m, i, d->sip, d->available);
        for (f = 0; f < PM_FES; f++) {
            if (f != i && d->body) {
                pm_post(m, f, d->body, strlen(d->body));
            }
        }
    }
    n = ucwa_pool_out_peek_locked(s, p, UCWA_POOL_OUTBOX, &out);
    won = apr_pcalloc(p, sizeof(int) * (apr_size_t)(n + 1));
    for (k = 0; k < n; k++) {
        const ucwa_pool_out *o = &out[k];
        const char *others = o->body + o->len + 1;
        int target = pm_index(m, o->target), j;
        switch (o->op) {
        case UCWA_POOL_SEND:
            pm_post(m, target, o->body, o->len);
            break;
        case UCWA_POOL_INVITE:
            if (target >= 0 && !pm_find_key(m->invited, m->name[i], o->key, target)) {
                pm_key *key = apr_array_push(m->invited);
                key->kfe = m->name[i];
                key->kconv = apr_pstrdup(m->p, o->key);
                key->fe = target;
            }
            pm_post(m, target, o->body, o->len);
            break;
        case UCWA_POOL_GONE:
            /* ucwa_pool_gone: once per invited Front End */
            {
                pm_key *key = pm_find_key(m->invited, o->target, o->key, i);
                if (key) {
                    *key = APR_ARRAY_IDX(m->invited, m->invited->nelts - 1, pm_key);
                    m->invited->nelts--;
                    pm_post(m, target, o->body, o->len);
                }
            }
            break;
        case UCWA_POOL_TO_INVITED:
            for (j = 0; j < m->invited->nelts; j++) {
                pm_key *key = &APR_ARRAY_IDX(m->invited, j, pm_key);
                if (!strcmp(key->kfe, o->target) && !strcmp(key->kconv, o->key)) {
                    pm_post(m, key->fe, o->body, o->len);
                }
            }
            break;
        case UCWA_POOL_CLAIM_ACCEPT:
        case UCWA_POOL_CLAIM_DECLINE:
            if (pm_find_key(m->claims, o->target, o->key, -1)) {
                m->losses++;
                break;
            }
            {
                pm_key *key = apr_array_push(m->claims);
                key->kfe = apr_pstrdup(m->p, o->target);
                key->kconv = apr_pstrdup(m->p, o->key);
                key->fe = i;
            }
            won[k] = 1;
            m->wins++;
            for (f = 0; f < PM_FES; f++) {
                if (f == i) {
                    continue;
                }
                if (f == target) {
                    pm_post(m, f, o->body, o->len);
                }
                else if (pm_find_key(m->invited, o->target, o->key, f)) {
                    pm_post(m, f, others, o->others_len);
                }
            }
            break;
        default:
            break;
        }
    }
    ucwa_pool_out_done_locked(s, n);
    m->shipped[i] += (apr_uint64_t)n;
    ucwa_txn_init(&txn, s, p);
    for (k = 0; k < n; k++) {
        if (out[k].op == UCWA_POOL_CLAIM_ACCEPT || out[k].op == UCWA_POOL_CLAIM_DECLINE) {
            ucwa_pool_claim_verdict_locked(&txn, out[k].target, out[k].key,
                                           out[k].op == UCWA_POOL_CLAIM_ACCEPT, won[k], now);
        }
    }
    return n + dirty->nelts;
}

/* A call's session description written to the pool's table, as the request that gives
 * it does: its key. */
static inline const char *pm_sdp_put(pm_model *m, const char *ctype, const char *body,
                                     apr_size_t len)
{
    ucwa_pool_sdp *d = apr_pcalloc(m->p, sizeof(*d));
    char *key = apr_palloc(m->p, UCWA_POOL_SDP_KEY_MAX);

    ucwa_pool_sdp_new_key(key);
    d->ctype = apr_pstrdup(m->p, ctype);
    d->body = apr_pmemdup(m->p, body, len);
    d->len = len;
    apr_hash_set(m->sdps, key, APR_HASH_KEY_STRING, d);
    return key;
}

/* One message applied to Front End i's store, counted: its result. */
static inline int pm_apply(pm_model *m, int i, const char *body, apr_size_t len, apr_time_t now,
                           apr_pool_t *p)
{
    const char *key = ucwa_pool_sdp_key(p, body, len);
    ucwa_pool_applied res;
    ucwa_txn txn;

    ucwa_txn_init(&txn, m->s[i], p);
    m->last_rv = ucwa_pool_apply_sdp_locked(&txn, body, len,
                                            key ? apr_hash_get(m->sdps, key, APR_HASH_KEY_STRING)
                                                : NULL,
                                            &m->rules, now, &res);
    m->last_what = res.what;
    if (m->last_rv == 0) {
        m->applied[i]++;
    }
    else {
        m->skipped[i]++;
    }
    return m->last_rv;
}

/* Applies up to max messages waiting for Front End i, in order; the number applied. */
static inline int pm_deliver(pm_model *m, int i, int max, apr_time_t now, apr_pool_t *p)
{
    int n = 0;

    while (m->alive[i] && m->head[i] < m->events[i]->nelts && n < max) {
        const pm_event *e = &APR_ARRAY_IDX(m->events[i], m->head[i], pm_event);
        if (e->seq <= m->delivered_seq[i]) {
            abort();   /* the model's own bug: a number twice, or out of order */
        }
        m->delivered_seq[i] = e->seq;
        m->head[i]++;
        pm_apply(m, i, e->body, e->len, now, p);
        n++;
    }
    return n;
}

static inline int pm_waiting(const pm_model *m, int i)
{
    return m->events[i]->nelts - m->head[i];
}

static inline int pm_queued(pm_model *m, int i)
{
    return UCWA_POOL_OUTBOX - ucwa_pool_room_locked(m->s[i]);
}

/* Ships and delivers until nothing moves (at most rounds rounds): 1 when all is quiet. */
static inline int pm_settle(pm_model *m, int rounds, apr_time_t now, apr_pool_t *p)
{
    int r, i, moved = 1;

    for (r = 0; r < rounds && moved; r++) {
        moved = 0;
        for (i = 0; i < PM_FES; i++) {
            moved += pm_ship(m, i, now, p);
            moved += pm_deliver(m, i, 1 << 20, now, p);
        }
    }
    for (i = 0; i < PM_FES; i++) {
        if (m->alive[i] && (pm_queued(m, i) || pm_waiting(m, i)
                            || ucwa_store_pool_area(m->s[i])->dirty_head
                               != ucwa_store_pool_area(m->s[i])->dirty_tail)) {
            return 0;
        }
    }
    return 1;
}

static inline void pm_forget(apr_array_header_t *a, const char *name, int fe)
{
    int i, kept = 0;

    for (i = 0; i < a->nelts; i++) {
        pm_key k = APR_ARRAY_IDX(a, i, pm_key);
        if (strcmp(k.kfe, name) != 0 && k.fe != fe) {
            APR_ARRAY_IDX(a, kept, pm_key) = k;
            kept++;
        }
    }
    a->nelts = kept;
}

/* ucwa_pool_reap by the other Front End: i's lease ran out. */
static inline void pm_gone(pm_model *m, int i)
{
    int f, k, kept = 0;
    char body[128];

    if (!m->alive[i]) {
        return;
    }
    m->alive[i] = 0;
    for (k = 0; k < m->users->nelts; k++) {
        pm_user u = APR_ARRAY_IDX(m->users, k, pm_user);
        if (u.fe != i) {
            APR_ARRAY_IDX(m->users, kept, pm_user) = u;
            kept++;
        }
    }
    m->users->nelts = kept;
    m->head[i] = m->events[i]->nelts;
    m->seq[i] = 0;
    m->delivered_seq[i] = 0;
    /* what i alerted for inviters elsewhere: they hear "gone" (ucwa_pool_reap) */
    for (k = 0; k < m->invited->nelts; k++) {
        const pm_key *key = &APR_ARRAY_IDX(m->invited, k, pm_key);
        int to = pm_index(m, key->kfe);
        if (key->fe == i && to >= 0 && to != i) {
            apr_snprintf(body, sizeof(body), "{\"k\": \"gone\", \"fe\": \"%s\", \"conv\": \"%s\"}",
                         key->kfe, key->kconv);
            pm_post(m, to, body, strlen(body));
        }
    }
    pm_forget(m->invited, m->name[i], i);
    apr_snprintf(body, sizeof(body), "{\"k\": \"fe-gone\", \"fe\": \"%s\"}", m->name[i]);
    for (f = 0; f < PM_FES; f++) {
        pm_post(m, f, body, strlen(body));
    }
}

/* ucwa_pool_join: i comes back; fresh: with an empty store (a full restart), else with
 * the store it had (its lease was taken while it could not reach the database: it ends
 * its conversations with the others and announces its users again, as
 * mod_ucwa/ucwa_pool_db's rejoin does). */
static inline void pm_join(pm_model *m, int i, int fresh, apr_time_t now, apr_pool_t *p)
{
    ucwa_store *s;
    apr_uint32_t k;

    if (m->alive[i]) {
        pm_gone(m, i);
    }
    if (fresh) {
        pm_store_new(m, i);
    }
    m->alive[i] = 1;
    s = m->s[i];
    /* what waited in the outbox went to the others' earlier view: shipped, as the thread
     * ships it when it is back (the others skip what names nothing) */
    for (k = 0; k < ucwa_conv_used_locked(s); k++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)k);
        if (c->state == UCWA_SLOT_LIVE && c->peer_fe[0]) {
            ucwa_conv_touched t;
            t.n = 0;
            ucwa_conv_fe_gone_locked(s, c->peer_fe, now, p, &t);
        }
    }
    for (k = 0; k < m->limits.max_users; k++) {
        ucwa_user *u = ucwa_store_user(s, (int)k);
        if (u->state == UCWA_SLOT_LIVE && u->available_apps > 0) {
            ucwa_pool_user_dirty_locked(s, (int)k);
        }
    }
    {
        char body[128];
        int f;
        apr_snprintf(body, sizeof(body), "{\"k\": \"fe-gone\", \"fe\": \"%s\"}", m->name[i]);
        for (f = 0; f < PM_FES; f++) {
            if (f != i) {
                pm_post(m, f, body, strlen(body));
            }
        }
    }
}

#endif
