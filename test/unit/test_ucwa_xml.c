/* ucwa_xml: the UCWA XML representation (resources, events, errors) and the parser of
 * XML input, with its refusals of hostile documents. Output is checked by parsing it
 * back with libxml2. */
#include <time.h>
#include <apr_tables.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "unit.h"
#include "mob_json.h"
#include "ucwa_xml.h"

#define NS UCWA_XML_NS
#define A "/ucwa/oauth/v1/applications/105"

/* ---------------------------------------------------------------------------------- */
/* helpers */

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *j = mob_json_own(pool, json_loads(text, JSON_DECODE_ANY, &err));

    ck_assert_msg(j != NULL, "bad test JSON: %s at %d", err.text, err.position);
    return j;
}

static apr_status_t free_doc(void *d)
{
    xmlFreeDoc(d);
    return APR_SUCCESS;
}

/* s parsed back (it must be well-formed), its root checked for name and namespace. */
static xmlNode *parse_back(const char *s, apr_size_t len, const char *root_name)
{
    xmlDocPtr doc;
    xmlNode *root;

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, strlen(s));
    ck_assert_int_eq(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38), 0);
    doc = xmlReadMemory(s, (int)len, "out.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    ck_assert_msg(doc != NULL, "output not well-formed:\n%s", s);
    apr_pool_cleanup_register(pool, doc, free_doc, apr_pool_cleanup_null);
    root = xmlDocGetRootElement(doc);
    ck_assert_str_eq((const char *)root->name, root_name);
    ck_assert_ptr_nonnull(root->ns);
    ck_assert_str_eq((const char *)root->ns->href, NS);
    return root;
}

/* attribute value (pool copy), NULL when absent */
static const char *attr(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    const char *s = v ? apr_pstrdup(pool, (const char *)v) : NULL;

    xmlFree(v);
    return s;
}

static const char *text(xmlNode *n)
{
    xmlChar *v = xmlNodeGetContent(n);
    const char *s = apr_pstrdup(pool, v ? (const char *)v : "");

    xmlFree(v);
    return s;
}

/* the i-th element child (0-based), NULL past the end */
static xmlNode *child(xmlNode *n, int i)
{
    for (n = n->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && i-- == 0) {
            return n;
        }
    }
    return NULL;
}

static int nchildren(xmlNode *n)
{
    int k = 0;

    while (child(n, k)) {
        k++;
    }
    return k;
}

/* the first element child named elem whose attribute key is value */
static xmlNode *find(xmlNode *n, const char *elem, const char *key, const char *value)
{
    for (n = n->children; n; n = n->next) {
        const char *v;
        if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, elem)
            && (v = attr(n, key)) && !strcmp(v, value)) {
            return n;
        }
    }
    return NULL;
}

static void has_link(xmlNode *res, const char *rel, const char *href)
{
    xmlNode *l = find(res, "link", "rel", rel);

    ck_assert_msg(l != NULL, "no link %s", rel);
    ck_assert_str_eq(attr(l, "href"), href);
    ck_assert_int_eq(nchildren(l), 0);
}

static void has_property(xmlNode *res, const char *name, const char *value)
{
    xmlNode *pr = find(res, "property", "name", name);

    ck_assert_msg(pr != NULL, "no property %s", name);
    ck_assert_str_eq(text(pr), value);
}

/* element child names in order, joined by ' ' */
static const char *names_of(xmlNode *n)
{
    const char *s = "";
    xmlNode *c;
    int i;

    for (i = 0; (c = child(n, i)) != NULL; i++) {
        s = apr_pstrcat(pool, s, i ? " " : "", (const char *)c->name, NULL);
    }
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* resources */

/* the application resource of the reference, §5.1 (ids shortened as there) */
static const char application_json[] =
    "{\"culture\":\"en-US\",\"userAgent\":\"UCWA Samples\","
    " \"_links\":{"
    "  \"self\":{\"href\":\"" A "\"},"
    "  \"policies\":{\"href\":\"" A "/policies\"},"
    "  \"batch\":{\"href\":\"" A "/batch\"},"
    "  \"events\":{\"href\":\"" A "/events?ack=1\"}},"
    " \"_embedded\":{"
    "  \"me\":{\"name\":\"Lene Aaling\",\"uri\":\"sip:lenea@contoso.com\","
    "   \"_links\":{\"self\":{\"href\":\"" A "/me\"},"
    "    \"makeMeAvailable\":{\"href\":\"" A "/me/makeMeAvailable\"},"
    "    \"callForwardingSettings\":{\"href\":\"" A "/me/callForwardingSettings\"},"
    "    \"phones\":{\"href\":\"" A "/me/phones\"},"
    "    \"photo\":{\"href\":\"" A "/photos/lenea@contoso.com\"}},"
    "   \"rel\":\"me\"},"
    "  \"people\":{\"_links\":{\"self\":{\"href\":\"" A "/people\"},"
    "    \"presenceSubscriptions\":{\"href\":\"" A "/people/presenceSubscriptions\"},"
    "    \"subscribedContacts\":{\"href\":\"" A "/people/subscribedContacts\"},"
    "    \"presenceSubscriptionMemberships\":{\"href\":\"" A "/people/presenceSubscriptionMemberships\"},"
    "    \"myGroups\":{\"href\":\"" A "/people/groups\"},"
    "    \"myGroupMemberships\":{\"href\":\"" A "/people/groupMemberships\"},"
    "    \"myContacts\":{\"href\":\"" A "/people/contacts\"},"
    "    \"myPrivacyRelationships\":{\"href\":\"" A "/people/privacyRelationships\"},"
    "    \"myContactsAndGroupsSubscription\":{\"href\":\"" A "/people/contactsAndGroupsSubscription\"},"
    "    \"search\":{\"href\":\"" A "/people/search\"}},"
    "   \"rel\":\"people\"},"
    "  \"onlineMeetings\":{\"_links\":{\"self\":{\"href\":\"" A "/onlineMeetings\"},"
    "    \"myOnlineMeetings\":{\"href\":\"" A "/onlineMeetings/myOnlineMeetings\"},"
    "    \"onlineMeetingDefaultValues\":{\"href\":\"" A "/onlineMeetings/defaultValues\"},"
    "    \"onlineMeetingEligibleValues\":{\"href\":\"" A "/onlineMeetings/eligibleValues\"},"
    "    \"onlineMeetingInvitationCustomization\":{\"href\":\"" A "/onlineMeetings/customInvitation\"},"
    "    \"onlineMeetingPolicies\":{\"href\":\"" A "/onlineMeetings/policies\"},"
    "    \"phoneDialInInformation\":{\"href\":\"" A "/onlineMeetings/phoneDialInInformation\"},"
    "    \"myAssignedOnlineMeeting\":{\"href\":\"" A "/onlineMeetings/myOnlineMeetings/1XAW22CG\"}},"
    "   \"rel\":\"onlineMeetings\"},"
    "  \"communication\":{"
    "   \"4d221db7-4af0-476b-9443-8bc874283085\":\"please pass this in a PUT request\","
    "   \"supportedModalities\":[],\"supportedMessageFormats\":[\"Plain\"],"
    "   \"_links\":{\"self\":{\"href\":\"" A "/communication\"},"
    "    \"conversations\":{\"href\":\"" A "/communication/conversations?filter=active\"},"
    "    \"startMessaging\":{\"href\":\"" A "/communication/messagingInvitations\"},"
    "    \"startOnlineMeeting\":{\"href\":\"" A "/communication/onlineMeetingInvitations?onlineMeetingUri=adhoc\"},"
    "    \"joinOnlineMeeting\":{\"href\":\"" A "/communication/onlineMeetingInvitations\"}},"
    "   \"rel\":\"communication\",\"etag\":\"3140562359\"}},"
    " \"rel\":\"application\"}";

START_TEST(application_resource)
{
    apr_size_t len;
    const char *s = ucwa_xml_resource(pool, J(application_json), &len);
    xmlNode *root = parse_back(s, len, "resource"), *me, *comm, *l;

    ck_assert_str_eq(attr(root, "rel"), "application");
    ck_assert_str_eq(attr(root, "href"), A);
    /* links first (self is the root's href), then properties, then embedded */
    ck_assert_str_eq(names_of(root), "link link link property property "
                                     "resource resource resource resource");
    ck_assert_ptr_null(find(root, "link", "rel", "self"));
    has_link(root, "policies", A "/policies");
    has_link(root, "batch", A "/batch");
    has_link(root, "events", A "/events?ack=1");
    ck_assert_ptr_null(attr(find(root, "link", "rel", "events"), "title"));
    has_property(root, "culture", "en-US");
    has_property(root, "userAgent", "UCWA Samples");
    ck_assert_ptr_null(find(root, "property", "name", "rel"));

    /* embedded, in order, each with its rel and self href and its own links */
    ck_assert_str_eq(attr(child(root, 5), "rel"), "me");
    ck_assert_str_eq(attr(child(root, 6), "rel"), "people");
    ck_assert_str_eq(attr(child(root, 7), "rel"), "onlineMeetings");
    ck_assert_str_eq(attr(child(root, 8), "rel"), "communication");
    me = find(root, "resource", "rel", "me");
    ck_assert_str_eq(attr(me, "href"), A "/me");
    ck_assert_str_eq(names_of(me), "link link link link property property");
    has_link(me, "photo", A "/photos/lenea@contoso.com");
    has_property(me, "name", "Lene Aaling");
    has_property(me, "uri", "sip:lenea@contoso.com");
    ck_assert_int_eq(nchildren(find(root, "resource", "rel", "people")), 9);
    ck_assert_int_eq(nchildren(find(root, "resource", "rel", "onlineMeetings")), 7);

    comm = find(root, "resource", "rel", "communication");
    ck_assert_str_eq(attr(comm, "href"), A "/communication");
    ck_assert_str_eq(names_of(comm), "link link link link property propertyList "
                                     "propertyList property");
    has_link(comm, "startOnlineMeeting",
             A "/communication/onlineMeetingInvitations?onlineMeetingUri=adhoc");
    /* the GUID-named PUT property: any string is a fine attribute value */
    has_property(comm, "4d221db7-4af0-476b-9443-8bc874283085",
                 "please pass this in a PUT request");
    has_property(comm, "etag", "3140562359");
    l = find(comm, "propertyList", "name", "supportedModalities");
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(nchildren(l), 0);
    l = find(comm, "propertyList", "name", "supportedMessageFormats");
    ck_assert_int_eq(nchildren(l), 1);
    ck_assert_str_eq((const char *)child(l, 0)->name, "item");
    ck_assert_str_eq(text(child(l, 0)), "Plain");
    /* the namespace is declared once, on the root */
    ck_assert_ptr_nonnull(strstr(s, "xmlns=\"" NS "\""));
    ck_assert_ptr_null(strstr(strstr(s, "xmlns=") + 1, "xmlns="));
}
END_TEST

START_TEST(scalar_properties)
{
    apr_size_t len;
    const char *s = ucwa_xml_resource(pool, J(
        "{\"rel\":\"contact\",\"_links\":{\"self\":{\"href\":\"/c\"}},"
        " \"yes\":true,\"no\":false,\"n\":42,\"neg\":-7,\"big\":9007199254740993,"
        " \"half\":0.5,\"whole\":3.0,\"tiny\":1e-7,\"gone\":null,\"empty\":\"\","
        " \"list\":[\"a\",1,true,null,\"b\"]}"), &len);
    xmlNode *root = parse_back(s, len, "resource"), *l;

    has_property(root, "yes", "true");
    has_property(root, "no", "false");
    has_property(root, "n", "42");
    has_property(root, "neg", "-7");
    has_property(root, "big", "9007199254740993");
    has_property(root, "half", "0.5");
    has_property(root, "whole", "3");
    has_property(root, "tiny", "1e-07");
    has_property(root, "empty", "");
    ck_assert_ptr_null(find(root, "property", "name", "gone"));
    l = find(root, "propertyList", "name", "list");
    ck_assert_str_eq(names_of(l), "item item item item");   /* null item left out */
    ck_assert_str_eq(text(child(l, 1)), "1");
    ck_assert_str_eq(text(child(l, 2)), "true");
    ck_assert_str_eq(text(child(l, 3)), "b");
    ck_assert_str_eq(names_of(root), "property property property property property "
                                     "property property property property propertyList");
}
END_TEST

/* array-valued rels give one link each, titles kept (even empty), extra scalars too */
START_TEST(link_arrays)
{
    apr_size_t len;
    const char *s = ucwa_xml_resource(pool, J(
        "{\"rel\":\"conversation\",\"_links\":{\"self\":{\"href\":\"/conv/1\"},"
        " \"participant\":[{\"href\":\"/p/alice\",\"title\":\"Alice\"},"
        "                  {\"href\":\"/p/bob\",\"title\":\"\"}],"
        " \"contact\":[],"
        " \"onlineMeeting\":{\"href\":\"/om\",\"revision\":2},"
        " \"broken\":{\"title\":\"no href\"},"
        " \"xmlns\":{\"href\":\"/odd\",\"xmlns\":\"urn:x\",\"bad name\":\"v\"}}}"), &len);
    xmlNode *root = parse_back(s, len, "resource"), *l;

    ck_assert_str_eq(names_of(root), "link link link link");
    l = child(root, 0);
    ck_assert_str_eq(attr(l, "rel"), "participant");
    ck_assert_str_eq(attr(l, "href"), "/p/alice");
    ck_assert_str_eq(attr(l, "title"), "Alice");
    l = child(root, 1);
    ck_assert_str_eq(attr(l, "href"), "/p/bob");
    ck_assert_str_eq(attr(l, "title"), "");
    l = child(root, 2);
    ck_assert_str_eq(attr(l, "rel"), "onlineMeeting");
    ck_assert_str_eq(attr(l, "revision"), "2");
    /* a rel is only an attribute value; a key that is no (or a reserved) XML name is
     * not made an attribute */
    l = child(root, 3);
    ck_assert_str_eq(attr(l, "rel"), "xmlns");
    ck_assert_ptr_null(l->properties->next->next);
    ck_assert_ptr_null(l->nsDef);
}
END_TEST

/* _embedded arrays give several resources; rel falls back to the _embedded key */
START_TEST(embedded_arrays)
{
    apr_size_t len;
    const char *s = ucwa_xml_resource(pool, J(
        "{\"rel\":\"search\",\"_links\":{\"self\":{\"href\":\"/s?q=a\"}},"
        " \"_embedded\":{\"contact\":[{\"rel\":\"contact\",\"name\":\"A\","
        "                               \"_links\":{\"self\":{\"href\":\"/c/a\"}}},"
        "                              {\"name\":\"B\",\"_links\":{\"self\":{\"href\":\"/c/b\"}}},"
        "                              \"not a resource\"],"
        "   \"nested\":{\"rel\":\"outer\",\"_links\":{\"self\":{\"href\":\"/o\"}},"
        "     \"_embedded\":{\"inner\":{\"rel\":\"inner\",\"_links\":{\"self\":{\"href\":\"/o/i\"}},"
        "       \"k\":\"v\"}}}}}"), &len);
    xmlNode *root = parse_back(s, len, "resource"), *r;

    ck_assert_str_eq(names_of(root), "resource resource resource");
    ck_assert_str_eq(attr(child(root, 0), "rel"), "contact");
    ck_assert_str_eq(attr(child(root, 0), "href"), "/c/a");
    has_property(child(root, 0), "name", "A");
    ck_assert_str_eq(attr(child(root, 1), "rel"), "contact");
    ck_assert_str_eq(attr(child(root, 1), "href"), "/c/b");
    r = child(root, 2);
    ck_assert_str_eq(attr(r, "rel"), "outer");
    r = child(r, 0);
    ck_assert_str_eq((const char *)r->name, "resource");
    ck_assert_str_eq(attr(r, "rel"), "inner");
    ck_assert_str_eq(attr(r, "href"), "/o/i");
    has_property(r, "k", "v");
}
END_TEST

/* a plain object value is a property holding a property bag */
START_TEST(nested_objects)
{
    apr_size_t len;
    const char *s = ucwa_xml_resource(pool, J(
        "{\"rel\":\"x\",\"_links\":{\"self\":{\"href\":\"/x\"}},"
        " \"reason\":{\"code\":\"Gone\",\"subcode\":\"Removed\",\"n\":1,"
        "            \"list\":[\"a\",{\"k\":\"v\"},[\"p\",\"q\"]],"
        "            \"inner\":{\"deep\":true},"
        "            \"_links\":{\"self\":{\"href\":\"/r\"}},\"rel\":\"plain\"}}"), &len);
    xmlNode *root = parse_back(s, len, "resource"), *r, *l, *it;

    r = find(root, "property", "name", "reason");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(names_of(r), "link property property property propertyList "
                                  "property property");
    has_link(r, "self", "/r");
    has_property(r, "code", "Gone");
    has_property(r, "subcode", "Removed");
    has_property(r, "n", "1");
    has_property(r, "rel", "plain");
    has_property(find(r, "property", "name", "inner"), "deep", "true");
    l = find(r, "propertyList", "name", "list");
    ck_assert_str_eq(names_of(l), "item item item");
    ck_assert_str_eq(text(child(l, 0)), "a");
    it = child(l, 1);
    has_property(it, "k", "v");
    it = child(l, 2);
    ck_assert_str_eq(names_of(it), "item item");
    ck_assert_str_eq(text(child(it, 1)), "q");
}
END_TEST

#define NASTY "a<b>c&d\"e'f]]>g&amp;h\r\n\ti"

/* <>&" in values, names and hrefs: escaped on output, read back unchanged */
START_TEST(escaping)
{
    apr_size_t len;
    json_t *res = J("{\"rel\":\"r\",\"_links\":{}}");
    xmlNode *root;
    const char *s;

    json_object_set_new(res, "rel", json_string(NASTY));
    json_object_set_new(json_object_get(res, "_links"), "self",
                        json_pack("{s:s}", "href", "/x?a=1&b=<2>&c=\"3\""));
    json_object_set_new(json_object_get(res, "_links"), "plainMessage",
                        json_pack("{s:s,s:s}", "href", "data:text/plain,Hi+<b>&amp;",
                                  "title", NASTY));
    json_object_set_new(res, NASTY, json_string(NASTY));
    json_object_set_new(res, "list", json_pack("[s]", NASTY));
    s = ucwa_xml_resource(pool, res, &len);
    root = parse_back(s, len, "resource");
    ck_assert_str_eq(attr(root, "rel"), NASTY);
    ck_assert_str_eq(attr(root, "href"), "/x?a=1&b=<2>&c=\"3\"");
    ck_assert_str_eq(attr(child(root, 0), "href"), "data:text/plain,Hi+<b>&amp;");
    ck_assert_str_eq(attr(child(root, 0), "title"), NASTY);
    has_property(root, NASTY, NASTY);
    ck_assert_str_eq(text(child(find(root, "propertyList", "name", "list"), 0)), NASTY);
    /* and none of it raw in the document */
    ck_assert_ptr_null(strstr(s, "<b>"));
    ck_assert_ptr_null(strstr(s, "&b="));
    ck_assert_ptr_null(strstr(s, "\"3\""));
    ck_assert_ptr_nonnull(strstr(s, "&amp;amp;"));
}
END_TEST

/* characters XML 1.0 cannot carry become U+FFFD; the document stays well-formed */
START_TEST(unrepresentable_characters)
{
    apr_size_t len;
    json_t *res = J("{\"rel\":\"r\",\"_links\":{\"self\":{\"href\":\"/r\"}}}");
    const char *s;
    xmlNode *root;

    json_object_set_new(res, "ctl", json_string("a\x01" "b\x1f" "c\x7f" "d"));
    json_object_set_new(res, "nul", json_stringn("x\0y", 3));
    json_object_set_new(res, "nonchar", json_string("\xef\xbf\xbe\xef\xbf\xbf"));
    json_object_set_new(res, "ok", json_string("\xf0\x9f\x98\x80\xe2\x82\xac\t"));
    json_object_set_new(res, "key\x02", json_true());
    s = ucwa_xml_resource(pool, res, &len);
    root = parse_back(s, len, "resource");
    has_property(root, "ctl", "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\x7f" "d");
    has_property(root, "nul", "x\xef\xbf\xbdy");
    has_property(root, "nonchar", "\xef\xbf\xbd\xef\xbf\xbd");
    has_property(root, "ok", "\xf0\x9f\x98\x80\xe2\x82\xac\t");
    has_property(root, "key\xef\xbf\xbd", "true");
}
END_TEST

START_TEST(resource_refused)
{
    json_t *deep = J("{\"rel\":\"r\"}"), *o = deep;
    int i;

    ck_assert_ptr_null(ucwa_xml_resource(pool, NULL, NULL));
    ck_assert_ptr_null(ucwa_xml_resource(pool, J("[1]"), NULL));
    ck_assert_ptr_null(ucwa_xml_resource(pool, J("\"s\""), NULL));
    for (i = 0; i < 40; i++) {
        json_t *n = json_object();
        json_object_set_new(o, "p", n);
        o = n;
    }
    ck_assert_ptr_null(ucwa_xml_resource(pool, deep, NULL));
    /* no rel, no self: a bare <resource>, fine */
    ck_assert_ptr_nonnull(ucwa_xml_resource(pool, J("{\"p\":1}"), NULL));
}
END_TEST

/* ---------------------------------------------------------------------------------- */
/* events */

#define E A "/events"
#define CONV A "/communication/conversations/eee0"

static const char events_json[] =
    "{\"_links\":{\"self\":{\"href\":\"" E "?ack=2\"},\"next\":{\"href\":\"" E "?ack=3\"}},"
    " \"sender\":["
    "  {\"rel\":\"communication\",\"href\":\"" A "/communication\",\"events\":["
    "    {\"link\":{\"rel\":\"conversation\",\"href\":\"" CONV "\"},"
    "     \"_embedded\":{\"conversation\":{\"state\":\"Connecting\",\"subject\":\"\","
    "       \"_links\":{\"self\":{\"href\":\"" CONV "\"},"
    "         \"messaging\":{\"href\":\"" CONV "/messaging\"}},\"rel\":\"conversation\"}},"
    "     \"type\":\"added\"},"
    "    {\"link\":{\"rel\":\"messagingInvitation\",\"href\":\"" A "/communication/messagingInvitations/7\"},"
    "     \"status\":\"Failure\","
    "     \"reason\":{\"code\":\"Forbidden\",\"subcode\":\"Declined\",\"message\":\"No <thanks> & bye\"},"
    "     \"type\":\"completed\"}]},"
    "  {\"rel\":\"conversation\",\"href\":\"" CONV "\",\"events\":["
    "    {\"link\":{\"rel\":\"participant\",\"href\":\"" CONV "/participants/bob@contoso.com\",\"title\":\"\"},"
    "     \"in\":{\"rel\":\"typingParticipants\",\"href\":\"" CONV "/messaging/typingParticipants\"},"
    "     \"type\":\"added\"},"
    "    {\"link\":{\"rel\":\"message\",\"href\":\"" CONV "/messaging/messages/2\"},"
    "     \"status\":\"Success\","
    "     \"_embedded\":{\"message\":{\"direction\":\"Incoming\",\"timeStamp\":\"2013-11-07T00:41:10Z\","
    "       \"_links\":{\"self\":{\"href\":\"" CONV "/messaging/messages/2\"},"
    "         \"participant\":{\"href\":\"" CONV "/participants/bob@contoso.com\",\"title\":\"Bob\"},"
    "         \"plainMessage\":{\"href\":\"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a\"}},"
    "       \"rel\":\"message\"}},"
    "     \"type\":\"completed\"}]},"
    "  {\"rel\":\"me\",\"href\":\"" A "/me\",\"events\":["
    "    {\"link\":{\"rel\":\"presence\",\"href\":\"" A "/me/presence\"},\"type\":\"updated\"}]},"
    "  {\"rel\":\"communication\",\"href\":\"" A "/communication\",\"events\":["
    "    {\"link\":{\"rel\":\"conversation\",\"href\":\"" CONV "\"},\"type\":\"deleted\"},"
    "    {\"link\":{\"rel\":\"messagingInvitation\",\"href\":\"" A "/communication/messagingInvitations/8\"},"
    "     \"type\":\"started\"}]}]}";

START_TEST(events_package)
{
    apr_size_t len;
    const char *s = ucwa_xml_events(pool, J(events_json), &len);
    xmlNode *root = parse_back(s, len, "events"), *snd, *ev, *n;

    ck_assert_str_eq(attr(root, "href"), E "?ack=2");
    ck_assert_str_eq(names_of(root), "link sender sender sender sender");
    has_link(root, "next", E "?ack=3");
    /* senders in order, the repeated one kept in its place */
    ck_assert_str_eq(attr(child(root, 1), "rel"), "communication");
    ck_assert_str_eq(attr(child(root, 2), "rel"), "conversation");
    ck_assert_str_eq(attr(child(root, 2), "href"), CONV);
    ck_assert_str_eq(attr(child(root, 3), "rel"), "me");
    ck_assert_str_eq(attr(child(root, 4), "rel"), "communication");

    snd = child(root, 1);
    ck_assert_str_eq(names_of(snd), "added completed");
    ev = child(snd, 0);
    ck_assert_str_eq(attr(ev, "rel"), "conversation");
    ck_assert_str_eq(attr(ev, "href"), CONV);
    ck_assert_ptr_null(attr(ev, "status"));
    n = child(ev, 0);
    ck_assert_str_eq((const char *)n->name, "resource");
    ck_assert_str_eq(attr(n, "rel"), "conversation");
    ck_assert_str_eq(attr(n, "href"), CONV);
    has_link(n, "messaging", CONV "/messaging");
    has_property(n, "state", "Connecting");
    has_property(n, "subject", "");
    ev = child(snd, 1);
    ck_assert_str_eq(attr(ev, "status"), "Failure");
    n = child(ev, 0);
    ck_assert_str_eq((const char *)n->name, "reason");
    ck_assert_str_eq(names_of(n), "code subcode message");
    ck_assert_str_eq(text(child(n, 0)), "Forbidden");
    ck_assert_str_eq(text(child(n, 1)), "Declined");
    ck_assert_str_eq(text(child(n, 2)), "No <thanks> & bye");

    snd = child(root, 2);
    ck_assert_str_eq(names_of(snd), "added completed");
    ev = child(snd, 0);
    ck_assert_str_eq(attr(ev, "rel"), "participant");
    ck_assert_str_eq(attr(ev, "title"), "");
    n = child(ev, 0);
    ck_assert_str_eq((const char *)n->name, "in");
    ck_assert_str_eq(attr(n, "rel"), "typingParticipants");
    ck_assert_str_eq(attr(n, "href"), CONV "/messaging/typingParticipants");
    ev = child(snd, 1);
    ck_assert_str_eq(attr(ev, "status"), "Success");
    n = child(ev, 0);
    ck_assert_str_eq(attr(n, "rel"), "message");
    has_property(n, "direction", "Incoming");
    has_link(n, "plainMessage", "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a");
    ck_assert_str_eq(attr(find(n, "link", "rel", "participant"), "title"), "Bob");

    ck_assert_str_eq(names_of(child(root, 3)), "updated");
    ck_assert_int_eq(nchildren(child(child(root, 3), 0)), 0);
    ck_assert_str_eq(names_of(child(root, 4)), "deleted started");
}
END_TEST

START_TEST(events_special_links)
{
    apr_size_t len;
    const char *s;
    xmlNode *root;

    /* an empty package: links only, no sender */
    s = ucwa_xml_events(pool, J("{\"_links\":{\"self\":{\"href\":\"" E "?ack=5\"},"
                                "\"next\":{\"href\":\"" E "?ack=6\"}},\"sender\":[]}"), &len);
    root = parse_back(s, len, "events");
    ck_assert_str_eq(names_of(root), "link");
    has_link(root, "next", E "?ack=6");

    s = ucwa_xml_events(pool, J("{\"_links\":{\"self\":{\"href\":\"" E "?ack=9\"},"
                                "\"resync\":{\"href\":\"" E "?ack=4\"}}}"), &len);
    root = parse_back(s, len, "events");
    ck_assert_str_eq(names_of(root), "link");
    has_link(root, "resync", E "?ack=4");

    s = ucwa_xml_events(pool, J("{\"_links\":{\"self\":{\"href\":\"" E "?ack=1\"},"
                                "\"resume\":{\"href\":\"" E "?ack=2\"},"
                                "\"next\":{\"href\":\"" E "?ack=2\"}},"
                                "\"sender\":[{\"rel\":\"me\",\"href\":\"/me\",\"events\":[]}]}"),
                        &len);
    root = parse_back(s, len, "events");
    ck_assert_str_eq(names_of(root), "link link sender");
    has_link(root, "resume", E "?ack=2");
    has_link(root, "next", E "?ack=2");
    ck_assert_int_eq(nchildren(child(root, 2)), 0);
}
END_TEST

START_TEST(events_refused)
{
    ck_assert_ptr_null(ucwa_xml_events(pool, NULL, NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool, J("[]"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool, J("{\"sender\":{}}"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool, J("{\"sender\":[1]}"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool, J("{\"sender\":[{\"events\":{}}]}"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool, J("{\"sender\":[{\"events\":[{}]}]}"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool,
        J("{\"sender\":[{\"events\":[{\"type\":\"up dated\"}]}]}"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool,
        J("{\"sender\":[{\"events\":[{\"type\":\"<x>\"}]}]}"), NULL));
    ck_assert_ptr_null(ucwa_xml_events(pool,
        J("{\"sender\":[{\"events\":[{\"type\":\"xmlns\"}]}]}"), NULL));
    ck_assert_ptr_nonnull(ucwa_xml_events(pool,
        J("{\"sender\":[{\"events\":[{\"type\":\"updated\"}]}]}"), NULL));
}
END_TEST

/* ---------------------------------------------------------------------------------- */
/* errors */

START_TEST(error_body)
{
    apr_size_t len;
    const char *s = ucwa_xml_error(pool, "NotFound", "ApplicationNotFound",
                                   "An error <occurred> & \"so\"", &len);
    xmlNode *root = parse_back(s, len, "reason");

    ck_assert_str_eq(names_of(root), "code subcode message");
    ck_assert_str_eq(text(child(root, 0)), "NotFound");
    ck_assert_str_eq(text(child(root, 1)), "ApplicationNotFound");
    ck_assert_str_eq(text(child(root, 2)), "An error <occurred> & \"so\"");

    s = ucwa_xml_error(pool, "Conflict", NULL, NULL, &len);
    root = parse_back(s, len, "reason");
    ck_assert_str_eq(names_of(root), "code");
    ck_assert_str_eq(text(child(root, 0)), "Conflict");

    s = ucwa_xml_error(pool, "Gone", NULL, "bad \xff byte", &len);
    root = parse_back(s, len, "reason");
    ck_assert_str_eq(names_of(root), "code message");
    ck_assert_str_eq(text(child(root, 1)), "bad \xef\xbf\xbd byte");

    ck_assert_ptr_null(ucwa_xml_error(pool, NULL, "x", "y", NULL));
}
END_TEST

/* ---------------------------------------------------------------------------------- */
/* input */

static json_t *input(const char *xml, const char **why)
{
    *why = "untouched";
    return ucwa_xml_input(pool, xml, strlen(xml), why);
}

/* xml refused, the reason containing frag */
#define REFUSED(xml, frag)                                                              \
    do {                                                                                \
        const char *why_;                                                               \
        json_t *j_ = input((xml), &why_);                                               \
        ck_assert_msg(j_ == NULL, "accepted: %s", (xml));                               \
        ck_assert_msg(why_ && strstr(why_, (frag)), "reason '%s', want '%s'", why_, (frag)); \
    } while (0)

static void accepted(const char *xml, const char *want_json)
{
    const char *why;
    json_t *j = input(xml, &why);

    ck_assert_msg(j != NULL, "refused (%s): %s", why, xml);
    ck_assert_ptr_null(why);
    ck_assert_msg(json_equal(j, J(want_json)), "got %s, want %s",
                  mob_json_dump(pool, j, NULL), want_json);
}

START_TEST(input_basic)
{
    accepted("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
             "<input xmlns=\"" NS "\">\n"
             "  <property name=\"userAgent\">UCWA Samples</property>\n"
             "  <property name=\"endpointId\">a917c6f4-976c-4cf3-847d-cdfffa28ccdf</property>\n"
             "  <property name=\"culture\">en-US</property>\n"
             "</input>\n",
             "{\"userAgent\":\"UCWA Samples\","
             "\"endpointId\":\"a917c6f4-976c-4cf3-847d-cdfffa28ccdf\",\"culture\":\"en-US\"}");
    accepted("<input xmlns=\"" NS "\"><property name=\"signInAs\">Online</property>"
             "<propertyList name=\"SupportedModalities\"><item>Messaging</item>"
             "<item>PhoneAudio</item></propertyList>"
             "<propertyList name=\"empty\"/><propertyList name=\"blank\">\n </propertyList>"
             "</input>",
             "{\"signInAs\":\"Online\",\"SupportedModalities\":[\"Messaging\",\"PhoneAudio\"],"
             "\"empty\":[],\"blank\":[]}");
    /* no namespace, or a prefixed one, is fine */
    accepted("<input><property name=\"a\">1</property></input>", "{\"a\":\"1\"}");
    accepted("<u:input xmlns:u=\"" NS "\"><u:property name=\"a\">1</u:property>"
             "<property name=\"b\">2</property></u:input>", "{\"a\":\"1\",\"b\":\"2\"}");
    /* values as sent: whitespace kept, empty allowed, predefined entities, character
     * references and CDATA decoded */
    accepted("<input><property name=\"note\"> Out &amp; about &lt;3 &#x263A;&#10;</property>"
             "<property name=\"e\"/><property name=\"c\"><![CDATA[<b>&amp;</b>]]>!</property>"
             "<property name=\"q&quot;&apos;&gt;\">x</property></input>",
             "{\"note\":\" Out & about <3 \\u263a\\n\",\"e\":\"\",\"c\":\"<b>&amp;</b>!\","
             "\"q\\\"'>\":\"x\"}");
    /* links, embedded resources, comments and PIs carry no input */
    accepted("<?xml version=\"1.0\"?><!-- c --><?pi x?><input xmlns=\"" NS "\"><!-- c -->"
             "<link rel=\"self\" href=\"/x\"/><resource rel=\"r\" href=\"/r\">"
             "<property name=\"ignored\">1</property></resource><?pi?>"
             "<property name=\"a\"><!-- c -->1<?pi?>2</property></input><!-- end -->",
             "{\"a\":\"12\"}");
    /* a UTF-8 BOM; an encoding declaration is ignored (the bytes are UTF-8) */
    accepted("\xef\xbb\xbf<input><property name=\"a\">\xc3\xa9</property></input>",
             "{\"a\":\"\\u00e9\"}");
    accepted("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
             "<input><property name=\"a\">\xc3\xa9</property></input>",
             "{\"a\":\"\\u00e9\"}");
    /* the GUID-named PUT property */
    accepted("<input><property name=\"4d221db7-4af0-476b-9443-8bc874283085\">"
             "please pass this in a PUT request</property></input>",
             "{\"4d221db7-4af0-476b-9443-8bc874283085\":\"please pass this in a PUT request\"}");
    accepted("<input/>", "{}");
}
END_TEST

START_TEST(input_why_optional)
{
    ck_assert_ptr_null(ucwa_xml_input(pool, "<x/>", 4, NULL));
    ck_assert_ptr_nonnull(ucwa_xml_input(pool, "<input/>", 8, NULL));
    /* a PUT's resource sent back, as the reference's samples do: links and embedded
     * resources ignored */
    {
        const char *put = "<resource xmlns=\"" UCWA_XML_NS "\" rel=\"x\" href=\"/x\">"
                          "<link rel=\"self\" href=\"/x\"/><property name=\"ringDelay\">7"
                          "</property><resource rel=\"y\"><property name=\"a\">b</property>"
                          "</resource></resource>";
        json_t *o = ucwa_xml_input(pool, put, strlen(put), NULL);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(json_object_size(o), 1);
        ck_assert_str_eq(json_string_value(json_object_get(o, "ringDelay")), "7");
    }
    /* not NUL-terminated: only len bytes are read */
    ck_assert_ptr_nonnull(ucwa_xml_input(pool, "<input/>garbage", 8, NULL));
}
END_TEST

/* the classic exponential entity expansion: refused at the DOCTYPE, at once */
START_TEST(input_billion_laughs)
{
    const char *bomb =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE input [\n"
        " <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
        " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
        " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
        " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
        " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
        "]>\n"
        "<input xmlns=\"" NS "\"><property name=\"a\">&lol9;</property>"
        "<propertyList name=\"b\"><item>&lol9;</item></propertyList></input>";
    clock_t t0 = clock();

    REFUSED(bomb, "DTD");
    ck_assert_msg(clock() - t0 < CLOCKS_PER_SEC / 2, "too slow: expanded?");
    /* quadratic blow-up: one big entity used many times */
    REFUSED(apr_pstrcat(pool, "<!DOCTYPE input [<!ENTITY a \"", unit_repeat("x", 20000),
                        "\">]><input><property name=\"a\">",
                        unit_repeat("&a;", 1000), "</property></input>", NULL), "DTD");
}
END_TEST

START_TEST(input_external_entities)
{
    /* XXE: a file, a URL, a parameter entity, in content and in an attribute */
    REFUSED("<?xml version=\"1.0\"?><!DOCTYPE input [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
            "<input xmlns=\"" NS "\"><property name=\"note\">&xxe;</property></input>", "DTD");
    REFUSED("<!DOCTYPE input [<!ENTITY xxe SYSTEM \"http://127.0.0.1:1/x\">]>"
            "<input><property name=\"&xxe;\">x</property></input>", "DTD");
    REFUSED("<!DOCTYPE input [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><input/>", "DTD");
    /* an external DTD, with or without an internal subset, and an empty one */
    REFUSED("<!DOCTYPE input SYSTEM \"file:///etc/passwd\"><input/>", "DTD");
    REFUSED("<!DOCTYPE input PUBLIC \"-//x//y\" \"http://127.0.0.1:1/dtd\"><input/>", "DTD");
    REFUSED("<!DOCTYPE input []><input/>", "DTD");
    REFUSED("<!DOCTYPE input><input/>", "DTD");
    /* an entity the document never declared */
    REFUSED("<input><property name=\"a\">&xxe;</property></input>", "entity");
    REFUSED("<input><property name=\"&xxe;\">a</property></input>", "entity");
    REFUSED("<input>&xxe;</input>", "entity");
    /* the same with libxml2's process-wide defaults set to substitute entities and
     * load external DTDs, as another module in httpd might have left them */
    {
        int old_subst = xmlSubstituteEntitiesDefault(1);
        int old_load = xmlLoadExtDtdDefaultValue;

        xmlLoadExtDtdDefaultValue = XML_DETECT_IDS | XML_COMPLETE_ATTRS;
        REFUSED("<!DOCTYPE input [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
                "<input><property name=\"a\">&xxe;</property></input>", "DTD");
        REFUSED("<input><property name=\"a\">&xxe;</property></input>", "entity");
        accepted("<input><property name=\"a\">&amp;</property></input>", "{\"a\":\"&\"}");
        xmlSubstituteEntitiesDefault(old_subst);
        xmlLoadExtDtdDefaultValue = old_load;
    }
    /* XInclude is not processed: just an unknown element */
    REFUSED("<input xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
            "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/></input>", "namespace");
}
END_TEST

START_TEST(input_depth)
{
    int i;
    const char *s;

    /* 32 levels: the parser allows it, the structure does not */
    s = apr_pstrcat(pool, unit_repeat("<input>", 1), unit_repeat("<property name=\"a\">", 31),
                    unit_repeat("</property>", 31), "</input>", NULL);
    REFUSED(s, "element inside a property value");
    /* 33 and far more: stopped by the depth limit */
    s = apr_pstrcat(pool, "<input>", unit_repeat("<property name=\"a\">", 32),
                    unit_repeat("</property>", 32), "</input>", NULL);
    REFUSED(s, "deeper than 32");
    for (i = 33; i <= 9000; i = i * 16) {
        REFUSED(apr_pstrcat(pool, unit_repeat("<a>", i), unit_repeat("</a>", i), NULL),
                "deeper than 32");
    }
    /* unclosed, as deep as the size limit allows */
    REFUSED(unit_repeat("<a>", UCWA_XML_MAX_INPUT / 3), "deeper than 32");
}
END_TEST

static const char *n_properties(int n, const char *elem)
{
    apr_array_header_t *parts = apr_array_make(pool, n + 2, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(parts, const char *) = "<input xmlns=\"" NS "\">";
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(parts, const char *) =
            apr_psprintf(pool, "<%s name=\"p%d\">%s</%s>", elem, i,
                         strcmp(elem, "property") ? "<item>v</item>" : "v", elem);
    }
    APR_ARRAY_PUSH(parts, const char *) = "</input>";
    return apr_array_pstrcat(pool, parts, 0);
}

START_TEST(input_too_many_properties)
{
    const char *why;
    json_t *j;

    j = input(n_properties(256, "property"), &why);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_object_size(j), 256);
    j = input(n_properties(256, "propertyList"), &why);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_object_size(j), 256);
    REFUSED(n_properties(257, "property"), "more than 256 properties");
    REFUSED(n_properties(257, "propertyList"), "more than 256 properties");
    REFUSED(n_properties(1500, "property"), "more than 256 properties");
    /* mixed: 200 + 57 */
    REFUSED(apr_pstrcat(pool, "<input>",
                        unit_repeat("<property name=\"x\">v</property>", 200),
                        unit_repeat("<propertyList name=\"y\"/>", 57), "</input>", NULL),
            "more than 256");
}
END_TEST

START_TEST(input_wrong_root)
{
    REFUSED("<resources xmlns=\"" NS "\" rel=\"x\" href=\"/x\"/>",
            "root element is not input or resource");
    REFUSED("<Input xmlns=\"" NS "\"/>", "root element is not input or resource");
    REFUSED("<Resource xmlns=\"" NS "\"/>", "root element is not input or resource");
    REFUSED("<input xmlns=\"urn:evil\"/>", "namespace");
    REFUSED("<e:input xmlns:e=\"http://schemas.microsoft.com/rtc/2012/03/ucwa/\"/>",
            "namespace");
    REFUSED("<input xmlns=\"" NS "\"><property xmlns=\"urn:evil\" name=\"a\">1</property>"
            "</input>", "namespace");
    /* two roots, or none */
    REFUSED("<input/><input/>", "well-formed");
    REFUSED("<?xml version=\"1.0\"?><!-- only a comment -->", "well-formed");
    REFUSED("just text", "well-formed");
}
END_TEST

START_TEST(input_structure)
{
    REFUSED("<input><property>v</property></input>", "without a name");
    REFUSED("<input><property name=\"\">v</property></input>", "without a name");
    REFUSED("<input><property x:name=\"a\" xmlns:x=\"urn:x\">v</property></input>",
            "without a name");
    REFUSED("<input><property name=\"a\">1</property><property name=\"a\">2</property></input>",
            "duplicate");
    REFUSED("<input><property name=\"userAgent\">1</property>"
            "<propertyList name=\"UserAgent\"/></input>", "duplicate");
    REFUSED("<input><property name=\"a\"><b/></property></input>", "element inside");
    REFUSED("<input><propertyList name=\"a\"><item><b/></item></propertyList></input>",
            "element inside");
    REFUSED("<input><propertyList name=\"a\">text</propertyList></input>", "only item");
    REFUSED("<input><propertyList name=\"a\"><value>1</value></propertyList></input>",
            "only item");
    REFUSED("<input>stray text<property name=\"a\">1</property></input>", "text outside");
    REFUSED("<input><other/></input>", "unexpected element");
    REFUSED("<input><property name=\"a\">1</property><tail/></input>", "unexpected element");
}
END_TEST

START_TEST(input_invalid_utf8)
{
    static const char *const bad[] = {
        "<input><property name=\"a\">\xff</property></input>",
        "<input><property name=\"a\">\xc0\xbc</property></input>",          /* overlong '<' */
        "<input><property name=\"a\">\xe0\x80\xbc</property></input>",
        "<input><property name=\"a\">\xed\xa0\x80</property></input>",      /* surrogate */
        "<input><property name=\"a\">\xf4\x90\x80\x80</property></input>",  /* > U+10FFFF */
        "<input><property name=\"a\">\x80</property></input>",              /* continuation */
        "<input><property name=\"\xc3\">a</property></input>",
        "<input><property name=\"a\">a</property></input>\xe2\x82",         /* cut short */
        "\xfe\xff\x00<\x00i",                                               /* UTF-16 BOM */
    };
    size_t i;
    const char *why;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REFUSED(bad[i], "UTF-8");
    }
    /* UTF-16 without a BOM, and a NUL inside */
    ck_assert_ptr_null(ucwa_xml_input(pool, "<\0i\0n\0p\0u\0t\0/\0>\0", 16, &why));
    ck_assert_str_eq(why, "NUL byte in input");
    ck_assert_ptr_null(ucwa_xml_input(pool, "<input>\0</input>", 16, &why));
    ck_assert_str_eq(why, "NUL byte in input");
    /* a character reference to what XML forbids */
    REFUSED("<input><property name=\"a\">&#0;</property></input>", "well-formed");
    REFUSED("<input><property name=\"a\">&#xD800;</property></input>", "well-formed");
    REFUSED("<input><property name=\"a\">\x01</property></input>", "well-formed");
}
END_TEST

/* every proper prefix of a valid document is refused */
START_TEST(input_truncated)
{
    const char *doc = "<?xml version=\"1.0\" encoding=\"utf-8\"?><input xmlns=\"" NS "\">"
                      "<property name=\"a\">x &amp; y</property><propertyList name=\"b\">"
                      "<item>1</item><!-- c --><item><![CDATA[2]]></item></propertyList></input>";
    size_t n = strlen(doc), i;
    const char *why;

    ck_assert_ptr_nonnull(ucwa_xml_input(pool, doc, n, &why));
    for (i = 0; i < n; i++) {
        why = NULL;
        ck_assert_msg(ucwa_xml_input(pool, doc, i, &why) == NULL, "prefix %zu accepted", i);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(*why != '\0', "no reason for prefix %zu", i);
    }
}
END_TEST

START_TEST(input_size)
{
    const char *head = "<input><property name=\"a\">", *tail = "</property></input>";
    size_t fill = UCWA_XML_MAX_INPUT - strlen(head) - strlen(tail);
    const char *doc = apr_pstrcat(pool, head, unit_repeat("x", (int)fill), tail, NULL);
    const char *why;
    json_t *j;

    ck_assert_uint_eq(strlen(doc), UCWA_XML_MAX_INPUT);
    j = input(doc, &why);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_string_length(json_object_get(j, "a")), fill);
    doc = apr_pstrcat(pool, head, unit_repeat("x", (int)fill + 1), tail, NULL);
    REFUSED(doc, "larger than 65536");
    ck_assert_ptr_null(ucwa_xml_input(pool, "", 0, &why));
    ck_assert_str_eq(why, "empty input");
    ck_assert_ptr_null(ucwa_xml_input(pool, NULL, 5, &why));
    REFUSED(" ", "well-formed");
}
END_TEST

/* the writer's output of what the reader accepted reads back the same */
START_TEST(input_round_trip)
{
    const char *why, *s, *r;
    json_t *j = input("<input><property name=\"x&lt;\">a &amp; &lt;b&gt; \"c\"\r\n</property>"
                      "<propertyList name=\"l\"><item>1</item><item></item></propertyList>"
                      "</input>", &why);
    json_t *back;
    apr_size_t len;

    ck_assert_ptr_nonnull(j);
    s = ucwa_xml_resource(pool, j, &len);
    ck_assert_ptr_nonnull(s);
    r = strstr(s, "<resource");
    ck_assert_ptr_nonnull(r);
    s = apr_pstrcat(pool, "<input", r + strlen("<resource"), NULL);
    r = strstr(s, "</resource>");
    ck_assert_ptr_nonnull(r);
    s = apr_pstrcat(pool, apr_pstrndup(pool, s, (apr_size_t)(r - s)), "</input>", NULL);
    back = input(s, &why);
    ck_assert_msg(back != NULL, "%s: %s", why, s);
    ck_assert(json_equal(j, back));
    /* the parser normalised the line end */
    ck_assert_str_eq(json_string_value(json_object_get(back, "x<")), "a & <b> \"c\"\n");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_xml");
    TCase *out = unit_tcase("output"), *in = unit_tcase("input");

    xmlInitParser();
    tcase_add_test(out, application_resource);
    tcase_add_test(out, scalar_properties);
    tcase_add_test(out, link_arrays);
    tcase_add_test(out, embedded_arrays);
    tcase_add_test(out, nested_objects);
    tcase_add_test(out, escaping);
    tcase_add_test(out, unrepresentable_characters);
    tcase_add_test(out, resource_refused);
    tcase_add_test(out, events_package);
    tcase_add_test(out, events_special_links);
    tcase_add_test(out, events_refused);
    tcase_add_test(out, error_body);
    suite_add_tcase(s, out);

    tcase_add_test(in, input_basic);
    tcase_add_test(in, input_why_optional);
    tcase_add_test(in, input_billion_laughs);
    tcase_add_test(in, input_external_entities);
    tcase_add_test(in, input_depth);
    tcase_add_test(in, input_too_many_properties);
    tcase_add_test(in, input_wrong_root);
    tcase_add_test(in, input_structure);
    tcase_add_test(in, input_invalid_utf8);
    tcase_add_test(in, input_truncated);
    tcase_add_test(in, input_size);
    tcase_add_test(in, input_round_trip);
    suite_add_tcase(s, in);
    return unit_run("test_ucwa_xml", s);
}
