#include <httpd.h>
#include <string.h>
#include <curl/curl.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "mob_number.h"
#include "mod_ucwa.h"
#include "push_send.h"
#include "ucwa_config.h"
#include "ucwa_shm.h"
#include "ucwa_synth.h"
#include "ucwa_synthetic.h"
#include "ucwa_watchdog.h"

APLOG_USE_MODULE(ucwa);

#define CREDENTIALS_MAX 65536

struct ucwa_synthetic_conf {
    apr_uint32_t interval;             /* seconds */
    const char *user[2];
    const char *password[2];           /* read by ucwa_synthetic_check; never logged */
    const char *credentials;           /* the file */
    const char *discovery;
    const char *ca_file;
    apr_array_header_t *resolve;       /* "host:port:address" */
};

/* The schedule's state in the process that runs it. */
typedef struct {
    server_rec *s;
    push_sender *http;                 /* made on the first run, in the watchdog thread */
    apr_time_t next;                   /* when the next run is due (0: a second after start) */
} holder;

/* mod_watchdog first calls a callback one interval after the start: the schedule ticks
 * every TICK instead, so that the first run comes a second after the start, not after
 * UcwaSyntheticTransaction's interval (minutes, typically). */
#define TICK apr_time_from_sec(1)

static ucwa_synthetic_conf *conf_of(cmd_parms *cmd, const char **err)
{
    ucwa_global *g = ucwa_config_get(cmd->server)->global;

    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (*err) {
        return NULL;
    }
    if (!g->synthetic) {
        g->synthetic = apr_pcalloc(cmd->pool, sizeof(*g->synthetic));
        g->synthetic->resolve = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    return g->synthetic;
}

const char *ucwa_synthetic_set(cmd_parms *cmd, void *d, const char *interval,
                               const char *user1, const char *user2)
{
    const char *err;
    ucwa_synthetic_conf *c = conf_of(cmd, &err);
    apr_int64_t n;

    if (!err) err = mob_parse_number(cmd->pool, cmd->cmd->name, interval, 1, 86400, &n);
    if (err) return err;
    if (!strchr(user1, '@') || !strchr(user2, '@') || !strcasecmp(user1, user2)) {
        return "UcwaSyntheticTransaction: the test users are two different SIP addresses "
               "(user@domain)";
    }
    c->interval = (apr_uint32_t)n;
    c->user[0] = user1;
    c->user[1] = user2;
    return NULL;
}

const char *ucwa_synthetic_set_credentials(cmd_parms *cmd, void *d, const char *file)
{
    const char *err;
    ucwa_synthetic_conf *c = conf_of(cmd, &err);

    if (err) return err;
    c->credentials = ap_server_root_relative(cmd->pool, file);
    return NULL;
}

const char *ucwa_synthetic_set_discovery(cmd_parms *cmd, void *d, const char *url)
{
    const char *err;
    ucwa_synthetic_conf *c = conf_of(cmd, &err);

    if (err) return err;
    if (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7)) {
        return "UcwaSyntheticDiscovery: an https:// URL (lyncdiscover.<SIP domain>)";
    }
    c->discovery = url;
    return NULL;
}

const char *ucwa_synthetic_set_resolve(cmd_parms *cmd, void *d, const char *entry)
{
    const char *err, *port, *addr;
    ucwa_synthetic_conf *c = conf_of(cmd, &err);

    if (err) return err;
    port = strchr(entry, ':');
    addr = port ? strchr(port + 1, ':') : NULL;
    if (!port || port == entry || !addr || addr == port + 1 || !addr[1]
        || strspn(port + 1, "0123456789") != (apr_size_t)(addr - port - 1)) {
        return apr_pstrcat(cmd->pool, "UcwaSyntheticResolve: '", entry,
                           "' is not host:port:address", NULL);
    }
    APR_ARRAY_PUSH(c->resolve, const char *) = entry;
    return NULL;
}

const char *ucwa_synthetic_set_ca(cmd_parms *cmd, void *d, const char *file)
{
    const char *err;
    ucwa_synthetic_conf *c = conf_of(cmd, &err);

    if (err) return err;
    c->ca_file = ap_server_root_relative(cmd->pool, file);
    return NULL;
}

/* The passwords, from a file that only its owner (root) may read: what the server reads
 * as root before it gives up its privileges. */
static const char *read_credentials(apr_pool_t *pconf, apr_pool_t *ptemp,
                                    ucwa_synthetic_conf *c)
{
    apr_finfo_t fi;
    apr_file_t *f;
    apr_size_t len = CREDENTIALS_MAX;
    char *text;
    apr_status_t rv;
    int i;

    if (!c->credentials) {
        return "UcwaSyntheticTransaction needs UcwaSyntheticCredentials (the test users' "
               "passwords)";
    }
    rv = apr_stat(&fi, c->credentials, APR_FINFO_PROT | APR_FINFO_TYPE, ptemp);
    if (rv != APR_SUCCESS || fi.filetype != APR_REG) {
        return apr_pstrcat(ptemp, "UcwaSyntheticCredentials: cannot read ", c->credentials,
                           NULL);
    }
    if (fi.protection & (APR_GREAD | APR_GWRITE | APR_WREAD | APR_WWRITE)) {
        return apr_pstrcat(ptemp, "UcwaSyntheticCredentials: ", c->credentials,
                           " holds passwords and must be readable by its owner only "
                           "(chown root; chmod 600)", NULL);
    }
    text = apr_pcalloc(ptemp, CREDENTIALS_MAX + 1);
    if (apr_file_open(&f, c->credentials, APR_FOPEN_READ, 0, ptemp) != APR_SUCCESS) {
        return apr_pstrcat(ptemp, "UcwaSyntheticCredentials: cannot read ", c->credentials,
                           NULL);
    }
    rv = apr_file_read(f, text, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_pstrcat(ptemp, "UcwaSyntheticCredentials: cannot read ", c->credentials,
                           NULL);
    }
    text[len] = '\0';
    for (i = 0; i < 2; i++) {
        c->password[i] = ucwa_synth_password(pconf, text, c->user[i]);
        if (!c->password[i]) {
            return apr_pstrcat(ptemp, "UcwaSyntheticCredentials: ", c->credentials,
                               " has no line for ", c->user[i], NULL);
        }
    }
    memset(text, 0, len);
    return NULL;
}

int ucwa_synthetic_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    ucwa_synthetic_conf *c = ucwa_config_get(s)->global->synthetic;
    const char *err = NULL;

    if (!c) {
        return OK;
    }
    if (!c->interval) {
        err = "UcwaSynthetic* directives without UcwaSyntheticTransaction (the interval "
              "and the test users)";
    }
    if (!err) {
        err = read_credentials(pconf, ptemp, c);
    }
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00400) "%s", err);
        return !OK;
    }
    if (!c->discovery) {
        c->discovery = apr_pstrcat(pconf, "https://lyncdiscover.", strchr(c->user[0], '@') + 1,
                                   "/", NULL);
    }
    return OK;
}

/* --- one run ------------------------------------------------------------------------ */

static void http_exchange(void *baton, apr_pool_t *p, const char *method, const char *url,
                          const char *bearer, const char *content_type, const char *body,
                          ucwa_synth_answer *out)
{
    holder *h = baton;
    push_http_request rq;
    push_response resp;

    /* a stopping child ends the run, but still signs its test users out: their
     * applications would otherwise wait out the idle timeout (the new generation, or
     * the other Front Ends, answer the DELETE) */
    if (ucwa_watchdog_stopping() && strcmp(method, "DELETE")) {
        memset(out, 0, sizeof(*out));
        out->error = "the server is stopping";
        return;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.url = url;
    rq.headers = apr_table_make(p, 4);
    apr_table_setn(rq.headers, "Accept", "application/json");
    if (bearer) {
        apr_table_setn(rq.headers, "Authorization", apr_pstrcat(p, "Bearer ", bearer, NULL));
    }
    if (content_type) {
        apr_table_setn(rq.headers, "Content-Type", content_type);
    }
    rq.body = (const unsigned char *)body;
    rq.body_len = body ? strlen(body) : 0;
    push_send(h->http, p, &rq, &resp);
    /* a sign-out that met a graceful restart (the proxy's connection to a stopping child
     * closed: 502, or no answer) is tried again: the application would otherwise wait
     * out the idle timeout */
    for (int tries = 0; !strcmp(method, "DELETE") && tries < 4
                        && (resp.status == 0 || resp.status == 502 || resp.status == 503);
         tries++) {
        apr_sleep(apr_time_from_msec(250));
        push_send(h->http, p, &rq, &resp);
    }
    out->status = resp.status;
    out->body = resp.body;
    out->len = resp.body_len;
    out->www_authenticate = resp.www_authenticate;
    out->error = resp.error;
}

/* The run's result becomes the store's last one, which any child's /ucwa-status reads. */
static void keep_result_locked(ucwa_txn *t, void *json)
{
    apr_cpystrn(ucwa_store_synthetic_locked(t->store), json, UCWA_SYNTHETIC_MAX);
}

static void run(holder *h, apr_pool_t *p)
{
    server_rec *s = h->s;
    const ucwa_synthetic_conf *c = ucwa_config_get(s)->global->synthetic;
    ucwa_synth_params in;
    ucwa_synth_result r;
    const char *json;

    memset(&in, 0, sizeof(in));
    in.discovery = c->discovery;
    in.user[0] = c->user[0];
    in.user[1] = c->user[1];
    in.password[0] = c->password[0];
    in.password[1] = c->password[1];
    in.http = http_exchange;
    in.baton = h;
    ucwa_synth_run(p, &in, &r);
    if (ucwa_watchdog_stopping()) {
        return;   /* cut short by the stop: not a result (the next generation runs again) */
    }
    json = ucwa_synth_json(p, &r, c->user, c->interval, UCWA_SYNTHETIC_MAX);
    ucwa_txn_run(s, p, keep_result_locked, (void *)(json ? json : ""));
    /* a failure is an error: the hop fails for mobile clients too, and monitoring of the
     * error log alerts on errors; ALERT is kept for the server itself being unusable */
    if (r.ok) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, UCWALOGNO(00401)
                     "synthetic transaction %s and %s: %s", c->user[0], c->user[1],
                     ucwa_synth_summary(p, &r));
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00402)
                     "synthetic transaction %s and %s %s", c->user[0], c->user[1],
                     ucwa_synth_summary(p, &r));
    }
}

static apr_status_t synthetic_callback(int state, void *data, apr_pool_t *pool)
{
    holder *h = data;
    const ucwa_synthetic_conf *c = ucwa_config_get(h->s)->global->synthetic;
    push_send_options o;

    if (state != AP_WATCHDOG_STATE_RUNNING || apr_time_now() < h->next) {
        return APR_SUCCESS;
    }
    h->next = apr_time_now() + apr_time_from_sec(c->interval);
    if (!h->http) {
        memset(&o, 0, sizeof(o));
        o.ca_file = c->ca_file;
        o.connect_timeout = apr_time_from_sec(5);
        o.timeout = apr_time_from_sec(30);
        o.user_agent = "mod_ucwa synthetic transaction";
        o.resolve = c->resolve;
        /* from the watchdog thread's own pool: this call's pool is destroyed after it */
        if (push_sender_create(apr_pool_parent_get(pool), &o, &h->http) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, h->s, UCWALOGNO(00403)
                         "synthetic transaction: cannot create an HTTP client (libcurl)");
            h->http = NULL;
            return APR_SUCCESS;
        }
    }
    run(h, pool);
    return APR_SUCCESS;
}

int ucwa_synthetic_post_config(apr_pool_t *pconf, server_rec *s)
{
    const ucwa_synthetic_conf *c = ucwa_config_get(s)->global->synthetic;
    holder *h;

    if (!c) {
        return OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00404)
                     "synthetic transaction: libcurl cannot be initialised");
        return !OK;
    }
    h = apr_pcalloc(pconf, sizeof(*h));
    h->s = s;
    if (ucwa_watchdog_start(pconf, "ucwa-synthetic", TICK, h, synthetic_callback)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00405)
                     "synthetic transaction: cannot schedule it (mod_watchdog)");
        return !OK;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00406)
                 "synthetic transaction every %u s: %s and %s from %s", c->interval,
                 c->user[0], c->user[1], c->discovery);
    return OK;
}

const char *ucwa_synthetic_status_locked(apr_pool_t *p, server_rec *s, ucwa_store *st)
{
    const ucwa_synthetic_conf *c = ucwa_config_get(s)->global->synthetic;
    const char *last = ucwa_store_synthetic_locked(st);

    if (!c) {
        return "";
    }
    if (*last) {
        return apr_pstrcat(p, ",\"syntheticTransaction\":", last, NULL);
    }
    return apr_psprintf(p, ",\"syntheticTransaction\":{\"users\":[\"%s\",\"%s\"],"
                        "\"interval\":%u,\"result\":\"not run yet\"}",
                        ap_escape_quotes(p, c->user[0]), ap_escape_quotes(p, c->user[1]),
                        c->interval);
}
