/* ucwa-sipd's dialogs across its own restart (a crash, kill -9): what it needs to go on
 * with an established call without libre's session (Call-ID, tags, URIs, the local
 * CSeq, the remote target, the route set, the conversation's key, which is also
 * rtpengine's call-id) is kept in a shared segment the Apache parent made before it
 * forked the first process; a new process finds the records of the one that died.
 *
 * A record is written when rtpengine has the call (EARLY: only its key and, for a call
 * from SIP, the INVITE's Contact and Record-Route), completed when the dialog is
 * established (LIVE), freed when the call ends in this process. A new process:
 *   - EARLY records (calls that were ringing): rtpengine forgets them, the calls end on
 *     the applications' side (fe-gone; a call to SIP fails Unreachable);
 *   - LIVE records whose conversation is still connected: kept (fe-gone's "keep"); their
 *     media goes on through rtpengine, which never depended on ucwa-sipd; the process
 *     answers their in-dialog requests itself (a BYE: 200, the application's call ends;
 *     OPTIONS 200; anything else 488) and sends the BYE when the application hangs up;
 *   - LIVE records whose conversation ended meanwhile: BYE, rtpengine forgets the call.
 * libre 1.1.0 cannot make a dialog from stored state (its dialog is opaque and made only
 * from an INVITE or its answer), hence requests built here (docs/ARCHITECTURE.md §13).
 *
 * Only ucwa-sipd reads and writes the segment, one process at a time: no lock. A record
 * is written while its state says WRITING, so one half written by a process that died
 * is dropped. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_main.h>

#include "mod_ucwa.h"
#include "ucwa_config.h"
#include "ucwa_conv.h"
#include "ucwa_pool.h"
#include "ucwa_shm.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

#define SEGMENT_KEY "ucwa-sipd-dialogs"
#define DIALOGS 1024              /* calls kept across a restart, at most */
#define DLG_MAGIC 0x55534444u     /* "USDD", with the record's size below */

/* DLG_CANCELED: a previous process's ringing call to SIP whose CANCEL this one sent; kept
 * (its slot reusable) to ACK the INVITE's final answer (487) */
enum { DLG_FREE = 0, DLG_WRITING, DLG_EARLY, DLG_LIVE, DLG_CANCELED };

typedef struct {
    volatile apr_uint32_t state;
    apr_uint32_t dir;             /* 0: to SIP, 1: from SIP (ucwa_sipd_call.c's call_dir) */
    apr_uint32_t cseq;            /* the last CSeq this side used in the dialog */
    apr_uint32_t bye;             /* a BYE of ours is out */
    apr_uint32_t taken;           /* a previous process's, taken back by this one */
    char kfe[UCWA_POOL_FE_MAX];
    char kconv[UCWA_CONV_ID_MAX];
    char by[UCWA_POOL_FE_MAX];    /* on a pool, a call from SIP: the Front End whose
                                   * application answered it ("": none yet) */
    char callid[256];
    char ltag[128], rtag[128];    /* local and remote tags */
    char luri[256], ruri[256];    /* local and remote URIs (From and To of our requests) */
    char target[256];             /* the remote target (its Contact) */
    char route[1024];             /* the route set, as a Route header's value ("": none) */
    /* what ends the call while it rings should its process die, ready to send: the
     * CANCEL of our INVITE (to SIP) or a 480 to the caller's (from SIP); "": none */
    char bail[2048];
    struct sa bail_dst;
    apr_uint32_t bail_tp;         /* enum sip_transp */
} dlg_rec;

typedef struct {
    apr_uint32_t magic, size;
    dlg_rec rec[DIALOGS];
} dlg_segment;

/* ---- the segment (made by the parent) ---- */

void ucwa_sipd_dlg_segment(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    apr_shm_t *shm;
    dlg_segment *seg;

    apr_pool_userdata_get(&data, SEGMENT_KEY, pp);
    if (data) {
        return;
    }
    if (apr_shm_create(&shm, sizeof(dlg_segment), NULL, pp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00860)
                     "ucwa-sipd: no shared memory for its dialogs: calls end when it "
                     "restarts");
        return;
    }
    seg = apr_shm_baseaddr_get(shm);
    memset(seg, 0, sizeof(*seg));
    seg->magic = DLG_MAGIC;
    seg->size = (apr_uint32_t)sizeof(dlg_rec);
    apr_pool_userdata_set(seg, SEGMENT_KEY, apr_pool_cleanup_null, pp);
}

static dlg_segment *segment(sipd *d)
{
    void *data = NULL;
    dlg_segment *seg;

    apr_pool_userdata_get(&data, SEGMENT_KEY, d->s->process->pool);
    seg = data;
    return seg && seg->magic == DLG_MAGIC && seg->size == sizeof(dlg_rec) ? seg : NULL;
}

static dlg_rec *find(sipd *d, const char *kconv)
{
    dlg_segment *seg = segment(d);
    int i;

    for (i = 0; seg && i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        if ((r->state == DLG_EARLY || r->state == DLG_LIVE) && !strcmp(r->kconv, kconv)) {
            return r;
        }
    }
    return NULL;
}

static void pl_copy(char *out, size_t n, const struct pl *pl)
{
    size_t l = pl_isset(pl) ? pl->l : 0;

    if (l >= n) {
        l = 0;   /* too long to be kept: the call is not kept (below) */
    }
    memcpy(out, l ? pl->p : "", l);
    out[l] = '\0';
}

/* A Contact's URI (without the angle brackets). */
static void contact_of(const struct sip_msg *msg, char *out, size_t n)
{
    const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
    struct sip_addr a;

    out[0] = '\0';
    if (h && !sip_addr_decode(&a, &h->val)) {
        pl_copy(out, n, &a.auri);
    }
}

typedef struct {
    char *out;
    size_t n;
    int over;
} route_acc;

/* Record-Route values, joined with ", " (forward or backward over the headers). */
static bool route_add(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    route_acc *a = arg;
    size_t have = strlen(a->out);

    (void)msg;
    if (have + hdr->val.l + 3 >= a->n) {
        a->over = 1;
        return true;
    }
    if (have) {
        strcat(a->out, ", ");
        have += 2;
    }
    memcpy(a->out + have, hdr->val.p, hdr->val.l);
    a->out[have + hdr->val.l] = '\0';
    return false;
}

/* The route set: a UAS keeps the Record-Route of the INVITE in order, a UAC that of the
 * 2xx backward (RFC 3261 12.1). Each header holds one entry (Kamailio's record_route):
 * a header listing several is kept as it is. 0, or -1 when it does not fit. */
static int route_of(const struct sip_msg *msg, int fwd, char *out, size_t n)
{
    route_acc a = { out, n, 0 };

    out[0] = '\0';
    sip_msg_hdr_apply(msg, fwd, SIP_HDR_RECORD_ROUTE, route_add, &a);
    return a.over ? -1 : 0;
}

static dlg_rec *take(sipd *d)
{
    dlg_segment *seg = segment(d);
    int i;

    for (i = 0; seg && i < DIALOGS; i++) {
        if (seg->rec[i].state == DLG_FREE || seg->rec[i].state == DLG_CANCELED) {
            seg->rec[i].state = DLG_WRITING;
            return &seg->rec[i];
        }
    }
    return NULL;
}

typedef struct {
    char *out;
    size_t n, len;
    int over;
    const char *name;             /* the header each value is written as */
} bail_acc;

/* Each header of one kind, as "<name>: <value>\r\n" lines, in order. */
static bool line_add(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
    bail_acc *a = arg;
    int w;

    (void)msg;
    w = re_snprintf(a->out + a->len, a->n - a->len, "%s: %r\r\n", a->name, &hdr->val);
    if (w < 0 || (size_t)w >= a->n - a->len) {
        a->over = 1;
        return true;
    }
    a->len += (size_t)w;
    return false;
}

/* The 480 that ends a call from SIP while it rings (RFC 3261 8.2.6: the INVITE's Vias,
 * From, Call-ID, CSeq; To with a tag of ours), sent where the INVITE came from. */
static void bail_in(dlg_rec *r, const struct sip_msg *invite)
{
    const struct sip_hdr *from = sip_msg_hdr(invite, SIP_HDR_FROM);
    bail_acc a = { r->bail, sizeof(r->bail), 0, 0, "Via" };
    int w;

    r->bail[0] = '\0';
    if (!from || pl_isset(&invite->to.tag)) {
        return;
    }
    a.len = (size_t)re_snprintf(r->bail, sizeof(r->bail), "SIP/2.0 480 Temporarily Unavailable\r\n");
    sip_msg_hdr_apply(invite, true, SIP_HDR_VIA, line_add, &a);
    w = a.over ? -1 : re_snprintf(r->bail + a.len, sizeof(r->bail) - a.len,
                                  "From: %r\r\nTo: %r;tag=%016llx\r\nCall-ID: %r\r\n"
                                  "CSeq: %u INVITE\r\nRetry-After: 60\r\n"
                                  "Content-Length: 0\r\n\r\n", &from->val,
                                  &invite->to.val, rand_u64(), &invite->callid,
                                  invite->cseq.num);
    if (w < 0 || (size_t)w >= sizeof(r->bail) - a.len) {
        r->bail[0] = '\0';   /* does not fit: the call is not ended from here */
        return;
    }
    /* a stream's connection goes with the process: a new one to the Via's sent-by */
    r->bail_tp = (apr_uint32_t)invite->tp;
    r->bail_dst = invite->tp == SIP_TRANSP_UDP ? invite->src : invite->via.addr;
}

/* The CANCEL of our INVITE (RFC 3261 9.1: its Request-URI, top Via, Route, From, To,
 * Call-ID and CSeq number), sent where the INVITE went. */
static void bail_out(dlg_rec *r, const struct sip_msg *invite, enum sip_transp tp,
                     const struct sa *dst)
{
    bail_acc a = { r->bail, sizeof(r->bail), 0, 0, "Route" };
    const struct sip_hdr *from = sip_msg_hdr(invite, SIP_HDR_FROM);
    const struct sip_hdr *to = sip_msg_hdr(invite, SIP_HDR_TO);
    int w;

    r->bail[0] = '\0';
    if (!from || !to) {
        return;
    }
    a.len = (size_t)re_snprintf(r->bail, sizeof(r->bail), "CANCEL %r SIP/2.0\r\nVia: %r\r\n",
                                &invite->ruri, &invite->via.val);
    if (a.len >= sizeof(r->bail)) {
        r->bail[0] = '\0';
        return;
    }
    sip_msg_hdr_apply(invite, true, SIP_HDR_ROUTE, line_add, &a);
    w = a.over ? -1 : re_snprintf(r->bail + a.len, sizeof(r->bail) - a.len,
                                  "Max-Forwards: 70\r\nFrom: %r\r\nTo: %r\r\n"
                                  "Call-ID: %r\r\nCSeq: %u CANCEL\r\n"
                                  "Content-Length: 0\r\n\r\n", &from->val, &to->val,
                                  &invite->callid, invite->cseq.num);
    if (w < 0 || (size_t)w >= sizeof(r->bail) - a.len) {
        r->bail[0] = '\0';
        return;
    }
    r->bail_tp = (apr_uint32_t)tp;
    r->bail_dst = *dst;
}

/* libre's trace of what it sends: the INVITE of the call sipd_dlg_begin just recorded
 * (sent within sipsess_connect), for its CANCEL. */
static void on_trace(bool tx, enum sip_transp tp, const struct sa *src, const struct sa *dst,
                     const uint8_t *pkt, size_t len, void *arg)
{
    sipd *d = arg;
    dlg_rec *r = d ? d->dlg_capture : NULL;
    struct mbuf *mb;
    struct sip_msg *msg = NULL;

    (void)src;
    if (!tx || !r || len < 7 || memcmp(pkt, "INVITE ", 7)) {
        return;
    }
    d->dlg_capture = NULL;
    if (r->state != DLG_EARLY || !(mb = mbuf_alloc(len))) {
        return;
    }
    (void)mbuf_write_mem(mb, pkt, len);
    mb->pos = 0;
    if (!sip_msg_decode(&msg, mb) && msg->req && !pl_isset(&msg->to.tag)) {
        r->state = DLG_WRITING;
        __sync_synchronize();
        bail_out(r, msg, tp, dst);
        __sync_synchronize();
        r->state = DLG_EARLY;
    }
    mem_deref(msg);
    mem_deref(mb);
}

void sipd_dlg_sent(sipd *d)
{
    d->dlg_capture = NULL;   /* sent, or not: nothing later is this call's INVITE */
}

void sipd_dlg_begin(sipd *d, int dir, const char *kfe, const char *kconv,
                    const struct sip_msg *invite)
{
    dlg_rec *r = find(d, kconv);

    if (r || !(r = take(d))) {
        return;   /* already there, or no room: the call is not kept across a restart */
    }
    memset((char *)r + sizeof(r->state), 0, sizeof(*r) - sizeof(r->state));
    r->dir = (apr_uint32_t)dir;
    apr_cpystrn(r->kfe, kfe, sizeof(r->kfe));
    apr_cpystrn(r->kconv, kconv, sizeof(r->kconv));
    if (invite) {
        contact_of(invite, r->target, sizeof(r->target));
        if (route_of(invite, true, r->route, sizeof(r->route)) != 0) {
            r->target[0] = '\0';   /* not kept when established */
        }
        bail_in(r, invite);
    }
    __sync_synchronize();
    r->state = DLG_EARLY;
    if (!invite) {
        d->dlg_capture = r;   /* the INVITE about to be sent (on_trace) */
    }
}

void sipd_dlg_confirm(sipd *d, const char *kconv, const struct sip_msg *msg)
{
    dlg_rec *r = find(d, kconv);
    const struct sip_taddr *local, *remote;

    if (!r || r->state != DLG_EARLY) {
        return;
    }
    r->state = DLG_WRITING;
    __sync_synchronize();
    /* to SIP: the 2xx (From is ours); from SIP: the ACK (To is ours) */
    local = r->dir ? &msg->to : &msg->from;
    remote = r->dir ? &msg->from : &msg->to;
    pl_copy(r->callid, sizeof(r->callid), &msg->callid);
    pl_copy(r->ltag, sizeof(r->ltag), &local->tag);
    pl_copy(r->rtag, sizeof(r->rtag), &remote->tag);
    pl_copy(r->luri, sizeof(r->luri), &local->auri);
    pl_copy(r->ruri, sizeof(r->ruri), &remote->auri);
    if (!r->dir) {
        contact_of(msg, r->target, sizeof(r->target));
        if (route_of(msg, false, r->route, sizeof(r->route)) != 0) {
            r->target[0] = '\0';
        }
        r->cseq = msg->cseq.num;
    }
    else {
        r->cseq = 1;   /* this side sent nothing in the dialog yet */
    }
    __sync_synchronize();
    /* anything missing (a field too long, no Contact): kept as ringing, so a new process
     * only makes rtpengine forget it */
    r->state = r->callid[0] && r->ltag[0] && r->rtag[0] && r->luri[0] && r->ruri[0]
               && r->target[0] ? DLG_LIVE : DLG_EARLY;
}

void sipd_dlg_by(sipd *d, const char *kconv, const char *by)
{
    dlg_rec *r = find(d, kconv);

    if (r) {
        apr_cpystrn(r->by, by ? by : "", sizeof(r->by));
    }
}

/* The conversation of record r hears that the SIP party left: on a pool, the Front End
 * whose application answered (ucwa_pool_post, through this Front End's outbox), else
 * this store. */
static void tell_left(sipd *d, const dlg_rec *r)
{
    if (d->pool_name && r->dir && r->by[0]) {
        sipd_pool_left(d, r->by, r->kconv);
    }
    else {
        sipd_apply_keyed(d, "left", r->kfe, r->kconv);
    }
}

static void send_bye(sipd *d, dlg_rec *r);

void sipd_dlg_fe_gone(sipd *d, const char *fe)
{
    dlg_segment *seg = segment(d);
    int i;

    for (i = 0; seg && i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        if (r->state == DLG_LIVE && r->taken && r->dir && !strcmp(r->by, fe)) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01001)
                         "ucwa-sipd: call %s (taken back after a restart) ends: Front End "
                         "%s that answered it is gone", r->kconv, fe);
            send_bye(d, r);
        }
    }
}

void sipd_dlg_forget(sipd *d, const char *kconv)
{
    dlg_rec *r = find(d, kconv);

    if (r) {
        if (d->dlg_capture == r) {
            d->dlg_capture = NULL;
        }
        r->state = DLG_FREE;
    }
}

/* ---- a previous process's dialogs ---- */

static void ng_forgotten(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                         void *arg)
{
    (void)d; (void)err; (void)resp; (void)rtt; (void)arg;
}

static void ng_delete(sipd *d, const char *kconv)
{
    apr_pool_t *p;
    ng_benc *cmd;

    if (!d->ng_set) {
        return;
    }
    apr_pool_create(&p, d->pool);
    cmd = ng_benc_dict(p);
    ng_benc_dict_add_str(p, cmd, "command", "delete");
    ng_benc_dict_add_str(p, cmd, "call-id", kconv);
    sipd_ng_request(d, cmd, ng_forgotten, NULL);
    apr_pool_destroy(p);
}

/* The first URI of a route set, for libre to send to. */
static int first_hop(const char *route, struct uri *u, char *buf, size_t n)
{
    const char *lt = strchr(route, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    struct pl pl;

    if (!lt || !gt || (size_t)(gt - lt - 1) >= n) {
        return -1;
    }
    memcpy(buf, lt + 1, (size_t)(gt - lt - 1));
    buf[gt - lt - 1] = '\0';
    pl_set_str(&pl, buf);
    return uri_decode(u, &pl);
}

static void bye_done(int err, const struct sip_msg *msg, void *arg)
{
    dlg_rec *r = arg;

    if (msg && msg->scode < 200) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf, UCWALOGNO(00861)
                 "ucwa-sipd: call %s (taken back after a restart) ended: BYE answered %d%s%s",
                 r->kconv, msg ? msg->scode : 0, err ? ", " : "", err ? strerror(err) : "");
    r->state = DLG_FREE;
}

/* BYE in record r's dialog, from the fields kept; rtpengine forgets the call. */
static void send_bye(sipd *d, dlg_rec *r)
{
    struct uri hop;
    char hopbuf[512];
    int e, routed = r->route[0] && !first_hop(r->route, &hop, hopbuf, sizeof(hopbuf));

    ng_delete(d, r->kconv);
    if (r->bye) {
        return;
    }
    r->bye = 1;
    r->cseq++;
    e = sip_requestf(NULL, d->sip, true, "BYE", r->target, routed ? &hop : NULL, NULL, NULL,
                     bye_done, r,
                     "To: <%s>;tag=%s\r\nFrom: <%s>;tag=%s\r\n"
                     "Call-ID: %s\r\nCSeq: %u BYE\r\n%s%s%sContent-Length: 0\r\n\r\n",
                     r->ruri, r->rtag, r->luri, r->ltag, r->callid, r->cseq,
                     routed ? "Route: " : "", routed ? r->route : "", routed ? "\r\n" : "");
    if (e) {
        ap_log_error(APLOG_MARK, APLOG_ERR, e, d->s, UCWALOGNO(00862)
                     "ucwa-sipd: cannot send the BYE of call %s (taken back after a restart)",
                     r->kconv);
        r->state = DLG_FREE;
    }
}

int sipd_dlg_end(sipd *d, const char *kconv)
{
    dlg_rec *r = find(d, kconv);

    if (!r || r->state != DLG_LIVE || !r->taken) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00863)
                 "ucwa-sipd: call %s (taken back after a restart) ended by the application",
                 kconv);
    send_bye(d, r);
    return 1;
}

/* A request in one of a previous process's dialogs (libre's sessions are this one's:
 * looked at before them, as libre answers 481 to a dialog it does not know). */
static bool on_dialog_request(const struct sip_msg *msg, void *arg)
{
    sipd *d = arg;
    dlg_segment *seg = segment(d);
    int i;

    if (!seg || !pl_isset(&msg->to.tag)) {
        return false;
    }
    for (i = 0; i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        if (r->state != DLG_LIVE || !r->taken || pl_strcmp(&msg->callid, r->callid)
            || pl_strcmp(&msg->to.tag, r->ltag) || pl_strcmp(&msg->from.tag, r->rtag)) {
            continue;
        }
        d->sip_requests++;
        if (!pl_strcmp(&msg->met, "ACK")) {
            return true;
        }
        if (!pl_strcmp(&msg->met, "BYE")) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00864)
                         "ucwa-sipd: call %s (taken back after a restart) ended by SIP",
                         r->kconv);
            (void)sip_reply(d->sip, msg, 200, "OK");
            ng_delete(d, r->kconv);
            r->state = DLG_FREE;
            tell_left(d, r);
            return true;
        }
        if (!pl_strcmp(&msg->met, "OPTIONS")) {
            (void)sip_reply(d->sip, msg, 200, "OK");
            return true;
        }
        /* a re-INVITE, UPDATE, INFO: not carried, the call goes on as it is */
        (void)sip_reply(d->sip, msg, 488, "Not Acceptable Here");
        return true;
    }
    return false;
}

typedef struct {
    sipd *d;
    json_t *keep;
    const char *fe;               /* on a pool, this Front End's name */
} restore_txn;

/* Whether record r's conversation is still connected to the SIP side. */
static void restore_locked(ucwa_txn *t, void *baton)
{
    restore_txn *x = baton;
    dlg_segment *seg = segment(x->d);
    int i;

    for (i = 0; seg && i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        ucwa_conv *c;
        int idx;
        if (r->state != DLG_LIVE) {
            continue;
        }
        idx = r->dir ? ucwa_conv_find_mirror_locked(t->store, r->kfe, r->kconv)
                     : ucwa_conv_find_locked(t->store, r->kconv);
        c = idx >= 0 ? ucwa_store_conv(t->store, idx) : NULL;
        if ((c && c->phase == UCWA_CONV_CONNECTED
             && !strcmp(c->peer_fe, x->d->pool_name ? x->d->pool_name : UCWA_POOL_SIP_FE))
            || (x->d->pool_name && r->dir && r->by[0] && strcmp(r->by, x->fe) != 0)) {
            /* connected here; or, on a pool, answered on another Front End, whose own
             * store decides (fe-gone's keep): a call that ended there meanwhile told this
             * SIP side "left", which waited in the pool's table and ends it (BYE) */
            json_array_append_new(x->keep, json_string(r->kconv));
        }
    }
}

/* Sends record r's bail (a previous process's ringing call): 1 if sent. */
static int send_bail(sipd *d, dlg_rec *r)
{
    struct mbuf *mb;
    char dst[80];
    int e;

    if (!r->bail[0] || !(mb = mbuf_alloc(strlen(r->bail)))) {
        return 0;
    }
    (void)mbuf_write_str(mb, r->bail);
    mb->pos = 0;
    e = sip_send(d->sip, NULL, (enum sip_transp)r->bail_tp, &r->bail_dst, mb);
    mem_deref(mb);
    re_snprintf(dst, sizeof(dst), "%J", &r->bail_dst);
    ap_log_error(APLOG_MARK, e ? APLOG_WARNING : APLOG_INFO, e, d->s, UCWALOGNO(01161)
                 "ucwa-sipd: call %s rang when the previous process ended: %s %s to %s",
                 r->kconv, r->dir ? "480" : "CANCEL", e ? "not sent" : "sent", dst);
    return !e;
}

/* The final answer to a previous process's INVITE whose CANCEL this one sent (487): its
 * ACK (RFC 3261 17.1.1.3: the CANCEL's Request-URI, Via, Route, From, Call-ID; the
 * answer's To; CSeq ACK), so the proxy stops repeating it. */
static bool on_stray_response(const struct sip_msg *msg, void *arg)
{
    sipd *d = arg;
    dlg_segment *seg = segment(d);
    const struct sip_hdr *to = sip_msg_hdr(msg, SIP_HDR_TO);
    int i;

    if (!seg || !to || msg->scode < 300 || pl_strcmp(&msg->cseq.met, "INVITE")) {
        return false;
    }
    for (i = 0; i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        const char *to_at, *to_end, *cseq_at, *cid;
        struct mbuf *mb;
        if (r->state != DLG_CANCELED || !(to_at = strstr(r->bail, "\r\nTo: "))
            || !(to_end = strstr(to_at + 2, "\r\n")) || !(cseq_at = strstr(to_end, "\r\nCSeq: "))
            || !(cid = strstr(r->bail, "\r\nCall-ID: "))) {
            continue;
        }
        cid += 11;
        if (strncmp(cid, msg->callid.p, msg->callid.l) || cid[msg->callid.l] != '\r') {
            continue;
        }
        if (!(mb = mbuf_alloc(strlen(r->bail) + to->val.l))) {
            return true;
        }
        /* "CANCEL <uri> ...To: <the INVITE's>\r\n...\r\nCSeq: n CANCEL..." */
        (void)mbuf_printf(mb, "ACK%b\r\nTo: %r%b\r\nCSeq: %u ACK\r\n"
                          "Content-Length: 0\r\n\r\n", r->bail + 6,
                          (size_t)(to_at - r->bail - 6), &to->val, to_end,
                          (size_t)(cseq_at - to_end), msg->cseq.num);
        mb->pos = 0;
        (void)sip_send(d->sip, NULL, (enum sip_transp)r->bail_tp, &r->bail_dst, mb);
        mem_deref(mb);
        r->state = DLG_FREE;
        return true;
    }
    return false;
}

json_t *sipd_dlg_restore(sipd *d)
{
    dlg_segment *seg = segment(d);
    restore_txn x = { d, json_array(), ucwa_config_get(d->s)->global->pool_fe };
    apr_pool_t *p;
    int i, kept = 0, ended = 0, ringing = 0;

    if (!seg) {
        return x.keep;
    }
    for (i = 0; i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        r->bye = 0;
        r->taken = 1;
        /* the CSeq kept is the INVITE's; renegotiations since took a number each: ours
         * must be higher than any of them */
        r->cseq += 1000;
        if (r->state == DLG_WRITING) {
            r->state = DLG_FREE;   /* its process died while writing it */
        }
        else if (r->state == DLG_CANCELED) {
            r->state = DLG_FREE;
        }
        else if (r->state == DLG_EARLY) {
            /* it was ringing: it ends (a call from SIP: fe-gone below; one to SIP fails
             * Unreachable now rather than at the end of its ring time), and so it does at
             * the other end: the phone stops ringing (CANCEL, or 480 to the caller) */
            ng_delete(d, r->kconv);
            r->state = send_bail(d, r) && !r->dir ? DLG_CANCELED : DLG_FREE;
            if (!r->dir) {
                sipd_apply_keyed(d, "gone", r->kfe, r->kconv);
            }
            ringing++;
        }
    }
    apr_pool_create(&p, d->pool);
    ucwa_txn_run(d->s, p, restore_locked, &x);
    apr_pool_destroy(p);
    for (i = 0; i < DIALOGS; i++) {
        dlg_rec *r = &seg->rec[i];
        size_t j;
        json_t *v;
        int keep = 0;
        if (r->state != DLG_LIVE) {
            continue;
        }
        json_array_foreach(x.keep, j, v) {
            keep |= !strcmp(json_string_value(v), r->kconv);
        }
        if (keep) {
            kept++;
        }
        else {
            ended++;
            send_bye(d, r);   /* its conversation ended while no process was there */
        }
    }
    if (kept || ended || ringing) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, d->s, UCWALOGNO(00865)
                     "ucwa-sipd: %d established call%s of the previous process taken back, "
                     "%d ended meanwhile (BYE), %d that rang ended", kept, kept == 1 ? "" : "s",
                     ended, ringing);
    }
    return x.keep;
}

int sipd_dlg_open(sipd *d)
{
    int err = sip_listen(&d->dlg_lsnr, d->sip, true, on_dialog_request, d);

    if (!err) {
        err = sip_listen(&d->dlg_rsp_lsnr, d->sip, false, on_stray_response, d);
    }
    if (!err) {
        sip_set_trace_handler(d->sip, on_trace);   /* its arg: sip_alloc's, d */
    }
    return err;
}

void sipd_dlg_close(sipd *d)
{
    if (d->sip) {
        sip_set_trace_handler(d->sip, NULL);
    }
    d->dlg_capture = NULL;
    d->dlg_lsnr = mem_deref(d->dlg_lsnr);
    d->dlg_rsp_lsnr = mem_deref(d->dlg_rsp_lsnr);
}
