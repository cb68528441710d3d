/* Media relays for calls (ucwa_media_relay.h). */
#include <httpd.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_autodiscover.h"
#include "mod_ucwa.h"
#include "mob_number.h"
#include "ucwa_app.h"
#include "ucwa_media_relay.h"
#include "ucwa_turn.h"

APLOG_USE_MODULE(ucwa);

const char *ucwa_media_relay_set_server(cmd_parms *cmd, void *d, const char *args)
{
    const char *err, *host, *udp, *tcp;
    ucwa_global *g = ucwa_config_global(cmd, &err);
    ucwa_turn_server *s;

    if (err) return err;
    host = ap_getword_conf(cmd->temp_pool, &args);
    udp = ap_getword_conf(cmd->temp_pool, &args);
    tcp = ap_getword_conf(cmd->temp_pool, &args);
    if (!*host || *args) {
        return "UcwaTurnServer takes a host, and optionally its UDP and TCP ports";
    }
    if (!g->turn_servers) {
        g->turn_servers = apr_array_make(cmd->pool, 2, sizeof(ucwa_turn_server));
    }
    s = apr_array_push(g->turn_servers);
    return ucwa_turn_server_parse(cmd->pool, host, *udp ? udp : NULL, *tcp ? tcp : NULL, s);
}

const char *ucwa_media_relay_set_secret(cmd_parms *cmd, void *d, const char *v)
{
    const char *err, *text = v;
    ucwa_global *g = ucwa_config_global(cmd, &err);
    apr_size_t len = strlen(v);

    if (err) return err;
    if (cmd->info && (text = ucwa_config_read_file(cmd, v, 4096, &len, &err)) == NULL) {
        return err;
    }
    g->turn_secret = ucwa_turn_secret_parse(cmd->pool, text, len, &err);
    return g->turn_secret ? NULL : apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
}

const char *ucwa_media_relay_set_lifetime(cmd_parms *cmd, void *d, const char *v)
{
    const char *err;
    ucwa_global *g = ucwa_config_global(cmd, &err);
    apr_int64_t n;

    if (!err) err = mob_parse_number(cmd->pool, cmd->cmd->name, v, 1, UCWA_TURN_MINUTES_MAX, &n);
    if (err) return err;
    g->turn_minutes = (unsigned)n;
    return NULL;
}

const char *ucwa_media_relay_check(apr_pool_t *p, const ucwa_global *g)
{
    if (g->turn_servers && !g->turn_secret) {
        return "UcwaTurnServer needs the secret the TURN servers share: UcwaTurnSecretFile "
               "(or UcwaTurnSecret)";
    }
    if (g->turn_secret && !g->turn_servers) {
        return "UcwaTurnSecret(File) is set but no UcwaTurnServer: say which TURN servers "
               "the credentials are for";
    }
    return NULL;
}

int ucwa_media_relay_on(const ucwa_global *g)
{
    return g->turn_servers && g->turn_secret;
}

int ucwa_media_relay_offered(const ucwa_global *g, const ucwa_app *a)
{
    return ucwa_media_relay_on(g)
           && ucwa_app_policy(g, a->policy_tag)->enable_ip_audio_video;
}

/* The web site the request came in on: 1 external (also when the virtual host names
 * none: the client may be anywhere), 0 internal. */
static int external(request_rec *r)
{
    APR_OPTIONAL_FN_TYPE(autodiscover_site) *site = APR_RETRIEVE_OPTIONAL_FN(autodiscover_site);

    return !site || site(r) != 0;
}

int ucwa_media_relay_token(ucwa_req *q, int what)
{
    const ucwa_global *g = q->conf->global;
    ucwa_turn_token t;
    ucwa_app copy;
    apr_status_t st;
    int rv;

    if (!ucwa_media_relay_on(g)) {
        /* as for a path that names nothing (any method): no relay is offered */
        return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                               "There is no such resource.");
    }
    if (q->r->method_number != M_GET) {
        apr_table_setn(q->r->err_headers_out, "Allow", "GET");
        return ucwa_http_error(q, HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed", NULL,
                               "This resource answers GET.");
    }
    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    if (!ucwa_app_policy(g, copy.policy_tag)->enable_ip_audio_video) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00500)
                      "%s: no media relay: EnableIPAudioVideo is off in the user's mobility "
                      "policy", q->user);
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                               "Your mobility policy does not allow audio and video calls.");
    }
    st = ucwa_turn_mint(q->r->pool, g->turn_secret, q->user, apr_time_now(),
                        g->turn_minutes ? g->turn_minutes : UCWA_TURN_MINUTES_DEFAULT, &t);
    if (st != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, st, q->r, UCWALOGNO(00501)
                      "%s: cannot mint TURN credentials for this user name", q->user);
        return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                               "No media relay credentials could be made.");
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r, UCWALOGNO(00502)
                  "%s: TURN credentials valid until %" APR_TIME_T_FMT, q->user,
                  apr_time_sec(t.valid_until));
    return ucwa_http_resource(q, HTTP_OK, ucwa_turn_render(
        q->r->pool, &t, q->user, (const ucwa_turn_server *)g->turn_servers->elts,
        g->turn_servers->nelts, external(q->r), copy.base));
}

int ucwa_media_relay_policies(ucwa_req *q, int what)
{
    ucwa_app copy;
    int rv;

    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    return ucwa_http_resource(q, HTTP_OK, ucwa_turn_media_policies(
        q->r->pool, ucwa_app_policy(q->conf->global, copy.policy_tag)->enable_ip_audio_video,
        copy.base));
}
