#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>

#include "mob_form.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* jansson's check is strict (no overlong forms, no surrogates), unlike xmlCheckUTF8. */
static int valid_utf8(const char *s, apr_size_t n)
{
    json_t *j = json_stringn(s, n);

    json_decref(j);
    return j != NULL;
}

/* Decodes [s, s+n) ('+' is a space). NULL when the escape is broken, the result is not
 * UTF-8, or it holds a control character. */
static char *decode(apr_pool_t *p, const char *s, apr_size_t n, const char **why)
{
    char *out, *o;
    apr_size_t i;

    if (n > 3 * MOB_FORM_MAX_VALUE) {
        *why = "field too long";
        return NULL;
    }
    o = out = apr_palloc(p, n + 1);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        }
        else if (c == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                *why = "truncated percent escape";
                return NULL;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                *why = "bad percent escape";
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        /* C0, DEL, and C1 (U+0080..U+009F: C2 80..C2 9F; 0xC2 is never a continuation
         * byte, and a stray one fails the UTF-8 check anyway) */
        if ((unsigned char)c < 0x20 || c == 0x7f
            || (o > out && (unsigned char)o[-1] == 0xc2 && (unsigned char)c >= 0x80
                && (unsigned char)c <= 0x9f)) {
            *why = "control character";
            return NULL;
        }
        *o++ = c;
    }
    *o = '\0';
    if ((apr_size_t)(o - out) > MOB_FORM_MAX_VALUE) {
        *why = "field too long";
        return NULL;
    }
    if (!valid_utf8(out, (apr_size_t)(o - out))) {
        *why = "invalid UTF-8";
        return NULL;
    }
    return out;
}

apr_status_t mob_form_parse(apr_pool_t *p, const char *data, apr_size_t len,
                            mob_form_mode mode, apr_table_t **out, const char **why)
{
    apr_table_t *t = apr_table_make(p, 8);
    const char *s = data, *end = data + len;
    int fields = 0;

    *out = t;
    *why = NULL;
    while (s < end) {
        const char *amp = memchr(s, '&', (apr_size_t)(end - s));
        const char *fend = amp ? amp : end;
        const char *eq = memchr(s, '=', (apr_size_t)(fend - s));
        const char *name, *value;

        if (fend > s) {
            if (++fields > MOB_FORM_MAX_FIELDS) {
                *why = "too many fields";
                return APR_EINVAL;
            }
            name = decode(p, s, (apr_size_t)((eq ? eq : fend) - s), why);
            value = eq ? decode(p, eq + 1, (apr_size_t)(fend - eq - 1), why) : "";
            if (!name || !value) {
                return APR_EINVAL;
            }
            if (!*name) {
                *why = "empty field name";
                return APR_EINVAL;
            }
            if (apr_table_get(t, name)) {
                if (mode == MOB_FORM_STRICT) {
                    *why = "repeated field";
                    return APR_EINVAL;
                }
            }
            else {
                apr_table_setn(t, name, value);
            }
        }
        s = amp ? amp + 1 : end;
    }
    return APR_SUCCESS;
}

const char *mob_form_escape(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = strlen(s);
    char *out = apr_palloc(p, 3 * n + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@') {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}
