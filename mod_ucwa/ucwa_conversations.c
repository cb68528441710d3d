/* The HTTP side of a conversation ({A}/communication/conversations...): the collection,
 * a conversation (GET, DELETE: leaving), its participants, and the messaging modality's
 * resources and operations (messaging, messages, typing, typingParticipants,
 * stopMessaging); the application gone and the sweeper's tick. Inputs are read and
 * checked with the store unlocked, one transition of common/ucwa/ucwa_conv runs under the
 * lock, and resources are rendered from detached views after it. Calls in a conversation
 * are ucwa_calls'. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_form.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_conv.h"
#include "ucwa_input.h"
#include "ucwa_message.h"
#include "ucwa_conv_http.h"
#include "ucwa_conversation_logs.h"
#include "ucwa_conversations.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_relay.h"

APLOG_USE_MODULE(ucwa);

/* The raw body (sendMessage): 1, or 0 with the error already sent in *rv. */
static int read_text(ucwa_req *q, apr_size_t max, char **out, apr_size_t *len, int *rv)
{
    apr_status_t st = ucwa_http_read_body(q->r, max, out, len);

    if (st == APR_ENOSPC) {
        *rv = ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                              apr_psprintf(q->r->pool, "A message is at most %u bytes.",
                                           (unsigned)max));
        return 0;
    }
    if (st != APR_SUCCESS) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", NULL,
                              "The request body could not be read.");
        return 0;
    }
    return 1;
}

/* --- conversations ------------------------------------------------------------------ */

/* The application's path and the ids of the conversations it sees, rendered after. */
typedef struct {
    const char *base;
    apr_array_header_t *ids;       /* const char * */
} conversations_txn;

static int conversations_locked(ucwa_txn *t, int idx, void *baton)
{
    conversations_txn *x = baton;
    apr_uint32_t i, n = ucwa_conv_used_locked(t->store), gen = ucwa_store_app(t->store, idx)->gen;

    x->base = apr_pstrdup(t->pool, ucwa_store_app(t->store, idx)->base);
    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(t->store, (int)i);
        if (ucwa_conv_side(c, idx, gen) >= 0) {
            APR_ARRAY_PUSH(x->ids, const char *) = apr_pstrdup(t->pool, c->id);
        }
    }
    return 0;
}

int ucwa_conversations_list(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    json_t *links = json_object(), *list = json_array();
    conversations_txn x;
    int rv, i;

    mob_json_own(p, links);
    mob_json_own(p, list);
    x.ids = apr_array_make(p, 4, sizeof(const char *));
    if (ucwa_app_txn(q, conversations_locked, &x, &rv) < 0) {
        return rv;
    }
    for (i = 0; i < x.ids->nelts; i++) {
        json_array_append_new(list, json_pack("{s:s}", "href",
            apr_pstrcat(p, x.base, "/communication/conversations/",
                        APR_ARRAY_IDX(x.ids, i, const char *), NULL)));
    }
    json_object_set_new(links, "self", json_pack("{s:s}", "href",
        apr_pstrcat(p, x.base, "/communication/conversations",
                    q->r->args ? "?" : "", q->r->args ? q->r->args : "", NULL)));
    if (json_array_size(list)) {
        json_object_set(links, "conversation", list);
    }
    return ucwa_http_resource(q, HTTP_OK, mob_json_own(p, json_pack("{s:O,s:s}", "_links", links,
                                                                    "rel", "conversations")));
}

/* sendMessage: the body is read and checked before the lock. */
typedef struct {
    char *text;
    apr_size_t len;
    ucwa_msg_format fmt;
    const char *operation_id;
    const char *uri;               /* the text as a data URI, made before the lock */
} message_in;

/* 1, or 0 with the error already sent in *rv. */
static int message_input(ucwa_req *q, message_in *m, int *rv)
{
    const char *why = NULL, *ctype = apr_table_get(q->r->headers_in, "Content-Type");
    apr_table_t *query = NULL;
    ucwa_msg_status st;
    int ascii = 0;

    memset(m, 0, sizeof(*m));
    if (!read_text(q, UCWA_MESSAGE_MAX, &m->text, &m->len, rv)) {
        return 0;
    }
    st = ucwa_message_content_type(ctype, &m->fmt, &ascii, &why);
    if (st != UCWA_MSG_OK) {
        *rv = ucwa_http_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", NULL,
                              "Send the message as text/plain or text/html, in UTF-8.");
        return 0;
    }
    st = ucwa_message_check(m->text, m->len, UCWA_MESSAGE_MAX, ascii, &why);
    if (st == UCWA_MSG_TOO_LARGE) {
        *rv = ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                              "The message is too long.");
        return 0;
    }
    if (st != UCWA_MSG_OK || m->len == 0) {
        *rv = ucwa_conv_http_bad_input(q, m->len ? "The message is not valid UTF-8 text."
                                  : "The message is empty.");
        return 0;
    }
    /* the correlation id comes as a query parameter (operationId; OperationContext of the
     * Microsoft sample is accepted and not echoed) */
    if (q->r->args && mob_form_parse(q->r->pool, q->r->args, strlen(q->r->args),
                                     MOB_FORM_LENIENT, &query, &why) == APR_SUCCESS) {
        const char *op = apr_table_get(query, "operationId");
        if (op && (strlen(op) > UCWA_CONV_OPID_CHARS || !ucwa_conv_http_token_ok(op))) {
            *rv = ucwa_conv_http_bad_input(q, "operationId must be at most 50 printable ASCII characters.");
            return 0;
        }
        m->operation_id = op;
    }
    m->uri = ucwa_message_data_uri(q->r->pool, m->fmt, m->text, m->len);
    return 1;
}

/* One conversation resource: the transition under the lock, the view detached for the
 * resources rendered after it. */
typedef enum { CONV_FOUND = 0, CONV_NOT_FOUND, CONV_NO_RESOURCE, CONV_NO_HTML } conv_found;

typedef struct {
    int which, method, local;
    const char *id, *sip;
    const message_in *m;
    const char *operation_id;      /* addMessaging's */
    apr_interval_time_t timeout;   /* addMessaging: UcwaInvitationTimeout */
    ucwa_conv_result res;
    ucwa_conv_view v;              /* detached when a resource is rendered (render set) */
    int render;
    const char *location;
} conversation_txn;

static int conversation_locked(ucwa_txn *t, int idx, void *baton)
{
    conversation_txn *x = baton;
    ucwa_store *s = t->store;
    apr_pool_t *p = t->pool;
    apr_uint32_t number = 0;
    ucwa_conv_touched touched;
    ucwa_conv *c;
    int conv, side;

    if ((conv = ucwa_conv_find_seen_locked(s, x->id, idx, &side)) < 0) {
        return CONV_NOT_FOUND;
    }
    c = ucwa_store_conv(s, conv);
    ucwa_conv_view_res_locked(s, c, side, idx, &x->v);
    memset(&touched, 0, sizeof(touched));
    if (x->sip && (x->local = ucwa_conv_participant_of(&x->v, x->sip)) < 0) {
        return CONV_NO_RESOURCE;
    }
    switch (x->which) {
    case UCWA_IM_CONVERSATION:
    case UCWA_IM_TERMINATE:
        if (x->which == UCWA_IM_CONVERSATION && x->method == M_GET) {
            x->render = 1;
            break;
        }
        /* leaving the conversation ends every modality; stopMessaging ends messaging,
         * which is leaving a 1:1 conversation unless a call goes on in it */
        if (c->phase == UCWA_CONV_CONNECTED && x->which == UCWA_IM_TERMINATE) {
            x->res = ucwa_conv_stop_messaging_locked(s, conv, side, apr_time_now(), p,
                                                     &touched);
        }
        else if (c->phase == UCWA_CONV_CONNECTED) {
            x->res = ucwa_conv_leave_locked(s, conv, side, apr_time_now(), p, &touched);
        }
        else if (side == 0) {
            x->res = ucwa_conv_cancel_locked(s, conv, apr_time_now(), p, &touched);
        }
        else {
            /* ignoring declines */
            x->res = ucwa_conv_decline_by_locked(s, conv, idx, apr_time_now(), p, &touched);
        }
        break;
    case UCWA_IM_MESSAGES:
        if (c->phase == UCWA_CONV_CONNECTED && x->m->fmt == UCWA_MSG_HTML
            && !(c->party[0].html && c->party[1].html)) {
            return CONV_NO_HTML;
        }
        x->res = ucwa_conv_message_locked(s, conv, side, x->m->fmt, x->m->text, x->m->len,
                                          x->m->uri, x->m->operation_id, apr_time_now(), p,
                                          &number, &touched);
        if (x->res == UCWA_CONV_OK) {
            x->location = apr_psprintf(p, "%s/communication/conversations/%s/messaging/"
                                       "messages/%u", ucwa_store_app(s, idx)->base, c->id,
                                       number);
        }
        break;
    case UCWA_IM_TYPING:
        x->res = ucwa_conv_typing_locked(s, conv, side, apr_time_now(), p, &touched);
        break;
    case UCWA_IM_ADD_MESSAGING: {
        /* messaging added to a call's conversation: the other party gets an invitation */
        apr_time_t now = apr_time_now();
        x->res = ucwa_conv_add_messaging_locked(s, conv, side, x->operation_id,
                                                now + x->timeout, now, p, &touched);
        if (x->res == UCWA_CONV_OK) {
            x->location = apr_pstrcat(p, ucwa_store_app(s, idx)->base,
                                      "/communication/messagingInvitations/",
                                      c->msg_invitation[side], NULL);
        }
        break;
    }
    case UCWA_IM_PARTICIPANT_MESSAGING:
        if (c->phase != UCWA_CONV_CONNECTED) {
            return CONV_NO_RESOURCE;
        }
        x->render = 1;
        break;
    default:
        x->render = 1;   /* messaging, typingParticipants, participants, a participant */
    }
    if (x->render) {
        ucwa_conv_http_detach(p, &x->v);
    }
    ucwa_conv_http_wake(t, &touched);
    return CONV_FOUND;
}

/* The resource of a view, rendered with the lock released. */
static json_t *conversation_resource(apr_pool_t *p, const conversation_txn *x)
{
    switch (x->which) {
    case UCWA_IM_CONVERSATION:
        return ucwa_conv_res_conversation(p, &x->v);
    case UCWA_IM_MESSAGING:
        return ucwa_conv_res_messaging(p, &x->v);
    case UCWA_IM_TYPING_PARTICIPANTS:
        return ucwa_conv_res_typing(p, &x->v, apr_time_now());
    case UCWA_IM_PARTICIPANTS:
        return ucwa_conv_res_participants(p, &x->v);
    case UCWA_IM_PARTICIPANT:
        return ucwa_conv_res_participant(p, &x->v, x->local);
    default:
        return ucwa_conv_res_participant_messaging(p, &x->v, x->local);
    }
}

int ucwa_conversations_one(ucwa_req *q, int which)
{
    const char *id = q->id[0];
    apr_pool_t *p = q->r->pool;
    int method = q->r->method_number, rv, found;
    /* participants/{sip} */
    const char *sip = which == UCWA_IM_PARTICIPANT || which == UCWA_IM_PARTICIPANT_MESSAGING
                      ? q->id[1] : NULL;
    conversation_txn x;
    message_in m;

    memset(&x, 0, sizeof(x));
    x.which = which;
    /* the bodies are read before the lock */
    if (which == UCWA_IM_MESSAGES) {
        if (!message_input(q, &m, &rv)) {
            return rv;
        }
        x.m = &m;
    }
    if ((which == UCWA_IM_TYPING || which == UCWA_IM_TERMINATE) && !ucwa_http_input(q, &rv)) {
        return rv;
    }
    if (which == UCWA_IM_ADD_MESSAGING) {
        /* {operationId} (optional) */
        json_t *in = ucwa_http_input(q, &rv);
        int bad = 0;
        if (!in) {
            return rv;
        }
        x.operation_id = ucwa_input_string(in, "operationId", UCWA_CONV_OPID_CHARS, &bad);
        if (bad || (x.operation_id && !ucwa_conv_http_token_ok(x.operation_id))) {
            return ucwa_conv_http_bad_input(q, "operationId must be at most 50 printable ASCII "
                                            "characters.");
        }
        x.timeout = q->conf->global->invitation_timeout;
    }
    x.method = method;
    x.id = id;
    x.sip = sip;
    x.local = 1;
    x.res = UCWA_CONV_OK;
    if ((found = ucwa_app_txn(q, conversation_locked, &x, &rv)) < 0) {
        return rv;
    }
    switch ((conv_found)found) {
    case CONV_NOT_FOUND:
        return ucwa_conv_http_no_conversation(q);
    case CONV_NO_RESOURCE:
        return ucwa_conv_http_not_found(q);
    case CONV_NO_HTML:
        return ucwa_http_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", NULL,
                               "Html was not negotiated in this conversation: send "
                               "text/plain.");
    case CONV_FOUND:
        break;
    }
    if (x.render) {
        return ucwa_http_resource(q, HTTP_OK, conversation_resource(p, &x));
    }
    if (x.which == UCWA_IM_CONVERSATION || x.which == UCWA_IM_TERMINATE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00143)
                      "%s left conversation %s", q->user, id);
        ucwa_conversation_logs_collect(q->r->server, p);   /* canceled: a Missed one */
    }
    if (x.which == UCWA_IM_ADD_MESSAGING && x.res == UCWA_CONV_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00620)
                      "%s added messaging to call conversation %s", q->user, id);
    }
    if (x.which == UCWA_IM_ADD_MESSAGING && x.res == UCWA_CONV_STATE) {
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "Messaging can be added to a connected call's conversation "
                               "only, once at a time, when the other party takes messaging.");
    }
    switch (x.res) {
    case UCWA_CONV_OK:
    case UCWA_CONV_PENDING:
        return x.location ? ucwa_conv_http_created(q, x.location) : ucwa_http_no_content(q);
    case UCWA_CONV_BUSY:
        return ucwa_pool_busy(q);
    case UCWA_CONV_TOO_LARGE:
        return ucwa_conv_http_too_large(q);
    default:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "Messaging is not connected in this conversation.");
    }
}

void ucwa_conversations_app_gone_locked(ucwa_txn *t, int app, apr_time_t now)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(t->store);
    ucwa_conv_touched touched;

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(t->store, (int)i);
        if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED) {
            continue;
        }
        memset(&touched, 0, sizeof(touched));
        ucwa_conv_app_gone_locked(t->store, (int)i, app, now, t->pool, &touched);
        ucwa_conv_http_wake(t, &touched);
    }
}

void ucwa_conversations_sweep_locked(ucwa_txn *t, apr_time_t now, apr_interval_time_t suspend_after)
{
    apr_uint32_t i, n = ucwa_conv_used_locked(t->store);
    ucwa_conv_touched touched;

    for (i = 0; i < n; i++) {
        if (ucwa_store_conv(t->store, (int)i)->state != UCWA_SLOT_LIVE) {
            continue;
        }
        memset(&touched, 0, sizeof(touched));
        ucwa_conv_tick_locked(t->store, (int)i, now, t->pool, &touched);
        ucwa_conv_av_watch_locked(t->store, (int)i, suspend_after, now, t->pool, &touched);
        ucwa_conv_http_wake(t, &touched);
    }
}
