/* mod_autodiscover: Lync/Skype for Business Autodiscover and the WebTicket token
 * service. The optional functions below let mod_ucwa and mod_mcx check the bearer
 * tokens issued here and find a user's home pool. */
#ifndef MOD_AUTODISCOVER_H
#define MOD_AUTODISCOVER_H

#include <httpd.h>
#include <apr_optional.h>

/* Every log line of this module starts with its own tag. */
#define ADLOGNO(n) "AD" #n ": "

/* Verifies "Authorization: Bearer cwt=..." on r. OK with *user set (lower-case SIP
 * address without "sip:"), or HTTP_UNAUTHORIZED for a missing, forged or expired token. */
APR_DECLARE_OPTIONAL_FN(int, autodiscover_bearer_user, (request_rec *r, const char **user));

/* Looks up the user's home pool FQDN in the directory. OK, HTTP_NOT_FOUND, or
 * HTTP_INTERNAL_SERVER_ERROR when the directory cannot be reached. */
APR_DECLARE_OPTIONAL_FN(int, autodiscover_home_pool, (request_rec *r, const char *user,
                                                      const char **pool));

/* The FQDN of the pool this server belongs to (AutodiscoverLocalPool of r's virtual
 * host), or NULL when the virtual host has none. */
APR_DECLARE_OPTIONAL_FN(const char *, autodiscover_local_pool, (request_rec *r));

/* The same for a server (the pool's thread of mod_ucwa has no request). */
APR_DECLARE_OPTIONAL_FN(const char *, autodiscover_server_pool, (server_rec *s));

/* The web site r came in on (AutodiscoverSite of its virtual host): 0 internal, 1
 * external (mob_site), -1 when the virtual host has none. */
APR_DECLARE_OPTIONAL_FN(int, autodiscover_site, (request_rec *r));

/* Writes the MsRtcOAuth and Bearer challenges of this server into r->err_headers_out. */
APR_DECLARE_OPTIONAL_FN(void, autodiscover_challenge, (request_rec *r));

#endif
