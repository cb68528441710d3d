/* A user's work hours, for callForwardingSettings' activePeriod Workhours (issue 13). In
 * Skype for Business they are the user's Exchange working hours; this server has no
 * Exchange, so they are a row of ucwa_work_hours (ucwa_schema version 7, docs/schema.md)
 * or the server's default (UcwaWorkHours). Days, a start and an end (local time) and a
 * time zone name of the tz database, evaluated when a call comes, in that zone, by the C
 * library (localtime_r under the zone's TZ: its tz database, DST included).
 * No httpd here: ucwa-sipd (mod_ucwa/ucwa_sipd_fork) asks. */
#ifndef UCWA_WORKHOURS_H
#define UCWA_WORKHOURS_H

#include <time.h>
#include <apr_pools.h>

#include "ucwa_sql.h"

#define UCWA_WORKHOURS_ZONE_MAX 64

typedef struct {
    unsigned days;      /* bit d: weekday d as struct tm counts (0 Sunday .. 6 Saturday) */
    int start, end;     /* minutes after midnight: start 0..1439, end 1..1440 ("24:00");
                         * end < start: the hours run past midnight into the next day,
                         * which belongs to the day they started on */
    char zone[UCWA_WORKHOURS_ZONE_MAX + 1];   /* "Europe/London", "UTC" */
} ucwa_workhours;

/* Parses days ("Mon-Fri", "Mon,Wed,Fri", "Fri-Mon", "Sat"; English three-letter names,
 * any case, a range may wrap past Sunday), hours ("08:00-17:00", "22:00-06:00",
 * "00:00-24:00") and a zone (a tz database name that exists: ucwa_workhours_zone_ok).
 * NULL, or what is wrong (in p). */
const char *ucwa_workhours_parse(apr_pool_t *p, const char *days, const char *hours,
                                 const char *zone, ucwa_workhours *out);

/* The same from one string "DAYS HOURS" (UcwaWorkHours' first argument). */
const char *ucwa_workhours_parse_spec(apr_pool_t *p, const char *spec, const char *zone,
                                      ucwa_workhours *out);

/* A tz database name: letters, digits, '_', '+', '-' and '/' (not first, no ".."), at
 * most UCWA_WORKHOURS_ZONE_MAX bytes, whose file is in the C library's zone directory
 * ($TZDIR, else /usr/share/zoneinfo): 1, else 0. glibc takes an unknown name for UTC
 * without a word, hence the check. */
int ucwa_workhours_zone_ok(const char *zone);

/* Whether t is within the hours: 1 within, 0 outside, -1 the local time cannot be had.
 * Sets TZ for the call and puts it back (tzset): not for a process whose other threads
 * read the environment or the local time meanwhile (ucwa-sipd's loop is one thread). */
int ucwa_workhours_within(const ucwa_workhours *w, time_t t);

/* The user's row of ucwa_work_hours: 1 found (*out filled), 0 none, -1 with db->err; a
 * row that does not parse is 0 with *bad saying why (the caller logs it and uses the
 * default). */
int ucwa_workhours_get(ucwa_db *db, apr_pool_t *p, const char *user, ucwa_workhours *out,
                       const char **bad);

#endif
