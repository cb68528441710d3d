/* Contact photos (GET {A}/photos/{sip}): JPEG images from the directory, kept there as
 * base64 text (a portable column type), and the default picture served for everyone
 * without one: a grey silhouette, 48x48 (UCWA's default size, HR48X48), made for this
 * project. */
#ifndef UCWA_PHOTO_H
#define UCWA_PHOTO_H

#include <apr_pools.h>

/* The default picture. */
const unsigned char *ucwa_photo_default(apr_size_t *len);

/* A directory photo: base64 (whitespace ignored) of a JPEG image (it must start with
 * the SOI marker FF D8 FF). The bytes in p, or NULL when it is not one, or larger than
 * max bytes. */
const unsigned char *ucwa_photo_decode(apr_pool_t *p, const char *b64, apr_size_t max,
                                       apr_size_t *len);

/* The strong ETag of an image: a quoted hex digest of its bytes. */
const char *ucwa_photo_etag(apr_pool_t *p, const unsigned char *data, apr_size_t len);

#endif
