/* The people database through mod_dbd: the request's connection, the schema brought up
 * to date in post_config and child_init, SQLite's busy handler (ucwa_people_db.h). */
#include <httpd.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_dbd.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <unistd.h>
#include <unixd.h>
#include <http_main.h>
#include <mod_dbd.h>

#include "mob_dbd.h"

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_config.h"
#include "ucwa_people_db.h"
#include "ucwa_schema.h"

APLOG_USE_MODULE(ucwa);

/* --- mod_dbd's configuration ------------------------------------------------------- */

/* --- schema ------------------------------------------------------------------------ */

/* Per process: servers whose database is known to be at UCWA_SCHEMA_VERSION. */
typedef struct {
    server_rec *s;
    volatile apr_uint32_t ready;
} schema_state;

static apr_array_header_t *schema_states;

static schema_state *state_of(server_rec *s)
{
    int i;

    for (i = 0; schema_states && i < schema_states->nelts; i++) {
        schema_state *st = &APR_ARRAY_IDX(schema_states, i, schema_state);
        if (st->s == s) {
            return st;
        }
    }
    return NULL;
}

/* SQLite answers "database is locked" at once unless a connection has a busy handler,
 * and mod_dbd prepares its statements on a new connection before anything could give it
 * one: a commit in another child, holding the file's lock for a moment, then makes the
 * new connection fail (AH00632). Contact lists make such commits common. So every SQLite
 * connection this process opens gets a short busy handler (sqlite3_auto_extension; the
 * SQLite of the APR driver, found with dlopen so that mod_ucwa does not depend on it).
 * Short: the APR driver holds a process-wide mutex around each call, so a thread waiting
 * in SQLite for a lock that another thread of the same process holds (in a transaction,
 * needing that mutex to go on) would only wait; after BUSY_TRIES the driver's own loop
 * takes over, which sleeps without the mutex. */
typedef int (*sqlite_busy_handler_fn)(void *db, int (*handler)(void *, int), void *arg);
static sqlite_busy_handler_fn sqlite_busy_handler;

#define BUSY_TRIES 25                       /* 25 x 2 ms */

static int sqlite_busy(void *arg, int count)
{
    if (count >= BUSY_TRIES) {
        return 0;
    }
    apr_sleep(apr_time_from_msec(2));
    return 1;
}

static void sqlite_patient(void *db)
{
    if (sqlite_busy_handler && db) {
        sqlite_busy_handler(db, sqlite_busy, NULL);
    }
}

static int sqlite_connection_opened(void *db, char **err, const void *api)
{
    sqlite_patient(db);
    return 0;   /* SQLITE_OK */
}

static int (*sqlite_cancel_auto_extension)(void (*)(void));

static apr_status_t sqlite_defaults_end(void *data)
{
    if (sqlite_cancel_auto_extension) {
        sqlite_cancel_auto_extension((void (*)(void))sqlite_connection_opened);
    }
    sqlite_busy_handler = NULL;
    return APR_SUCCESS;
}

/* Only ever in a child: the parent unloads and loads this module again at every restart,
 * and SQLite must never call into an unloaded copy. */
static void sqlite_defaults(apr_pool_t *pchild, server_rec *s)
{
    int (*auto_extension)(void (*)(void));
    void *lib;

    if (sqlite_busy_handler) {
        return;   /* installed before mod_dbd's child_init (ucwa_people_sqlite_child_init) */
    }
    if ((lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_NOLOAD)) == NULL) {
        return;   /* SQLite is not loaded: nothing uses it */
    }
    *(void **)&auto_extension = dlsym(lib, "sqlite3_auto_extension");
    *(void **)&sqlite_cancel_auto_extension = dlsym(lib, "sqlite3_cancel_auto_extension");
    *(void **)&sqlite_busy_handler = dlsym(lib, "sqlite3_busy_handler");
    if (auto_extension && sqlite_busy_handler) {
        auto_extension((void (*)(void))sqlite_connection_opened);
        apr_pool_cleanup_register(pchild, NULL, sqlite_defaults_end, apr_pool_cleanup_null);
    }
    else {
        sqlite_busy_handler = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00244)
                     "people: this SQLite has no sqlite3_auto_extension: its connections "
                     "fail at once on a locked database");
    }
    dlclose(lib);   /* still loaded: the driver holds it */
}

/* A connection of our own to a server's database (not one of mod_dbd's: the migration
 * must not depend on its pool, and may run in the parent). NULL, logged, on failure. */
static apr_dbd_t *own_connection(apr_pool_t *p, server_rec *s, const dbd_cfg_t *cfg,
                                 const apr_dbd_driver_t **d)
{
    apr_dbd_t *h = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int n;

    apr_dbd_init(p);
    rv = apr_dbd_get_driver(p, cfg->name, d);
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_open_ex(*d, p, cfg->params, &h, &err);
    }
    if (rv != APR_SUCCESS || !h) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, UCWALOGNO(00230)
                     "people: cannot open the %s database to check its schema%s%s", cfg->name,
                     err ? ": " : "", err ? err : "");
        return NULL;
    }
    if (!strcmp(cfg->name, "sqlite3")) {
        /* wait for other writers instead of failing (this connection is ours alone) */
        apr_dbd_query(*d, h, &n, "PRAGMA busy_timeout = 10000");
    }
    return h;
}

/* The busy handler above only covers short waits, and APR-util's driver retries a
 * statement that met a lock, but not the prepare of mod_dbd's statements on a new
 * connection: with a rollback journal, any writer committing (or an admin's tool holding
 * the write lock) blocks every reader, and a child that opens a connection under load
 * (the event MPM starts children exactly then) failed its prepare (AH00632, a request
 * answered 503). In write-ahead-log mode readers never wait for writers, so prepares and
 * reads go on while another process writes; writers still take turns. The mode is the
 * file's, kept across restarts; the -wal and -shm files live beside the database (the
 * directory the journal already needed). */
static void sqlite_use_wal(apr_pool_t *p, server_rec *s, const apr_dbd_driver_t *d,
                           apr_dbd_t *h)
{
    const char *mode = NULL;
    int i;

    /* the children of a starting httpd all get here at once: the switch needs the file
     * to itself for a moment, so the others may be told it is busy */
    for (i = 0; i < 5 && (!mode || strcasecmp(mode, "wal")); i++) {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;
        if (i) {
            apr_sleep(apr_time_from_msec(50));
        }
        if (apr_dbd_select(d, p, h, &res, "PRAGMA journal_mode = WAL", 0) == 0
            && apr_dbd_get_row(d, p, res, &row, -1) == 0) {
            mode = apr_pstrdup(p, apr_dbd_get_entry(d, row, 0));
            while (apr_dbd_get_row(d, p, res, &row, -1) == 0) {
            }
        }
    }
    if (!mode || strcasecmp(mode, "wal")) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00760)
                     "people: the SQLite database stays in journal mode %s, not WAL (a "
                     "file system without shared memory?): a writer blocks every reader "
                     "while it commits", mode ? mode : "(unknown)");
    }
}

/* Runs the migrations, then (SQLite, wal set) switches the file to WAL; 1 when the
 * schema is current. */
static int migrate(apr_pool_t *parent, server_rec *s, const dbd_cfg_t *cfg, int wal)
{
    const apr_dbd_driver_t *d = NULL;
    const char *err = NULL;
    ucwa_schema_result res;
    apr_dbd_t *h;
    apr_pool_t *p;
    int ok = 0;

    apr_pool_create(&p, parent);
    if ((h = own_connection(p, s, cfg, &d)) == NULL) {
        apr_pool_destroy(p);
        return 0;
    }
    if (ucwa_schema_migrate(p, d, h, apr_time_now(), &res, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00231)
                     "people: the %s database is at schema version %d and could not be "
                     "brought to version %d: %s (contact lists answer 503 until it is fixed "
                     "and httpd restarted)", cfg->name, res.to, UCWA_SCHEMA_VERSION, err);
    }
    else {
        if (res.applied) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, UCWALOGNO(00232)
                         "people: %s schema upgraded from version %d to %d", cfg->name,
                         res.from, res.to);
        }
        ok = 1;
        if (wal && !strcmp(cfg->name, "sqlite3")) {
            sqlite_use_wal(p, s, d, h);
        }
    }
    apr_dbd_close(d, h);
    apr_pool_destroy(p);
    return ok;
}

/* The schema version, read over a connection of our own; -1 on failure. */
static int current_version(apr_pool_t *parent, server_rec *s, const dbd_cfg_t *cfg)
{
    const apr_dbd_driver_t *d = NULL;
    const char *err = NULL;
    apr_dbd_t *h;
    apr_pool_t *p;
    int version = -1;

    apr_pool_create(&p, parent);
    if ((h = own_connection(p, s, cfg, &d)) != NULL) {
        if (ucwa_schema_version(p, d, h, &version, &err) != APR_SUCCESS) {
            version = 0;   /* no table yet */
        }
        apr_dbd_close(d, h);
    }
    apr_pool_destroy(p);
    return version;
}

/* SQLite's legacy prepared statements (the sqlite3 driver of APR-util uses
 * sqlite3_prepare) fail for good once the schema of the file changes, and a connection
 * keeps using the schema it read until a statement runs into the change. mod_dbd
 * prepares every DBDPrepareSQL (and mod_authn_dbd's queries) on its pooled connections
 * in child_init, which runs before ours: if a migration happened since (in this child or
 * another), they would fail. So each pooled connection reads the schema again and
 * prepares its statements again, now that the schema is current and stays so. */
static void refresh_pool(apr_pool_t *pchild, server_rec *s, const dbd_cfg_t *cfg)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_open) *open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    APR_OPTIONAL_FN_TYPE(ap_dbd_close) *close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    int n = 1, i, k, got;
    ap_dbd_t **recs;

#if APR_HAS_THREADS
    n = cfg->nmin > 0 ? cfg->nmin : 1;
#endif
    if (!open || !close || cfg->persist == 0) {
        return;
    }
    recs = apr_pcalloc(pchild, sizeof(*recs) * (apr_size_t)n);
    for (got = 0; got < n && (recs[got] = open(pchild, s)) != NULL; got++) {
    }
    for (i = 0; i < got; i++) {
        apr_hash_index_t *hi;
        /* opened before the auto extension was there */
        sqlite_patient(apr_dbd_native_handle(recs[i]->driver, recs[i]->handle));
        /* the first read may fail on the changed schema; it makes the second read it */
        for (k = 0; k < 2; k++) {
            apr_dbd_results_t *res = NULL;
            apr_dbd_row_t *row = NULL;
            if (apr_dbd_select(recs[i]->driver, pchild, recs[i]->handle, &res,
                               "SELECT COUNT(*) FROM sqlite_master", 1) == 0) {
                while (apr_dbd_get_row(recs[i]->driver, pchild, res, &row, -1) == 0) {
                }
                break;
            }
        }
        for (hi = apr_hash_first(pchild, cfg->queries); hi; hi = apr_hash_next(hi)) {
            const void *key;
            void *val;
            apr_dbd_prepared_t *st = NULL;
            apr_hash_this(hi, &key, NULL, &val);
            if (!val || !*(const char *)val) {
                continue;
            }
            if (apr_dbd_prepare(recs[i]->driver, recs[i]->pool, recs[i]->handle, val, key,
                                &st) == 0 && st) {
                apr_hash_set(recs[i]->prepared, key, APR_HASH_KEY_STRING, st);
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00234)
                             "people: cannot prepare %s again after the schema check",
                             (const char *)key);
            }
        }
    }
    for (i = 0; i < got; i++) {
        close(s, recs[i]);
    }
}

static const char *db_key(apr_pool_t *p, const dbd_cfg_t *cfg)
{
    return apr_pstrcat(p, cfg->name, "\n", cfg->params, NULL);
}

int ucwa_people_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *done = apr_hash_make(ptemp);
    server_rec *sp;

    for (sp = s; sp; sp = sp->next) {
        const dbd_cfg_t *cfg;
        if (ucwa_config_get(sp)->engine != 1 || (cfg = mob_dbd_config(sp)) == NULL
            || apr_hash_get(done, db_key(ptemp, cfg), APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(done, db_key(ptemp, cfg), APR_HASH_KEY_STRING, "1");
        int wal = 1;
        if (!strcmp(cfg->name, "sqlite3")) {
            apr_finfo_t fi;
            /* not as root on a file that does not exist: it would be root's */
            if (apr_stat(&fi, cfg->params, APR_FINFO_TYPE | APR_FINFO_USER, ptemp)
                != APR_SUCCESS) {
                continue;
            }
            /* WAL here, before any child holds a connection (the switch needs the file to
             * itself). As root, only on a file of Apache's User: SQLite gives the -wal and
             * -shm files the database's owner, and children that cannot write could not
             * open a WAL database at all (they read it as it is). */
            wal = geteuid() != 0 || fi.user == ap_unixd_config.user_id;
        }
        migrate(ptemp, sp, cfg, wal);   /* on failure the children try again, and say so */
    }
    return OK;
}

void ucwa_people_sqlite_child_init(apr_pool_t *pchild, server_rec *s)
{
    sqlite_defaults(pchild, s);
}

void ucwa_people_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *done = apr_hash_make(pchild);   /* db_key -> "1" current, "0" not */
    apr_hash_t *refreshed = apr_hash_make(pchild);
    server_rec *sp;

    sqlite_defaults(pchild, s);

    schema_states = apr_array_make(pchild, 4, sizeof(schema_state));
    for (sp = s; sp; sp = sp->next) {
        const dbd_cfg_t *cfg;
        schema_state *st;
        const char *ok;
        if (ucwa_config_get(sp)->engine != 1) {
            continue;
        }
        st = apr_array_push(schema_states);
        st->s = sp;
        st->ready = 0;
        if ((cfg = mob_dbd_config(sp)) == NULL) {
            continue;   /* no database: the contact list answers 503 */
        }
        ok = apr_hash_get(done, db_key(pchild, cfg), APR_HASH_KEY_STRING);
        if (!ok) {
            int version = current_version(pchild, sp, cfg);
            if (version >= 0 && version < UCWA_SCHEMA_VERSION) {
                /* The parent did not migrate (ucwa_people_post_config not called, or it
                 * failed). Every child of a starting httpd is here at once, each just out
                 * of mod_dbd's child_init, whose statement preparation fails outright on
                 * an SQLite database locked by a migration's commit: give the siblings
                 * time to get past it. */
                if (!strcmp(cfg->name, "sqlite3")) {
                    apr_sleep(apr_time_from_msec(500));
                }
                ok = migrate(pchild, sp, cfg, 1) ? "1" : "0";
            }
            else {
                ok = version >= 0 ? "1" : "0";
            }
            apr_hash_set(done, db_key(pchild, cfg), APR_HASH_KEY_STRING, ok);
        }
        st->ready = *ok == '1';
    }
    for (sp = s; sp; sp = sp->next) {
        const dbd_cfg_t *cfg = mob_dbd_config(sp);
        if (cfg && !strcmp(cfg->name, "sqlite3")
            && apr_hash_get(done, db_key(pchild, cfg), APR_HASH_KEY_STRING)
            && !apr_hash_get(refreshed, &cfg, sizeof(cfg))) {
            apr_hash_set(refreshed, apr_pmemdup(pchild, &cfg, sizeof(cfg)), sizeof(cfg), "1");
            refresh_pool(pchild, sp, cfg);
        }
    }
}

/* --- the request's connection --------------------------------------------------------- */

/* dbd as a ucwa_db; with schema set, checked to be current (1), else 0 with why. */
static int db_of(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, int schema, ucwa_db *db,
                 const char **why)
{
    schema_state *st;

    if (!dbd) {
        *why = "no database connection (is mod_dbd configured for this server?)";
        return 0;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->pool = dbd->pool;
    if (!schema) {
        return 1;
    }
    st = state_of(s);
    if (!st || !apr_atomic_read32(&st->ready)) {
        int version = 0;
        const char *err = NULL;
        if (ucwa_schema_version(p, db->driver, db->handle, &version, &err) != APR_SUCCESS
            || version < UCWA_SCHEMA_VERSION) {
            *why = apr_psprintf(p, "the database schema is at version %d, this module needs "
                                "%d (see UCWA00231 at start)%s%s", version, UCWA_SCHEMA_VERSION,
                                err ? ": " : "", err ? err : "");
            return 0;
        }
        if (st) {
            apr_atomic_set32(&st->ready, 1);
        }
    }
    return 1;
}

int ucwa_people_db(request_rec *r, apr_pool_t *p, int schema, ucwa_db *db, const char **why)
{
    return db_of(r->server, p, mob_dbd_acquire(r), schema, db, why);
}

int ucwa_people_db_app(ucwa_req *q, ucwa_db *db, const char **base, const char *what,
                       const char *message, int *rv)
{
    ucwa_app copy;
    const char *why = NULL;

    memset(db, 0, sizeof(*db));
    if (ucwa_app_copy(q, &copy, NULL, rv) != OK) {
        return 0;
    }
    *base = apr_pstrdup(q->r->pool, copy.base);
    if (!ucwa_people_db(q->r, q->r->pool, 1, db, &why)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, UCWALOGNO(00678) "%s: %s", what, why);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "60");
        *rv = ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL, message);
        return 0;
    }
    return 1;
}

ap_dbd_t *ucwa_people_db_open(server_rec *s, apr_pool_t *p, ucwa_db *db, const char **why)
{
    ap_dbd_t *dbd = mob_dbd_open(s, p);

    memset(db, 0, sizeof(*db));
    if (!db_of(s, p, dbd, 1, db, why)) {
        mob_dbd_close(s, dbd);
        return NULL;
    }
    return dbd;
}

void ucwa_people_db_close(server_rec *s, ap_dbd_t *dbd)
{
    mob_dbd_close(s, dbd);
}
