/* What the directory says about a user: display name and granted mobility policy tag
 * (UcwaUserQuery through mod_dbd). Without a query: the name part of the address. */
#ifndef UCWA_DIRECTORY_H
#define UCWA_DIRECTORY_H

#include <httpd.h>
#include "ucwa_config.h"

typedef struct {
    const char *display_name;
    const char *policy_tag;   /* "" when none */
} ucwa_user_info;

/* OK, or HTTP_INTERNAL_SERVER_ERROR (logged) when the directory cannot be read. */
int ucwa_directory_user(request_rec *r, const ucwa_global *g, const char *user,
                        ucwa_user_info *out);

#endif
