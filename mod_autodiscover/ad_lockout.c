#include <httpd.h>
#include <string.h>
#include <apr_dbd.h>
#include <apr_file_info.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "mob_dbd.h"
#include <util_mutex.h>

#include "mod_autodiscover.h"
#include "ad_config.h"
#include "ad_lockout.h"
#include "mob_shm.h"
#include "mob_lockout_sql.h"

APLOG_USE_MODULE(autodiscover);

#define USERDATA_KEY "mod_autodiscover-lockout"

/* Refreshed in every post_config from the process-pool userdata (glue/mob_shm); the
 * segment itself outlives the generation that created it. Its tag is the number of
 * entries it was made for. */
static mob_shm *segment;

void ad_lockout_register_mutex(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, AD_LOCKOUT_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int ad_lockout_post_config(apr_pool_t *pconf, server_rec *s, apr_uint32_t entries)
{
    const char *what = NULL;
    apr_status_t rv;
    mob_shm *seg;
    int created;

    rv = mob_shm_attach(s, USERDATA_KEY, AD_LOCKOUT_MUTEX, mob_lockout_bytes(entries), &seg,
                        &created, &what);
    if (rv != APR_SUCCESS) {
        if (!strcmp(what, "mutex")) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00011)
                         "cannot create the lockout mutex");
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00010)
                         "cannot create the lockout table (%u entries)", entries);
        }
        return !OK;
    }
    if (created) {
        seg->tag = entries;
        mob_lockout_init(mob_shm_base(seg), entries);
    }
    else if (mob_shm_size(seg) != mob_lockout_bytes(seg->tag)) {
        /* made by a build with another entry layout (a module upgrade followed by a
         * graceful restart): its children keep it; ours get a new one, with the same
         * mutex */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, ADLOGNO(00018)
                     "the lockout table has a new layout in this version of the module: "
                     "failed sign-ins counted so far are forgotten");
        rv = mob_shm_renew(s, seg, mob_lockout_bytes(seg->tag));
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00019)
                         "cannot create the lockout table (%u entries)", seg->tag);
            return !OK;
        }
        mob_lockout_init(mob_shm_base(seg), seg->tag);
    }
    else if (seg->tag != entries) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ADLOGNO(00012)
                     "AutodiscoverLockoutEntries changed to %u: it takes effect at the next full "
                     "restart; %u entries stay in use", entries, seg->tag);
    }
    segment = seg;
    (void)pconf;
    return OK;
}

void ad_lockout_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!segment) {
        return;
    }
    rv = mob_shm_child_init(segment, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00013)
                     "cannot attach the lockout mutex in this child");
    }
}

static mob_lockout_table *lock_table(request_rec *r)
{
    mob_lockout_table *t;

    if (!segment || mob_shm_lock(segment) != APR_SUCCESS) {
        return NULL;
    }
    t = mob_shm_base(segment);
    if (!mob_lockout_valid(t, segment->tag)) {
        /* a child died in the middle of a write: start over rather than trust it */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ADLOGNO(00014)
                      "lockout table was damaged; reset");
        mob_lockout_init(t, segment->tag);
    }
    return t;
}

static void unlock_table(void)
{
    mob_shm_unlock(segment);
}

/* --- the pool's store (AutodiscoverLockoutStore dbd) ----------------------------------- */


/* The table is made before any child exists: SQLite's statements prepared by mod_dbd in
 * the children (legacy sqlite3_prepare) would fail once after a schema change. When the
 * database cannot be reached now, the first sign-in that needs the table makes it. */
void ad_lockout_make_table(apr_pool_t *ptemp, server_rec *s)
{
    const dbd_cfg_t *cfg = mob_dbd_config(s);
    const apr_dbd_driver_t *d = NULL;
    const char *err = NULL;
    apr_finfo_t fi;
    ucwa_db db;
    apr_status_t rv;

    if (!cfg) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ADLOGNO(00065)
                     "AutodiscoverLockoutStore dbd, but the main server has no database "
                     "(DBDriver, DBDParams): each Front End counts failed sign-ins alone");
        return;
    }
    if (!strcmp(cfg->name, "sqlite3")
        && apr_stat(&fi, cfg->params, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        return;   /* not as root on a file that does not exist: it would be root's */
    }
    memset(&db, 0, sizeof(db));
    apr_dbd_init(ptemp);
    rv = apr_dbd_get_driver(ptemp, cfg->name, &d);
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_open_ex(d, ptemp, cfg->params, &db.handle, &err);
    }
    if (rv != APR_SUCCESS || !db.handle) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, rv, s, ADLOGNO(00066)
                     "lockout: cannot open the %s database now%s%s; the first sign-in that "
                     "reaches it makes the table " MOB_LOCKOUT_SQL_TABLE, cfg->name,
                     err ? ": " : "", err ? err : "");
        return;
    }
    db.driver = d;
    db.pool = ptemp;
    if (mob_lockout_sql_create(&db, ptemp) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ADLOGNO(00067)
                     "lockout: cannot make the table " MOB_LOCKOUT_SQL_TABLE ": %s", db.err);
    }
    apr_dbd_close(d, db.handle);
}

static int pool_db(request_rec *r, ucwa_db *db)
{
    ap_dbd_t *dbd = mob_dbd_acquire(r);

    memset(db, 0, sizeof(*db));
    if (!dbd) {
        db->err = "no database connection";
        return 0;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->pool = dbd->pool;
    return 1;
}

/* Neither open nor closed: while the pool's database does not answer, this Front End
 * counts alone in its shared-memory table, as without a pool (an attacker gets the
 * attempts of one Front End per Front End, never more, and nobody is locked out by the
 * outage), and says so on every sign-in it counts that way. */
static void pool_failed(request_rec *r, const ucwa_db *db)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ADLOGNO(00068)
                  "lockout: the pool's database failed (%s): this Front End checks and "
                  "counts this sign-in alone", db->err ? db->err : "unknown error");
}

static const ad_global *global_of(request_rec *r)
{
    return ad_config_get(r->server)->global;
}

/* A row's life ends a day (or 90 days) after its last use: now and then (one write in
 * 64, drawn from the clock's microseconds) a sign-in deletes the expired rows. */
static void pool_expire(request_rec *r, ucwa_db *db, apr_time_t now)
{
    int n = 0;

    if (now % 64 == 0 && mob_lockout_sql_expire(db, r->pool, now, &n) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ADLOGNO(00069)
                      "lockout: cannot delete the expired rows: %s", db->err);
    }
}

/* --- the Front End's table, and the requests' calls ------------------------------------ */

#define LOCKED (MOB_LOCKOUT_ACCOUNT_LOCKED | MOB_LOCKOUT_ADDRESS_LOCKED)

int ad_lockout_locked(request_rec *r, const char *user, const char *device)
{
    const ad_global *g = global_of(r);
    apr_time_t now = apr_time_now();
    mob_lockout_table *t = lock_table(r);
    unsigned v = 0;

    if (t) {
        /* with the pool's store, what this Front End counted alone while the database
         * did not answer: its locks run out as any other */
        v = mob_lockout_check(t, user, r->useragent_ip, device, now);
        unlock_table();
    }
    if (g->lockout_store == AD_LOCKOUT_DBD) {
        mob_lockout_keys k;
        ucwa_db db;
        unsigned pv = 0;

        mob_lockout_keys_make(g->lockout_secret, user, r->useragent_ip, device, NULL, &k);
        if (!pool_db(r, &db) || mob_lockout_sql_check(&db, r->pool, &k, now, &pv) != 0) {
            pool_failed(r, &db);
        }
        v |= pv;
    }
    return (v & LOCKED) != 0;
}

void ad_lockout_failed(request_rec *r, const char *user, const char *device,
                       const char *password, const mob_lockout_policy *account,
                       const mob_lockout_policy *address)
{
    const ad_global *g = global_of(r);
    apr_time_t now = apr_time_now();
    mob_lockout_table *t;
    unsigned v = 0;
    int counted = 0;

    if (g->lockout_store == AD_LOCKOUT_DBD) {
        mob_lockout_keys k;
        ucwa_db db;

        mob_lockout_keys_make(g->lockout_secret, user, r->useragent_ip, device, password, &k);
        if (pool_db(r, &db)
            && mob_lockout_sql_failed(&db, r->pool, &k, account, address, now, &v) == 0) {
            counted = 1;
            pool_expire(r, &db, now);
        }
        else {
            pool_failed(r, &db);
        }
    }
    if (!counted && (t = lock_table(r)) != NULL) {
        v = mob_lockout_failed(t, user, r->useragent_ip, device, password, account, address,
                               now);
        unlock_table();
    }
    if (v & MOB_LOCKOUT_REPEATED) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ADLOGNO(00017)
                      "sign-in for %s repeated a recent wrong password: not counted", user);
    }
    if (v & MOB_LOCKOUT_ACCOUNT_LOCKS) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, ADLOGNO(00015)
                      "sign-in for %s locked after repeated failures, for %s", user,
                      (v & MOB_LOCKOUT_FAMILIAR_ORIGIN)
                      ? "the addresses and devices that signed it in before"
                      : "every address and device that has not signed it in before");
    }
    if (v & MOB_LOCKOUT_ADDRESS_LOCKS) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, ADLOGNO(00016)
                      "sign-in from %s locked after repeated failures", r->useragent_ip);
    }
}

void ad_lockout_succeeded(request_rec *r, const char *user, const char *device)
{
    const ad_global *g = global_of(r);
    apr_time_t now = apr_time_now();
    mob_lockout_table *t;

    if (g->lockout_store == AD_LOCKOUT_DBD) {
        mob_lockout_keys k;
        ucwa_db db;

        mob_lockout_keys_make(g->lockout_secret, user, r->useragent_ip, device, NULL, &k);
        if (!pool_db(r, &db) || mob_lockout_sql_succeeded(&db, r->pool, &k, now) != 0) {
            pool_failed(r, &db);
        }
    }
    /* with the pool's store too: the Front End then knows its users' familiar origins
     * while the database does not answer, and a success clears what it counted alone */
    if ((t = lock_table(r)) != NULL) {
        mob_lockout_succeeded(t, user, r->useragent_ip, device, now);
        unlock_table();
    }
}
