/* The event channel: GET {A}/events?ack=N[&timeout=&low=&medium=&priority=], the
 * pending GET. It parks the worker thread, waiting in short slices on the application's
 * futex word, so an event posted from any child process wakes it within milliseconds; it
 * answers at once when httpd stops or restarts gracefully, notices a client that went
 * away, and respects a per-child cap on parked requests. */
#ifndef UCWA_EVENTS_H
#define UCWA_EVENTS_H

#include <httpd.h>
#include "ucwa_http.h"

void ucwa_events_child_init(apr_pool_t *pchild, server_rec *s);
int ucwa_events_get(ucwa_req *q);

/* Wakes the parked event requests of every application of a user. */
void ucwa_events_wake_user(ucwa_store *s, int user);

#endif
