/* Presence subscriptions: people/presenceSubscriptions (create with uris and duration,
 * extend, memberships, delete), subscribedContacts, and the contactPresence / contactNote
 * / contactLocation events every subscriber receives when a watched user changes. */
#ifndef UCWA_SUBSCRIPTIONS_H
#define UCWA_SUBSCRIPTIONS_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* Handles {A}/people/presenceSubscriptions..., presenceSubscriptionMemberships and
 * subscribedContacts; DECLINED otherwise. */
int ucwa_subscriptions_handle(ucwa_req *q);

/* With the store locked: user's presence ("presence"), note or location changed; posts
 * the contact events to every application watching the user and wakes them. */
void ucwa_subscriptions_notify(ucwa_store *s, int user, const char *what, apr_time_t now,
                               apr_pool_t *p);

/* With the store locked: an application ended; its subscriptions end with it. */
void ucwa_subscriptions_app_gone(ucwa_store *s, int app);

/* With the store locked, from the sweeper: expire subscriptions past their duration. */
void ucwa_subscriptions_sweep(ucwa_store *s, apr_time_t now, apr_pool_t *p);

#endif
