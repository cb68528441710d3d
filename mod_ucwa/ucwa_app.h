/* The application resource: create (POST applications), read, delete, its policies,
 * and finding the request's application in the store. */
#ifndef UCWA_APP_H
#define UCWA_APP_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* A transaction on the request's application: fn runs under the store's lock with the
 * application's index (owned by the token's user, live) and returns a result of its own
 * (>= 0), which the caller turns into a response after the lock is released. */
typedef int ucwa_app_txn_fn(ucwa_txn *t, int idx, void *baton);

/* Runs fn as a transaction (ucwa_txn_run) on the request's application: fn's result; or
 * -1, fn not run, with the answer already sent in *rv: 404 ApplicationNotFound (no such
 * application, or another user's), 410 InactiveApplicationExpired, 500 (no store). */
int ucwa_app_txn(ucwa_req *q, ucwa_app_txn_fn *fn, void *baton, int *rv);

/* Application idx ends here as a sign-out does: its subscriptions and conversations
 * end, its slot is freed (its id answers 404 here), a parked event request answers, and
 * its user's other devices and watchers see the presence that follows. */
void ucwa_app_gone_locked(ucwa_txn *t, int idx, const ucwa_idle_rules *rules, apr_time_t now);

/* Copies the request's application (and its user, if user is not NULL) out of the
 * store. OK, or the error already sent in *rv (as ucwa_app_txn). */
int ucwa_app_copy(ucwa_req *q, ucwa_app *copy, ucwa_user *user, int *rv);

/* Route handlers (ucwa_route): POST applications, GET and DELETE of the application,
 * GET policies. */
int ucwa_app_create(ucwa_req *q, int what);
int ucwa_app_get(ucwa_req *q, int what);
int ucwa_app_delete(ucwa_req *q, int what);
int ucwa_app_policies(ucwa_req *q, int what);

/* The policy in force for an application's user (this server's site, the user's tag). */
const ucwa_policy *ucwa_app_policy(const ucwa_global *g, const char *tag);
/* What the communication resource offers a's user (UCWA_RES_* of ucwa_resources.h): calls
 * when the policy has EnableIPAudioVideo on, a media relay when a TURN server is set too. */
unsigned ucwa_app_features(const ucwa_global *g, const ucwa_app *a);

#endif
