/* me and self presence: makeMeAvailable (leaving lurker mode), presence, note, location,
 * reportMyActivity, phones, callForwardingSettings; and the events each change causes. */
#ifndef UCWA_ME_H
#define UCWA_ME_H

#include "ucwa_http.h"

/* Handles {A}/me...; DECLINED if sub is not one of its resources. */
int ucwa_me_handle(ucwa_req *q);

/* In a transaction: announces the user's availability to their applications when it
 * changed. Returns 1 if events were posted. */
int ucwa_me_publish_locked(ucwa_txn *t, int user, const ucwa_idle_rules *rules, apr_time_t now);

#endif
