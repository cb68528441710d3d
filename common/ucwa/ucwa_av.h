/* The audioVideo modality of a conversation (UCWA 2.0 calls between applications): the
 * call record with its session descriptions, and the call's resources. The invitation
 * state machine (forking to every endpoint, first answer wins, decline, cancel, timeout,
 * hang-up) is the conversation's (common/ucwa/ucwa_conv), shared with messaging; this
 * object owns what is a call's own: the offer and answer relayed byte for byte, the
 * negotiation, the audioVideo and audioVideoSession resources, renegotiations.
 *
 * Hrefs, relative to an application {A} (C the conversation, I the side's invitation):
 *   {A}/communication/audioVideoInvitations/{I}        the side's audioVideoInvitation
 *   .../{I}/audioVideoNegotiation                       the answer, for the caller
 *   {A}/communication/conversations/{C}/audioVideo      the modality
 *   .../audioVideo/audioVideoSession                    the session (once connected)
 *   .../audioVideoSession/renegotiations/{n}            a renegotiation
 *
 * SDP is opaque: stored as it came (up to UCWA_SDP_BLOB_MAX, with its Content-Type, a
 * multipart offer whole), rendered as a data URI per request. */
#ifndef UCWA_AV_H
#define UCWA_AV_H

#include <apr_pools.h>
#include <jansson.h>

#include "ucwa_conv.h"
#include "ucwa_store.h"

/* --- the call record --------------------------------------------------------------- */

/* Takes a free call record for conversation slot conv (gen): its index, or -1 when
 * UcwaMaxCalls are in progress. */
int ucwa_av_call_new_locked(ucwa_store *s, int conv, apr_uint32_t conv_gen);
/* The call record of c, or NULL (none, or not c's any more). */
ucwa_call *ucwa_av_call_of_locked(ucwa_store *s, const ucwa_conv *c);
/* Frees c's call record and gives its descriptions' pages back. */
void ucwa_av_call_free_locked(ucwa_store *s, ucwa_conv *c);
/* Stores a description of c's call (len <= UCWA_SDP_BLOB_MAX, ctype as it came). -1 if c
 * has no call record. */
int ucwa_av_put_locked(ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind,
                       const char *ctype, const char *body, apr_size_t len);
/* A description of c's call as a data URI (copied into p), or NULL when there is none. */
const char *ucwa_av_uri_locked(ucwa_store *s, const ucwa_conv *c, ucwa_sdp_kind kind,
                               apr_pool_t *p);

/* The call's side that called, its phase (0: no call) and each side's invitation id: a call
 * conversation's own, or those of a call added to an IM conversation. */
int ucwa_av_caller(const ucwa_conv *c);
ucwa_conv_phase ucwa_av_phase(const ucwa_conv *c);
const char *ucwa_av_invitation_id(const ucwa_conv *c, int side);
/* The call was answered (now or before it ended). */
int ucwa_av_accepted(const ucwa_conv *c);

/* Fills the view's media (its data URIs) from the store, for rendering after the lock. */
void ucwa_av_view_media_locked(ucwa_store *s, ucwa_conv_view *v, apr_pool_t *p);

/* --- resources (new references: the caller owns them) ------------------------------ */

json_t *ucwa_av_invitation(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_av_modality(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_av_negotiation(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_av_session(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_av_renegotiation(apr_pool_t *p, const ucwa_conv_view *v);

/* The hrefs of the side's invitation, of the modality, of the current renegotiation. */
const char *ucwa_av_href_invitation(apr_pool_t *p, const ucwa_conv_view *v);
const char *ucwa_av_href_modality(apr_pool_t *p, const ucwa_conv_view *v);
const char *ucwa_av_href_renegotiation(apr_pool_t *p, const ucwa_conv_view *v);

#endif
