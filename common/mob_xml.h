/* An libxml2 text writer into a memory buffer, freed by a pool cleanup. */
#ifndef MOB_XML_H
#define MOB_XML_H

#include <apr_pools.h>
#include <libxml/xmlwriter.h>

typedef struct mob_xml_writer mob_xml_writer;

mob_xml_writer *mob_xml_writer_create(apr_pool_t *p);
xmlTextWriterPtr mob_xml_writer_get(mob_xml_writer *w);
/* Ends the document and copies it into the pool. NULL if any write failed. */
const char *mob_xml_writer_finish(mob_xml_writer *w, apr_size_t *len);

#endif
