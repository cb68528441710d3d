#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "mcx_events.h"
#include "mob_json.h"
#include "ucwa_message.h"

#define TEXT_MAX (64 * 1024)

static const char *link_title(const json_t *o, const char *rel)
{
    return mob_json_str(mob_json_obj(mob_json_obj(o, "_links"), rel), "title");
}

const char *mcx_href_tail(apr_pool_t *p, const char *href)
{
    const char *q, *slash;
    apr_size_t n;

    if (!href) {
        return NULL;
    }
    q = strchr(href, '?');
    n = q ? (apr_size_t)(q - href) : strlen(href);
    slash = NULL;
    for (const char *s = href; s < href + n; s++) {
        if (*s == '/') {
            slash = s;
        }
    }
    if (!slash || slash + 1 >= href + n) {
        return NULL;
    }
    return apr_pstrmemdup(p, slash + 1, (apr_size_t)(href + n - slash - 1));
}

/* The segment after "/<key>/" in href, or NULL. */
static const char *segment_after(apr_pool_t *p, const char *href, const char *key)
{
    const char *k = href ? strstr(href, key) : NULL, *end;

    if (!k) {
        return NULL;
    }
    k += strlen(key);
    end = k + strcspn(k, "/?");
    return end > k ? apr_pstrmemdup(p, k, (apr_size_t)(end - k)) : NULL;
}

static int ack_of(const char *href, apr_uint32_t *ack)
{
    const char *a = href ? strstr(href, "ack=") : NULL;
    char *end;
    unsigned long v;

    if (!a || (a != href && a[-1] != '?' && a[-1] != '&')) {
        return -1;
    }
    v = strtoul(a + 4, &end, 10);
    if (end == a + 4 || v > 0xffffffffUL) {
        return -1;
    }
    *ack = (apr_uint32_t)v;
    return 0;
}

static const char *data_text(apr_pool_t *p, const char *uri, int *html)
{
    ucwa_msg_format fmt;
    char *text;
    apr_size_t len;
    const char *why;

    if (!uri || ucwa_message_parse_data_uri(p, uri, TEXT_MAX, &fmt, &text, &len, &why)
                != UCWA_MSG_OK) {
        return NULL;
    }
    *html = fmt == UCWA_MSG_HTML;
    return text;
}

/* "sip:x" from a people href ({A}/people/x[/...]) */
static const char *people_uri(apr_pool_t *p, const char *href)
{
    const char *who = segment_after(p, href, "/people/");

    return who ? apr_pstrcat(p, "sip:", who, NULL) : NULL;
}

static mcx_note *add(mcx_batch *b, mcx_note_kind kind)
{
    mcx_note *n = apr_array_push(b->notes);

    memset(n, 0, sizeof(*n));
    n->kind = kind;
    return n;
}

/* A presence note for uri, unless the batch has one already. */
static void add_presence(apr_pool_t *p, mcx_batch *b, mcx_note_kind kind, const char *uri,
                         const char *fetch)
{
    int i;
    mcx_note *n;

    for (i = 0; i < b->notes->nelts; i++) {
        n = &APR_ARRAY_IDX(b->notes, i, mcx_note);
        if (n->kind == kind && ((!n->uri && !uri) || (n->uri && uri && !strcmp(n->uri, uri)))) {
            return;
        }
    }
    n = add(b, kind);
    n->uri = uri;
    n->fetch = fetch;
}

static const char *result_of(const json_t *ev)
{
    const char *status = mob_json_str(ev, "status"), *sub = mob_json_str(mob_json_obj(ev, "reason"), "subcode");

    if (status && !strcmp(status, "Success")) {
        return "Connected";
    }
    if (!sub) {
        return "Failed";
    }
    if (!strcmp(sub, "Cancelled")) {
        return "Canceled";
    }
    return sub;
}

static void convert_event(apr_pool_t *p, mcx_batch *b, const char *sender, const json_t *ev)
{
    const json_t *link = mob_json_obj(ev, "link"), *in = mob_json_obj(ev, "in");
    const char *rel = mob_json_str(link, "rel"), *href = mob_json_str(link, "href"), *type = mob_json_str(ev, "type");
    const json_t *emb = mob_json_obj(ev, "_embedded");
    mcx_note *n;

    if (!rel || !type || !sender) {
        return;
    }
    if (!strcmp(rel, "messagingInvitation")) {
        const json_t *inv = mob_json_obj(emb, "messagingInvitation");
        const char *dir = mob_json_str(inv, "direction");
        if (!strcmp(type, "started") && dir && !strcmp(dir, "Incoming")) {
            const json_t *from = mob_json_obj(mob_json_obj(inv, "_embedded"), "from");
            n = add(b, MCX_N_INVITATION);
            n->invitation = mcx_href_tail(p, href);
            n->conversation = mcx_href_tail(p, mob_json_href(inv, "conversation"));
            n->uri = mob_json_str(from, "uri");
            n->name = mob_json_str(from, "name");
            n->subject = mob_json_str(inv, "subject");
            n->text = data_text(p, mob_json_href(inv, "message"), &n->html);
        }
        else if (!strcmp(type, "completed")) {
            n = add(b, MCX_N_INVITATION_RESULT);
            n->invitation = mcx_href_tail(p, href);
            n->conversation = mcx_href_tail(p, mob_json_href(inv, "conversation"));
            n->result = result_of(ev);
        }
        return;
    }
    if (!strcmp(rel, "message") && !strcmp(type, "completed")) {
        const json_t *m = mob_json_obj(emb, "message");
        const char *dir = mob_json_str(m, "direction"), *num = mcx_href_tail(p, href);
        if (!dir || strcmp(dir, "Incoming")) {
            return;
        }
        n = add(b, MCX_N_MESSAGE);
        n->conversation = segment_after(p, href, "/conversations/");
        n->number = num ? (apr_uint32_t)strtoul(num, NULL, 10) : 0;
        n->uri = people_uri(p, mob_json_href(m, "contact"));
        n->name = link_title(m, "participant");
        n->text = data_text(p, mob_json_href(m, "htmlMessage"), &n->html);
        if (!n->text) {
            n->text = data_text(p, mob_json_href(m, "plainMessage"), &n->html);
        }
        return;
    }
    if (!strcmp(rel, "participant") && !strcmp(type, "added")
        && in && mob_json_str(in, "rel") && !strcmp(mob_json_str(in, "rel"), "typingParticipants")) {
        n = add(b, MCX_N_TYPING);
        n->conversation = segment_after(p, href, "/conversations/");
        n->uri = segment_after(p, href, "/participants/");
        n->uri = n->uri ? apr_pstrcat(p, "sip:", n->uri, NULL) : NULL;
        n->name = mob_json_str(link, "title");
        return;
    }
    if (!strcmp(rel, "conversation") && !strcmp(type, "deleted")
        && !strcmp(sender, "communication")) {
        n = add(b, MCX_N_ENDED);
        n->conversation = mcx_href_tail(p, href);
        return;
    }
    if ((!strcmp(rel, "contactPresence") || !strcmp(rel, "contactNote"))
        && strcmp(type, "deleted")) {
        const char *uri = people_uri(p, href);
        const char *people = segment_after(p, href, "/people/");
        if (uri && people) {
            apr_size_t base = (apr_size_t)(strstr(href, "/people/") - href);
            add_presence(p, b, MCX_N_PRESENCE, uri,
                         apr_pstrcat(p, apr_pstrmemdup(p, href, base), "/people/", people,
                                     "/presence", NULL));
        }
        return;
    }
    if (!strcmp(sender, "me") && !strcmp(rel, "presence") && !strcmp(type, "updated")) {
        add_presence(p, b, MCX_N_MY_PRESENCE, NULL, href);
        return;
    }
    if (!strcmp(rel, "policies") && !strcmp(type, "updated")) {
        add(b, MCX_N_POLICY);
    }
}

int mcx_events_convert(apr_pool_t *p, const json_t *pkg, mcx_batch *out, const char **why)
{
    const json_t *links = mob_json_obj(pkg, "_links"), *senders;
    const char *next;
    size_t i, j;

    memset(out, 0, sizeof(*out));
    out->notes = apr_array_make(p, 8, sizeof(mcx_note));
    if (ack_of(mob_json_href(pkg, "self"), &out->sequence) != 0) {
        *why = "not an event package";
        return -1;
    }
    if ((next = mob_json_str(mob_json_obj(links, "resync"), "href")) != NULL) {
        out->resync = 1;
    }
    else {
        next = mob_json_str(mob_json_obj(links, "next"), "href");
        out->resume = mob_json_obj(links, "resume") != NULL;
    }
    if (ack_of(next, &out->next) != 0) {
        *why = "an event package without next";
        return -1;
    }
    senders = json_object_get(pkg, "sender");
    if (!json_is_array(senders)) {
        return 0;
    }
    for (i = 0; i < json_array_size(senders); i++) {
        const json_t *s = json_array_get(senders, i), *evs = json_object_get(s, "events");
        const char *rel = mob_json_str(s, "rel");
        if (!json_is_array(evs)) {
            continue;
        }
        for (j = 0; j < json_array_size(evs); j++) {
            convert_event(p, out, rel, json_array_get(evs, j));
        }
    }
    return 0;
}
