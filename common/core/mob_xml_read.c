/* The hardened libxml2 reader shared by every XML input (UCWA's <input>, MCX requests).
 *
 * libxml2 parses with SAX2 hooks of our own in front of the tree builder: the parse
 * stops (xmlStopParser) at the first DTD (internalSubset is called as soon as
 * "<!DOCTYPE name ..." is read, before an internal subset is parsed), entity
 * declaration, lookup of a non-predefined entity, element nested too deep or child
 * too many, so none of these is ever built or expanded. */
#include <stdint.h>
#include <string.h>
#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "mob_xml.h"
#include "mob_xml_read.h"

#define WHY_DTD    "DTD not allowed"
#define WHY_ENTITY MOB_XML_WHY_ENTITY

typedef struct {
    const mob_xml_limits *lim;
    int depth;
    int counted;       /* children of the root that count against lim->max_counted */
    const char *why;   /* set by a hook that stopped the parse */
} in_state;

static void in_stop(void *ctx, const char *why)
{
    xmlParserCtxtPtr ctxt = ctx;
    in_state *st = ctxt->_private;

    if (!st->why) {
        st->why = why;
    }
    xmlStopParser(ctxt);
}

static void h_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext,
                              const xmlChar *sys)
{
    in_stop(ctx, WHY_DTD);
}

static void h_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
                          const xmlChar *sys, xmlChar *content)
{
    in_stop(ctx, WHY_DTD);
}

static xmlEntityPtr h_get_entity(void *ctx, const xmlChar *name)
{
    in_stop(ctx, WHY_ENTITY);
    return NULL;
}

static xmlParserInputPtr h_resolve_entity(void *ctx, const xmlChar *pub, const xmlChar *sys)
{
    in_stop(ctx, WHY_ENTITY);
    return NULL;
}

static void h_reference(void *ctx, const xmlChar *name)
{
    in_stop(ctx, WHY_ENTITY);
}

static int counted(const mob_xml_limits *lim, const xmlChar *name)
{
    const char *const *n;

    if (!lim->counted_names) {
        return 1;
    }
    for (n = lim->counted_names; *n; n++) {
        if (xmlStrEqual(name, BAD_CAST *n)) {
            return 1;
        }
    }
    return 0;
}

static void h_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    in_state *st = ctxt->_private;

    if (++st->depth > st->lim->max_depth) {
        in_stop(ctx, st->lim->why_depth);
        return;
    }
    if (st->depth == st->lim->counted_depth && counted(st->lim, localname)
        && ++st->counted > st->lim->max_counted) {
        in_stop(ctx, st->lim->why_counted);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces,
                          nb_attributes, nb_defaulted, attributes);
}

static void h_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                  const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    in_state *st = ctxt->_private;

    st->depth--;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/* Errors stay in the parser context: nothing is printed. */
#if LIBXML_VERSION >= 21200
static void h_error(void *ctx, const xmlError *err)
#else
static void h_error(void *ctx, xmlErrorPtr err)
#endif
{
}

static apr_status_t doc_release(void *data)
{
    xmlFreeDoc(data);
    return APR_SUCCESS;
}

/* Refuses what must not reach libxml2: a NUL, bytes that are not UTF-8 (with only
 * UTF-8 left, libxml2's encoding detection can find nothing else). */
static const char *in_bytes(const char *xml, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)xml;
    apr_size_t i = 0, k;
    uint32_t c;

    while (i < len) {
        if (u[i] == 0) {
            return "NUL byte in input";
        }
        if ((k = mob_xml_utf8_seq(u + i, len - i, &c)) == 0) {
            return "invalid UTF-8";
        }
        i += k;
    }
    return NULL;
}

xmlDocPtr mob_xml_read(apr_pool_t *p, const char *xml, apr_size_t len,
                       const mob_xml_limits *lim, const char **why)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    in_state st;
    const char *dummy;
    int wf;

    if (!why) {
        why = &dummy;
    }
    *why = NULL;
    memset(&st, 0, sizeof(st));
    st.lim = lim;
    if (!xml || len == 0) {
        *why = "empty input";
        return NULL;
    }
    if (len > lim->max_input) {
        *why = lim->why_input;
        return NULL;
    }
    if ((*why = in_bytes(xml, len)) != NULL) {
        return NULL;
    }

    ctxt = xmlCreateMemoryParserCtxt(xml, (int)len);
    if (!ctxt) {
        *why = "out of memory";
        return NULL;
    }
    /* Never XML_PARSE_NOENT, DTDLOAD, DTDATTR, DTDVALID, XINCLUDE or HUGE. */
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                            | XML_PARSE_IGNORE_ENC | XML_PARSE_NOCDATA);
    /* A new context starts from libxml2's global defaults (xmlSubstituteEntitiesDefault,
     * xmlLoadExtDtdDefaultValue, ...), which another module in the process may have
     * changed, and options only ever add: clear what matters explicitly. */
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->recovery = 0;
    ctxt->keepBlanks = 1;
    ctxt->sax->internalSubset = h_internal_subset;
    ctxt->sax->externalSubset = h_internal_subset;
    ctxt->sax->entityDecl = h_entity_decl;
    ctxt->sax->getEntity = h_get_entity;
    ctxt->sax->getParameterEntity = h_get_entity;
    ctxt->sax->resolveEntity = h_resolve_entity;
    ctxt->sax->reference = h_reference;
    ctxt->sax->startElementNs = h_start;
    ctxt->sax->endElementNs = h_end;
    ctxt->sax->serror = h_error;
    ctxt->_private = &st;

    xmlParseDocument(ctxt);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    wf = ctxt->wellFormed;
    xmlFreeParserCtxt(ctxt);
    if (doc) {
        apr_pool_cleanup_register(p, doc, doc_release, apr_pool_cleanup_null);
    }

    if (st.why) {
        *why = st.why;
        return NULL;
    }
    if (!wf || !doc) {
        *why = "not well-formed XML";
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        *why = WHY_DTD;   /* the hooks stop at any DTD: never seen */
        return NULL;
    }
    return doc;
}
