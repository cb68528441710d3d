/* mod_mcx's directives (docs/directives.md, mod_mcx). */
#ifndef MCX_CONFIG_H
#define MCX_CONFIG_H

#include <httpd.h>
#include <http_config.h>

typedef struct {
    int engine;                   /* Mcx: -1 unset (Off) */
    apr_uint32_t short_life;      /* McxSessionLifetime: AlwaysConnected, s (0: unset) */
    apr_uint32_t long_life;       /* PushCapable, s */
    apr_size_t max_request;       /* McxMaxRequestSize (0: unset) */
} mcx_server_conf;

#define MCX_DEFAULT_SHORT 3600u
#define MCX_DEFAULT_LONG  259200u
#define MCX_DEFAULT_MAX_REQUEST 65536u

extern module AP_MODULE_DECLARE_DATA mcx_module;
extern const command_rec mcx_cmds[];

void *mcx_create_server(apr_pool_t *p, server_rec *s);
void *mcx_merge_server(apr_pool_t *p, void *basev, void *addv);

/* Effective values (defaults applied). */
apr_uint32_t mcx_conf_short(const mcx_server_conf *c);
apr_uint32_t mcx_conf_long(const mcx_server_conf *c);
apr_size_t mcx_conf_max_request(const mcx_server_conf *c);

#endif
