/* mod_mcx: the legacy mobility service (MCX) for Lync 2010 mobile clients. At this stage
 * a loadable skeleton: /Mcx answers a SOAP fault until the MCX protocol lands. */
#include <string.h>
#include <strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#define MCXLOGNO(n) "MCX" #n ": "


typedef struct {
    int engine;   /* -1 unset */
} mcx_server_conf;

extern module AP_MODULE_DECLARE_DATA mcx_module;

static void *mcx_create_server(apr_pool_t *p, server_rec *s)
{
    mcx_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = -1;
    return c;
}

static void *mcx_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const mcx_server_conf *base = basev, *add = addv;
    mcx_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = add->engine != -1 ? add->engine : base->engine;
    return c;
}

static const char *set_engine(cmd_parms *cmd, void *d, int on)
{
    mcx_server_conf *c = ap_get_module_config(cmd->server->module_config, &mcx_module);

    c->engine = on;
    return NULL;
}

static int mcx_handler(request_rec *r)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
        "<faultcode>s:Server</faultcode><faultstring>The mobility service (MCX) is not "
        "available on this server yet.</faultstring></s:Fault></s:Body></s:Envelope>\n";
    const mcx_server_conf *c = ap_get_module_config(r->server->module_config, &mcx_module);

    if (c->engine != 1 || strncasecmp(r->uri, "/mcx/", 5) != 0) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, MCXLOGNO(00001)
                  "MCX request for %s: not implemented yet", r->uri);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    ap_set_content_type(r, "text/xml; charset=utf-8");
    ap_set_content_length(r, sizeof(body) - 1);
    ap_rwrite(body, sizeof(body) - 1, r);
    return OK;
}

static const command_rec mcx_cmds[] = {
    AP_INIT_FLAG("Mcx", set_engine, NULL, RSRC_CONF,
                 "On to serve /Mcx/McxService.svc on this site"),
    { NULL }
};

static void mcx_register_hooks(apr_pool_t *p)
{
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
