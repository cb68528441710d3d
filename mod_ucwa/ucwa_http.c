#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_form.h"
#include "mob_json.h"
#include "ucwa_http.h"
#include "ucwa_input.h"
#include "ucwa_route.h"
#include "ucwa_xml.h"

APLOG_USE_MODULE(ucwa);

int ucwa_http_route(ucwa_req *q, request_rec *r)
{
    static const char *const prefixes[] = { "/ucwa/oauth/v1/applications",
                                            "/ucwa/v1/applications" };
    size_t i;

    for (i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        const char *rest, *slash;
        if (strncasecmp(r->uri, prefixes[i], n) || (r->uri[n] && r->uri[n] != '/')) {
            continue;
        }
        q->prefix = prefixes[i];
        rest = r->uri + n;
        if (!*rest || !strcmp(rest, "/")) {
            q->app_id = NULL;
            q->sub = "";
            return 1;
        }
        rest++;
        slash = strchr(rest, '/');
        q->app_id = slash ? apr_pstrndup(r->pool, rest, (apr_size_t)(slash - rest))
                          : apr_pstrdup(r->pool, rest);
        q->sub = slash ? slash : "";
        return 1;
    }
    return 0;
}

int ucwa_http_not_allowed(ucwa_req *q)
{
    const char *allow = ucwa_route_allow(q);

    if (!allow) {
        return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                               "There is no such resource.");
    }
    apr_table_setn(q->r->err_headers_out, "Allow", allow);
    return ucwa_http_error(q, HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed", NULL,
                           apr_psprintf(q->r->pool, "This resource answers %s.", allow));
}

int ucwa_http_unrouted(ucwa_req *q)
{
    const char *allow = ucwa_route_allow(q);
    const char *m = q->r->method_number == M_GET ? "GET" : q->r->method;

    /* a resource that exists, asked with a method it does not answer */
    if (allow && !ap_find_token(q->r->pool, allow, m)) {
        return ucwa_http_not_allowed(q);
    }
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                           "There is no such resource.");
}

static void common_headers(ucwa_req *q)
{
    apr_table_setn(q->r->err_headers_out, "Cache-Control", "no-cache");
    apr_table_setn(q->r->err_headers_out, "X-MS-Server-Fqdn", q->conf->server_fqdn);
}

int ucwa_http_write(request_rec *r, int status, const char *ctype, const void *body,
                    apr_size_t len)
{
    r->status = status;
    ap_set_content_type(r, ctype);
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only && len) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

int ucwa_http_send(ucwa_req *q, int status, const char *ctype, const char *body,
                   apr_size_t len)
{
    common_headers(q);
    return ucwa_http_write(q->r, status, ctype, body, len);
}

#define JSON_TYPE "application/json; charset=utf-8"
#define XML_TYPE  "application/vnd.microsoft.com.ucwa+xml; charset=utf-8"

int ucwa_http_error(ucwa_req *q, int status, const char *code, const char *subcode,
                    const char *message)
{
    apr_size_t len = 0;
    const char *body;
    json_t *j;

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00020) "%d %s/%s: %s",
                  status, code, subcode ? subcode : "-", message);
    if (status == HTTP_METHOD_NOT_ALLOWED && !apr_table_get(q->r->err_headers_out, "Allow")) {
        const char *allow = ucwa_route_allow(q);
        if (allow) {
            apr_table_setn(q->r->err_headers_out, "Allow", allow);
        }
    }
    if (q->xml) {
        body = ucwa_xml_error(q->r->pool, code, subcode, message, &len);
        return ucwa_http_send(q, status, XML_TYPE, body, len);
    }
    j = mob_json_own(q->r->pool, json_pack("{s:s}", "code", code));
    if (subcode) {
        json_object_set_new(j, "subcode", json_string(subcode));
    }
    json_object_set_new(j, "message", json_string(message));
    body = mob_json_dump(q->r->pool, j, &len);
    return ucwa_http_send(q, status, JSON_TYPE, body, len);
}

int ucwa_http_resource(ucwa_req *q, int status, json_t *res)
{
    apr_size_t len = 0;
    const char *body = q->xml ? ucwa_xml_resource(q->r->pool, res, &len)
                              : mob_json_dump(q->r->pool, res, &len);

    if (!body) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return ucwa_http_send(q, status, q->xml ? XML_TYPE : JSON_TYPE, body, len);
}

int ucwa_http_events(ucwa_req *q, const char *json, apr_size_t len)
{
    if (q->xml) {
        json_error_t err;
        json_t *pkg = mob_json_own(q->r->pool, json_loadb(json, len, 0, &err));
        const char *body = pkg ? ucwa_xml_events(q->r->pool, pkg, &len) : NULL;
        if (!body) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, UCWALOGNO(00021)
                          "an event package did not convert to XML");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        return ucwa_http_send(q, HTTP_OK, XML_TYPE, body, len);
    }
    return ucwa_http_send(q, HTTP_OK, JSON_TYPE, json, len);
}

int ucwa_http_no_content(ucwa_req *q)
{
    common_headers(q);
    q->r->status = HTTP_NO_CONTENT;
    return OK;
}

apr_status_t ucwa_http_read_body(request_rec *r, apr_size_t max, char **out, apr_size_t *len)
{
    apr_size_t cap, n = 0;
    char *buf;
    long got = 0;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return APR_EGENERAL;
    }
    if (r->remaining > (apr_off_t)max) {
        return APR_ENOSPC;   /* refused before a byte is read */
    }
    /* the announced length, or a little: a large limit is not allocated up front */
    cap = r->remaining > 0 ? (apr_size_t)r->remaining + 1 : (max < 8192 ? max + 1 : 8192);
    buf = apr_palloc(r->pool, cap + 1);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (n == cap) {
                apr_size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                char *nb;
                if (ncap <= cap) {
                    return APR_ENOSPC;
                }
                nb = apr_palloc(r->pool, ncap + 1);
                memcpy(nb, buf, n);
                buf = nb;
                cap = ncap;
            }
            got = ap_get_client_block(r, buf + n, cap - n);
            if (got <= 0) {
                break;
            }
            n += (apr_size_t)got;
            if (n > max) {
                return APR_ENOSPC;
            }
        }
        if (got < 0) {
            return APR_EGENERAL;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return APR_SUCCESS;
}

json_t *ucwa_http_input(ucwa_req *q, int *rv)
{
    request_rec *r = q->r;
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    const char *why = NULL;
    char *body = NULL;
    apr_size_t len = 0;
    apr_status_t st;
    apr_table_t *query;
    json_t *in;
    int i;

    st = ucwa_http_read_body(r, q->conf->global->body_max, &body, &len);
    if (st == APR_ENOSPC) {
        *rv = ucwa_http_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, "EntityTooLarge", NULL,
                              "The request body is too large.");
        return NULL;
    }
    if (st != APR_SUCCESS) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", NULL,
                              "The request body could not be read.");
        return NULL;
    }
    if (len && ctype && (strcasestr(ctype, "xml") != NULL)) {
        in = ucwa_xml_input(r->pool, body, len, &why);
    }
    else if (len && ctype && !strcasestr(ctype, "json")) {
        *rv = ucwa_http_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", NULL,
                              "Send application/json or application/vnd.microsoft.com.ucwa+xml.");
        return NULL;
    }
    else {
        in = ucwa_input_json(r->pool, body, len, &why);
    }
    if (!in) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "DeserializationFailure",
                              apr_psprintf(r->pool, "The body could not be read: %s.", why));
        return NULL;
    }
    /* POST inputs may come as query parameters instead (UCWA QueryParameters) */
    if (r->args && mob_form_parse(r->pool, r->args, strlen(r->args), MOB_FORM_LENIENT,
                                  &query, &why) == APR_SUCCESS) {
        const apr_array_header_t *arr = apr_table_elts(query);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        for (i = 0; i < arr->nelts; i++) {
            if (!ucwa_input_get(in, e[i].key)) {
                json_object_set_new(in, e[i].key, json_string(e[i].val));
            }
        }
    }
    return in;
}

int ucwa_http_etag_listed(apr_pool_t *p, const char *header, const char *etag)
{
    char *list = apr_pstrdup(p, header), *last, *tok;

    for (tok = apr_strtok(list, ", ", &last); tok; tok = apr_strtok(NULL, ", ", &last)) {
        size_t n = strlen(tok);
        if (!strcmp(tok, "*")) {
            return 1;
        }
        if (!strncmp(tok, "W/", 2)) {
            tok += 2;
            n -= 2;
        }
        if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') {
            tok[n - 1] = '\0';
            tok++;
        }
        if (!strcmp(tok, etag)) {
            return 1;
        }
    }
    return 0;
}

int ucwa_http_etagged(ucwa_req *q, json_t *res)
{
    const char *etag = json_string_value(json_object_get(res, "etag"));
    const char *inm = apr_table_get(q->r->headers_in, "If-None-Match");

    if (etag) {
        apr_table_setn(q->r->headers_out, "ETag", apr_psprintf(q->r->pool, "\"%s\"", etag));
        if (inm && ucwa_http_etag_listed(q->r->pool, inm, etag)) {
            common_headers(q);
            q->r->status = HTTP_NOT_MODIFIED;
            return OK;
        }
    }
    return ucwa_http_resource(q, HTTP_OK, res);
}

json_t *ucwa_http_put_input(ucwa_req *q, const json_t *current, int *rv)
{
    const char *etag = json_string_value(json_object_get(current, "etag"));
    const char *im = apr_table_get(q->r->headers_in, "If-Match");
    json_t *in, *guid;
    const char *key;
    json_t *v;

    if (!im) {
        *rv = ucwa_http_error(q, 428, "PreconditionRequired", NULL,
                              "A PUT needs If-Match with the resource's ETag.");
        return NULL;
    }
    if (!etag || !ucwa_http_etag_listed(q->r->pool, im, etag)) {
        *rv = ucwa_http_error(q, HTTP_PRECONDITION_FAILED, "PreconditionFailed", NULL,
                              "The resource changed: GET it again.");
        return NULL;
    }
    in = ucwa_http_input(q, rv);
    if (!in) {
        return NULL;
    }
    guid = NULL;
    json_object_foreach((json_t *)current, key, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), "please pass this in a PUT request")) {
            guid = ucwa_input_get(in, key);
            if (!guid || !json_equal(guid, v)) {
                guid = NULL;
            }
            break;
        }
    }
    if (!guid) {
        *rv = ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                              "Send back the resource's GUID-named property with its value.");
        return NULL;
    }
    return in;
}
