/* Call forwarding settings in SQL (ucwa_callfwd.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ucwa_callfwd.h"

const char *const ucwa_callfwd_periods[] = { "Always", "Workhours", NULL };
const char *const ucwa_callfwd_settings[] = { "None", "ImmediateForward", "SimultaneousRing",
                                              NULL };
const char *const ucwa_callfwd_targets[] = { "None", "Contact", NULL };

void ucwa_callfwd_defaults(ucwa_callfwd *f)
{
    memset(f, 0, sizeof(*f));
    f->active_period = "Always";
    f->active_setting = "None";
    f->immediate_target = f->simring_target = f->unanswered_target = "None";
    f->unanswered_delay = UCWA_CALLFWD_UNANSWERED_DELAY_DEFAULT;
}

const char *ucwa_callfwd_enum(const char *v, const char *const *names)
{
    for (; v && *names; names++) {
        if (!strcasecmp(v, *names)) {
            return *names;
        }
    }
    return NULL;
}

static int contact_ok(const char *target, const char *uri)
{
    if (strcmp(target, "Contact")) {
        return 1;
    }
    return uri && (!strncmp(uri, "sip:", 4) || !strncmp(uri, "tel:", 4))
           && strlen(uri) <= UCWA_CALLFWD_URI_MAX;
}

const char *ucwa_callfwd_check(const ucwa_callfwd *f)
{
    if (!ucwa_callfwd_enum(f->active_period, ucwa_callfwd_periods)
        || !ucwa_callfwd_enum(f->active_setting, ucwa_callfwd_settings)
        || !ucwa_callfwd_enum(f->immediate_target, ucwa_callfwd_targets)
        || !ucwa_callfwd_enum(f->simring_target, ucwa_callfwd_targets)
        || !ucwa_callfwd_enum(f->unanswered_target, ucwa_callfwd_targets)) {
        return "a value is not one of its names";
    }
    if (!contact_ok(f->immediate_target, f->immediate_uri)
        || !contact_ok(f->simring_target, f->simring_uri)
        || !contact_ok(f->unanswered_target, f->unanswered_uri)) {
        return "a Contact target has no number or address";
    }
    if (!strcmp(f->active_setting, "ImmediateForward") && !strcmp(f->immediate_target, "None")) {
        return "ImmediateForward needs an immediate forward target";
    }
    if (!strcmp(f->active_setting, "SimultaneousRing") && !strcmp(f->simring_target, "None")) {
        return "SimultaneousRing needs a simultaneous ring target";
    }
    if (f->unanswered_enabled && !strcmp(f->unanswered_target, "None")) {
        return "unanswered call handling needs an unanswered call target";
    }
    if (f->unanswered_enabled && !strcmp(f->active_setting, "ImmediateForward")) {
        return "unanswered call handling is not available with ImmediateForward";
    }
    if (f->simring_delay < 0 || f->simring_delay > UCWA_CALLFWD_SIMRING_DELAY_MAX) {
        return "the simultaneous ring delay is out of range (0 to 55 seconds)";
    }
    if (f->unanswered_delay < UCWA_CALLFWD_UNANSWERED_DELAY_MIN
        || f->unanswered_delay > UCWA_CALLFWD_UNANSWERED_DELAY_MAX) {
        return "the unanswered call delay is out of range (5 to 60 seconds)";
    }
    return NULL;
}

#define TABLE "ucwa_call_forwarding"
#define COLS "active_period, active_setting, unanswered_handling, immediate_target, " \
             "immediate_uri, simring_target, simring_uri, simring_delay, unanswered_target, " \
             "unanswered_uri, unanswered_delay"
#define NCOLS 11   /* COLS; then updated, the row's version */

static const char *pick(const char *v, const char *const *names, const char *dflt)
{
    const char *n = ucwa_callfwd_enum(v, names);

    return n ? n : dflt;
}

int ucwa_callfwd_get(ucwa_db *db, apr_pool_t *p, const char *owner, ucwa_callfwd *f)
{
    apr_array_header_t *rows;
    const char **r;

    ucwa_callfwd_defaults(f);
    if (ucwa_sql_select(db, p, "ucwa_callfwd_1", "SELECT " COLS ", updated FROM " TABLE
                        " WHERE owner = %s", 1, &owner, NCOLS + 1, &rows)) {
        return -1;
    }
    if (!rows->nelts) {
        return 0;
    }
    r = APR_ARRAY_IDX(rows, 0, const char **);
    f->active_period = pick(r[0], ucwa_callfwd_periods, "Always");
    f->active_setting = pick(r[1], ucwa_callfwd_settings, "None");
    f->unanswered_enabled = r[2] && !strcmp(r[2], "Enabled");
    f->immediate_target = pick(r[3], ucwa_callfwd_targets, "None");
    f->immediate_uri = r[4] && *r[4] ? r[4] : NULL;
    f->simring_target = pick(r[5], ucwa_callfwd_targets, "None");
    f->simring_uri = r[6] && *r[6] ? r[6] : NULL;
    f->simring_delay = r[7] ? atoi(r[7]) : 0;
    f->unanswered_target = pick(r[8], ucwa_callfwd_targets, "None");
    f->unanswered_uri = r[9] && *r[9] ? r[9] : NULL;
    f->unanswered_delay = r[10] ? atoi(r[10]) : UCWA_CALLFWD_UNANSWERED_DELAY_DEFAULT;
    if (ucwa_callfwd_check(f)) {
        ucwa_callfwd_defaults(f);   /* a row an admin broke by hand: nothing forwarded */
    }
    f->stored = 1;
    f->updated = r[11] ? apr_atoi64(r[11]) : 0;
    return 1;
}

int ucwa_callfwd_put(ucwa_db *db, apr_pool_t *p, const char *owner, ucwa_callfwd *f,
                     apr_int64_t now)
{
    const char *args[NCOLS + 3];
    apr_int64_t version = now > f->updated ? now : f->updated + 1;
    int n = 0, rc;

    args[0] = f->active_period;
    args[1] = f->active_setting;
    args[2] = f->unanswered_enabled ? "Enabled" : "Disabled";
    args[3] = f->immediate_target;
    args[4] = f->immediate_uri ? f->immediate_uri : "";
    args[5] = f->simring_target;
    args[6] = f->simring_uri ? f->simring_uri : "";
    args[7] = apr_itoa(p, f->simring_delay);
    args[8] = f->unanswered_target;
    args[9] = f->unanswered_uri ? f->unanswered_uri : "";
    args[10] = apr_itoa(p, f->unanswered_delay);
    args[11] = apr_psprintf(p, "%" APR_INT64_T_FMT, version);
    args[12] = owner;
    args[13] = apr_psprintf(p, "%" APR_INT64_T_FMT, f->updated);
    if (f->stored) {
        rc = ucwa_sql_exec(db, p, "ucwa_callfwd_3", "UPDATE " TABLE " SET active_period = %s, "
                           "active_setting = %s, unanswered_handling = %s, "
                           "immediate_target = %s, immediate_uri = %s, simring_target = %s, "
                           "simring_uri = %s, simring_delay = CAST(%s AS INTEGER), "
                           "unanswered_target = %s, unanswered_uri = %s, "
                           "unanswered_delay = CAST(%s AS INTEGER), "
                           "updated = CAST(%s AS BIGINT) "
                           "WHERE owner = %s AND updated = CAST(%s AS BIGINT)",
                           NCOLS + 3, args, &n);
    }
    else {
        /* the owner first, as the columns go */
        const char *ins[NCOLS + 2];
        ins[0] = owner;
        memcpy(ins + 1, args, sizeof(const char *) * (NCOLS + 1));
        rc = ucwa_sql_exec(db, p, "ucwa_callfwd_2", "INSERT INTO " TABLE " (owner, " COLS
                           ", updated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                           "CAST(%s AS INTEGER), %s, %s, CAST(%s AS INTEGER), "
                           "CAST(%s AS BIGINT)) ON CONFLICT (owner) DO NOTHING",
                           NCOLS + 2, ins, &n);
    }
    if (rc != 0) {
        return -1;
    }
    if (n == 1) {
        f->stored = 1;
        f->updated = version;
    }
    return n == 1;
}
