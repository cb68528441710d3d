/* ucwa_batch: the multipart/batching Content-Type, splitting at the boundary, the parts'
 * HTTP requests and their limits, request-targets and paths, and the response body. */
#include "unit.h"
#include "ucwa_batch.h"

#define B "b7a3-1f"
#define PH "Content-Type: application/http; msgtype=request\r\n\r\n"

static ucwa_batch_request *reqs;
static int nreqs;
static const char *why;

static ucwa_batch_status parse_n(const char *body, apr_size_t len)
{
    why = NULL;
    return ucwa_batch_parse(pool, body, len, B, &reqs, &nreqs, &why);
}

static ucwa_batch_status parse(const char *body)
{
    return parse_n(body, strlen(body));
}

static void ok(const char *body, int n)
{
    ucwa_batch_status st = parse(body);

    ck_assert_msg(st == UCWA_BATCH_OK, "refused (%s): %s", why ? why : "-", body);
    ck_assert_int_eq(nreqs, n);
}

static void bad(const char *body, const char *what)
{
    ucwa_batch_status st = parse(body);

    ck_assert_msg(st == UCWA_BATCH_MALFORMED, "accepted: %s", body);
    ck_assert_msg(why && strstr(why, what), "'%s' does not say '%s'", why ? why : "-", what);
    ck_assert_ptr_null(reqs);
    ck_assert_int_eq(nreqs, 0);
}

/* a batch of the given parts (each the text after the part's delimiter line) */
static const char *batch(const char *const *parts, int n)
{
    const char *s = "";
    int i;

    for (i = 0; i < n; i++) {
        s = apr_pstrcat(pool, s, "--" B "\r\n", parts[i], "\r\n", NULL);
    }
    return apr_pstrcat(pool, s, "--" B "--\r\n", NULL);
}

static const char *one(const char *part)
{
    return batch(&part, 1);
}

START_TEST(content_type)
{
    static const struct { const char *ctype; ucwa_batch_ctype want; const char *boundary; } t[] = {
        { "multipart/batching;boundary=" B, UCWA_BATCH_CTYPE_OK, B },
        { "Multipart/Batching; boundary=\"" B "\"", UCWA_BATCH_CTYPE_OK, B },
        { "multipart/batching ; charset=utf-8; BOUNDARY = abc ;", UCWA_BATCH_CTYPE_OK, "abc" },
        { "multipart/batching; boundary=\"a b:c?d=e\"", UCWA_BATCH_CTYPE_OK, "a b:c?d=e" },
        { "multipart/batching; boundary=\"a\\\"b\"", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=\"a\\bc\"", UCWA_BATCH_CTYPE_OK, "abc" },
        { NULL, UCWA_BATCH_CTYPE_OTHER, NULL },
        { "", UCWA_BATCH_CTYPE_OTHER, NULL },
        { "multipart/mixed; boundary=x", UCWA_BATCH_CTYPE_OTHER, NULL },
        { "multipart/batchingx; boundary=x", UCWA_BATCH_CTYPE_OTHER, NULL },
        { "application/json", UCWA_BATCH_CTYPE_OTHER, NULL },
        { "multipart/batching", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=\"\"", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=\"x", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=\"x \"", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=a; boundary=a", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=a b", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=a; junk", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=\"a\tb\"", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
        { "multipart/batching; boundary=\"\xc3\xa9\"", UCWA_BATCH_CTYPE_BAD_BOUNDARY, NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *b = NULL;
        ucwa_batch_ctype got = ucwa_batch_content_type(pool, t[i].ctype, &b);
        ck_assert_msg(got == t[i].want, "%s: %d, not %d", t[i].ctype ? t[i].ctype : "(null)",
                      got, t[i].want);
        if (t[i].boundary) {
            ck_assert_str_eq(b, t[i].boundary);
        }
    }
}
END_TEST

START_TEST(boundary_lengths)
{
    const char *b = NULL;
    char *ctype = apr_pstrcat(pool, "multipart/batching; boundary=", unit_repeat("x", 70), NULL);

    ck_assert_int_eq(ucwa_batch_content_type(pool, ctype, &b), UCWA_BATCH_CTYPE_OK);
    ck_assert_uint_eq(strlen(b), 70);
    ctype = apr_pstrcat(pool, ctype, "x", NULL);
    ck_assert_int_eq(ucwa_batch_content_type(pool, ctype, &b), UCWA_BATCH_CTYPE_BAD_BOUNDARY);
}
END_TEST

START_TEST(split)
{
    ucwa_batch_slice *s;
    int n;
    const char *body;

    /* preamble, transport padding, an empty part, LF lines, an epilogue */
    body = "preamble\r\n--" B " \t\r\none\r\n--" B "\n--" B "\ntwo\n\n--" B "--epilogue";
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 10, &s, &n, &why),
                     UCWA_BATCH_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(s[0].len, 3);
    ck_assert(!memcmp(s[0].data, "one", 3));
    ck_assert_uint_eq(s[1].len, 0);
    ck_assert_uint_eq(s[2].len, 4);
    ck_assert(!memcmp(s[2].data, "two\n", 4));
    /* the boundary inside a line, or followed by something else, is content */
    body = "--" B "\r\nx--" B "\r\n--" B "x\r\n--" B "-\r\n--" B "--";
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 10, &s, &n, &why),
                     UCWA_BATCH_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(s[0].len, strlen("x--" B "\r\n--" B "x\r\n--" B "-"));
    /* failures */
    body = "no delimiter at all";
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 10, &s, &n, &why),
                     UCWA_BATCH_MALFORMED);
    body = "--" B "--\r\n";
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 10, &s, &n, &why),
                     UCWA_BATCH_MALFORMED);
    ck_assert_str_eq(why, "the body has no part");
    body = "--" B "\r\nunclosed\r\n--" B;
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 10, &s, &n, &why),
                     UCWA_BATCH_MALFORMED);
    ck_assert_int_eq(ucwa_batch_split(pool, "", 0, B, 10, &s, &n, &why), UCWA_BATCH_MALFORMED);
    ck_assert_int_eq(ucwa_batch_split(pool, "--", 2, "", 10, &s, &n, &why), UCWA_BATCH_MALFORMED);
    /* the limit counts parts as they begin */
    body = "--" B "\r\na\r\n--" B "\r\nb\r\n--" B "--";
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 2, &s, &n, &why),
                     UCWA_BATCH_OK);
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 1, &s, &n, &why),
                     UCWA_BATCH_TOO_MANY);
    body = "--" B "\r\na\r\n--" B "\r\nb\r\n--" B "\r\nunclosed";
    ck_assert_int_eq(ucwa_batch_split(pool, body, strlen(body), B, 2, &s, &n, &why),
                     UCWA_BATCH_TOO_MANY);
}
END_TEST

START_TEST(requests)
{
    static const char *const parts[] = {
        PH "GET /ucwa/oauth/v1/applications/1/me HTTP/1.1\r\nHost: h\r\n"
        "Accept: application/json\r\n",
        PH "POST /ucwa/oauth/v1/applications/1/me/presence HTTP/1.0\r\n"
        "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"a\":\"b\"}\n\r\n",
        "content-type: APPLICATION/HTTP\r\nContent-Transfer-Encoding: 8BIT\r\n"
        "Content-Length: 1\r\n\r\n\r\n\r\nDELETE /x?y#z HTTP/1.1\r\nX-Empty:\r\n"
        "X-Spaces:  a b  \r\n\r\n\r\n",
        "\r\nPOST /ucwa/n HTTP/1.1\r\n\r\nraw\x02" "body\r\n",
    };
    const char *body = batch(parts, 4);
    char *copy = apr_pstrdup(pool, body);

    *strchr(copy, '\x02') = '\0';     /* a NUL in the last body */
    ck_assert_int_eq(parse_n(copy, strlen(body)), UCWA_BATCH_OK);
    ck_assert_int_eq(nreqs, 4);
    ck_assert_str_eq(reqs[0].method, "GET");
    ck_assert_str_eq(reqs[0].target, "/ucwa/oauth/v1/applications/1/me");
    ck_assert_int_eq(reqs[0].minor, 1);
    ck_assert_int_eq(reqs[0].nheaders, 2);
    ck_assert_str_eq(ucwa_batch_header_get(reqs[0].headers, 2, "accept"), "application/json");
    ck_assert_uint_eq(reqs[0].body_len, 0);
    ck_assert_int_eq(reqs[1].minor, 0);
    ck_assert_uint_eq(reqs[1].body_len, 10);
    ck_assert_str_eq(reqs[1].body, "{\"a\":\"b\"}\n");
    ck_assert_str_eq(reqs[2].method, "DELETE");
    ck_assert_str_eq(reqs[2].target, "/x?y#z");
    ck_assert_str_eq(ucwa_batch_header_get(reqs[2].headers, reqs[2].nheaders, "X-Empty"), "");
    ck_assert_str_eq(ucwa_batch_header_get(reqs[2].headers, reqs[2].nheaders, "x-spaces"), "a b");
    ck_assert_uint_eq(reqs[2].body_len, 0);     /* only line breaks: no body */
    ck_assert_ptr_null(ucwa_batch_header_get(reqs[2].headers, reqs[2].nheaders, "Host"));
    ck_assert_uint_eq(reqs[3].body_len, 10);    /* without Content-Length: the rest, NULs too */
    ck_assert(!memcmp(reqs[3].body, "raw\x00" "body\r\n", 10));
    /* CRLF or LF, the same requests */
    ok("--" B "\n" "Content-Type: application/http\n\nGET / HTTP/1.1\nA: b\n\n--" B "--", 1);
    ck_assert_str_eq(reqs[0].headers[0].value, "b");
}
END_TEST

START_TEST(malformed_parts)
{
    bad(one("Content-Type: multipart/batching; boundary=x\r\n\r\nGET / HTTP/1.1"), "multipart");
    bad(one("Content-Type: multipart/mixed\r\n\r\nGET / HTTP/1.1"), "multipart");
    bad(one("Content-Type: text/plain\r\n\r\nGET / HTTP/1.1"), "application/http");
    bad(one("Content-Type: application/http; msgtype=response\r\n\r\nGET / HTTP/1.1"),
        "msgtype");
    bad(one("Content-Type: application/http; msgtype\r\n\r\nGET / HTTP/1.1"), "malformed");
    bad(one("Content-Type: application/http\r\nContent-Type: application/http\r\n\r\n"
            "GET / HTTP/1.1"), "repeated");
    bad(one("Content-Transfer-Encoding: base64\r\n\r\nR0VUIC8gSFRUUC8xLjE="), "Transfer-Encoding");
    bad(one(PH), "no request line");
    bad(one(PH "\r\n\r\n"), "no request line");
    bad(one("Content-Type: application/http"), "no request line");
    bad(one("GET / HTTP/1.1\r\n"), "header line is malformed");
    bad(one(PH "GET /"), "request line");
    bad(one(PH "GET / HTTP/2.0"), "HTTP/1.0 or HTTP/1.1");
    bad(one(PH "GET / HTTP/1.1x"), "HTTP/1.0 or HTTP/1.1");
    bad(one(PH "GET  / HTTP/1.1"), "request line");
    bad(one(PH "GET / x HTTP/1.1"), "HTTP/1.0 or HTTP/1.1");
    bad(one(PH "G(T / HTTP/1.1"), "request line");
    bad(one(PH "GET /\x7f HTTP/1.1"), "request line");
    bad(one(PH "GET /\xc3\xa9 HTTP/1.1"), "request line");
    bad(one(PH "GET / HTTP/1.1\r\nNo colon\r\n"), "malformed");
    bad(one(PH "GET / HTTP/1.1\r\n: no name\r\n"), "malformed");
    bad(one(PH "GET / HTTP/1.1\r\nBad Name: x\r\n"), "malformed");
    bad(one(PH "GET / HTTP/1.1\r\nA: b\r\n folded\r\n"), "folded");
    bad(one(PH "GET / HTTP/1.1\r\nA: b\rc\r\n"), "control");
    bad(one(PH "GET / HTTP/1.1\r\nA: b\x01\r\n"), "control");
    bad(one(PH "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "Transfer-Encoding");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc"), "shorter");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nabc"), "longer");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\nabc"), "Content-Length");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nabc"), "Content-Length");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: \r\n\r\nabc"), "Content-Length");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc"), "Content-Length");
    bad(one(PH "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
        "Content-Length");
    /* one good part does not save a bad one */
    {
        static const char *const two[] = { PH "GET / HTTP/1.1", PH "GET /" };
        ck_assert_int_eq(parse(batch(two, 2)), UCWA_BATCH_MALFORMED);
    }
    /* a NUL in a header value */
    {
        const char *body = one(PH "GET / HTTP/1.1\r\nA: b\x01" "c\r\n");
        char *copy = apr_pstrdup(pool, body);
        *strchr(copy, '\x01') = '\0';
        ck_assert_int_eq(parse_n(copy, strlen(body)), UCWA_BATCH_MALFORMED);
    }
}
END_TEST

START_TEST(limits)
{
    const char *h64 = "", *h65;
    const char *line_max, *line_over;
    int i;

    for (i = 0; i < UCWA_BATCH_MAX_HEADERS; i++) {
        h64 = apr_psprintf(pool, "%sX-%d: %d\r\n", h64, i, i);
    }
    h65 = apr_pstrcat(pool, h64, "X-One-More: 1\r\n", NULL);
    ok(one(apr_pstrcat(pool, PH "GET / HTTP/1.1\r\n", h64, NULL)), 1);
    ck_assert_int_eq(reqs[0].nheaders, UCWA_BATCH_MAX_HEADERS);
    bad(one(apr_pstrcat(pool, PH "GET / HTTP/1.1\r\n", h65, NULL)), "too many header");
    bad(one(apr_pstrcat(pool, h65, "\r\nGET / HTTP/1.1\r\n", NULL)), "too many header");
    /* a line of UCWA_BATCH_MAX_LINE bytes, without its line break */
    line_max = apr_pstrcat(pool, "X: ", unit_repeat("a", UCWA_BATCH_MAX_LINE - 3), NULL);
    line_over = apr_pstrcat(pool, line_max, "a", NULL);
    ok(one(apr_pstrcat(pool, PH "GET / HTTP/1.1\r\n", line_max, "\r\n", NULL)), 1);
    bad(one(apr_pstrcat(pool, PH "GET / HTTP/1.1\r\n", line_over, "\r\n", NULL)), "too long");
    bad(one(apr_pstrcat(pool, PH "GET /", unit_repeat("a", UCWA_BATCH_MAX_LINE),
                        " HTTP/1.1\r\n", NULL)), "too long");
    /* 100 parts, then 101 */
    {
        const char **parts = apr_palloc(pool, sizeof(char *) * 101);
        for (i = 0; i < 101; i++) {
            parts[i] = PH "GET / HTTP/1.1";
        }
        ok(batch(parts, UCWA_BATCH_MAX_PARTS), UCWA_BATCH_MAX_PARTS);
        ck_assert_int_eq(parse(batch(parts, 101)), UCWA_BATCH_TOO_MANY);
        ck_assert_int_eq(nreqs, 0);
        /* 101 parts of which one is malformed: still too many */
        parts[3] = "garbage";
        ck_assert_int_eq(parse(batch(parts, 101)), UCWA_BATCH_TOO_MANY);
    }
}
END_TEST

START_TEST(targets)
{
    static const struct { const char *target, *host, *want; } t[] = {
        { "/ucwa/x?y=1", "h", "/ucwa/x?y=1" },
        { "/ucwa/x#frag", "h", "/ucwa/x" },
        { "/", NULL, "/" },
        { "https://pool01.contoso.test:4443/ucwa/x?q", "pool01.contoso.test:4443", "/ucwa/x?q" },
        { "HTTP://POOL01.contoso.test/a", "pool01.CONTOSO.test", "/a" },
        { "https://pool01.contoso.test/a", "pool01.contoso.test:443", NULL },
        { "https://evil.example/a", "pool01.contoso.test", NULL },
        { "https://pool01.contoso.test@evil.example/a", "pool01.contoso.test", NULL },
        { "https://evil.example@pool01.contoso.test/a", "pool01.contoso.test", NULL },
        { "https://pool01.contoso.test", "pool01.contoso.test", NULL },
        { "https:///a", "", NULL },
        { "https://h/a", NULL, NULL },
        { "https://h//a", "h", NULL },
        { "ftp://h/a", "h", NULL },
        { "//h/a", "h", NULL },
        { "*", "h", NULL },
        { "a/b", "h", NULL },
        { "", "h", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *got = ucwa_batch_target_path(pool, t[i].target, t[i].host);
        if (t[i].want) {
            ck_assert_msg(got && !strcmp(got, t[i].want), "%s: %s", t[i].target,
                          got ? got : "(null)");
        }
        else {
            ck_assert_msg(got == NULL, "%s: %s", t[i].target, got);
        }
    }
    ck_assert_ptr_null(ucwa_batch_target_path(pool, NULL, "h"));
}
END_TEST

START_TEST(normalize)
{
    static const struct { const char *in, *want; } t[] = {
        { "/ucwa/a/b", "/ucwa/a/b" },
        { "/ucwa/a/./b/", "/ucwa/a/b/" },
        { "/ucwa/a/../b", "/ucwa/b" },
        { "/ucwa/a/..", "/ucwa/" },
        { "/ucwa/a/.", "/ucwa/a/" },
        { "/a/%2e%2E/b", "/b" },
        { "/a/%2e/b", "/a/b" },
        { "/%65vents/%7e%5F%2D", "/events/~_-" },
        { "/a%2fb/%40x%20y", "/a%2fb/%40x%20y" },
        { "/a/..%2fb", "/a/..%2fb" },
        { "/a/b?x=/../y&%2e", "/a/b?x=/../y&%2e" },
        { "/a//b", "/a//b" },
        { "/..", NULL },
        { "/a/../..", NULL },
        { "/a/../../b", NULL },
        { "/%2e%2e/x", NULL },
        { "/a%", NULL },
        { "/a%4", NULL },
        { "/a%zz", NULL },
        { "/a%4g", NULL },
        { "", NULL },
        { "a/b", NULL },
        { "?x", NULL },
        { "/", "/" },
        { "/.", "/" },
        { "/a/..", "/" },
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const char *got = ucwa_batch_normalize(pool, t[i].in);
        if (t[i].want) {
            ck_assert_msg(got && !strcmp(got, t[i].want), "%s: %s", t[i].in,
                          got ? got : "(null)");
        }
        else {
            ck_assert_msg(got == NULL, "%s: %s", t[i].in, got);
        }
    }
}
END_TEST

START_TEST(forbidden)
{
    ck_assert_str_eq(ucwa_batch_forbidden("/events"), "events");
    ck_assert_str_eq(ucwa_batch_forbidden("/EVENTS/"), "events");
    ck_assert_str_eq(ucwa_batch_forbidden("/Photos/alice@contoso.test"), "photos");
    ck_assert_str_eq(ucwa_batch_forbidden("/batch"), "batch");
    ck_assert_ptr_null(ucwa_batch_forbidden("/eventsx"));
    ck_assert_ptr_null(ucwa_batch_forbidden("/me/events"));
    ck_assert_ptr_null(ucwa_batch_forbidden("/me/photo"));
    ck_assert_ptr_null(ucwa_batch_forbidden(""));
    ck_assert_ptr_null(ucwa_batch_forbidden("/"));
    ck_assert_ptr_null(ucwa_batch_forbidden(NULL));
    ck_assert_ptr_null(ucwa_batch_forbidden("events"));
}
END_TEST

START_TEST(render)
{
    static const unsigned char rnd[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                           0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    static const ucwa_batch_header h[] = {
        { "Content-Type", "application/json" }, { "ETag", "\"3\"" },
        { "Bad Name", "x" }, { "X-Split", "a\r\nInjected: 1" }, { "", "y" },
    };
    static const char body3[] = "--batch_00112233445566778899aabbccddeeff\r\n\x00";
    ucwa_batch_response rs[3];
    const char *b, *want;
    char *out;
    apr_size_t len;
    ucwa_batch_slice *s;
    int n;

    memset(rs, 0, sizeof(rs));
    rs[0].status = 200;
    rs[0].headers = h;
    rs[0].nheaders = 5;
    rs[0].body = "{\"a\":1}";
    rs[0].body_len = 7;
    rs[1].status = 204;
    rs[1].reason = "Evil\r\nX: y";
    rs[2].status = 299;
    rs[2].body = body3;
    rs[2].body_len = sizeof(body3) - 1;     /* 43, with the NUL */
    b = ucwa_batch_new_boundary(pool, rnd, rs, 2);
    ck_assert_str_eq(b, "batch_00112233445566778899aabbccddeeff");
    b = ucwa_batch_new_boundary(pool, rnd, rs, 3);  /* the third body holds that one */
    ck_assert_str_eq(b, "batch_00112233445566778899aabbccddeeff_0");
    out = ucwa_batch_render(pool, b, rs, 3, &len);
    want = apr_pstrcat(pool,
        "--", b, "\r\nContent-Type: application/http; msgtype=response\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"3\"\r\n"
        "Content-Length: 7\r\n\r\n{\"a\":1}\r\n"
        "--", b, "\r\nContent-Type: application/http; msgtype=response\r\n\r\n"
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n\r\n"
        "--", b, "\r\nContent-Type: application/http; msgtype=response\r\n\r\n"
        "HTTP/1.1 299 Success\r\nContent-Length: 43\r\n\r\n", NULL);
    ck_assert_uint_eq(len, strlen(want) + 43 + 2 + strlen(b) + 6);
    ck_assert(!memcmp(out, want, strlen(want)));
    ck_assert(!memcmp(out + strlen(want), rs[2].body, 43));
    /* and it splits back into the same parts */
    ck_assert_int_eq(ucwa_batch_split(pool, out, len, b, 100, &s, &n, &why), UCWA_BATCH_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(s[2].len, strlen("Content-Type: application/http; msgtype=response\r\n\r\n"
                                       "HTTP/1.1 299 Success\r\nContent-Length: 43\r\n\r\n") + 43);
    /* no part */
    out = ucwa_batch_render(pool, "x", rs, 0, &len);
    ck_assert_str_eq(out, "--x--\r\n");
}
END_TEST

START_TEST(reasons)
{
    ck_assert_str_eq(ucwa_batch_reason(429), "Too Many Requests");
    ck_assert_str_eq(ucwa_batch_reason(428), "Precondition Required");
    ck_assert_str_eq(ucwa_batch_reason(418), "Client Error");
    ck_assert_str_eq(ucwa_batch_reason(599), "Server Error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_batch");
    TCase *tc = unit_tcase("ucwa_batch");

    tcase_add_test(tc, content_type);
    tcase_add_test(tc, boundary_lengths);
    tcase_add_test(tc, split);
    tcase_add_test(tc, requests);
    tcase_add_test(tc, malformed_parts);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, targets);
    tcase_add_test(tc, normalize);
    tcase_add_test(tc, forbidden);
    tcase_add_test(tc, render);
    tcase_add_test(tc, reasons);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_batch", s);
}
