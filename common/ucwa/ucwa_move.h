/* An application moved between two Front Ends of a pool (issue 11, ARCHITECTURE §10.5):
 * what the Front End that holds it hands over, as data, and what the one that receives it
 * installs. No httpd and no database here: mod_ucwa/ucwa_pool_move carries the bytes
 * through the pool's PostgreSQL database.
 *
 * What moves: the application's record (its id, URLs, endpoint, sticky event query,
 * push state, event channel positions), its user's own presence (preference, activity,
 * note, location, when it was set), its presence subscriptions (ids, ends, members by
 * address), and the events still queued in its ring, slot for slot, from the first of
 * the package the client may still ask for again. So the client's next event request on
 * the new Front End asks for the package number it would have asked for on the old one
 * and gets what was queued there, in order, nothing twice. What does not move: its
 * conversations (the old Front End ends them as if the application had signed out:
 * the other party sees it leave). Both stores must have the same ring (length and slot
 * size) and this code's layout: the request says its sizes, and the holder refuses when
 * they differ. */
#ifndef UCWA_MOVE_H
#define UCWA_MOVE_H

#include <apr_pools.h>

#include "ucwa_store.h"

/* 1 when application idx can be handed to a Front End whose ring has these sizes: it is
 * live and sip's. */
int ucwa_move_exportable_locked(ucwa_store *s, int idx, const char *sip, apr_uint32_t ring_len,
                                apr_uint32_t event_size);

/* The application idx of user sip, exported as bytes (*out, *len, in p) when it is live,
 * belongs to sip, and this store's ring has ring_len slots of event_size bytes. Nothing
 * is changed: the caller ends it here (as a sign-out, but marked moved_out) in the same
 * transaction. 0, or -1 (not this user's, not live, other sizes: nothing to hand over). */
int ucwa_move_export_locked(ucwa_store *s, int idx, const char *sip, apr_uint32_t ring_len,
                            apr_uint32_t event_size, apr_pool_t *p, const char **out,
                            apr_size_t *len);

/* Installs what ucwa_move_export_locked made, for user sip (the requester: the bytes must
 * name the same user), as a live application of this store with the same id: *idx. Its
 * user's presence is taken when it is newer than this store's, the user is queued for the
 * pool when the application was available, and watchers here see the change. wake (may
 * be NULL) gets the applications to wake. 0, or -1 with *why (nothing installed). */
int ucwa_move_import_locked(ucwa_store *s, const char *data, apr_size_t len, const char *sip,
                            const ucwa_idle_rules *rules, apr_time_t now, apr_pool_t *p,
                            ucwa_txn *wake, int *idx, const char **why);

/* The application id inside exported bytes (for logs), or NULL. */
const char *ucwa_move_id(apr_pool_t *p, const char *data, apr_size_t len);

#endif
