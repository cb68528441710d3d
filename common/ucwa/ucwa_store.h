/* The UCWA session store: applications, their event channels and users' presence, in
 * one fixed-size memory region (a shared-memory segment in the server). Records are
 * addressed by index plus generation, never by pointer, so every process that maps the
 * region, in any httpd generation, reads the same state. The caller serialises every
 * call with one lock; the seq word of an application is the only field read without it
 * (a futex word, bumped on every change a parked event request must see).
 *
 * The name is the contract: a function named *_locked (here, in ucwa_subs, ucwa_conv
 * and ucwa_push) must be called with the lock held, that is inside a transaction
 * (ucwa_txn below; the server's wrapper is ucwa_txn_run in mod_ucwa/ucwa_shm). The
 * record accessors (ucwa_store_app, _user, _sub, _conv, _push, _word) take the store a
 * transaction hands out and are only meaningful inside it too. */
#ifndef UCWA_STORE_H
#define UCWA_STORE_H

#include "ucwa_sdp.h"
#include <apr.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define UCWA_ID_MAX    24     /* decimal application id */
#define UCWA_BASE_MAX  96     /* "/ucwa/oauth/v1/applications/<id>" */
/* Text limits count characters (UCWA's wording); fields hold 4 bytes per character. */
#define UCWA_FIELD_CHARS 100  /* userAgent, endpointId, culture, instanceId */
#define UCWA_FIELD_MAX (4 * UCWA_FIELD_CHARS + 1)
#define UCWA_SIP_MAX   256
#define UCWA_NOTE_CHARS 500
#define UCWA_NOTE_MAX  (4 * UCWA_NOTE_CHARS + 1)
#define UCWA_LOCATION_CHARS 60
#define UCWA_LOCATION_MAX (4 * UCWA_LOCATION_CHARS + 1)
#define UCWA_ACTIVITY_MAX 64
#define UCWA_TAG_MAX   64

typedef enum { UCWA_PRIO_LOW = 0, UCWA_PRIO_MEDIUM, UCWA_PRIO_HIGH } ucwa_prio;

typedef enum {
    UCWA_SLOT_FREE = 0,
    UCWA_SLOT_LIVE,
    UCWA_SLOT_EXPIRED          /* tombstone: later requests get 410 InactiveApplicationExpired */
} ucwa_slot_state;

/* Settable availability (PreferredAvailability) and the published one (Availability). */
typedef enum {
    UCWA_AV_NONE = 0,          /* no preference: computed from activity */
    UCWA_AV_ONLINE, UCWA_AV_BUSY, UCWA_AV_DND, UCWA_AV_BRB, UCWA_AV_AWAY, UCWA_AV_OFFWORK,
    UCWA_AV_OFFLINE, UCWA_AV_IDLE_ONLINE, UCWA_AV_IDLE_BUSY
} ucwa_availability;

#define UCWA_MOD_MESSAGING 0x1u
#define UCWA_MOD_AUDIO     0x2u
#define UCWA_MOD_VIDEO     0x4u
#define UCWA_MOD_PHONE     0x8u
#define UCWA_PHONE_MAX 40              /* a phone number: "+" and 15 digits, or tel: with extension */

typedef struct {
    volatile apr_uint32_t seq;     /* futex word: keep first and 4-byte aligned */
    apr_uint32_t state;            /* ucwa_slot_state */
    apr_uint32_t gen;
    apr_uint32_t user;             /* index of the owner's ucwa_user */
    apr_uint64_t idnum;            /* the number in the URL */
    char id[UCWA_ID_MAX];
    char base[UCWA_BASE_MAX];      /* the application's URL path */
    char endpoint_id[UCWA_FIELD_MAX];
    char user_agent[UCWA_FIELD_MAX];
    char culture[UCWA_FIELD_MAX];
    char instance_id[UCWA_FIELD_MAX];
    char policy_tag[UCWA_TAG_MAX];
    char name[128];                /* the user's display name, from the directory */
    apr_uint32_t policy_fp;        /* fingerprint of the policy last announced */
    apr_uint32_t outside_voice;    /* its policy offers phone audio (call via work,
                                    * acceptWithPhoneAudio: mod_ucwa/ucwa_phone.h) */
    apr_time_t created;
    apr_time_t last_seen;          /* last event request released (or creation) */
    apr_uint32_t available;        /* makeMeAvailable done */
    apr_uint32_t modalities;       /* UCWA_MOD_* */
    apr_uint32_t html;             /* supportedMessageFormats includes Html */
    apr_uint32_t phone_audio;      /* audioPreference PhoneAudio (else VoipAudio) */
    char phone_number[UCWA_PHONE_MAX];   /* makeMeAvailable's phoneNumber, "" when none */
    /* event channel */
    apr_uint32_t pkg;              /* number of the last package cut; 0: none */
    apr_uint32_t pkg_first, pkg_end;  /* its events, as ring positions [first, end) */
    apr_uint32_t pkg_resume;       /* that package carries resume */
    apr_uint32_t pkg_acked;        /* the client acknowledged it: its events are gone */
    apr_uint32_t head;             /* next ring position to write */
    apr_uint32_t overflow;         /* events were dropped: the next package says resume */
    apr_uint32_t pget_id;          /* bumped by every event request: an older one was replaced */
    apr_uint32_t pget_prio;
    apr_uint32_t parked;           /* event requests parked now */
    apr_time_t parked_until;       /* the latest deadline of those: a request that died
                                    * with its child stops counting after it */
    apr_uint32_t ev_timeout, ev_low, ev_medium;   /* sticky event query parameters (s) */
    apr_uint32_t idle_limit;       /* s without an event request before the application
                                    * expires; 0: the server's UcwaApplicationIdleTimeout
                                    * (an MCX session sets its own) */
    /* push notifications (common/push/ucwa_push) */
    apr_uint32_t push;             /* its device has a push registration */
    apr_uint32_t background;       /* it said it went to the background */
    apr_uint32_t badge;            /* events pushed since it was last in the foreground */
    /* list link, slot + 1 (0: the end): the user's next live application while LIVE, the
     * next free slot while FREE (the lists spare every request a walk over all slots) */
    apr_uint32_t next;
    /* a pool of Front Ends (common/ucwa/ucwa_move): the application was handed to another
     * Front End (its parked request answers 503: ask there), or came from one (its id
     * does not name this slot: the store's alias index finds it) */
    apr_uint32_t moved_out, moved_in;
} ucwa_app;

typedef struct {
    apr_uint32_t state;            /* ucwa_slot_state; EXPIRED here is a reusable tombstone */
    apr_uint32_t gen;
    char sip[UCWA_SIP_MAX];        /* lower case, without "sip:" */
    apr_uint32_t apps;             /* live applications */
    apr_uint32_t available_apps;   /* of which did makeMeAvailable */
    apr_uint32_t first_app;        /* the first of them, slot + 1 (0: none); see ucwa_app.next */
    apr_uint32_t preferred;        /* ucwa_availability set by the user (NONE: computed) */
    apr_uint32_t published;        /* availability last announced in events */
    apr_time_t last_activity;
    char activity[UCWA_ACTIVITY_MAX];
    char note[UCWA_NOTE_MAX];
    char location[UCWA_LOCATION_MAX];
    apr_time_t changed;            /* the presence was last set here (pool: newest wins) */
    /* a pool of Front Ends (common/ucwa/ucwa_pool): the user's presence as another Front
     * End of the pool last announced it; remote_fe "" when none does */
    apr_uint32_t pool_dirty;       /* queued for the pool's presence table */
    apr_uint32_t remote_av;        /* ucwa_availability published there */
    apr_uint32_t remote_available; /* its applications there that made themselves available */
    apr_uint32_t remote_modalities;
    apr_time_t remote_changed, remote_last_activity;
    char remote_fe[64];
    char remote_activity[UCWA_ACTIVITY_MAX];
    char remote_note[UCWA_NOTE_MAX];
    char remote_location[UCWA_LOCATION_MAX];
} ucwa_user;

/* A presence subscription (POST people/presenceSubscriptions): which users an
 * application watches, until when. Members are user slots plus their generation, and
 * their addresses: a user slot with no application may be taken back for another user
 * when the table is full, and the member is then found again by its address (the
 * logic is in common/ucwa/ucwa_subs). */
#define UCWA_SUB_MEMBERS 100
#define UCWA_SUB_ID_MAX 12
#define UCWA_SUB_NAMES 8192        /* bytes for the members' addresses, packed */

typedef struct {
    apr_uint32_t state;            /* ucwa_slot_state: FREE or LIVE */
    apr_uint32_t gen;
    apr_uint32_t app, app_gen;     /* the subscribing application */
    char id[UCWA_SUB_ID_MAX];
    apr_time_t expires;
    apr_uint32_t count;
    apr_uint32_t member[UCWA_SUB_MEMBERS];      /* user slot; 0xffffffff: none */
    apr_uint32_t member_gen[UCWA_SUB_MEMBERS];
    apr_uint32_t hinted;           /* the "about to expire" update was sent */
    apr_uint32_t names_len;        /* bytes of names in use */
    apr_uint16_t name_off[UCWA_SUB_MEMBERS];    /* member i's address: names + name_off[i] */
    unsigned char member_av[UCWA_SUB_MEMBERS];    /* the availability last announced */
    char names[UCWA_SUB_NAMES];    /* lower case, without "sip:", each NUL-terminated */
} ucwa_sub;

/* A conversation between two users (1:1 instant messaging). The same id names it in
 * both parties' applications. Party 0 invited; party 1 was invited: every endpoint of
 * that user available for Messaging is alerted (endpoint[]), and party 1's app is set
 * once one of them accepts (the first accept wins). The logic is in common/ucwa/ucwa_conv. */
#define UCWA_CONV_ID_MAX 40
#define UCWA_CONV_THREAD_MAX 64
#define UCWA_CONV_SUBJECT_MAX 1024     /* 250 characters of UTF-8, NUL */
#define UCWA_CONV_OPID_MAX 56          /* operationId: 50 characters, NUL */
#define UCWA_CONV_NAME_MAX 128
#define UCWA_CONV_ENDPOINTS 16         /* endpoints of the invited user alerted at most */
#define UCWA_CONV_FIRST_MAX 4096       /* the first message, as its data URI */
#define UCWA_POOL_FE_MAX 192           /* a Front End's name: "fe" in its pool, "fe@pool" elsewhere */

typedef enum {
    UCWA_CONV_INVITING = 1,        /* invitation out, nobody accepted yet */
    UCWA_CONV_CONNECTED,
    UCWA_CONV_ENDED                /* kept a little while: the invitations stay readable */
} ucwa_conv_phase;

/* The modality an invitation opens (its conversation's first): messaging
 * (messagingInvitation) or a call (audioVideoInvitation, common/ucwa/ucwa_av). */
typedef enum {
    UCWA_CONV_KIND_MESSAGING = 0,
    UCWA_CONV_KIND_AV
} ucwa_conv_kind;

typedef enum {
    UCWA_CONV_END_NONE = 0,
    UCWA_CONV_END_UNREACHABLE,     /* no endpoint could take the invitation */
    UCWA_CONV_END_DECLINED,
    UCWA_CONV_END_TIMEOUT,         /* nobody answered in time */
    UCWA_CONV_END_CANCELED,        /* the inviter gave up (or went away) first */
    UCWA_CONV_END_LEFT             /* connected, then a party left or stopped messaging */
} ucwa_conv_end;

typedef struct {
    apr_int32_t user;              /* user slot when known, else -1 (informative only) */
    apr_int32_t app;               /* -1: no endpoint attached (yet) */
    apr_uint32_t app_gen;
    apr_uint32_t html;             /* the attached endpoint takes Html messages */
    apr_time_t typing_until;       /* 0: not typing */
    char invitation[UCWA_CONV_ID_MAX];   /* this side's messagingInvitation id */
    char operation_id[UCWA_CONV_OPID_MAX];
    char sip[UCWA_SIP_MAX];        /* lower case, without "sip:" */
    char name[UCWA_CONV_NAME_MAX]; /* display name ("" when not known) */
} ucwa_conv_party;

typedef struct {
    apr_uint32_t state;            /* ucwa_slot_state: FREE or LIVE */
    apr_uint32_t gen;
    apr_uint32_t phase;            /* ucwa_conv_phase */
    apr_uint32_t end;              /* ucwa_conv_end, once ENDED (or failing) */
    apr_uint32_t accepted;         /* an endpoint accepted: the invitation succeeded */
    char id[UCWA_CONV_ID_MAX];
    char thread_id[UCWA_CONV_THREAD_MAX];
    char subject[UCWA_CONV_SUBJECT_MAX];
    char importance[16];
    char gw_set[12];               /* a call to a number: its route's gateway set, or "" */
    apr_time_t created, invite_expires, last_activity, ended;
    apr_uint32_t next_message;     /* message numbers, per conversation, from 1 */
    apr_uint32_t first_number;     /* the first message's number, 0: none */
    apr_uint32_t first_format;     /* ucwa_msg_format of the first message */
    apr_uint32_t endpoints;        /* entries in endpoint[] */
    apr_int32_t endpoint[UCWA_CONV_ENDPOINTS];   /* alerted applications of party 1 */
    apr_uint32_t endpoint_gen[UCWA_CONV_ENDPOINTS];
    ucwa_conv_party party[2];
    /* a pool of Front Ends: the other side lives on peer_fe ("" when it is here), in its
     * record peer_id ("" until an endpoint there accepted) */
    char peer_fe[UCWA_POOL_FE_MAX];
    char peer_id[UCWA_CONV_ID_MAX];
    apr_uint32_t mirror;           /* party 0 invited from another Front End */
    apr_uint32_t remote_invited;   /* party 0 here: Front Ends still alerting party 1 */
    apr_uint32_t claiming;         /* slot + 1 of the endpoint whose accept awaits the pool's
                                    * verdict (0: none) */
    apr_uint32_t claiming_gen;
    apr_uint32_t logs;             /* UCWA_CONV_LOG_*: conversation logs this Front End owes
                                    * its users (mod_ucwa/ucwa_conversation_logs takes them) */
    char first[UCWA_CONV_FIRST_MAX];    /* the first message's data URI, "" when none */
    /* a call (kind UCWA_CONV_KIND_AV; common/ucwa/ucwa_av) */
    apr_uint32_t kind;             /* ucwa_conv_kind */
    apr_uint32_t video;            /* the offer has video */
    apr_uint32_t call;             /* its ucwa_call record + 1 (0: none) */
    apr_uint32_t call_gen;
    apr_uint32_t provisional;      /* the answer so far is a provisional one */
    apr_uint32_t reneg;            /* the last renegotiation's originator: side + 1 (0: none) */
    apr_uint32_t reneg_n;          /* renegotiations so far (the last one's number) */
    apr_uint32_t reneg_done;       /* the last one is open (0), answered (1), dismissed (2),
                                    * failed because the caller's crossed it (3, below) */
    char session_context[2][UCWA_CONV_OPID_MAX];   /* each side's sessionContext */
    char accepted_cid[UCWA_CONV_OPID_MAX];   /* the offer part the answer took */
    char reneg_op[UCWA_CONV_OPID_MAX];       /* the open renegotiation's operationId */
    /* a call added to an IM conversation (addAudio, addAudioVideo): the call's own phase and
     * invitations beside messaging's (a call conversation, kind AV, uses phase and
     * party[].invitation instead) */
    apr_uint32_t av_phase;         /* ucwa_conv_phase, 0: no call added */
    apr_uint32_t av_side;          /* the side that added it */
    apr_uint32_t av_end;           /* ucwa_conv_end, once the added call failed or ended */
    apr_uint32_t av_accepted;
    apr_uint32_t msg_off;          /* stopMessaging while a call goes on: messaging ended */
    apr_time_t av_expires;
    char av_invitation[2][UCWA_CONV_ID_MAX];
    char av_operation_id[UCWA_CONV_OPID_MAX];
    apr_uint32_t suspended;        /* bit per side: its session lost its event channel while
                                    * connected (a move between networks): Suspended until
                                    * it resumes (resumeAudio*) or renegotiates */
    /* messaging added to a call's conversation (kind AV, addMessaging): its own phase and
     * messagingInvitations beside the call's (party[].invitation holds the call's) */
    apr_uint32_t msg_phase;        /* ucwa_conv_phase, 0: none added */
    apr_uint32_t msg_side;         /* the side that added it */
    apr_uint32_t msg_end;          /* ucwa_conv_end, once it failed or ended */
    apr_uint32_t msg_accepted;
    apr_uint32_t av_off;           /* stopAudioVideo while that messaging goes on: the call
                                    * ended, the conversation is messaging's */
    apr_time_t msg_expires;
    char msg_invitation[2][UCWA_CONV_ID_MAX];
    char msg_operation_id[UCWA_CONV_OPID_MAX];
    /* call via work (startPhoneAudio, common/ucwa/ucwa_conv_phone.c): a call (kind AV,
     * without descriptions) whose media the SIP side bridges between the user's own phone
     * (phone_number, called first) and party 1 */
    apr_uint32_t phone;            /* a phoneAudio conversation */
    apr_uint32_t phone_held;       /* holdPhoneAudio in effect */
    apr_uint32_t phone_fail;       /* ucwa_conv_phone_fail: why it failed (0: as a call) */
    apr_uint32_t phone_leg;        /* ucwa_conv_phone_leg: how far the SIP side got */
    char phone_number[UCWA_PHONE_MAX];   /* the callback number, tel:+E164 */
    char phone_gw[12];             /* its route's gateway set, or "" */
    char phone_line[UCWA_PHONE_MAX];     /* the user's LineURI (tel:+...), or "" */
    /* a call from an application forwarded by its callee's settings
     * (mod_ucwa/ucwa_fwd_app.c): nobody rings here, the SIP side calls fwd_to
     * ("tel:+E164" through gw_set, or "sip:...") naming fwd_line in Diversion */
    char fwd_to[UCWA_SIP_MAX];     /* "" when not forwarded */
    char fwd_line[UCWA_SIP_MAX];   /* the callee's LineURI, or its "sip:" address; "" with
                                    * fwd_to the callee's own URI: its simultaneous ring or
                                    * unanswered forward, which the SIP side acts on */
} ucwa_conv;

/* ucwa_conv.reneg_done: the callee's renegotiation crossed the caller's on its way between
 * two Front Ends (both were sent at once); the caller's won and this one failed (Conflict) */
#define UCWA_CONV_RENEG_CROSSED 3u

#define UCWA_CONV_LOG_MISSED   0x1u    /* party 1 was alerted here and nobody answered */
#define UCWA_CONV_LOG_ARCHIVED 0x2u    /* accepted: each party that is here */
/* a call added to an IM conversation (av_side called): its callee was rung and nobody
 * answered; it was answered */
#define UCWA_CONV_LOG_CALL_MISSED   0x4u
#define UCWA_CONV_LOG_CALL_ARCHIVED 0x8u

/* A call's session descriptions (common/ucwa/ucwa_av): offers and answers byte for byte as
 * they came, kept out of the event slots (an offer with video and candidates is several KiB,
 * a multipart one more). The bytes are in a page-aligned area of UCWA_SDP_BLOB_MAX per
 * description, given back to the system when the call's record is freed. */
#define UCWA_SDP_BLOB_MAX UCWA_SDP_MAX   /* common/ucwa/ucwa_sdp's bound on a body */
#define UCWA_POOL_SDP_KEY_MAX 40       /* 32 hex digits and a NUL, with room */
typedef enum {
    UCWA_SDP_OFFER = 0,
    UCWA_SDP_ANSWER,               /* final or provisional (ucwa_conv.provisional) */
    UCWA_SDP_RENEG_OFFER,
    UCWA_SDP_RENEG_ANSWER,
    UCWA_SDP_KINDS
} ucwa_sdp_kind;

typedef struct {
    apr_uint32_t state;            /* ucwa_slot_state: FREE or LIVE */
    apr_uint32_t gen;
    apr_uint32_t conv, conv_gen;   /* the conversation that holds it */
    apr_uint32_t len[UCWA_SDP_KINDS];          /* 0: none */
    char ctype[UCWA_SDP_KINDS][UCWA_SDP_CTYPE_MAX + 1];
    /* a pool of Front Ends: the key of the description given here in the pool's table of
     * descriptions (ucwa_pool_sdp), which the message telling the other Front End names
     * ("" when it went to nobody there) */
    char pool_key[UCWA_SDP_KINDS][UCWA_POOL_SDP_KEY_MAX];
} ucwa_call;

/* A push notification waiting for the dispatcher (common/push/ucwa_push). It names the device
 * (user and endpointId), not the application, which may be gone by the time it is sent. */
#define UCWA_PUSH_PREVIEW_MAX 160      /* bytes of message preview kept */

typedef enum { UCWA_PUSH_FREE = 0, UCWA_PUSH_QUEUED, UCWA_PUSH_SENDING } ucwa_push_state;

typedef struct {
    apr_uint32_t state;            /* ucwa_push_state */
    apr_uint32_t gen;
    apr_uint32_t slot;             /* its index (meaningful in copies) */
    apr_uint32_t app, app_gen;     /* the application it was queued for */
    apr_uint32_t kind;             /* ucwa_push_kind */
    apr_uint32_t events;           /* events folded into it */
    apr_uint32_t badge;
    apr_uint32_t attempts;         /* failed sends so far */
    apr_uint32_t pad;
    apr_time_t queued, not_before, sending_since;
    char user[UCWA_SIP_MAX];
    char endpoint_id[UCWA_FIELD_MAX];
    char conversation[UCWA_CONV_ID_MAX];
    char sender[UCWA_CONV_NAME_MAX];
    char preview[UCWA_PUSH_PREVIEW_MAX + 1];
} ucwa_push_job;

/* A push provider credential shared by every process and generation (common/push/ucwa_push):
 * APNs refuses a provider token renewed less than 20 minutes after the last one, so the
 * dispatcher of a new generation must reuse its predecessor's. */
#define UCWA_PUSH_CREDENTIAL_MAX 2048
#define UCWA_PUSH_CRED_APNS 0
#define UCWA_PUSH_CRED_FCM 1
typedef struct {
    apr_time_t issued;             /* 0: none */
    apr_time_t expires;
    char value[UCWA_PUSH_CREDENTIAL_MAX];
} ucwa_push_credential;

typedef struct {
    apr_uint32_t max_apps;
    apr_uint32_t ring_len;         /* events kept per application */
    apr_uint32_t event_size;       /* bytes per event slot, header included */
    apr_uint32_t max_users;
    apr_uint32_t max_subs;         /* presence subscriptions */
    apr_uint32_t max_convs;        /* conversations */
    apr_uint32_t max_push;         /* queued push notifications */
    apr_uint32_t max_calls;        /* calls with their session descriptions (UcwaMaxCalls) */
} ucwa_store_limits;

typedef struct {
    apr_interval_time_t low, medium;   /* aggregation windows of the request */
} ucwa_windows;

typedef struct {
    apr_interval_time_t idle, away;    /* IdleOnline/IdleBusy after idle, Away after away */
} ucwa_idle_rules;

typedef struct ucwa_store ucwa_store;

apr_size_t ucwa_store_bytes(const ucwa_store_limits *l);
/* Formats base (of ucwa_store_bytes(l) bytes). */
ucwa_store *ucwa_store_init(void *base, const ucwa_store_limits *l);
/* The same on memory known to read as zeros (a new anonymous shared segment): the records
 * are not written, so a page of them is resident only once a record on it is used (the
 * subscription, conversation and push tables are read up to their last record in use). */
ucwa_store *ucwa_store_init_zeroed(void *base, const ucwa_store_limits *l);
/* The store in base if it was formatted with the same limits, else NULL. */
ucwa_store *ucwa_store_attach(void *base, const ucwa_store_limits *l);
/* 1 if base holds a store of this code's layout (whatever its limits): a store of
 * another layout (an upgraded module) must not be used at all. */
int ucwa_store_compatible(const void *base);

ucwa_app *ucwa_store_app(ucwa_store *s, int idx);
ucwa_user *ucwa_store_user(ucwa_store *s, int idx);
ucwa_sub *ucwa_store_sub(ucwa_store *s, int idx);
ucwa_conv *ucwa_store_conv(ucwa_store *s, int idx);
ucwa_push_job *ucwa_store_push(ucwa_store *s, int idx);
ucwa_call *ucwa_store_call(ucwa_store *s, int idx);
/* The bytes of description kind of call idx (UCWA_SDP_BLOB_MAX of room). */
char *ucwa_store_call_blob(ucwa_store *s, int idx, int kind);
/* Gives the pages of call idx's descriptions back to the system (they read as zeros). */
void ucwa_store_call_release(ucwa_store *s, int idx);
ucwa_push_credential *ucwa_store_push_credential(ucwa_store *s, int which);
/* The pool's area (common/ucwa/ucwa_pool): its outbox and the users to announce. */
struct ucwa_pool_area *ucwa_store_pool_area(ucwa_store *s);
apr_uint32_t ucwa_store_max_apps(const ucwa_store *s);
const ucwa_store_limits *ucwa_store_get_limits(const ucwa_store *s);

/* Shared counters kept in the header (e.g. the policy generation). */
/* The last scheduled synthetic transaction's result (common/ucwa/ucwa_synth), as the JSON text
 * /ucwa-status shows: UCWA_SYNTHETIC_MAX bytes, "" until the first run. Kept across
 * graceful restarts like the rest of the store. */
#define UCWA_SYNTHETIC_MAX 8192
char *ucwa_store_synthetic_locked(ucwa_store *s);

apr_uint32_t *ucwa_store_word(ucwa_store *s, int which);
#define UCWA_WORD_POLICY_GEN 0
#define UCWA_WORD_PUSH_ENABLED 1   /* common/push/ucwa_push's settings */
#define UCWA_WORD_PUSH_AFTER 2
#define UCWA_WORD_PUSH_CONTENT 3
#define UCWA_WORD_PUSH_QUEUED 4    /* bumped by every job queued: the dispatcher's hint */
#define UCWA_WORD_SUBS_END 5       /* common/ucwa/ucwa_subs: one past the last subscription slot in use */
#define UCWA_WORD_SUBS_ROTATE 6    /* common/ucwa/ucwa_subs: where the sweep's lookups start */
#define UCWA_WORD_CONVS_USED 7     /* common/ucwa/ucwa_conv: one past the last record in use */
#define UCWA_WORD_PUSH_USED 8      /* common/push/ucwa_push: one past the last job slot in use */
#define UCWA_WORD_POOL_OUT 9       /* common/ucwa/ucwa_pool: bumped by every message queued */

/* The user's slot (created when create is set); -1 if absent or the table is full. */
int ucwa_store_user_find_locked(ucwa_store *s, const char *sip, int create);

typedef struct {
    const char *user, *endpoint_id, *user_agent, *culture, *instance_id;
    const char *prefix;            /* "/ucwa/oauth/v1/applications" or "/ucwa/v1/applications" */
    const char *policy_tag;
    const char *name;
    apr_uint32_t policy_fp;
    apr_uint32_t outside_voice;    /* see ucwa_app.outside_voice */
    apr_uint32_t per_user_max;
    apr_uint32_t idle_limit;       /* see ucwa_app.idle_limit */
} ucwa_app_params;

typedef enum {
    UCWA_CREATE_NEW = 0,
    UCWA_CREATE_EXISTING,          /* same user, endpoint and instance: 200, same application */
    UCWA_CREATE_FULL,              /* no free slot on this server */
    UCWA_CREATE_TOO_MANY           /* the user's limit */
} ucwa_create_result;

ucwa_create_result ucwa_store_create_locked(ucwa_store *s, const ucwa_app_params *in, apr_time_t now,
                                     int *idx);

/* The live applications of a user, newest first:
 *   for (i = ucwa_store_first_app(s, user); i >= 0; i = ucwa_store_next_app(s, i)) */
int ucwa_store_first_app(ucwa_store *s, int user);
int ucwa_store_next_app(ucwa_store *s, int idx);

/* The application named by a URL id: its index, or -1. *expired is set for a tombstone. */
int ucwa_store_find_locked(ucwa_store *s, const char *id, int *expired);

/* An application handed over by another Front End of the pool (common/ucwa/ucwa_move):
 * rec as it was there (its id, base and event channel positions kept) becomes a live
 * application of user here, in a free slot that the alias index ties to its id. Its
 * ring is empty: the caller copies the events in (ucwa_store_ring_slot). -1 when no
 * slot is free or the id is taken here. */
int ucwa_store_adopt_locked(ucwa_store *s, const ucwa_app *rec, int user, int *idx);
/* Ring slot pos of application idx, raw (UcwaEventSize bytes): what an application's
 * move copies, between two stores of the same limits. */
void *ucwa_store_ring_slot(ucwa_store *s, int idx, apr_uint32_t pos);
/* 1 when bytes (UcwaEventSize of them, from another store) hold a slot this store can read:
 * its strings within the slot. */
int ucwa_store_ring_slot_ok(const ucwa_store *s, const void *bytes);

/* Frees the slot (a live application or a tombstone): its id answers 404 from now on. */
void ucwa_store_delete_locked(ucwa_store *s, int idx);
/* Ends an idle application, leaving a tombstone. */
void ucwa_store_expire_locked(ucwa_store *s, int idx);

/* One event as a ring slot holds it: data, not text. Every href is relative to the
 * application ("/communication/conversations/..."), and the application's base is put in
 * front of it when a package is rendered, after the lock (common/ucwa/ucwa_event). The
 * strings are JSON string contents (escaped, without their quotes); link_extra and extra
 * are JSON members ("in":{...},"_embedded":{...}) whose hrefs are relative the same way
 * ("href":"/..."; data: URIs stay as they are). Rendered:
 *   sender:  "rel":sender_rel,"href":base+sender_href
 *   event:   {"link":{"rel":rel,"href":base+href[,"title":title][,link_extra]}
 *            [,extra],"type":type}   (type before extra when type_first is set) */
typedef struct {
    const char *type;              /* added, updated, deleted, started, completed... */
    const char *sender_rel, *sender_href;
    const char *rel, *href;
    const char *title;             /* NULL: the link has none */
    const char *link_extra;        /* NULL or "": none */
    const char *extra;             /* NULL or "": none */
    int type_first;
    /* in a package copied out of the store */
    ucwa_prio prio;
    apr_time_t ts;
} ucwa_event;

/* The bytes event e takes in a slot, header included (at most UcwaEventSize). */
apr_size_t ucwa_event_bytes(const ucwa_event *e);

/* Appends one event (its fields are copied). -1 if it does not fit a slot (too big: not
 * stored). When the ring is full the undelivered events are dropped and the next package
 * says resume. */
int ucwa_store_post_locked(ucwa_store *s, int idx, ucwa_prio prio, const ucwa_event *e,
                           apr_time_t now);

/* Posts a link-only event {"link":{rel, href: sub},"type"} from the sender
 * {rel: sender_rel, href: sender_sub} (both relative to the application) to every live
 * application of a user (only those that made themselves available when available_only
 * is set). Returns the number of applications reached. */
int ucwa_store_post_user_locked(ucwa_store *s, int user, int available_only, ucwa_prio prio,
                         const char *sender_rel, const char *sender_sub,
                         const char *rel, const char *sub, const char *type,
                         apr_time_t now, apr_pool_t *p);

typedef enum {
    UCWA_POLL_WAIT = 0,            /* nothing to release yet */
    UCWA_POLL_READY,               /* *pkg filled */
    UCWA_POLL_RESYNC               /* ack out of range: answer with a resync link */
} ucwa_poll_result;

typedef struct {
    apr_uint32_t ack;              /* the package number (self is ack, next is ack + 1) */
    int resume;
    int count;
    ucwa_event *events;            /* count entries, copied into the poll's pool */
    apr_uint32_t resync_ack;       /* for UCWA_POLL_RESYNC */
    apr_time_t wake_at;            /* for UCWA_POLL_WAIT: when an aggregation window ends */
} ucwa_package;

/* One look at the event channel for "GET events?ack=ack". final: the request is ending
 * (timeout, server stopping) and must get a package even if empty. Package contents are
 * copied into p, so they can be rendered after the lock is released. */
ucwa_poll_result ucwa_store_poll_locked(ucwa_store *s, int idx, apr_uint32_t ack,
                                 const ucwa_windows *w, int final, apr_time_t now,
                                 apr_pool_t *p, ucwa_package *pkg);

/* The availability others see for the user, from the preference and activity. */
ucwa_availability ucwa_store_availability(const ucwa_user *u, const ucwa_idle_rules *r,
                                          apr_time_t now);

const char *ucwa_availability_name(ucwa_availability a);
/* Parses a PreferredAvailability name (case-insensitive); UCWA_AV_NONE if not settable. */
ucwa_availability ucwa_availability_parse(const char *name);

/* Wakes nobody by itself: bumps the seq word; the caller wakes futex waiters. */
void ucwa_store_touch(ucwa_app *a);

/* --- transactions ------------------------------------------------------------------ */

/* What a function run under the store's lock is handed: the store, a pool for what it
 * copies out (to render after the lock), and the futex words it asks to wake. The
 * wrapper that took the lock (ucwa_txn_run in mod_ucwa/ucwa_shm) wakes them once the
 * lock is released, in the order asked, so no woken request waits at once for a lock its
 * waker still holds. The transitions themselves post their events as data (event rings,
 * ucwa_conv_touched); rendering a response happens after the transaction. */
typedef struct {
    ucwa_store *store;
    apr_pool_t *pool;
    apr_array_header_t *wake;      /* volatile apr_uint32_t *; NULL until a wake is asked */
} ucwa_txn;

void ucwa_txn_init(ucwa_txn *t, ucwa_store *s, apr_pool_t *p);
/* Asks to wake the parked event requests of application idx (its seq word). */
void ucwa_txn_wake_app(ucwa_txn *t, int idx);
/* Asks to wake the waiters of any futex word of the store (e.g. the push queue's). */
void ucwa_txn_wake_word(ucwa_txn *t, volatile apr_uint32_t *w);
/* The i-th word to wake (i < ucwa_txn_wakes(t)). */
int ucwa_txn_wakes(const ucwa_txn *t);
volatile apr_uint32_t *ucwa_txn_wake_at(const ucwa_txn *t, int i);

typedef struct {
    apr_uint32_t apps_live, apps_expired, apps_available, users_live, events_queued, parked;
} ucwa_store_stats;

/* Counts, and a check of every invariant the code relies on: NULL if the store is
 * consistent, else what is wrong (for the status page and the tests). */
const char *ucwa_store_check_locked(ucwa_store *s, ucwa_store_stats *st, apr_pool_t *p);

#endif
