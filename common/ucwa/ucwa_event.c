#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_event.h"

/* s as the contents of a JSON string, as jansson writes it (escaped, without quotes). */
static const char *contents(apr_pool_t *p, const char *s)
{
    const unsigned char *c;
    json_t *j;
    char *text;
    const char *out = NULL;
    apr_size_t n;

    for (c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\' || *c < 0x20) {
            break;
        }
    }
    if (!*c) {
        return apr_pstrdup(p, s);
    }
    j = json_string(s);
    text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (text && (n = strlen(text)) >= 2) {
        out = apr_pstrndup(p, text + 1, n - 2);
    }
    free(text);
    return out;
}

/* The members of obj (an object) other than the skipped ones, as JSON text without the
 * braces; "" when none. */
static const char *members(apr_pool_t *p, const json_t *obj, const char *const *skip, int n)
{
    json_t *rest = json_object();
    const char *key, *text;
    json_t *v;
    apr_size_t len;
    int i;

    json_object_foreach((json_t *)obj, key, v) {
        for (i = 0; i < n && strcmp(key, skip[i]); i++) {
        }
        if (i == n) {
            json_object_set(rest, key, v);
        }
    }
    text = json_object_size(rest) ? mob_json_dump(p, rest, &len) : NULL;
    json_decref(rest);
    return text && len >= 2 ? apr_pstrndup(p, text + 1, len - 2) : "";
}

int ucwa_event_from_json(apr_pool_t *p, const char *sender_rel, const char *sender_href,
                         const json_t *ev, ucwa_event *e)
{
    static const char *const link_keys[] = { "rel", "href", "title" };
    static const char *const ev_keys[] = { "link", "type" };
    const json_t *link, *title;
    const char *key;
    json_t *v;
    int i = 0, type_at = -1, n = (int)json_object_size(ev);

    memset(e, 0, sizeof(*e));
    link = json_object_get(ev, "link");
    if (!json_is_object(link) || !json_is_string(json_object_get(link, "rel"))
        || !json_is_string(json_object_get(link, "href"))
        || !json_is_string(json_object_get(ev, "type"))) {
        return -1;
    }
    /* the order the text is rendered in: link first, then type at once or last */
    json_object_foreach((json_t *)ev, key, v) {
        if (i == 0 && strcmp(key, "link")) {
            return -1;
        }
        if (!strcmp(key, "type")) {
            type_at = i;
        }
        i++;
    }
    if (type_at != 1 && type_at != n - 1) {
        return -1;
    }
    i = 0;
    json_object_foreach((json_t *)link, key, v) {
        if ((i < 2 && strcmp(key, link_keys[i])) || (i > 2 && !strcmp(key, "title"))) {
            return -1;
        }
        i++;
    }
    title = json_object_get(link, "title");
    if (title && !json_is_string(title)) {
        return -1;
    }
    e->sender_rel = contents(p, sender_rel);
    e->sender_href = contents(p, sender_href);
    e->rel = contents(p, json_string_value(json_object_get(link, "rel")));
    e->href = contents(p, json_string_value(json_object_get(link, "href")));
    e->title = title ? contents(p, json_string_value(title)) : NULL;
    e->type = contents(p, json_string_value(json_object_get(ev, "type")));
    e->link_extra = members(p, link, link_keys, 3);
    e->extra = members(p, ev, ev_keys, 2);
    e->type_first = type_at == 1 && n > 2;
    if (!e->sender_rel || !e->sender_href || !e->rel || !e->href || (title && !e->title)
        || !e->type) {
        return -1;
    }
    return 0;
}

const char *ucwa_event_rebase(apr_pool_t *p, const char *base, const char *text)
{
    static const char mark[] = "\"href\":\"/";
    const apr_size_t ml = sizeof(mark) - 2;        /* up to the slash, which stays */
    apr_size_t bl = strlen(base), hits = 0, n;
    const char *at, *from;
    char *out, *to;

    if (!text || !*text) {
        return "";
    }
    for (at = strstr(text, mark); at; at = strstr(at + ml, mark)) {
        hits++;
    }
    if (!hits || !bl) {
        return text;
    }
    n = strlen(text);
    out = to = apr_palloc(p, n + hits * bl + 1);
    for (from = text, at = strstr(text, mark); at; from = at + ml, at = strstr(from, mark)) {
        memcpy(to, from, (apr_size_t)(at - from) + ml);
        to += (at - from) + ml;
        memcpy(to, base, bl);
        to += bl;
    }
    strcpy(to, from);
    return out;
}

const char *ucwa_event_sender_json(apr_pool_t *p, const char *base, const ucwa_event *e)
{
    return apr_pstrcat(p, "\"rel\":\"", e->sender_rel, "\",\"href\":\"", base, e->sender_href,
                       "\"", NULL);
}

const char *ucwa_event_json(apr_pool_t *p, const char *base, const ucwa_event *e)
{
    int lx = e->link_extra && *e->link_extra, x = e->extra && *e->extra;
    const char *type = apr_pstrcat(p, "\"type\":\"", e->type, "\"", NULL);
    const char *extra = x ? ucwa_event_rebase(p, base, e->extra) : "";

    return apr_pstrcat(p, "{\"link\":{\"rel\":\"", e->rel, "\",\"href\":\"", base, e->href,
                       "\"", e->title ? ",\"title\":\"" : "", e->title ? e->title : "",
                       e->title ? "\"" : "", lx ? "," : "",
                       lx ? ucwa_event_rebase(p, base, e->link_extra) : "", "},",
                       e->type_first ? type : extra, x ? "," : "",
                       e->type_first ? extra : type, "}", NULL);
}

static int same_sender(const ucwa_event *a, const ucwa_event *b)
{
    return !strcmp(a->sender_rel, b->sender_rel) && !strcmp(a->sender_href, b->sender_href);
}

const char *ucwa_package_json(apr_pool_t *p, const char *base, const ucwa_package *pkg,
                              int resync, apr_size_t *len)
{
    struct iovec *v;
    int n = 0, i, max;
    char *out;

    if (resync) {
        out = apr_psprintf(p, "{\"_links\":{\"self\":{\"href\":\"%s/events?ack=%u\"},"
                           "\"resync\":{\"href\":\"%s/events?ack=%u\"}},\"sender\":[]}",
                           base, pkg->ack, base, pkg->resync_ack);
        *len = strlen(out);
        return out;
    }
    max = 8 + pkg->count * 6;
    v = apr_palloc(p, sizeof(*v) * (apr_size_t)max);
#define ADD(str) do { v[n].iov_base = (void *)(str); v[n].iov_len = strlen(str); n++; } while (0)
    /* resume carries a next link too: several clients only follow next */
    ADD(apr_psprintf(p, "{\"_links\":{\"self\":{\"href\":\"%s/events?ack=%u\"},"
                     "%s\"next\":{\"href\":\"%s/events?ack=%u\"}},\"sender\":[",
                     base, pkg->ack,
                     pkg->resume ? apr_psprintf(p, "\"resume\":{\"href\":\"%s/events?ack=%u\"},",
                                                base, pkg->ack + 1) : "",
                     base, pkg->ack + 1));
    for (i = 0; i < pkg->count; i++) {
        /* consecutive events of one sender share a sender entry; order is kept */
        if (i == 0 || !same_sender(&pkg->events[i], &pkg->events[i - 1])) {
            ADD(i == 0 ? "{" : "]},{");
            ADD(ucwa_event_sender_json(p, base, &pkg->events[i]));
            ADD(",\"events\":[");
        }
        else {
            ADD(",");
        }
        ADD(ucwa_event_json(p, base, &pkg->events[i]));
    }
    ADD(pkg->count ? "]}]}" : "]}");
#undef ADD
    out = apr_pstrcatv(p, v, (apr_size_t)n, len);
    return out;
}
