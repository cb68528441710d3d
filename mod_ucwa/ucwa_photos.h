/* Contact photos:
 *
 *   GET    {A}/photos/{sip}          image/jpeg from the directory (ucwa_photo statement),
 *                                    or the default photo (ETag, 304)
 *
 * and the photo cookie a browser's <img> request carries instead of Authorization. */
#ifndef UCWA_PHOTOS_H
#define UCWA_PHOTOS_H

#include "ucwa_http.h"

/* Route handler (ucwa_route): GET {A}/photos/{sip} (q->id[0]). */
int ucwa_photos_get(ucwa_req *q, int what);

/* header_parser (registered by mod_ucwa): the core checks the bearer token before it
 * dispatches, so a request for {A}/photos/... without Authorization whose cwt_ucwa cookie
 * holds a token gets "Authorization: Bearer <token>" here. Always DECLINED. */
int ucwa_photos_cookie(request_rec *r);

#endif
