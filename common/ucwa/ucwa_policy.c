#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_policy.h"

typedef enum {
    PARAM_BOOL,
    PARAM_VOICE,
    PARAM_TEXT
} param_kind;

typedef struct {
    const char *name;       /* as New-/Set-CsMobilityPolicy spell it */
    param_kind kind;
    size_t off;             /* of the int, ucwa_voice_settings or const char * member */
} param;

#define BOOL_PARAM(n, m) { n, PARAM_BOOL, offsetof(ucwa_policy, m) }

/* Every parameter, in Get-CsMobilityPolicy's order. The fingerprint hashes them in this
 * order: append new parameters at the end only. */
static const param params[] = {
    { "Description", PARAM_TEXT, offsetof(ucwa_policy, description) },
    BOOL_PARAM("EnableOutsideVoice", enable_outside_voice),
    BOOL_PARAM("EnableMobility", enable_mobility),
    BOOL_PARAM("EnableIPAudioVideo", enable_ip_audio_video),
    BOOL_PARAM("RequireWiFiForIPAudio", require_wifi_for_ip_audio),
    BOOL_PARAM("RequireWiFiForIPVideo", require_wifi_for_ip_video),
    BOOL_PARAM("AllowCustomerExperienceImprovementProgram", allow_ceip),
    BOOL_PARAM("RequireWiFiForSharing", require_wifi_for_sharing),
    BOOL_PARAM("AllowSaveCallLogs", allow_save_call_logs),
    BOOL_PARAM("AllowExchangeConnectivity", allow_exchange_connectivity),
    BOOL_PARAM("AllowSaveIMHistory", allow_save_im_history),
    BOOL_PARAM("AllowSaveCredentials", allow_save_credentials),
    BOOL_PARAM("EnablePushNotifications", enable_push_notifications),
    BOOL_PARAM("EncryptAppData", encrypt_app_data),
    BOOL_PARAM("AllowDeviceContactsSync", allow_device_contacts_sync),
    BOOL_PARAM("RequireIntune", require_intune),
    BOOL_PARAM("AllowAutomaticPstnFallback", allow_automatic_pstn_fallback),
    { "VoiceSettings", PARAM_VOICE, offsetof(ucwa_policy, voice_settings) },
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const char *const voice_names[] = { "VoIPAlways", "VoIPOverWiFi", "Cellular" };

#define BOOL_VALUES "On, Off, True, False, 1 or 0"
#define VOICE_VALUES "VoIPAlways, VoIPOverWiFi or Cellular"

static int *bool_at(ucwa_policy *pol, const param *pr)
{
    return (int *)(void *)((char *)pol + pr->off);
}

static int bool_of(const ucwa_policy *pol, const param *pr)
{
    return *(const int *)(const void *)((const char *)pol + pr->off);
}

void ucwa_policy_defaults(ucwa_policy *pol)
{
    pol->enable_mobility = 1;
    pol->enable_outside_voice = 1;
    pol->enable_ip_audio_video = 1;
    pol->require_wifi_for_ip_audio = 0;
    pol->require_wifi_for_ip_video = 0;
    pol->require_wifi_for_sharing = 0;
    pol->allow_ceip = 1;
    pol->allow_save_call_logs = 1;
    pol->allow_exchange_connectivity = 1;
    pol->allow_save_im_history = 1;
    pol->allow_save_credentials = 1;
    pol->enable_push_notifications = 1;
    pol->encrypt_app_data = 1;
    pol->allow_device_contacts_sync = 1;
    pol->require_intune = 0;
    pol->allow_automatic_pstn_fallback = 1;
    pol->voice_settings = UCWA_VOICE_VOIP_ALWAYS;
    pol->description = NULL;
}

/* 1 or 0, or -1 if v is not a boolean. */
static int parse_bool(const char *v)
{
    if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcmp(v, "1")) {
        return 1;
    }
    if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcmp(v, "0")) {
        return 0;
    }
    return -1;
}

static const char *known_names(apr_pool_t *p)
{
    const char *s = params[0].name;
    size_t i;

    for (i = 1; i < NPARAMS; i++) {
        s = apr_pstrcat(p, s, i + 1 == NPARAMS ? " or " : ", ", params[i].name, NULL);
    }
    return s;
}

const char *ucwa_policy_set_param(apr_pool_t *p, ucwa_policy *pol, const char *name,
                                  const char *value)
{
    const param *pr = NULL;
    size_t i;
    int b;

    for (i = 0; name && i < NPARAMS; i++) {
        if (!strcasecmp(name, params[i].name)) {
            pr = &params[i];
            break;
        }
    }
    if (!pr) {
        return apr_psprintf(p, "unknown mobility policy parameter '%s' (known: %s)",
                            name ? name : "", known_names(p));
    }
    if (!value) {
        return apr_psprintf(p, "mobility policy parameter %s needs a value", pr->name);
    }
    switch (pr->kind) {
    case PARAM_BOOL:
        if ((b = parse_bool(value)) < 0) {
            return apr_psprintf(p, "%s: '%s' is not a boolean (use " BOOL_VALUES ")",
                                pr->name, value);
        }
        *bool_at(pol, pr) = b;
        return NULL;
    case PARAM_VOICE:
        for (i = 0; i < sizeof(voice_names) / sizeof(voice_names[0]); i++) {
            if (!strcasecmp(value, voice_names[i])) {
                pol->voice_settings = (ucwa_voice_settings)i;
                return NULL;
            }
        }
        return apr_psprintf(p, "%s: '%s' is not a voice setting (use " VOICE_VALUES ")",
                            pr->name, value);
    case PARAM_TEXT:
        pol->description = *value ? apr_pstrdup(p, value) : NULL;
        return NULL;
    }
    return NULL;
}

const char *ucwa_policy_identity(apr_pool_t *p, const ucwa_policy *pol)
{
    switch (pol->scope) {
    case UCWA_POLICY_SITE:
        return apr_pstrcat(p, "Site:", pol->name, NULL);
    case UCWA_POLICY_TAG:
        return apr_pstrcat(p, "Tag:", pol->name, NULL);
    default:
        return "Global";
    }
}

int ucwa_policy_mobility_enabled(const ucwa_policy *pol)
{
    return pol->enable_mobility != 0;
}

int ucwa_policy_push_enabled(const ucwa_policy *pol)
{
    return pol->enable_mobility && pol->enable_push_notifications;
}

int ucwa_policy_call_via_work_enabled(const ucwa_policy *pol)
{
    return pol->enable_mobility && pol->enable_outside_voice;
}

static const char *telephony_mode(const ucwa_policy *pol)
{
    if (pol->enable_ip_audio_video) {
        return "Uc";
    }
    return pol->enable_outside_voice ? "RemoteCallControl" : "None";
}

json_t *ucwa_policy_resource(apr_pool_t *p, const ucwa_policy *pol, const char *self_href)
{
    static const struct {
        const char *prop;
        size_t off;
    } mobility[] = {
        { "audioOnlyOnWifi", offsetof(ucwa_policy, require_wifi_for_ip_audio) },
        { "videoOnlyOnWifi", offsetof(ucwa_policy, require_wifi_for_ip_video) },
        { "sharingOnlyOnWifi", offsetof(ucwa_policy, require_wifi_for_sharing) },
        { "customerExperienceImprovementProgram", offsetof(ucwa_policy, allow_ceip) },
        { "saveCallLogs", offsetof(ucwa_policy, allow_save_call_logs) },
        { "clientExchangeConnectivity", offsetof(ucwa_policy, allow_exchange_connectivity) },
        { "saveMessagingHistory", offsetof(ucwa_policy, allow_save_im_history) },
        { "saveCredentials", offsetof(ucwa_policy, allow_save_credentials) },
        { "encryptAppData", offsetof(ucwa_policy, encrypt_app_data) },
        { "allowDeviceContactsSync", offsetof(ucwa_policy, allow_device_contacts_sync) },
    };
    static const struct {
        const char *prop, *value;
    } fixed[] = {
        { "photos", "Enabled" },
        { "emoticons", "Enabled" },
        { "htmlMessaging", "Enabled" },
        { "logging", "Disabled" },
        { "messageArchiving", "Disabled" },
        { "callLogArchiving", "Disabled" },
        { "exchangeUnifiedMessaging", "Disabled" },
    };
    json_t *doc = mob_json_own(p, json_object());
    json_t *links;
    int fail = 0;
    size_t i;

    if (!doc) {
        return NULL;
    }
    fail |= json_object_set_new(doc, "telephonyMode", json_string(telephony_mode(pol)));
    for (i = 0; i < sizeof(mobility) / sizeof(mobility[0]); i++) {
        int on = *(const int *)(const void *)((const char *)pol + mobility[i].off);
        fail |= json_object_set_new(doc, mobility[i].prop,
                                    json_string(on ? "Enabled" : "Disabled"));
    }
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        fail |= json_object_set_new(doc, fixed[i].prop, json_string(fixed[i].value));
    }
    links = json_object();
    fail |= json_object_set_new(doc, "_links", links);
    if (links && self_href) {
        fail |= json_object_set_new(links, "self", json_pack("{s:s}", "href", self_href));
    }
    fail |= json_object_set_new(doc, "rel", json_string("policies"));
    return fail ? NULL : doc;
}

/* FNV-1a, 32 bits. */
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static apr_uint32_t fnv(apr_uint32_t h, const void *data, size_t len)
{
    const unsigned char *b = data;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ b[i]) * FNV_PRIME;
    }
    return h;
}

apr_uint32_t ucwa_policy_fingerprint(const ucwa_policy *pol)
{
    static const char version[] = "CsMobilityPolicy/1";
    apr_uint32_t h = fnv(FNV_OFFSET, version, sizeof(version));
    size_t i;

    for (i = 0; i < NPARAMS; i++) {
        const param *pr = &params[i];
        unsigned char v[4];

        h = fnv(h, pr->name, strlen(pr->name) + 1);
        switch (pr->kind) {
        case PARAM_BOOL:
            v[0] = bool_of(pol, pr) ? 1 : 0;
            h = fnv(h, v, 1);
            break;
        case PARAM_VOICE:
            v[0] = (unsigned char)pol->voice_settings;
            h = fnv(h, v, 1);
            break;
        case PARAM_TEXT: {
            const char *s = pol->description ? pol->description : "";
            size_t n = strlen(s);
            v[0] = (unsigned char)(n & 0xff);
            v[1] = (unsigned char)((n >> 8) & 0xff);
            v[2] = (unsigned char)((n >> 16) & 0xff);
            v[3] = (unsigned char)((n >> 24) & 0xff);
            h = fnv(fnv(h, v, 4), s, n);
            break;
        }
        }
    }
    return h;
}

struct ucwa_policy_set {
    ucwa_policy global;
    int global_declared;
    apr_hash_t *sites;          /* lower-case name -> ucwa_policy * */
    apr_hash_t *tags;
};

ucwa_policy_set *ucwa_policy_set_make(apr_pool_t *p)
{
    ucwa_policy_set *s = apr_pcalloc(p, sizeof(*s));

    ucwa_policy_defaults(&s->global);
    s->global.scope = UCWA_POLICY_GLOBAL;
    s->global.name = "Global";
    s->sites = apr_hash_make(p);
    s->tags = apr_hash_make(p);
    return s;
}

/* Lower-cases name into buf (UCWA_POLICY_NAME_MAX + 1 bytes). 0 if it is too long. */
static int lower_key(char *buf, const char *name)
{
    size_t n = strlen(name), i;

    if (n > UCWA_POLICY_NAME_MAX) {
        return 0;
    }
    for (i = 0; i <= n; i++) {
        buf[i] = (char)apr_tolower((unsigned char)name[i]);
    }
    return 1;
}

/* name without a leading "<prefix>:" (case-insensitive), if it has one. */
static const char *strip_prefix(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);

    if (!strncasecmp(name, prefix, n) && name[n] == ':') {
        return name + n + 1;
    }
    return name;
}

static const ucwa_policy *lookup(apr_hash_t *h, const char *name, const char *prefix)
{
    char key[UCWA_POLICY_NAME_MAX + 1];

    if (!name || !*name) {
        return NULL;
    }
    name = strip_prefix(name, prefix);
    if (!*name || !lower_key(key, name)) {
        return NULL;
    }
    return apr_hash_get(h, key, APR_HASH_KEY_STRING);
}

#define IDENTITY_FORMS "write global, site:<name>, tag:<name> or a tag name"

static const char *check_name(apr_pool_t *p, const char *identity, const char *name)
{
    const char *c;

    if (!*name) {
        return apr_psprintf(p, "mobility policy identity '%s' has an empty name: "
                            IDENTITY_FORMS, identity);
    }
    if (strlen(name) > UCWA_POLICY_NAME_MAX) {
        return apr_psprintf(p, "mobility policy identity '%.40s...': the name is longer than "
                            "%d bytes", identity, UCWA_POLICY_NAME_MAX);
    }
    if (apr_isspace(name[0]) || apr_isspace(name[strlen(name) - 1])) {
        return apr_psprintf(p, "mobility policy identity '%s': remove the spaces around "
                            "the name", identity);
    }
    for (c = name; *c; c++) {
        if (apr_iscntrl(*c)) {
            return apr_psprintf(p, "mobility policy identity '%s': the name contains "
                                "control characters", identity);
        }
        if (*c == ':') {
            return apr_psprintf(p, "mobility policy identity '%s': mobility policies have "
                                "global, site or per-user (tag) scope; " IDENTITY_FORMS,
                                identity);
        }
    }
    return NULL;
}

const char *ucwa_policy_set_add(ucwa_policy_set *s, apr_pool_t *p, const char *identity,
                                ucwa_policy **out)
{
    ucwa_policy_scope scope;
    const char *name, *err, *colon;
    ucwa_policy *pol;
    apr_hash_t *h;
    char key[UCWA_POLICY_NAME_MAX + 1];

    if (out) {
        *out = NULL;
    }
    if (!identity || !*identity) {
        return "a mobility policy needs an identity: " IDENTITY_FORMS;
    }
    if (!strcasecmp(identity, "global")) {
        if (s->global_declared) {
            return "the global mobility policy is declared twice: merge the two sections";
        }
        s->global_declared = 1;
        if (out) {
            *out = &s->global;
        }
        return NULL;
    }
    colon = strchr(identity, ':');
    if (!colon) {
        scope = UCWA_POLICY_TAG;
        name = identity;
    }
    else if ((size_t)(colon - identity) == 4 && !strncasecmp(identity, "site", 4)) {
        scope = UCWA_POLICY_SITE;
        name = colon + 1;
    }
    else if ((size_t)(colon - identity) == 3 && !strncasecmp(identity, "tag", 3)) {
        scope = UCWA_POLICY_TAG;
        name = colon + 1;
    }
    else {
        return apr_psprintf(p, "mobility policy identity '%s': mobility policies have global, "
                            "site or per-user (tag) scope; " IDENTITY_FORMS, identity);
    }
    if ((err = check_name(p, identity, name)) != NULL) {
        return err;
    }
    h = scope == UCWA_POLICY_SITE ? s->sites : s->tags;
    lower_key(key, name);
    if ((pol = apr_hash_get(h, key, APR_HASH_KEY_STRING)) != NULL) {
        return apr_psprintf(p, "mobility policy '%s' is declared twice (first as '%s'): "
                            "merge the two sections", identity, ucwa_policy_identity(p, pol));
    }
    pol = apr_pcalloc(p, sizeof(*pol));
    ucwa_policy_defaults(pol);
    pol->scope = scope;
    pol->name = apr_pstrdup(p, name);
    apr_hash_set(h, apr_pstrdup(p, key), APR_HASH_KEY_STRING, pol);
    if (out) {
        *out = pol;
    }
    return NULL;
}

const ucwa_policy *ucwa_policy_resolve(const ucwa_policy_set *s, const char *site,
                                       const char *tag)
{
    const ucwa_policy *pol;

    if ((pol = lookup(s->tags, tag, "tag")) != NULL) {
        return pol;
    }
    if ((pol = lookup(s->sites, site, "site")) != NULL) {
        return pol;
    }
    return &s->global;
}

int ucwa_policy_set_has_tag(const ucwa_policy_set *s, const char *tag)
{
    return lookup(s->tags, tag, "tag") != NULL;
}

int ucwa_policy_set_has_site(const ucwa_policy_set *s, const char *site)
{
    return lookup(s->sites, site, "site") != NULL;
}

const ucwa_policy *ucwa_policy_set_global(const ucwa_policy_set *s)
{
    return &s->global;
}
