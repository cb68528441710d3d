#include <apr_strings.h>

#include "mob_xml.h"

struct mob_xml_writer {
    apr_pool_t *pool;
    xmlBufferPtr buf;
    xmlTextWriterPtr writer;
};

static apr_status_t writer_release(void *data)
{
    mob_xml_writer *w = data;

    if (w->writer) {
        xmlFreeTextWriter(w->writer);
        w->writer = NULL;
    }
    if (w->buf) {
        xmlBufferFree(w->buf);
        w->buf = NULL;
    }
    return APR_SUCCESS;
}

mob_xml_writer *mob_xml_writer_create(apr_pool_t *p)
{
    mob_xml_writer *w = apr_pcalloc(p, sizeof(*w));

    w->pool = p;
    w->buf = xmlBufferCreate();
    if (w->buf) {
        w->writer = xmlNewTextWriterMemory(w->buf, 0);
    }
    apr_pool_cleanup_register(p, w, writer_release, apr_pool_cleanup_null);
    if (!w->writer || xmlTextWriterStartDocument(w->writer, "1.0", "utf-8", NULL) < 0) {
        return NULL;
    }
    return w;
}

xmlTextWriterPtr mob_xml_writer_get(mob_xml_writer *w)
{
    return w->writer;
}

const char *mob_xml_writer_finish(mob_xml_writer *w, apr_size_t *len)
{
    const char *out;

    if (xmlTextWriterEndDocument(w->writer) < 0 || xmlTextWriterFlush(w->writer) < 0) {
        return NULL;
    }
    out = apr_pstrmemdup(w->pool, (const char *)xmlBufferContent(w->buf),
                         (apr_size_t)xmlBufferLength(w->buf));
    if (len) {
        *len = (apr_size_t)xmlBufferLength(w->buf);
    }
    return out;
}
