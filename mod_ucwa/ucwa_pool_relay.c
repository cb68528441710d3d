#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mob_json.h"
#include "mod_autodiscover.h"
#include "mod_ucwa.h"
#include "push_send.h"
#include "ucwa_config.h"
#include "ucwa_http.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_relay.h"

APLOG_USE_MODULE(ucwa);

#define SEND_TIMEOUT apr_time_from_sec(5)

const char *ucwa_pool_link_set_peer(cmd_parms *cmd, void *d, const char *pool,
                                    const char *url, const char *address)
{
    const char *err;
    ucwa_global *g = ucwa_config_global(cmd, &err);
    ucwa_pool_peer *peer;
    apr_uri_t u;

    if (err) return err;
    if (!*pool || strchr(pool, '@') || strlen(pool) > 120) {
        return "UcwaPoolLink: the first argument is the other pool's FQDN";
    }
    if (apr_uri_parse(cmd->pool, url, &u) != APR_SUCCESS || !u.scheme
        || strcasecmp(u.scheme, "https") || !u.hostname) {
        return apr_pstrcat(cmd->pool, "UcwaPoolLink: '", url, "' is not an https:// URL",
                           NULL);
    }
    if (!g->pool_links) {
        g->pool_links = apr_array_make(cmd->pool, 2, sizeof(ucwa_pool_peer));
    }
    peer = apr_array_push(g->pool_links);
    peer->pool = pool;
    peer->url = apr_pstrdup(cmd->pool, url[strlen(url) - 1] == '/'
                                       ? apr_pstrndup(cmd->pool, url, strlen(url) - 1) : url);
    peer->resolve = address ? apr_psprintf(cmd->pool, "%s:%u:%s", u.hostname,
                                           u.port ? u.port : 443, address) : NULL;
    return NULL;
}

const char *ucwa_pool_link_set_key(cmd_parms *cmd, void *d, const char *file)
{
    const char *err, *path;
    ucwa_global *g = ucwa_config_global(cmd, &err);
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    if (err) return err;
    path = ap_server_root_relative(cmd->pool, file);
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, cmd->pool)
        != APR_SUCCESS || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        return apr_pstrcat(cmd->pool, "UcwaPoolLinkKeyFile: cannot read ", file, NULL);
    }
    if (fi.size < UCWA_POOL_LINK_KEY_MIN || fi.size > 4096) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "UcwaPoolLinkKeyFile: %s must hold %d to 4096 bytes",
                            file, UCWA_POOL_LINK_KEY_MIN);
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(cmd->pool, n);
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return apr_pstrcat(cmd->pool, "UcwaPoolLinkKeyFile: cannot read ", file, NULL);
    }
    apr_file_close(f);
    g->pool_link_key = (const unsigned char *)buf;
    g->pool_link_key_len = n;
    return NULL;
}

const char *ucwa_pool_link_set_ca(cmd_parms *cmd, void *d, const char *file)
{
    const char *err;
    ucwa_global *g = ucwa_config_global(cmd, &err);

    if (err) return err;
    g->pool_link_ca = ap_server_root_relative(cmd->pool, file);
    return NULL;
}

int ucwa_pool_link_post_config(apr_pool_t *pconf, server_rec *s)
{
    const ucwa_global *g = ucwa_config_get(s)->global;

    if (!g->pool_links || !g->pool_fe) {
        return OK;
    }
    if (!g->pool_link_key) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00431)
                     "pool: UcwaPoolLink needs UcwaPoolLinkKeyFile (the key the pools share)");
        return !OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00432)
                     "pool: libcurl cannot be initialised");
        return !OK;
    }
    return OK;
}

const char *ucwa_pool_link_self(server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(autodiscover_server_pool) *self =
        APR_RETRIEVE_OPTIONAL_FN(autodiscover_server_pool);

    return self ? self(s) : NULL;
}

static const ucwa_pool_peer *peer_of(const ucwa_global *g, const char *pool)
{
    int i;

    for (i = 0; g->pool_links && i < g->pool_links->nelts; i++) {
        const ucwa_pool_peer *peer = &APR_ARRAY_IDX(g->pool_links, i, ucwa_pool_peer);
        if (!strcasecmp(peer->pool, pool)) {
            return peer;
        }
    }
    return NULL;
}

static apr_status_t make_sender(apr_pool_t *keep, const ucwa_global *g, push_sender **out)
{
    push_send_options o;
    apr_array_header_t *resolve = apr_array_make(keep, 1, sizeof(const char *));
    int i;

    memset(&o, 0, sizeof(o));
    o.ca_file = g->pool_link_ca;
    o.timeout = SEND_TIMEOUT;
    o.connect_timeout = SEND_TIMEOUT;
    o.user_agent = "mod_ucwa-pool/1";
    for (i = 0; g->pool_links && i < g->pool_links->nelts; i++) {
        const ucwa_pool_peer *x = &APR_ARRAY_IDX(g->pool_links, i, ucwa_pool_peer);
        if (x->resolve) {
            APR_ARRAY_PUSH(resolve, const char *) = x->resolve;
        }
    }
    o.resolve = resolve;
    return push_sender_create(keep, &o, out);
}

/* POSTs body, signed, to path of peer, for Front End `to` there ("*": wherever). */
static apr_status_t post_signed(server_rec *s, apr_pool_t *p, push_sender *sender,
                                const ucwa_pool_peer *peer, const char *path, const char *to,
                                const char *body, push_response *resp)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    const char *self = ucwa_pool_link_self(s);
    const char *now = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_sec(apr_time_now()));
    push_http_request req;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = apr_pstrcat(p, peer->url, path, NULL);
    req.headers = apr_table_make(p, 6);
    apr_table_setn(req.headers, "Content-Type", "application/json");
    apr_table_setn(req.headers, "X-Ucwa-Pool-From", self);
    apr_table_setn(req.headers, "X-Ucwa-Pool-To", to);
    apr_table_setn(req.headers, "X-Ucwa-Pool-Time", now);
    apr_table_setn(req.headers, "X-Ucwa-Pool-Signature",
                   ucwa_pool_link_sign(p, g->pool_link_key, g->pool_link_key_len, self, to, now,
                                       body, strlen(body)));
    req.body = (const unsigned char *)body;
    req.body_len = strlen(body);
    return push_send(sender, p, &req, resp);
}

int ucwa_pool_link_send(server_rec *s, apr_pool_t *keep, apr_pool_t *p, void **state,
                        const char *target, const char *body, apr_size_t len,
                        const ucwa_pool_sdp *sdp, const char **why)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    const char *fe, *pool, *self = ucwa_pool_link_self(s), *out;
    const ucwa_pool_peer *peer;
    push_response resp;

    if (!ucwa_pool_link_split(p, target, &fe, &pool) || !self
        || (peer = peer_of(g, pool)) == NULL) {
        *why = apr_pstrcat(p, "no UcwaPoolLink to the pool of ", target, NULL);
        return -1;
    }
    if (!*fe) {
        fe = "*";   /* wherever the user is (an empty header would not be sent) */
    }
    if (!*state && make_sender(keep, g, (push_sender **)state) != APR_SUCCESS) {
        *why = "libcurl";
        return -1;
    }
    out = ucwa_pool_link_outgoing(p, body, len, self, sdp);
    if (!out) {
        *why = "not a message";
        return 1;   /* dropped: nothing to retry */
    }
    if (post_signed(s, p, *state, peer, UCWA_POOL_LINK_PATH, fe, out, &resp) != APR_SUCCESS) {
        *why = resp.error ? resp.error : "no answer";
        return -1;
    }
    if (resp.status != HTTP_NO_CONTENT) {
        *why = apr_psprintf(p, "%s answered %d", peer->url, resp.status);
        return resp.status >= 500 ? -1 : 1;   /* refused for good: dropped */
    }
    return 0;
}

int ucwa_pool_link_presence(request_rec *r, const char *sip, ucwa_pool_presence_in *out)
{
    const ucwa_global *g = ucwa_config_get(r->server)->global;
    const char *route = ucwa_pool_link_route(r, sip), *fe, *pool;
    const ucwa_pool_peer *peer;
    push_sender *sender;
    push_response resp;
    json_t *q;
    const char *body;

    if (!route || !ucwa_pool_link_split(r->pool, route, &fe, &pool)
        || (peer = peer_of(g, pool)) == NULL) {
        return 0;
    }
    if (make_sender(r->pool, g, &sender) != APR_SUCCESS) {
        return -1;
    }
    q = json_pack("{s:s}", "sip", sip);
    body = mob_json_dump(r->pool, q, NULL);
    json_decref(q);
    if (!body || post_signed(r->server, r->pool, sender, peer, UCWA_POOL_PRESENCE_PATH, "*",
                             body, &resp) != APR_SUCCESS || (resp.status != HTTP_OK
                                                             && resp.status != HTTP_NO_CONTENT)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, UCWALOGNO(00437)
                      "pool link: %s did not say where %s is (%s)", pool, sip,
                      resp.error ? resp.error : apr_itoa(r->pool, resp.status));
        return -1;
    }
    if (resp.status == HTTP_NO_CONTENT) {
        return 0;
    }
    return ucwa_pool_presence_parse(r->pool, resp.body, resp.body_len, out) == 0;
}

const char *ucwa_pool_link_route(request_rec *r, const char *user)
{
    APR_OPTIONAL_FN_TYPE(autodiscover_home_pool) *home_pool =
        APR_RETRIEVE_OPTIONAL_FN(autodiscover_home_pool);
    const ucwa_global *g = ucwa_config_get(r->server)->global;
    const char *home = NULL, *self = ucwa_pool_link_self(r->server);

    if (!g->pool_links || !home_pool || !self || home_pool(r, user, &home) != OK || !home
        || !strcasecmp(home, self) || !peer_of(g, home)) {
        return NULL;
    }
    return apr_pstrcat(r->pool, "@", home, NULL);
}

int ucwa_pool_invitee_fes(request_rec *r, const char *sip, apr_array_header_t **fes)
{
    const char *route;

    if (ucwa_pool_user_fes(r, sip, fes) != 0) {
        return -1;
    }
    if ((*fes)->nelts == 0 && (route = ucwa_pool_link_route(r, sip)) != NULL) {
        APR_ARRAY_PUSH(*fes, const char *) = route;
    }
    return 0;
}

static int refuse(request_rec *r, int status, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, UCWALOGNO(00433)
                  "pool link: refused a message from %s: %s",
                  r->useragent_ip ? r->useragent_ip : "?", why);
    return status;
}

/* The presence another pool asks for: this pool's newest of sip, and a watch, so that
 * what changes is relayed there for a while. */
static int presence_asked(request_rec *r, const char *from, const char *body, apr_size_t len)
{
    json_t *q = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *sip = json_string_value(json_object_get(q, "sip")), *found = NULL;
    int rv;

    if (!sip || !*sip || strlen(sip) >= 256) {
        json_decref(q);
        return refuse(r, HTTP_BAD_REQUEST, "a presence question without a SIP address");
    }
    sip = apr_pstrdup(r->pool, sip);
    json_decref(q);
    rv = ucwa_pool_watch(r, sip, from, &found);
    if (rv < 0) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!found) {
        return HTTP_NO_CONTENT;
    }
    ap_set_content_type(r, "application/json");
    ap_rputs(found, r);
    return OK;
}

int ucwa_pool_link_handler(request_rec *r)
{
    const ucwa_global *g = ucwa_config_get(r->server)->global;
    const char *from = apr_table_get(r->headers_in, "X-Ucwa-Pool-From");
    const char *to = apr_table_get(r->headers_in, "X-Ucwa-Pool-To");
    const char *time = apr_table_get(r->headers_in, "X-Ucwa-Pool-Time");
    const char *sig = apr_table_get(r->headers_in, "X-Ucwa-Pool-Signature");
    const char *self = ucwa_pool_link_self(r->server), *why = NULL;
    int presence = !strcmp(r->uri, UCWA_POOL_PRESENCE_PATH);
    ucwa_pool_link_in in;
    char *body = NULL;
    apr_size_t len = 0;

    if (!g->pool_fe || !g->pool_links || !g->pool_link_key || !self
        || (!presence && strcmp(r->uri, UCWA_POOL_LINK_PATH))) {
        return HTTP_NOT_FOUND;
    }
    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (ucwa_http_read_body(r, UCWA_POOL_LINK_BODY_MAX, &body, &len) != APR_SUCCESS) {
        return refuse(r, HTTP_BAD_REQUEST, "no body, or too long");
    }
    if (!from || !to || !peer_of(g, from) || strchr(to, '@') || strlen(to) > 63
        || !ucwa_pool_link_verify(r->pool, g->pool_link_key, g->pool_link_key_len, from, to,
                                  time, body, len, sig,
                                  (long long)apr_time_sec(apr_time_now()))) {
        return refuse(r, HTTP_FORBIDDEN, "not signed by a pool this one links to");
    }
    if (presence) {
        return presence_asked(r, from, body, len);
    }
    if (ucwa_pool_link_incoming(r->pool, body, len, self, from, &in) != 0) {
        return refuse(r, HTTP_BAD_REQUEST, "not a message of a pool");
    }
    /* a call's description first, under this pool's fresh key: committed before the
     * message that names it can be read */
    if (in.sdp.len && ucwa_pool_sdp_put_key(r, in.sdp_key, in.sdp.ctype, in.sdp.body,
                                            in.sdp.len) != 0) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (ucwa_pool_deliver(r, strcmp(to, "*") ? to : "", &in, &why) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00434)
                      "pool link: a message from %s could not be delivered: %s", from, why);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (in.sdp_bad) {
        /* delivered without it, as a message whose description is not in the pool's
         * table: the call ends at once there (an invitation answered gone, an accepter
         * told to leave), it does not wait for a clock */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, UCWALOGNO(00600)
                      "pool link: a call's message (%s) from %s came without a usable "
                      "session description: %s (delivered without it)", in.kind, from,
                      in.sdp_bad);
        return HTTP_BAD_REQUEST;
    }
    return HTTP_NO_CONTENT;
}
