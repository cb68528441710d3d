/* Sessions, presence, contacts and conversations. Each operation is the UCWA requests
 * a UCWA client would make for it; their errors become MCX faults (mcx_fault_ucwa). */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mcx_events.h"
#include "ucwa_message.h"
#include "mcx_ops.h"
#include "mob_json.h"
#include "mod_ucwa_core.h"

APLOG_USE_MODULE(mcx);

#define FAULT_500 HTTP_INTERNAL_SERVER_ERROR

static const char *ack_in(const char *href)
{
    const char *a = href ? strstr(href, "ack=") : NULL;

    return a ? a + 4 : "1";
}

/* --- sessions ---------------------------------------------------------------------- */

static int op_sign_in(mcx_req *m)
{
    apr_pool_t *p = m->r->pool;
    const char *kind = mcx_field(&m->in, "SessionKind"), *device, *ua, *culture;
    apr_uint32_t life;
    apr_table_t *notes = apr_table_make(p, 1);
    const json_t *me;
    json_t *body;
    mcx_res res, avail;
    mcx_out *o;
    int rv = OK;

    if (!kind || !*kind) {
        kind = "AlwaysConnected";
    }
    if (!strcmp(kind, "AlwaysConnected")) {
        life = mcx_conf_short(m->conf);
    }
    else if (!strcmp(kind, "PushCapable")) {
        life = mcx_conf_long(m->conf);
    }
    else {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0,
                         "SessionKind is AlwaysConnected or PushCapable.");
    }
    if ((device = mcx_need(m, "DeviceId", 100, &rv)) == NULL) {
        return rv;
    }
    ua = mcx_field(&m->in, "UserAgent");
    culture = mcx_field(&m->in, "Culture");
    body = mob_json_own(p, json_pack("{s:s,s:s,s:s}",
                                     "userAgent", ua && *ua ? ua : "McxClient",
                                     "endpointId", device,
                                     "culture", culture && *culture ? culture : "en-US"));
    if (!body) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "A value is not valid UTF-8.");
    }
    apr_table_setn(notes, UCWA_NOTE_IDLE_LIMIT, apr_psprintf(p, "%u", life));
    if (!mcx_ok((mcx_ucwa(m, "POST", MCX_APPS, body, notes, &res), &res)) || !res.json) {
        return mcx_fault_ucwa(m, &res);
    }
    m->session = mob_json_str(res.json, "id");
    if (!m->session) {
        return mcx_fault(m, FAULT_500, "ServiceFailure", 0, "No session was made.");
    }
    m->app = apr_pstrcat(p, MCX_APPS, "/", m->session, NULL);
    /* available for instant messaging, as a Lync 2010 client signs in */
    mcx_ucwa(m, "POST", mcx_app_path(m, "/me/makeMeAvailable"),
             mob_json_own(p, json_pack("{s:[s]}", "SupportedModalities", "Messaging")),
             NULL, &avail);
    if (!mcx_ok(&avail) && avail.status != HTTP_CONFLICT) {
        return mcx_fault_ucwa(m, &avail);
    }
    me = mob_json_obj(mob_json_obj(res.json, "_embedded"), "me");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, m->r, MCXLOGNO(00020)
                  "signed in: session %s (%s, %u s)", m->session, kind, life);
    o = mcx_out_begin(p, "SignInResponse");
    mcx_out_text(o, "SessionId", m->session);
    mcx_out_text(o, "SessionKind", kind);
    mcx_out_text(o, "Lifetime", apr_psprintf(p, "%u", life));
    mcx_out_text(o, "Uri", mob_json_str(me, "uri"));
    mcx_out_text(o, "Name", mob_json_str(me, "name"));
    mcx_out_text(o, "Sequence", ack_in(mob_json_href(res.json, "events")));
    return mcx_send(m, o);
}

static int op_sign_out(mcx_req *m)
{
    mcx_res res;

    if (!mcx_ok((mcx_ucwa(m, "DELETE", m->app, NULL, NULL, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    return mcx_send(m, mcx_out_begin(m->r->pool, "SignOutResponse"));
}

static int op_keep_alive(mcx_req *m)
{
    apr_table_t *notes = apr_table_make(m->r->pool, 1);
    mcx_res res;
    mcx_out *o;

    apr_table_setn(notes, UCWA_NOTE_KEEPALIVE, "1");
    if (!mcx_ok((mcx_ucwa(m, "GET", m->app, NULL, notes, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    o = mcx_out_begin(m->r->pool, "KeepAliveResponse");
    mcx_out_text(o, "Lifetime", apr_table_get(res.headers, UCWA_HEADER_IDLE_LIMIT));
    return mcx_send(m, o);
}

/* --- presence ---------------------------------------------------------------------- */

static int op_get_presence(mcx_req *m)
{
    mcx_res pres, note;
    mcx_out *o;

    if (!mcx_ok((mcx_ucwa(m, "GET", mcx_app_path(m, "/me/presence"), NULL, NULL, &pres), &pres))) {
        return mcx_fault_ucwa(m, &pres);
    }
    if (!mcx_ok((mcx_ucwa(m, "GET", mcx_app_path(m, "/me/note"), NULL, NULL, &note), &note))) {
        return mcx_fault_ucwa(m, &note);
    }
    o = mcx_out_begin(m->r->pool, "GetPresenceResponse");
    mcx_out_text(o, "Availability", mob_json_str(pres.json, "availability"));
    mcx_out_text(o, "Activity", mob_json_str(pres.json, "activity"));
    mcx_out_text(o, "Note", mob_json_str(note.json, "message"));
    return mcx_send(m, o);
}

static int op_publish_presence(mcx_req *m)
{
    apr_pool_t *p = m->r->pool;
    const char *av = mcx_field(&m->in, "Availability"), *note = mcx_field(&m->in, "Note");
    mcx_res res;

    if (!av && !note) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0,
                         "PublishPresence needs Availability, Note or both.");
    }
    if (av && !mcx_ok((mcx_ucwa(m, "POST", mcx_app_path(m, "/me/presence"),
                            mob_json_own(p, json_pack("{s:s}", "availability", av)), NULL,
                            &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    if (note) {
        json_t *b = mob_json_own(p, json_pack("{s:s}", "message", note));
        if (!b) {
            return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "Note is not valid UTF-8.");
        }
        if (!mcx_ok((mcx_ucwa(m, "POST", mcx_app_path(m, "/me/note"), b, NULL, &res), &res))) {
            return mcx_fault_ucwa(m, &res);
        }
    }
    return mcx_send(m, mcx_out_begin(p, "PublishPresenceResponse"));
}

static void out_group(mcx_req *m, mcx_out *o, const json_t *g)
{
    const char *contacts = mob_json_href(g, "groupContacts");
    mcx_res res;
    const json_t *arr;
    size_t i;

    if (!g) {
        return;
    }
    mcx_out_start(o, "Group");
    mcx_out_attr(o, "Id", mob_json_str(g, "id"));
    mcx_out_attr(o, "Name", mob_json_str(g, "name"));
    if (contacts && mcx_ok((mcx_ucwa(m, "GET", contacts, NULL, NULL, &res), &res))) {
        arr = json_object_get(mob_json_obj(res.json, "_embedded"), "contact");
        for (i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
            const json_t *c = json_array_get(arr, i);
            const char *av, *note;
            mcx_presence_of(m, mob_json_href(c, "contactPresence"), &av, &note);
            mcx_out_start(o, "Contact");
            mcx_out_attr(o, "Uri", mob_json_str(c, "uri"));
            mcx_out_attr(o, "Name", mob_json_str(c, "name"));
            mcx_out_attr(o, "Availability", av);
            mcx_out_attr(o, "Note", note);
            mcx_out_end(o);
        }
    }
    mcx_out_end(o);
}

static int op_get_contacts(mcx_req *m)
{
    mcx_res res;
    const json_t *emb, *arr;
    mcx_out *o;
    size_t i;

    if (!mcx_ok((mcx_ucwa(m, "GET", mcx_app_path(m, "/people/groups"), NULL, NULL, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    emb = mob_json_obj(res.json, "_embedded");
    o = mcx_out_begin(m->r->pool, "GetContactsResponse");
    out_group(m, o, mob_json_obj(emb, "pinnedGroup"));
    arr = json_object_get(emb, "group");
    for (i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
        out_group(m, o, json_array_get(arr, i));
    }
    out_group(m, o, mob_json_obj(emb, "defaultGroup"));
    return mcx_send(m, o);
}

static int op_subscribe_presence(mcx_req *m)
{
    apr_pool_t *p = m->r->pool;
    const apr_array_header_t *f = apr_table_elts(m->in.fields);
    const apr_table_entry_t *e = (const apr_table_entry_t *)f->elts;
    json_t *uris = json_array();
    json_t *body = mob_json_own(p, json_pack("{s:i,s:o}", "duration", 30, "uris", uris));
    apr_table_t *notes = apr_table_make(p, 1);
    mcx_res res;
    mcx_out *o;
    int i;
    size_t k;

    for (i = 0; i < f->nelts; i++) {
        if (!strcmp(e[i].key, "Uri") && json_array_append_new(uris, json_string(e[i].val))) {
            return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "A Uri is not valid UTF-8.");
        }
    }
    if (json_array_size(uris) == 0 || json_array_size(uris) > 100) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0,
                         "SubscribePresence takes 1 to 100 Uri elements.");
    }
    apr_table_setn(notes, UCWA_NOTE_SESSION_SUBSCRIPTION, "1");
    if (!mcx_ok((mcx_ucwa(m, "POST", mcx_app_path(m, "/people/presenceSubscriptions"), body, notes,
                      &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    o = mcx_out_begin(p, "SubscribePresenceResponse");
    for (k = 0; k < json_array_size(uris); k++) {
        const char *uri = json_string_value(json_array_get(uris, k)), *av, *note, *who;
        who = !strncasecmp(uri, "sip:", 4) ? uri + 4 : uri;
        mcx_presence_of(m, mcx_app_path(m, apr_pstrcat(p, "/people/", who, "/presence", NULL)),
                         &av, &note);
        mcx_out_start(o, "Presence");
        mcx_out_attr(o, "Uri", apr_pstrcat(p, "sip:", who, NULL));
        mcx_out_attr(o, "Availability", av);
        mcx_out_attr(o, "Note", note ? note : "");
        mcx_out_end(o);
    }
    return mcx_send(m, o);
}

/* --- conversations ----------------------------------------------------------------- */

static int id_ok(const char *id)
{
    size_t n = strlen(id);

    return n > 0 && n <= 64 && strspn(id, "0123456789abcdefABCDEF") == n;
}

/* The conversation or invitation id field (hex), or NULL with InvalidParameter sent. */
static const char *need_id(mcx_req *m, const char *name, int *rv)
{
    const char *id = mcx_need(m, name, 64, rv);

    if (id && !id_ok(id)) {
        *rv = mcx_fault(m, FAULT_500, "NotFound", 0, "There is no such item.");
        return NULL;
    }
    return id;
}

static int op_start_conversation(mcx_req *m)
{
    apr_pool_t *p = m->r->pool;
    const char *to, *subject = mcx_field(&m->in, "Subject"), *text = mcx_field(&m->in, "Message");
    const char *loc;
    json_t *body;
    mcx_res res, inv;
    mcx_out *o;
    int rv = OK;

    if ((to = mcx_need(m, "To", 256, &rv)) == NULL) {
        return rv;
    }
    body = mob_json_own(p, json_pack("{s:s}", "to", to));
    if (!body) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "To is not valid UTF-8.");
    }
    if (subject && json_object_set_new(body, "subject", json_string(subject))) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "Subject is not valid UTF-8.");
    }
    if (text && *text
        && json_object_set_new(body, "message",
                               json_string(ucwa_message_data_uri(p, UCWA_MSG_PLAIN, text,
                                                                 strlen(text))))) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "Message is not valid UTF-8.");
    }
    if (!mcx_ok((mcx_ucwa(m, "POST", mcx_app_path(m, "/communication/messagingInvitations"), body,
                      NULL, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    loc = apr_table_get(res.headers, "Location");
    if (!loc || !mcx_ok((mcx_ucwa(m, "GET", loc, NULL, NULL, &inv), &inv))) {
        return mcx_fault(m, FAULT_500, "ServiceFailure", 0, "The invitation was lost.");
    }
    o = mcx_out_begin(p, "StartConversationResponse");
    mcx_out_text(o, "ConversationId", mcx_href_tail(p, mob_json_href(inv.json, "conversation")));
    mcx_out_text(o, "InvitationId", mcx_href_tail(p, loc));
    return mcx_send(m, o);
}

static int answer(mcx_req *m, int accept)
{
    apr_pool_t *p = m->r->pool;
    const char *id, *inv;
    mcx_res res, doc;
    mcx_out *o;
    int rv = OK;

    if ((id = need_id(m, "InvitationId", &rv)) == NULL) {
        return rv;
    }
    inv = mcx_app_path(m, apr_pstrcat(p, "/communication/messagingInvitations/", id, NULL));
    if (!mcx_ok((mcx_ucwa(m, "POST", apr_pstrcat(p, inv, accept ? "/accept" : "/decline", NULL),
                      NULL, NULL, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    if (!accept) {
        return mcx_send(m, mcx_out_begin(p, "DeclineInvitationResponse"));
    }
    o = mcx_out_begin(p, "AcceptInvitationResponse");
    if (mcx_ok((mcx_ucwa(m, "GET", inv, NULL, NULL, &doc), &doc))) {
        mcx_out_text(o, "ConversationId", mcx_href_tail(p, mob_json_href(doc.json, "conversation")));
    }
    return mcx_send(m, o);
}

static int op_accept(mcx_req *m)
{
    return answer(m, 1);
}

static int op_decline(mcx_req *m)
{
    return answer(m, 0);
}

/* {A}/communication/conversations/{C} + sub, C from the ConversationId field. */
static const char *conversation(mcx_req *m, const char *sub, int *rv)
{
    const char *id = need_id(m, "ConversationId", rv);

    return id ? mcx_app_path(m, apr_pstrcat(m->r->pool, "/communication/conversations/", id,
                                            sub, NULL))
              : NULL;
}

static int op_send_message(mcx_req *m)
{
    const char *path, *text, *loc, *n;
    mcx_res res;
    mcx_out *o;
    int rv = OK;

    if ((path = conversation(m, "/messaging/messages", &rv)) == NULL) {
        return rv;
    }
    text = mcx_field(&m->in, "Text");
    if (!text || !*text) {
        return mcx_fault(m, FAULT_500, "InvalidParameter", 0, "Text is required.");
    }
    if (!mcx_ok((mcx_ucwa_text(m, "POST", path, "text/plain; charset=utf-8", text, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    loc = apr_table_get(res.headers, "Location");
    n = mcx_href_tail(m->r->pool, loc);
    o = mcx_out_begin(m->r->pool, "SendMessageResponse");
    mcx_out_text(o, "Number", n ? n : "0");
    return mcx_send(m, o);
}

static int simple_post(mcx_req *m, const char *sub, const char *response)
{
    const char *path;
    mcx_res res;
    int rv = OK;

    if ((path = conversation(m, sub, &rv)) == NULL) {
        return rv;
    }
    if (!mcx_ok((mcx_ucwa(m, "POST", path, NULL, NULL, &res), &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    return mcx_send(m, mcx_out_begin(m->r->pool, response));
}

static int op_set_typing(mcx_req *m)
{
    return simple_post(m, "/messaging/typing", "SetTypingResponse");
}

static int op_end_conversation(mcx_req *m)
{
    return simple_post(m, "/messaging/terminate", "EndConversationResponse");
}

/* --- push: the UCWA push registration resource ---------------------------------------- */

static int op_register_push(mcx_req *m)
{
    apr_pool_t *p = m->r->pool;
    static const char *const plain[][2] = {
        { "Provider", "provider" }, { "Endpoint", "endpoint" }, { "Token", "token" },
        { "Language", "language" }, { "P256dh", "p256dh" }, { "Auth", "auth" },
    };
    json_t *body = mob_json_own(p, json_object());
    mcx_res res;
    mcx_out *o;
    size_t i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        const char *v = mcx_field(&m->in, plain[i][0]);
        if (v && json_object_set_new(body, plain[i][1], json_string(v))) {
            return mcx_fault(m, FAULT_500, "InvalidParameter", 0,
                             apr_pstrcat(p, plain[i][0], " is not valid UTF-8.", NULL));
        }
    }
    if (!mcx_ok((mcx_ucwa(m, "POST", mcx_app_path(m, "/pushRegistrations"), body, NULL, &res),
             &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    o = mcx_out_begin(p, "RegisterPushResponse");
    mcx_out_text(o, "RegistrationId", mob_json_str(res.json, "id"));
    return mcx_send(m, o);
}

static int op_unregister_push(mcx_req *m)
{
    const char *id;
    mcx_res res;
    int rv = OK;

    if ((id = mcx_need(m, "RegistrationId", 64, &rv)) == NULL) {
        return rv;
    }
    if (strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        != strlen(id)) {
        return mcx_fault(m, FAULT_500, "NotFound", 0, "There is no such registration.");
    }
    if (!mcx_ok((mcx_ucwa(m, "DELETE", mcx_app_path(m, apr_pstrcat(m->r->pool,
                                                                "/pushRegistrations/", id,
                                                                NULL)), NULL, NULL, &res),
             &res))) {
        return mcx_fault_ucwa(m, &res);
    }
    return mcx_send(m, mcx_out_begin(m->r->pool, "UnregisterPushResponse"));
}

static const mcx_op ops[] = {
    { "SignIn", 0, op_sign_in },
    { "SignOut", 1, op_sign_out },
    { "KeepAlive", 1, op_keep_alive },
    { "GetPresence", 1, op_get_presence },
    { "PublishPresence", 1, op_publish_presence },
    { "GetContacts", 1, op_get_contacts },
    { "SubscribePresence", 1, op_subscribe_presence },
    { "StartConversation", 1, op_start_conversation },
    { "AcceptInvitation", 1, op_accept },
    { "DeclineInvitation", 1, op_decline },
    { "SendMessage", 1, op_send_message },
    { "SetTyping", 1, op_set_typing },
    { "EndConversation", 1, op_end_conversation },
    { "RegisterPush", 1, op_register_push },
    { "UnregisterPush", 1, op_unregister_push },
    { "GetNotifications", 1, mcx_op_get_notifications },
    { NULL, 0, NULL }
};

const mcx_op *mcx_op_find(const char *name)
{
    const mcx_op *o;

    for (o = ops; o->name; o++) {
        if (!strcmp(o->name, name)) {
            return o;
        }
    }
    return NULL;
}

const mcx_op *mcx_ops_all(void)
{
    return ops;
}
