/* What the HTTP side of conversations shares (ucwa_conv_http.h): IM and calls. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_conv_http.h"
#include "ucwa_pool_db.h"

APLOG_USE_MODULE(ucwa);

/* The applications a transition posted events to (what it returns), woken by the
 * transaction once the lock is released. */
void ucwa_conv_http_wake(ucwa_txn *t, const ucwa_conv_touched *touched)
{
    int i;

    for (i = 0; i < touched->n; i++) {
        ucwa_txn_wake_app(t, touched->app[i]);
    }
    if (*ucwa_store_word(t->store, UCWA_WORD_PUSH_ENABLED)) {
        /* a transition may have queued a push: the dispatcher waits on this word */
        ucwa_txn_wake_word(t, ucwa_store_word(t->store, UCWA_WORD_PUSH_QUEUED));
    }
}

/* Detaches a view from the store (its record and the application's path are copied
 * into p), so the resource is rendered once the lock is released. */
void ucwa_conv_http_detach(apr_pool_t *p, ucwa_conv_view *v)
{
    v->c = apr_pmemdup(p, v->c, sizeof(*v->c));
    v->base = apr_pstrdup(p, v->base);
}

/* 201 with an empty body and the operation's Location, as real servers answer. */
int ucwa_conv_http_created(ucwa_req *q, const char *location)
{
    request_rec *r = q->r;

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->err_headers_out, "X-MS-Server-Fqdn", q->conf->server_fqdn);
    apr_table_setn(r->headers_out, "Location", location);
    r->status = HTTP_CREATED;
    ap_set_content_length(r, 0);
    return OK;
}

int ucwa_conv_http_no_conversation(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ConversationNotFound",
                           "The conversation does not exist.");
}

int ucwa_conv_http_too_large(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                           "The message does not fit in an event (UcwaEventSize).");
}

int ucwa_conv_http_not_found(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                           "There is no such resource.");
}

/* A SIP address as clients give it ("sip:bob@contoso.com" or "bob@contoso.com"): lower
 * case without "sip:", or NULL when it cannot be one. */
const char *ucwa_conv_http_sip(apr_pool_t *p, const char *v)
{
    char *out, *o;
    const char *at;

    if (!strncasecmp(v, "sip:", 4)) {
        v += 4;
    }
    at = strchr(v, '@');
    if (!at || at == v || !at[1] || strchr(at + 1, '@') || strlen(v) >= UCWA_SIP_MAX) {
        return NULL;
    }
    out = apr_pstrdup(p, v);
    for (o = out; *o; o++) {
        unsigned char c = (unsigned char)*o;
        if (c <= 0x20 || c >= 0x7f || strchr("/\\?#%\"<>;,:[]{}|^`'", c)) {
            return NULL;
        }
        *o = (char)apr_tolower(c);
    }
    return out;
}

/* Printable ASCII without blanks (operationId, threadId). */
int ucwa_conv_http_token_ok(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

int ucwa_conv_http_has_control(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v < 0x20 || *v == 0x7f) {
            return 1;
        }
    }
    return 0;
}

const char *ucwa_conv_http_importance(const char *v)
{
    static const char *const names[] = { "Normal", "Urgent", "Emergency" };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcasecmp(v, names[i])) {
            return names[i];
        }
    }
    return NULL;
}

int ucwa_conv_http_bad_input(ucwa_req *q, const char *message)
{
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           message);
}


typedef struct {
    ucwa_conv_invite_in *in;
    apr_interval_time_t timeout;
    const char *collection;
    ucwa_conv_http_invited *out;
} invite_txn;

static int invite_locked(ucwa_txn *t, int idx, void *baton)
{
    invite_txn *x = baton;
    ucwa_conv_touched touched;
    apr_time_t now = apr_time_now();
    int conv = -1;

    /* a lurker may start a conversation (Lync allowed it): only being alerted needs
     * makeMeAvailable; the answers come on this application's own event channel */
    x->in->app = idx;
    x->in->expires = now + x->timeout;
    memset(&touched, 0, sizeof(touched));
    x->out->res = ucwa_conv_invite_locked(t->store, x->in, now, t->pool, &conv, &touched);
    if (x->out->res == UCWA_CONV_OK) {
        ucwa_conv *c = ucwa_store_conv(t->store, conv);
        x->out->location = apr_pstrcat(t->pool, ucwa_store_app(t->store, idx)->base,
                                       "/communication/", x->collection, "/",
                                       c->party[0].invitation, NULL);
        x->out->id = apr_pstrdup(t->pool, c->id);
        x->out->endpoints = c->endpoints;
    }
    x->out->max_convs = ucwa_store_get_limits(t->store)->max_convs;
    x->out->max_calls = ucwa_store_get_limits(t->store)->max_calls;
    ucwa_conv_http_wake(t, &touched);
    return 0;
}

int ucwa_conv_http_invite(ucwa_req *q, ucwa_conv_invite_in *in, apr_interval_time_t timeout,
                          const char *collection, ucwa_conv_http_invited *out, int *rv)
{
    invite_txn x;

    memset(out, 0, sizeof(*out));
    x.in = in;
    x.timeout = timeout;
    x.collection = collection;
    x.out = out;
    return ucwa_app_txn(q, invite_locked, &x, rv);
}

int ucwa_conv_http_not_invited(ucwa_req *q, const ucwa_conv_http_invited *x)
{
    switch (x->res) {
    case UCWA_CONV_BUSY:
        return ucwa_pool_busy(q);
    case UCWA_CONV_TOO_MANY:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyConversations",
                               "This application has too many conversations.");
    case UCWA_CONV_NO_CALL:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(00563)
                      "every call record is in use (UcwaMaxCalls %u)", x->max_calls);
        /* fall through */
    default:
        apr_table_setn(q->r->err_headers_out, "Retry-After", "30");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server cannot take more calls now.");
    }
}
