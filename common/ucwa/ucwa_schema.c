#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "ucwa_schema.h"

/* Version 1: the contact list. A group belongs to one owner (a SIP address, lower
 * case, without "sip:"); the owner's pinned and default groups are implicit (their ids
 * are fixed, see ucwa_contacts.h) and have no row here. A contact is on the owner's
 * contact list while it is a member of at least one group. */
static const char *const v1[] = {
    "CREATE TABLE ucwa_groups ("
    " owner VARCHAR(256) NOT NULL,"
    " group_id VARCHAR(32) NOT NULL,"
    " name VARCHAR(1024) NOT NULL,"
    " name_key VARCHAR(1024) NOT NULL,"
    " created BIGINT NOT NULL,"
    " PRIMARY KEY (owner, group_id),"
    " UNIQUE (owner, name_key))",
    "CREATE TABLE ucwa_group_members ("
    " owner VARCHAR(256) NOT NULL,"
    " group_id VARCHAR(32) NOT NULL,"
    " contact VARCHAR(256) NOT NULL,"
    " added BIGINT NOT NULL,"
    " PRIMARY KEY (owner, group_id, contact))",
    NULL
};

/* Version 2: the groups a contact is in (removeContactFromAllGroups, the contact list
 * without a group) without a scan of the owner's memberships. */
static const char *const v2[] = {
    "CREATE INDEX ucwa_group_members_contact ON ucwa_group_members (owner, contact)",
    NULL
};

/* Version 3: push registrations (common/push/ucwa_push_reg): a device's (the user's and the
 * application's endpointId's) channels to a push service. */
static const char *const v3[] = {
    "CREATE TABLE ucwa_push_registrations ("
    " reg_id VARCHAR(32) NOT NULL PRIMARY KEY,"
    " owner VARCHAR(256) NOT NULL,"
    " endpoint_id VARCHAR(400) NOT NULL,"
    " provider VARCHAR(16) NOT NULL,"
    " endpoint VARCHAR(1000),"
    " token VARCHAR(4096),"
    " p256dh VARCHAR(128),"
    " auth VARCHAR(64),"
    " language VARCHAR(64),"
    " created BIGINT NOT NULL,"
    " updated BIGINT NOT NULL)",
    "CREATE INDEX ucwa_push_registrations_device ON ucwa_push_registrations (owner, endpoint_id)",
    NULL
};

/* Version 4: conversation logs (common/ucwa/ucwa_calllog): a user's past conversations and
 * calls, missed or not, the newest UCWA_CALLLOG_MAX kept. created is in milliseconds. */
static const char *const v4[] = {
    "CREATE TABLE ucwa_conversation_logs ("
    " owner VARCHAR(256) NOT NULL,"
    " log_id VARCHAR(32) NOT NULL,"
    " log_type VARCHAR(16) NOT NULL,"
    " direction VARCHAR(16) NOT NULL,"
    " status VARCHAR(16) NOT NULL,"
    " peer VARCHAR(256) NOT NULL,"
    " peer_name VARCHAR(256),"
    " subject VARCHAR(1024),"
    " importance VARCHAR(16),"
    " thread_id VARCHAR(64),"
    " modalities VARCHAR(64) NOT NULL,"
    " preview VARCHAR(1024),"
    " created BIGINT NOT NULL,"
    " unread INTEGER NOT NULL,"
    " PRIMARY KEY (owner, log_id))",
    "CREATE INDEX ucwa_conversation_logs_time ON ucwa_conversation_logs (owner, created)",
    NULL
};

/* Version 5: Enterprise Voice (common/ucwa/ucwa_voice, ucwa_callfwd): dial plans and their
 * normalization rules, voice policies, voice routes and per-user grants, as an admin fills
 * them (docs/schema.md); and each user's call forwarding settings. Identities are written
 * as Skype for Business writes them ("Global", "Site:NAME", "Tag:NAME" or "NAME") and
 * compared case-insensitively; lists (PSTN usages, gateways) are names separated by ';'. */
static const char *const v5[] = {
    "CREATE TABLE ucwa_dial_plans ("
    " identity VARCHAR(300) NOT NULL PRIMARY KEY,"
    " description VARCHAR(1024))",
    "CREATE TABLE ucwa_dial_plan_rules ("
    " dial_plan VARCHAR(300) NOT NULL,"
    " name VARCHAR(256) NOT NULL,"
    " priority INTEGER NOT NULL,"
    " pattern VARCHAR(256) NOT NULL,"
    " translation VARCHAR(256) NOT NULL,"
    " PRIMARY KEY (dial_plan, name))",
    "CREATE TABLE ucwa_voice_policies ("
    " identity VARCHAR(300) NOT NULL PRIMARY KEY,"
    " pstn_usages VARCHAR(2000) NOT NULL,"
    " allow_call_forwarding INTEGER NOT NULL,"
    " allow_simultaneous_ring INTEGER NOT NULL,"
    " description VARCHAR(1024))",
    "CREATE TABLE ucwa_voice_routes ("
    " name VARCHAR(256) NOT NULL PRIMARY KEY,"
    " priority INTEGER NOT NULL,"
    " number_pattern VARCHAR(256) NOT NULL,"
    " pstn_usages VARCHAR(2000) NOT NULL,"
    " gateways VARCHAR(2000) NOT NULL,"
    " description VARCHAR(1024))",
    "CREATE TABLE ucwa_voice_users ("
    " sip_uri VARCHAR(256) NOT NULL PRIMARY KEY,"
    " voice_policy VARCHAR(300),"
    " dial_plan VARCHAR(300),"
    " line_uri VARCHAR(64))",
    "CREATE TABLE ucwa_call_forwarding ("
    " owner VARCHAR(256) NOT NULL PRIMARY KEY,"
    " active_period VARCHAR(16) NOT NULL,"
    " active_setting VARCHAR(32) NOT NULL,"
    " unanswered_handling VARCHAR(16) NOT NULL,"
    " immediate_target VARCHAR(16) NOT NULL,"
    " immediate_uri VARCHAR(256),"
    " simring_target VARCHAR(16) NOT NULL,"
    " simring_uri VARCHAR(256),"
    " simring_delay INTEGER NOT NULL,"
    " unanswered_target VARCHAR(16) NOT NULL,"
    " unanswered_uri VARCHAR(256),"
    " unanswered_delay INTEGER NOT NULL,"
    " updated BIGINT NOT NULL)",
    NULL
};

/* Calls to a work number find its user by LineURI (ucwa_snr_user_of_number). */
static const char *const v6[] = {
    "CREATE INDEX ucwa_voice_users_line ON ucwa_voice_users (line_uri)",
    NULL
};

/* Version 7: each user's work hours (ucwa_workhours: callForwardingSettings' activePeriod
 * Workhours), Skype for Business's Exchange working hours, written by an admin: days
 * ("Mon-Fri"), start and end ("08:00", "17:00", local) and a tz database zone name. A
 * user without a row has the server's UcwaWorkHours. */
static const char *const v7[] = {
    "CREATE TABLE ucwa_work_hours ("
    " sip_uri VARCHAR(256) NOT NULL PRIMARY KEY,"
    " days VARCHAR(64) NOT NULL,"
    " start_time VARCHAR(5) NOT NULL,"
    " end_time VARCHAR(5) NOT NULL,"
    " time_zone VARCHAR(64) NOT NULL)",
    NULL
};

/* Version 8: a number with an extension (tel:+E164;ext=...) by its number part: an
 * expression index, the same expression in ucwa_snr_user_of_number's query (the
 * databases share no function that cuts at the ';'). */
static const char *const v8[] = {
    "sqlite3:CREATE INDEX ucwa_voice_users_number ON ucwa_voice_users "
    "(" UCWA_LINE_NUMBER_SQLITE ")",
    "pgsql:CREATE INDEX ucwa_voice_users_number ON ucwa_voice_users "
    "(" UCWA_LINE_NUMBER_PGSQL ")",
    NULL
};

static const ucwa_migration migrations[] = {
    { 1, "contact groups and group memberships", v1 },
    { 2, "index of memberships by contact", v2 },
    { 3, "push registrations", v3 },
    { 4, "conversation logs", v4 },
    { 5, "enterprise voice and call forwarding", v5 },
    { 6, "index of voice users by LineURI", v6 },
    { 7, "work hours", v7 },
    { 8, "index of voice users by the number of their LineURI", v8 },
};

#define VERSION_TABLE                                                                     \
    "CREATE TABLE IF NOT EXISTS ucwa_schema_version ("                                    \
    " version INTEGER NOT NULL PRIMARY KEY,"                                              \
    " description VARCHAR(200) NOT NULL,"                                                 \
    " applied_at VARCHAR(32) NOT NULL)"

const char *ucwa_schema_statement(const apr_dbd_driver_t *d, const char *sql)
{
    const char *colon = strchr(sql, ':'), *space = strchr(sql, ' ');
    size_t n;

    if (!colon || (space && space < colon)) {
        return sql;   /* every database's */
    }
    n = (size_t)(colon - sql);
    return strlen(apr_dbd_name(d)) == n && !strncmp(apr_dbd_name(d), sql, n) ? colon + 1 : NULL;
}

const ucwa_migration *ucwa_schema_migrations(int *count)
{
    *count = (int)(sizeof(migrations) / sizeof(migrations[0]));
    return migrations;
}

static const char *db_error(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h, int rv)
{
    const char *e = apr_dbd_error(d, h, rv);

    return apr_pstrdup(p, e && *e ? e : "unknown database error");
}

apr_status_t ucwa_schema_version(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                                 int *version, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;
    int rv;

    *version = 0;
    rv = apr_dbd_select(d, p, h, &res, "SELECT MAX(version) FROM ucwa_schema_version", 1);
    if (rv != 0) {
        *err = db_error(p, d, h, rv);
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(d, p, res, &row, -1) == 0) {
        if (apr_dbd_datum_get(d, row, 0, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS && v) {
            *version = atoi(v);
        }
    }
    return APR_SUCCESS;
}

/* The table may be missing (a new database) or being created by another process right
 * now (PostgreSQL then fails one of two concurrent CREATE TABLE IF NOT EXISTS): create
 * it, and if that fails, it is enough that it can be read. */
static apr_status_t version_table(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                                  int *version, const char **err)
{
    int n = 0, rv = apr_dbd_query(d, h, &n, VERSION_TABLE);
    const char *create_err = rv ? db_error(p, d, h, rv) : NULL;

    if (ucwa_schema_version(p, d, h, version, err) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    *err = apr_psprintf(p, "cannot create ucwa_schema_version: %s",
                        create_err ? create_err : *err);
    return APR_EGENERAL;
}

static const char *timestamp(apr_pool_t *p, apr_time_t now)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, now);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                        t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
}

typedef enum { APPLIED, TAKEN, FAILED } apply_result;

/* One migration in one transaction; TAKEN when another process recorded it first. */
static apply_result apply(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                          const ucwa_migration *m, apr_time_t now, const char **err)
{
    apr_dbd_transaction_t *t = NULL;
    const char *const *sql;
    int n = 0, rv, k;

    rv = apr_dbd_transaction_start(d, p, h, &t);
    if (rv != 0) {
        *err = apr_psprintf(p, "migration %d: cannot begin a transaction: %s", m->version,
                            db_error(p, d, h, rv));
        if (t) {   /* the sqlite3 driver leaves a transaction object even then */
            apr_dbd_transaction_mode_set(d, t, APR_DBD_TRANSACTION_ROLLBACK);
            apr_dbd_transaction_end(d, p, t);
        }
        return TAKEN;   /* locked by another migrator for too long? the version tells */
    }
    /* the claim comes first, so that a second migrator waits here or fails here */
    rv = apr_dbd_query(d, h, &n, apr_psprintf(
        p, "INSERT INTO ucwa_schema_version (version, description, applied_at) "
        "VALUES (%d, '%s', '%s')", m->version, m->description, timestamp(p, now)));
    if (rv != 0) {
        *err = apr_psprintf(p, "migration %d: cannot record it: %s", m->version,
                            db_error(p, d, h, rv));
        apr_dbd_transaction_mode_set(d, t, APR_DBD_TRANSACTION_ROLLBACK);
        apr_dbd_transaction_end(d, p, t);
        return TAKEN;   /* the caller reads the version again to tell */
    }
    for (sql = m->statements, k = 1; *sql; sql++, k++) {
        const char *q = ucwa_schema_statement(d, *sql);
        if (!q) {
            continue;   /* another database's */
        }
        rv = apr_dbd_query(d, h, &n, q);
        if (rv != 0) {
            *err = apr_psprintf(p, "migration %d (%s), statement %d: %s", m->version,
                                m->description, k, db_error(p, d, h, rv));
            apr_dbd_transaction_mode_set(d, t, APR_DBD_TRANSACTION_ROLLBACK);
            apr_dbd_transaction_end(d, p, t);
            return FAILED;
        }
    }
    rv = apr_dbd_transaction_end(d, p, t);
    if (rv != 0) {
        *err = apr_psprintf(p, "migration %d: commit failed: %s", m->version,
                            db_error(p, d, h, rv));
        return FAILED;
    }
    return APPLIED;
}

static apr_status_t migrate_once(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                                 apr_time_t now, ucwa_schema_result *res, const char **err)
{
    int count, i, current = 0;
    const ucwa_migration *m = ucwa_schema_migrations(&count);

    if (version_table(p, d, h, &current, err) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    res->from = res->to = current;
    for (i = 0; i < count; i++) {
        const char *why = NULL;
        if (m[i].version <= current) {
            continue;
        }
        switch (apply(p, d, h, &m[i], now, &why)) {
        case APPLIED:
            res->applied++;
            current = m[i].version;
            break;
        case TAKEN:
            /* another process claimed it: it must be recorded now, or it never will */
            if (ucwa_schema_version(p, d, h, &current, err) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
            if (current < m[i].version) {
                *err = why;
                return APR_EGENERAL;
            }
            break;
        case FAILED:
            *err = why;
            return APR_EGENERAL;
        }
        res->to = current;
    }
    res->to = current;
    return APR_SUCCESS;
}

apr_status_t ucwa_schema_migrate(apr_pool_t *p, const apr_dbd_driver_t *d, apr_dbd_t *h,
                                 apr_time_t now, ucwa_schema_result *res, const char **err)
{
    int attempt, version, applied = 0, from = -1;
    const char *ignored;

    memset(res, 0, sizeof(*res));
    /* A failure can be another process's doing (SQLite: a statement prepared just before
     * another connection changed the schema fails once; a lock held too long): try again
     * a few times, and accept the work of whoever got there first. */
    for (attempt = 0; attempt < 5; attempt++) {
        ucwa_schema_result one;
        memset(&one, 0, sizeof(one));
        if (attempt) {
            apr_sleep(apr_time_from_msec(50 * attempt));
        }
        if (migrate_once(p, d, h, now, &one, err) == APR_SUCCESS) {
            res->from = from < 0 ? one.from : from;
            res->to = one.to;
            res->applied = applied + one.applied;
            return APR_SUCCESS;
        }
        if (from < 0) {
            from = one.from;
        }
        applied += one.applied;
        res->from = from;
        res->to = one.to;
        res->applied = applied;
        if (ucwa_schema_version(p, d, h, &version, &ignored) == APR_SUCCESS
            && version >= UCWA_SCHEMA_VERSION) {
            res->to = version;
            return APR_SUCCESS;
        }
    }
    return APR_EGENERAL;
}
