#include <string.h>
#include <apr_strings.h>
#include <libxml/tree.h>

#include "mcx_soap.h"
#include "mob_xml.h"
#include "mob_xml_read.h"

/* --- reading ------------------------------------------------------------------------- */

static int is(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href
           && xmlStrEqual(n->ns->href, BAD_CAST ns) && xmlStrEqual(n->name, BAD_CAST name);
}

static int blank(const xmlChar *s)
{
    for (; s && *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
            return 0;
        }
    }
    return 1;
}

/* The only element child of n (whitespace, comments and PIs beside it are fine); NULL
 * when there is none or more than one, or text. */
static const xmlNode *only_child(const xmlNode *n, int *many)
{
    const xmlNode *c, *found = NULL;

    *many = 0;
    for (c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (found) {
                *many = 1;
                return NULL;
            }
            found = c;
        }
        else if ((c->type == XML_TEXT_NODE && !blank(c->content))
                 || c->type == XML_ENTITY_REF_NODE) {
            *many = 1;
            return NULL;
        }
    }
    return found;
}

/* A field's text: text and CDATA children; NULL when it holds elements (or entities). */
static const char *field_text(apr_pool_t *p, const xmlNode *e)
{
    const xmlNode *c;
    char *s = "";

    for (c = e->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            s = apr_pstrcat(p, s, c->content ? (const char *)c->content : "", NULL);
        }
        else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
            return NULL;
        }
    }
    return s;
}

/* The parse proper: the document lives in tmp, what is kept is copied into p. */
static mcx_parse_status parse(apr_pool_t *p, apr_pool_t *tmp, const char *body, apr_size_t len,
                              apr_size_t max, mcx_request *out, const char **why)
{
    mob_xml_limits lim = {
        max, MCX_MAX_DEPTH, 4, NULL, MCX_MAX_FIELDS,
        "request too large", "elements nested too deep", "too many fields"
    };
    const xmlNode *env, *c, *bodyel = NULL, *op;
    xmlDocPtr doc;
    int many;

    memset(out, 0, sizeof(*out));
    if (len > max) {
        *why = lim.why_input;
        return MCX_PARSE_TOO_LARGE;
    }
    if ((doc = mob_xml_read(tmp, body, len, &lim, why)) == NULL) {
        if (*why == lim.why_input) {
            return MCX_PARSE_TOO_LARGE;
        }
        if (!strcmp(*why, "DTD not allowed") || *why == lim.why_depth
            || !strcmp(*why, MOB_XML_WHY_ENTITY)) {
            return MCX_PARSE_XML_REFUSED;
        }
        return MCX_PARSE_BAD;
    }
    env = xmlDocGetRootElement(doc);
    if (!env || !is(env, SOAP11_NS, "Envelope")) {
        *why = "not a SOAP 1.1 envelope";
        return MCX_PARSE_BAD;
    }
    for (c = env->children; c; c = c->next) {
        if (is(c, SOAP11_NS, "Body")) {
            if (bodyel) {
                *why = "two SOAP bodies";
                return MCX_PARSE_BAD;
            }
            bodyel = c;
        }
    }
    if (!bodyel) {
        *why = "no SOAP body";
        return MCX_PARSE_BAD;
    }
    op = only_child(bodyel, &many);
    if (!op) {
        *why = many ? "the SOAP body holds more than one operation" : "no operation";
        return MCX_PARSE_BAD;
    }
    if (!op->ns || !op->ns->href || !xmlStrEqual(op->ns->href, BAD_CAST MCX_NS)) {
        if (op->ns && op->ns->href
            && !strncmp((const char *)op->ns->href, MCX_NS_STEM, strlen(MCX_NS_STEM))) {
            *why = "another version of the protocol";
            return MCX_PARSE_VERSION;
        }
        *why = "the operation is not in the MCX namespace";
        return MCX_PARSE_BAD;
    }
    out->op = apr_pstrdup(p, (const char *)op->name);
    out->fields = apr_table_make(p, 8);
    for (c = op->children; c; c = c->next) {
        const char *text;
        if (c->type == XML_TEXT_NODE && !blank(c->content)) {
            *why = "text beside the fields of the operation";
            return MCX_PARSE_BAD;
        }
        if (c->type == XML_ENTITY_REF_NODE) {
            *why = MOB_XML_WHY_ENTITY;
            return MCX_PARSE_XML_REFUSED;
        }
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if ((text = field_text(p, c)) == NULL) {
            continue;   /* structure (a later version's addition): never a value */
        }
        apr_table_add(out->fields, (const char *)c->name, text);
    }
    return MCX_PARSE_OK;
}

mcx_parse_status mcx_soap_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                apr_size_t max, mcx_request *out, const char **why)
{
    apr_pool_t *tmp;
    mcx_parse_status st;

    /* the document is freed as soon as its fields are copied out: a GetNotifications
     * request keeps only those while it waits */
    if (apr_pool_create(&tmp, p) != APR_SUCCESS) {
        *why = "out of memory";
        return MCX_PARSE_BAD;
    }
    st = parse(p, tmp, body, len, max, out, why);
    apr_pool_destroy(tmp);
    return st;
}

const char *mcx_field(const mcx_request *rq, const char *name)
{
    return rq->fields ? apr_table_get(rq->fields, name) : NULL;
}

/* --- writing ------------------------------------------------------------------------- */

struct mcx_out {
    apr_pool_t *p;
    mob_xml_writer *w;
    xmlTextWriterPtr x;
    int failed;
};

static void check(mcx_out *o, int rc)
{
    if (rc < 0) {
        o->failed = 1;
    }
}

static const char *clean(apr_pool_t *p, const char *s)
{
    return mob_xml_clean(p, s ? s : "", s ? strlen(s) : 0);
}

mcx_out *mcx_out_begin(apr_pool_t *p, const char *element)
{
    mcx_out *o = apr_pcalloc(p, sizeof(*o));

    o->p = p;
    if ((o->w = mob_xml_writer_create(p)) == NULL) {
        o->failed = 1;
        return o;
    }
    o->x = mob_xml_writer_get(o->w);
    check(o, xmlTextWriterStartElementNS(o->x, BAD_CAST "s", BAD_CAST "Envelope",
                                         BAD_CAST SOAP11_NS));
    check(o, xmlTextWriterWriteAttributeNS(o->x, BAD_CAST "xmlns", BAD_CAST "m", NULL,
                                           BAD_CAST MCX_NS));
    check(o, xmlTextWriterStartElementNS(o->x, BAD_CAST "s", BAD_CAST "Body", NULL));
    mcx_out_start(o, element);
    return o;
}

void mcx_out_start(mcx_out *o, const char *name)
{
    if (!o->failed) {
        check(o, xmlTextWriterStartElementNS(o->x, BAD_CAST "m", BAD_CAST name, NULL));
    }
}

void mcx_out_attr(mcx_out *o, const char *name, const char *value)
{
    if (!o->failed && value) {
        check(o, xmlTextWriterWriteAttribute(o->x, BAD_CAST name,
                                             BAD_CAST clean(o->p, value)));
    }
}

void mcx_out_content(mcx_out *o, const char *text)
{
    if (!o->failed && text && *text) {
        check(o, xmlTextWriterWriteString(o->x, BAD_CAST clean(o->p, text)));
    }
}

void mcx_out_end(mcx_out *o)
{
    if (!o->failed) {
        check(o, xmlTextWriterEndElement(o->x));
    }
}

void mcx_out_text(mcx_out *o, const char *name, const char *text)
{
    mcx_out_start(o, name);
    mcx_out_content(o, text);
    mcx_out_end(o);
}

const char *mcx_out_finish(mcx_out *o, apr_size_t *len)
{
    if (o->failed) {
        return NULL;
    }
    /* ends the operation element, Body and Envelope */
    return mob_xml_writer_finish(o->w, len);
}

const char *mcx_soap_fault(apr_pool_t *p, int client, const char *code, int status,
                           const char *message, apr_size_t *len)
{
    mob_xml_writer *w = mob_xml_writer_create(p);
    xmlTextWriterPtr x;
    int rc = 0;

    if (!w) {
        return NULL;
    }
    x = mob_xml_writer_get(w);
    rc |= xmlTextWriterStartElementNS(x, BAD_CAST "s", BAD_CAST "Envelope",
                                      BAD_CAST SOAP11_NS) < 0;
    rc |= xmlTextWriterStartElementNS(x, BAD_CAST "s", BAD_CAST "Body", NULL) < 0;
    rc |= xmlTextWriterStartElementNS(x, BAD_CAST "s", BAD_CAST "Fault", NULL) < 0;
    rc |= xmlTextWriterWriteElement(x, BAD_CAST "faultcode",
                                    BAD_CAST (client ? "s:Client" : "s:Server")) < 0;
    rc |= xmlTextWriterWriteElement(x, BAD_CAST "faultstring",
                                    BAD_CAST clean(p, message)) < 0;
    rc |= xmlTextWriterStartElement(x, BAD_CAST "detail") < 0;
    rc |= xmlTextWriterStartElementNS(x, BAD_CAST "m", BAD_CAST "McxError",
                                      BAD_CAST MCX_NS) < 0;
    rc |= xmlTextWriterWriteElementNS(x, BAD_CAST "m", BAD_CAST "Code", NULL,
                                      BAD_CAST clean(p, code)) < 0;
    if (status) {
        rc |= xmlTextWriterWriteElementNS(x, BAD_CAST "m", BAD_CAST "Status", NULL,
                                          BAD_CAST apr_itoa(p, status)) < 0;
    }
    if (rc) {
        return NULL;
    }
    return mob_xml_writer_finish(w, len);
}
