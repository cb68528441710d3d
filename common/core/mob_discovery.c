#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "mob_discovery.h"
#include "mob_form.h"
#include "mob_json.h"
#include "mob_xml.h"
#include "ucwa_xml.h"

static mob_doc *doc_make(apr_pool_t *p, mob_doc_kind kind, mob_site site)
{
    mob_doc *d = apr_pcalloc(p, sizeof(*d));

    d->kind = kind;
    d->site = site;
    d->links = apr_array_make(p, 20, sizeof(mob_link));
    d->access = apr_array_make(p, 4, sizeof(mob_access));
    return d;
}

static void link_add(mob_doc *d, const char *rel, const char *token, const char *href)
{
    mob_link *l = apr_array_push(d->links);

    l->rel = rel;
    l->token = token;
    l->href = href;
}

static void access_add(mob_doc *d, const char *element, mob_hostport at)
{
    mob_access *a;

    if (at.fqdn) {
        a = apr_array_push(d->access);
        a->element = element;
        a->at = at;
    }
}

const char *mob_discovery_href(apr_pool_t *p, const char *base, const char *sub,
                               const char *domain)
{
    return apr_pstrcat(p, base, MOB_AD_ROOT_PATH, sub,
                       domain ? "?originalDomain=" : "",
                       domain ? mob_form_escape(p, domain) : "", NULL);
}

static const char *site_base(const mob_pool *pool, mob_site site)
{
    return site == MOB_SITE_INTERNAL ? pool->internal_url : pool->external_url;
}

mob_doc *mob_discovery_root(apr_pool_t *p, const mob_discovery_req *q)
{
    const char *base = site_base(q->local, q->site);
    mob_doc *d = doc_make(p, MOB_DOC_ROOT, q->site);

    d->self = mob_discovery_href(p, base, "", q->domain);
    link_add(d, "self", "Self", d->self);
    link_add(d, NULL, "Domain", mob_discovery_href(p, base, "/domain", q->domain));
    link_add(d, NULL, "User", mob_discovery_href(p, base, "/user", q->domain));
    link_add(d, "user", "OAuth", mob_discovery_href(p, base, "/oauth/user", q->domain));
    link_add(d, "xframe", "XFrame", apr_pstrcat(p, base, MOB_AD_XFRAME_PATH, NULL));
    return d;
}

/* The service links of a pool, Internal/ and External/ pairs; the mobility services
 * (Ucwa, Mcx, XFrame without a prefix) always on the external web FQDN (hairpin). */
static void pool_links(apr_pool_t *p, mob_doc *d, const mob_pool *pool, int user_doc)
{
    static const struct { const char *token, *path; int user_only; } svc[] = {
        { "Autodiscover", MOB_AD_ROOT_PATH, 0 },
        { "AuthBroker", "/Reach/sip.svc", 0 },
        { "WebScheduler", "/Scheduler", 1 },
        { "Mcx", MOB_MCX_PATH, 1 },
        { "Ucwa", MOB_UCWA_APPS, 0 },
        { "XFrame", MOB_AD_XFRAME_PATH, 1 },
    };
    size_t i;

    for (i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
        if ((svc[i].user_only && !user_doc) || (!strcmp(svc[i].token, "Mcx") && !pool->mcx)) {
            continue;
        }
        link_add(d, NULL, apr_pstrcat(p, "Internal/", svc[i].token, NULL),
                 apr_pstrcat(p, pool->internal_url, svc[i].path, NULL));
        link_add(d, NULL, apr_pstrcat(p, "External/", svc[i].token, NULL),
                 apr_pstrcat(p, pool->external_url, svc[i].path, NULL));
        if (user_doc && (!strcmp(svc[i].token, "Ucwa") || !strcmp(svc[i].token, "XFrame"))) {
            link_add(d, NULL, svc[i].token, apr_pstrcat(p, pool->external_url, svc[i].path, NULL));
        }
    }
}

static void pool_access(mob_doc *d, const mob_pool *pool)
{
    access_add(d, "SipServerInternalAccess", pool->sip_internal);
    access_add(d, "SipClientInternalAccess", pool->sip_internal);
    access_add(d, "SipServerExternalAccess", pool->sip_external);
    access_add(d, "SipClientExternalAccess", pool->sip_external);
}

mob_doc *mob_discovery_user(apr_pool_t *p, const mob_discovery_req *q, const mob_pool *home,
                            int oauth)
{
    const char *base = site_base(q->local, q->site);
    const char *sub = oauth ? "/oauth/user" : "/user";
    mob_doc *d = doc_make(p, MOB_DOC_USER, q->site);

    d->self = mob_discovery_href(p, base, sub, q->domain);
    if (q->local->role == MOB_ROLE_DIRECTOR || home != q->local) {
        /* the client restarts discovery (and sign-in) at its home pool, same site kind */
        link_add(d, "self", NULL, d->self);
        link_add(d, "redirect", "Redirect",
                 mob_discovery_href(p, site_base(home, q->site), sub, q->domain));
        return d;
    }
    link_add(d, "self", NULL, d->self);
    /* the XFrame a browser app switches to must share the applications link's origin:
     * it relays same-origin requests only */
    link_add(d, "applications", NULL, apr_pstrcat(p, home->external_url, MOB_UCWA_OAUTH_APPS, NULL));
    link_add(d, "xframe", NULL, apr_pstrcat(p, home->external_url, MOB_AD_XFRAME_PATH, NULL));
    pool_access(d, home);
    pool_links(p, d, home, 1);
    link_add(d, NULL, "Self", d->self);
    return d;
}

mob_doc *mob_discovery_domain(apr_pool_t *p, const mob_discovery_req *q, const mob_pool *pool)
{
    const char *base = site_base(q->local, q->site);
    mob_doc *d = doc_make(p, MOB_DOC_DOMAIN, q->site);

    d->self = mob_discovery_href(p, base, "/domain", q->domain);
    link_add(d, "self", NULL, d->self);
    pool_access(d, pool);
    pool_links(p, d, pool, 0);
    return d;
}

static const char *kind_name(mob_doc_kind k)
{
    return k == MOB_DOC_ROOT ? "Root" : k == MOB_DOC_USER ? "User" : "Domain";
}

static const char *site_name(mob_site s)
{
    return s == MOB_SITE_INTERNAL ? "Internal" : "External";
}

/* The HAL links of a document; the domain resource names its links by token. */
static json_t *hal_links(apr_pool_t *p, const mob_doc *d)
{
    json_t *links = json_object();
    int i;

    for (i = 0; i < d->links->nelts; i++) {
        const mob_link *l = &APR_ARRAY_IDX(d->links, i, mob_link);
        const char *rel = l->rel;
        if (!rel && d->kind == MOB_DOC_DOMAIN) {
            char *lower = apr_pstrdup(p, l->token), *c;
            for (c = lower; *c; c++) {
                *c = (char)apr_tolower(*c);
            }
            rel = lower;
        }
        if (rel && !json_object_get(links, rel)) {
            json_object_set_new(links, rel, json_pack("{s:s}", "href", l->href));
        }
    }
    return links;
}

static const char *render_hal(apr_pool_t *p, const mob_doc *d, apr_size_t *len)
{
    json_t *doc = mob_json_own(p, json_object());

    json_object_set_new(doc, "_links", hal_links(p, d));
    return mob_json_dump(p, doc, len);
}

/* The UCWA XML form is the HAL document as a UCWA resource: one converter for both. */
static const char *render_ucwa_xml(apr_pool_t *p, const mob_doc *d, apr_size_t *len)
{
    static const char *const rels[] = { "root", "user", "domain" };
    json_t *doc = mob_json_own(p, json_object());

    json_object_set_new(doc, "_links", hal_links(p, d));
    json_object_set_new(doc, "rel", json_string(rels[d->kind]));
    return ucwa_xml_resource(p, doc, len);
}

static const char *render_ad_json(apr_pool_t *p, const mob_doc *d, apr_size_t *len)
{
    json_t *doc = mob_json_own(p, json_object());
    json_t *body = json_object(), *links = json_array();
    int i;

    json_object_set_new(doc, "AccessLocation", json_string(site_name(d->site)));
    json_object_set_new(doc, kind_name(d->kind), body);
    for (i = 0; i < d->access->nelts; i++) {
        const mob_access *a = &APR_ARRAY_IDX(d->access, i, mob_access);
        json_object_set_new(body, a->element,
                            json_pack("{s:s,s:i}", "fqdn", a->at.fqdn, "port", (int)a->at.port));
    }
    for (i = 0; i < d->links->nelts; i++) {
        const mob_link *l = &APR_ARRAY_IDX(d->links, i, mob_link);
        if (l->token) {
            json_array_append_new(links, json_pack("{s:s,s:s}", "token", l->token, "href", l->href));
        }
    }
    json_object_set_new(body, "Links", links);
    return mob_json_dump(p, doc, len);
}

static const char *render_ad_xml(apr_pool_t *p, const mob_doc *d, apr_size_t *len)
{
    mob_xml_writer *xw = mob_xml_writer_create(p);
    xmlTextWriterPtr w;
    int i, rc = 0;

    if (!xw) {
        return NULL;
    }
    w = mob_xml_writer_get(xw);
    rc |= xmlTextWriterStartElement(w, BAD_CAST "AutodiscoverResponse") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:xsd",
                                      BAD_CAST "http://www.w3.org/2001/XMLSchema") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns:xsi",
                                      BAD_CAST "http://www.w3.org/2001/XMLSchema-instance") < 0;
    rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "AccessLocation", BAD_CAST site_name(d->site)) < 0;
    rc |= xmlTextWriterStartElement(w, BAD_CAST kind_name(d->kind)) < 0;
    for (i = 0; i < d->access->nelts; i++) {
        const mob_access *a = &APR_ARRAY_IDX(d->access, i, mob_access);
        rc |= xmlTextWriterStartElement(w, BAD_CAST a->element) < 0;
        rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "fqdn", BAD_CAST a->at.fqdn) < 0;
        rc |= xmlTextWriterWriteFormatAttribute(w, BAD_CAST "port", "%u", (unsigned)a->at.port) < 0;
        rc |= xmlTextWriterEndElement(w) < 0;
    }
    for (i = 0; i < d->links->nelts; i++) {
        const mob_link *l = &APR_ARRAY_IDX(d->links, i, mob_link);
        if (l->token) {
            rc |= xmlTextWriterStartElement(w, BAD_CAST "Link") < 0;
            rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "token", BAD_CAST l->token) < 0;
            rc |= xmlTextWriterWriteAttribute(w, BAD_CAST "href", BAD_CAST l->href) < 0;
            rc |= xmlTextWriterEndElement(w) < 0;
        }
    }
    rc |= xmlTextWriterEndElement(w) < 0;
    rc |= xmlTextWriterEndElement(w) < 0;
    return rc ? NULL : mob_xml_writer_finish(xw, len);
}

const char *mob_discovery_render(apr_pool_t *p, const mob_doc *d, mob_format f,
                                 apr_size_t *len)
{
    switch (f) {
    case MOB_FMT_AD_XML:
        return render_ad_xml(p, d, len);
    case MOB_FMT_AD_JSON:
        return render_ad_json(p, d, len);
    case MOB_FMT_UCWA_XML:
        return render_ucwa_xml(p, d, len);
    case MOB_FMT_HAL_JSON:
    default:
        return render_hal(p, d, len);
    }
}
