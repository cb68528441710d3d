/* mob_route: request path to Autodiscover / WebTicket resource. */
#include <apr_lib.h>

#include "unit.h"
#include "mob_route.h"

static const struct {
    const char *path;
    mob_resource res;
} resources[] = {
    { "/Autodiscover/AutodiscoverService.svc/root", MOB_RES_ROOT },
    { "/Autodiscover/AutodiscoverService.svc/root/user", MOB_RES_USER },
    { "/Autodiscover/AutodiscoverService.svc/root/oauth/user", MOB_RES_OAUTH_USER },
    { "/Autodiscover/AutodiscoverService.svc/root/domain", MOB_RES_DOMAIN },
    { "/WebTicket/oauthtoken", MOB_RES_TOKEN },
    { "/Autodiscover/XFrame/XFrame.html", MOB_RES_XFRAME },
};

#define NRES (sizeof(resources) / sizeof(resources[0]))

static char *lower(const char *s)
{
    char *out = apr_pstrdup(pool, s), *c;

    for (c = out; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    return out;
}

static char *upper(const char *s)
{
    char *out = apr_pstrdup(pool, s), *c;

    for (c = out; *c; c++) {
        *c = (char)apr_toupper(*c);
    }
    return out;
}

/* Every other letter flipped: neither the documented nor an all-one-case spelling. */
static char *mixed(const char *s)
{
    char *out = apr_pstrdup(pool, s), *c;
    int i = 0;

    for (c = out; *c; c++) {
        if (apr_isalpha(*c) && (i++ & 1)) {
            *c = apr_isupper(*c) ? (char)apr_tolower(*c) : (char)apr_toupper(*c);
        }
    }
    return out;
}

static void expect(const char *path, int discovery_host, mob_resource want)
{
    mob_resource got = mob_route(path, discovery_host);

    ck_assert_msg(got == want, "'%s' (discovery host %d): got %d, want %d",
                  path ? path : "(null)", discovery_host, (int)got, (int)want);
}

START_TEST(every_resource_any_case)
{
    size_t i;
    int dh;

    for (i = 0; i < NRES; i++) {
        for (dh = 0; dh <= 1; dh++) {
            const char *p = resources[i].path;
            expect(p, dh, resources[i].res);
            expect(lower(p), dh, resources[i].res);
            expect(upper(p), dh, resources[i].res);
            expect(mixed(p), dh, resources[i].res);
        }
    }
}
END_TEST

START_TEST(trailing_slash)
{
    size_t i;

    for (i = 0; i < NRES; i++) {
        expect(apr_pstrcat(pool, resources[i].path, "/", NULL), 0, resources[i].res);
        expect(apr_pstrcat(pool, lower(resources[i].path), "//", NULL), 1, resources[i].res);
    }
}
END_TEST

START_TEST(discovery_host_shortcuts)
{
    expect("/", 1, MOB_RES_ROOT);
    expect("", 1, MOB_RES_ROOT);
    expect("//", 1, MOB_RES_ROOT);
    expect("/xframe", 1, MOB_RES_XFRAME);
    expect("/XFrame", 1, MOB_RES_XFRAME);
    expect("/XFRAME/", 1, MOB_RES_XFRAME);
    /* on a pool's own web FQDN they are not Autodiscover */
    expect("/", 0, MOB_RES_NONE);
    expect("", 0, MOB_RES_NONE);
    expect("/xframe", 0, MOB_RES_NONE);
    /* near misses */
    expect("/xframe2", 1, MOB_RES_NONE);
    expect("/xfram", 1, MOB_RES_NONE);
    expect("/xframe.html", 1, MOB_RES_NONE);
}
END_TEST

START_TEST(unknown_paths)
{
    static const char *const paths[] = {
        "/Autodiscover", "/Autodiscover/AutodiscoverService.svc",
        "/Autodiscover/AutodiscoverService.svc/rootx",
        "/Autodiscover/AutodiscoverService.svc/root/users",
        "/Autodiscover/AutodiscoverService.svc/root/user/x",
        "/Autodiscover/AutodiscoverService.svc/root/oauth",
        "/Autodiscover/AutodiscoverService.svc/root/../root",
        "/Autodiscover/AutodiscoverService.svc/root/oauth/domain",
        "Autodiscover/AutodiscoverService.svc/root",
        "/x/Autodiscover/AutodiscoverService.svc/root",
        "/WebTicket/oauthtoken/x", "/WebTicket/WebTicketService.svc", "/WebTicket",
        "/Autodiscover/XFrame", "/ucwa/oauth/v1/applications", "/etc/passwd", "/index.html",
        "/foo",
    };
    size_t i;

    expect(NULL, 0, MOB_RES_NONE);
    expect(NULL, 1, MOB_RES_NONE);
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        expect(paths[i], 0, MOB_RES_NONE);
        expect(paths[i], 1, MOB_RES_NONE);
    }
}
END_TEST

START_TEST(discovery_domain)
{
    const char *h;

    h = "lyncdiscover.contoso.com";
    ck_assert_ptr_eq(mob_route_discovery_domain(h), h + 13);
    h = "lyncdiscoverinternal.contoso.com";
    ck_assert_ptr_eq(mob_route_discovery_domain(h), h + 21);
    ck_assert_str_eq(mob_route_discovery_domain("LyncDiscover.Contoso.com"), "Contoso.com");
    ck_assert_str_eq(mob_route_discovery_domain("LYNCDISCOVERINTERNAL.contoso.test"),
                     "contoso.test");
    ck_assert_str_eq(mob_route_discovery_domain("lyncdiscover.a.b.c"), "a.b.c");

    ck_assert_ptr_null(mob_route_discovery_domain(NULL));
    ck_assert_ptr_null(mob_route_discovery_domain(""));
    ck_assert_ptr_null(mob_route_discovery_domain("lyncdiscover."));
    ck_assert_ptr_null(mob_route_discovery_domain("lyncdiscoverinternal."));
    ck_assert_ptr_null(mob_route_discovery_domain("lyncdiscover"));
    ck_assert_ptr_null(mob_route_discovery_domain("pool01.contoso.test"));
    ck_assert_ptr_null(mob_route_discovery_domain("webext.contoso.test"));
    ck_assert_ptr_null(mob_route_discovery_domain("xlyncdiscover.contoso.com"));
    ck_assert_ptr_null(mob_route_discovery_domain("lyncdiscoverx.contoso.com"));
    ck_assert_ptr_null(mob_route_discovery_domain("lyncdiscoverinternalx.contoso.com"));
    ck_assert_ptr_null(mob_route_discovery_domain("contoso.com.lyncdiscover.evil"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    TCase *tc = unit_tcase("route");

    tcase_add_test(tc, every_resource_any_case);
    tcase_add_test(tc, trailing_slash);
    tcase_add_test(tc, discovery_host_shortcuts);
    tcase_add_test(tc, unknown_paths);
    tcase_add_test(tc, discovery_domain);
    suite_add_tcase(s, tc);
    return unit_run("test_route", s);
}
