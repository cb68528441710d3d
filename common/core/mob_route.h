/* Which Autodiscover / WebTicket resource a request path names. IIS matches paths
 * case-insensitively and clients mix spellings, so this does too. */
#ifndef MOB_ROUTE_H
#define MOB_ROUTE_H

typedef enum {
    MOB_RES_NONE = 0,
    MOB_RES_ROOT,
    MOB_RES_USER,
    MOB_RES_OAUTH_USER,
    MOB_RES_DOMAIN,
    MOB_RES_TOKEN,
    MOB_RES_XFRAME
} mob_resource;

/* path is the decoded URI path; discovery_host is set when the Host header is a
 * lyncdiscover[internal].<domain> name, where "/" is the root and "/xframe" the XFrame. */
mob_resource mob_route(const char *path, int discovery_host);

/* The SIP domain in a lyncdiscover[internal].<domain> host name, or NULL. The result
 * points into host. */
const char *mob_route_discovery_domain(const char *host);

#endif
