/* communication: startMessaging and messagingInvitations (outgoing and incoming, accept,
 * decline); a conversation itself is ucwa_conversations'. */
#ifndef UCWA_MESSAGING_H
#define UCWA_MESSAGING_H

#include "ucwa_http.h"
#include "ucwa_store.h"

/* The what of ucwa_messaging_invitation: the resource under messagingInvitations/{I}
 * (q->id[0]). */
enum { UCWA_IM_INVITATION, UCWA_IM_ACCEPT, UCWA_IM_DECLINE };

/* Route handlers (ucwa_route): POST messagingInvitations (startMessaging), an invitation
 * and its accept and decline. */
int ucwa_messaging_start(ucwa_req *q, int what);
int ucwa_messaging_invitation(ucwa_req *q, int what);

#endif
