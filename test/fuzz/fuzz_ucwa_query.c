/* ucwa_query_events: the event request's query string (the input, NUL-terminated at its
 * first NUL as r->args would be), under a few timeout ranges and sticky values.
 *
 * Invariants: a refusal is one of the three fixed reasons and leaves *out alone; an
 * acceptance gives ack >= 1, timeout within [tmin, tmax], low and medium within
 * [5, 1800], priority <= 1000000. And the result is what an independent reading of the
 * rules gives: the query decoded by mob_form_parse (lenient), a malformed form refused
 * first, then ack (a positive number below 2^32), then the four optional numbers
 * (strtoll's syntax: leading blanks and a sign allowed, nothing after the digits); a
 * number absent keeps the sticky value (0: the default), then the clamping.
 * ucwa_query_limit, read the same way: limit absent is the default, 0 or malformed is
 * refused, a number above the maximum is the maximum. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz_util.h"
#include "mob_form.h"
#include "ucwa_query.h"

static const char R_FORM[] = "malformed query";
static const char R_ACK[] = "ack must be a positive number";
static const char R_NUM[] = "timeout, low, medium and priority must be numbers";
static const char R_LIMIT[] = "limit must be a positive number";

static const struct {
    apr_uint32_t tmin, tmax, tdefault;
} ranges[] = {
    { 180, 1800, 180 },           /* the module's defaults */
    { 0, 0xFFFFFFFFu, 0 },        /* no clamping at all */
    { 30, 30, 600 },              /* a single value, a default outside the range */
};

static const struct {
    apr_uint32_t timeout, low, medium;
} stickies[] = {
    { 0, 0, 0 },                  /* a first request */
    { 600, 60, 20 },              /* what a previous request left */
    { 0xFFFFFFFFu, 1, 1801 },     /* out of range: clamped as well */
};

static const struct {
    apr_uint32_t dflt, max;
} limits[] = {
    { 50, 100 },                  /* conversationLogs */
    { 0, 0xFFFFFFFFu },           /* no clamping */
};

/* The reference reading of one number: 0 when absent, -1 when malformed, 1 and *out. */
static int ref_uint(const apr_table_t *t, const char *name, apr_uint64_t max, apr_uint32_t *out)
{
    const char *v = apr_table_get(t, name);
    apr_uint64_t n = 0;
    int neg = 0, digits = 0;

    if (!v) {
        return 0;
    }
    while (*v == ' ' || (*v >= '\t' && *v <= '\r')) {
        v++;
    }
    if (*v == '+' || *v == '-') {
        neg = *v == '-';
        v++;
    }
    for (; *v >= '0' && *v <= '9'; v++, digits++) {
        if (n <= 0xFFFFFFFFFFull) {   /* saturates far above every max */
            n = n * 10 + (apr_uint64_t)(*v - '0');
        }
    }
    if (!digits || *v || (neg && n != 0) || n > max) {
        return -1;
    }
    *out = (apr_uint32_t)n;
    return 1;
}

static apr_uint32_t ref_clamp(apr_uint32_t v, apr_uint32_t lo, apr_uint32_t hi)
{
    if (v < lo) {
        return lo;
    }
    return v > hi ? hi : v;
}

/* The expected outcome: the reason, or NULL and *want. */
static const char *reference(apr_pool_t *p, const char *args, apr_uint32_t tmin,
                             apr_uint32_t tmax, apr_uint32_t tdefault,
                             const ucwa_event_params *sticky, ucwa_event_params *want)
{
    apr_table_t *t = NULL;
    const char *why = NULL;
    apr_uint32_t timeout, low, medium, priority = 0, ack = 0;
    int rt, rl, rm, rp;

    if (mob_form_parse(p, args, strlen(args), MOB_FORM_LENIENT, &t, &why) != APR_SUCCESS) {
        return R_FORM;
    }
    if (ref_uint(t, "ack", 0xFFFFFFFFu, &ack) != 1 || ack == 0) {
        return R_ACK;
    }
    timeout = sticky->timeout ? sticky->timeout : tdefault;
    low = sticky->low ? sticky->low : UCWA_QUERY_LOW_DEFAULT;
    medium = sticky->medium ? sticky->medium : UCWA_QUERY_MEDIUM_DEFAULT;
    rt = ref_uint(t, "timeout", 0xFFFFFFFFu, &timeout);
    rl = ref_uint(t, "low", 0xFFFFFFFFu, &low);
    rm = ref_uint(t, "medium", 0xFFFFFFFFu, &medium);
    rp = ref_uint(t, "priority", 1000000, &priority);
    if (rt < 0 || rl < 0 || rm < 0 || rp < 0) {
        return R_NUM;
    }
    want->ack = ack;
    want->timeout = ref_clamp(timeout, tmin, tmax);
    want->low = ref_clamp(low, 5, 1800);
    want->medium = ref_clamp(medium, 5, 1800);
    want->priority = priority;
    return NULL;
}

/* ucwa_query_limit's expected outcome: the reason, or NULL and *want. */
static const char *reference_limit(apr_pool_t *p, const char *args, apr_uint32_t dflt,
                                   apr_uint32_t max, apr_uint32_t *want)
{
    apr_table_t *t = NULL;
    const char *why = NULL;
    apr_uint32_t v = dflt;
    int r;

    if (mob_form_parse(p, args, strlen(args), MOB_FORM_LENIENT, &t, &why) != APR_SUCCESS) {
        return R_FORM;
    }
    r = ref_uint(t, "limit", 0xFFFFFFFFu, &v);
    if (r < 0 || (r == 1 && v == 0)) {
        return R_LIMIT;
    }
    *want = v > max ? max : v;
    return NULL;
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
    char *args = fuzz_cstr(data, size);
    size_t r, k;

    for (r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
        for (k = 0; k < sizeof(stickies) / sizeof(stickies[0]); k++) {
            ucwa_event_params in, out, want;
            const char *why, *why_ref;

            memset(&in, 0, sizeof(in));
            in.timeout = stickies[k].timeout;
            in.low = stickies[k].low;
            in.medium = stickies[k].medium;
            in.ack = 0xA5A5A5A5u;
            in.priority = 0x5A5A5A5Au;
            out = in;
            memset(&want, 0, sizeof(want));
            why = ucwa_query_events(p, args, ranges[r].tmin, ranges[r].tmax,
                                    ranges[r].tdefault, &out);
            why_ref = reference(p, args, ranges[r].tmin, ranges[r].tmax, ranges[r].tdefault,
                                &in, &want);
            if (why) {
                FUZZ_CHECK(!strcmp(why, R_FORM) || !strcmp(why, R_ACK) || !strcmp(why, R_NUM));
                FUZZ_CHECK(memcmp(&out, &in, sizeof(in)) == 0);
                FUZZ_CHECK(why_ref != NULL && !strcmp(why, why_ref));
                continue;
            }
            FUZZ_CHECK(why_ref == NULL);
            FUZZ_CHECK(out.ack >= 1);
            FUZZ_CHECK(out.timeout >= ranges[r].tmin && out.timeout <= ranges[r].tmax);
            FUZZ_CHECK(out.low >= UCWA_QUERY_WINDOW_MIN && out.low <= UCWA_QUERY_WINDOW_MAX);
            FUZZ_CHECK(out.medium >= UCWA_QUERY_WINDOW_MIN
                       && out.medium <= UCWA_QUERY_WINDOW_MAX);
            FUZZ_CHECK(out.priority <= UCWA_QUERY_PRIORITY_MAX);
            FUZZ_CHECK(out.ack == want.ack && out.timeout == want.timeout
                       && out.low == want.low && out.medium == want.medium
                       && out.priority == want.priority);
        }
    }
    for (r = 0; r < sizeof(limits) / sizeof(limits[0]); r++) {
        apr_uint32_t out = 0xA5A5A5A5u, want = 0;
        const char *why = ucwa_query_limit(p, args, limits[r].dflt, limits[r].max, &out);
        const char *why_ref = reference_limit(p, args, limits[r].dflt, limits[r].max, &want);
        if (why) {
            FUZZ_CHECK(!strcmp(why, R_FORM) || !strcmp(why, R_LIMIT));
            FUZZ_CHECK(out == 0xA5A5A5A5u);
            FUZZ_CHECK(why_ref != NULL && !strcmp(why, why_ref));
            continue;
        }
        FUZZ_CHECK(why_ref == NULL);
        FUZZ_CHECK(out == want && out <= limits[r].max);
    }
    free(args);
    apr_pool_destroy(p);
    return 0;
}
