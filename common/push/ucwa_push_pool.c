#include <string.h>
#include <apr_strings.h>

#include "ucwa_push_pool.h"

static const char *num(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

/* Seconds, for the database's intervals. */
static const char *secs(apr_pool_t *p, apr_interval_time_t t)
{
    return apr_psprintf(p, "%.3f", (double)t / APR_USEC_PER_SEC);
}

int ucwa_push_pool_move(ucwa_db *db, apr_pool_t *p, const char *fe, const ucwa_push_job *j)
{
    /* the store's job: its slot and generation, and when it was queued (a slot is
     * reused, and a store starts again after a full restart) */
    const char *args[11] = {
        fe, apr_psprintf(p, "%u.%u.%" APR_TIME_T_FMT, j->slot, j->gen, j->queued),
        apr_psprintf(p, "%u.%u", j->app, j->app_gen), j->user, j->endpoint_id,
        j->conversation, num(p, j->kind), num(p, j->events), num(p, j->badge), j->sender,
        j->preview };

    return ucwa_sql_exec(db, p, "ucwa_push_pool_1", "SELECT ucwa_pool_push_queue(%s, %s, %s, "
                         "%s, %s, %s, %s::int, %s::int, %s::int, %s, %s)", 11, args, NULL);
}

int ucwa_push_pool_take(ucwa_db *db, apr_pool_t *p, const char *fe, int max,
                        apr_interval_time_t hold, ucwa_push_job *jobs,
                        ucwa_push_pool_ticket *tickets)
{
    const char *args[3] = { fe, num(p, max), secs(p, hold) };
    apr_array_header_t *rows;
    int i;

    if (ucwa_sql_select(db, p, "ucwa_push_pool_2", "SELECT id, takes, attempts, kind, events, "
                        "badge, sip, endpoint_id, conversation, sender, preview FROM "
                        "ucwa_pool_push_take(%s, %s::int, %s::float8) ORDER BY queued, id",
                        3, args, 11, &rows)) {
        return -1;
    }
    for (i = 0; i < rows->nelts && i < max; i++) {
        const char **r = APR_ARRAY_IDX(rows, i, const char **);
        ucwa_push_job *j = &jobs[i];
        int k;
        for (k = 0; k < 11; k++) {
            if (!r[k]) {
                r[k] = "";   /* every column is NOT NULL: never, but never a crash */
            }
        }
        memset(j, 0, sizeof(*j));
        tickets[i].id = r[0];
        tickets[i].takes = r[1];
        j->attempts = (apr_uint32_t)apr_atoi64(r[2]);
        j->kind = (apr_uint32_t)apr_atoi64(r[3]);
        j->events = (apr_uint32_t)apr_atoi64(r[4]);
        j->badge = (apr_uint32_t)apr_atoi64(r[5]);
        apr_cpystrn(j->user, r[6], sizeof(j->user));
        apr_cpystrn(j->endpoint_id, r[7], sizeof(j->endpoint_id));
        apr_cpystrn(j->conversation, r[8], sizeof(j->conversation));
        apr_cpystrn(j->sender, r[9], sizeof(j->sender));
        apr_cpystrn(j->preview, r[10], sizeof(j->preview));
        j->state = UCWA_PUSH_SENDING;
    }
    return i;
}

int ucwa_push_pool_finish(ucwa_db *db, apr_pool_t *p, const ucwa_push_job *j,
                          const ucwa_push_pool_ticket *t, ucwa_push_outcome o,
                          apr_interval_time_t retry_in)
{
    const char *args[3] = { t->id, t->takes, secs(p, retry_in) };

    if (ucwa_push_retries(o, j->attempts)) {
        /* due again, held by nobody */
        return ucwa_sql_exec(db, p, "ucwa_push_pool_3", "UPDATE ucwa_pool_push SET "
                             "attempts = attempts + 1, not_before = now() + %s::float8 * "
                             "interval '1 s', taken_by = NULL, taken_until = NULL "
                             "WHERE id = %s::bigint AND takes = %s::int", 3,
                             (const char *[3]){ args[2], args[0], args[1] }, NULL);
    }
    return ucwa_sql_exec(db, p, "ucwa_push_pool_4", "DELETE FROM ucwa_pool_push WHERE "
                         "id = %s::bigint AND takes = %s::int", 2, args, NULL);
}

int ucwa_push_pool_credential_get(ucwa_db *db, apr_pool_t *p, int which, const char **value,
                                  apr_time_t *issued)
{
    const char *args[1] = { num(p, which) };
    apr_array_header_t *rows;
    const char **r;

    if (ucwa_sql_select(db, p, "ucwa_push_pool_5", "SELECT value, issued FROM "
                        "ucwa_pool_push_credential WHERE which = %s::int", 1, args, 2, &rows)) {
        return -1;
    }
    if (rows->nelts == 0) {
        return 0;
    }
    r = APR_ARRAY_IDX(rows, 0, const char **);
    if (!r[0] || !r[1]) {
        return 0;
    }
    *value = r[0];
    *issued = (apr_time_t)apr_atoi64(r[1]);
    return 1;
}

int ucwa_push_pool_credential_put(ucwa_db *db, apr_pool_t *p, int which, const char *value,
                                  apr_time_t issued, apr_time_t seen)
{
    const char *args[4] = { num(p, which), value, num(p, issued), num(p, seen) };
    int n = 0;

    /* compare and set: of two Front Ends renewing at once, one stores its own */
    if (seen ? ucwa_sql_exec(db, p, "ucwa_push_pool_6", "UPDATE ucwa_pool_push_credential "
                             "SET value = %s, issued = %s::bigint WHERE which = %s::int AND "
                             "issued = %s::bigint", 4,
                             (const char *[4]){ args[1], args[2], args[0], args[3] }, &n)
             : ucwa_sql_exec(db, p, "ucwa_push_pool_7", "INSERT INTO ucwa_pool_push_credential "
                             "(which, value, issued) VALUES (%s::int, %s, %s::bigint) "
                             "ON CONFLICT (which) DO NOTHING", 3, args, &n)) {
        return -1;
    }
    return n > 0;
}
