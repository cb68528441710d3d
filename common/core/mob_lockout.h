/* Failed sign-in counting per account and per client address, with two rules that
 * Entra smart lockout does not have:
 *  - a wrong password that was already tried on the account is not counted again (a
 *    phone retrying a stale saved password costs one failure, not one per retry);
 *  - an origin (a client address, or a device identity when the request carries one)
 *    that signed the account in before is "familiar": failures and the lock of familiar
 *    origins are kept apart from those of every other origin, so failures from
 *    elsewhere (a spray) cannot lock the owner out where he signs in.
 * Attempts refused while locked are not failures: they neither count nor restart the
 * lock, so a lock always ends `duration` after the failure that set it.
 *
 * The rules work on entries the caller hands in (mob_lockout_entries_*), so every store
 * shares them: the fixed table below (shared memory in the server; the caller
 * serialises access) and rows of a table in SQL (mob_lockout_sql, one transaction per
 * sign-in). Neither holds names, addresses or passwords: keys, remembered passwords
 * and remembered origins are HMAC-SHA256 values under a secret, truncated
 * (mob_lockout_keys_make). */
#ifndef MOB_LOCKOUT_H
#define MOB_LOCKOUT_H

#include <apr.h>
#include <apr_time.h>

#define MOB_LOCKOUT_RECENT   4   /* wrong passwords remembered per account */
#define MOB_LOCKOUT_FAMILIAR 8   /* origins (addresses, devices) remembered per account */
#define MOB_LOCKOUT_SECRET   32  /* bytes of the key of every hash */

/* Failure classes of an account; an address entry uses the first only. */
enum { MOB_ORIGIN_UNFAMILIAR = 0, MOB_ORIGIN_FAMILIAR = 1, MOB_ORIGIN_CLASSES = 2 };

typedef struct {
    unsigned char key[16];
    apr_time_t last;                                /* last use; 0 = free slot */
    apr_time_t last_failure[MOB_ORIGIN_CLASSES];
    apr_time_t locked_until[MOB_ORIGIN_CLASSES];
    apr_uint32_t failures[MOB_ORIGIN_CLASSES];
    unsigned char recent[MOB_LOCKOUT_RECENT][8];     /* most recent first; zero = none */
    unsigned char familiar[MOB_LOCKOUT_FAMILIAR][8]; /* most recent first; zero = none */
} mob_lockout_entry;

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t size;
    /* keys every hash: without it an attacker could pick names that land next to a
     * victim's slot and evict its lock, and a table dump would allow a dictionary
     * attack on the remembered passwords */
    unsigned char secret[MOB_LOCKOUT_SECRET];
    mob_lockout_entry e[];
} mob_lockout_table;

typedef struct {
    apr_uint32_t threshold;        /* failures that lock; 0 disables */
    apr_interval_time_t duration;  /* how long a lock lasts */
    apr_interval_time_t forget;    /* failures older than this are forgotten */
} mob_lockout_policy;

/* Bits of the answers of mob_lockout_check and mob_lockout_failed. */
#define MOB_LOCKOUT_ACCOUNT_LOCKED  0x01u  /* the account is locked for this origin */
#define MOB_LOCKOUT_ADDRESS_LOCKED  0x02u  /* the client address is locked */
#define MOB_LOCKOUT_FAMILIAR_ORIGIN 0x04u  /* the origin signed this account in before */
#define MOB_LOCKOUT_REPEATED        0x08u  /* failed: a wrong password tried before; not counted */
#define MOB_LOCKOUT_ACCOUNT_LOCKS   0x10u  /* failed: this failure locked the account */
#define MOB_LOCKOUT_ADDRESS_LOCKS   0x20u  /* failed: this failure locked the address */
/* Only from mob_lockout_entries_*: which entries the rule changed (to be written back). */
#define MOB_LOCKOUT_WROTE_ACCOUNT   0x40u
#define MOB_LOCKOUT_WROTE_ADDRESS   0x80u


/* The keyed hashes of one attempt: all the rules ever compare. */
typedef struct {
    unsigned char account[16];   /* the key of the account's entry (when has_account) */
    unsigned char address[16];   /* the key of the address's entry */
    unsigned char password[8];   /* the password tried on this account (when has_password) */
    unsigned char origin[8];     /* the address as a familiar origin (when has_origin) */
    unsigned char device[8];     /* the device identity (when has_device) */
    unsigned has_account : 1, has_password : 1, has_origin : 1, has_device : 1;
} mob_lockout_keys;

/* HMAC-SHA256 under secret of each value given (account, password and device may be
 * NULL). A hash that failed (no memory) leaves its has_* bit clear, except for the two
 * entry keys, which then take a fixed value: keys fall together into one shared count,
 * which locks more, never less. */
void mob_lockout_keys_make(const unsigned char secret[MOB_LOCKOUT_SECRET], const char *account,
                           const char *address, const char *device, const char *password,
                           mob_lockout_keys *k);

/* The secret of a store that several servers share (a pool's database): HMAC-SHA256
 * under key (the token signing key every server of the pool has) of a fixed label, so
 * that it is the same everywhere, differs from the key, and is never stored. */
void mob_lockout_secret_derive(const unsigned char *key, apr_size_t len,
                               unsigned char out[MOB_LOCKOUT_SECRET]);

/* The rule, on the entries of one attempt. acc is the account's entry (NULL when the
 * attempt names no account, or the store has no room); addr the address's (NULL when
 * there is no room). An entry the store does not have yet is handed in zeroed, with its
 * key. The answers are those of the table functions below, plus the WROTE bits: the
 * entries the caller must store. */
unsigned mob_lockout_entries_check(const mob_lockout_entry *acc, const mob_lockout_entry *addr,
                                   const mob_lockout_keys *k, apr_time_t now);
unsigned mob_lockout_entries_failed(mob_lockout_entry *acc, mob_lockout_entry *addr,
                                    const mob_lockout_keys *k,
                                    const mob_lockout_policy *account_pol,
                                    const mob_lockout_policy *address_pol, apr_time_t now);
unsigned mob_lockout_entries_succeeded(mob_lockout_entry *acc, const mob_lockout_keys *k,
                                       apr_time_t now);

apr_size_t mob_lockout_bytes(apr_uint32_t size);
void mob_lockout_init(mob_lockout_table *t, apr_uint32_t size);
int mob_lockout_valid(const mob_lockout_table *t, apr_uint32_t size);

/* Before the password is checked. account is the normalised user name (NULL for a name
 * that cannot be one: only the address is looked at); address the client address;
 * device a device identity or NULL. The origin is familiar when the address or the
 * device signed the account in before. The attempt must be refused when a *_LOCKED bit
 * is set; it is then no failure. */
unsigned mob_lockout_check(mob_lockout_table *t, const char *account, const char *address,
                           const char *device, apr_time_t now);

/* After a wrong password (or unknown user). Counts the failure against the account's
 * class for this origin and against the address, unless password was among the
 * account's recent wrong passwords. A count at or over the threshold locks only what
 * is not locked already: a lock is never extended. */
unsigned mob_lockout_failed(mob_lockout_table *t, const char *account, const char *address,
                            const char *device, const char *password,
                            const mob_lockout_policy *account_pol,
                            const mob_lockout_policy *address_pol, apr_time_t now);

/* After a successful sign-in: the address and the device become familiar to the
 * account, and the count and lock of the class the origin was in are cleared (the other
 * class's are kept). */
void mob_lockout_succeeded(mob_lockout_table *t, const char *account, const char *address,
                           const char *device, apr_time_t now);

#endif
