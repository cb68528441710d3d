/* One blocking HTTP exchange with a push provider, through libcurl's easy API: sends a
 * push_http_request (push_provider.h) and returns what came back, for push_classify().
 *
 * The process must call curl_global_init(CURL_GLOBAL_DEFAULT) once before the first
 * push_sender_create (in an Apache module: in post_config or child_init, before any
 * thread exists) and curl_global_cleanup once at the end; nothing here does.
 *
 * A push_sender keeps one CURL handle, so consecutive sends to the same host reuse the
 * connection (TLS session, HTTP/2 connection). A sender is for one thread at a time:
 * give each worker thread its own. */
#ifndef PUSH_SEND_H
#define PUSH_SEND_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "push_provider.h"

#define PUSH_RESPONSE_MAX 16384      /* bytes of a response body kept; the rest is dropped */
#define PUSH_CONNECT_TIMEOUT_DEFAULT apr_time_from_sec(10)
#define PUSH_TIMEOUT_DEFAULT         apr_time_from_sec(30)

typedef struct {
    const char *ca_file;                  /* PEM bundle to trust; NULL: the system's */
    apr_interval_time_t connect_timeout;  /* 0: PUSH_CONNECT_TIMEOUT_DEFAULT */
    apr_interval_time_t timeout;          /* the whole exchange; 0: PUSH_TIMEOUT_DEFAULT */
    const char *proxy;                    /* proxy URL; NULL: none (http_proxy and the
                                           * like in the environment are ignored) */
    /* When not NULL, every address the sender connects to must pass
     * push_address_allowed() (with a proxy, that is the proxy's address). Against names
     * that resolve to, or are rebound to, internal addresses: use it for WebPush. */
    const push_endpoint_policy *address_policy;
    const char *user_agent;               /* NULL: "mobility-push/1" */
    /* "host:port:address" entries (curl's --resolve) that replace DNS for those names;
     * NULL: none. The synthetic transaction reaches the reverse proxy this way. */
    const apr_array_header_t *resolve;
} push_send_options;

typedef struct push_sender push_sender;

typedef struct {
    int status;                /* the HTTP status; 0 when no complete answer came */
    const char *body;          /* NUL-terminated, never NULL ("" when none) */
    apr_size_t body_len;       /* at most PUSH_RESPONSE_MAX */
    int body_truncated;        /* the body was longer: the rest was dropped */
    const char *retry_after;   /* the Retry-After header, or NULL */
    const char *apns_id;       /* the apns-id header, or NULL */
    const char *www_authenticate;   /* the WWW-Authenticate header, or NULL */
    const char *error;         /* NULL after a complete exchange, else why it failed */
    int http_version;          /* 1 (HTTP/1.x) or 2; 0 when no answer */
    int new_connection;        /* non-zero when this exchange opened a new connection */
    int address_refused;       /* address_policy refused the peer: not worth a retry */
} push_response;

/* A sender with options opt (NULL: defaults; the strings are copied). Its CURL handle is
 * cleaned up by a cleanup of p. APR_SUCCESS, or APR_EGENERAL when curl_easy_init
 * fails (curl_global_init not called?). */
apr_status_t push_sender_create(apr_pool_t *p, const push_send_options *opt,
                                push_sender **out);

/* Sends req and waits for the answer (at most the timeout). Redirects are never
 * followed; only http and https URLs are used; "Expect: 100-continue" is never sent.
 * HTTP/2 is offered over TLS (ALPN); when req->http2_required and the server answered
 * with HTTP/1.x, the exchange counts as failed (status 0, error set).
 * *resp is filled in p in every case. APR_SUCCESS when an HTTP answer came (whatever its
 * status); APR_EINVAL for a request that cannot be sent (a header with CR or LF, no
 * URL); APR_EGENERAL when no answer came (connection, TLS, timeout: resp->error says). */
apr_status_t push_send(push_sender *sender, apr_pool_t *p, const push_http_request *req,
                       push_response *resp);

#endif
