#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ucwa_message.h"

static const char PLAIN[] = "data:text/plain;charset=utf-8,";
static const char HTML[] = "data:text/html;charset=utf-8,";

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ucwa_msg_status ucwa_message_check(const char *text, apr_size_t len, apr_size_t max,
                                   int ascii, const char **why)
{
    const unsigned char *s = (const unsigned char *)text;
    apr_size_t i = 0;

    if (len > max) {
        *why = "the message is too long";
        return UCWA_MSG_TOO_LARGE;
    }
    while (i < len) {
        unsigned char c = s[i];
        apr_uint32_t cp;
        int extra, k;

        if (c == 0) {
            *why = "NUL in the message";
            return UCWA_MSG_BAD_TEXT;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (ascii) {
            *why = "a byte outside us-ascii";
            return UCWA_MSG_BAD_TEXT;
        }
        if ((c & 0xe0) == 0xc0) { cp = c & 0x1f; extra = 1; }
        else if ((c & 0xf0) == 0xe0) { cp = c & 0x0f; extra = 2; }
        else if ((c & 0xf8) == 0xf0) { cp = c & 0x07; extra = 3; }
        else {
            *why = "invalid UTF-8";
            return UCWA_MSG_BAD_TEXT;
        }
        if (len - i <= (apr_size_t)extra) {
            *why = "invalid UTF-8";
            return UCWA_MSG_BAD_TEXT;
        }
        for (k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *why = "invalid UTF-8";
                return UCWA_MSG_BAD_TEXT;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
            || (extra == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            *why = "invalid UTF-8";
            return UCWA_MSG_BAD_TEXT;
        }
        i += (apr_size_t)extra + 1;
    }
    return UCWA_MSG_OK;
}

/* One parameter value: the bytes between start and end, without blanks around it or
 * the quotes of a quoted string; compared case-insensitively with want. */
static int value_is(const char *start, const char *end, const char *want)
{
    apr_size_t n = strlen(want);

    while (start < end && is_space(*start)) start++;
    while (end > start && is_space(end[-1])) end--;
    if (end - start >= 2 && *start == '"' && end[-1] == '"') {
        start++;
        end--;
    }
    return (apr_size_t)(end - start) == n && strncasecmp(start, want, n) == 0;
}

/* charset value: 0 utf-8, 1 us-ascii, -1 other */
static int charset_of(const char *start, const char *end)
{
    if (value_is(start, end, "utf-8") || value_is(start, end, "utf8")) return 0;
    if (value_is(start, end, "us-ascii")) return 1;
    return -1;
}

/* The media type in [start, end): text/plain, text/html, or empty (plain). */
static int type_of(const char *start, const char *end, ucwa_msg_format *fmt)
{
    if (value_is(start, end, "") || value_is(start, end, "text/plain")) {
        *fmt = UCWA_MSG_PLAIN;
        return 1;
    }
    if (value_is(start, end, "text/html")) {
        *fmt = UCWA_MSG_HTML;
        return 1;
    }
    return 0;
}

/* Parameters after the type, ";name=value" each, in [p, end). Sets *ascii; *base64
 * when allowed and the last parameter is "base64". 0 when malformed or unwanted. */
static ucwa_msg_status params(const char *p, const char *end, int *ascii, int *base64,
                              const char **why)
{
    *ascii = 0;
    if (base64) {
        *base64 = 0;
    }
    while (p < end) {
        const char *semi, *eq, *next;
        if (*p != ';') {
            *why = "malformed parameters";
            return UCWA_MSG_BAD_TEXT;
        }
        p++;
        semi = memchr(p, ';', (apr_size_t)(end - p));
        next = semi ? semi : end;
        eq = memchr(p, '=', (apr_size_t)(next - p));
        if (!eq) {
            if (base64 && !semi && value_is(p, next, "base64")) {
                *base64 = 1;
            }
            else if (!value_is(p, next, "")) {
                *why = "a parameter without a value";
                return UCWA_MSG_BAD_TEXT;
            }
        }
        else if (value_is(p, eq, "charset")) {
            int cs = charset_of(eq + 1, next);
            if (cs < 0) {
                *why = "a charset other than utf-8";
                return UCWA_MSG_BAD_TYPE;
            }
            *ascii = cs;
        }
        p = next;
    }
    return UCWA_MSG_OK;
}

ucwa_msg_status ucwa_message_content_type(const char *ctype, ucwa_msg_format *fmt,
                                          int *ascii, const char **why)
{
    const char *end, *semi;

    *fmt = UCWA_MSG_PLAIN;
    *ascii = 0;
    if (!ctype) {
        return UCWA_MSG_OK;
    }
    end = ctype + strlen(ctype);
    semi = strchr(ctype, ';');
    if (!type_of(ctype, semi ? semi : end, fmt) || value_is(ctype, semi ? semi : end, "")) {
        *why = "send text/plain or text/html";
        return UCWA_MSG_BAD_TYPE;
    }
    if (semi && params(semi, end, ascii, NULL, why) != UCWA_MSG_OK) {
        return UCWA_MSG_BAD_TYPE;
    }
    return UCWA_MSG_OK;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 of in[0..n) into out (in place is fine: out never overtakes in).
 * -1 when malformed. */
static apr_ssize_t base64_decode(const char *in, apr_size_t n, char *out)
{
    apr_size_t i, o = 0, pad = 0, data;
    apr_uint32_t acc = 0;
    int bits = 0;

    while (pad < n && pad < 2 && in[n - 1 - pad] == '=') {
        pad++;
    }
    data = n - pad;
    if (pad && n % 4 != 0) {
        return -1;   /* padding present, but not to a multiple of four */
    }
    if (data % 4 == 1) {
        return -1;   /* one character cannot end a group */
    }
    for (i = 0; i < data; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (apr_uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    /* the bits left over must be zero (canonical encoding) */
    if (bits && (acc & ((1u << bits) - 1))) {
        return -1;
    }
    return (apr_ssize_t)o;
}

char *ucwa_message_decode_data(apr_pool_t *p, const char *data, int base64, int plus_space,
                               apr_size_t *len, const char **why)
{
    apr_size_t n = strlen(data), i, o = 0;
    char *out = apr_palloc(p, n + 1);

    for (i = 0; i < n; i++) {
        char c = data[i];
        if (c == '%') {
            /* data is NUL-terminated: data[i + 2] is read only after a hex digit */
            int hi = hexval(data[i + 1]);
            int lo = hi >= 0 ? hexval(data[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "a bad percent escape";
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (c == '+' && plus_space && !base64) {
            out[o++] = ' ';
        }
        else {
            out[o++] = c;
        }
    }
    if (base64) {
        apr_ssize_t d = base64_decode(out, o, out);
        if (d < 0) {
            *why = "bad base64";
            return NULL;
        }
        o = (apr_size_t)d;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

ucwa_msg_status ucwa_message_parse_data_uri(apr_pool_t *p, const char *uri, apr_size_t max,
                                            ucwa_msg_format *fmt, char **text,
                                            apr_size_t *len, const char **why)
{
    const char *comma, *semi, *data, *hdr;
    apr_size_t n, o = 0;
    int ascii = 0, base64 = 0;
    ucwa_msg_status st;
    char *out;

    if (strncasecmp(uri, "data:", 5) != 0) {
        *why = "not a data URI";
        return UCWA_MSG_BAD_TEXT;
    }
    hdr = uri + 5;
    comma = strchr(hdr, ',');
    if (!comma) {
        *why = "a data URI without a comma";
        return UCWA_MSG_BAD_TEXT;
    }
    if ((apr_size_t)(comma - hdr) > UCWA_MESSAGE_HEADER_MAX) {
        *why = "a data URI header too long";
        return UCWA_MSG_BAD_TEXT;
    }
    semi = memchr(hdr, ';', (apr_size_t)(comma - hdr));
    if (!type_of(hdr, semi ? semi : comma, fmt)) {
        *why = "a media type other than text/plain or text/html";
        return UCWA_MSG_BAD_TYPE;
    }
    if (semi && (st = params(semi, comma, &ascii, &base64, why)) != UCWA_MSG_OK) {
        return st;
    }
    data = comma + 1;
    n = strlen(data);
    /* the decoded text is never longer than the data; a size limit on the data itself
     * keeps a huge input from being decoded at all (escapes: 3 bytes a byte) */
    if (n / 3 > max + 4) {
        *why = "the message is too long";
        return UCWA_MSG_TOO_LARGE;
    }
    if (!(out = ucwa_message_decode_data(p, data, base64, 1, &o, why))) {
        return UCWA_MSG_BAD_TEXT;
    }
    st = ucwa_message_check(out, o, max, ascii, why);
    if (st != UCWA_MSG_OK) {
        return st;
    }
    *text = out;
    *len = o;
    return UCWA_MSG_OK;
}

static int keep(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_' || c == '.' || c == '!' || c == '*' || c == '(' || c == ')';
}

apr_size_t ucwa_message_data_uri_len(ucwa_msg_format fmt, const char *text, apr_size_t len)
{
    apr_size_t n = (fmt == UCWA_MSG_HTML ? sizeof(HTML) : sizeof(PLAIN)) - 1, i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        n += (keep(c) || c == ' ') ? 1 : 3;
    }
    return n;
}

const char *ucwa_message_data_uri(apr_pool_t *p, ucwa_msg_format fmt, const char *text,
                                  apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const char *prefix = fmt == UCWA_MSG_HTML ? HTML : PLAIN;
    apr_size_t n = ucwa_message_data_uri_len(fmt, text, len), o, i;
    char *out = apr_palloc(p, n + 1);

    o = strlen(prefix);
    memcpy(out, prefix, o);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (keep(c)) {
            out[o++] = (char)c;
        }
        else if (c == ' ') {
            out[o++] = '+';
        }
        else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}
