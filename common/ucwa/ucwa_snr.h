/* Single number reach and call forwarding acted on (issue 13): what the SIP side does
 * with a call to a user, decided from the user's callForwardingSettings (ucwa_callfwd)
 * and voice settings (ucwa_voice): ring the applications or not, call the simultaneous
 * ring number after its delay, forward at once or when nobody answered. The user of a
 * work number (the LineURI of ucwa_voice_users) and the caller's identity as the
 * applications show it. No httpd here: mod_ucwa/ucwa_sipd_fork acts on the plan. */
#ifndef UCWA_SNR_H
#define UCWA_SNR_H

#include <apr_pools.h>

#include "ucwa_callfwd.h"
#include "ucwa_sql.h"
#include "ucwa_voice.h"
#include "ucwa_workhours.h"

/* One more party the call goes to. */
typedef struct {
    const char *uri;       /* "tel:+E164" or "sip:user@domain"; NULL: no such leg */
    const char *gw_set;    /* a number's dispatcher set (the route's first numeric
                            * gateway), or NULL: Kamailio's default */
    int delay_ms;          /* after the call came in */
} ucwa_snr_leg;

typedef struct {
    int ring_apps;          /* the user's applications ring (0: forwarded at once) */
    ucwa_snr_leg simring;   /* rung beside the applications after its delay */
    ucwa_snr_leg forward;   /* immediate (delay 0, the applications do not ring) or
                             * unanswered (after its delay the applications and the
                             * simultaneous ring stop, the call goes there) */
    int immediate;          /* forward is an immediate forward */
    const char *skipped;    /* a setting not acted on and why (a policy gate, a number no
                             * route allows any more, the user's own number), or NULL */
} ucwa_snr_plan;

/* The plan for a call to the owner of f, whose voice settings are vu. A user without a
 * voice policy (not enabled for Enterprise Voice) gets only the applications, and so does
 * a setting its policy no longer allows (AllowCallForwarding off: no immediate nor
 * unanswered forward; AllowSimultaneousRing off: no simultaneous ring) or whose number
 * no route allows: the settings were checked when set, the policy may have changed since.
 * A number that is the user's own LineURI is not called (it would ring here again).
 * Whether the settings are in force at all is ucwa_snr_in_period's. */
void ucwa_snr_decide(const ucwa_callfwd *f, const ucwa_voice_user *vu, apr_pool_t *p,
                     ucwa_snr_plan *out);

/* Whether f is in force at t: activePeriod Always, or Workhours and t within the user's
 * work hours w (ucwa_workhours). 1 in force, 0 not (the call is the applications'). */
int ucwa_snr_in_period(const ucwa_callfwd *f, const ucwa_workhours *w, time_t t);

/* Diversions a call may have had before it is forwarded no further (RFC 5806 counts). */
#define UCWA_SNR_MAX_DIVERSIONS 4

/* A Diversion header's value (RFC 5806: entries "<uri>;reason=...;counter=N" separated by
 * commas), added to *hops (each entry's counter, else 1): 1 when an entry names the
 * user (sip:who, or who's LineURI line: "tel:+N", or a sip: URI whose user part is +N),
 * else 0. A forward chain that comes back to a user (A to B to A) stops there. */
int ucwa_snr_diversion(const char *value, const char *who, const char *line, int *hops);

/* The dispatcher set of a route: its first gateway whose name is a number (1 to 9
 * digits), or NULL (extensions.md §21). */
const char *ucwa_snr_gw_set(const ucwa_voice_choice *choice);

/* A number as a request URI's user part carries it ("+15550100", "15550100" with
 * user=phone): "+" and digits only, 2 to 32 bytes. "+E164", or NULL when it is none. */
const char *ucwa_snr_number(apr_pool_t *p, const char *user, int user_phone);

/* The user (lower case, without "sip:") whose LineURI is the number ("tel:+15550100", or
 * with ";ext=..."): 1 with *user, 0 nobody, -1 with db->err. */
int ucwa_snr_user_of_number(ucwa_db *db, apr_pool_t *p, const char *number,
                            const char **user);

/* The caller as the applications see it: a number (E.164 user part, or user=phone) is
 * "tel:+..." named by the number (the reference shows a PSTN caller so), else
 * "user@host" (lower case) named by the display name or the user part. */
void ucwa_snr_caller(apr_pool_t *p, const char *user, const char *host, int user_phone,
                     const char *display, const char **address, const char **name);

#endif
