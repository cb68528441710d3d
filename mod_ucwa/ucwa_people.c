/* people: the contact list (groups and memberships in SQL through mod_dbd), contacts and
 * their presence, search, photos. Resource shapes: common/ucwa/ucwa_people_render; SQL:
 * common/ucwa/ucwa_contacts and common/ucwa/ucwa_schema; our choices: docs/extensions.md. */
#include <httpd.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_atomic.h>
#include <apr_dbd.h>
#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_dbd.h>

#include "mod_ucwa.h"
#include "mob_form.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_contacts.h"
#include "ucwa_events.h"
#include "ucwa_input.h"
#include "ucwa_people.h"
#include "ucwa_people_render.h"
#include "ucwa_photo.h"
#include "ucwa_schema.h"
#include "ucwa_shm.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);

/* The directory statements (DBDPrepareSQL labels, see docs/directives.md). */
#define LABEL_CONTACT "ucwa_contact"
#define LABEL_SEARCH  "ucwa_search"
#define LABEL_PHOTO   "ucwa_photo"
#define SEARCH_ARGS   32            /* every %s of ucwa_search gets the pattern */
#define PHOTO_MAX     (512 * 1024)  /* bytes of one directory photo */
#define NAME_MAX_BYTES 1024         /* group names, contactUri, groupId in bodies */

/* --- mod_dbd's configuration ------------------------------------------------------- */

/* mod_dbd keeps its per-server configuration in a private struct whose first member is
 * the public dbd_cfg_t of mod_dbd.h (driver name, parameters, prepared statements).
 * The migration needs the driver and parameters before any request, and the refresh of
 * prepared statements (below) their SQL. A virtual host without DBD directives shares
 * the main server's; cfg->server, the server it was made for, checks the layout. */
static const dbd_cfg_t *dbd_config(server_rec *s)
{
    module *m = ap_find_linked_module("mod_dbd.c");
    void **svr = m ? ap_get_module_config(s->module_config, m) : NULL;
    const dbd_cfg_t *cfg = svr ? (const dbd_cfg_t *)svr[0] : NULL;
    server_rec *sp;

    if (!cfg || !cfg->name || !cfg->params || !cfg->queries
        || !strcmp(cfg->name, "[DBDriver unset]")) {
        return NULL;
    }
    for (sp = ap_server_conf; sp; sp = sp->next) {
        if (cfg->server == sp) {
            return cfg;
        }
    }
    return NULL;
}

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
    void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_NOLOAD);

    if (!lib) {
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

/* Runs the migrations; 1 when the schema is current. */
static int migrate(apr_pool_t *parent, server_rec *s, const dbd_cfg_t *cfg)
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
        if (ucwa_config_get(sp)->engine != 1 || (cfg = dbd_config(sp)) == NULL
            || apr_hash_get(done, db_key(ptemp, cfg), APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(done, db_key(ptemp, cfg), APR_HASH_KEY_STRING, "1");
        if (!strcmp(cfg->name, "sqlite3")) {
            apr_finfo_t fi;
            /* not as root on a file that does not exist: it would be root's */
            if (apr_stat(&fi, cfg->params, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
                continue;
            }
        }
        migrate(ptemp, sp, cfg);   /* on failure the children try again, and say so */
    }
    return OK;
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
        if ((cfg = dbd_config(sp)) == NULL) {
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
                ok = migrate(pchild, sp, cfg) ? "1" : "0";
            }
            else {
                ok = version >= 0 ? "1" : "0";
            }
            apr_hash_set(done, db_key(pchild, cfg), APR_HASH_KEY_STRING, ok);
        }
        st->ready = *ok == '1';
    }
    for (sp = s; sp; sp = sp->next) {
        const dbd_cfg_t *cfg = dbd_config(sp);
        if (cfg && !strcmp(cfg->name, "sqlite3")
            && apr_hash_get(done, db_key(pchild, cfg), APR_HASH_KEY_STRING)
            && !apr_hash_get(refreshed, &cfg, sizeof(cfg))) {
            apr_hash_set(refreshed, apr_pmemdup(pchild, &cfg, sizeof(cfg)), sizeof(cfg), "1");
            refresh_pool(pchild, sp, cfg);
        }
    }
}

/* --- the photo cookie ---------------------------------------------------------------- */

/* A browser's <img> request for {A}/photos/... carries the cwt_ucwa cookie the server set
 * with the application, and no Authorization: the cookie's token is the bearer token. */
int ucwa_people_photo_cookie(request_rec *r)
{
    const char *cookie, *c, *end, *photos;

    if (!r->handler || strcmp(r->handler, "ucwa") || ucwa_config_get(r->server)->engine != 1
        || apr_table_get(r->headers_in, "Authorization")) {
        return DECLINED;
    }
    photos = strstr(r->uri, "/photos/");
    if (!photos || strncasecmp(r->uri, "/ucwa/", 6)) {
        return DECLINED;
    }
    cookie = apr_table_get(r->headers_in, "Cookie");
    for (c = cookie; c && *c; c = end ? end + 1 : NULL) {
        end = strchr(c, ';');
        while (*c == ' ' || *c == '\t') {
            c++;
        }
        if (!strncmp(c, "cwt_ucwa=", 9)) {
            const char *v = c + 9;
            size_t n = end ? (size_t)(end - v) : strlen(v);
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
                n--;
            }
            if (n && n <= 2048) {
                apr_table_setn(r->headers_in, "Authorization",
                               apr_pstrcat(r->pool, "Bearer ", apr_pstrndup(r->pool, v, n),
                                           NULL));
            }
            break;
        }
    }
    return DECLINED;
}

/* --- request helpers ------------------------------------------------------------------ */

typedef struct {
    ucwa_req *q;
    apr_pool_t *p;
    ucwa_app app;                 /* copy of the request's application */
    const char *base;
    apr_table_t *query;
    ucwa_db db;
} people_req;

static int bad_request(ucwa_req *q, const char *message)
{
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           message);
}

static int not_found(ucwa_req *q, const char *message)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound", message);
}

static int unavailable(people_req *x, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->q->r, UCWALOGNO(00235) "people: %s", why);
    apr_table_setn(x->q->r->err_headers_out, "Retry-After", "60");
    return ucwa_http_error(x->q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                           "The contact list is unavailable now.");
}

static int db_failed(people_req *x)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->q->r, UCWALOGNO(00236) "people: %s",
                  x->db.err ? x->db.err : "database error");
    return ucwa_http_error(x->q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                           "The contact list could not be read or changed.");
}

/* The application (404/410 as every resource of it) and the query string (400). */
static int people_begin(people_req *x, ucwa_req *q, int *rv)
{
    const char *why = NULL;

    memset(x, 0, sizeof(*x));
    x->q = q;
    x->p = q->r->pool;
    if (ucwa_app_copy(q, &x->app, NULL, rv) != OK) {
        return 0;
    }
    x->base = apr_pstrdup(x->p, x->app.base);
    if (q->r->args && *q->r->args) {
        if (mob_form_parse(x->p, q->r->args, strlen(q->r->args), MOB_FORM_LENIENT, &x->query,
                           &why) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00237)
                          "people: unreadable query string: %s", why);
            *rv = bad_request(q, "The query string could not be read (each value at most "
                              "1024 bytes of UTF-8).");
            return 0;
        }
    }
    else {
        x->query = apr_table_make(x->p, 1);
    }
    return 1;
}

static const char *param(people_req *x, const char *name)
{
    return apr_table_get(x->query, name);
}

/* expand=false: links only. 1, 0, or -1 (error sent in *rv). */
static int expand_param(people_req *x, int *rv)
{
    const char *e = param(x, "expand");

    if (!e || !strcasecmp(e, "true")) {
        return 1;
    }
    if (!strcasecmp(e, "false")) {
        return 0;
    }
    *rv = bad_request(x->q, "expand is true or false.");
    return -1;
}

int ucwa_people_db(request_rec *r, apr_pool_t *p, int schema, ucwa_db *db, const char **why)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    ap_dbd_t *dbd = acquire ? acquire(r) : NULL;
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
    st = state_of(r->server);
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

/* A connection (mod_dbd) for the request; with schema set, one whose contact list tables
 * are known to be current. */
static int db_acquire(people_req *x, int schema, int *rv)
{
    const char *why = NULL;

    if (!ucwa_people_db(x->q->r, x->p, schema, &x->db, &why)) {
        *rv = unavailable(x, why);
        return 0;
    }
    return 1;
}

/* --- the directory ------------------------------------------------------------------ */

static void person_column(apr_pool_t *p, ucwa_person *o, const char *name, const char *v)
{
    static const struct {
        const char *name;
        size_t offset;
    } cols[] = {
        { "sip_uri", offsetof(ucwa_person, uri) },
        { "uri", offsetof(ucwa_person, uri) },
        { "display_name", offsetof(ucwa_person, name) },
        { "name", offsetof(ucwa_person, name) },
        { "title", offsetof(ucwa_person, title) },
        { "department", offsetof(ucwa_person, department) },
        { "office", offsetof(ucwa_person, office) },
        { "company", offsetof(ucwa_person, company) },
        { "email", offsetof(ucwa_person, email) },
        { "work_phone", offsetof(ucwa_person, work_phone) },
        { "mobile_phone", offsetof(ucwa_person, mobile_phone) },
        { "home_phone", offsetof(ucwa_person, home_phone) },
        { "other_phone", offsetof(ucwa_person, other_phone) },
    };
    size_t i;

    if (!name || !v || !*v) {
        return;
    }
    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        if (!strcasecmp(name, cols[i].name)) {
            *(const char **)((char *)o + cols[i].offset) = apr_pstrdup(p, v);
            return;
        }
    }
}

/* A row of ucwa_contact or ucwa_search as a person; 0 if its address is unusable. */
static int person_of_row(people_req *x, apr_dbd_results_t *res, apr_dbd_row_t *row,
                         ucwa_person *o)
{
    int i, n = apr_dbd_num_cols(x->db.driver, res);

    memset(o, 0, sizeof(*o));
    for (i = 0; i < n; i++) {
        const char *v = NULL;
        if (apr_dbd_datum_get(x->db.driver, row, i, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS) {
            person_column(x->p, o, apr_dbd_get_name(x->db.driver, res, i), v);
        }
    }
    if (o->uri && !strncasecmp(o->uri, "sip:", 4)) {
        o->uri += 4;
    }
    o->sip = ucwa_people_address(x->p, o->uri);
    o->known = 1;
    return o->sip != NULL;
}

typedef enum { DIR_OK, DIR_NO_STATEMENT, DIR_FAILED } dir_result;

/* What the directory lets the user see of sip: *out is known (the directory has it) or
 * not (rendered as an external contact). *visible: presence may be shown (known, or the
 * directory has no ucwa_contact statement to hide anyone with). */
static dir_result directory_person(people_req *x, const char *sip, ucwa_person *out,
                                   int *visible)
{
    apr_dbd_prepared_t *st = apr_hash_get(x->db.prepared, LABEL_CONTACT, APR_HASH_KEY_STRING);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, found = 0;

    memset(out, 0, sizeof(*out));
    out->sip = sip;
    *visible = 0;
    if (!st) {
        *visible = 1;
        return DIR_NO_STATEMENT;
    }
    rv = apr_dbd_pvselect(x->db.driver, x->p, x->db.handle, &res, st, 1, sip, NULL);
    if (rv != 0) {
        x->db.err = apr_psprintf(x->p, "directory query %s failed: %s", LABEL_CONTACT,
                                 apr_dbd_error(x->db.driver, x->db.handle, rv));
        return DIR_FAILED;
    }
    while (apr_dbd_get_row(x->db.driver, x->p, res, &row, -1) == 0) {
        ucwa_person o;
        if (!found && person_of_row(x, res, row, &o) && !strcmp(o.sip, sip)) {
            *out = o;
            found = 1;
        }
    }
    *visible = found;
    return DIR_OK;
}

/* --- sending ------------------------------------------------------------------------ */

/* A document as JSON with the ASP.NET date spelling, or as UCWA XML. */
static int send_doc(ucwa_req *q, json_t *doc)
{
    request_rec *r = q->r;
    apr_size_t len = 0;
    const char *body;

    if (q->xml) {
        return ucwa_http_resource(q, HTTP_OK, doc);
    }
    body = ucwa_people_json(r->pool, doc, &len);
    if (!body) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->err_headers_out, "X-MS-Server-Fqdn", q->conf->server_fqdn);
    r->status = HTTP_OK;
    ap_set_content_type(r, "application/json; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

/* --- events ------------------------------------------------------------------------- */

typedef struct {
    const char *rel, *sub, *in_rel, *in_sub, *type;
} people_event;

static people_event event(const char *rel, const char *sub, const char *in_rel,
                          const char *in_sub, const char *type)
{
    people_event e;

    e.rel = rel;
    e.sub = sub;
    e.in_rel = in_rel;
    e.in_sub = in_sub;
    e.type = type;
    return e;
}

typedef struct {
    int idx;
    char id[UCWA_ID_MAX];
    char base[UCWA_BASE_MAX];
} app_ref;

/* Posts the events (sender people, high priority) to every live application of the
 * request's user and wakes them. The texts are built outside the lock. */
static void post_events(people_req *x, const apr_array_header_t *events)
{
    apr_pool_t *p = x->p;
    apr_array_header_t *apps = apr_array_make(p, 4, sizeof(app_ref));
    apr_array_header_t *texts = apr_array_make(p, 4, sizeof(const char **));
    apr_time_t now = apr_time_now();
    ucwa_store *s;
    int user, a, e, i;

    if (events->nelts == 0 || (s = ucwa_shm_lock(x->q->r->server)) == NULL) {
        return;
    }
    user = ucwa_store_user_find(s, x->q->user, 0);
    for (i = user >= 0 ? ucwa_store_first_app(s, user) : -1; i >= 0;
         i = ucwa_store_next_app(s, i)) {
        ucwa_app *ap = ucwa_store_app(s, i);
        app_ref *ref = apr_array_push(apps);
        ref->idx = i;
        apr_cpystrn(ref->id, ap->id, sizeof(ref->id));
        apr_cpystrn(ref->base, ap->base, sizeof(ref->base));
    }
    ucwa_shm_unlock();
    if (apps->nelts == 0) {
        return;
    }
    for (a = 0; a < apps->nelts; a++) {
        const app_ref *ref = &APR_ARRAY_IDX(apps, a, app_ref);
        const char **t = apr_pcalloc(p, sizeof(*t) * (apr_size_t)(events->nelts + 1));
        t[0] = ucwa_people_event_sender(p, ref->base);
        for (e = 0; e < events->nelts; e++) {
            const people_event *ev = &APR_ARRAY_IDX(events, e, people_event);
            t[e + 1] = ucwa_people_event(p, ref->base, ev->rel, ev->sub, ev->in_rel, ev->in_sub,
                                         ev->type);
        }
        APR_ARRAY_PUSH(texts, const char **) = t;
    }
    if ((s = ucwa_shm_lock(x->q->r->server)) == NULL) {
        return;
    }
    for (a = 0; a < apps->nelts; a++) {
        const app_ref *ref = &APR_ARRAY_IDX(apps, a, app_ref);
        const char **t = APR_ARRAY_IDX(texts, a, const char **);
        ucwa_app *ap = ucwa_store_app(s, ref->idx);
        if (ap->state != UCWA_SLOT_LIVE || strcmp(ap->id, ref->id)) {
            continue;   /* ended meanwhile */
        }
        for (e = 0; e < events->nelts; e++) {
            ucwa_store_post(s, ref->idx, UCWA_PRIO_HIGH, t[0], t[e + 1], now);
        }
    }
    user = ucwa_store_user_find(s, x->q->user, 0);
    if (user >= 0) {
        ucwa_events_wake_user(s, user);
    }
    ucwa_shm_unlock();
}

static const char *group_sub(people_req *x, const char *id)
{
    return apr_pstrcat(x->p, "/people/groups/", id, NULL);
}

static const char *contact_sub(people_req *x, const char *sip)
{
    return apr_pstrcat(x->p, "/people/", sip, NULL);
}

static ucwa_group_kind kind_of(const char *id)
{
    ucwa_group_kind k = UCWA_GROUP_KIND_CUSTOM;

    ucwa_contacts_group_id_valid(id, &k);
    return k;
}

static void push_event(apr_array_header_t *evs, people_event e)
{
    APR_ARRAY_PUSH(evs, people_event) = e;
}

/* contact added/deleted in a group (and in myContacts when the list itself changed) */
static void membership_events(people_req *x, apr_array_header_t *evs, const char *group_id,
                              const char *sip, const char *type, int list_changed)
{
    push_event(evs, event("contact", contact_sub(x, sip), ucwa_people_group_rel(kind_of(group_id)),
                          group_sub(x, group_id), type));
    if (list_changed) {
        push_event(evs, event("contact", contact_sub(x, sip), "myContacts", "/people/contacts",
                              type));
    }
}

/* --- contacts ----------------------------------------------------------------------- */

static int ct_error(people_req *x, ucwa_ct_result r, const char *what)
{
    ucwa_req *q = x->q;

    switch (r) {
    case UCWA_CT_NOT_FOUND:
        return not_found(q, apr_psprintf(x->p, "There is no such %s.", what));
    case UCWA_CT_EXISTS:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "AlreadyExists",
                               apr_psprintf(x->p, "The %s exists already.", what));
    case UCWA_CT_TOO_MANY_GROUPS:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyGroups",
                               apr_psprintf(x->p, "A contact list has at most %d groups of "
                                            "your own.", UCWA_GROUPS_MAX));
    case UCWA_CT_TOO_MANY_CONTACTS:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "LimitExceeded",
                               apr_psprintf(x->p, "A contact list has at most %d contacts.",
                                            UCWA_CONTACTS_MAX));
    case UCWA_CT_READ_ONLY:
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "OperationNotSupported",
                               "The pinned and default groups cannot be renamed or deleted.");
    default:
        return db_failed(x);
    }
}

/* The directory's view of each address (for contact lists and search results). */
static int people_of(people_req *x, const apr_array_header_t *sips, ucwa_person **out, int *rv)
{
    int i, visible;

    *out = apr_pcalloc(x->p, sizeof(ucwa_person) * (apr_size_t)(sips->nelts + 1));
    for (i = 0; i < sips->nelts; i++) {
        if (directory_person(x, APR_ARRAY_IDX(sips, i, const char *), &(*out)[i], &visible)
            == DIR_FAILED) {
            *rv = db_failed(x);
            return 0;
        }
    }
    return 1;
}

static int get_contacts(people_req *x)
{
    const char *group = param(x, "groupId");
    apr_array_header_t *sips;
    ucwa_person *people;
    ucwa_ct_result r;
    int rv, expand = expand_param(x, &rv);

    if (expand < 0 || !db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_list(&x->db, x->p, x->q->user, group, &sips);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    if (!people_of(x, sips, &people, &rv)) {
        return rv;
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_contacts(x->p, x->base, group, people,
                                                                  sips->nelts, expand));
}

static int get_groups(people_req *x)
{
    apr_array_header_t *groups;
    ucwa_ct_result r;
    int rv, expand = expand_param(x, &rv);

    if (expand < 0 || !db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_groups(&x->db, x->p, x->q->user, &groups);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_groups(
        x->p, x->base, (const ucwa_group *)groups->elts, groups->nelts, expand));
}

static const char *input_string(json_t *in, const char *a, const char *b, int *bad)
{
    const char *v = ucwa_input_string(in, a, NAME_MAX_BYTES, bad);

    return v || !b ? v : ucwa_input_string(in, b, NAME_MAX_BYTES, bad);
}

static int create_group(people_req *x)
{
    apr_array_header_t *evs = apr_array_make(x->p, 1, sizeof(people_event));
    const char *name, *id = NULL;
    ucwa_ct_result r;
    json_t *in;
    int rv, bad = 0;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    name = input_string(in, "displayName", "name", &bad);
    if (bad || !name || !ucwa_contacts_name_key(x->p, name)) {
        return bad_request(x->q, "displayName is required: 1 to 256 characters, not only "
                                 "spaces, no control characters.");
    }
    if (!db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_group_create(&x->db, x->p, x->q->user, name, apr_time_now(), &id);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00238)
                  "people: %s created group %s", x->q->user, id);
    push_event(evs, event("group", group_sub(x, id), "myGroups", "/people/groups", "added"));
    post_events(x, evs);
    apr_table_setn(x->q->r->headers_out, "Location",
                   apr_pstrcat(x->p, x->base, group_sub(x, id), NULL));
    return ucwa_http_no_content(x->q);
}

/* If-Match holds one or more etags, quoted or not, maybe weak. */
static int if_match(apr_pool_t *p, const char *header, const char *etag)
{
    char *list = apr_pstrdup(p, header), *last, *tok;

    for (tok = apr_strtok(list, ", ", &last); tok; tok = apr_strtok(NULL, ", ", &last)) {
        size_t n;
        if (!strcmp(tok, "*")) {
            return 1;
        }
        if (!strncmp(tok, "W/", 2)) {
            tok += 2;
        }
        n = strlen(tok);
        if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') {
            tok[n - 1] = '\0';
            tok++;
        }
        if (!strcmp(tok, etag)) {
            return 1;
        }
    }
    return 0;
}

static int group_resource(people_req *x)
{
    const char *id = x->q->id[0];
    apr_array_header_t *evs = apr_array_make(x->p, 4, sizeof(people_event));
    int m = x->q->r->method_number, rv, i, bad = 0;
    ucwa_ct_result r;
    ucwa_group g;
    json_t *doc, *in;
    const char *name, *im;

    if (!db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_group(&x->db, x->p, x->q->user, id, &g);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    doc = ucwa_people_group(x->p, x->base, &g);
    if (m == M_GET) {
        return ucwa_http_etagged(x->q, doc);
    }
    if (m == M_DELETE) {
        apr_array_header_t *members, *dropped;
        r = ucwa_contacts_group_delete(&x->db, x->p, x->q->user, id, &members, &dropped);
        if (r != UCWA_CT_OK) {
            return ct_error(x, r, "group");
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00239)
                      "people: %s deleted group %s (%d contacts, %d left the list)",
                      x->q->user, id, members->nelts, dropped->nelts);
        for (i = 0; i < members->nelts; i++) {
            push_event(evs, event("contact", contact_sub(x, APR_ARRAY_IDX(members, i, const char *)),
                                  "group", group_sub(x, id), "deleted"));
        }
        push_event(evs, event("group", group_sub(x, id), "myGroups", "/people/groups", "deleted"));
        for (i = 0; i < dropped->nelts; i++) {
            push_event(evs, event("contact", contact_sub(x, APR_ARRAY_IDX(dropped, i, const char *)),
                                  "myContacts", "/people/contacts", "deleted"));
        }
        post_events(x, evs);
        return ucwa_http_no_content(x->q);
    }
    /* PUT: a rename, conditional on the group's etag */
    if (g.kind != UCWA_GROUP_KIND_CUSTOM) {
        return ct_error(x, UCWA_CT_READ_ONLY, "group");
    }
    im = apr_table_get(x->q->r->headers_in, "If-Match");
    if (!im) {
        return ucwa_http_error(x->q, 428, "PreconditionRequired", NULL,
                               "A PUT needs If-Match with the group's ETag.");
    }
    if (!if_match(x->p, im, json_string_value(json_object_get(doc, "etag")))) {
        return ucwa_http_error(x->q, HTTP_PRECONDITION_FAILED, "PreconditionFailed", NULL,
                               "The group changed: GET it again.");
    }
    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    name = input_string(in, "name", "displayName", &bad);
    if (bad || !name || !ucwa_contacts_name_key(x->p, name)) {
        return bad_request(x->q, "name is required: 1 to 256 characters, not only spaces, "
                                 "no control characters.");
    }
    r = ucwa_contacts_group_rename(&x->db, x->p, x->q->user, id, name);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    g.name = name;
    push_event(evs, event("group", group_sub(x, id), "myGroups", "/people/groups", "updated"));
    post_events(x, evs);
    return ucwa_http_etagged(x->q, ucwa_people_group(x->p, x->base, &g));
}

static int get_memberships(people_req *x)
{
    const char *group = param(x, "groupId");
    apr_array_header_t *ms;
    ucwa_group_kind *kinds;
    ucwa_ct_result r;
    int rv, i;

    if (!db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_memberships(&x->db, x->p, x->q->user, group, &ms);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    kinds = apr_pcalloc(x->p, sizeof(*kinds) * (apr_size_t)(ms->nelts + 1));
    for (i = 0; i < ms->nelts; i++) {
        kinds[i] = kind_of(APR_ARRAY_IDX(ms, i, ucwa_membership).group_id);
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_memberships(
        x->p, x->base, group, (const ucwa_membership *)ms->elts, kinds, ms->nelts));
}

/* contactUri of a body: a SIP address (400 otherwise). */
static const char *contact_uri(people_req *x, json_t *in, int *rv)
{
    int bad = 0;
    const char *raw = input_string(in, "contactUri", "uri", &bad);
    const char *sip = bad ? NULL : ucwa_people_address(x->p, raw);

    if (!sip) {
        *rv = bad_request(x->q, "contactUri is required: a SIP address (sip:user@domain).");
    }
    return sip;
}

static int add_membership(people_req *x)
{
    apr_array_header_t *evs = apr_array_make(x->p, 2, sizeof(people_event));
    const char *sip, *group;
    ucwa_membership m;
    ucwa_group_kind kind;
    ucwa_ct_result r;
    json_t *in, *doc;
    int rv, bad = 0, listed = 0;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    if (!(sip = contact_uri(x, in, &rv))) {
        return rv;
    }
    group = input_string(in, "groupId", NULL, &bad);
    if (bad) {
        return bad_request(x->q, "groupId is a string.");
    }
    if (group && !*group) {
        group = NULL;
    }
    if (group && !ucwa_contacts_group_id_valid(group, &kind)) {
        return not_found(x->q, "There is no such group.");
    }
    if (!db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_add(&x->db, x->p, x->q->user, group, sip, apr_time_now(), &listed);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, r == UCWA_CT_EXISTS ? "membership" : "group");
    }
    m.group_id = group ? group : UCWA_GROUP_DEFAULT;
    m.contact = sip;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00240)
                  "people: %s put %s in group %s", x->q->user, sip, m.group_id);
    membership_events(x, evs, m.group_id, sip, "added", listed);
    post_events(x, evs);
    doc = ucwa_people_membership(x->p, x->base, &m, kind_of(m.group_id));
    apr_table_setn(x->q->r->headers_out, "Location", apr_pstrdup(x->p, json_string_value(
        json_object_get(json_object_get(json_object_get(doc, "_links"), "self"), "href"))));
    return ucwa_http_resource(x->q, HTTP_CREATED, doc);
}

static int membership_resource(people_req *x)
{
    const char *group = x->q->id[0], *raw_sip = x->q->id[1];
    apr_array_header_t *evs = apr_array_make(x->p, 2, sizeof(people_event));
    const char *sip = ucwa_people_address(x->p, raw_sip);
    int m = x->q->r->method_number, rv, i, left = 0;
    apr_array_header_t *in;
    ucwa_membership ms;
    ucwa_group_kind kind;
    ucwa_ct_result r;

    if (!sip || !ucwa_contacts_group_id_valid(group, &kind)) {
        return not_found(x->q, "There is no such group membership.");
    }
    if (!db_acquire(x, 1, &rv)) {
        return rv;
    }
    if (m == M_DELETE) {
        r = ucwa_contacts_remove(&x->db, x->p, x->q->user, group, sip, &left);
        if (r != UCWA_CT_OK) {
            return ct_error(x, r, "group membership");
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00241)
                      "people: %s took %s out of group %s", x->q->user, sip, group);
        membership_events(x, evs, group, sip, "deleted", left);
        post_events(x, evs);
        return ucwa_http_no_content(x->q);
    }
    r = ucwa_contacts_groups_of(&x->db, x->p, x->q->user, sip, &in);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group membership");
    }
    for (i = 0; i < in->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(in, i, const char *), group)) {
            ms.group_id = group;
            ms.contact = sip;
            return ucwa_http_resource(x->q, HTTP_OK,
                                      ucwa_people_membership(x->p, x->base, &ms, kind));
        }
    }
    return not_found(x->q, "There is no such group membership.");
}

static int remove_everywhere(people_req *x)
{
    apr_array_header_t *evs = apr_array_make(x->p, 4, sizeof(people_event)), *groups;
    const char *sip;
    ucwa_ct_result r;
    json_t *in;
    int rv, i;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    if (!(sip = contact_uri(x, in, &rv)) || !db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_remove_all(&x->db, x->p, x->q->user, sip, &groups);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "contact");
    }
    for (i = 0; i < groups->nelts; i++) {
        membership_events(x, evs, APR_ARRAY_IDX(groups, i, const char *), sip, "deleted",
                          i == groups->nelts - 1);
    }
    if (groups->nelts) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00242)
                      "people: %s took %s off the contact list", x->q->user, sip);
    }
    post_events(x, evs);
    return ucwa_http_no_content(x->q);
}

/* POST presenceSubscriptions?groupId=G (the group's subscribeToGroupPresence link): a
 * presence subscription to the group's members, made by the subscriptions code. */
static int subscribe_group(people_req *x, const char *group)
{
    apr_array_header_t *sips;
    ucwa_ct_result r;
    json_t *in, *d;
    json_int_t minutes = -1;
    int rv;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    d = ucwa_input_get(in, "duration");
    if (json_is_integer(d)) {
        minutes = json_integer_value(d);
    }
    else if (json_is_string(d) && strlen(json_string_value(d)) <= 4
             && *json_string_value(d)) {
        const char *t = json_string_value(d);
        minutes = 0;
        for (; *t; t++) {
            minutes = apr_isdigit(*t) && minutes >= 0 ? minutes * 10 + (*t - '0') : -1;
        }
    }
    if (minutes < 10 || minutes > 30) {
        return bad_request(x->q, "duration is required: 10 to 30 minutes.");
    }
    if (!db_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_list(&x->db, x->p, x->q->user, group, &sips);
    if (r != UCWA_CT_OK) {
        return ct_error(x, r, "group");
    }
    return ucwa_subscriptions_create(x->q, (const char *const *)sips->elts, sips->nelts,
                                     (int)minutes);
}

/* --- search ------------------------------------------------------------------------- */

static int search(people_req *x)
{
    const char *query = param(x, "query"), *limit_raw = param(x, "limit"), *why;
    int limit = ucwa_people_limit(limit_raw), rv, i, n = 0, more = 0;
    const char *args[SEARCH_ARGS], *pattern;
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ucwa_person *people;

    if ((why = ucwa_people_query_check(query)) != NULL) {
        return bad_request(x->q, apr_pstrcat(x->p, why, ".", NULL));
    }
    if (limit < 0) {
        return bad_request(x->q, "limit is a number from 1 to 100.");
    }
    if (!db_acquire(x, 0, &rv)) {
        return rv;
    }
    people = apr_pcalloc(x->p, sizeof(*people) * (apr_size_t)(limit + 1));
    st = apr_hash_get(x->db.prepared, LABEL_SEARCH, APR_HASH_KEY_STRING);
    if (st) {
        pattern = ucwa_people_like_pattern(x->p, query);
        for (i = 0; i < SEARCH_ARGS; i++) {
            args[i] = pattern;
        }
        rv = apr_dbd_pselect(x->db.driver, x->p, x->db.handle, &res, st, 1, SEARCH_ARGS, args);
        if (rv != 0) {
            x->db.err = apr_psprintf(x->p, "directory query %s failed: %s", LABEL_SEARCH,
                                     apr_dbd_error(x->db.driver, x->db.handle, rv));
            return db_failed(x);
        }
        while (apr_dbd_get_row(x->db.driver, x->p, res, &row, -1) == 0) {
            ucwa_person o;
            if (!person_of_row(x, res, row, &o)) {
                continue;
            }
            if (n < limit) {
                people[n++] = o;
            }
            else {
                more = 1;
            }
        }
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_search(x->p, x->base, query, limit_raw,
                                                                people, n, more));
}

/* --- a contact and its presence ------------------------------------------------------- */

/* The store's record of the user, when there is one and the directory lets it be seen. */
static int contact_user(people_req *x, const char *sip, int visible, ucwa_user *out)
{
    ucwa_store *s;
    int idx;

    memset(out, 0, sizeof(*out));
    if (!visible || (s = ucwa_shm_lock(x->q->r->server)) == NULL) {
        return 0;
    }
    idx = ucwa_store_user_find(s, sip, 0);
    if (idx >= 0) {
        *out = *ucwa_store_user(s, idx);
    }
    ucwa_shm_unlock();
    return idx >= 0;
}

static int contact_resource(people_req *x, const char *raw_sip, const char *what)
{
    const char *sip = ucwa_people_address(x->p, raw_sip);
    ucwa_person person;
    ucwa_user u;
    int visible = 0, rv, known;

    if (!sip) {
        return not_found(x->q, "There is no such contact: the address is not a SIP address.");
    }
    if (!db_acquire(x, 0, &rv)) {
        return rv;
    }
    if (directory_person(x, sip, &person, &visible) == DIR_FAILED) {
        return db_failed(x);
    }
    if (!what) {
        return ucwa_http_etagged(x->q, ucwa_people_contact(x->p, x->base, &person));
    }
    known = contact_user(x, sip, visible, &u);
    if (!strcasecmp(what, "presence")) {
        ucwa_contact_presence pr;
        ucwa_availability av = known ? ucwa_store_availability(&u, &x->q->conf->global->idle_rules,
                                                              apr_time_now())
                                     : UCWA_AV_OFFLINE;
        pr.availability = ucwa_availability_name(av);
        pr.activity = av != UCWA_AV_OFFLINE ? u.activity : NULL;
        pr.device_type = known && u.available_apps > 0 ? "Mobile" : "Unknown";
        pr.last_active = known ? u.last_activity : 0;
        return send_doc(x->q, ucwa_people_presence(x->p, x->base, sip, &pr, x->q->xml));
    }
    if (!strcasecmp(what, "note")) {
        return send_doc(x->q, ucwa_people_note(x->p, x->base, sip, known ? u.note : NULL));
    }
    if (!strcasecmp(what, "location")) {
        return send_doc(x->q, ucwa_people_location(
            x->p, x->base, sip, known && u.available_apps > 0 ? u.location : NULL));
    }
    if (!strcasecmp(what, "supportedMedia")) {
        return send_doc(x->q, ucwa_people_media(x->p, x->base, sip,
                                                known && u.available_apps > 0));
    }
    return send_doc(x->q, ucwa_people_privacy(x->p, x->base, sip, person.known));
}

/* --- photos ------------------------------------------------------------------------- */

static int photo(people_req *x)
{
    const char *raw_sip = x->q->id[0];
    request_rec *r = x->q->r;
    const char *sip = ucwa_people_address(x->p, raw_sip), *etag, *inm;
    const unsigned char *data = NULL;
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_size_t len = 0;
    char *expires;
    int rv;

    if (!sip) {
        return not_found(x->q, "There is no such photo: the address is not a SIP address.");
    }
    if (!db_acquire(x, 0, &rv)) {
        return rv;
    }
    st = apr_hash_get(x->db.prepared, LABEL_PHOTO, APR_HASH_KEY_STRING);
    if (st) {
        rv = apr_dbd_pvselect(x->db.driver, x->p, x->db.handle, &res, st, 1, sip, NULL);
        if (rv != 0) {
            x->db.err = apr_psprintf(x->p, "directory query %s failed: %s", LABEL_PHOTO,
                                     apr_dbd_error(x->db.driver, x->db.handle, rv));
            return db_failed(x);
        }
        while (apr_dbd_get_row(x->db.driver, x->p, res, &row, -1) == 0) {
            const char *v = NULL;
            if (!data && apr_dbd_datum_get(x->db.driver, row, 0, APR_DBD_TYPE_STRING, &v)
                == APR_SUCCESS && v && *v) {
                data = ucwa_photo_decode(x->p, v, PHOTO_MAX, &len);
                if (!data) {
                    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00243)
                                  "people: the directory photo of %s is not base64 of a JPEG "
                                  "image of at most %d bytes: the default one is sent", sip,
                                  PHOTO_MAX);
                }
            }
        }
    }
    if (!data) {
        data = ucwa_photo_default(&len);
    }
    etag = ucwa_photo_etag(x->p, data, len);
    expires = apr_palloc(x->p, APR_RFC822_DATE_LEN);
    apr_rfc822_date(expires, apr_time_now() + apr_time_from_sec(3600));
    apr_table_setn(r->err_headers_out, "X-MS-Server-Fqdn", x->q->conf->server_fqdn);
    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(r->headers_out, "Cache-Control", "private, max-age=3600");
    apr_table_setn(r->headers_out, "Expires", expires);
    inm = apr_table_get(r->headers_in, "If-None-Match");
    if (inm && if_match(x->p, inm, apr_pstrndup(x->p, etag + 1, strlen(etag) - 2))) {
        r->status = HTTP_NOT_MODIFIED;
        return OK;
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "image/jpeg");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(data, (int)len, r);
    }
    return OK;
}

/* --- route handlers (ucwa_route) ---------------------------------------------------- */

/* people_begin, then fn */
static int run(ucwa_req *q, int (*fn)(people_req *x))
{
    people_req x;
    int rv;

    return people_begin(&x, q, &rv) ? fn(&x) : rv;
}

static int no_membership(people_req *x)
{
    return not_found(x->q, "There is no such group membership.");
}

int ucwa_contact_list(ucwa_req *q, int what) { return run(q, get_contacts); }
int ucwa_groups_list(ucwa_req *q, int what) { return run(q, get_groups); }
int ucwa_groups_create(ucwa_req *q, int what) { return run(q, create_group); }
int ucwa_groups_one(ucwa_req *q, int what) { return run(q, group_resource); }
int ucwa_group_memberships_list(ucwa_req *q, int what) { return run(q, get_memberships); }
int ucwa_group_memberships_add(ucwa_req *q, int what) { return run(q, add_membership); }
int ucwa_group_memberships_remove_everywhere(ucwa_req *q, int what)
{
    return run(q, remove_everywhere);
}
int ucwa_group_memberships_one(ucwa_req *q, int what) { return run(q, membership_resource); }
int ucwa_group_memberships_none(ucwa_req *q, int what) { return run(q, no_membership); }
int ucwa_search_get(ucwa_req *q, int what) { return run(q, search); }
int ucwa_photos_get(ucwa_req *q, int what) { return run(q, photo); }

int ucwa_contact_get(ucwa_req *q, int what)
{
    static const char *const subs[] = {
        [UCWA_CONTACT_SELF] = NULL, [UCWA_CONTACT_PRESENCE] = "presence",
        [UCWA_CONTACT_NOTE] = "note", [UCWA_CONTACT_LOCATION] = "location",
        [UCWA_CONTACT_SUPPORTED_MEDIA] = "supportedMedia",
        [UCWA_CONTACT_PRIVACY_RELATIONSHIP] = "privacyRelationship"
    };
    people_req x;
    int rv;

    if (!strchr(q->id[0], '@')) {
        return ucwa_http_unrouted(q);   /* {A}/people/{name} names no contact */
    }
    return people_begin(&x, q, &rv) ? contact_resource(&x, q->id[0], subs[what]) : rv;
}

int ucwa_groups_subscribe(ucwa_req *q)
{
    const char *group;
    people_req x;
    ucwa_group g;
    ucwa_ct_result r;
    int rv;

    if (!people_begin(&x, q, &rv)) {
        return rv;
    }
    group = param(&x, "groupId");
    if (!group) {
        return ucwa_http_unrouted(q);
    }
    if (!db_acquire(&x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_group(&x.db, x.p, q->user, group, &g);
    if (r != UCWA_CT_OK) {
        return ct_error(&x, r, "group");
    }
    return subscribe_group(&x, group);
}
