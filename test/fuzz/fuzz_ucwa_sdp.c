/* ucwa_sdp: the SDP bodies of calls and their data URIs. The first byte of the input
 * picks what the rest is (mod 4):
 *   0  a Content-Type (up to the first LF) and a body (the rest)
 *   1  an application/sdp body
 *   2  a data URI (NUL-terminated at its first NUL)
 *   3  a multipart body with the boundary "fzb": as multipart/alternative and as
 *      multipart/related
 * Bodies are copied to a buffer of their exact size (no terminator), so ASan sees a read
 * past the end.
 *
 * Invariants: a refusal has a short fixed reason and leaves *out empty; an accepted body
 * is at most UCWA_SDP_MAX bytes with 1 to UCWA_SDP_PARTS_MAX parts, each inside the
 * body, in order, not overlapping, passing an independent reading of the framing rules
 * (ref_sdp), with distinct Content-IDs of printable ASCII without <>, and video set
 * exactly when some part has an m=video line; an application/sdp body is accepted exactly when ref_sdp accepts
 * it, as one part that is the whole body; parsing is repeatable; a body's data URI holds
 * only URI characters and reads back to the same bytes and a Content-Type under which the
 * body parses the same (parts at the same offsets, same Content-IDs); a data URI read
 * gives at most UCWA_SDP_MAX NUL-terminated bytes and a Content-Type that writing and
 * reading again keeps as it is; an SDP accepted plain is accepted byte for byte as the
 * one part of a multipart/alternative that wraps it. */
#include <apr_strings.h>

#include "fuzz_util.h"
#include "ucwa_batch.h"
#include "ucwa_sdp.h"

/* The framing rules of ucwa_sdp.h, read another way: the bytes first, then the lines. */
static int ref_sdp(const char *s, size_t n, int *video)
{
    size_t i, start = 0;
    int line = 0, mlines = 0, blank = 0;

    if (n > UCWA_SDP_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' ? i + 1 == n || s[i + 1] != '\n'
                      : c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e)) {
            return 0;
        }
    }
    while (start < n) {
        const char *nl = memchr(s + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - s) : n, len = end - start;
        const char *l = s + start;
        if (len && l[len - 1] == '\r') {
            len--;
        }
        start = end + 1;
        if (len > UCWA_SDP_LINE_MAX) {
            return 0;
        }
        if (line++ == 0) {
            if (len != 3 || strncmp(l, "v=0", 3)) {
                return 0;
            }
        }
        else if (!len) {
            blank = 1;
        }
        else if (blank || len < 2 || l[1] != '='
                 || !((l[0] | 0x20) >= 'a' && (l[0] | 0x20) <= 'z')) {
            return 0;
        }
        else if (l[0] == 'm') {
            mlines++;
            *video |= len >= 8 && !strncmp(l, "m=video ", 8);
        }
    }
    return line > 0 && mlines > 0;
}

/* n bytes in a buffer of exactly that size (free() it) */
static char *exact(const void *data, size_t n)
{
    char *b = malloc(n ? n : 1);

    FUZZ_CHECK(b != NULL);
    if (n) {
        memcpy(b, data, n);
    }
    return b;
}

static void same_body(const ucwa_sdp_body *a, const char *abase, const ucwa_sdp_body *b,
                      const char *bbase)
{
    int i;

    FUZZ_CHECK(a->nparts == b->nparts && a->video == b->video);
    for (i = 0; i < a->nparts; i++) {
        const ucwa_sdp_part *x = &a->parts[i], *y = &b->parts[i];
        FUZZ_CHECK(x->body - abase == y->body - bbase && x->len == y->len);
        FUZZ_CHECK((x->content_id == NULL) == (y->content_id == NULL));
        FUZZ_CHECK(!x->content_id || !strcmp(x->content_id, y->content_id));
    }
}

static void check_uri_chars(const char *uri)
{
    const char *comma = strchr(uri, ',');

    FUZZ_CHECK(!strncmp(uri, "data:", 5) && comma != NULL);
    FUZZ_CHECK(comma - uri >= 13 && !strncmp(comma - 7, ";base64", 7));
    for (; *uri; uri++) {
        unsigned char c = (unsigned char)*uri;
        FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>'
                   && c != ' ' && (c != ',' || uri == comma));
    }
}

/* ctype, body: what ucwa_sdp_parse was given (an exact-size copy); its answer checked. */
static void parse(apr_pool_t *p, const char *ctype, const char *body, size_t len)
{
    ucwa_sdp_body out, again;
    const ucwa_batch_header *params;
    const char *why, *type;
    int i, j, video = 0, np, plain;

    memset(&out, 0x5a, sizeof(out));
    why = ucwa_sdp_parse(p, ctype, body, len, &out);
    plain = strlen(ctype) <= UCWA_SDP_CTYPE_MAX
            && ucwa_batch_media_type(p, ctype, &type, &params, &np) == 1
            && !strcmp(type, "application/sdp");
    if (plain) {
        int v = 0, ref = ref_sdp(body, len, &v);
        FUZZ_CHECK((why == NULL) == ref);
    }
    {
        const char *why2 = ucwa_sdp_parse(p, ctype, body, len, &again);
        FUZZ_CHECK((why == NULL) == (why2 == NULL) && (!why || !strcmp(why, why2)));
    }
    if (why) {
        fuzz_check_reason(why);
        FUZZ_CHECK(out.nparts == 0 && out.video == 0);
        return;
    }
    same_body(&out, body, &again, body);
    FUZZ_CHECK(len <= UCWA_SDP_MAX);
    FUZZ_CHECK(out.nparts >= 1 && out.nparts <= UCWA_SDP_PARTS_MAX);
    for (i = 0; i < out.nparts; i++) {
        const ucwa_sdp_part *pt = &out.parts[i];
        int v = 0;
        FUZZ_CHECK(pt->body >= body && pt->len <= len && pt->body - body <= (ptrdiff_t)(len - pt->len));
        FUZZ_CHECK(i == 0 || pt->body >= out.parts[i - 1].body + out.parts[i - 1].len);
        FUZZ_CHECK(ref_sdp(pt->body, pt->len, &v));
        video |= v;
        FUZZ_CHECK(pt->content_type != NULL);
        if (pt->content_id) {
            size_t n = strlen(pt->content_id);
            FUZZ_CHECK(n > 0 && !(pt->content_id[0] == '<' && pt->content_id[n - 1] == '>'));
            for (j = 0; j < (int)n; j++) {
                FUZZ_CHECK(pt->content_id[j] > 0x20 && pt->content_id[j] < 0x7f);
            }
            for (j = 0; j < i; j++) {
                FUZZ_CHECK(!out.parts[j].content_id
                           || strcmp(out.parts[j].content_id, pt->content_id));
            }
        }
    }
    FUZZ_CHECK(out.video == video);
    if (plain) {
        FUZZ_CHECK(out.nparts == 1 && out.parts[0].body == body && out.parts[0].len == len);
    }

    /* the data URI and back */
    {
        const char *uri = ucwa_sdp_data_uri(p, ctype, body, len), *ct = NULL;
        apr_size_t n = 0;
        const char *bytes = ucwa_sdp_from_data_uri(p, uri, &ct, &n, &why);
        char *copy;
        check_uri_chars(uri);
        FUZZ_CHECK(bytes != NULL && n == len && (len == 0 || !memcmp(bytes, body, len)));
        copy = exact(bytes, len);
        FUZZ_CHECK(ucwa_sdp_parse(p, ct, copy, len, &again) == NULL);
        same_body(&out, body, &again, copy);
        free(copy);
    }

    /* an SDP accepted plain is the one part of a multipart/alternative wrapping it */
    if (plain && len + 64 <= UCWA_SDP_MAX) {
        static const char head[] = "--fzw\r\nContent-Type: application/sdp\r\n\r\n";
        static const char tail[] = "\r\n--fzw--\r\n";
        size_t hn = sizeof(head) - 1, tn = sizeof(tail) - 1;
        char *w = malloc(hn + len + tn);
        FUZZ_CHECK(w != NULL);
        memcpy(w, head, hn);
        memcpy(w + hn, body, len);
        memcpy(w + hn + len, tail, tn);
        why = ucwa_sdp_parse(p, "multipart/alternative; boundary=fzw", w, hn + len + tn, &again);
        FUZZ_CHECK(why == NULL && again.nparts == 1 && again.parts[0].body == w + hn
                   && again.parts[0].len == len && again.video == out.video);
        free(w);
    }
}

static void data_uri(apr_pool_t *p, const char *uri)
{
    const char *ct = NULL, *why = NULL, *bytes, *uri2, *ct2 = NULL, *bytes2;
    apr_size_t n = 0, n2 = 0;
    const ucwa_batch_header *params;
    const char *type;
    int np;

    bytes = ucwa_sdp_from_data_uri(p, uri, &ct, &n, &why);
    if (!bytes) {
        fuzz_check_reason(why);
        return;
    }
    FUZZ_CHECK(n <= UCWA_SDP_MAX && bytes[n] == '\0');
    FUZZ_CHECK(ucwa_batch_media_type(p, ct, &type, &params, &np) == 1);
    FUZZ_CHECK(!strcmp(type, "application/sdp") || !strcmp(type, "multipart/alternative")
               || !strcmp(type, "multipart/related"));
    uri2 = ucwa_sdp_data_uri(p, ct, bytes, n);
    check_uri_chars(uri2);
    bytes2 = ucwa_sdp_from_data_uri(p, uri2, &ct2, &n2, &why);
    FUZZ_CHECK(bytes2 != NULL && n2 == n && !memcmp(bytes2, bytes, n) && !strcmp(ct2, ct));
    {
        char *copy = exact(bytes, n);
        parse(p, ct, copy, n);
        free(copy);
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
    apr_pool_t *p;
    const uint8_t *rest = data + 1;
    size_t n = size ? size - 1 : 0;
    char *body;

    if (size == 0) {
        return 0;
    }
    p = fuzz_pool();
    switch (data[0] % 4) {
    case 0: {
        const uint8_t *nl = memchr(rest, '\n', n);
        size_t cn = nl ? (size_t)(nl - rest) : n;
        char *ctype = fuzz_cstr(rest, cn);
        size_t bn = nl ? n - cn - 1 : 0;
        body = exact(nl ? nl + 1 : rest, bn);
        parse(p, ctype, body, bn);
        free(ctype);
        break;
    }
    case 1:
        body = exact(rest, n);
        parse(p, "application/sdp", body, n);
        break;
    case 2:
        body = fuzz_cstr(rest, n);
        data_uri(p, body);
        break;
    default:
        body = exact(rest, n);
        parse(p, "multipart/alternative; boundary=fzb", body, n);
        parse(p, "multipart/related; boundary=fzb", body, n);
    }
    free(body);
    apr_pool_destroy(p);
    return 0;
}
