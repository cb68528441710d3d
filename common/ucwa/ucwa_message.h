/* The text of an instant message: the bodies clients POST to sendMessage, the data:
 * URIs UCWA carries texts in (an invitation's first message as the client gives it; the
 * message links of invitations and message events as the server writes them).
 *
 * Text rules, whatever the way in: valid UTF-8 (RFC 3629: shortest form, no surrogates,
 * nothing above U+10FFFF), no NUL byte, at most the caller's maximum of bytes. Other
 * control characters pass (tab, CR and LF are ordinary in messages).
 *
 * Data URIs read (RFC 2397, as clients write them):
 *   data:[<type>][;charset=<cs>][;<param>=<v>...][;base64],<data>
 *   <type>     text/plain or text/html (any case); empty means text/plain
 *   <cs>       utf-8 / utf8 (any case, quoted or not), or us-ascii (the text must then
 *              be ASCII); absent means UTF-8. Other parameters are ignored.
 *   <data>     without ;base64: percent escapes (%XX, either case) are decoded and '+'
 *              is a space (the form style of the captures: clients that escape with
 *              encodeURIComponent never leave a '+' unescaped); a '%' not followed by
 *              two hex digits is refused; other bytes stand for themselves.
 *              With ;base64: percent escapes decoded (no '+' rule), then standard
 *              base64 (A-Z a-z 0-9 + /), padding optional but correct when present.
 *   The part before the comma is at most UCWA_MESSAGE_HEADER_MAX bytes.
 *
 * Data URIs written, the way real servers write them: data:text/plain;charset=utf-8,
 * (or text/html) and the text form-encoded like .NET's HttpUtility.UrlEncode: letters,
 * digits and - _ . ! * ( ) as they are, space as '+', every other byte as %xx in lower
 * case (so CRLF is %0d%0a). */
#ifndef UCWA_MESSAGE_H
#define UCWA_MESSAGE_H

#include <apr_pools.h>

#define UCWA_MESSAGE_MAX 65536          /* bytes of text in one message */
#define UCWA_MESSAGE_HEADER_MAX 256     /* data URI: bytes before the comma */

typedef enum { UCWA_MSG_PLAIN = 0, UCWA_MSG_HTML = 1 } ucwa_msg_format;

typedef enum {
    UCWA_MSG_OK = 0,
    UCWA_MSG_BAD_TYPE,         /* a media type or charset we do not take (415) */
    UCWA_MSG_BAD_TEXT,         /* malformed data URI, invalid UTF-8, NUL (400) */
    UCWA_MSG_TOO_LARGE         /* more than the maximum (413) */
} ucwa_msg_status;

/* The Content-Type of a sendMessage body: text/plain or text/html, with an optional
 * charset (utf-8 or us-ascii, as for data URIs) and other parameters ignored. NULL (no
 * header) is text/plain. *ascii is set for us-ascii. */
ucwa_msg_status ucwa_message_content_type(const char *ctype, ucwa_msg_format *fmt,
                                          int *ascii, const char **why);

/* Checks a text against the rules above (ascii: only bytes below 0x80). An empty text
 * is valid here; callers that refuse it say so. */
ucwa_msg_status ucwa_message_check(const char *text, apr_size_t len, apr_size_t max,
                                   int ascii, const char **why);

/* Reads a data URI (NUL-terminated) into *text (NUL-terminated, allocated from p, *len
 * bytes). why: a short fixed reason, never a piece of the input. */
ucwa_msg_status ucwa_message_parse_data_uri(apr_pool_t *p, const char *uri, apr_size_t max,
                                            ucwa_msg_format *fmt, char **text,
                                            apr_size_t *len, const char **why);

/* The data of a data URI (what follows the comma, NUL-terminated) decoded: percent
 * escapes, '+' as a space when plus_space and not base64 (the form style above), then
 * base64 when base64. The bytes, NUL-terminated (*len of them, NUL bytes possible), or
 * NULL and a short fixed reason. Shared with ucwa_sdp, whose data URIs keep '+'. */
char *ucwa_message_decode_data(apr_pool_t *p, const char *data, int base64, int plus_space,
                               apr_size_t *len, const char **why);

/* Writes text as a data URI (see above). */
const char *ucwa_message_data_uri(apr_pool_t *p, ucwa_msg_format fmt, const char *text,
                                  apr_size_t len);

/* The length ucwa_message_data_uri would give, without building it. */
apr_size_t ucwa_message_data_uri_len(ucwa_msg_format fmt, const char *text, apr_size_t len);

#endif
