/* The HTTP side of calls between applications (UCWA 2.0 audioVideo); routes in
 * ucwa_route.c. */
#ifndef UCWA_CALLS_H
#define UCWA_CALLS_H

#include "ucwa_conv.h"
#include "ucwa_http.h"
#include "ucwa_voice.h"

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

/* Calls to numbers (and call via work) go through the SIP side: UcwaSip On, and no pool
 * (its outbox is the pool's thread's). */
int ucwa_calls_sip_numbers(ucwa_req *q);
/* The request's user's voice settings from SQL: 1, or 0 with the 503 sent in *rv. */
int ucwa_calls_voice_user(ucwa_req *q, ucwa_voice_user *vu, int *rv);
/* A number (dialled) the user calls through the SIP side: vu's dial plan normalises it,
 * its voice policy must route it. 1 with *to ("tel:+E164") and *gw_set (the route's first
 * gateway that names a dispatcher set by number, else NULL: Kamailio's default set), or 0
 * with the answer sent in *rv (400 NormalizationFailed, 403 NotAllowed, 403 without
 * Enterprise Voice: nothing goes to SIP). */
/* The answer to an invitation's answer the conversation code did not take (res: BUSY,
 * TOO_MANY, or any other: 409 no longer open). */
int ucwa_calls_not_answered(ucwa_req *q, ucwa_conv_result res);
/* The end of a call request the conversation code did not carry out: res BUSY (the pool's
 * lock), TOO_MANY (409 TooManyConversations), any other 409 Conflict saying msg. */
int ucwa_calls_conflict(ucwa_req *q, ucwa_conv_result res, const char *msg);
int ucwa_calls_number(ucwa_req *q, const ucwa_voice_user *vu, const char *dialled,
                      const char **to, const char **gw_set, int *rv);

#endif
