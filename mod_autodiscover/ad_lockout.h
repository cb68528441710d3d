/* The sign-in lockout: the table in shared memory (one segment and one global mutex per
 * httpd parent, kept across graceful restarts, so every child counts the same
 * failures) and, with AutodiscoverLockoutStore dbd, the pool's table in its database
 * (mob_lockout_sql through mod_dbd), so every Front End of the pool counts the same
 * failures; the shared-memory table then counts only while the database fails. */
#ifndef AD_LOCKOUT_H
#define AD_LOCKOUT_H

#include <httpd.h>
#include "mob_lockout.h"

#define AD_LOCKOUT_MUTEX "autodiscover-lockout"

void ad_lockout_register_mutex(apr_pool_t *pconf);
int ad_lockout_post_config(apr_pool_t *pconf, server_rec *s, apr_uint32_t entries);
void ad_lockout_child_init(apr_pool_t *pchild, server_rec *s);
/* AutodiscoverLockoutStore dbd, in post_config: makes the pool's table in the main
 * server's database when it is missing (logged when it cannot). */
void ad_lockout_make_table(apr_pool_t *ptemp, server_rec *s);

/* The rule is mob_lockout's; the origin is the client address (r->useragent_ip, after
 * mod_remoteip) and the device identity (NULL when the request carries none). Checks
 * and updates hold the mutex for a few microseconds (a few HMAC-SHA256 of short
 * strings). */

/* Before the password check: nonzero when the attempt must be refused (it is then not
 * a failure: call nothing else). user is NULL for a name that cannot be one. */
int ad_lockout_locked(request_rec *r, const char *user, const char *device);
/* A wrong password or unknown user (password as the client sent it). */
void ad_lockout_failed(request_rec *r, const char *user, const char *device,
                       const char *password, const mob_lockout_policy *account,
                       const mob_lockout_policy *address);
void ad_lockout_succeeded(request_rec *r, const char *user, const char *device);

#endif
