/* The topology an Autodiscover service answers from: SIP domains and pools
 * (Front End or Director), their sites, web URLs and SIP access points. */
#ifndef MOB_TOPOLOGY_H
#define MOB_TOPOLOGY_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_network_io.h>

typedef enum {
    MOB_ROLE_FRONTEND = 0,
    MOB_ROLE_DIRECTOR
} mob_role;

typedef struct {
    const char *fqdn;
    apr_port_t port;
} mob_hostport;

typedef struct {
    const char *fqdn;           /* pool FQDN: the name users are homed on */
    mob_role role;
    const char *site;
    const char *internal_url;   /* base URL of the internal web site, no trailing '/' */
    const char *external_url;   /* base URL of the external web site as published */
    const char *internal_host;  /* the internal web FQDN (host of internal_url) */
    const char *external_host;  /* the external web FQDN */
    mob_hostport sip_internal;  /* SipClientInternalAccess */
    mob_hostport sip_external;  /* SipClientExternalAccess; fqdn NULL if none */
    int mcx;                    /* hands out the Internal/Mcx and External/Mcx links */
} mob_pool;

typedef struct {
    const char *domain;
    const char *pool;           /* the pool (or Director) that answers for the domain */
} mob_sipdomain;

typedef struct {
    apr_array_header_t *pools;   /* mob_pool * */
    apr_array_header_t *domains; /* mob_sipdomain * */
} mob_topology;

mob_topology *mob_topology_make(apr_pool_t *p);

/* Adds a pool from "key=value" arguments: role=FrontEnd|Director site=NAME
 * internal=URL external=URL sip-internal=FQDN[:PORT] sip-external=FQDN[:PORT] mcx=on|off.
 * Returns NULL, or an error message that says what to fix. */
const char *mob_topology_add_pool(mob_topology *t, apr_pool_t *p, const char *fqdn,
                                  int argc, char *const argv[]);

const char *mob_topology_add_domain(mob_topology *t, apr_pool_t *p, const char *domain,
                                    const char *pool);

/* Whole-topology checks, once every directive was read. NULL or an error message. */
const char *mob_topology_check(const mob_topology *t, apr_pool_t *p);

const mob_pool *mob_topology_pool(const mob_topology *t, const char *fqdn);
const mob_sipdomain *mob_topology_domain(const mob_topology *t, const char *domain);

/* 1 if s is a syntactically valid DNS name (LDH labels, 1-253 bytes). */
int mob_valid_fqdn(const char *s);

/* Checks an absolute http(s) base URL with a host and no path, query or credentials;
 * stores it without a trailing '/' and its host. NULL or an error message. */
const char *mob_parse_base_url(apr_pool_t *p, const char *url, const char **out,
                               const char **host);

#endif
