/* The metadata document (GET /Mcx/McxService.svc/mex): WSDL 1.1 of MCX version 1. */
#ifndef MCX_WSDL_H
#define MCX_WSDL_H

#include <apr_pools.h>

/* The WSDL with address as the service's location. */
const char *mcx_wsdl(apr_pool_t *p, const char *address, apr_size_t *len);

#endif
