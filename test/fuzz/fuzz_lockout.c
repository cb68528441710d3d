/* mob_lockout driven as ad_signin drives it, against a shadow model of the rule
 * (docs/directives.md, AutodiscoverAccountLockout; docs/ARCHITECTURE.md §3).
 *
 * Input: 4 header bytes (table size 4..259; account threshold 0..7 and lock 1..32 s;
 * address threshold 0..15 and lock 1..16 s; forget time 1..256 s), then operations of
 * 3 bytes: kind and account (7 accounts, or none: a name that cannot be a user), client
 * address (8) and device (3, or none), password (8) and the time that passes first.
 * Kinds: a sign-in that fails or succeeds (refused when the check says locked, as
 * ad_signin does), a failure or success without the check (a sign-in that was in flight
 * when a lock began), a check alone, a jump in time.
 *
 * Invariants, always: the answers carry only their own bits; a familiar origin is one
 * whose address or device signed that account in before; an account (class) or address
 * reported locked was locked by a failure of that class less than its lock time ago
 * (so no lock outlives its time: attempts never extend it); a repeat is a password that
 * failed on that account before; the table holds none of the names, addresses,
 * devices or passwords. Until the table has evicted an entry (seen by counting used
 * slots against the keys made), every answer equals the shadow model's.
 *
 * The same operations also drive the rule on entries (mob_lockout_entries_*) over a
 * store that never evicts, kept as mob_lockout_sql keeps its rows (an entry is looked
 * up by key, handed in zeroed when new, and stored only when the rule says it wrote
 * it): its answers equal the model's throughout. */
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mob_lockout.h"

#define ACCOUNTS 7
#define ADDRESSES 8
#define DEVICES 3
#define PASSWORDS 8
#define T0 ((apr_time_t)1717200000 * APR_USEC_PER_SEC)
#define NEVER ((apr_time_t)-1)

static const char *const account_names[ACCOUNTS] = {
    "alice@contoso.test", "bob@contoso.test", "carol@contoso.test", "dave@contoso.test",
    "erin@fabrikam.test", "sip-user-with-a-long-name@contoso.test", "ghost@contoso.test"
};
static const char *const address_names[ADDRESSES] = {
    "198.51.100.7", "203.0.113.9", "203.0.113.10", "192.0.2.44",
    "2001:db8::1", "2001:db8:0:0:0:0:0:2", "100.64.0.9", "127.0.0.1"
};
static const char *const device_names[DEVICES] = {
    "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210",
    "00000000000000000000000000000000"
};
static const char *const password_names[PASSWORDS] = {
    "Demo-Passw0rd", "Summer2025", "Spring2026!", "correct horse battery",
    "Old-Passw0rd", "old-passw0rd", "Demo-Passw0rd ", "p\xc3\xa4ssw\xc3\xb6rd"
};

/* The model: ids of familiar origins are addresses 0..7 and devices 8..10. */
typedef struct {
    apr_uint32_t failures;
    apr_time_t last_failure, locked_until;
} model_count;

typedef struct {
    model_count cls[2];
    int recent[MOB_LOCKOUT_RECENT], familiar[MOB_LOCKOUT_FAMILIAR];   /* -1 = none */
} model_account;

static int model_find(const int *list, int n, int v)
{
    int i;

    for (i = 0; i < n; i++) {
        if (list[i] == v) {
            return i;
        }
    }
    return -1;
}

static void model_remember(int *list, int n, int v)
{
    int at = model_find(list, n, v), i;

    for (i = at < 0 ? n - 1 : at; i > 0; i--) {
        list[i] = list[i - 1];
    }
    list[0] = v;
}

static int model_count_failure(model_count *m, const mob_lockout_policy *pol, apr_time_t now)
{
    if (m->last_failure && now - m->last_failure > pol->forget && m->locked_until <= now) {
        m->failures = 0;
    }
    m->last_failure = now;
    m->failures++;
    if (m->failures >= pol->threshold && m->locked_until <= now) {
        m->locked_until = now + pol->duration;
        return 1;
    }
    return 0;
}

static int model_class(const model_account *a, int addr, int dev)
{
    return model_find(a->familiar, MOB_LOCKOUT_FAMILIAR, addr) >= 0
           || (dev >= 0 && model_find(a->familiar, MOB_LOCKOUT_FAMILIAR, ADDRESSES + dev) >= 0);
}

/* An eviction shows as fewer used slots than keys made (a new key that found its 8
 * slots full took one): the model stops there. */
static int has_evicted(const mob_lockout_table *t, apr_uint32_t slots, unsigned acc_made,
                       unsigned addr_made)
{
    apr_uint32_t used = 0, made, i;

    for (i = 0; i < slots; i++) {
        used += t->e[i].last != 0;
    }
    made = (apr_uint32_t)(__builtin_popcount(acc_made) + __builtin_popcount(addr_made));
    FUZZ_CHECK(used <= made);
    return used < made;
}

/* The store that never evicts: every key made, with its entry. */
#define STORE_MAX (ACCOUNTS + ADDRESSES)
typedef struct {
    mob_lockout_entry e[STORE_MAX];
    int n;
} entry_store;

/* The entry of key, or *fresh (zeroed, with the key) when the store has none. */
static mob_lockout_entry *store_get(entry_store *st, const unsigned char key[16],
                                    mob_lockout_entry *fresh)
{
    int i;

    for (i = 0; i < st->n; i++) {
        if (!memcmp(st->e[i].key, key, 16)) {
            return &st->e[i];
        }
    }
    memset(fresh, 0, sizeof(*fresh));
    memcpy(fresh->key, key, 16);
    return fresh;
}

static void store_put(entry_store *st, const mob_lockout_entry *e, const mob_lockout_entry *fresh)
{
    if (e == fresh) {
        FUZZ_CHECK(st->n < STORE_MAX);
        st->e[st->n++] = *fresh;
    }
}

#define STORE_BITS (~(MOB_LOCKOUT_WROTE_ACCOUNT | MOB_LOCKOUT_WROTE_ADDRESS))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mob_lockout_policy acc_pol, addr_pol;
    mob_lockout_table *t;
    model_account macc[ACCOUNTS];
    model_count maddr[ADDRESSES];
    apr_time_t now = T0, acc_locked_at[ACCOUNTS][2], addr_locked_at[ADDRESSES];
    unsigned acc_made = 0, addr_made = 0, tried[ACCOUNTS] = { 0 }, ok_origins[ACCOUNTS] = { 0 };
    apr_uint32_t slots;
    int evicted = 0, a, k;
    size_t off;
    entry_store *st;
    mob_lockout_entry fresh_acc, fresh_addr, *sacc, *saddr;
    mob_lockout_keys keys;
    unsigned sv;

    if (size < 4) {
        return 0;
    }
    slots = 4u + data[0];
    acc_pol.threshold = data[1] & 7;
    acc_pol.duration = apr_time_from_sec(((data[1] >> 3) & 31) + 1);
    addr_pol.threshold = data[2] & 15;
    addr_pol.duration = apr_time_from_sec(((data[2] >> 4) & 15) + 1);
    acc_pol.forget = addr_pol.forget = apr_time_from_sec(data[3] + 1);

    t = malloc(mob_lockout_bytes(slots));
    FUZZ_CHECK(t != NULL);
    mob_lockout_init(t, slots);
    FUZZ_CHECK(mob_lockout_valid(t, slots));
    memset(t->secret, 0x5a, sizeof(t->secret));   /* the same slots on every replay */
    st = calloc(1, sizeof(*st));
    FUZZ_CHECK(st != NULL);
    memset(macc, 0, sizeof(macc));
    memset(maddr, 0, sizeof(maddr));
    for (a = 0; a < ACCOUNTS; a++) {
        for (k = 0; k < MOB_LOCKOUT_RECENT; k++) macc[a].recent[k] = -1;
        for (k = 0; k < MOB_LOCKOUT_FAMILIAR; k++) macc[a].familiar[k] = -1;
        acc_locked_at[a][0] = acc_locked_at[a][1] = NEVER;
    }
    for (k = 0; k < ADDRESSES; k++) {
        addr_locked_at[k] = NEVER;
    }

    for (off = 4; off + 3 <= size; off += 3) {
        int kind = data[off] & 7, acc = (data[off] >> 3) & 7, addr = data[off + 1] & 7;
        int dev = ((data[off + 1] >> 3) & 3) - 1, pw = data[off + 2] & 7;
        const char *account = acc < ACCOUNTS ? account_names[acc] : NULL;
        const char *device = dev >= 0 ? device_names[dev] : NULL;
        unsigned check, want, got;
        int c;

        if (kind == 5) {
            now += apr_time_from_sec(data[off + 2]);
            continue;
        }
        now += apr_time_from_msec(100 * (data[off + 2] >> 3));

        /* the check, always made (it changes nothing) */
        check = mob_lockout_check(t, account, address_names[addr], device, now);
        FUZZ_CHECK((check & ~(MOB_LOCKOUT_ACCOUNT_LOCKED | MOB_LOCKOUT_ADDRESS_LOCKED
                              | MOB_LOCKOUT_FAMILIAR_ORIGIN)) == 0);
        c = (check & MOB_LOCKOUT_FAMILIAR_ORIGIN) != 0;
        if (c) {
            FUZZ_CHECK(account && ((ok_origins[acc] >> addr) & 1
                                   || (dev >= 0 && (ok_origins[acc] >> (ADDRESSES + dev)) & 1)));
        }
        if (check & MOB_LOCKOUT_ACCOUNT_LOCKED) {
            FUZZ_CHECK(account && acc_locked_at[acc][c] != NEVER
                       && now < acc_locked_at[acc][c] + acc_pol.duration);
        }
        if (check & MOB_LOCKOUT_ADDRESS_LOCKED) {
            FUZZ_CHECK(addr_locked_at[addr] != NEVER
                       && now < addr_locked_at[addr] + addr_pol.duration);
        }
        {
            int mc = account ? model_class(&macc[acc], addr, dev) : 0;
            want = (mc ? MOB_LOCKOUT_FAMILIAR_ORIGIN : 0)
                   | (account && macc[acc].cls[mc].locked_until > now
                      ? MOB_LOCKOUT_ACCOUNT_LOCKED : 0)
                   | (maddr[addr].locked_until > now ? MOB_LOCKOUT_ADDRESS_LOCKED : 0);
            FUZZ_CHECK(evicted || check == want);
        }
        mob_lockout_keys_make(t->secret, account, address_names[addr], device,
                              account ? password_names[pw] : NULL, &keys);
        sacc = account ? store_get(st, keys.account, &fresh_acc) : NULL;
        saddr = store_get(st, keys.address, &fresh_addr);
        FUZZ_CHECK(mob_lockout_entries_check(sacc, saddr, &keys, now) == want);
        if (kind == 4 || ((kind == 0 || kind == 1 || kind >= 6)
                          && (check & (MOB_LOCKOUT_ACCOUNT_LOCKED | MOB_LOCKOUT_ADDRESS_LOCKED)))) {
            continue;   /* a check alone, or refused: not a failure */
        }

        if (kind == 1 || kind == 3) {
            if (!account) {
                continue;   /* no such sign-in can succeed */
            }
            mob_lockout_succeeded(t, account, address_names[addr], device, now);
            acc_made |= 1u << acc;
            ok_origins[acc] |= 1u << addr | (dev >= 0 ? 1u << (ADDRESSES + dev) : 0);
            evicted = evicted || has_evicted(t, slots, acc_made, addr_made);
            sv = mob_lockout_entries_succeeded(sacc, &keys, now);
            FUZZ_CHECK(sv == MOB_LOCKOUT_WROTE_ACCOUNT);
            store_put(st, sacc, &fresh_acc);
            {
                int mc = model_class(&macc[acc], addr, dev);
                memset(&macc[acc].cls[mc], 0, sizeof(macc[acc].cls[mc]));
                model_remember(macc[acc].familiar, MOB_LOCKOUT_FAMILIAR, addr);
                if (dev >= 0) {
                    model_remember(macc[acc].familiar, MOB_LOCKOUT_FAMILIAR, ADDRESSES + dev);
                }
            }
            /* the origin is familiar at once (the entry was just used: not evicted) */
            FUZZ_CHECK(mob_lockout_check(t, account, address_names[addr], device, now)
                       & MOB_LOCKOUT_FAMILIAR_ORIGIN);
        }
        else {
            got = mob_lockout_failed(t, account, address_names[addr], device,
                                     account ? password_names[pw] : NULL, &acc_pol, &addr_pol,
                                     now);
            sv = mob_lockout_entries_failed(sacc, saddr, &keys, &acc_pol, &addr_pol, now);
            if (sv & MOB_LOCKOUT_WROTE_ACCOUNT) {
                store_put(st, sacc, &fresh_acc);
            }
            if (sv & MOB_LOCKOUT_WROTE_ADDRESS) {
                store_put(st, saddr, &fresh_addr);
            }
            FUZZ_CHECK((got & ~(MOB_LOCKOUT_FAMILIAR_ORIGIN | MOB_LOCKOUT_REPEATED
                                | MOB_LOCKOUT_ACCOUNT_LOCKS | MOB_LOCKOUT_ADDRESS_LOCKS)) == 0);
            if (got & MOB_LOCKOUT_REPEATED) {
                FUZZ_CHECK(account && (tried[acc] >> pw) & 1);
                FUZZ_CHECK(!(got & (MOB_LOCKOUT_ACCOUNT_LOCKS | MOB_LOCKOUT_ADDRESS_LOCKS)));
            }
            if (account && acc_pol.threshold) {
                acc_made |= 1u << acc;
                tried[acc] |= 1u << pw;
            }
            if (addr_pol.threshold && !(got & MOB_LOCKOUT_REPEATED)) {
                addr_made |= 1u << addr;
            }
            evicted = evicted || has_evicted(t, slots, acc_made, addr_made);
            if (!evicted) {
                /* a lock that runs is never restarted */
                if (check & MOB_LOCKOUT_ACCOUNT_LOCKED) {
                    FUZZ_CHECK(!(got & MOB_LOCKOUT_ACCOUNT_LOCKS));
                }
                if (check & MOB_LOCKOUT_ADDRESS_LOCKED) {
                    FUZZ_CHECK(!(got & MOB_LOCKOUT_ADDRESS_LOCKS));
                }
            }
            c = (got & MOB_LOCKOUT_FAMILIAR_ORIGIN) != 0;
            if (got & MOB_LOCKOUT_ACCOUNT_LOCKS) {
                FUZZ_CHECK(account);
                acc_locked_at[acc][c] = now;
            }
            if (got & MOB_LOCKOUT_ADDRESS_LOCKS) {
                addr_locked_at[addr] = now;
            }
            {
                want = 0;
                if (account && acc_pol.threshold) {
                    model_account *m = &macc[acc];
                    int mc = model_class(m, addr, dev);

                    want |= mc ? MOB_LOCKOUT_FAMILIAR_ORIGIN : 0;
                    if (model_find(m->recent, MOB_LOCKOUT_RECENT, pw) >= 0) {
                        want |= MOB_LOCKOUT_REPEATED;
                    }
                    model_remember(m->recent, MOB_LOCKOUT_RECENT, pw);
                    if (!(want & MOB_LOCKOUT_REPEATED)
                        && model_count_failure(&m->cls[mc], &acc_pol, now)) {
                        want |= MOB_LOCKOUT_ACCOUNT_LOCKS;
                    }
                }
                if (!(want & MOB_LOCKOUT_REPEATED) && addr_pol.threshold
                    && model_count_failure(&maddr[addr], &addr_pol, now)) {
                    want |= MOB_LOCKOUT_ADDRESS_LOCKS;
                }
                FUZZ_CHECK(evicted || got == want);
                FUZZ_CHECK((sv & STORE_BITS) == want);
            }
        }
    }

    /* nothing it counts is in the table in the clear */
    for (k = 0; k < ACCOUNTS; k++) {
        FUZZ_CHECK(!memmem(t, mob_lockout_bytes(slots), account_names[k],
                           strlen(account_names[k])));
    }
    for (k = 0; k < ADDRESSES; k++) {
        FUZZ_CHECK(!memmem(t, mob_lockout_bytes(slots), address_names[k],
                           strlen(address_names[k])));
    }
    for (k = 0; k < DEVICES; k++) {
        FUZZ_CHECK(!memmem(t, mob_lockout_bytes(slots), device_names[k], 8));
    }
    for (k = 0; k < PASSWORDS; k++) {
        FUZZ_CHECK(!memmem(t, mob_lockout_bytes(slots), password_names[k],
                           strlen(password_names[k])));
    }
    for (k = 0; k < PASSWORDS; k++) {
        FUZZ_CHECK(!memmem(st, sizeof(*st), password_names[k], strlen(password_names[k])));
    }
    free(st);
    free(t);
    return 0;
}
