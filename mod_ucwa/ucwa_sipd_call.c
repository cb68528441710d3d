/* ucwa-sipd's calls: the SIP side as one more Front End of the conversation code.
 *
 * What the conversation code queues for UCWA_POOL_SIP_FE (common/ucwa/ucwa_pool: the
 * outbox, active without a pool when UcwaSip is On) is taken here: an invitation becomes
 * an INVITE through UcwaSipProxy with rtpengine's offer for the SIP side, a cancel a
 * CANCEL, a hang-up a BYE, an accept or decline of a call from SIP its 200 (with
 * rtpengine's answer) or 603, a provisional answer a 183, a renegotiation a re-INVITE
 * (and the phone's re-INVITE a renegotiation). What SIP says is applied to the store as the messages of
 * that Front End (ucwa_pool_apply_sdp_locked, with the description in hand), in this
 * process's own transactions; the applications' event requests are woken as the pool's
 * thread wakes them. See docs/ARCHITECTURE.md, "The SIP side". */
#include <httpd.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_config.h"
#include "ucwa_conv.h"
#include "ucwa_pool.h"
#include "ucwa_sdp.h"
#include "ucwa_shm.h"
#include "ucwa_sipd_int.h"
#include "ucwa_conv_phone.h"
#include "ucwa_sipd_fork.h"
#include "ucwa_snr.h"
#include <re_sdp.h>
#include <re_sipsess.h>

APLOG_USE_MODULE(ucwa);

#define POLL_MS 2                 /* the outbox is looked at this often while busy */
#define POLL_IDLE_MS 20           /* and this often once idle for POLL_IDLE_AFTER */
#define POLL_IDLE_AFTER APR_USEC_PER_SEC
#define TAKE_MAX 64               /* messages taken in one transaction */
#define RING_DEFAULT 30000        /* ms, when an invitation names no expiry */
#define PROXY_QUIET 3000          /* ms: an INVITE UcwaSipProxy did not even answer 100 */
#define SDP_TYPE "application/sdp"
#define RENEG_WAIT 8000           /* ms: the phone's re-INVITE waits this long for the
                                   * application's answer (below the phone's 32 s) */

typedef enum { CALL_OUT = 0, CALL_IN = 1 } call_dir;

typedef struct sipd_call {
    struct le le;
    sipd *d;
    call_dir dir;
    struct sipsess *sess;
    char kfe[UCWA_POOL_FE_MAX];   /* the conversation's key */
    char kconv[UCWA_CONV_ID_MAX];
    char peer_tag[128];           /* the SIP party's tag (rtpengine's to- or from-tag) */
    char *remote_sdp;             /* the SIP party's description (malloc) */
    int established, answered, ng_live;
    int ng_pending;               /* NG requests whose answer will name this call */
    int gone;                     /* ended: freed when the last of them is answered */
    int apps;                     /* from SIP: the applications ring (a mirror) */
    sipd_fork *fork;              /* from SIP: simultaneous ring, forwarding (or NULL) */
    /* from SIP, for acceptWithPhoneAudio (ucwa_sipd_fork.c): the callee, the caller's
     * From URI and description (malloc), and pa once an application answered on a phone */
    char *in_user, *in_caller, *in_offer;
    int pa;
    int pa_moving;                /* replaceWithPhoneAudio: the phone is called */
    struct tmr pa_tmr;            /* ... for at most the ring time */
    int heard;                    /* a response to our INVITE came */
    struct tmr ring, quiet;
    /* renegotiations (ucwa_sipd_reneg below): the phone's re-INVITE waiting for the
     * application's answer, and the application's re-INVITE to the phone */
    struct sip_strans *re_st;
    struct sip_msg *re_msg;       /* the phone's re-INVITE (a reference) */
    struct mbuf *re_2xx;          /* its 200, sent again over UDP until the ACK */
    unsigned re_txc;
    struct tmr re_tmr;
    struct sip_request *re_req;   /* the application's re-INVITE */
    char *re_offer;               /* its offer (sent again after a 491; malloc) */
    apr_uint32_t re_n;            /* the application's renegotiation's number (0: none) */
    int re_told;                  /* on a pool: the phone's is with the application */
    int re_leg;                   /* the open re-INVITE (re_st) is the answered leg's, in
                                   * its dialog (passed to the remote: leg_reinvite) */
    apr_uint32_t re_sent;         /* the number of the re-INVITE last sent for it */
    unsigned re_tries;
    struct tmr glare_tmr;
    /* from SIP on a pool: the INVITE answered 100 only (our own transaction) until the
     * pool says someone rings, so a number whose owner has no application anywhere gets
     * the same lone 480 as a number nobody has (in_ring) */
    struct sip_strans *pend_st;
    struct sip_msg *pend_msg;     /* the INVITE (a reference) */
} sipd_call;

/* This SIP side's name: "~sip" on a single Front End, "~sip:FE" on a pool. */
#define SIP_NAME(d) ((d)->pool_name ? (d)->pool_name : UCWA_POOL_SIP_FE)

/* ---- the store ---- */

typedef struct {
    const char *body;
    const ucwa_pool_sdp *sdp;
    const ucwa_idle_rules *rules;
    int rv, mirror;               /* applied; a mirror with this key exists afterwards */
    const char *what;
    const char *kfe, *kconv;
    const char *rfe, *rconv;      /* (a renegotiation) the call to look at afterwards */
    int reneg_open;               /* its SIP side's renegotiation is open afterwards */
} apply_txn;

/* The call record a key names here: the mirror of a call from SIP, else ours. */
static int conv_idx_locked(ucwa_store *s, const char *kfe, const char *kconv)
{
    return !strcmp(kfe, UCWA_POOL_SIP_FE) ? ucwa_conv_find_mirror_locked(s, kfe, kconv)
                                          : ucwa_conv_find_locked(s, kconv);
}

static void apply_locked(ucwa_txn *t, void *baton)
{
    apply_txn *x = baton;
    ucwa_pool_applied res;

    x->rv = ucwa_pool_apply_sdp_locked(t, x->body, strlen(x->body), x->sdp, x->rules,
                                       apr_time_now(), &res);
    x->what = res.what ? apr_pstrdup(t->pool, res.what) : "";
    if (x->kfe) {
        x->mirror = ucwa_conv_find_mirror_locked(t->store, x->kfe, x->kconv) >= 0;
    }
    if (x->rfe) {
        int idx = conv_idx_locked(t->store, x->rfe, x->rconv);
        const ucwa_conv *c = idx >= 0 ? ucwa_store_conv(t->store, idx) : NULL;
        x->reneg_open = c && c->reneg == (apr_uint32_t)ucwa_conv_remote_side(c) + 1
                        && !c->reneg_done;
    }
}

/* Applies message m (taken) as coming from the SIP side; sdp: its description or NULL;
 * reneg_open: whether the SIP side's renegotiation of its call is open afterwards. */
static int apply_ex(sipd *d, json_t *m, const char *sdp, int *mirror, int *reneg_open)
{
    apr_pool_t *p;
    apply_txn x;
    ucwa_pool_sdp desc;
    int rv;

    apr_pool_create(&p, d->pool);
    memset(&x, 0, sizeof(x));
    if (sdp) {
        json_object_set_new(m, "sdp", json_string("sip"));
        desc.ctype = SDP_TYPE;
        desc.body = sdp;
        desc.len = strlen(sdp);
        x.sdp = &desc;
    }
    x.body = mob_json_dump(p, m, NULL);
    x.rules = &ucwa_config_get(d->s)->global->idle_rules;
    x.rv = -1;
    if (mirror) {
        x.kfe = UCWA_POOL_SIP_FE;
        x.kconv = mob_json_str(m, "conv");
    }
    if (reneg_open) {
        x.rfe = mob_json_str(m, "fe");
        x.rconv = mob_json_str(m, "conv");
    }
    if (ucwa_txn_run(d->s, p, apply_locked, &x) != APR_SUCCESS) {
        x.rv = -1;
        x.what = "the store is not available";
    }
    if (x.rv != 0) {
        /* a race the conversation code expected (it ended on the applications' side) */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00700)
                     "ucwa-sipd: %s for conversation %s not applied: %s",
                     mob_json_str(m, "k"), mob_json_str(m, "conv"), x.what);
    }
    if (mirror) {
        *mirror = x.mirror;
    }
    if (reneg_open) {
        *reneg_open = x.rv == 0 && x.reneg_open;
    }
    rv = x.rv;
    json_decref(m);
    apr_pool_destroy(p);
    return rv;
}

int sipd_apply(sipd *d, json_t *m, const char *sdp, int *mirror)
{
    return apply_ex(d, m, sdp, mirror, NULL);
}

int sipd_apply_keyed(sipd *d, const char *kind, const char *kfe, const char *kconv)
{
    return sipd_apply(d, json_pack("{s:s,s:s,s:s}", "k", kind, "fe", kfe, "conv", kconv), NULL,
                 NULL);
}

static json_t *keyed(const sipd_call *c, const char *kind)
{
    return json_pack("{s:s,s:s,s:s}", "k", kind, "fe", c->kfe, "conv", c->kconv);
}

/* A call from SIP on a pool: its record is on the answering application's Front End. */
#define POOLED_IN(c) ((c)->d->pool_name && !strcmp((c)->kfe, (c)->d->pool_name))

/* Message m (taken) about call c to the applications' side: applied here, or, for a call
 * from SIP on a pool, sent to the Front End whose application answered (sdp inline). */
static int call_tell(sipd_call *c, json_t *m, const char *sdp)
{
    return POOLED_IN(c) ? sipd_pool_tell(c->d, c->kconv, m, sdp)
                        : sipd_apply(c->d, m, sdp, NULL);
}

/* An NG command about a call (its call-id: the conversation's key), origin and session
 * address rewritten to rtpengine's; more flags (n of them) beside. */
static ng_benc *ng_cmd(apr_pool_t *p, const char *command, const sipd_call *c,
                       const char *const *flags, int n)
{
    static const char *const replace[] = { "origin", "session-connection" };
    ng_benc *cmd = ng_benc_dict(p);

    ng_benc_dict_add_str(p, cmd, "command", command);
    ng_benc_dict_add_str(p, cmd, "call-id", c->kconv);
    ng_benc_dict_add_strs(p, cmd, "replace", replace, 2);
    if (n) {
        ng_benc_dict_add_strs(p, cmd, "flags", flags, n);
    }
    return cmd;
}

/* The app's side: WebRTC stacks (aiortc) read a=rtcp only with its address; a=mid. */
static const char *const to_app[] = { "full-rtcp-attribute" };
static const char *const in_flags[] = { "generate-mid", "full-rtcp-attribute" };

/* rtpengine's offer toward SIP from the application's offer (plain RTP/AVP, no ICE, RTCP
 * on its own port); to the phone's tag once it has one (a renegotiation). */
static ng_benc *ng_offer_to_sip(apr_pool_t *p, const sipd_call *c, const char *offer)
{
    static const char *const mux[] = { "demux" };
    ng_benc *cmd = ng_cmd(p, "offer", c, NULL, 0);

    ng_benc_dict_add_str(p, cmd, "from-tag", "ucwa");
    if (c->peer_tag[0]) {
        ng_benc_dict_add_str(p, cmd, "to-tag", c->peer_tag);
    }
    ng_benc_dict_add_str(p, cmd, "sdp", offer);
    ng_benc_dict_add_str(p, cmd, "ICE", "remove");
    ng_benc_dict_add_str(p, cmd, "transport-protocol", "RTP/AVP");
    ng_benc_dict_add_strs(p, cmd, "rtcp-mux", mux, 1);
    return cmd;
}

/* rtpengine's offer toward the application from the phone's offer: ICE and DTLS-SRTP
 * (the profile of WebRTC stacks), a=mid, RTCP offered muxed; a renegotiation names the
 * application's tag (to_app). The first offer of a call from SIP makes rtpengine's DTLS
 * side passive, and a renegotiation of it keeps it. */
static ng_benc *ng_offer_to_app(apr_pool_t *p, const sipd_call *c, const char *offer,
                                int reoffer)
{
    static const char *const mux[] = { "offer" };
    ng_benc *cmd = ng_cmd(p, "offer", c, in_flags, 2);

    ng_benc_dict_add_str(p, cmd, "from-tag", c->peer_tag);
    if (reoffer) {
        ng_benc_dict_add_str(p, cmd, "to-tag", "ucwa");
    }
    ng_benc_dict_add_str(p, cmd, "sdp", offer);
    ng_benc_dict_add_str(p, cmd, "ICE", "force");
    if (c->dir == CALL_IN) {
        ng_benc_dict_add_str(p, cmd, "DTLS", "passive");
    }
    ng_benc_dict_add_str(p, cmd, "transport-protocol", "UDP/TLS/RTP/SAVPF");
    ng_benc_dict_add_strs(p, cmd, "rtcp-mux", mux, 1);
    return cmd;
}

/* rtpengine's answer to the phone's offer with the application's (final or provisional)
 * answer, ICE taken off for the phone. */
static ng_benc *ng_answer_to_sip(apr_pool_t *p, const sipd_call *c, const char *answer)
{
    ng_benc *cmd = ng_cmd(p, "answer", c, NULL, 0);

    ng_benc_dict_add_str(p, cmd, "from-tag", c->peer_tag);
    ng_benc_dict_add_str(p, cmd, "to-tag", "ucwa");
    ng_benc_dict_add_str(p, cmd, "sdp", answer);
    ng_benc_dict_add_str(p, cmd, "ICE", "remove");
    return cmd;
}

/* ---- calls ---- */

static sipd_call *call_find(sipd *d, const char *kfe, const char *kconv)
{
    struct le *le;

    for (le = list_head(&d->call_list); le; le = le->next) {
        sipd_call *c = le->data;
        if (!strcmp(c->kfe, kfe) && !strcmp(c->kconv, kconv)) {
            return c;
        }
    }
    return NULL;
}

/* The call ends here: rtpengine forgets it, libre's session goes (a BYE or CANCEL when it
 * is still up: libre sends them as the session is freed). */
/* An NG request about c: c stays allocated until its answer (or its failure) comes, even
 * when the call ends meanwhile (rtpengine slow or down: up to 1.5 s). */
static void ng_call(sipd_call *c, const ng_benc *cmd, sipd_ng_done *done, void *arg)
{
    c->ng_pending++;
    sipd_ng_request(c->d, cmd, done, arg);
}

/* In an NG answer's callback: 1 when the call ended meanwhile (nothing more to do; the
 * last answer frees it). */
static int ng_back(sipd_call *c)
{
    c->ng_pending--;
    if (c->gone) {
        if (!c->ng_pending) {
            free(c);
        }
        return 1;
    }
    return 0;
}

/* rtpengine forgets the call (its leg toward the applications) */
static void ng_forget(sipd_call *c)
{
    if (c->ng_live) {
        sipd_ng_delete(c->d, c->kconv);
        c->ng_live = 0;
    }
}

/* An NG answer about call c came back: 1 when c ended meanwhile (nothing more to do; the
 * last answer frees it); else *sdp is rtpengine's description, or NULL with *why. */
static int ng_result(sipd_call *c, const char *err, const ng_benc *resp, const char **sdp,
                     const char **why)
{
    *why = NULL;
    *sdp = sipd_ng_sdp(err, resp, why);
    return ng_back(c);
}

static void reneg_end(sipd_call *c);

static void call_end(sipd_call *c)
{
    sipd *d = c->d;

    if (c->gone) {
        return;
    }
    c->gone = 1;
    ng_forget(c);
    sipd_dlg_forget(d, c->kconv);
    sipd_fork_free(c->fork);      /* its legs: CANCEL or BYE */
    c->fork = NULL;
    tmr_cancel(&c->ring);
    tmr_cancel(&c->quiet);
    tmr_cancel(&c->pa_tmr);
    reneg_end(c);
    list_unlink(&c->le);
    c->sess = mem_deref(c->sess);
    c->pend_st = mem_deref(c->pend_st);
    c->pend_msg = mem_deref(c->pend_msg);
    free(c->remote_sdp);
    c->remote_sdp = NULL;
    free(c->in_user);
    free(c->in_caller);
    free(c->in_offer);
    c->in_user = c->in_caller = c->in_offer = NULL;
    d->calls = d->calls ? d->calls - 1 : 0;
    sipd_pool_forget(d, c->kconv);
    if (!c->ng_pending) {
        free(c);
    }
}

static sipd_call *call_new(sipd *d, call_dir dir, const char *kfe, const char *kconv)
{
    sipd_call *c = calloc(1, sizeof(*c));

    if (!c) {
        return NULL;
    }
    c->d = d;
    c->dir = dir;
    apr_cpystrn(c->kfe, kfe, sizeof(c->kfe));
    apr_cpystrn(c->kconv, kconv, sizeof(c->kconv));
    tmr_init(&c->ring);
    tmr_init(&c->re_tmr);
    tmr_init(&c->glare_tmr);
    tmr_init(&c->quiet);
    tmr_init(&c->pa_tmr);
    list_append(&d->call_list, &c->le, c);
    d->calls++;
    return c;
}

static char *str_of(const struct pl *pl)
{
    char *s = malloc(pl->l + 1);

    if (s) {
        memcpy(s, pl->p, pl->l);
        s[pl->l] = '\0';
    }
    return s;
}

char *sipd_body_dup(const struct sip_msg *msg)
{
    struct pl pl;

    pl.p = (const char *)mbuf_buf(msg->mb);
    pl.l = mbuf_get_left(msg->mb);
    return pl.l ? str_of(&pl) : NULL;
}

/* "sip:" + a store address (kept without the scheme). */
static const char *sip_uri(apr_pool_t *p, const char *a)
{
    return !strncasecmp(a, "sip:", 4) || !strncasecmp(a, "tel:", 4) ? a
           : apr_pstrcat(p, "sip:", a, NULL);
}

/* libre's sessions see no re-INVITE of a connected call (on_reinvite takes them first);
 * one that reaches them (before the call is up) gets 488. */
static int no_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    (void)descp; (void)msg; (void)arg;
    return EPROTO;
}

static int no_answer(const struct sip_msg *msg, void *arg)
{
    (void)msg; (void)arg;
    return 0;
}

/* ---- calls from the applications to SIP ---- */

static void out_close(int err, const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;
    json_t *m;
    int code = msg ? msg->scode : 0;

    if (c->established) {
        m = keyed(c, "left");      /* the phone hung up */
    }
    else if (code == 486 || code == 600 || code == 603) {
        m = keyed(c, "declined");
    }
    else {
        m = keyed(c, "gone");      /* nobody took it: Unreachable */
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00701)
                 "ucwa-sipd: call %s ended by SIP (%d%s%s)", c->kconv, code,
                 err ? ", " : "", err ? strerror(err) : "");
    sipd_apply(c->d, m, NULL, NULL);
    call_end(c);
}

static int out_answer(const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;

    free(c->remote_sdp);
    c->remote_sdp = sipd_body_dup(msg);
    return 0;
}

static void out_answered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                            void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    json_t *m;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why)) {
        return;   /* it ended meanwhile */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00702)
                     "ucwa-sipd: rtpengine did not answer call %s: %s", c->kconv,
                     why);
        sipd_apply(d, keyed(c, "gone"), NULL, NULL);
        call_end(c);
        return;
    }
    m = keyed(c, "accepted");
    json_object_set_new(m, "by", json_string(SIP_NAME(d)));
    json_object_set_new(m, "peer", json_string(c->kconv));
    json_object_set_new(m, "name", json_string(""));
    json_object_set_new(m, "html", json_integer(0));
    if (sipd_apply(d, m, sdp, NULL) != 0) {
        call_end(c);               /* it ended on the UCWA side meanwhile: BYE */
    }
}

static void out_early_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                         void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    json_t *m;

    (void)d; (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why)) {
        return;   /* it ended meanwhile */
    }
    if (!sdp || c->established) {
        return;   /* no early media (the call goes on), or the 200 came first */
    }
    m = keyed(c, "provisional");
    json_object_set_new(m, "cid", json_string(""));
    json_object_set_new(m, "ctx", json_string(""));
    sipd_apply(d, m, sdp, NULL);
}

/* NG answer to rtpengine with the SIP party's description (its tag: to_tag), the app's
 * side rendered for its stack. */
static void out_ng_answer(sipd_call *c, const struct pl *to_tag, sipd_ng_done *done)
{
    sipd *d = c->d;
    apr_pool_t *p;
    ng_benc *cmd;

    apr_pool_create(&p, d->pool);
    cmd = ng_cmd(p, "answer", c, to_app, 1);
    ng_benc_dict_add_str(p, cmd, "from-tag", "ucwa");
    ng_benc_dict_add(p, cmd, "to-tag", ng_benc_bytes(p, to_tag->p, to_tag->l));
    ng_benc_dict_add_str(p, cmd, "sdp", c->remote_sdp ? c->remote_sdp : "");
    ng_call(c, cmd, done, c);
    apr_pool_destroy(p);
}

/* 180 or 183 with a description (early media: a gateway's ringback or announcement): the
 * caller gets it as a provisional answer, as from a callee app's sendProvisionalAnswer. */
static void out_progress(const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;
    char *sdp;

    c->heard = 1;
    if (c->established || !mbuf_get_left(msg->mb) || !(sdp = sipd_body_dup(msg))) {
        return;
    }
    free(c->remote_sdp);
    c->remote_sdp = sdp;
    out_ng_answer(c, &msg->to.tag, out_early_ng);
}

static void out_established(const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;

    c->established = c->heard = 1;
    tmr_cancel(&c->ring);
    if (msg->to.tag.l < sizeof(c->peer_tag)) {   /* the phone's tag: renegotiations */
        memcpy(c->peer_tag, msg->to.tag.p, msg->to.tag.l);
        c->peer_tag[msg->to.tag.l] = '\0';
    }
    sipd_dlg_confirm(c->d, c->kconv, msg);
    out_ng_answer(c, &msg->to.tag, out_answered_ng);
}

static void ring_out(void *arg)
{
    sipd_call *c = arg;

    /* the applications' side timed out on its own clock: the phone stops ringing */
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00703)
                 "ucwa-sipd: call %s not answered in time: canceled", c->kconv);
    call_end(c);
}

/* Not even a 100 Trying to the INVITE (Kamailio sends one at once): UcwaSipProxy is down
 * or unreachable (an ICMP error is not reported on libre's unconnected UDP socket, and
 * libre would retransmit for 32 s): the call fails Unreachable now. */
static void quiet_out(void *arg)
{
    sipd_call *c = arg;

    if (c->heard) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, c->d->s, UCWALOGNO(00866)
                 "ucwa-sipd: call %s: no answer from UcwaSipProxy %s within %d ms: "
                 "unreachable", c->kconv, c->d->conf->proxy ? c->d->conf->proxy : "(none)",
                 PROXY_QUIET);
    sipd_apply(c->d, keyed(c, "gone"), NULL, NULL);
    call_end(c);
}

typedef struct {
    sipd_call *c;
    char *to, *from;
    char gw[12];                  /* a number's gateway set, or "" */
    char *hdrs;                   /* a forwarded call's header lines (ucwa_sipd_fwd.c) */
    char *route;                  /* ... and its route (NULL: UcwaSipProxy) */
    char *name;                   /* ... and the caller's display name (NULL: none) */
} out_ctx;

static void out_offered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                           void *arg)
{
    out_ctx *x = arg;
    sipd_call *c = x->c;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);
    const char *route[1];
    char routebuf[300];
    struct mbuf *mb;
    int e;

    (void)rtt;
    if (ng_back(c)) {
        goto out;   /* canceled meanwhile */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00704)
                     "ucwa-sipd: rtpengine gave no offer for call %s to %s: %s", c->kconv,
                     x->to, why);
        sipd_apply(d, keyed(c, "gone"), NULL, NULL);
        call_end(c);
        goto out;
    }
    c->ng_live = 1;
    sipd_dlg_begin(d, CALL_OUT, c->kfe, c->kconv, NULL);
    mb = mbuf_alloc(strlen(sdp));
    mbuf_write_str(mb, sdp);
    mb->pos = 0;
    snprintf(routebuf, sizeof(routebuf), "sip:%s;lr", d->conf->proxy ? d->conf->proxy : "");
    route[0] = x->route ? x->route : routebuf;
    e = sipsess_connect(&c->sess, d->sess_sock, x->to, x->name, x->from, "ucwa",
                        d->conf->proxy || x->route ? route : NULL,
                        d->conf->proxy || x->route ? 1 : 0, SDP_TYPE, mb,
                        NULL, NULL, false, no_offer, out_answer, out_progress, out_established, NULL,
                        NULL, out_close, c, "P-Asserted-Identity: <%s>\r\n%s%s%s%s",
                        x->from, x->hdrs ? x->hdrs : "", x->gw[0] ? "P-Ucwa-Gateway-Set: " : "",
                        x->gw, x->gw[0] ? "\r\n" : "");
    sipd_dlg_sent(d);
    mem_deref(mb);
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(00705)
                     "ucwa-sipd: cannot send the INVITE of call %s to %s", c->kconv, x->to);
        sipd_apply(d, keyed(c, "gone"), NULL, NULL);
        call_end(c);
        goto out;
    }
    tmr_start(&c->quiet, PROXY_QUIET, quiet_out, c);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00706)
                 "ucwa-sipd: call %s from %s to %s sent", c->kconv, x->from, x->to);
out:
    free(x->to);
    free(x->from);
    free(x->hdrs);
    free(x->route);
    free(x->name);
    free(x);
}

/* An application calls a SIP address: rtpengine's offer toward SIP, then the INVITE. */
static void call_out(sipd *d, json_t *m, const char *offer)
{
    const char *kfe = mob_json_str(m, "fe"), *kconv = mob_json_str(m, "conv");
    const char *to = mob_json_str(m, "to"), *from = mob_json_str(m, "from");
    json_int_t expires = json_integer_value(json_object_get(m, "expires"));
    apr_pool_t *p;
    sipd_call *c;
    out_ctx *x;
    ng_benc *cmd;
    apr_interval_time_t ring;

    if (!kfe || !kconv || !to || !from || call_find(d, kfe, kconv)) {
        return;
    }
    if (!(c = call_new(d, CALL_OUT, kfe, kconv))) {
        return;
    }
    if (!offer) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00707)
                     "ucwa-sipd: call %s has no offer in the store any more", kconv);
        sipd_apply(d, keyed(c, "gone"), NULL, NULL);
        call_end(c);
        return;
    }
    ring = expires ? (apr_interval_time_t)expires - apr_time_now() : RING_DEFAULT * 1000;
    tmr_start(&c->ring, ring > 0 ? (uint64_t)(ring / 1000) + 1 : 1, ring_out, c);
    apr_pool_create(&p, d->pool);
    x = calloc(1, sizeof(*x));
    x->c = c;
    to = sipd_fwd_app_target(d, m, to, &x->hdrs, &x->route, &x->name);   /* forwarding */
    if (!strncasecmp(to, "tel:", 4)) {
        /* a number the voice policy routed: an E.164 user part at the caller's domain,
         * the route's gateway set named for Kamailio (extensions.md §21) */
        const char *gw = mob_json_str(m, "gw"), *at = strchr(from, '@');
        x->to = strdup(apr_psprintf(p, "sip:%s@%s;user=phone", to + 4, at ? at + 1 : "localhost"));
        if (gw && strlen(gw) < sizeof(x->gw) && strspn(gw, "0123456789") == strlen(gw)) {
            apr_cpystrn(x->gw, gw, sizeof(x->gw));
        }
    }
    else {
        x->to = strdup(sip_uri(p, to));
    }
    x->from = strdup(sip_uri(p, from));
    cmd = ng_offer_to_sip(p, c, offer);
    ng_call(c, cmd, out_offered_ng, x);
    apr_pool_destroy(p);
}

/* ---- calls from SIP to the applications ---- */

static void in_close(int err, const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;

    (void)msg;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00708)
                 "ucwa-sipd: call %s from SIP ended by the caller (%s)", c->kconv,
                 c->established ? "hung up" : "canceled");
    (void)err;
    if (c->d->pool_name && c->pa && !c->established) {
        /* answered on the user's phone, which still rings: that application's Front End
         * holds its invitation open, which ends (Missed) */
        sipd_pool_tell(c->d, c->kconv, keyed(c, "canceled"), NULL);
    }
    else if (c->d->pool_name) {
        sipd_pool_caller_ended(c->d, c->kconv);
    }
    else if (c->apps) {   /* else they did not ring, or a forwarding target took the call */
        sipd_apply(c->d, keyed(c, c->established ? "left" : "canceled"), NULL, NULL);
    }
    else if (c->pa && c->established) {
        /* answered on the user's phone: the application's phoneAudio ends too */
        sipd_apply(c->d, keyed(c, "left"), NULL, NULL);
    }
    call_end(c);
}

static void in_established(const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;

    c->established = 1;
    sipd_dlg_confirm(c->d, c->kconv, msg);   /* msg: the ACK */
}

/* The caller's INVITE, answered 100 only so far (on a pool, before the pool said whether
 * anyone rings): the session begins now with a provisional answer (180, or 181 when only a
 * forwarding leg rings). */
static void in_ring(sipd_call *c, uint16_t code, const char *reason)
{
    sipd *d = c->d;
    int err;

    if (c->sess || !c->pend_msg || c->gone) {
        return;
    }
    c->pend_st = mem_deref(c->pend_st);   /* libre's session takes the transaction over */
    err = sipsess_accept(&c->sess, d->sess_sock, c->pend_msg, code, reason, "ucwa",
                         SDP_TYPE, NULL, NULL, NULL, false, no_offer, no_answer,
                         in_established, NULL, NULL, in_close, c, NULL);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(01240)
                     "ucwa-sipd: call %s from SIP: its session did not begin (%d)",
                     c->kconv, err);
        (void)sip_treply(NULL, d->sip, c->pend_msg, 500, "Server Internal Error");
        c->sess = NULL;
    }
    c->pend_msg = mem_deref(c->pend_msg);
}

/* The caller's session, begun if it was still pending (an answer always follows a ring). */
static struct sipsess *in_sess(sipd_call *c)
{
    in_ring(c, 180, "Ringing");
    return c->sess;
}

/* A final refusal of the caller's INVITE, whether its session began or not. */
static int call_reject(sipd_call *c, uint16_t code, const char *reason, const char *hdrs)
{
    if (c->sess) {
        return sipsess_reject(c->sess, code, reason, hdrs);
    }
    if (c->pend_st && c->pend_msg && code == 480) {
        /* nobody rang: the very answer of a number nobody has (sipd_reply_unreachable) */
        return sip_treplyf(&c->pend_st, NULL, c->d->sip, c->pend_msg, false, code, reason,
                           "Retry-After: 60\r\nContent-Length: 0\r\n\r\n");
    }
    if (c->pend_st && c->pend_msg) {
        return sip_treply(&c->pend_st, c->d->sip, c->pend_msg, code, reason);
    }
    return EINVAL;
}

/* The caller canceled before anyone rang: 487, and the call ends as any caller's CANCEL. */
static void in_pend_cancel(void *arg)
{
    sipd_call *c = arg;

    (void)sip_treply(&c->pend_st, c->d->sip, c->pend_msg, 487, "Request Terminated");
    in_close(ECONNRESET, NULL, c);
}

void sipd_call_ringing(sipd *d, const char *conv)
{
    sipd_call *c = call_find(d, SIP_NAME(d), conv);

    if (c) {
        in_ring(c, 180, "Ringing");
    }
}

static void pa_failed(sipd_call *c);

static void ring_in(void *arg)
{
    sipd_call *c = arg;

    if (c->pa) {
        pa_failed(c);
    }

    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00709)
                 "ucwa-sipd: call %s from SIP not answered in time", c->kconv);
    (void)call_reject(c, 480, "Temporarily Unavailable", NULL);
    call_end(c);
}

typedef struct {
    sipd_call *c;
    char *to, *from, *name;
    char *offer;                  /* the caller's description (a forwarding leg's offer) */
    char *caller;                 /* the INVITE's From URI */
    int video;
} in_ctx;

static void in_offered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                          void *arg)
{
    in_ctx *x = arg;
    sipd_call *c = x->c;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);
    apr_interval_time_t ring = ucwa_config_get(d->s)->global->ring_timeout;
    json_t *m;
    int mirror = 0, rv;

    (void)rtt;
    if (ng_back(c)) {
        goto out;   /* canceled meanwhile */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00710)
                     "ucwa-sipd: rtpengine gave no offer for call %s from %s: %s", c->kconv,
                     x->from, why);
        (void)call_reject(c, 503, "Service Unavailable", NULL);
        call_end(c);
        goto out;
    }
    c->ng_live = 1;
    m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:I,s:i,s:i,s:s}",
                  "k", "invite", "fe", c->kfe, "conv", c->kconv, "to", x->to, "from", x->from,
                  "html", 0, "name", x->name, "thread", "", "subject", "", "importance",
                  "Normal", "ffmt", 0, "expires", (json_int_t)(apr_time_now() + ring),
                  "av", 1, "video", x->video, "ctx", "");
    json_object_set_new(m, "first", json_string(""));
    if (d->pool_name) {
        /* on a pool: every Front End where the callee has applications rings */
        if (sipd_pool_ring(d, m, sdp) != 0) {
            (void)call_reject(c, 503, "Service Unavailable", NULL);
            call_end(c);
            goto out;
        }
        rv = 0;
        mirror = 1;
    }
    else {
        rv = sipd_apply(d, m, sdp, &mirror);
    }
    if ((rv != 0 || !mirror) && sipd_fork_live(c->fork)) {
        /* no application rings, the simultaneous ring or forwarding target does */
        sipd_fork_start(c->fork, c, x->offer, 0);
        tmr_start(&c->ring, (uint64_t)sipd_fork_ring_ms(c->fork, ring / 1000) + 500, ring_in, c);
        goto out;
    }
    if (rv != 0 || !mirror) {
        /* nobody to ring (the user has no application taking calls here) */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00711)
                     "ucwa-sipd: call %s from %s: %s has no application to ring", c->kconv,
                     x->from, x->to);
        (void)call_reject(c, 480, "Temporarily Unavailable", NULL);
        call_end(c);
        goto out;
    }
    c->apps = 1;
    sipd_fork_start(c->fork, c, x->offer, 1);
    tmr_start(&c->ring, (uint64_t)sipd_fork_ring_ms(c->fork, ring / 1000) + 500, ring_in, c);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00712)
                 "ucwa-sipd: call %s from %s rings %s", c->kconv, x->from, x->to);
    c->in_user = x->to;           /* kept for acceptWithPhoneAudio */
    c->in_caller = x->caller;
    c->in_offer = strdup(x->offer);
    x->to = x->caller = NULL;
out:
    free(x->to);
    free(x->caller);
    free(x->from);
    free(x->name);
    free(x->offer);
    free(x);
}

static void random_id(char *out, apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i;

    for (i = 0; i + 1 < n; i++) {
        out[i] = hex[rand_u32() & 15];
    }
    out[n - 1] = '\0';
}

typedef struct {
    const char *sip;
    int found;
} user_txn;

static void user_locked(ucwa_txn *t, void *baton)
{
    user_txn *x = baton;

    x->found = ucwa_store_user_find_locked(t->store, x->sip, 0) >= 0;
}

/* The user (lower case, user@host) has a record here (an application signed in). */
static int user_here(sipd *d, const char *sip)
{
    apr_pool_t *p;
    user_txn x;

    if (!sip) {
        return 0;
    }
    apr_pool_create(&p, d->pool);
    x.sip = sip;
    x.found = 0;
    ucwa_txn_run(d->s, p, user_locked, &x);
    apr_pool_destroy(p);
    return x.found;
}

/* The request came from UcwaSipProxy's address (any port: Kamailio answers from its
 * listening socket, or over a TCP connection of its own); without UcwaSipProxy, from
 * anyone. */
int sipd_from_proxy(sipd *d, const struct sip_msg *msg)
{
    struct sa proxy;
    char host[128];
    const char *colon;

    if (!d->conf->proxy) {
        return 1;
    }
    colon = strrchr(d->conf->proxy, ':');
    if (!colon || (apr_size_t)(colon - d->conf->proxy) >= sizeof(host)) {
        return 0;
    }
    memcpy(host, d->conf->proxy, (apr_size_t)(colon - d->conf->proxy));
    host[colon - d->conf->proxy] = '\0';
    if (host[0] == '[') {   /* [v6]:port */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    return sa_set_str(&proxy, host, 0) == 0 && sa_cmp(&proxy, &msg->src, SA_ADDR);
}

/* An INVITE from SIP (Kamailio sends a domain user with no registered phone here). */
static void on_invite(const struct sip_msg *msg, void *arg)
{
    sipd *d = arg;
    char kconv[33];
    sipd_call *c;
    in_ctx *x;
    apr_pool_t *p;
    ng_benc *cmd;
    char *offer, *user = NULL;
    sipd_fork *fork = NULL;
    int err, apps;

    d->sip_requests++;
    if (!sipd_from_proxy(d, msg) && !sipd_fwd_app_loop(d, msg)) {
        /* only Kamailio rings the users (it applied its trust rules): a call sent to this
         * port directly from elsewhere would bypass them */
        char src[80];
        d->sip_refused++;
        re_snprintf(src, sizeof(src), "%J", &msg->src);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00717)
                     "ucwa-sipd: INVITE from %s refused: not from UcwaSipProxy", src);
        (void)sip_reply(d->sip, msg, 403, "Forbidden");
        return;
    }
    /* whose call (a work number is its owner's), and the owner's forwarding */
    if (sipd_fork_target(d, msg, &user, &fork) < 0) {
        return;   /* answered (480: nobody's number) */
    }
    if (d->pool_name && !sipd_fork_rings_apps(fork)) {
        apps = 0;   /* an immediate forward: the applications do not ring anywhere */
    }
    else if (d->pool_name) {
        /* on a pool the applications ring through the pool (it answers 480 when none
         * does, or the legs ring on: sipd_call_apps_none) */
        apps = user != NULL;
    }
    else {
        apps = sipd_fork_rings_apps(fork) && user_here(d, user);
    }
    if (!apps && !sipd_fork_live(fork)) {
        /* nobody of that address has an application here: as before calls (stateless),
         * answered as a number nobody has (sipd_reply_unreachable) */
        d->sip_refused++;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01160)
                     "ucwa-sipd: call to %s: no application signed in (480)",
                     user ? user : "nobody");
        free(user);
        sipd_fork_free(fork);
        sipd_reply_unreachable(d, msg);
        return;
    }
    offer = sipd_body_dup(msg);
    if (!offer || !mbuf_get_left(msg->mb)) {
        free(offer);
        free(user);
        sipd_fork_free(fork);
        d->sip_refused++;
        (void)sip_treply(NULL, d->sip, msg, 488, "Not Acceptable Here");
        return;
    }
    random_id(kconv, sizeof(kconv));
    if (!(c = call_new(d, CALL_IN, SIP_NAME(d), kconv))) {
        free(offer);
        free(user);
        sipd_fork_free(fork);
        (void)sip_treply(NULL, d->sip, msg, 500, "Server Internal Error");
        return;
    }
    c->fork = fork;
    sipd_fork_caller(fork, msg);
    if (apps && d->pool_name) {
        /* 100 until the pool says someone rings (in_ring): no 180 before a 480 */
        err = sip_strans_alloc(&c->pend_st, d->sip, msg, in_pend_cancel, c);
        if (!err) {
            c->pend_msg = mem_ref((void *)msg);
            err = sip_treply(&c->pend_st, d->sip, msg, 100, "Trying");
        }
    }
    else {
        err = sipsess_accept(&c->sess, d->sess_sock, msg, apps ? 180 : 181,
                             apps ? "Ringing" : "Call Is Being Forwarded", "ucwa", SDP_TYPE,
                             NULL, NULL, NULL, false, no_offer, no_answer, in_established,
                             NULL, NULL, in_close, c, NULL);
    }
    if (err) {
        free(offer);
        free(user);
        (void)sip_treply(NULL, d->sip, msg, 500, "Server Internal Error");
        call_end(c);
        return;
    }
    sipd_dlg_begin(d, CALL_IN, c->kfe, c->kconv, msg);
    apr_cpystrn(c->peer_tag, "", sizeof(c->peer_tag));
    if (msg->from.tag.l < sizeof(c->peer_tag)) {
        memcpy(c->peer_tag, msg->from.tag.p, msg->from.tag.l);
        c->peer_tag[msg->from.tag.l] = '\0';
    }
    if (!apps) {
        /* forwarded at once (or only the simultaneous ring number rings) */
        apr_interval_time_t ring = ucwa_config_get(d->s)->global->ring_timeout;
        sipd_fork_start(fork, c, offer, 0);
        tmr_start(&c->ring, (uint64_t)sipd_fork_ring_ms(fork, ring / 1000) + 500, ring_in, c);
        free(offer);
        free(user);
        return;
    }
    x = calloc(1, sizeof(*x));
    x->c = c;
    x->to = user;
    x->offer = strdup(offer);
    x->caller = str_of(&msg->from.auri);
    apr_pool_create(&p, d->pool);
    {
        /* a caller from the PSTN is shown as its number (tel:), as the reference shows */
        char *fu = str_of(&msg->from.uri.user), *fh = str_of(&msg->from.uri.host);
        char *dn = pl_isset(&msg->from.dname) ? str_of(&msg->from.dname) : NULL;
        struct pl v;
        int phone = uri_param_get(&msg->from.uri.params, &(struct pl)PL("user"), &v) == 0
                    && !pl_strcasecmp(&v, "phone");
        const char *from, *name;
        ucwa_snr_caller(p, fu, fh, phone, dn, &from, &name);
        x->from = strdup(from);
        x->name = strdup(name);
        free(fu); free(fh); free(dn);
    }
    x->video = strstr(offer, "m=video") != NULL;
    cmd = ng_cmd(p, "offer", c, in_flags, 2);
    ng_benc_dict_add_str(p, cmd, "from-tag", c->peer_tag);
    ng_benc_dict_add_str(p, cmd, "sdp", offer);
    ng_benc_dict_add_str(p, cmd, "ICE", "force");
    ng_benc_dict_add_str(p, cmd, "DTLS", "passive");
    ng_benc_dict_add_str(p, cmd, "transport-protocol", "UDP/TLS/RTP/SAVPF");
    {
        static const char *const mux[] = { "offer" };
        ng_benc_dict_add_strs(p, cmd, "rtcp-mux", mux, 1);
    }
    apr_pool_create(&p, d->pool);
    cmd = ng_offer_to_app(p, c, offer, 0);
    ng_call(c, cmd, in_offered_ng, x);
    apr_pool_destroy(p);
    free(offer);
}

typedef struct {
    sipd_call *c;
    int accept, won;
} verdict_txn;

static void verdict_locked(ucwa_txn *t, void *baton)
{
    verdict_txn *x = baton;

    ucwa_pool_claim_verdict_locked(t, x->c->kfe, x->c->kconv, x->accept, x->won,
                                   apr_time_now());
}

static void in_answered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                           void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    verdict_txn v = { c, 1, 1 };
    struct mbuf *mb;
    apr_pool_t *p;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why)) {
        return;   /* it ended meanwhile */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00713)
                     "ucwa-sipd: rtpengine did not take the answer of call %s: %s", c->kconv,
                     why);
        (void)call_reject(c, 488, "Not Acceptable Here", NULL);
        v.won = 0;
        if (d->pool_name) {
            sipd_pool_caller_ended(d, c->kconv);   /* the accepter was connected there */
            call_end(c);
            return;
        }
        apr_pool_create(&p, d->pool);
        ucwa_txn_run(d->s, p, verdict_locked, &v);
        apr_pool_destroy(p);
        sipd_apply(d, keyed(c, "canceled"), NULL, NULL);
        call_end(c);
        return;
    }
    mb = mbuf_alloc(strlen(sdp));
    mbuf_write_str(mb, sdp);
    mb->pos = 0;
    (void)sipsess_answer(in_sess(c), 200, "OK", mb, "");   /* it adds the Content-Type */
    mem_deref(mb);
    c->established = 1;
    if (!d->pool_name) {   /* on a pool, the claimer's Front End connected it */
        apr_pool_create(&p, d->pool);
        ucwa_txn_run(d->s, p, verdict_locked, &v);   /* the accepter connects */
        apr_pool_destroy(p);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00714)
                 "ucwa-sipd: call %s from SIP answered", c->kconv);
}

/* ---- acceptWithPhoneAudio: the application answered on the user's phone ---- */

/* The phone answered: the record's modality becomes phoneAudio, then the verdict
 * connects the application (its events say phoneAudio Connected). */
static void pa_verdict_locked(ucwa_txn *t, void *baton)
{
    verdict_txn *x = baton;
    int idx = ucwa_conv_find_mirror_locked(t->store, x->c->kfe, x->c->kconv);

    if (idx >= 0) {
        ucwa_store_conv(t->store, idx)->phone = UCWA_CONV_PHONE_ANSWERED;
    }
    verdict_locked(t, baton);
}

/* The phone an application answered on did not answer: its invitation fails. */
static void pa_failed(sipd_call *c)
{
    verdict_txn v = { c, 1, 0 };
    apr_pool_t *p;

    c->pa = 0;
    if (POOLED_IN(c)) {
        /* the claimer's Front End holds the invitation open: it ends (Missed) */
        sipd_pool_tell(c->d, c->kconv, keyed(c, "canceled"), NULL);
        return;
    }
    apr_pool_create(&p, c->d->pool);
    ucwa_txn_run(c->d->s, p, verdict_locked, &v);
    apr_pool_destroy(p);
    sipd_apply(c->d, keyed(c, "canceled"), NULL, NULL);
}

typedef struct {
    const char *key;
    char number[UCWA_PHONE_MAX], gw[12];
} pa_txn;

static void pa_read_locked(ucwa_txn *t, void *baton)
{
    pa_txn *x = baton;
    int idx = ucwa_conv_find_mirror_locked(t->store, UCWA_POOL_SIP_FE, x->key);
    const ucwa_conv *r = idx >= 0 ? ucwa_store_conv(t->store, idx) : NULL;

    if (r && r->phone_number[0]) {
        apr_cpystrn(x->number, r->phone_number, sizeof(x->number));
        apr_cpystrn(x->gw, r->phone_gw, sizeof(x->gw));
    }
}

/* The answer came without a description: when the record names a phone number, that
 * number is called (a leg of ucwa_sipd_fork.c, the caller's description offered to it);
 * 1 then, 0 when it names none (a decline as before). On a pool the record is on the
 * claimer's Front End: the claim (m) names the number. */
static int pa_start(sipd *d, sipd_call *c, const char *key, json_t *m)
{
    apr_interval_time_t ring = ucwa_config_get(d->s)->global->ring_timeout;
    pa_txn x;
    apr_pool_t *p;

    memset(&x, 0, sizeof(x));
    x.key = key;
    if (d->pool_name) {
        const char *pa = mob_json_str(m, "pa"), *pgw = mob_json_str(m, "pgw");
        apr_cpystrn(x.number, pa ? pa : "", sizeof(x.number));
        apr_cpystrn(x.gw, pgw ? pgw : "", sizeof(x.gw));
    }
    else {
        apr_pool_create(&p, d->pool);
        ucwa_txn_run(d->s, p, pa_read_locked, &x);
        apr_pool_destroy(p);
    }
    if (!x.number[0] || !c->in_user || !c->in_offer) {
        return 0;
    }
    c->pa = 1;
    sipd_fork_free(c->fork);      /* its legs were canceled */
    c->fork = sipd_fork_phone(d, c, c->in_user, c->in_caller, c->in_offer, x.number,
                              x.gw[0] ? x.gw : NULL);
    if (!c->fork) {
        sipd_call_leg_failed(c, 503);
        return 1;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00764)
                 "ucwa-sipd: call %s from SIP accepted on phone %s: calling it (gateway "
                 "set %s)", c->kconv, x.number, x.gw[0] ? x.gw : "(Kamailio's default)");
    tmr_start(&c->ring, (uint64_t)(ring / 1000) + 500, ring_in, c);
    return 1;
}

/* An application answered (or declined) a call from SIP: the first answer wins. */
static void in_claim(sipd *d, const ucwa_pool_out *o, json_t *m, const char *answer)
{
    sipd_call *c = call_find(d, SIP_NAME(d), o->key);
    const char *k = mob_json_str(m, "k");
    verdict_txn v = { c, 0, 1 };
    apr_pool_t *p;
    ng_benc *cmd;

    if (c && c->answered && d->pool_name && k && !strcmp(k, "accepted")) {
        sipd_pool_answer_lost(d, o->key);   /* a leg took the call in the same instant */
        return;
    }
    if (!c || c->answered || !k) {
        return;   /* an answer that came after the call ended (or a forwarding target
                   * answered first): that side ended too */
    }
    c->answered = 1;
    tmr_cancel(&c->ring);
    sipd_fork_cancel(c->fork);    /* the simultaneous ring stops: CANCEL */
    if (!strcmp(k, "accepted") && (!answer || !*answer) && pa_start(d, c, o->key, m)) {
        return;                   /* acceptWithPhoneAudio: the user's phone is called */
    }
    if (strcmp(k, "accepted") != 0 || !answer) {
        (void)call_reject(c, 603, "Decline", NULL);
        if (!d->pool_name) {
            apr_pool_create(&p, d->pool);
            ucwa_txn_run(d->s, p, verdict_locked, &v);   /* declined */
            apr_pool_destroy(p);
        }
        else if (!strcmp(k, "accepted")) {
            sipd_pool_caller_ended(d, c->kconv);   /* no answer to send: it leaves there */
        }
        call_end(c);
        return;
    }
    apr_pool_create(&p, d->pool);
    cmd = ng_answer_to_sip(p, c, answer);
    ng_call(c, cmd, in_answered_ng, c);
    apr_pool_destroy(p);
}

/* ---- what a forwarding leg's outcome does to the call (ucwa_sipd_fork.h) ---- */

const char *sipd_call_key(const sipd_call *c)
{
    return c->kconv;
}

const char *sipd_call_tag(const sipd_call *c)
{
    return c->peer_tag;
}

static void pa_moved(sipd_call *c, const char *sdp);
static void pa_move_failed(sipd_call *c, int code);

void sipd_call_leg_answered(sipd_call *c, const char *sdp)
{
    if (c->pa_moving) {
        pa_moved(c, sdp);          /* replaceWithPhoneAudio: the remote party is moved */
        return;
    }
    struct mbuf *mb = mbuf_alloc(strlen(sdp));

    mbuf_write_str(mb, sdp);
    mb->pos = 0;
    (void)sipsess_answer(in_sess(c), 200, "OK", mb, "Content-Type: " SDP_TYPE "\r\n");
    mem_deref(mb);
    c->established = 1;
    c->answered = 1;
    tmr_cancel(&c->ring);
    if (c->pa) {
        /* answered on the phone: the application's claim wins, its call connects with
         * phoneAudio */
        verdict_txn v = { c, 1, 1 };
        apr_pool_t *p;
        if (POOLED_IN(c)) {
            sipd_pool_tell(c->d, c->kconv, keyed(c, "pa-answered"), NULL);   /* there */
        }
        else {
            apr_pool_create(&p, c->d->pool);
            ucwa_txn_run(c->d->s, p, pa_verdict_locked, &v);
            apr_pool_destroy(p);
        }
        c->apps = 0;
    }
    else if (c->apps && c->d->pool_name) {
        c->apps = 0;
        sipd_pool_leg_won(c->d, c->kconv);   /* the first answer pool-wide */
    }
    else if (c->apps) {
        /* the applications stop ringing: answered elsewhere, not missed */
        c->apps = 0;
        sipd_apply(c->d, keyed(c, "elsewhere"), NULL, NULL);
    }
    ng_forget(c);
}

void sipd_call_stop_apps(sipd_call *c)
{
    if (c->apps && c->d->pool_name) {
        c->apps = 0;
        sipd_pool_stop_apps(c->d, c->kconv);   /* on every Front End it rang */
    }
    else if (c->apps) {
        c->apps = 0;
        sipd_apply(c->d, keyed(c, "canceled"), NULL, NULL);   /* Missed, with its log */
    }
    ng_forget(c);
}

int sipd_call_apps_none(sipd *d, const char *conv)
{
    sipd_call *c = call_find(d, SIP_NAME(d), conv);

    if (!c || c->answered || !sipd_fork_live(c->fork)) {
        return 0;
    }
    c->apps = 0;
    ng_forget(c);
    in_ring(c, 181, "Call Is Being Forwarded");
    sipd_fork_apps_none(c->fork);
    return 1;
}

void sipd_call_leg_failed(sipd_call *c, int code)
{
    if (c->pa_moving) {
        pa_move_failed(c, code);   /* the call goes on as it was */
        return;
    }
    if (c->pa && !c->established) {
        pa_failed(c);
    }
    if (code == 486 || code == 600 || code == 603) {
        (void)call_reject(c, (uint16_t)code, code == 486 ? "Busy Here"
                             : code == 600 ? "Busy Everywhere" : "Decline", NULL);
    }
    else {
        (void)call_reject(c, 480, "Temporarily Unavailable", NULL);
    }
    call_end(c);
}

void sipd_call_hangup(sipd_call *c)
{
    if (c->pa) {
        call_tell(c, keyed(c, "left"), NULL);   /* the application's call ends */
    }
    call_end(c);   /* BYE to the caller as libre frees the session */
}

/* ---- renegotiations and provisional answers ----
 *
 * A connected call's renegotiation is the pool's (reneg, reneg-answer): the phone's
 * re-INVITE becomes the SIP side's renegotiation (rtpengine's offer toward the app's
 * profile), the application's answer its 200 (rtpengine's answer), a dismissal its 488;
 * the application's renegotiation becomes a re-INVITE (rtpengine's offer toward SIP), the
 * phone's 200 its answer (rtpengine's) and any failure a dismissal. libre's sessions
 * answer a re-INVITE at once, from a callback: the phone's re-INVITE is taken before they
 * see it (on_reinvite) and answered when the application has. Glare, as the pool's rule:
 * the caller's goes first (the phone's re-INVITE crossing the application's takes it over
 * when the phone called; else the phone gets 491, and a 491 to ours is tried again after
 * RFC 3261's pause). */

static void reneg_end(sipd_call *c)
{
    tmr_cancel(&c->re_tmr);
    tmr_cancel(&c->glare_tmr);
    c->re_st = mem_deref(c->re_st);
    c->re_msg = mem_deref(c->re_msg);
    c->re_2xx = mem_deref(c->re_2xx);
    c->re_req = mem_deref(c->re_req);
    free(c->re_offer);
    c->re_offer = NULL;
    c->re_n = 0;
}

static void reneg_send(sipd_call *c);

/* The phone's re-INVITE gets its final answer (not a 2xx). */
static void re_reply(sipd_call *c, uint16_t scode, const char *reason)
{
    if (c->re_st && c->re_msg) {
        (void)sip_treply(&c->re_st, c->d->sip, c->re_msg, scode, reason);
    }
    c->re_st = mem_deref(c->re_st);
    c->re_msg = mem_deref(c->re_msg);
    c->re_told = 0;
    reneg_send(c);   /* the application's, when it waited for this one */
}

/* The 200 of the phone's re-INVITE again (UDP) until its ACK, about 32 s at most. */
static void re_2xx_again(void *arg)
{
    sipd_call *c = arg;

    if (!c->re_2xx || !c->re_msg || ++c->re_txc > 10) {
        c->re_2xx = mem_deref(c->re_2xx);
        c->re_msg = mem_deref(c->re_msg);
        return;
    }
    (void)sip_send(c->d->sip, c->re_msg->sock, c->re_msg->tp, &c->re_msg->src, c->re_2xx);
    tmr_start(&c->re_tmr, MIN((uint64_t)SIP_T1 << c->re_txc, (uint64_t)SIP_T2), re_2xx_again,
              c);
}

static void re_ok(sipd_call *c, const char *sdp);

static void re_answered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                           void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why) || !c->re_st) {
        return;   /* the call ended, or the phone canceled its re-INVITE */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00980)
                     "ucwa-sipd: rtpengine did not take the answer to the re-INVITE of call "
                     "%s: %s", c->kconv, why);
        re_reply(c, 488, "Not Acceptable Here");
        return;
    }
    re_ok(c, sdp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00981)
                 "ucwa-sipd: re-INVITE of call %s answered by the application", c->kconv);
}

/* The remote's re-INVITE passed on to the user's phone (sipd_fork_reoffer) answered. */
void sipd_call_leg_reanswered(sipd_call *c, const char *sdp, int code, const char *reason)
{
    if (!c->re_st) {
        return;   /* the remote canceled its re-INVITE, or the call ended */
    }
    if (!sdp) {
        re_reply(c, code >= 300 && code < 700 ? (uint16_t)code : 488,
                 code >= 300 && code < 700 && reason ? reason : "Not Acceptable Here");
        return;
    }
    re_ok(c, sdp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(01127)
                 "ucwa-sipd: re-INVITE of call %s answered by the %s", c->kconv,
                 c->re_leg ? "remote party" : "phone");
}

/* The 200 of the remote's re-INVITE with sdp, sent again over UDP until its ACK. */
static void re_ok(sipd_call *c, const char *sdp)
{
    sipd *d = c->d;
    struct sip_contact contact;
    struct mbuf *mb = NULL;
    int e;

    (void)sip_dialog_update(c->re_leg ? sipd_fork_leg_dialog(c->fork)
                            : sipsess_dialog(c->sess), c->re_msg);
    sip_contact_set(&contact, "ucwa", &c->re_msg->dst, c->re_msg->tp);
    e = sip_treplyf(&c->re_st, &mb, d->sip, c->re_msg, true, 200, "OK",
                    "%HContent-Type: " SDP_TYPE "\r\nContent-Length: %zu\r\n\r\n%s",
                    sip_contact_print, &contact, strlen(sdp), sdp);
    c->re_st = NULL;
    if (!e && mb && c->re_msg->tp == SIP_TRANSP_UDP) {
        c->re_2xx = mb;
        c->re_txc = 0;
        tmr_start(&c->re_tmr, SIP_T1, re_2xx_again, c);
    }
    else {
        mem_deref(mb);
        c->re_msg = mem_deref(c->re_msg);
    }
}

/* The application answered (answer) or dismissed (NULL) the phone's renegotiation. */
static void reneg_answer_from_app(sipd_call *c, const char *answer)
{
    apr_pool_t *p;
    ng_benc *cmd;

    c->re_told = 0;
    if (!c->re_st) {
        return;   /* the phone canceled it, or it was answered already */
    }
    if (!answer) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00982)
                     "ucwa-sipd: re-INVITE of call %s dismissed by the application: 488",
                     c->kconv);
        re_reply(c, 488, "Not Acceptable Here");
        return;
    }
    apr_pool_create(&p, c->d->pool);
    cmd = ng_answer_to_sip(p, c, answer);
    ng_call(c, cmd, re_answered_ng, c);
    apr_pool_destroy(p);
}

static void re_backstop(void *arg);

static void re_offered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                          void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    json_t *m;
    int open = 0;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why) || !c->re_st) {
        return;   /* the call ended, or the phone canceled its re-INVITE */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00983)
                     "ucwa-sipd: rtpengine gave no offer for the re-INVITE of call %s: %s",
                     c->kconv, why);
        re_reply(c, 488, "Not Acceptable Here");
        return;
    }
    m = keyed(c, "reneg");
    json_object_set_new(m, "op", json_string(""));
    if (POOLED_IN(c)) {
        /* to the answering application's Front End; the phone called, so its
         * renegotiation goes first there (the pool's rule): taken unless the call ended */
        open = sipd_pool_tell(d, c->kconv, m, sdp) == 0;
        c->re_told = open;
    }
    else {
        apply_ex(d, m, sdp, NULL, &open);
    }
    if (!open) {
        /* the store did not take it: the application's own renegotiation goes first (it
         * is the caller's), or the call is not connected any more */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00984)
                     "ucwa-sipd: re-INVITE of call %s not taken by the application (%s)",
                     c->kconv, c->re_n ? "491: its own renegotiation is open" : "488");
        if (c->re_n) {
            re_reply(c, 491, "Request Pending");
        }
        else {
            re_reply(c, 488, "Not Acceptable Here");
        }
        return;
    }
    if (c->re_n) {
        /* it crossed the application's, which the store failed (Conflict): ours is
         * dropped, whatever the phone answers to it */
        tmr_cancel(&c->glare_tmr);
        c->re_n = 0;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00985)
                 "ucwa-sipd: re-INVITE of call %s: a renegotiation to the application",
                 c->kconv);
    tmr_start(&c->re_tmr, RENEG_WAIT, re_backstop, c);
}

/* The application's answer to the phone's re-INVITE did not come (its Front End lost the
 * message, the call ended there, the application never answered): 500 with Retry-After,
 * a failure of ours and not of the offer (488), so the session stays as it was and the
 * phone may try again; an answer after this finds no re-INVITE and is dropped. */
static void re_backstop(void *arg)
{
    sipd_call *c = arg;

    if (!c->re_st || !c->re_msg || c->re_2xx) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(01241)
                 "ucwa-sipd: re-INVITE of call %s: no answer from the application in %d ms: "
                 "500", c->kconv, RENEG_WAIT);
    (void)sip_treplyf(&c->re_st, NULL, c->d->sip, c->re_msg, false, 500,
                      "Server Internal Error", "Retry-After: 2\r\nContent-Length: 0\r\n\r\n");
    re_reply(c, 500, "Server Internal Error");   /* (answered already: frees it) */
}

static void re_canceled(void *arg)
{
    sipd_call *c = arg;

    /* the store's renegotiation stays open: the application's answer finds no re-INVITE */
    re_reply(c, 487, "Request Terminated");
}

static sipd_call *call_of_dialog(sipd *d, const struct sip_msg *msg)
{
    struct le *le;

    for (le = list_head(&d->call_list); le; le = le->next) {
        sipd_call *c = le->data;
        if (!c->gone && c->established && c->sess
            && sip_dialog_cmp(sipsess_dialog(c->sess), msg)) {
            return c;
        }
    }
    return NULL;
}

/* A re-INVITE taken into a server transaction of ours (100 Trying), in the call's dialog
 * or (leg) its answered leg's; -1: answered 500. */
static int re_take(sipd_call *c, const struct sip_msg *msg, int leg)
{
    tmr_cancel(&c->re_tmr);
    c->re_2xx = mem_deref(c->re_2xx);
    c->re_msg = mem_deref(c->re_msg);
    if (sip_strans_alloc(&c->re_st, c->d->sip, msg, re_canceled, c) != 0) {
        (void)sip_treply(NULL, c->d->sip, msg, 500, "Server Internal Error");
        return -1;
    }
    c->re_msg = mem_ref((void *)msg);
    c->re_leg = leg;
    (void)sip_treply(&c->re_st, c->d->sip, msg, 100, "Trying");
    return 0;
}

/* The call whose answered leg (the mobile) is in msg's dialog. */
static sipd_call *call_of_leg_dialog(sipd *d, const struct sip_msg *msg)
{
    struct le *le;

    for (le = list_head(&d->call_list); le; le = le->next) {
        sipd_call *c = le->data;
        struct sip_dialog *dlg = c->gone ? NULL : sipd_fork_leg_dialog(c->fork);
        if (dlg && sip_dialog_cmp(dlg, msg)) {
            return c;
        }
    }
    return NULL;
}

/* The remote's answer to the leg's re-INVITE passed on: ACK, and the answer through
 * rtpengine into the leg's 200; a refusal goes back to the leg with its code. */
static void leg_re_resp(int err, const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;
    struct sip_dialog *dlg = sipsess_dialog(c->sess);
    char reason[64], *body;

    if (msg && msg->scode < 200) {
        return;
    }
    if (msg && msg->scode < 300 && !c->gone) {
        /* ACKed even when the leg canceled its re-INVITE meanwhile */
        sipd_reinvite_ack(c->d, dlg, msg);
    }
    if (!c->re_st || !c->re_leg) {
        return;   /* the leg canceled it */
    }
    if (err || !msg) {
        re_reply(c, 500, "Server Internal Error");
        return;
    }
    if (msg->scode >= 300) {
        pl_strcpy(&msg->reason, reason, sizeof(reason));
        re_reply(c, msg->scode == 481 || msg->scode == 408 ? 500 : msg->scode,
                 msg->scode == 481 || msg->scode == 408 ? "Server Internal Error" : reason);
        return;
    }
    body = sipd_body_dup(msg);
    if (sipd_fork_leg_answer(c->fork, body) != 0) {
        re_reply(c, 488, "Not Acceptable Here");
    }
    free(body);
}

void sipd_call_leg_offered(sipd_call *c, const char *sdp)
{
    if (!c->re_st || !c->re_leg) {
        return;   /* the leg canceled its re-INVITE, or the call ended */
    }
    if (!sdp) {
        re_reply(c, 488, "Not Acceptable Here");
        return;
    }
    if (c->re_req || sipd_reinvite(c->d, &c->re_req, c->sess, sdp, leg_re_resp, c) != 0) {
        re_reply(c, 500, "Server Internal Error");
    }
}

/* The answered leg's own re-INVITE (the mobile holds or resumes): taken into a server
 * transaction here, its offer through rtpengine to the remote party in a re-INVITE of
 * ours (sipd_call_leg_offered), whose answer comes back in the leg's 200. One
 * renegotiation at a time: 491 while another is open (RFC 3261 14.2). */
static void leg_reinvite(sipd *d, sipd_call *c, const struct sip_msg *msg)
{
    char *offer;

    d->sip_requests++;
    if (!sip_dialog_rseq_valid(sipd_fork_leg_dialog(c->fork), msg)) {
        (void)sip_treply(NULL, d->sip, msg, 500, "Server Internal Error");
        return;
    }
    if (c->re_st || c->re_req || c->pa_moving || sipd_fork_leg_busy(c->fork)) {
        (void)sip_treply(NULL, d->sip, msg, 491, "Request Pending");
        return;
    }
    if (!(offer = sipd_body_dup(msg))) {
        (void)sip_treply(NULL, d->sip, msg, 488, "Not Acceptable Here");
        return;
    }
    if (re_take(c, msg, 1) != 0) {
        free(offer);
        return;
    }
    if (sipd_fork_leg_offer(c->fork, offer) != 0) {
        re_reply(c, 488, "Not Acceptable Here");
    }
    free(offer);
}

/* Before libre's sessions: a re-INVITE in a call's dialog (taken here, answered later) and
 * the ACK of its 200. The rest goes on to them. */
static bool on_reinvite(const struct sip_msg *msg, void *arg)
{
    sipd *d = arg;
    sipd_call *c;
    apr_pool_t *p;
    ng_benc *cmd;
    char *offer;
    int on_phone;

    if (!pl_isset(&msg->to.tag)) {
        return false;
    }
    if (!pl_strcmp(&msg->met, "ACK")) {
        c = call_of_dialog(d, msg);
        if (!c) {
            c = call_of_leg_dialog(d, msg);   /* the ACK of the leg's re-INVITE's 200 */
        }
        if (!c || !c->re_2xx || !c->re_msg || msg->cseq.num != c->re_msg->cseq.num) {
            return false;
        }
        tmr_cancel(&c->re_tmr);
        c->re_2xx = mem_deref(c->re_2xx);
        c->re_msg = mem_deref(c->re_msg);
        return true;
    }
    if (pl_strcmp(&msg->met, "INVITE")) {
        return false;
    }
    if (!(c = call_of_dialog(d, msg))) {
        if (!(c = call_of_leg_dialog(d, msg))) {
            return false;
        }
        leg_reinvite(d, c, msg);
        return true;
    }
    d->sip_requests++;
    on_phone = c->pa || sipd_fork_won(c->fork);
    if (on_phone && (c->pa_moving || !sipd_fork_won(c->fork))) {
        /* while the call moves to the user's phone (replaceWithPhoneAudio: its own
         * re-INVITE follows) or before the phone's leg answered: not carried, the call
         * goes on as it was */
        (void)sip_treply(NULL, d->sip, msg, 488, "Not Acceptable Here");
        return true;
    }
    if (!sip_dialog_rseq_valid(sipsess_dialog(c->sess), msg)) {
        (void)sip_treply(NULL, d->sip, msg, 500, "Server Internal Error");
        return true;
    }
    if (c->re_st) {
        (void)sip_treplyf(NULL, NULL, d->sip, msg, false, 500, "Server Internal Error",
                          "Retry-After: 2\r\nContent-Length: 0\r\n\r\n");
        return true;
    }
    if (c->re_n && c->dir == CALL_OUT) {
        /* glare: the application called, its renegotiation goes first */
        (void)sip_treply(NULL, d->sip, msg, 491, "Request Pending");
        return true;
    }
    offer = sipd_body_dup(msg);
    if (!offer) {
        /* an offer-less re-INVITE would want ours in the 200: not supported */
        (void)sip_treply(NULL, d->sip, msg, 488, "Not Acceptable Here");
        return true;
    }
    if (re_take(c, msg, 0) != 0) {
        free(offer);
        return true;
    }
    if (on_phone) {
        /* the call is on the user's phone (acceptWithPhoneAudio, replaceWithPhoneAudio, a
         * forward answered): the phone's leg is renegotiated, not the application's */
        if (sipd_fork_reoffer(c->fork, offer) != 0) {
            re_reply(c, 488, "Not Acceptable Here");
        }
        free(offer);
        return true;
    }
    apr_pool_create(&p, d->pool);
    cmd = ng_offer_to_app(p, c, offer, 1);
    ng_call(c, cmd, re_offered_ng, c);
    apr_pool_destroy(p);
    free(offer);
    return true;
}

/* The application's renegotiation ends without an answer (the phone refused it, or
 * rtpengine failed): dismissed. */
static void reneg_dismiss(sipd_call *c)
{
    json_t *m = keyed(c, "reneg-answer");

    json_object_set_new(m, "n", json_integer((json_int_t)c->re_n));
    c->re_n = 0;
    free(c->re_offer);
    c->re_offer = NULL;
    call_tell(c, m, NULL);
}

int sipd_re_contact(enum sip_transp tp, const struct sa *src, const struct sa *dst,
                      struct mbuf *mb, void *arg)
{
    struct sip_contact contact;

    (void)dst; (void)arg;
    sip_contact_set(&contact, "ucwa", src, tp);
    return mbuf_printf(mb, "%H", sip_contact_print, &contact);
}

int sipd_reinvite(sipd *d, struct sip_request **req, struct sipsess *sess, const char *sdp,
                  sip_resp_h *resp, void *arg)
{
    return sip_drequestf(req, d->sip, true, "INVITE", sipsess_dialog(sess), 0, NULL,
                         sipd_re_contact, resp, arg,
                         "Content-Type: " SDP_TYPE "\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(sdp), sdp);
}

void sipd_reinvite_ack(sipd *d, struct sip_dialog *dlg, const struct sip_msg *msg)
{
    (void)sip_dialog_update(dlg, msg);
    (void)sip_drequestf(NULL, d->sip, false, "ACK", dlg, msg->cseq.num, NULL, sipd_re_contact,
                        NULL, NULL, "Content-Length: 0\r\n\r\n");
}

static void re_app_answered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                               void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    json_t *m;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why) || !c->re_n) {
        return;
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00986)
                     "ucwa-sipd: rtpengine did not take the phone's answer to the re-INVITE "
                     "of call %s: %s", c->kconv, why);
        reneg_dismiss(c);
        return;
    }
    m = keyed(c, "reneg-answer");
    json_object_set_new(m, "n", json_integer((json_int_t)c->re_n));
    c->re_n = 0;
    free(c->re_offer);
    c->re_offer = NULL;
    call_tell(c, m, sdp);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00987)
                 "ucwa-sipd: the phone answered the renegotiation of call %s", c->kconv);
}

static void reneg_again(void *arg)
{
    reneg_send(arg);
}

static void re_app_resp(int err, const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;
    struct sip_dialog *dlg = sipsess_dialog(c->sess);
    int mine = c->re_n && c->re_n == c->re_sent;   /* else dropped, or a newer one waits */
    apr_pool_t *p;
    ng_benc *cmd;
    char *body;

    if (err || !msg) {
        if (mine) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00988)
                         "ucwa-sipd: the re-INVITE of call %s failed (%s): renegotiation "
                         "dismissed", c->kconv, strerror(err ? err : EPROTO));
            reneg_dismiss(c);
        }
        reneg_send(c);
        return;
    }
    if (msg->scode < 200) {
        return;
    }
    if (msg->scode < 300) {
        sipd_reinvite_ack(c->d, dlg, msg);
        if (!mine) {
            reneg_send(c);
            return;   /* it crossed the phone's, which went first */
        }
        if (!(body = sipd_body_dup(msg))) {
            reneg_dismiss(c);
            return;
        }
        apr_pool_create(&p, c->d->pool);
        cmd = ng_cmd(p, "answer", c, to_app, 1);
        ng_benc_dict_add_str(p, cmd, "from-tag", "ucwa");
        ng_benc_dict_add_str(p, cmd, "to-tag", c->peer_tag);
        ng_benc_dict_add_str(p, cmd, "sdp", body);
        ng_call(c, cmd, re_app_answered_ng, c);
        apr_pool_destroy(p);
        free(body);
        return;
    }
    if (!mine) {
        reneg_send(c);
        return;
    }
    if (msg->scode == 491 && c->re_tries < 3) {
        /* glare: again after RFC 3261's pause (2.1 to 4 s for the Call-ID's owner: us when
         * the application called; else up to 2 s), or once the phone's is over */
        uint64_t ms = c->dir == CALL_OUT ? 2100 + rand_u32() % 1900 : rand_u32() % 2000;
        c->re_tries++;
        tmr_start(&c->glare_tmr, ms, reneg_again, c);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00989)
                 "ucwa-sipd: the phone refused the re-INVITE of call %s (%u): renegotiation "
                 "dismissed", c->kconv, msg->scode);
    reneg_dismiss(c);
}

static void re_app_offered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                              void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    int e;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why) || !c->re_n) {
        return;
    }
    if (c->re_st) {
        /* the phone's re-INVITE came while rtpengine made this offer (ours was waiting for
         * a 491's pause): no re-INVITE of ours while it is open (RFC 3261 14.1); ours is
         * dropped if the phone's goes first, else sent again when it is refused (re_reply) */
        return;
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00990)
                     "ucwa-sipd: rtpengine gave no offer for the renegotiation of call %s: %s",
                     c->kconv, why);
        reneg_dismiss(c);
        return;
    }
    c->re_sent = c->re_n;
    e = sipd_reinvite(d, &c->re_req, c->sess, sdp, re_app_resp, c);
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(00991)
                     "ucwa-sipd: cannot send the re-INVITE of call %s", c->kconv);
        reneg_dismiss(c);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00992)
                 "ucwa-sipd: renegotiation of call %s sent to the phone", c->kconv);
}

/* rtpengine's offer toward SIP for the application's renegotiation, then the re-INVITE. */
static void reneg_send(sipd_call *c)
{
    apr_pool_t *p;
    ng_benc *cmd;

    if (!c->re_n || !c->re_offer || c->re_req || c->re_st || tmr_isrunning(&c->glare_tmr)) {
        return;   /* none, or not now: when what is in the way is over */
    }
    apr_pool_create(&p, c->d->pool);
    cmd = ng_offer_to_sip(p, c, c->re_offer);
    ng_call(c, cmd, re_app_offered_ng, c);
    apr_pool_destroy(p);
}

/* The application renegotiates (its number n, its offer): sent now, or once the phone's
 * re-INVITE or our previous one is over (reneg_send). */
static void reneg_from_app(sipd_call *c, const char *offer, apr_uint32_t n)
{
    if (c->re_st && c->re_told) {
        /* on a pool: it crossed the phone's, which its Front End took (the caller's goes
         * first) and where it failed with Conflict: nothing to send, nothing to answer */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(01040)
                     "ucwa-sipd: renegotiation %u of call %s crossed the phone's re-INVITE: "
                     "dropped", n, c->kconv);
        return;
    }
    c->re_n = n;
    if (!offer || !n || !c->established) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00995)
                     "ucwa-sipd: renegotiation of call %s dismissed: %s", c->kconv,
                     !offer ? "no offer in the store" : "the call is not in a state for it");
        reneg_dismiss(c);
        return;
    }
    c->re_tries = 0;
    free(c->re_offer);
    c->re_offer = strdup(offer);
    reneg_send(c);
}

/* A provisional answer of the application to a call from SIP: rtpengine's answer, then
 * 183 Session Progress with it (early media toward the phone). */
static void in_early_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                        void *arg)
{
    sipd_call *c = arg;
    const char *why, *sdp;
    struct mbuf *mb;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, &why) || c->answered || c->established) {
        return;   /* ended, or the final answer overtook it */
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00993)
                     "ucwa-sipd: rtpengine did not take the provisional answer of call %s: "
                     "%s", c->kconv, why);
        return;
    }
    mb = mbuf_alloc(strlen(sdp));
    mbuf_write_str(mb, sdp);
    mb->pos = 0;
    (void)sipsess_progress(in_sess(c), 183, "Session Progress", mb, "");
    mem_deref(mb);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00994)
                 "ucwa-sipd: call %s from SIP: 183 with the application's provisional answer",
                 c->kconv);
}

static void provisional_from_app(sipd_call *c, const char *answer)
{
    apr_pool_t *p;
    ng_benc *cmd;

    if (c->dir != CALL_IN || c->answered || c->established || !answer) {
        return;
    }
    apr_pool_create(&p, c->d->pool);
    cmd = ng_answer_to_sip(p, c, answer);
    ng_call(c, cmd, in_early_ng, c);
    apr_pool_destroy(p);
}

/* ---- the outbox ---- */

typedef struct {
    int n;
    ucwa_pool_out *out;
    const char **sdp;             /* per message: the description it needs, or NULL */
    apr_uint32_t *reneg_n;        /* per message: a renegotiation's number */
} take_txn;

/* The description of kind of the conversation a message names, as bytes (one of a
 * multipart offer: its application/sdp part as the store kept it). */
/* ---- replaceWithPhoneAudio: a connected call moved to the user's phone ----
 *
 * The phone is called as acceptWithPhoneAudio's is (a leg of ucwa_sipd_fork.c, rtpengine's
 * offer made from the remote party's description under <key>-pa); when it answers, the
 * remote party gets a re-INVITE with rtpengine's description of the phone's leg, and once
 * it took it (2xx, ACK) the applications' rtpengine call is deleted and the application
 * told (phoneAudio). Any failure on the way: the phone's leg ends, the call goes on as it
 * was. */

typedef struct {
    sipd_call *c;
    int ok;
} replaced_txn;

static void replaced_locked(ucwa_txn *t, void *baton)
{
    replaced_txn *x = baton;
    ucwa_conv_touched touched;
    int idx = conv_idx_locked(t->store, x->c->kfe, x->c->kconv), i;

    if (idx < 0) {
        return;
    }
    memset(&touched, 0, sizeof(touched));
    ucwa_conv_phone_replaced_locked(t->store, idx, x->ok, apr_time_now(), t->pool, &touched);
    for (i = 0; i < touched.n; i++) {
        ucwa_txn_wake_app(t, touched.app[i]);
    }
}

static void pa_replaced(sipd_call *c, int ok)
{
    replaced_txn x = { c, ok };
    apr_pool_t *p;

    if (POOLED_IN(c)) {
        /* the record is on the answering application's Front End */
        json_t *m = keyed(c, "pa-replaced");
        json_object_set_new(m, "ok", json_integer(ok != 0));
        sipd_pool_tell(c->d, c->kconv, m, NULL);
        return;
    }
    apr_pool_create(&p, c->d->pool);
    ucwa_txn_run(c->d->s, p, replaced_locked, &x);
    apr_pool_destroy(p);
}

static void pa_move_failed(sipd_call *c, int code)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00767)
                 "ucwa-sipd: call %s not moved to the phone (%d): it goes on as it was",
                 c->kconv, code);
    c->pa = c->pa_moving = 0;
    tmr_cancel(&c->pa_tmr);
    sipd_fork_free(c->fork);      /* CANCEL, or BYE to a phone that answered */
    c->fork = NULL;
    pa_replaced(c, 0);
}

static void pa_move_timeout(void *arg)
{
    pa_move_failed(arg, 408);
}

static void pa_reinvite_resp(int err, const struct sip_msg *msg, void *arg)
{
    sipd_call *c = arg;
    struct sip_dialog *dlg = sipsess_dialog(c->sess);

    if (err || !msg) {
        pa_move_failed(c, 0);
        return;
    }
    if (msg->scode < 200) {
        return;
    }
    if (msg->scode >= 300) {
        pa_move_failed(c, msg->scode);
        return;
    }
    sipd_reinvite_ack(c->d, dlg, msg);
    c->pa_moving = 0;
    tmr_cancel(&c->pa_tmr);
    ng_forget(c);                 /* the applications' leg: the app carries no media now */
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00766)
                 "ucwa-sipd: call %s moved to the phone", c->kconv);
    pa_replaced(c, 1);
}

static void pa_moved(sipd_call *c, const char *sdp)
{
    int e;

    if (c->re_req || c->re_st) {
        pa_move_failed(c, 491);   /* a renegotiation is in the way */
        return;
    }
    e = sipd_reinvite(c->d, &c->re_req, c->sess, sdp, pa_reinvite_resp, c);
    if (e) {
        pa_move_failed(c, 500);
    }
}

static void pa_replace(sipd_call *c, json_t *m)
{
    const char *number = mob_json_str(m, "pa"), *gw = mob_json_str(m, "pgw");
    const char *user = mob_json_str(m, "user");
    const char *remote = c->dir == CALL_IN ? c->in_offer : c->remote_sdp;
    apr_interval_time_t ring = ucwa_config_get(c->d->s)->global->ring_timeout;
    char *caller;

    if (!c->established || c->pa || !number || !*number || !user || !remote) {
        pa_move_failed(c, 0);
        return;
    }
    caller = c->in_caller ? strdup(c->in_caller) : NULL;
    if (!caller && (caller = malloc(strlen(user) + 5)) != NULL) {
        strcpy(caller, "sip:");
        strcat(caller, user);
    }
    sipd_fork_free(c->fork);
    c->pa = c->pa_moving = 1;
    c->fork = sipd_fork_phone(c->d, c, user, caller, remote, number, gw && *gw ? gw : NULL);
    free(caller);
    if (!c->fork) {
        pa_move_failed(c, 500);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00768)
                 "ucwa-sipd: call %s to be moved to phone %s: calling it", c->kconv, number);
    tmr_start(&c->pa_tmr, (uint64_t)(ring / 1000), pa_move_timeout, c);
}

static const char *sdp_of(ucwa_store *s, apr_pool_t *p, int idx, ucwa_sdp_kind kind)
{
    const char *uri, *ctype = NULL, *why = NULL;
    apr_size_t len = 0;
    char *bytes;

    if (idx < 0 || !(uri = ucwa_av_uri_locked(s, ucwa_store_conv(s, idx), kind, p))) {
        return NULL;
    }
    bytes = (char *)ucwa_sdp_from_data_uri(p, uri, &ctype, &len, &why);
    return bytes ? apr_pstrmemdup(p, bytes, len) : NULL;
}

static void take_locked(ucwa_txn *t, void *baton)
{
    take_txn *x = baton;
    ucwa_store *s = t->store;
    int i;

    if (!ucwa_pool_sip_on(s)) {
        x->n = 0;   /* a pool's outbox since the last look (a graceful restart) */
        return;
    }
    x->n = ucwa_pool_out_peek_locked(s, t->pool, TAKE_MAX, &x->out);
    x->sdp = apr_pcalloc(t->pool, sizeof(char *) * (apr_size_t)(x->n + 1));
    x->reneg_n = apr_pcalloc(t->pool, sizeof(apr_uint32_t) * (apr_size_t)(x->n + 1));
    for (i = 0; i < x->n; i++) {
        ucwa_pool_out *o = &x->out[i];
        json_t *m = json_loadb(o->body, o->len, 0, NULL);
        const char *k = m ? mob_json_str(m, "k") : NULL;
        if (k && !strcmp(k, "invite") && o->op == UCWA_POOL_INVITE) {
            x->sdp[i] = sdp_of(s, t->pool, ucwa_conv_find_locked(s, mob_json_str(m, "conv")),
                               UCWA_SDP_OFFER);
        }
        else if (k && !strcmp(k, "accepted") && o->op == UCWA_POOL_CLAIM_ACCEPT) {
            x->sdp[i] = sdp_of(s, t->pool, ucwa_conv_find_mirror_locked(s, UCWA_POOL_SIP_FE,
                                                                        o->key),
                               UCWA_SDP_ANSWER);
        }
        else if (k && (!strcmp(k, "reneg") || !strcmp(k, "reneg-answer")
                       || !strcmp(k, "provisional")) && mob_json_str(m, "fe")
                 && mob_json_str(m, "conv")) {
            /* the application's renegotiation (its offer, its number), its answer to the
             * SIP side's, its provisional answer */
            int idx = conv_idx_locked(s, mob_json_str(m, "fe"), mob_json_str(m, "conv"));
            /* (a dismissal stored no answer: none) */
            x->sdp[i] = sdp_of(s, t->pool, idx, !strcmp(k, "reneg") ? UCWA_SDP_RENEG_OFFER
                                                : !strcmp(k, "reneg-answer")
                                                    ? UCWA_SDP_RENEG_ANSWER
                                                    : UCWA_SDP_ANSWER);
            x->reneg_n[i] = idx >= 0 ? ucwa_store_conv(s, idx)->reneg_n : 0;
        }
        json_decref(m);
    }
    ucwa_pool_out_done_locked(s, x->n);
}

void sipd_calls_handle(sipd *d, const ucwa_pool_out *o, const char *sdp,
                       apr_uint32_t reneg_n)
{
    json_t *m = json_loadb(o->body, o->len, 0, NULL);
    const char *k = m ? mob_json_str(m, "k") : NULL;
    const char *kfe = m ? mob_json_str(m, "fe") : NULL, *kconv = m ? mob_json_str(m, "conv")
                                                                   : NULL;
    sipd_call *c;

    if (!k || !kfe || !kconv) {
        json_decref(m);
        return;
    }
    if (sipd_cvw_handle(d, o->op == UCWA_POOL_INVITE, m, k, kfe, kconv)) {
        /* call via work (ucwa_sipd_cvw.c): its invitation, or a message about one */
    }
    else if (o->op == UCWA_POOL_INVITE && !strcmp(k, "invite")) {
        call_out(d, m, sdp);
    }
    else if (o->op == UCWA_POOL_CLAIM_ACCEPT || o->op == UCWA_POOL_CLAIM_DECLINE) {
        in_claim(d, o, m, sdp);
    }
    else if ((c = call_find(d, kfe, kconv)) != NULL
             && (!strcmp(k, "canceled") || !strcmp(k, "left") || !strcmp(k, "gone"))) {
        /* the application hung up, canceled, or went away: BYE, CANCEL (libre sends
         * them as the session goes) or 480 to a caller nobody answers */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00715)
                     "ucwa-sipd: call %s %s by the application", kconv, k);
        if (c->dir == CALL_IN && !c->established) {
            (void)call_reject(c, 480, "Temporarily Unavailable", NULL);
        }
        call_end(c);
    }
    else if (!c && (!strcmp(k, "left") || !strcmp(k, "gone"))) {
        sipd_dlg_end(d, kconv);   /* a call a previous process held: BYE */
    }
    else if (c && !strcmp(k, "replace")) {
        pa_replace(c, m);
    }
    else if (c && !strcmp(k, "reneg")) {
        reneg_from_app(c, sdp, reneg_n);
    }
    else if (c && !strcmp(k, "reneg-answer")) {
        reneg_answer_from_app(c, sdp);
    }
    else if (c && !strcmp(k, "provisional")) {
        provisional_from_app(c, sdp);
    }
    json_decref(m);
}

/* A call rings (an answer, a cancel may come from the applications any moment). */
static int ringing(sipd *d)
{
    struct le *le;

    for (le = list_head(&d->call_list); le; le = le->next) {
        if (!((sipd_call *)le->data)->established) {
            return 1;
        }
    }
    return 0;
}

static void poll_outbox(void *arg)
{
    sipd *d = arg;
    ucwa_store *s = d->store;

    apr_time_t now = apr_time_now();

    if (!s || !ucwa_pool_sip_on(s) || !ucwa_pool_out_pending(s)) {
        /* nothing, or the outbox is a pool's (its thread's to take): idle for a second
         * and no call ringing, the polls back off (500 a second cost 1.25% of a core) */
        int idle = now - d->out_busy > POLL_IDLE_AFTER && !ringing(d);
        tmr_start(&d->out_tmr, idle ? POLL_IDLE_MS : POLL_MS, poll_outbox, d);
        return;
    }
    d->out_busy = now;
    tmr_start(&d->out_tmr, POLL_MS, poll_outbox, d);
    for (;;) {
        take_txn x;
        apr_pool_t *p;
        int i;
        memset(&x, 0, sizeof(x));
        apr_pool_create(&p, d->pool);
        if (ucwa_txn_run(d->s, p, take_locked, &x) != APR_SUCCESS) {
            apr_pool_destroy(p);
            return;
        }
        for (i = 0; i < x.n; i++) {
            sipd_calls_handle(d, &x.out[i], x.sdp[i], x.reneg_n[i]);
        }
        apr_pool_destroy(p);
        if (x.n < TAKE_MAX) {
            return;
        }
    }
}

void sipd_outbox_now(sipd *d)
{
    tmr_start(&d->out_tmr, 0, poll_outbox, d);
}

/* ---- start and stop ---- */

int sipd_calls_open(sipd *d)
{
    int err;

    list_init(&d->call_list);
    list_init(&d->cvw_list);
    tmr_init(&d->out_tmr);
    /* first: a call's re-INVITE is answered when the application has, not by libre's
     * session at once; then a previous process's dialogs (ucwa_sipd_dlg.c) */
    err = sip_listen(&d->reneg_lsnr, d->sip, true, on_reinvite, d);
    if (!err) {
        err = sipd_dlg_open(d);
    }
    return err ? err : sipsess_listen(&d->sess_sock, d->sip, 32, on_invite, d);
}

static void store_locked(ucwa_txn *t, void *baton)
{
    ((sipd *)baton)->store = t->store;
}

void sipd_calls_start(sipd *d)
{
    apr_pool_t *p;

    apr_pool_create(&p, d->pool);
    ucwa_txn_run(d->s, p, store_locked, d);
    apr_pool_destroy(p);
    sipd_pool_start(d);
    /* calls a previous ucwa-sipd held end on the applications' side, as with a Front
     * End gone, but for the established ones it takes back (ucwa_sipd_dlg.c) */
    json_t *keep = sipd_dlg_restore(d);
    json_t *m = json_pack("{s:s,s:s,s:O}", "k", "fe-gone", "fe", SIP_NAME(d), "keep", keep);
    sipd_apply(d, m, NULL, NULL);
    sipd_pool_join(d, keep);      /* on a pool: the others keep them too */
    tmr_start(&d->out_tmr, POLL_MS, poll_outbox, d);
    sipd_bell_start(d);
}

void sipd_calls_close(sipd *d)
{
    tmr_cancel(&d->out_tmr);
    sipd_bell_stop(d);
    sipd_cvw_close(d);
    while (list_head(&d->call_list)) {
        call_end(list_head(&d->call_list)->data);
    }
    d->sess_sock = mem_deref(d->sess_sock);
    d->reneg_lsnr = mem_deref(d->reneg_lsnr);
    sipd_dlg_close(d);
}
