/* The Autodiscover resources: root, user (plain and OAuth) and domain. */
#ifndef AD_DISCOVER_H
#define AD_DISCOVER_H

#include <httpd.h>
#include "ad_config.h"
#include "mob_route.h"

int ad_discover_handle(request_rec *r, const ad_server_conf *c, mob_resource res);

/* 1 when the request came in over TLS. */
int ad_is_https(request_rec *r);

#endif
