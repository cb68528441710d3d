/* The application resource: create (POST applications), read, delete, its policies,
 * and finding the request's application in the store. */
#ifndef UCWA_APP_H
#define UCWA_APP_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* Locks the store and finds the request's application, owned by the token's user.
 * Returns the locked store and *idx; or NULL, the lock released, and the error (404
 * ApplicationNotFound, 410 InactiveApplicationExpired, 500) already sent in *rv. */
ucwa_store *ucwa_app_lock(ucwa_req *q, int *idx, int *rv);

/* Copies the request's application (and its user, if user is not NULL) out of the
 * store. OK, or the error already sent in *rv (as ucwa_app_lock). */
int ucwa_app_copy(ucwa_req *q, ucwa_app *copy, ucwa_user *user, int *rv);

/* Route handlers (ucwa_route): POST applications, GET and DELETE of the application,
 * GET policies. */
int ucwa_app_create(ucwa_req *q, int what);
int ucwa_app_get(ucwa_req *q, int what);
int ucwa_app_delete(ucwa_req *q, int what);
int ucwa_app_policies(ucwa_req *q, int what);

/* The policy in force for an application's user (this server's site, the user's tag). */
const ucwa_policy *ucwa_app_policy(const ucwa_global *g, const char *tag);

#endif
