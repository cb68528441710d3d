/* 1:1 instant messaging in the session store (its ucwa_conv table): conversations, the
 * messagingInvitation on each side, participants, the messaging modality, messages and
 * typing; the resources as JSON, and the events of every transition, posted to the
 * applications concerned. No httpd here: the HTTP side is mod_ucwa/ucwa_messaging.
 *
 * The caller holds the store lock around every call, and wakes the applications a
 * transition lists in its ucwa_conv_touched (ucwa_store_post_locked only bumps their seq word).
 *
 * Ids. A conversation and the invitation of each side have ids of 32 hex digits: the
 * record's slot in 8, then 24 random ones. Hrefs, relative to an application {A}:
 *   {A}/communication/conversations/{C}                       conversation
 *   .../{C}/messaging, .../messaging/messages/{n}, .../messaging/typingParticipants
 *   .../{C}/participants, .../participants/{sip}, .../participants/{sip}/messaging
 *   {A}/communication/messagingInvitations/{I}                 the side's invitation
 *   .../{C}/messaging/addMessaging      messaging added to a call's conversation, whose
 *                                       own messagingInvitations are beside the call's
 *                                       (docs/extensions.md section 19)
 *
 * Who sees what. The inviter's application (party 0) sees the conversation until it
 * ends. Every application of the invited user that had made itself available with
 * Messaging when the invitation came (at most UCWA_CONV_ENDPOINTS, in slot order) is an
 * endpoint: it sees the conversation while the invitation is open; once one accepts,
 * only that one does. Each sees its side's invitation until the record is freed
 * (UCWA_CONV_RETAIN after the end). Anyone else: as if nothing existed.
 *
 * Events (all High priority; sender communication {A}/communication or conversation
 * {A}/communication/conversations/{C}), in this order:
 *
 *   invite, to the inviter:   communication  messagingInvitation started (embedded,
 *                                            Outgoing, Connecting, operationId, cancel)
 *                             communication  conversation added (Connecting)
 *                             conversation   localParticipant added (embedded)
 *                             conversation   messaging updated (Connecting)
 *           to each endpoint: communication  messagingInvitation started (Incoming,
 *                                            accept, decline, message, from embedded)
 *                             communication  conversation added (Incoming)
 *                             conversation   localParticipant added
 *                             conversation   participant added (the inviter)
 *           nobody to alert:  the inviter's four events, then "fail" with Unreachable
 *   accept, to the accepter:  communication  messagingInvitation updated (no accept,
 *                                            decline: it is answered)
 *                             conversation   messaging updated (Connected)
 *                             communication  conversation updated (Connected)
 *                             conversation   participantMessaging added in localParticipant
 *                             conversation   participantMessaging added in participant
 *                             conversation   participant updated
 *                             communication  messagingInvitation completed, Success
 *                             conversation   message completed (Incoming): the first message
 *           to the inviter:   communication  conversation updated (Connected)
 *                             conversation   participant added
 *                             conversation   participantMessaging added in participant
 *                             conversation   participantMessaging added in localParticipant
 *                             conversation   messaging updated (Connected)
 *                             communication  messagingInvitation completed, Success,
 *                                            acceptedByParticipant embedded
 *                             conversation   message completed (Outgoing): the first message
 *           to other endpoints: "close" with Informational / ConnectedElsewhere
 *   fail (decline, timeout, cancel, unreachable):
 *           to the inviter:   conversation   messaging updated (Disconnected)
 *                             communication  messagingInvitation completed, Failure, reason
 *                             communication  conversation deleted
 *           to each endpoint ("close"):
 *                             communication  messagingInvitation completed, Failure, reason
 *                             communication  conversation deleted
 *   leave (DELETE the conversation, stopMessaging, the application ends):
 *           to the leaver:    conversation   messaging updated (Disconnected)
 *                             communication  conversation deleted
 *           to the other:     conversation   participant deleted in typingParticipants
 *                                            (if the leaver was typing)
 *                             conversation   participant deleted (the leaver)
 *                             conversation   messaging updated (Disconnected)
 *                             communication  conversation deleted
 *   message, to the sender:   conversation   message completed (Outgoing), Success
 *            to the other:    conversation   participant deleted in typingParticipants
 *                                            (if the sender was typing)
 *                             conversation   message completed (Incoming), Success,
 *                                            the text in plainMessage / htmlMessage
 *   typing, to the other:     conversation   participant added in typingParticipants
 *                                            (not again while it lasts); UCWA_CONV_TYPING
 *                                            after the last typing, deleted (tick)
 *
 * Failure reasons (event "status":"Failure", "reason":{code, subcode, message}):
 *   inviter: RemoteFailure/Unreachable (no endpoint: offline, unknown, not available for
 *            Messaging, or every endpoint went away), RemoteFailure/Declined,
 *            RemoteFailure/Timeout, LocalFailure/Canceled
 *   endpoints: Informational/ConnectedElsewhere (another endpoint accepted),
 *            Informational/Declined, Informational/Missed (timeout, or the inviter
 *            canceled or went away) */
#ifndef UCWA_CONV_H
#define UCWA_CONV_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "ucwa_message.h"
#include "ucwa_store.h"

#define UCWA_CONV_PER_APP 16                    /* live conversations of one application */
#define UCWA_CONV_TYPING apr_time_from_sec(5)   /* a typing indicator lasts */
#define UCWA_CONV_RETAIN apr_time_from_sec(60)  /* an ended record stays readable */
#define UCWA_CONV_SUBJECT_CHARS 250
#define UCWA_CONV_OPID_CHARS 50

typedef struct {
    int n;
    int app[UCWA_CONV_ENDPOINTS + 4];
} ucwa_conv_touched;

typedef enum {
    UCWA_CONV_OK = 0,
    UCWA_CONV_FULL,            /* no free record: the table is full */
    UCWA_CONV_TOO_MANY,        /* the application has UCWA_CONV_PER_APP conversations */
    UCWA_CONV_TOO_LARGE,       /* an event would not fit an event slot */
    UCWA_CONV_STATE,           /* not in a state for this (e.g. messages before Connected) */
    UCWA_CONV_BUSY,            /* the pool's outbox is full: try again later */
    UCWA_CONV_PENDING,         /* taken: the pool decides (an accept or decline that other
                                * Front Ends' endpoints could answer too) */
    UCWA_CONV_NO_CALL          /* a call, and UcwaMaxCalls are in progress */
} ucwa_conv_result;

/* --- the table ------------------------------------------------------------------- */

/* The record a conversation id names, or -1. */
int ucwa_conv_find_locked(ucwa_store *s, const char *id);
/* The record conversation id names as application app sees it (*side its side), or -1
 * when there is none or app does not see it. */
int ucwa_conv_find_seen_locked(ucwa_store *s, const char *id, int app, int *side);
/* The record an invitation id names (*side: whose invitation), or -1. */
int ucwa_conv_find_invitation_locked(ucwa_store *s, const char *id, int *side);

/* The side (0, 1) from which application app (slot, generation) sees conversation c,
 * or -1 when it does not. */
int ucwa_conv_side(const ucwa_conv *c, int app, apr_uint32_t gen);
/* The same for the invitation of side (0, 1): 1 if app sees it. */
int ucwa_conv_sees_invitation(const ucwa_conv *c, int side, int app, apr_uint32_t gen);

/* Live (not ended) conversations app started or accepted. */
int ucwa_conv_count_locked(ucwa_store *s, int app, apr_uint32_t gen);

/* One past the last record in use (raised by an invitation, lowered as the last ones
 * are freed): scans of the table stop there. */
apr_uint32_t ucwa_conv_used_locked(ucwa_store *s);

/* --- resources (JSON owned by p) ---------------------------------------------------- */

typedef struct {
    const ucwa_conv *c;
    int side;                  /* whose view: 0 the inviter, 1 the invited user */
    const char *base;          /* the viewing application's URL path; "" in an event's view,
                                * whose hrefs stay relative to it (common/ucwa/ucwa_event) */
    int elsewhere;             /* side 1: another endpoint took the invitation */
    int answered;              /* side 1: no accept/decline, even while inviting */
    int calls;                 /* the viewing application takes calls (Audio or Video) */
    int phone_ok;              /* ... and its policy offers phone audio (outside_voice) */
    int added_msg;             /* a call's conversation: the view is of the messagingInvitation
                                * of messaging added to it (addMessaging) */
    /* a call's descriptions as data URIs (NULL: none), filled by ucwa_av_view_media_locked */
    const char *offer, *answer, *reneg_offer, *reneg_answer;
} ucwa_conv_view;

/* The view of application app (which must see c, side given) for its events: the hrefs
 * built from it are relative to the application (base ""), as the event rings hold them. */
void ucwa_conv_view_of_locked(ucwa_store *s, const ucwa_conv *c, int side, int app,
                       ucwa_conv_view *v);
/* The same for a response: the hrefs carry the application's path. */
void ucwa_conv_view_res_locked(ucwa_store *s, const ucwa_conv *c, int side, int app,
                               ucwa_conv_view *v);

json_t *ucwa_conv_res_conversation(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_conv_res_invitation(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_conv_res_messaging(apr_pool_t *p, const ucwa_conv_view *v);
/* local: the viewer's own participant, else the other one. */
json_t *ucwa_conv_res_participant(apr_pool_t *p, const ucwa_conv_view *v, int local);
json_t *ucwa_conv_res_participants(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_conv_res_participant_messaging(apr_pool_t *p, const ucwa_conv_view *v, int local);
json_t *ucwa_conv_res_typing(apr_pool_t *p, const ucwa_conv_view *v, apr_time_t now);
/* Which participant a {sip} path segment names from this view: 1 local, 0 the other,
 * -1 none (case-insensitive; the other only once it is in the conversation). */
int ucwa_conv_participant_of(const ucwa_conv_view *v, const char *sip);

/* The invitation's state from this view (Connecting, Connected, Failed, ...). */
const char *ucwa_conv_invitation_state(const ucwa_conv_view *v);
/* The href of the view's conversation. */
const char *ucwa_conv_href(apr_pool_t *p, const ucwa_conv_view *v);

/* "/Date(ms)/", the JSON date form of the captures. */
const char *ucwa_conv_date(apr_pool_t *p, apr_time_t t);

/* --- transitions ------------------------------------------------------------------ */

typedef struct {
    int app;                   /* the inviting application (live, available) */
    const char *to;            /* the invited address: lower case, without "sip:" */
    const char *subject;       /* NULL: "" */
    const char *importance;    /* canonical Normal / Urgent / Emergency; NULL: Normal */
    const char *thread_id;     /* NULL: a new one */
    const char *operation_id;  /* NULL: none */
    ucwa_msg_format first_format;
    const char *first;         /* the first message as a data URI, or NULL */
    apr_time_t expires;        /* when an unanswered invitation fails */
    const char *const *remote_fes;   /* other Front Ends of the pool alerting `to` too */
    int nremote;
    /* a call (kind UCWA_CONV_KIND_AV): the offer as it came, checked (common/ucwa/ucwa_sdp) */
    ucwa_conv_kind kind;
    int video;
    const char *session_context;
    const char *offer_type, *offer;
    apr_size_t offer_len;
    const char *offer_key;     /* remote_fes: the offer's key in the pool's table */
    const char *gw_set;        /* a call to a number (to "tel:+E164", the SIP side): the
                                * gateway set of the route the voice policy chose, or NULL */
    const char *sip_fe;        /* a pooled Front End's SIP side ("~sip:FE", UcwaSip On): a
                                * call with nobody to ring goes there (offer_key set), or
                                * NULL */
    /* call via work (startPhoneAudio, kind AV, no offer): the SIP side calls phone_number
     * (tel:+E164, through gateway set phone_gw or NULL) first, then `to`; line: the
     * caller's LineURI or NULL */
    int phone;
    const char *phone_number, *phone_gw, *phone_line;
    int phone_fail;            /* ucwa_conv_phone_fail: the voice policy refused a number
                                * (the invitation fails at once, nothing goes to SIP) */
    /* the callee forwards (mod_ucwa/ucwa_fwd_app.c): its applications do not ring here,
     * the SIP side calls fwd_to (tel:+E164 through gw_set, or sip:...) naming fwd_line
     * (the callee's LineURI or SIP URI) in Diversion, or, with fwd_line "", rings the
     * callee (fwd_to) as for a call from SIP; NULL: not forwarded */
    const char *fwd_to, *fwd_line;
    int anchor;                /* UcwaSipAnchorAppCalls: a callee with applications here is
                                * rung through the SIP side (as fwd_to its own URI) */
} ucwa_conv_invite_in;

/* Starts a conversation: *idx is its record. OK (the invitation may have failed at
 * once: nobody to alert), FULL, TOO_MANY or TOO_LARGE (nothing done). */
ucwa_conv_result ucwa_conv_invite_locked(ucwa_store *s, const ucwa_conv_invite_in *in,
                                  apr_time_t now, apr_pool_t *p, int *idx,
                                  ucwa_conv_touched *t);

/* Endpoint app accepts (OK), or STATE (no longer open), TOO_MANY; PENDING when other
 * Front Ends alert the user too (the pool decides: ucwa_conv_claimed_locked), BUSY. */
ucwa_conv_result ucwa_conv_accept_locked(ucwa_store *s, int idx, int app, apr_time_t now,
                                  apr_pool_t *p, ucwa_conv_touched *t);
/* An endpoint declines (the invitation ends for every endpoint). STATE if not open. */
ucwa_conv_result ucwa_conv_decline_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                   ucwa_conv_touched *t);
/* Endpoint app declines: the same, unless other Front Ends alert the user too: then
 * PENDING, and the pool decides (ucwa_conv_claimed_locked). */
ucwa_conv_result ucwa_conv_decline_by_locked(ucwa_store *s, int idx, int app, apr_time_t now,
                                             apr_pool_t *p, ucwa_conv_touched *t);
/* The inviter gives up while inviting. STATE if not open; BUSY (nothing done) when other
 * Front Ends alert the user and the pool's outbox cannot take the news. */
ucwa_conv_result ucwa_conv_cancel_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                  ucwa_conv_touched *t);
/* side leaves a connected conversation: it ends for both. STATE if not connected; BUSY
 * (nothing done) when the other side is on another Front End and the pool's outbox is full. */
ucwa_conv_result ucwa_conv_leave_locked(ucwa_store *s, int idx, int side, apr_time_t now,
                                 apr_pool_t *p, ucwa_conv_touched *t);
/* side sends text (already checked) in a connected conversation: *number is the
 * message's. uri is the text as its data URI (ucwa_message_data_uri), made before the
 * transaction so the lock is not held for it; NULL: made here. STATE if not connected,
 * TOO_LARGE if its event would not fit. */
ucwa_conv_result ucwa_conv_message_locked(ucwa_store *s, int idx, int side, ucwa_msg_format fmt,
                                          const char *text, apr_size_t len, const char *uri,
                                          const char *operation_id, apr_time_t now,
                                          apr_pool_t *p, apr_uint32_t *number,
                                          ucwa_conv_touched *t);
/* side is typing. STATE if not connected. */
ucwa_conv_result ucwa_conv_typing_locked(ucwa_store *s, int idx, int side, apr_time_t now,
                                  apr_pool_t *p, ucwa_conv_touched *t);

/* A call's endpoint app answers with a session description (ctype, body, len as they came;
 * cid: the offer part it took, or NULL; its sessionContext or NULL). provisional: early
 * media, the call keeps ringing (the caller gets the negotiation). Else the first answer
 * wins, as ucwa_conv_accept_locked. STATE when no longer open, TOO_MANY. */
ucwa_conv_result ucwa_conv_answer_locked(ucwa_store *s, int idx, int app, int provisional,
                                         const char *ctype, const char *body, apr_size_t len,
                                         const char *cid, const char *session_context,
                                         apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
/* side offers a renegotiation of a connected call (hold, video, ICE restart): the other
 * side gets audioVideoRenegotiation started. STATE when not connected or one is open, but
 * for a caller's renegotiation told by the pool that crossed the callee's open one here
 * (glare): the caller's wins, the callee gets its own completed Failure (Conflict) before
 * the caller's started (docs/extensions.md section 19). */
ucwa_conv_result ucwa_conv_renegotiate_locked(ucwa_store *s, int idx, int side,
                                              const char *ctype, const char *body,
                                              apr_size_t len, const char *operation_id,
                                              apr_time_t now, apr_pool_t *p,
                                              ucwa_conv_touched *t);
/* side answers (body) or dismisses (body NULL) renegotiation number n: its originator gets
 * it completed. STATE when n is not open or side is its originator. */
ucwa_conv_result ucwa_conv_reneg_answer_locked(ucwa_store *s, int idx, int side, apr_uint32_t n,
                                               const char *ctype, const char *body,
                                               apr_size_t len, apr_time_t now, apr_pool_t *p,
                                               ucwa_conv_touched *t);

/* The record and side whose audioVideoInvitation id names: a call conversation's own
 * invitation, or a call added to an IM conversation; -1 when none. */
int ucwa_conv_find_av_invitation_locked(ucwa_store *s, const char *id, int *side);

/* side adds a call to its connected IM conversation (addAudio, addAudioVideo): the other
 * side's application rings until expires. The other side on another Front End of the
 * pool: offer_key names the offer in the pool's table, and that Front End rings it ("av-add").
 * STATE when not connected, a call is already in it, or the other party's application here
 * takes no calls; BUSY (the pool's outbox is full); NO_CALL; TOO_LARGE. */
ucwa_conv_result ucwa_conv_add_av_locked(ucwa_store *s, int idx, int side, int video,
                                         const char *ctype, const char *body, apr_size_t len,
                                         const char *session_context, const char *operation_id,
                                         const char *offer_key, apr_time_t expires,
                                         apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
/* side ends the call of record idx: cancels (the caller, ringing), declines (the callee,
 * ringing) or hangs up (connected). An added call ends alone (the conversation goes on with
 * messaging, unless messaging was stopped); a call conversation ends whole, unless messaging
 * was added to it and is connected: then the call ends alone ("av-off" to the other side's
 * Front End). STATE if no call is ringing or connected; BUSY as ucwa_conv_leave_locked. */
ucwa_conv_result ucwa_conv_stop_av_locked(ucwa_store *s, int idx, int side, int app,
                                          apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
/* side stops messaging (stopMessaging): with a call going on, messaging alone ends; else
 * as ucwa_conv_leave_locked. In a call's conversation with messaging added (ringing or
 * connected), that messaging ends alone: canceled by its adder, declined by the other side
 * while it rings, stopped once connected. */
ucwa_conv_result ucwa_conv_stop_messaging_locked(ucwa_store *s, int idx, int side,
                                                 apr_time_t now, apr_pool_t *p,
                                                 ucwa_conv_touched *t);

/* side adds messaging to its connected call's conversation (addMessaging): the other
 * party's application gets a messagingInvitation (accept with ucwa_conv_accept_locked,
 * decline with ucwa_conv_decline_by_locked) until expires. The other party on another Front
 * End of the pool: that Front End rings it ("msg-add"). STATE when the call is not
 * connected, messaging is already added or ringing, or the other party's application here
 * does not take messaging; BUSY (the pool's outbox is full). */
ucwa_conv_result ucwa_conv_add_messaging_locked(ucwa_store *s, int idx, int side,
                                                const char *operation_id, apr_time_t expires,
                                                apr_time_t now, apr_pool_t *p,
                                                ucwa_conv_touched *t);
/* The record and side whose messagingInvitation of messaging added to a call's
 * conversation id names, or -1. */
int ucwa_conv_find_msg_invitation_locked(ucwa_store *s, const char *id, int *side);

/* Time passes for a connected call of record idx: a side whose application has had no
 * event request parked for `after` is Suspended (its session lost the network), and gets
 * audioVideoSession updated for when it comes back. */
void ucwa_conv_av_watch_locked(ucwa_store *s, int idx, apr_interval_time_t after, apr_time_t now,
                               apr_pool_t *p, ucwa_conv_touched *t);

/* Application app is ending (still live): its part in record idx ends. */
void ucwa_conv_app_gone_locked(ucwa_store *s, int idx, int app, apr_time_t now, apr_pool_t *p,
                        ucwa_conv_touched *t);
/* Time passes for record idx: an unanswered invitation fails, a typing indicator ends,
 * an ended record past UCWA_CONV_RETAIN is freed. */
void ucwa_conv_tick_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                    ucwa_conv_touched *t);

/* --- a pool of Front Ends (common/ucwa/ucwa_pool) --------------------------------- */

/* The mirror of the conversation whose key is (fe, conv), or -1. */
int ucwa_conv_find_mirror_locked(ucwa_store *s, const char *fe, const char *conv);

typedef struct {
    const char *fe, *conv;     /* the key: the inviter's Front End and record */
    const char *to;            /* the invited user here */
    const char *from, *from_name;
    int from_html;
    const char *thread_id, *subject, *importance;
    const char *first;         /* data URI or NULL */
    ucwa_msg_format first_format;
    apr_time_t expires;
    /* a call (kind UCWA_CONV_KIND_AV): the offer, as the pool's thread read it */
    ucwa_conv_kind kind;
    int video;
    const char *session_context;
    const char *offer_type, *offer;
    apr_size_t offer_len;
} ucwa_conv_mirror_in;

/* A call's answer given on another Front End (the pool's thread read its bytes). */
typedef struct {
    const char *ctype, *body;
    apr_size_t len;
    const char *cid, *session_context;   /* NULL or "": none */
} ucwa_conv_answer_in;

/* An invitation from another Front End: alerts the invited user's endpoints here. OK,
 * STATE (none here: nothing made), FULL, TOO_LARGE, NO_CALL (a call, and UcwaMaxCalls
 * are in progress here). */
ucwa_conv_result ucwa_conv_mirror_locked(ucwa_store *s, const ucwa_conv_mirror_in *in,
                                         apr_time_t now, apr_pool_t *p, int *idx,
                                         ucwa_conv_touched *t);
/* The inviter's side: an endpoint on fe accepted (its record: peer); a call's answer in
 * answer (NULL for messaging, or when it was lost: the call connects without one). */
ucwa_conv_result ucwa_conv_remote_accepted_locked(ucwa_store *s, int idx, const char *fe,
                                                  const char *peer, const char *name, int html,
                                                  const ucwa_conv_answer_in *answer,
                                                  apr_time_t now, apr_pool_t *p,
                                                  ucwa_conv_touched *t);
/* The caller's side: an endpoint on another Front End sent a provisional answer (early
 * media): the caller gets the negotiation. STATE when the call no longer rings. */
ucwa_conv_result ucwa_conv_remote_provisional_locked(ucwa_store *s, int idx,
                                                     const ucwa_conv_answer_in *answer,
                                                     apr_time_t now, apr_pool_t *p,
                                                     ucwa_conv_touched *t);
/* The inviter's side: a Front End it invited had nobody to alert. */
/* A call added across Front Ends, from the other side's Front End; call: its offer's key
 * (a message about another call is ignored). av-add: the offer rings the application here
 * (or the caller's side is told it failed); av-answer: the callee's (provisional) answer
 * (a final one that comes after the call ended here: the callee's side is told to end);
 * av-stop: canceled, declined or hung up there. */
void ucwa_conv_remote_add_av_locked(ucwa_store *s, int idx, const char *call, int video,
                                    const char *ctype, const char *body, apr_size_t len,
                                    const char *session_context, apr_time_t expires,
                                    apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
void ucwa_conv_remote_answer_added_locked(ucwa_store *s, int idx, const char *call,
                                          int provisional, const ucwa_conv_answer_in *answer,
                                          apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
void ucwa_conv_remote_stop_av_locked(ucwa_store *s, int idx, const char *call, apr_time_t now,
                                     apr_pool_t *p, ucwa_conv_touched *t);
void ucwa_conv_remote_gone_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                  ucwa_conv_touched *t);
/* Messaging added to a call's conversation across Front Ends, from the other side's Front
 * End. msg-add: the other side added it, the application here gets the invitation until
 * expires (or, when it cannot, the adder's side is answered msg-off: declined);
 * msg-accept: the application there accepted (one that comes after it ended here: the
 * acceptor's side is answered msg-off). msg-off is ucwa_conv_stop_messaging_locked. */
void ucwa_conv_remote_add_messaging_locked(ucwa_store *s, int idx, apr_time_t expires,
                                           apr_time_t now, apr_pool_t *p,
                                           ucwa_conv_touched *t);
void ucwa_conv_remote_msg_accepted_locked(ucwa_store *s, int idx, apr_time_t now,
                                          apr_pool_t *p, ucwa_conv_touched *t);
/* The invitation was accepted on another Front End: this side's endpoints stop ringing. */
void ucwa_conv_elsewhere_locked(ucwa_store *s, int idx, apr_time_t now, apr_pool_t *p,
                                ucwa_conv_touched *t);
/* The verdict on this side's claim (accept or decline by the endpoint in c->claiming). */
void ucwa_conv_claimed_locked(ucwa_store *s, int idx, int accept, int won, apr_time_t now,
                              apr_pool_t *p, ucwa_conv_touched *t);
/* The other side's Front End is gone: what it held ends here as a party leaving. */
void ucwa_conv_fe_gone_locked(ucwa_store *s, const char *fe, apr_time_t now, apr_pool_t *p,
                              ucwa_conv_touched *t);
/* The same, but for the conversations keep says 1 of (the SIP side's calls a restarted
 * ucwa-sipd took back: their key's conversation part, kconv). */
typedef int ucwa_conv_keep_fn(const char *kconv, void *arg);
void ucwa_conv_fe_gone_keep_locked(ucwa_store *s, const char *fe, ucwa_conv_keep_fn *keep,
                                   void *arg, apr_time_t now, apr_pool_t *p,
                                   ucwa_conv_touched *t);
/* The remote side of record idx: 0 or 1 (the side whose party is elsewhere). */
int ucwa_conv_remote_side(const ucwa_conv *c);

/* --- consistency ------------------------------------------------------------------ */

typedef struct {
    apr_uint32_t live, inviting, connected, ended;
} ucwa_conv_stats;

/* Counts, and a check of the invariants the code relies on: NULL when consistent.
 * Reads the records in use only (ucwa_conv_used_locked). */
const char *ucwa_conv_check_locked(ucwa_store *s, ucwa_conv_stats *st, apr_pool_t *p);

#endif
