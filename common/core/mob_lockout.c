#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mob_lockout.h"

#define LOCKOUT_MAGIC 0x4c4f434cu   /* changed with the entry layout */
#define PROBES 8

/* What a hash is of: the first byte of the message, so an account name can never hash
 * like an address, a password, a familiar address or a device. */
typedef enum {
    H_ACCOUNT = 'u', H_ADDRESS = 'a', H_PASSWORD = 'p', H_ORIGIN = 'o', H_DEVICE = 'd'
} hash_kind;

apr_size_t mob_lockout_bytes(apr_uint32_t size)
{
    return sizeof(mob_lockout_table) + (apr_size_t)size * sizeof(mob_lockout_entry);
}

void mob_lockout_init(mob_lockout_table *t, apr_uint32_t size)
{
    memset(t, 0, mob_lockout_bytes(size));
    (void)RAND_bytes(t->secret, sizeof(t->secret));
    t->size = size;
    t->magic = LOCKOUT_MAGIC;
}

int mob_lockout_valid(const mob_lockout_table *t, apr_uint32_t size)
{
    return t->magic == LOCKOUT_MAGIC && t->size == size;
}

/* HMAC-SHA256(secret, kind || a [|| 0 || b]), truncated to n bytes; never all zero (zero
 * marks an empty history slot). 0 when the HMAC failed (no memory): out is then a fixed
 * value, so keys fall together into one shared count, which locks more, never less;
 * the callers then treat no password as a repeat and no origin as familiar. */
static int hash_of(const mob_lockout_table *t, hash_kind kind, const char *a, const char *b,
                   unsigned char *out, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t la = strlen(a), lb = b ? strlen(b) + 1 : 0, i;
    unsigned char *msg = malloc(1 + la + lb);
    int ok;

    if (msg) {
        msg[0] = (unsigned char)kind;
        memcpy(msg + 1, a, la);
        if (b) {
            msg[1 + la] = '\0';
            memcpy(msg + 2 + la, b, lb - 1);
        }
    }
    ok = msg && HMAC(EVP_sha256(), t->secret, sizeof(t->secret), msg, 1 + la + lb, md, &len)
         && len >= n;
    if (!ok) {
        memset(md, 0, n);
    }
    if (msg) {
        /* it held a password */
        OPENSSL_cleanse(msg, 1 + la + lb);
    }
    free(msg);
    memcpy(out, md, n);
    for (i = 0; i < n && !out[i]; i++) {
    }
    if (i == n) {
        out[0] = 1;
    }
    return ok;
}

static int entry_locked(const mob_lockout_entry *e, apr_time_t now)
{
    return e->locked_until[0] > now || e->locked_until[1] > now;
}

/* The slot holding key, or (create) a free or least recently used slot among the probes. */
static mob_lockout_entry *find(mob_lockout_table *t, const unsigned char key[16], int create,
                               apr_time_t now)
{
    apr_uint32_t h, i;
    mob_lockout_entry *free_slot = NULL, *unlocked = NULL, *oldest = NULL, *victim;

    if (t->size == 0) {
        return NULL;
    }
    memcpy(&h, key, sizeof(h));
    for (i = 0; i < PROBES; i++) {
        mob_lockout_entry *e = &t->e[(h + i) % t->size];
        if (!e->last) {
            free_slot = free_slot ? free_slot : e;
            continue;
        }
        if (!memcmp(e->key, key, 16)) {
            return e;
        }
        if (!entry_locked(e, now) && (!unlocked || e->last < unlocked->last)) {
            unlocked = e;
        }
        if (!oldest || e->last < oldest->last) {
            oldest = e;
        }
    }
    /* evict an expired entry before a live lock, so a flood of names cannot unlock one */
    victim = free_slot ? free_slot : unlocked ? unlocked : oldest;
    if (!create || !victim) {
        return NULL;
    }
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->key, key, 16);
    victim->last = now ? now : 1;
    return victim;
}

static mob_lockout_entry *entry_of(mob_lockout_table *t, hash_kind kind, const char *name,
                                   int create, apr_time_t now)
{
    unsigned char key[16];

    hash_of(t, kind, name, NULL, key, sizeof(key));
    return find(t, key, create, now);
}

static int in_history(const unsigned char (*list)[8], int n, const unsigned char h[8])
{
    int i;

    for (i = 0; i < n; i++) {
        if (!memcmp(list[i], h, 8)) {
            return i;
        }
    }
    return -1;
}

/* Moves h to the front of list (most recent first), dropping the last if it is new. */
static void remember(unsigned char (*list)[8], int n, const unsigned char h[8])
{
    int at = in_history((const unsigned char (*)[8])list, n, h);

    memmove(list[1], list[0], (size_t)(at < 0 ? n - 1 : at) * 8);
    memcpy(list[0], h, 8);
}

static int familiar(const mob_lockout_table *t, const mob_lockout_entry *acc, hash_kind kind,
                    const char *origin)
{
    unsigned char h[8];

    if (!origin || !hash_of(t, kind, origin, NULL, h, sizeof(h))) {
        return 0;
    }
    return in_history((const unsigned char (*)[8])acc->familiar, MOB_LOCKOUT_FAMILIAR, h) >= 0;
}

static int class_of(const mob_lockout_table *t, const mob_lockout_entry *acc,
                    const char *address, const char *device)
{
    return acc && (familiar(t, acc, H_ORIGIN, address) || familiar(t, acc, H_DEVICE, device))
           ? MOB_ORIGIN_FAMILIAR : MOB_ORIGIN_UNFAMILIAR;
}

unsigned mob_lockout_check(mob_lockout_table *t, const char *account, const char *address,
                           const char *device, apr_time_t now)
{
    mob_lockout_entry *acc = account ? entry_of(t, H_ACCOUNT, account, 0, now) : NULL;
    mob_lockout_entry *addr = entry_of(t, H_ADDRESS, address, 0, now);
    unsigned v = 0;
    int c = class_of(t, acc, address, device);

    if (c == MOB_ORIGIN_FAMILIAR) {
        v |= MOB_LOCKOUT_FAMILIAR_ORIGIN;
    }
    if (acc && acc->locked_until[c] > now) {
        v |= MOB_LOCKOUT_ACCOUNT_LOCKED;
    }
    if (addr && addr->locked_until[0] > now) {
        v |= MOB_LOCKOUT_ADDRESS_LOCKED;
    }
    return v;
}

/* Counts one failure in class c of e; returns 1 when it locks. */
static int count(mob_lockout_entry *e, int c, const mob_lockout_policy *pol, apr_time_t now)
{
    if (e->last_failure[c] && now - e->last_failure[c] > pol->forget
        && e->locked_until[c] <= now) {
        e->failures[c] = 0;
    }
    e->last = now;
    e->last_failure[c] = now;
    if (e->failures[c] < UINT32_MAX) {
        e->failures[c]++;
    }
    if (e->failures[c] >= pol->threshold && e->locked_until[c] <= now) {
        /* a lock starts only when none is running: it is never extended */
        e->locked_until[c] = now + pol->duration;
        return 1;
    }
    return 0;
}

unsigned mob_lockout_failed(mob_lockout_table *t, const char *account, const char *address,
                            const char *device, const char *password,
                            const mob_lockout_policy *account_pol,
                            const mob_lockout_policy *address_pol, apr_time_t now)
{
    mob_lockout_entry *acc = NULL, *addr;
    unsigned v = 0;
    int c = MOB_ORIGIN_UNFAMILIAR;

    if (account && account_pol->threshold) {
        acc = entry_of(t, H_ACCOUNT, account, 1, now);
    }
    if (acc) {
        unsigned char pw[8];
        int hashed;

        c = class_of(t, acc, address, device);
        v |= c == MOB_ORIGIN_FAMILIAR ? MOB_LOCKOUT_FAMILIAR_ORIGIN : 0;
        /* no password (or no memory to hash it): it cannot be a repeat */
        hashed = password && hash_of(t, H_PASSWORD, account, password, pw, sizeof(pw));
        if (hashed
            && in_history((const unsigned char (*)[8])acc->recent, MOB_LOCKOUT_RECENT, pw) >= 0) {
            /* nothing new was learnt from this guess: it counts nowhere */
            remember(acc->recent, MOB_LOCKOUT_RECENT, pw);
            acc->last = now;
            return v | MOB_LOCKOUT_REPEATED;
        }
        if (hashed) {
            remember(acc->recent, MOB_LOCKOUT_RECENT, pw);
        }
        if (count(acc, c, account_pol, now)) {
            v |= MOB_LOCKOUT_ACCOUNT_LOCKS;
        }
    }
    if (address_pol->threshold && (addr = entry_of(t, H_ADDRESS, address, 1, now)) != NULL
        && count(addr, 0, address_pol, now)) {
        v |= MOB_LOCKOUT_ADDRESS_LOCKS;
    }
    return v;
}

void mob_lockout_succeeded(mob_lockout_table *t, const char *account, const char *address,
                           const char *device, apr_time_t now)
{
    mob_lockout_entry *acc = entry_of(t, H_ACCOUNT, account, 1, now);
    unsigned char h[8];
    int c;

    if (!acc) {
        return;
    }
    c = class_of(t, acc, address, device);
    acc->failures[c] = 0;
    acc->last_failure[c] = 0;
    acc->locked_until[c] = 0;
    acc->last = now;
    if (hash_of(t, H_ORIGIN, address, NULL, h, sizeof(h))) {
        remember(acc->familiar, MOB_LOCKOUT_FAMILIAR, h);
    }
    if (device && hash_of(t, H_DEVICE, device, NULL, h, sizeof(h))) {
        remember(acc->familiar, MOB_LOCKOUT_FAMILIAR, h);
    }
}
