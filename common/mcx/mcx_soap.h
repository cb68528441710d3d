/* The MCX protocol's SOAP 1.1 envelopes (docs/mcx-protocol.md): reading a request into
 * its operation and fields, writing responses and faults. No httpd here. */
#ifndef MCX_SOAP_H
#define MCX_SOAP_H

#include <apr_pools.h>
#include <apr_tables.h>

#define MCX_NS       "urn:mobility-httpd:mcx:1"
#define MCX_NS_STEM  "urn:mobility-httpd:mcx:"   /* of every version */
#define SOAP11_NS    "http://schemas.xmlsoap.org/soap/envelope/"

#define MCX_MAX_DEPTH  16     /* element nesting, the Envelope being 1 */
#define MCX_MAX_FIELDS 512    /* elements inside the operation element */

typedef enum {
    MCX_PARSE_OK = 0,
    MCX_PARSE_BAD,            /* BadRequest */
    MCX_PARSE_XML_REFUSED,    /* XmlNotAllowed: DTD, entity, nesting */
    MCX_PARSE_TOO_LARGE,      /* RequestTooLarge */
    MCX_PARSE_VERSION         /* VersionNotSupported */
} mcx_parse_status;

typedef struct {
    const char *op;            /* local name of the operation element */
    apr_table_t *fields;       /* child local name -> its text, in order (repeatable) */
} mcx_request;

/* Reads body[0..len) (at most max bytes). why: a short fixed reason, never a piece of
 * the input. Fields are the operation's child elements holding only text; one holding
 * elements is skipped (a later version's structure); text beside the fields is BAD;
 * attributes, comments and the SOAP Header are ignored. */
mcx_parse_status mcx_soap_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                apr_size_t max, mcx_request *out, const char **why);

/* The first value of a field, NULL if absent. */
const char *mcx_field(const mcx_request *rq, const char *name);

/* --- writing ------------------------------------------------------------------------- */

typedef struct mcx_out mcx_out;

/* Starts <s:Envelope><s:Body><m:{element}> (element: "SignInResponse", ...). */
mcx_out *mcx_out_begin(apr_pool_t *p, const char *element);
/* <m:name>text</m:name> (text made XML-safe). */
void mcx_out_text(mcx_out *o, const char *name, const char *text);
/* <m:name ...: then attributes, optional text, and mcx_out_end. */
void mcx_out_start(mcx_out *o, const char *name);
void mcx_out_attr(mcx_out *o, const char *name, const char *value);   /* NULL: left out */
void mcx_out_content(mcx_out *o, const char *text);
void mcx_out_end(mcx_out *o);
/* Closes everything; NULL if any write failed. */
const char *mcx_out_finish(mcx_out *o, apr_size_t *len);

/* A SOAP 1.1 fault with detail <m:McxError><m:Code/><m:Status/></m:McxError> (Status
 * left out when 0). client: faultcode s:Client, else s:Server. */
const char *mcx_soap_fault(apr_pool_t *p, int client, const char *code, int status,
                           const char *message, apr_size_t *len);

#endif
