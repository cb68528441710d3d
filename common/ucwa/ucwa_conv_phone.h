/* The phoneAudio modality of a conversation: call via work (UCWA 2.0 startPhoneAudio,
 * docs/extensions.md section 23). The user's own phone is called first by the SIP side
 * (ucwa-sipd, RFC 3725 third-party call control), then the target, and rtpengine bridges
 * the two; the conversation is a call (kind AV, without descriptions: c->phone) whose other
 * party is the SIP side's Front End (UCWA_POOL_SIP_FE), so the invitation state machine,
 * timeouts, logs and events are the audioVideo call's (common/ucwa/ucwa_conv); this object
 * owns what is phoneAudio's own: its resources and rels, the hold state, the progress of
 * the two legs and why a call via work failed.
 *
 * Hrefs, relative to an application {A} (C the conversation, I the invitation):
 *   {A}/communication/phoneAudioInvitations/{I}           the phoneAudioInvitation
 *   {A}/communication/conversations/{C}/phoneAudio         the modality
 *   .../phoneAudio/holdPhoneAudio, resumePhoneAudio, stopPhoneAudio
 *
 * The caller holds the store lock, as for everything in ucwa_conv.h. */
#ifndef UCWA_CONV_PHONE_H
#define UCWA_CONV_PHONE_H

#include <apr_pools.h>
#include <jansson.h>

#include "ucwa_conv.h"
#include "ucwa_store.h"

/* ucwa_conv.phone: 0 an audioVideo call; CVW a call via work (its invitation is a
 * phoneAudioInvitation); ANSWERED an incoming audioVideo call answered on the user's phone
 * (acceptWithPhoneAudio, mod_ucwa/ucwa_phone_accept.c): its invitation stays the
 * audioVideoInvitation it was, its modality is phoneAudio once the phone answered. */
#define UCWA_CONV_PHONE_CVW 1
#define UCWA_CONV_PHONE_ANSWERED 2

/* Why a call via work failed (ucwa_conv.phone_fail), as the SIP side saw it. */
typedef enum {
    UCWA_PHONE_FAIL_NONE = 0,
    UCWA_PHONE_FAIL_CALLBACK_NO_ANSWER,   /* the user's phone rang out (or was rejected) */
    UCWA_PHONE_FAIL_CALLBACK_BUSY,        /* the user's phone was busy (486, 600) */
    UCWA_PHONE_FAIL_CALLBACK_UNREACHABLE, /* the user's phone could not be reached */
    UCWA_PHONE_FAIL_TARGET_BUSY,          /* the target was busy (486, 600) */
    UCWA_PHONE_FAIL_TARGET_DECLINED,      /* the target declined (603) */
    UCWA_PHONE_FAIL_TARGET_NO_ANSWER,     /* the target did not answer in time */
    UCWA_PHONE_FAIL_TARGET_UNREACHABLE,   /* the target could not be reached */
    UCWA_PHONE_FAIL_MEDIA,                /* rtpengine could not bridge the legs */
    UCWA_PHONE_FAIL_CALLBACK_NOT_ALLOWED, /* the voice policy routes no call to the user's
                                           * phone: nothing reaches SIP */
    UCWA_PHONE_FAIL_TARGET_NOT_ALLOWED,   /* ... nor to the target */
    UCWA_PHONE_FAIL_CALLBACK_HUNG_UP,     /* the user hung up their phone while the target
                                           * rang: the user canceled the call */
    UCWA_PHONE_FAIL_MAX
} ucwa_conv_phone_fail;

/* How far the SIP side got (ucwa_conv.phone_leg). */
typedef enum {
    UCWA_PHONE_LEG_CALLING = 0,   /* the INVITE to the user's phone is out */
    UCWA_PHONE_LEG_RINGING,       /* the user's phone rings */
    UCWA_PHONE_LEG_TARGET,        /* the user answered: the target is called */
    UCWA_PHONE_LEG_TARGET_RINGING /* the target rings */
} ucwa_conv_phone_leg;

/* Marks c (being built) as a call via work to its party 1 through the user's phone number
 * (tel:+E164), whose route's gateway set is gw ("" or NULL: the default), showing line
 * (the user's LineURI, or NULL) beside the SIP URI. */
void ucwa_conv_phone_init(ucwa_conv *c, const char *number, const char *gw, const char *line);

/* Resources (new references). */
json_t *ucwa_conv_phone_invitation(apr_pool_t *p, const ucwa_conv_view *v);
json_t *ucwa_conv_phone_modality(apr_pool_t *p, const ucwa_conv_view *v);
const char *ucwa_conv_phone_href_invitation(apr_pool_t *p, const ucwa_conv_view *v);
const char *ucwa_conv_phone_href_modality(apr_pool_t *p, const ucwa_conv_view *v);
/* The caller's failure reason of a call via work that failed with c->phone_fail set. */
json_t *ucwa_conv_phone_reason(const ucwa_conv *c);
const char *ucwa_conv_phone_fail_name(ucwa_conv_phone_fail why);

/* The record of the call via work the SIP side keys kconv (a conversation of this Front
 * End), or -1. */
int ucwa_conv_phone_find_locked(ucwa_store *s, const char *kconv);
/* The SIP side's progress on record idx: the caller gets phoneAudioInvitation updated
 * (and, once the target is called, phoneAudio updated) when the leg moved on. */
void ucwa_conv_phone_progress_locked(ucwa_store *s, int idx, ucwa_conv_phone_leg leg,
                                     apr_time_t now, apr_pool_t *p, ucwa_conv_touched *t);
/* Why it is about to fail (before the SIP side's "declined" or "gone" is applied). */
void ucwa_conv_phone_failing_locked(ucwa_store *s, int idx, ucwa_conv_phone_fail why);

/* holdPhoneAudio (hold 1) and resumePhoneAudio (0) by side on record idx: the SIP side is
 * told (a re-INVITE toward the target), the caller gets phoneAudio updated. OK (also when
 * it already was), STATE (not a connected call via work of that side), BUSY (the outbox
 * is full: nothing done). */
ucwa_conv_result ucwa_conv_phone_hold_locked(ucwa_store *s, int idx, int side, int hold,
                                             apr_time_t now, apr_pool_t *p,
                                             ucwa_conv_touched *t);

/* replaceWithPhoneAudio by side on record idx (a connected audioVideo call whose other
 * party is the SIP side): the number (tel:+E164, through gateway set gw or NULL) is
 * written into the record and the SIP side told ("replace") to call it and move the
 * remote party there. OK; STATE (not such a call, or a move asked already); BUSY (the
 * outbox is full: nothing done). */
ucwa_conv_result ucwa_conv_phone_replace_locked(ucwa_store *s, int idx, int side,
                                                const char *number, const char *gw,
                                                apr_pool_t *p);
/* The SIP side moved the call of record idx to the phone (ok) or could not (the call goes
 * on as it was): the application gets audioVideo updated (Disconnected), then phoneAudio
 * updated (Connected) and conversation updated; or nothing, and may ask again. */
void ucwa_conv_phone_replaced_locked(ucwa_store *s, int idx, int ok, apr_time_t now,
                                     apr_pool_t *p, ucwa_conv_touched *t);

#endif
