/* GetNotifications: the MCX notification channel is the session's UCWA event channel
 * (a pending GET of {A}/events through the UCWA core: the same ordering, acknowledgement,
 * resync, resume and wake-up), its packages turned into MCX notifications. */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mcx_events.h"
#include "mcx_ops.h"

APLOG_USE_MODULE(mcx);

static int digits(const char *s, apr_size_t max)
{
    apr_size_t n = strlen(s);

    return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

static void out_note(mcx_req *m, mcx_out *o, const mcx_note *n)
{
    apr_pool_t *p = m->r->pool;
    const char *av, *note;

    switch (n->kind) {
    case MCX_N_PRESENCE:
        mcx_presence_of(m, n->fetch, &av, &note);
        mcx_out_start(o, "Presence");
        mcx_out_attr(o, "Uri", n->uri);
        mcx_out_attr(o, "Availability", av);
        mcx_out_attr(o, "Note", note ? note : "");
        break;
    case MCX_N_MY_PRESENCE:
        mcx_presence_of(m, n->fetch, &av, NULL);
        mcx_out_start(o, "MyPresence");
        mcx_out_attr(o, "Availability", av);
        break;
    case MCX_N_INVITATION:
        mcx_out_start(o, "Invitation");
        mcx_out_attr(o, "InvitationId", n->invitation);
        mcx_out_attr(o, "ConversationId", n->conversation);
        mcx_out_attr(o, "From", n->uri);
        mcx_out_attr(o, "Name", n->name);
        mcx_out_attr(o, "Subject", n->subject);
        mcx_out_content(o, n->text);
        break;
    case MCX_N_INVITATION_RESULT:
        mcx_out_start(o, "InvitationResult");
        mcx_out_attr(o, "InvitationId", n->invitation);
        mcx_out_attr(o, "ConversationId", n->conversation);
        mcx_out_attr(o, "Result", n->result);
        break;
    case MCX_N_MESSAGE:
        mcx_out_start(o, "Message");
        mcx_out_attr(o, "ConversationId", n->conversation);
        mcx_out_attr(o, "From", n->uri);
        mcx_out_attr(o, "Name", n->name);
        mcx_out_attr(o, "Number", apr_psprintf(p, "%u", n->number));
        if (n->html) {
            mcx_out_attr(o, "Format", "Html");
        }
        mcx_out_content(o, n->text);
        break;
    case MCX_N_TYPING:
        mcx_out_start(o, "Typing");
        mcx_out_attr(o, "ConversationId", n->conversation);
        mcx_out_attr(o, "From", n->uri);
        break;
    case MCX_N_ENDED:
        mcx_out_start(o, "ConversationEnded");
        mcx_out_attr(o, "ConversationId", n->conversation);
        break;
    case MCX_N_POLICY:
        mcx_out_start(o, "PolicyChanged");
        break;
    }
    mcx_out_end(o);
}

int mcx_op_get_notifications(mcx_req *m)
{
    apr_pool_t *p = m->r->pool;
    const char *seq = mcx_field(&m->in, "Sequence"), *timeout = mcx_field(&m->in, "Timeout");
    const char *path, *why = NULL;
    mcx_res res;
    mcx_batch b;
    mcx_out *o;
    int i;

    if (!seq || !*seq) {
        seq = "1";
    }
    if (!digits(seq, 10) || (timeout && !digits(timeout, 10))) {
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "InvalidParameter", 0,
                         "Sequence and Timeout are whole numbers.");
    }
    path = mcx_app_path(m, apr_pstrcat(p, "/events?ack=", seq,
                                       timeout ? "&timeout=" : "", timeout ? timeout : "",
                                       NULL));
    mcx_ucwa(m, "GET", path, NULL, NULL, &res);
    if (res.status != HTTP_OK) {
        return mcx_fault_ucwa(m, &res);
    }
    if (!res.json || mcx_events_convert(p, res.json, &b, &why) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, m->r, MCXLOGNO(00030)
                      "session %s: the event channel answered what is not a package (%s)",
                      m->session, why ? why : "not JSON");
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", 0,
                         "The notification channel failed.");
    }
    o = mcx_out_begin(p, "GetNotificationsResponse");
    mcx_out_attr(o, "Sequence", apr_psprintf(p, "%u", b.sequence));
    mcx_out_attr(o, "Next", apr_psprintf(p, "%u", b.next));
    if (b.resync) {
        mcx_out_attr(o, "Resync", "true");
    }
    if (b.resume) {
        mcx_out_attr(o, "Resume", "true");
    }
    for (i = 0; i < b.notes->nelts; i++) {
        out_note(m, o, &APR_ARRAY_IDX(b.notes, i, mcx_note));
    }
    return mcx_send(m, o);
}
