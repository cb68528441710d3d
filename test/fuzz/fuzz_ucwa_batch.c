/* ucwa_batch: the multipart/batching parser and the response renderer, on hostile input.
 *
 * The input is read four ways: as a batch body with the fixed boundary "b7a3"; as a batch
 * body with the boundary its first line names, when it starts with "--" (the rest of that
 * line, if ucwa_batch_content_type accepts it quoted); as a Content-Type header; and as a
 * request-target / path (ucwa_batch_target_path, ucwa_batch_normalize,
 * ucwa_batch_forbidden).
 *
 * Invariants: a refused batch gives no request and a reason; an accepted one has 1 to
 * UCWA_BATCH_MAX_PARTS requests, each with a token method, a target of visible ASCII,
 * HTTP/1.0 or 1.1, at most UCWA_BATCH_MAX_HEADERS header fields with token names and
 * values without control characters (tab aside), a NUL-terminated body no longer than the
 * input; ucwa_batch_split finds the same number of parts. Rendering those requests back as
 * responses (their headers and bodies, whatever bytes those hold) with a boundary from
 * ucwa_batch_new_boundary gives a body that splits into exactly as many parts, each
 * ending with its body. An accepted Content-Type gives a boundary of 1 to 70 bchars, not
 * ending in a space. A normalised path starts with '/', has no "." or ".." segment, and
 * normalises to itself; a target's path starts with '/' and never with "//". */
#include <strings.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "ucwa_batch.h"

#define HOST "pool01.contoso.test:443"

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_requests(apr_pool_t *p, const uint8_t *data, size_t size,
                           const char *boundary)
{
    ucwa_batch_request *reqs = (void *)1;
    ucwa_batch_slice *slices;
    ucwa_batch_response *rs;
    const char *why = NULL, *nb;
    unsigned char rnd[16];
    char *out;
    apr_size_t len;
    int n = -1, ns = -1, i, j;
    ucwa_batch_status st, sst;

    st = ucwa_batch_parse(p, (const char *)data, size, boundary, &reqs, &n, &why);
    sst = ucwa_batch_split(p, (const char *)data, size, boundary, UCWA_BATCH_MAX_PARTS,
                           &slices, &ns, &why);
    if (st != UCWA_BATCH_OK) {
        FUZZ_CHECK(st == UCWA_BATCH_MALFORMED || st == UCWA_BATCH_TOO_MANY);
        FUZZ_CHECK(reqs == NULL && n == 0 && why != NULL);
        /* the split alone fails the same way, or the parts are what is wrong */
        FUZZ_CHECK(st != UCWA_BATCH_TOO_MANY || sst == UCWA_BATCH_TOO_MANY);
        return;
    }
    FUZZ_CHECK(sst == UCWA_BATCH_OK && ns == n);
    FUZZ_CHECK(n >= 1 && n <= UCWA_BATCH_MAX_PARTS);
    rs = apr_pcalloc(p, sizeof(*rs) * (apr_size_t)n);
    for (i = 0; i < n; i++) {
        const ucwa_batch_request *q = &reqs[i];
        const char *c;
        FUZZ_CHECK(q->method && *q->method);
        for (c = q->method; *c; c++) {
            FUZZ_CHECK(is_tchar((unsigned char)*c));
        }
        FUZZ_CHECK(q->target && *q->target);
        for (c = q->target; *c; c++) {
            FUZZ_CHECK((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f);
        }
        FUZZ_CHECK(q->minor == 0 || q->minor == 1);
        FUZZ_CHECK(q->nheaders >= 0 && q->nheaders <= UCWA_BATCH_MAX_HEADERS);
        for (j = 0; j < q->nheaders; j++) {
            FUZZ_CHECK(*q->headers[j].name);
            for (c = q->headers[j].name; *c; c++) {
                FUZZ_CHECK(is_tchar((unsigned char)*c));
            }
            FUZZ_CHECK(strlen(q->headers[j].value) <= UCWA_BATCH_MAX_LINE);
            for (c = q->headers[j].value; *c; c++) {
                FUZZ_CHECK((unsigned char)*c >= 0x20 || *c == '\t');
                FUZZ_CHECK(*c != 0x7f);
            }
        }
        FUZZ_CHECK(q->body && q->body_len <= size && q->body[q->body_len] == '\0');
        FUZZ_CHECK(!ucwa_batch_header_get(q->headers, q->nheaders, "Transfer-Encoding"));
        rs[i].status = 100 + (int)(q->body_len % 500);
        rs[i].reason = q->target;
        rs[i].headers = q->headers;
        rs[i].nheaders = q->nheaders;
        rs[i].body = q->body;
        rs[i].body_len = q->body_len;
    }
    /* back out as a response: the boundary must not occur in anything a part holds */
    for (i = 0; i < 16; i++) {
        rnd[i] = (unsigned char)(size > 0 ? data[(size_t)i % size] : i);
    }
    nb = ucwa_batch_new_boundary(p, rnd, rs, n);
    FUZZ_CHECK(strlen(nb) >= 1 && strlen(nb) <= UCWA_BATCH_MAX_BOUNDARY);
    out = ucwa_batch_render(p, nb, rs, n, &len);
    FUZZ_CHECK(ucwa_batch_split(p, out, len, nb, UCWA_BATCH_MAX_PARTS, &slices, &ns, &why)
               == UCWA_BATCH_OK);
    FUZZ_CHECK(ns == n);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(slices[i].len >= rs[i].body_len);
        FUZZ_CHECK(memcmp(slices[i].data + slices[i].len - rs[i].body_len, rs[i].body,
                          rs[i].body_len) == 0);
        FUZZ_CHECK(!memcmp(slices[i].data, "Content-Type: application/http; msgtype=response"
                           "\r\n\r\nHTTP/1.1 ", 61));
    }
}

/* The boundary of a body that starts with "--": the rest of its first line. */
static const char *own_boundary(apr_pool_t *p, const uint8_t *data, size_t size)
{
    size_t i;
    const char *b = NULL, *ctype;

    if (size < 3 || data[0] != '-' || data[1] != '-') {
        return NULL;
    }
    for (i = 2; i < size && i < 2 + UCWA_BATCH_MAX_BOUNDARY + 1; i++) {
        if (data[i] == '\r' || data[i] == '\n' || data[i] == '"' || data[i] == '\\'
            || data[i] == '\0') {
            break;
        }
    }
    ctype = apr_psprintf(p, "multipart/batching; boundary=\"%s\"",
                         apr_pstrmemdup(p, (const char *)data + 2, i - 2));
    return ucwa_batch_content_type(p, ctype, &b) == UCWA_BATCH_CTYPE_OK ? b : NULL;
}

static void check_content_type(apr_pool_t *p, const char *s)
{
    const char *b = NULL;
    size_t n, i;

    if (ucwa_batch_content_type(p, s, &b) != UCWA_BATCH_CTYPE_OK) {
        return;
    }
    n = strlen(b);
    FUZZ_CHECK(n >= 1 && n <= UCWA_BATCH_MAX_BOUNDARY && b[n - 1] != ' ');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                   || strchr("'()+_,-./:=? ", c));
    }
}

static void check_paths(apr_pool_t *p, const char *s)
{
    const char *t = ucwa_batch_target_path(p, s, HOST), *n, *n2, *seg;
    size_t plen;

    if (t) {
        FUZZ_CHECK(t[0] == '/' && t[1] != '/' && !strchr(t, '#'));
    }
    ucwa_batch_forbidden(s);
    n = ucwa_batch_normalize(p, s);
    if (!n) {
        return;
    }
    FUZZ_CHECK(n[0] == '/');
    n2 = ucwa_batch_normalize(p, n);
    FUZZ_CHECK(n2 && !strcmp(n, n2));
    /* no "." or ".." segment in the path (the query is left as it is) */
    plen = strcspn(n, "?");
    for (seg = n; seg && seg < n + plen; seg = strchr(seg + 1, '/')) {
        size_t len = strcspn(seg + 1, "/?");
        FUZZ_CHECK(!(len == 1 && seg[1] == '.') && !(len == 2 && seg[1] == '.' && seg[2] == '.'));
    }
    if ((seg = ucwa_batch_forbidden(n)) != NULL) {
        FUZZ_CHECK(!strncasecmp(n + 1, seg, strlen(seg)));
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_cstr(data, size);
    const char *b;

    check_requests(p, data, size, "b7a3");
    if ((b = own_boundary(p, data, size)) != NULL && strcmp(b, "b7a3")) {
        check_requests(p, data, size, b);
    }
    if (size <= 4096) {
        check_content_type(p, s);
        check_paths(p, s);
    }
    free(s);
    apr_pool_destroy(p);
    return 0;
}
