/* The resources built from the application alone: communication (GET, and a PUT that
 * changes nothing), people, onlineMeetings, privacyRelationships,
 * myContactsAndGroupsSubscription and its startOrRefreshSubscriptionToContactsAndGroups. */
#ifndef UCWA_STATIC_H
#define UCWA_STATIC_H

#include "ucwa_http.h"

/* ucwa_static_get's what */
enum {
    UCWA_STATIC_PEOPLE, UCWA_STATIC_ONLINE_MEETINGS, UCWA_STATIC_PRIVACY_RELATIONSHIPS,
    UCWA_STATIC_CONTACTS_GROUPS_SUB
};

/* GET of one of them */
int ucwa_static_get(ucwa_req *q, int what);
/* GET and PUT {A}/communication */
int ucwa_static_communication(ucwa_req *q, int what);
/* POST startOrRefreshSubscriptionToContactsAndGroups -> 204 */
int ucwa_static_refresh(ucwa_req *q, int what);

#endif
