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
static int hash_of(const unsigned char *secret, hash_kind kind, const char *a, const char *b,
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
    ok = msg && HMAC(EVP_sha256(), secret, MOB_LOCKOUT_SECRET, msg, 1 + la + lb, md, &len)
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

void mob_lockout_keys_make(const unsigned char secret[MOB_LOCKOUT_SECRET], const char *account,
                           const char *address, const char *device, const char *password,
                           mob_lockout_keys *k)
{
    memset(k, 0, sizeof(*k));
    if (account) {
        hash_of(secret, H_ACCOUNT, account, NULL, k->account, sizeof(k->account));
        k->has_account = 1;
        /* no password (or no memory to hash it): it cannot be a repeat */
        k->has_password = password
                          && hash_of(secret, H_PASSWORD, account, password, k->password,
                                     sizeof(k->password));
    }
    hash_of(secret, H_ADDRESS, address, NULL, k->address, sizeof(k->address));
    k->has_origin = hash_of(secret, H_ORIGIN, address, NULL, k->origin, sizeof(k->origin));
    k->has_device = device
                    && hash_of(secret, H_DEVICE, device, NULL, k->device, sizeof(k->device));
}

#define SECRET_LABEL "mod_autodiscover lockout secret v1"

void mob_lockout_secret_derive(const unsigned char *key, apr_size_t len,
                               unsigned char out[MOB_LOCKOUT_SECRET])
{
    unsigned int n = 0;

    if (!HMAC(EVP_sha256(), key, (int)len, (const unsigned char *)SECRET_LABEL,
              sizeof(SECRET_LABEL) - 1, out, &n) || n != MOB_LOCKOUT_SECRET) {
        /* no memory: a secret of this server alone, drawn at random; the pool's
         * counts are then apart from the others' (still counted, never in the clear) */
        (void)RAND_bytes(out, MOB_LOCKOUT_SECRET);
    }
}

/* --- the rule, on the entries of one attempt ---------------------------------------- */

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

static int familiar(const mob_lockout_entry *acc, const unsigned char h[8])
{
    return in_history((const unsigned char (*)[8])acc->familiar, MOB_LOCKOUT_FAMILIAR, h) >= 0;
}

static int class_of(const mob_lockout_entry *acc, const mob_lockout_keys *k)
{
    return acc && ((k->has_origin && familiar(acc, k->origin))
                   || (k->has_device && familiar(acc, k->device)))
           ? MOB_ORIGIN_FAMILIAR : MOB_ORIGIN_UNFAMILIAR;
}

unsigned mob_lockout_entries_check(const mob_lockout_entry *acc, const mob_lockout_entry *addr,
                                   const mob_lockout_keys *k, apr_time_t now)
{
    unsigned v = 0;
    int c = class_of(acc, k);

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

unsigned mob_lockout_entries_failed(mob_lockout_entry *acc, mob_lockout_entry *addr,
                                    const mob_lockout_keys *k,
                                    const mob_lockout_policy *account_pol,
                                    const mob_lockout_policy *address_pol, apr_time_t now)
{
    unsigned v = 0;

    if (acc && account_pol->threshold) {
        int c = class_of(acc, k);

        v |= MOB_LOCKOUT_WROTE_ACCOUNT
             | (c == MOB_ORIGIN_FAMILIAR ? MOB_LOCKOUT_FAMILIAR_ORIGIN : 0);
        if (k->has_password
            && in_history((const unsigned char (*)[8])acc->recent, MOB_LOCKOUT_RECENT,
                          k->password) >= 0) {
            /* nothing new was learnt from this guess: it counts nowhere */
            remember(acc->recent, MOB_LOCKOUT_RECENT, k->password);
            acc->last = now;
            return v | MOB_LOCKOUT_REPEATED;
        }
        if (k->has_password) {
            remember(acc->recent, MOB_LOCKOUT_RECENT, k->password);
        }
        if (count(acc, c, account_pol, now)) {
            v |= MOB_LOCKOUT_ACCOUNT_LOCKS;
        }
    }
    if (addr && address_pol->threshold) {
        v |= MOB_LOCKOUT_WROTE_ADDRESS;
        if (count(addr, 0, address_pol, now)) {
            v |= MOB_LOCKOUT_ADDRESS_LOCKS;
        }
    }
    return v;
}

unsigned mob_lockout_entries_succeeded(mob_lockout_entry *acc, const mob_lockout_keys *k,
                                       apr_time_t now)
{
    int c;

    if (!acc) {
        return 0;
    }
    c = class_of(acc, k);
    acc->failures[c] = 0;
    acc->last_failure[c] = 0;
    acc->locked_until[c] = 0;
    acc->last = now;
    if (k->has_origin) {
        remember(acc->familiar, MOB_LOCKOUT_FAMILIAR, k->origin);
    }
    if (k->has_device) {
        remember(acc->familiar, MOB_LOCKOUT_FAMILIAR, k->device);
    }
    return MOB_LOCKOUT_WROTE_ACCOUNT;
}

/* --- the fixed table ---------------------------------------------------------------- */

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

/* The entry of key, or (when the table has room) *fresh: zeroed, with the key, to be
 * placed by store() if the rule writes it. A new key takes a slot only then, so a check
 * or a repeated password never evicts anyone. */
static mob_lockout_entry *entry_of(mob_lockout_table *t, const unsigned char key[16],
                                   mob_lockout_entry *fresh, apr_time_t now)
{
    mob_lockout_entry *e = find(t, key, 0, now);

    if (e || t->size == 0) {
        return e;
    }
    memset(fresh, 0, sizeof(*fresh));
    memcpy(fresh->key, key, 16);
    return fresh;
}

static void store(mob_lockout_table *t, const mob_lockout_entry *e,
                  const mob_lockout_entry *fresh, apr_time_t now)
{
    mob_lockout_entry *slot;

    if (e == fresh && (slot = find(t, fresh->key, 1, now)) != NULL) {
        *slot = *fresh;
        slot->last = fresh->last ? fresh->last : 1;
    }
}

#define ANSWER_BITS (~(MOB_LOCKOUT_WROTE_ACCOUNT | MOB_LOCKOUT_WROTE_ADDRESS))

unsigned mob_lockout_check(mob_lockout_table *t, const char *account, const char *address,
                           const char *device, apr_time_t now)
{
    mob_lockout_keys k;

    mob_lockout_keys_make(t->secret, account, address, device, NULL, &k);
    return mob_lockout_entries_check(account ? find(t, k.account, 0, now) : NULL,
                                     find(t, k.address, 0, now), &k, now);
}

unsigned mob_lockout_failed(mob_lockout_table *t, const char *account, const char *address,
                            const char *device, const char *password,
                            const mob_lockout_policy *account_pol,
                            const mob_lockout_policy *address_pol, apr_time_t now)
{
    mob_lockout_keys k;
    mob_lockout_entry fresh_acc, fresh_addr, *acc = NULL, *addr;
    unsigned v;

    mob_lockout_keys_make(t->secret, account, address, device, password, &k);
    if (account) {
        acc = entry_of(t, k.account, &fresh_acc, now);
    }
    addr = entry_of(t, k.address, &fresh_addr, now);
    v = mob_lockout_entries_failed(acc, addr, &k, account_pol, address_pol, now);
    if (v & MOB_LOCKOUT_WROTE_ACCOUNT) {
        store(t, acc, &fresh_acc, now);
    }
    if (v & MOB_LOCKOUT_WROTE_ADDRESS) {
        store(t, addr, &fresh_addr, now);
    }
    return v & ANSWER_BITS;
}

void mob_lockout_succeeded(mob_lockout_table *t, const char *account, const char *address,
                           const char *device, apr_time_t now)
{
    mob_lockout_keys k;
    mob_lockout_entry fresh, *acc;

    mob_lockout_keys_make(t->secret, account, address, device, NULL, &k);
    acc = entry_of(t, k.account, &fresh, now);
    if (mob_lockout_entries_succeeded(acc, &k, now) & MOB_LOCKOUT_WROTE_ACCOUNT) {
        store(t, acc, &fresh, now);
    }
}
