/* Failed sign-in counting per account and per client address (smart-lockout style).
 * The table is a fixed array that lives wherever the caller puts it (shared memory in
 * the server); the caller serialises access. Keys are hashed, so the table holds no
 * user names. */
#ifndef MOB_LOCKOUT_H
#define MOB_LOCKOUT_H

#include <apr.h>
#include <apr_time.h>

typedef struct {
    unsigned char key[16];
    apr_uint32_t failures;
    apr_time_t last;           /* last failure; 0 = free slot */
    apr_time_t locked_until;
} mob_lockout_entry;

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t size;
    /* keys the slot hash: without it an attacker could pick names that land next to a
     * victim's slot and evict its lock */
    unsigned char secret[32];
    mob_lockout_entry e[];
} mob_lockout_table;

typedef struct {
    apr_uint32_t threshold;        /* failures that lock; 0 disables */
    apr_interval_time_t duration;  /* how long a lock lasts */
    apr_interval_time_t forget;    /* failures older than this are forgotten */
} mob_lockout_policy;

typedef enum { MOB_LOCK_ACCOUNT = 'u', MOB_LOCK_ADDRESS = 'a' } mob_lock_kind;

apr_size_t mob_lockout_bytes(apr_uint32_t size);
void mob_lockout_init(mob_lockout_table *t, apr_uint32_t size);
int mob_lockout_valid(const mob_lockout_table *t, apr_uint32_t size);

int mob_lockout_locked(mob_lockout_table *t, mob_lock_kind kind, const char *name,
                       apr_time_t now);
/* Counts a failure; returns 1 when it (re)locks the key. */
int mob_lockout_fail(mob_lockout_table *t, mob_lock_kind kind, const char *name,
                     const mob_lockout_policy *pol, apr_time_t now);
void mob_lockout_clear(mob_lockout_table *t, mob_lock_kind kind, const char *name);

#endif
