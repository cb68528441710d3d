/* The user directory: a user's home pool, from SQL through mod_dbd
 * (AutodiscoverDirectoryQuery), or the pool of the user's SIP domain without one. */
#ifndef AD_DIRECTORY_H
#define AD_DIRECTORY_H

#include <httpd.h>
#include "ad_config.h"

/* OK with *pool, HTTP_NOT_FOUND, or HTTP_INTERNAL_SERVER_ERROR (logged). */
int ad_directory_home_pool(request_rec *r, const ad_server_conf *c, const char *user,
                           const mob_pool **pool);

#endif
