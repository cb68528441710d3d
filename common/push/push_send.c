#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "push_send.h"

struct push_sender {
    CURL *curl;                        /* freed by the cleanup of the creating pool */
    const char *ca_file, *proxy, *user_agent;
    long connect_ms, total_ms;
    const push_endpoint_policy *policy;
    const apr_array_header_t *resolve;
};

/* What one exchange collects through the callbacks. */
typedef struct {
    apr_pool_t *p;
    const push_endpoint_policy *policy;
    char *buf;
    apr_size_t len;
    int truncated;
    const char *retry_after, *apns_id, *www_authenticate;
    int refused;
} exchange;

static apr_status_t curl_release(void *data)
{
    curl_easy_cleanup(data);
    return APR_SUCCESS;
}

static long to_ms(apr_interval_time_t t, apr_interval_time_t dflt)
{
    return (long)((t > 0 ? t : dflt) / 1000);
}

apr_status_t push_sender_create(apr_pool_t *p, const push_send_options *opt,
                                push_sender **out)
{
    push_sender *s = apr_pcalloc(p, sizeof(*s));
    push_send_options none;

    if (!opt) {
        memset(&none, 0, sizeof(none));
        opt = &none;
    }
    s->curl = curl_easy_init();
    if (!s->curl) {
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, s->curl, curl_release, apr_pool_cleanup_null);
    s->ca_file = opt->ca_file ? apr_pstrdup(p, opt->ca_file) : NULL;
    s->proxy = opt->proxy ? apr_pstrdup(p, opt->proxy) : NULL;
    s->user_agent = apr_pstrdup(p, opt->user_agent ? opt->user_agent : "mobility-push/1");
    s->connect_ms = to_ms(opt->connect_timeout, PUSH_CONNECT_TIMEOUT_DEFAULT);
    s->total_ms = to_ms(opt->timeout, PUSH_TIMEOUT_DEFAULT);
    s->policy = opt->address_policy;
    s->resolve = opt->resolve ? apr_array_copy(p, opt->resolve) : NULL;
    *out = s;
    return APR_SUCCESS;
}

/* Keeps the first PUSH_RESPONSE_MAX bytes and swallows the rest: failing the transfer
 * instead would lose the status of an answer that did come. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    exchange *x = arg;
    size_t n = size * nmemb, room = PUSH_RESPONSE_MAX - x->len;

    if (n > room) {
        x->truncated = 1;
    }
    memcpy(x->buf + x->len, data, n < room ? n : room);
    x->len += n < room ? n : room;
    return n;
}

static const char *header_value(apr_pool_t *p, const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    const char *v, *end = line + n;

    if (n <= k || line[k] != ':' || strncasecmp(line, name, k)) {
        return NULL;
    }
    v = line + k + 1;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '
                       || end[-1] == '\t')) {
        end--;
    }
    return apr_pstrmemdup(p, v, (apr_size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
    exchange *x = arg;
    size_t n = size * nitems;
    const char *v;

    /* a new status line (after a 1xx answer): forget the headers of the one before */
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        x->retry_after = x->apns_id = x->www_authenticate = NULL;
    }
    else if ((v = header_value(x->p, line, n, "www-authenticate"))) {
        x->www_authenticate = v;
    }
    else if ((v = header_value(x->p, line, n, "retry-after"))) {
        x->retry_after = v;
    }
    else if ((v = header_value(x->p, line, n, "apns-id"))) {
        x->apns_id = v;
    }
    return n;
}

/* The address check: the socket is only made for addresses the policy allows. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose,
                                    struct curl_sockaddr *a)
{
    exchange *x = arg;
    const void *ip = NULL;
    int ok;

    if (a->family == AF_INET) {
        ip = &((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
    }
    else if (a->family == AF_INET6) {
        ip = &((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr;
    }
    ok = ip && push_address_allowed(x->policy, a->family, ip);
    if (!ok) {
        x->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static int header_safe(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

apr_status_t push_send(push_sender *s, apr_pool_t *p, const push_http_request *req,
                       push_response *resp)
{
    CURL *c = s->curl;
    struct curl_slist *hdrs = NULL, *more, *resolve = NULL;
    char errbuf[CURL_ERROR_SIZE];
    exchange x;
    CURLcode cc;
    long status = 0, version = 0, connects = 0;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i, bad = 0;

    memset(resp, 0, sizeof(*resp));
    resp->body = "";
    if (!req || !req->url || !req->method || !header_safe(req->url)
        || !header_safe(req->method)) {
        resp->error = "no URL or method, or a CR or LF in one";
        return APR_EINVAL;
    }
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.policy = s->policy;
    x.buf = apr_palloc(p, PUSH_RESPONSE_MAX + 1);
    errbuf[0] = '\0';

    /* "Expect:" empty: curl would otherwise wait for 100-continue on larger bodies */
    hdrs = curl_slist_append(NULL, "Expect:");
    arr = req->headers ? apr_table_elts(req->headers) : NULL;
    for (i = 0; hdrs && arr && i < arr->nelts; i++) {
        e = &APR_ARRAY_IDX(arr, i, apr_table_entry_t);
        if (!header_safe(e->key) || !header_safe(e->val) || strchr(e->key, ':')) {
            bad = 1;
            break;
        }
        more = curl_slist_append(hdrs, apr_pstrcat(p, e->key, ": ", e->val, NULL));
        if (!more) {
            curl_slist_free_all(hdrs);
            hdrs = NULL;
            break;
        }
        hdrs = more;
    }
    for (i = 0; hdrs && !bad && s->resolve && i < s->resolve->nelts; i++) {
        more = curl_slist_append(resolve, APR_ARRAY_IDX(s->resolve, i, const char *));
        if (!more) {
            curl_slist_free_all(hdrs);
            hdrs = NULL;
            break;
        }
        resolve = more;
    }
    if (bad || !hdrs) {
        curl_slist_free_all(hdrs);
        curl_slist_free_all(resolve);
        resp->error = bad ? "a header name or value holds CR, LF or ':'" : "out of memory";
        return bad ? APR_EINVAL : APR_ENOMEM;
    }

    /* the connection cache, TLS sessions and DNS cache survive the reset */
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->total_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, s->proxy ? s->proxy : "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, s->user_agent);
    if (s->ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (resolve) {
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    }
    if (!strcmp(req->method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
    }
    else if (!strcmp(req->method, "GET") && !req->body) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (req->body || !strcmp(req->method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (s->policy) {
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &x);
    }

    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    /* the handle must not keep pointers into this stack frame or into hdrs; the reset
     * keeps the connection for the next send */
    curl_easy_reset(c);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);

    x.buf[x.len] = '\0';
    resp->body = x.buf;
    resp->body_len = x.len;
    resp->body_truncated = x.truncated;
    resp->retry_after = x.retry_after;
    resp->apns_id = x.apns_id;
    resp->www_authenticate = x.www_authenticate;
    resp->new_connection = connects > 0;
    resp->address_refused = x.refused;
    resp->http_version = version == CURL_HTTP_VERSION_2_0 ? 2
                         : (version == CURL_HTTP_VERSION_1_0 || version == CURL_HTTP_VERSION_1_1)
                         ? 1 : 0;
    if (cc != CURLE_OK || status == 0) {
        resp->status = 0;
        resp->error = x.refused
            ? "the address policy refused the server's address"
            : apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        return APR_EGENERAL;
    }
    if (req->http2_required && resp->http_version != 2) {
        resp->status = 0;
        resp->error = apr_psprintf(p, "HTTP/2 required, but the server answered %ld over "
                                   "HTTP/1.x", status);
        return APR_EGENERAL;
    }
    resp->status = (int)status;
    return APR_SUCCESS;
}
