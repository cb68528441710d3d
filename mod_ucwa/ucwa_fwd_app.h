/* Calls from another application follow the callee's forwarding settings (issue 13): the
 * callForwardingSettings a call from SIP obeys (common/ucwa/ucwa_snr decides, as in
 * ucwa-sipd) are read when an application calls a user of this server. Immediate forward:
 * the callee's applications do not ring; the call goes to the SIP side (the conversation's
 * other party stays the callee) and ucwa-sipd sends it to the target as the caller's own
 * call to that number would go (rtpengine anchors the caller's WebRTC offer, plain RTP
 * toward SIP), naming the callee's work number in Diversion (ucwa_sipd_fwd.c). See
 * docs/ARCHITECTURE.md, "Calls from another application, forwarded". */
#ifndef UCWA_FWD_APP_H
#define UCWA_FWD_APP_H

#include "ucwa_conv.h"
#include "ucwa_http.h"

/* Before an application's call to in->to (a SIP address) is invited, with UcwaSip On on
 * a single Front End: when the callee forwards at once, and the callee's voice policy
 * and route still allow it, sets in->fwd_to, in->fwd_line and in->gw_set (1); else 0 and
 * the callee's applications ring (a database that cannot be read is logged, not an
 * error of the call). */
int ucwa_fwd_app_route(ucwa_req *q, ucwa_conv_invite_in *in);

#endif
