/* The MCX operations (docs/mcx-protocol.md), each carried out by UCWA calls. */
#ifndef MCX_OPS_H
#define MCX_OPS_H

#include "mcx_req.h"

typedef int (*mcx_op_fn)(mcx_req *m);

typedef struct {
    const char *name;
    int session;                  /* takes a SessionId */
    mcx_op_fn fn;
} mcx_op;

/* The operation named name, or NULL. */
const mcx_op *mcx_op_find(const char *name);
/* Every operation (NULL-name terminated), for the metadata document. */
const mcx_op *mcx_ops_all(void);

int mcx_op_get_notifications(mcx_req *m);   /* mcx_notify.c */

#endif
