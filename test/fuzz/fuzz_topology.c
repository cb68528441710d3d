/* The topology directives from argument vectors split out of the input: one directive
 * a line ('\n'), arguments separated by ' ' or '\t', as httpd would hand them over:
 *
 *   AutodiscoverPool FQDN key=value...   -> mob_topology_add_pool
 *   AutodiscoverSipDomain DOMAIN [POOL]  -> mob_topology_add_domain
 *   anything else                        -> mob_parse_base_url of every word
 *
 * then mob_topology_check once at the end.
 *
 * Invariants: a pool that was added can be looked up and has what clients are handed
 * (both base URLs and hosts, different web FQDNs, a SIP access point); a domain that was
 * added can be looked up; a topology that passes the check resolves every domain to a
 * pool; a base URL that is accepted is "http(s)://HOST[:PORT]" with a valid host name
 * and a port in 1..65535, stored without its trailing '/', and accepted again as
 * stored. */
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mob_topology.h"

#define MAX_ARGS 256

/* "http(s)://HOST[:PORT]" with the host as returned and a real port (RFC 3986 allows an
 * empty one, which means the scheme's default). */
static int well_formed_base(const char *out, const char *host)
{
    size_t h = strlen(host);
    const char *rest;

    if (!strncasecmp(out, "http://", 7)) rest = out + 7;
    else if (!strncasecmp(out, "https://", 8)) rest = out + 8;
    else return 0;
    if (strncmp(rest, host, h) != 0) {
        return 0;
    }
    rest += h;
    if (*rest == ':') {
        size_t n = strlen(++rest);
        long port;
        if (n == 0) {
            return 1;
        }
        if (n > 5 || strspn(rest, "0123456789") != n) {
            return 0;
        }
        port = strtol(rest, NULL, 10);
        return port >= 1 && port <= 65535;
    }
    return *rest == '\0';
}

static void check_base_url(apr_pool_t *p, const char *url)
{
    const char *out = NULL, *host = NULL, *out2 = NULL, *host2 = NULL;
    const char *err = mob_parse_base_url(p, url, &out, &host);
    size_t n;

    if (err) {
        FUZZ_CHECK(*err != '\0');
        return;
    }
    FUZZ_CHECK(out != NULL && host != NULL);
    FUZZ_CHECK(mob_valid_fqdn(host));
    n = strlen(out);
    FUZZ_CHECK(n > 0 && out[n - 1] != '/');
    FUZZ_CHECK(strncmp(out, url, n) == 0 && (url[n] == '\0' || !strcmp(url + n, "/")));
    FUZZ_CHECK(well_formed_base(out, host));
    FUZZ_CHECK(mob_parse_base_url(p, out, &out2, &host2) == NULL);
    FUZZ_CHECK(strcmp(out2, out) == 0 && strcmp(host2, host) == 0);
}

static void check_pool(const mob_topology *t, const char *fqdn)
{
    const mob_pool *pool = mob_topology_pool(t, fqdn);

    FUZZ_CHECK(pool != NULL);
    FUZZ_CHECK(mob_valid_fqdn(pool->fqdn) && !strcasecmp(pool->fqdn, fqdn));
    FUZZ_CHECK(pool->role == MOB_ROLE_FRONTEND || pool->role == MOB_ROLE_DIRECTOR);
    FUZZ_CHECK(pool->site != NULL);
    FUZZ_CHECK(pool->internal_url && pool->external_url);
    FUZZ_CHECK(pool->internal_host && pool->external_host);
    FUZZ_CHECK(well_formed_base(pool->internal_url, pool->internal_host));
    FUZZ_CHECK(well_formed_base(pool->external_url, pool->external_host));
    FUZZ_CHECK(strcasecmp(pool->internal_host, pool->external_host) != 0);
    FUZZ_CHECK(pool->sip_internal.fqdn && mob_valid_fqdn(pool->sip_internal.fqdn));
    FUZZ_CHECK(pool->sip_internal.port != 0);
    if (pool->sip_external.fqdn) {
        FUZZ_CHECK(mob_valid_fqdn(pool->sip_external.fqdn) && pool->sip_external.port != 0);
    }
    FUZZ_CHECK(pool->mcx == 0 || pool->mcx == 1);
}

/* Splits line (modified in place) into argv; returns argc (at most MAX_ARGS). */
static int split(char *line, char *argv[])
{
    int argc = 0;
    char *last = NULL, *w;

    for (w = apr_strtok(line, " \t", &last); w && argc < MAX_ARGS;
         w = apr_strtok(NULL, " \t", &last)) {
        argv[argc++] = w;
    }
    return argc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    mob_topology *t = mob_topology_make(p);
    char *text = fuzz_cstr(data, size);   /* a NUL in the input ends it, as in httpd */
    char *line, *next, *argv[MAX_ARGS];
    const char *err;
    int argc, i;

    for (line = text; line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        argc = split(line, argv);
        if (argc == 0) {
            continue;
        }
        if (!strcasecmp(argv[0], "AutodiscoverPool")) {
            int before = t->pools->nelts;
            if (argc < 2) {
                continue;
            }
            err = mob_topology_add_pool(t, p, argv[1], argc - 2, argv + 2);
            if (err) {
                FUZZ_CHECK(*err != '\0' && t->pools->nelts == before);
            }
            else {
                FUZZ_CHECK(t->pools->nelts == before + 1);
                check_pool(t, argv[1]);
            }
        }
        else if (!strcasecmp(argv[0], "AutodiscoverSipDomain")) {
            int before = t->domains->nelts;
            if (argc < 2) {
                continue;
            }
            err = mob_topology_add_domain(t, p, argv[1], argc > 2 ? argv[2] : NULL);
            if (err) {
                FUZZ_CHECK(*err != '\0' && t->domains->nelts == before);
            }
            else {
                const mob_sipdomain *d = mob_topology_domain(t, argv[1]);
                FUZZ_CHECK(t->domains->nelts == before + 1);
                FUZZ_CHECK(d != NULL && !strcasecmp(d->domain, argv[1]));
                FUZZ_CHECK(mob_valid_fqdn(d->domain) && strchr(d->domain, '.'));
            }
        }
        else {
            for (i = 0; i < argc; i++) {
                check_base_url(p, argv[i]);
            }
        }
    }

    err = mob_topology_check(t, p);
    if (!err) {
        FUZZ_CHECK(t->pools->nelts > 0 && t->domains->nelts > 0);
        for (i = 0; i < t->domains->nelts; i++) {
            const mob_sipdomain *d = APR_ARRAY_IDX(t->domains, i, const mob_sipdomain *);
            FUZZ_CHECK(d->pool != NULL && mob_topology_pool(t, d->pool) != NULL);
        }
    }
    else {
        FUZZ_CHECK(*err != '\0');
    }
    free(text);
    apr_pool_destroy(p);
    return 0;
}
