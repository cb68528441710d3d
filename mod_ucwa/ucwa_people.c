#include <httpd.h>

#include "ucwa_people.h"

int ucwa_people_handle(ucwa_req *q)
{
    (void)q;
    return DECLINED;   /* not implemented yet */
}

void ucwa_people_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild;
    (void)s;
}
