/* Reading untrusted XML with libxml2, safely: see mob_xml_read. */
#ifndef MOB_XML_READ_H
#define MOB_XML_READ_H

#include <apr_pools.h>
#include <libxml/tree.h>

/* The reason given for an entity reference (the caller may meet one in the tree). */
#define MOB_XML_WHY_ENTITY "entity reference not allowed"

typedef struct {
    apr_size_t max_input;          /* bytes */
    int max_depth;                 /* element nesting, the root being 1 */
    int counted_depth;             /* elements at this depth are counted (2: the root's children) */
    const char *const *counted_names;   /* NULL-terminated local names; NULL: every element */
    int max_counted;
    /* the fixed reasons given for each limit */
    const char *why_input, *why_depth, *why_counted;
} mob_xml_limits;

/* Parses xml[0..len) into a document freed by a cleanup of p. Refused, NULL with a short
 * fixed reason in *why (never a piece of the input): more than max_input bytes, bytes
 * that are not UTF-8 (a NUL included: so UTF-16 and other encodings never reach
 * libxml2, and an encoding declaration is ignored), a DTD of any kind (the parse stops
 * at <!DOCTYPE, before any declaration is read), an entity reference other than the
 * five predefined ones (character references are fine), nesting deeper than max_depth,
 * more counted elements than max_counted, a document that is not well-formed (truncated
 * ones included). The parse never substitutes entities, never loads a DTD or anything
 * over the network and prints nothing; xmlCleanupParser is never called. Call
 * xmlInitParser() once before threads start (libxml2's own rule). */
xmlDocPtr mob_xml_read(apr_pool_t *p, const char *xml, apr_size_t len,
                       const mob_xml_limits *lim, const char **why);

#endif
