/* Calls from another application follow the callee's forwarding settings (issue 13): the
 * callForwardingSettings a call from SIP obeys (common/ucwa/ucwa_snr decides, as in
 * ucwa-sipd) are read when an application calls a user of this server. Immediate forward:
 * the callee's applications do not ring; the call goes to the SIP side (the conversation's
 * other party stays the callee) and ucwa-sipd sends it to the target as the caller's own
 * call to that number would go (rtpengine anchors the caller's WebRTC offer, plain RTP
 * toward SIP), naming the callee's work number in Diversion (ucwa_sipd_fwd.c).
 * Simultaneous ring and unanswered call forward: the call goes to the SIP side too, which
 * takes it as a call from SIP to the callee (ucwa_sipd_fwd.c, ucwa_sipd_fork.c). See
 * docs/ARCHITECTURE.md, "Calls from another application, forwarded". */
#ifndef UCWA_FWD_APP_H
#define UCWA_FWD_APP_H

#include "ucwa_conv.h"
#include "ucwa_http.h"

/* Before an application's call to in->to (a SIP address) is invited, with UcwaSip On (on
 * one Front End or a pool: there the caller's Front End's SIP side acts), the callee's
 * settings as its voice policy and routes still allow them: an immediate forward sets
 * in->fwd_to (the target), in->fwd_line (the callee's LineURI or SIP URI) and in->gw_set;
 * a simultaneous ring or unanswered call forward sets in->fwd_to to the callee's own SIP
 * URI and in->fwd_line to "" (the SIP side rings the callee's applications and the
 * legs), *more to the time the caller rings beyond its
 * ring timeout (the unanswered forward's delay). 1 then, else 0 and the callee's
 * applications ring here (a database that cannot be read is logged, not an error of the
 * call). */
int ucwa_fwd_app_route(ucwa_req *q, ucwa_conv_invite_in *in, apr_interval_time_t *more);

/* On a pool with UcwaSipAnchorAppCalls On, a call that ucwa_fwd_app_route left to the
 * callee's applications and that rings on other Front Ends (fes, from
 * ucwa_pool_invitee_fes; not a linked pool's route) is anchored: in->fwd_to becomes the
 * callee's SIP URI (fwd_line ""), fes is emptied, and the caller's Front End's SIP side
 * rings the callee pool-wide as a call from SIP. A callee with applications only here is
 * anchored in the invitation's transaction (common/ucwa/ucwa_conv.c), as on one Front End. */
void ucwa_fwd_app_anchor_pool(ucwa_req *q, ucwa_conv_invite_in *in, apr_array_header_t *fes);

#endif
