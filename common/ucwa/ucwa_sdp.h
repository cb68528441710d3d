/* SDP bodies of UCWA audio/video calls (offers, answers, renegotiations), as clients POST
 * them and as the server relays them: checked for framing only, never rewritten. The
 * server is not a party to the media; it relays each body byte for byte, and a client
 * that cannot read the SDP says so itself.
 *
 * Forms accepted (docs/extensions.md, "SDP bodies"):
 *   application/sdp                   one SDP
 *   multipart/alternative; boundary=  every part application/sdp (Lync and SfB desktops
 *                                     send an ICE-v6 part and an ICE-v19 part), each with
 *                                     its Content-ID
 *   multipart/related; boundary=      the application/sdp parts are the offer; parts of
 *                                     other types (a JSON part) are skipped
 * Bounds: UCWA_SDP_MAX bytes for the whole body, UCWA_SDP_PARTS_MAX SDP parts
 * (UCWA_SDP_SLICES_MAX parts of any type), UCWA_SDP_LINE_MAX bytes per SDP line,
 * UCWA_SDP_CTYPE_MAX bytes of Content-Type (its data URI then fits any reader); part
 * headers as in ucwa_batch (64 fields, 8190-byte lines, no folding, no nesting,
 * Content-Transfer-Encoding binary, 8bit or 7bit).
 *
 * An SDP (RFC 4566 framing): the first line "v=0"; lines end with CRLF or LF (a bare CR
 * is refused; the last line may lack its end); every line "<letter>=<value>" of printable
 * ASCII and tabs (no NUL, no byte above 0x7E); blank lines only at the end; at least one
 * "m=" line. Nothing else is read: the server never needs the media, and the ICE
 * passwords and SRTP keys in it are never logged.
 *
 * Pure: no httpd, no logging. Reasons are short English sentences that quote nothing of
 * the input (for the log and the 400). */
#ifndef UCWA_SDP_H
#define UCWA_SDP_H

#include <apr_pools.h>

#define UCWA_SDP_MAX (64 * 1024)      /* a whole offer or answer body, any form */
#define UCWA_SDP_PARTS_MAX 4
#define UCWA_SDP_SLICES_MAX 8         /* parts of a multipart/related, of any type */
#define UCWA_SDP_LINE_MAX 4096        /* bytes of one SDP line, without its end */
#define UCWA_SDP_CTYPE_MAX 256        /* bytes of the Content-Type of a body */

typedef struct {
    const char *content_type;  /* the part's, e.g. "application/sdp" */
    const char *content_id;    /* without <>, or NULL */
    const char *body;          /* points into the input: byte for byte */
    apr_size_t len;
} ucwa_sdp_part;

typedef struct {
    int nparts;                /* 1 for a plain application/sdp body */
    ucwa_sdp_part parts[UCWA_SDP_PARTS_MAX];
    int video;                 /* some part has an m=video line */
} ucwa_sdp_body;

/* Checks a body as it came (content_type: its Content-Type header value, parameters included):
 * application/sdp, or multipart/alternative | multipart/related with application/sdp parts
 * (other parts of a multipart/related, e.g. JSON, are skipped). Returns NULL and fills *out,
 * or a short English reason (for the log and the 400). Only framing is checked: size cap,
 * "v=0" first line, CRLF or LF line ends, printable ASCII plus tab, no NUL, at least one "m="
 * line, boundaries per RFC 2046. */
const char *ucwa_sdp_parse(apr_pool_t *p, const char *content_type, const char *body,
                           apr_size_t len, ucwa_sdp_body *out);

/* The data URI for a body as it came: "data:<content_type, parameters kept>;base64,<b64>".
 * The media type is written in lower case, each parameter as ";name=value" without
 * blanks or quotes, bytes of names and values other than letters, digits and
 * -._~!$&'()*+:@/= percent-encoded (a boundary may hold blanks and commas). */
const char *ucwa_sdp_data_uri(apr_pool_t *p, const char *content_type, const char *body,
                              apr_size_t len);

/* The reverse: from a "data:application/sdp;base64,..." (or data:multipart/...;base64, or a
 * percent-encoded non-base64 data URI) to the content type and the bytes. NULL if not a data URI
 * this accepts (then *why says why).
 * "data:" in any case; the media type application/sdp, multipart/alternative or
 * multipart/related (any case); parameters ";name=value" with percent escapes; ";base64"
 * last. Without base64 the data is percent-decoded ('+' stays a '+': it is common in ICE
 * passwords and SRTP keys). The content type comes back as "type/subtype;name=value"
 * (the value quoted when it is not a token), at most UCWA_SDP_CTYPE_MAX bytes; the bytes
 * NUL-terminated, at most UCWA_SDP_MAX of them. The bytes are not checked: ucwa_sdp_parse does that. */
const char *ucwa_sdp_from_data_uri(apr_pool_t *p, const char *uri, const char **content_type,
                                   apr_size_t *len, const char **why);

#endif
