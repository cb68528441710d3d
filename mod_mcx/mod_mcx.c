/* mod_mcx: the legacy mobility service (MCX) for Lync 2010 mobile clients, at
 * /Mcx/McxService.svc. It speaks our versioned MCX protocol (docs/mcx-protocol.md) and
 * keeps no state of its own: every operation is done by mod_ucwa's core through internal
 * requests (mod_ucwa_core.h), so an MCX session is a UCWA application. */
#include <string.h>
#include <strings.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mcx_config.h"
#include "mcx_ops.h"
#include "mcx_req.h"
#include "mcx_wsdl.h"
#include "mod_ucwa_core.h"


#define SVC "/mcx/mcxservice.svc"

static int session_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    return n > 0 && n <= 20 && strspn(id, "0123456789") == n;
}

/* The request headers of the UCWA calls: the client's credentials (Authorization, or
 * the ticket in X-MS-WebTicket) and JSON. */
static apr_table_t *call_headers(request_rec *r)
{
    apr_table_t *h = apr_table_make(r->pool, 4);
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const char *ticket = apr_table_get(r->headers_in, "X-MS-WebTicket");
    const char *host = apr_table_get(r->headers_in, "Host");

    if (auth) {
        apr_table_setn(h, "Authorization", auth);
    }
    else if (ticket && *ticket && !strpbrk(ticket, " \t,")) {
        apr_table_setn(h, "Authorization", apr_pstrcat(r->pool, "Bearer ", ticket, NULL));
    }
    if (host) {
        apr_table_setn(h, "Host", host);
    }
    apr_table_setn(h, "Accept", "application/json");
    return h;
}

static int serve_operation(mcx_req *m)
{
    request_rec *r = m->r;
    APR_OPTIONAL_FN_TYPE(ucwa_core_read_body) *read_body =
        APR_RETRIEVE_OPTIONAL_FN(ucwa_core_read_body);
    const mcx_op *op;
    const char *why = "";
    char *body = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return mcx_fault(m, HTTP_METHOD_NOT_ALLOWED, "BadRequest", 405,
                         "MCX operations are sent with POST (the metadata is at /mex).");
    }
    rv = read_body ? read_body(r, mcx_conf_max_request(m->conf), &body, &len) : APR_ENOTIMPL;
    if (rv == APR_ENOSPC) {
        return mcx_fault(m, HTTP_REQUEST_ENTITY_TOO_LARGE, "RequestTooLarge", 0,
                         "The request is too large.");
    }
    if (rv != APR_SUCCESS) {
        return mcx_fault(m, HTTP_BAD_REQUEST, "BadRequest", 0,
                         "The request body could not be read.");
    }
    switch (mcx_soap_parse(r->pool, body, len, mcx_conf_max_request(m->conf), &m->in, &why)) {
    case MCX_PARSE_OK:
        break;
    case MCX_PARSE_TOO_LARGE:
        return mcx_fault(m, HTTP_REQUEST_ENTITY_TOO_LARGE, "RequestTooLarge", 0,
                         "The request is too large.");
    case MCX_PARSE_XML_REFUSED:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "XmlNotAllowed", 0,
                         apr_pstrcat(r->pool, "The request was refused: ", why, ".", NULL));
    case MCX_PARSE_VERSION:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "VersionNotSupported", 0,
                         "This server speaks MCX version 1 (urn:mobility-httpd:mcx:1).");
    default:
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "BadRequest", 0,
                         apr_pstrcat(r->pool, "The request is not a valid MCX request: ", why,
                                     ".", NULL));
    }
    if ((op = mcx_op_find(m->in.op)) == NULL) {
        m->in.op = NULL;   /* never log a name the client made up */
        return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "UnknownOperation", 0,
                         "MCX version 1 has no such operation.");
    }
    if (op->session) {
        m->session = mcx_field(&m->in, "SessionId");
        if (!m->session || !*m->session) {
            return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "InvalidParameter", 0,
                             "SessionId is required.");
        }
        if (!session_ok(m->session)) {
            /* the same answer as for a session of someone else */
            return mcx_fault(m, HTTP_INTERNAL_SERVER_ERROR, "SessionNotFound", 404,
                             "There is no such session. Sign in again.");
        }
        m->app = apr_pstrcat(r->pool, MCX_APPS, "/", m->session, NULL);
    }
    m->headers = call_headers(r);
    return op->fn(m);
}

static int mcx_handler(request_rec *r)
{
    const mcx_server_conf *c = ap_get_module_config(r->server->module_config, &mcx_module);
    size_t n = strlen(SVC);
    const char *rest;
    mcx_req m;

    if (!r->handler || strcmp(r->handler, "mcx")) {
        return DECLINED;
    }
    memset(&m, 0, sizeof(m));
    m.r = r;
    m.conf = c;
    if (c->engine != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MCXLOGNO(00001)
                      "MCX request refused: Mcx is Off on this site (2019 mode)");
        return mcx_fault(&m, HTTP_INTERNAL_SERVER_ERROR, "McxDisabled", 0,
                         "This server no longer supports Lync 2010 mobile clients. Install "
                         "the current Skype for Business app from your device's app store "
                         "and sign in with it.");
    }
    rest = r->uri + n;
    if (!*rest && r->args && !strcasecmp(r->args, "wsdl")) {
        rest = "/mex";
    }
    if (!strcasecmp(rest, "/mex")) {
        apr_size_t len = 0;
        const char *doc;
        if (r->method_number != M_GET) {
            apr_table_setn(r->err_headers_out, "Allow", "GET");
            return HTTP_METHOD_NOT_ALLOWED;
        }
        doc = mcx_wsdl(r->pool, ap_construct_url(r->pool, "/Mcx/McxService.svc", r), &len);
        ap_set_content_type(r, "text/xml; charset=utf-8");
        ap_set_content_length(r, (apr_off_t)len);
        if (!r->header_only) {
            ap_rwrite(doc, (int)len, r);
        }
        return OK;
    }
    if (*rest) {
        return HTTP_NOT_FOUND;
    }
    return serve_operation(&m);
}

/* /Mcx/McxService.svc[/...] (any case) is ours on every site where the module is
 * loaded: with Mcx Off it answers McxDisabled, so old clients learn why. */
static int mcx_translate(request_rec *r)
{
    size_t n = strlen(SVC);

    if (strncasecmp(r->uri, SVC, n) || (r->uri[n] && r->uri[n] != '/')) {
        return DECLINED;
    }
    r->handler = "mcx";
    return DECLINED;   /* other modules may still map the file name */
}

static int mcx_map_to_storage(request_rec *r)
{
    return (r->handler && !strcmp(r->handler, "mcx")) ? OK : DECLINED;
}

static int mcx_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                           server_rec *s)
{
    server_rec *v;

    for (v = s; v; v = v->next) {
        const mcx_server_conf *c = ap_get_module_config(v->module_config, &mcx_module);
        if (c->engine == 1 && !APR_RETRIEVE_OPTIONAL_FN(ucwa_core_call)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MCXLOGNO(00002)
                         "Mcx On needs mod_ucwa (LoadModule ucwa_module) and Ucwa On on the "
                         "same site: MCX sessions are UCWA applications");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static void mcx_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(mcx_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(mcx_translate, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(mcx_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(mcx_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(mcx) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    mcx_create_server,
    mcx_merge_server,
    mcx_cmds,
    mcx_register_hooks
};
