#include <string.h>
#include <strings.h>
#include <apr_base64.h>
#include <apr_strings.h>

#include "ucwa_batch.h"
#include "ucwa_message.h"
#include "ucwa_sdp.h"

#define DATA_URI_HEADER_MAX 1024   /* bytes of a data URI before its comma */

/* --- one SDP ---------------------------------------------------------------------------- */

/* The framing rules of ucwa_sdp.h on s[0..n); sets *video when s passes and has an
 * m=video line. */
static const char *sdp_check(const char *s, apr_size_t n, int *video)
{
    apr_size_t i = 0;
    int first = 1, mlines = 0, blank = 0, has_video = 0;

    if (n == 0) {
        return "the SDP is empty";
    }
    if (n < 3 || memcmp(s, "v=0", 3) != 0) {
        return "the SDP does not start with v=0";
    }
    while (i < n) {
        apr_size_t start = i, llen;
        while (i < n && s[i] != '\n' && s[i] != '\r') {
            unsigned char c = (unsigned char)s[i];
            if (c == 0) {
                return "the SDP holds a NUL byte";
            }
            if ((c < 0x20 && c != '\t') || c > 0x7e) {
                return "the SDP holds a byte that is not printable ASCII";
            }
            i++;
        }
        llen = i - start;
        if (i < n && s[i] == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n') {
                return "the SDP has a CR without LF";
            }
            i++;
        }
        i += i < n;      /* the LF */
        if (llen > UCWA_SDP_LINE_MAX) {
            return "an SDP line is longer than 4096 bytes";
        }
        if (first) {
            if (llen != 3 || memcmp(s + start, "v=0", 3) != 0) {
                return "the SDP does not start with v=0";
            }
            first = 0;
            continue;
        }
        if (llen == 0) {
            blank = 1;   /* only blank lines may follow */
            continue;
        }
        if (blank) {
            return "the SDP has a blank line";
        }
        if (llen < 2 || s[start + 1] != '='
            || !((s[start] >= 'a' && s[start] <= 'z') || (s[start] >= 'A' && s[start] <= 'Z'))) {
            return "an SDP line is not <letter>=<value>";
        }
        if (s[start] == 'm') {
            mlines++;
            if (llen >= 8 && memcmp(s + start, "m=video ", 8) == 0) {
                has_video = 1;
            }
        }
    }
    if (!mlines) {
        return "the SDP has no m= line";
    }
    *video |= has_video;
    return NULL;
}

/* --- multipart -------------------------------------------------------------------------- */

/* One part of a multipart body: the SDP part it is (appended to out), NULL when it is a
 * part a multipart/related may hold besides its SDP, or a reason. */
static const char *sdp_part(apr_pool_t *p, const ucwa_batch_slice *s, int related,
                            ucwa_sdp_body *out)
{
    ucwa_batch_header *h;
    const ucwa_batch_header *params;
    const char *why, *type, *cid;
    ucwa_sdp_part *part;
    apr_size_t off = 0, n;
    int nh, np, i;

    if ((why = ucwa_batch_headers(p, s->data, s->len, &off, &h, &nh)) != NULL
        || (why = ucwa_batch_part_type(p, h, nh, &type, &params, &np)) != NULL) {
        return why;
    }
    if (!type || strcmp(type, "application/sdp")) {
        return related ? NULL : "a part of a multipart/alternative is not application/sdp";
    }
    if (ucwa_batch_header_count(h, nh, "Content-ID") > 1) {
        return "a part has a repeated header field";
    }
    if (out->nparts == UCWA_SDP_PARTS_MAX) {
        return "the body has more than 4 SDP parts";
    }
    cid = ucwa_batch_header_get(h, nh, "Content-ID");
    if (cid && (n = strlen(cid)) >= 2 && cid[0] == '<' && cid[n - 1] == '>') {
        cid = apr_pstrmemdup(p, cid + 1, n - 2);
    }
    if (cid && !*cid) {
        cid = NULL;
    }
    for (n = 0; cid && cid[n]; n++) {   /* RFC 2045: "<" msg-id ">", printable ASCII */
        unsigned char c = (unsigned char)cid[n];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>') {
            return "a part's Content-ID is malformed";
        }
    }
    for (i = 0; cid && i < out->nparts; i++) {
        if (out->parts[i].content_id && !strcmp(out->parts[i].content_id, cid)) {
            return "two parts have the same Content-ID";
        }
    }
    part = &out->parts[out->nparts];
    part->content_type = ucwa_batch_header_get(h, nh, "Content-Type");
    part->content_id = cid;
    part->body = s->data + off;
    part->len = s->len - off;
    if ((why = sdp_check(part->body, part->len, &out->video)) != NULL) {
        return why;
    }
    out->nparts++;
    return NULL;
}

const char *ucwa_sdp_parse(apr_pool_t *p, const char *content_type, const char *body,
                           apr_size_t len, ucwa_sdp_body *out)
{
    const ucwa_batch_header *params;
    ucwa_batch_slice *slices;
    const char *type, *boundary, *why;
    int np, ns, i, related, rv;

    memset(out, 0, sizeof(*out));
    if (len > UCWA_SDP_MAX) {
        return "the body is larger than 64 KiB";
    }
    if (!body) {
        body = "";
        len = 0;
    }
    if (content_type && strlen(content_type) > UCWA_SDP_CTYPE_MAX) {
        return "the Content-Type is longer than 256 bytes";
    }
    rv = ucwa_batch_media_type(p, content_type, &type, &params, &np);
    if (rv == 0) {
        return "the Content-Type is missing or malformed";
    }
    if (rv < 0) {
        return "a Content-Type parameter is malformed";
    }
    if (!strcmp(type, "application/sdp")) {
        if ((why = sdp_check(body, len, &out->video)) != NULL) {
            return why;
        }
        out->nparts = 1;
        out->parts[0].content_type = content_type;
        out->parts[0].body = body;
        out->parts[0].len = len;
        return NULL;
    }
    related = !strcmp(type, "multipart/related");
    if (!related && strcmp(type, "multipart/alternative")) {
        return "the body is not application/sdp or multipart with SDP parts";
    }
    if (!(boundary = ucwa_batch_boundary(params, np))) {
        return "the multipart Content-Type has no valid boundary";
    }
    switch (ucwa_batch_split(p, body, len, boundary,
                             related ? UCWA_SDP_SLICES_MAX : UCWA_SDP_PARTS_MAX,
                             &slices, &ns, &why)) {
    case UCWA_BATCH_OK:
        break;
    case UCWA_BATCH_TOO_MANY:
        return related ? "the body has more than 8 parts" : "the body has more than 4 SDP parts";
    default:
        return why;
    }
    for (i = 0; i < ns; i++) {
        if ((why = sdp_part(p, &slices[i], related, out)) != NULL) {
            memset(out, 0, sizeof(*out));
            return why;
        }
    }
    if (out->nparts == 0) {
        return "the body has no application/sdp part";
    }
    return NULL;
}

/* --- data URIs -------------------------------------------------------------------------- */

static int uri_keeps(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr("-._~!$&'()*+:@/=", c) != NULL);
}

/* s percent-encoded (bytes uri_keeps refuses as %XX) at the end of buf. */
static char *uri_encode(char *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (uri_keeps(c)) {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    return o;
}

const char *ucwa_sdp_data_uri(apr_pool_t *p, const char *content_type, const char *body,
                              apr_size_t len)
{
    const ucwa_batch_header *params;
    const char *type;
    apr_size_t size;
    char *uri, *o;
    int np, i;

    /* a body that ucwa_sdp_parse accepted has a well-formed Content-Type; anything else
     * is written whole, encoded */
    if (ucwa_batch_media_type(p, content_type, &type, &params, &np) != 1) {
        type = content_type ? content_type : "";
        np = 0;
    }
    size = 5 + 3 * strlen(type) + 8 + (apr_size_t)apr_base64_encode_len((int)len);
    for (i = 0; i < np; i++) {
        size += 2 + 3 * (strlen(params[i].name) + strlen(params[i].value));
    }
    o = uri = apr_palloc(p, size);
    memcpy(o, "data:", 5);
    o = uri_encode(o + 5, type);
    for (i = 0; i < np; i++) {
        *o++ = ';';
        o = uri_encode(o, params[i].name);
        *o++ = '=';
        o = uri_encode(o, params[i].value);
    }
    memcpy(o, ";base64,", 8);
    apr_base64_encode(o + 8, body, (int)len);
    return uri;
}

static int is_token(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL))) {
            return 0;
        }
    }
    return 1;
}

/* One ';'-separated piece of a data URI's header, percent-decoded; NULL when it holds a
 * bad escape or a control character. */
static char *header_piece(apr_pool_t *p, const char *start, const char *end)
{
    apr_size_t n, i;
    const char *why;
    char *s = ucwa_message_decode_data(p, apr_pstrmemdup(p, start, (apr_size_t)(end - start)),
                                       0, 0, &n, &why);

    for (i = 0; s && i < n; i++) {
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
            return NULL;    /* what a quoted Content-Type parameter may not hold either */
        }
    }
    return s;
}

const char *ucwa_sdp_from_data_uri(apr_pool_t *p, const char *uri, const char **content_type,
                                   apr_size_t *len, const char **why)
{
    const char *hdr, *comma, *c, *data;
    char *type, *ctype, *out;
    int base64 = 0, k;
    apr_size_t n;

    if (!uri || strncasecmp(uri, "data:", 5) != 0) {
        *why = "not a data URI";
        return NULL;
    }
    hdr = uri + 5;
    if (!(comma = strchr(hdr, ','))) {
        *why = "a data URI without a comma";
        return NULL;
    }
    if ((apr_size_t)(comma - hdr) > DATA_URI_HEADER_MAX) {
        *why = "a data URI header too long";
        return NULL;
    }
    for (c = hdr; c < comma && *c != ';'; c++) {
    }
    if (!(type = header_piece(p, hdr, c))) {
        *why = "a data URI with a malformed media type";
        return NULL;
    }
    for (k = 0; type[k]; k++) {
        type[k] = (char)(type[k] >= 'A' && type[k] <= 'Z' ? type[k] + 32 : type[k]);
    }
    if (strcmp(type, "application/sdp") && strcmp(type, "multipart/alternative")
        && strcmp(type, "multipart/related")) {
        *why = "a data URI that is not application/sdp or multipart with SDP";
        return NULL;
    }
    ctype = type;
    while (c < comma) {
        const char *start = ++c, *eq;
        char *name, *value;
        for (; c < comma && *c != ';'; c++) {
        }
        if (c == comma && (apr_size_t)(c - start) == 6 && !strncasecmp(start, "base64", 6)) {
            base64 = 1;
            break;
        }
        eq = memchr(start, '=', (apr_size_t)(c - start));
        if (!eq || !(name = header_piece(p, start, eq)) || !is_token(name)
            || !(value = header_piece(p, eq + 1, c))) {
            *why = "a data URI with a malformed parameter";
            return NULL;
        }
        if (!is_token(value)) {
            char *q = apr_palloc(p, 2 * strlen(value) + 3), *o = q;
            *o++ = '"';
            for (; *value; value++) {
                if (*value == '"' || *value == '\\') {
                    *o++ = '\\';
                }
                *o++ = *value;
            }
            *o++ = '"';
            *o = '\0';
            value = q;
        }
        ctype = apr_pstrcat(p, ctype, ";", name, "=", value, NULL);
    }
    if (strlen(ctype) > UCWA_SDP_CTYPE_MAX) {
        *why = "a data URI with a Content-Type longer than 256 bytes";
        return NULL;
    }
    data = comma + 1;
    /* decoded, the data is never longer; base64 takes 4 bytes for 3, escapes 3 for 1 */
    if (strlen(data) / 3 > UCWA_SDP_MAX + 4) {
        *why = "the body is larger than 64 KiB";
        return NULL;
    }
    if (!(out = ucwa_message_decode_data(p, data, base64, 0, &n, why))) {
        return NULL;
    }
    if (n > UCWA_SDP_MAX) {
        *why = "the body is larger than 64 KiB";
        return NULL;
    }
    *content_type = ctype;
    *len = n;
    return out;
}
