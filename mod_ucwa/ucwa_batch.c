/* POST {A}/batch. The body is parsed whole first (common/ucwa/ucwa_batch): a malformed batch is
 * refused before any part runs, and so is one of more than 100 parts (429). Then each part
 * runs, in order, as a subrequest of the batch request (ucwa_subreq): its headers are
 * the part's own, with the batch request's Authorization; its response is written into
 * the part of the multipart/batching answer. */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_buckets.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_batch.h"
#include "ucwa_subreq.h"
#include "../common/ucwa/ucwa_batch.h"   /* the pure core; ucwa_batch.h here is the glue */
#include "ucwa_xml.h"

APLOG_USE_MODULE(ucwa);

#define HANDLER "ucwa"
#define JSON_TYPE "application/json; charset=utf-8"
#define XML_TYPE  "application/vnd.microsoft.com.ucwa+xml; charset=utf-8"

/* --- answers of parts ---------------------------------------------------------------------- */

static int accept_xml(const char *accept)
{
    return accept && strcasestr(accept, "xml") && !strcasestr(accept, "json");
}

static void part_headers(apr_pool_t *p, ucwa_batch_response *out, const char *ctype,
                         const char *fqdn)
{
    ucwa_batch_header *h = apr_pcalloc(p, 3 * sizeof(*h));

    h[0].name = "Content-Type";
    h[0].value = ctype;
    h[1].name = "Cache-Control";
    h[1].value = "no-cache";
    h[2].name = "X-MS-Server-Fqdn";
    h[2].value = fqdn;
    out->headers = h;
    out->nheaders = fqdn ? 3 : 2;
}

/* A UCWA error body for a part the server answers itself. */
static void part_error(ucwa_req *q, ucwa_batch_response *out, int xml, int status,
                       const char *code, const char *subcode, const char *message)
{
    apr_pool_t *p = q->r->pool;
    apr_size_t len = 0;
    const char *body;

    if (xml) {
        body = ucwa_xml_error(p, code, subcode, message, &len);
    }
    else {
        json_t *j = mob_json_own(p, json_pack("{s:s}", "code", code));
        if (subcode) {
            json_object_set_new(j, "subcode", json_string(subcode));
        }
        json_object_set_new(j, "message", json_string(message));
        body = mob_json_dump(p, j, &len);
    }
    memset(out, 0, sizeof(*out));
    out->status = status;
    out->body = body ? body : "";
    out->body_len = body ? len : 0;
    part_headers(p, out, xml ? XML_TYPE : JSON_TYPE, q->conf->server_fqdn);
}

/* UCWA's code for an HTTP status (ErrorCode), for errors httpd answered without a body. */
static const char *status_code_name(int status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 408: return "ClientTimeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "PreconditionFailed";
    case 413: return "EntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 428: return "PreconditionRequired";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default:  return status >= 500 ? "ServiceFailure" : "BadRequest";
    }
}

static int skip_request_header(const char *name)
{
    static const char *const skip[] = {
        "Authorization", "Host", "Content-Length", "Transfer-Encoding", "Connection",
        "Keep-Alive", "TE", "Trailer", "Upgrade", "Expect", "Proxy-Authorization", NULL };
    int i;

    for (i = 0; skip[i]; i++) {
        if (!strcasecmp(name, skip[i])) {
            return 1;
        }
    }
    return 0;
}

static int skip_response_header(const char *name)
{
    static const char *const skip[] = {
        "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive",
        NULL };
    int i;

    for (i = 0; skip[i]; i++) {
        if (!strcasecmp(name, skip[i])) {
            return 1;
        }
    }
    return 0;
}

static void add_response_headers(apr_pool_t *p, apr_array_header_t *arr, apr_table_t *t)
{
    const apr_array_header_t *elts = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)elts->elts;
    int i;

    for (i = 0; i < elts->nelts; i++) {
        ucwa_batch_header *h;
        if (!e[i].key || !e[i].val || skip_response_header(e[i].key)) {
            continue;
        }
        h = apr_array_push(arr);
        h->name = apr_pstrdup(p, e[i].key);
        h->value = apr_pstrdup(p, e[i].val);
    }
}

/* Whether path (normalised) is under one of the applications collections. */
static int under_applications(const char *path)
{
    static const char *const prefixes[] = { "/ucwa/oauth/v1/applications",
                                            "/ucwa/v1/applications" };
    int i;

    for (i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncasecmp(path, prefixes[i], n)
            && (path[n] == '\0' || path[n] == '/' || path[n] == '?')) {
            return 1;
        }
    }
    return 0;
}

/* Runs one part as a subrequest of the batch request; fills *out. */
static void run_part(ucwa_req *q, const ucwa_batch_request *rq, const char *host,
                     ucwa_batch_response *out)
{
    request_rec *r = q->r, *rr;
    apr_pool_t *p = r->pool;
    const char *path, *norm, *forbidden, *auth;
    int xml = accept_xml(ucwa_batch_header_get(rq->headers, rq->nheaders, "Accept"));
    int i, status, has_body, header_only;
    ucwa_req sq;
    ucwa_core_response res;
    apr_table_t *in;
    apr_array_header_t *hdrs;

    path = ucwa_batch_target_path(p, rq->target, host);
    norm = path ? ucwa_batch_normalize(p, path) : NULL;
    if (!norm || !under_applications(norm)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00161)
                      "batch part %s %s: not a resource of this server's applications",
                      rq->method, rq->target);
        part_error(q, out, xml, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                   "There is no such resource.");
        return;
    }
    rr = ap_sub_req_method_uri(rq->method, norm, r, NULL);
    if (ap_is_HTTP_ERROR(rr->status)) {
        status = rr->status;
        ap_destroy_sub_req(rr);
        part_error(q, out, xml, status, status_code_name(status), NULL,
                   "The request could not be processed.");
        return;
    }
    memset(&sq, 0, sizeof(sq));
    if (!rr->handler || strcmp(rr->handler, HANDLER) || !ucwa_http_route(&sq, rr)) {
        ap_destroy_sub_req(rr);
        part_error(q, out, xml, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                   "There is no such resource.");
        return;
    }
    if (sq.app_id && (forbidden = ucwa_batch_forbidden(sq.sub)) != NULL) {
        ap_destroy_sub_req(rr);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00162)
                      "batch part %s %s refused: %s cannot be batched", rq->method,
                      rq->target, forbidden);
        part_error(q, out, xml, HTTP_FORBIDDEN, "Forbidden", "NotAllowed",
                   apr_psprintf(p, "A batch cannot contain a request for %s.", forbidden));
        return;
    }

    /* the part's own headers, the batch request's credentials */
    in = apr_table_make(p, rq->nheaders + 4);
    for (i = 0; i < rq->nheaders; i++) {
        if (!skip_request_header(rq->headers[i].name)) {
            apr_table_addn(in, rq->headers[i].name, rq->headers[i].value);
        }
    }
    if (host) {
        apr_table_setn(in, "Host", host);
    }
    if ((auth = apr_table_get(r->headers_in, "Authorization")) != NULL) {
        apr_table_setn(in, "Authorization", auth);
    }
    has_body = rq->body_len || ucwa_batch_header_get(rq->headers, rq->nheaders,
                                                     "Content-Length");
    header_only = !strcmp(rq->method, "HEAD");
    status = ucwa_subreq_exec(r, rr, in, has_body ? rq->body : NULL, rq->body_len, &res);
    if (!status) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00163)
                      "batch part %s %s: no valid response", rq->method, rq->target);
        part_error(q, out, xml, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                   "The request failed.");
        return;
    }
    if (status >= 400 && res.len == 0 && !header_only) {
        /* httpd's own error (the handler returned a status): answered in UCWA's form,
         * with the headers the handler set for it (a challenge, diagnostics) */
        apr_array_header_t *extra = apr_array_make(p, 4, sizeof(ucwa_batch_header));
        add_response_headers(p, extra, res.headers);
        part_error(q, out, xml, status, status_code_name(status), NULL,
                   "The request could not be processed.");
        hdrs = apr_array_make(p, out->nheaders + extra->nelts, sizeof(ucwa_batch_header));
        for (i = 0; i < out->nheaders; i++) {
            *(ucwa_batch_header *)apr_array_push(hdrs) = out->headers[i];
        }
        for (i = 0; i < extra->nelts; i++) {
            ucwa_batch_header *e = &((ucwa_batch_header *)extra->elts)[i];
            /* the part's own error form wins over what the handler said */
            if (!ucwa_batch_header_get(out->headers, out->nheaders, e->name)) {
                *(ucwa_batch_header *)apr_array_push(hdrs) = *e;
            }
        }
        out->headers = (ucwa_batch_header *)hdrs->elts;
        out->nheaders = hdrs->nelts;
        return;
    }
    memset(out, 0, sizeof(*out));
    out->status = status;
    hdrs = apr_array_make(p, 8, sizeof(ucwa_batch_header));
    if (res.content_type) {
        ucwa_batch_header *h = apr_array_push(hdrs);
        h->name = "Content-Type";
        h->value = res.content_type;
    }
    add_response_headers(p, hdrs, res.headers);
    out->headers = (ucwa_batch_header *)hdrs->elts;
    out->nheaders = hdrs->nelts;
    out->body = res.body;
    out->body_len = res.len;
}

/* --- the batch request --------------------------------------------------------------------- */

int ucwa_batch_post(ucwa_req *q, int what)
{
    request_rec *r = q->r;
    const char *boundary = NULL, *why = NULL, *host, *nb;
    ucwa_batch_request *reqs;
    ucwa_batch_response *resps;
    ucwa_batch_status bst;
    apr_status_t st;
    unsigned char rnd[16];
    ucwa_app copy;
    char *body, *answer;
    apr_size_t len = 0, alen = 0;
    int rv, n = 0, i;

    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    switch (ucwa_batch_content_type(r->pool, apr_table_get(r->headers_in, "Content-Type"),
                                    &boundary)) {
    case UCWA_BATCH_CTYPE_OTHER:
        return ucwa_http_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", NULL,
                               "A batch is multipart/batching.");
    case UCWA_BATCH_CTYPE_BAD_BOUNDARY:
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", NULL,
                               "A batch needs one boundary parameter of 1 to 70 characters.");
    default:
        break;
    }
    st = ucwa_http_read_body(r, UCWA_BATCH_MAX_BODY, &body, &len);
    if (st == APR_ENOSPC) {
        return ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                               "A batch is at most 1 MiB.");
    }
    if (st != APR_SUCCESS) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", NULL,
                               "The request body could not be read.");
    }
    bst = ucwa_batch_parse(r->pool, body, len, boundary, &reqs, &n, &why);
    if (bst == UCWA_BATCH_TOO_MANY) {
        return ucwa_http_error(q, HTTP_TOO_MANY_REQUESTS, "TooManyRequests", NULL,
                               "A batch holds at most 100 requests; none of these ran.");
    }
    if (bst != UCWA_BATCH_OK) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", NULL,
                               apr_psprintf(r->pool, "The batch is malformed: %s.", why));
    }

    host = apr_table_get(r->headers_in, "Host");
    if (!host) {
        host = r->hostname;
    }
    resps = apr_pcalloc(r->pool, sizeof(*resps) * (apr_size_t)n);
    for (i = 0; i < n; i++) {
        run_part(q, &reqs[i], host, &resps[i]);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, UCWALOGNO(00160)
                  "batch of %d requests answered", n);

    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                               "No random boundary could be made.");
    }
    nb = ucwa_batch_new_boundary(r->pool, rnd, resps, n);
    answer = ucwa_batch_render(r->pool, nb, resps, n, &alen);
    return ucwa_http_send(q, HTTP_OK,
                          apr_psprintf(r->pool, "multipart/batching; boundary=\"%s\"", nb),
                          answer, alen);
}
