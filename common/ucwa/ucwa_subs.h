/* Presence subscriptions in the session store (its ucwa_sub table): which users an
 * application watches, until when, and the events that go with them. No httpd here: the
 * HTTP side is mod_ucwa/ucwa_subscriptions.
 *
 * The caller holds the store lock around every call. A subscription belongs to one
 * application (slot and generation) and has an 8-hex-digit id, unique among that
 * application's subscriptions. A member is a user: the user's slot and generation, and
 * the address (lower case, without "sip:") so that a member whose user slot was taken
 * back for someone else (the user table reuses slots of users without an application
 * when it is full) is found again, by address, when that user shows up.
 *
 * Events (all Medium priority, sender people {A}/people), as Lync 2013 sends them:
 *   subscribe       contact added in subscribedContacts, for each member the application
 *                   did not already watch; presenceSubscription added; contactPresence
 *                   updated in the contact, for every member (clients then GET it)
 *   add members     the same, without the presenceSubscription event
 *   remove member   contact deleted in subscribedContacts (if no other subscription of the
 *                   application has it)
 *   end             contact deleted for each member no other subscription has;
 *                   presenceSubscription deleted
 *   about to expire presenceSubscription updated with the resource embedded (the hint to
 *                   extend), UCWA_SUBS_HINT before the end
 *   notify          contactPresence / contactNote / contactLocation updated in the contact,
 *                   once per watching application
 * Contact hrefs are {A}/people/{address} with the lower-cased address. */
#ifndef UCWA_SUBS_H
#define UCWA_SUBS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "ucwa_store.h"

#define UCWA_SUBS_NO_USER 0xffffffffu
#define UCWA_SUBS_MIN_MINUTES 10          /* duration= range, as documented */
#define UCWA_SUBS_MAX_MINUTES 30          /* also the cap of an extension */
#define UCWA_SUBS_HINT apr_time_from_sec(60)
#define UCWA_SUBS_ID_LEN 8

/* A client's address ("sip:Bob@Contoso.com") as members keep it ("bob@contoso.com"), or
 * NULL if it cannot be one: "sip:" (any case) is required when scheme is set, optional
 * otherwise; then local@domain, one '@', at most UCWA_SIP_MAX - 1 bytes, valid UTF-8,
 * nothing that would break a URL path or a JSON string (controls, space, '"', '\\',
 * '/', '?', '#', '%', ';', '<', '>'), a domain of letters, digits, '-', '_' and '.'. */
const char *ucwa_subs_address(apr_pool_t *p, const char *uri, int scheme);

/* Subscriptions one application may have: the table's share per application
 * (max_subs / max_apps), at least 1. */
apr_uint32_t ucwa_subs_per_app(ucwa_store *s);

/* One past the last subscription slot in use (raised by create, lowered by the sweep):
 * scans of the table stop there, so a server with few subscriptions pays for those. */
apr_uint32_t ucwa_subs_used_locked(ucwa_store *s);

typedef enum {
    UCWA_SUBS_OK = 0,
    UCWA_SUBS_TABLE_FULL,                 /* no free slot in the table */
    UCWA_SUBS_APP_LIMIT,                  /* the application has ucwa_subs_per_app() */
    UCWA_SUBS_MEMBER_LIMIT                /* UCWA_SUB_MEMBERS, or the address space */
} ucwa_subs_result;

/* --- the table ------------------------------------------------------------------------- */

/* A new, empty subscription of app (which must be live), ending at now + duration. */
ucwa_subs_result ucwa_subs_create_locked(ucwa_store *s, int app, apr_interval_time_t duration,
                                  apr_time_t now, int *idx);
/* The live subscription of app with that id, or -1. */
int ucwa_subs_find_locked(ucwa_store *s, int app, const char *id);
/* Live subscriptions of app. */
int ucwa_subs_count_locked(ucwa_store *s, int app);
/* The subscription is in use and its application is the one it was made for. */
int ucwa_subs_live_locked(ucwa_store *s, int idx);
/* Frees the slot, without events. */
void ucwa_subs_free_locked(ucwa_store *s, int idx);
/* Adds minutes to what is left, capped at UCWA_SUBS_MAX_MINUTES from now; the
 * about-to-expire update may be sent again. Returns the new end. */
apr_time_t ucwa_subs_extend_locked(ucwa_store *s, int idx, apr_interval_time_t more, apr_time_t now);

/* Member m's address. */
const char *ucwa_subs_member_sip(const ucwa_sub *sub, int m);
/* The member with that address (normalized), or -1. */
int ucwa_subs_member_find(const ucwa_sub *sub, const char *sip);
/* Adds a member (address normalized) linked to its user, which is created if absent
 * (ucwa_store_user_find_locked with create): the member's index, and *added 1; the existing
 * index and *added 0 for a member already there; -1 when the subscription is full. */
int ucwa_subs_member_add_locked(ucwa_store *s, int idx, const char *sip, int *added);
/* Removes member m (the later ones move down by one). */
void ucwa_subs_member_remove_locked(ucwa_store *s, int idx, int m);
/* Member m's user slot, or -1 when the user is not in the table. A member whose slot was
 * taken back is linked again when find is set and its address is in the table. */
int ucwa_subs_member_user_locked(ucwa_store *s, int idx, int m, int find);
/* Bytes that adding these addresses would take (with the NULs), to check before locking. */
apr_size_t ucwa_subs_names_bytes(const char *const *sips, int n);

/* app has a live subscription, other than except (-1: none), with this member. */
int ucwa_subs_app_watches_locked(ucwa_store *s, int app, const char *sip, int except);

/* Iterates the (subscription, member) pairs that watch user: start with *pos = -1; each
 * call returns 1 with *sub and *member set, 0 at the end. Members whose slot was taken
 * back and whose address is this user's are linked to it on the way. */
int ucwa_subs_next_watcher_locked(ucwa_store *s, int user, int *pos, int *sub, int *member);

/* Problems a consistent table never has (NULL if none): live subscriptions of a dead
 * application, counts and names out of range, duplicate ids within an application,
 * duplicate members. Also counts live subscriptions and their members. Reads the slots
 * in use only (ucwa_subs_used_locked). */
const char *ucwa_subs_check_locked(ucwa_store *s, apr_uint32_t *subs, apr_uint32_t *members,
                            apr_pool_t *p);

/* --- resources and events ------------------------------------------------------------- */

/* The functions below that post events take the transaction they run in (wake): each
 * application they post to is added to its wake list (ucwa_txn_wake_app), woken once
 * the lock is released. NULL wakes nobody. */

/* The presenceSubscription resource (owned by p): id, links self, memberships,
 * addToPresenceSubscription. base is the application's path. */
json_t *ucwa_subs_resource(apr_pool_t *p, const char *base, const char *id);

/* Subscribes app to the addresses (normalized; repeats count once): a new subscription
 * and its events. UCWA_SUBS_MEMBER_LIMIT when they do not fit (nothing is created). */
ucwa_subs_result ucwa_subs_subscribe_locked(ucwa_store *s, int app, const char *const *sips, int n,
                                     apr_interval_time_t duration, apr_time_t now,
                                     apr_pool_t *p, ucwa_txn *wake, int *idx);

/* Adds members, with their events; *added says how many were new. Nothing is added
 * when they do not all fit (UCWA_SUBS_MEMBER_LIMIT). */
ucwa_subs_result ucwa_subs_add_members_locked(ucwa_store *s, int idx, const char *const *sips, int n,
                                       apr_time_t now, apr_pool_t *p, ucwa_txn *wake,
                                       int *added);

/* Removes member m, with its event. */
void ucwa_subs_remove_member_locked(ucwa_store *s, int idx, int m, apr_time_t now, apr_pool_t *p,
                             ucwa_txn *wake);

/* Ends a subscription (DELETE, expiry) with its events, and frees it. */
void ucwa_subs_end_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                   ucwa_txn *wake);

/* The user's presence ("presence"), note ("note") or location ("location") changed:
 * contactPresence / contactNote / contactLocation updated to every application
 * watching the user, once each. Returns the number of applications reached. */
int ucwa_subs_notify_locked(ucwa_store *s, int user, const char *what, apr_time_t now,
                     apr_pool_t *p, ucwa_txn *wake);

/* The application ended: its subscriptions end with it, without events. */
void ucwa_subs_app_gone_locked(ucwa_store *s, int app);

/* Once a second: frees subscriptions of applications that are gone, ends those past
 * their end (with events), sends the about-to-expire update, and announces presence a
 * member's user published without a notify (any availability change reaches the
 * subscribers within a sweep). */
void ucwa_subs_sweep_locked(ucwa_store *s, apr_time_t now, apr_pool_t *p, ucwa_txn *wake);

#endif
