/* An libxml2 text writer into a memory buffer, freed by a pool cleanup; and the text
 * XML can carry. */
#ifndef MOB_XML_H
#define MOB_XML_H

#include <apr_pools.h>
#include <stdint.h>
#include <libxml/xmlwriter.h>

typedef struct mob_xml_writer mob_xml_writer;

mob_xml_writer *mob_xml_writer_create(apr_pool_t *p);
xmlTextWriterPtr mob_xml_writer_get(mob_xml_writer *w);
/* Ends the document and copies it into the pool. NULL if any write failed. */
const char *mob_xml_writer_finish(mob_xml_writer *w, apr_size_t *len);

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: shortest form, no
 * surrogates, nothing above U+10FFFF), its code point in *cp; 0 if there is none. */
apr_size_t mob_xml_utf8_seq(const unsigned char *s, apr_size_t n, uint32_t *cp);
/* A character XML 1.0 can carry (as text or, escaped, in an attribute). */
int mob_xml_char(uint32_t c);
/* s[0..n) as a NUL-terminated string XML can carry: s itself when it already is one,
 * else a copy in p where every invalid UTF-8 byte and every character XML cannot carry
 * (NUL included) is U+FFFD. */
const char *mob_xml_clean(apr_pool_t *p, const char *s, apr_size_t n);

#endif
