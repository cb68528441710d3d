/* Media relays for calls (common/ucwa/ucwa_turn): the TURN directives, GET
 * {A}/communication/mediaRelayAccessToken (credentials for the configured TURN servers,
 * minted per request: nothing is stored) and GET {A}/communication/mediaPolicies. */
#ifndef UCWA_MEDIA_RELAY_H
#define UCWA_MEDIA_RELAY_H

#include <httpd.h>
#include <http_config.h>

#include "ucwa_config.h"
#include "ucwa_http.h"

/* UcwaTurnServer host [udpPort [tcpPort]] (repeatable) */
const char *ucwa_media_relay_set_server(cmd_parms *cmd, void *d, const char *args);
/* UcwaTurnSecret secret, UcwaTurnSecretFile path (cmd->info 1) */
const char *ucwa_media_relay_set_secret(cmd_parms *cmd, void *d, const char *v);
/* UcwaTurnTokenLifetime minutes */
const char *ucwa_media_relay_set_lifetime(cmd_parms *cmd, void *d, const char *v);

/* check_config: servers without a secret, or a secret without servers. NULL or the
 * message. */
const char *ucwa_media_relay_check(apr_pool_t *p, const ucwa_global *g);

/* 1 when relays are configured (servers and a secret). */
int ucwa_media_relay_on(const ucwa_global *g);

/* ucwa_media_relay_on, and the mobility policy of a's user allows audio and video
 * (EnableIPAudioVideo): communication links mediaRelayAccessToken. */
int ucwa_media_relay_offered(const ucwa_global *g, const ucwa_app *a);

/* GET {A}/communication/mediaRelayAccessToken: 404 ResourceNotFound (any method) when no
 * relay is configured, as for any path that names nothing. */
int ucwa_media_relay_token(ucwa_req *q, int what);
/* GET {A}/communication/mediaPolicies */
int ucwa_media_relay_policies(ucwa_req *q, int what);

#endif
