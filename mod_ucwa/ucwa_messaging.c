#include <httpd.h>

#include "ucwa_messaging.h"

int ucwa_messaging_handle(ucwa_req *q)
{
    (void)q;
    return DECLINED;   /* not implemented yet */
}

void ucwa_messaging_app_gone(ucwa_store *s, int app, apr_time_t now, apr_pool_t *p)
{
    (void)s; (void)app; (void)now; (void)p;
}

void ucwa_messaging_sweep(ucwa_store *s, apr_time_t now, apr_pool_t *p)
{
    (void)s; (void)now; (void)p;
}
