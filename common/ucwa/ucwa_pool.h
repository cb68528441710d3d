/* A pool of Front Ends: what this Front End tells the others, and what it does with what
 * they tell it. No httpd and no database here: the pool's thread (mod_ucwa/ucwa_pool)
 * carries the messages through PostgreSQL; this file keeps them in the session store
 * and applies them to it.
 *
 * Outgoing. A transition that the rest of the pool must learn about queues a message in
 * the store's outbox inside the same transaction as the change it announces (so a
 * message is never sent for a change that did not happen, nor a change made without
 * its message), and a user whose presence or endpoints changed is queued once in the
 * dirty ring. The pool's thread takes both, in order, and ships them in one database
 * transaction.
 *
 * Incoming. Messages are JSON objects {"k": kind, ...}, applied in the order of the
 * sequence the database gave them (ucwa_pool_apply_locked). A conversation between two
 * Front Ends has a pool key: the inviter's Front End and its conversation id. The
 * inviter's record is found by that id; the invited side's record (a mirror) by its
 * peer_fe and peer_id, which hold the key.
 *
 *   presence  {fe, sip, av, avail, mod, act, note, loc, last, changed}: the user's state
 *             on fe (avail 0: no application available there any more)
 *   invite    {fe, conv, to, from, name, html, thread, subject, importance, first, ffmt,
 *             expires[, av, video, ctx, sdp]}: alert the local endpoints of `to` (a mirror
 *             is made), or answer gone; a call (av 1) rings the endpoints that declared
 *             Audio or Video, with the caller's sessionContext and the offer sdp names
 *   gone      {fe, conv}: fe had nobody to alert (to the inviter)
 *   invited   {fe, conv, n}: to a SIP side ("~sip:FE") whose call from SIP rang n Front
 *             Ends (ucwa_pool_invite_user; n "gone" back: nobody answers, 480)
 *   accepted  {fe, conv, by, peer, name, html[, sdp, cid, ctx]}: an endpoint on Front End
 *             `by` accepted (a call: with the answer sdp names, the offer part it took,
 *             its sessionContext); its record is peer (to the inviter, which answers left
 *             when the invitation had ended there: a timeout or a cancel crossed the
 *             accept)
 *   provisional {fe, conv, sdp, cid, ctx}: a ringing endpoint's provisional answer (to
 *             the caller)
 *   reneg     {fe, conv, sdp, op}: the other side of a connected call renegotiates (the
 *             next number on both sides)
 *   reneg-answer {fe, conv, n[, sdp]}: renegotiation n answered (sdp) or dismissed
 *   elsewhere {fe, conv}: the invitation with this key was taken elsewhere
 *   declined  {fe, conv}: declined elsewhere (to the inviter, and to the other mirrors)
 *   canceled  {fe, conv}: the inviter gave up or went away (to the mirrors)
 *   av-add    {fe, conv, call, sdp, video, ctx, expires}: the other side added a call to
 *             the IM conversation (call and sdp: its offer's key); the application here
 *             rings, or the caller's side is answered av-stop
 *   av-answer {fe, conv, call, sdp, cid, ctx, prov}: the added call's (provisional) answer
 *   av-stop   {fe, conv, call}: the added call canceled, declined or hung up there (a
 *             message whose call is not the conversation's current one is ignored)
 *   msg-off   {fe, conv, call}: the other side stopped messaging beside the added call;
 *             in a call's conversation, {fe, conv}: messaging added to it was canceled,
 *             declined or stopped there (or could not ring there: declined)
 *   msg-add   {fe, conv, expires}: the other side added messaging to the call's
 *             conversation; the application here gets the invitation, or msg-off answers
 *   msg-accept {fe, conv}: the application there accepted it (answered msg-off when it
 *             ended here meanwhile)
 *   av-off    {fe, conv}: the other side hung up the call while the messaging added to its
 *             conversation goes on
 *   message   {fe, conv, uri, fmt}, typing {fe, conv}, left {fe, conv}: from the other side
 *   fe-gone   {fe}: that Front End is gone (its lease expired, or it started afresh):
 *             what it held ends here; with "keep" (an array of conv keys: ucwa-sipd
 *             restarted and took those calls' SIP dialogs back), those connected calls stay
 *   log       {sip, log, type}: the user's conversation log entry `log` was updated
 *             (markAsRead) or deleted on another Front End: his applications here hear it
 *             (mod_ucwa/ucwa_conversation_logs)
 *   me        {sip, rel}: the user's resource `rel` under me (callForwardingSettings only)
 *             changed on another Front End: his applications here get `rel updated`
 *             (mod_ucwa/ucwa_call_forwarding)
 *
 * Session descriptions (up to 64 KiB) do not fit a message: the request that gives one
 * writes it to the pool's table ucwa_pool_sdp first, and the message names its key
 * ("sdp"); the pool's thread reads the descriptions of the messages it fetched before it
 * applies them (ucwa_pool_sdp_key, ucwa_pool_apply_sdp_locked). */
#ifndef UCWA_POOL_H
#define UCWA_POOL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "ucwa_conv.h"
#include "ucwa_store.h"

#define UCWA_POOL_OUTBOX 256          /* messages queued for the pool's thread */
#define UCWA_POOL_BODY_MAX 12288      /* bytes of one message (an invitation with its
                                       * first message as a data URI fits) */

typedef enum {
    UCWA_POOL_SEND = 1,               /* the body to one Front End */
    UCWA_POOL_INVITE,                 /* the same, remembered as invited (for claims) */
    UCWA_POOL_CLAIM_ACCEPT,           /* accept: the first claim of a key wins */
    UCWA_POOL_CLAIM_DECLINE,          /* decline: the same */
    UCWA_POOL_TO_INVITED,             /* the body to every Front End the key invited */
    UCWA_POOL_GONE,                   /* "gone" to the inviter's Front End (target) for its
                                       * record (key), once per invited Front End: this one
                                       * or, if it dies first, the reaper says it */
    UCWA_POOL_INVITE_USER,            /* a call from SIP (ucwa-sipd of a pooled Front End,
                                       * target: its name, key: the call): the invitation to
                                       * every Front End where the user ("to") has
                                       * applications, its offer inline ("sdpData", written
                                       * to the pool's table when shipped); the SIP side is
                                       * told "invited" {n}, how many Front Ends ring */
    UCWA_POOL_SIP_JOIN,               /* ucwa-sipd of a pooled Front End started (target:
                                       * its name): the others end what they held with its
                                       * earlier process (fe-gone), but for the established
                                       * calls it took back (the body's "keep") */
    UCWA_POOL_SIP_CLAIM,              /* a SIP side's own answer to its call from SIP (a
                                       * simultaneous ring leg answered; target: its name,
                                       * key: the call): the first claim wins, and the body
                                       * (elsewhere) goes to every Front End the call rang */
    UCWA_POOL_SEND_SDP                /* the body to one Front End, its description inline
                                       * ("sdpData", written to the pool's table when shipped
                                       * and named as "sdp"): ucwa-sipd's messages about a
                                       * call (a phone's renegotiation, its answer) */
} ucwa_pool_op;

typedef struct {
    apr_uint32_t op;                  /* ucwa_pool_op */
    char target[UCWA_POOL_FE_MAX];    /* SEND, INVITE: the Front End; CLAIM: the key's */
    char key[UCWA_CONV_ID_MAX];       /* CLAIM: the key's conversation id */
    apr_uint32_t len, others_len;     /* body, then (CLAIM) the message for the others */
    char body[UCWA_POOL_BODY_MAX];
} ucwa_pool_out;

struct ucwa_pool_area {
    apr_uint32_t on;                  /* pool mode: this store belongs to a pool */
    apr_uint32_t up;                  /* the pool's database answered the thread last */
    apr_uint32_t registered;          /* this store was announced to the pool */
    apr_uint32_t out_head, out_tail;  /* outbox positions (mod UCWA_POOL_OUTBOX) */
    apr_uint32_t dirty_head, dirty_tail;
    apr_uint32_t sip;                 /* ucwa-sipd takes the outbox (UcwaSip On, no pool) */
    apr_uint64_t last_seq;            /* the last message applied */
    apr_uint64_t applied, shipped;    /* counters for /ucwa-status */
    char fe[UCWA_POOL_FE_MAX];
    ucwa_pool_out out[UCWA_POOL_OUTBOX];
    apr_uint32_t dirty[];             /* max_users + 1 user slots */
};
typedef struct ucwa_pool_area ucwa_pool_area;

apr_size_t ucwa_pool_area_bytes(apr_uint32_t max_users);

/* Turns pool mode on for this store (every configuration load); fe names this Front End. */
void ucwa_pool_enable_locked(ucwa_store *s, const char *fe);
/* This Front End's name when the store is in a pool, else NULL. */
const char *ucwa_pool_fe(ucwa_store *s);

/* The SIP side (ucwa-sipd) as one more Front End: a call whose other party is a SIP
 * endpoint is a conversation whose peer is UCWA_POOL_SIP_FE, exactly as a call with a
 * callee on another Front End of the pool. Without a pool, turning it on makes the outbox
 * active (this Front End's key name is UCWA_POOL_SIP_LOCAL) and ucwa-sipd, not the pool's
 * thread, takes what is queued (ucwa_pool_out_peek_locked) and applies what comes from
 * SIP (ucwa_pool_apply_sdp_locked with the description in hand).
 *
 * With a pool, the outbox stays the pool's thread's, and the SIP side of Front End FE1 is
 * one more member of the pool named "~sip:FE1" (ucwa_pool_sip_name): a row of the pool's
 * Front Ends whose lease FE1's thread renews with its own, whose messages FE1's thread
 * reads and hands to its ucwa-sipd (the command socket, descriptions inline), and for
 * which ucwa-sipd queues messages into FE1's outbox (ucwa_pool_queue_locked) as any
 * transition does. To the conversation code it is a Front End like the others. */
#define UCWA_POOL_SIP_FE "~sip"
#define UCWA_POOL_SIP_LOCAL "~local"
#define UCWA_POOL_SIP_PREFIX "~sip:"
/* "~sip:" + fe: the SIP side of pool member fe. */
const char *ucwa_pool_sip_name(apr_pool_t *p, const char *fe);
/* 1 when fe names the SIP side of a pool member ("~sip:..."). */
int ucwa_pool_is_pool_sip(const char *fe);
void ucwa_pool_sip_enable_locked(ucwa_store *s, int on);
/* 1 when calls whose callee has no endpoint here go to the SIP side. */
int ucwa_pool_sip_on(ucwa_store *s);
/* 1 when fe names the SIP side. */
int ucwa_pool_is_sip(const char *fe);
/* 1 when fe names a SIP side, a single Front End's or a pool member's. */
int ucwa_pool_is_any_sip(const char *fe);
/* The outbox's counter word: ucwa-sipd looks at it (without the lock) to know when there
 * is something to take. */
apr_uint32_t ucwa_pool_out_pending(ucwa_store *s);

/* For /ucwa-status: ',"pool":{frontEnd, up, lastSeq, outbox, dirty, shipped, applied}', or
 * "" without a pool. */
const char *ucwa_pool_status_locked(ucwa_store *s, apr_pool_t *p);

/* The user set presence, note or location here (now): the newest setting in the pool
 * wins; queued for the pool (no-op without one). */
void ucwa_pool_user_changed_locked(ucwa_store *s, int user, apr_time_t now);
/* The user's endpoints here or published availability changed: queued for the pool. */
void ucwa_pool_user_dirty_locked(ucwa_store *s, int user);

/* Queues a message; body (and others, for a claim) are JSON texts. -1 when the outbox is
 * full or a text too long (nothing queued), 0 without a pool (nothing to do), 1 queued. */
int ucwa_pool_queue_locked(ucwa_store *s, ucwa_pool_op op, const char *target, const char *key,
                           const char *body, const char *others);
/* Room left in the outbox (a transition that queues n messages checks first). */
int ucwa_pool_room_locked(ucwa_store *s);

/* --- for the pool's thread -------------------------------------------------------- */

typedef struct {
    const char *sip;
    int available;                    /* applications available here */
    apr_uint32_t modalities;
    apr_time_t changed;
    const char *body;                 /* the presence message */
} ucwa_pool_presence_out;

/* Copies up to max outbox messages, oldest first (they stay queued until
 * ucwa_pool_out_done_locked). */
int ucwa_pool_out_peek_locked(ucwa_store *s, apr_pool_t *p, int max, ucwa_pool_out **out);
void ucwa_pool_out_done_locked(ucwa_store *s, int n);
/* Takes up to max dirty users, with their presence message as this Front End sees it
 * (rules: idle transitions); on a failed shipment the caller gives them back. */
int ucwa_pool_dirty_take_locked(ucwa_store *s, apr_pool_t *p, const ucwa_idle_rules *rules,
                                apr_time_t now, int max, apr_array_header_t *out);
void ucwa_pool_dirty_again_locked(ucwa_store *s, const char *sip);

/* --- incoming ---------------------------------------------------------------------- */

typedef struct {
    int wakes;                        /* applications woken */
    const char *answer_target;        /* a gone answer to queue: its Front End, else NULL */
    const char *what;                 /* for the log: what was applied or why not */
} ucwa_pool_applied;

/* Applies one message (len bytes of JSON). 0 on success, -1 when it is malformed or
 * names nothing here (a message about something that ended: logged, skipped). The
 * applications concerned are asked to be woken through txn. */
int ucwa_pool_apply_locked(ucwa_txn *txn, const char *body, apr_size_t len,
                           const ucwa_idle_rules *rules, apr_time_t now, ucwa_pool_applied *res);

/* A session description the pool's thread read from the pool's table for a message. */
typedef struct {
    const char *ctype;                /* its Content-Type, as it came */
    const char *body;                 /* len bytes */
    apr_size_t len;
} ucwa_pool_sdp;

/* The key of the description message body names ("sdp"), or NULL (none, or not a
 * message). Well-formed keys only: 32 lower-case hex digits. */
const char *ucwa_pool_sdp_key(apr_pool_t *p, const char *body, apr_size_t len);
/* A new key (32 random hex digits) into out (UCWA_POOL_SDP_KEY_MAX). */
void ucwa_pool_sdp_new_key(char *out);
/* ucwa_pool_apply_locked, with the description the message names (NULL: it names none,
 * or it was not found: a call's message that needs one is skipped). */
int ucwa_pool_apply_sdp_locked(ucwa_txn *txn, const char *body, apr_size_t len,
                               const ucwa_pool_sdp *sdp, const ucwa_idle_rules *rules,
                               apr_time_t now, ucwa_pool_applied *res);

/* The presence a message of kind presence describes, for a contact this Front End has
 * no record of (the pool's truth, read from the database). 0 when body is one. */
typedef struct {
    ucwa_availability av;
    int available;
    const char *activity, *note, *location;
    apr_time_t last_activity, changed;
} ucwa_pool_presence_in;
int ucwa_pool_presence_parse(apr_pool_t *p, const char *body, apr_size_t len,
                             ucwa_pool_presence_in *out);

/* --- what conversations queue --------------------------------------------------------- */

/* The key of conversation c: (fe, conv). */
void ucwa_pool_conv_key(ucwa_store *s, const ucwa_conv *c, const char **fe, const char **conv);
/* Queues a log message (above) for Front End fe. 1 queued, 0 not in a pool, -1 the outbox
 * is full (the applications there see the change at their next GET). */
int ucwa_pool_log_tell_locked(ucwa_store *s, const char *fe, const char *sip, const char *log,
                              const char *type, apr_pool_t *p);
/* Queues a me message (above) for Front End fe; the same answers. */
int ucwa_pool_me_tell_locked(ucwa_store *s, const char *fe, const char *sip, const char *rel,
                             apr_pool_t *p);
/* Queues {k, fe, conv[, extra members]} to the other side of c (its peer). -1 when the
 * outbox is full, 0 when c has no remote side. extra: a JSON object (taken) or NULL. */
int ucwa_pool_conv_tell_locked(ucwa_store *s, const ucwa_conv *c, const char *kind,
                               json_t *extra, apr_pool_t *p);
/* The same for a call's message: extra gets "sdp", the pool key of c's description of
 * kind sdp_kind (-1, or no key: none). */
int ucwa_pool_call_tell_locked(ucwa_store *s, const ucwa_conv *c, const char *kind,
                               int sdp_kind, json_t *extra, apr_pool_t *p);
/* An invitation to a user whose endpoints live (also) on the Front Ends fes: one invite
 * to each. -1 when the outbox cannot hold them (nothing queued). */
int ucwa_pool_conv_invite_locked(ucwa_store *s, const ucwa_conv *c, const char *const *fes,
                                 int nfes, apr_time_t expires, apr_pool_t *p);
/* An endpoint here (its display name, whether it takes Html) answers an invitation that
 * other Front Ends also alert: queues the claim (accept or decline). -1 when the outbox
 * is full. */
int ucwa_pool_conv_claim_locked(ucwa_store *s, const ucwa_conv *c, int accept,
                                const char *name, int html, apr_pool_t *p);
/* The verdict on a claim, once the pool's thread has it. */
void ucwa_pool_claim_verdict_locked(ucwa_txn *txn, const char *key_fe, const char *key_conv,
                                    int accept, int won, apr_time_t now);

#endif
