/* Subrequests through the normal mod_ucwa dispatch, so that a request made inside
 * another one gets exactly the answer a direct request would: its body comes from an
 * input filter that serves the given bytes; its response is caught by an output filter
 * and kept. */
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
#include "ucwa_http.h"
#include "ucwa_subreq.h"

APLOG_USE_MODULE(ucwa);

#define HANDLER "ucwa"
#define RESPONSE_MAX (8 * 1024 * 1024)   /* bytes a subrequest's response may have */

typedef struct {
    apr_pool_t *pool;      /* the batch request's: outlives the subrequest */
    char *buf;
    apr_size_t len, cap;
    int overflow;
} capture_ctx;

/* Keeps everything the subrequest writes; passes nothing on (EOS included). */
static apr_status_t capture_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    capture_ctx *c = f->ctx;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t n;
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
            c->overflow = 1;
            break;
        }
        if (!n || c->overflow) {
            continue;
        }
        if (n > RESPONSE_MAX - c->len) {
            c->overflow = 1;
            continue;
        }
        if (c->len + n > c->cap) {
            apr_size_t cap = c->cap ? c->cap : 4096;
            char *nb;
            while (cap < c->len + n) {
                cap *= 2;
            }
            nb = apr_palloc(c->pool, cap);
            if (c->len) {
                memcpy(nb, c->buf, c->len);
            }
            c->buf = nb;
            c->cap = cap;
        }
        memcpy(c->buf + c->len, data, n);
        c->len += n;
    }
    apr_brigade_cleanup(bb);
    return APR_SUCCESS;
}

typedef struct {
    const char *data;
    apr_size_t len, off;
} body_ctx;

/* Serves the given body, then EOS; never reads the connection. */
static apr_status_t body_in(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                            apr_read_type_e block, apr_off_t readbytes)
{
    body_ctx *c = f->ctx;
    apr_size_t n = c->len - c->off;

    (void)block;
    if (mode == AP_MODE_INIT) {
        return APR_SUCCESS;
    }
    if (mode == AP_MODE_EATCRLF) {
        return APR_ENOTIMPL;
    }
    if (n && mode != AP_MODE_EXHAUSTIVE && readbytes > 0 && (apr_off_t)n > readbytes) {
        n = (apr_size_t)readbytes;
    }
    if (n && mode == AP_MODE_GETLINE) {
        const char *nl = memchr(c->data + c->off, '\n', n);
        if (nl) {
            n = (apr_size_t)(nl - (c->data + c->off)) + 1;
        }
    }
    if (n) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(c->data + c->off, n,
                                                               bb->bucket_alloc));
        if (mode != AP_MODE_SPECULATIVE) {
            c->off += n;
        }
    }
    if (c->off == c->len) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    }
    return APR_SUCCESS;
}

/* Not registered by name: nothing can add them but this file. */
static ap_filter_rec_t capture_filter = {
    .name = "UCWA_SUBREQ_CAPTURE",
    .filter_func = { .out_func = capture_out },
    .ftype = AP_FTYPE_CONTENT_SET + 5,   /* after any content filter, before the protocol */
};

static ap_filter_rec_t body_filter = {
    .name = "UCWA_SUBREQ_BODY",
    .filter_func = { .in_func = body_in },
    .ftype = AP_FTYPE_RESOURCE,
};


static int copy_header(void *rec, const char *key, const char *value)
{
    apr_table_t *t = rec;

    apr_table_add(t, key, value);
    return 1;
}

int ucwa_subreq_exec(request_rec *r, request_rec *rr, apr_table_t *headers,
                     const char *body, apr_size_t len, ucwa_core_response *out)
{
    apr_pool_t *p = r->pool;
    capture_ctx *cap;
    body_ctx *bc;
    int rv, status;

    memset(out, 0, sizeof(*out));
    rr->headers_in = apr_table_copy(rr->pool, headers);
    apr_table_unset(rr->headers_in, "Content-Length");
    apr_table_unset(rr->headers_in, "Transfer-Encoding");
    if (body) {
        apr_table_setn(rr->headers_in, "Content-Length",
                       apr_psprintf(rr->pool, "%" APR_SIZE_T_FMT, len));
    }
    apr_table_unset(rr->trailers_in, "Content-Length");
    rr->read_length = 0;
    rr->remaining = 0;
    rr->read_chunked = 0;
    rr->read_body = REQUEST_NO_BODY;
    rr->kept_body = NULL;
    rr->expecting_100 = 0;
    rr->header_only = !strcmp(rr->method, "HEAD");

    bc = apr_pcalloc(rr->pool, sizeof(*bc));
    bc->data = body ? body : "";
    bc->len = body ? len : 0;
    ap_add_input_filter_handle(&body_filter, bc, rr, r->connection);
    cap = apr_pcalloc(rr->pool, sizeof(*cap));
    cap->pool = p;
    ap_add_output_filter_handle(&capture_filter, cap, rr, r->connection);

    rv = ap_run_sub_req(rr);
    status = (rv == OK || rv == DONE) ? rr->status : rv;
    if (!ap_is_HTTP_VALID_RESPONSE(status) || cap->overflow) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, UCWALOGNO(00165)
                      "internal request %s %s: %s (status %d)", rr->method, rr->uri,
                      cap->overflow ? "the response could not be kept" : "no valid status",
                      status);
        ap_destroy_sub_req(rr);
        return 0;
    }
    out->status = status;
    out->headers = apr_table_make(p, 8);
    if (rv == OK || rv == DONE) {
        apr_table_do(copy_header, out->headers, rr->headers_out, NULL);
    }
    apr_table_do(copy_header, out->headers, rr->err_headers_out, NULL);
    if (rr->content_type && (cap->len || rr->header_only)) {
        out->content_type = apr_pstrdup(p, rr->content_type);
    }
    if (cap->len) {
        char *b = apr_palloc(p, cap->len + 1);
        memcpy(b, cap->buf, cap->len);
        b[cap->len] = '\0';
        out->body = b;
    }
    else {
        out->body = "";
    }
    out->len = cap->len;
    ap_destroy_sub_req(rr);
    return status;
}

int ucwa_subreq_call(request_rec *r, const char *method, const char *path,
                     apr_table_t *headers, const char *body, apr_size_t len,
                     apr_table_t *notes, ucwa_core_response *out)
{
    request_rec *rr = ap_sub_req_method_uri(method, path, r, NULL);
    ucwa_req sq;

    memset(out, 0, sizeof(*out));
    if (ap_is_HTTP_ERROR(rr->status)) {
        int status = rr->status;
        ap_destroy_sub_req(rr);
        return status == HTTP_NOT_FOUND ? HTTP_NOT_FOUND : HTTP_INTERNAL_SERVER_ERROR;
    }
    memset(&sq, 0, sizeof(sq));
    if (!rr->handler || strcmp(rr->handler, HANDLER) || !ucwa_http_route(&sq, rr)) {
        ap_destroy_sub_req(rr);
        return HTTP_NOT_FOUND;
    }
    if (notes) {
        apr_table_overlap(rr->notes, notes, APR_OVERLAP_TABLES_SET);
    }
    return ucwa_subreq_exec(r, rr, headers, body, len, out) ? OK : HTTP_INTERNAL_SERVER_ERROR;
}
