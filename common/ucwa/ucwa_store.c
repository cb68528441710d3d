#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ucwa_pool.h"
#include "ucwa_store.h"

#define STORE_MAGIC   0x55435741u   /* "UCWA" */
#define STORE_VERSION 21u
#define IDX_BITS 20                  /* application index in the low bits of the id */
#define GEN_BITS 12
#define WORDS 16

struct ucwa_store {
    apr_uint32_t magic, version;
    ucwa_store_limits limits;
    apr_uint32_t words[WORDS];
    apr_uint32_t free_head;        /* the free application slots, slot + 1 (see ucwa_app.next) */
    apr_uint32_t unused_from;      /* no slot from here on was ever used (all FREE) */
    ucwa_push_credential push_creds[2];
    char synthetic[UCWA_SYNTHETIC_MAX];   /* the last synthetic transaction, as JSON */
    apr_uint64_t apps_off, users_off, subs_off, convs_off, push_off, calls_off, pool_off,
                 alias_off, blobs_off, events_off;   /* from the header */
};

/* An event slot: this header, then the event's strings (ucwa_event) packed in the order
 * of len[], without their NULs. */
enum { F_TYPE, F_SENDER_REL, F_SENDER_HREF, F_REL, F_HREF, F_TITLE, F_LINK_EXTRA, F_EXTRA,
       F_COUNT };
#define SLOT_TITLE 0x1u            /* the link has a title (it may be "") */
#define SLOT_TYPE_FIRST 0x2u
typedef struct {
    apr_uint32_t prio;
    apr_uint32_t flags;            /* SLOT_* */
    apr_time_t ts;
    apr_uint32_t len[F_COUNT];
} slot_header;

static apr_size_t align8(apr_size_t n)
{
    return (n + 7) & ~(apr_size_t)7;
}

/* The rings start on a page boundary of memory, so that a slot of a page (UcwaEventSize
 * 4096) can be given back to the system once its event is delivered (release_slots). */
#define RING_ALIGN 4096
static apr_size_t align_ring(apr_size_t n)
{
    return (n + RING_ALIGN - 1) & ~(apr_size_t)(RING_ALIGN - 1);
}

static apr_size_t blobs_bytes(const ucwa_store_limits *l)
{
    return (apr_size_t)l->max_calls * UCWA_SDP_KINDS * UCWA_SDP_BLOB_MAX;
}

/* The alias index: applications moved in from another Front End of the pool, whose id
 * names a slot of that store, by id (open addressing: slot + 1, 0 empty, ALIAS_GONE a
 * removed entry). */
#define ALIAS_GONE 0xffffffffu
static apr_size_t alias_bytes(const ucwa_store_limits *l)
{
    return align8((apr_size_t)l->max_apps * sizeof(apr_uint32_t));
}

apr_size_t ucwa_store_bytes(const ucwa_store_limits *l)
{
    return align8(sizeof(ucwa_store)) + align8((apr_size_t)l->max_apps * sizeof(ucwa_app))
           + align8((apr_size_t)l->max_users * sizeof(ucwa_user))
           + align8((apr_size_t)l->max_subs * sizeof(ucwa_sub))
           + align8((apr_size_t)l->max_convs * sizeof(ucwa_conv))
           + align8((apr_size_t)l->max_push * sizeof(ucwa_push_job))
           + align8((apr_size_t)l->max_calls * sizeof(ucwa_call))
           + align8(ucwa_pool_area_bytes(l->max_users)) + alias_bytes(l) + RING_ALIGN
           + blobs_bytes(l)
           + (apr_size_t)l->max_apps * l->ring_len * align8(l->event_size);
}

static ucwa_store *format(void *base, const ucwa_store_limits *l, int zeroed)
{
    ucwa_store *s = base;
    apr_size_t tables;

    /* the records only: an event slot is never read before it is written, so the rings
     * (most of the region) stay untouched, and not resident, until they are used */
    tables = align8(sizeof(ucwa_store)) + align8((apr_size_t)l->max_apps * sizeof(ucwa_app))
             + align8((apr_size_t)l->max_users * sizeof(ucwa_user))
             + align8((apr_size_t)l->max_subs * sizeof(ucwa_sub))
             + align8((apr_size_t)l->max_convs * sizeof(ucwa_conv))
             + align8((apr_size_t)l->max_push * sizeof(ucwa_push_job))
             + align8((apr_size_t)l->max_calls * sizeof(ucwa_call))
             + align8(ucwa_pool_area_bytes(l->max_users)) + alias_bytes(l);
    memset(base, 0, zeroed ? sizeof(ucwa_store) : tables);
    s->magic = STORE_MAGIC;
    s->version = STORE_VERSION;
    s->limits = *l;
    s->apps_off = align8(sizeof(ucwa_store));
    s->users_off = s->apps_off + align8((apr_size_t)l->max_apps * sizeof(ucwa_app));
    s->subs_off = s->users_off + align8((apr_size_t)l->max_users * sizeof(ucwa_user));
    s->convs_off = s->subs_off + align8((apr_size_t)l->max_subs * sizeof(ucwa_sub));
    s->push_off = s->convs_off + align8((apr_size_t)l->max_convs * sizeof(ucwa_conv));
    /* page-aligned in memory (APR puts a size word before a segment's base address, so
     * the base itself is not): every process maps the segment at an address with the
     * same offset in its page */
    s->calls_off = s->push_off + align8((apr_size_t)l->max_push * sizeof(ucwa_push_job));
    s->pool_off = s->calls_off + align8((apr_size_t)l->max_calls * sizeof(ucwa_call));
    /* the descriptions, then the rings: page-aligned, never read before written */
    s->alias_off = s->pool_off + align8(ucwa_pool_area_bytes(l->max_users));
    s->blobs_off = align_ring((apr_uintptr_t)base + s->alias_off + alias_bytes(l))
                   - (apr_uintptr_t)base;
    s->events_off = s->blobs_off + blobs_bytes(l);
    return s;
}

ucwa_store *ucwa_store_init(void *base, const ucwa_store_limits *l)
{
    return format(base, l, 0);
}

ucwa_store *ucwa_store_init_zeroed(void *base, const ucwa_store_limits *l)
{
    return format(base, l, 1);
}

ucwa_store *ucwa_store_attach(void *base, const ucwa_store_limits *l)
{
    ucwa_store *s = base;

    if (s->magic != STORE_MAGIC || s->version != STORE_VERSION
        || memcmp(&s->limits, l, sizeof(*l)) != 0) {
        return NULL;
    }
    return s;
}

int ucwa_store_compatible(const void *base)
{
    const ucwa_store *s = base;

    return s->magic == STORE_MAGIC && s->version == STORE_VERSION;
}

ucwa_app *ucwa_store_app(ucwa_store *s, int idx)
{
    return (ucwa_app *)((char *)s + s->apps_off) + idx;
}

ucwa_user *ucwa_store_user(ucwa_store *s, int idx)
{
    return (ucwa_user *)((char *)s + s->users_off) + idx;
}

ucwa_sub *ucwa_store_sub(ucwa_store *s, int idx)
{
    return (ucwa_sub *)((char *)s + s->subs_off) + idx;
}

ucwa_conv *ucwa_store_conv(ucwa_store *s, int idx)
{
    return (ucwa_conv *)((char *)s + s->convs_off) + idx;
}

ucwa_push_job *ucwa_store_push(ucwa_store *s, int idx)
{
    return (ucwa_push_job *)((char *)s + s->push_off) + idx;
}

ucwa_call *ucwa_store_call(ucwa_store *s, int idx)
{
    return (ucwa_call *)((char *)s + s->calls_off) + idx;
}

char *ucwa_store_call_blob(ucwa_store *s, int idx, int kind)
{
    return (char *)s + s->blobs_off
           + ((apr_size_t)idx * UCWA_SDP_KINDS + (apr_size_t)kind) * UCWA_SDP_BLOB_MAX;
}

void ucwa_store_call_release(ucwa_store *s, int idx)
{
    char *from = ucwa_store_call_blob(s, idx, 0);

    /* in ordinary memory (unit tests, fuzzers) madvise fails: zero by hand */
    if (madvise(from, (apr_size_t)UCWA_SDP_KINDS * UCWA_SDP_BLOB_MAX, MADV_REMOVE) != 0) {
        memset(from, 0, (apr_size_t)UCWA_SDP_KINDS * UCWA_SDP_BLOB_MAX);
    }
}

struct ucwa_pool_area *ucwa_store_pool_area(ucwa_store *s)
{
    return (struct ucwa_pool_area *)((char *)s + s->pool_off);
}

ucwa_push_credential *ucwa_store_push_credential(ucwa_store *s, int which)
{
    return &s->push_creds[which ? 1 : 0];
}

char *ucwa_store_synthetic_locked(ucwa_store *s)
{
    return s->synthetic;
}

const ucwa_store_limits *ucwa_store_get_limits(const ucwa_store *s)
{
    return &s->limits;
}

apr_uint32_t ucwa_store_max_apps(const ucwa_store *s)
{
    return s->limits.max_apps;
}

apr_uint32_t *ucwa_store_word(ucwa_store *s, int which)
{
    return &s->words[which % WORDS];
}

static slot_header *slot(ucwa_store *s, int idx, apr_uint32_t pos)
{
    apr_size_t size = align8(s->limits.event_size);
    char *events = (char *)s + s->events_off;

    return (slot_header *)(events + ((apr_size_t)idx * s->limits.ring_len
                                     + pos % s->limits.ring_len) * size);
}

void ucwa_store_touch(ucwa_app *a)
{
    __atomic_add_fetch(&a->seq, 1, __ATOMIC_SEQ_CST);
}

void ucwa_txn_init(ucwa_txn *t, ucwa_store *s, apr_pool_t *p)
{
    t->store = s;
    t->pool = p;
    t->wake = NULL;
}

void ucwa_txn_wake_word(ucwa_txn *t, volatile apr_uint32_t *w)
{
    if (!t->wake) {
        t->wake = apr_array_make(t->pool, 4, sizeof(volatile apr_uint32_t *));
    }
    else if (APR_ARRAY_IDX(t->wake, t->wake->nelts - 1, volatile apr_uint32_t *) == w) {
        return;   /* the same word again: one wake-up serves both */
    }
    APR_ARRAY_PUSH(t->wake, volatile apr_uint32_t *) = w;
}

void ucwa_txn_wake_app(ucwa_txn *t, int idx)
{
    ucwa_txn_wake_word(t, &ucwa_store_app(t->store, idx)->seq);
}

int ucwa_txn_wakes(const ucwa_txn *t)
{
    return t->wake ? t->wake->nelts : 0;
}

volatile apr_uint32_t *ucwa_txn_wake_at(const ucwa_txn *t, int i)
{
    return APR_ARRAY_IDX(t->wake, i, volatile apr_uint32_t *);
}

static void copy_field(char *dst, apr_size_t size, const char *src)
{
    apr_cpystrn(dst, src ? src : "", size);
}

/* --- users ------------------------------------------------------------------------- */

static apr_uint32_t hash(const char *s)
{
    apr_uint32_t h = 2166136261u;   /* FNV-1a */

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

int ucwa_store_user_find_locked(ucwa_store *s, const char *sip, int create)
{
    apr_uint32_t n = s->limits.max_users, i, h = hash(sip);
    int reuse = -1;
    ucwa_user *u;
    apr_uint32_t gen;

    if (strnlen(sip, UCWA_SIP_MAX) >= UCWA_SIP_MAX) {
        return -1;   /* it would be kept cut short, and never found again */
    }
    for (i = 0; i < n; i++) {
        int idx = (int)((h + i) % n);
        u = ucwa_store_user(s, idx);
        if (u->state == UCWA_SLOT_FREE) {
            if (reuse < 0) {
                reuse = idx;
            }
            break;   /* the end of the probe chain */
        }
        if (u->state == UCWA_SLOT_LIVE && !strcmp(u->sip, sip)) {
            return idx;
        }
        if (u->state == UCWA_SLOT_EXPIRED && reuse < 0) {
            reuse = idx;   /* a tombstone: reusable, but the chain goes on */
        }
    }
    if (!create) {
        return -1;
    }
    /* full: take back a user with no application (whose presence is Offline anyway) */
    for (i = 0; i < n && reuse < 0; i++) {
        int idx = (int)((h + i) % n);
        if (ucwa_store_user(s, idx)->apps == 0) {
            reuse = idx;
        }
    }
    if (reuse < 0) {
        return -1;
    }
    u = ucwa_store_user(s, reuse);
    gen = u->gen + 1;
    memset(u, 0, sizeof(*u));
    u->gen = gen;
    u->state = UCWA_SLOT_LIVE;
    u->published = UCWA_AV_OFFLINE;
    copy_field(u->sip, sizeof(u->sip), sip);
    return reuse;
}

/* --- applications ------------------------------------------------------------------ */

static apr_uint64_t make_idnum(int idx, apr_uint32_t gen)
{
    unsigned char r[2] = { 0, 0 };
    apr_uint64_t high;

    /* a random part keeps ids from being guessed; ownership is still checked on use */
    (void)RAND_bytes(r, sizeof(r));
    high = ((apr_uint64_t)(r[0] | (r[1] << 8)) % 9000u) + 1000u;
    return (high << (IDX_BITS + GEN_BITS))
           | ((apr_uint64_t)(gen & ((1u << GEN_BITS) - 1)) << IDX_BITS) | (apr_uint64_t)idx;
}

static int alias_find(ucwa_store *s, apr_uint64_t v, const char *id);
static int take_slot(ucwa_store *s);
static void push_free(ucwa_store *s, int idx);
static void alias_remove(ucwa_store *s, apr_uint64_t v, int idx);

int ucwa_store_find_locked(ucwa_store *s, const char *id, int *expired)
{
    apr_uint64_t v = 0;
    size_t n = strnlen(id, UCWA_ID_MAX);
    size_t i;
    int idx;
    ucwa_app *a;

    *expired = 0;
    if (n == 0 || n >= UCWA_ID_MAX) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!apr_isdigit(id[i])) {
            return -1;
        }
        v = v * 10 + (apr_uint64_t)(id[i] - '0');
    }
    idx = (int)(v & ((1u << IDX_BITS) - 1));
    a = (apr_uint32_t)idx < s->limits.max_apps ? ucwa_store_app(s, idx) : NULL;
    /* the id exactly as issued: no leading zero, no alias past 2^64 */
    if (!a || a->state == UCWA_SLOT_FREE || a->idnum != v || strcmp(a->id, id) != 0
        || a->moved_in) {
        idx = alias_find(s, v, id);
        if (idx < 0) {
            return -1;
        }
        a = ucwa_store_app(s, idx);
    }
    *expired = (a->state == UCWA_SLOT_EXPIRED);
    return idx;
}

/* --- applications moved in from another Front End ------------------------------------ */

static apr_uint32_t *alias_table(ucwa_store *s)
{
    return (apr_uint32_t *)((char *)s + s->alias_off);
}

static apr_uint32_t alias_hash(const ucwa_store *s, apr_uint64_t v)
{
    return (apr_uint32_t)((v * 0x9e3779b97f4a7c15ULL) >> 32) % s->limits.max_apps;
}

static int alias_find(ucwa_store *s, apr_uint64_t v, const char *id)
{
    apr_uint32_t *t = alias_table(s), h = alias_hash(s, v), n;

    for (n = 0; n < s->limits.max_apps && t[h] != 0; n++, h = (h + 1) % s->limits.max_apps) {
        ucwa_app *a;
        if (t[h] == ALIAS_GONE || t[h] > s->limits.max_apps) {
            continue;
        }
        a = ucwa_store_app(s, (int)t[h] - 1);
        if (a->moved_in && a->state != UCWA_SLOT_FREE && a->idnum == v && !strcmp(a->id, id)) {
            return (int)t[h] - 1;
        }
    }
    return -1;
}

static int alias_add(ucwa_store *s, apr_uint64_t v, int idx)
{
    apr_uint32_t *t = alias_table(s), h = alias_hash(s, v), n;

    for (n = 0; n < s->limits.max_apps; n++, h = (h + 1) % s->limits.max_apps) {
        if (t[h] == 0 || t[h] == ALIAS_GONE) {
            t[h] = (apr_uint32_t)idx + 1;
            return 0;
        }
    }
    return -1;
}

static void alias_remove(ucwa_store *s, apr_uint64_t v, int idx)
{
    apr_uint32_t *t = alias_table(s), h = alias_hash(s, v), n;

    for (n = 0; n < s->limits.max_apps && t[h] != 0; n++, h = (h + 1) % s->limits.max_apps) {
        if (t[h] == (apr_uint32_t)idx + 1) {
            /* the end of a chain can be emptied; inside one, marked */
            t[h] = t[(h + 1) % s->limits.max_apps] == 0 ? 0 : ALIAS_GONE;
            return;
        }
    }
}

void *ucwa_store_ring_slot(ucwa_store *s, int idx, apr_uint32_t pos)
{
    return slot(s, idx, pos);
}

int ucwa_store_ring_slot_ok(const ucwa_store *s, const void *bytes)
{
    slot_header h;
    apr_size_t n = sizeof(h);
    int i;

    memcpy(&h, bytes, sizeof(h));
    if (h.prio > UCWA_PRIO_HIGH) {
        return 0;
    }
    for (i = 0; i < F_COUNT; i++) {
        if (h.len[i] > s->limits.event_size) {
            return 0;
        }
        n += h.len[i];
    }
    return n <= s->limits.event_size;
}

int ucwa_store_adopt_locked(ucwa_store *s, const ucwa_app *rec, int user, int *idx)
{
    ucwa_user *u = ucwa_store_user(s, user);
    int expired, free_slot;
    ucwa_app *a;
    apr_uint32_t gen, seq;

    if (ucwa_store_find_locked(s, rec->id, &expired) >= 0) {
        return -1;
    }
    free_slot = take_slot(s);
    if (free_slot < 0) {
        return -1;
    }
    a = ucwa_store_app(s, free_slot);
    if (a->state == UCWA_SLOT_EXPIRED) {   /* the oldest tombstone (take_slot) */
        a->state = UCWA_SLOT_FREE;
        if (a->moved_in) {
            alias_remove(s, a->idnum, free_slot);
        }
    }
    if (alias_add(s, rec->idnum, free_slot) != 0) {
        push_free(s, free_slot);
        return -1;
    }
    gen = a->gen + 1;
    seq = a->seq;
    *a = *rec;
    a->seq = seq + 1;
    a->gen = gen;
    a->state = UCWA_SLOT_LIVE;
    a->user = (apr_uint32_t)user;
    a->moved_in = 1;
    a->moved_out = 0;
    a->parked = 0;
    a->parked_until = 0;
    a->available = 0;              /* counted by the caller, with the user's presence */
    a->next = u->first_app;
    u->first_app = (apr_uint32_t)free_slot + 1;
    u->apps++;
    *idx = free_slot;
    return 0;
}

int ucwa_store_first_app(ucwa_store *s, int user)
{
    apr_uint32_t f = ucwa_store_user(s, user)->first_app;

    return f && f <= s->limits.max_apps ? (int)f - 1 : -1;
}

int ucwa_store_next_app(ucwa_store *s, int idx)
{
    apr_uint32_t f = ucwa_store_app(s, idx)->next;

    return f && f <= s->limits.max_apps ? (int)f - 1 : -1;
}

static int same_endpoint(const ucwa_app *a, const ucwa_app_params *in)
{
    return !strcmp(a->endpoint_id, in->endpoint_id)
           && !strcmp(a->instance_id, in->instance_id ? in->instance_id : "")
           && !strcmp(a->user_agent, in->user_agent) && !strcmp(a->culture, in->culture);
}

/* A slot for a new application: the last one freed, else one never used, else the
 * oldest tombstone (its id then answers 404, not 410); -1 if every slot is live. */
static int take_slot(ucwa_store *s)
{
    apr_uint32_t i;
    int tomb = -1;

    if (s->free_head && s->free_head <= s->limits.max_apps) {
        int idx = (int)s->free_head - 1;
        s->free_head = ucwa_store_app(s, idx)->next;
        return idx;
    }
    if (s->unused_from < s->limits.max_apps) {
        return (int)s->unused_from++;
    }
    for (i = 0; i < s->limits.max_apps; i++) {   /* a full table only */
        ucwa_app *a = ucwa_store_app(s, (int)i);
        if (a->state == UCWA_SLOT_EXPIRED
            && (tomb < 0 || a->last_seen < ucwa_store_app(s, tomb)->last_seen)) {
            tomb = (int)i;
        }
    }
    return tomb;
}

ucwa_create_result ucwa_store_create_locked(ucwa_store *s, const ucwa_app_params *in, apr_time_t now,
                                     int *idx)
{
    int user, i, free_slot;
    ucwa_user *u;
    ucwa_app *a;
    apr_uint32_t gen, seq;

    user = ucwa_store_user_find_locked(s, in->user, 1);
    if (user < 0) {
        return UCWA_CREATE_FULL;
    }
    u = ucwa_store_user(s, user);
    for (i = ucwa_store_first_app(s, user); i >= 0; i = ucwa_store_next_app(s, i)) {
        if (same_endpoint(ucwa_store_app(s, i), in)) {
            *idx = i;
            return UCWA_CREATE_EXISTING;
        }
    }
    if (in->per_user_max && u->apps >= in->per_user_max) {
        return UCWA_CREATE_TOO_MANY;
    }
    free_slot = take_slot(s);
    if (free_slot < 0) {
        return UCWA_CREATE_FULL;
    }
    a = ucwa_store_app(s, free_slot);
    if (a->moved_in && a->state == UCWA_SLOT_EXPIRED) {   /* the oldest tombstone */
        alias_remove(s, a->idnum, free_slot);
    }
    gen = a->gen + 1;
    seq = a->seq;
    memset(a, 0, sizeof(*a));
    a->seq = seq + 1;
    a->gen = gen;
    a->state = UCWA_SLOT_LIVE;
    a->user = (apr_uint32_t)user;
    a->idnum = make_idnum(free_slot, gen);
    apr_snprintf(a->id, sizeof(a->id), "%" APR_UINT64_T_FMT, a->idnum);
    apr_snprintf(a->base, sizeof(a->base), "%s/%s", in->prefix, a->id);
    copy_field(a->endpoint_id, sizeof(a->endpoint_id), in->endpoint_id);
    copy_field(a->user_agent, sizeof(a->user_agent), in->user_agent);
    copy_field(a->culture, sizeof(a->culture), in->culture);
    copy_field(a->instance_id, sizeof(a->instance_id), in->instance_id);
    copy_field(a->policy_tag, sizeof(a->policy_tag), in->policy_tag);
    copy_field(a->name, sizeof(a->name), in->name);
    a->policy_fp = in->policy_fp;
    a->outside_voice = in->outside_voice;
    a->created = a->last_seen = now;
    a->idle_limit = in->idle_limit;
    a->next = u->first_app;
    u->first_app = (apr_uint32_t)free_slot + 1;
    u->apps++;
    *idx = free_slot;
    return UCWA_CREATE_NEW;
}

/* Gives the whole pages inside ring slots [from, to) of application idx back to the system
 * (their contents read as zeros afterwards): a delivered event's slot is never read again
 * before it is written, so the memory of a ring is only what it holds undelivered. In
 * the server's shared segment (shmem) MADV_REMOVE frees the pages for every process; on
 * private memory (the unit tests, the fuzzers) it fails and changes nothing. */
static void release_slots(ucwa_store *s, int idx, apr_uint32_t from, apr_uint32_t to)
{
#ifdef MADV_REMOVE
    apr_size_t size = align8(s->limits.event_size), page = (apr_size_t)sysconf(_SC_PAGESIZE);
    apr_uint32_t pos, n = to - from;

    if (page == 0 || page > 65536 || n == 0) {
        return;
    }
    if (n > s->limits.ring_len) {
        n = s->limits.ring_len;
    }
    for (pos = from; pos != from + n; pos++) {
        char *a = (char *)slot(s, idx, pos);
        apr_uintptr_t lo = ((apr_uintptr_t)a + page - 1) & ~(apr_uintptr_t)(page - 1);
        apr_uintptr_t hi = ((apr_uintptr_t)a + size) & ~(apr_uintptr_t)(page - 1);
        if (hi > lo) {
            madvise((void *)lo, (size_t)(hi - lo), MADV_REMOVE);
        }
    }
#else
    (void)s; (void)idx; (void)from; (void)to;
#endif
}

static void push_free(ucwa_store *s, int idx)
{
    ucwa_app *a = ucwa_store_app(s, idx);

    a->state = UCWA_SLOT_FREE;
    a->next = s->free_head;
    s->free_head = (apr_uint32_t)idx + 1;
}

/* Takes a live application out of its user's list. */
static void unlink_app(ucwa_store *s, ucwa_user *u, int idx)
{
    apr_uint32_t *link = &u->first_app, n = 0;

    while (*link && *link <= s->limits.max_apps && n++ < s->limits.max_apps) {
        if (*link == (apr_uint32_t)idx + 1) {
            *link = ucwa_store_app(s, idx)->next;
            return;
        }
        link = &ucwa_store_app(s, (int)*link - 1)->next;
    }
}

static void release(ucwa_store *s, int idx, apr_uint32_t state)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    ucwa_user *u;

    if (a->state != UCWA_SLOT_LIVE) {
        if (state == UCWA_SLOT_FREE && a->state == UCWA_SLOT_EXPIRED) {
            if (a->moved_in) {
                alias_remove(s, a->idnum, idx);
            }
            push_free(s, idx);
        }
        return;
    }
    u = ucwa_store_user(s, (int)a->user);
    unlink_app(s, u, idx);
    a->next = 0;
    if (u->apps > 0) {
        u->apps--;
    }
    if (a->available && u->available_apps > 0) {
        u->available_apps--;
        ucwa_pool_user_dirty_locked(s, (int)a->user);   /* one endpoint fewer here */
    }
    a->state = state;
    a->available = 0;
    ucwa_store_touch(a);
    release_slots(s, idx, 0, s->limits.ring_len);   /* nothing in it is read again */
    if (state == UCWA_SLOT_FREE) {
        if (a->moved_in) {
            alias_remove(s, a->idnum, idx);
        }
        push_free(s, idx);
    }
}

void ucwa_store_delete_locked(ucwa_store *s, int idx)
{
    release(s, idx, UCWA_SLOT_FREE);
}

void ucwa_store_expire_locked(ucwa_store *s, int idx)
{
    release(s, idx, UCWA_SLOT_EXPIRED);
}

/* --- events ------------------------------------------------------------------------ */

static void event_fields(const ucwa_event *e, const char *f[F_COUNT])
{
    f[F_TYPE] = e->type;
    f[F_SENDER_REL] = e->sender_rel;
    f[F_SENDER_HREF] = e->sender_href;
    f[F_REL] = e->rel;
    f[F_HREF] = e->href;
    f[F_TITLE] = e->title;
    f[F_LINK_EXTRA] = e->link_extra;
    f[F_EXTRA] = e->extra;
}

apr_size_t ucwa_event_bytes(const ucwa_event *e)
{
    const char *f[F_COUNT];
    apr_size_t n = sizeof(slot_header);
    int i;

    event_fields(e, f);
    for (i = 0; i < F_COUNT; i++) {
        n += f[i] ? strlen(f[i]) : 0;
    }
    return n;
}

int ucwa_store_post_locked(ucwa_store *s, int idx, ucwa_prio prio, const ucwa_event *e,
                           apr_time_t now)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    const char *f[F_COUNT];
    slot_header *h;
    char *at;
    int i;

    if (a->state != UCWA_SLOT_LIVE) {
        return -1;
    }
    if (ucwa_event_bytes(e) > s->limits.event_size) {
        return -1;
    }
    if (a->head - a->pkg_first >= s->limits.ring_len) {
        /* the client stopped reading: keep the package it may still re-request, drop the
         * rest, and tell it to resume (its transient state is stale) */
        release_slots(s, idx, a->pkg_end, a->head);
        a->head = a->pkg_end;
        a->overflow = 1;
        ucwa_store_touch(a);
        return -1;
    }
    event_fields(e, f);
    h = slot(s, idx, a->head);
    h->prio = prio;
    h->flags = (e->title ? SLOT_TITLE : 0) | (e->type_first ? SLOT_TYPE_FIRST : 0);
    h->ts = now;
    at = (char *)(h + 1);
    for (i = 0; i < F_COUNT; i++) {
        apr_size_t n = f[i] ? strlen(f[i]) : 0;
        h->len[i] = (apr_uint32_t)n;
        memcpy(at, f[i] ? f[i] : "", n);
        at += n;
    }
    a->head++;
    ucwa_store_touch(a);
    return 0;
}

int ucwa_store_post_user_locked(ucwa_store *s, int user, int available_only, ucwa_prio prio,
                         const char *sender_rel, const char *sender_sub,
                         const char *rel, const char *sub, const char *type,
                         apr_time_t now, apr_pool_t *p)
{
    ucwa_event e;
    int i, n = 0;

    (void)p;
    memset(&e, 0, sizeof(e));
    e.sender_rel = sender_rel;
    e.sender_href = sender_sub;
    e.rel = rel;
    e.href = sub;
    e.type = type;
    for (i = ucwa_store_first_app(s, user); i >= 0; i = ucwa_store_next_app(s, i)) {
        ucwa_app *a = ucwa_store_app(s, i);
        if (available_only && !a->available) {
            continue;
        }
        if (ucwa_store_post_locked(s, i, prio, &e, now) == 0) {
            n++;
        }
    }
    return n;
}

static void copy_package(ucwa_store *s, int idx, apr_pool_t *p, ucwa_package *pkg)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    apr_uint32_t pos;
    int i = 0;

    pkg->ack = a->pkg;
    pkg->resume = (int)a->pkg_resume;
    pkg->count = (int)(a->pkg_end - a->pkg_first);
    pkg->events = apr_pcalloc(p, sizeof(ucwa_event) * (apr_size_t)(pkg->count + 1));
    for (pos = a->pkg_first; pos != a->pkg_end; pos++, i++) {
        slot_header *h = slot(s, idx, pos);
        ucwa_event *e = &pkg->events[i];
        const char *f[F_COUNT];
        const char *at = (const char *)(h + 1);
        int k;

        for (k = 0; k < F_COUNT; k++) {
            f[k] = apr_pstrmemdup(p, at, h->len[k]);
            at += h->len[k];
        }
        e->type = f[F_TYPE];
        e->sender_rel = f[F_SENDER_REL];
        e->sender_href = f[F_SENDER_HREF];
        e->rel = f[F_REL];
        e->href = f[F_HREF];
        e->title = (h->flags & SLOT_TITLE) ? f[F_TITLE] : NULL;
        e->link_extra = f[F_LINK_EXTRA];
        e->extra = f[F_EXTRA];
        e->type_first = (h->flags & SLOT_TYPE_FIRST) != 0;
        e->prio = (ucwa_prio)h->prio;
        e->ts = h->ts;
    }
}

ucwa_poll_result ucwa_store_poll_locked(ucwa_store *s, int idx, apr_uint32_t ack,
                                 const ucwa_windows *w, int final, apr_time_t now,
                                 apr_pool_t *p, ucwa_package *pkg)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    apr_uint32_t pos;
    int release_now = final;
    apr_time_t wake = 0;

    memset(pkg, 0, sizeof(*pkg));
    if (a->pkg > 0 && ack == a->pkg && !a->pkg_acked) {
        /* the client did not get package ack (timeout, restart): the same one again */
        copy_package(s, idx, p, pkg);
        return UCWA_POLL_READY;
    }
    if (ack != a->pkg + 1) {
        /* an acknowledged package cannot be sent again: resync to the one after it */
        pkg->resync_ack = a->pkg_acked ? a->pkg + 1 : a->pkg > 0 ? a->pkg : 1;
        return UCWA_POLL_RESYNC;
    }
    /* ack = pkg + 1 acknowledges package pkg: its events are gone for good */
    release_slots(s, idx, a->pkg_first, a->pkg_end);
    a->pkg_first = a->pkg_end;
    a->pkg_acked = 1;
    for (pos = a->pkg_first; pos != a->head && !release_now; pos++) {
        slot_header *h = slot(s, idx, pos);
        apr_time_t due = h->prio == UCWA_PRIO_HIGH ? h->ts
                         : h->ts + (h->prio == UCWA_PRIO_MEDIUM ? w->medium : w->low);
        if (due <= now) {
            release_now = 1;
        }
        else if (!wake || due < wake) {
            wake = due;
        }
    }
    if (a->overflow) {
        release_now = 1;
    }
    if (!release_now) {
        pkg->wake_at = wake;
        return UCWA_POLL_WAIT;
    }
    a->pkg = ack;
    a->pkg_end = a->head;
    a->pkg_acked = 0;
    a->pkg_resume = a->overflow;
    a->overflow = 0;
    copy_package(s, idx, p, pkg);
    return UCWA_POLL_READY;
}

/* --- presence ---------------------------------------------------------------------- */

static const char *const av_names[] = {
    "", "Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork",
    "Offline", "IdleOnline", "IdleBusy"
};

const char *ucwa_availability_name(ucwa_availability a)
{
    return (unsigned)a < sizeof(av_names) / sizeof(av_names[0]) ? av_names[a] : "Offline";
}

ucwa_availability ucwa_availability_parse(const char *name)
{
    int i;

    for (i = UCWA_AV_ONLINE; i <= UCWA_AV_OFFWORK; i++) {
        if (!strcasecmp(name, av_names[i])) {
            return (ucwa_availability)i;
        }
    }
    return UCWA_AV_NONE;
}

ucwa_availability ucwa_store_availability(const ucwa_user *u, const ucwa_idle_rules *r,
                                          apr_time_t now)
{
    apr_interval_time_t quiet = now - u->last_activity;

    if (u->state != UCWA_SLOT_LIVE) {
        return UCWA_AV_OFFLINE;
    }
    /* in a pool, the newest of this Front End's state and another's (ucwa_pool) */
    if (u->remote_available > 0 && (u->available_apps == 0 || u->remote_changed > u->changed)) {
        return u->remote_av ? (ucwa_availability)u->remote_av : UCWA_AV_OFFLINE;
    }
    if (u->available_apps == 0) {
        return UCWA_AV_OFFLINE;
    }
    switch (u->preferred) {
    case UCWA_AV_DND:
    case UCWA_AV_BRB:
    case UCWA_AV_AWAY:
        return (ucwa_availability)u->preferred;
    case UCWA_AV_OFFWORK:
        return UCWA_AV_AWAY;   /* published as Away with the off-work activity */
    case UCWA_AV_BUSY:
        return quiet >= r->away ? UCWA_AV_AWAY : quiet >= r->idle ? UCWA_AV_IDLE_BUSY
                                                                  : UCWA_AV_BUSY;
    default:
        return quiet >= r->away ? UCWA_AV_AWAY : quiet >= r->idle ? UCWA_AV_IDLE_ONLINE
                                                                  : UCWA_AV_ONLINE;
    }
}

/* --- consistency ------------------------------------------------------------------- */

const char *ucwa_store_check_locked(ucwa_store *s, ucwa_store_stats *st, apr_pool_t *p)
{
    apr_uint32_t i, n, *apps, *avail, free_slots = 0;
    const char *bad = NULL;
    int j;

    memset(st, 0, sizeof(*st));
    apps = apr_pcalloc(p, sizeof(*apps) * s->limits.max_users);
    avail = apr_pcalloc(p, sizeof(*avail) * s->limits.max_users);
    if (s->unused_from > s->limits.max_apps || s->free_head > s->limits.max_apps) {
        return "the free slots are past the table";
    }
    for (i = 0; i < s->limits.max_apps; i++) {
        ucwa_app *a = ucwa_store_app(s, (int)i);
        if (a->state == UCWA_SLOT_FREE && i < s->unused_from) {
            free_slots++;
        }
        if (i >= s->unused_from && a->state != UCWA_SLOT_FREE) {
            bad = apr_psprintf(p, "slot %u is in use but counted as never used", i);
        }
        if (a->state == UCWA_SLOT_EXPIRED) {
            st->apps_expired++;
        }
        if (a->state != UCWA_SLOT_LIVE) {
            continue;
        }
        st->apps_live++;
        st->parked += a->parked;
        st->events_queued += a->head - a->pkg_first;
        if (a->user >= s->limits.max_users
            || ucwa_store_user(s, (int)a->user)->state != UCWA_SLOT_LIVE) {
            bad = apr_psprintf(p, "application %s belongs to no live user", a->id);
            continue;
        }
        apps[a->user]++;
        if (a->available) {
            st->apps_available++;
            avail[a->user]++;
        }
        if (a->pkg_end - a->pkg_first > a->head - a->pkg_first
            || a->head - a->pkg_first > s->limits.ring_len) {
            bad = apr_psprintf(p, "application %s: ring positions out of order", a->id);
        }
        if ((a->idnum & ((1u << IDX_BITS) - 1)) != i && !a->moved_in) {
            bad = apr_psprintf(p, "application %s is in slot %u", a->id, i);
        }
    }
    for (i = 0; i < s->limits.max_users; i++) {
        ucwa_user *u = ucwa_store_user(s, (int)i);
        if (u->state != UCWA_SLOT_LIVE) {
            continue;
        }
        st->users_live++;
        if (u->apps != apps[i] || u->available_apps != avail[i]) {
            bad = apr_psprintf(p, "user %s counts %u applications (%u available), the table "
                               "holds %u (%u)", u->sip, u->apps, u->available_apps, apps[i],
                               avail[i]);
        }
        n = 0;
        for (j = ucwa_store_first_app(s, (int)i); j >= 0 && n <= apps[i];
             j = ucwa_store_next_app(s, j)) {
            ucwa_app *a = ucwa_store_app(s, j);
            if (a->state != UCWA_SLOT_LIVE || a->user != i) {
                return apr_psprintf(p, "the list of user %s holds slot %d, not one of its "
                                    "applications", u->sip, j);
            }
            n++;
        }
        if (n != apps[i]) {
            bad = apr_psprintf(p, "the list of user %s holds %u applications, the table %u",
                               u->sip, n, apps[i]);
        }
    }
    n = 0;
    for (j = s->free_head ? (int)s->free_head - 1 : -1; j >= 0 && n <= free_slots;
         j = ucwa_store_next_app(s, j)) {
        if ((apr_uint32_t)j >= s->unused_from || ucwa_store_app(s, j)->state != UCWA_SLOT_FREE) {
            return apr_psprintf(p, "the free list holds slot %d, which is not free", j);
        }
        n++;
    }
    if (n != free_slots) {
        bad = apr_psprintf(p, "the free list holds %u slots, the table %u", n, free_slots);
    }
    return bad;
}
