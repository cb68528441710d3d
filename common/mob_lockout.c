#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mob_lockout.h"

#define LOCKOUT_MAGIC 0x4c4f434bu
#define PROBES 8

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

static void key_of(const mob_lockout_table *t, mob_lock_kind kind, const char *name,
                   unsigned char key[16])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t len = strlen(name);
    unsigned char *msg = malloc(len + 1);

    if (msg) {
        msg[0] = (unsigned char)kind;
        memcpy(msg + 1, name, len);
    }
    if (msg && HMAC(EVP_sha256(), t->secret, sizeof(t->secret), msg, len + 1, md, &n)) {
        memcpy(key, md, 16);
    }
    else {
        memset(key, 0, 16);
    }
    free(msg);
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
        if (e->locked_until <= now && (!unlocked || e->last < unlocked->last)) {
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
    return victim;
}

int mob_lockout_locked(mob_lockout_table *t, mob_lock_kind kind, const char *name,
                       apr_time_t now)
{
    unsigned char key[16];
    mob_lockout_entry *e;

    key_of(t, kind, name, key);
    e = find(t, key, 0, now);
    return e && e->locked_until > now;
}

int mob_lockout_fail(mob_lockout_table *t, mob_lock_kind kind, const char *name,
                     const mob_lockout_policy *pol, apr_time_t now)
{
    unsigned char key[16];
    mob_lockout_entry *e;

    if (pol->threshold == 0) {
        return 0;
    }
    key_of(t, kind, name, key);
    e = find(t, key, 1, now);
    if (!e) {
        return 0;
    }
    if (e->last && now - e->last > pol->forget && e->locked_until <= now) {
        e->failures = 0;
    }
    e->last = now;
    if (++e->failures >= pol->threshold) {
        /* every failure while at or over the threshold restarts the lock */
        e->locked_until = now + pol->duration;
        return 1;
    }
    return 0;
}

void mob_lockout_clear(mob_lockout_table *t, mob_lock_kind kind, const char *name)
{
    unsigned char key[16];
    mob_lockout_entry *e;

    key_of(t, kind, name, key);
    e = find(t, key, 0, 0);
    if (e) {
        memset(e, 0, sizeof(*e));
    }
}
