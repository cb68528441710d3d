/* Dial plans, voice policies and routes (ucwa_voice.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <regex.h>
#include <apr_strings.h>

#include "ucwa_voice.h"

#define GROUPS 10   /* $0..$9 */

/* --- patterns --------------------------------------------------------------------------- */

typedef struct {
    regex_t re;
    int ok;
} pattern;

static apr_status_t pattern_free(void *data)
{
    pattern *pt = data;

    if (pt->ok) {
        regfree(&pt->re);
        pt->ok = 0;
    }
    return APR_SUCCESS;
}

/* The .NET shorthand c (after a backslash) as POSIX: outside a bracket expression a whole
 * bracket expression, inside one the class's members; NULL when c is none. */
static const char *shorthand(char c, int in_bracket)
{
    switch (c) {
    case 'd': return in_bracket ? "0-9" : "[0-9]";
    case 's': return in_bracket ? "[:space:]" : "[[:space:]]";
    case 'w': return in_bracket ? "[:alnum:]_" : "[[:alnum:]_]";
    case 'D': return in_bracket ? NULL : "[^0-9]";
    case 'S': return in_bracket ? NULL : "[^[:space:]]";
    case 'W': return in_bracket ? NULL : "[^[:alnum:]_]";
    default: return NULL;
    }
}

/* An SfB pattern as a POSIX extended expression, or NULL with *err. */
static const char *to_posix(apr_pool_t *p, const char *src, const char **err)
{
    apr_size_t n = strlen(src), o = 0, i;
    char *out = apr_palloc(p, n * 14 + 1);
    int in_bracket = 0;

    for (i = 0; i < n; i++) {
        char c = src[i];
        const char *rep;
        if (c == '\\') {
            char e = src[i + 1];
            if (!e) {
                *err = "ends with a lone backslash";
                return NULL;
            }
            i++;
            if ((rep = shorthand(e, in_bracket)) != NULL) {
                apr_size_t k = strlen(rep);
                memcpy(out + o, rep, k);
                o += k;
            }
            else if (in_bracket) {
                if (e == ']' || e == '^' || e == '-' || e == '[' || strchr("DSW", e)) {
                    *err = "has an escape inside [...] that POSIX cannot say";
                    return NULL;
                }
                out[o++] = e;   /* [\+] is [+] */
            }
            else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                *err = "has an escape this server does not know (\\d \\D \\s \\S \\w \\W and "
                       "escaped punctuation are known)";
                return NULL;
            }
            else {
                out[o++] = '\\';
                out[o++] = e;
            }
            continue;
        }
        if (!in_bracket && c == '[') {
            in_bracket = 1;
            out[o++] = c;
            if (src[i + 1] == '^') {
                out[o++] = src[++i];
            }
            if (src[i + 1] == ']') {
                out[o++] = src[++i];
            }
            continue;
        }
        if (in_bracket && c == ']') {
            in_bracket = 0;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

/* glibc's regcomp copies a repeated part once per repetition it may need, and again for
 * a repetition of that (a++++... or ((x{99}){99}){99}): memory grows as the product.
 * Estimates the size of the expanded expression; refuses a quantifier right after
 * another (.NET's lazy *? +? and possessive forms included) and more than
 * PATTERN_COST_MAX. posix is a translated pattern (to_posix). */
#define PATTERN_COST_MAX 4096
#define PATTERN_DEPTH_MAX 16

static const char *pattern_cost(const char *posix)
{
    unsigned long sum[PATTERN_DEPTH_MAX + 1];
    unsigned long last = 0;      /* the size of the last atom; 0: nothing to repeat */
    int depth = 0;
    const char *s = posix;

    sum[0] = 0;
    while (*s) {
        unsigned long factor = 0;
        if (*s == '*' || *s == '+' || *s == '?' || *s == '{') {
            if (!last) {
                return "repeats a repetition, or nothing";
            }
            if (*s == '{') {
                unsigned long n = 0, m = 0;
                int comma = 0, digits = 0;
                for (s++; *s && *s != '}'; s++) {
                    if (*s == ',' && !comma) {
                        comma = 1;
                    }
                    else if (*s >= '0' && *s <= '9' && digits < 4) {
                        digits++;
                        if (comma) m = m * 10 + (unsigned long)(*s - '0');
                        else n = n * 10 + (unsigned long)(*s - '0');
                    }
                    else {
                        return "has a malformed or too large {n,m}";
                    }
                }
                if (!*s) {
                    return "has a { without its }";
                }
                factor = (comma ? (m ? m : n + 1) : n) + 1;
            }
            else {
                factor = 2;
            }
            sum[depth] += last * (factor - 1);
            last = 0;
            s++;
        }
        else if (*s == '(') {
            if (depth == PATTERN_DEPTH_MAX) {
                return "nests groups too deep";
            }
            sum[++depth] = 0;
            last = 0;
            s++;
        }
        else if (*s == ')') {
            if (!depth) {
                return "closes a group it did not open";
            }
            last = sum[depth--] + 1;
            sum[depth] += last;
            s++;
        }
        else if (*s == '[') {
            s++;
            if (*s == '^') s++;
            if (*s == ']') s++;
            while (*s && *s != ']') {
                if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
                    const char *end = strstr(s + 2, ":]");
                    s = end ? end + 2 : s + 1;
                }
                else {
                    s++;
                }
            }
            if (*s) s++;
            last = 1;
            sum[depth] += 1;
        }
        else if (*s == '\\' && s[1]) {
            s += 2;
            last = 1;
            sum[depth] += 1;
        }
        else {
            last = (*s == '^' || *s == '$' || *s == '|') ? 0 : 1;
            sum[depth] += last;
            s++;
        }
        if (sum[depth] > PATTERN_COST_MAX) {
            return "is too complex";
        }
    }
    return NULL;
}

static const char *pattern_compile(apr_pool_t *p, const char *src, pattern **out)
{
    const char *err = NULL, *posix;
    pattern *pt;
    int rc;

    if (!src || !*src) {
        return "is empty";
    }
    if (strlen(src) > UCWA_VOICE_PATTERN_MAX) {
        return apr_psprintf(p, "is longer than %d bytes", UCWA_VOICE_PATTERN_MAX);
    }
    if ((posix = to_posix(p, src, &err)) == NULL || (err = pattern_cost(posix)) != NULL) {
        return err;
    }
    pt = apr_pcalloc(p, sizeof(*pt));
    rc = regcomp(&pt->re, posix, REG_EXTENDED);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &pt->re, msg, sizeof(msg));
        return apr_pstrdup(p, msg);
    }
    pt->ok = 1;
    apr_pool_cleanup_register(p, pt, pattern_free, apr_pool_cleanup_null);
    if (pt->re.re_nsub >= GROUPS) {
        return "has more than 9 groups";
    }
    *out = pt;
    return NULL;
}

/* 1 if pt matches the whole of s, with its groups in m. */
static int pattern_match(const pattern *pt, const char *s, regmatch_t *m)
{
    regmatch_t local[GROUPS];
    regmatch_t *g = m ? m : local;

    if (regexec(&pt->re, s, GROUPS, g, 0) != 0) {
        return 0;
    }
    return g[0].rm_so == 0 && (apr_size_t)g[0].rm_eo == strlen(s);
}

/* --- dial plans ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int priority;
    pattern *pt;
    const char *translation;
} rule;

struct ucwa_dial_plan {
    const char *identity;
    apr_array_header_t *rules;   /* rule, in the order they apply */
};

ucwa_dial_plan *ucwa_dial_plan_make(apr_pool_t *p, const char *identity)
{
    ucwa_dial_plan *dp = apr_pcalloc(p, sizeof(*dp));

    dp->identity = identity ? apr_pstrdup(p, identity) : "";
    dp->rules = apr_array_make(p, 4, sizeof(rule));
    return dp;
}

const char *ucwa_dial_plan_identity(const ucwa_dial_plan *dp)
{
    return dp->identity;
}

int ucwa_dial_plan_rules(const ucwa_dial_plan *dp)
{
    return dp->rules->nelts;
}

/* The highest group a translation names, -1 for none; -2 when it is malformed (${ not
 * closed by a digit and }). */
static int translation_groups(const char *t)
{
    int top = -1;

    for (; *t; t++) {
        int g;
        if (*t != '$') {
            continue;
        }
        if (t[1] == '$') {
            t++;
            continue;
        }
        if (t[1] >= '0' && t[1] <= '9') {
            g = t[1] - '0';
            t++;
        }
        else if (t[1] == '{') {
            if (!(t[2] >= '0' && t[2] <= '9') || t[3] != '}') {
                return -2;
            }
            g = t[2] - '0';
            t += 3;
        }
        else {
            continue;   /* a '$' of its own is itself */
        }
        if (g > top) {
            top = g;
        }
    }
    return top;
}

const char *ucwa_dial_plan_add_rule(ucwa_dial_plan *dp, apr_pool_t *p, const char *name,
                                    int priority, const char *pattern_text,
                                    const char *translation)
{
    const char *err;
    pattern *pt = NULL;
    rule r, *slot;
    int top, i;

    name = name && *name ? name : "(unnamed)";
    if (!translation || !*translation || strlen(translation) > UCWA_VOICE_PATTERN_MAX) {
        return apr_psprintf(p, "normalization rule %s: the translation is empty or longer "
                            "than %d bytes", name, UCWA_VOICE_PATTERN_MAX);
    }
    if ((err = pattern_compile(p, pattern_text, &pt)) != NULL) {
        return apr_psprintf(p, "normalization rule %s: the pattern %s", name, err);
    }
    top = translation_groups(translation);
    if (top == -2) {
        return apr_psprintf(p, "normalization rule %s: the translation has a ${ that is not "
                            "${0}..${9}", name);
    }
    if (top > (int)pt->re.re_nsub) {
        return apr_psprintf(p, "normalization rule %s: the translation names $%d, the "
                            "pattern has %d groups", name, top, (int)pt->re.re_nsub);
    }
    r.name = apr_pstrdup(p, name);
    r.priority = priority;
    r.pt = pt;
    r.translation = apr_pstrdup(p, translation);
    /* after every rule of the same or a lower priority */
    apr_array_push(dp->rules);
    slot = (rule *)dp->rules->elts;
    for (i = dp->rules->nelts - 1; i > 0 && slot[i - 1].priority > priority; i--) {
        slot[i] = slot[i - 1];
    }
    slot[i] = r;
    return NULL;
}

const char *ucwa_voice_clean(apr_pool_t *p, const char *dialled)
{
    char buf[UCWA_VOICE_DIAL_MAX + 1];
    apr_size_t n = 0, digits = 0;
    const char *s = dialled;

    if (!s || strlen(s) > UCWA_VOICE_DIAL_MAX) {
        return NULL;
    }
    if (!strncasecmp(s, "tel:", 4)) {
        s += 4;
    }
    for (; *s; s++) {
        if (strchr(" -.()", *s)) {
            continue;
        }
        if (*s == '+' && n == 0) {
            buf[n++] = '+';
        }
        else if (*s >= '0' && *s <= '9') {
            buf[n++] = *s;
            digits++;
        }
        else {
            return NULL;
        }
    }
    if (!digits) {
        return NULL;
    }
    buf[n] = '\0';
    return apr_pstrdup(p, buf);
}

/* A number as normalisation may give it: +? digits, optionally ;ext=digits. */
static int number_ok(const char *s)
{
    const char *ext;
    apr_size_t i, n;

    if (*s == '+') {
        s++;
    }
    ext = strchr(s, ';');
    n = ext ? (apr_size_t)(ext - s) : strlen(s);
    if (!n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    if (!ext) {
        return 1;
    }
    if (strncmp(ext, ";ext=", 5) || !ext[5]) {
        return 0;
    }
    for (ext += 5; *ext; ext++) {
        if (*ext < '0' || *ext > '9') {
            return 0;
        }
    }
    return 1;
}

/* The translation t of a match m of s, or NULL when longer than UCWA_VOICE_NUMBER_MAX. */
static const char *translate(apr_pool_t *p, const char *t, const char *s, const regmatch_t *m)
{
    char out[UCWA_VOICE_NUMBER_MAX + 1];
    apr_size_t o = 0;

    for (; *t; t++) {
        int g = -1;
        apr_size_t len;
        if (*t == '$' && t[1] == '$') {
            t++;
        }
        else if (*t == '$' && t[1] >= '0' && t[1] <= '9') {
            g = t[1] - '0';
            t++;
        }
        else if (*t == '$' && t[1] == '{' && t[2] >= '0' && t[2] <= '9' && t[3] == '}') {
            g = t[2] - '0';
            t += 3;
        }
        if (g < 0) {
            if (o >= UCWA_VOICE_NUMBER_MAX) {
                return NULL;
            }
            out[o++] = *t;
            continue;
        }
        if (m[g].rm_so < 0) {
            continue;   /* a group that took no part */
        }
        len = (apr_size_t)(m[g].rm_eo - m[g].rm_so);
        if (o + len > UCWA_VOICE_NUMBER_MAX) {
            return NULL;
        }
        memcpy(out + o, s + m[g].rm_so, len);
        o += len;
    }
    out[o] = '\0';
    return apr_pstrdup(p, out);
}

int ucwa_voice_normalize(const ucwa_dial_plan *dp, apr_pool_t *p, const char *dialled,
                         const char **out, const char **rule_name)
{
    const char *clean = ucwa_voice_clean(p, dialled);
    int i;

    *out = NULL;
    *rule_name = NULL;
    if (!clean) {
        return -1;
    }
    for (i = 0; dp && i < dp->rules->nelts; i++) {
        const rule *r = &APR_ARRAY_IDX(dp->rules, i, rule);
        regmatch_t m[GROUPS];
        const char *t;
        if (!pattern_match(r->pt, clean, m)) {
            continue;
        }
        t = translate(p, r->translation, clean, m);
        if (!t || !number_ok(t)) {
            return -1;
        }
        *out = t;
        *rule_name = r->name;
        return 1;
    }
    *out = clean;
    return 0;
}

/* --- lists, routes ---------------------------------------------------------------------- */

apr_array_header_t *ucwa_voice_list(apr_pool_t *p, const char *text, const char **err)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    const char *s = text ? text : "";

    while (*s) {
        apr_size_t n = strcspn(s, ";,");
        const char *b = s, *e = s + n;
        while (b < e && (*b == ' ' || *b == '\t')) b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > b) {
            if ((apr_size_t)(e - b) > UCWA_VOICE_NAME_MAX) {
                *err = apr_psprintf(p, "a name is longer than %d bytes", UCWA_VOICE_NAME_MAX);
                return NULL;
            }
            if (a->nelts >= UCWA_VOICE_LIST_MAX) {
                *err = apr_psprintf(p, "more than %d names", UCWA_VOICE_LIST_MAX);
                return NULL;
            }
            APR_ARRAY_PUSH(a, const char *) = apr_pstrndup(p, b, (apr_size_t)(e - b));
        }
        s += n;
        if (*s) {
            s++;
        }
    }
    return a;
}

typedef struct {
    const char *name;
    int priority;
    pattern *pt;
    apr_array_header_t *usages, *gateways;
} route;

struct ucwa_voice_routes {
    apr_array_header_t *routes;   /* route, by priority */
};

ucwa_voice_routes *ucwa_voice_routes_make(apr_pool_t *p)
{
    ucwa_voice_routes *r = apr_pcalloc(p, sizeof(*r));

    r->routes = apr_array_make(p, 4, sizeof(route));
    return r;
}

int ucwa_voice_routes_count(const ucwa_voice_routes *r)
{
    return r->routes->nelts;
}

const char *ucwa_voice_routes_add(ucwa_voice_routes *r, apr_pool_t *p, const char *name,
                                  int priority, const char *pattern_text, const char *usages,
                                  const char *gateways)
{
    const char *err = NULL;
    route x, *slot;
    int i;

    name = name && *name ? name : "(unnamed)";
    if ((err = pattern_compile(p, pattern_text, &x.pt)) != NULL) {
        return apr_psprintf(p, "voice route %s: the number pattern %s", name, err);
    }
    if ((x.usages = ucwa_voice_list(p, usages, &err)) == NULL) {
        return apr_psprintf(p, "voice route %s: PSTN usages: %s", name, err);
    }
    if ((x.gateways = ucwa_voice_list(p, gateways, &err)) == NULL) {
        return apr_psprintf(p, "voice route %s: gateways: %s", name, err);
    }
    x.name = apr_pstrdup(p, name);
    x.priority = priority;
    apr_array_push(r->routes);
    slot = (route *)r->routes->elts;
    for (i = r->routes->nelts - 1; i > 0 && slot[i - 1].priority > priority; i--) {
        slot[i] = slot[i - 1];
    }
    slot[i] = x;
    return NULL;
}

static int listed(const apr_array_header_t *a, const char *name)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(a, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

int ucwa_voice_route(const ucwa_voice_policy *pol, const ucwa_voice_routes *routes,
                     apr_pool_t *p, const char *number, ucwa_voice_choice *out)
{
    int u, i, g;

    memset(out, 0, sizeof(*out));
    if (!pol || !routes || !number) {
        return 0;
    }
    out->gateways = apr_array_make(p, 4, sizeof(const char *));
    for (u = 0; pol->usages && u < pol->usages->nelts; u++) {
        const char *usage = APR_ARRAY_IDX(pol->usages, u, const char *);
        for (i = 0; i < routes->routes->nelts; i++) {
            const route *r = &APR_ARRAY_IDX(routes->routes, i, route);
            if (!r->gateways->nelts || !listed(r->usages, usage)
                || !pattern_match(r->pt, number, NULL)) {
                continue;
            }
            if (!out->route) {
                out->route = r->name;
                out->usage = usage;
            }
            for (g = 0; g < r->gateways->nelts; g++) {
                const char *gw = APR_ARRAY_IDX(r->gateways, g, const char *);
                if (!listed(out->gateways, gw)) {
                    APR_ARRAY_PUSH(out->gateways, const char *) = gw;
                }
            }
        }
    }
    return out->route != NULL;
}

ucwa_voice_verdict ucwa_voice_check(const ucwa_voice_user *vu, apr_pool_t *p,
                                    const char *dialled, const char **number,
                                    ucwa_voice_choice *choice)
{
    const char *rule;

    *number = NULL;
    memset(choice, 0, sizeof(*choice));
    if (!vu || !vu->policy) {
        return UCWA_VOICE_NO_POLICY;
    }
    if (ucwa_voice_normalize(vu->dial_plan, p, dialled, number, &rule) < 0) {
        return UCWA_VOICE_NOT_A_NUMBER;
    }
    return ucwa_voice_route(vu->policy, vu->routes, p, *number, choice) ? UCWA_VOICE_ALLOWED
                                                                       : UCWA_VOICE_NOT_ALLOWED;
}

/* --- SQL -------------------------------------------------------------------------------- */

const char *ucwa_voice_identity_key(apr_pool_t *p, const char *identity)
{
    const char *name;
    char *key;

    if (!identity || !*identity) {
        return NULL;
    }
    if (!strcasecmp(identity, "global")) {
        return "global";
    }
    if (!strncasecmp(identity, "site:", 5)) {
        name = identity + 5;
        key = apr_pstrcat(p, "site:", name, NULL);
    }
    else {
        name = !strncasecmp(identity, "tag:", 4) ? identity + 4 : identity;
        key = apr_pstrcat(p, "tag:", name, NULL);
    }
    if (!*name || strlen(name) > UCWA_VOICE_NAME_MAX) {
        return NULL;
    }
    for (name = key; *key; key++) {
        if (*key >= 'A' && *key <= 'Z') {
            *key = (char)(*key - 'A' + 'a');
        }
    }
    return name;
}

static void warn(ucwa_voice_user *out, const char *w)
{
    APR_ARRAY_PUSH(out->warnings, const char *) = w;
}

/* The row of rows whose first column is the most specific of keys (tag, site, global). */
static const char **most_specific(apr_pool_t *p, const apr_array_header_t *rows,
                                  const char *const *keys)
{
    int k, i;

    for (k = 0; k < 3; k++) {
        for (i = 0; keys[k] && i < rows->nelts; i++) {
            const char **row = APR_ARRAY_IDX(rows, i, const char **);
            const char *key = ucwa_voice_identity_key(p, row[0]);
            if (key && !strcmp(key, keys[k])) {
                return row;
            }
        }
    }
    return NULL;
}

static int flag(const char *v, int dflt)
{
    return v ? atoi(v) != 0 : dflt;
}

int ucwa_voice_load(ucwa_db *db, apr_pool_t *p, const char *user, const char *site,
                    ucwa_voice_user *out)
{
    apr_array_header_t *rows;
    const char *keys[3], *args[3], **row, *err;
    int i;

    memset(out, 0, sizeof(*out));
    out->warnings = apr_array_make(p, 2, sizeof(const char *));
    out->routes = ucwa_voice_routes_make(p);
    keys[0] = keys[1] = NULL;
    keys[2] = "global";
    keys[1] = site && *site ? ucwa_voice_identity_key(p, apr_pstrcat(p, "site:", site, NULL))
                            : NULL;
    if (ucwa_sql_select(db, p, "ucwa_voice_1", "SELECT voice_policy, dial_plan, line_uri FROM "
                        "ucwa_voice_users WHERE sip_uri = %s", 1, &user, 3, &rows)) {
        return -1;
    }
    row = rows->nelts ? APR_ARRAY_IDX(rows, 0, const char **) : NULL;
    out->line_uri = row && row[2] && *row[2] ? row[2] : NULL;

    /* the voice policy: the granted tag, the site's, the global one */
    keys[0] = row && row[0] && *row[0] ? ucwa_voice_identity_key(p, row[0]) : NULL;
    for (i = 0; i < 3; i++) {
        args[i] = keys[i] ? keys[i] : "global";
    }
    {
        apr_array_header_t *pols;
        const char **pol;
        if (ucwa_sql_select(db, p, "ucwa_voice_2", "SELECT identity, pstn_usages, "
                            "allow_call_forwarding, allow_simultaneous_ring FROM "
                            "ucwa_voice_policies WHERE LOWER(identity) IN (%s, %s, %s)",
                            3, args, 4, &pols)) {
            return -1;
        }
        if ((pol = most_specific(p, pols, keys)) != NULL) {
            ucwa_voice_policy *vp = apr_pcalloc(p, sizeof(*vp));
            vp->identity = pol[0];
            if ((vp->usages = ucwa_voice_list(p, pol[1], &err)) == NULL) {
                warn(out, apr_psprintf(p, "voice policy %s: PSTN usages: %s", pol[0], err));
                vp->usages = apr_array_make(p, 1, sizeof(const char *));
            }
            vp->allow_call_forwarding = flag(pol[2], 1);
            vp->allow_simultaneous_ring = flag(pol[3], 1);
            out->policy = vp;
        }
    }

    /* the dial plan, the same way, and its rules */
    keys[0] = row && row[1] && *row[1] ? ucwa_voice_identity_key(p, row[1]) : NULL;
    for (i = 0; i < 3; i++) {
        args[i] = keys[i] ? keys[i] : "global";
    }
    {
        apr_array_header_t *plans, *rules;
        const char **plan;
        if (ucwa_sql_select(db, p, "ucwa_voice_3", "SELECT identity FROM ucwa_dial_plans "
                            "WHERE LOWER(identity) IN (%s, %s, %s)", 3, args, 1, &plans)) {
            return -1;
        }
        if ((plan = most_specific(p, plans, keys)) != NULL) {
            const char *key = ucwa_voice_identity_key(p, plan[0]);
            out->dial_plan = ucwa_dial_plan_make(p, plan[0]);
            if (ucwa_sql_select(db, p, "ucwa_voice_4", "SELECT name, priority, pattern, "
                                "translation FROM ucwa_dial_plan_rules WHERE "
                                "LOWER(dial_plan) = %s ORDER BY name", 1, &key, 4, &rules)) {
                return -1;
            }
            for (i = 0; i < rules->nelts; i++) {
                const char **r = APR_ARRAY_IDX(rules, i, const char **);
                if ((err = ucwa_dial_plan_add_rule(out->dial_plan, p, r[0],
                                                   r[1] ? atoi(r[1]) : 0, r[2], r[3]))) {
                    warn(out, apr_psprintf(p, "dial plan %s: %s", plan[0], err));
                }
            }
        }
    }

    /* every route: the policy's usages pick among them */
    if (out->policy) {
        apr_array_header_t *routes;
        if (ucwa_sql_select(db, p, "ucwa_voice_5", "SELECT name, priority, number_pattern, "
                            "pstn_usages, gateways FROM ucwa_voice_routes ORDER BY name",
                            0, NULL, 5, &routes)) {
            return -1;
        }
        for (i = 0; i < routes->nelts; i++) {
            const char **r = APR_ARRAY_IDX(routes, i, const char **);
            if ((err = ucwa_voice_routes_add(out->routes, p, r[0], r[1] ? atoi(r[1]) : 0,
                                             r[2], r[3], r[4]))) {
                warn(out, err);
            }
        }
    }
    return 0;
}
