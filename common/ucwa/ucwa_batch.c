#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ucwa_batch.h"

/* RFC 7230 tchar */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars (the space only inside) */
static int is_bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr("'()+_,-./:=? ", c) != NULL);
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ci_equal_n(const char *a, const char *b, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* --- Content-Type parameters ------------------------------------------------------------ */

/* Reads one parameter "; name=value" (value a token or a quoted string) at *s. Returns 1
 * and the name and value, 0 at the end of the string, -1 when malformed. */
static int next_param(apr_pool_t *p, const char **s, const char **name, const char **value)
{
    const char *c = skip_ows(*s), *start;
    char *v;
    apr_size_t n;

    if (!*c) {
        return 0;
    }
    if (*c != ';') {
        return -1;
    }
    c = skip_ows(c + 1);
    if (!*c) {
        *s = c;    /* a trailing ';' is tolerated */
        return 0;
    }
    for (start = c; is_tchar((unsigned char)*c); c++) {
    }
    if (c == start) {
        return -1;
    }
    *name = apr_pstrmemdup(p, start, (apr_size_t)(c - start));
    c = skip_ows(c);
    if (*c != '=') {
        return -1;
    }
    c = skip_ows(c + 1);
    if (*c == '"') {
        v = apr_palloc(p, strlen(c));
        n = 0;
        for (c++; *c && *c != '"'; c++) {
            if (*c == '\\') {
                c++;
                if (!*c) {
                    return -1;
                }
            }
            if ((unsigned char)*c < 0x20 && *c != '\t') {
                return -1;
            }
            v[n++] = *c;
        }
        if (*c != '"') {
            return -1;
        }
        v[n] = '\0';
        c++;
        *value = v;
    }
    else {
        for (start = c; is_tchar((unsigned char)*c); c++) {
        }
        if (c == start) {
            return -1;
        }
        *value = apr_pstrmemdup(p, start, (apr_size_t)(c - start));
    }
    *s = c;
    return 1;
}

/* Splits a media type "type/subtype; params" : returns the position after the type (or
 * NULL when the type is not a token/token). */
static const char *media_type(const char *ctype, const char **type, apr_size_t *tlen)
{
    const char *c = skip_ows(ctype), *start = c;

    while (is_tchar((unsigned char)*c)) {
        c++;
    }
    if (c == start || *c != '/') {
        return NULL;
    }
    c++;
    if (!is_tchar((unsigned char)*c)) {
        return NULL;
    }
    while (is_tchar((unsigned char)*c)) {
        c++;
    }
    *type = start;
    *tlen = (apr_size_t)(c - start);
    return c;
}

int ucwa_batch_media_type(apr_pool_t *p, const char *ctype, const char **type,
                          const ucwa_batch_header **params, int *nparams)
{
    apr_array_header_t *arr;
    const char *t, *rest, *name, *value;
    char *lt;
    apr_size_t tlen, i;
    int rv;

    if (!ctype || !(rest = media_type(ctype, &t, &tlen))) {
        return 0;
    }
    lt = apr_pstrmemdup(p, t, tlen);
    for (i = 0; i < tlen; i++) {
        lt[i] = (char)lower((unsigned char)lt[i]);
    }
    *type = lt;
    arr = apr_array_make(p, 2, sizeof(ucwa_batch_header));
    while ((rv = next_param(p, &rest, &name, &value)) == 1) {
        ucwa_batch_header *h = apr_array_push(arr);
        h->name = name;
        h->value = value;
    }
    *params = (const ucwa_batch_header *)arr->elts;
    *nparams = arr->nelts;
    return rv < 0 ? -1 : 1;
}

int ucwa_batch_valid_boundary(const char *b)
{
    apr_size_t n = strlen(b), i;

    if (n < 1 || n > UCWA_BATCH_MAX_BOUNDARY || b[n - 1] == ' ') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!is_bchar((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

const char *ucwa_batch_boundary(const ucwa_batch_header *params, int nparams)
{
    const char *found = ucwa_batch_header_get(params, nparams, "boundary");

    if (!found || ucwa_batch_header_count(params, nparams, "boundary") > 1
        || !ucwa_batch_valid_boundary(found)) {
        return NULL;    /* none, two (which one?), or not RFC 2046's */
    }
    return found;
}

ucwa_batch_ctype ucwa_batch_content_type(apr_pool_t *p, const char *ctype,
                                         const char **boundary)
{
    const ucwa_batch_header *params;
    const char *type;
    int np, rv = ucwa_batch_media_type(p, ctype, &type, &params, &np);

    if (rv == 0 || strcmp(type, "multipart/batching")) {
        return UCWA_BATCH_CTYPE_OTHER;
    }
    if (rv < 0 || !(*boundary = ucwa_batch_boundary(params, np))) {
        return UCWA_BATCH_CTYPE_BAD_BOUNDARY;
    }
    return UCWA_BATCH_CTYPE_OK;
}

/* --- splitting at the boundary ---------------------------------------------------------- */

/* If a delimiter starts at body[i] (already known to be "--" boundary, at a line start):
 * 1 for a delimiter, with *next the offset after its line break; 2 for the close
 * delimiter; 0 when the line is something else. */
static int delimiter_at(const char *body, apr_size_t len, apr_size_t i, apr_size_t dlen,
                        apr_size_t *next)
{
    apr_size_t j = i + dlen;

    if (len - j >= 2 && body[j] == '-' && body[j + 1] == '-') {
        return 2;
    }
    while (j < len && (body[j] == ' ' || body[j] == '\t')) {
        j++;
    }
    if (j < len && body[j] == '\n') {
        *next = j + 1;
        return 1;
    }
    if (j + 1 < len && body[j] == '\r' && body[j + 1] == '\n') {
        *next = j + 2;
        return 1;
    }
    return 0;
}

/* The next delimiter line at or after from (at a line start, or at from itself when
 * at_start): its offset in *at, its kind as delimiter_at; 0 when there is none. */
static int find_delimiter(const char *body, apr_size_t len, apr_size_t from, int at_start,
                          const char *delim, apr_size_t dlen, apr_size_t *at, apr_size_t *next)
{
    apr_size_t i = from;

    while (i < len && len - i >= dlen) {
        const char *hit = memmem(body + i, len - i, delim, dlen);
        apr_size_t h;
        int kind;
        if (!hit) {
            return 0;
        }
        h = (apr_size_t)(hit - body);
        if ((h == from && at_start) || (h > 0 && body[h - 1] == '\n')) {
            kind = delimiter_at(body, len, h, dlen, next);
            if (kind) {
                *at = h;
                return kind;
            }
        }
        i = h + 1;
    }
    return 0;
}

ucwa_batch_status ucwa_batch_split(apr_pool_t *p, const char *body, apr_size_t len,
                                   const char *boundary, int max_parts,
                                   ucwa_batch_slice **parts, int *nparts, const char **why)
{
    apr_size_t blen = strlen(boundary), dlen = blen + 2, at = 0, next = 0, start;
    char *delim;
    apr_array_header_t *arr;
    int kind;

    *parts = NULL;
    *nparts = 0;
    if (!blen || blen > UCWA_BATCH_MAX_BOUNDARY) {
        *why = "the boundary is malformed";
        return UCWA_BATCH_MALFORMED;
    }
    delim = apr_palloc(p, dlen + 1);
    delim[0] = delim[1] = '-';
    memcpy(delim + 2, boundary, blen + 1);
    arr = apr_array_make(p, 8, sizeof(ucwa_batch_slice));
    kind = find_delimiter(body, len, 0, 1, delim, dlen, &at, &next);
    if (kind == 0) {
        *why = "the body has no boundary delimiter";
        return UCWA_BATCH_MALFORMED;
    }
    if (kind == 2) {
        *why = "the body has no part";
        return UCWA_BATCH_MALFORMED;
    }
    for (;;) {
        ucwa_batch_slice *s;
        apr_size_t end;
        if (arr->nelts >= max_parts) {
            *why = "the body has too many parts";
            return UCWA_BATCH_TOO_MANY;
        }
        start = next;
        kind = find_delimiter(body, len, start, 1, delim, dlen, &at, &next);
        if (kind == 0) {
            *why = "the last part is not closed by the boundary";
            return UCWA_BATCH_MALFORMED;
        }
        end = at;
        if (end > start) {      /* the line break before the delimiter is the delimiter's */
            end--;
            if (end > start && body[end - 1] == '\r') {
                end--;
            }
        }
        s = apr_array_push(arr);
        s->data = body + start;
        s->len = end - start;
        if (kind == 2) {
            break;
        }
    }
    *parts = (ucwa_batch_slice *)arr->elts;
    *nparts = arr->nelts;
    return UCWA_BATCH_OK;
}

/* --- one part --------------------------------------------------------------------------- */

/* The line at data[*off..len): its text (without the line break) in *line and *llen,
 * *off moved past it. 0 at the end of the data; -1 when the line is too long. A last line
 * without a line break counts. */
static int next_line(const char *data, apr_size_t len, apr_size_t *off, const char **line,
                     apr_size_t *llen)
{
    const char *nl;
    apr_size_t n;

    if (*off >= len) {
        return 0;
    }
    *line = data + *off;
    nl = memchr(*line, '\n', len - *off);
    n = nl ? (apr_size_t)(nl - *line) : len - *off;
    *off += nl ? n + 1 : n;
    if (n && (*line)[n - 1] == '\r') {
        n--;
    }
    *llen = n;
    return n > UCWA_BATCH_MAX_LINE ? -1 : 1;
}

const char *ucwa_batch_headers(apr_pool_t *p, const char *data, apr_size_t len,
                               apr_size_t *off, ucwa_batch_header **out, int *nout)
{
    apr_array_header_t *arr = apr_array_make(p, 8, sizeof(ucwa_batch_header));
    const char *line;
    apr_size_t llen;
    int rv;

    while ((rv = next_line(data, len, off, &line, &llen)) != 0) {
        ucwa_batch_header *h;
        apr_size_t i = 0, colon, vstart, vend;
        if (rv < 0) {
            return "a header line is too long";
        }
        if (llen == 0) {
            break;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            return "folded header lines are not allowed";
        }
        while (i < llen && is_tchar((unsigned char)line[i])) {
            i++;
        }
        if (i == 0 || i == llen || line[i] != ':') {
            return "a header line is malformed";
        }
        colon = i;
        vstart = i + 1;
        while (vstart < llen && (line[vstart] == ' ' || line[vstart] == '\t')) {
            vstart++;
        }
        vend = llen;
        while (vend > vstart && (line[vend - 1] == ' ' || line[vend - 1] == '\t')) {
            vend--;
        }
        for (i = vstart; i < vend; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return "a header value holds a control character";
            }
        }
        if (arr->nelts >= UCWA_BATCH_MAX_HEADERS) {
            return "a part has too many header fields";
        }
        h = apr_array_push(arr);
        h->name = apr_pstrmemdup(p, line, colon);
        h->value = apr_pstrmemdup(p, line + vstart, vend - vstart);
    }
    *out = (ucwa_batch_header *)arr->elts;
    *nout = arr->nelts;
    return NULL;
}

const char *ucwa_batch_header_get(const ucwa_batch_header *h, int n, const char *name)
{
    int i;

    for (i = 0; i < n; i++) {
        if (!strcasecmp(h[i].name, name)) {
            return h[i].value;
        }
    }
    return NULL;
}

int ucwa_batch_header_count(const ucwa_batch_header *h, int n, const char *name)
{
    int i, c = 0;

    for (i = 0; i < n; i++) {
        c += !strcasecmp(h[i].name, name);
    }
    return c;
}

/* The part's own header fields: what they say about its content. */
const char *ucwa_batch_part_type(apr_pool_t *p, const ucwa_batch_header *h, int n,
                                 const char **type, const ucwa_batch_header **params,
                                 int *nparams)
{
    const char *ctype = ucwa_batch_header_get(h, n, "Content-Type");
    const char *cte = ucwa_batch_header_get(h, n, "Content-Transfer-Encoding");

    *type = NULL;
    *nparams = 0;
    if (ucwa_batch_header_count(h, n, "Content-Type") > 1
        || ucwa_batch_header_count(h, n, "Content-Transfer-Encoding") > 1) {
        return "a part has a repeated header field";
    }
    if (ctype && ucwa_batch_media_type(p, ctype, type, params, nparams) != 1) {
        return "a part's Content-Type is malformed";
    }
    if (*type && !strncmp(*type, "multipart/", 10)) {
        return "a part may not be multipart";
    }
    if (cte && strcasecmp(cte, "binary") && strcasecmp(cte, "8bit") && strcasecmp(cte, "7bit")) {
        return "a part's Content-Transfer-Encoding must be binary, 8bit or 7bit";
    }
    return NULL;
}

/* A batch part: application/http (msgtype=request), or without Content-Type. */
static const char *check_part_headers(apr_pool_t *p, const ucwa_batch_header *h, int n)
{
    const ucwa_batch_header *params;
    const char *type, *why, *msgtype;
    int np;

    if ((why = ucwa_batch_part_type(p, h, n, &type, &params, &np)) != NULL) {
        return why;
    }
    if (type && strcmp(type, "application/http")) {
        return "a part must be application/http";
    }
    msgtype = type ? ucwa_batch_header_get(params, np, "msgtype") : NULL;
    if (msgtype && strcasecmp(msgtype, "request")) {
        return "a part must have msgtype=request";
    }
    return NULL;
}

/* "METHOD SP target SP HTTP/1.x" */
static const char *parse_request_line(apr_pool_t *p, const char *line, apr_size_t llen,
                                      ucwa_batch_request *rq)
{
    apr_size_t i = 0, m, t;

    while (i < llen && is_tchar((unsigned char)line[i])) {
        i++;
    }
    if (i == 0 || i == llen || line[i] != ' ') {
        return "a part's request line is malformed";
    }
    m = i++;
    t = i;
    while (i < llen && (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f) {
        i++;
    }
    if (i == t || i == llen || line[i] != ' ') {
        return "a part's request line is malformed";
    }
    if (llen - i - 1 != 8 || memcmp(line + i + 1, "HTTP/1.", 7)
        || (line[llen - 1] != '0' && line[llen - 1] != '1')) {
        return "a part's request line must end with HTTP/1.0 or HTTP/1.1";
    }
    rq->method = apr_pstrmemdup(p, line, m);
    rq->target = apr_pstrmemdup(p, line + t, i - t);
    rq->minor = line[llen - 1] - '0';
    return NULL;
}

static int only_line_breaks(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != '\r' && s[i] != '\n') {
            return 0;
        }
    }
    return 1;
}

static const char *parse_part(apr_pool_t *p, const ucwa_batch_slice *s, ucwa_batch_request *rq)
{
    ucwa_batch_header *ph, *h;
    int nph, nh, rv;
    apr_size_t off = 0, rest;
    const char *why, *line = NULL, *cl;
    apr_size_t llen = 0;

    if ((why = ucwa_batch_headers(p, s->data, s->len, &off, &ph, &nph)) != NULL) {
        return why;
    }
    if ((why = check_part_headers(p, ph, nph)) != NULL) {
        return why;
    }
    /* the request line, after any blank lines */
    while ((rv = next_line(s->data, s->len, &off, &line, &llen)) == 1 && llen == 0) {
    }
    if (rv < 0) {
        return "a part's request line is too long";
    }
    if (rv == 0) {
        return "a part has no request line";
    }
    if ((why = parse_request_line(p, line, llen, rq)) != NULL) {
        return why;
    }
    if ((why = ucwa_batch_headers(p, s->data, s->len, &off, &h, &nh)) != NULL) {
        return why;
    }
    rq->headers = h;
    rq->nheaders = nh;
    if (ucwa_batch_header_get(h, nh, "Transfer-Encoding")) {
        return "a part may not use Transfer-Encoding";
    }
    rest = s->len - off;
    cl = ucwa_batch_header_get(h, nh, "Content-Length");
    if (cl) {
        apr_size_t n = 0, i;
        if (ucwa_batch_header_count(h, nh, "Content-Length") > 1 || !*cl || strlen(cl) > 9) {
            return "a part's Content-Length is malformed";
        }
        for (i = 0; cl[i]; i++) {
            if (cl[i] < '0' || cl[i] > '9') {
                return "a part's Content-Length is malformed";
            }
            n = n * 10 + (apr_size_t)(cl[i] - '0');
        }
        if (n > rest) {
            return "a part is shorter than its Content-Length";
        }
        if (!only_line_breaks(s->data + off + n, rest - n)) {
            return "a part is longer than its Content-Length";
        }
        rest = n;
    }
    else if (only_line_breaks(s->data + off, rest)) {
        rest = 0;
    }
    rq->body = apr_pstrmemdup(p, s->data + off, rest);
    rq->body_len = rest;
    return NULL;
}

ucwa_batch_status ucwa_batch_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                   const char *boundary, ucwa_batch_request **reqs,
                                   int *nreqs, const char **why)
{
    ucwa_batch_slice *slices;
    ucwa_batch_request *out;
    ucwa_batch_status st;
    int n, i;

    *reqs = NULL;
    *nreqs = 0;
    st = ucwa_batch_split(p, body, len, boundary, UCWA_BATCH_MAX_PARTS, &slices, &n, why);
    if (st != UCWA_BATCH_OK) {
        return st;
    }
    out = apr_pcalloc(p, sizeof(*out) * (apr_size_t)n);
    for (i = 0; i < n; i++) {
        if ((*why = parse_part(p, &slices[i], &out[i])) != NULL) {
            return UCWA_BATCH_MALFORMED;
        }
    }
    *reqs = out;
    *nreqs = n;
    return UCWA_BATCH_OK;
}

/* --- the request-target ----------------------------------------------------------------- */

const char *ucwa_batch_target_path(apr_pool_t *p, const char *target, const char *host)
{
    const char *auth, *path, *end;
    apr_size_t alen;

    if (!target) {
        return NULL;
    }
    if (target[0] == '/') {
        if (target[1] == '/') {
            return NULL;        /* "//host/path": a network-path reference, not a path */
        }
        path = target;
    }
    else {
        if (!strncasecmp(target, "https://", 8)) {
            auth = target + 8;
        }
        else if (!strncasecmp(target, "http://", 7)) {
            auth = target + 7;
        }
        else {
            return NULL;
        }
        path = strchr(auth, '/');
        alen = path ? (apr_size_t)(path - auth) : strlen(auth);
        if (!path || path[1] == '/' || !host || !alen || memchr(auth, '@', alen) || memchr(auth, '?', alen)
            || memchr(auth, '#', alen) || strlen(host) != alen
            || !ci_equal_n(auth, host, alen)) {
            return NULL;
        }
    }
    end = strchr(path, '#');
    return end ? apr_pstrmemdup(p, path, (apr_size_t)(end - path)) : apr_pstrdup(p, path);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~';
}

const char *ucwa_batch_normalize(apr_pool_t *p, const char *path_and_query)
{
    const char *q = strchr(path_and_query, '?');
    apr_size_t plen = q ? (apr_size_t)(q - path_and_query) : strlen(path_and_query), i, n = 0;
    char *dec = apr_palloc(p, plen + 1), *out;
    apr_size_t w = 0, r = 0;

    if (plen == 0 || path_and_query[0] != '/') {
        return NULL;
    }
    /* decode the unreserved characters, keep every other escape as it is */
    for (i = 0; i < plen; i++) {
        char c = path_and_query[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= plen) {
                return NULL;
            }
            hi = hexval((unsigned char)path_and_query[i + 1]);
            lo = hexval((unsigned char)path_and_query[i + 2]);
            if (hi < 0 || lo < 0) {
                return NULL;
            }
            if (is_unreserved(hi * 16 + lo)) {
                dec[n++] = (char)(hi * 16 + lo);
            }
            else {
                memcpy(dec + n, path_and_query + i, 3);
                n += 3;
            }
            i += 2;
            continue;
        }
        dec[n++] = c;
    }
    dec[n] = '\0';
    /* remove dot segments (RFC 3986 5.2.4, on an absolute path) */
    out = apr_palloc(p, n + 2 + (q ? strlen(q) : 0));
    while (r < n) {
        /* dec[r] is '/' here: the start of a segment */
        apr_size_t s = r + 1, e = s;
        while (e < n && dec[e] != '/') {
            e++;
        }
        if (e - s == 1 && dec[s] == '.') {
            if (e == n) {
                out[w++] = '/';
            }
        }
        else if (e - s == 2 && dec[s] == '.' && dec[s + 1] == '.') {
            if (w == 0) {
                return NULL;    /* above the root */
            }
            while (w > 0 && out[w - 1] != '/') {
                w--;
            }
            if (w > 0) {
                w--;            /* the '/' before the removed segment */
            }
            if (e == n) {
                out[w++] = '/';
            }
        }
        else {
            memcpy(out + w, dec + r, e - r);
            w += e - r;
        }
        r = e;
    }
    if (w == 0) {
        out[w++] = '/';
    }
    out[w] = '\0';
    return q ? apr_pstrcat(p, out, q, NULL) : out;
}

const char *ucwa_batch_forbidden(const char *sub)
{
    static const char *const names[] = { "events", "photos", "batch" };
    apr_size_t i, n;

    if (!sub || sub[0] != '/') {
        return NULL;
    }
    sub++;
    n = strcspn(sub, "/");
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (n == strlen(names[i]) && ci_equal_n(sub, names[i], n)) {
            return names[i];
        }
    }
    return NULL;
}

/* --- the response ----------------------------------------------------------------------- */

const char *ucwa_batch_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:
        return status < 200 ? "Informational" : status < 300 ? "Success"
               : status < 400 ? "Redirection" : status < 500 ? "Client Error" : "Server Error";
    }
}

static int renderable(const ucwa_batch_header *h)
{
    const char *c;

    if (!h->name || !*h->name || !h->value) {
        return 0;
    }
    for (c = h->name; *c; c++) {
        if (!is_tchar((unsigned char)*c)) {
            return 0;
        }
    }
    return strpbrk(h->value, "\r\n") == NULL;
}

static const char *reason_of(const ucwa_batch_response *r)
{
    return r->reason && !strpbrk(r->reason, "\r\n") ? r->reason : ucwa_batch_reason(r->status);
}

static int contains(const char *hay, apr_size_t n, const char *needle, apr_size_t k)
{
    return hay && n >= k && memmem(hay, n, needle, k) != NULL;
}

const char *ucwa_batch_new_boundary(apr_pool_t *p, const unsigned char random[16],
                                    const ucwa_batch_response *rs, int n)
{
    char hex[33];
    const char *b;
    int i, j, tries;

    for (i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", random[i]);
    }
    b = apr_pstrcat(p, "batch_", hex, NULL);
    for (tries = 0; ; tries++) {
        apr_size_t k = strlen(b);
        int clash = 0;
        for (i = 0; i < n && !clash; i++) {
            clash = contains(rs[i].body, rs[i].body_len, b, k)
                    || (rs[i].reason && strstr(rs[i].reason, b));
            for (j = 0; j < rs[i].nheaders && !clash; j++) {
                clash = (rs[i].headers[j].name && strstr(rs[i].headers[j].name, b))
                        || (rs[i].headers[j].value && strstr(rs[i].headers[j].value, b));
            }
        }
        if (!clash) {
            return b;
        }
        /* the responses are finite: only finitely many of these can occur in them */
        b = apr_psprintf(p, "batch_%s_%d", hex, tries);
    }
}

char *ucwa_batch_render(apr_pool_t *p, const char *boundary, const ucwa_batch_response *rs,
                        int n, apr_size_t *len)
{
    static const char part_head[] = "Content-Type: application/http; msgtype=response\r\n\r\n";
    apr_size_t blen = strlen(boundary), total = 0, w = 0;
    char *out;
    int i, j;

    /* size first, then one buffer */
    for (i = 0; i < n; i++) {
        const char *reason = reason_of(&rs[i]);
        total += 2 + blen + 2 + sizeof(part_head) - 1;
        total += 9 + 12 + 1 + strlen(reason) + 2;           /* HTTP/1.1 <status> <reason> */
        for (j = 0; j < rs[i].nheaders; j++) {
            if (renderable(&rs[i].headers[j])) {
                total += strlen(rs[i].headers[j].name) + 2 + strlen(rs[i].headers[j].value) + 2;
            }
        }
        total += 16 + 20 + 2 + 2 + rs[i].body_len + 2;     /* Content-Length, blank, body */
    }
    total += 2 + blen + 4 + 1;
    out = apr_palloc(p, total);
    for (i = 0; i < n; i++) {
        const char *reason = reason_of(&rs[i]);
        w += (apr_size_t)sprintf(out + w, "--%s\r\n%sHTTP/1.1 %d %s\r\n", boundary, part_head,
                                 rs[i].status, reason);
        for (j = 0; j < rs[i].nheaders; j++) {
            if (renderable(&rs[i].headers[j])) {
                w += (apr_size_t)sprintf(out + w, "%s: %s\r\n", rs[i].headers[j].name,
                                         rs[i].headers[j].value);
            }
        }
        w += (apr_size_t)sprintf(out + w, "Content-Length: %" APR_SIZE_T_FMT "\r\n\r\n",
                                 rs[i].body_len);
        if (rs[i].body_len) {
            memcpy(out + w, rs[i].body, rs[i].body_len);
            w += rs[i].body_len;
        }
        memcpy(out + w, "\r\n", 2);
        w += 2;
    }
    w += (apr_size_t)sprintf(out + w, "--%s--\r\n", boundary);
    *len = w;
    return out;
}
