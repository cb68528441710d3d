/* The route table of mod_ucwa: every resource under an application (a path pattern),
 * the methods it answers and the handler of each. The one place that says which resource
 * exists: dispatch, 405 with Allow and 404 all come from it. */
#ifndef UCWA_ROUTE_H
#define UCWA_ROUTE_H

#include "ucwa_http.h"

/* A handler: the request (q->id holds the path's "*" segments) and the row's what, which
 * tells a handler serving several resources which one it is. */
typedef int ucwa_route_fn(ucwa_req *q, int what);

/* Runs the handler of the row that matches q's path and method: POST to the applications
 * collection creates one; a path that names a resource asked with a method it does not
 * answer gets 405 with Allow; any other path 404 ResourceNotFound. */
int ucwa_route_dispatch(ucwa_req *q);

/* The methods the resource q names answers ("GET, POST"), or NULL when no resource has
 * that path. */
const char *ucwa_route_allow(const ucwa_req *q);

#endif
