/* The mobility policy (CsMobilityPolicy): its parameters and Skype for Business
 * defaults, the global / site / per-user (tag) scopes, and the UCWA `policies` resource
 * a client reads it from.
 *
 * Precedence: a user gets exactly ONE policy, the most specific that exists: the per-user
 * (tag) policy granted to them if it is defined, else the policy of their site, else the
 * global policy. Like Skype for Business Server, the chosen policy applies whole: a
 * parameter left unset in a tag or site policy has its Skype for Business default, it is
 * NOT inherited from the site or global policy. */
#ifndef UCWA_POLICY_H
#define UCWA_POLICY_H

#include <apr_pools.h>
#include <jansson.h>

/* Longest site or tag name accepted, in bytes. */
#define UCWA_POLICY_NAME_MAX 256

typedef enum {
    UCWA_POLICY_GLOBAL = 0,
    UCWA_POLICY_SITE,           /* "site:<name>": applies to the site's users */
    UCWA_POLICY_TAG             /* "<name>" or "tag:<name>": per-user, applies once granted */
} ucwa_policy_scope;

/* VoiceSettings (SfB Online): how calls are placed. */
typedef enum {
    UCWA_VOICE_VOIP_ALWAYS = 0, /* "VoIPAlways" */
    UCWA_VOICE_VOIP_OVER_WIFI,  /* "VoIPOverWiFi" */
    UCWA_VOICE_CELLULAR         /* "Cellular": callback over the user's cellular number */
} ucwa_voice_settings;

/* One mobility policy. The boolean members are 0 or 1. */
typedef struct ucwa_policy {
    ucwa_policy_scope scope;
    const char *name;           /* "Global", the site name, or the tag name, as configured */

    int enable_mobility;                /* EnableMobility (default True) */
    int enable_outside_voice;           /* EnableOutsideVoice: Call via Work (True) */
    int enable_ip_audio_video;          /* EnableIPAudioVideo (True) */
    int require_wifi_for_ip_audio;      /* RequireWiFiForIPAudio (False) */
    int require_wifi_for_ip_video;      /* RequireWiFiForIPVideo (False) */
    int require_wifi_for_sharing;       /* RequireWiFiForSharing (False) */
    int allow_ceip;                     /* AllowCustomerExperienceImprovementProgram (True) */
    int allow_save_call_logs;           /* AllowSaveCallLogs (True) */
    int allow_exchange_connectivity;    /* AllowExchangeConnectivity (True) */
    int allow_save_im_history;          /* AllowSaveIMHistory (True) */
    int allow_save_credentials;         /* AllowSaveCredentials (True) */
    int enable_push_notifications;      /* EnablePushNotifications (True) */
    int encrypt_app_data;               /* EncryptAppData (True) */
    int allow_device_contacts_sync;     /* AllowDeviceContactsSync (True) */
    int require_intune;                 /* RequireIntune (False: undocumented, "internal use") */
    int allow_automatic_pstn_fallback;  /* AllowAutomaticPstnFallback (True: undocumented) */
    ucwa_voice_settings voice_settings; /* VoiceSettings (VoIPAlways: undocumented) */
    const char *description;            /* Description; NULL when none (never "") */
} ucwa_policy;

/* Sets every parameter to the Skype for Business default (the column in parentheses
 * above; the reference's §2.1 table, which follows the cmdlets' description text).
 * The three defaults the documentation does not give were chosen to match a freshly
 * installed global policy as closely as can be inferred: RequireIntune False,
 * AllowAutomaticPstnFallback True, VoiceSettings VoIPAlways (consistent with IP
 * audio/video allowed over any network). The identity (scope, name) is left alone. */
void ucwa_policy_defaults(ucwa_policy *pol);

/* Sets one parameter from a configuration line. Names are those of New-/Set-CsMobilityPolicy,
 * case-insensitive (EnableMobility, RequireWiFiForIPAudio, ...). Booleans take On, Off,
 * True, False, 1 or 0 (case-insensitive); VoiceSettings VoIPAlways, VoIPOverWiFi or
 * Cellular (case-insensitive); Description any string ("" removes it). Returns NULL, or an
 * error message (in p) that names the parameter and the accepted names or values;
 * pol is unchanged on error. */
const char *ucwa_policy_set_param(apr_pool_t *p, ucwa_policy *pol, const char *name,
                                  const char *value);

/* The identity as Skype for Business prints it: "Global", "Site:<name>", "Tag:<name>". */
const char *ucwa_policy_identity(apr_pool_t *p, const ucwa_policy *pol);

/* 1 if the policy lets the user run the mobile client (EnableMobility). When 0, creating a
 * UCWA application for a mobile client should be refused (403
 * MobileApplicationNoLongerAllowed). */
int ucwa_policy_mobility_enabled(const ucwa_policy *pol);

/* 1 if push notifications may be sent to the user's devices: EnablePushNotifications, and
 * EnableMobility (a user who may not run the mobile client gets no pushes either). */
int ucwa_policy_push_enabled(const ucwa_policy *pol);

/* 1 if Call via Work is allowed: EnableOutsideVoice and EnableMobility both set (the
 * cmdlet documentation requires both; a voice policy allowing simultaneous ringing is also
 * needed, which this model does not know about). */
int ucwa_policy_call_via_work_enabled(const ucwa_policy *pol);

/* The UCWA `policies` resource of pol, owned by p (released when p is cleared):
 *   {"telephonyMode":..., <mobility properties>, <fixed properties>,
 *    "_links":{"self":{"href":self_href}}, "rel":"policies"}
 * Mobility properties, "Enabled" when the parameter is True, else "Disabled":
 *   audioOnlyOnWifi (RequireWiFiForIPAudio), videoOnlyOnWifi (RequireWiFiForIPVideo),
 *   sharingOnlyOnWifi (RequireWiFiForSharing), customerExperienceImprovementProgram
 *   (AllowCustomerExperienceImprovementProgram), saveCallLogs (AllowSaveCallLogs),
 *   clientExchangeConnectivity (AllowExchangeConnectivity), saveMessagingHistory
 *   (AllowSaveIMHistory), saveCredentials (AllowSaveCredentials), encryptAppData
 *   (EncryptAppData), allowDeviceContactsSync (AllowDeviceContactsSync).
 * telephonyMode (the real mapping is unconfirmed; this is our choice):
 *   EnableIPAudioVideo True                          -> "Uc"
 *   EnableIPAudioVideo False, EnableOutsideVoice True -> "RemoteCallControl"
 *     (no VoIP; calls go through the server, which rings the user's work/mobile phone)
 *   both False                                        -> "None"
 *   EnableMobility does not enter: without it the client never gets this far.
 * Fixed properties (features this server does not offer or always allows, as a real server
 * sends them): photos, emoticons, htmlMessaging "Enabled"; logging, messageArchiving,
 * callLogArchiving, exchangeUnifiedMessaging "Disabled".
 * NULL only when jansson cannot allocate. */
json_t *ucwa_policy_resource(apr_pool_t *p, const ucwa_policy *pol, const char *self_href);

/* A stable 32-bit hash (FNV-1a over a fixed serialisation: each parameter's name and
 * value, in a fixed order) of every parameter, Description included. It does not depend on
 * the process, the pointers or the build, so it can be compared across a configuration
 * reload, or stored in shared memory: when a user's effective policy has a different
 * fingerprint after a reload, send them a `policies updated` event.
 * The identity (scope and name) is not hashed: moving a user to another policy with the
 * same settings changes nothing the client sees. A NULL Description hashes as "".
 * A change of one boolean or of VoiceSettings always changes the fingerprint. */
apr_uint32_t ucwa_policy_fingerprint(const ucwa_policy *pol);

/* A set of policies: the global one (always present, with defaults until configured),
 * site policies and tag policies. Site and tag names are compared case-insensitively. */
typedef struct ucwa_policy_set ucwa_policy_set;

ucwa_policy_set *ucwa_policy_set_make(apr_pool_t *p);

/* Declares the policy named by identity, as Skype for Business writes identities:
 * "global", "site:<name>", "tag:<name>" or a plain "<name>" (a tag); prefixes are
 * case-insensitive. The new policy has the defaults; *out (if out is not NULL) is the
 * policy to fill with ucwa_policy_set_param. "global" returns the global policy, which
 * always exists, but may itself be declared only once. Returns NULL, or an error message
 * (in p): a duplicate identity (case-insensitive), an empty name, a name longer than
 * UCWA_POLICY_NAME_MAX bytes or with control characters or ':', or a scope mobility
 * policies do not have (such as "service:..."). */
const char *ucwa_policy_set_add(ucwa_policy_set *s, apr_pool_t *p, const char *identity,
                                ucwa_policy **out);

/* The policy that applies to a user of site whose granted per-user policy is tag (either
 * may be NULL or ""; tag may be written "tag:<name>", site "site:<name>"): the tag policy if
 * one is defined under that name, else the site's, else the global policy. Never NULL. */
const ucwa_policy *ucwa_policy_resolve(const ucwa_policy_set *s, const char *site,
                                       const char *tag);

/* 1 if a tag policy named tag (or "tag:<name>") is defined. A user granted a tag that is
 * not defined falls back to the site or global policy: the caller can warn about it. */
int ucwa_policy_set_has_tag(const ucwa_policy_set *s, const char *tag);

/* 1 if a site policy for site (or "site:<name>") is defined. */
int ucwa_policy_set_has_site(const ucwa_policy_set *s, const char *site);

/* The global policy. */
const ucwa_policy *ucwa_policy_set_global(const ucwa_policy_set *s);

#endif
