#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_config.h>

#include "mob_number.h"
#include "push_crypto.h"
#include "ucwa_config.h"
#include "ucwa_push_config.h"

#define KEY_FILE_MAX 65536

ucwa_push_conf *ucwa_push_conf_make(apr_pool_t *p)
{
    ucwa_push_conf *c = apr_pcalloc(p, sizeof(*c));

    c->switches = apr_array_make(p, 4, sizeof(ucwa_push_switch));
    c->policy.allow = apr_array_make(p, 4, sizeof(const char *));
    c->content = UCWA_PUSH_CONTENT_NONE;
    c->background_after = 60;
    c->session_lifetime = 259200;     /* MCX's SessionExpirationInterval */
    c->apns_host = PUSH_APNS_HOST;
    c->fcm_base = PUSH_FCM_BASE_URL;
    return c;
}

static push_key *load_key(cmd_parms *cmd, const char *file, push_key_kind want,
                          const char **err)
{
    apr_size_t len = 0;
    const char *pem = ucwa_config_read_file(cmd, file, KEY_FILE_MAX, &len, err), *why = NULL;
    push_key *k = NULL;

    if (!pem) {
        return NULL;
    }
    if (push_key_from_pem(cmd->pool, pem, len, &k, &why) != APR_SUCCESS) {
        *err = apr_psprintf(cmd->pool, "%s: %s: %s", cmd->cmd->name, file,
                            why ? why : "not a usable private key");
        return NULL;
    }
    if (push_key_kind_of(k) != want) {
        *err = apr_psprintf(cmd->pool, "%s: %s: the key must be %s", cmd->cmd->name, file,
                            want == PUSH_KEY_P256 ? "EC P-256" : "RSA");
        return NULL;
    }
    return k;
}

const char *ucwa_push_set_provider(cmd_parms *cmd, void *d, const char *args)
{
    const char *err, *name = ap_getword_conf(cmd->temp_pool, &args);
    const char *onoff = ap_getword_conf(cmd->temp_pool, &args);
    const char *scope = ap_getword_conf(cmd->temp_pool, &args);
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);
    ucwa_push_switch *sw;
    push_provider prov;

    if (err) {
        return err;
    }
    if (*args || !*onoff) {
        return "UcwaPushProvider WebPush|APNs|FCM On|Off [site:NAME]";
    }
    if (!strcasecmp(name, "UnifiedPush") || !strcasecmp(name, "WebPush")) {
        prov = PUSH_PROVIDER_WEBPUSH;
    }
    else if (!strcasecmp(name, "APNs")) {
        prov = PUSH_PROVIDER_APNS;
    }
    else if (!strcasecmp(name, "FCM")) {
        prov = PUSH_PROVIDER_FCM;
    }
    else {
        return apr_psprintf(cmd->pool, "UcwaPushProvider: unknown service '%s' (WebPush, "
                            "APNs or FCM)", name);
    }
    if (strcasecmp(onoff, "On") && strcasecmp(onoff, "Off")) {
        return "UcwaPushProvider: the second argument is On or Off";
    }
    if (*scope && (strncasecmp(scope, "site:", 5) || !scope[5])) {
        return "UcwaPushProvider: the scope is site:NAME (or nothing, for global)";
    }
    sw = apr_array_push(c->switches);
    sw->site = *scope ? apr_pstrdup(cmd->pool, scope + 5) : NULL;
    sw->provider = prov;
    sw->on = !strcasecmp(onoff, "On");
    return NULL;
}

const char *ucwa_push_set_vapid(cmd_parms *cmd, void *d, const char *file, const char *subject)
{
    const char *err;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);

    if (err) {
        return err;
    }
    if (strncmp(subject, "mailto:", 7) && strncmp(subject, "https:", 6)) {
        return "UcwaPushVapidKey: the contact starts with mailto: or https: (RFC 8292)";
    }
    if ((c->vapid_key = load_key(cmd, file, PUSH_KEY_P256, &err)) == NULL) {
        return err;
    }
    c->vapid_public = push_b64url_encode(cmd->pool, push_key_p256_public(c->vapid_key), 65);
    c->vapid_subject = apr_pstrdup(cmd->pool, subject);
    return NULL;
}

const char *ucwa_push_set_apns(cmd_parms *cmd, void *d, const char *args)
{
    const char *err, *w[5];
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);
    int n;

    if (err) {
        return err;
    }
    for (n = 0; n < 5 && *args; n++) {
        w[n] = ap_getword_conf(cmd->pool, &args);
    }
    if (n < 4 || *args) {
        return "UcwaPushApns key.p8 key-id team-id topic [host[:port]]";
    }
    if ((c->apns_key = load_key(cmd, w[0], PUSH_KEY_P256, &err)) == NULL) {
        return err;
    }
    /* the token is signed here once, to refuse an unusable key id or team id now */
    if (!push_apns_provider_token(cmd->temp_pool, c->apns_key, w[1], w[2], apr_time_now())) {
        return "UcwaPushApns: the key id and team id are 1 to 64 printable characters";
    }
    c->apns_key_id = w[1];
    c->apns_team_id = w[2];
    c->apns_topic = w[3];
    if (n == 5) {
        c->apns_host = w[4];
    }
    return NULL;
}

const char *ucwa_push_set_fcm(cmd_parms *cmd, void *d, const char *file, const char *base)
{
    const char *err, *json, *why = NULL;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);
    apr_size_t len = 0;

    if (err) {
        return err;
    }
    if ((json = ucwa_config_read_file(cmd, file, KEY_FILE_MAX, &len, &err)) == NULL) {
        return err;
    }
    if (push_service_account_parse(cmd->pool, json, len, &c->fcm_account, &why)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "UcwaPushFcm: %s: %s", file,
                            why ? why : "not a service account");
    }
    if (push_key_from_pem(cmd->pool, c->fcm_account.private_key,
                          strlen(c->fcm_account.private_key), &c->fcm_key, &why) != APR_SUCCESS
        || push_key_kind_of(c->fcm_key) != PUSH_KEY_RSA) {
        return apr_psprintf(cmd->pool, "UcwaPushFcm: %s: the private_key is not an RSA key",
                            file);
    }
    if (base) {
        if (strncmp(base, "https://", 8) && strncmp(base, "http://", 7)) {
            return "UcwaPushFcm: the base URL is http(s)://host[:port]";
        }
        c->fcm_base = base;
    }
    return NULL;
}

const char *ucwa_push_set_allow(cmd_parms *cmd, void *d, const char *entry)
{
    const char *err;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);

    if (err) {
        return err;
    }
    if (!push_allow_entry_valid(entry)) {
        return apr_psprintf(cmd->pool, "UcwaPushAllowEndpoint: '%s' is not a host name, an "
                            "address or a network (CIDR)", entry);
    }
    APR_ARRAY_PUSH((apr_array_header_t *)c->policy.allow, const char *) =
        apr_pstrdup(cmd->pool, entry);
    return NULL;
}

const char *ucwa_push_set_allow_http(cmd_parms *cmd, void *d, int on)
{
    const char *err;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);

    if (err) {
        return err;
    }
    c->policy.allow_http = on;
    return NULL;
}

const char *ucwa_push_set_content(cmd_parms *cmd, void *d, const char *v)
{
    const char *err;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);

    if (err) {
        return err;
    }
    if (!strcasecmp(v, "None")) c->content = UCWA_PUSH_CONTENT_NONE;
    else if (!strcasecmp(v, "Sender")) c->content = UCWA_PUSH_CONTENT_SENDER;
    else if (!strcasecmp(v, "Preview")) c->content = UCWA_PUSH_CONTENT_PREVIEW;
    else return "UcwaPushContent: None, Sender or Preview";
    return NULL;
}

const char *ucwa_push_set_number(cmd_parms *cmd, void *which, const char *v)
{
    const char *err;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);
    apr_int64_t n = 0;
    int session = cmd->info != NULL;

    if (err) {
        return err;
    }
    err = mob_parse_number(cmd->pool, cmd->cmd->name, v, session ? 60 : 1,
                           session ? 4294967295LL : 86400, &n);
    if (err) {
        return err;
    }
    if (session) {
        c->session_lifetime = (apr_uint32_t)n;
    }
    else {
        c->background_after = (apr_uint32_t)n;
    }
    return NULL;
}

const char *ucwa_push_set_ca(cmd_parms *cmd, void *d, const char *file)
{
    const char *err;
    ucwa_push_conf *c = ucwa_config_push(cmd, &err);

    if (err) {
        return err;
    }
    c->ca_file = ap_server_root_relative(cmd->pool, file);
    return NULL;
}

const char *ucwa_push_config_check(apr_pool_t *p, ucwa_push_conf *c, const char *site)
{
    int i;

    c->webpush = c->apns = c->fcm = 0;
    /* global switches first, then this site's: the most specific scope wins */
    for (int pass = 0; pass < 2; pass++) {
        for (i = 0; i < c->switches->nelts; i++) {
            const ucwa_push_switch *sw = &APR_ARRAY_IDX(c->switches, i, ucwa_push_switch);
            if (pass == 0 ? sw->site != NULL
                          : (!sw->site || !site || strcasecmp(sw->site, site))) {
                continue;
            }
            switch (sw->provider) {
            case PUSH_PROVIDER_WEBPUSH: c->webpush = sw->on; break;
            case PUSH_PROVIDER_APNS: c->apns = sw->on; break;
            default: c->fcm = sw->on; break;
            }
        }
    }
    if (c->webpush && !c->vapid_key) {
        return "UcwaPushProvider WebPush On needs UcwaPushVapidKey";
    }
    if (c->apns && !c->apns_key) {
        return "UcwaPushProvider APNs On needs UcwaPushApns";
    }
    if (c->fcm && !c->fcm_key) {
        return "UcwaPushProvider FCM On needs UcwaPushFcm";
    }
    return NULL;
}

int ucwa_push_enabled(const ucwa_push_conf *c, push_provider provider)
{
    switch (provider) {
    case PUSH_PROVIDER_WEBPUSH: return c->webpush;
    case PUSH_PROVIDER_APNS: return c->apns;
    case PUSH_PROVIDER_FCM: return c->fcm;
    default: return 0;
    }
}
