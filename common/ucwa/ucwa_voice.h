/* The voice policy of Skype for Business's Enterprise Voice, as a pure model: dial plans
 * (CsDialPlan: normalization rules, Pattern and Translation, in priority order), voice
 * policies (CsVoicePolicy: PstnUsages in order, AllowCallForwarding, AllowSimultaneousRing)
 * and voice routes (CsVoiceRoute: NumberPattern, PstnUsages, PstnGatewayList, Priority);
 * the normalisation of a dialled string by a dial plan and the choice of the route of a
 * number by a voice policy. Loaded from SQL (the ucwa_voice_* tables of ucwa_schema,
 * version 5) for one user with ucwa_voice_load. No httpd here.
 *
 * Patterns are Skype for Business's regular expressions, taken as POSIX extended
 * expressions (regcomp from libc) with the .NET shorthands admins write translated:
 * \d (digit), \D, \s, \S, \w, \W, also inside a bracket expression. A pattern matches
 * only the whole string (as if written ^...$, which admins usually write anyway).
 * A translation copies its text and replaces $0..$9 (and ${0}..${9}) by the groups of the
 * match ($0 the whole string, an unmatched group nothing); $$ is one '$'.
 *
 * Scopes, as for the mobility policy (ucwa_policy.h): a user gets the dial plan and the
 * voice policy granted to them (per-user, "tag:NAME" or "NAME") when it is defined, else
 * the one of their site ("site:NAME"), else the global one ("global"). Unlike the mobility
 * policy, there may be no voice policy at all: the user is then not enabled for
 * Enterprise Voice (no forwarding, no PSTN calls). No dial plan: numbers are only
 * cleaned (see ucwa_voice_normalize). */
#ifndef UCWA_VOICE_H
#define UCWA_VOICE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "ucwa_sql.h"

#define UCWA_VOICE_DIAL_MAX 80        /* bytes of a dialled string (UCWA's target limit) */
#define UCWA_VOICE_NUMBER_MAX 128     /* bytes of a normalised number */
#define UCWA_VOICE_PATTERN_MAX 256    /* bytes of a pattern or a translation */
#define UCWA_VOICE_NAME_MAX 256       /* bytes of an identity, a rule, route, usage, gateway */
#define UCWA_VOICE_LIST_MAX 32        /* usages of a policy or route, gateways of a route */

typedef struct ucwa_dial_plan ucwa_dial_plan;

/* An empty dial plan named identity (NULL: none). */
ucwa_dial_plan *ucwa_dial_plan_make(apr_pool_t *p, const char *identity);
const char *ucwa_dial_plan_identity(const ucwa_dial_plan *dp);
int ucwa_dial_plan_rules(const ucwa_dial_plan *dp);

/* Adds a normalization rule. Rules apply in priority order (lower first; then the order
 * they were added). NULL, or an error message (in p) naming the rule: an empty or too
 * long pattern or translation, a pattern regcomp refuses, one with more than 9 groups,
 * a translation naming a group the pattern does not have. The compiled expression is
 * freed with p. */
const char *ucwa_dial_plan_add_rule(ucwa_dial_plan *dp, apr_pool_t *p, const char *name,
                                    int priority, const char *pattern,
                                    const char *translation);

/* Cleans a dialled string the way a client does before it dials: an optional "tel:"
 * prefix (any case) and the visual separators ' ', '-', '.', '(', ')' go, the rest must
 * be a leading '+' and digits (at most UCWA_VOICE_DIAL_MAX bytes in all, at least one
 * digit). NULL when it is not a phone number. */
const char *ucwa_voice_clean(apr_pool_t *p, const char *dialled);

/* Normalises dialled by dp (NULL: no dial plan): cleaned (ucwa_voice_clean), then the
 * first rule whose pattern matches the cleaned string gives the number (its translation).
 * Returns 1 (a rule applied; *rule its name), 0 (no rule applied: *out is the cleaned
 * string, *rule NULL) or -1 (not a phone number, or a translation longer than
 * UCWA_VOICE_NUMBER_MAX: *out NULL). */
int ucwa_voice_normalize(const ucwa_dial_plan *dp, apr_pool_t *p, const char *dialled,
                         const char **out, const char **rule);

/* A voice policy. */
typedef struct {
    const char *identity;
    apr_array_header_t *usages;      /* const char *, in order */
    int allow_call_forwarding;       /* AllowCallForwarding (SfB default True) */
    int allow_simultaneous_ring;     /* AllowSimultaneousRing (SfB default True) */
} ucwa_voice_policy;

/* A list written as SfB prints it, names separated by ';' or ',' (blanks around a name
 * ignored, empty names skipped): an array of const char *, or NULL with *err when a name
 * is too long or there are more than UCWA_VOICE_LIST_MAX. */
apr_array_header_t *ucwa_voice_list(apr_pool_t *p, const char *text, const char **err);

typedef struct ucwa_voice_routes ucwa_voice_routes;

ucwa_voice_routes *ucwa_voice_routes_make(apr_pool_t *p);
int ucwa_voice_routes_count(const ucwa_voice_routes *r);

/* Adds a route; usages and gateways as ucwa_voice_list reads them. A route without a
 * usage or a gateway is accepted but never chosen. NULL, or an error message naming the
 * route (its pattern, its lists). */
const char *ucwa_voice_routes_add(ucwa_voice_routes *r, apr_pool_t *p, const char *name,
                                  int priority, const char *pattern, const char *usages,
                                  const char *gateways);

/* The route of a number. */
typedef struct {
    const char *route;               /* the first route that matched */
    const char *usage;               /* its usage, the first of the policy's that had one */
    apr_array_header_t *gateways;    /* const char *: every matching route's gateways,
                                      * without repeats, in the order to try them */
} ucwa_voice_choice;

/* Chooses the route of number (normalised) for pol: the policy's PSTN usages in order,
 * and within a usage the routes having it by priority (lower first), those whose
 * NumberPattern matches the number; their gateways in that order. 1 with *out, or 0 when
 * no route matches (the call is not allowed: UCWA 403 NotAllowed). pol NULL: 0. */
int ucwa_voice_route(const ucwa_voice_policy *pol, const ucwa_voice_routes *routes,
                     apr_pool_t *p, const char *number, ucwa_voice_choice *out);

/* A user's voice settings, as loaded from SQL. */
typedef struct {
    ucwa_voice_policy *policy;       /* NULL: not enabled for Enterprise Voice */
    ucwa_dial_plan *dial_plan;       /* NULL: none */
    ucwa_voice_routes *routes;
    const char *line_uri;            /* the user's LineURI ("tel:+..."), or NULL */
    apr_array_header_t *warnings;    /* const char *: rows skipped (a bad pattern...) */
} ucwa_voice_user;

/* The one decision a call to a number, or a forwarding to one, asks: may this user reach
 * dialled, as what number, through which gateways? */
typedef enum {
    UCWA_VOICE_ALLOWED = 0,     /* *number (normalised) and *choice (its route) */
    UCWA_VOICE_NO_POLICY,       /* not enabled for Enterprise Voice: 403 Forbidden */
    UCWA_VOICE_NOT_A_NUMBER,    /* 400 BadRequest / NormalizationFailed */
    UCWA_VOICE_NOT_ALLOWED      /* no route: 403 Forbidden / NotAllowed */
} ucwa_voice_verdict;

ucwa_voice_verdict ucwa_voice_check(const ucwa_voice_user *vu, apr_pool_t *p,
                                    const char *dialled, const char **number,
                                    ucwa_voice_choice *choice);

/* The identity of a scope as the tables store it, lower case: "global", "site:NAME",
 * "tag:NAME" (a plain NAME is a tag). NULL for an empty or too long name. */
const char *ucwa_voice_identity_key(apr_pool_t *p, const char *identity);

/* Loads the voice settings of user (lower case, without "sip:") on site (NULL or ""
 * for none): the grant in ucwa_voice_users, the policy and dial plan by scope, their rules,
 * every route. A rule or route the model refuses is skipped with a warning (the rest
 * still applies). 0, or -1 with db->err. */
int ucwa_voice_load(ucwa_db *db, apr_pool_t *p, const char *user, const char *site,
                    ucwa_voice_user *out);

#endif
