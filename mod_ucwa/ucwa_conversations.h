/* {A}/communication/conversations...: the collection, one conversation and its
 * participants, the messaging modality's resources and operations; the end of an
 * application's part in its conversations, and the sweeper's tick. */
#ifndef UCWA_CONVERSATIONS_H
#define UCWA_CONVERSATIONS_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* The what of ucwa_conversations_one: the resource under conversations/{C} (q->id[0],
 * a participant's address in q->id[1]). */
enum {
    UCWA_IM_CONVERSATION, UCWA_IM_MESSAGING, UCWA_IM_MESSAGES, UCWA_IM_TYPING,
    UCWA_IM_TYPING_PARTICIPANTS, UCWA_IM_TERMINATE, UCWA_IM_PARTICIPANTS, UCWA_IM_PARTICIPANT,
    UCWA_IM_PARTICIPANT_MESSAGING, UCWA_IM_ADD_MESSAGING
};

/* Route handlers (ucwa_route): the conversations collection, and the resources of one
 * conversation. */
int ucwa_conversations_list(ucwa_req *q, int what);
int ucwa_conversations_one(ucwa_req *q, int which);

/* In a transaction: an application ended; its conversations lose that party. */
void ucwa_conversations_app_gone_locked(ucwa_txn *t, int app, apr_time_t now);

/* In a transaction, from the sweeper (once a second): unanswered invitations fail,
 * typing indicators end, calls whose side lost its event channel are Suspended. */
void ucwa_conversations_sweep_locked(ucwa_txn *t, apr_time_t now,
                                     apr_interval_time_t suspend_after);

#endif
