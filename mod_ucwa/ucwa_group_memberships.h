/* Group memberships of the contact list (durable, SQL through mod_dbd):
 *
 *   GET    {A}/people/groupMemberships[?groupId=G]          myGroupMemberships
 *   POST   {A}/people/groupMemberships {contactUri[, groupId]}  -> 201 myGroupMembership
 *   GET    {A}/people/groupMemberships/{G}/{sip}
 *   DELETE {A}/people/groupMemberships/{G}/{sip}            -> 204
 *   POST   {A}/people/groupMemberships/removeContactFromAllGroups {contactUri} -> 204
 */
#ifndef UCWA_GROUP_MEMBERSHIPS_H
#define UCWA_GROUP_MEMBERSHIPS_H

#include "ucwa_http.h"

/* Route handlers (ucwa_route); one membership is q->id[0] (the group) and q->id[1] (the
 * address); ucwa_group_memberships_none answers {A}/people/groupMemberships/{x}, any
 * method, 404 "There is no such group membership.". */
int ucwa_group_memberships_list(ucwa_req *q, int what);
int ucwa_group_memberships_add(ucwa_req *q, int what);
int ucwa_group_memberships_remove_everywhere(ucwa_req *q, int what);
int ucwa_group_memberships_one(ucwa_req *q, int what);
int ucwa_group_memberships_none(ucwa_req *q, int what);

#endif
