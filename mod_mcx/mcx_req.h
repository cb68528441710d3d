/* One MCX request: the parsed operation, the UCWA calls it makes (through mod_ucwa's
 * ucwa_core_call, as the signed-in user), and its answer or SOAP fault. */
#ifndef MCX_REQ_H
#define MCX_REQ_H

#include <httpd.h>
#include <jansson.h>

#include "mcx_config.h"
#include "mcx_soap.h"

#define MCXLOGNO(n) "MCX" #n ": "

typedef struct {
    request_rec *r;
    const mcx_server_conf *conf;
    apr_table_t *headers;         /* request headers of every UCWA call */
    mcx_request in;
    const char *session;          /* SessionId, when the operation has one */
    const char *app;              /* its application path: /ucwa/oauth/v1/applications/<id> */
} mcx_req;

typedef struct {
    int status;                   /* 0: the call could not be made */
    json_t *json;                 /* the body when it is JSON (owned by the pool), or NULL */
    const char *body;
    apr_table_t *headers;
} mcx_res;

#define MCX_APPS "/ucwa/oauth/v1/applications"

/* A UCWA call: path absolute, or relative to the session's application when it starts
 * with '/' and rel is set. body (JSON, may be NULL) is sent as application/json.
 * Returns res->status. */
int mcx_ucwa(mcx_req *m, const char *method, const char *path, json_t *body,
             apr_table_t *notes, mcx_res *res);
/* The same with a text body of the given type. */
int mcx_ucwa_text(mcx_req *m, const char *method, const char *path, const char *ctype,
                  const char *text, mcx_res *res);
/* {A} + sub */
const char *mcx_app_path(mcx_req *m, const char *sub);

/* Sends a fault (always returns OK: the answer is written). http: the HTTP status. */
int mcx_fault(mcx_req *m, int http, const char *code, int ucwa_status, const char *message);
/* The fault for a UCWA answer that was not a success. */
int mcx_fault_ucwa(mcx_req *m, const mcx_res *res);
/* Sends a response built with mcx_out. */
int mcx_send(mcx_req *m, mcx_out *o);

/* The required field, or NULL after sending InvalidParameter in *rv. max: characters. */
const char *mcx_need(mcx_req *m, const char *name, apr_size_t max, int *rv);

/* A 2xx answer. */
int mcx_ok(const mcx_res *res);

/* A contact's availability ("Offline" when it cannot be read) and note (NULL when
 * note is NULL or there is none), from its UCWA presence href (.../people/x/presence). */
void mcx_presence_of(mcx_req *m, const char *presence, const char **av, const char **note);

#endif
