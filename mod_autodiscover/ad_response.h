/* Writing Autodiscover and WebTicket responses: the headers a real server sends, the
 * 401 challenge, and the error bodies of each protocol. */
#ifndef AD_RESPONSE_H
#define AD_RESPONSE_H

#include <httpd.h>

#include "ad_config.h"
#include "mob_negotiate.h"

/* X-MS-Server-Fqdn, no caching, nosniff: on every response, errors included. */
void ad_response_headers(request_rec *r, const ad_server_conf *c);

/* Sends a complete body with status; the handler then returns OK. */
int ad_response_send(request_rec *r, int status, const char *ctype, const char *body,
                     apr_size_t len);

/* 400 {"error": error} with X-Ms-diagnostics (WebTicket/OAuth errors). */
int ad_response_oauth_error(request_rec *r, const ad_server_conf *c, const char *error,
                            int diag_code, const char *reason);

/* A discovery error in the representation the client asked for. */
int ad_response_error(request_rec *r, int status, mob_format f, const char *code,
                      const char *message);

/* 401 with the MsRtcOAuth and Bearer challenges (and Basic when offered). */
int ad_response_unauthorized(request_rec *r, const ad_server_conf *c, int offer_basic);

/* Adds the challenges only (for other modules' 401s). */
void ad_response_challenge(request_rec *r, const ad_server_conf *c, int offer_basic);

#endif
