#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_dbd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_dbd.h>
#include <util_cfgtree.h>

#include "mod_ucwa.h"
#include "ucwa_media_relay.h"
#include "ucwa_pool_relay.h"
#include "ucwa_config.h"
#include "ucwa_sipd.h"
#include "ucwa_synthetic.h"
#include "mob_number.h"

APLOG_USE_MODULE(ucwa);
extern module AP_MODULE_DECLARE_DATA ucwa_module;

static ucwa_global *global_make(apr_pool_t *p)
{
    ucwa_global *g = apr_pcalloc(p, sizeof(*g));

    g->limits.max_apps = 1000;
    g->limits.max_users = 1000;
    g->limits.ring_len = 64;
    g->limits.event_size = 4096;
    g->limits.max_subs = 4 * 1000;
    g->limits.max_convs = 2 * 1000;
    g->limits.max_push = 1000;
    g->limits.max_calls = 128;
    g->per_user_max = 10;
    g->parked_per_user = 10;                        /* one per application of the default */
    g->idle_timeout = apr_time_from_sec(15 * 60);   /* UCWA: 15 min without a P-GET */
    g->tombstone = apr_time_from_sec(60 * 60);
    g->timeout_min = 180;                           /* UCWA's documented range */
    g->timeout_max = 1800;
    g->timeout_default = 180;
    g->idle_rules.idle = apr_time_from_sec(5 * 60);
    g->idle_rules.away = apr_time_from_sec(15 * 60);
    g->policies = ucwa_policy_set_make(p);
    g->body_max = 64 * 1024;
    g->invitation_timeout = apr_time_from_sec(30);
    g->ring_timeout = apr_time_from_sec(20);        /* SfB rings about 20 s */
    g->call_suspend = apr_time_from_sec(20);
    g->pool_lease = apr_time_from_sec(10);   /* UCWA: "approximately thirty seconds" */
    g->push = ucwa_push_conf_make(p);
    g->sip = ucwa_sip_conf_make(p);
    g->work_hours.days = 0x3e;                      /* Mon-Fri 08:00-17:00 UTC */
    g->work_hours.start = 8 * 60;
    g->work_hours.end = 17 * 60;
    apr_cpystrn(g->work_hours.zone, "UTC", sizeof(g->work_hours.zone));
    return g;
}

void *ucwa_config_create_server(apr_pool_t *p, server_rec *s)
{
    ucwa_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = -1;
    c->global = s->is_virtual ? NULL : global_make(p);
    return c;
}

void *ucwa_config_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const ucwa_server_conf *base = basev, *add = addv;
    ucwa_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->global = base->global ? base->global : add->global;
    c->engine = add->engine != -1 ? add->engine : base->engine;
    c->server_fqdn = add->server_fqdn ? add->server_fqdn : base->server_fqdn;
    return c;
}

const ucwa_server_conf *ucwa_config_get(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &ucwa_module);
}

static ucwa_server_conf *conf_of(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &ucwa_module);
}

static ucwa_global *global_of(cmd_parms *cmd, const char **err)
{
    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return conf_of(cmd)->global;
}

ucwa_global *ucwa_config_global(cmd_parms *cmd, const char **err)
{
    ucwa_global *g = global_of(cmd, err);

    return *err ? NULL : g;
}

ucwa_push_conf *ucwa_config_push(cmd_parms *cmd, const char **err)
{
    ucwa_global *g = global_of(cmd, err);

    return *err ? NULL : g->push;
}

const char *ucwa_config_read_file(cmd_parms *cmd, const char *name, apr_size_t max,
                                  apr_size_t *len, const char **err)
{
    const char *path = ap_server_root_relative(cmd->temp_pool, name);
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;

    *err = NULL;
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, 0, cmd->temp_pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        *err = apr_psprintf(cmd->pool, "%s: cannot read %s", cmd->cmd->name, name);
        return NULL;
    }
    if (fi.size <= 0 || (apr_size_t)fi.size > max) {
        *err = apr_psprintf(cmd->pool, "%s: %s is empty or too large", cmd->cmd->name, name);
        return NULL;
    }
    buf = apr_palloc(cmd->pool, (apr_size_t)fi.size + 1);
    *len = (apr_size_t)fi.size;
    if (apr_file_read_full(f, buf, *len, NULL) != APR_SUCCESS) {
        *err = apr_psprintf(cmd->pool, "%s: cannot read %s", cmd->cmd->name, name);
        return NULL;
    }
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

static const char *set_engine(cmd_parms *cmd, void *d, int on)
{
    conf_of(cmd)->engine = on;
    return NULL;
}

static const char *number(cmd_parms *cmd, const char *v, apr_int64_t min, apr_int64_t max,
                          apr_int64_t *out)
{
    return mob_parse_number(cmd->pool, cmd->cmd->name, v, min, max, out);
}

/* One handler for the numeric server-wide settings; cmd->info says which. */
enum { N_APPS, N_RING, N_EVSIZE, N_PER_USER, N_IDLE, N_PARKED, N_INACTIVE, N_AWAY, N_INVITE,
       N_PARKED_USER, N_POOL_LEASE, N_CALLS, N_RING_TIMEOUT, N_CALL_SUSPEND };

static const char *set_number(cmd_parms *cmd, void *d, const char *v)
{
    static const apr_int64_t range[][2] = {
        { 1, 1 << 20 }, { 4, 65536 }, { 512, 65536 }, { 0, 1000 }, { 10, 86400 },
        { 0, 100000 }, { 10, 86400 }, { 10, 86400 }, { 1, 3600 }, { 1, 100000 }, { 3, 300 },
        { 0, 100000 }, { 1, 300 }, { 0, 3600 },
    };
    int which = (int)(apr_uintptr_t)cmd->info;
    const char *err;
    ucwa_global *g = global_of(cmd, &err);
    apr_int64_t n;

    if (!err) err = number(cmd, v, range[which][0], range[which][1], &n);
    if (err) return err;
    switch (which) {
    case N_APPS:
        g->limits.max_apps = g->limits.max_users = (apr_uint32_t)n;
        g->limits.max_subs = 4 * (apr_uint32_t)n;    /* a few per application */
        g->limits.max_convs = 2 * (apr_uint32_t)n;
        g->limits.max_push = (apr_uint32_t)n;        /* one queued notification each */
        break;
    case N_RING: g->limits.ring_len = (apr_uint32_t)n; break;
    case N_EVSIZE: g->limits.event_size = (apr_uint32_t)n; break;
    case N_PER_USER: g->per_user_max = (apr_uint32_t)n; break;
    case N_IDLE: g->idle_timeout = apr_time_from_sec(n); break;
    case N_PARKED: g->parked_per_child = (apr_uint32_t)n; break;
    case N_INACTIVE: g->idle_rules.idle = apr_time_from_sec(n); break;
    case N_AWAY: g->idle_rules.away = apr_time_from_sec(n); break;
    case N_INVITE: g->invitation_timeout = apr_time_from_sec(n); break;
    case N_CALLS: g->limits.max_calls = (apr_uint32_t)n; break;
    case N_RING_TIMEOUT: g->ring_timeout = apr_time_from_sec(n); break;
    case N_CALL_SUSPEND: g->call_suspend = apr_time_from_sec(n); break;
    case N_PARKED_USER: g->parked_per_user = (apr_uint32_t)n; break;
    case N_POOL_LEASE: g->pool_lease = apr_time_from_sec(n); break;
    }
    return NULL;
}

static const char *set_timeout_range(cmd_parms *cmd, void *d, const char *lo, const char *hi)
{
    const char *err;
    ucwa_global *g = global_of(cmd, &err);
    apr_int64_t a, b;

    if (!err) err = number(cmd, lo, 1, 86400, &a);
    if (!err) err = number(cmd, hi, 1, 86400, &b);
    if (err) return err;
    if (a > b) return "UcwaEventTimeoutRange: the minimum is larger than the maximum";
    g->timeout_min = (apr_uint32_t)a;
    g->timeout_max = (apr_uint32_t)b;
    g->timeout_default = g->timeout_default < a ? (apr_uint32_t)a
                         : g->timeout_default > b ? (apr_uint32_t)b : g->timeout_default;
    return NULL;
}

/* A pool member's name: letters, digits, '.', '-' and '_' (it names the Front End in the
 * pool's tables and logs). */
static const char *set_pool_fe(cmd_parms *cmd, void *d, const char *v)
{
    const char *err, *c;
    ucwa_global *g = global_of(cmd, &err);

    if (err) return err;
    if (!*v || strlen(v) > 63) {
        return "UcwaPoolFrontEnd: a name of 1 to 63 characters";
    }
    for (c = v; *c; c++) {
        if (!apr_isalnum(*c) && *c != '.' && *c != '-' && *c != '_') {
            return "UcwaPoolFrontEnd: letters, digits, '.', '-' and '_' only";
        }
    }
    g->pool_fe = v;
    return NULL;
}

static const char *set_site(cmd_parms *cmd, void *d, const char *v)
{
    const char *err;
    ucwa_global *g = global_of(cmd, &err);

    if (err) return err;
    g->site = v;
    return NULL;
}

static const char *set_work_hours(cmd_parms *cmd, void *d, const char *spec,
                                  const char *zone)
{
    const char *err;
    ucwa_global *g = global_of(cmd, &err);

    if (err) return err;
    if ((err = ucwa_workhours_parse_spec(cmd->temp_pool, spec, zone, &g->work_hours))) {
        return apr_pstrcat(cmd->pool, "UcwaWorkHours: ", err, NULL);
    }
    return NULL;
}

static const char *set_user_query(cmd_parms *cmd, void *d, const char *query)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    const char *err;
    ucwa_global *g = global_of(cmd, &err);

    if (err) return err;
    if (!prepare) return "UcwaUserQuery needs mod_dbd: load it before mod_ucwa";
    if (!strstr(query, "%s")) return "UcwaUserQuery must take the user's SIP address as %s";
    prepare(cmd->server, query, UCWA_USER_LABEL);
    g->user_query = 1;
    return NULL;
}

/* <UcwaMobilityPolicy identity> ... </UcwaMobilityPolicy>: one parameter per line, as
 * "Name value" with the names of Set-CsMobilityPolicy. */
static const char *policy_section(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err, *end = strrchr(arg, '>');
    ucwa_global *g = global_of(cmd, &err);
    ucwa_policy *pol = NULL;
    const char *identity;
    ap_directive_t *dir;

    if (err) return err;
    if (!end) return "<UcwaMobilityPolicy> needs a closing '>'";
    identity = apr_pstrndup(cmd->temp_pool, arg, (apr_size_t)(end - arg));
    identity = ap_getword_conf(cmd->temp_pool, &identity);
    if (!*identity) return "<UcwaMobilityPolicy> needs an identity: global, site:NAME or a tag";
    err = ucwa_policy_set_add(g->policies, cmd->pool, identity, &pol);
    if (err) return apr_pstrcat(cmd->pool, "<UcwaMobilityPolicy ", identity, ">: ", err, NULL);
    /* the section's lines were parsed into child nodes, not run: read them here */
    for (dir = cmd->directive->first_child; dir; dir = dir->next) {
        const char *rest = dir->args, *value;
        value = ap_getword_conf(cmd->temp_pool, &rest);
        if (*rest) {
            return apr_psprintf(cmd->pool, "<UcwaMobilityPolicy %s>: '%s' takes one value "
                                "(quote values with spaces)", identity, dir->directive);
        }
        err = ucwa_policy_set_param(cmd->pool, pol, dir->directive, apr_pstrdup(cmd->pool, value));
        if (err) {
            return apr_psprintf(cmd->pool, "<UcwaMobilityPolicy %s>: %s (line %d of %s)",
                                identity, err, dir->line_num, dir->filename);
        }
    }
    return NULL;
}

const command_rec ucwa_cmds[] = {
    AP_INIT_FLAG("Ucwa", set_engine, NULL, RSRC_CONF, "On to serve /ucwa on this site"),
    AP_INIT_TAKE1("UcwaMaxApplications", set_number, (void *)N_APPS, RSRC_CONF,
                  "applications (and users) the session store holds (default 1000)"),
    AP_INIT_TAKE1("UcwaEventsPerApplication", set_number, (void *)N_RING, RSRC_CONF,
                  "undelivered events kept per application (default 64)"),
    AP_INIT_TAKE1("UcwaEventSize", set_number, (void *)N_EVSIZE, RSRC_CONF,
                  "bytes per stored event (default 4096)"),
    AP_INIT_TAKE1("UcwaMaxApplicationsPerUser", set_number, (void *)N_PER_USER, RSRC_CONF,
                  "applications one user may have at once, 0 for no limit (default 10)"),
    AP_INIT_TAKE1("UcwaApplicationIdleTimeout", set_number, (void *)N_IDLE, RSRC_CONF,
                  "seconds without an event request before an application ends (900)"),
    AP_INIT_TAKE1("UcwaMaxParkedPerChild", set_number, (void *)N_PARKED, RSRC_CONF,
                  "event requests one child process holds at once (0: 3/4 of ThreadsPerChild)"),
    AP_INIT_TAKE1("UcwaMaxParkedPerUser", set_number, (void *)N_PARKED_USER, RSRC_CONF,
                  "event requests one user's applications hold parked at once (default 10)"),
    AP_INIT_TAKE1("UcwaInactiveTimeout", set_number, (void *)N_INACTIVE, RSRC_CONF,
                  "seconds without reportMyActivity before Online becomes IdleOnline (300)"),
    AP_INIT_TAKE1("UcwaAwayTimeout", set_number, (void *)N_AWAY, RSRC_CONF,
                  "seconds without reportMyActivity before the user shows Away (900)"),
    AP_INIT_TAKE1("UcwaInvitationTimeout", set_number, (void *)N_INVITE, RSRC_CONF,
                  "seconds an instant-message invitation waits for an answer (30)"),
    AP_INIT_TAKE1("UcwaMaxCalls", set_number, (void *)N_CALLS, RSRC_CONF,
                  "calls (audio/video invitations and sessions) this server holds at once (128)"),
    AP_INIT_TAKE1("UcwaCallRingTimeout", set_number, (void *)N_RING_TIMEOUT, RSRC_CONF,
                  "seconds a call rings before it fails and the callee has missed it (20)"),
    AP_INIT_TAKE1("UcwaCallSuspendAfter", set_number, (void *)N_CALL_SUSPEND, RSRC_CONF,
                  "seconds a side of a call may go without an event request before its session "
                  "is Suspended (20; 0: never)"),
    AP_INIT_TAKE1("UcwaPoolFrontEnd", set_pool_fe, NULL, RSRC_CONF,
                  "this Front End's name in its pool: live state is shared with the pool's "
                  "other Front Ends through the PostgreSQL database of DBDParams"),
    AP_INIT_TAKE1("UcwaPoolLease", set_number, (void *)N_POOL_LEASE, RSRC_CONF,
                  "seconds after its last heartbeat that a silent Front End counts as gone (10)"),
    AP_INIT_TAKE23("UcwaPoolLink", ucwa_pool_link_set_peer, NULL, RSRC_CONF,
                   "another pool's FQDN, its internal web services URL [and an address to "
                   "reach it at instead of DNS]: users homed there are reached through it"),
    AP_INIT_TAKE1("UcwaPoolLinkKeyFile", ucwa_pool_link_set_key, NULL, RSRC_CONF,
                  "the key (a file of 32 to 4096 bytes) every linked pool shares"),
    AP_INIT_TAKE1("UcwaPoolLinkCAFile", ucwa_pool_link_set_ca, NULL, RSRC_CONF,
                  "the CA certificates to verify linked pools by (default: the system's)"),
    AP_INIT_TAKE2("UcwaEventTimeoutRange", set_timeout_range, NULL, RSRC_CONF,
                  "the range event requests' timeout= is clamped to, in seconds (180 1800)"),
    AP_INIT_RAW_ARGS("UcwaTurnServer", ucwa_media_relay_set_server, NULL, RSRC_CONF,
                     "a TURN server for calls' media: host [udpPort [tcpPort]] (3478; '-': "
                     "none); repeat for several"),
    AP_INIT_TAKE1("UcwaTurnSecretFile", ucwa_media_relay_set_secret, (void *)1, RSRC_CONF,
                  "a file whose first line is the secret the TURN servers share "
                  "(static-auth-secret); read at start, as root"),
    AP_INIT_TAKE1("UcwaTurnSecret", ucwa_media_relay_set_secret, NULL, RSRC_CONF,
                  "the secret the TURN servers share (prefer UcwaTurnSecretFile)"),
    AP_INIT_TAKE1("UcwaTurnTokenLifetime", ucwa_media_relay_set_lifetime, NULL, RSRC_CONF,
                  "minutes a mediaRelayAccessToken is valid (480)"),
    AP_INIT_TAKE1("UcwaSite", set_site, NULL, RSRC_CONF,
                  "this server's site, for site mobility and voice policies and dial plans"),
    AP_INIT_TAKE2("UcwaWorkHours", set_work_hours, NULL, RSRC_CONF,
                  "\"DAYS HH:MM-HH:MM\" ZONE: the work hours of a user without a row of "
                  "ucwa_work_hours (\"Mon-Fri 08:00-17:00\" UTC)"),
    AP_INIT_TAKE1("UcwaUserQuery", set_user_query, NULL, RSRC_CONF,
                  "SQL (mod_dbd) returning display_name and policy_tag of the user given as %s"),
    AP_INIT_RAW_ARGS("<UcwaMobilityPolicy", policy_section, NULL, RSRC_CONF,
                     "a mobility policy: global, site:NAME or a per-user tag"),
    AP_INIT_RAW_ARGS("UcwaPushProvider", ucwa_push_set_provider, NULL, RSRC_CONF,
                     "WebPush|APNs|FCM On|Off [site:NAME]: a push service on or off"),
    AP_INIT_TAKE2("UcwaPushVapidKey", ucwa_push_set_vapid, NULL, RSRC_CONF,
                  "WebPush: the VAPID key (PEM, P-256) and the contact (mailto: or https:)"),
    AP_INIT_RAW_ARGS("UcwaPushApns", ucwa_push_set_apns, NULL, RSRC_CONF,
                     "APNs: key.p8 key-id team-id topic [host[:port]]"),
    AP_INIT_TAKE12("UcwaPushFcm", ucwa_push_set_fcm, NULL, RSRC_CONF,
                   "FCM: the service account JSON file [and the API base URL]"),
    AP_INIT_ITERATE("UcwaPushAllowEndpoint", ucwa_push_set_allow, NULL, RSRC_CONF,
                    "hosts or networks (CIDR) WebPush endpoints may be on although private"),
    AP_INIT_FLAG("UcwaPushAllowHttp", ucwa_push_set_allow_http, NULL, RSRC_CONF,
                 "accept WebPush endpoints over plain http (tests only; default Off)"),
    AP_INIT_TAKE1("UcwaPushContent", ucwa_push_set_content, NULL, RSRC_CONF,
                  "None (default), Sender or Preview: what a notification says"),
    AP_INIT_TAKE1("UcwaPushBackgroundAfter", ucwa_push_set_number, (void *)0, RSRC_CONF,
                  "seconds without an event request before an application is in the "
                  "background (60)"),
    AP_INIT_TAKE1("UcwaPushSessionLifetime", ucwa_push_set_number, (void *)1, RSRC_CONF,
                  "seconds a registered application lives in the background (259200)"),
    AP_INIT_TAKE1("UcwaPushCAFile", ucwa_push_set_ca, NULL, RSRC_CONF,
                  "certificates (PEM) trusted for the push services instead of the system's"),
    AP_INIT_TAKE3("UcwaSyntheticTransaction", ucwa_synthetic_set, NULL, RSRC_CONF,
                  "seconds between runs, and the two test users (SIP addresses)"),
    AP_INIT_TAKE1("UcwaSyntheticCredentials", ucwa_synthetic_set_credentials, NULL, RSRC_CONF,
                  "the test users' passwords: a file of 'sip-address password' lines, "
                  "readable by root only"),
    AP_INIT_TAKE1("UcwaSyntheticDiscovery", ucwa_synthetic_set_discovery, NULL, RSRC_CONF,
                  "the external discovery URL the test users start from "
                  "(default https://lyncdiscover.<first user's domain>/)"),
    AP_INIT_ITERATE("UcwaSyntheticResolve", ucwa_synthetic_set_resolve, NULL, RSRC_CONF,
                    "host:port:address entries used instead of DNS for the transaction"),
    AP_INIT_TAKE1("UcwaSyntheticCAFile", ucwa_synthetic_set_ca, NULL, RSRC_CONF,
                  "certificates (PEM) trusted for the transaction instead of the system's"),
    AP_INIT_FLAG("UcwaSip", ucwa_sip_set_engine, NULL, RSRC_CONF,
                 "On to run ucwa-sipd, the SIP side of UCWA (a process Apache starts)"),
    AP_INIT_FLAG("UcwaSipAnchorAppCalls", ucwa_sip_set_engine, (void *)1, RSRC_CONF,
                 "On: calls between applications go through rtpengine (answer or move them "
                 "to a phone); Off (default): peer to peer"),
    AP_INIT_TAKE1("UcwaSipListenAddress", ucwa_sip_set_listen, NULL, RSRC_CONF,
                  "the IP address ucwa-sipd listens for SIP on (default 127.0.0.1)"),
    AP_INIT_TAKE1("UcwaSipExternalListeningPort", ucwa_sip_set_port, NULL, RSRC_CONF,
                  "ucwa-sipd's SIP port for external traffic (default 5088)"),
    AP_INIT_TAKE1("UcwaSipPrimaryListeningPort", ucwa_sip_set_port, (void *)1, RSRC_CONF,
                  "ucwa-sipd's SIP port for internal traffic (default 5089)"),
    AP_INIT_TAKE1("UcwaSipProxy", ucwa_sip_set_peer, NULL, RSRC_CONF,
                  "host:port of the SIP proxy (Kamailio) ucwa-sipd sends its requests to"),
    AP_INIT_TAKE1("UcwaRtpengine", ucwa_sip_set_peer, (void *)1, RSRC_CONF,
                  "host:port of rtpengine's NG control socket (UDP)"),
    AP_INIT_TAKE12("UcwaSipCertificateFile", ucwa_sip_set_cert, NULL, RSRC_CONF,
                   "PEM certificate (and key, or a key file): SIP over TLS instead of TCP"),
    { NULL }
};

int ucwa_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    const char *err;

    if (g->limits.event_size < 1024) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00002)
                     "UcwaEventSize %u is small: events with embedded resources will not fit",
                     g->limits.event_size);
    }
    if (g->idle_rules.away < g->idle_rules.idle) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00003)
                     "UcwaAwayTimeout must not be shorter than UcwaInactiveTimeout");
        return !OK;
    }
    if ((err = ucwa_media_relay_check(ptemp, g)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00503) "%s", err);
        return !OK;
    }
    /* the providers in force for this site, each with its credentials: a configtest error */
    if ((err = ucwa_push_config_check(ptemp, g->push, g->site)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00257) "%s", err);
        return !OK;
    }
    return OK;
}
