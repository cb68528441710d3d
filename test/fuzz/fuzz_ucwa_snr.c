/* ucwa_snr_decide (what the SIP side does with a call to a user: ring the applications,
 * simultaneous ring, immediate or unanswered forward), ucwa_voice_check (the one decision
 * of a call to a number), ucwa_callfwd_check and ucwa_callfwd_enum (a user's
 * callForwardingSettings as mod_ucwa/ucwa_call_forwarding builds them from a PUT body).
 *
 * The input is lines: the first one's bytes are the settings (active setting, period,
 * each target None or Contact, unanswered handling, the two ring delays, the voice policy:
 * none, AllowCallForwarding, AllowSimultaneousRing), then a dial plan rule's pattern and
 * translation, a route's pattern and gateways, the user's LineURI, the three targets'
 * URIs, and dialled strings / enum spellings (at most 16).
 *
 * Invariants: the same plan twice; no voice policy: only the applications ring, nothing
 * skipped; the applications ring exactly when there is no immediate forward; an immediate
 * forward is the ImmediateForward setting's Contact, allowed by the policy, with delay 0
 * and no simultaneous ring; a simultaneous ring is the SimultaneousRing setting's, allowed,
 * after its delay; an unanswered forward is enabled, allowed, after its delay; a leg's URI
 * is the setting's "sip:" URI or "tel:" and a number (digits, '+' first when a rule or the
 * user made it E.164, maybe ";ext=" digits: a route such as ".*" takes a number no rule
 * normalised, as Skype for Business does) that the policy routes and that is not the user's own LineURI; its gateway set is NULL
 * or 1 to 9 digits; an active Contact setting not acted on says why (skipped). A check of a
 * number: ALLOWED exactly with a number and a route that has gateways, NO_POLICY exactly
 * without a policy, the same verdict twice. ucwa_callfwd_check passes only settings whose
 * active setting has its Contact URI, whose delays are in range, and never ImmediateForward
 * with unanswered handling; ucwa_callfwd_enum gives one of its names, equal to the input
 * ignoring case. */
#include <strings.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "ucwa_callfwd.h"
#include "ucwa_snr.h"
#include "ucwa_voice.h"

#define MAX_LINES 24

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

/* The user's own number: the LineURI is "tel:" number, maybe with parameters. */
static int own(const ucwa_voice_user *vu, const char *number)
{
    size_t n = strlen(number);

    return vu->line_uri && !strncasecmp(vu->line_uri, "tel:", 4)
           && !strncmp(vu->line_uri + 4, number, n)
           && (vu->line_uri[4 + n] == '\0' || vu->line_uri[4 + n] == ';');
}

static void check_leg(const ucwa_voice_user *vu, apr_pool_t *p, const ucwa_snr_leg *l,
                      const char *setting_uri, int delay_ms)
{
    const char *number = NULL;
    ucwa_voice_choice c;

    FUZZ_CHECK(setting_uri && l->delay_ms == delay_ms);
    if (!strncasecmp(l->uri, "sip:", 4)) {
        FUZZ_CHECK(!strcmp(l->uri, setting_uri) && l->gw_set == NULL);
        return;
    }
    FUZZ_CHECK(!strncmp(l->uri, "tel:", 4) && fuzz_is_number(l->uri + 4));
    FUZZ_CHECK(strlen(l->uri) <= 4 + UCWA_VOICE_NUMBER_MAX);
    FUZZ_CHECK(!own(vu, l->uri + 4));
    FUZZ_CHECK(ucwa_voice_check(vu, p, setting_uri, &number, &c) == UCWA_VOICE_ALLOWED);
    FUZZ_CHECK(!strcmp(number, l->uri + 4));
    if (l->gw_set) {
        size_t n = strlen(l->gw_set);
        FUZZ_CHECK(n >= 1 && n <= 9 && strspn(l->gw_set, "0123456789") == n);
        FUZZ_CHECK(ucwa_snr_gw_set(&c) && !strcmp(ucwa_snr_gw_set(&c), l->gw_set));
    }
}

static int contact(const char *target, const char *uri)
{
    return target && !strcmp(target, "Contact") && uri && *uri;
}

static int same_leg(const ucwa_snr_leg *a, const ucwa_snr_leg *b)
{
    return !a->uri == !b->uri && (!a->uri || !strcmp(a->uri, b->uri))
           && !a->gw_set == !b->gw_set && (!a->gw_set || !strcmp(a->gw_set, b->gw_set))
           && (!a->uri || a->delay_ms == b->delay_ms);
}

static void check_plan(const ucwa_callfwd *f, const ucwa_voice_user *vu, apr_pool_t *p)
{
    const ucwa_voice_policy *pol = vu->policy;
    ucwa_snr_plan a, b;
    int imm, sim;

    ucwa_snr_decide(f, vu, p, &a);
    ucwa_snr_decide(f, vu, p, &b);
    FUZZ_CHECK(a.ring_apps == b.ring_apps && a.immediate == b.immediate
               && same_leg(&a.simring, &b.simring) && same_leg(&a.forward, &b.forward)
               && !a.skipped == !b.skipped);
    if (!pol) {
        FUZZ_CHECK(a.ring_apps && !a.immediate && !a.simring.uri && !a.forward.uri
                   && !a.skipped);
        return;
    }
    FUZZ_CHECK(a.ring_apps == !a.immediate);
    imm = !strcmp(f->active_setting, "ImmediateForward")
          && contact(f->immediate_target, f->immediate_uri);
    sim = !strcmp(f->active_setting, "SimultaneousRing")
          && contact(f->simring_target, f->simring_uri);
    if (a.immediate) {
        FUZZ_CHECK(imm && pol->allow_call_forwarding && a.forward.uri && !a.simring.uri);
        check_leg(vu, p, &a.forward, f->immediate_uri, 0);
        FUZZ_CHECK(!a.skipped);
        return;
    }
    if (imm) {
        FUZZ_CHECK(a.skipped && !a.simring.uri && !a.forward.uri);
        return;
    }
    if (a.simring.uri) {
        FUZZ_CHECK(sim && pol->allow_simultaneous_ring);
        check_leg(vu, p, &a.simring, f->simring_uri, f->simring_delay * 1000);
    }
    else if (sim) {
        FUZZ_CHECK(a.skipped);
    }
    if (a.forward.uri) {
        FUZZ_CHECK(f->unanswered_enabled && pol->allow_call_forwarding);
        check_leg(vu, p, &a.forward, f->unanswered_uri, f->unanswered_delay * 1000);
    }
    else if (f->unanswered_enabled && contact(f->unanswered_target, f->unanswered_uri)) {
        FUZZ_CHECK(a.skipped);
    }
}

static void check_callfwd(const ucwa_callfwd *f)
{
    const char *why = ucwa_callfwd_check(f);

    if (why) {
        FUZZ_CHECK(*why);
        return;
    }
    FUZZ_CHECK(f->simring_delay >= 0 && f->simring_delay <= UCWA_CALLFWD_SIMRING_DELAY_MAX);
    FUZZ_CHECK(f->unanswered_delay >= UCWA_CALLFWD_UNANSWERED_DELAY_MIN
               && f->unanswered_delay <= UCWA_CALLFWD_UNANSWERED_DELAY_MAX);
    if (!strcmp(f->active_setting, "ImmediateForward")) {
        FUZZ_CHECK(contact(f->immediate_target, f->immediate_uri) && !f->unanswered_enabled);
    }
    if (!strcmp(f->active_setting, "SimultaneousRing")) {
        FUZZ_CHECK(contact(f->simring_target, f->simring_uri));
    }
    if (f->unanswered_enabled) {
        FUZZ_CHECK(contact(f->unanswered_target, f->unanswered_uri));
    }
}

static void check_enum(const char *in, const char *const *names)
{
    const char *v = ucwa_callfwd_enum(in, names);
    int i, found = 0;

    if (!v) {
        for (i = 0; names[i]; i++) {
            FUZZ_CHECK(strcasecmp(in, names[i]));
        }
        return;
    }
    for (i = 0; names[i]; i++) {
        found |= v == names[i];
    }
    FUZZ_CHECK(found && !strcasecmp(in, v));
}

static void check_number(const ucwa_voice_user *vu, apr_pool_t *p, const char *dialled)
{
    const char *n1 = NULL, *n2 = NULL;
    ucwa_voice_choice c1, c2;
    ucwa_voice_verdict v1 = ucwa_voice_check(vu, p, dialled, &n1, &c1);
    ucwa_voice_verdict v2 = ucwa_voice_check(vu, p, dialled, &n2, &c2);

    FUZZ_CHECK(v1 == v2);
    FUZZ_CHECK((v1 == UCWA_VOICE_NO_POLICY) == !vu->policy);
    if (v1 == UCWA_VOICE_ALLOWED) {
        FUZZ_CHECK(n1 && n2 && !strcmp(n1, n2) && strlen(n1) <= UCWA_VOICE_NUMBER_MAX);
        FUZZ_CHECK(c1.route && c1.gateways && c1.gateways->nelts > 0);
    }
    else {
        FUZZ_CHECK(c1.route == NULL);
    }
}

static const char *text(char **lines, int n, int i)
{
    return i < n && *lines[i] ? lines[i] : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_cstr(data, size), *lines[MAX_LINES];
    fuzz_reader r;
    ucwa_callfwd f;
    ucwa_voice_user vu;
    ucwa_voice_policy pol;
    unsigned flags;
    int n, i;

    /* lines, empty ones kept (an empty line is "no such text") */
    n = fuzz_lines(s, lines, MAX_LINES);
    r.p = (const uint8_t *)lines[0];
    r.end = r.p + strlen(lines[0]);

    ucwa_callfwd_defaults(&f);
    f.active_setting = ucwa_callfwd_settings[fuzz_next(&r) % 3];
    f.active_period = ucwa_callfwd_periods[fuzz_next(&r) % 2];
    flags = fuzz_next(&r);
    f.immediate_target = ucwa_callfwd_targets[flags & 1];
    f.simring_target = ucwa_callfwd_targets[(flags >> 1) & 1];
    f.unanswered_target = ucwa_callfwd_targets[(flags >> 2) & 1];
    f.unanswered_enabled = (flags >> 3) & 1;
    f.simring_delay = (int)fuzz_next(&r) - 8;          /* -8..247: out of range too */
    f.unanswered_delay = (int)fuzz_next(&r) - 8;
    flags = fuzz_next(&r);

    memset(&vu, 0, sizeof(vu));
    memset(&pol, 0, sizeof(pol));
    vu.dial_plan = ucwa_dial_plan_make(p, "fuzz");
    vu.routes = ucwa_voice_routes_make(p);
    if (text(lines, n, 1) && text(lines, n, 2)) {
        (void)ucwa_dial_plan_add_rule(vu.dial_plan, p, "r", 1, lines[1], lines[2]);
    }
    if (text(lines, n, 3) && text(lines, n, 4)) {
        (void)ucwa_voice_routes_add(vu.routes, p, "rt", 1, lines[3], "u", lines[4]);
        (void)ucwa_voice_routes_add(vu.routes, p, "rt2", 2, ".*", "other", "9");
    }
    if (!(flags & 1)) {
        pol.identity = "fuzz";
        pol.usages = apr_array_make(p, 2, sizeof(const char *));
        APR_ARRAY_PUSH(pol.usages, const char *) = "u";
        if (flags & 8) {
            APR_ARRAY_PUSH(pol.usages, const char *) = "other";
        }
        pol.allow_call_forwarding = (flags >> 1) & 1;
        pol.allow_simultaneous_ring = (flags >> 2) & 1;
        vu.policy = &pol;
    }
    vu.line_uri = text(lines, n, 5);
    f.immediate_uri = text(lines, n, 6);
    f.simring_uri = text(lines, n, 7);
    f.unanswered_uri = text(lines, n, 8);

    check_callfwd(&f);
    check_plan(&f, &vu, p);
    check_plan(&f, &(ucwa_voice_user){ 0 }, p);
    {
        ucwa_snr_plan none;
        ucwa_snr_decide(NULL, &vu, p, &none);
        FUZZ_CHECK(none.ring_apps && !none.simring.uri && !none.forward.uri && !none.skipped);
    }
    for (i = 5; i < n; i++) {
        check_number(&vu, p, lines[i]);
        check_enum(lines[i], ucwa_callfwd_settings);
        check_enum(lines[i], ucwa_callfwd_periods);
        check_enum(lines[i], ucwa_callfwd_targets);
    }
    free(s);
    apr_pool_destroy(p);
    return 0;
}
