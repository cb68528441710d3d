/* The push queue of a pool of Front Ends (UcwaPoolFrontEnd): the table ucwa_pool_push of
 * the pool's PostgreSQL database (mod_ucwa/ucwa_pool_sql.h, docs/schema.md). A job is
 * queued in the store as on a single Front End (common/push/ucwa_push, in the same
 * transaction as its event); the dispatcher of that Front End moves it here, and the
 * dispatchers of every Front End take due jobs from here (each job goes to one), send
 * them and give their verdict. A job held by a Front End whose lease ran out is due again,
 * so a Front End that dies does not take its queue with it.
 *
 * Same rules as the store's queue: a burst in one conversation folds into one job while
 * nobody holds it, the oldest due jobs first, backoff (ucwa_push_backoff) and at most
 * UCWA_PUSH_MAX_ATTEMPTS attempts (ucwa_push_retries). No httpd here: statements through
 * APR DBD (common/ucwa/ucwa_sql), on the dispatcher's mod_dbd connection. */
#ifndef UCWA_PUSH_POOL_H
#define UCWA_PUSH_POOL_H

#include "ucwa_push.h"
#include "ucwa_sql.h"

/* What names a job of the table taken by this dispatcher: its row and which take. */
typedef struct {
    const char *id;
    const char *takes;
} ucwa_push_pool_ticket;

/* Moves a job taken from the store (ucwa_push_take_locked) of Front End fe into the
 * table: a new row, or folded into a row of the same application and conversation that
 * nobody holds. Moving the same job again changes nothing. 0, or -1 with db->err. */
int ucwa_push_pool_move(ucwa_db *db, apr_pool_t *p, const char *fe, const ucwa_push_job *j);

/* Takes up to max due jobs for Front End fe (whose lease must be live), held for hold:
 * copies into jobs (their attempts, kind, badge, texts) and tickets. The count, or -1
 * with db->err. */
int ucwa_push_pool_take(ucwa_db *db, apr_pool_t *p, const char *fe, int max,
                        apr_interval_time_t hold, ucwa_push_job *jobs,
                        ucwa_push_pool_ticket *tickets);

/* The verdict on a taken job: deleted (sent, or given up), or due again after retry_in
 * with one more attempt. A ticket of an earlier take changes nothing. 0, or -1. */
int ucwa_push_pool_finish(ucwa_db *db, apr_pool_t *p, const ucwa_push_job *j,
                          const ucwa_push_pool_ticket *t, ucwa_push_outcome o,
                          apr_interval_time_t retry_in);

/* The pool's copy of provider credential which (UCWA_PUSH_CRED_*), shared by every
 * Front End: 1 found (*value, *issued), 0 none yet, -1 with db->err. */
int ucwa_push_pool_credential_get(ucwa_db *db, apr_pool_t *p, int which, const char **value,
                                  apr_time_t *issued);

/* Stores value, issued at issued, if the pool's copy is still the one issued at seen (0:
 * there was none): 1 stored, 0 another Front End stored one first (read it), -1. */
int ucwa_push_pool_credential_put(ucwa_db *db, apr_pool_t *p, int which, const char *value,
                                  apr_time_t issued, apr_time_t seen);

#endif
