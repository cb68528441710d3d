/* me and self presence: makeMeAvailable (leaving lurker mode), presence, note, location,
 * reportMyActivity, phones; and the events each change causes (callForwardingSettings is
 * ucwa_call_forwarding's). */
#ifndef UCWA_ME_H
#define UCWA_ME_H

#include "ucwa_http.h"

/* The resources of me; the what of ucwa_me_get and ucwa_me_set. */
enum {
    UCWA_ME_PRESENCE, UCWA_ME_NOTE, UCWA_ME_LOCATION, UCWA_ME_SELF
};

/* Route handlers (ucwa_route): GET of me, presence, note, location and phones; POST of presence, note and location;
 * makeMeAvailable; reportMyActivity. */
int ucwa_me_get(ucwa_req *q, int what);
int ucwa_me_set(ucwa_req *q, int what);
int ucwa_me_make_available(ucwa_req *q, int what);
int ucwa_me_report_activity(ucwa_req *q, int what);

/* In a transaction: announces the user's availability to their applications when it
 * changed. Returns 1 if events were posted. */
int ucwa_me_publish_locked(ucwa_txn *t, int user, const ucwa_idle_rules *rules, apr_time_t now);

#endif
