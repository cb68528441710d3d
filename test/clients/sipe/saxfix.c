/*
 * LD_PRELOAD shim for running Debian bookworm's pidgin-sipe 1.25 against the libxml2
 * shipped with it (2.9.14+dfsg-1.3~deb12u6), for the integration tests only.
 *
 * sipe declares its SAX parser with initialized = XML_SAX2_MAGIC but only fills in the
 * SAX1 startElement/endElement callbacks. That libxml2 build then delivers no element
 * events at all, xmlSAXUserParseMemory() still reports success, and every document sipe
 * parses comes out empty (Autodiscover silently "fails"). This wrapper hands such a
 * handler to libxml2 as a SAX1 handler (initialized = 1), which gets the element events.
 * Handlers that really use the SAX2 namespace callbacks are passed through untouched.
 *
 * Build: gcc -shared -fPIC -o saxfix.so saxfix.c -I/usr/include/libxml2 -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <libxml/parser.h>

typedef int (*parse_memory_fn)(xmlSAXHandlerPtr, void *, const char *, int);

int xmlSAXUserParseMemory(xmlSAXHandlerPtr sax, void *user_data, const char *buffer, int size)
{
    static parse_memory_fn next;

    if (next == NULL)
        next = (parse_memory_fn)dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
    if (next == NULL)
        return -1;

    if (sax != NULL && sax->initialized == XML_SAX2_MAGIC
        && sax->startElementNs == NULL && sax->endElementNs == NULL
        && (sax->startElement != NULL || sax->endElement != NULL)) {
        xmlSAXHandler sax1 = *sax;  /* the caller's handler stays as it was */
        sax1.initialized = 1;
        return next(&sax1, user_data, buffer, size);
    }
    return next(sax, user_data, buffer, size);
}
