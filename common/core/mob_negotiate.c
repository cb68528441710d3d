#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <apr_lib.h>

#include "mob_negotiate.h"

#define AD_XML  "application/vnd.microsoft.rtc.autodiscover+xml"
#define AD_JSON "application/vnd.microsoft.rtc.autodiscover+json"

/* Bounded token comparison: [s, s+n) equals the NUL-terminated lit, ignoring case. */
static int token_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t')) {
        s++;
    }
    return s;
}

static size_t trim_len(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    return n;
}

/* q-value in thousandths, as RFC 9110 allows at most three decimals; -1 if malformed. */
static int parse_q(const char *v, size_t n)
{
    int q = 0, digits = 0;
    size_t i = 0;

    if (n == 0 || (v[0] != '0' && v[0] != '1')) {
        return -1;
    }
    q = (v[0] - '0') * 1000;
    i = 1;
    if (i < n && v[i] == '.') {
        int scale = 100;
        for (i++; i < n && digits < 3; i++, digits++, scale /= 10) {
            if (!apr_isdigit(v[i])) {
                return -1;
            }
            q += (v[i] - '0') * scale;
        }
    }
    if (i != n || q > 1000) {
        return -1;
    }
    return q;
}

/* One media range [s, end): its representation and q. Returns MOB_FMT_NONE for
 * ranges we do not serve; *q is -1 for a malformed range. */
static mob_format parse_range(const char *s, const char *end, int *q)
{
    const char *semi = memchr(s, ';', (size_t)(end - s));
    const char *type_end = semi ? semi : end;
    size_t tlen;
    int version_ok = 1;
    mob_format f = MOB_FMT_NONE;

    *q = 1000;
    s = skip_ws(s, type_end);
    tlen = trim_len(s, (size_t)(type_end - s));

    /* parameters: q and v; anything else is ignored */
    while (semi && semi < end) {
        const char *p = skip_ws(semi + 1, end);
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *pend = next ? next : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        if (eq) {
            size_t klen = trim_len(p, (size_t)(eq - p));
            const char *v = skip_ws(eq + 1, pend);
            size_t vlen = trim_len(v, (size_t)(pend - v));
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (token_is(p, klen, "q")) {
                *q = parse_q(v, vlen);
            }
            else if (token_is(p, klen, "v")) {
                version_ok = token_is(v, vlen, "1") || token_is(v, vlen, "1.0");
            }
        }
        semi = next;
    }
    if (*q < 0) {
        return MOB_FMT_NONE;
    }
    if (token_is(s, tlen, "application/json") || token_is(s, tlen, "*/*")
        || token_is(s, tlen, "application/*")) {
        f = MOB_FMT_HAL_JSON;
    }
    else if (token_is(s, tlen, AD_XML)) {
        f = version_ok ? MOB_FMT_AD_XML : MOB_FMT_NONE;
    }
    else if (token_is(s, tlen, AD_JSON)) {
        f = version_ok ? MOB_FMT_AD_JSON : MOB_FMT_NONE;
    }
    else if (token_is(s, tlen, "application/xml") || token_is(s, tlen, "text/xml")
             || token_is(s, tlen, "text/html") || token_is(s, tlen, "text/*")) {
        f = MOB_FMT_UCWA_XML;
    }
    return f;
}

mob_format mob_negotiate(const char *accept)
{
    const char *s, *end;
    mob_format best = MOB_FMT_NONE;
    int best_q = 0, ranges = 0;
    size_t n;

    if (!accept) {
        return MOB_FMT_HAL_JSON;
    }
    n = strnlen(accept, MOB_ACCEPT_MAX + 1);
    if (n > MOB_ACCEPT_MAX) {
        return MOB_FMT_NONE;
    }
    s = accept;
    end = accept + n;
    if (skip_ws(s, end) == end) {
        return MOB_FMT_HAL_JSON;
    }
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *rend = comma ? comma : end;
        int q;
        mob_format f;

        if (++ranges > 64) {
            break;
        }
        f = parse_range(s, rend, &q);
        if (f != MOB_FMT_NONE && q > best_q) {
            best = f;
            best_q = q;
        }
        s = comma ? comma + 1 : end;
    }
    return best;
}

const char *mob_format_content_type(mob_format f)
{
    switch (f) {
    case MOB_FMT_AD_XML:
        return AD_XML "; v=1; charset=utf-8";
    case MOB_FMT_AD_JSON:
        return AD_JSON "; v=1; charset=utf-8";
    case MOB_FMT_UCWA_XML:
        return "application/xml; charset=utf-8";
    case MOB_FMT_HAL_JSON:
    case MOB_FMT_NONE:
    default:
        return "application/json; charset=utf-8";
    }
}
