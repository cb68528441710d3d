/* ucwa_store: the shared-memory session store, model-based. The input picks one of a
 * few small limits (first byte), then is read as a sequence of operations, each an
 * opcode byte and its argument bytes (missing bytes read as 0):
 *
 *   create     user (a few fixed SIP addresses), endpoint, instance, user agent,
 *              culture, prefix, per-user limit
 *   delete / expire / make available (what makeMeAvailable does)   an application slot
 *   post       to a slot: priority, sender, an event that fits, fits exactly, is one
 *              byte too big or far too big
 *   post_user  to a user's applications (all, or only the available ones)
 *   poll       a live application with ack = pkg - 1, pkg, pkg + 1, pkg + 2, 0 or
 *              random; final or not; aggregation windows
 *   time       moves the clock forward (it never goes back)
 *   find       an application id cut from the input, or a known id spelt differently
 *   user_find  a fixed, input-made or over-long SIP address, creating or not
 *
 * The harness keeps a shadow model of every slot: its state, its id, who created it
 * with what, and its event channel (the package last cut, whether it was acknowledged,
 * the events posted since, the overflow flag). The store must do exactly what the model
 * says:
 *   - create: EXISTING for the same user, endpoint, instance, user agent and culture;
 *     TOO_MANY at the per-user limit; FULL when no user slot can be had or no
 *     application slot is free or a tombstone; else NEW in the slot freed last, or
 *     in the first never used, or in the oldest tombstone;
 *   - events: every event posted to a live application and not refused (too big) or
 *     dropped by an overflow is delivered, in order, in the first package cut after
 *     it, and never again once that package is acknowledged (ack = pkg + 1); a package
 *     re-requested (ack = pkg) before that is identical; after its acknowledgement
 *     asking for it again gets a resync to pkg + 1 (its events are gone); an overflow
 *     (a post to a full ring) drops the events not yet in a package, the post itself
 *     included, and the next package carries resume and is released at once; a poll
 *     releases when final, on overflow, or when an event is due (high at once, medium
 *     and low after their window), else it waits until the earliest due time; any other
 *     ack is answered with a resync to pkg (1 before the first package);
 *   - ids: a live application's id finds it (expired = 0), an expired one's finds it
 *     with expired = 1 until the slot is reused, a deleted or replaced one finds
 *     nothing; whatever ucwa_store_find_locked finds is that slot's id, spelt the same;
 *   - users: a user found or created has that SIP address, and is found again;
 *   - after every operation ucwa_store_check_locked() finds the store consistent and its
 *     counts match the model's; a rendered package or resync is valid JSON carrying
 *     the package's events. */
#include <apr_strings.h>
#include <jansson.h>

#include "fuzz_util.h"
#include "ucwa_event.h"
#include "ucwa_store.h"

/* a slot's header: priority, flags, time, eight lengths (common/ucwa/ucwa_store.c) */
#define SLOT_HEADER 48

#define MAX_APPS 8
#define MAX_RING 8
#define EV_MAX 256
#define RETIRED 16

static const ucwa_store_limits configs[] = {
    /* max_apps, ring_len, event_size, max_users, max_subs, max_convs */
    { 8, 8, 256, 8, 4, 4 },
    { 4, 3, 128, 3, 2, 2 },
    { 8, 1, 200, 2, 1, 1 },
    { 2, 2, 64, 8, 0, 0 },
};

#define NSIPS 6
static const char *const sips[NSIPS] = {
    "alice@contoso.test", "bob@contoso.test", "carol@contoso.test",
    "dave@fabrikam.test", "erin@fabrikam.test", "frank@contoso.test",
};

static const char *const endpoints[4] = {
    "a917c6f4-976c-4cf3-847d-cdfffa28ccdf",
    "A917C6F4-976C-4CF3-847D-CDFFFA28CCDF",
    "e",
    /* UCWA's limit: 100 characters */
    ("0123456789012345678901234567890123456789012345678901234567890123456789"
     "012345678901234567890123456789"),
};
static const char *const instances[3] = { NULL, "", "instance-1" };   /* NULL is "" */
static const char *const agents[2] = { "UCWA Samples", "Lync Mobile/6.0" };
static const char *const cultures[2] = { "en-US", "de-DE" };
static const char *const prefixes[2] = { "/ucwa/oauth/v1/applications", "/ucwa/v1/applications" };
static const char *const senders[3][2] = {
    { "me", "/m" }, { "people", "/p" }, { "communication", "/communication" },
};
static const apr_interval_time_t deltas[8] = {
    0, 1, APR_USEC_PER_SEC - 1, APR_USEC_PER_SEC, 5 * APR_USEC_PER_SEC,
    15 * APR_USEC_PER_SEC, 60 * APR_USEC_PER_SEC, 1800 * APR_USEC_PER_SEC,
};
static const apr_interval_time_t windows[4] = {
    0, 5 * APR_USEC_PER_SEC, 15 * APR_USEC_PER_SEC, 1800 * APR_USEC_PER_SEC,
};

typedef struct {
    /* as the client must see them, with the application's base */
    char sender[2 * EV_MAX], event[2 * EV_MAX];
    apr_time_t ts;
    int prio;
} mev;

typedef struct {
    int state;                     /* ucwa_slot_state */
    int sip, endpoint, instance, agent, culture;
    int available;
    apr_time_t created;
    char id[UCWA_ID_MAX];
    /* the event channel */
    apr_uint32_t pkg;
    int cur_n, cur_resume, acked;
    mev cur[MAX_RING];
    int pend_n, overflow;
    mev pend[MAX_RING];
} mapp;

typedef struct {
    ucwa_store_limits lim;
    ucwa_store *s;
    mapp app[MAX_APPS];
    char retired[RETIRED][UCWA_ID_MAX];   /* ids of deleted or replaced applications */
    int freed[MAX_APPS], nfreed;           /* slots deleted, in order (a stack) */
    int unused_from;                       /* slots from here on were never used */
    int nretired;
    apr_time_t now;
    unsigned counter;                      /* makes every event unique */
} model;

typedef struct {
    const uint8_t *d;
    size_t n, i;
} input;

static unsigned next(input *in)
{
    return in->i < in->n ? in->d[in->i++] : 0;
}

static void retire(model *m, const char *id)
{
    apr_cpystrn(m->retired[m->nretired % RETIRED], id, UCWA_ID_MAX);
    m->nretired++;
}

/* --- checks ------------------------------------------------------------------------- */

static void check_all(model *m, apr_pool_t *p)
{
    ucwa_store_stats st;
    const char *bad = ucwa_store_check_locked(m->s, &st, p);
    apr_uint32_t live = 0, expired = 0, available = 0, queued = 0;
    int i, j, idx, exp;

    if (bad) {
        fprintf(stderr, "ucwa_store_check_locked: %s\n", bad);
    }
    FUZZ_CHECK(bad == NULL);
    for (i = 0; i < (int)m->lim.max_apps; i++) {
        mapp *ma = &m->app[i];
        ucwa_app *a = ucwa_store_app(m->s, i);

        FUZZ_CHECK((int)a->state == ma->state);
        if (ma->state == UCWA_SLOT_FREE) {
            continue;
        }
        FUZZ_CHECK(!strcmp(a->id, ma->id));
        idx = ucwa_store_find_locked(m->s, ma->id, &exp);
        FUZZ_CHECK(idx == i);
        FUZZ_CHECK(exp == (ma->state == UCWA_SLOT_EXPIRED));
        for (j = 0; j < i; j++) {
            FUZZ_CHECK(m->app[j].state == UCWA_SLOT_FREE || strcmp(m->app[j].id, ma->id));
        }
        if (ma->state == UCWA_SLOT_EXPIRED) {
            expired++;
            continue;
        }
        live++;
        available += (apr_uint32_t)ma->available;
        queued += (apr_uint32_t)((ma->acked ? 0 : ma->cur_n) + ma->pend_n);
        FUZZ_CHECK((int)a->user == ucwa_store_user_find_locked(m->s, sips[ma->sip], 0));
        FUZZ_CHECK((int)a->available == ma->available);
        FUZZ_CHECK(a->pkg == ma->pkg);
    }
    FUZZ_CHECK(st.apps_live == live);
    FUZZ_CHECK(st.apps_expired == expired);
    FUZZ_CHECK(st.apps_available == available);
    FUZZ_CHECK(st.events_queued == queued);
    /* gone ids find nothing, unless a slot has come back to the very same id */
    for (j = 0; j < RETIRED && j < m->nretired; j++) {
        int again = 0;
        for (i = 0; i < (int)m->lim.max_apps; i++) {
            again |= m->app[i].state != UCWA_SLOT_FREE && !strcmp(m->app[i].id, m->retired[j]);
        }
        if (!again) {
            FUZZ_CHECK(ucwa_store_find_locked(m->s, m->retired[j], &exp) == -1);
        }
    }
}

/* find(id): nothing, or the slot whose id is exactly id */
static void check_find(model *m, const char *id)
{
    int exp = 7, idx = ucwa_store_find_locked(m->s, id, &exp);

    if (idx < 0) {
        FUZZ_CHECK(idx == -1 && exp == 0);
        return;
    }
    FUZZ_CHECK(idx < (int)m->lim.max_apps);
    if (strcmp(ucwa_store_app(m->s, idx)->id, id)) {
        fprintf(stderr, "find(\"%s\") gave slot %d, whose id is %s\n", id, idx,
                ucwa_store_app(m->s, idx)->id);
    }
    FUZZ_CHECK(!strcmp(ucwa_store_app(m->s, idx)->id, id));
    FUZZ_CHECK(m->app[idx].state != UCWA_SLOT_FREE);
    FUZZ_CHECK(exp == (m->app[idx].state == UCWA_SLOT_EXPIRED));
}

static void check_user(model *m, const char *sip, int create)
{
    int r = ucwa_store_user_find_locked(m->s, sip, create);

    if (r < 0) {
        FUZZ_CHECK(r == -1);
        /* only a full table refuses to create */
        if (create) {
            int i, room = 0;
            for (i = 0; i < (int)m->lim.max_users; i++) {
                ucwa_user *u = ucwa_store_user(m->s, i);
                room |= u->state != UCWA_SLOT_LIVE || u->apps == 0;
            }
            /* (a SIP address too long to keep is refused as well) */
            FUZZ_CHECK(!room || strlen(sip) >= UCWA_SIP_MAX);
        }
        return;
    }
    FUZZ_CHECK(r < (int)m->lim.max_users);
    FUZZ_CHECK(ucwa_store_user(m->s, r)->state == UCWA_SLOT_LIVE);
    if (strcmp(ucwa_store_user(m->s, r)->sip, sip)) {
        fprintf(stderr, "user_find(\"%s\") gave user %d, \"%s\"\n", sip, r,
                ucwa_store_user(m->s, r)->sip);
    }
    FUZZ_CHECK(!strcmp(ucwa_store_user(m->s, r)->sip, sip));
    FUZZ_CHECK(ucwa_store_user_find_locked(m->s, sip, 0) == r);
}

/* The rendered package: valid JSON, its links, and its events in order. */
static void check_render(model *m, apr_pool_t *p, int idx, const ucwa_package *pkg, int resync)
{
    const char *base = ucwa_store_app(m->s, idx)->base, *out;
    apr_size_t len;
    json_error_t err;
    json_t *j, *links, *sender, *s;
    size_t i, k, n = 0;
    char want[128];

    out = ucwa_package_json(p, base, pkg, resync, &len);
    FUZZ_CHECK(out != NULL && strlen(out) == len);
    j = json_loadb(out, len, 0, &err);
    if (!j) {
        fprintf(stderr, "package JSON: %s\n%s\n", err.text, out);
    }
    FUZZ_CHECK(j != NULL);
    links = json_object_get(j, "_links");
    sender = json_object_get(j, "sender");
    FUZZ_CHECK(json_is_object(links) && json_is_array(sender));
    apr_snprintf(want, sizeof(want), "%s/events?ack=%u", base,
                 resync ? pkg->resync_ack : pkg->ack + 1);
    s = json_object_get(json_object_get(links, resync ? "resync" : "next"), "href");
    FUZZ_CHECK(json_is_string(s) && !strcmp(json_string_value(s), want));
    FUZZ_CHECK(!json_object_get(links, "resume") == !(pkg->resume && !resync));
    json_array_foreach(sender, i, s) {
        json_t *evs = json_object_get(s, "events"), *e;
        FUZZ_CHECK(json_is_array(evs) && json_array_size(evs) > 0);
        json_array_foreach(evs, k, e) {
            json_t *mine;
            FUZZ_CHECK((int)n < pkg->count);
            mine = json_loads(ucwa_event_json(p, base, &pkg->events[n]), 0, &err);
            FUZZ_CHECK(mine != NULL && json_equal(mine, e));
            json_decref(mine);
            n++;
        }
    }
    FUZZ_CHECK((int)n == (resync ? 0 : pkg->count));
    json_decref(j);
}

/* The package holds the events as data; rendered with the application's base they are
 * the texts the model wrote. */
static void same_package(apr_pool_t *p, const char *base, const ucwa_package *pkg,
                         apr_uint32_t ack, int resume, const mev *evs, int n)
{
    int i;

    FUZZ_CHECK(pkg->ack == ack);
    FUZZ_CHECK(!pkg->resume == !resume);
    FUZZ_CHECK(pkg->count == n);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(!strcmp(ucwa_event_sender_json(p, base, &pkg->events[i]), evs[i].sender));
        FUZZ_CHECK(!strcmp(ucwa_event_json(p, base, &pkg->events[i]), evs[i].event));
        FUZZ_CHECK(pkg->events[i].prio == (ucwa_prio)evs[i].prio);
        FUZZ_CHECK(pkg->events[i].ts == evs[i].ts);
    }
}

/* --- operations --------------------------------------------------------------------- */

static int user_has_room(model *m, int sip)
{
    int i;

    if (ucwa_store_user_find_locked(m->s, sips[sip], 0) >= 0) {
        return 1;
    }
    for (i = 0; i < (int)m->lim.max_users; i++) {
        ucwa_user *u = ucwa_store_user(m->s, i);
        if (u->state != UCWA_SLOT_LIVE || u->apps == 0) {
            return 1;
        }
    }
    return 0;
}

static void op_create(model *m, input *in)
{
    unsigned b1 = next(in), b2 = next(in), b3 = next(in);
    int sip = (int)(b1 % NSIPS), endpoint = (int)(b2 % 4), instance = (int)((b2 >> 2) % 3);
    int agent = (int)((b2 >> 4) & 1), culture = (int)((b2 >> 5) & 1);
    apr_uint32_t per_user_max = b3 % 4;
    int prefix = (int)((b3 >> 2) & 1);
    ucwa_app_params pa;
    ucwa_create_result want, got;
    int i, want_idx = -1, mine = 0, idx = -1;

    for (i = 0; i < (int)m->lim.max_apps; i++) {
        mapp *a = &m->app[i];
        if (a->state != UCWA_SLOT_LIVE || a->sip != sip) {
            continue;
        }
        mine++;
        if (a->endpoint == endpoint && (a->instance == 2) == (instance == 2)
            && a->agent == agent && a->culture == culture) {
            want_idx = i;
        }
    }
    if (!user_has_room(m, sip)) {
        want = UCWA_CREATE_FULL;
    }
    else if (want_idx >= 0) {
        want = UCWA_CREATE_EXISTING;
    }
    else if (per_user_max && (apr_uint32_t)mine >= per_user_max) {
        want = UCWA_CREATE_TOO_MANY;
    }
    else {
        if (m->nfreed) {
            want_idx = m->freed[m->nfreed - 1];
        }
        else if (m->unused_from < (int)m->lim.max_apps) {
            want_idx = m->unused_from;
        }
        for (i = 0; i < (int)m->lim.max_apps && want_idx < 0; i++) {
            if (m->app[i].state == UCWA_SLOT_EXPIRED) {
                int j, oldest = i;
                for (j = i + 1; j < (int)m->lim.max_apps; j++) {
                    if (m->app[j].state == UCWA_SLOT_EXPIRED
                        && m->app[j].created < m->app[oldest].created) {
                        oldest = j;
                    }
                }
                want_idx = oldest;
            }
        }
        want = want_idx >= 0 ? UCWA_CREATE_NEW : UCWA_CREATE_FULL;
    }

    memset(&pa, 0, sizeof(pa));
    pa.user = sips[sip];
    pa.endpoint_id = endpoints[endpoint];
    pa.user_agent = agents[agent];
    pa.culture = cultures[culture];
    pa.instance_id = instances[instance];
    pa.prefix = prefixes[prefix];
    pa.policy_tag = (b3 & 0x10) ? "tag:Sales" : NULL;
    pa.name = "Alice Example";
    pa.policy_fp = b3;
    pa.per_user_max = per_user_max;
    got = ucwa_store_create_locked(m->s, &pa, m->now, &idx);
    if (got != want) {
        fprintf(stderr, "create %s: %d, want %d (slot %d)\n", sips[sip], got, want, want_idx);
    }
    FUZZ_CHECK(got == want);
    if (got == UCWA_CREATE_EXISTING) {
        FUZZ_CHECK(idx == want_idx);
    }
    if (got == UCWA_CREATE_NEW) {
        ucwa_app *a = ucwa_store_app(m->s, idx);
        mapp *ma = &m->app[idx];

        FUZZ_CHECK(idx == want_idx);
        if (m->nfreed) {
            m->nfreed--;
        }
        else if (m->unused_from < (int)m->lim.max_apps) {
            m->unused_from++;
        }
        if (ma->state == UCWA_SLOT_EXPIRED) {
            retire(m, ma->id);
        }
        memset(ma, 0, sizeof(*ma));
        ma->state = UCWA_SLOT_LIVE;
        ma->sip = sip;
        ma->endpoint = endpoint;
        ma->instance = instance;
        ma->agent = agent;
        ma->culture = culture;
        ma->created = m->now;
        FUZZ_CHECK(a->id[0] >= '1' && a->id[0] <= '9' && strlen(a->id) < UCWA_ID_MAX);
        apr_cpystrn(ma->id, a->id, sizeof(ma->id));
        FUZZ_CHECK(!strncmp(a->base, prefixes[prefix], strlen(prefixes[prefix]))
                   && a->base[strlen(prefixes[prefix])] == '/'
                   && !strcmp(a->base + strlen(prefixes[prefix]) + 1, a->id));
        FUZZ_CHECK(!strcmp(a->endpoint_id, endpoints[endpoint]));
        FUZZ_CHECK(!strcmp(a->instance_id, instances[instance] ? instances[instance] : ""));
        FUZZ_CHECK(!strcmp(a->policy_tag, pa.policy_tag ? pa.policy_tag : ""));
        FUZZ_CHECK(a->pkg == 0 && a->head == 0 && a->overflow == 0 && a->available == 0);
    }
    if (got == UCWA_CREATE_NEW || got == UCWA_CREATE_EXISTING) {
        FUZZ_CHECK((int)ucwa_store_app(m->s, idx)->user == ucwa_store_user_find_locked(m->s, pa.user, 0));
    }
}

static void op_release(model *m, input *in, int expire)
{
    int idx = (int)(next(in) % m->lim.max_apps);
    mapp *ma = &m->app[idx];

    if (expire) {
        ucwa_store_expire_locked(m->s, idx);
        if (ma->state == UCWA_SLOT_LIVE) {
            ma->state = UCWA_SLOT_EXPIRED;
            ma->available = 0;
        }
        return;
    }
    ucwa_store_delete_locked(m->s, idx);
    if (ma->state != UCWA_SLOT_FREE) {
        retire(m, ma->id);
        m->freed[m->nfreed++] = idx;
    }
    memset(ma, 0, sizeof(*ma));
}

#define IN_RELATIVE "\"in\":{\"href\":\"/in\"}"

/* What ucwa_store_post_locked must do to the model with event e (an extra member, type
 * last, no title); its expected return. */
static int model_post(model *m, int idx, int prio, const ucwa_event *e, apr_pool_t *p)
{
    mapp *ma = &m->app[idx];
    const char *base = ucwa_store_app(m->s, idx)->base, *x = e->extra ? e->extra : "";
    size_t bytes = strlen(e->sender_rel) + strlen(e->sender_href) + strlen(e->rel)
                   + strlen(e->href) + strlen(e->type) + strlen(x);
    mev *me;

    if (ma->state != UCWA_SLOT_LIVE) {
        return -1;
    }
    /* a slot holds its header and the strings, without the base */
    if (SLOT_HEADER + bytes > m->lim.event_size) {
        return -1;
    }
    if ((ma->acked ? 0 : ma->cur_n) + ma->pend_n >= (int)m->lim.ring_len) {
        ma->pend_n = 0;
        ma->overflow = 1;
        return -1;
    }
    FUZZ_CHECK(ma->pend_n < MAX_RING);
    if (!strcmp(x, IN_RELATIVE)) {
        x = apr_psprintf(p, "\"in\":{\"href\":\"%s/in\"}", base);   /* rendered with the base */
    }
    me = &ma->pend[ma->pend_n++];
    apr_snprintf(me->sender, sizeof(me->sender), "\"rel\":\"%s\",\"href\":\"%s%s\"",
                 e->sender_rel, base, e->sender_href);
    apr_snprintf(me->event, sizeof(me->event),
                 "{\"link\":{\"rel\":\"%s\",\"href\":\"%s%s\"},%s%s\"type\":\"%s\"}", e->rel,
                 base, e->href, x, *x ? "," : "", e->type);
    FUZZ_CHECK(strlen(me->event) + 1 < sizeof(me->event));
    me->ts = m->now;
    me->prio = prio;
    return 0;
}

static void op_post(model *m, input *in, apr_pool_t *p)
{
    unsigned b1 = next(in), b2 = next(in), b3 = next(in);
    int idx = (int)(b1 % m->lim.max_apps), prio = (int)(b2 % 3);
    ucwa_event e;
    long room;
    int want;

    memset(&e, 0, sizeof(e));
    e.sender_rel = senders[(b2 >> 2) % 3][0];
    e.sender_href = senders[(b2 >> 2) % 3][1];
    e.rel = "x";
    e.href = apr_psprintf(p, "/n/%u", ++m->counter);
    e.type = "updated";
    /* what is left of a slot for the extra member, beside the header and the rest */
    room = (long)m->lim.event_size - SLOT_HEADER - (long)(strlen(e.sender_rel)
           + strlen(e.sender_href) + strlen(e.rel) + strlen(e.href) + strlen(e.type));
    /* 0: small; 1: fills the slot exactly; 2: one byte too big; 3: far too big; the extra
     * member is "p":"<pad>" (6 bytes and the pad), with a relative href or not */
    switch (b3 % 4) {
    case 1:
    case 2: {
        long target = room + (b3 % 4 == 2);
        if (target >= 6) {
            size_t pad = (size_t)(target - 6);
            e.extra = apr_psprintf(p, "\"p\":\"%s\"",
                                   (char *)memset(apr_pcalloc(p, pad + 1), 'x', pad));
        }
        break;
    }
    case 3:
        e.extra = apr_psprintf(p, "\"p\":\"%s\"",
                               (char *)memset(apr_pcalloc(p, 3 * m->lim.event_size + 1), 'y',
                                              3 * m->lim.event_size));
        break;
    default:
        if (b3 & 4) {
            e.extra = (b3 & 8) ? IN_RELATIVE : "\"in\":{\"href\":\"data:,x\"}";
        }
        break;
    }
    want = model_post(m, idx, prio, &e, p);
    FUZZ_CHECK(ucwa_store_post_locked(m->s, idx, (ucwa_prio)prio, &e, m->now) == want);
}

static void op_post_user(model *m, input *in, apr_pool_t *p)
{
    static const struct {
        const char *sender_rel, *sender_sub, *rel, *sub, *type;
    } kinds[3] = {
        { "me", "/me", "presence", "/me/presence", "updated" },
        { "people", "/people", "contact", "/people/bob%40contoso.test", "added" },
        { "me", "/me", "note", "/me/note",
          "updated-with-a-rather-long-type-name-to-overflow-the-smaller-event-slots" },
    };
    unsigned b1 = next(in), b2 = next(in);
    int sip = (int)(b1 % NSIPS), available_only = (int)((b1 >> 4) & 1);
    int prio = (int)(b2 % 3), k = (int)((b2 >> 2) % 3);
    int user = ucwa_store_user_find_locked(m->s, sips[sip], 0);
    int i, want = 0, got;
    ucwa_event e;

    memset(&e, 0, sizeof(e));
    e.sender_rel = kinds[k].sender_rel;
    e.sender_href = kinds[k].sender_sub;
    e.rel = kinds[k].rel;
    e.href = kinds[k].sub;
    e.type = kinds[k].type;
    for (i = 0; i < (int)m->lim.max_apps; i++) {
        mapp *ma = &m->app[i];
        if (ma->state != UCWA_SLOT_LIVE || ma->sip != sip || (available_only && !ma->available)) {
            continue;
        }
        if (model_post(m, i, prio, &e, p) == 0) {
            want++;
        }
    }
    if (user < 0) {
        FUZZ_CHECK(want == 0);
    }
    got = ucwa_store_post_user_locked(m->s, user, available_only, (ucwa_prio)prio, kinds[k].sender_rel,
                               kinds[k].sender_sub, kinds[k].rel, kinds[k].sub, kinds[k].type,
                               m->now, p);
    FUZZ_CHECK(got == want);
}

static void op_poll(model *m, input *in, apr_pool_t *p)
{
    unsigned b1 = next(in), b2 = next(in), b3 = next(in);
    int idx = (int)(b1 % m->lim.max_apps), final = (int)(b3 & 1), i;
    mapp *ma = &m->app[idx];
    ucwa_windows w;
    ucwa_package pkg;
    ucwa_poll_result got;
    apr_uint32_t ack;

    if (ma->state != UCWA_SLOT_LIVE) {
        return;   /* the module polls live applications only */
    }
    switch (b2 % 6) {
    case 0: ack = ma->pkg - 1; break;
    case 1: ack = ma->pkg; break;
    case 2: ack = ma->pkg + 1; break;
    case 3: ack = ma->pkg + 2; break;
    case 4: ack = 0; break;
    default:
        ack = (apr_uint32_t)next(in) | (apr_uint32_t)next(in) << 8
              | (apr_uint32_t)next(in) << 16 | (apr_uint32_t)next(in) << 24;
        break;
    }
    w.low = windows[(b3 >> 1) & 3];
    w.medium = windows[(b3 >> 3) & 3];
    memset(&pkg, 0x5a, sizeof(pkg));
    got = ucwa_store_poll_locked(m->s, idx, ack, &w, final, m->now, p, &pkg);

    if (ma->pkg > 0 && ack == ma->pkg && !ma->acked) {
        /* the same package again, identical */
        FUZZ_CHECK(got == UCWA_POLL_READY);
        same_package(p, ucwa_store_app(m->s, idx)->base, &pkg, ma->pkg, ma->cur_resume, ma->cur, ma->cur_n);
        check_render(m, p, idx, &pkg, 0);
        return;
    }
    if (ack != ma->pkg + 1) {
        /* out of range, or an acknowledged package asked again: resync */
        FUZZ_CHECK(got == UCWA_POLL_RESYNC);
        FUZZ_CHECK(pkg.resync_ack == (ma->acked ? ma->pkg + 1 : ma->pkg > 0 ? ma->pkg : 1));
        pkg.ack = ack;
        check_render(m, p, idx, &pkg, 1);
        return;
    }
    /* ack = pkg + 1: package pkg is acknowledged */
    ma->acked = 1;
    {
        int release = final || ma->overflow;
        apr_time_t wake = 0;
        for (i = 0; i < ma->pend_n; i++) {
            const mev *e = &ma->pend[i];
            apr_time_t due = e->ts + (e->prio == UCWA_PRIO_HIGH ? 0
                                      : e->prio == UCWA_PRIO_MEDIUM ? w.medium : w.low);
            if (due <= m->now) {
                release = 1;
            }
            else if (!wake || due < wake) {
                wake = due;
            }
        }
        if (!release) {
            FUZZ_CHECK(got == UCWA_POLL_WAIT);
            FUZZ_CHECK(pkg.wake_at == wake);
            FUZZ_CHECK(wake == 0 || wake > m->now);
            return;
        }
    }
    FUZZ_CHECK(got == UCWA_POLL_READY);
    same_package(p, ucwa_store_app(m->s, idx)->base, &pkg, ack, ma->overflow, ma->pend, ma->pend_n);
    ma->pkg = ack;
    memcpy(ma->cur, ma->pend, sizeof(ma->cur));
    ma->cur_n = ma->pend_n;
    ma->cur_resume = ma->overflow;
    ma->acked = 0;
    ma->pend_n = 0;
    ma->overflow = 0;
    check_render(m, p, idx, &pkg, 0);
}

static void op_available(model *m, input *in)
{
    int idx = (int)(next(in) % m->lim.max_apps);
    ucwa_app *a = ucwa_store_app(m->s, idx);

    if (m->app[idx].state != UCWA_SLOT_LIVE || m->app[idx].available) {
        return;
    }
    /* what makeMeAvailable does under the lock */
    a->available = 1;
    ucwa_store_user(m->s, (int)a->user)->available_apps++;
    m->app[idx].available = 1;
}

/* id + k * 2^64 in decimal: the same number modulo 2^64 */
static const char *alias(apr_pool_t *p, const char *id, unsigned k)
{
    unsigned __int128 v = 0;
    char buf[48], *e = buf + sizeof(buf) - 1;

    for (; *id; id++) {
        v = v * 10 + (unsigned)(*id - '0');
    }
    v += (unsigned __int128)k << 64;
    *e = '\0';
    do {
        *--e = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return apr_pstrdup(p, e);
}

static void op_find(model *m, input *in, apr_pool_t *p)
{
    unsigned b1 = next(in), n, i;
    const char *known = m->app[b1 % m->lim.max_apps].id;
    char buf[UCWA_ID_MAX + 8];

    if (!*known) {
        known = "4294967297";
    }
    switch ((b1 >> 3) % 6) {
    case 0:   /* bytes from the input */
        n = next(in) % (UCWA_ID_MAX + 4);
        for (i = 0; i < n; i++) {
            buf[i] = (char)next(in);
        }
        buf[n] = '\0';
        check_find(m, buf);
        break;
    case 1:
        check_find(m, apr_pstrcat(p, "0", known, NULL));
        break;
    case 2:
        check_find(m, apr_pstrcat(p, known, "0", NULL));
        break;
    case 3:
        check_find(m, alias(p, known, 1 + (b1 >> 6)));
        break;
    case 4:
        check_find(m, apr_pstrcat(p, "+", known, NULL));
        break;
    default:
        check_find(m, known);
        break;
    }
}

static void op_user_find(model *m, input *in, apr_pool_t *p)
{
    unsigned b1 = next(in), b2 = next(in), n, i;
    int create = (int)(b1 & 1);
    char buf[64];

    switch ((b1 >> 1) % 3) {
    case 0:
        check_user(m, sips[b2 % NSIPS], create);
        break;
    case 1:   /* an over-long address, around UCWA_SIP_MAX */
        n = UCWA_SIP_MAX - 6 + b2 % 12;
        check_user(m, apr_pstrcat(p, (char *)memset(apr_pcalloc(p, n - 6), 'l', n - 7), "@x.test",
                                  NULL), create);
        break;
    default:  /* bytes from the input */
        n = b2 % sizeof(buf);
        for (i = 0; i < n; i++) {
            buf[i] = (char)next(in);
        }
        buf[n] = '\0';
        check_user(m, buf, create);
        break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool(), *op;
    model *m = calloc(1, sizeof(*m));
    input in = { data, size, 0 };
    void *region;

    FUZZ_CHECK(m != NULL);
    m->lim = configs[next(&in) % (sizeof(configs) / sizeof(configs[0]))];
    FUZZ_CHECK(m->lim.max_apps <= MAX_APPS && m->lim.ring_len <= MAX_RING
               && m->lim.event_size <= EV_MAX);
    region = apr_palloc(p, ucwa_store_bytes(&m->lim));
    m->s = ucwa_store_init(region, &m->lim);
    FUZZ_CHECK(m->s != NULL && ucwa_store_attach(region, &m->lim) == m->s);
    FUZZ_CHECK(ucwa_store_max_apps(m->s) == m->lim.max_apps);
    m->now = apr_time_from_sec(1717200000);
    apr_pool_create(&op, p);
    check_all(m, op);
    while (in.i < in.n) {
        switch (next(&in) % 10) {
        case 0: op_create(m, &in); break;
        case 1: op_release(m, &in, 0); break;
        case 2: op_release(m, &in, 1); break;
        case 3: op_post(m, &in, op); break;
        case 4: op_post_user(m, &in, op); break;
        case 5: op_poll(m, &in, op); break;
        case 6: m->now += deltas[next(&in) % 8]; break;
        case 7: op_find(m, &in, op); break;
        case 8: op_user_find(m, &in, op); break;
        default: op_available(m, &in); break;
        }
        check_all(m, op);
        apr_pool_clear(op);
    }
    free(m);
    apr_pool_destroy(p);
    return 0;
}
