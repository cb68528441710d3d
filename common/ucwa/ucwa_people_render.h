/* The people resources of UCWA as JSON (HAL) documents, in the layout of the real
 * captures (GetUsersContactList, GetPresenceDataOfAContact, SearchForUsersContact):
 * contact, myContacts / groupContacts, myGroups and the groups, myGroupMemberships,
 * search, and a contact's presence, note, location, supported modalities and privacy
 * relationship; the events of the contact list; and the checks of the inputs they take
 * (SIP addresses, search queries and limits).
 *
 * base is the application's URL path ({A}); hrefs are {A}/people/{sip} with the address
 * in lower case, {A}/photos/{sip} for photos. Every document is owned by p. */
#ifndef UCWA_PEOPLE_RENDER_H
#define UCWA_PEOPLE_RENDER_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "ucwa_contacts.h"
#include "ucwa_event.h"

#define UCWA_SEARCH_QUERY_MAX 256   /* characters */
#define UCWA_SEARCH_LIMIT_MAX 100
#define UCWA_SEARCH_LIMIT_DEFAULT 100
#define UCWA_ADDRESS_MAX 255        /* bytes, without "sip:" (the session store's limit) */

/* --- inputs ----------------------------------------------------------------------- */

/* Code points in s, or -1 if s is not valid UTF-8 (overlong forms, surrogates and
 * values above U+10FFFF are invalid). */
apr_ssize_t ucwa_people_utf8_length(const char *s);

/* A SIP address as the server keeps it: "sip:" (any case) removed, ASCII folded to lower
 * case; NULL unless it is local@domain with a local part of letters, digits and
 * . _ + - ' (1 to 64, no dot first, last or twice in a row) and a DNS domain name (labels
 * of letters, digits and -, at least two labels), at most UCWA_ADDRESS_MAX bytes. The
 * result is safe in a URL path, a JSON string and an SQL value. */
const char *ucwa_people_address(apr_pool_t *p, const char *in);

/* A search query: NULL if it is acceptable (1 to UCWA_SEARCH_QUERY_MAX characters of
 * UTF-8), else why not (for the 400). */
const char *ucwa_people_query_check(const char *query);

/* The LIKE pattern of a search query: ASCII folded to lower case, the LIKE
 * metacharacters % and _ and the escape character \ each preceded by \, and the whole
 * between % and % (a substring match; use ESCAPE '\'). */
const char *ucwa_people_like_pattern(apr_pool_t *p, const char *query);

/* limit=: NULL (absent) gives UCWA_SEARCH_LIMIT_DEFAULT; otherwise a decimal number
 * 1..UCWA_SEARCH_LIMIT_MAX. -1 when invalid. */
int ucwa_people_limit(const char *limit);

/* --- documents -------------------------------------------------------------------- */

/* What the directory says of a person. known: the directory has the address (and lets
 * the user see it); otherwise only sip is set and the contact is rendered as an
 * external (federated) contact nobody knows more about, the same whether the address
 * exists or not. */
typedef struct {
    const char *sip;             /* lower case, without "sip:" */
    const char *uri;             /* the address as the directory spells it (for "uri") */
    int known;
    const char *name, *title, *department, *office, *company, *email;
    const char *work_phone, *mobile_phone, *home_phone, *other_phone;
} ucwa_person;

/* The user's own phones (rel phones): the directory's work, mobile, home and other
 * numbers, each a phone with its number and type (Work, Mobile, Home, Other). */
json_t *ucwa_people_phones(apr_pool_t *p, const char *base, const ucwa_person *me);

/* The contact resource (rel contact, with its etag property). */
json_t *ucwa_people_contact(apr_pool_t *p, const char *base, const ucwa_person *c);

/* myContacts (group_id NULL) or groupContacts: the contacts embedded, or with expand 0
 * only their links. */
json_t *ucwa_people_contacts(apr_pool_t *p, const char *base, const char *group_id,
                             const ucwa_person *list, int n, int expand);

/* The rel of a group kind: pinnedGroup, defaultGroup or group. */
const char *ucwa_people_group_rel(ucwa_group_kind kind);

/* One group (rel pinnedGroup, defaultGroup or group, with an etag property). */
json_t *ucwa_people_group(apr_pool_t *p, const char *base, const ucwa_group *g);

/* myGroups: groups[0] must be the pinned group and groups[1] the default group. */
json_t *ucwa_people_groups(apr_pool_t *p, const char *base, const ucwa_group *groups, int n,
                           int expand);

/* One myGroupMembership, and the myGroupMemberships collection (of one group when
 * group_id is not NULL); kinds[i] is the kind of ms[i]'s group. */
json_t *ucwa_people_membership(apr_pool_t *p, const char *base, const ucwa_membership *m,
                               ucwa_group_kind kind);
json_t *ucwa_people_memberships(apr_pool_t *p, const char *base, const char *group_id,
                                const ucwa_membership *ms, const ucwa_group_kind *kinds,
                                int n);

/* search: the query (and limit, when the request gave one) echoed in self. */
json_t *ucwa_people_search(apr_pool_t *p, const char *base, const char *query,
                           const char *limit, const ucwa_person *list, int n, int more);

typedef struct {
    const char *availability;    /* Online, Busy, ..., Offline */
    const char *activity;        /* NULL or "" for none */
    const char *device_type;     /* Mobile, Unknown, ... */
    apr_time_t last_active;      /* 0: unknown */
} ucwa_contact_presence;

/* contactPresence. lastActive is "/Date(ms)/" for JSON (ucwa_people_json gives it the
 * "\/Date(ms)\/" spelling of the captures) and ISO 8601 when iso is set (XML). */
json_t *ucwa_people_presence(apr_pool_t *p, const char *base, const char *sip,
                             const ucwa_contact_presence *pr, int iso);
json_t *ucwa_people_note(apr_pool_t *p, const char *base, const char *sip, const char *note);
json_t *ucwa_people_location(apr_pool_t *p, const char *base, const char *sip,
                             const char *location);
/* contactSupportedModalities: Messaging, Audio, Video from modalities (UCWA_MOD_* of the
 * contact's available applications). */
json_t *ucwa_people_media(apr_pool_t *p, const char *base, const char *sip,
                          apr_uint32_t modalities);
json_t *ucwa_people_privacy(apr_pool_t *p, const char *base, const char *sip, int colleague);

/* A document as JSON text; the ASP.NET date values ("/Date(ms)/") come out as
 * "\/Date(ms)\/". */
const char *ucwa_people_json(apr_pool_t *p, const json_t *doc, apr_size_t *len);

/* A decimal hash of a document's JSON (as real servers print etags). */
const char *ucwa_people_etag(apr_pool_t *p, const json_t *doc);

/* --- events ----------------------------------------------------------------------- */

/* One event from the sender people: {"link":{rel, href},"in":{in_rel, in_href},"type":type},
 * "in" left out when in_rel is NULL; hrefs relative to the application (sub, in_sub), as
 * the event rings hold them. -1 if a string is not UTF-8. */
int ucwa_people_event(apr_pool_t *p, const char *rel, const char *sub, const char *in_rel,
                      const char *in_sub, const char *type, ucwa_event *out);

#endif
