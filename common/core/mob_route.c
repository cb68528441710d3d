#include <string.h>
#include <strings.h>

#include "mob_route.h"

#define ROOT "/autodiscover/autodiscoverservice.svc/root"

mob_resource mob_route(const char *path, int discovery_host)
{
    static const struct { const char *path; mob_resource res; } fixed[] = {
        { ROOT, MOB_RES_ROOT },
        { ROOT "/user", MOB_RES_USER },
        { ROOT "/oauth/user", MOB_RES_OAUTH_USER },
        { ROOT "/domain", MOB_RES_DOMAIN },
        { "/webticket/oauthtoken", MOB_RES_TOKEN },
        { "/autodiscover/xframe/xframe.html", MOB_RES_XFRAME },
    };
    size_t n, i;

    if (!path) {
        return MOB_RES_NONE;
    }
    n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;   /* IIS answers with and without the trailing slash */
    }
    if (discovery_host) {
        if (n == 0 || (n == 1 && path[0] == '/')) {
            return MOB_RES_ROOT;
        }
        if (n == 7 && !strncasecmp(path, "/xframe", 7)) {
            return MOB_RES_XFRAME;
        }
    }
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strlen(fixed[i].path) == n && !strncasecmp(path, fixed[i].path, n)) {
            return fixed[i].res;
        }
    }
    return MOB_RES_NONE;
}

const char *mob_route_discovery_domain(const char *host)
{
    static const char *const prefixes[] = { "lyncdiscoverinternal.", "lyncdiscover." };
    size_t i;

    if (!host) {
        return NULL;
    }
    for (i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncasecmp(host, prefixes[i], n) && host[n]) {
            return host + n;
        }
    }
    return NULL;
}
