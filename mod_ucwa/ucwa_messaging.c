/* The HTTP side of starting 1:1 instant messaging: startMessaging (POST
 * messagingInvitations) with its first message, and an incoming or outgoing
 * messagingInvitation with accept and decline; the input read and checked with the store
 * unlocked, one transition of common/ucwa/ucwa_conv under the lock, the wake-up after it.
 * What follows in a conversation is ucwa_conversations'. */
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
#include "ucwa_conversation_logs.h"
#include "ucwa_input.h"
#include "ucwa_message.h"
#include "ucwa_conv_http.h"
#include "ucwa_messaging.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_relay.h"

APLOG_USE_MODULE(ucwa);

/* --- startMessaging ------------------------------------------------------------------ */

int ucwa_messaging_start(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    const ucwa_global *g = q->conf->global;
    ucwa_conv_invite_in in;
    const char *to, *importance = NULL, *first = NULL;
    json_t *body, *links, *msg;
    ucwa_conv_http_invited x;
    int rv, bad = 0;

    body = ucwa_http_input(q, &rv);
    if (!body) {
        return rv;
    }
    memset(&in, 0, sizeof(in));
    to = ucwa_input_string(body, "to", UCWA_CONV_HTTP_SIP_INPUT_MAX, &bad);
    in.subject = ucwa_input_string(body, "subject", UCWA_CONV_SUBJECT_CHARS, &bad);
    importance = ucwa_input_string(body, "importance", 16, &bad);
    in.operation_id = ucwa_input_string(body, "operationId", UCWA_CONV_OPID_CHARS, &bad);
    in.thread_id = ucwa_input_string(body, "threadId", UCWA_CONV_THREAD_MAX - 1, &bad);
    /* the first message: a link (ExternalResource), or, leniently, a plain property */
    links = ucwa_input_get(body, "_links");
    msg = links ? ucwa_input_get(links, "message") : NULL;
    if (msg && json_is_object(msg)) {
        first = ucwa_input_string(msg, "href", 4 * UCWA_MESSAGE_MAX, &bad);
    }
    else if (msg || (links && !json_is_object(links))) {
        bad = 1;
    }
    if (!first) {
        first = ucwa_input_string(body, "message", 4 * UCWA_MESSAGE_MAX, &bad);
    }
    if (bad) {
        return ucwa_conv_http_bad_input(q, "to, subject, importance, operationId, threadId and the message "
                            "link must be strings of the documented lengths.");
    }
    if (!to) {
        return ucwa_conv_http_bad_input(q, "to is required.");
    }
    if ((in.to = ucwa_conv_http_sip(p, to)) == NULL) {
        return ucwa_conv_http_bad_input(q, "to must be a SIP address such as sip:user@example.com.");
    }
    if (!strcmp(in.to, q->user)) {
        return ucwa_conv_http_bad_input(q, "You cannot start a conversation with yourself.");
    }
    if (in.subject && ucwa_conv_http_has_control(in.subject)) {
        return ucwa_conv_http_bad_input(q, "subject must not hold control characters.");
    }
    if (importance && (in.importance = ucwa_conv_http_importance(importance)) == NULL) {
        return ucwa_conv_http_bad_input(q, "importance must be Normal, Urgent or Emergency.");
    }
    if ((in.operation_id && !ucwa_conv_http_token_ok(in.operation_id))
        || (in.thread_id && !ucwa_conv_http_token_ok(in.thread_id))) {
        return ucwa_conv_http_bad_input(q, "operationId and threadId must be printable ASCII without blanks.");
    }
    if (first) {
        char *text = NULL;
        apr_size_t len = 0;
        const char *why = NULL;
        ucwa_msg_status st = ucwa_message_parse_data_uri(p, first, UCWA_MESSAGE_MAX,
                                                         &in.first_format, &text, &len, &why);
        if (st == UCWA_MSG_TOO_LARGE) {
            return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                                   "The first message is too long.");
        }
        if (st != UCWA_MSG_OK) {
            return ucwa_conv_http_bad_input(q, apr_pstrcat(p, "The message link must be a data URI of "
                                            "text/plain or text/html in UTF-8: ", why, ".",
                                            NULL));
        }
        in.first = len ? ucwa_message_data_uri(p, in.first_format, text, len) : NULL;
    }

    if (ucwa_pool_name(q->r->server)) {
        /* the invitee's endpoints on the pool's other Front Ends are alerted too */
        apr_array_header_t *fes;
        if (ucwa_pool_invitee_fes(q->r, in.to, &fes) != 0) {
            return ucwa_pool_unavailable(q);
        }
        in.remote_fes = (const char *const *)fes->elts;
        in.nremote = fes->nelts;
    }
    if (ucwa_conv_http_invite(q, &in, g->invitation_timeout, "messagingInvitations", &x,
                              &rv) < 0) {
        return rv;
    }
    switch (x.res) {
    case UCWA_CONV_BUSY:
        return ucwa_pool_busy(q);
    case UCWA_CONV_OK:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00140)
                      "%s invited %s to conversation %s (%u endpoints alerted here, %d other "
                      "Front Ends)", q->user, in.to, x.id, x.endpoints, in.nremote);
        return ucwa_conv_http_created(q, x.location);
    case UCWA_CONV_TOO_MANY:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyConversations",
                               "This application has too many conversations.");
    case UCWA_CONV_TOO_LARGE:
        return ucwa_conv_http_too_large(q);
    default:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(00141)
                      "the conversation table is full (%u conversations: twice "
                      "UcwaMaxApplications)", x.max_convs);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "30");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server cannot take more conversations now.");
    }
}

/* --- invitations ------------------------------------------------------------------- */

typedef struct {
    const char *id, *action;       /* action: NULL (GET), "accept" or "decline" */
    ucwa_conv_result res;
    ucwa_conv_view v;              /* GET: detached from the store */
    const char *conv_id;
} invitation_txn;

static int invitation_locked(ucwa_txn *t, int idx, void *baton)
{
    invitation_txn *x = baton;
    apr_uint32_t gen = ucwa_store_app(t->store, idx)->gen;
    ucwa_conv_touched touched;
    ucwa_conv *c;
    int conv, side = -1, added = 0;

    conv = ucwa_conv_find_invitation_locked(t->store, x->id, &side);
    c = conv >= 0 ? ucwa_store_conv(t->store, conv) : NULL;
    if (c && c->kind != UCWA_CONV_KIND_MESSAGING) {
        c = NULL;
    }
    if (!c) {
        /* messaging added to a call's conversation: the parties see their own (the other
         * party, not its adder, accepts or declines) */
        conv = ucwa_conv_find_msg_invitation_locked(t->store, x->id, &side);
        c = conv >= 0 ? ucwa_store_conv(t->store, conv) : NULL;
        if (!c || ucwa_conv_side(c, idx, gen) != side
            || (x->action && side == (int)c->msg_side)) {
            return 1;
        }
        added = 1;
    }
    else if (!ucwa_conv_sees_invitation(c, side, idx, gen) || (x->action && side != 1)) {
        return 1;
    }
    memset(&touched, 0, sizeof(touched));
    x->conv_id = apr_pstrdup(t->pool, c->id);
    if (!x->action) {
        ucwa_conv_view_res_locked(t->store, c, side, idx, &x->v);
        x->v.added_msg = added;
        ucwa_conv_http_detach(t->pool, &x->v);
    }
    else if (!strcasecmp(x->action, "accept")) {
        x->res = ucwa_conv_accept_locked(t->store, conv, idx, apr_time_now(), t->pool, &touched);
    }
    else {
        x->res = ucwa_conv_decline_by_locked(t->store, conv, idx, apr_time_now(), t->pool,
                                             &touched);
    }
    ucwa_conv_http_wake(t, &touched);
    return 0;
}

int ucwa_messaging_invitation(ucwa_req *q, int what)
{
    const char *id = q->id[0];
    const char *action = what == UCWA_IM_ACCEPT ? "accept"
                         : what == UCWA_IM_DECLINE ? "decline" : NULL;
    int rv, found;
    invitation_txn x;

    if (action) {
        /* accept and decline take no input (decline's reason is only informative) */
        json_t *in = ucwa_http_input(q, &rv);
        if (!in) {
            return rv;
        }
    }
    memset(&x, 0, sizeof(x));
    x.id = id;
    x.action = action;
    x.res = UCWA_CONV_OK;
    if ((found = ucwa_app_txn(q, invitation_locked, &x, &rv)) < 0) {
        return rv;
    }
    if (found) {
        return ucwa_conv_http_not_found(q);
    }
    if (!action) {
        return ucwa_http_resource(q, HTTP_OK, ucwa_conv_res_invitation(q->r->pool, &x.v));
    }
    switch (x.res) {
    case UCWA_CONV_BUSY:
        return ucwa_pool_busy(q);
    case UCWA_CONV_PENDING:        /* the pool decides: the events tell */
    case UCWA_CONV_OK:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00142)
                      "%s %sed the invitation to conversation %s", q->user, action, x.conv_id);
        ucwa_conversation_logs_collect(q->r->server, q->r->pool);   /* accepted: Archived */
        return ucwa_http_no_content(q);
    case UCWA_CONV_TOO_MANY:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyConversations",
                               "This application has too many conversations.");
    default:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "The invitation is no longer open.");
    }
}
