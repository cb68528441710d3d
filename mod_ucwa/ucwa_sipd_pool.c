/* ucwa-sipd on a Front End of a pool: its SIP side is one more member of the pool,
 * "~sip:FE" (common/ucwa/ucwa_pool.h), so a call between a SIP party and applications
 * anywhere in the pool is a conversation across Front Ends like any other.
 *
 * In: the pool's thread of this Front End reads the messages for "~sip:FE" from the pool's
 * table and hands them here (the command "pool", with the description a message names
 * inline); sipd_pool_command turns them into what ucwa_sipd_call.c does for the outbox of
 * a single Front End (sipd_calls_handle): an invitation from an application of this Front
 * End becomes an INVITE, an answer to a call from SIP (the pool decided which one wins:
 * the claimer's Front End connected its application already) a 200 or 603, a hang-up a
 * BYE. Out: what the SIP party does goes into this Front End's outbox, which the pool's
 * thread ships: a call from SIP is an invitation to every Front End where the callee has
 * applications (UCWA_POOL_INVITE_USER), the caller's CANCEL "canceled" to every Front End
 * it rang, a BYE "left" to the Front End whose application answered. The replies to a call
 * placed here (its caller is on this Front End) are applied to the store directly, as on a
 * single Front End.
 *
 * What this file keeps per call from SIP: how many Front Ends ring ("invited", counted
 * down by their "gone": none left is 480), and which Front End answered (its "left",
 * and its death: "fe-gone" ends the call with a BYE). See docs/ARCHITECTURE.md §13. */
#include <httpd.h>
#include <string.h>
#include <jansson.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_config.h"
#include "ucwa_pool.h"
#include "ucwa_shm.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

typedef struct pool_call {
    struct le le;
    char conv[UCWA_CONV_ID_MAX];
    char by[UCWA_POOL_FE_MAX];     /* the Front End whose application answered, or "" */
    int invited;                   /* Front Ends ringing, -1 until the pool said */
    int gone;                      /* of them, those with nobody (left) to ring */
} pool_call;

void sipd_pool_start(sipd *d)
{
    const char *fe = ucwa_config_get(d->s)->global->pool_fe;

    list_init(&d->pool_calls);
    d->pool_name = fe && *fe ? ucwa_pool_sip_name(d->pool, fe) : NULL;
}

static pool_call *find(sipd *d, const char *conv)
{
    struct le *le;

    for (le = list_head(&d->pool_calls); le; le = le->next) {
        pool_call *c = le->data;
        if (!strcmp(c->conv, conv)) {
            return c;
        }
    }
    return NULL;
}

void sipd_pool_forget(sipd *d, const char *conv)
{
    pool_call *c = d->pool_name ? find(d, conv) : NULL;

    if (c) {
        list_unlink(&c->le);
        free(c);
    }
}

typedef struct {
    ucwa_pool_op op;
    const char *target, *key, *body;
    int rv;
} queue_txn;

static void queue_locked(ucwa_txn *t, void *baton)
{
    queue_txn *x = baton;

    x->rv = ucwa_pool_queue_locked(t->store, x->op, x->target, x->key, x->body, NULL);
}

/* Queues m (taken) for the pool's thread. 0, or -1: the outbox is full or m too long. */
static int queue(sipd *d, ucwa_pool_op op, const char *target, const char *key, json_t *m)
{
    apr_pool_t *p;
    queue_txn x = { op, target, key, NULL, -1 };

    apr_pool_create(&p, d->pool);
    x.body = mob_json_dump(p, m, NULL);
    if (x.body && ucwa_txn_run(d->s, p, queue_locked, &x) != APR_SUCCESS) {
        x.rv = -1;
    }
    if (x.rv < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00901)
                     "ucwa-sipd: %s for call %s not sent to the pool: the outbox is full "
                     "or the message too long", mob_json_str(m, "k"), key ? key : "?");
    }
    json_decref(m);
    apr_pool_destroy(p);
    return x.rv < 0 ? -1 : 0;
}

void sipd_pool_join(sipd *d, json_t *keep)
{
    if (d->pool_name) {
        /* the calls an earlier process held end on every Front End (it crashed, or was
         * replaced), but for the established ones this process took back: the pool hears
         * this SIP side join again, with them */
        queue(d, UCWA_POOL_SIP_JOIN, d->pool_name, NULL,
              json_pack("{s:s,s:O}", "k", "sip-join", "keep", keep));
    }
    json_decref(keep);
}

void sipd_pool_left(sipd *d, const char *fe, const char *conv)
{
    queue(d, UCWA_POOL_SEND, fe, NULL,
          json_pack("{s:s,s:s,s:s}", "k", "left", "fe", d->pool_name, "conv", conv));
}

int sipd_pool_ring(sipd *d, json_t *m, const char *sdp)
{
    const char *conv = mob_json_str(m, "conv");
    pool_call *c;

    if (!conv || !(c = calloc(1, sizeof(*c)))) {
        json_decref(m);
        return -1;
    }
    apr_cpystrn(c->conv, conv, sizeof(c->conv));
    c->invited = -1;
    json_object_set_new(m, "sdpData", json_string(sdp));
    if (queue(d, UCWA_POOL_INVITE_USER, d->pool_name, c->conv, m) != 0) {
        free(c);
        return -1;
    }
    list_append(&d->pool_calls, &c->le, c);
    return 0;
}

void sipd_pool_caller_ended(sipd *d, const char *conv)
{
    pool_call *c = find(d, conv);
    json_t *m;

    if (!c) {
        return;
    }
    if (c->by[0]) {
        sipd_pool_left(d, c->by, conv);   /* an application answered: it leaves there */
    }
    else {
        /* still ringing: every Front End it rang stops (Missed) */
        m = json_pack("{s:s,s:s,s:s}", "k", "canceled", "fe", d->pool_name, "conv", conv);
        queue(d, UCWA_POOL_TO_INVITED, d->pool_name, conv, m);
    }
}

int sipd_pool_tell(sipd *d, const char *conv, json_t *m, const char *sdp)
{
    pool_call *c = find(d, conv);

    if (!c || !c->by[0]) {
        json_decref(m);
        return -1;
    }
    if (sdp) {
        json_object_set_new(m, "sdpData", json_string(sdp));
    }
    return queue(d, sdp ? UCWA_POOL_SEND_SDP : UCWA_POOL_SEND, c->by, conv, m);
}

/* A simultaneous ring leg answered (ucwa_sipd_fork.c): this SIP side claims its own call,
 * so that no application's answer wins afterwards, and every Front End the call rang ends
 * its invitation ConnectedElsewhere. An application's claim that won first still reaches
 * this side as "accepted" (sipd_pool_answer_lost). */
void sipd_pool_leg_won(sipd *d, const char *conv)
{
    if (find(d, conv)) {
        queue(d, UCWA_POOL_SIP_CLAIM, d->pool_name, conv,
              json_pack("{s:s,s:s,s:s}", "k", "elsewhere", "fe", d->pool_name, "conv", conv));
    }
}

/* The unanswered call forward's time came: every Front End the call rang stops (Missed,
 * with its log and push), the caller's call goes on toward the forward target. */
void sipd_pool_stop_apps(sipd *d, const char *conv)
{
    if (find(d, conv)) {
        queue(d, UCWA_POOL_TO_INVITED, d->pool_name, conv,
              json_pack("{s:s,s:s,s:s}", "k", "canceled", "fe", d->pool_name, "conv", conv));
    }
}

void sipd_pool_answer_lost(sipd *d, const char *conv)
{
    pool_call *c = find(d, conv);

    if (c && c->by[0]) {
        /* connected there by the pool, but this side answered the caller otherwise (a leg
         * in the same instant): its application hears the remote party leave */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01000)
                     "ucwa-sipd: call %s answered on %s after a forwarding leg took it", conv,
                     c->by);
        sipd_pool_left(d, c->by, conv);
        c->by[0] = '\0';
        sipd_dlg_by(d, conv, "");
    }
}

/* Hands a message to ucwa_sipd_call.c as the outbox would have (reneg_n: the number of
 * the application's renegotiation it names, or 0). */
static void handle_n(sipd *d, ucwa_pool_op op, const char *key, const char *body,
                     const char *sdp, apr_uint32_t reneg_n)
{
    ucwa_pool_out *o;
    apr_size_t len = strlen(body);

    if (len >= UCWA_POOL_BODY_MAX || !(o = calloc(1, sizeof(*o)))) {
        return;
    }
    o->op = op;
    apr_cpystrn(o->target, d->pool_name, sizeof(o->target));
    apr_cpystrn(o->key, key ? key : "", sizeof(o->key));
    memcpy(o->body, body, len + 1);
    o->len = (apr_uint32_t)len;
    sipd_calls_handle(d, o, sdp, reneg_n);
    free(o);
}

static void handle(sipd *d, ucwa_pool_op op, const char *key, const char *body,
                   const char *sdp)
{
    handle_n(d, op, key, body, sdp, 0);
}

/* Nobody rings any more: the caller gets 480 (ucwa_sipd_call.c answers "gone" so). */
static void nobody(sipd *d, pool_call *c)
{
    char body[UCWA_POOL_FE_MAX + UCWA_CONV_ID_MAX + 40];

    apr_snprintf(body, sizeof(body), "{\"k\":\"gone\",\"fe\":\"%s\",\"conv\":\"%s\"}",
                 d->pool_name, c->conv);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00902)
                 "ucwa-sipd: call %s from SIP rings no application in the pool", c->conv);
    if (sipd_call_apps_none(d, c->conv)) {
        return;   /* the simultaneous ring or forward target rings on */
    }
    handle(d, UCWA_POOL_SEND, NULL, body, NULL);
}

char *sipd_pool_command(sipd *d, const char *body, const char *sdp)
{
    json_t *m;
    const char *k, *conv, *fe;
    pool_call *c;

    if (!d->pool_name) {
        return strdup("{\"ok\":false,\"error\":\"not a pool's Front End\"}");
    }
    m = body ? json_loads(body, 0, NULL) : NULL;
    k = m ? mob_json_str(m, "k") : NULL;
    conv = m ? mob_json_str(m, "conv") : NULL;
    fe = m ? mob_json_str(m, "fe") : NULL;
    if (!k) {
        json_decref(m);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00903)
                     "ucwa-sipd: a pool message that is not {\"k\":...} dropped");
        return strdup("{\"ok\":true}");   /* taken: a retry would not make it better */
    }
    c = conv && fe && !strcmp(fe, d->pool_name) ? find(d, conv) : NULL;
    if (!strcmp(k, "invited") && c) {
        c->invited = (int)json_integer_value(json_object_get(m, "n"));
        if (c->gone >= c->invited) {
            nobody(d, c);
        }
    }
    else if (!strcmp(k, "gone") && c) {
        if (++c->gone >= c->invited && c->invited >= 0 && !c->by[0]) {
            nobody(d, c);
        }
    }
    else if (!strcmp(k, "accepted") && c) {
        /* the pool's verdict: this answer won, its application is connected there */
        const char *by = mob_json_str(m, "by");
        apr_cpystrn(c->by, by ? by : "", sizeof(c->by));
        sipd_dlg_by(d, conv, c->by);   /* a process after this one tells it too */
        handle(d, UCWA_POOL_CLAIM_ACCEPT, conv, body, sdp);
    }
    else if (!strcmp(k, "accepted") && conv && fe && !strcmp(fe, d->pool_name)
             && mob_json_str(m, "by")) {
        /* an answer that crossed the end of the call here (the caller's CANCEL, the ring
         * timeout): its Front End connected the application, which must hear it leave */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00905)
                     "ucwa-sipd: call %s was answered on %s after it ended here", conv,
                     mob_json_str(m, "by"));
        sipd_pool_left(d, mob_json_str(m, "by"), conv);
    }
    else if (!strcmp(k, "declined") && c) {
        handle(d, UCWA_POOL_CLAIM_DECLINE, conv, body, NULL);
    }
    else if (!strcmp(k, "fe-gone") && fe) {
        /* calls answered on a Front End that died end: BYE to the SIP party */
        struct le *le = list_head(&d->pool_calls);
        sipd_dlg_fe_gone(d, fe);           /* and those taken back after a restart */
        while (le) {
            pool_call *x = le->data;
            le = le->next;
            if (!strcmp(x->by, fe)) {
                char left[UCWA_POOL_FE_MAX + UCWA_CONV_ID_MAX + 40];
                apr_snprintf(left, sizeof(left), "{\"k\":\"left\",\"fe\":\"%s\","
                             "\"conv\":\"%s\"}", d->pool_name, x->conv);
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00904)
                             "ucwa-sipd: call %s ends: Front End %s that answered it is gone",
                             x->conv, fe);
                x->by[0] = '\0';
                handle(d, UCWA_POOL_SEND, NULL, left, NULL);
            }
        }
    }
    else if (!strcmp(k, "invite")) {
        handle(d, UCWA_POOL_INVITE, conv, body, sdp);   /* an application calls out */
    }
    else if (!strcmp(k, "reneg")) {
        /* the application's renegotiation, its number named (the call's record is on the
         * application's Front End) */
        json_int_t n = json_integer_value(json_object_get(m, "n"));
        handle_n(d, UCWA_POOL_SEND, NULL, body, sdp,
                 n > 0 && n <= 0x7fffffff ? (apr_uint32_t)n : 0);
    }
    else if (strcmp(k, "presence") != 0) {
        handle(d, UCWA_POOL_SEND, NULL, body, sdp);     /* canceled, left, ... */
    }
    json_decref(m);
    return strdup("{\"ok\":true}");
}
