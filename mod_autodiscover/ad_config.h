/* mod_autodiscover configuration: directives, per-server config and typed getters. */
#ifndef AD_CONFIG_H
#define AD_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <mod_auth.h>

#include "mob_discovery.h"
#include "mob_lockout.h"
#include "mob_token.h"
#include "mob_topology.h"

/* Topology, token keys and the lockout table are global (one per server instance);
 * the main server owns them and every virtual host points at the same object. */
typedef struct {
    mob_topology *topology;
    apr_array_header_t *key_files;      /* const char *: current first */
    apr_array_header_t *keys;           /* mob_token_key, read in post_config */
    apr_interval_time_t token_lifetime;
    mob_lockout_policy account_lockout;
    mob_lockout_policy address_lockout;
    apr_uint32_t lockout_entries;
    int lockout_store;                  /* AD_LOCKOUT_SHM or AD_LOCKOUT_DBD */
    /* with AD_LOCKOUT_DBD: the key of the lockout hashes, the same on every Front End
     * of the pool (derived from the current token key in check_config; never stored) */
    unsigned char lockout_secret[MOB_LOCKOUT_SECRET];
    apr_interval_time_t failure_delay;
} ad_global;

enum { AD_LOCKOUT_SHM = 0, AD_LOCKOUT_DBD = 1 };

typedef struct {
    ad_global *global;
    int engine;                       /* -1 unset */
    int site;                         /* mob_site, -1 unset */
    const char *local_pool_name;
    const mob_pool *local_pool;       /* resolved in post_config */
    const char *server_fqdn;          /* X-MS-Server-Fqdn */
    apr_array_header_t *provider_names;  /* const char * */
    apr_array_header_t *providers;       /* const authn_provider *, same order */
    int basic_auth;                   /* offer Basic on /root/user; -1 unset */
    int http_credentials;             /* accept credentials over plain HTTP on the external site */
    int directory;                    /* a directory query was configured */
} ad_server_conf;

#define AD_DIRECTORY_LABEL "autodiscover_directory_user"

extern const command_rec ad_cmds[];

void *ad_config_create_server(apr_pool_t *p, server_rec *s);
void *ad_config_merge_server(apr_pool_t *p, void *base, void *add);

/* Resolves pools, providers and token keys; checks the topology. OK or a fatal error
 * already logged. */
int ad_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

const ad_server_conf *ad_config_get(const server_rec *s);

#endif
