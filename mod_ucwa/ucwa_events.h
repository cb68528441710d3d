/* The event channel: GET {A}/events?ack=N[&timeout=&low=&medium=&priority=], the
 * pending GET. It parks the worker thread, waiting in short slices on the application's
 * futex word, so an event posted from any child process wakes it within milliseconds; it
 * answers at once when httpd stops or restarts gracefully, notices a client that went
 * away, and respects a per-child cap on parked requests (sending a client on to a
 * child with room) and a per-user one. */
#ifndef UCWA_EVENTS_H
#define UCWA_EVENTS_H

#include <httpd.h>
#include "ucwa_http.h"

#include <ap_mpm.h>

/* The table of parked requests per child, new for every generation (post_config); the
 * parent keeps its slots with the MPM's child_status hook. */
int ucwa_events_post_config(apr_pool_t *pconf, server_rec *s);
void ucwa_events_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                              mpm_child_status state);
void ucwa_events_child_init(apr_pool_t *pchild, server_rec *s);
/* The parked requests of each running child, as a JSON array (for ucwa-status). */
void ucwa_events_parked_per_child(apr_pool_t *p, const char **json);
/* Route handlers (ucwa_route): GET {A}/events, the pending GET; and the 405 of any
 * other method ("The event channel answers GET only."). */
int ucwa_events_get(ucwa_req *q, int what);
int ucwa_events_not_allowed(ucwa_req *q, int what);

/* Asks the transaction to wake the parked event requests of every application of a
 * user once the lock is released. */
void ucwa_events_wake_user_locked(ucwa_txn *t, int user);

#endif
