/* ucwa_workhours (callForwardingSettings' activePeriod Workhours: a user's row of
 * ucwa_work_hours or UcwaWorkHours): ucwa_workhours_parse, ucwa_workhours_parse_spec,
 * ucwa_workhours_zone_ok and ucwa_workhours_within. The input is lines: days, hours, a
 * zone, then times (decimal seconds since the epoch, at most 16).
 *
 * Invariants: an accepted one has days in bits 0..6 (not none), start 0..1439, end 1..1440,
 * start != end, the zone as given, a zone ucwa_workhours_zone_ok takes; a refusal says
 * why; the same answer twice; "DAYS HOURS" through parse_spec is the same as parse (days
 * without a blank, hours without leading blanks: parse_spec skips those); a zone it takes is of the tz database's alphabet, at most 64 bytes, no
 * "..", not starting with '/'; within is -1, 0 or 1, the same twice, 1 for every day
 * 00:00-24:00 (when the local time can be had), and TZ is as it was after it. */
#include <stdio.h>
#include <time.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "ucwa_workhours.h"

#define MAX_LINES 20

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static void check_zone(const char *zone)
{
    size_t n = strlen(zone);

    if (!ucwa_workhours_zone_ok(zone)) {
        return;
    }
    FUZZ_CHECK(n >= 1 && n <= UCWA_WORKHOURS_ZONE_MAX && *zone != '/' && !strstr(zone, ".."));
    FUZZ_CHECK(strspn(zone, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            "_+-/") == n);
}

static int same(const ucwa_workhours *a, const ucwa_workhours *b)
{
    return a->days == b->days && a->start == b->start && a->end == b->end
           && !strcmp(a->zone, b->zone);
}

static void check_within(const ucwa_workhours *w, time_t t)
{
    const char *tz0 = getenv("TZ");
    char *saved = tz0 ? strdup(tz0) : NULL;
    int r = ucwa_workhours_within(w, t), r2 = ucwa_workhours_within(w, t);
    const char *tz1 = getenv("TZ");

    FUZZ_CHECK(r >= -1 && r <= 1 && r == r2);
    FUZZ_CHECK(!saved == !tz1 && (!saved || !strcmp(saved, tz1)));
    free(saved);
    if (w->days == 0x7f && w->start == 0 && w->end == 1440) {
        FUZZ_CHECK(r != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_cstr(data, size), *lines[MAX_LINES];
    ucwa_workhours w, w2, w3;
    const char *why, *why2, *why3;
    int n, i;

    n = fuzz_lines(s, lines, MAX_LINES);
    for (i = n; i < 3; i++) {
        lines[i] = "";
    }
    check_zone(lines[2]);
    why = ucwa_workhours_parse(p, lines[0], lines[1], lines[2], &w);
    why2 = ucwa_workhours_parse(p, lines[0], lines[1], lines[2], &w2);
    FUZZ_CHECK(!why == !why2);
    if (why) {
        FUZZ_CHECK(*why);
    }
    else {
        FUZZ_CHECK(same(&w, &w2));
        FUZZ_CHECK(w.days && !(w.days & ~0x7fu));
        FUZZ_CHECK(w.start >= 0 && w.start <= 1439 && w.end >= 1 && w.end <= 1440
                   && w.start != w.end);
        FUZZ_CHECK(!strcmp(w.zone, lines[2]) && ucwa_workhours_zone_ok(w.zone));
    }
    if (!strchr(lines[0], ' ') && *lines[0] && *lines[1] != ' ') {
        /* (parse_spec skips the blanks after the days: hours without leading blanks) */
        why3 = ucwa_workhours_parse_spec(p, apr_pstrcat(p, lines[0], " ", lines[1], NULL),
                                         lines[2], &w3);
        FUZZ_CHECK(!why3 == !why && (why || same(&w, &w3)));
    }
    (void)ucwa_workhours_parse_spec(p, lines[0], lines[2], &w3);
    if (!why) {
        ucwa_workhours all = w;
        all.days = 0x7f;
        all.start = 0;
        all.end = 1440;
        check_within(&w, 0);
        check_within(&all, 0);
        for (i = 3; i < n && i < 3 + 16; i++) {
            time_t t = (time_t)strtoll(lines[i], NULL, 10);
            /* beyond what struct tm's year holds localtime_r fails: -1 is its answer */
            check_within(&w, t);
            check_within(&all, t);
        }
    }
    free(s);
    apr_pool_destroy(p);
    return 0;
}
