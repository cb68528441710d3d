/* The scheduled synthetic transaction (UcwaSyntheticTransaction and its companions,
 * docs/directives.md): a watcher node built into the Front End. Two test users sign in
 * through the path a mobile client takes, see each other's presence, exchange an instant
 * message and sign out (common/ucwa/ucwa_synth), on one child of the server (a mod_watchdog
 * singleton) every interval; the result goes to the error log and to /ucwa-status. */
#ifndef UCWA_SYNTHETIC_H
#define UCWA_SYNTHETIC_H

#include <httpd.h>
#include <http_config.h>

#include "ucwa_store.h"

typedef struct ucwa_synthetic_conf ucwa_synthetic_conf;

/* The directive handlers (listed in ucwa_cmds). */
const char *ucwa_synthetic_set(cmd_parms *cmd, void *d, const char *interval,
                               const char *user1, const char *user2);
const char *ucwa_synthetic_set_credentials(cmd_parms *cmd, void *d, const char *file);
const char *ucwa_synthetic_set_discovery(cmd_parms *cmd, void *d, const char *url);
const char *ucwa_synthetic_set_resolve(cmd_parms *cmd, void *d, const char *entry);
const char *ucwa_synthetic_set_ca(cmd_parms *cmd, void *d, const char *file);

/* check_config (as root): the credentials file is read, and must be readable by its
 * owner only. OK or !OK (logged). */
int ucwa_synthetic_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* post_config: starts the schedule when configured. */
int ucwa_synthetic_post_config(apr_pool_t *pconf, server_rec *s);
/* The "syntheticTransaction" member of /ucwa-status (",\"syntheticTransaction\":{...}"),
 * or "" when not configured. Call with the store locked. */
const char *ucwa_synthetic_status_locked(apr_pool_t *p, server_rec *s, ucwa_store *st);

#endif
