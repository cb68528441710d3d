/* mob_topology: the AutodiscoverPool / AutodiscoverSipDomain model and its checks. */
#include <stdarg.h>

#include "unit.h"
#include "mob_topology.h"

#define POOL "pool01.contoso.test"
#define INT_URL "internal=https://pool01.contoso.test"
#define EXT_URL "external=https://webext.contoso.test"

static mob_topology *topo;

static void setup(void)
{
    unit_pool_setup();
    topo = mob_topology_make(pool);
}

/* Adds fqdn with the NULL-terminated key=value arguments. */
static const char *add(const char *fqdn, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;

    va_start(ap, fqdn);
    while (argc < 16 && (argv[argc] = va_arg(ap, char *)) != NULL) {
        argc++;
    }
    va_end(ap);
    return mob_topology_add_pool(topo, pool, fqdn, argc, argv);
}

/* err is an error message containing every NULL-terminated fragment. */
static void names(const char *err, ...)
{
    const char *frag;
    va_list ap;

    ck_assert_msg(err != NULL, "accepted, want an error");
    va_start(ap, err);
    while ((frag = va_arg(ap, const char *)) != NULL) {
        ck_assert_msg(strstr(err, frag) != NULL, "'%s' does not mention '%s'", err, frag);
    }
    va_end(ap);
}

/* A pool whose internal (or external) URL is url: rejected, naming each fragment. */
#define BAD_URL(key, url, ...) \
    names(key[0] == 'i' ? add(POOL, "internal=" url, EXT_URL, NULL) \
                        : add(POOL, INT_URL, "external=" url, NULL), __VA_ARGS__, NULL)

START_TEST(valid_pool)
{
    const mob_pool *p;

    ck_assert_ptr_null(add(POOL, "role=FrontEnd", "site=Redmond", INT_URL,
                           "external=https://webext.contoso.test:4443/",
                           "sip-internal=pool01.contoso.test:5061",
                           "sip-external=sip.contoso.test", "mcx=on", NULL));
    p = mob_topology_pool(topo, POOL);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->fqdn, POOL);
    ck_assert_int_eq(p->role, MOB_ROLE_FRONTEND);
    ck_assert_str_eq(p->site, "Redmond");
    ck_assert_str_eq(p->internal_url, "https://pool01.contoso.test");
    /* the trailing '/' is dropped so paths can be appended */
    ck_assert_str_eq(p->external_url, "https://webext.contoso.test:4443");
    ck_assert_str_eq(p->internal_host, "pool01.contoso.test");
    ck_assert_str_eq(p->external_host, "webext.contoso.test");
    ck_assert_str_eq(p->sip_internal.fqdn, "pool01.contoso.test");
    ck_assert_int_eq(p->sip_internal.port, 5061);
    ck_assert_str_eq(p->sip_external.fqdn, "sip.contoso.test");
    ck_assert_int_eq(p->sip_external.port, 443);
    ck_assert_int_eq(p->mcx, 1);
    /* looked up case-insensitively, like DNS */
    ck_assert_ptr_eq(mob_topology_pool(topo, "POOL01.Contoso.Test"), p);
    ck_assert_ptr_null(mob_topology_pool(topo, "pool02.contoso.test"));

    ck_assert_ptr_null(mob_topology_add_domain(topo, pool, "contoso.test", POOL));
    ck_assert_ptr_null(mob_topology_check(topo, pool));
    ck_assert_str_eq(mob_topology_domain(topo, "Contoso.TEST")->pool, POOL);
    ck_assert_ptr_null(mob_topology_domain(topo, "fabrikam.test"));
}
END_TEST

START_TEST(defaults)
{
    const mob_pool *p;

    ck_assert_ptr_null(add("dir01.contoso.test", "role=director",
                           "internal=http://dir01.contoso.test:8080",
                           "external=HTTPS://dirext.contoso.test", NULL));
    p = mob_topology_pool(topo, "dir01.contoso.test");
    ck_assert_int_eq(p->role, MOB_ROLE_DIRECTOR);
    ck_assert_str_eq(p->internal_url, "http://dir01.contoso.test:8080");
    /* SipClientInternalAccess defaults to the pool FQDN on 5061; no external access */
    ck_assert_str_eq(p->sip_internal.fqdn, "dir01.contoso.test");
    ck_assert_int_eq(p->sip_internal.port, 5061);
    ck_assert_ptr_null(p->sip_external.fqdn);
    ck_assert_int_eq(p->mcx, 0);
    ck_assert_ptr_nonnull(p->site);
}
END_TEST

START_TEST(relative_url)
{
    BAD_URL("internal", "/Autodiscover", "absolute URL");
    BAD_URL("internal", "pool01.contoso.test", "absolute URL");
    BAD_URL("external", "//webext.contoso.test", "absolute URL");
    BAD_URL("external", "", "absolute URL");
}
END_TEST

START_TEST(url_not_a_base)
{
    BAD_URL("internal", "https://pool01.contoso.test/ucwa", "/ucwa", "path");
    BAD_URL("external", "https://webext.contoso.test//", "path");
    BAD_URL("external", "https://webext.contoso.test/?a=b", "query");
    BAD_URL("external", "https://webext.contoso.test?", "query");
    BAD_URL("external", "https://admin:secret@webext.contoso.test", "credentials");
    BAD_URL("external", "https://admin@webext.contoso.test", "credentials");
    BAD_URL("external", "https://webext.contoso.test#top", "base URL");
    BAD_URL("external", "https://webext.contoso.test#", "base URL");
}
END_TEST

START_TEST(url_scheme)
{
    BAD_URL("external", "ftp://webext.contoso.test", "ftp://", "http");
    BAD_URL("internal", "sip:pool01.contoso.test", "http");
    BAD_URL("internal", "file:///etc/passwd", "http");
}
END_TEST

START_TEST(url_host)
{
    BAD_URL("external", "https://web_ext.contoso.test", "'web_ext.contoso.test'",
            "not a valid host name");
    BAD_URL("external", "https://-webext.contoso.test", "not a valid host name");
    BAD_URL("external", "https://webext-.contoso.test", "not a valid host name");
    BAD_URL("external", "https://webext..contoso.test", "not a valid host name");
    BAD_URL("external", "https://[::1]", "not a valid host name");
    BAD_URL("external", "https://", "https://");
    BAD_URL("external", "https://:443", "https://:443");
}
END_TEST

/* apr_uri_parse keeps only 16 bits of the port: 65979 must not become 443. */
START_TEST(url_port)
{
    BAD_URL("external", "https://webext.contoso.test:65979", "65979", "port");
    BAD_URL("external", "https://webext.contoso.test:99999", "port");
    BAD_URL("external", "https://webext.contoso.test:0", "port");
    BAD_URL("internal", "https://pool01.contoso.test:-1", "port");
    ck_assert_ptr_null(add(POOL, "internal=https://pool01.contoso.test:65535", EXT_URL, NULL));
    ck_assert_str_eq(mob_topology_pool(topo, POOL)->internal_url,
                     "https://pool01.contoso.test:65535");
}
END_TEST

START_TEST(same_web_fqdn)
{
    names(add(POOL, INT_URL, "external=https://pool01.contoso.test:4443", NULL),
          "'pool01.contoso.test'", "differ", NULL);
    names(add(POOL, INT_URL, "external=https://POOL01.contoso.test", NULL), "differ", NULL);
    ck_assert_ptr_null(mob_topology_pool(topo, POOL));
}
END_TEST

START_TEST(bad_settings)
{
    names(add(POOL, INT_URL, EXT_URL, "colour=blue", NULL), "unknown setting 'colour'", NULL);
    names(add(POOL, INT_URL, EXT_URL, "internal", NULL), "'internal'", "key=value", NULL);
    names(add(POOL, INT_URL, EXT_URL, "=x", NULL), "key=value", NULL);
    names(add(POOL, INT_URL, EXT_URL, "role=Edge", NULL), "role", NULL);
    names(add(POOL, INT_URL, EXT_URL, "mcx=yes", NULL), "mcx", NULL);
    names(add(POOL, INT_URL, EXT_URL, "sip-internal=pool_01.contoso.test", NULL),
          "sip-internal", NULL);
    names(add(POOL, INT_URL, EXT_URL, "sip-external=sip.contoso.test:99999", NULL),
          "sip-external", NULL);
    names(add(POOL, INT_URL, EXT_URL, "sip-external=sip.contoso.test:", NULL),
          "sip-external", NULL);
    names(add(POOL, INT_URL, NULL), "external=URL", NULL);
    names(add(POOL, EXT_URL, NULL), "internal=URL", NULL);
    names(add("pool_01.contoso.test", INT_URL, EXT_URL, NULL), "pool_01.contoso.test", NULL);
    /* none of these left a pool behind */
    ck_assert_int_eq(topo->pools->nelts, 0);
}
END_TEST

START_TEST(duplicate_pool)
{
    ck_assert_ptr_null(add(POOL, INT_URL, EXT_URL, NULL));
    names(add(POOL, "internal=https://other.contoso.test", "external=https://o.contoso.test",
              NULL), POOL, "twice", NULL);
    names(add("Pool01.Contoso.Test", INT_URL, EXT_URL, NULL), "twice", NULL);
    ck_assert_int_eq(topo->pools->nelts, 1);
}
END_TEST

START_TEST(domains)
{
    ck_assert_ptr_null(add(POOL, INT_URL, EXT_URL, NULL));
    ck_assert_ptr_null(mob_topology_add_domain(topo, pool, "contoso.test", POOL));
    names(mob_topology_add_domain(topo, pool, "Contoso.Test", POOL), "twice", NULL);
    names(mob_topology_add_domain(topo, pool, "contoso", POOL), "'contoso'", NULL);
    names(mob_topology_add_domain(topo, pool, "con toso.test", POOL), "not a valid", NULL);
    ck_assert_int_eq(topo->domains->nelts, 1);
}
END_TEST

START_TEST(domain_without_pool)
{
    ck_assert_ptr_null(add(POOL, INT_URL, EXT_URL, NULL));
    ck_assert_ptr_null(mob_topology_add_domain(topo, pool, "contoso.test", POOL));
    ck_assert_ptr_null(mob_topology_add_domain(topo, pool, "fabrikam.test", NULL));
    names(mob_topology_check(topo, pool), "fabrikam.test", "no pool", NULL);
}
END_TEST

START_TEST(domain_with_undefined_pool)
{
    ck_assert_ptr_null(add(POOL, INT_URL, EXT_URL, NULL));
    ck_assert_ptr_null(mob_topology_add_domain(topo, pool, "contoso.test", "pool09.contoso.test"));
    names(mob_topology_check(topo, pool), "contoso.test", "pool09.contoso.test", NULL);
}
END_TEST

START_TEST(empty_topology)
{
    names(mob_topology_check(topo, pool), "AutodiscoverPool", NULL);
    /* a pool but no SIP domain */
    ck_assert_ptr_null(add(POOL, INT_URL, EXT_URL, NULL));
    names(mob_topology_check(topo, pool), "AutodiscoverSipDomain", NULL);
}
END_TEST

START_TEST(valid_fqdn)
{
    static const char *const good[] = {
        "a", "contoso.test", "pool-01.contoso.test", "1.2.3.4", "xn--bcher-kva.example",
    };
    static const char *const bad[] = {
        "", "-a.test", "a-.test", "a..test", ".a.test", "a_b.test", "a b.test", "a.test/",
        "a:443", "a.-b",
    };
    char *label63 = unit_repeat("a", 63);
    char *name253 = apr_pstrcat(pool, label63, ".", label63, ".", label63, ".",
                                unit_repeat("b", 61), NULL);
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(mob_valid_fqdn(good[i]), "'%s' rejected", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!mob_valid_fqdn(bad[i]), "'%s' accepted", bad[i]);
    }
    ck_assert(mob_valid_fqdn(apr_pstrcat(pool, label63, ".test", NULL)));
    ck_assert(!mob_valid_fqdn(apr_pstrcat(pool, label63, "a.test", NULL)));
    ck_assert_uint_eq(strlen(name253), 253);
    ck_assert(mob_valid_fqdn(name253));
    ck_assert(!mob_valid_fqdn(apr_pstrcat(pool, name253, "b", NULL)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("topology");
    TCase *tc = tcase_create("topology");

    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_add_test(tc, valid_pool);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, relative_url);
    tcase_add_test(tc, url_not_a_base);
    tcase_add_test(tc, url_scheme);
    tcase_add_test(tc, url_host);
    tcase_add_test(tc, url_port);
    tcase_add_test(tc, same_web_fqdn);
    tcase_add_test(tc, bad_settings);
    tcase_add_test(tc, duplicate_pool);
    tcase_add_test(tc, domains);
    tcase_add_test(tc, domain_without_pool);
    tcase_add_test(tc, domain_with_undefined_pool);
    tcase_add_test(tc, empty_topology);
    tcase_add_test(tc, valid_fqdn);
    suite_add_tcase(s, tc);
    return unit_run("test_topology", s);
}
