/* Groups of the contact list (durable, SQL through mod_dbd):
 *
 *   GET    {A}/people/groups[?expand=false]                 myGroups
 *   POST   {A}/people/groups  {displayName}                 new group -> 204 + Location
 *   GET    {A}/people/groups/{G}                            group (ETag)
 *   PUT    {A}/people/groups/{G}  {name}  (If-Match)        rename -> 200
 *   DELETE {A}/people/groups/{G}                            -> 204
 *   POST   {A}/people/presenceSubscriptions?groupId=G {duration}  subscribeToGroupPresence
 */
#ifndef UCWA_GROUPS_H
#define UCWA_GROUPS_H

#include "ucwa_http.h"

/* Route handlers (ucwa_route); the group's id in q->id[0]. */
int ucwa_groups_list(ucwa_req *q, int what);
int ucwa_groups_create(ucwa_req *q, int what);
int ucwa_groups_one(ucwa_req *q, int what);

/* POST presenceSubscriptions?groupId=G (from ucwa_subscriptions_new): a presence
 * subscription to the group's members. */
int ucwa_groups_subscribe(ucwa_req *q);

#endif
