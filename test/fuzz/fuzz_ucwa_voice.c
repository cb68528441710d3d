/* ucwa_voice: normalization rule and route compilation (ucwa_dial_plan_add_rule,
 * ucwa_voice_routes_add) and normalisation (ucwa_voice_normalize, ucwa_voice_clean),
 * route choice (ucwa_voice_route) and ucwa_voice_list. The input is lines: a pattern, a
 * translation, then dialled strings (at most 16); the pattern also serves as a route's
 * number pattern, the translation as its lists of usages and gateways.
 *
 * Invariants: a refused rule or route leaves the plan or table as it was; a cleaned
 * string is '+'? then digits, at most UCWA_VOICE_DIAL_MAX bytes, and cleaning it again
 * gives it back; a normalisation that applied a rule gives a number ('+'? digits, maybe
 * ";ext=" digits) of at most UCWA_VOICE_NUMBER_MAX bytes, and one that applied none gives
 * the cleaned string; -1 exactly when cleaning fails or a rule's result is no number;
 * the same input gives the same answer twice; a chosen route has at least one gateway,
 * with no repeats (case-insensitive), and a list never has an empty name.
 * ucwa_snr (a request URI's user part as a number, a caller as the apps see it, the
 * route's gateway set, a Diversion value): a number is '+' and 1 to 31 digits, digits without '+' only with
 * user=phone; a caller that is a number is "tel:" and it, named by it; a gateway set is
 * one of the route's gateways, all digits; a Diversion value's hops are at most 99 per
 * '<', and the same value counts the same twice. */
#include <strings.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "ucwa_snr.h"
#include "ucwa_voice.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static void check_snr(apr_pool_t *p, const char *in)
{
    const char *n0 = ucwa_snr_number(p, in, 0), *n1 = ucwa_snr_number(p, in, 1);
    const char *addr = NULL, *name = NULL, *s;

    if (n0) {
        FUZZ_CHECK(n1 && !strcmp(n0, n1) && *in == '+');
    }
    if (n1) {
        FUZZ_CHECK(*n1 == '+' && strlen(n1) >= 2 && strlen(n1) <= 32);
        for (s = n1 + 1; *s; s++) {
            FUZZ_CHECK(*s >= '0' && *s <= '9');
        }
    }
    ucwa_snr_caller(p, in, "h.test", 1, NULL, &addr, &name);
    FUZZ_CHECK(addr && name);
    if (n1) {
        FUZZ_CHECK(!strncmp(addr, "tel:", 4) && !strcmp(addr + 4, n1) && !strcmp(name, n1));
    }
    else {
        FUZZ_CHECK(strncmp(addr, "tel:", 4) || strchr(addr, '@'));
    }
    {
        /* a Diversion value: each entry counts 1 to 99, at most one per '<' */
        int hops = 0, lts = 0, again = 0;
        int named = ucwa_snr_diversion(in, "alice@h.test", "tel:+15550100", &hops);
        for (s = in; *s; s++) {
            lts += *s == '<';
        }
        FUZZ_CHECK(hops >= 0 && hops <= 99 * lts && (named == 0 || named == 1));
        FUZZ_CHECK(ucwa_snr_diversion(in, "alice@h.test", "tel:+15550100", &again) == named
                   && again == hops);
    }
}

static void check_clean(apr_pool_t *p, const char *in)
{
    const char *c = ucwa_voice_clean(p, in), *s;

    if (!c) {
        return;
    }
    FUZZ_CHECK(strlen(c) <= UCWA_VOICE_DIAL_MAX);
    s = *c == '+' ? c + 1 : c;
    FUZZ_CHECK(*s);
    for (; *s; s++) {
        FUZZ_CHECK(*s >= '0' && *s <= '9');
    }
    FUZZ_CHECK(!strcmp(ucwa_voice_clean(p, c), c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_cstr(data, size), *line, *save = NULL;
    const char *pattern = NULL, *translation = NULL, *err = NULL;
    ucwa_dial_plan *dp = ucwa_dial_plan_make(p, "fuzz");
    ucwa_voice_routes *routes = ucwa_voice_routes_make(p);
    ucwa_voice_policy pol;
    apr_array_header_t *list;
    int n = 0, added, i, j;

    for (line = strtok_r(s, "\n", &save); line && n < 18; line = strtok_r(NULL, "\n", &save), n++) {
        if (n == 0) {
            pattern = line;
            continue;
        }
        if (n == 1) {
            translation = line;
            added = ucwa_dial_plan_add_rule(dp, p, "r", 1, pattern, translation) == NULL;
            FUZZ_CHECK(ucwa_dial_plan_rules(dp) == added);
            added = ucwa_voice_routes_add(routes, p, "rt", 1, pattern, translation,
                                          translation) == NULL;
            FUZZ_CHECK(ucwa_voice_routes_count(routes) == added);
            list = ucwa_voice_list(p, translation, &err);
            for (i = 0; list && i < list->nelts; i++) {
                FUZZ_CHECK(*APR_ARRAY_IDX(list, i, const char *) != '\0');
            }
            memset(&pol, 0, sizeof(pol));
            pol.identity = "fuzz";
            pol.usages = list ? list : apr_array_make(p, 1, sizeof(const char *));
            continue;
        }
        {
            const char *out = NULL, *rule = NULL, *out2 = NULL, *rule2 = NULL;
            const char *clean = ucwa_voice_clean(p, line);
            int rc = ucwa_voice_normalize(dp, p, line, &out, &rule);
            ucwa_voice_choice c;
            check_clean(p, line);
            check_snr(p, line);
            FUZZ_CHECK(rc >= -1 && rc <= 1);
            FUZZ_CHECK(ucwa_voice_normalize(dp, p, line, &out2, &rule2) == rc);
            if (rc == -1) {
                FUZZ_CHECK(out == NULL);
                continue;
            }
            FUZZ_CHECK(clean != NULL && out != NULL && !strcmp(out, out2));
            if (rc == 0) {
                FUZZ_CHECK(!strcmp(out, clean) && rule == NULL);
            }
            else {
                FUZZ_CHECK(fuzz_is_number(out) && strlen(out) <= UCWA_VOICE_NUMBER_MAX && rule);
            }
            if (ucwa_voice_route(&pol, routes, p, out, &c)) {
                const char *set = ucwa_snr_gw_set(&c);
                FUZZ_CHECK(c.route && c.usage && c.gateways->nelts > 0);
                FUZZ_CHECK(!set || (*set && strspn(set, "0123456789") == strlen(set)));
                for (i = 0; i < c.gateways->nelts; i++) {
                    for (j = i + 1; j < c.gateways->nelts; j++) {
                        FUZZ_CHECK(strcasecmp(APR_ARRAY_IDX(c.gateways, i, const char *),
                                              APR_ARRAY_IDX(c.gateways, j, const char *)));
                    }
                }
            }
            else {
                FUZZ_CHECK(c.route == NULL);
            }
        }
    }
    /* the whole input as a dialled string too */
    check_clean(p, (const char *)s);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
