#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "mob_topology.h"

mob_topology *mob_topology_make(apr_pool_t *p)
{
    mob_topology *t = apr_pcalloc(p, sizeof(*t));

    t->pools = apr_array_make(p, 4, sizeof(mob_pool *));
    t->domains = apr_array_make(p, 4, sizeof(mob_sipdomain *));
    return t;
}

int mob_valid_fqdn(const char *s)
{
    size_t n = strlen(s), label = 0, i;

    if (n == 0 || n > 253) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!(apr_isalnum(c) || c == '-') || (label == 0 && c == '-') || ++label > 63) {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

const char *mob_parse_base_url(apr_pool_t *p, const char *url, const char **out,
                               const char **host)
{
    apr_uri_t u;
    size_t n;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname) {
        return apr_psprintf(p, "'%s' is not an absolute URL: write it as "
                            "https://host.example.com[:port]", url);
    }
    if (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http")) {
        return apr_psprintf(p, "'%s': only http and https URLs can be handed to clients", url);
    }
    if (u.user || u.password || u.query || u.fragment || (u.path && strcmp(u.path, "/"))) {
        return apr_psprintf(p, "'%s' must be a base URL (scheme, host and optional port), "
                            "without path, query or credentials", url);
    }
    if (!mob_valid_fqdn(u.hostname)) {
        return apr_psprintf(p, "'%s': '%s' is not a valid host name", url, u.hostname);
    }
    /* apr_uri_parse truncates the port to 16 bits (65979 would become 443) */
    if (u.port_str && *u.port_str
        && (strspn(u.port_str, "0123456789") != strlen(u.port_str) || strlen(u.port_str) > 5
            || atoi(u.port_str) < 1 || atoi(u.port_str) > 65535)) {
        return apr_psprintf(p, "'%s': '%s' is not a valid port (1-65535)", url, u.port_str);
    }
    n = strlen(url);
    *out = apr_pstrndup(p, url, (url[n - 1] == '/') ? n - 1 : n);
    *host = apr_pstrdup(p, u.hostname);
    return NULL;
}

static const char *parse_hostport(apr_pool_t *p, const char *what, const char *v,
                                  apr_port_t default_port, mob_hostport *hp)
{
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;

    if (apr_parse_addr_port(&host, &scope, &port, v, p) != APR_SUCCESS || !host || scope
        || !mob_valid_fqdn(host)) {
        return apr_psprintf(p, "%s='%s' must be FQDN[:PORT]", what, v);
    }
    hp->fqdn = host;
    hp->port = port ? port : default_port;
    return NULL;
}

const mob_pool *mob_topology_pool(const mob_topology *t, const char *fqdn)
{
    int i;

    for (i = 0; i < t->pools->nelts; i++) {
        const mob_pool *pool = APR_ARRAY_IDX(t->pools, i, const mob_pool *);
        if (!strcasecmp(pool->fqdn, fqdn)) {
            return pool;
        }
    }
    return NULL;
}

const mob_sipdomain *mob_topology_domain(const mob_topology *t, const char *domain)
{
    int i;

    for (i = 0; i < t->domains->nelts; i++) {
        const mob_sipdomain *d = APR_ARRAY_IDX(t->domains, i, const mob_sipdomain *);
        if (!strcasecmp(d->domain, domain)) {
            return d;
        }
    }
    return NULL;
}

const char *mob_topology_add_pool(mob_topology *t, apr_pool_t *p, const char *fqdn,
                                  int argc, char *const argv[])
{
    mob_pool *pool = apr_pcalloc(p, sizeof(*pool));
    const char *err = NULL;
    int i;

    if (!mob_valid_fqdn(fqdn)) {
        return apr_psprintf(p, "'%s' is not a valid pool FQDN", fqdn);
    }
    if (mob_topology_pool(t, fqdn)) {
        return apr_psprintf(p, "pool %s is defined twice", fqdn);
    }
    pool->fqdn = apr_pstrdup(p, fqdn);
    pool->site = "Site1";
    pool->mcx = 0;
    for (i = 0; i < argc && !err; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *key, *v;
        if (!eq || eq == argv[i]) {
            return apr_psprintf(p, "pool %s: '%s' is not key=value", fqdn, argv[i]);
        }
        key = apr_pstrndup(p, argv[i], (apr_size_t)(eq - argv[i]));
        v = eq + 1;
        if (!strcasecmp(key, "role")) {
            if (!strcasecmp(v, "FrontEnd")) pool->role = MOB_ROLE_FRONTEND;
            else if (!strcasecmp(v, "Director")) pool->role = MOB_ROLE_DIRECTOR;
            else err = apr_psprintf(p, "pool %s: role must be FrontEnd or Director", fqdn);
        }
        else if (!strcasecmp(key, "site")) {
            pool->site = apr_pstrdup(p, v);
        }
        else if (!strcasecmp(key, "internal")) {
            err = mob_parse_base_url(p, v, &pool->internal_url, &pool->internal_host);
        }
        else if (!strcasecmp(key, "external")) {
            err = mob_parse_base_url(p, v, &pool->external_url, &pool->external_host);
        }
        else if (!strcasecmp(key, "sip-internal")) {
            err = parse_hostport(p, "sip-internal", v, 5061, &pool->sip_internal);
        }
        else if (!strcasecmp(key, "sip-external")) {
            err = parse_hostport(p, "sip-external", v, 443, &pool->sip_external);
        }
        else if (!strcasecmp(key, "mcx")) {
            if (!strcasecmp(v, "on")) pool->mcx = 1;
            else if (!strcasecmp(v, "off")) pool->mcx = 0;
            else err = apr_psprintf(p, "pool %s: mcx must be on or off", fqdn);
        }
        else {
            err = apr_psprintf(p, "pool %s: unknown setting '%s' (known: role, site, internal, "
                               "external, sip-internal, sip-external, mcx)", fqdn, key);
        }
    }
    if (err) {
        return err;
    }
    if (!pool->internal_url || !pool->external_url) {
        return apr_psprintf(p, "pool %s needs both internal=URL and external=URL "
                            "(the internal and external web services)", fqdn);
    }
    if (!strcasecmp(pool->internal_host, pool->external_host)) {
        return apr_psprintf(p, "pool %s: the internal web FQDN and the external web FQDN are "
                            "both '%s'; they must differ (give the external web services their "
                            "own name, published by the reverse proxy)", fqdn, pool->internal_host);
    }
    if (!pool->sip_internal.fqdn) {
        pool->sip_internal.fqdn = pool->fqdn;
        pool->sip_internal.port = 5061;
    }
    APR_ARRAY_PUSH(t->pools, mob_pool *) = pool;
    return NULL;
}

const char *mob_topology_add_domain(mob_topology *t, apr_pool_t *p, const char *domain,
                                    const char *pool)
{
    mob_sipdomain *d;

    if (!mob_valid_fqdn(domain) || !strchr(domain, '.')) {
        return apr_psprintf(p, "'%s' is not a valid SIP domain", domain);
    }
    if (mob_topology_domain(t, domain)) {
        return apr_psprintf(p, "SIP domain %s is defined twice", domain);
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->domain = apr_pstrdup(p, domain);
    d->pool = pool ? apr_pstrdup(p, pool) : NULL;
    APR_ARRAY_PUSH(t->domains, mob_sipdomain *) = d;
    return NULL;
}

const char *mob_topology_check(const mob_topology *t, apr_pool_t *p)
{
    int i;

    if (t->pools->nelts == 0) {
        return "no AutodiscoverPool is defined: describe at least the local pool";
    }
    if (t->domains->nelts == 0) {
        return "no AutodiscoverSipDomain is defined: name the SIP domains users sign in with";
    }
    for (i = 0; i < t->domains->nelts; i++) {
        const mob_sipdomain *d = APR_ARRAY_IDX(t->domains, i, const mob_sipdomain *);
        if (!d->pool) {
            return apr_psprintf(p, "SIP domain %s has no pool: write "
                                "'AutodiscoverSipDomain %s <pool FQDN>'", d->domain, d->domain);
        }
        if (!mob_topology_pool(t, d->pool)) {
            return apr_psprintf(p, "SIP domain %s names pool %s, which no AutodiscoverPool "
                                "defines", d->domain, d->pool);
        }
    }
    return NULL;
}
