#include <string.h>
#include <apr_strings.h>

#include "mob_hex.h"
#include "mob_lockout_sql.h"

#define T MOB_LOCKOUT_SQL_TABLE
#define COLS "entry_key, last_use, expires, failures_0, failures_1, last_failure_0, " \
             "last_failure_1, locked_until_0, locked_until_1, recent, familiar"
#define NCOLS 11

static const char *const create_sql[] = {
    "CREATE TABLE IF NOT EXISTS " T " ("
    " entry_key VARCHAR(32) NOT NULL PRIMARY KEY,"
    " last_use BIGINT NOT NULL,"
    " expires BIGINT NOT NULL,"
    " failures_0 BIGINT NOT NULL,"
    " failures_1 BIGINT NOT NULL,"
    " last_failure_0 BIGINT NOT NULL,"
    " last_failure_1 BIGINT NOT NULL,"
    " locked_until_0 BIGINT NOT NULL,"
    " locked_until_1 BIGINT NOT NULL,"
    " recent VARCHAR(64) NOT NULL,"
    " familiar VARCHAR(128) NOT NULL)",
    "CREATE INDEX IF NOT EXISTS " T "_expires ON " T " (expires)",
    NULL
};

int mob_lockout_sql_create(ucwa_db *db, apr_pool_t *p)
{
    int i, n, rv;

    for (i = 0; create_sql[i]; i++) {
        if ((rv = apr_dbd_query(db->driver, db->handle, &n, create_sql[i])) != 0) {
            ucwa_sql_fail(db, p, "create " T, rv);
            return -1;
        }
    }
    return 0;
}

/* --- rows and entries --------------------------------------------------------------- */

/* Values are bound as text; numbers have %lld placeholders, so that PostgreSQL reads
 * them as BIGINT (a %s is a varchar there, which it will not store in a BIGINT). */

static int nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads up to n bytes of hex; what is missing or malformed stays zero (an empty slot). */
static void unhex(const char *s, unsigned char *b, size_t n)
{
    size_t i;

    memset(b, 0, n);
    for (i = 0; s && i < n && s[2 * i] && s[2 * i + 1]; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            memset(b, 0, n);
            return;
        }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
}

static apr_int64_t int_of(const char *s)
{
    return s ? apr_atoi64(s) : 0;
}

static const char *num(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

static void entry_of_row(const char **row, mob_lockout_entry *e)
{
    int c;

    memset(e, 0, sizeof(*e));
    unhex(row[0], e->key, sizeof(e->key));
    e->last = int_of(row[1]);
    for (c = 0; c < MOB_ORIGIN_CLASSES; c++) {
        apr_int64_t f = int_of(row[3 + c]);
        e->failures[c] = f < 0 ? 0 : f > (apr_int64_t)APR_UINT32_MAX ? APR_UINT32_MAX
                                                                       : (apr_uint32_t)f;
        e->last_failure[c] = int_of(row[5 + c]);
        e->locked_until[c] = int_of(row[7 + c]);
    }
    unhex(row[9], &e->recent[0][0], sizeof(e->recent));
    unhex(row[10], &e->familiar[0][0], sizeof(e->familiar));
}

static apr_time_t expires(const mob_lockout_entry *e)
{
    static const unsigned char none[8];
    int i, familiar = 0;

    for (i = 0; i < MOB_LOCKOUT_FAMILIAR; i++) {
        familiar |= memcmp(e->familiar[i], none, 8) != 0;
    }
    return e->last + (familiar ? MOB_LOCKOUT_SQL_KEEP_FAMILIAR : MOB_LOCKOUT_SQL_KEEP);
}

static int write_entry(ucwa_db *db, apr_pool_t *p, const mob_lockout_entry *e)
{
    const char *args[NCOLS] = {
        num(p, e->last), num(p, expires(e)), num(p, e->failures[0]), num(p, e->failures[1]),
        num(p, e->last_failure[0]), num(p, e->last_failure[1]), num(p, e->locked_until[0]),
        num(p, e->locked_until[1]), mob_hex(p, &e->recent[0][0], sizeof(e->recent)),
        mob_hex(p, &e->familiar[0][0], sizeof(e->familiar)), mob_hex(p, e->key, sizeof(e->key))
    };

    return ucwa_sql_exec(db, p, "mob_lockout_3", "UPDATE " T " SET last_use = %lld, "
                         "expires = %lld, failures_0 = %lld, failures_1 = %lld, "
                         "last_failure_0 = %lld, last_failure_1 = %lld, locked_until_0 = %lld, "
                         "locked_until_1 = %lld, recent = %s, familiar = %s "
                         "WHERE entry_key = %s", NCOLS, args, NULL);
}

/* The row of an entry that is not stored yet, so that the SELECT below can lock it. */
static int make_row(ucwa_db *db, apr_pool_t *p, const unsigned char key[16], apr_time_t now)
{
    const char *args[2] = { mob_hex(p, key, 16), num(p, now + MOB_LOCKOUT_SQL_KEEP) };

    return ucwa_sql_exec(db, p, "mob_lockout_1", "INSERT INTO " T " (" COLS ") VALUES "
                         "(%s, 0, %lld, 0, 0, 0, 0, 0, 0, '', '') "
                         "ON CONFLICT (entry_key) DO NOTHING", 2, args, NULL);
}

/* Reads the entries of the account (when k has one) and the address; an entry without a
 * row is handed back zeroed with its key. lock: FOR UPDATE (PostgreSQL; SQLite's
 * transaction holds the database's write lock already). */
static int read_entries(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k, int lock,
                        mob_lockout_entry *acc, mob_lockout_entry *addr)
{
    const char *args[2] = { mob_hex(p, k->address, 16),
                            mob_hex(p, k->has_account ? k->account : k->address, 16) };
    int pg = !strcmp(apr_dbd_name(db->driver), "pgsql");
    apr_array_header_t *rows;
    int i;

    memset(acc, 0, sizeof(*acc));
    memcpy(acc->key, k->account, sizeof(acc->key));
    memset(addr, 0, sizeof(*addr));
    memcpy(addr->key, k->address, sizeof(addr->key));
    if (ucwa_sql_select(db, p, lock && pg ? "mob_lockout_2" : "mob_lockout_0",
                        lock && pg
                        ? "SELECT " COLS " FROM " T " WHERE entry_key IN (%s, %s) "
                          "ORDER BY entry_key FOR UPDATE"
                        : "SELECT " COLS " FROM " T " WHERE entry_key IN (%s, %s)",
                        2, args, NCOLS, &rows)) {
        return -1;
    }
    for (i = 0; i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        mob_lockout_entry e;

        entry_of_row(row, &e);
        if (!memcmp(e.key, k->address, 16)) {
            *addr = e;
        }
        else if (k->has_account && !memcmp(e.key, k->account, 16)) {
            *acc = e;
        }
    }
    return 0;
}

/* --- one attempt, one transaction ----------------------------------------------------- */

typedef enum { OP_CHECK, OP_FAILED, OP_SUCCEEDED } op_kind;

typedef struct {
    op_kind op;
    const mob_lockout_keys *k;
    const mob_lockout_policy *account_pol, *address_pol;
    apr_time_t now;
    unsigned v;
} attempt;

static int run_locked(ucwa_db *db, apr_pool_t *p, attempt *a)
{
    mob_lockout_entry acc, addr;
    const mob_lockout_keys *k = a->k;

    if ((k->has_account && make_row(db, p, k->account, a->now))
        || (a->op == OP_FAILED && make_row(db, p, k->address, a->now))
        || read_entries(db, p, k, 1, &acc, &addr)) {
        return -1;
    }
    a->v = a->op == OP_FAILED
           ? mob_lockout_entries_failed(k->has_account ? &acc : NULL, &addr, k,
                                        a->account_pol, a->address_pol, a->now)
           : mob_lockout_entries_succeeded(k->has_account ? &acc : NULL, k, a->now);
    if (((a->v & MOB_LOCKOUT_WROTE_ACCOUNT) && write_entry(db, p, &acc))
        || ((a->v & MOB_LOCKOUT_WROTE_ADDRESS) && write_entry(db, p, &addr))) {
        return -1;
    }
    return 0;
}

static int run_once(ucwa_db *db, apr_pool_t *p, attempt *a)
{
    apr_dbd_transaction_t *t = NULL;
    int rv, failed;

    if (a->op == OP_CHECK) {
        mob_lockout_entry acc, addr;
        if (read_entries(db, p, a->k, 0, &acc, &addr)) {
            return -1;
        }
        a->v = mob_lockout_entries_check(a->k->has_account ? &acc : NULL, &addr, a->k, a->now);
        return 0;
    }
    rv = apr_dbd_transaction_start(db->driver, p, db->handle, &t);
    if (rv != 0) {
        ucwa_sql_fail(db, p, "begin", rv);
        if (t) {   /* the sqlite3 driver leaves the object behind even then */
            apr_dbd_transaction_mode_set(db->driver, t, APR_DBD_TRANSACTION_ROLLBACK);
            apr_dbd_transaction_end(db->driver, p, t);
        }
        return -1;
    }
    failed = run_locked(db, p, a);
    if (failed) {
        apr_dbd_transaction_mode_set(db->driver, t, APR_DBD_TRANSACTION_ROLLBACK);
    }
    rv = apr_dbd_transaction_end(db->driver, p, t);
    if (rv != 0 && !failed) {
        ucwa_sql_fail(db, p, "commit", rv);
        return -1;
    }
    return failed ? -1 : 0;
}

/* A failure may be a missing table (the first use of a new database, or one the
 * parent could not reach at start), or a lost race (a deadlock or a serialisation
 * failure that PostgreSQL ended): make the table if needed, and try once more. */
static int run(ucwa_db *db, apr_pool_t *p, attempt *a)
{
    const char *first;

    if (run_once(db, p, a) == 0) {
        return 0;
    }
    first = db->err;
    if (mob_lockout_sql_create(db, p) == 0 && run_once(db, p, a) == 0) {
        return 0;
    }
    db->err = apr_psprintf(p, "%s (then: %s)", first, db->err);
    return -1;
}

#define ANSWER_BITS (~(MOB_LOCKOUT_WROTE_ACCOUNT | MOB_LOCKOUT_WROTE_ADDRESS))

int mob_lockout_sql_check(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k,
                          apr_time_t now, unsigned *v)
{
    attempt a = { OP_CHECK, k, NULL, NULL, now, 0 };
    int rv = run(db, p, &a);

    *v = a.v & ANSWER_BITS;
    return rv;
}

int mob_lockout_sql_failed(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k,
                           const mob_lockout_policy *account_pol,
                           const mob_lockout_policy *address_pol, apr_time_t now,
                           unsigned *v)
{
    attempt a = { OP_FAILED, k, account_pol, address_pol, now, 0 };
    int rv = run(db, p, &a);

    *v = a.v & ANSWER_BITS;
    return rv;
}

int mob_lockout_sql_succeeded(ucwa_db *db, apr_pool_t *p, const mob_lockout_keys *k,
                              apr_time_t now)
{
    attempt a = { OP_SUCCEEDED, k, NULL, NULL, now, 0 };

    return k->has_account ? run(db, p, &a) : 0;
}

int mob_lockout_sql_expire(ucwa_db *db, apr_pool_t *p, apr_time_t now, int *removed)
{
    const char *args[1] = { num(p, now) };

    return ucwa_sql_exec(db, p, "mob_lockout_4", "DELETE FROM " T " WHERE expires < %lld", 1,
                         args, removed);
}
