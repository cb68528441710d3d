/* Issuing and checking the bearer tokens of this server (keys from the config). */
#ifndef AD_TOKEN_H
#define AD_TOKEN_H

#include <httpd.h>
#include "ad_config.h"

const char *ad_token_issue(request_rec *r, const ad_server_conf *c, const char *user);

/* OK and *user from "Authorization: Bearer ..."; DECLINED when no bearer was sent;
 * HTTP_UNAUTHORIZED for a forged, malformed or expired one (*why says which). */
int ad_token_bearer(request_rec *r, const ad_server_conf *c, const char **user,
                    const char **why);

#endif
