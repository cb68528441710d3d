/* push_probe: sends one notification (or --count of them, over one connection) with
 * common/push/push_*, and prints what happened as one JSON object on stdout. A driver for
 * test/integration/test_push_providers.py, and a manual check against real services.
 *
 *   push_probe vapid-keygen
 *   push_probe webpush --endpoint URL --p256dh B64 --auth B64 --subject mailto:...
 *                      (--vapid-private B64 | --vapid-pem FILE) [--allow-http] [--allow E]...
 *   push_probe apns --host HOST[:PORT] --topic BUNDLE --device HEX --key P8FILE
 *                   --key-id KID --team-id TEAM [--iat-offset SECONDS]
 *   push_probe fcm --service-account FILE --token REGTOKEN [--base-url URL]
 *                  [--access-token TOKEN]
 * and for every provider:
 *   [--ca FILE] [--timeout SECONDS] [--count N] [--refresh-on-auth]
 *   [--event E] [--conversation C] [--badge N] [--title T] [--body B] [--ttl N]
 *   [--urgency very-low|low|normal|high] [--background] [--data NAME=VALUE]...
 *
 * Output: {"provider":..., "exchanges":[{"what":"send"|"token", "status":N,
 * "result":"OK"|..., "retry_in":seconds, "reason":..., "body":..., "error":...,
 * "http_version":N, "new_connection":bool, "request":{"url":..., "headers":{...}}},
 * ...], "result": the last exchange's result}. Exit 0 when the exchanges ran (whatever
 * their result), 2 for a usage or setup error (printed as {"error":...}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <jansson.h>

#include "mob_json.h"
#include "push_crypto.h"
#include "push_jwt.h"
#include "push_provider.h"
#include "push_send.h"

typedef struct {
    const char *provider, *ca, *endpoint, *p256dh, *auth, *subject, *vapid_private, *vapid_pem;
    const char *host, *topic, *device, *key, *key_id, *team_id;
    const char *service_account, *token, *base_url, *access_token;
    int allow_http, count, refresh_on_auth, timeout;
    long iat_offset;
    apr_array_header_t *allow;
    push_notification n;
} options;

static int fail(const char *fmt, const char *arg)
{
    json_t *o;
    char buf[1024];

    snprintf(buf, sizeof(buf), fmt, arg ? arg : "");
    o = json_pack("{s:s}", "error", buf);
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
    return 2;
}

static const char *read_text(apr_pool_t *p, const char *path, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    if (apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS || fi.size > 1 << 20) {
        return NULL;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS && n != (apr_size_t)fi.size) {
        apr_file_close(f);
        return NULL;
    }
    apr_file_close(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static json_t *request_json(const push_http_request *r)
{
    json_t *h = json_object();
    const apr_array_header_t *arr = apr_table_elts(r->headers);
    int i;

    for (i = 0; i < arr->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(arr, i, apr_table_entry_t);
        json_object_set_new(h, e->key, json_string(e->val));
    }
    return json_pack("{s:s, s:s, s:o, s:I}", "method", r->method, "url", r->url, "headers", h,
                     "body_len", (json_int_t)r->body_len);
}

/* Sends r, records the exchange in out, returns its classification. */
static push_result exchange(apr_pool_t *p, push_sender *s, push_provider prov, const char *what,
                            const push_http_request *r, json_t *out, push_response *resp)
{
    apr_interval_time_t retry_in = 0;
    push_result res;
    json_t *x, *body;

    push_send(s, p, r, resp);
    res = push_classify(prov, resp->status, resp->body, resp->retry_after, apr_time_now(),
                        &retry_in);
    if (resp->address_refused) {
        res = PUSH_FAILED;      /* as the caller is told to do */
    }
    body = json_string(resp->body);     /* NULL when not UTF-8 */
    x = json_pack("{s:s, s:i, s:s, s:f, s:s?, s:o, s:s?, s:s?, s:s?, s:i, s:b, s:b, s:o}",
                  "what", what, "status", resp->status, "result", push_result_name(res),
                  "retry_in", (double)retry_in / APR_USEC_PER_SEC,
                  "reason", push_error_reason(p, prov, resp->body),
                  "body", body ? body : json_string("(not UTF-8)"),
                  "error", resp->error, "retry_after", resp->retry_after,
                  "apns_id", resp->apns_id, "http_version", resp->http_version,
                  "new_connection", resp->new_connection,
                  "address_refused", resp->address_refused, "request", request_json(r));
    json_array_append_new(out, x);
    return res;
}

static int parse_args(apr_pool_t *p, int argc, char **argv, options *o, const char **err)
{
    int i;

    memset(o, 0, sizeof(*o));
    o->count = 1;
    o->timeout = 10;
    o->allow = apr_array_make(p, 4, sizeof(const char *));
    o->n.event = "message";
    o->n.badge = -1;
    o->n.ttl = 60;
    o->n.urgency = PUSH_URGENCY_NORMAL;
    if (argc < 2) {
        *err = "usage: push_probe vapid-keygen|webpush|apns|fcm [options] (see the source)";
        return 0;
    }
    o->provider = argv[1];
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field) if (!strcmp(a, name)) { if (!v) goto missing; field = v; i++; continue; }
        OPT("--ca", o->ca)
        OPT("--endpoint", o->endpoint)
        OPT("--p256dh", o->p256dh)
        OPT("--auth", o->auth)
        OPT("--subject", o->subject)
        OPT("--vapid-private", o->vapid_private)
        OPT("--vapid-pem", o->vapid_pem)
        OPT("--host", o->host)
        OPT("--topic", o->topic)
        OPT("--device", o->device)
        OPT("--key", o->key)
        OPT("--key-id", o->key_id)
        OPT("--team-id", o->team_id)
        OPT("--service-account", o->service_account)
        OPT("--token", o->token)
        OPT("--base-url", o->base_url)
        OPT("--access-token", o->access_token)
        OPT("--event", o->n.event)
        OPT("--conversation", o->n.conversation)
        OPT("--title", o->n.title)
        OPT("--body", o->n.body)
#undef OPT
        if (!strcmp(a, "--allow")) {
            if (!v) goto missing;
            APR_ARRAY_PUSH(o->allow, const char *) = v;
            i++;
        }
        else if (!strcmp(a, "--data")) {
            const char *eq = v ? strchr(v, '=') : NULL;
            if (!eq) {
                *err = "--data wants NAME=VALUE";
                return 0;
            }
            if (!o->n.data) {
                o->n.data = apr_table_make(p, 4);
            }
            apr_table_set((apr_table_t *)o->n.data, apr_pstrndup(p, v, (apr_size_t)(eq - v)),
                          eq + 1);
            i++;
        }
        else if (!strcmp(a, "--badge") && v) { o->n.badge = atoi(v); i++; }
        else if (!strcmp(a, "--ttl") && v) { o->n.ttl = atoi(v); i++; }
        else if (!strcmp(a, "--count") && v) { o->count = atoi(v); i++; }
        else if (!strcmp(a, "--timeout") && v) { o->timeout = atoi(v); i++; }
        else if (!strcmp(a, "--iat-offset") && v) { o->iat_offset = atol(v); i++; }
        else if (!strcmp(a, "--urgency") && v) {
            if (push_urgency_parse(v, &o->n.urgency) != APR_SUCCESS) {
                *err = "--urgency: very-low, low, normal or high";
                return 0;
            }
            i++;
        }
        else if (!strcmp(a, "--allow-http")) { o->allow_http = 1; }
        else if (!strcmp(a, "--background")) { o->n.background = 1; }
        else if (!strcmp(a, "--refresh-on-auth")) { o->refresh_on_auth = 1; }
        else {
            *err = apr_psprintf(p, "unknown option or missing value: %s", a);
            return 0;
        }
        continue;
missing:
        *err = apr_psprintf(p, "%s needs a value", a);
        return 0;
    }
    if (o->count < 1 || o->count > 100) {
        *err = "--count: 1..100";
        return 0;
    }
    return 1;
}

static int vapid_keygen(apr_pool_t *p)
{
    push_key *k = NULL;
    unsigned char d[PUSH_P256_PRIVATE_LEN];
    json_t *o;

    if (push_key_generate_p256(p, &k) != APR_SUCCESS || push_key_p256_private(k, d) != APR_SUCCESS) {
        return fail("cannot generate a key%s", NULL);
    }
    o = json_pack("{s:s, s:s, s:s}", "public", push_b64url_encode(p, push_key_p256_public(k), 65),
                  "private", push_b64url_encode(p, d, sizeof(d)),
                  "public_pem", push_key_public_pem(p, k));
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
    return 0;
}

static push_key *load_key(apr_pool_t *p, const char *path, const char **why)
{
    apr_size_t len = 0;
    const char *pem = read_text(p, path, &len);
    push_key *k = NULL;

    if (!pem) {
        *why = apr_psprintf(p, "cannot read %s", path);
        return NULL;
    }
    return push_key_from_pem(p, pem, len, &k, why) == APR_SUCCESS ? k : NULL;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    options o;
    const char *err = NULL, *why = NULL;
    push_provider prov;
    push_send_options so;
    push_endpoint_policy policy;
    push_sender *sender = NULL;
    push_http_request *req = NULL;
    push_response resp;
    push_result res = PUSH_FAILED;
    json_t *exchanges, *out;
    int i, rc = 0;

    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS
        || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return 2;
    }
    if (!parse_args(p, argc, argv, &o, &err)) {
        return fail("%s", err);
    }
    if (!strcmp(o.provider, "vapid-keygen")) {
        return vapid_keygen(p);
    }
    if (push_provider_parse(o.provider, &prov) != APR_SUCCESS) {
        return fail("unknown provider %s", o.provider);
    }
    memset(&so, 0, sizeof(so));
    so.ca_file = o.ca;
    so.timeout = apr_time_from_sec(o.timeout);
    so.connect_timeout = apr_time_from_sec(o.timeout);
    policy.allow_http = o.allow_http;
    policy.allow = o.allow;
    if (prov == PUSH_PROVIDER_WEBPUSH) {
        so.address_policy = &policy;
    }
    if (push_sender_create(p, &so, &sender) != APR_SUCCESS) {
        return fail("cannot create a sender%s", NULL);
    }
    /* released with the pool, also on the early returns below */
    exchanges = mob_json_own(p, json_array());

    if (prov == PUSH_PROVIDER_WEBPUSH) {
        push_webpush_config cfg;
        push_webpush_subscription sub = { o.endpoint, o.p256dh, o.auth };
        push_key *k = NULL;

        if (o.vapid_private) {
            apr_size_t n = 0;
            unsigned char *d = push_b64url_decode(p, o.vapid_private, &n);
            if (!d || push_key_from_p256_private(p, d, n, &k) != APR_SUCCESS) {
                return fail("--vapid-private is not a P-256 private scalar%s", NULL);
            }
        }
        else if (o.vapid_pem && !(k = load_key(p, o.vapid_pem, &why))) {
            return fail("--vapid-pem: %s", why);
        }
        memset(&cfg, 0, sizeof(cfg));
        cfg.vapid_key = k;
        cfg.vapid_subject = o.subject;
        cfg.policy = &policy;
        for (i = 0; i < o.count; i++) {
            if (push_webpush_request(p, &cfg, &sub, &o.n, apr_time_now(), &req, &why)
                != APR_SUCCESS) {
                return fail("cannot build the request: %s", why);
            }
            res = exchange(p, sender, prov, "send", req, exchanges, &resp);
        }
    }
    else if (prov == PUSH_PROVIDER_APNS) {
        push_apns_config cfg;
        push_key *k;
        apr_time_t iat = apr_time_now() + apr_time_from_sec(o.iat_offset);

        if (!o.key || !(k = load_key(p, o.key, &why))) {
            return fail("--key: %s", why ? why : "missing");
        }
        memset(&cfg, 0, sizeof(cfg));
        cfg.host = o.host;
        cfg.topic = o.topic;
        cfg.provider_token = push_apns_provider_token(p, k, o.key_id, o.team_id, iat);
        if (!cfg.provider_token) {
            return fail("cannot sign the provider token (key id, team id?)%s", NULL);
        }
        for (i = 0; i < o.count; i++) {
            if (push_apns_request(p, &cfg, o.device, &o.n, apr_time_now(), &req, &why)
                != APR_SUCCESS) {
                return fail("cannot build the request: %s", why);
            }
            res = exchange(p, sender, prov, "send", req, exchanges, &resp);
            if (res == PUSH_AUTH && o.refresh_on_auth) {
                /* a fresh token, then once more */
                cfg.provider_token = push_apns_provider_token(p, k, o.key_id, o.team_id,
                                                              apr_time_now());
                push_apns_request(p, &cfg, o.device, &o.n, apr_time_now(), &req, &why);
                res = exchange(p, sender, prov, "send", req, exchanges, &resp);
            }
        }
    }
    else {
        push_service_account sa;
        push_fcm_config cfg;
        push_oauth_token tok;
        push_key *k = NULL;
        apr_size_t len = 0;
        const char *text = o.service_account ? read_text(p, o.service_account, &len) : NULL;
        int refreshed = 0;

        if (!text || push_service_account_parse(p, text, len, &sa, &why) != APR_SUCCESS) {
            return fail("--service-account: %s", why ? why : "cannot read it");
        }
        if (push_key_from_pem(p, sa.private_key, strlen(sa.private_key), &k, &why)
            != APR_SUCCESS) {
            return fail("private_key: %s", why);
        }
        memset(&cfg, 0, sizeof(cfg));
        cfg.base_url = o.base_url ? o.base_url : PUSH_FCM_BASE_URL;
        cfg.project_id = sa.project_id;
        cfg.access_token = o.access_token;
        for (i = 0; i < o.count; i++) {
            while (1) {
                if (!cfg.access_token) {
                    if (push_google_token_request(p, &sa, k, apr_time_now(), &req)
                        != APR_SUCCESS) {
                        return fail("cannot build the token request%s", NULL);
                    }
                    res = exchange(p, sender, prov, "token", req, exchanges, &resp);
                    if (res != PUSH_OK) {
                        break;
                    }
                    if (push_google_token_parse(p, resp.body, resp.body_len, apr_time_now(),
                                                &tok, &why) != APR_SUCCESS) {
                        json_object_set_new(json_array_get(exchanges,
                                                           json_array_size(exchanges) - 1),
                                            "parse_error", json_string(why));
                        res = PUSH_FAILED;
                        break;
                    }
                    json_object_set_new(json_array_get(exchanges, json_array_size(exchanges) - 1),
                                        "access_token", json_string(tok.access_token));
                    cfg.access_token = tok.access_token;
                }
                if (push_fcm_request(p, &cfg, o.token, &o.n, &req, &why) != APR_SUCCESS) {
                    return fail("cannot build the request: %s", why);
                }
                res = exchange(p, sender, prov, "send", req, exchanges, &resp);
                if (res == PUSH_AUTH && o.refresh_on_auth && !refreshed) {
                    refreshed = 1;
                    cfg.access_token = NULL;
                    continue;
                }
                break;
            }
        }
    }
    out = json_pack("{s:s, s:O, s:s}", "provider", push_provider_name(prov),
                    "exchanges", exchanges, "result", push_result_name(res));
    if (json_dumpf(out, stdout, JSON_COMPACT) != 0) {
        rc = 2;
    }
    putchar('\n');
    json_decref(out);
    apr_pool_destroy(p);
    curl_global_cleanup();
    apr_terminate();
    return rc;
}
