#include <httpd.h>

#include "ucwa_batch.h"

int ucwa_batch_handle(ucwa_req *q)
{
    (void)q;
    return DECLINED;   /* not implemented yet */
}
