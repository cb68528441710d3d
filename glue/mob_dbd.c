#include <httpd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <http_config.h>
#include <http_main.h>
#include <libpq-fe.h>

#include "mob_dbd.h"

/* mod_dbd keeps its per-server configuration in a private struct whose first member is
 * the public dbd_cfg_t of mod_dbd.h (driver name, parameters, prepared statements). A
 * virtual host without DBD directives shares the main server's; cfg->server, the server
 * it was made for, checks the layout. */
const dbd_cfg_t *mob_dbd_config(server_rec *s)
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

#define BACKEND_KEY "mob_dbd_backend"

/* The PostgreSQL backend the connection's statements were prepared on. */
typedef struct {
    int pid;
} backend;

/* The connection now talks to a new backend: mod_dbd's statements are prepared on it
 * again, those of every server whose database is this one (a label a virtual host
 * prepared lives on the connections it shares with the main server), and the
 * statements our code prepared itself on first use (common/ucwa/ucwa_sql: contact
 * lists, push, lockout) are forgotten, to be prepared again when next used. */
static void prepare_again(apr_pool_t *p, ap_dbd_t *dbd, const dbd_cfg_t *cfg)
{
    apr_hash_t *known = apr_hash_make(p);
    apr_hash_index_t *hi;
    server_rec *sp;

    for (sp = ap_server_conf; sp; sp = sp->next) {
        const dbd_cfg_t *c = mob_dbd_config(sp);
        if (!c || strcmp(c->name, cfg->name) || strcmp(c->params, cfg->params)) {
            continue;
        }
        for (hi = apr_hash_first(p, c->queries); hi; hi = apr_hash_next(hi)) {
            const void *key;
            void *val;
            apr_dbd_prepared_t *st = NULL;
            apr_hash_this(hi, &key, NULL, &val);
            if (apr_hash_get(known, key, APR_HASH_KEY_STRING)) {
                continue;
            }
            apr_hash_set(known, key, APR_HASH_KEY_STRING, "1");
            if (val && *(const char *)val
                && apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, val, key, &st) == 0
                && st) {
                apr_hash_set(dbd->prepared, key, APR_HASH_KEY_STRING, st);
            }
        }
    }
    for (hi = apr_hash_first(p, dbd->prepared); hi; hi = apr_hash_next(hi)) {
        const void *key;
        apr_hash_this(hi, &key, NULL, NULL);
        if (!apr_hash_get(known, key, APR_HASH_KEY_STRING)) {
            apr_hash_set(dbd->prepared, key, APR_HASH_KEY_STRING, NULL);
        }
    }
}

/* 1 when the server closed the (idle) connection. An idle connection has nothing to
 * read; when it has, the server said goodbye (FATAL, then end of file): reading it all
 * makes libpq see the end. Never waits. */
static int closed(PGconn *c)
{
    struct pollfd pfd;
    int k;

    pfd.fd = PQsocket(c);
    pfd.events = POLLIN;
    for (k = 0; k < 4 && pfd.fd >= 0; k++) {
        pfd.revents = 0;
        if (poll(&pfd, 1, 0) <= 0 || !PQconsumeInput(c)) {
            break;
        }
    }
    return PQstatus(c) == CONNECTION_BAD;
}

/* The statements mod_dbd prepares on each connection of this configuration. */
static int queries(apr_pool_t *p, const dbd_cfg_t *cfg)
{
    apr_hash_index_t *hi;
    int n = 0;

    for (hi = apr_hash_first(p, cfg->queries); hi; hi = apr_hash_next(hi)) {
        void *val;
        apr_hash_this(hi, NULL, NULL, &val);
        n += val && *(const char *)val;
    }
    return n;
}

/* The statements prepared on the connection's backend (a large number: cannot tell). */
static int prepared_on_backend(PGconn *c)
{
    PGresult *res = PQexec(c, "SELECT count(*) FROM pg_prepared_statements");
    int n = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        n = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return n < 0 ? 1 << 30 : n;
}

/* A connection of mod_dbd checked as mob_dbd_acquire says. */
static ap_dbd_t *checked(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd)
{
    const dbd_cfg_t *cfg;
    backend *b = NULL;
    PGconn *c;
    int pid;

    if (!dbd || strcmp(apr_dbd_name(dbd->driver), "pgsql") != 0) {
        return dbd;
    }
    c = apr_dbd_native_handle(dbd->driver, dbd->handle);
    if (c && closed(c)) {
        /* the database closed it (a restart): mod_dbd's check passes a connection whose
         * goodbye is still unread; reconnect now rather than fail this request */
        PQreset(c);
    }
    pid = c ? PQbackendPID(c) : 0;
    apr_pool_userdata_get((void **)&b, BACKEND_KEY, dbd->pool);
    if (!b) {
        /* first sight: mod_dbd prepared the statements when it opened the connection,
         * but it may have been reset since (by us just now, or by mod_dbd's check after
         * a failed use): count them, once per connection */
        b = apr_pcalloc(dbd->pool, sizeof(*b));
        b->pid = pid;
        apr_pool_userdata_set(b, BACKEND_KEY, NULL, dbd->pool);
        cfg = mob_dbd_config(s);
        if (cfg && c && prepared_on_backend(c) < queries(p, cfg)) {
            prepare_again(p, dbd, cfg);
        }
        return dbd;
    }
    if (pid != 0 && pid != b->pid && (cfg = mob_dbd_config(s)) != NULL) {
        /* not logged here (glue has no module tag of its own): mod_dbd logged the reset */
        prepare_again(p, dbd, cfg);
        b->pid = pid;
    }
    return dbd;
}

ap_dbd_t *mob_dbd_acquire(request_rec *r)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);

    return checked(r->server, r->pool, acquire ? acquire(r) : NULL);
}

ap_dbd_t *mob_dbd_open(server_rec *s, apr_pool_t *p)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_open) *open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);

    return checked(s, p, open && APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close) ? open(p, s) : NULL);
}

void mob_dbd_close(server_rec *s, ap_dbd_t *dbd)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_close) *close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);

    if (dbd && close) {
        close(s, dbd);
    }
}
