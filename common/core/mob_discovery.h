/* The Autodiscover resources (root, user, domain) as a small document model, and
 * their four renderings: HAL JSON, MS-OCDISCWS XML, its +json twin, and UCWA XML. */
#ifndef MOB_DISCOVERY_H
#define MOB_DISCOVERY_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "mob_negotiate.h"
#include "mob_topology.h"

#define MOB_AD_ROOT_PATH   "/Autodiscover/AutodiscoverService.svc/root"
#define MOB_AD_XFRAME_PATH "/Autodiscover/XFrame/XFrame.html"
#define MOB_UCWA_OAUTH_APPS "/ucwa/oauth/v1/applications"
#define MOB_UCWA_APPS      "/ucwa/v1/applications"
#define MOB_MCX_PATH       "/Mcx/McxService.svc"
#define MOB_WEBTICKET_OAUTH "/WebTicket/oauthtoken"
#define MOB_WEBTICKET_SVC  "/WebTicket/WebTicketService.svc"

typedef enum { MOB_SITE_INTERNAL = 0, MOB_SITE_EXTERNAL } mob_site;
typedef enum { MOB_DOC_ROOT = 0, MOB_DOC_USER, MOB_DOC_DOMAIN } mob_doc_kind;

typedef struct {
    const char *rel;     /* HAL link name; NULL: not in the HAL renderings */
    const char *token;   /* MS-OCDISCWS Link token; NULL: not in the XML renderings */
    const char *href;
} mob_link;

typedef struct {
    const char *element; /* SipClientInternalAccess, ... */
    mob_hostport at;
} mob_access;

typedef struct {
    mob_doc_kind kind;
    mob_site site;
    const char *self;
    apr_array_header_t *links;   /* mob_link */
    apr_array_header_t *access;  /* mob_access */
} mob_doc;

/* What a request asked and where it arrived. */
typedef struct {
    const mob_pool *local;   /* the pool this server belongs to */
    mob_site site;           /* the web site the request came in on */
    const char *domain;      /* SIP domain from the query or Host, or NULL */
} mob_discovery_req;

mob_doc *mob_discovery_root(apr_pool_t *p, const mob_discovery_req *q);

/* The user resource for an authenticated user homed on home. A Director, or a pool
 * that is not the user's home, answers with a Redirect to the home pool. oauth selects
 * the /root/oauth/user form of the hrefs. */
mob_doc *mob_discovery_user(apr_pool_t *p, const mob_discovery_req *q, const mob_pool *home,
                            int oauth);

/* The anonymous domain resource, describing the pool that serves the domain. */
mob_doc *mob_discovery_domain(apr_pool_t *p, const mob_discovery_req *q, const mob_pool *pool);

/* Renders d; NULL only when the XML or JSON library fails. */
const char *mob_discovery_render(apr_pool_t *p, const mob_doc *d, mob_format f,
                                 apr_size_t *len);

/* The URL of a resource under the Autodiscover root of base ("" for the root itself),
 * with ?originalDomain=... when domain is set. */
const char *mob_discovery_href(apr_pool_t *p, const char *base, const char *sub,
                               const char *domain);

#endif
