#include <stdlib.h>
#include <apr_strings.h>

#include "mcx_config.h"

void *mcx_create_server(apr_pool_t *p, server_rec *s)
{
    mcx_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = -1;
    return c;
}

void *mcx_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const mcx_server_conf *base = basev, *add = addv;
    mcx_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = add->engine != -1 ? add->engine : base->engine;
    c->short_life = add->short_life ? add->short_life : base->short_life;
    c->long_life = add->long_life ? add->long_life : base->long_life;
    c->max_request = add->max_request ? add->max_request : base->max_request;
    return c;
}

apr_uint32_t mcx_conf_short(const mcx_server_conf *c)
{
    return c->short_life ? c->short_life : MCX_DEFAULT_SHORT;
}

apr_uint32_t mcx_conf_long(const mcx_server_conf *c)
{
    return c->long_life ? c->long_life : MCX_DEFAULT_LONG;
}

apr_size_t mcx_conf_max_request(const mcx_server_conf *c)
{
    return c->max_request ? c->max_request : MCX_DEFAULT_MAX_REQUEST;
}

static mcx_server_conf *conf_of(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &mcx_module);
}

static const char *set_engine(cmd_parms *cmd, void *d, int on)
{
    conf_of(cmd)->engine = on;
    return NULL;
}

/* A whole number in [lo, hi], or NULL. */
static const char *number(cmd_parms *cmd, const char *v, apr_int64_t lo, apr_int64_t hi,
                          apr_int64_t *out)
{
    char *end;
    apr_int64_t n = apr_strtoi64(v, &end, 10);

    if (!*v || *end || n < lo || n > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT, cmd->cmd->name, v, lo, hi);
    }
    *out = n;
    return NULL;
}

static const char *set_lifetime(cmd_parms *cmd, void *d, const char *s, const char *l)
{
    apr_int64_t a = 0, b = 0;
    const char *err;

    /* Set-CsMcxConfiguration takes 120 to 4294967295 s; shorter ones are for tests */
    if ((err = number(cmd, s, 1, 4294967295LL, &a)) != NULL
        || (err = number(cmd, l, 1, 4294967295LL, &b)) != NULL) {
        return err;
    }
    if (b <= a) {
        return "McxSessionLifetime: the push-capable lifetime (second) must be longer than "
               "the always-connected one (first), as Set-CsMcxConfiguration requires";
    }
    conf_of(cmd)->short_life = (apr_uint32_t)a;
    conf_of(cmd)->long_life = (apr_uint32_t)b;
    return NULL;
}

static const char *set_max_request(cmd_parms *cmd, void *d, const char *v)
{
    apr_int64_t n = 0;
    const char *err = number(cmd, v, 1024, 1048576, &n);

    if (!err) {
        conf_of(cmd)->max_request = (apr_size_t)n;
    }
    return err;
}

const command_rec mcx_cmds[] = {
    AP_INIT_FLAG("Mcx", set_engine, NULL, RSRC_CONF,
                 "On to serve the MCX mobility service (Lync 2010 mobile clients) on this "
                 "site; Off (the default, as in Skype for Business Server 2019) tells them "
                 "to upgrade"),
    AP_INIT_TAKE2("McxSessionLifetime", set_lifetime, NULL, RSRC_CONF,
                  "seconds an always-connected and a push-capable session live without "
                  "activity (default 3600 259200)"),
    AP_INIT_TAKE1("McxMaxRequestSize", set_max_request, NULL, RSRC_CONF,
                  "largest MCX request body in bytes (default 65536)"),
    { NULL }
};
