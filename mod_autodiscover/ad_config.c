#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <ap_provider.h>
#include <mod_dbd.h>

#include "mod_autodiscover.h"
#include "ad_config.h"
#include "mob_number.h"

APLOG_USE_MODULE(autodiscover);
extern module AP_MODULE_DECLARE_DATA autodiscover_module;

#define DEFAULT_LIFETIME apr_time_from_sec(8 * 3600)

static ad_global *global_make(apr_pool_t *p)
{
    ad_global *g = apr_pcalloc(p, sizeof(*g));

    g->topology = mob_topology_make(p);
    g->key_files = apr_array_make(p, 2, sizeof(const char *));
    g->keys = apr_array_make(p, 2, sizeof(mob_token_key));
    g->token_lifetime = DEFAULT_LIFETIME;
    /* Entra smart lockout: 10 failures lock for 60 s; addresses get more room (NAT) */
    g->account_lockout.threshold = 10;
    g->account_lockout.duration = apr_time_from_sec(60);
    g->account_lockout.forget = apr_time_from_sec(15 * 60);
    g->address_lockout.threshold = 100;
    g->address_lockout.duration = apr_time_from_sec(60);
    g->address_lockout.forget = apr_time_from_sec(15 * 60);
    g->lockout_entries = 16384;
    g->failure_delay = apr_time_from_msec(250);
    return g;
}

void *ad_config_create_server(apr_pool_t *p, server_rec *s)
{
    ad_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = -1;
    c->site = -1;
    c->basic_auth = -1;
    c->http_credentials = -1;
    c->directory = -1;
    c->provider_names = NULL;
    /* virtual hosts are created after the main server: the first config made is global */
    c->global = s->is_virtual ? NULL : global_make(p);
    return c;
}

#define MERGE(field, unset) (add->field != (unset) ? add->field : base->field)

void *ad_config_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const ad_server_conf *base = basev, *add = addv;
    ad_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->global = base->global ? base->global : add->global;
    c->engine = MERGE(engine, -1);
    c->site = MERGE(site, -1);
    c->local_pool_name = MERGE(local_pool_name, NULL);
    c->server_fqdn = MERGE(server_fqdn, NULL);
    c->provider_names = MERGE(provider_names, NULL);
    c->basic_auth = MERGE(basic_auth, -1);
    c->http_credentials = MERGE(http_credentials, -1);
    c->directory = MERGE(directory, -1);
    return c;
}

const ad_server_conf *ad_config_get(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &autodiscover_module);
}

static ad_server_conf *conf_of(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &autodiscover_module);
}

/* Global directives are GLOBAL_ONLY, so cmd->server is the main server, owner of the
 * shared ad_global. */
static ad_global *global_of(cmd_parms *cmd)
{
    return conf_of(cmd)->global;
}

static const char *set_engine(cmd_parms *cmd, void *d, int on)
{
    conf_of(cmd)->engine = on;
    return NULL;
}

static const char *set_site(cmd_parms *cmd, void *d, const char *v)
{
    if (!strcasecmp(v, "internal")) conf_of(cmd)->site = MOB_SITE_INTERNAL;
    else if (!strcasecmp(v, "external")) conf_of(cmd)->site = MOB_SITE_EXTERNAL;
    else return "AutodiscoverSite must be Internal or External";
    return NULL;
}

static const char *set_pool(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) return err;
    if (argc < 1) return "AutodiscoverPool needs the pool FQDN and its settings";
    err = mob_topology_add_pool(global_of(cmd)->topology, cmd->pool, argv[0], argc - 1, argv + 1);
    return err ? apr_pstrcat(cmd->pool, "AutodiscoverPool: ", err, NULL) : NULL;
}

static const char *set_domain(cmd_parms *cmd, void *d, const char *domain, const char *pool)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) return err;
    err = mob_topology_add_domain(global_of(cmd)->topology, cmd->pool, domain, pool);
    return err ? apr_pstrcat(cmd->pool, "AutodiscoverSipDomain: ", err, NULL) : NULL;
}

static const char *set_local_pool(cmd_parms *cmd, void *d, const char *v)
{
    conf_of(cmd)->local_pool_name = v;
    return NULL;
}

static const char *set_server_fqdn(cmd_parms *cmd, void *d, const char *v)
{
    if (!mob_valid_fqdn(v)) return "AutodiscoverServerFqdn must be a host name";
    conf_of(cmd)->server_fqdn = v;
    return NULL;
}

/* A later AutodiscoverTokenKeyFile replaces an earlier one, as Apache directives do. */
static const char *set_key_files(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_array_header_t *files = global_of(cmd)->key_files;
    int i;

    if (err) return err;
    if (argc < 1) return "AutodiscoverTokenKeyFile needs at least the current key file";
    apr_array_clear(files);
    for (i = 0; i < argc; i++) {
        APR_ARRAY_PUSH(files, const char *) = ap_server_root_relative(cmd->pool, argv[i]);
    }
    return NULL;
}

static const char *parse_seconds(cmd_parms *cmd, const char *v, apr_int64_t min,
                                 apr_int64_t max, apr_int64_t *out)
{
    return mob_parse_number(cmd->pool, cmd->cmd->name, v, min, max, out);
}

static const char *set_lifetime(cmd_parms *cmd, void *d, const char *v)
{
    apr_int64_t n;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err) err = parse_seconds(cmd, v, 60, 7 * 24 * 3600, &n);
    if (err) return err;
    global_of(cmd)->token_lifetime = apr_time_from_sec(n);
    return NULL;
}

static const char *set_lockout(cmd_parms *cmd, void *d, const char *failures, const char *secs)
{
    apr_int64_t n, t;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    mob_lockout_policy *pol;

    if (!err) err = parse_seconds(cmd, failures, 0, 100000, &n);
    if (!err) err = parse_seconds(cmd, secs, 1, 86400, &t);
    if (err) return err;
    pol = cmd->info ? &global_of(cmd)->address_lockout : &global_of(cmd)->account_lockout;
    pol->threshold = (apr_uint32_t)n;
    pol->duration = apr_time_from_sec(t);
    return NULL;
}

static const char *set_lockout_entries(cmd_parms *cmd, void *d, const char *v)
{
    apr_int64_t n;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err) err = parse_seconds(cmd, v, 64, 4 * 1024 * 1024, &n);
    if (err) return err;
    global_of(cmd)->lockout_entries = (apr_uint32_t)n;
    return NULL;
}

static const char *set_lockout_store(cmd_parms *cmd, void *d, const char *v)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) return err;
    if (!strcasecmp(v, "shm")) {
        global_of(cmd)->lockout_store = AD_LOCKOUT_SHM;
    }
    else if (!strcasecmp(v, "dbd")) {
        if (!APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire)) {
            return "AutodiscoverLockoutStore dbd needs mod_dbd: load it before mod_autodiscover";
        }
        global_of(cmd)->lockout_store = AD_LOCKOUT_DBD;
    }
    else {
        return "AutodiscoverLockoutStore must be shm or dbd";
    }
    return NULL;
}

static const char *set_failure_delay(cmd_parms *cmd, void *d, const char *v)
{
    apr_int64_t n;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err) err = parse_seconds(cmd, v, 0, 10000, &n);
    if (err) return err;
    global_of(cmd)->failure_delay = apr_time_from_msec(n);
    return NULL;
}

static const char *add_provider(cmd_parms *cmd, void *d, const char *name)
{
    ad_server_conf *c = conf_of(cmd);

    if (!c->provider_names) {
        c->provider_names = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->provider_names, const char *) = name;
    return NULL;
}

static const char *set_directory_query(cmd_parms *cmd, void *d, const char *query)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);

    if (!prepare) {
        return "AutodiscoverDirectoryQuery needs mod_dbd: load it before mod_autodiscover";
    }
    if (!strstr(query, "%s")) {
        return "AutodiscoverDirectoryQuery must take the user's SIP address as %s";
    }
    prepare(cmd->server, query, AD_DIRECTORY_LABEL);
    conf_of(cmd)->directory = 1;
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, void *d, int on)
{
    ad_server_conf *c = conf_of(cmd);

    if (cmd->info == (void *)1) c->basic_auth = on;
    else c->http_credentials = on;
    return NULL;
}

const command_rec ad_cmds[] = {
    AP_INIT_FLAG("Autodiscover", set_engine, NULL, RSRC_CONF,
                 "On to serve Autodiscover and WebTicket on this site"),
    AP_INIT_TAKE1("AutodiscoverSite", set_site, NULL, RSRC_CONF,
                  "Internal or External: which web site of the pool this virtual host is"),
    AP_INIT_TAKE_ARGV("AutodiscoverPool", set_pool, NULL, RSRC_CONF,
                      "pool FQDN followed by role=, site=, internal=, external=, "
                      "sip-internal=, sip-external=, mcx="),
    AP_INIT_TAKE2("AutodiscoverSipDomain", set_domain, NULL, RSRC_CONF,
                  "a SIP domain and the pool that answers discovery for it"),
    AP_INIT_TAKE1("AutodiscoverLocalPool", set_local_pool, NULL, RSRC_CONF,
                  "the pool (AutodiscoverPool FQDN) this server belongs to"),
    AP_INIT_TAKE1("AutodiscoverServerFqdn", set_server_fqdn, NULL, RSRC_CONF,
                  "this server's FQDN, sent as X-MS-Server-Fqdn (default ServerName)"),
    AP_INIT_TAKE_ARGV("AutodiscoverTokenKeyFile", set_key_files, NULL, RSRC_CONF,
                    "files with the token signing key: the current key first, then keys "
                    "still accepted during a rotation"),
    AP_INIT_TAKE1("AutodiscoverTokenLifetime", set_lifetime, NULL, RSRC_CONF,
                  "token lifetime in seconds (default 28800, 8 hours)"),
    AP_INIT_ITERATE("AutodiscoverAuthnProvider", add_provider, NULL, RSRC_CONF,
                    "authn providers (or AuthnProviderAlias names) that check passwords"),
    AP_INIT_TAKE1("AutodiscoverDirectoryQuery", set_directory_query, NULL, RSRC_CONF,
                  "SQL (mod_dbd) returning the home pool FQDN of the user given as %s"),
    AP_INIT_FLAG("AutodiscoverBasicAuth", set_flag, (void *)1, RSRC_CONF,
                 "also offer Basic authentication on .../root/user (XML clients)"),
    AP_INIT_FLAG("AutodiscoverAllowHttpCredentials", set_flag, (void *)0, RSRC_CONF,
                 "accept credentials over plain HTTP on the external site (default Off)"),
    AP_INIT_TAKE2("AutodiscoverAccountLockout", set_lockout, NULL, RSRC_CONF,
                  "failed sign-ins that lock an account, and the lock in seconds (10 60)"),
    AP_INIT_TAKE2("AutodiscoverAddressLockout", set_lockout, (void *)1, RSRC_CONF,
                  "failed sign-ins that lock a client address, and the lock in seconds (100 60)"),
    AP_INIT_TAKE1("AutodiscoverLockoutEntries", set_lockout_entries, NULL, RSRC_CONF,
                  "accounts and addresses the lockout table tracks (default 16384)"),
    AP_INIT_TAKE1("AutodiscoverLockoutStore", set_lockout_store, NULL, RSRC_CONF,
                  "shm (each Front End counts failed sign-ins alone, the default) or dbd "
                  "(the pool counts them in its database, through mod_dbd)"),
    AP_INIT_TAKE1("AutodiscoverFailureDelay", set_failure_delay, NULL, RSRC_CONF,
                  "milliseconds: a failed sign-in is answered at a multiple of this (250)"),
    { NULL }
};

static apr_status_t read_key(apr_pool_t *p, const char *file, mob_token_key *key)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    unsigned char *buf;
    apr_status_t rv;

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS) return rv;
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && (fi.size < MOB_TOKEN_KEY_MIN || fi.size > 4096)) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        n = (apr_size_t)fi.size;
        buf = apr_palloc(p, n);
        rv = apr_file_read_full(f, buf, n, &n);
        key->data = buf;
        key->len = n;
    }
    apr_file_close(f);
    return rv;
}

int ad_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const ad_server_conf *main_conf = ad_config_get(s);
    ad_global *g = main_conf->global;
    const char *err;
    int i, used = 0;
    server_rec *sp;

    for (sp = s; sp; sp = sp->next) {
        ad_server_conf *c = ap_get_module_config(sp->module_config, &autodiscover_module);
        used |= (c->engine == 1);
    }
    if (!used) {
        return OK;
    }
    err = mob_topology_check(g->topology, ptemp);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, ADLOGNO(00001) "%s", err);
        return !OK;
    }
    if (g->key_files->nelts == 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, ADLOGNO(00002)
                     "AutodiscoverTokenKeyFile is not set: tokens cannot be signed. Create one "
                     "with 'openssl rand -out /etc/apache2/mobility/token.key 32'");
        return !OK;
    }
    apr_array_clear(g->keys);
    for (i = 0; i < g->key_files->nelts; i++) {
        const char *file = APR_ARRAY_IDX(g->key_files, i, const char *);
        mob_token_key *key = apr_array_push(g->keys);
        apr_status_t rv = read_key(pconf, file, key);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ADLOGNO(00003)
                         "AutodiscoverTokenKeyFile %s: cannot read at least %d bytes of key",
                         file, MOB_TOKEN_KEY_MIN);
            return !OK;
        }
    }
    if (g->lockout_store == AD_LOCKOUT_DBD) {
        /* every Front End of the pool has the same key files: the same secret */
        const mob_token_key *current = &APR_ARRAY_IDX(g->keys, 0, mob_token_key);
        mob_lockout_secret_derive(current->data, current->len, g->lockout_secret);
    }
    for (sp = s; sp; sp = sp->next) {
        ad_server_conf *c = ap_get_module_config(sp->module_config, &autodiscover_module);
        if (c->engine != 1) {
            continue;
        }
        if (!c->local_pool_name) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, ADLOGNO(00004)
                         "Autodiscover is On for %s:%u but AutodiscoverLocalPool is not set",
                         sp->server_hostname, sp->port);
            return !OK;
        }
        c->local_pool = mob_topology_pool(g->topology, c->local_pool_name);
        if (!c->local_pool) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, ADLOGNO(00005)
                         "AutodiscoverLocalPool %s: no AutodiscoverPool defines this pool",
                         c->local_pool_name);
            return !OK;
        }
        if (c->site == -1) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, ADLOGNO(00006)
                         "Autodiscover is On for %s:%u but AutodiscoverSite (Internal or "
                         "External) is not set", sp->server_hostname, sp->port);
            return !OK;
        }
        if (!c->server_fqdn) {
            c->server_fqdn = s->server_hostname;
        }
        c->providers = apr_array_make(pconf, 2, sizeof(const authn_provider *));
        for (i = 0; c->provider_names && i < c->provider_names->nelts; i++) {
            const char *name = APR_ARRAY_IDX(c->provider_names, i, const char *);
            const authn_provider *prov = ap_lookup_provider(AUTHN_PROVIDER_GROUP, name,
                                                            AUTHN_PROVIDER_VERSION);
            if (!prov || !prov->check_password) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, ADLOGNO(00007)
                             "AutodiscoverAuthnProvider %s: no such authn provider (load its "
                             "module, or define it with <AuthnProviderAlias>)", name);
                return !OK;
            }
            APR_ARRAY_PUSH(c->providers, const authn_provider *) = prov;
        }
        if (c->providers->nelts == 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sp, ADLOGNO(00008)
                         "no AutodiscoverAuthnProvider for %s:%u: every sign-in will fail",
                         sp->server_hostname, sp->port);
        }
    }
    return OK;
}
