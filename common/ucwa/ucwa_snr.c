/* Single number reach and call forwarding acted on: see ucwa_snr.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ucwa_schema.h"
#include "ucwa_snr.h"

const char *ucwa_snr_gw_set(const ucwa_voice_choice *choice)
{
    int i;

    for (i = 0; choice && choice->gateways && i < choice->gateways->nelts; i++) {
        const char *g = APR_ARRAY_IDX(choice->gateways, i, const char *);
        if (*g && strlen(g) < 10 && strspn(g, "0123456789") == strlen(g)) {
            return g;
        }
    }
    return NULL;
}

/* Where uri (a stored target) goes now: 1 with leg filled, 0 when the voice policy no
 * longer routes it, -1 when it is the user's own number. */
static int resolve(const ucwa_voice_user *vu, apr_pool_t *p, const char *uri, int delay_ms,
                   ucwa_snr_leg *leg)
{
    const char *number = NULL;
    ucwa_voice_choice choice;

    if (!uri || !*uri) {
        return 0;
    }
    leg->delay_ms = delay_ms;
    leg->gw_set = NULL;
    if (!strncasecmp(uri, "sip:", 4)) {
        leg->uri = uri;
        return 1;
    }
    if (ucwa_voice_check(vu, p, uri, &number, &choice) != UCWA_VOICE_ALLOWED) {
        return 0;
    }
    if (vu->line_uri && !strncasecmp(vu->line_uri, "tel:", 4)
        && !strncmp(vu->line_uri + 4, number, strlen(number))
        && (vu->line_uri[4 + strlen(number)] == '\0' || vu->line_uri[4 + strlen(number)] == ';')) {
        return -1;  /* the user's own number: the call would come back here */
    }
    leg->uri = apr_pstrcat(p, "tel:", number, NULL);
    leg->gw_set = ucwa_snr_gw_set(&choice);
    return 1;
}

/* Why a setting's target is not called (resolve's rv). */
static const char *not_called(apr_pool_t *p, const char *what, int rv, const char *uri)
{
    return apr_pstrcat(p, what, rv < 0 ? ": the user's own number " : ": no route allows ",
                       uri, NULL);
}

static int contact(const char *target, const char *uri)
{
    return target && !strcmp(target, "Contact") && uri && *uri;
}

int ucwa_snr_in_period(const ucwa_callfwd *f, const ucwa_workhours *w, time_t t)
{
    if (!f || !f->active_period || strcasecmp(f->active_period, "Workhours")) {
        return 1;
    }
    return ucwa_workhours_within(w, t) == 1;
}

void ucwa_snr_decide(const ucwa_callfwd *f, const ucwa_voice_user *vu, apr_pool_t *p,
                     ucwa_snr_plan *out)
{
    const ucwa_voice_policy *pol = vu ? vu->policy : NULL;
    int rv;

    memset(out, 0, sizeof(*out));
    out->ring_apps = 1;
    if (!f || !pol) {
        return;   /* no settings, or not enabled for Enterprise Voice */
    }
    if (f->active_setting && !strcmp(f->active_setting, "ImmediateForward")
        && contact(f->immediate_target, f->immediate_uri)) {
        if (!pol->allow_call_forwarding) {
            out->skipped = "immediate forward: the voice policy does not allow call forwarding";
        }
        else if ((rv = resolve(vu, p, f->immediate_uri, 0, &out->forward)) != 1) {
            out->skipped = not_called(p, "immediate forward", rv, f->immediate_uri);
        }
        else {
            out->ring_apps = 0;
            out->immediate = 1;
        }
        return;   /* unanswered call handling is off with ImmediateForward */
    }
    if (f->active_setting && !strcmp(f->active_setting, "SimultaneousRing")
        && contact(f->simring_target, f->simring_uri)) {
        if (!pol->allow_simultaneous_ring) {
            out->skipped = "simultaneous ring: the voice policy does not allow it";
        }
        else if ((rv = resolve(vu, p, f->simring_uri, f->simring_delay * 1000,
                               &out->simring)) != 1) {
            out->skipped = not_called(p, "simultaneous ring", rv, f->simring_uri);
        }
    }
    if (f->unanswered_enabled && contact(f->unanswered_target, f->unanswered_uri)) {
        if (!pol->allow_call_forwarding) {
            out->skipped = "unanswered call forward: the voice policy does not allow call "
                           "forwarding";
        }
        else if ((rv = resolve(vu, p, f->unanswered_uri, f->unanswered_delay * 1000,
                               &out->forward)) != 1) {
            out->skipped = not_called(p, "unanswered call forward", rv, f->unanswered_uri);
        }
    }
}

/* Whether uri (len bytes, from a Diversion entry) names who or line. */
static int names_user(const char *uri, apr_size_t len, const char *who, const char *line)
{
    const char *u = uri, *end = uri + len, *num;
    apr_size_t ulen;

    if (len > 4 && !strncasecmp(u, "sip:", 4)) {
        u += 4;
    }
    else if (len > 5 && !strncasecmp(u, "sips:", 5)) {
        u += 5;
    }
    else if (line && strlen(line) == len && !strncasecmp(uri, line, len)) {
        return 1;   /* tel:... as the LineURI is */
    }
    else {
        return 0;
    }
    ulen = strcspn(u, ";?>");
    if (u + ulen > end) {
        ulen = (apr_size_t)(end - u);
    }
    if (who && strlen(who) == ulen && !strncasecmp(u, who, ulen)) {
        return 1;
    }
    if (line && !strncasecmp(line, "tel:", 4)) {
        num = line + 4;
        apr_size_t n = strcspn(num, ";");
        if (n && ulen > n && u[n] == '@' && !strncmp(u, num, n)) {
            return 1;
        }
    }
    return 0;
}

int ucwa_snr_diversion(const char *value, const char *who, const char *line, int *hops)
{
    const char *v = value;
    int named = 0;

    while (v && *v) {
        const char *lt = strchr(v, '<'), *gt, *next;
        int counter = 1;
        if (!lt || !(gt = strchr(lt, '>'))) {
            break;
        }
        named |= names_user(lt + 1, (apr_size_t)(gt - lt - 1), who, line);
        next = strchr(gt, ',');
        {
            const char *c = gt;
            while ((c = strchr(c, ';')) != NULL && (!next || c < next)) {
                c++;
                while (*c == ' ') {
                    c++;
                }
                if (!strncasecmp(c, "counter=", 8)) {
                    int n = atoi(c + 8);
                    counter = n > 0 && n < 100 ? n : 1;
                }
            }
        }
        *hops += counter;
        v = next ? next + 1 : NULL;
    }
    return named;
}

const char *ucwa_snr_number(apr_pool_t *p, const char *user, int user_phone)
{
    const char *digits;
    apr_size_t n;

    if (!user) {
        return NULL;
    }
    digits = *user == '+' ? user + 1 : user;
    n = strlen(digits);
    if (n < 1 || n > 31 || strspn(digits, "0123456789") != n
        || (*user != '+' && !user_phone)) {
        return NULL;
    }
    return apr_pstrcat(p, "+", digits, NULL);
}

int ucwa_snr_user_of_number(ucwa_db *db, apr_pool_t *p, const char *number,
                            const char **user)
{
    apr_array_header_t *rows = NULL;
    const char *args[1];
    int i;

    *user = NULL;
    if (!number || *number != '+' || strspn(number + 1, "0123456789") != strlen(number + 1)) {
        return 0;   /* only digits reach the LIKE below: no pattern characters */
    }
    /* the number itself (index ucwa_voice_users_line), else one with an extension (by
     * its number part: the expression index ucwa_voice_users_number; another database
     * than these two scans) */
    args[0] = apr_pstrcat(p, "tel:", number, NULL);
    if (ucwa_sql_select(db, p, "ucwa_snr_1",
                        "SELECT sip_uri FROM ucwa_voice_users WHERE line_uri = %s "
                        "ORDER BY sip_uri", 1, args, 1, &rows) != 0) {
        return -1;
    }
    if (!rows->nelts) {
        const char *name = apr_dbd_name(db->driver);
        const char *part = !strcmp(name, "sqlite3") ? UCWA_LINE_NUMBER_SQLITE
                         : !strcmp(name, "pgsql") ? UCWA_LINE_NUMBER_PGSQL : NULL;
        /* (the number itself is nobody's LineURI: a match has an extension) */
        const char *q = part ? apr_pstrcat(p, "SELECT sip_uri FROM ucwa_voice_users WHERE ",
                                           part, " = %s ORDER BY sip_uri", NULL)
                             : "SELECT sip_uri FROM ucwa_voice_users WHERE line_uri LIKE %s "
                               "ORDER BY sip_uri";
        if (!part) {
            args[0] = apr_pstrcat(p, "tel:", number, ";%", NULL);
        }
        if (ucwa_sql_select(db, p, part ? "ucwa_snr_ext" : "ucwa_snr_2", q, 1, args, 1,
                            &rows) != 0) {
            return -1;
        }
    }
    for (i = 0; i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        if (row[0] && *row[0]) {
            char *u = apr_pstrdup(p, !strncasecmp(row[0], "sip:", 4) ? row[0] + 4 : row[0]);
            char *q;
            for (q = u; *q; q++) {
                *q = (char)tolower((unsigned char)*q);
            }
            *user = u;
            return 1;
        }
    }
    return 0;
}

void ucwa_snr_caller(apr_pool_t *p, const char *user, const char *host, int user_phone,
                     const char *display, const char **address, const char **name)
{
    const char *number = ucwa_snr_number(p, user, user_phone);
    char *a, *q;

    if (number) {
        *address = apr_pstrcat(p, "tel:", number, NULL);
        *name = number;
        return;
    }
    a = apr_pstrcat(p, user ? user : "", "@", host ? host : "", NULL);
    for (q = a; *q; q++) {
        *q = (char)tolower((unsigned char)*q);
    }
    *address = a;
    *name = display && *display ? display : (user ? user : "");
}
