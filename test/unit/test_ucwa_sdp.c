/* ucwa_sdp: the SDP bodies of calls (plain and multipart), their framing rules and
 * bounds, data URIs out and in. */
#include "unit.h"
#include "unit_sdp.h"
#include "ucwa_sdp.h"

#define PLAIN "application/sdp"
#define MINI "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"

static const ucwa_sdp_body *ok_body(const char *ctype, const char *body, apr_size_t len)
{
    ucwa_sdp_body *out = apr_pcalloc(pool, sizeof(*out));
    const char *why = ucwa_sdp_parse(pool, ctype, body, len, out);

    ck_assert_msg(why == NULL, "%s body of %zu bytes refused: %s", ctype, len, why);
    ck_assert_int_ge(out->nparts, 1);
    return out;
}

static const ucwa_sdp_body *ok(const char *ctype, const char *body)
{
    return ok_body(ctype, body, strlen(body));
}

/* refused, with the reason wanted (a piece of it), and *out left empty */
static void bad_body(const char *ctype, const char *body, apr_size_t len, const char *want)
{
    ucwa_sdp_body out;
    const char *why;

    memset(&out, 0x5a, sizeof(out));
    why = ucwa_sdp_parse(pool, ctype, body, len, &out);
    ck_assert_msg(why != NULL, "%s body accepted, wanted '%s'", ctype, want);
    ck_assert_msg(strstr(why, want) != NULL, "refused with '%s', wanted '%s'", why, want);
    ck_assert_int_eq(out.nparts, 0);
    ck_assert_int_eq(out.video, 0);
}

static void bad(const char *ctype, const char *body, const char *want)
{
    bad_body(ctype, body, strlen(body), want);
}

/* s with its CRLFs made LFs */
static char *lf(const char *s)
{
    char *out = apr_pstrdup(pool, s), *o = out;

    for (; *s; s++) {
        if (!(s[0] == '\r' && s[1] == '\n')) {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* An SDP of exactly n bytes: MINI then "a=x" lines (the last one shorter). */
static char *sdp_of(apr_size_t n)
{
    char *s = apr_palloc(pool, n + 1);
    apr_size_t o = strlen(MINI);

    memcpy(s, MINI, o);
    while (o < n) {
        apr_size_t line = n - o > 1000 ? 1000 : n - o;
        if (line < 5) {         /* too short for a line of its own: lengthen the last one */
            memmove(s + o - 2 + line, s + o - 2, 2);
            memset(s + o - 2, 'x', line);
            o += line;
            break;
        }
        memcpy(s + o, "a=", 2);
        memset(s + o + 2, 'x', line - 4);
        memcpy(s + o + line - 2, "\r\n", 2);
        o += line;
    }
    s[n] = '\0';
    return s;
}

/* n times the part, each after a delimiter (no close delimiter) */
static const char *parts(const char *boundary, int n, const char *part)
{
    const char *body = "";
    int i;

    for (i = 0; i < n; i++) {
        body = apr_pstrcat(pool, body, "--", boundary, "\r\n", part, NULL);
    }
    return body;
}

static const char *multipart(const char *boundary, int n, const char *part)
{
    return apr_pstrcat(pool, parts(boundary, n, part), "--", boundary, "--\r\n", NULL);
}

START_TEST(real_offers)
{
    static const struct {
        const char *sdp;
        int video;
    } t[] = {{SDP_CHROME, 1}, {SDP_AIORTC, 0}, {SDP_SFB, 1}, {SDP_SFB_ICE6, 0}, {MINI, 0}};
    size_t i;

    ck_assert_uint_gt(strlen(SDP_CHROME), 4096);
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const ucwa_sdp_body *b = ok(PLAIN, t[i].sdp);
        ck_assert_int_eq(b->nparts, 1);
        ck_assert_int_eq(b->video, t[i].video);
        ck_assert_ptr_eq(b->parts[0].body, t[i].sdp);       /* into the input */
        ck_assert_uint_eq(b->parts[0].len, strlen(t[i].sdp));
        ck_assert_str_eq(b->parts[0].content_type, PLAIN);
        ck_assert_ptr_null(b->parts[0].content_id);
        b = ok(PLAIN, lf(t[i].sdp));                        /* LF line ends */
        ck_assert_int_eq(b->video, t[i].video);
    }
    /* parameters and case of the media type; the part keeps the header as sent */
    ck_assert_str_eq(ok("Application/SDP; charset=utf-8", MINI)->parts[0].content_type,
                     "Application/SDP; charset=utf-8");
    /* the last line may lack its end; blank lines at the end pass; tabs pass */
    ok(PLAIN, "v=0\r\nm=audio 9 RTP/AVP 0");
    ok(PLAIN, MINI "\r\n\r\n");
    ok(PLAIN, MINI "a=x-tab:\there\r\n");
    /* mixed line ends */
    ok(PLAIN, "v=0\nm=audio 9 RTP/AVP 0\r\nm=video 9 RTP/AVP 96\n");
    ck_assert_int_eq(ok(PLAIN, "v=0\nm=video 9 RTP/AVP 96\n")->video, 1);
    ck_assert_int_eq(ok(PLAIN, "v=0\nm=videox 9 RTP/AVP 96\n")->video, 0);
}
END_TEST

START_TEST(multipart_alternative)
{
    const char *body = SDP_MULTIPART;
    const ucwa_sdp_body *b = ok(SDP_MULTIPART_CTYPE, body);
    const char *ice6 = strstr(body, SDP_SFB_ICE6), *ice19 = strstr(body, SDP_SFB);
    const char *lfbody;

    ck_assert_int_eq(b->nparts, 2);
    ck_assert_int_eq(b->video, 1);
    ck_assert_str_eq(b->parts[0].content_id, "2e8a1fa5bc6b5a4d8ba3c0e6c1c9b6f2@contoso.com");
    ck_assert_str_eq(b->parts[1].content_id, "c4f0e1d2a3b4c5d6e7f8091a2b3c4d5e@contoso.com");
    ck_assert_str_eq(b->parts[0].content_type, "application/sdp");
    /* byte for byte, in the input; the CRLF before a delimiter is the delimiter's */
    ck_assert_ptr_eq(b->parts[0].body, ice6);
    ck_assert_uint_eq(b->parts[0].len, strlen(SDP_SFB_ICE6) - 2);
    ck_assert_ptr_eq(b->parts[1].body, ice19);
    ck_assert_uint_eq(b->parts[1].len, strlen(SDP_SFB) - 2);

    lfbody = lf(body);
    b = ok("multipart/alternative; boundary=\"" SDP_MULTIPART_BOUNDARY "\"", lfbody);
    ck_assert_int_eq(b->nparts, 2);
    ck_assert_uint_eq(b->parts[1].len, strlen(lf(SDP_SFB)) - 1);

    /* a preamble and an epilogue are ignored; a Content-ID without <> is kept whole */
    b = ok("multipart/alternative;boundary=b1",
           "preamble\r\n--b1\r\nContent-Type: application/sdp\r\nContent-ID: plain-id\r\n\r\n"
           MINI "--b1--\r\nepilogue");
    ck_assert_int_eq(b->nparts, 1);
    ck_assert_str_eq(b->parts[0].content_id, "plain-id");
    ck_assert_uint_eq(b->parts[0].len, strlen(MINI) - 2);

    /* four parts are the most */
    b = ok("multipart/alternative; boundary=b1",
           multipart("b1", 4, "Content-Type: application/sdp\r\n\r\n" MINI));
    ck_assert_int_eq(b->nparts, 4);
    ck_assert_ptr_null(b->parts[3].content_id);
}
END_TEST

START_TEST(multipart_related)
{
    const char *body =
        "--rel\r\n"
        "Content-Type: application/json\r\n"
        "\r\n"
        "{\"to\":\"sip:bob@contoso.com\",\"_links\":{\"mediaOffer\":{\"href\":\"cid:o1\"}}}\r\n"
        "--rel\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-ID: <o1>\r\n"
        "\r\n"
        SDP_CHROME
        "--rel\r\n"
        "\r\n"
        "a part without Content-Type is text/plain: skipped\r\n"
        "--rel--\r\n";
    const ucwa_sdp_body *b = ok("multipart/related; type=\"application/json\"; boundary=rel",
                                body);

    ck_assert_int_eq(b->nparts, 1);
    ck_assert_int_eq(b->video, 1);
    ck_assert_str_eq(b->parts[0].content_id, "o1");
    ck_assert_ptr_eq(b->parts[0].body, strstr(body, SDP_CHROME));

    bad("multipart/related; boundary=rel",
        "--rel\r\nContent-Type: application/json\r\n\r\n{}\r\n--rel--\r\n",
        "no application/sdp part");
    /* eight parts of any type at the most */
    b = ok("multipart/related; boundary=r",
           apr_pstrcat(pool, parts("r", 4, "Content-Type: application/json\r\n\r\n{}\r\n"),
                       multipart("r", 4, "Content-Type: application/sdp\r\n\r\n" MINI),
                       NULL));
    ck_assert_int_eq(b->nparts, 4);
    bad("multipart/related; boundary=r",
        multipart("r", 9, "Content-Type: text/plain\r\n\r\nx\r\n"), "more than 8 parts");
    bad("multipart/related; boundary=r",
        multipart("r", 5, "Content-Type: application/sdp\r\n\r\n" MINI), "more than 4 SDP parts");
}
END_TEST

START_TEST(framing_refused)
{
    static const char nul[] = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=x\0y\r\n";
    char *line;

    bad_body(PLAIN, nul, sizeof(nul) - 1, "NUL");
    bad(PLAIN, "", "empty");
    bad_body(PLAIN, NULL, 0, "empty");
    bad(PLAIN, "o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\nm=audio 9 RTP/AVP 0\r\n", "v=0");
    bad(PLAIN, "v=1\r\nm=audio 9 RTP/AVP 0\r\n", "v=0");
    bad(PLAIN, " v=0\r\nm=audio 9 RTP/AVP 0\r\n", "v=0");
    bad(PLAIN, "v=00\r\nm=audio 9 RTP/AVP 0\r\n", "v=0");
    bad(PLAIN, "\xef\xbb\xbfv=0\r\nm=audio 9 RTP/AVP 0\r\n", "v=0");
    bad(PLAIN, "v=0\rm=audio 9 RTP/AVP 0\r\n", "CR without LF");
    bad(PLAIN, "v=0\r\nm=audio 9 RTP/AVP 0\r", "CR without LF");
    bad(PLAIN, "v=0\r\ns=caf\xc3\xa9\r\nm=audio 9 RTP/AVP 0\r\n", "printable ASCII");
    bad(PLAIN, "v=0\r\ns=\x7f\r\nm=audio 9 RTP/AVP 0\r\n", "printable ASCII");
    bad(PLAIN, "v=0\r\ns=\x1b[31m\r\nm=audio 9 RTP/AVP 0\r\n", "printable ASCII");
    bad(PLAIN, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", "no m= line");
    bad(PLAIN, "v=0\r\n\r\nm=audio 9 RTP/AVP 0\r\n", "blank line");
    bad(PLAIN, "v=0\r\nm=audio 9 RTP/AVP 0\r\n\r\na=x\r\n", "blank line");
    bad(PLAIN, "v=0\r\nm=audio 9 RTP/AVP 0\r\n{\"to\":1}\r\n", "<letter>=<value>");
    bad(PLAIN, "v=0\r\nm=video 9 RTP/AVP 96\r\n{\"to\":1}\r\n", "<letter>=<value>");
    bad(PLAIN, "v=0\r\nm=audio 9 RTP/AVP 0\r\na\r\n", "<letter>=<value>");
    bad(PLAIN, "v=0\r\nm=audio 9 RTP/AVP 0\r\n1=x\r\n", "<letter>=<value>");
    /* lines: 4096 bytes pass, 4097 do not */
    line = apr_pstrcat(pool, "a=", unit_repeat("x", UCWA_SDP_LINE_MAX - 2), NULL);
    ok(PLAIN, apr_pstrcat(pool, MINI, line, "\r\n", NULL));
    bad(PLAIN, apr_pstrcat(pool, MINI, line, "x\r\n", NULL), "longer than 4096");
    bad(PLAIN, apr_pstrcat(pool, "v=0\r\nm=audio 9 RTP/AVP 0\r\na=", unit_repeat("y", 60000),
                           NULL), "longer than 4096");
}
END_TEST

START_TEST(bounds)
{
    char *max = sdp_of(UCWA_SDP_MAX), *over = sdp_of(UCWA_SDP_MAX + 1);

    ck_assert_uint_eq(strlen(max), UCWA_SDP_MAX);
    ck_assert_uint_eq(strlen(over), UCWA_SDP_MAX + 1);
    ok(PLAIN, max);
    bad(PLAIN, over, "larger than 64 KiB");
    /* the cap is on the whole body, before anything is read */
    bad_body(PLAIN, over, (apr_size_t)1 << 40, "larger than 64 KiB");
    bad("multipart/alternative; boundary=b", apr_pstrcat(pool, "--b\r\nContent-Type: "
        "application/sdp\r\n\r\n", sdp_of(UCWA_SDP_MAX - 40), "\r\n--b--\r\n", NULL),
        "larger than 64 KiB");
}
END_TEST

START_TEST(multipart_refused)
{
    static const char sdp_part[] = "Content-Type: application/sdp\r\n\r\n" MINI;
    const char *one = multipart("b1", 1, sdp_part);

    bad("multipart/alternative", one, "no valid boundary");
    bad("multipart/alternative; boundary=", one, "malformed");
    bad("multipart/alternative; boundary=\"\"", one, "no valid boundary");
    bad(apr_pstrcat(pool, "multipart/alternative; boundary=", unit_repeat("b", 71), NULL),
        multipart(unit_repeat("b", 71), 1, sdp_part), "no valid boundary");
    ok(apr_pstrcat(pool, "multipart/alternative; boundary=", unit_repeat("b", 70), NULL),
       multipart(unit_repeat("b", 70), 1, sdp_part));
    bad("multipart/alternative; boundary=\"b1 \"", one, "no valid boundary");
    bad("multipart/alternative; boundary=b1; boundary=b2", one, "no valid boundary");
    bad("multipart/alternative; boundary=zz", one, "no boundary delimiter");
    bad("multipart/alternative; boundary=b1", "--b1--\r\n", "no part");
    bad("multipart/alternative; boundary=b1",
        apr_pstrcat(pool, "--b1\r\n", sdp_part, NULL), "not closed");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 5, sdp_part), "more than 4 SDP parts");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/json\r\n\r\n{}\r\n"), "not application/sdp");
    bad("multipart/alternative; boundary=b1", multipart("b1", 1, "\r\n" MINI),
        "not application/sdp");
    /* nesting */
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: multipart/alternative; boundary=b2\r\n\r\n"
                  "--b2\r\nContent-Type: application/sdp\r\n\r\n" MINI "--b2--\r\n"),
        "may not be multipart");
    bad("multipart/related; boundary=b1",
        multipart("b1", 1, "Content-Type: multipart/related; boundary=b2\r\n\r\n--b2--\r\n"),
        "may not be multipart");
    /* part headers */
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\nContent-Transfer-Encoding: "
                  "base64\r\n\r\ndj0wDQo=\r\n"), "Content-Transfer-Encoding");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\nContent-Type: application/sdp"
                  "\r\n\r\n" MINI), "repeated");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\nContent-ID: <a>\r\n"
                  "Content-ID: <b>\r\n\r\n" MINI), "repeated");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 2, "Content-Type: application/sdp\r\nContent-ID: <same>\r\n\r\n" MINI),
        "same Content-ID");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\nContent-ID: <caf\xc3\xa9>\r\n\r\n"
                  MINI), "Content-ID is malformed");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\nContent-ID: <a b>\r\n\r\n" MINI),
        "Content-ID is malformed");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\nContent-ID: <<a>>\r\n\r\n" MINI),
        "Content-ID is malformed");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, "Content-Type: application/sdp\r\n folded\r\n\r\n" MINI), "folded");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, apr_pstrcat(pool, "X-Big: ", unit_repeat("h", 9000),
                                       "\r\nContent-Type: application/sdp\r\n\r\n" MINI, NULL)),
        "too long");
    bad("multipart/alternative; boundary=b1",
        multipart("b1", 1, apr_pstrcat(pool, unit_repeat("X-H: 1\r\n", 65),
                                       "Content-Type: application/sdp\r\n\r\n" MINI, NULL)),
        "too many header fields");
    /* a bad SDP in a part refuses the whole body */
    bad("multipart/alternative; boundary=b1",
        apr_pstrcat(pool, "--b1\r\n", sdp_part, "--b1\r\nContent-Type: application/sdp\r\n\r\n"
                    "v=1\r\nm=audio 9 RTP/AVP 0\r\n--b1--\r\n", NULL), "v=0");
    /* the Content-Type of the whole */
    bad(NULL, MINI, "Content-Type");
    bad("", MINI, "Content-Type");
    bad("sdp", MINI, "Content-Type");
    bad("application/json", MINI, "not application/sdp or multipart");
    bad("multipart/mixed; boundary=b1", one, "not application/sdp or multipart");
    bad("text/plain", MINI, "not application/sdp or multipart");
    bad("application/sdp; =x", MINI, "parameter is malformed");
    ok(apr_pstrcat(pool, "application/sdp; x=", unit_repeat("y", 256 - 19), NULL), MINI);
    bad(apr_pstrcat(pool, "application/sdp; x=", unit_repeat("y", 256 - 18), NULL), MINI,
        "longer than 256");
    bad("application/sdp; charset=\"utf-8", MINI, "parameter is malformed");
}
END_TEST

START_TEST(data_uris_out)
{
    const char *uri = ucwa_sdp_data_uri(pool, PLAIN, MINI, strlen(MINI)), *ct, *why = NULL;
    const char *back;
    apr_size_t len;

    ck_assert_str_eq(uri, "data:application/sdp;base64,dj0wDQpvPS0gMSAxIElOIElQNCAxOTIuMC4yLj"
                          "ENCnM9LQ0KdD0wIDANCm09YXVkaW8gOSBSVFAvQVZQIDANCg==");
    back = ucwa_sdp_from_data_uri(pool, uri, &ct, &len, &why);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(ct, PLAIN);
    ck_assert_uint_eq(len, strlen(MINI));
    ck_assert_str_eq(back, MINI);

    /* multipart: the boundary kept, blanks and quotes gone, the bytes the same */
    uri = ucwa_sdp_data_uri(pool, SDP_MULTIPART_CTYPE, SDP_MULTIPART, strlen(SDP_MULTIPART));
    ck_assert_msg(!strncmp(uri, "data:multipart/alternative;boundary=----=_NextPart_9628;base64,",
                           63), "%.80s", uri);
    back = ucwa_sdp_from_data_uri(pool, uri, &ct, &len, &why);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(len, strlen(SDP_MULTIPART));
    ck_assert_int_eq(memcmp(back, SDP_MULTIPART, len), 0);
    ck_assert_int_eq(ok(ct, back)->nparts, 2);

    /* a boundary with a blank, a comma-free but quoted value; type in lower case */
    uri = ucwa_sdp_data_uri(pool, "Multipart/Alternative ; boundary=\"a b=c?\" ; x=1", "", 0);
    ck_assert_str_eq(uri, "data:multipart/alternative;boundary=a%20b=c%3F;x=1;base64,");
    back = ucwa_sdp_from_data_uri(pool, uri, &ct, &len, &why);
    ck_assert_str_eq(ct, "multipart/alternative;boundary=\"a b=c?\";x=1");
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(back, "");
}
END_TEST

START_TEST(data_uris_in)
{
    const char *ct, *why, *s;
    apr_size_t len;

    /* percent-encoded, not base64: '+' is a plus (ICE passwords, SRTP keys) */
    s = ucwa_sdp_from_data_uri(pool, "data:application/sdp,v=0%0D%0Aa=ice-pwd:a+b/c%0D%0A",
                               &ct, &len, &why);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "v=0\r\na=ice-pwd:a+b/c\r\n");
    ck_assert_uint_eq(len, 22);
    /* case of the scheme, the type and base64 */
    s = ucwa_sdp_from_data_uri(pool, "DATA:Application/SDP;BASE64,dj0w", &ct, &len, &why);
    ck_assert_str_eq(s, "v=0");
    ck_assert_str_eq(ct, "application/sdp");
    /* an escaped base64 (%2B, %3D as encodeURIComponent leaves them) */
    s = ucwa_sdp_from_data_uri(pool, "data:application/sdp;base64,dj0w%0A", &ct, &len, &why);
    ck_assert_ptr_null(s);
    s = ucwa_sdp_from_data_uri(pool, "data:application/sdp;base64,dj0wDQo%3D", &ct, &len, &why);
    ck_assert_str_eq(s, "v=0\r\n");
    /* multipart/related, and its parameters */
    s = ucwa_sdp_from_data_uri(pool, "data:multipart/related;type=application%2Fjson;"
                               "boundary=r;base64,", &ct, &len, &why);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(ct, "multipart/related;type=\"application/json\";boundary=r");
}
END_TEST

START_TEST(data_uris_refused)
{
    static const struct {
        const char *uri, *why;
    } t[] = {
        {"", "not a data URI"},
        {"cid:o1", "not a data URI"},
        {"http://example.com/offer.sdp", "not a data URI"},
        {"data:application/sdp;base64", "without a comma"},
        {"data:,v=0", "not application/sdp"},
        {"data:text/plain,v=0", "not application/sdp"},
        {"data:application/sdpx;base64,dj0w", "not application/sdp"},
        {"data:multipart/mixed;boundary=b;base64,", "not application/sdp"},
        {"data:application/sdp;base64,dj0wD", "bad base64"},
        {"data:application/sdp;base64,dj0w!", "bad base64"},
        {"data:application/sdp;base64,dj1", "bad base64"},    /* not canonical */
        {"data:application/sdp,v=0%0", "bad percent escape"},
        {"data:application/sdp,v=0%zz", "bad percent escape"},
        {"data:application/sdp;charset,v=0", "malformed parameter"},
        {"data:application/sdp;;base64,dj0w", "malformed parameter"},
        {"data:application/sdp;base64;x=1,dj0w", "malformed parameter"},
        {"data:application/sdp;x=%00,v=0", "malformed parameter"},
        {"data:application/sdp;x=%0d%0aInjected: 1,v=0", "malformed parameter"},
        {"data:application/sdp;a%20b=1,v=0", "malformed parameter"},
        {"data:application%2,v=0", "malformed media type"},
    };
    const char *ct, *why;
    apr_size_t len;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        why = NULL;
        ck_assert_msg(ucwa_sdp_from_data_uri(pool, t[i].uri, &ct, &len, &why) == NULL,
                      "'%s' accepted", t[i].uri);
        ck_assert_msg(why && strstr(why, t[i].why), "'%s': '%s', wanted '%s'", t[i].uri,
                      why, t[i].why);
    }
    why = NULL;
    ck_assert_ptr_null(ucwa_sdp_from_data_uri(pool, NULL, &ct, &len, &why));
    ck_assert_ptr_nonnull(why);
    /* the header and the data are bounded */
    ck_assert_ptr_null(ucwa_sdp_from_data_uri(pool, apr_pstrcat(pool, "data:application/sdp;x=",
                       unit_repeat("a", 1100), ",v=0", NULL), &ct, &len, &why));
    ck_assert_str_eq(why, "a data URI header too long");
    ck_assert_ptr_null(ucwa_sdp_from_data_uri(pool, apr_pstrcat(pool, "data:application/sdp;x=",
                       unit_repeat("%22", 240), ",v=0", NULL), &ct, &len, &why));
    ck_assert_str_eq(why, "a data URI with a Content-Type longer than 256 bytes");
    ck_assert_ptr_null(ucwa_sdp_from_data_uri(pool, apr_pstrcat(pool, "data:application/sdp,",
                       unit_repeat("a", UCWA_SDP_MAX + 1), NULL), &ct, &len, &why));
    ck_assert_str_eq(why, "the body is larger than 64 KiB");
    ck_assert_ptr_nonnull(ucwa_sdp_from_data_uri(pool, apr_pstrcat(pool, "data:application/sdp,",
                          unit_repeat("a", UCWA_SDP_MAX), NULL), &ct, &len, &why));
    ck_assert_ptr_null(ucwa_sdp_from_data_uri(pool, apr_pstrcat(pool, "data:application/sdp,",
                       unit_repeat("%41", 3 * UCWA_SDP_MAX), NULL), &ct, &len, &why));
    ck_assert_str_eq(why, "the body is larger than 64 KiB");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ucwa_sdp");
    TCase *tc = unit_tcase("core");

    tcase_add_test(tc, real_offers);
    tcase_add_test(tc, multipart_alternative);
    tcase_add_test(tc, multipart_related);
    tcase_add_test(tc, framing_refused);
    tcase_add_test(tc, bounds);
    tcase_add_test(tc, multipart_refused);
    tcase_add_test(tc, data_uris_out);
    tcase_add_test(tc, data_uris_in);
    tcase_add_test(tc, data_uris_refused);
    suite_add_tcase(s, tc);
    return unit_run("test_ucwa_sdp", s);
}
