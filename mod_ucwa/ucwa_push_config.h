/* Push notification settings (the UcwaPush* directives, docs/directives.md): the
 * providers and their credentials, read and checked at configuration time. Server-wide,
 * like the store; provider switches may be global or for one site (Skype for Business's
 * Set-CsPushNotificationConfiguration scopes), the site being UcwaSite. */
#ifndef UCWA_PUSH_CONFIG_H
#define UCWA_PUSH_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "push_jwt.h"
#include "push_provider.h"
#include "ucwa_push.h"

typedef struct {
    const char *site;               /* NULL: global */
    push_provider provider;
    int on;
} ucwa_push_switch;

typedef struct {
    apr_array_header_t *switches;   /* ucwa_push_switch, in configuration order */
    int webpush, apns, fcm;         /* in force for this server (after ucwa_push_config_check) */
    /* WebPush / UnifiedPush */
    push_key *vapid_key;
    const char *vapid_public;       /* base64url, for clients (applicationServerKey) */
    const char *vapid_subject;
    push_endpoint_policy policy;    /* allow_http, allow (host or CIDR entries) */
    /* APNs */
    push_key *apns_key;
    const char *apns_key_id, *apns_team_id, *apns_topic, *apns_host;
    /* FCM */
    push_service_account fcm_account;
    push_key *fcm_key;
    const char *fcm_base;
    /* delivery */
    const char *ca_file;            /* trust for the providers (tests; NULL: the system's) */
    ucwa_push_content content;
    apr_uint32_t background_after;  /* s without an event request: in the background */
    apr_uint32_t session_lifetime;  /* s a registered application lives in the background */
} ucwa_push_conf;

ucwa_push_conf *ucwa_push_conf_make(apr_pool_t *p);

/* Resolves the switches for site (NULL: none) and checks each provider in force has its
 * credentials: NULL, or the error. */
const char *ucwa_push_config_check(apr_pool_t *p, ucwa_push_conf *c, const char *site);
int ucwa_push_enabled(const ucwa_push_conf *c, push_provider provider);

/* The directive handlers (listed in ucwa_cmds). */
const char *ucwa_push_set_provider(cmd_parms *cmd, void *d, const char *args);
const char *ucwa_push_set_vapid(cmd_parms *cmd, void *d, const char *file, const char *subject);
const char *ucwa_push_set_apns(cmd_parms *cmd, void *d, const char *args);
const char *ucwa_push_set_fcm(cmd_parms *cmd, void *d, const char *file, const char *base);
const char *ucwa_push_set_allow(cmd_parms *cmd, void *d, const char *entry);
const char *ucwa_push_set_allow_http(cmd_parms *cmd, void *d, int on);
const char *ucwa_push_set_content(cmd_parms *cmd, void *d, const char *v);
const char *ucwa_push_set_number(cmd_parms *cmd, void *which, const char *v);
const char *ucwa_push_set_ca(cmd_parms *cmd, void *d, const char *file);

#endif
