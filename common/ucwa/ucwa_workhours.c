/* A user's work hours: see ucwa_workhours.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <apr_strings.h>

#include "ucwa_workhours.h"

static const char *const day_names[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static int day_of(const char *s, apr_size_t n)
{
    int d;

    for (d = 0; n == 3 && d < 7; d++) {
        if (!strncasecmp(s, day_names[d], 3)) {
            return d;
        }
    }
    return -1;
}

/* "Mon-Fri", "Mon,Wed", "Fri-Mon": the bits, or 0. */
static unsigned parse_days(const char *s)
{
    unsigned bits = 0;

    while (*s) {
        apr_size_t n = strcspn(s, ",-");
        int from = day_of(s, n), to = from;
        s += n;
        if (*s == '-') {
            s++;
            n = strcspn(s, ",-");
            to = day_of(s, n);
            s += n;
        }
        if (from < 0 || to < 0 || *s == '-') {
            return 0;
        }
        for (;;) {
            bits |= 1u << from;
            if (from == to) {
                break;
            }
            from = (from + 1) % 7;
        }
        if (*s == ',') {
            s++;
            if (!*s) {
                return 0;
            }
        }
    }
    return bits;
}

/* "HH:MM" (00:00 to 24:00): minutes, or -1. */
static int parse_time(const char *s, apr_size_t n)
{
    int h, m;

    if (n != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':'
        || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4])) {
        return -1;
    }
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m)) {
        return -1;
    }
    return h * 60 + m;
}

int ucwa_workhours_zone_ok(const char *zone)
{
    const char *dir = getenv("TZDIR"), *c;
    char path[512];
    apr_size_t n = zone ? strlen(zone) : 0;

    if (!n || n > UCWA_WORKHOURS_ZONE_MAX || *zone == '/' || strstr(zone, "..")) {
        return 0;
    }
    for (c = zone; *c; c++) {
        if (!isalnum((unsigned char)*c) && !strchr("_+-/", *c)) {
            return 0;
        }
    }
    if (!dir || !*dir || strlen(dir) > 256) {
        dir = "/usr/share/zoneinfo";
    }
    apr_snprintf(path, sizeof(path), "%s/%s", dir, zone);
    return access(path, R_OK) == 0;
}

const char *ucwa_workhours_parse(apr_pool_t *p, const char *days, const char *hours,
                                 const char *zone, ucwa_workhours *out)
{
    const char *dash;

    memset(out, 0, sizeof(*out));
    if (!days || !(out->days = parse_days(days))) {
        return apr_psprintf(p, "days '%s': three-letter day names, ranges (Mon-Fri) or "
                            "lists (Mon,Wed)", days ? days : "");
    }
    dash = hours ? strchr(hours, '-') : NULL;
    if (!dash || (out->start = parse_time(hours, (apr_size_t)(dash - hours))) < 0
        || (out->end = parse_time(dash + 1, strlen(dash + 1))) < 0
        || out->start == 1440 || out->end == 0 || out->start == out->end) {
        return apr_psprintf(p, "hours '%s': HH:MM-HH:MM, a start before 24:00, an end after "
                            "00:00, not the same", hours ? hours : "");
    }
    if (!ucwa_workhours_zone_ok(zone)) {
        return apr_psprintf(p, "time zone '%s': not a name of the tz database here",
                            zone ? zone : "");
    }
    apr_cpystrn(out->zone, zone, sizeof(out->zone));
    return NULL;
}

const char *ucwa_workhours_parse_spec(apr_pool_t *p, const char *spec, const char *zone,
                                      ucwa_workhours *out)
{
    const char *sp = spec ? strchr(spec, ' ') : NULL;

    if (!sp) {
        memset(out, 0, sizeof(*out));
        return apr_psprintf(p, "'%s': DAYS HH:MM-HH:MM (\"Mon-Fri 08:00-17:00\")",
                            spec ? spec : "");
    }
    while (*sp == ' ') {
        sp++;
    }
    return ucwa_workhours_parse(p, apr_pstrmemdup(p, spec, (apr_size_t)(strchr(spec, ' ') - spec)),
                                sp, zone, out);
}

/* t's local time in zone: TZ set for the call, then put back. */
static int local_time(const char *zone, time_t t, struct tm *tm)
{
    const char *old = getenv("TZ");
    char saved[256], tz[UCWA_WORKHOURS_ZONE_MAX + 2];
    int had = old != NULL, ok;

    if (had && strlen(old) >= sizeof(saved)) {
        return 0;
    }
    if (had) {
        strcpy(saved, old);
    }
    apr_snprintf(tz, sizeof(tz), ":%s", zone);
    if (setenv("TZ", tz, 1) != 0) {
        return 0;
    }
    tzset();
    ok = localtime_r(&t, tm) != NULL;
    if (had) {
        (void)setenv("TZ", saved, 1);
    }
    else {
        (void)unsetenv("TZ");
    }
    tzset();
    return ok;
}

int ucwa_workhours_within(const ucwa_workhours *w, time_t t)
{
    struct tm tm;
    int m, yesterday;

    if (!w || !w->days || !local_time(w->zone, t, &tm)) {
        return -1;
    }
    m = tm.tm_hour * 60 + tm.tm_min;
    if (w->start < w->end) {
        return ((w->days >> tm.tm_wday) & 1u) && m >= w->start && m < w->end;
    }
    /* past midnight: today's hours from start, and yesterday's until end */
    yesterday = (tm.tm_wday + 6) % 7;
    return (((w->days >> tm.tm_wday) & 1u) && m >= w->start)
           || (((w->days >> yesterday) & 1u) && m < w->end);
}

int ucwa_workhours_get(ucwa_db *db, apr_pool_t *p, const char *user, ucwa_workhours *out,
                       const char **bad)
{
    apr_array_header_t *rows = NULL;
    const char *args[1], **row;

    *bad = NULL;
    args[0] = user;
    if (ucwa_sql_select(db, p, "ucwa_workhours_1",
                        "SELECT days, start_time, end_time, time_zone FROM ucwa_work_hours "
                        "WHERE sip_uri = %s", 1, args, 4, &rows) != 0) {
        return -1;
    }
    if (!rows->nelts) {
        return 0;
    }
    row = APR_ARRAY_IDX(rows, 0, const char **);
    *bad = ucwa_workhours_parse(p, row[0], row[1] && row[2]
                                ? apr_pstrcat(p, row[1], "-", row[2], NULL) : NULL,
                                row[3], out);
    return *bad ? 0 : 1;
}
