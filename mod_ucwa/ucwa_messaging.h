/* communication: conversations, messagingInvitations (outgoing and incoming, accept,
 * decline), participants, the messaging modality, messages, typing, stopMessaging and
 * leaving; every event of the documented sequences. */
#ifndef UCWA_MESSAGING_H
#define UCWA_MESSAGING_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* The what of ucwa_messaging_invitation and ucwa_messaging_conversation: the resource
 * under messagingInvitations/{I} (q->id[0]) or conversations/{C} (q->id[0], the
 * participant's address in q->id[1]). */
enum { UCWA_IM_INVITATION, UCWA_IM_ACCEPT, UCWA_IM_DECLINE };
enum {
    UCWA_IM_CONVERSATION, UCWA_IM_MESSAGING, UCWA_IM_MESSAGES, UCWA_IM_TYPING,
    UCWA_IM_TYPING_PARTICIPANTS, UCWA_IM_TERMINATE, UCWA_IM_PARTICIPANTS, UCWA_IM_PARTICIPANT,
    UCWA_IM_PARTICIPANT_MESSAGING
};

/* Route handlers (ucwa_route) of {A}/communication/... (communication itself is
 * ucwa_static's): POST messagingInvitations (startMessaging), an invitation and its
 * accept and decline, the conversations collection, and the resources of one
 * conversation. */
int ucwa_messaging_start(ucwa_req *q, int what);
int ucwa_messaging_invitation(ucwa_req *q, int what);
int ucwa_messaging_conversations(ucwa_req *q, int what);
int ucwa_messaging_conversation(ucwa_req *q, int which);

/* In a transaction: an application ended; its conversations lose that party. */
void ucwa_messaging_app_gone_locked(ucwa_txn *t, int app, apr_time_t now);

/* In a transaction, from the sweeper (once a second): unanswered invitations fail,
 * typing indicators end. */
void ucwa_messaging_sweep_locked(ucwa_txn *t, apr_time_t now, apr_interval_time_t suspend_after);

#endif
