/* Inside the ucwa-sipd process (ucwa_sipd_proc.c, ucwa_sipd_ng.c): libre's types. */
#ifndef UCWA_SIPD_INT_H
#define UCWA_SIPD_INT_H

#include <httpd.h>
/* libre's headers one by one: re.h would bring re_json.h, whose names clash with
 * jansson's */
#include <re_types.h>
#include <re_fmt.h>
#include <re_mem.h>
#include <re_mbuf.h>
#include <re_list.h>
#include <re_sa.h>
#include <re_tmr.h>
#include <re_main.h>
#include <re_sys.h>
#include <re_udp.h>
#include <re_uri.h>
#include <re_msg.h>
#include <re_sip.h>
#include <re_srtp.h>
#include <re_tls.h>
#define DEBUG_MODULE "ucwa-sipd"
#define DEBUG_LEVEL 4
#include <re_dbg.h>

#include <jansson.h>

#include "ng_bencode.h"
#include "ucwa_pool.h"
#include "ucwa_sipd.h"

#define SIPD_CACHE 128           /* answers kept by command id (a retried command) */
#define SIPD_MAX_CONNS 64        /* command connections at once */
#define SIPD_MAX_WAITERS 8       /* connections waiting for one pending command */
#define SIPD_RESERVE_FDS 8       /* descriptors kept for the command socket */
#define SIPD_MAX_FDS 65536       /* descriptors libre may watch, at most */

typedef struct sipd_cmd_entry {
    char id[65];                 /* "" when free */
    int pending;
    char *answer;                /* malloc'ed JSON line, without its id */
    unsigned waiters[SIPD_MAX_WAITERS];   /* connection serials */
    int nwait;
    apr_time_t at;
} sipd_cmd_entry;

typedef struct sipd {
    server_rec *s;
    const ucwa_sip_conf *conf;
    apr_pool_t *pool;
    pid_t parent;
    unsigned restarts;
    apr_time_t started;
    struct sip *sip;
    struct sip_lsnr *lsnr;
    struct sip_lsnr *guard_lsnr; /* in-dialog requests not from UcwaSipProxy: 403 */
    struct tls *tls;             /* UcwaSipCertificateFile's, or NULL */
    int cmd_fd;
    struct list conns;           /* sipd_conn */
    int reserve[SIPD_RESERVE_FDS];
    int nreserve;
    unsigned nconns, conn_serial;
    struct tmr parent_tmr;
    sipd_cmd_entry cache[SIPD_CACHE];
    unsigned cache_next;
    /* counters for status */
    apr_uint64_t sip_requests, sip_options, sip_refused, commands;
    unsigned calls;
    /* NG client (ucwa_sipd_ng.c) */
    struct udp_sock *ng_us;
    struct sa ng_addr;
    int ng_set;
    struct list ng_pending;
    apr_uint64_t ng_seq;
    /* calls (ucwa_sipd_call.c) */
    struct sipsess_sock *sess_sock;
    struct sip_lsnr *reneg_lsnr;  /* re-INVITEs in a call's dialog, before sess_sock */
    struct list call_list;       /* sipd_call */
    struct sip_lsnr *dlg_lsnr;   /* a previous process's dialogs (ucwa_sipd_dlg.c) */
    struct sip_lsnr *dlg_rsp_lsnr;   /* answers to a previous process's INVITEs */
    void *dlg_capture;           /* the record whose INVITE is being sent (its CANCEL) */
    struct tmr out_tmr;          /* looks at the store's outbox */
    apr_time_t out_busy;         /* when the outbox last had something */
    int bell_fd;                 /* the doorbell's pipe (ucwa_sipd_bell.c), or -1 */
    void *store;                 /* the session store (read unlocked: the outbox's counters) */
    const char *pool_name;       /* on a pool: this SIP side's name there ("~sip:FE"), else
                                  * NULL (ucwa_sipd_pool.c) */
    struct list pool_calls;      /* on a pool: calls from SIP (ucwa_sipd_pool.c) */
    struct list cvw_list;        /* calls via work (ucwa_sipd_cvw.c) */
    char loop_token[33];         /* an application's call looped to itself (ucwa_sipd_fwd.c) */
} sipd;

/* An NG request's end: resp is the answer's dictionary (NULL with err on failure). */
typedef void sipd_ng_done(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                          void *arg);

/* Opens the NG socket when UcwaRtpengine is set: 0, or an errno. */
int sipd_ng_open(sipd *d);
void sipd_ng_close(sipd *d);
/* Sends cmd (a dictionary) to rtpengine, resends it twice 500 ms apart with the same
 * cookie (rtpengine answers a repeated cookie from its cache), and calls done once. */
void sipd_ng_request(sipd *d, const ng_benc *cmd, sipd_ng_done *done, void *arg);
/* rtpengine's description from an offer or answer's result, or NULL with *why. */
const char *sipd_ng_sdp(const char *err, const ng_benc *resp, const char **why);
/* rtpengine forgets a call (its answer is not waited for). */
void sipd_ng_delete(sipd *d, const char *call_id);

/* Calls (ucwa_sipd_call.c): the SIP sessions' listener, opened before the stateless
 * answers of ucwa_sipd_proc.c so INVITEs and in-dialog requests reach it first. */
int sipd_calls_open(sipd *d);
/* 1 when msg comes from UcwaSipProxy's address (or there is no UcwaSipProxy). */
int sipd_from_proxy(sipd *d, const struct sip_msg *msg);
/* After the process dropped privileges: what a previous process held ends, the outbox is
 * looked at from now on. */
void sipd_calls_start(sipd *d);
void sipd_calls_close(sipd *d);
/* Takes the outbox now (the doorbell rang). */
void sipd_outbox_now(sipd *d);
/* The doorbell (ucwa_sipd_bell.c): once d->store is known. */
void sipd_bell_start(sipd *d);
void sipd_bell_stop(sipd *d);

/* Applies {"k": kind, "fe": kfe, "conv": kconv} as a message from the SIP side. */
int sipd_apply_keyed(sipd *d, const char *kind, const char *kfe, const char *kconv);

/* Dialogs across a restart (ucwa_sipd_dlg.c). dir: 0 to SIP, 1 from SIP (the INVITE's
 * Contact and Record-Route are kept then). begin: rtpengine has the call; confirm: the
 * dialog is established (msg: the 2xx to our INVITE, or the ACK to ours); forget: it
 * ended here. */
void sipd_dlg_begin(sipd *d, int dir, const char *kfe, const char *kconv,
                    const struct sip_msg *invite);
void sipd_dlg_confirm(sipd *d, const char *kconv, const struct sip_msg *msg);
void sipd_dlg_forget(sipd *d, const char *kconv);
/* After sipsess_connect of a call sipd_dlg_begin recorded (to SIP): its INVITE, if it
 * went out, has been kept for a CANCEL by a later process. */
void sipd_dlg_sent(sipd *d);
/* On a pool, a call from SIP: the Front End whose application answered it ("": none),
 * kept so that a new process tells it when the SIP party leaves; that Front End gone, the
 * calls it answered that were taken back end (BYE). */
void sipd_dlg_by(sipd *d, const char *kconv, const char *by);
void sipd_dlg_fe_gone(sipd *d, const char *fe);
/* At start: the previous process's calls, their conv keys to keep connected (a JSON
 * array, taken by the caller); the others end. */
json_t *sipd_dlg_restore(sipd *d);
/* The application ended a call taken back: BYE. 1 if kconv was one. */
int sipd_dlg_end(sipd *d, const char *kconv);
int sipd_dlg_open(sipd *d);
void sipd_dlg_close(sipd *d);

/* Applies message m (taken) to the store as coming from the SIP side; sdp: its description
 * or NULL; *mirror (if not NULL): a mirror with its key exists afterwards. 0 if applied. */
int sipd_apply(sipd *d, json_t *m, const char *sdp, int *mirror);
/* A SIP message's body (malloc'ed), or NULL when it has none. */
char *sipd_body_dup(const struct sip_msg *msg);
/* 480 Temporarily Unavailable, Retry-After 60: a number nobody has, a user with no
 * application (alike, so that a caller cannot map assigned numbers) */
void sipd_reply_unreachable(sipd *d, const struct sip_msg *msg);

/* Call via work (ucwa_sipd_cvw.c): 1 when message m (kind k, key kfe/kconv; invite: it
 * came as an invitation) is a call via work's, taken; 0 for ucwa_sipd_call.c's. */
int sipd_cvw_handle(sipd *d, int invite, json_t *m, const char *k, const char *kfe,
                    const char *kconv);
void sipd_cvw_close(sipd *d);

/* An application's call its callee forwards (ucwa_sipd_fwd.c): the target of invitation
 * m ("fwd"), else to; *hdrs: header lines to add (Diversion, or the loop's token), *route:
 * the route instead of UcwaSipProxy (the loop to this process's own primary port), *name:
 * the caller's display name (each malloc, or NULL). */
const char *sipd_fwd_app_target(sipd *d, json_t *m, const char *to, char **hdrs,
                                char **route, char **name);
/* An INVITE that is this process's own loop (it carries the loop's token): an application's
 * call to a user whose simultaneous ring or unanswered forward acts as for a call from
 * SIP. */
int sipd_fwd_app_loop(sipd *d, const struct sip_msg *msg);

/* What the outbox (or, on a pool, sipd_pool_command) hands over: o's message, sdp the
 * description it needs (ucwa_sipd_call.c). */
void sipd_calls_handle(sipd *d, const ucwa_pool_out *o, const char *sdp,
                       apr_uint32_t reneg_n);

/* On a pool (ucwa_sipd_pool.c). sipd_pool_start: pool_name and the list, before calls. */
void sipd_pool_start(sipd *d);
/* After sipd_pool_start, once the store is there: the pool ends what the others held with
 * an earlier process of this SIP side, but for the established calls in keep (the conv
 * keys this process took back: sipd_dlg_restore). */
void sipd_pool_join(sipd *d, json_t *keep);
/* The SIP party of conv left: Front End fe (whose application answered) hears "left". */
void sipd_pool_left(sipd *d, const char *fe, const char *conv);
/* A call from SIP rings the pool: m (the invitation, taken) with its offer goes to every
 * Front End where the callee has applications. 0, or -1 (not queued: 503). */
int sipd_pool_ring(sipd *d, json_t *m, const char *sdp);
/* The SIP caller canceled or hung up: the Front Ends ringing hear canceled, the one that
 * answered left. */
void sipd_pool_caller_ended(sipd *d, const char *conv);
/* A message m (taken) about a call from SIP, to the Front End whose application answered
 * it, with sdp (or NULL) inline: the phone's renegotiation, its answer to the
 * application's. 0, or -1 (no application answered it, or the outbox is full). */
int sipd_pool_tell(sipd *d, const char *conv, json_t *m, const char *sdp);
/* Simultaneous ring and forwarding on a pool: a leg answered (this side claims the call,
 * the Front End's invitations end ConnectedElsewhere); the unanswered forward's time
 * (they end Missed); an application's answer that the pool connected after a leg took
 * the call (it is told left). */
void sipd_pool_leg_won(sipd *d, const char *conv);
void sipd_pool_stop_apps(sipd *d, const char *conv);
void sipd_pool_answer_lost(sipd *d, const char *conv);
/* No Front End rings the call: 1 when its simultaneous ring or forward leg carries it on
 * (ucwa_sipd_call.c), 0 when the caller gets 480. */
int sipd_call_apps_none(sipd *d, const char *conv);
/* The pool said applications ring for call conv from SIP: its caller gets 180 now. */
void sipd_call_ringing(sipd *d, const char *conv);
/* The call ended here: what this file kept of it goes. */
void sipd_pool_forget(sipd *d, const char *conv);
/* The command "pool", {"body": a message for this SIP side,
 * "sdp": the description it names}, that the pool's thread hands over; the answer line
 * (malloc). */
char *sipd_pool_command(sipd *d, const char *body, const char *sdp);

#endif
