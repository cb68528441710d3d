/* ucwa-sipd: single number reach and call forwarding acted on (ucwa_sipd_fork.h). */
#include <httpd.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <http_log.h>
#include <mod_dbd.h>

#include "mod_ucwa.h"
#include "mob_dbd.h"
#include "ucwa_callfwd.h"
#include "ucwa_config.h"
#include "ucwa_snr.h"
#include "ucwa_voice.h"
#include "ucwa_workhours.h"
#include "ucwa_sipd_fork.h"
#include <re_sdp.h>
#include <re_sipsess.h>

APLOG_USE_MODULE(ucwa);

#define SDP_TYPE "application/sdp"
#define LEGS 2                    /* the simultaneous ring, the forward */

typedef struct {
    struct sipd_fork *f;
    int which;                    /* 0 simultaneous ring, 1 forward */
    char *uri;                    /* where: "tel:+E164" or "sip:..." (malloc) */
    char gw[12];                  /* a number's gateway set, or "" */
    int delay_ms;
    int state;                    /* LEG_* */
    struct sipsess *sess;
    char *sdp;                    /* the leg's answer (malloc) */
    char ngid[96];                /* rtpengine's call-id of this leg: <key>-snr, <key>-fwd */
    int ng_live;
    struct tmr start;
    int reneg;                    /* the remote party's re-INVITE passed on to this leg */
    char tag[128];                /* the leg's party's tag (its 200's To tag) */
    struct sip_request *re_req;   /* that re-INVITE (ours: libre's sipsess_modify does
                                   * not report a refusal) */
    struct tmr re_tmr;            /* its answer's deadline */
} sipd_leg;

enum { LEG_NONE = 0, LEG_WAIT, LEG_OFFER, LEG_RINGING, LEG_UP, LEG_DONE };

struct sipd_fork {
    sipd *d;
    sipd_call *c;
    char *user;                   /* the callee (malloc) */
    char *line;                   /* the callee's LineURI, for Diversion (malloc), or NULL */
    char *caller;                 /* the caller's SIP URI as the legs show it (malloc) */
    char *offer;                  /* the caller's description (malloc) */
    char *div;                    /* the call's own Diversion header lines, kept on the
                                   * legs below ours (malloc), or NULL */
    int apps, immediate, won, gone, stopped;
    int phone;                    /* acceptWithPhoneAudio's leg (<key>-pa): no Diversion */
    int ng_pending;
    int last_code;
    sipd_leg leg[LEGS];
};

static char *dup_pl(const struct pl *pl)
{
    char *s = malloc(pl->l + 1);

    if (s) {
        memcpy(s, pl->p, pl->l);
        s[pl->l] = '\0';
    }
    return s;
}

/* ---- the plan, read from SQL ---- */

/* A connection of this process's own to the directory database (mod_dbd's pool is the
 * children's): opened for one call's decision and closed again. */
static int db_open(sipd *d, apr_pool_t *p, ucwa_db *db, const char **why)
{
    const dbd_cfg_t *cfg = mob_dbd_config(d->s);
    const char *err = NULL;
    apr_status_t rv;
    int n;

    memset(db, 0, sizeof(*db));
    if (!cfg) {
        *why = "no DBDriver for this server";
        return 0;
    }
    rv = apr_dbd_get_driver(p, cfg->name, &db->driver);
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_open_ex(db->driver, p, cfg->params, &db->handle, &err);
    }
    if (rv != APR_SUCCESS || !db->handle) {
        *why = apr_psprintf(p, "cannot open the %s database%s%s", cfg->name, err ? ": " : "",
                            err ? err : "");
        return 0;
    }
    if (!strcmp(cfg->name, "sqlite3")) {
        apr_dbd_query(db->driver, db->handle, &n, "PRAGMA busy_timeout = 2000");
    }
    db->pool = p;
    return 1;
}

static void db_close(ucwa_db *db)
{
    if (db->handle) {
        apr_dbd_close(db->driver, db->handle);
    }
}

static const char *number_of(apr_pool_t *p, const struct uri *u)
{
    struct pl v;
    int phone = uri_param_get(&u->params, &(struct pl)PL("user"), &v) == 0
                && !pl_strcasecmp(&v, "phone");
    char *user = u->user.l <= 64 ? dup_pl(&u->user) : NULL;
    const char *n = ucwa_snr_number(p, user, phone);

    free(user);
    return n;
}

static void leg_set(sipd_fork *f, int which, const ucwa_snr_leg *l)
{
    sipd_leg *g = &f->leg[which];

    g->f = f;
    g->which = which;
    tmr_init(&g->start);
    if (!l->uri) {
        return;
    }
    g->uri = strdup(l->uri);
    g->delay_ms = l->delay_ms;
    if (l->gw_set) {
        apr_cpystrn(g->gw, l->gw_set, sizeof(g->gw));
    }
    g->state = LEG_WAIT;
}

/* The call's Diversion headers (a call forwarded to this user by another, a second round
 * through ucwa-sipd: Kamailio sends a leg to a user without a phone back here), as
 * header lines for the legs, or NULL. A call that was diverted from this user already
 * (A to B to A), or UCWA_SNR_MAX_DIVERSIONS times, is forwarded no further: the plan
 * loses its legs and the user's applications ring. */
typedef struct {
    apr_pool_t *p;
    const char *who, *line;
    const char *lines;
    int hops, named;
} div_acc;

static bool div_one(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    div_acc *a = arg;
    char *v = apr_pstrmemdup(a->p, hdr->val.p, hdr->val.l);

    (void)msg;
    a->named |= ucwa_snr_diversion(v, a->who, a->line, &a->hops);
    a->lines = apr_pstrcat(a->p, a->lines ? a->lines : "", "Diversion: ", v, "\r\n", NULL);
    return false;
}

static const char *diversions(sipd *d, const struct sip_msg *msg, apr_pool_t *p,
                              const char *who, const char *line, ucwa_snr_plan *plan)
{
    div_acc a = { p, who, line, NULL, 0, 0 };

    (void)sip_msg_xhdr_apply(msg, true, "Diversion", div_one, &a);
    if ((a.named || a.hops >= UCWA_SNR_MAX_DIVERSIONS)
        && (plan->simring.uri || plan->forward.uri)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01128)
                     "ucwa-sipd: call to %s: diverted %s already, not forwarded again "
                     "(the applications ring)", who,
                     a.named ? "from this user" : apr_psprintf(p, "%d times", a.hops));
        memset(&plan->simring, 0, sizeof(plan->simring));
        memset(&plan->forward, 0, sizeof(plan->forward));
        plan->immediate = 0;
        plan->ring_apps = 1;
    }
    return a.lines;
}

/* activePeriod Workhours outside the user's work hours (their ucwa_work_hours row, else
 * UcwaWorkHours) puts f out of force: the call is the applications'. -1 with db->err. */
static int in_period(sipd *d, ucwa_db *db, apr_pool_t *p, const char *who, ucwa_callfwd *f)
{
    ucwa_workhours own;
    const ucwa_workhours *w = &ucwa_config_get(d->s)->global->work_hours;
    const char *bad = NULL;
    int rv;

    if (ucwa_snr_in_period(f, NULL, 0)) {
        return 1;    /* Always */
    }
    if ((rv = ucwa_workhours_get(db, p, who, &own, &bad)) < 0) {
        return -1;
    }
    if (bad) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(01120)
                     "ucwa-sipd: work hours of %s: %s (UcwaWorkHours instead)", who, bad);
    }
    if (ucwa_snr_in_period(f, rv == 1 ? &own : w, time(NULL))) {
        return 1;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01121)
                 "ucwa-sipd: call to %s: outside the work hours (%s), call forwarding not "
                 "acted on", who, rv == 1 ? own.zone : w->zone);
    ucwa_callfwd_defaults(f);
    return 0;
}

int sipd_fork_target(sipd *d, const struct sip_msg *msg, char **user, sipd_fork **fork)
{
    apr_pool_t *p;
    ucwa_db db;
    const char *why = NULL, *who = NULL, *number;
    ucwa_callfwd fw;
    ucwa_voice_user vu;
    ucwa_snr_plan plan;
    const char *div;
    int opened, rv = 0, i;

    *user = NULL;
    *fork = NULL;
    if (!pl_isset(&msg->uri.user) || msg->uri.user.l + msg->uri.host.l > 256) {
        return 0;   /* nobody: 480 as before */
    }
    apr_pool_create(&p, d->pool);
    number = number_of(p, &msg->uri);
    opened = db_open(d, p, &db, &why);
    if (number) {
        /* a call to a work number (from a gateway: Kamailio sends numbers here) */
        int found = opened ? ucwa_snr_user_of_number(&db, p, number, &who) : -1;
        if (found <= 0) {
            d->sip_refused++;
            if (found < 0) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00820)
                             "ucwa-sipd: the user of %s cannot be looked up: %s", number,
                             opened ? db.err : why);
                (void)sip_replyf(d->sip, msg, 503, "Service Unavailable",
                                 "Retry-After: 5\r\nContent-Length: 0\r\n\r\n");
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00821)
                             "ucwa-sipd: call to %s: not a user's number (480, as for "
                             "a user with no application)", number);
                sipd_reply_unreachable(d, msg);
            }
            db_close(&db);
            apr_pool_destroy(p);
            return -1;
        }
    }
    else {
        char *q;
        who = apr_psprintf(p, "%.*s@%.*s", (int)msg->uri.user.l, msg->uri.user.p,
                           (int)msg->uri.host.l, msg->uri.host.p);
        for (q = (char *)who; *q; q++) {
            *q = (char)tolower((unsigned char)*q);
        }
    }
    *user = strdup(who);
    if (!opened) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00822)
                     "ucwa-sipd: call forwarding of %s not read (the applications ring): %s",
                     who, why);
        apr_pool_destroy(p);
        return 0;
    }
    if (ucwa_callfwd_get(&db, p, who, &fw) < 0
        || ucwa_voice_load(&db, p, who, ucwa_config_get(d->s)->global->site, &vu) != 0
        || in_period(d, &db, p, who, &fw) < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00823)
                     "ucwa-sipd: call forwarding of %s not read (the applications ring): %s",
                     who, db.err ? db.err : "database error");
        db_close(&db);
        apr_pool_destroy(p);
        return 0;
    }
    db_close(&db);
    ucwa_snr_decide(&fw, &vu, p, &plan);
    div = diversions(d, msg, p, who, vu.line_uri, &plan);
    if (plan.skipped) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00824)
                     "ucwa-sipd: call to %s: %s (not acted on)", who, plan.skipped);
    }
    if (plan.simring.uri || plan.forward.uri) {
        sipd_fork *f = calloc(1, sizeof(*f));
        if (f) {
            f->d = d;
            f->user = strdup(who);
            f->line = vu.line_uri ? strdup(vu.line_uri) : NULL;
            f->div = div ? strdup(div) : NULL;
            f->immediate = plan.immediate;
            leg_set(f, 0, &plan.simring);
            leg_set(f, 1, &plan.forward);
            for (i = 0; i < LEGS; i++) {
                if (f->leg[i].uri) {
                    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00825)
                                 "ucwa-sipd: call to %s: %s to %s after %d ms%s", who,
                                 i ? (plan.immediate ? "immediate forward"
                                                     : "unanswered call forward")
                                   : "simultaneous ring", f->leg[i].uri, f->leg[i].delay_ms,
                                 f->leg[i].gw[0] ? apr_psprintf(p, " (gateway set %s)",
                                                                f->leg[i].gw) : "");
                }
            }
            *fork = f;
        }
    }
    apr_pool_destroy(p);
    return rv;
}

int sipd_fork_rings_apps(const sipd_fork *f)
{
    return !f || !f->immediate;
}

int sipd_fork_live(const sipd_fork *f)
{
    int i;

    for (i = 0; f && !f->stopped && i < LEGS; i++) {
        if (f->leg[i].state >= LEG_WAIT && f->leg[i].state <= LEG_UP) {
            return 1;
        }
    }
    return 0;
}

int sipd_fork_won(const sipd_fork *f)
{
    return f && f->won;
}

apr_int64_t sipd_fork_ring_ms(const sipd_fork *f, apr_int64_t ring)
{
    if (f && f->leg[1].state == LEG_WAIT && !f->immediate) {
        return f->leg[1].delay_ms + ring;
    }
    return ring;
}

/* ---- rtpengine ---- */

/* An NG command about leg g: its call-id, the caller's tag as from-tag (the leg's party's,
 * with the caller's as to-tag, when from_leg: that party's own re-INVITE), addresses
 * rewritten. */
static ng_benc *leg_cmd_dir(apr_pool_t *p, const sipd_leg *g, const char *command,
                            int from_leg)
{
    static const char *const replace[] = { "origin", "session-connection" };
    ng_benc *cmd = ng_benc_dict(p);

    ng_benc_dict_add_str(p, cmd, "command", command);
    ng_benc_dict_add_str(p, cmd, "call-id", g->ngid);
    ng_benc_dict_add_strs(p, cmd, "replace", replace, 2);
    ng_benc_dict_add_str(p, cmd, "from-tag", from_leg ? g->tag : sipd_call_tag(g->f->c));
    if (from_leg) {
        ng_benc_dict_add_str(p, cmd, "to-tag", sipd_call_tag(g->f->c));
    }
    return cmd;
}

static ng_benc *leg_cmd(apr_pool_t *p, const sipd_leg *g, const char *command)
{
    return leg_cmd_dir(p, g, command, 0);
}

/* Sends it; the fork stays allocated until the answer comes. */
static void ng_leg(sipd_leg *g, const ng_benc *cmd, sipd_ng_done *done)
{
    g->f->ng_pending++;
    sipd_ng_request(g->f->d, cmd, done, g);
}

/* In an NG answer's callback: 1 when the fork ended meanwhile (the last answer frees it). */
static int ng_back(sipd_fork *f)
{
    f->ng_pending--;
    if (f->gone) {
        if (!f->ng_pending) {
            free(f);
        }
        return 1;
    }
    return 0;
}

static void leg_drop(sipd_leg *g)
{
    sipd *d = g->f->d;

    tmr_cancel(&g->start);
    tmr_cancel(&g->re_tmr);
    g->reneg = 0;
    g->re_req = mem_deref(g->re_req);
    g->sess = mem_deref(g->sess);   /* CANCEL or BYE as libre frees it */
    if (g->ng_live) {
        sipd_ng_delete(d, g->ngid);
        g->ng_live = 0;
    }
    free(g->sdp);
    g->sdp = NULL;
    if (g->state != LEG_NONE) {
        g->state = LEG_DONE;
    }
}

/* ---- a leg ---- */

static int no_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
    (void)descp; (void)msg; (void)arg;
    return EPROTO;
}

static int leg_answer(const struct sip_msg *msg, void *arg)
{
    sipd_leg *g = arg;
    struct pl pl;

    free(g->sdp);
    pl.p = (const char *)mbuf_buf(msg->mb);
    pl.l = mbuf_get_left(msg->mb);
    g->sdp = pl.l ? dup_pl(&pl) : NULL;
    return 0;
}

static void leg_progress(const struct sip_msg *msg, void *arg)
{
    (void)msg; (void)arg;   /* the caller already hears the ringing of the 180 it got */
}

static void leg_answered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                            void *arg)
{
    sipd_leg *g = arg;
    sipd_fork *f = g->f;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);
    int i;

    (void)rtt;
    if (ng_back(f)) {
        return;
    }
    if (g->state != LEG_UP) {
        return;   /* it went meanwhile */
    }
    if (!sdp || f->won || f->stopped) {
        leg_drop(g);
        if (!sdp) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00826)
                         "ucwa-sipd: rtpengine did not take the answer of %s for call %s: %s",
                         g->uri, sipd_call_key(f->c), why);
            if (!f->apps && !f->won && !sipd_fork_live(f)) {
                sipd_call_leg_failed(f->c, 503);   /* nothing else rings: 480 */
            }
        }
        return;
    }
    f->won = 1;
    for (i = 0; i < LEGS; i++) {
        if (&f->leg[i] != g) {
            leg_drop(&f->leg[i]);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00827)
                 "ucwa-sipd: call %s to %s answered at %s", sipd_call_key(f->c), f->user,
                 g->uri);
    sipd_call_leg_answered(f->c, sdp);
}

/* rtpengine's answer from the leg's description (its 200 to our INVITE or re-INVITE). */
static void leg_ng_answer(sipd_leg *g, const struct sip_msg *msg, sipd_ng_done *done)
{
    apr_pool_t *p;
    ng_benc *cmd;

    apr_pool_create(&p, g->f->d->pool);
    cmd = leg_cmd(p, g, "answer");
    ng_benc_dict_add(p, cmd, "to-tag", ng_benc_bytes(p, msg->to.tag.p, msg->to.tag.l));
    ng_benc_dict_add_str(p, cmd, "sdp", g->sdp ? g->sdp : "");
    ng_leg(g, cmd, done);
    apr_pool_destroy(p);
}

static void leg_established(const struct sip_msg *msg, void *arg)
{
    sipd_leg *g = arg;
    sipd_fork *f = g->f;

    if (f->won || f->stopped) {
        leg_drop(g);   /* another party answered first: BYE */
        return;
    }
    g->state = LEG_UP;
    if (msg->to.tag.l < sizeof(g->tag)) {
        memcpy(g->tag, msg->to.tag.p, msg->to.tag.l);
        g->tag[msg->to.tag.l] = '\0';
    }
    leg_ng_answer(g, msg, leg_answered_ng);
}

static void leg_close(int err, const struct sip_msg *msg, void *arg)
{
    sipd_leg *g = arg;
    sipd_fork *f = g->f;
    int code = msg ? msg->scode : 0, up = g->state == LEG_UP && f->won;

    ap_log_error(APLOG_MARK, APLOG_INFO, 0, f->d->s, UCWALOGNO(00828)
                 "ucwa-sipd: %s leg of call %s to %s ended (%d%s%s)", up ? "answered" : "the",
                 sipd_call_key(f->c), g->uri, code, err ? ", " : "", err ? strerror(err) : "");
    leg_drop(g);
    if (up) {
        sipd_call_hangup(f->c);   /* the mobile hung up: so does the caller's call */
        return;
    }
    f->last_code = code;
    if (!f->apps && !f->won && !sipd_fork_live(f)) {
        sipd_call_leg_failed(f->c, code);
    }
}

static void leg_offered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                           void *arg)
{
    sipd_leg *g = arg;
    sipd_fork *f = g->f;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);
    char route[300], *to;
    const char *at;
    struct mbuf *mb;
    apr_pool_t *p;
    int e;

    (void)rtt;
    if ((f->gone || g->state != LEG_OFFER) && sdp) {
        sipd_ng_delete(d, g->ngid);   /* the leg went while rtpengine made its offer */
    }
    if (ng_back(f) || g->state != LEG_OFFER) {
        return;
    }
    g->ng_live = 1;
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(00829)
                     "ucwa-sipd: rtpengine gave no offer for %s of call %s: %s", g->uri,
                     sipd_call_key(f->c), why);
        leg_close(0, NULL, g);
        return;
    }
    apr_pool_create(&p, d->pool);
    at = strchr(f->user, '@');
    to = !strncasecmp(g->uri, "tel:", 4)
         ? apr_psprintf(p, "sip:%s@%s;user=phone", g->uri + 4, at ? at + 1 : "localhost")
         : g->uri;
    mb = mbuf_alloc(strlen(sdp));
    mbuf_write_str(mb, sdp);
    mb->pos = 0;
    apr_snprintf(route, sizeof(route), "sip:%s;lr", d->conf->proxy ? d->conf->proxy : "");
    {
        const char *routes[1] = { route };
        const char *line = f->line ? f->line : apr_pstrcat(p, "sip:", f->user, NULL);
        e = sipsess_connect(&g->sess, d->sess_sock, to, NULL, f->caller, "ucwa",
                            d->conf->proxy ? routes : NULL, d->conf->proxy ? 1 : 0, SDP_TYPE,
                            mb, NULL, NULL, false, no_offer, leg_answer, leg_progress,
                            leg_established, NULL, NULL, leg_close, g,
                            "P-Asserted-Identity: <%s>\r\n%s%s%s%s%s", f->caller,
                            f->phone ? "" /* the user's own phone: not a diversion */
                            : apr_psprintf(p, "Diversion: <%s>;reason=%s;counter=1\r\n", line,
                                           g->which == 0 ? "deflection"
                                           : f->immediate ? "unconditional" : "no-answer"),
                            f->div && !f->phone ? f->div : "",
                            g->gw[0] ? "P-Ucwa-Gateway-Set: " : "", g->gw,
                            g->gw[0] ? "\r\n" : "");
    }
    mem_deref(mb);
    apr_pool_destroy(p);
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(00830)
                     "ucwa-sipd: cannot send the INVITE of call %s to %s", sipd_call_key(f->c),
                     g->uri);
        leg_close(0, NULL, g);
        return;
    }
    g->state = LEG_RINGING;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00831)
                 "ucwa-sipd: call %s to %s: %s rings", sipd_call_key(f->c), f->user, g->uri);
}

/* rtpengine's offer toward the leg (plain RTP) from the caller's description sdp (or
 * toward the caller from the leg's, from_leg). */
static ng_benc *leg_offer_cmd_dir(apr_pool_t *p, const sipd_leg *g, const char *sdp,
                                  int from_leg)
{
    static const char *const mux[] = { "demux" };
    ng_benc *cmd = leg_cmd_dir(p, g, "offer", from_leg);

    ng_benc_dict_add_str(p, cmd, "sdp", sdp);
    ng_benc_dict_add_str(p, cmd, "ICE", "remove");
    ng_benc_dict_add_str(p, cmd, "transport-protocol", "RTP/AVP");
    ng_benc_dict_add_strs(p, cmd, "rtcp-mux", mux, 1);
    return cmd;
}

static ng_benc *leg_offer_cmd(apr_pool_t *p, const sipd_leg *g, const char *sdp)
{
    return leg_offer_cmd_dir(p, g, sdp, 0);
}

/* A leg's time came: rtpengine's offer toward SIP from the caller's description. */
static void leg_go(void *arg)
{
    sipd_leg *g = arg;
    sipd_fork *f = g->f;
    sipd *d = f->d;
    apr_pool_t *p;

    if (f->won || f->stopped || g->state != LEG_WAIT) {
        return;
    }
    if (g->which == 1 && !f->immediate) {
        /* unanswered: the applications and the simultaneous ring stop, the call goes on */
        leg_drop(&f->leg[0]);
        if (f->apps) {
            f->apps = 0;
            sipd_call_stop_apps(f->c);
        }
    }
    g->state = LEG_OFFER;
    apr_pool_create(&p, d->pool);
    ng_leg(g, leg_offer_cmd(p, g, f->offer), leg_offered_ng);
    apr_pool_destroy(p);
}

void sipd_fork_start(sipd_fork *f, sipd_call *c, const char *offer, int apps)
{
    int i;

    if (!f) {
        return;
    }
    f->c = c;
    f->apps = apps;
    f->offer = strdup(offer ? offer : "");
    for (i = 0; i < LEGS; i++) {
        sipd_leg *g = &f->leg[i];
        int delay = g->delay_ms;
        apr_snprintf(g->ngid, sizeof(g->ngid), "%s-%s", sipd_call_key(c),
                     i ? "fwd" : f->phone ? "pa" : "snr");
        if (g->state != LEG_WAIT) {
            continue;
        }
        if (!apps && (i == 0 || !f->leg[0].uri)) {
            delay = 0;   /* nobody else rings: no reason to wait */
        }
        tmr_start(&g->start, (uint64_t)delay, leg_go, g);
    }
}

void sipd_fork_apps_none(sipd_fork *f)
{
    int i;

    if (!f || f->stopped || f->won || !f->apps) {
        return;
    }
    f->apps = 0;
    for (i = 0; i < LEGS; i++) {
        /* nobody else rings: no reason to wait (as sipd_fork_start without apps) */
        if (f->leg[i].state == LEG_WAIT && (i == 0 || f->leg[0].state != LEG_WAIT)) {
            tmr_start(&f->leg[i].start, 0, leg_go, &f->leg[i]);
        }
    }
}

sipd_fork *sipd_fork_phone(sipd *d, sipd_call *c, const char *user, const char *caller,
                           const char *offer, const char *number, const char *gw)
{
    sipd_fork *f = calloc(1, sizeof(*f));
    ucwa_snr_leg l;

    if (!f) {
        return NULL;
    }
    memset(&l, 0, sizeof(l));
    l.uri = number;
    l.gw_set = gw;
    f->d = d;
    f->user = strdup(user);
    f->caller = caller ? strdup(caller) : NULL;
    f->phone = 1;
    leg_set(f, 0, &l);
    leg_set(f, 1, &(ucwa_snr_leg){ 0 });
    sipd_fork_start(f, c, offer, 0);
    return f;
}

void sipd_fork_caller(sipd_fork *f, const struct sip_msg *msg)
{
    if (f && !f->caller) {
        f->caller = dup_pl(&msg->from.auri);
    }
}

void sipd_fork_cancel(sipd_fork *f)
{
    int i;

    if (!f || f->won) {
        return;
    }
    f->stopped = 1;
    for (i = 0; i < LEGS; i++) {
        leg_drop(&f->leg[i]);
    }
}

void sipd_fork_free(sipd_fork *f)
{
    int i;

    if (!f) {
        return;
    }
    f->stopped = 1;
    for (i = 0; i < LEGS; i++) {
        leg_drop(&f->leg[i]);
        free(f->leg[i].uri);
    }
    free(f->user);
    free(f->line);
    free(f->caller);
    free(f->offer);
    free(f->div);
    f->gone = 1;
    if (!f->ng_pending) {
        free(f);
    }
}

/* ---- the remote party's re-INVITE passed on to the answered leg ----
 *
 * rtpengine's offer on the leg's call (<key>-pa, -snr, -fwd) from the remote's new
 * description, a re-INVITE of the leg with it (libre's sipsess_modify), the leg's answer
 * through rtpengine back to sipd_call_leg_reanswered. libre says nothing of a refused
 * re-INVITE: the deadline stands for it. */

#define LEG_RENEG_MS 10000

/* sdp: the leg's answer through rtpengine; else the leg's refusal (code, reason) or
 * another failure (0). */
static void leg_reneg_done(sipd_leg *g, const char *sdp, int code, const char *reason)
{
    g->reneg = 0;
    tmr_cancel(&g->re_tmr);
    g->re_req = mem_deref(g->re_req);
    sipd_call_leg_reanswered(g->f->c, sdp, code, reason);
}

static void leg_reneg_timeout(void *arg)
{
    sipd_leg *g = arg;

    ap_log_error(APLOG_MARK, APLOG_INFO, 0, g->f->d->s, UCWALOGNO(01122)
                 "ucwa-sipd: %s did not answer the re-INVITE of call %s in time", g->uri,
                 sipd_call_key(g->f->c));
    leg_reneg_done(g, NULL, 0, NULL);
}

static void leg_reanswered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                              void *arg)
{
    sipd_leg *g = arg;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);

    (void)rtt;
    if (ng_back(g->f) || !g->reneg) {
        return;
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(01123)
                     "ucwa-sipd: rtpengine did not take the answer of %s to the re-INVITE of "
                     "call %s: %s", g->uri, sipd_call_key(g->f->c), why);
    }
    leg_reneg_done(g, sdp, 0, NULL);
}

/* The leg's response to the re-INVITE passed on: its 200 through rtpengine, or its
 * refusal at once to the remote party (with the leg's code: 491 stays 491, so the remote
 * tries again; 481 and 408 say the leg's dialog is gone, which the remote's is not). */
static void leg_reinvite_resp(int err, const struct sip_msg *msg, void *arg)
{
    sipd_leg *g = arg;
    char reason[64];

    if (msg && msg->scode < 200) {
        return;
    }
    if (msg && msg->scode < 300 && g->sess) {
        /* ACKed even when its deadline passed meanwhile */
        sipd_reinvite_ack(g->f->d, sipsess_dialog(g->sess), msg);
    }
    if (!g->reneg || g->state != LEG_UP) {
        return;
    }
    if (err || !msg) {
        leg_reneg_done(g, NULL, 0, NULL);
        return;
    }
    if (msg->scode >= 300) {
        int keep = msg->scode != 481 && msg->scode != 408 && msg->scode != 401
                   && msg->scode != 407;
        pl_strcpy(&msg->reason, reason, sizeof(reason));
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, g->f->d->s, UCWALOGNO(01242)
                     "ucwa-sipd: %s refused the re-INVITE of call %s (%u): passed on",
                     g->uri, sipd_call_key(g->f->c), msg->scode);
        leg_reneg_done(g, NULL, keep ? msg->scode : 500,
                       keep ? reason : "Server Internal Error");
        return;
    }
    free(g->sdp);
    g->sdp = sipd_body_dup(msg);
    leg_ng_answer(g, msg, leg_reanswered_ng);
}

static void leg_reoffered_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                             void *arg)
{
    sipd_leg *g = arg;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);
    int e;

    (void)rtt;
    if (ng_back(g->f) || !g->reneg || g->state != LEG_UP) {
        return;
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(01124)
                     "ucwa-sipd: rtpengine gave no offer for the re-INVITE of %s in call %s: "
                     "%s", g->uri, sipd_call_key(g->f->c), why);
        leg_reneg_done(g, NULL, 0, NULL);
        return;
    }
    /* our own request in the leg's dialog, not sipsess_modify: libre's session would keep
     * a refusal to itself (leg_reinvite_resp passes it on) */
    e = sipd_reinvite(d, &g->re_req, g->sess, sdp, leg_reinvite_resp, g);
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(01125)
                     "ucwa-sipd: cannot send the re-INVITE of call %s to %s",
                     sipd_call_key(g->f->c), g->uri);
        leg_reneg_done(g, NULL, 0, NULL);
    }
}

/* The leg that answered and is up, or NULL. */
static sipd_leg *won_leg(const sipd_fork *f)
{
    int i;

    for (i = 0; f && f->won && !f->stopped && i < LEGS; i++) {
        if (f->leg[i].state == LEG_UP && f->leg[i].sess) {
            return (sipd_leg *)&f->leg[i];
        }
    }
    return NULL;
}

int sipd_fork_reoffer(sipd_fork *f, const char *offer)
{
    sipd_leg *g = won_leg(f);
    apr_pool_t *p;

    if (!g || g->reneg || !offer) {
        return -1;
    }
    g->reneg = 1;
    tmr_start(&g->re_tmr, LEG_RENEG_MS, leg_reneg_timeout, g);
    apr_pool_create(&p, f->d->pool);
    ng_leg(g, leg_offer_cmd(p, g, offer), leg_reoffered_ng);
    apr_pool_destroy(p);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, f->d->s, UCWALOGNO(01126)
                 "ucwa-sipd: re-INVITE of call %s passed on to %s", sipd_call_key(f->c),
                 g->uri);
    return 0;
}

/* ---- the answered leg's own re-INVITE (the mobile holds, resumes) ----
 *
 * ucwa_sipd_call.c takes it (on_reinvite), rtpengine's offer on the leg's call from the
 * leg's side (its tag as from-tag) goes to the remote party in a re-INVITE, and the
 * remote's answer through rtpengine's answer into the leg's 200. */

struct sip_dialog *sipd_fork_leg_dialog(const sipd_fork *f)
{
    const sipd_leg *g = won_leg(f);

    return g && g->tag[0] ? sipsess_dialog(g->sess) : NULL;
}

int sipd_fork_leg_busy(const sipd_fork *f)
{
    const sipd_leg *g = won_leg(f);

    return g && g->reneg;
}

static void leg_own_ng(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                       void *arg, int offer)
{
    sipd_leg *g = arg;
    const char *why = NULL, *sdp = sipd_ng_sdp(err, resp, &why);

    (void)rtt;
    if (ng_back(g->f) || g->state != LEG_UP) {
        return;
    }
    if (!sdp) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, d->s, UCWALOGNO(01243)
                     "ucwa-sipd: rtpengine did not take the %s of the re-INVITE of %s in "
                     "call %s: %s", offer ? "offer" : "answer", g->uri,
                     sipd_call_key(g->f->c), why);
    }
    if (offer) {
        sipd_call_leg_offered(g->f->c, sdp);
    }
    else {
        sipd_call_leg_reanswered(g->f->c, sdp, 0, NULL);
    }
}

static void leg_own_offered_ng(sipd *d, const char *err, const ng_benc *resp,
                               apr_time_t rtt, void *arg)
{
    leg_own_ng(d, err, resp, rtt, arg, 1);
}

static void leg_own_answered_ng(sipd *d, const char *err, const ng_benc *resp,
                                apr_time_t rtt, void *arg)
{
    leg_own_ng(d, err, resp, rtt, arg, 0);
}

int sipd_fork_leg_offer(sipd_fork *f, const char *offer)
{
    sipd_leg *g = won_leg(f);
    apr_pool_t *p;

    if (!g || g->reneg || !offer) {
        return -1;
    }
    apr_pool_create(&p, f->d->pool);
    ng_leg(g, leg_offer_cmd_dir(p, g, offer, 1), leg_own_offered_ng);
    apr_pool_destroy(p);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, f->d->s, UCWALOGNO(01244)
                 "ucwa-sipd: re-INVITE of %s in call %s passed on to the remote party",
                 g->uri, sipd_call_key(f->c));
    return 0;
}

int sipd_fork_leg_answer(sipd_fork *f, const char *answer)
{
    sipd_leg *g = won_leg(f);
    apr_pool_t *p;
    ng_benc *cmd;

    if (!g || !answer) {
        return -1;
    }
    apr_pool_create(&p, f->d->pool);
    cmd = leg_cmd_dir(p, g, "answer", 1);
    ng_benc_dict_add_str(p, cmd, "sdp", answer);
    ng_leg(g, cmd, leg_own_answered_ng);
    apr_pool_destroy(p);
    return 0;
}
