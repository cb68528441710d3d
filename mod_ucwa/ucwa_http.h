/* One UCWA request: routing of the path, the bearer user, the representation asked for,
 * the body, and the answers (resources, 204s, and UCWA errors {code, subcode, message}). */
#ifndef UCWA_HTTP_H
#define UCWA_HTTP_H

#include <httpd.h>
#include <jansson.h>

#include "ucwa_config.h"

#define UCWA_REQ_IDS 3

typedef struct {
    request_rec *r;
    const ucwa_server_conf *conf;
    const char *user;       /* the token's user: lower case, no "sip:" */
    const char *token;      /* the bearer token as sent (for the photo cookie) */
    const char *prefix;     /* "/ucwa/oauth/v1/applications" or "/ucwa/v1/applications" */
    const char *app_id;     /* the id segment, or NULL for the collection */
    const char *sub;        /* the rest of the path: "", "/me/presence", ... */
    const char *id[UCWA_REQ_IDS];   /* the segments of sub its route names "*" (ucwa_route) */
    int xml;                /* answer in the UCWA XML representation */
} ucwa_req;

/* Splits r->uri; 0 if the path is not under an applications collection. */
int ucwa_http_route(ucwa_req *q, request_rec *r);

/* The request body, at most max bytes, NUL-terminated, in r->pool: APR_SUCCESS,
 * APR_ENOSPC (too large: refused from Content-Length before reading, else as soon as it
 * passes max) or APR_EGENERAL (it could not be read). Also mod_mcx's (ucwa_core_read_body). */
apr_status_t ucwa_http_read_body(request_rec *r, apr_size_t max, char **out, apr_size_t *len);

/* A UCWA error; a 405 gets the Allow header of its resource (ucwa_route_allow) unless
 * the caller set one. */
int ucwa_http_error(ucwa_req *q, int status, const char *code, const char *subcode,
                    const char *message);

/* 405 MethodNotAllowed with Allow (404 if the path names no resource). */
int ucwa_http_not_allowed(ucwa_req *q);
/* The answer of a handler that finds its path names no resource after all (a contact
 * that is no address): 405 with Allow for a resource that exists for other methods, else
 * 404 ResourceNotFound. */
int ucwa_http_unrouted(ucwa_req *q);
/* Sends a body as it is: status, Content-Type, Content-Length (nothing for HEAD). */
int ucwa_http_write(request_rec *r, int status, const char *ctype, const void *body,
                    apr_size_t len);
/* ucwa_http_write with the headers of every UCWA answer (Cache-Control: no-cache,
 * X-MS-Server-Fqdn). */
int ucwa_http_send(ucwa_req *q, int status, const char *ctype, const char *body,
                   apr_size_t len);
/* Sends a resource (JSON, or converted to UCWA XML). */
int ucwa_http_resource(ucwa_req *q, int status, json_t *res);
/* Sends an event package given as JSON text. */
int ucwa_http_events(ucwa_req *q, const char *json, apr_size_t len);
int ucwa_http_no_content(ucwa_req *q);

/* An If-Match or If-None-Match header lists etag: "*", or etag quoted (clients quote
 * them) or not, weak (W/) or not. */
int ucwa_http_etag_listed(apr_pool_t *p, const char *header, const char *etag);

/* Sends a PUT-able resource with its ETag header; 304 for a matching If-None-Match. */
int ucwa_http_etagged(ucwa_req *q, json_t *res);

/* UCWA's PUT contract against the current resource: If-Match is required (428
 * PreconditionRequired) and must match its etag (412 PreconditionFailed), and the body
 * must echo the GUID-named property (400 ParameterValidationFailure). Returns the body,
 * or NULL with the error already sent in *rv. */
json_t *ucwa_http_put_input(ucwa_req *q, const json_t *current, int *rv);

/* The request body as a JSON object (JSON or UCWA XML input; query parameters fill in
 * names the body lacks), or NULL with the error response already sent in *rv. */
json_t *ucwa_http_input(ucwa_req *q, int *rv);

#endif
