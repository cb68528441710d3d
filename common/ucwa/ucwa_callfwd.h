/* A user's call forwarding settings (UCWA's callForwardingSettings and its three
 * settings resources) as a model, and their row in SQL (table ucwa_call_forwarding of
 * ucwa_schema, version 5), read and written through ucwa_sql. No httpd here: the
 * resources, their checks against the voice policy and the events are
 * mod_ucwa/ucwa_call_forwarding.
 *
 * A user without a row has the defaults (ucwa_callfwd_defaults). Targets are "None" or
 * "Contact" (a SIP address or a normalised telephone number): the Delegates, Team and
 * Voicemail targets need delegates, teams and voicemail, which this server does not have. */
#ifndef UCWA_CALLFWD_H
#define UCWA_CALLFWD_H

#include <apr_pools.h>

#include "ucwa_sql.h"

#define UCWA_CALLFWD_URI_MAX 200             /* bytes of a stored target ("sip:..."/"tel:+...") */
#define UCWA_CALLFWD_SIMRING_DELAY_MAX 55    /* simultaneousRingSettings.ringDelay 0..55 */
#define UCWA_CALLFWD_UNANSWERED_DELAY_MIN 5  /* unansweredCallSettings.ringDelay 5..60 */
#define UCWA_CALLFWD_UNANSWERED_DELAY_MAX 60
#define UCWA_CALLFWD_UNANSWERED_DELAY_DEFAULT 20

typedef struct {
    const char *active_period;       /* "Always" | "Workhours" */
    const char *active_setting;      /* "None" | "ImmediateForward" | "SimultaneousRing" */
    int unanswered_enabled;          /* unansweredCallHandling Enabled / Disabled */
    const char *immediate_target;    /* "None" | "Contact" */
    const char *immediate_uri;       /* Contact's "sip:..." or "tel:+...", else NULL */
    const char *simring_target;      /* "None" | "Contact" */
    const char *simring_uri;
    int simring_delay;               /* seconds, 0..55 */
    const char *unanswered_target;   /* "None" | "Contact" */
    const char *unanswered_uri;
    int unanswered_delay;            /* seconds, 5..60 */
    int stored;                      /* the owner has a row */
    apr_int64_t updated;             /* its version: milliseconds of its last change */
} ucwa_callfwd;

/* Always, None, Disabled, every target None, ring delays 0 and 20 seconds. */
void ucwa_callfwd_defaults(ucwa_callfwd *f);

/* The value among names (NULL-terminated) that v spells, case-insensitive, or NULL. */
const char *ucwa_callfwd_enum(const char *v, const char *const *names);
extern const char *const ucwa_callfwd_periods[];    /* Always, Workhours */
extern const char *const ucwa_callfwd_settings[];   /* None, ImmediateForward, SimultaneousRing */
extern const char *const ucwa_callfwd_targets[];    /* None, Contact */

/* Checks the consistency of f: an active setting needs its target set, unanswered call
 * handling needs its target and is not allowed with ImmediateForward, every Contact target
 * has its URI, the delays are in range. NULL, or what is wrong. */
const char *ucwa_callfwd_check(const ucwa_callfwd *f);

/* 1 found (*f filled), 0 none (*f the defaults), -1 with db->err. */
int ucwa_callfwd_get(ucwa_db *db, apr_pool_t *p, const char *owner, ucwa_callfwd *f);
/* Writes f as the owner's row if the row is still the one f was read from (f->updated: the
 * same version, or still no row), in one statement, so that of two changes made from the
 * same reading (two devices, two Front Ends) one wins and the other learns it; the new
 * version (now in milliseconds, or one more than the old one) goes to f->updated (and
 * f->stored is set).
 * 1 written, 0 the row changed meanwhile (nothing written), -1 with db->err. */
int ucwa_callfwd_put(ucwa_db *db, apr_pool_t *p, const char *owner, ucwa_callfwd *f,
                     apr_int64_t now);

#endif
