/* mod_ucwa: the UCWA REST API. At this stage a loadable skeleton: /ucwa answers
 * 503 ServiceUnavailable in UCWA's error format until the application store lands. */
#include <string.h>
#include <strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#define UCWALOGNO(n) "UCWA" #n ": "


typedef struct {
    int engine;   /* -1 unset */
} ucwa_server_conf;

extern module AP_MODULE_DECLARE_DATA ucwa_module;

static void *ucwa_create_server(apr_pool_t *p, server_rec *s)
{
    ucwa_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = -1;
    return c;
}

static void *ucwa_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const ucwa_server_conf *base = basev, *add = addv;
    ucwa_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = add->engine != -1 ? add->engine : base->engine;
    return c;
}

static const char *set_engine(cmd_parms *cmd, void *d, int on)
{
    ucwa_server_conf *c = ap_get_module_config(cmd->server->module_config, &ucwa_module);

    c->engine = on;
    return NULL;
}

static int ucwa_handler(request_rec *r)
{
    static const char body[] = "{\"code\":\"ServiceUnavailable\",\"message\":"
                               "\"UCWA applications are not available on this server yet.\"}";
    const ucwa_server_conf *c = ap_get_module_config(r->server->module_config, &ucwa_module);

    if (c->engine != 1 || strncasecmp(r->uri, "/ucwa/", 6) != 0) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00001) "UCWA request for %s: "
                  "not implemented yet", r->uri);
    r->status = HTTP_SERVICE_UNAVAILABLE;
    ap_set_content_type(r, "application/json; charset=utf-8");
    ap_set_content_length(r, sizeof(body) - 1);
    ap_rwrite(body, sizeof(body) - 1, r);
    return OK;
}

static const command_rec ucwa_cmds[] = {
    AP_INIT_FLAG("Ucwa", set_engine, NULL, RSRC_CONF, "On to serve /ucwa on this site"),
    { NULL }
};

static void ucwa_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(ucwa_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(ucwa) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    ucwa_create_server,
    ucwa_merge_server,
    ucwa_cmds,
    ucwa_register_hooks
};
