/* The push dispatcher: a mod_watchdog singleton (one thread in one child process) that
 * takes due notifications from the store's queue (common/push/ucwa_push) as soon as they are
 * queued (it sleeps on the queue's futex word),
 * finds the device's registrations (SQL, common/push/ucwa_push_reg), and sends them to
 * WebPush/UnifiedPush, APNs or FCM (common/push/push_*), never from a request thread. Retries
 * back off (honouring Retry-After); registrations the service says are gone are deleted.
 * Provider credentials (the APNs provider token, the FCM access token) are kept in the
 * store, shared by every process and generation, and renewed on schedule or when refused. */
#ifndef UCWA_PUSH_DISPATCH_H
#define UCWA_PUSH_DISPATCH_H

#include <httpd.h>

#include "ucwa_store.h"

/* In post_config: configures the store's push words, starts the dispatcher when a
 * provider is on. OK or not. */
int ucwa_push_post_config(apr_pool_t *pconf, server_rec *s);

#endif
