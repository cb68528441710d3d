/* Between pools (common/ucwa/ucwa_pool_link): the directives, the sender the pool's
 * thread drains its relay table with, the receiving end (POST /ucwa-pool/v1/relay on
 * the internal web site), and the route of an invitation to a user homed elsewhere. */
#ifndef UCWA_POOL_RELAY_H
#define UCWA_POOL_RELAY_H

#include <httpd.h>
#include <http_config.h>

#include "ucwa_pool.h"
#include "ucwa_pool_link.h"

#define UCWA_POOL_LINK_PATH "/ucwa-pool/v1/relay"
#define UCWA_POOL_PRESENCE_PATH "/ucwa-pool/v1/presence"

typedef struct {
    const char *pool;              /* the other pool's FQDN */
    const char *url;               /* its internal web services base URL */
    const char *resolve;           /* "host:port:address" or NULL */
} ucwa_pool_peer;

/* UcwaPoolLink pool url [address] */
const char *ucwa_pool_link_set_peer(cmd_parms *cmd, void *d, const char *pool,
                                    const char *url, const char *address);
/* UcwaPoolLinkKeyFile file: read at every configuration load */
const char *ucwa_pool_link_set_key(cmd_parms *cmd, void *d, const char *file);
/* UcwaPoolLinkCAFile file */
const char *ucwa_pool_link_set_ca(cmd_parms *cmd, void *d, const char *file);

/* post_config: libcurl, when links are configured. */
int ucwa_pool_link_post_config(apr_pool_t *pconf, server_rec *s);

/* This server's pool (AutodiscoverLocalPool), or NULL. */
const char *ucwa_pool_link_self(server_rec *s);

/* Sends a relayed message (target "fe@pool" or "@pool") to its pool, with sdp, the
 * description its "sdp" names (NULL: none). *state is the caller's sender, made on first
 * use in keep (it lives as long); p is for this message. 0 sent; 1 refused for good
 * (dropped); -1 not sent (retry later), with *why. */
int ucwa_pool_link_send(server_rec *s, apr_pool_t *keep, apr_pool_t *p, void **state,
                        const char *target, const char *body, apr_size_t len,
                        const ucwa_pool_sdp *sdp, const char **why);

/* The target of an invitation to user when he is homed on another pool this one has a
 * link to ("@pool"), else NULL. */
const char *ucwa_pool_link_route(request_rec *r, const char *user);

/* Where an invitation (or a call) to sip goes beside this Front End: the pool's other
 * Front Ends where he has applications available, or, when there are none and he is
 * homed on a linked pool, that pool ("@pool": its Front Ends decide there). 0, or -1
 * when the pool's database cannot be reached (logged). */
int ucwa_pool_invitee_fes(request_rec *r, const char *sip, apr_array_header_t **fes);

/* The presence of sip when he is homed on a linked pool: asked there (which then relays
 * his changes here for a while). 1 found, 0 none (or not homed on a linked pool), -1 the
 * pool did not answer (logged). */
int ucwa_pool_link_presence(request_rec *r, const char *sip, ucwa_pool_presence_in *out);

/* The handler of UCWA_POOL_LINK_PATH and UCWA_POOL_PRESENCE_PATH. */
int ucwa_pool_link_handler(request_rec *r);

#endif
