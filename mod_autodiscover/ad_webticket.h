/* POST /WebTicket/oauthtoken: the OAuth-style token endpoint UCWA clients sign in with. */
#ifndef AD_WEBTICKET_H
#define AD_WEBTICKET_H

#include <httpd.h>
#include "ad_config.h"

#define AD_TOKEN_BODY_MAX 8192

int ad_webticket_handle(request_rec *r, const ad_server_conf *c);

#endif
