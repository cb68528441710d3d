/* communication: conversations, messagingInvitations (outgoing and incoming, accept,
 * decline), participants, the messaging modality, messages, typing, stopMessaging and
 * leaving; every event of the documented sequences. */
#ifndef UCWA_MESSAGING_H
#define UCWA_MESSAGING_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* Handles {A}/communication/... (the communication resource itself is served
 * elsewhere); DECLINED otherwise. */
int ucwa_messaging_handle(ucwa_req *q);

/* In a transaction: an application ended; its conversations lose that party. */
void ucwa_messaging_app_gone_locked(ucwa_txn *t, int app, apr_time_t now);

/* In a transaction, from the sweeper (once a second): unanswered invitations fail,
 * typing indicators end. */
void ucwa_messaging_sweep_locked(ucwa_txn *t, apr_time_t now);

#endif
