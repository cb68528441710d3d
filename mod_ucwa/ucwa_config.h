/* mod_ucwa configuration: directives, the server config, mobility policy sections. */
#ifndef UCWA_CONFIG_H
#define UCWA_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "ucwa_policy.h"
#include "ucwa_push_config.h"
#include "ucwa_store.h"
#include "ucwa_workhours.h"

/* Store sizes and policies are server-wide (the main server owns them). */
typedef struct {
    ucwa_store_limits limits;
    apr_uint32_t per_user_max;
    apr_interval_time_t idle_timeout;     /* no event request for this long: expired */
    apr_interval_time_t tombstone;        /* how long an expired id answers 410 */
    apr_uint32_t timeout_min, timeout_max, timeout_default;   /* event timeout= (s) */
    apr_uint32_t parked_per_child;        /* 0: three quarters of ThreadsPerChild */
    apr_uint32_t parked_per_user;         /* event requests one user's applications park */
    ucwa_idle_rules idle_rules;
    ucwa_policy_set *policies;
    const char *site;                     /* this server's site (mobility and voice
                                           * policies, dial plans by site) */
    int user_query;                       /* UcwaUserQuery was set */
    apr_size_t body_max;
    apr_interval_time_t invitation_timeout;   /* unanswered IM invitations fail */
    apr_interval_time_t ring_timeout;         /* unanswered calls fail (missed) */
    apr_interval_time_t call_suspend;         /* a call's side without an event channel
                                               * this long is Suspended (0: never) */
    ucwa_push_conf *push;                 /* push notifications */
    struct ucwa_synthetic_conf *synthetic;   /* NULL: no scheduled synthetic transaction */
    const char *pool_fe;                  /* UcwaPoolFrontEnd: this Front End in its pool
                                           * (NULL: no pool, the store is this server's) */
    apr_interval_time_t pool_lease;       /* UcwaPoolLease */
    apr_array_header_t *pool_links;       /* UcwaPoolLink: ucwa_pool_peer (ucwa_pool_relay) */
    const unsigned char *pool_link_key;   /* UcwaPoolLinkKeyFile's bytes */
    apr_size_t pool_link_key_len;
    const char *pool_link_ca;             /* UcwaPoolLinkCAFile */
    apr_array_header_t *turn_servers;     /* UcwaTurnServer: ucwa_turn_server (NULL: none) */
    const char *turn_secret;              /* UcwaTurnSecret, UcwaTurnSecretFile's line */
    unsigned turn_minutes;                /* UcwaTurnTokenLifetime (0: the default) */
    struct ucwa_sip_conf *sip;            /* UcwaSip and its settings (ucwa_sipd) */
    ucwa_workhours work_hours;            /* UcwaWorkHours: a user's without a row */
} ucwa_global;

typedef struct {
    ucwa_global *global;
    int engine;                           /* -1 unset */
    const char *server_fqdn;
} ucwa_server_conf;

#define UCWA_USER_LABEL "ucwa_directory_user"

extern const command_rec ucwa_cmds[];

void *ucwa_config_create_server(apr_pool_t *p, server_rec *s);
void *ucwa_config_merge_server(apr_pool_t *p, void *base, void *add);
const ucwa_server_conf *ucwa_config_get(const server_rec *s);
int ucwa_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* The server-wide settings a directive sets (NULL and *err in a virtual host). */
ucwa_global *ucwa_config_global(cmd_parms *cmd, const char **err);
/* The push settings a server-wide directive sets (NULL and *err in a virtual host). */
ucwa_push_conf *ucwa_config_push(cmd_parms *cmd, const char **err);

/* A file's text, NUL-terminated, in cmd->pool (name relative to ServerRoot, at most max
 * bytes), or NULL and *err naming the directive. Read while the configuration is read,
 * as root: the file may be readable by root only. */
const char *ucwa_config_read_file(cmd_parms *cmd, const char *name, apr_size_t max,
                                  apr_size_t *len, const char **err);

#endif
