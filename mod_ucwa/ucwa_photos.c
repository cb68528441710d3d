/* Contact photos: GET {A}/photos/{sip} and the photo cookie (ucwa_photos.h). */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_dbd.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_people.h"
#include "ucwa_photo.h"
#include "ucwa_photos.h"

APLOG_USE_MODULE(ucwa);

/* The directory statement (DBDPrepareSQL label, see docs/directives.md). */
#define LABEL_PHOTO   "ucwa_photo"
#define PHOTO_MAX     (512 * 1024)  /* bytes of one directory photo */

/* --- the photo cookie ---------------------------------------------------------------- */

/* A browser's <img> request for {A}/photos/... carries the cwt_ucwa cookie the server set
 * with the application, and no Authorization: the cookie's token is the bearer token. */
int ucwa_photos_cookie(request_rec *r)
{
    const char *cookie, *c, *end, *photos;

    if (!r->handler || strcmp(r->handler, "ucwa") || ucwa_config_get(r->server)->engine != 1
        || apr_table_get(r->headers_in, "Authorization")) {
        return DECLINED;
    }
    photos = strstr(r->uri, "/photos/");
    if (!photos || strncasecmp(r->uri, "/ucwa/", 6)) {
        return DECLINED;
    }
    cookie = apr_table_get(r->headers_in, "Cookie");
    for (c = cookie; c && *c; c = end ? end + 1 : NULL) {
        end = strchr(c, ';');
        while (*c == ' ' || *c == '\t') {
            c++;
        }
        if (!strncmp(c, "cwt_ucwa=", 9)) {
            const char *v = c + 9;
            size_t n = end ? (size_t)(end - v) : strlen(v);
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
                n--;
            }
            if (n && n <= 2048) {
                apr_table_setn(r->headers_in, "Authorization",
                               apr_pstrcat(r->pool, "Bearer ", apr_pstrndup(r->pool, v, n),
                                           NULL));
            }
            break;
        }
    }
    return DECLINED;
}

/* --- photos ------------------------------------------------------------------------- */

static int photo(ucwa_people_req *x)
{
    const char *raw_sip = x->q->id[0];
    request_rec *r = x->q->r;
    const char *sip = ucwa_people_address(x->p, raw_sip), *etag, *inm;
    const unsigned char *data = NULL;
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_size_t len = 0;
    char *expires;
    int rv;

    if (!sip) {
        return ucwa_people_not_found(x->q, "There is no such photo: the address is not a SIP "
                                           "address.");
    }
    if (!ucwa_people_acquire(x, 0, &rv)) {
        return rv;
    }
    st = apr_hash_get(x->db.prepared, LABEL_PHOTO, APR_HASH_KEY_STRING);
    if (st) {
        rv = apr_dbd_pvselect(x->db.driver, x->p, x->db.handle, &res, st, 1, sip, NULL);
        if (rv != 0) {
            x->db.err = apr_psprintf(x->p, "directory query %s failed: %s", LABEL_PHOTO,
                                     apr_dbd_error(x->db.driver, x->db.handle, rv));
            return ucwa_people_db_failed(x);
        }
        while (apr_dbd_get_row(x->db.driver, x->p, res, &row, -1) == 0) {
            const char *v = NULL;
            if (!data && apr_dbd_datum_get(x->db.driver, row, 0, APR_DBD_TYPE_STRING, &v)
                == APR_SUCCESS && v && *v) {
                data = ucwa_photo_decode(x->p, v, PHOTO_MAX, &len);
                if (!data) {
                    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, UCWALOGNO(00243)
                                  "people: the directory photo of %s is not base64 of a JPEG "
                                  "image of at most %d bytes: the default one is sent", sip,
                                  PHOTO_MAX);
                }
            }
        }
    }
    if (!data) {
        data = ucwa_photo_default(&len);
    }
    etag = ucwa_photo_etag(x->p, data, len);
    expires = apr_palloc(x->p, APR_RFC822_DATE_LEN);
    apr_rfc822_date(expires, apr_time_now() + apr_time_from_sec(3600));
    apr_table_setn(r->err_headers_out, "X-MS-Server-Fqdn", x->q->conf->server_fqdn);
    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(r->headers_out, "Cache-Control", "private, max-age=3600");
    apr_table_setn(r->headers_out, "Expires", expires);
    inm = apr_table_get(r->headers_in, "If-None-Match");
    if (inm
        && ucwa_http_etag_listed(x->p, inm, apr_pstrndup(x->p, etag + 1, strlen(etag) - 2))) {
        r->status = HTTP_NOT_MODIFIED;
        return OK;
    }
    return ucwa_http_write(r, HTTP_OK, "image/jpeg", data, len);
}

int ucwa_photos_get(ucwa_req *q, int what)
{
    return ucwa_people_run(q, photo);
}
