/* POST {A}/batch: multipart/batching, each part a complete HTTP request run as a
 * subrequest, each answered in its own part. */
#ifndef UCWA_BATCH_H
#define UCWA_BATCH_H

#include "ucwa_http.h"

int ucwa_batch_post(ucwa_req *q, int what);   /* route handler (ucwa_route) */

#endif
