/* people: myContacts, myGroups, group contacts and memberships, the contact resource
 * and its presence / note / location / supportedMedia / privacyRelationship, photos, and
 * directory search; contacts and groups are durable (SQL through mod_dbd).
 *
 *   GET    {A}/people/contacts[?groupId=G][&expand=false]   myContacts / groupContacts
 *   GET    {A}/people/groups[?expand=false]                 myGroups
 *   POST   {A}/people/groups  {displayName}                 new group -> 204 + Location
 *   GET    {A}/people/groups/{G}                            group (ETag)
 *   PUT    {A}/people/groups/{G}  {name}  (If-Match)        rename -> 200
 *   DELETE {A}/people/groups/{G}                            -> 204
 *   GET    {A}/people/groupMemberships[?groupId=G]          myGroupMemberships
 *   POST   {A}/people/groupMemberships {contactUri[, groupId]}  -> 201 myGroupMembership
 *   GET    {A}/people/groupMemberships/{G}/{sip}
 *   DELETE {A}/people/groupMemberships/{G}/{sip}            -> 204
 *   POST   {A}/people/groupMemberships/removeContactFromAllGroups {contactUri} -> 204
 *   POST   {A}/people/presenceSubscriptions?groupId=G {duration}  subscribeToGroupPresence
 *   GET    {A}/people/search?query=Q[&limit=N]
 *   GET    {A}/people/{sip}[/presence|/note|/location|/supportedMedia|/privacyRelationship]
 *   GET    {A}/photos/{sip}                                 image/jpeg (ETag, 304)
 *
 * The schema (common/ucwa/ucwa_schema) is brought up to date in child_init. */
#ifndef UCWA_PEOPLE_H
#define UCWA_PEOPLE_H

#include "ucwa_http.h"
#include "ucwa_sql.h"

/* ucwa_contact_get's what: the contact, or one of its resources */
enum {
    UCWA_CONTACT_SELF, UCWA_CONTACT_PRESENCE, UCWA_CONTACT_NOTE, UCWA_CONTACT_LOCATION,
    UCWA_CONTACT_SUPPORTED_MEDIA, UCWA_CONTACT_PRIVACY_RELATIONSHIP
};

/* Route handlers (ucwa_route); q->id holds the group, the address, the photo's address.
 * ucwa_group_memberships_none answers {A}/people/groupMemberships/{x}, any method. */
int ucwa_contact_list(ucwa_req *q, int what);
int ucwa_contact_get(ucwa_req *q, int what);
int ucwa_groups_list(ucwa_req *q, int what);
int ucwa_groups_create(ucwa_req *q, int what);
int ucwa_groups_one(ucwa_req *q, int what);
int ucwa_group_memberships_list(ucwa_req *q, int what);
int ucwa_group_memberships_add(ucwa_req *q, int what);
int ucwa_group_memberships_remove_everywhere(ucwa_req *q, int what);
int ucwa_group_memberships_one(ucwa_req *q, int what);
int ucwa_group_memberships_none(ucwa_req *q, int what);
int ucwa_search_get(ucwa_req *q, int what);
int ucwa_photos_get(ucwa_req *q, int what);
/* POST presenceSubscriptions?groupId=G (from ucwa_subscriptions_new):
 * subscribeToGroupPresence, a presence subscription to the group's members. */
int ucwa_groups_subscribe(ucwa_req *q);

/* The request's database connection (mod_dbd) as a ucwa_db; with schema set, one whose
 * tables (ucwa_schema) are known to be current. 1, or 0 with why (for the log). */
int ucwa_people_db(request_rec *r, apr_pool_t *p, int schema, ucwa_db *db, const char **why);

/* In post_config (the parent, before any child exists): create or upgrade the schema
 * (versioned migrations) of each database a server with Ucwa On uses, over a connection
 * of its own (for SQLite, only a file that exists: never create one as root). Always OK:
 * a failure is logged, and the children try again. */
int ucwa_people_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* In child_init: check the schema of each database a server with Ucwa On uses, and
 * migrate it if the parent did not (waiting half a second first for SQLite, so that the
 * sibling children are past mod_dbd's child_init); then, for SQLite, give this process's
 * connections a short busy handler and make mod_dbd's pooled connections read the schema
 * and prepare their statements again (a schema change ends SQLite's legacy prepared
 * statements).
 */
void ucwa_people_child_init(apr_pool_t *pchild, server_rec *s);

/* header_parser (registered by mod_ucwa): the core checks the bearer token before it
 * dispatches, so a request for {A}/photos/... without Authorization whose cwt_ucwa cookie
 * holds a token gets "Authorization: Bearer <token>" here. Always DECLINED. */
int ucwa_people_photo_cookie(request_rec *r);

#endif
