/* ucwa-sipd's NG client: "<cookie> <bencoded dictionary>" datagrams to rtpengine
 * (UcwaRtpengine), answered with the same cookie. A request is sent up to three times,
 * 500 ms apart, with one cookie: rtpengine keeps its answers by cookie, so a repeated
 * offer is not applied twice. */
#include <httpd.h>
#include <http_log.h>
#include <apr_strings.h>

#include "mod_ucwa.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

#define NG_TRIES 3
#define NG_INTERVAL 500   /* ms */

typedef struct ng_req {
    struct le le;
    sipd *d;
    char cookie[NG_MAX_COOKIE + 1];
    struct mbuf *mb;
    struct tmr tmr;
    int tries;
    apr_time_t first;
    sipd_ng_done *done;
    void *arg;
} ng_req;

static void req_destroy(void *data)
{
    ng_req *r = data;

    tmr_cancel(&r->tmr);
    list_unlink(&r->le);
    mem_deref(r->mb);
}

static void finish(ng_req *r, const char *err, const ng_benc *resp)
{
    sipd_ng_done *done = r->done;
    void *arg = r->arg;
    sipd *d = r->d;
    apr_time_t rtt = apr_time_now() - r->first;

    mem_deref(r);
    done(d, err, resp, rtt, arg);
}

static void send_once(ng_req *r);

static void on_timeout(void *arg)
{
    ng_req *r = arg;

    if (r->tries >= NG_TRIES) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, r->d->s, UCWALOGNO(00655)
                     "rtpengine did not answer NG request %s in %d tries", r->cookie,
                     NG_TRIES);
        finish(r, "rtpengine did not answer", NULL);
        return;
    }
    send_once(r);
}

static void send_once(ng_req *r)
{
    int err;

    r->tries++;
    r->mb->pos = 0;
    err = udp_send(r->d->ng_us, &r->d->ng_addr, r->mb);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, r->d->s, UCWALOGNO(00656)
                     "NG request %s: send failed (%s)", r->cookie, strerror(err));
    }
    tmr_start(&r->tmr, NG_INTERVAL, on_timeout, r);
}

static void on_datagram(const struct sa *src, struct mbuf *mb, void *arg)
{
    sipd *d = arg;
    apr_pool_t *p;
    const char *cookie, *body, *why;
    apr_size_t body_len;
    ng_benc *resp = NULL;
    struct le *le;

    if (!sa_cmp(src, &d->ng_addr, SA_ALL)) {
        return;   /* only rtpengine answers */
    }
    apr_pool_create(&p, d->pool);
    why = ng_message_split(p, (const char *)mbuf_buf(mb), mbuf_get_left(mb), &cookie, &body,
                           &body_len);
    if (!why) {
        why = ng_benc_decode(p, body, body_len, &resp);
    }
    if (why) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00657)
                     "unreadable NG answer from rtpengine: %s", why);
        apr_pool_destroy(p);
        return;
    }
    LIST_FOREACH(&d->ng_pending, le) {
        ng_req *r = le->data;
        if (!strcmp(r->cookie, cookie)) {
            const char *result = ng_benc_dict_str(resp, "result");
            if (!result) {
                finish(r, "rtpengine's answer has no result", NULL);
            }
            else if (!strcmp(result, "error")) {
                const char *reason = ng_benc_dict_str(resp, "error-reason");
                finish(r, apr_pstrcat(p, "rtpengine: ", reason ? reason : "error", NULL),
                       resp);
            }
            else {
                finish(r, NULL, resp);
            }
            apr_pool_destroy(p);
            return;
        }
    }
    /* an answer to a request that timed out already, or to a repeat */
    apr_pool_destroy(p);
}

int sipd_ng_open(sipd *d)
{
    struct sa local;
    int err;

    list_init(&d->ng_pending);
    if (!d->conf->rtpengine) {
        return 0;
    }
    err = sa_decode(&d->ng_addr, d->conf->rtpengine, strlen(d->conf->rtpengine));
    if (err) {
        return err;
    }
    sa_init(&local, sa_af(&d->ng_addr));
    err = udp_listen(&d->ng_us, &local, on_datagram, d);
    if (err) {
        return err;
    }
    udp_rxsz_set(d->ng_us, NG_MAX_MESSAGE);
    d->ng_set = 1;
    return 0;
}

void sipd_ng_close(sipd *d)
{
    list_flush(&d->ng_pending);
    d->ng_us = mem_deref(d->ng_us);
}

void sipd_ng_request(sipd *d, const ng_benc *cmd, sipd_ng_done *done, void *arg)
{
    ng_req *r;
    apr_pool_t *p;
    apr_size_t len;
    char *body;

    if (!d->ng_set) {
        done(d, "no UcwaRtpengine is configured", NULL, 0, arg);
        return;
    }
    r = mem_zalloc(sizeof(*r), req_destroy);
    if (!r) {
        done(d, "out of memory", NULL, 0, arg);
        return;
    }
    apr_pool_create(&p, d->pool);
    body = ng_benc_encode(p, cmd, &len);
    r->d = d;
    r->done = done;
    r->arg = arg;
    r->first = apr_time_now();
    tmr_init(&r->tmr);
    apr_snprintf(r->cookie, sizeof(r->cookie), "%" APR_PID_T_FMT "_%" APR_UINT64_T_FMT "_%08x",
                 getpid(), ++d->ng_seq, (unsigned)rand_u32());
    r->mb = mbuf_alloc(strlen(r->cookie) + 1 + (body ? len : 0));
    list_append(&d->ng_pending, &r->le, r);
    if (!body || !r->mb) {
        apr_pool_destroy(p);
        finish(r, body ? "out of memory" : "NG request nested too deep", NULL);
        return;
    }
    mbuf_printf(r->mb, "%s ", r->cookie);
    mbuf_write_mem(r->mb, (const uint8_t *)body, len);
    apr_pool_destroy(p);
    send_once(r);
}

const char *sipd_ng_sdp(const char *err, const ng_benc *resp, const char **why)
{
    const char *sdp = resp ? ng_benc_dict_str(resp, "sdp") : NULL;
    const char *result = resp ? ng_benc_dict_str(resp, "result") : NULL;

    if (err || !sdp || !result || strcmp(result, "ok") != 0) {
        *why = err ? err : resp && ng_benc_dict_str(resp, "error-reason")
                           ? ng_benc_dict_str(resp, "error-reason") : "no description";
        return NULL;
    }
    return sdp;
}

static void ng_ignore(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt, void *arg)
{
    (void)d; (void)err; (void)resp; (void)rtt; (void)arg;
}

void sipd_ng_delete(sipd *d, const char *call_id)
{
    apr_pool_t *p;
    ng_benc *cmd;

    apr_pool_create(&p, d->pool);
    cmd = ng_benc_dict(p);
    ng_benc_dict_add_str(p, cmd, "command", "delete");
    ng_benc_dict_add_str(p, cmd, "call-id", call_id);
    sipd_ng_request(d, cmd, ng_ignore, NULL);
    apr_pool_destroy(p);
}
