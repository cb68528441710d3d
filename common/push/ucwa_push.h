/* Push notifications in the session store: which applications are in the background,
 * and the queue of notifications waiting for the dispatcher (mod_ucwa/ucwa_push), in
 * the same shared-memory region as everything else, so that a graceful restart loses
 * nothing queued. No httpd and no I/O here; the caller holds the store lock.
 *
 * An application can be pushed to once its device registered (ucwa_app.push). It is in
 * the background when it said so (ucwa_app.background) or when it has had no event
 * request for the store's "push after" seconds. Then the events that matter (an incoming
 * invitation, a message, a missed conversation) become jobs: one per application and
 * conversation while queued (a burst folds into one notification with the latest text
 * and a badge count); the dispatcher takes due jobs, sends them, and reports back. */
#ifndef UCWA_PUSH_H
#define UCWA_PUSH_H

#include "ucwa_store.h"

typedef enum {
    UCWA_PUSH_INVITATION = 1,      /* someone started a conversation */
    UCWA_PUSH_MESSAGE,             /* a message in a conversation */
    UCWA_PUSH_MISSED,              /* an invitation nobody answered (or the inviter gave up) */
    UCWA_PUSH_CALL,                /* an incoming call (common/ucwa/ucwa_av): it cannot wait */
    UCWA_PUSH_MISSED_CALL          /* a call nobody answered (or the caller gave up) */
} ucwa_push_kind;

typedef enum {
    UCWA_PUSH_CONTENT_NONE = 0,    /* no customer data: kind, conversation, badge */
    UCWA_PUSH_CONTENT_SENDER,      /* and the sender's name */
    UCWA_PUSH_CONTENT_PREVIEW      /* and the start of the text */
} ucwa_push_content;

typedef enum {
    UCWA_PUSH_DONE = 0,            /* delivered, or given up for good: the job goes */
    UCWA_PUSH_AGAIN                /* try again after retry_in */
} ucwa_push_outcome;

#define UCWA_PUSH_MAX_ATTEMPTS 8
#define UCWA_PUSH_BACKOFF_MAX apr_time_from_sec(300)
#define UCWA_PUSH_SENDING_STALE apr_time_from_sec(120)   /* a dispatcher that died */

/* The store's push settings (its header words; set by the parent in post_config). */
void ucwa_push_configure_locked(ucwa_store *s, int enabled, apr_uint32_t after_s,
                         ucwa_push_content content);

/* Whether a (live) application counts as in the background now. */
int ucwa_push_in_background_locked(ucwa_store *s, const ucwa_app *a, apr_time_t now);

/* An event of this kind reached application app (live): queues or folds a job if the
 * application is registered and in the background. text may be NULL. Returns 1 when a
 * job was queued or updated, 0 when none was needed, -1 when the queue is full. */
int ucwa_push_note_locked(ucwa_store *s, int app, ucwa_push_kind kind, const char *conversation,
                   const char *sender, const char *text, apr_size_t len, apr_time_t now);

/* The application is back (an event request came): no longer background, badge 0. */
void ucwa_push_foreground(ucwa_app *a);

/* Takes up to max (at most UCWA_PUSH_TAKE_MAX) due jobs (marks them SENDING), oldest
 * first, copied into out. Jobs found SENDING for longer than UCWA_PUSH_SENDING_STALE are
 * due again. Returns the count. */
#define UCWA_PUSH_TAKE_MAX 64
int ucwa_push_take_locked(ucwa_store *s, apr_time_t now, ucwa_push_job *out, int max);

/* One past the last job slot in use (scans stop there). */
apr_uint32_t ucwa_push_used_locked(ucwa_store *s);

/* The dispatcher's verdict on a taken job (identified by its slot and generation). */
void ucwa_push_finish_locked(ucwa_store *s, const ucwa_push_job *job, ucwa_push_outcome o,
                      apr_interval_time_t retry_in, apr_time_t now);

/* A taken job put back as it was, due again at not_before, without counting an attempt:
 * nothing was sent (a pool's Front End could not hand it to the pool's database). */
void ucwa_push_release_locked(ucwa_store *s, const ucwa_push_job *job, apr_time_t not_before);

/* Whether a job that failed after attempts earlier failures is tried again (the same
 * rule for the store's queue and the pool's table). */
int ucwa_push_retries(ucwa_push_outcome o, apr_uint32_t attempts);

/* The wait before attempt n+1 after n failed ones: retry_after when the service gave
 * one (capped), else 1, 2, 4 ... seconds up to UCWA_PUSH_BACKOFF_MAX. */
apr_interval_time_t ucwa_push_backoff(apr_uint32_t attempts, apr_interval_time_t retry_after);

/* Jobs waiting (QUEUED) and being sent (SENDING). */
void ucwa_push_counts_locked(ucwa_store *s, apr_uint32_t *queued, apr_uint32_t *sending);

const char *ucwa_push_kind_name(ucwa_push_kind k);

#endif
