/* ucwa-sipd's calls via work (startPhoneAudio): third-party call control (RFC 3725) with
 * rtpengine in the middle. What the conversation code queues for the SIP side as an
 * invitation with "pa" (common/ucwa/ucwa_conv_phone) is taken here:
 *
 *   1. rtpengine `offer` for the target's side, from a placeholder description (the target
 *      is not called yet): rtpengine allocates both sides and gives the one toward the
 *      user's phone;
 *   2. INVITE leg A to the user's phone (a number, through the route's gateway set) with
 *      that description; the caller sees phoneAudioInvitation updated while it rings;
 *   3. only on 200 (A): rtpengine `answer` with A's description gives the one toward the
 *      target: INVITE leg B to the target with P-Asserted-Identity the user's work identity
 *      (SIP URI, and the LineURI when there is one);
 *   4. on 200 (B): rtpengine `offer` again from the target's side with B's description
 *      (its real address replaces the placeholder), then `answer` with A's: the media
 *      flows A <-> rtpengine <-> B; the conversation connects ("accepted").
 *
 * libre acknowledges a 2xx as it reads it (sipsess), so RFC 3725's flow I (leg A without
 * a description, its ACK held until B answers) cannot be written on it; leg A carries
 * rtpengine's offer instead, which is what the flow's rtpengine variant does (calling.md
 * §4.3 c). Hold and resume are re-INVITEs toward the target through rtpengine (sendonly,
 * sendrecv); the application's stop, cancel or going away ends both legs (BYE or CANCEL);
 * a BYE from either leg ends the other and the UCWA side. See docs/ARCHITECTURE.md §13. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_config.h"
#include "ucwa_conv.h"
#include "ucwa_conv_phone.h"
#include "ucwa_pool.h"
#include "ucwa_shm.h"
#include "ucwa_sipd_int.h"
#include <re_sdp.h>
#include <re_sipsess.h>

APLOG_USE_MODULE(ucwa);

#define SDP_TYPE "application/sdp"
#define TAG_A "cvw-a"                 /* rtpengine's tags of the two legs */
#define TAG_B "cvw-b"
#define RING_MIN_MS 2000

typedef enum { CVW_A = 0, CVW_B, CVW_UP } cvw_state;

struct cvw_call;

/* One leg as libre's callbacks see it. */
typedef struct {
    struct cvw_call *c;
    char *sdp;                    /* its answer (malloc) */
    ucwa_conv_phone_leg ringing;  /* what the caller is told when it rings */
} cvw_leg;

enum { LEG_A = 0, LEG_B = 1 };

typedef struct cvw_call {
    struct le le;
    sipd *d;
    cvw_state state;
    struct sipsess *a, *b;        /* leg A (the user's phone), leg B (the target) */
    char kfe[UCWA_POOL_FE_MAX];
    char kconv[UCWA_CONV_ID_MAX];
    char *a_uri, *b_uri, *user_uri, *line;   /* malloc */
    char pgw[12], gw[12];
    cvw_leg leg[2];               /* A, B */
    int held, reinvite;           /* hold in effect; a re-INVITE toward B is out */
    int ng_pending, gone, ng_live;
    apr_time_t a_answered;        /* when leg A answered (the leg gap, logged) */
    apr_interval_time_t ring;     /* each leg rings at most this long */
    struct tmr tmr;
} cvw_call;

/* ---- the store ---- */

typedef struct {
    const char *kconv;
    int leg, fail;
} phone_txn;

static void phone_locked(ucwa_txn *t, void *baton)
{
    phone_txn *x = baton;
    ucwa_conv_touched touched;
    int idx = ucwa_conv_phone_find_locked(t->store, x->kconv), i;

    if (idx < 0) {
        return;
    }
    memset(&touched, 0, sizeof(touched));
    if (x->fail) {
        ucwa_conv_phone_failing_locked(t->store, idx, (ucwa_conv_phone_fail)x->fail);
    }
    else {
        ucwa_conv_phone_progress_locked(t->store, idx, (ucwa_conv_phone_leg)x->leg,
                                        apr_time_now(), t->pool, &touched);
    }
    for (i = 0; i < touched.n; i++) {
        ucwa_txn_wake_app(t, touched.app[i]);
    }
}

static void store_phone(cvw_call *c, int leg, int fail)
{
    apr_pool_t *p;
    phone_txn x = { c->kconv, leg, fail };

    apr_pool_create(&p, c->d->pool);
    ucwa_txn_run(c->d->s, p, phone_locked, &x);
    apr_pool_destroy(p);
}

static json_t *keyed(const cvw_call *c, const char *kind)
{
    return json_pack("{s:s,s:s,s:s}", "k", kind, "fe", c->kfe, "conv", c->kconv);
}

/* ---- the call ---- */

static cvw_call *cvw_find(sipd *d, const char *kfe, const char *kconv)
{
    struct le *le;

    for (le = list_head(&d->cvw_list); le; le = le->next) {
        cvw_call *c = le->data;
        if (!strcmp(c->kfe, kfe) && !strcmp(c->kconv, kconv)) {
            return c;
        }
    }
    return NULL;
}

static void cvw_free(cvw_call *c)
{
    free(c->a_uri);
    free(c->b_uri);
    free(c->user_uri);
    free(c->line);
    free(c->leg[LEG_A].sdp);
    free(c->leg[LEG_B].sdp);
    free(c);
}

/* Both legs end (libre sends BYE or CANCEL as a session is freed), rtpengine forgets the
 * call; c stays allocated until its NG answers are in. */
static void cvw_end(cvw_call *c)
{
    sipd *d = c->d;

    if (c->gone) {
        return;
    }
    c->gone = 1;
    if (c->ng_live) {
        sipd_ng_delete(d, c->kconv);
    }
    tmr_cancel(&c->tmr);
    list_unlink(&c->le);
    c->a = mem_deref(c->a);
    c->b = mem_deref(c->b);
    d->calls = d->calls ? d->calls - 1 : 0;
    if (!c->ng_pending) {
        cvw_free(c);
    }
}

/* The call failed before it connected (why: ucwa_conv_phone_fail): the caller's
 * invitation completes Failure with that reason; both legs end. */
static void cvw_fail(cvw_call *c, ucwa_conv_phone_fail why, const char *what)
{
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00784)
                 "ucwa-sipd: call via work %s failed: %s (%s)", c->kconv,
                 ucwa_conv_phone_fail_name(why), what);
    store_phone(c, 0, (int)why);
    sipd_apply(c->d, keyed(c, why == UCWA_PHONE_FAIL_TARGET_BUSY
                              || why == UCWA_PHONE_FAIL_TARGET_DECLINED
                              || why == UCWA_PHONE_FAIL_CALLBACK_BUSY ? "declined" : "gone"),
               NULL, NULL);
    cvw_end(c);
}

static void ng_call(cvw_call *c, const ng_benc *cmd, sipd_ng_done *done)
{
    c->ng_pending++;
    sipd_ng_request(c->d, cmd, done, c);
}

/* In an NG answer's callback: 1 when the call ended meanwhile (the last answer frees it). */
static int ng_back(cvw_call *c)
{
    c->ng_pending--;
    if (c->gone) {
        if (!c->ng_pending) {
            cvw_free(c);
        }
        return 1;
    }
    return 0;
}

/* An NG answer about call via work c came back: 1 when c ended meanwhile, or when
 * rtpengine gave no description (the call then fails, logged with what rtpengine was
 * asked: "cannot bridge", ...); else 0 and *sdp is rtpengine's description. The
 * prologue of each callback below (ucwa_sipd_call.c's ng_result for its calls). */
static int ng_result(cvw_call *c, const char *err, const ng_benc *resp, const char **sdp,
                     const char *what)
{
    const char *why = NULL;

    *sdp = sipd_ng_sdp(err, resp, &why);
    if (ng_back(c)) {
        return 1;
    }
    if (!*sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, c->d->s, UCWALOGNO(00786)
                     "ucwa-sipd: rtpengine %s of call via work %s: %s", what, c->kconv, why);
        cvw_fail(c, UCWA_PHONE_FAIL_MEDIA, why);
        return 1;
    }
    return 0;
}

/* An NG command on both legs' plain RTP: origin and session address rtpengine's. */
static ng_benc *ng_cmd(apr_pool_t *p, const char *command, const cvw_call *c,
                       const char *from_tag, const char *to_tag, const char *sdp)
{
    static const char *const replace[] = { "origin", "session-connection" };
    static const char *const mux[] = { "demux" };
    ng_benc *cmd = ng_benc_dict(p);

    ng_benc_dict_add_str(p, cmd, "command", command);
    ng_benc_dict_add_str(p, cmd, "call-id", c->kconv);
    ng_benc_dict_add_str(p, cmd, "from-tag", from_tag);
    if (to_tag) {
        ng_benc_dict_add_str(p, cmd, "to-tag", to_tag);
    }
    ng_benc_dict_add_str(p, cmd, "sdp", sdp);
    ng_benc_dict_add_strs(p, cmd, "replace", replace, 2);
    ng_benc_dict_add_str(p, cmd, "ICE", "remove");
    ng_benc_dict_add_str(p, cmd, "transport-protocol", "RTP/AVP");
    ng_benc_dict_add_strs(p, cmd, "rtcp-mux", mux, 1);
    return cmd;
}

static void ng_send(cvw_call *c, const char *command, const char *from_tag, const char *to_tag,
                    const char *sdp, sipd_ng_done *done)
{
    apr_pool_t *p;

    apr_pool_create(&p, c->d->pool);
    ng_call(c, ng_cmd(p, command, c, from_tag, to_tag, sdp), done);
    apr_pool_destroy(p);
}

static struct mbuf *mb_of(const char *s)
{
    struct mbuf *mb = mbuf_alloc(strlen(s) + 1);

    if (mb) {
        mbuf_write_str(mb, s);
        mb->pos = 0;
    }
    return mb;
}

/* A final answer's SIP code (0: none, a timeout or transport error). */
static int code_of(const struct sip_msg *msg)
{
    return msg ? msg->scode : 0;
}

static void ring_out(void *arg);

static int no_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    (void)descp; (void)msg; (void)arg;
    return EPROTO;                /* a re-INVITE from a leg: 488, the call goes on */
}

/* A leg's final answer: its description kept. */
static int leg_answer(const struct sip_msg *msg, void *arg)
{
    cvw_leg *g = arg;

    free(g->sdp);
    g->sdp = sipd_body_dup(msg);
    return 0;
}

/* A leg rings: the caller's invitation is updated. */
static void leg_progress(const struct sip_msg *msg, void *arg)
{
    cvw_leg *g = arg;

    if (msg->scode == 180 || msg->scode == 183) {
        store_phone(g->c, g->ringing, 0);
    }
}

/* Calls a leg through UcwaSipProxy: an INVITE from from to `to` with rtpengine's sdp and
 * more headers (hdrs: complete lines, or ""); the leg's handlers get c. 0 or an errno. */
static int leg_connect(cvw_call *c, int which, struct sipsess **sess, const char *to,
                       const char *from, const char *sdp, const char *hdrs,
                       sipsess_answer_h *answerh, sipsess_estab_h *estabh,
                       sipsess_close_h *closeh)
{
    sipd *d = c->d;
    const char *route[1];
    char routebuf[300];
    struct mbuf *mb = mb_of(sdp);
    int e;

    if (!mb) {
        return ENOMEM;
    }
    snprintf(routebuf, sizeof(routebuf), "sip:%s;lr", d->conf->proxy ? d->conf->proxy : "");
    route[0] = routebuf;
    e = sipsess_connect(sess, d->sess_sock, to, NULL, from, "ucwa",
                        d->conf->proxy ? route : NULL, d->conf->proxy ? 1 : 0, SDP_TYPE, mb,
                        NULL, NULL, false, no_offer, answerh, leg_progress, estabh, NULL,
                        NULL, closeh, &c->leg[which], "%s", hdrs);
    mem_deref(mb);
    if (!e) {
        tmr_start(&c->tmr, (uint64_t)(c->ring / 1000), ring_out, c);
    }
    return e;
}

/* A leg answered (sdp: its description, NULL when it had none): the next NG step. */
static void leg_answered(cvw_call *c, const char *sdp, const char *who, const char *command,
                         sipd_ng_done *done)
{
    tmr_cancel(&c->tmr);
    if (!sdp) {
        char what[80];
        snprintf(what, sizeof(what), "%s answered without a description", who);
        cvw_fail(c, UCWA_PHONE_FAIL_MEDIA, what);
        return;
    }
    ng_send(c, command, TAG_B, TAG_A, sdp, done);
}

/* A leg hung up (or failed): 1 when the call was connected (it ends on the UCWA side and
 * the other leg gets a BYE), 0 when it was still being set up. */
static int leg_closed(cvw_call *c, const char *who)
{
    if (c->state != CVW_UP) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00789)
                 "ucwa-sipd: call via work %s: %s hung up", c->kconv, who);
    sipd_apply(c->d, keyed(c, "left"), NULL, NULL);
    cvw_end(c);
    return 1;
}

/* A leg ended: a connected call ends (BYE on the other leg); one being set up fails with
 * the leg's reason (its final answer's code; 0: a timeout or a transport error). */
static void leg_close(int err, const struct sip_msg *msg, void *arg)
{
    cvw_leg *g = arg;
    cvw_call *c = g->c;
    int a = g == &c->leg[LEG_A], code = code_of(msg);
    const char *who = a ? "the user's phone" : "the target";
    ucwa_conv_phone_fail why;
    char what[80];

    if (leg_closed(c, who)) {
        return;
    }
    if (a && c->state == CVW_B) {
        /* the user hung up while the target rang: the caller canceled */
        cvw_fail(c, UCWA_PHONE_FAIL_CALLBACK_HUNG_UP,
                 "the user's phone hung up while the target rang");
        return;
    }
    if (code == 486 || code == 600) {
        why = a ? UCWA_PHONE_FAIL_CALLBACK_BUSY : UCWA_PHONE_FAIL_TARGET_BUSY;
    }
    else if (code == 603 && !a) {
        why = UCWA_PHONE_FAIL_TARGET_DECLINED;
    }
    else if (code == 408 || code == 480 || code == 487 || code == 603) {
        why = a ? UCWA_PHONE_FAIL_CALLBACK_NO_ANSWER : UCWA_PHONE_FAIL_TARGET_NO_ANSWER;
    }
    else {
        why = a ? UCWA_PHONE_FAIL_CALLBACK_UNREACHABLE : UCWA_PHONE_FAIL_TARGET_UNREACHABLE;
    }
    snprintf(what, sizeof(what), "%s answered %d%s%s", who, code, err ? ", " : "",
             err ? strerror(err) : "");
    cvw_fail(c, why, what);
}

static void ring_out(void *arg)
{
    cvw_call *c = arg;

    cvw_fail(c, c->state == CVW_A ? UCWA_PHONE_FAIL_CALLBACK_NO_ANSWER
                                  : UCWA_PHONE_FAIL_TARGET_NO_ANSWER, "not answered in time");
}

/* ---- leg B: the target ---- */

static void hold_answered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                             void *arg)
{
    cvw_call *c = arg;
    const char *why = NULL;

    (void)rtt;
    if (ng_back(c)) {
        return;
    }
    if (!sipd_ng_sdp(err, resp, &why)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00785)
                     "ucwa-sipd: rtpengine did not take the target's answer to the %s of "
                     "call via work %s: %s", c->held ? "hold" : "resume", c->kconv, why);
    }
}

static void connected_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                         void *arg)
{
    cvw_call *c = arg;
    const char *sdp;
    json_t *m;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, "cannot bridge the two legs")) {
        return;
    }
    c->state = CVW_UP;
    m = keyed(c, "accepted");
    /* this SIP side's name (on a pool "~sip:FE": the app's hold and stop come back here) */
    json_object_set_new(m, "by", json_string(d->pool_name ? d->pool_name : UCWA_POOL_SIP_FE));
    json_object_set_new(m, "peer", json_string(c->kconv));
    json_object_set_new(m, "name", json_string(""));
    json_object_set_new(m, "html", json_integer(0));
    if (sipd_apply(d, m, NULL, NULL) != 0) {
        cvw_end(c);                /* it ended on the UCWA side meanwhile: BYE both */
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00787)
                 "ucwa-sipd: call via work %s connected: %s bridged to %s", c->kconv,
                 c->a_uri, c->b_uri);
}

/* B's description replaces the placeholder on its side (a new offer from it), then A's
 * answer again: both sides known, rtpengine forwards. */
static void b_offered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                         void *arg)
{
    cvw_call *c = arg;
    const char *sdp;

    (void)d; (void)rtt;
    if (ng_result(c, err, resp, &sdp, "did not take the target's answer")) {
        return;
    }
    ng_send(c, "answer", TAG_B, TAG_A, c->leg[LEG_A].sdp ? c->leg[LEG_A].sdp : "", connected_ng);
}

static void b_established(const struct sip_msg *msg, void *arg)
{
    cvw_call *c = ((cvw_leg *)arg)->c;

    (void)msg;
    leg_answered(c, c->leg[LEG_B].sdp, "the target", "offer", b_offered_ng);
}


/* The hold or resume re-INVITE's answer (B answers rtpengine's offer from A's side). */
static int b_reanswer(const struct sip_msg *msg, void *arg)
{
    cvw_call *c = ((cvw_leg *)arg)->c;
    char *sdp;

    if (c->state != CVW_UP || !c->reinvite) {
        return leg_answer(msg, arg);
    }
    c->reinvite = 0;
    if ((sdp = sipd_body_dup(msg)) != NULL) {
        ng_send(c, "answer", TAG_A, TAG_B, sdp, hold_answered_ng);
        free(sdp);
    }
    return 0;
}

/* rtpengine's description toward the target came back (after A answered): leg B. */
static void b_offer_ready_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                             void *arg)
{
    cvw_call *c = arg;
    const char *sdp;
    char pai[600];
    int e;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, "did not take the user's phone's answer")) {
        return;
    }
    /* the target sees the user's work identity */
    snprintf(pai, sizeof(pai), "P-Asserted-Identity: <%s>\r\n%s%s%s%s%s%s", c->user_uri,
             c->line ? "P-Asserted-Identity: <" : "", c->line ? c->line : "",
             c->line ? ">\r\n" : "", c->gw[0] ? "P-Ucwa-Gateway-Set: " : "", c->gw,
             c->gw[0] ? "\r\n" : "");
    e = leg_connect(c, LEG_B, &c->b, c->b_uri, c->user_uri, sdp, pai, b_reanswer,
                    b_established, leg_close);
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(00791)
                     "ucwa-sipd: cannot send the INVITE of call via work %s to %s", c->kconv,
                     c->b_uri);
        cvw_fail(c, UCWA_PHONE_FAIL_TARGET_UNREACHABLE, "the INVITE could not be sent");
        return;
    }
    c->state = CVW_B;
    store_phone(c, UCWA_PHONE_LEG_TARGET, 0);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00792)
                 "ucwa-sipd: call via work %s: the user answered on %s; %s called %" APR_TIME_T_FMT
                 " us later", c->kconv, c->a_uri, c->b_uri, apr_time_now() - c->a_answered);
}

/* ---- leg A: the user's phone ---- */

static void a_established(const struct sip_msg *msg, void *arg)
{
    cvw_call *c = ((cvw_leg *)arg)->c;

    (void)msg;
    c->a_answered = apr_time_now();
    /* only now the target: rtpengine's description toward it, from A's answer */
    leg_answered(c, c->leg[LEG_A].sdp, "the user's phone", "answer", b_offer_ready_ng);
}


/* A placeholder for the target's side until it is called: rtpengine needs a description
 * of each side; this one lists the codecs offered to the user's phone, its address sends
 * nowhere (the discard port of loopback). */
static const char placeholder[] =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    "a=sendrecv\r\n";

static void a_offer_ready_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                             void *arg)
{
    cvw_call *c = arg;
    const char *sdp;
    char hdrs[200];
    int e;

    (void)rtt;
    if (ng_result(c, err, resp, &sdp, "gave no offer")) {
        return;
    }
    c->ng_live = 1;
    snprintf(hdrs, sizeof(hdrs), "%s%s%s", c->pgw[0] ? "P-Ucwa-Gateway-Set: " : "", c->pgw,
             c->pgw[0] ? "\r\n" : "");
    /* the user's phone shows whom the call is for */
    e = leg_connect(c, LEG_A, &c->a, c->a_uri, c->b_uri, sdp, hdrs, leg_answer,
                    a_established, leg_close);
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(00795)
                     "ucwa-sipd: cannot send the INVITE of call via work %s to %s", c->kconv,
                     c->a_uri);
        cvw_fail(c, UCWA_PHONE_FAIL_CALLBACK_UNREACHABLE, "the INVITE could not be sent");
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00796)
                 "ucwa-sipd: call via work %s: calling the user's phone %s for %s", c->kconv,
                 c->a_uri, c->b_uri);
}

/* sip:+E164@domain;user=phone for a tel: address, sip:user@domain for a user. */
static char *sip_target(apr_pool_t *p, const char *a, const char *domain)
{
    if (!strncasecmp(a, "tel:", 4)) {
        return strdup(apr_psprintf(p, "sip:%s@%s;user=phone", a + 4, domain));
    }
    return strdup(!strncasecmp(a, "sip:", 4) ? a : apr_pstrcat(p, "sip:", a, NULL));
}

static void gw_copy(char *dst, apr_size_t size, const char *gw)
{
    dst[0] = '\0';
    if (gw && *gw && strlen(gw) < size && strspn(gw, "0123456789") == strlen(gw)) {
        apr_cpystrn(dst, gw, size);
    }
}

static void cvw_start(sipd *d, json_t *m, const char *kfe, const char *kconv)
{
    const char *to = mob_json_str(m, "to"), *from = mob_json_str(m, "from");
    const char *number = mob_json_str(m, "pa"), *line = mob_json_str(m, "line"), *at;
    json_int_t expires = json_integer_value(json_object_get(m, "expires"));
    apr_interval_time_t left;
    apr_pool_t *p;
    cvw_call *c;

    if (!to || !from || !number || strncasecmp(number, "tel:", 4)
        || !(c = calloc(1, sizeof(*c)))) {
        /* an invitation this process cannot place: it fails at once, not at its expiry */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00801)
                     "ucwa-sipd: call via work %s not placed: %s", kconv,
                     !to || !from || !number ? "an incomplete invitation"
                     : strncasecmp(number, "tel:", 4) ? "the callback is not a number"
                     : "out of memory");
        sipd_apply(d, json_pack("{s:s,s:s,s:s}", "k", "gone", "fe", kfe, "conv", kconv),
                   NULL, NULL);
        return;
    }
    apr_pool_create(&p, d->pool);
    c->d = d;
    c->state = CVW_A;
    c->leg[LEG_A].c = c->leg[LEG_B].c = c;
    c->leg[LEG_A].ringing = UCWA_PHONE_LEG_RINGING;
    c->leg[LEG_B].ringing = UCWA_PHONE_LEG_TARGET_RINGING;
    apr_cpystrn(c->kfe, kfe, sizeof(c->kfe));
    apr_cpystrn(c->kconv, kconv, sizeof(c->kconv));
    at = strchr(from, '@');
    c->a_uri = sip_target(p, number, at ? at + 1 : "localhost");
    c->b_uri = sip_target(p, to, at ? at + 1 : "localhost");
    c->user_uri = sip_target(p, from, "localhost");
    c->line = line && !strncasecmp(line, "tel:", 4) ? strdup(line) : NULL;
    gw_copy(c->pgw, sizeof(c->pgw), mob_json_str(m, "pgw"));
    gw_copy(c->gw, sizeof(c->gw), mob_json_str(m, "gw"));
    /* the UCWA side waits for both legs: each rings at most half of it */
    left = expires ? (apr_interval_time_t)expires - apr_time_now() : apr_time_from_sec(60);
    c->ring = left / 2 > RING_MIN_MS * 1000 ? left / 2 : RING_MIN_MS * 1000;
    tmr_init(&c->tmr);
    list_append(&d->cvw_list, &c->le, c);
    d->calls++;
    ng_send(c, "offer", TAG_B, NULL, placeholder, a_offer_ready_ng);
    apr_pool_destroy(p);
}

/* holdPhoneAudio, resumePhoneAudio: a re-INVITE toward the target with rtpengine's offer
 * from the user's side, sendonly or sendrecv. */
static void reinvite_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                        void *arg)
{
    cvw_call *c = arg;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);
    struct mbuf *mb;
    int e;

    (void)rtt;
    if (ng_back(c)) {
        return;
    }
    if (!sdp || c->state != CVW_UP || !c->b) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00797)
                     "ucwa-sipd: no re-INVITE for the %s of call via work %s: %s",
                     c->held ? "hold" : "resume", c->kconv, sdp ? "not connected" : why);
        return;
    }
    mb = mb_of(sdp);
    c->reinvite = 1;
    e = mb ? sipsess_modify(c->b, mb) : ENOMEM;
    mem_deref(mb);
    if (e) {
        c->reinvite = 0;
        ap_log_error(APLOG_MARK, APLOG_WARNING, e, d->s, UCWALOGNO(00798)
                     "ucwa-sipd: the re-INVITE for the %s of call via work %s was not sent",
                     c->held ? "hold" : "resume", c->kconv);
    }
}

/* A's description with its direction attribute replaced by dir (a=sendonly while held:
 * one media section, so one attribute at the end). */
static char *with_direction(apr_pool_t *p, const char *sdp, const char *dir)
{
    static const char *const dirs[] = { "a=sendrecv", "a=sendonly", "a=recvonly",
                                        "a=inactive" };
    char *out = apr_palloc(p, strlen(sdp) + strlen(dir) + 3), *o = out;
    const char *line = sdp;
    size_t i;

    while (*line) {
        size_t len = strcspn(line, "\n");
        int keep = 1;
        len += line[len] == '\n';
        for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
            keep = keep && strncmp(line, dirs[i], strlen(dirs[i])) != 0;
        }
        if (keep) {
            memcpy(o, line, len);
            o += len;
        }
        line += len;
    }
    apr_cpystrn(o, dir, strlen(dir) + 1);
    o += strlen(dir);
    memcpy(o, "\r\n", 3);
    return out;
}

static void cvw_hold(cvw_call *c, int hold)
{
    apr_pool_t *p;

    if (c->state != CVW_UP || !c->leg[LEG_A].sdp || c->held == hold) {
        return;
    }
    c->held = hold;
    apr_pool_create(&p, c->d->pool);
    ng_call(c, ng_cmd(p, "offer", c, TAG_A, TAG_B,
                      with_direction(p, c->leg[LEG_A].sdp, hold ? "a=sendonly" : "a=sendrecv")),
            reinvite_ng);
    apr_pool_destroy(p);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, c->d->s, UCWALOGNO(00799)
                 "ucwa-sipd: call via work %s %s", c->kconv, hold ? "on hold" : "resumed");
}

int sipd_cvw_handle(sipd *d, int invite, json_t *m, const char *k, const char *kfe,
                    const char *kconv)
{
    cvw_call *c;

    if (invite && !strcmp(k, "invite")) {
        if (!json_object_get(m, "pa")) {
            return 0;
        }
        if (!cvw_find(d, kfe, kconv)) {
            cvw_start(d, m, kfe, kconv);
        }
        return 1;
    }
    if (!(c = cvw_find(d, kfe, kconv))) {
        return 0;
    }
    if (!strcmp(k, "hold") || !strcmp(k, "resume")) {
        cvw_hold(c, !strcmp(k, "hold"));
    }
    else if (!strcmp(k, "canceled") || !strcmp(k, "left") || !strcmp(k, "gone")) {
        /* stopPhoneAudio, or the application went away: BYE (or CANCEL) on both legs */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00800)
                     "ucwa-sipd: call via work %s %s by the application", kconv, k);
        cvw_end(c);
    }
    return 1;
}

void sipd_cvw_close(sipd *d)
{
    while (list_head(&d->cvw_list)) {
        cvw_end(list_head(&d->cvw_list)->data);
    }
}
