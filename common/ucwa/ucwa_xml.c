#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "mob_json.h"
#include "mob_xml.h"
#include "mob_xml_read.h"
#include "ucwa_xml.h"

/* ------------------------------------------------------------------------------------
 * Output
 */

#define MAX_NESTING 32

typedef struct {
    apr_pool_t *p;
    xmlTextWriterPtr x;
    int depth;
} wctx;

static const char *json_text(wctx *c, const json_t *j)
{
    return mob_xml_clean(c->p, json_string_value(j), json_string_length(j));
}

/* A real as the shortest decimal that reads back the same; integral values (below
 * 2^53) without a fraction. */
static const char *real_text(apr_pool_t *p, double v)
{
    char buf[40];
    int prec;
    char *s;

    if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && (double)(long long)v == v) {
        snprintf(buf, sizeof(buf), "%lld", (long long)v);
        return apr_pstrdup(p, buf);
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    /* a decimal comma from a locale: XML wants '.' */
    for (s = buf; *s; s++) {
        if (*s == ',') {
            *s = '.';
        }
    }
    return apr_pstrdup(p, buf);
}

/* The text of a scalar; NULL for null, an object or an array. */
static const char *scalar_text(wctx *c, const json_t *j)
{
    if (!j) {
        return NULL;
    }
    switch (json_typeof(j)) {
    case JSON_STRING:
        return json_text(c, j);
    case JSON_INTEGER: {
        char buf[32];
        /* apr_psprintf knows no %lld */
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return apr_pstrdup(c->p, buf);
    }
    case JSON_REAL:
        return real_text(c->p, json_real_value(j));
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return NULL;
    }
}

/* An attribute or element name we may write: an NCName not reserved by XML. */
static int xml_name(const char *s)
{
    return s && *s && xmlValidateNCName(BAD_CAST s, 0) == 0 && strncasecmp(s, "xml", 3) != 0;
}

static int w_start(wctx *c, const char *name)
{
    return xmlTextWriterStartElement(c->x, BAD_CAST name) < 0 ? -1 : 0;
}

static int w_start_root(wctx *c, const char *name)
{
    return xmlTextWriterStartElementNS(c->x, NULL, BAD_CAST name, BAD_CAST UCWA_XML_NS) < 0
           ? -1 : 0;
}

static int w_end(wctx *c)
{
    return xmlTextWriterEndElement(c->x) < 0 ? -1 : 0;
}

/* value is already clean */
static int w_attr(wctx *c, const char *name, const char *value)
{
    if (!value) {
        return 0;
    }
    return xmlTextWriterWriteAttribute(c->x, BAD_CAST name, BAD_CAST value) < 0 ? -1 : 0;
}

static int w_attr_json(wctx *c, const char *name, const json_t *j)
{
    return json_is_string(j) ? w_attr(c, name, json_text(c, j)) : 0;
}

static int w_text(wctx *c, const char *s)
{
    return xmlTextWriterWriteString(c->x, BAD_CAST s) < 0 ? -1 : 0;
}

/* <name>text</name>, text clean */
static int w_text_element(wctx *c, const char *name, const char *text)
{
    return (w_start(c, name) || w_text(c, text) || w_end(c)) ? -1 : 0;
}

/* rel, href, then every other scalar member of link whose key is an XML name. rel is
 * the given one, else link's "rel" member. */
static int w_link_attrs(wctx *c, const char *rel, const json_t *link)
{
    const char *key;
    json_t *v;

    if (rel ? w_attr(c, "rel", mob_xml_clean(c->p, rel, strlen(rel)))
            : w_attr_json(c, "rel", json_object_get(link, "rel"))) {
        return -1;
    }
    if (w_attr_json(c, "href", json_object_get(link, "href"))) {
        return -1;
    }
    json_object_foreach((json_t *)link, key, v) {
        const char *text;
        if (!strcmp(key, "rel") || !strcmp(key, "href") || !xml_name(key)) {
            continue;
        }
        text = scalar_text(c, v);
        if (text && w_attr(c, key, text)) {
            return -1;
        }
    }
    return 0;
}

/* <elem rel href .../>; nothing for an entry without a string href. */
static int w_link(wctx *c, const char *elem, const char *rel, const json_t *link)
{
    if (!json_is_object(link) || !json_is_string(json_object_get(link, "href"))) {
        return 0;
    }
    return (w_start(c, elem) || w_link_attrs(c, rel, link) || w_end(c)) ? -1 : 0;
}

/* The <link> elements of a _links object (self left out when skip_self). */
static int w_links(wctx *c, const json_t *links, int skip_self)
{
    const char *key;
    json_t *v;
    size_t i;

    if (!json_is_object(links)) {
        return 0;
    }
    json_object_foreach((json_t *)links, key, v) {
        if (skip_self && !strcmp(key, "self")) {
            continue;
        }
        if (json_is_array(v)) {
            for (i = 0; i < json_array_size(v); i++) {
                if (w_link(c, "link", key, json_array_get(v, i))) {
                    return -1;
                }
            }
        }
        else if (w_link(c, "link", key, v)) {
            return -1;
        }
    }
    return 0;
}

static int w_body(wctx *c, const json_t *obj, int as_resource);

static int w_resource(wctx *c, const char *key, const json_t *res)
{
    const json_t *rel = json_object_get(res, "rel");
    const json_t *self = json_object_get(json_object_get(res, "_links"), "self");

    if (w_start(c, "resource")) {
        return -1;
    }
    if (json_is_string(rel) ? w_attr_json(c, "rel", rel)
                            : w_attr(c, "rel", mob_xml_clean(c->p, key, strlen(key)))) {
        return -1;
    }
    if (w_attr_json(c, "href", json_object_get(self, "href")) || w_body(c, res, 1)) {
        return -1;
    }
    return w_end(c);
}

/* The <resource> elements of an _embedded object. */
static int w_embedded(wctx *c, const json_t *emb)
{
    const char *key;
    json_t *v;
    size_t i;

    if (!json_is_object(emb)) {
        return 0;
    }
    json_object_foreach((json_t *)emb, key, v) {
        if (json_is_array(v)) {
            for (i = 0; i < json_array_size(v); i++) {
                json_t *r = json_array_get(v, i);
                if (json_is_object(r) && w_resource(c, key, r)) {
                    return -1;
                }
            }
        }
        else if (json_is_object(v) && w_resource(c, key, v)) {
            return -1;
        }
    }
    return 0;
}

static int w_items(wctx *c, const json_t *arr)
{
    size_t i;
    int rc = 0;

    if (++c->depth > MAX_NESTING) {
        return -1;
    }
    for (i = 0; i < json_array_size(arr) && rc == 0; i++) {
        const json_t *v = json_array_get(arr, i);
        const char *text;

        if (json_is_null(v)) {
            continue;
        }
        if ((text = scalar_text(c, v)) != NULL) {
            rc = w_text_element(c, "item", text);
        }
        else {
            rc = (w_start(c, "item")
                  || (json_is_array(v) ? w_items(c, v) : w_body(c, v, 0))
                  || w_end(c)) ? -1 : 0;
        }
    }
    c->depth--;
    return rc;
}

static int w_property(wctx *c, const char *name, const json_t *v)
{
    const char *text;
    const char *n;

    if (json_is_null(v)) {
        return 0;
    }
    n = mob_xml_clean(c->p, name, strlen(name));
    if ((text = scalar_text(c, v)) != NULL) {
        return (w_start(c, "property") || w_attr(c, "name", n) || w_text(c, text)
                || w_end(c)) ? -1 : 0;
    }
    if (json_is_array(v)) {
        return (w_start(c, "propertyList") || w_attr(c, "name", n) || w_items(c, v)
                || w_end(c)) ? -1 : 0;
    }
    return (w_start(c, "property") || w_attr(c, "name", n) || w_body(c, v, 0)
            || w_end(c)) ? -1 : 0;
}

/* Links, properties, embedded resources of obj. As a resource, rel and the self link
 * are the enclosing element's attributes; as a plain object they are rendered too. */
static int w_body(wctx *c, const json_t *obj, int as_resource)
{
    const char *key;
    json_t *v;
    int rc = 0;

    if (++c->depth > MAX_NESTING) {
        return -1;
    }
    if (w_links(c, json_object_get(obj, "_links"), as_resource)) {
        rc = -1;
    }
    json_object_foreach((json_t *)obj, key, v) {
        if (rc || !strcmp(key, "_links") || !strcmp(key, "_embedded")
            || (as_resource && !strcmp(key, "rel"))) {
            continue;
        }
        rc = w_property(c, key, v);
    }
    if (rc == 0) {
        rc = w_embedded(c, json_object_get(obj, "_embedded"));
    }
    c->depth--;
    return rc;
}

static mob_xml_writer *w_begin(apr_pool_t *p, wctx *c)
{
    mob_xml_writer *w = mob_xml_writer_create(p);

    if (!w) {
        return NULL;
    }
    c->p = p;
    c->x = mob_xml_writer_get(w);
    c->depth = 0;
    return w;
}

const char *ucwa_xml_resource(apr_pool_t *p, const json_t *res, apr_size_t *len)
{
    mob_xml_writer *w;
    wctx c;

    if (!json_is_object(res) || !(w = w_begin(p, &c))) {
        return NULL;
    }
    if (w_start_root(&c, "resource")
        || w_attr_json(&c, "rel", json_object_get(res, "rel"))
        || w_attr_json(&c, "href",
                       json_object_get(json_object_get(json_object_get(res, "_links"),
                                                       "self"), "href"))
        || w_body(&c, res, 1) || w_end(&c)) {
        return NULL;
    }
    return mob_xml_writer_finish(w, len);
}

/* <reason> of an event: code, subcode, message, then the other scalar members. */
static int w_reason(wctx *c, const json_t *reason)
{
    static const char *const fixed[] = { "code", "subcode", "message" };
    const char *key, *text;
    json_t *v;
    size_t i;

    if (w_start(c, "reason")) {
        return -1;
    }
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        text = scalar_text(c, json_object_get(reason, fixed[i]));
        if (text && w_text_element(c, fixed[i], text)) {
            return -1;
        }
    }
    json_object_foreach((json_t *)reason, key, v) {
        if (!strcmp(key, "code") || !strcmp(key, "subcode") || !strcmp(key, "message")
            || !xml_name(key)) {
            continue;
        }
        text = scalar_text(c, v);
        if (text && w_text_element(c, key, text)) {
            return -1;
        }
    }
    return w_end(c);
}

static int w_event(wctx *c, const json_t *ev)
{
    const json_t *type = json_object_get(ev, "type");
    const json_t *link = json_object_get(ev, "link");
    const json_t *in = json_object_get(ev, "in");
    const json_t *reason = json_object_get(ev, "reason");
    const char *status;

    if (!json_is_object(ev) || !json_is_string(type) || !xml_name(json_string_value(type))
        || strlen(json_string_value(type)) != json_string_length(type)) {
        return -1;
    }
    if (w_start(c, json_string_value(type))) {
        return -1;
    }
    if (json_is_object(link) && w_link_attrs(c, NULL, link)) {
        return -1;
    }
    status = scalar_text(c, json_object_get(ev, "status"));
    if (status && w_attr(c, "status", status)) {
        return -1;
    }
    if (json_is_object(in) && w_link(c, "in", NULL, in)) {
        return -1;
    }
    if (json_is_object(reason) && w_reason(c, reason)) {
        return -1;
    }
    if (w_embedded(c, json_object_get(ev, "_embedded"))) {
        return -1;
    }
    return w_end(c);
}

static int w_sender(wctx *c, const json_t *sender)
{
    const json_t *events = json_object_get(sender, "events");
    size_t i;

    if (!json_is_object(sender) || (events && !json_is_array(events))) {
        return -1;
    }
    if (w_start(c, "sender") || w_attr_json(c, "rel", json_object_get(sender, "rel"))
        || w_attr_json(c, "href", json_object_get(sender, "href"))) {
        return -1;
    }
    for (i = 0; i < json_array_size(events); i++) {
        if (w_event(c, json_array_get(events, i))) {
            return -1;
        }
    }
    return w_end(c);
}

const char *ucwa_xml_events(apr_pool_t *p, const json_t *pkg, apr_size_t *len)
{
    const json_t *links, *senders;
    mob_xml_writer *w;
    wctx c;
    size_t i;

    if (!json_is_object(pkg)) {
        return NULL;
    }
    links = json_object_get(pkg, "_links");
    senders = json_object_get(pkg, "sender");
    if (senders && !json_is_array(senders)) {
        return NULL;
    }
    if (!(w = w_begin(p, &c))) {
        return NULL;
    }
    if (w_start_root(&c, "events")
        || w_attr_json(&c, "href", json_object_get(json_object_get(links, "self"), "href"))
        || w_links(&c, links, 1)) {
        return NULL;
    }
    for (i = 0; i < json_array_size(senders); i++) {
        if (w_sender(&c, json_array_get(senders, i))) {
            return NULL;
        }
    }
    if (w_end(&c)) {
        return NULL;
    }
    return mob_xml_writer_finish(w, len);
}

const char *ucwa_xml_error(apr_pool_t *p, const char *code, const char *subcode,
                           const char *message, apr_size_t *len)
{
    mob_xml_writer *w;
    wctx c;

    if (!code || !(w = w_begin(p, &c))) {
        return NULL;
    }
    if (w_start_root(&c, "reason")
        || w_text_element(&c, "code", mob_xml_clean(p, code, strlen(code)))
        || (subcode && w_text_element(&c, "subcode", mob_xml_clean(p, subcode, strlen(subcode))))
        || (message && w_text_element(&c, "message", mob_xml_clean(p, message, strlen(message))))
        || w_end(&c)) {
        return NULL;
    }
    return mob_xml_writer_finish(w, len);
}

/* ------------------------------------------------------------------------------------
 * Input
 *
 * common/core/mob_xml_read parses (stopping at any DTD, entity, nesting or property too
 * many); the tree is then checked and converted.
 */

#define WHY_ENTITY MOB_XML_WHY_ENTITY

/* In the UCWA namespace or in none. */
static int in_ns(const xmlNode *n)
{
    return n->ns == NULL || (n->ns->href && xmlStrEqual(n->ns->href, BAD_CAST UCWA_XML_NS));
}

static int is_element(const xmlNode *n, const char *name)
{
    return xmlStrEqual(n->name, BAD_CAST name);
}

/* The text of a property or item: its text and CDATA children, comments and
 * processing instructions skipped. NULL (and *why) for anything else. */
static const char *in_text(apr_pool_t *p, const xmlNode *e, apr_size_t *len,
                           const char **why)
{
    const xmlNode *n;
    apr_size_t total = 0;
    char *s, *o;

    for (n = e->children; n; n = n->next) {
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            total += n->content ? strlen((const char *)n->content) : 0;
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        case XML_ELEMENT_NODE:
            *why = "element inside a property value";
            return NULL;
        case XML_ENTITY_REF_NODE:
            *why = WHY_ENTITY;
            return NULL;
        default:
            *why = "unexpected node inside a property value";
            return NULL;
        }
    }
    o = s = apr_palloc(p, total + 1);
    for (n = e->children; n; n = n->next) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
            apr_size_t k = strlen((const char *)n->content);
            memcpy(o, n->content, k);
            o += k;
        }
    }
    *o = '\0';
    *len = total;
    return s;
}

static json_t *in_string(apr_pool_t *p, const xmlNode *e, const char **why)
{
    apr_size_t len;
    const char *s = in_text(p, e, &len, why);
    json_t *j;

    if (!s) {
        return NULL;
    }
    if (!(j = json_stringn(s, len))) {
        *why = "invalid UTF-8";
    }
    return j;
}

static json_t *in_list(apr_pool_t *p, const xmlNode *list, const char **why)
{
    json_t *arr = mob_json_own(p, json_array());
    const xmlNode *n;

    if (!arr) {
        *why = "out of memory";
        return NULL;
    }
    for (n = list->children; n; n = n->next) {
        json_t *v;

        if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE
            || ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
                && xmlIsBlankNode(n))) {
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || !in_ns(n) || !is_element(n, "item")) {
            *why = n->type == XML_ENTITY_REF_NODE ? WHY_ENTITY
                   : "a propertyList holds only item elements";
            return NULL;
        }
        if (!(v = in_string(p, n, why)) || json_array_append_new(arr, v) != 0) {
            if (v) {
                *why = "out of memory";
            }
            return NULL;
        }
    }
    return arr;
}

/* The name attribute (in no namespace), copied into p; NULL if missing or empty. */
static const char *in_name(apr_pool_t *p, xmlNode *e)
{
    xmlChar *v = xmlGetNoNsProp(e, BAD_CAST "name");
    const char *s = NULL;

    if (v && *v) {
        s = apr_pstrdup(p, (const char *)v);
    }
    xmlFree(v);
    return s;
}

static json_t *in_convert(apr_pool_t *p, xmlNode *root, const char **why)
{
    json_t *obj = mob_json_own(p, json_object());
    xmlNode *n;

    if (!obj) {
        *why = "out of memory";
        return NULL;
    }
    for (n = root->children; n; n = n->next) {
        const char *name, *key;
        json_t *v, *ignored;

        switch (n->type) {
        case XML_ELEMENT_NODE:
            break;
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (!xmlIsBlankNode(n)) {
                *why = "text outside a property";
                return NULL;
            }
            continue;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            continue;
        case XML_ENTITY_REF_NODE:
            *why = WHY_ENTITY;
            return NULL;
        default:
            *why = "unexpected node in input";
            return NULL;
        }
        if (!in_ns(n)) {
            *why = "element in a foreign namespace";
            return NULL;
        }
        if (is_element(n, "link") || is_element(n, "resource")) {
            continue;
        }
        if (!is_element(n, "property") && !is_element(n, "propertyList")) {
            *why = "unexpected element in input";
            return NULL;
        }
        if (!(name = in_name(p, n))) {
            *why = "property without a name";
            return NULL;
        }
        json_object_foreach(obj, key, ignored) {
            if (!strcasecmp(key, name)) {
                *why = "duplicate property";
                return NULL;
            }
        }
        v = is_element(n, "property") ? in_string(p, n, why) : json_incref(in_list(p, n, why));
        if (!v) {
            return NULL;
        }
        if (json_object_set_new(obj, name, v) != 0) {
            *why = "invalid property name";
            return NULL;
        }
    }
    return obj;
}

json_t *ucwa_xml_input(apr_pool_t *p, const char *xml, apr_size_t len, const char **why)
{
    static const char *const counted[] = { "property", "propertyList", NULL };
    static const mob_xml_limits lim = {
        UCWA_XML_MAX_INPUT, UCWA_XML_MAX_DEPTH, 2, counted, UCWA_XML_MAX_PROPERTIES,
        "input larger than 65536 bytes", "elements nested deeper than 32",
        "more than 256 properties"
    };
    xmlDocPtr doc;
    xmlNode *root;
    const char *dummy;

    if (!why) {
        why = &dummy;
    }
    if ((doc = mob_xml_read(p, xml, len, &lim, why)) == NULL) {
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !(is_element(root, "input") || is_element(root, "resource"))) {
        *why = "root element is not input or resource";
        return NULL;
    }
    if (!in_ns(root)) {
        *why = "root element not in the UCWA namespace";
        return NULL;
    }
    return in_convert(p, root, why);
}
