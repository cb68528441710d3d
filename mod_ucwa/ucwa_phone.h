/* The HTTP side of call via work (UCWA 2.0 startPhoneAudio, phoneAudioInvitation,
 * phoneAudio; docs/extensions.md section 23); routes in ucwa_route.c. */
#ifndef UCWA_PHONE_H
#define UCWA_PHONE_H

#include "ucwa_config.h"
#include "ucwa_http.h"
#include "ucwa_policy.h"

/* what: the phoneAudioInvitation ({I}) and the conversation's phoneAudio ({C}/phoneAudio/...) */
enum { UCWA_PHONE_INVITATION, UCWA_PHONE_MODALITY, UCWA_PHONE_HOLD, UCWA_PHONE_RESUME,
       UCWA_PHONE_STOP };

/* POST phoneAudioInvitations (communication's startPhoneAudio). */
int ucwa_phone_start(ucwa_req *q, int what);
/* GET the invitation; GET the modality; POST hold, resume, stop. */
int ucwa_phone_call(ucwa_req *q, int what);
/* Call via work is offered (startPhoneAudio) to a user of this policy: EnableOutsideVoice
 * and EnableMobility, the SIP side on (UcwaSip), no pool. */
int ucwa_phone_available(const ucwa_global *g, const ucwa_policy *pol);
/* POST an incoming audioVideoInvitation's acceptWithPhoneAudio (ucwa_phone_accept.c): a
 * call from the SIP side answered on the user's phone (phoneNumber, or makeMeAvailable's). */
int ucwa_phone_accept(ucwa_req *q, int what);
/* POST a connected call's {C}/audioVideo/replaceWithPhoneAudio (the same file): the call
 * with a SIP phone or the PSTN moved to the user's phone. */
int ucwa_phone_replace(ucwa_req *q, int what);

#endif
