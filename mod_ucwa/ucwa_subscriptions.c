#include <httpd.h>

#include "ucwa_subscriptions.h"

int ucwa_subscriptions_handle(ucwa_req *q)
{
    (void)q;
    return DECLINED;   /* not implemented yet */
}

void ucwa_subscriptions_notify(ucwa_store *s, int user, const char *what, apr_time_t now,
                               apr_pool_t *p)
{
    (void)s; (void)user; (void)what; (void)now; (void)p;
}

void ucwa_subscriptions_app_gone(ucwa_store *s, int app)
{
    (void)s; (void)app;
}

void ucwa_subscriptions_sweep(ucwa_store *s, apr_time_t now, apr_pool_t *p)
{
    (void)s; (void)now; (void)p;
}
