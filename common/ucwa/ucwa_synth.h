/* The synthetic transaction (Skype for Business's Test-CsUcwaConference and
 * Test-CsMcxP2PIM, run by watcher nodes): two test users sign in through the path a
 * mobile client takes (discovery, the anonymous user resource's challenge, the token, the
 * user resource, an application on the external web FQDN, makeMeAvailable), read each
 * other's presence, exchange an instant message and sign out. Every step is timed; the
 * first that fails ends the run with the hop (URL) it failed on, and the applications
 * made so far are deleted.
 *
 * Pure: the HTTP exchanges go through a callback (mod_ucwa gives it libcurl, the unit
 * test a scripted server), the clock through another. */
#ifndef UCWA_SYNTH_H
#define UCWA_SYNTH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* What came back from one exchange. */
typedef struct {
    int status;                    /* 0: no answer (error says why) */
    const char *body;              /* NUL-terminated; NULL or "" when none */
    apr_size_t len;
    const char *www_authenticate;  /* the WWW-Authenticate header, or NULL */
    const char *error;             /* transport error, or NULL */
} ucwa_synth_answer;

/* One exchange: bearer (NULL: none) goes in Authorization, content_type and body (NULL:
 * no body) are sent as they are; Accept is application/json. Fills *out. */
typedef void (*ucwa_synth_http)(void *baton, apr_pool_t *p, const char *method,
                                const char *url, const char *bearer,
                                const char *content_type, const char *body,
                                ucwa_synth_answer *out);

typedef struct {
    const char *discovery;             /* the external discovery URL (lyncdiscover) */
    const char *user[2], *password[2];
    apr_interval_time_t event_wait;    /* how long an awaited event may take; 0: 20 s */
    ucwa_synth_http http;
    void *baton;
    apr_time_t (*clock)(void);         /* NULL: apr_time_now */
} ucwa_synth_params;

typedef struct {
    const char *name;                  /* "alice@contoso.com: token" */
    const char *url;                   /* the hop */
    int ok;
    apr_interval_time_t took;
} ucwa_synth_step;

typedef struct {
    apr_time_t started;
    apr_interval_time_t took;          /* the whole run */
    int ok;
    apr_array_header_t *steps;         /* of ucwa_synth_step, in order */
    /* when !ok: the step that failed, its hop and why */
    const char *failed_step, *failed_url, *error;
} ucwa_synth_result;

/* Runs the transaction; *out in p. */
void ucwa_synth_run(apr_pool_t *p, const ucwa_synth_params *in, ucwa_synth_result *out);

/* The last run as a JSON object for /ucwa-status: {"users":[...],"interval":N,
 * "started":"<RFC 3339>","startedEpoch":N,"result":"ok"|"failed","seconds":F,
 * "steps":[{"name","url","ok","ms"}...], and when failed "failedStep","failedHop","error"}.
 * At most max bytes: steps are dropped from the end (the failed one kept) to fit. */
const char *ucwa_synth_json(apr_pool_t *p, const ucwa_synth_result *r,
                            const char *const user[2], apr_uint32_t interval,
                            apr_size_t max);

/* One line for the error log: "ok in 0.52 s: step 5 ms, ..." or "failed at step
 * (hop) after 0.10 s: error". Never contains a password or a token. */
const char *ucwa_synth_summary(apr_pool_t *p, const ucwa_synth_result *r);

/* The password of user in a credentials file's text: lines "sip-address password"
 * (the password is the rest of the line, without surrounding blanks), blank lines and
 * lines starting with # ignored, the address compared without case. NULL when absent. */
const char *ucwa_synth_password(apr_pool_t *p, const char *text, const char *user);

#endif
