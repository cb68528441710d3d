/* mob_discovery: the root, user and domain resources, parsed back from all four
 * renderings (libxml2 for XML, jansson for JSON) as a client would read them. */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "unit.h"
#include "mob_discovery.h"
#include "mob_json.h"

#define UCWA_NS "http://schemas.microsoft.com/rtc/2012/03/ucwa"
#define ROOT    MOB_AD_ROOT_PATH
#define P1_INT  "https://pool01.contoso.test"
#define P1_EXT  "https://webext.contoso.test"
#define P2_INT  "https://pool02.contoso.test:4443"
#define P2_EXT  "https://webext2.contoso.test"
#define DIR_INT "https://dir01.contoso.test"
#define DIR_EXT "https://dirext.contoso.test"
#define OD      "?originalDomain=contoso.test"

static mob_topology *topo;
static const mob_pool *pool01, *pool02, *dir01;

static const char *add_pool(const char *fqdn, int argc, const char *const argv[])
{
    return mob_topology_add_pool(topo, pool, fqdn, argc, (char *const *)argv);
}

/* pool01 (mcx, external SIP access), pool02 (custom SIP port, no mcx), a Director. */
static void setup(void)
{
    static const char *const a1[] = {
        "role=FrontEnd", "internal=" P1_INT, "external=" P1_EXT "/",
        "sip-external=sip.contoso.test:443", "mcx=on" };
    static const char *const a2[] = {
        "role=FrontEnd", "internal=" P2_INT, "external=" P2_EXT,
        "sip-internal=pool02.contoso.test:5062" };
    static const char *const a3[] = {
        "role=Director", "internal=" DIR_INT, "external=" DIR_EXT };

    unit_pool_setup();
    topo = mob_topology_make(pool);
    ck_assert_ptr_null(add_pool("pool01.contoso.test", 5, a1));
    ck_assert_ptr_null(add_pool("pool02.contoso.test", 4, a2));
    ck_assert_ptr_null(add_pool("dir01.contoso.test", 3, a3));
    ck_assert_ptr_null(mob_topology_add_domain(topo, pool, "contoso.test", "dir01.contoso.test"));
    ck_assert_ptr_null(mob_topology_check(topo, pool));
    pool01 = mob_topology_pool(topo, "pool01.contoso.test");
    pool02 = mob_topology_pool(topo, "pool02.contoso.test");
    dir01 = mob_topology_pool(topo, "dir01.contoso.test");
}

static mob_discovery_req req(const mob_pool *local, mob_site site, const char *domain)
{
    mob_discovery_req q;

    q.local = local;
    q.site = site;
    q.domain = domain;
    return q;
}

static const char *base_of(const mob_pool *p, mob_site site)
{
    return site == MOB_SITE_INTERNAL ? p->internal_url : p->external_url;
}

static const char *site_name(mob_site site)
{
    return site == MOB_SITE_INTERNAL ? "Internal" : "External";
}

static const char *render(const mob_doc *d, mob_format f, apr_size_t *len)
{
    apr_size_t n = 0;
    const char *s = mob_discovery_render(pool, d, f, &n);

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(n, strlen(s));
    if (len) {
        *len = n;
    }
    return s;
}

/* ---- XML ---- */

static apr_status_t free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

static xmlNodePtr xml_root(const mob_doc *d, mob_format f)
{
    apr_size_t len;
    const char *s = render(d, f, &len);
    xmlDocPtr doc = xmlReadMemory(s, (int)len, "discovery.xml", NULL, XML_PARSE_NONET);

    ck_assert_msg(doc != NULL, "not well-formed XML: %s", s);
    apr_pool_cleanup_register(pool, doc, free_doc, apr_pool_cleanup_null);
    ck_assert_ptr_nonnull(xmlDocGetRootElement(doc));
    return xmlDocGetRootElement(doc);
}

static const char *attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    const char *out = v ? apr_pstrdup(pool, (const char *)v) : NULL;

    xmlFree(v);
    return out;
}

static int is_element(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && (!name || !strcmp((const char *)n->name, name));
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    xmlNodePtr c;

    for (c = parent->children; c; c = c->next) {
        if (is_element(c, name)) {
            return c;
        }
    }
    return NULL;
}

static int count_children(xmlNodePtr parent, const char *name)
{
    xmlNodePtr c;
    int n = 0;

    for (c = parent->children; c; c = c->next) {
        n += is_element(c, name);
    }
    return n;
}

/* The href of the one child <el key=value href=.../>, or NULL if there is none. */
static const char *xml_href(xmlNodePtr parent, const char *el, const char *key,
                            const char *value)
{
    xmlNodePtr c;
    const char *found = NULL;

    for (c = parent->children; c; c = c->next) {
        const char *v;
        if (is_element(c, el) && (v = attr(c, key)) != NULL && !strcmp(v, value)) {
            ck_assert_msg(found == NULL, "two <%s %s=\"%s\">", el, key, value);
            found = attr(c, "href");
            ck_assert_ptr_nonnull(found);
        }
    }
    return found;
}

/* The MS-OCDISCWS body (<Root>, <User>, <Domain>) after checking the envelope. */
static xmlNodePtr ad_body(const mob_doc *d, const char *kind, mob_site site)
{
    xmlNodePtr root = xml_root(d, MOB_FMT_AD_XML), body;

    ck_assert_str_eq((const char *)root->name, "AutodiscoverResponse");
    ck_assert_str_eq(attr(root, "AccessLocation"), site_name(site));
    body = child(root, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq((const char *)body->name, kind);
    ck_assert_int_eq(count_children(root, NULL), 1);
    return body;
}

static const char *ad_link(xmlNodePtr body, const char *token)
{
    return xml_href(body, "Link", "token", token);
}

static void ad_access(xmlNodePtr body, const char *element, const char *fqdn, const char *port)
{
    xmlNodePtr a = child(body, element);

    ck_assert_msg(a != NULL, "no <%s>", element);
    ck_assert_int_eq(count_children(body, element), 1);
    ck_assert_str_eq(attr(a, "fqdn"), fqdn);
    ck_assert_str_eq(attr(a, "port"), port);
}

/* The UCWA <resource> after checking its namespace, rel and href. */
static xmlNodePtr ucwa_resource(const mob_doc *d, const char *rel, const char *href)
{
    xmlNodePtr r = xml_root(d, MOB_FMT_UCWA_XML);

    ck_assert_str_eq((const char *)r->name, "resource");
    ck_assert_ptr_nonnull(r->ns);
    ck_assert_str_eq((const char *)r->ns->href, UCWA_NS);
    ck_assert_str_eq(attr(r, "rel"), rel);
    ck_assert_str_eq(attr(r, "href"), href);
    return r;
}

static const char *ucwa_link(xmlNodePtr r, const char *rel)
{
    return xml_href(r, "link", "rel", rel);
}

/* ---- JSON ---- */

static json_t *json_doc(const mob_doc *d, mob_format f)
{
    apr_size_t len;
    const char *s = render(d, f, &len);
    json_error_t err;
    json_t *j = mob_json_own(pool, json_loadb(s, len, 0, &err));

    ck_assert_msg(j != NULL, "not JSON (%s): %s", err.text, s);
    ck_assert(json_is_object(j));
    return j;
}

static const char *hal_href(json_t *doc, const char *rel)
{
    json_t *links = json_object_get(doc, "_links"), *l;

    ck_assert_ptr_nonnull(links);
    l = json_object_get(links, rel);
    return l ? json_string_value(json_object_get(l, "href")) : NULL;
}

/* The MS-OCDISCWS JSON body ("Root", "User", "Domain") after checking AccessLocation. */
static json_t *adj_body(const mob_doc *d, const char *kind, mob_site site)
{
    json_t *doc = json_doc(d, MOB_FMT_AD_JSON), *body;

    ck_assert_str_eq(json_string_value(json_object_get(doc, "AccessLocation")), site_name(site));
    body = json_object_get(doc, kind);
    ck_assert_msg(json_is_object(body), "no \"%s\" object", kind);
    ck_assert(json_is_array(json_object_get(body, "Links")));
    return body;
}

static const char *adj_link(json_t *body, const char *token)
{
    json_t *links = json_object_get(body, "Links"), *l;
    const char *found = NULL;
    size_t i;

    json_array_foreach(links, i, l) {
        if (!strcmp(json_string_value(json_object_get(l, "token")), token)) {
            ck_assert_msg(found == NULL, "two links \"%s\"", token);
            found = json_string_value(json_object_get(l, "href"));
        }
    }
    return found;
}

static void adj_access(json_t *body, const char *element, const char *fqdn, int port)
{
    json_t *a = json_object_get(body, element);

    ck_assert_msg(a != NULL, "no \"%s\"", element);
    ck_assert_str_eq(json_string_value(json_object_get(a, "fqdn")), fqdn);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "port")), port);
}

#define STREQ_OR_NULL(got, want) \
    ck_assert_msg((got) && !strcmp((got), (want)), "got '%s', want '%s'", \
                  (got) ? (got) : "(none)", (want))

/* ---- tests ---- */

START_TEST(root)
{
    mob_site site = (mob_site)_i;
    mob_discovery_req q = req(pool01, site, "contoso.test");
    const char *base = base_of(pool01, site);
    const char *self = apr_pstrcat(pool, base, ROOT, OD, NULL);
    const char *oauth = apr_pstrcat(pool, base, ROOT "/oauth/user" OD, NULL);
    const char *xframe = apr_pstrcat(pool, base, MOB_AD_XFRAME_PATH, NULL);
    mob_doc *d = mob_discovery_root(pool, &q);
    xmlNodePtr body, r;
    json_t *j;

    j = json_doc(d, MOB_FMT_HAL_JSON);
    STREQ_OR_NULL(hal_href(j, "self"), self);
    STREQ_OR_NULL(hal_href(j, "user"), oauth);
    STREQ_OR_NULL(hal_href(j, "xframe"), xframe);

    body = ad_body(d, "Root", site);
    STREQ_OR_NULL(ad_link(body, "Self"), self);
    STREQ_OR_NULL(ad_link(body, "Domain"), apr_pstrcat(pool, base, ROOT "/domain" OD, NULL));
    STREQ_OR_NULL(ad_link(body, "User"), apr_pstrcat(pool, base, ROOT "/user" OD, NULL));
    STREQ_OR_NULL(ad_link(body, "OAuth"), oauth);
    STREQ_OR_NULL(ad_link(body, "XFrame"), xframe);
    ck_assert_int_eq(count_children(body, "Link"), 5);
    ck_assert_int_eq(count_children(body, NULL), 5);

    j = adj_body(d, "Root", site);
    STREQ_OR_NULL(adj_link(j, "Self"), self);
    STREQ_OR_NULL(adj_link(j, "User"), apr_pstrcat(pool, base, ROOT "/user" OD, NULL));
    STREQ_OR_NULL(adj_link(j, "OAuth"), oauth);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "Links")), 5);

    r = ucwa_resource(d, "root", self);
    STREQ_OR_NULL(ucwa_link(r, "user"), oauth);
    STREQ_OR_NULL(ucwa_link(r, "xframe"), xframe);
}
END_TEST

START_TEST(root_without_domain)
{
    mob_discovery_req q = req(pool01, MOB_SITE_EXTERNAL, NULL);
    mob_doc *d = mob_discovery_root(pool, &q);
    int f;

    ck_assert_str_eq(d->self, P1_EXT ROOT);
    STREQ_OR_NULL(ad_link(ad_body(d, "Root", MOB_SITE_EXTERNAL), "User"), P1_EXT ROOT "/user");
    for (f = MOB_FMT_HAL_JSON; f <= MOB_FMT_UCWA_XML; f++) {
        ck_assert_ptr_null(strstr(render(d, (mob_format)f, NULL), "originalDomain"));
    }
}
END_TEST

/* Homed here: the applications and xframe links are on the EXTERNAL web FQDN whichever site the
 * request used (UCWA always hairpins through the reverse proxy). */
START_TEST(user_home_here)
{
    mob_site site = (mob_site)(_i & 1);
    int oauth = _i >> 1;
    mob_discovery_req q = req(pool01, site, "contoso.test");
    const char *base = base_of(pool01, site);
    const char *self = apr_pstrcat(pool, base, ROOT, oauth ? "/oauth/user" : "/user", OD, NULL);
    const char *apps = P1_EXT MOB_UCWA_OAUTH_APPS;
    mob_doc *d = mob_discovery_user(pool, &q, pool01, oauth);
    xmlNodePtr body, r;
    json_t *j;

    j = json_doc(d, MOB_FMT_HAL_JSON);
    STREQ_OR_NULL(hal_href(j, "self"), self);
    STREQ_OR_NULL(hal_href(j, "applications"), apps);
    STREQ_OR_NULL(hal_href(j, "xframe"), P1_EXT MOB_AD_XFRAME_PATH);   /* applications' origin */
    ck_assert_ptr_null(hal_href(j, "redirect"));

    body = ad_body(d, "User", site);
    ad_access(body, "SipClientInternalAccess", "pool01.contoso.test", "5061");
    ad_access(body, "SipServerInternalAccess", "pool01.contoso.test", "5061");
    ad_access(body, "SipClientExternalAccess", "sip.contoso.test", "443");
    STREQ_OR_NULL(ad_link(body, "Internal/Autodiscover"), P1_INT ROOT);
    STREQ_OR_NULL(ad_link(body, "External/Autodiscover"), P1_EXT ROOT);
    STREQ_OR_NULL(ad_link(body, "Internal/Ucwa"), P1_INT MOB_UCWA_APPS);
    STREQ_OR_NULL(ad_link(body, "External/Ucwa"), P1_EXT MOB_UCWA_APPS);
    STREQ_OR_NULL(ad_link(body, "Ucwa"), P1_EXT MOB_UCWA_APPS);
    STREQ_OR_NULL(ad_link(body, "Internal/Mcx"), P1_INT MOB_MCX_PATH);
    STREQ_OR_NULL(ad_link(body, "External/Mcx"), P1_EXT MOB_MCX_PATH);
    STREQ_OR_NULL(ad_link(body, "XFrame"), P1_EXT MOB_AD_XFRAME_PATH);
    STREQ_OR_NULL(ad_link(body, "Self"), self);
    ck_assert_ptr_null(ad_link(body, "Redirect"));

    j = adj_body(d, "User", site);
    adj_access(j, "SipClientInternalAccess", "pool01.contoso.test", 5061);
    adj_access(j, "SipClientExternalAccess", "sip.contoso.test", 443);
    STREQ_OR_NULL(adj_link(j, "Ucwa"), P1_EXT MOB_UCWA_APPS);
    STREQ_OR_NULL(adj_link(j, "Self"), self);
    ck_assert_ptr_null(adj_link(j, "Redirect"));

    r = ucwa_resource(d, "user", self);
    STREQ_OR_NULL(ucwa_link(r, "applications"), apps);
    ck_assert_ptr_null(ucwa_link(r, "redirect"));
}
END_TEST

/* Homed on another pool: only a Redirect to the home pool's user resource on the same
 * kind of site, nothing that would let the client sign in here. */
static void check_redirect(const mob_pool *local, const mob_pool *home, mob_site site, int oauth)
{
    mob_discovery_req q = req(local, site, "contoso.test");
    const char *sub = oauth ? "/oauth/user" : "/user";
    const char *self = apr_pstrcat(pool, base_of(local, site), ROOT, sub, OD, NULL);
    const char *to = apr_pstrcat(pool, base_of(home, site), ROOT, sub, OD, NULL);
    mob_doc *d = mob_discovery_user(pool, &q, home, oauth);
    xmlNodePtr body, r;
    json_t *j;

    j = json_doc(d, MOB_FMT_HAL_JSON);
    STREQ_OR_NULL(hal_href(j, "self"), self);
    STREQ_OR_NULL(hal_href(j, "redirect"), to);
    ck_assert_ptr_null(hal_href(j, "applications"));

    body = ad_body(d, "User", site);
    STREQ_OR_NULL(ad_link(body, "Redirect"), to);
    ck_assert_int_eq(count_children(body, NULL), 1);

    j = adj_body(d, "User", site);
    STREQ_OR_NULL(adj_link(j, "Redirect"), to);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "Links")), 1);
    ck_assert_ptr_null(json_object_get(j, "SipClientInternalAccess"));

    r = ucwa_resource(d, "user", self);
    STREQ_OR_NULL(ucwa_link(r, "redirect"), to);
    ck_assert_ptr_null(ucwa_link(r, "applications"));
}

START_TEST(user_home_elsewhere)
{
    check_redirect(pool01, pool02, (mob_site)(_i & 1), _i >> 1);
    check_redirect(pool02, pool01, (mob_site)(_i & 1), _i >> 1);
}
END_TEST

START_TEST(director_always_redirects)
{
    mob_discovery_req q = req(dir01, (mob_site)(_i & 1), NULL);
    mob_doc *d;
    json_t *j;

    check_redirect(dir01, pool01, (mob_site)(_i & 1), _i >> 1);
    check_redirect(dir01, pool02, (mob_site)(_i & 1), _i >> 1);
    /* even a user the directory wrongly homes on the Director gets no sign-in links */
    d = mob_discovery_user(pool, &q, dir01, _i >> 1);
    j = json_doc(d, MOB_FMT_HAL_JSON);
    ck_assert_ptr_nonnull(hal_href(j, "redirect"));
    ck_assert_ptr_null(hal_href(j, "applications"));
    ck_assert_ptr_null(child(ad_body(d, "User", (mob_site)(_i & 1)), "SipClientInternalAccess"));
}
END_TEST

/* pool02: no MCX, SIP on a non-default port, no external SIP access. */
START_TEST(user_pool_settings)
{
    mob_discovery_req q = req(pool02, MOB_SITE_INTERNAL, NULL);
    mob_doc *d = mob_discovery_user(pool, &q, pool02, 1);
    xmlNodePtr body = ad_body(d, "User", MOB_SITE_INTERNAL);
    json_t *j;

    ad_access(body, "SipClientInternalAccess", "pool02.contoso.test", "5062");
    ck_assert_ptr_null(child(body, "SipClientExternalAccess"));
    ck_assert_ptr_null(ad_link(body, "Internal/Mcx"));
    ck_assert_ptr_null(ad_link(body, "External/Mcx"));
    STREQ_OR_NULL(ad_link(body, "Internal/Ucwa"), P2_INT MOB_UCWA_APPS);
    STREQ_OR_NULL(ad_link(body, "Ucwa"), P2_EXT MOB_UCWA_APPS);
    j = json_doc(d, MOB_FMT_HAL_JSON);
    STREQ_OR_NULL(hal_href(j, "applications"), P2_EXT MOB_UCWA_OAUTH_APPS);
    STREQ_OR_NULL(hal_href(j, "self"), P2_INT ROOT "/oauth/user");
}
END_TEST

START_TEST(domain)
{
    mob_site site = (mob_site)_i;
    mob_discovery_req q = req(dir01, site, "contoso.test");
    const char *self = apr_pstrcat(pool, base_of(dir01, site), ROOT "/domain" OD, NULL);
    mob_doc *d = mob_discovery_domain(pool, &q, pool01);
    xmlNodePtr body;
    json_t *j;

    j = json_doc(d, MOB_FMT_HAL_JSON);
    STREQ_OR_NULL(hal_href(j, "self"), self);

    /* it describes the pool that serves the domain, from wherever it was asked */
    body = ad_body(d, "Domain", site);
    ad_access(body, "SipClientInternalAccess", "pool01.contoso.test", "5061");
    ad_access(body, "SipClientExternalAccess", "sip.contoso.test", "443");
    STREQ_OR_NULL(ad_link(body, "Internal/Autodiscover"), P1_INT ROOT);
    STREQ_OR_NULL(ad_link(body, "External/Autodiscover"), P1_EXT ROOT);
    STREQ_OR_NULL(ad_link(body, "Internal/AuthBroker"), P1_INT "/Reach/sip.svc");
    STREQ_OR_NULL(ad_link(body, "External/Ucwa"), P1_EXT MOB_UCWA_APPS);
    /* the user-only services are not given to anonymous callers */
    ck_assert_ptr_null(ad_link(body, "Internal/Mcx"));
    ck_assert_ptr_null(ad_link(body, "External/WebScheduler"));
    ck_assert_ptr_null(ad_link(body, "XFrame"));
    ck_assert_ptr_null(ad_link(body, "Ucwa"));

    j = adj_body(d, "Domain", site);
    adj_access(j, "SipClientInternalAccess", "pool01.contoso.test", 5061);
    STREQ_OR_NULL(adj_link(j, "External/Ucwa"), P1_EXT MOB_UCWA_APPS);

    ucwa_resource(d, "domain", self);
}
END_TEST

/* The domain comes from the client: it must be percent-encoded in every href. */
START_TEST(original_domain_escaped)
{
    static const char raw[] = "con to&so.test/x?y=\"<z>";
    static const char esc[] = "?originalDomain=con%20to%26so.test%2Fx%3Fy%3D%22%3Cz%3E";
    mob_discovery_req q = req(pool01, MOB_SITE_EXTERNAL, raw);
    mob_doc *docs[3];
    int i;

    docs[0] = mob_discovery_root(pool, &q);
    docs[1] = mob_discovery_user(pool, &q, pool02, 0);
    docs[2] = mob_discovery_domain(pool, &q, pool01);
    ck_assert_str_eq(mob_discovery_href(pool, P1_EXT, "/user", raw),
                     apr_pstrcat(pool, P1_EXT ROOT "/user", esc, NULL));
    ck_assert_str_eq(mob_discovery_href(pool, P1_EXT, "", NULL), P1_EXT ROOT);

    STREQ_OR_NULL(hal_href(json_doc(docs[0], MOB_FMT_HAL_JSON), "user"),
                  apr_pstrcat(pool, P1_EXT ROOT "/oauth/user", esc, NULL));
    STREQ_OR_NULL(ad_link(ad_body(docs[0], "Root", MOB_SITE_EXTERNAL), "Domain"),
                  apr_pstrcat(pool, P1_EXT ROOT "/domain", esc, NULL));
    STREQ_OR_NULL(adj_link(adj_body(docs[1], "User", MOB_SITE_EXTERNAL), "Redirect"),
                  apr_pstrcat(pool, P2_EXT ROOT "/user", esc, NULL));
    STREQ_OR_NULL(ucwa_link(ucwa_resource(docs[1], "user",
                                          apr_pstrcat(pool, P1_EXT ROOT "/user", esc, NULL)),
                            "redirect"),
                  apr_pstrcat(pool, P2_EXT ROOT "/user", esc, NULL));
    /* and nothing of the raw value leaks into any rendering */
    for (i = 0; i < 3; i++) {
        int f;
        for (f = MOB_FMT_HAL_JSON; f <= MOB_FMT_UCWA_XML; f++) {
            const char *s = render(docs[i], (mob_format)f, NULL);
            ck_assert_ptr_null(strstr(s, "con to"));
            ck_assert_ptr_null(strstr(s, "<z>"));
        }
    }
}
END_TEST

/* Every resource in every format parses, and says which site answered. */
START_TEST(all_well_formed)
{
    int s, f, i;

    for (s = MOB_SITE_INTERNAL; s <= MOB_SITE_EXTERNAL; s++) {
        mob_discovery_req q = req(pool01, (mob_site)s, "contoso.test");
        mob_doc *docs[] = {
            mob_discovery_root(pool, &q), mob_discovery_user(pool, &q, pool01, 0),
            mob_discovery_user(pool, &q, pool01, 1), mob_discovery_user(pool, &q, pool02, 1),
            mob_discovery_domain(pool, &q, pool02),
        };
        for (i = 0; i < (int)(sizeof(docs) / sizeof(docs[0])); i++) {
            for (f = MOB_FMT_HAL_JSON; f <= MOB_FMT_UCWA_XML; f++) {
                if (f == MOB_FMT_AD_XML || f == MOB_FMT_UCWA_XML) {
                    xml_root(docs[i], (mob_format)f);
                }
                else {
                    json_doc(docs[i], (mob_format)f);
                }
            }
            ck_assert_str_eq(attr(xml_root(docs[i], MOB_FMT_AD_XML), "AccessLocation"),
                             site_name((mob_site)s));
        }
    }
    /* MOB_FMT_NONE never reaches render, but must not crash if it does */
    render(mob_discovery_root(pool, &(mob_discovery_req){ pool01, MOB_SITE_INTERNAL, NULL }),
           MOB_FMT_NONE, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("discovery");
    int rc;

    xmlInitParser();
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    /* _i: 0 internal, 1 external site; +2 for the /oauth/user form */
    tcase_add_loop_test(tc, root, 0, 2);
    tcase_add_test(tc, root_without_domain);
    tcase_add_loop_test(tc, user_home_here, 0, 4);
    tcase_add_loop_test(tc, user_home_elsewhere, 0, 4);
    tcase_add_loop_test(tc, director_always_redirects, 0, 4);
    tcase_add_test(tc, user_pool_settings);
    tcase_add_loop_test(tc, domain, 0, 2);
    tcase_add_test(tc, original_domain_escaped);
    tcase_add_test(tc, all_well_formed);
    suite_add_tcase(s, tc);
    rc = unit_run("test_discovery", s);
    xmlCleanupParser();
    return rc;
}
