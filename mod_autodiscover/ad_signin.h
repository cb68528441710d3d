/* Password sign-in through the admin's authn providers, with lockout and a failure
 * answer that looks the same, and takes the same time, whether or not the user exists. */
#ifndef AD_SIGNIN_H
#define AD_SIGNIN_H

#include <httpd.h>
#include "ad_config.h"

typedef enum {
    AD_SIGNIN_OK = 0,
    AD_SIGNIN_FAILED,   /* wrong password, unknown user, locked: indistinguishable */
    AD_SIGNIN_ERROR     /* a provider failed (directory down): server_error */
} ad_signin_result;

/* The SIP address a client typed, as tokens and lookups use it: "sip:" removed, lower
 * case; NULL if it cannot be a user name at all. */
const char *ad_signin_normalize(apr_pool_t *p, const char *username);

/* Checks user (normalized; NULL for a name ad_signin_normalize refused, which fails the
 * same way) and password, under the lockout rule (mob_lockout.h). On success it sets
 * r->user and gives the client its device identity (the MobilityDevice cookie, in
 * r->err_headers_out). */
ad_signin_result ad_signin_check(request_rec *r, const ad_server_conf *c, const char *user,
                                 const char *password);

#endif
