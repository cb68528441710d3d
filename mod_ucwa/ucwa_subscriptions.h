/* Presence subscriptions: people/presenceSubscriptions (create with uris and duration,
 * extend, delete), presenceSubscriptionMemberships (list, add, remove), subscribedContacts,
 * and the contactPresence / contactNote / contactLocation events every subscriber receives
 * when a watched user changes. The table logic and the events are in common/ucwa/ucwa_subs.
 *
 *   GET    {A}/people/presenceSubscriptions                 presenceSubscription[] embedded
 *   POST   {A}/people/presenceSubscriptions                 {duration, uris} -> 201
 *          (with ?groupId=: subscribeToGroupPresence, ucwa_groups)
 *   GET    {A}/people/presenceSubscriptions/{S}
 *   POST   {A}/people/presenceSubscriptions/{S}             duration (body or query) -> 200
 *   DELETE {A}/people/presenceSubscriptions/{S}             -> 204
 *   GET    {A}/people/presenceSubscriptionMemberships[?presenceSubscriptionId=S]
 *   POST   {A}/people/presenceSubscriptionMemberships?presenceSubscriptionId=S
 *          {uris | contactUris: [...]} or {uri: "..."}      -> 201 (200 if none was new)
 *   GET    {A}/people/presenceSubscriptionMemberships/{S}/{address}   (or {S},{address})
 *   DELETE {A}/people/presenceSubscriptionMemberships/{S}/{address}   -> 204
 *   GET    {A}/people/subscribedContacts                    contact links
 */
#ifndef UCWA_SUBSCRIPTIONS_H
#define UCWA_SUBSCRIPTIONS_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* Route handlers (ucwa_route): GET and POST (with ?groupId=: ucwa_groups_subscribe) of
 * presenceSubscriptions; GET, POST and DELETE of one (q->id[0]); GET and POST of
 * presenceSubscriptionMemberships; GET and DELETE of one membership (q->id[0] "S,address",
 * or q->id[0] and q->id[1]); GET subscribedContacts. */
int ucwa_subscriptions_list(ucwa_req *q, int what);
int ucwa_subscriptions_new(ucwa_req *q, int what);
int ucwa_subscriptions_one(ucwa_req *q, int what);
int ucwa_subscriptions_memberships(ucwa_req *q, int what);
int ucwa_subscriptions_membership(ucwa_req *q, int what);
int ucwa_subscriptions_contacts(ucwa_req *q, int what);

/* Subscribes the request's application to the addresses (lower case, without "sip:", as
 * ucwa_subs_address makes them) for minutes (10..30), and answers: 201 with the
 * presenceSubscription, or the error. For subscribeToGroupPresence (people), with the
 * body already read. */
int ucwa_subscriptions_create(ucwa_req *q, const char *const *sips, int n, int minutes);

/* In a transaction: user's presence ("presence"), note or location changed; posts the
 * contact events to every application watching the user, which t wakes. */
void ucwa_subscriptions_notify_locked(ucwa_txn *t, int user, const char *what, apr_time_t now);

/* In a transaction: an application ended; its subscriptions end with it. */
void ucwa_subscriptions_app_gone_locked(ucwa_txn *t, int app);

/* In a transaction, from the sweeper: expire subscriptions past their duration. */
void ucwa_subscriptions_sweep_locked(ucwa_txn *t, apr_time_t now);

#endif
