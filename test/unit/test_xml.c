/* mob_xml: a libxml2 text writer into pool memory. */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "unit.h"
#include "mob_xml.h"

#define AWKWARD "a&b<\"c'>\xc3\xa9"

START_TEST(round_trip)
{
    mob_xml_writer *xw = mob_xml_writer_create(pool);
    xmlTextWriterPtr w;
    apr_size_t len = 0;
    const char *s;
    xmlDocPtr doc;
    xmlChar *v;

    ck_assert_ptr_nonnull(xw);
    w = mob_xml_writer_get(xw);
    ck_assert_int_ge(xmlTextWriterStartElement(w, BAD_CAST "Root"), 0);
    ck_assert_int_ge(xmlTextWriterWriteAttribute(w, BAD_CAST "href", BAD_CAST AWKWARD), 0);
    ck_assert_int_ge(xmlTextWriterWriteString(w, BAD_CAST AWKWARD), 0);
    ck_assert_int_ge(xmlTextWriterEndElement(w), 0);
    s = mob_xml_writer_finish(xw, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, strlen(s));
    ck_assert_int_eq(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38), 0);

    /* what was written is what a parser reads back */
    doc = xmlReadMemory(s, (int)len, "t.xml", NULL, XML_PARSE_NONET);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq((const char *)xmlDocGetRootElement(doc)->name, "Root");
    v = xmlGetProp(xmlDocGetRootElement(doc), BAD_CAST "href");
    ck_assert_str_eq((const char *)v, AWKWARD);
    xmlFree(v);
    v = xmlNodeGetContent(xmlDocGetRootElement(doc));
    ck_assert_str_eq((const char *)v, AWKWARD);
    xmlFree(v);
    xmlFreeDoc(doc);
}
END_TEST

/* Two writers in one pool do not share a buffer. */
START_TEST(independent_writers)
{
    mob_xml_writer *a = mob_xml_writer_create(pool), *b = mob_xml_writer_create(pool);
    const char *sa, *sb;

    ck_assert_int_ge(xmlTextWriterWriteElement(mob_xml_writer_get(a), BAD_CAST "A",
                                               BAD_CAST "1"), 0);
    ck_assert_int_ge(xmlTextWriterWriteElement(mob_xml_writer_get(b), BAD_CAST "B",
                                               BAD_CAST "2"), 0);
    sa = mob_xml_writer_finish(a, NULL);
    sb = mob_xml_writer_finish(b, NULL);
    ck_assert_ptr_nonnull(strstr(sa, "<A>1</A>"));
    ck_assert_ptr_null(strstr(sa, "<B>"));
    ck_assert_ptr_nonnull(strstr(sb, "<B>2</B>"));
    ck_assert_ptr_null(strstr(sb, "<A>"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xml");
    TCase *tc = unit_tcase("xml");
    int rc;

    xmlInitParser();
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, independent_writers);
    suite_add_tcase(s, tc);
    rc = unit_run("test_xml", s);
    xmlCleanupParser();
    return rc;
}
