/* The sign-in lockout table in shared memory: one segment and one global mutex per
 * httpd parent, kept across graceful restarts, so every child counts the same failures. */
#ifndef AD_LOCKOUT_H
#define AD_LOCKOUT_H

#include <httpd.h>
#include "mob_lockout.h"

#define AD_LOCKOUT_MUTEX "autodiscover-lockout"

void ad_lockout_register_mutex(apr_pool_t *pconf);
int ad_lockout_post_config(apr_pool_t *pconf, server_rec *s, apr_uint32_t entries);
void ad_lockout_child_init(apr_pool_t *pchild, server_rec *s);

/* Both checks and updates hold the mutex for a few hundred nanoseconds. */
int ad_lockout_locked(request_rec *r, const char *user);
void ad_lockout_failed(request_rec *r, const char *user, const mob_lockout_policy *account,
                       const mob_lockout_policy *address);
void ad_lockout_succeeded(request_rec *r, const char *user);

#endif
