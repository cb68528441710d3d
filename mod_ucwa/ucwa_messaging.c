/* The HTTP side of 1:1 instant messaging: routing of {A}/communication/..., reading and
 * checking inputs (with the store unlocked), then one transition of common/ucwa/ucwa_conv
 * under the lock, and the wake-up of every application it posted events to. */
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
#include "ucwa_messaging.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define SIP_INPUT_MAX 300   /* characters of a "to" value */

/* --- helpers ------------------------------------------------------------------------ */

static void wake(ucwa_store *s, const ucwa_conv_touched *t)
{
    int i;

    for (i = 0; i < t->n; i++) {
        ucwa_shm_wake(ucwa_store_app(s, t->app[i]));
    }
    if (*ucwa_store_word(s, UCWA_WORD_PUSH_ENABLED)) {
        /* a transition may have queued a push: the dispatcher waits on this word */
        ucwa_shm_wake_word(ucwa_store_word(s, UCWA_WORD_PUSH_QUEUED));
    }
}

/* 201 with an empty body and the operation's Location, as real servers answer. */
static int created(ucwa_req *q, const char *location)
{
    request_rec *r = q->r;

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-cache");
    apr_table_setn(r->err_headers_out, "X-MS-Server-Fqdn", q->conf->server_fqdn);
    apr_table_setn(r->headers_out, "Location", location);
    r->status = HTTP_CREATED;
    ap_set_content_length(r, 0);
    return OK;
}

static int not_found_conv(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ConversationNotFound",
                           "The conversation does not exist.");
}

static int not_found(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                           "There is no such resource.");
}

/* A SIP address as clients give it ("sip:bob@contoso.com" or "bob@contoso.com"): lower
 * case without "sip:", or NULL when it cannot be one. */
static const char *sip_address(apr_pool_t *p, const char *v)
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
static int token_ok(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int has_control(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v < 0x20 || *v == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static const char *importance_of(const char *v)
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

static int bad_input(ucwa_req *q, const char *message)
{
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           message);
}

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

static int too_large_event(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                           "The message does not fit in an event (UcwaEventSize).");
}

/* --- startMessaging ------------------------------------------------------------------ */

int ucwa_messaging_start(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    const ucwa_global *g = q->conf->global;
    ucwa_conv_invite_in in;
    ucwa_conv_touched t;
    ucwa_conv_result res;
    const char *to, *importance = NULL, *first = NULL, *location = NULL;
    json_t *body, *links, *msg;
    ucwa_store *s;
    ucwa_app *a;
    apr_time_t now;
    int rv, bad = 0, idx, conv = -1;

    body = ucwa_http_input(q, &rv);
    if (!body) {
        return rv;
    }
    memset(&in, 0, sizeof(in));
    to = ucwa_input_string(body, "to", SIP_INPUT_MAX, &bad);
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
        return bad_input(q, "to, subject, importance, operationId, threadId and the message "
                            "link must be strings of the documented lengths.");
    }
    if (!to) {
        return bad_input(q, "to is required.");
    }
    if ((in.to = sip_address(p, to)) == NULL) {
        return bad_input(q, "to must be a SIP address such as sip:user@example.com.");
    }
    if (!strcmp(in.to, q->user)) {
        return bad_input(q, "You cannot start a conversation with yourself.");
    }
    if (in.subject && has_control(in.subject)) {
        return bad_input(q, "subject must not hold control characters.");
    }
    if (importance && (in.importance = importance_of(importance)) == NULL) {
        return bad_input(q, "importance must be Normal, Urgent or Emergency.");
    }
    if ((in.operation_id && !token_ok(in.operation_id))
        || (in.thread_id && !token_ok(in.thread_id))) {
        return bad_input(q, "operationId and threadId must be printable ASCII without blanks.");
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
            return bad_input(q, apr_pstrcat(p, "The message link must be a data URI of "
                                            "text/plain or text/html in UTF-8: ", why, ".",
                                            NULL));
        }
        in.first = len ? ucwa_message_data_uri(p, in.first_format, text, len) : NULL;
    }

    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    /* a lurker may start a conversation (Lync allowed it): only being alerted needs
     * makeMeAvailable; the answers come on this application's own event channel */
    a = ucwa_store_app(s, idx);
    now = apr_time_now();
    in.app = idx;
    in.expires = now + g->invitation_timeout;
    memset(&t, 0, sizeof(t));
    res = ucwa_conv_invite(s, &in, now, p, &conv, &t);
    if (res == UCWA_CONV_OK) {
        ucwa_conv *c = ucwa_store_conv(s, conv);
        location = apr_pstrcat(p, a->base, "/communication/messagingInvitations/",
                               c->party[0].invitation, NULL);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00140)
                      "%s invited %s to conversation %s (%u endpoints alerted)", q->user,
                      in.to, c->id, c->endpoints);
    }
    ucwa_shm_unlock();
    wake(s, &t);
    switch (res) {
    case UCWA_CONV_OK:
        return created(q, location);
    case UCWA_CONV_TOO_MANY:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyConversations",
                               "This application has too many conversations.");
    case UCWA_CONV_TOO_LARGE:
        return too_large_event(q);
    default:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(00141)
                      "the conversation table is full (%u conversations: twice "
                      "UcwaMaxApplications)", ucwa_store_get_limits(s)->max_convs);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "30");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server cannot take more conversations now.");
    }
}

/* --- invitations ------------------------------------------------------------------- */

int ucwa_messaging_invitation(ucwa_req *q, int what)
{
    const char *id = q->id[0];
    const char *action = what == UCWA_IM_ACCEPT ? "accept"
                         : what == UCWA_IM_DECLINE ? "decline" : NULL;
    int rv, idx, conv, side = -1;
    ucwa_conv_touched t;
    ucwa_conv_result res = UCWA_CONV_OK;
    ucwa_conv_view v;
    ucwa_store *s;
    ucwa_conv *c;
    json_t *res_json = NULL;
    apr_uint32_t gen;

    if (action) {
        /* accept and decline take no input (decline's reason is only informative) */
        json_t *in = ucwa_http_input(q, &rv);
        if (!in) {
            return rv;
        }
    }
    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    gen = ucwa_store_app(s, idx)->gen;
    conv = ucwa_conv_find_invitation(s, id, &side);
    c = conv >= 0 ? ucwa_store_conv(s, conv) : NULL;
    if (!c || !ucwa_conv_sees_invitation(c, side, idx, gen) || (action && side != 1)) {
        ucwa_shm_unlock();
        return not_found(q);
    }
    memset(&t, 0, sizeof(t));
    if (!action) {
        ucwa_conv_view_of(s, c, side, idx, &v);
        res_json = ucwa_conv_res_invitation(q->r->pool, &v);
    }
    else if (!strcasecmp(action, "accept")) {
        res = ucwa_conv_accept(s, conv, idx, apr_time_now(), q->r->pool, &t);
    }
    else {
        res = ucwa_conv_decline(s, conv, apr_time_now(), q->r->pool, &t);
    }
    if (action && res == UCWA_CONV_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00142)
                      "%s %sed the invitation to conversation %s", q->user, action, c->id);
    }
    ucwa_shm_unlock();
    wake(s, &t);
    if (!action) {
        return ucwa_http_resource(q, HTTP_OK, res_json);
    }
    switch (res) {
    case UCWA_CONV_OK:
        return ucwa_http_no_content(q);
    case UCWA_CONV_TOO_MANY:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyConversations",
                               "This application has too many conversations.");
    default:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "The invitation is no longer open.");
    }
}

/* --- conversations ------------------------------------------------------------------ */

int ucwa_messaging_conversations(ucwa_req *q, int what)
{
    apr_pool_t *p = q->r->pool;
    json_t *links = json_object(), *list = json_array();
    ucwa_store *s;
    apr_uint32_t i, n, gen;
    const char *base;
    int idx, rv;

    mob_json_own(p, links);
    mob_json_own(p, list);
    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    gen = ucwa_store_app(s, idx)->gen;
    base = apr_pstrdup(p, ucwa_store_app(s, idx)->base);
    n = ucwa_conv_used(s);
    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (ucwa_conv_side(c, idx, gen) >= 0) {
            json_array_append_new(list, json_pack("{s:s}", "href",
                apr_pstrcat(p, base, "/communication/conversations/", c->id, NULL)));
        }
    }
    ucwa_shm_unlock();
    json_object_set_new(links, "self", json_pack("{s:s}", "href",
        apr_pstrcat(p, base, "/communication/conversations",
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
        *rv = bad_input(q, m->len ? "The message is not valid UTF-8 text."
                                  : "The message is empty.");
        return 0;
    }
    /* the correlation id comes as a query parameter (operationId; OperationContext of the
     * Microsoft sample is accepted and not echoed) */
    if (q->r->args && mob_form_parse(q->r->pool, q->r->args, strlen(q->r->args),
                                     MOB_FORM_LENIENT, &query, &why) == APR_SUCCESS) {
        const char *op = apr_table_get(query, "operationId");
        if (op && (strlen(op) > UCWA_CONV_OPID_CHARS || !token_ok(op))) {
            *rv = bad_input(q, "operationId must be at most 50 printable ASCII characters.");
            return 0;
        }
        m->operation_id = op;
    }
    return 1;
}

int ucwa_messaging_conversation(ucwa_req *q, int which)
{
    const char *id = q->id[0];
    apr_pool_t *p = q->r->pool;
    int method = q->r->method_number, rv, idx, conv, side, local = 1;
    /* participants/{sip} */
    const char *sip = which == UCWA_IM_PARTICIPANT || which == UCWA_IM_PARTICIPANT_MESSAGING
                      ? q->id[1] : NULL;
    ucwa_conv_touched t;
    ucwa_conv_result res = UCWA_CONV_OK;
    ucwa_conv_view v;
    message_in m;
    ucwa_store *s;
    ucwa_conv *c;
    json_t *out = NULL;
    apr_uint32_t gen, number = 0;
    const char *location = NULL;

    /* the bodies are read before the lock */
    if (which == UCWA_IM_MESSAGES && !message_input(q, &m, &rv)) {
        return rv;
    }
    if ((which == UCWA_IM_TYPING || which == UCWA_IM_TERMINATE) && !ucwa_http_input(q, &rv)) {
        return rv;
    }
    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    gen = ucwa_store_app(s, idx)->gen;
    conv = ucwa_conv_find(s, id);
    c = conv >= 0 ? ucwa_store_conv(s, conv) : NULL;
    side = c ? ucwa_conv_side(c, idx, gen) : -1;
    if (side < 0) {
        ucwa_shm_unlock();
        return not_found_conv(q);
    }
    ucwa_conv_view_of(s, c, side, idx, &v);
    memset(&t, 0, sizeof(t));
    if (sip && (local = ucwa_conv_participant_of(&v, sip)) < 0) {
        ucwa_shm_unlock();
        return not_found(q);
    }
    switch (which) {
    case UCWA_IM_CONVERSATION:
    case UCWA_IM_TERMINATE:
        if (which == UCWA_IM_CONVERSATION && method == M_GET) {
            out = ucwa_conv_res_conversation(p, &v);
            break;
        }
        /* leaving a 1:1 conversation is stopping its only modality */
        if (c->phase == UCWA_CONV_CONNECTED) {
            res = ucwa_conv_leave(s, conv, side, apr_time_now(), p, &t);
        }
        else if (side == 0) {
            res = ucwa_conv_cancel(s, conv, apr_time_now(), p, &t);
        }
        else {
            res = ucwa_conv_decline(s, conv, apr_time_now(), p, &t);   /* ignoring declines */
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00143)
                      "%s left conversation %s", q->user, id);
        break;
    case UCWA_IM_MESSAGING:
        out = ucwa_conv_res_messaging(p, &v);
        break;
    case UCWA_IM_MESSAGES:
        if (c->phase == UCWA_CONV_CONNECTED && m.fmt == UCWA_MSG_HTML
            && !(c->party[0].html && c->party[1].html)) {
            ucwa_shm_unlock();
            return ucwa_http_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", NULL,
                                   "Html was not negotiated in this conversation: send "
                                   "text/plain.");
        }
        res = ucwa_conv_message(s, conv, side, m.fmt, m.text, m.len, m.operation_id,
                                apr_time_now(), p, &number, &t);
        if (res == UCWA_CONV_OK) {
            location = apr_psprintf(p, "%s/communication/conversations/%s/messaging/messages/%u",
                                    ucwa_store_app(s, idx)->base, c->id, number);
        }
        break;
    case UCWA_IM_TYPING:
        res = ucwa_conv_typing(s, conv, side, apr_time_now(), p, &t);
        break;
    case UCWA_IM_TYPING_PARTICIPANTS:
        out = ucwa_conv_res_typing(p, &v, apr_time_now());
        break;
    case UCWA_IM_PARTICIPANTS:
        out = ucwa_conv_res_participants(p, &v);
        break;
    case UCWA_IM_PARTICIPANT:
        out = ucwa_conv_res_participant(p, &v, local);
        break;
    case UCWA_IM_PARTICIPANT_MESSAGING:
        if (c->phase != UCWA_CONV_CONNECTED) {
            ucwa_shm_unlock();
            return not_found(q);
        }
        out = ucwa_conv_res_participant_messaging(p, &v, local);
        break;
    }
    ucwa_shm_unlock();
    wake(s, &t);
    if (out) {
        return ucwa_http_resource(q, HTTP_OK, out);
    }
    switch (res) {
    case UCWA_CONV_OK:
        return location ? created(q, location) : ucwa_http_no_content(q);
    case UCWA_CONV_TOO_LARGE:
        return too_large_event(q);
    default:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", NULL,
                               "Messaging is not connected in this conversation.");
    }
}

void ucwa_messaging_app_gone(ucwa_store *s, int app, apr_time_t now, apr_pool_t *p)
{
    apr_uint32_t i, n = ucwa_conv_used(s);
    ucwa_conv_touched t;

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(s, (int)i);
        if (c->state != UCWA_SLOT_LIVE || c->phase == UCWA_CONV_ENDED) {
            continue;
        }
        memset(&t, 0, sizeof(t));
        ucwa_conv_app_gone(s, (int)i, app, now, p, &t);
        wake(s, &t);
    }
}

void ucwa_messaging_sweep(ucwa_store *s, apr_time_t now, apr_pool_t *p)
{
    apr_uint32_t i, n = ucwa_conv_used(s);
    ucwa_conv_touched t;

    for (i = 0; i < n; i++) {
        if (ucwa_store_conv(s, (int)i)->state != UCWA_SLOT_LIVE) {
            continue;
        }
        memset(&t, 0, sizeof(t));
        ucwa_conv_tick(s, (int)i, now, p, &t);
        wake(s, &t);
    }
}
