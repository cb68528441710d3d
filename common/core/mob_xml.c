#include <string.h>
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

/* ------------------------------------------------------------------------------------
 * UTF-8
 */

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: shortest form, no
 * surrogates, nothing above U+10FFFF), its code point in *cp; 0 if there is none. */
apr_size_t mob_xml_utf8_seq(const unsigned char *s, apr_size_t n, uint32_t *cp)
{
    uint32_t c;
    apr_size_t len, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { len = 2; c = s[0] & 0x1f; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; c = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { len = 4; c = s[0] & 0x07; }
    else return 0;
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)))
        || (len == 4 && (c < 0x10000 || c > 0x10ffff))) {
        return 0;
    }
    *cp = c;
    return len;
}

/* A character XML 1.0 can carry (as text or, escaped, in an attribute). */
int mob_xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff)
           || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* s[0..n) as a NUL-terminated string XML can carry: s itself when it already is one,
 * else a copy in p where every invalid UTF-8 byte and every character XML cannot carry
 * (NUL included) is U+FFFD. */
const char *mob_xml_clean(apr_pool_t *p, const char *s, apr_size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, k;
    uint32_t c;
    char *out, *o;

    while (i < n && (k = mob_xml_utf8_seq(u + i, n - i, &c)) != 0 && mob_xml_char(c)) {
        i += k;
    }
    if (i == n && s[n] == '\0') {
        return s;
    }
    out = o = apr_palloc(p, 3 * n + 1);   /* U+FFFD is 3 bytes, replacing at least 1 */
    memcpy(o, s, i);
    o += i;
    while (i < n) {
        k = mob_xml_utf8_seq(u + i, n - i, &c);
        if (k && mob_xml_char(c)) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        }
        else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i += k ? k : 1;
        }
    }
    *o = '\0';
    return out;
}
