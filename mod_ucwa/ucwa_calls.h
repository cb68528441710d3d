/* The HTTP side of calls between applications (UCWA 2.0 audioVideo); routes in
 * ucwa_route.c. */
#ifndef UCWA_CALLS_H
#define UCWA_CALLS_H

#include "ucwa_http.h"

/* what: the invitation's resources and operations ({I}, {I}/...) */
enum { UCWA_AV_INVITATION, UCWA_AV_NEGOTIATION, UCWA_AV_ACCEPT, UCWA_AV_PROVISIONAL,
       UCWA_AV_DECLINE, UCWA_AV_CANCEL };
/* what: the conversation's audioVideo ({C}/audioVideo/...) */
enum { UCWA_AV_MODALITY, UCWA_AV_ADD, UCWA_AV_STOP, UCWA_AV_SESSION, UCWA_AV_RENEGOTIATE,
       UCWA_AV_RENEGOTIATION, UCWA_AV_RENEG_ANSWER, UCWA_AV_RENEG_DISMISS };

/* POST audioVideoInvitations (startAudio, startVideo, startAudioVideo). */
int ucwa_calls_start(ucwa_req *q, int what);
int ucwa_calls_invitation(ucwa_req *q, int what);
int ucwa_calls_conversation(ucwa_req *q, int what);

#endif
