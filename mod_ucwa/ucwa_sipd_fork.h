/* Inside ucwa-sipd: single number reach and call forwarding acted on for calls from SIP
 * (ucwa_sipd_fork.c). The plan is common/ucwa/ucwa_snr's; here its legs: INVITEs through
 * UcwaSipProxy to the simultaneous ring or forwarding target, each with rtpengine's
 * offer made from the caller's description under a call-id of its own, the first answer
 * wins (the caller gets that leg's description in its 200), the others are canceled.
 * ucwa_sipd_call.c calls the sipd_fork_* hooks; the sipd_call_* functions are its
 * answers to a leg's outcome. See docs/ARCHITECTURE.md, "The SIP side". */
#ifndef UCWA_SIPD_FORK_H
#define UCWA_SIPD_FORK_H

#include "ucwa_sipd_int.h"

typedef struct sipd_fork sipd_fork;
typedef struct sipd_call sipd_call;

/* The user an INVITE from SIP is for: its request URI's user@host, or, for a number (an
 * E.164 user part, or user=phone), the user whose LineURI it is; and that user's plan
 * (NULL: the applications ring, nothing else). 0 with *user (malloc'ed, lower case) and
 * *fork, or -1 when the INVITE was answered here (404 for a number that is nobody's,
 * 503 when the database cannot be read). */
int sipd_fork_target(sipd *d, const struct sip_msg *msg, char **user, sipd_fork **fork);

/* The caller as the legs show it (From and P-Asserted-Identity): the INVITE's From URI. */
void sipd_fork_caller(sipd_fork *f, const struct sip_msg *msg);
/* The applications ring (no fork, or no immediate forward). */
int sipd_fork_rings_apps(const sipd_fork *f);
/* The call was taken (c: its session accepted, its key and the caller's tag set); offer:
 * the caller's description; apps: the applications ring. Arms the legs' timers. */
void sipd_fork_start(sipd_fork *f, sipd_call *c, const char *offer, int apps);
/* A leg is ringing or still to be called. */
int sipd_fork_live(const sipd_fork *f);
/* A leg answered: the call is that leg's now. */
int sipd_fork_won(const sipd_fork *f);
/* The milliseconds the caller may ring, given the applications' ring (ms): longer when
 * an unanswered call forward starts later than that. */
apr_int64_t sipd_fork_ring_ms(const sipd_fork *f, apr_int64_t ring);
/* The applications answered or declined: the legs are canceled, none is called any more. */
void sipd_fork_cancel(sipd_fork *f);
/* No application rings after all (none in the pool): the legs waiting go now. */
void sipd_fork_apps_none(sipd_fork *f);
/* The call ends: legs canceled or hung up, rtpengine forgets theirs; f is freed (later,
 * when an NG request about it is still out). NULL: nothing. */
void sipd_fork_free(sipd_fork *f);

/* acceptWithPhoneAudio: a fork of one leg to number (tel:+E164, through gateway set gw or
 * NULL) for call c, whose callee is user, whose caller's From URI is caller and whose
 * description is offer; called at once. Its answer is sipd_call_leg_answered, its failure
 * sipd_call_leg_failed. NULL when out of memory. */
sipd_fork *sipd_fork_phone(sipd *d, sipd_call *c, const char *user, const char *caller,
                           const char *offer, const char *number, const char *gw);

/* The remote party's re-INVITE (its description offer) in a call answered on a leg
 * (acceptWithPhoneAudio, replaceWithPhoneAudio, a forward or simultaneous ring answered):
 * passed on to that leg through rtpengine; the answer comes to sipd_call_leg_reanswered.
 * 0 under way, -1 no answered leg or one is under way already. */
int sipd_fork_reoffer(sipd_fork *f, const char *offer);

/* The answered leg's own re-INVITE (the mobile holds or resumes): its dialog (NULL: no
 * leg answered), whether the remote's is being passed to it, rtpengine's offer toward the
 * remote from its description (the result to sipd_call_leg_offered; -1: no leg, or one is
 * under way), and the remote's answer back (the result to sipd_call_leg_reanswered). */
struct sip_dialog *sipd_fork_leg_dialog(const sipd_fork *f);
int sipd_fork_leg_busy(const sipd_fork *f);
int sipd_fork_leg_offer(sipd_fork *f, const char *offer);
int sipd_fork_leg_answer(sipd_fork *f, const char *answer);

/* ucwa_sipd_call.c's side. */
/* The Contact of a request of ours in a dialog (sip_send_h). */
int sipd_re_contact(enum sip_transp tp, const struct sa *src, const struct sa *dst,
                    struct mbuf *mb, void *arg);
struct sipsess;
/* Our own re-INVITE carrying sdp in the session's dialog (not sipsess_modify: libre's
 * session keeps a refusal to itself), its responses to resp; 0 when sent. */
int sipd_reinvite(sipd *d, struct sip_request **req, struct sipsess *sess, const char *sdp,
                  sip_resp_h *resp, void *arg);
/* The ACK of a 2xx to such a re-INVITE (the dialog updated from it first). */
void sipd_reinvite_ack(sipd *d, struct sip_dialog *dlg, const struct sip_msg *msg);
/* rtpengine's offer for the remote party from the leg's re-INVITE, or NULL (it failed:
 * the leg's re-INVITE gets 488). */
void sipd_call_leg_offered(sipd_call *c, const char *sdp);
const char *sipd_call_key(const sipd_call *c);       /* the conversation's key */
const char *sipd_call_tag(const sipd_call *c);       /* the caller's From tag */
/* A leg answered with sdp (rtpengine's, for the caller): the caller gets 200 with it;
 * the applications' invitation ends answered elsewhere. */
void sipd_call_leg_answered(sipd_call *c, const char *sdp);
/* The unanswered call forward starts: the applications' invitation ends (Missed). */
void sipd_call_stop_apps(sipd_call *c);
/* Nothing rings any more and nobody answered (code: the last leg's failure): the caller
 * gets it (486 and 6xx as they came, else 480). */
void sipd_call_leg_failed(sipd_call *c, int code);
/* The answer to the open re-INVITE (the remote's passed to the leg: sipd_fork_reoffer;
 * the leg's passed to the remote: sipd_fork_leg_answer), rtpengine's; or NULL: refused
 * with code and reason (passed on), or failed (code 0: 488). */
void sipd_call_leg_reanswered(sipd_call *c, const char *sdp, int code, const char *reason);
/* The answered leg hung up: the caller gets a BYE. */
void sipd_call_hangup(sipd_call *c);

#endif
