#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "mob_form.h"
#include "mob_json.h"
#include "ucwa_people_render.h"
#include "ucwa_store.h"

/* --- inputs ----------------------------------------------------------------------- */

apr_ssize_t ucwa_people_utf8_length(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_ssize_t n = 0;

    while (*u) {
        unsigned long cp;
        int more, i;
        if (*u < 0x80) {
            u++;
            n++;
            continue;
        }
        if (*u >= 0xc2 && *u <= 0xdf) { more = 1; cp = *u & 0x1f; }
        else if (*u >= 0xe0 && *u <= 0xef) { more = 2; cp = *u & 0x0f; }
        else if (*u >= 0xf0 && *u <= 0xf4) { more = 3; cp = *u & 0x07; }
        else return -1;
        for (i = 1; i <= more; i++) {
            if ((u[i] & 0xc0) != 0x80) {
                return -1;
            }
            cp = (cp << 6) | (u[i] & 0x3f);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            return -1;
        }
        u += more + 1;
        n++;
    }
    return n;
}

static int local_char(char c)
{
    return apr_isalnum(c) || c == '.' || c == '_' || c == '+' || c == '-' || c == '\'';
}

static int domain_ok(const char *d)
{
    int labels = 0;
    size_t len = strlen(d);

    if (len < 3 || len > 253) {
        return 0;
    }
    while (*d) {
        const char *dot = strchr(d, '.');
        size_t n = dot ? (size_t)(dot - d) : strlen(d);
        size_t i;
        if (n < 1 || n > 63 || d[0] == '-' || d[n - 1] == '-') {
            return 0;
        }
        for (i = 0; i < n; i++) {
            if (!apr_isalnum(d[i]) && d[i] != '-') {
                return 0;
            }
        }
        labels++;
        if (!dot) {
            break;
        }
        d = dot + 1;
        if (!*d) {
            return 0;   /* a trailing dot */
        }
    }
    return labels >= 2;
}

const char *ucwa_people_address(apr_pool_t *p, const char *in)
{
    char *a, *at;
    size_t i, local;

    if (!in) {
        return NULL;
    }
    if (!strncasecmp(in, "sip:", 4)) {
        in += 4;
    }
    if (strlen(in) > UCWA_ADDRESS_MAX) {
        return NULL;
    }
    a = apr_pstrdup(p, in);
    for (i = 0; a[i]; i++) {
        a[i] = (char)apr_tolower((unsigned char)a[i]);
    }
    at = strchr(a, '@');
    if (!at || strchr(at + 1, '@')) {
        return NULL;
    }
    local = (size_t)(at - a);
    if (local < 1 || local > 64 || a[0] == '.' || a[local - 1] == '.') {
        return NULL;
    }
    for (i = 0; i < local; i++) {
        if (!local_char(a[i]) || (a[i] == '.' && a[i + 1] == '.')) {
            return NULL;
        }
    }
    return domain_ok(at + 1) ? a : NULL;
}

const char *ucwa_people_query_check(const char *query)
{
    apr_ssize_t n;

    if (!query || !*query) {
        return "query is required";
    }
    n = ucwa_people_utf8_length(query);
    if (n < 0) {
        return "query is not valid UTF-8";
    }
    if (n > UCWA_SEARCH_QUERY_MAX) {
        return "query is longer than 256 characters";
    }
    return NULL;
}

const char *ucwa_people_like_pattern(apr_pool_t *p, const char *query)
{
    size_t n = strlen(query), i;
    char *out = apr_palloc(p, 2 * n + 3), *o = out;

    *o++ = '%';
    for (i = 0; i < n; i++) {
        char c = query[i];
        if (c == '%' || c == '_' || c == '\\') {
            *o++ = '\\';
        }
        *o++ = (char)apr_tolower((unsigned char)c);
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

int ucwa_people_limit(const char *limit)
{
    int v = 0;
    size_t i;

    if (!limit) {
        return UCWA_SEARCH_LIMIT_DEFAULT;
    }
    if (!*limit || strlen(limit) > 3) {
        return -1;
    }
    for (i = 0; limit[i]; i++) {
        if (!apr_isdigit(limit[i])) {
            return -1;
        }
        v = v * 10 + (limit[i] - '0');
    }
    return v >= 1 && v <= UCWA_SEARCH_LIMIT_MAX ? v : -1;
}

/* --- documents -------------------------------------------------------------------- */

static json_t *href(apr_pool_t *p, const char *base, const char *sub)
{
    return json_pack("{s:s}", "href", apr_pstrcat(p, base, sub, NULL));
}

static const char *contact_sub(apr_pool_t *p, const char *sip, const char *what)
{
    return apr_pstrcat(p, "/people/", sip, what ? "/" : "", what ? what : "", NULL);
}

const char *ucwa_people_json(apr_pool_t *p, const json_t *doc, apr_size_t *len)
{
    const char *s = mob_json_dump(p, doc, NULL);
    char *out, *o;
    const char *c;

    if (!s) {
        return NULL;
    }
    if (!strstr(s, "\"/Date(")) {
        if (len) *len = strlen(s);
        return s;
    }
    /* every "/Date(digits)/" string value gets its slashes escaped */
    out = apr_palloc(p, strlen(s) * 2 + 1);
    for (o = out, c = s; *c; ) {
        if (!strncmp(c, "\"/Date(", 7)) {
            const char *d = c + 7;
            while (apr_isdigit(*d)) d++;
            if (d > c + 7 && !strncmp(d, ")/\"", 3)) {
                memcpy(o, "\"\\/Date(", 8);
                o += 8;
                memcpy(o, c + 7, (size_t)(d - (c + 7)));
                o += d - (c + 7);
                memcpy(o, ")\\/\"", 4);
                o += 4;
                c = d + 3;
                continue;
            }
        }
        *o++ = *c++;
    }
    *o = '\0';
    if (len) *len = (apr_size_t)(o - out);
    return out;
}

const char *ucwa_people_etag(apr_pool_t *p, const json_t *doc)
{
    const char *s = mob_json_dump(p, doc, NULL);
    apr_uint32_t h = 2166136261u;

    for (; s && *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return apr_psprintf(p, "%u", h);
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v && *v) {
        json_object_set_new(o, key, json_string(v));
    }
}

static json_t *contact_links(apr_pool_t *p, const char *base, const char *sip)
{
    json_t *l = json_object();

    json_object_set_new(l, "self", href(p, base, contact_sub(p, sip, NULL)));
    json_object_set_new(l, "contactPhoto", href(p, base, apr_pstrcat(p, "/photos/", sip, NULL)));
    json_object_set_new(l, "contactPresence", href(p, base, contact_sub(p, sip, "presence")));
    json_object_set_new(l, "contactLocation", href(p, base, contact_sub(p, sip, "location")));
    json_object_set_new(l, "contactNote", href(p, base, contact_sub(p, sip, "note")));
    json_object_set_new(l, "contactSupportedModalities",
                        href(p, base, contact_sub(p, sip, "supportedMedia")));
    json_object_set_new(l, "contactPrivacyRelationship",
                        href(p, base, contact_sub(p, sip, "privacyRelationship")));
    return l;
}

json_t *ucwa_people_contact(apr_pool_t *p, const char *base, const ucwa_person *c)
{
    json_t *o = mob_json_own(p, json_object());
    const char *uri = c->uri && *c->uri ? c->uri : c->sip;

    json_object_set_new(o, "uri", json_string(apr_pstrcat(p, "sip:", uri, NULL)));
    if (c->known) {
        json_object_set_new(o, "sourceNetwork", json_string("SameEnterprise"));
        set_str(o, "company", c->company);
        set_str(o, "department", c->department);
        set_str(o, "office", c->office);
        set_str(o, "title", c->title);
        if (c->email && *c->email) {
            json_object_set_new(o, "emailAddresses", json_pack("[s]", c->email));
        }
        set_str(o, "workPhoneNumber", c->work_phone);
        set_str(o, "mobilePhoneNumber", c->mobile_phone);
        set_str(o, "homePhoneNumber", c->home_phone);
        set_str(o, "otherPhoneNumber", c->other_phone);
    }
    else {
        json_object_set_new(o, "sourceNetwork", json_string("Federated"));
    }
    json_object_set_new(o, "type", json_string("User"));
    json_object_set_new(o, "name", json_string(c->known && c->name && *c->name ? c->name
                                               : uri));
    json_object_set_new(o, "_links", contact_links(p, base, c->sip));
    json_object_set_new(o, "rel", json_string("contact"));
    json_object_set_new(o, "etag", json_string(ucwa_people_etag(p, o)));
    return o;
}

json_t *ucwa_people_contacts(apr_pool_t *p, const char *base, const char *group_id,
                             const ucwa_person *list, int n, int expand)
{
    json_t *o = mob_json_own(p, json_object()), *links = json_object(), *arr = json_array();
    const char *self = group_id ? apr_pstrcat(p, "/people/contacts?groupId=", group_id, NULL)
                                : "/people/contacts";
    int i;

    json_object_set_new(links, "self", href(p, base, self));
    for (i = 0; i < n; i++) {
        json_array_append_new(arr, expand ? json_incref(ucwa_people_contact(p, base, &list[i]))
                                          : href(p, base, contact_sub(p, list[i].sip, NULL)));
    }
    if (expand) {
        json_object_set_new(o, "_links", links);
        json_object_set_new(o, "_embedded", json_pack("{s:o}", "contact", arr));
    }
    else {
        json_object_set_new(links, "contact", arr);
        json_object_set_new(o, "_links", links);
    }
    json_object_set_new(o, "rel", json_string(group_id ? "groupContacts" : "myContacts"));
    return o;
}

const char *ucwa_people_group_rel(ucwa_group_kind kind)
{
    return kind == UCWA_GROUP_KIND_PINNED ? "pinnedGroup"
           : kind == UCWA_GROUP_KIND_DEFAULT ? "defaultGroup" : "group";
}

static const char *group_sub(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "/people/groups/", id, NULL);
}

json_t *ucwa_people_group(apr_pool_t *p, const char *base, const ucwa_group *g)
{
    json_t *o = mob_json_own(p, json_object()), *links = json_object();

    json_object_set_new(o, "id", json_string(g->id));
    json_object_set_new(o, "name", json_string(g->name));
    json_object_set_new(links, "self", href(p, base, group_sub(p, g->id)));
    json_object_set_new(links, "groupContacts",
                        href(p, base, apr_pstrcat(p, "/people/contacts?groupId=", g->id, NULL)));
    json_object_set_new(links, "subscribeToGroupPresence",
                        href(p, base, apr_pstrcat(p, "/people/presenceSubscriptions?groupId=",
                                                  g->id, NULL)));
    json_object_set_new(o, "_links", links);
    json_object_set_new(o, "rel", json_string(ucwa_people_group_rel(g->kind)));
    json_object_set_new(o, "etag", json_string(ucwa_people_etag(p, o)));
    return o;
}

json_t *ucwa_people_groups(apr_pool_t *p, const char *base, const ucwa_group *groups, int n,
                           int expand)
{
    json_t *o = mob_json_own(p, json_object()), *links = json_object();
    json_t *emb = json_object(), *custom = json_array();
    int i;

    json_object_set_new(links, "self", href(p, base, "/people/groups"));
    for (i = 0; i < n; i++) {
        const ucwa_group *g = &groups[i];
        if (g->kind == UCWA_GROUP_KIND_CUSTOM) {
            json_array_append_new(custom, expand ? json_incref(ucwa_people_group(p, base, g))
                                                 : href(p, base, group_sub(p, g->id)));
        }
        else if (expand) {
            json_object_set_new(emb, ucwa_people_group_rel(g->kind),
                                json_incref(ucwa_people_group(p, base, g)));
        }
        else {
            json_object_set_new(links, ucwa_people_group_rel(g->kind),
                                href(p, base, group_sub(p, g->id)));
        }
    }
    if (expand) {
        json_object_set_new(emb, "group", custom);
        json_object_set_new(emb, "distributionGroup", json_array());
        json_object_set_new(o, "_links", links);
        json_object_set_new(o, "_embedded", emb);
    }
    else {
        json_object_set_new(links, "group", custom);
        json_object_set_new(o, "_links", links);
        json_decref(emb);
    }
    json_object_set_new(o, "rel", json_string("myGroups"));
    return o;
}

json_t *ucwa_people_membership(apr_pool_t *p, const char *base, const ucwa_membership *m,
                               ucwa_group_kind kind)
{
    json_t *o = mob_json_own(p, json_object()), *links = json_object();

    json_object_set_new(links, "self", href(p, base, apr_pstrcat(p, "/people/groupMemberships/",
                                                                 m->group_id, "/", m->contact,
                                                                 NULL)));
    json_object_set_new(links, "contact", href(p, base, contact_sub(p, m->contact, NULL)));
    json_object_set_new(links, ucwa_people_group_rel(kind), href(p, base, group_sub(p, m->group_id)));
    json_object_set_new(o, "_links", links);
    json_object_set_new(o, "rel", json_string("myGroupMembership"));
    return o;
}

json_t *ucwa_people_memberships(apr_pool_t *p, const char *base, const char *group_id,
                                const ucwa_membership *ms, const ucwa_group_kind *kinds,
                                int n)
{
    json_t *o = mob_json_own(p, json_object()), *links = json_object(), *arr = json_array();
    int i;

    json_object_set_new(links, "self", href(p, base, group_id
        ? apr_pstrcat(p, "/people/groupMemberships?groupId=", group_id, NULL)
        : "/people/groupMemberships"));
    json_object_set_new(links, "removeContactFromAllGroups",
                        href(p, base, "/people/groupMemberships/removeContactFromAllGroups"));
    for (i = 0; i < n; i++) {
        json_array_append_new(arr, json_incref(ucwa_people_membership(p, base, &ms[i], kinds[i])));
    }
    json_object_set_new(o, "_links", links);
    json_object_set_new(o, "_embedded", json_pack("{s:o}", "myGroupMembership", arr));
    json_object_set_new(o, "rel", json_string("myGroupMemberships"));
    return o;
}

json_t *ucwa_people_search(apr_pool_t *p, const char *base, const char *query,
                           const char *limit, const ucwa_person *list, int n, int more)
{
    json_t *o = mob_json_own(p, json_object()), *arr = json_array();
    const char *self = apr_pstrcat(p, "/people/search?query=", mob_form_escape(p, query),
                                   limit ? "&limit=" : "",
                                   limit ? mob_form_escape(p, limit) : "", NULL);
    int i;

    json_object_set_new(o, "moreResultsAvailable", json_boolean(more));
    json_object_set_new(o, "_links", json_pack("{s:o}", "self", href(p, base, self)));
    for (i = 0; i < n; i++) {
        json_array_append_new(arr, json_incref(ucwa_people_contact(p, base, &list[i])));
    }
    json_object_set_new(o, "_embedded", json_pack("{s:o,s:[]}", "contact", arr,
                                                  "distributionGroup"));
    json_object_set_new(o, "rel", json_string("search"));
    return o;
}

static json_t *sub_resource(apr_pool_t *p, json_t *o, const char *base, const char *sip,
                            const char *what, const char *rel)
{
    json_object_set_new(o, "_links", json_pack("{s:o}", "self",
                                               href(p, base, contact_sub(p, sip, what))));
    json_object_set_new(o, "rel", json_string(rel));
    return mob_json_own(p, o);
}

json_t *ucwa_people_presence(apr_pool_t *p, const char *base, const char *sip,
                             const ucwa_contact_presence *pr, int iso)
{
    json_t *o = json_object();

    json_object_set_new(o, "availability", json_string(pr->availability));
    set_str(o, "activity", pr->activity);
    json_object_set_new(o, "deviceType", json_string(pr->device_type));
    if (pr->last_active > 0) {
        if (iso) {
            apr_time_exp_t t;
            apr_time_exp_gmt(&t, pr->last_active);
            json_object_set_new(o, "lastActive", json_string(apr_psprintf(
                p, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec)));
        }
        else {
            json_object_set_new(o, "lastActive", json_string(apr_psprintf(
                p, "/Date(%" APR_INT64_T_FMT ")/", (apr_int64_t)apr_time_as_msec(pr->last_active))));
        }
    }
    return sub_resource(p, o, base, sip, "presence", "contactPresence");
}

json_t *ucwa_people_note(apr_pool_t *p, const char *base, const char *sip, const char *note)
{
    json_t *o = json_object();

    if (note && *note) {
        json_object_set_new(o, "message", json_string(note));
        json_object_set_new(o, "type", json_string("Personal"));
    }
    return sub_resource(p, o, base, sip, "note", "contactNote");
}

json_t *ucwa_people_location(apr_pool_t *p, const char *base, const char *sip,
                             const char *location)
{
    json_t *o = json_object();

    set_str(o, "location", location);
    return sub_resource(p, o, base, sip, "location", "contactLocation");
}

json_t *ucwa_people_phones(apr_pool_t *p, const char *base, const ucwa_person *me)
{
    const struct {
        const char *number, *type;
    } numbers[] = {
        { me->work_phone, "Work" }, { me->mobile_phone, "Mobile" },
        { me->home_phone, "Home" }, { me->other_phone, "Other" },
    };
    json_t *list = json_array();
    size_t i;

    for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        if (numbers[i].number && *numbers[i].number) {
            /* the work number is on the contact card the directory publishes */
            json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:s}", "number",
                                                  numbers[i].number, "type", numbers[i].type,
                                                  "includeInContactCard", i == 0, "rel",
                                                  "phone"));
        }
    }
    return mob_json_own(p, json_pack("{s:{s:{s:s}},s:{s:o},s:s}", "_links", "self", "href",
                                     apr_pstrcat(p, base, "/me/phones", NULL), "_embedded",
                                     "phone", list, "rel", "phones"));
}

json_t *ucwa_people_media(apr_pool_t *p, const char *base, const char *sip,
                          apr_uint32_t modalities)
{
    json_t *o = json_object(), *mods = json_array();

    if (modalities & UCWA_MOD_MESSAGING) {
        json_array_append_new(mods, json_string("Messaging"));
    }
    if (modalities & UCWA_MOD_AUDIO) {
        json_array_append_new(mods, json_string("Audio"));
    }
    if (modalities & UCWA_MOD_VIDEO) {
        json_array_append_new(mods, json_string("Video"));
    }
    json_object_set_new(o, "modalities", mods);
    return sub_resource(p, o, base, sip, "supportedMedia", "contactSupportedModalities");
}

json_t *ucwa_people_privacy(apr_pool_t *p, const char *base, const char *sip, int colleague)
{
    json_t *o = json_pack("{s:s}", "relationshipLevel", colleague ? "Colleagues" : "External");

    return sub_resource(p, o, base, sip, "privacyRelationship", "contactPrivacyRelationship");
}

/* --- events ----------------------------------------------------------------------- */

int ucwa_people_event(apr_pool_t *p, const char *rel, const char *sub, const char *in_rel,
                      const char *in_sub, const char *type, ucwa_event *out)
{
    json_t *e = mob_json_own(p, json_object());

    json_object_set_new(e, "link", json_pack("{s:s,s:s}", "rel", rel, "href", sub));
    if (in_rel) {
        json_object_set_new(e, "in", json_pack("{s:s,s:s}", "rel", in_rel, "href", in_sub));
    }
    json_object_set_new(e, "type", json_string(type));
    return ucwa_event_from_json(p, "people", "/people", e, out);
}
