/* UCWA batch (POST {A}/batch): the multipart/batching request body, each part a complete
 * HTTP request (application/http; msgtype=request), and the multipart/batching response
 * built from the parts' HTTP responses. Pure parsing and rendering: no httpd.
 *
 * Parsing is strict in structure and size (a batch that cannot be read exactly is refused
 * whole, before anything runs) and lenient in line endings: CRLF and bare LF both end a
 * line everywhere. */
#ifndef UCWA_BATCH_PARSE_H
#define UCWA_BATCH_PARSE_H

#include <apr_pools.h>

#define UCWA_BATCH_MAX_BODY      (1024 * 1024)  /* bytes of a batch request body: 413 */
#define UCWA_BATCH_MAX_PARTS     100            /* requests in one batch: 429 */
#define UCWA_BATCH_MAX_HEADERS   64             /* header fields of a part, and of its request */
#define UCWA_BATCH_MAX_LINE      8190           /* bytes of a request line or header line */
#define UCWA_BATCH_MAX_BOUNDARY  70             /* RFC 2046 */

typedef struct {
    const char *name;
    const char *value;
} ucwa_batch_header;

/* One part of a batch: the HTTP request it carries. Strings are NUL-terminated copies;
 * body holds body_len bytes (NUL bytes allowed) plus a terminating NUL. */
typedef struct {
    const char *method;
    const char *target;                 /* the request-target as sent */
    int minor;                          /* HTTP/1.<minor>: 0 or 1 */
    const ucwa_batch_header *headers;   /* the request's header fields, in order */
    int nheaders;
    const char *body;
    apr_size_t body_len;
} ucwa_batch_request;

/* One part of a batch response: a full HTTP response. */
typedef struct {
    int status;
    const char *reason;                 /* "OK", ...; NULL: a generic one for the status */
    const ucwa_batch_header *headers;   /* without Content-Length (the renderer adds it) */
    int nheaders;
    const char *body;
    apr_size_t body_len;
} ucwa_batch_response;

/* A part as it lies in the body, between two boundary delimiters. */
typedef struct {
    const char *data;
    apr_size_t len;
} ucwa_batch_slice;

typedef enum {
    UCWA_BATCH_OK = 0,
    UCWA_BATCH_MALFORMED,               /* 400 */
    UCWA_BATCH_TOO_MANY                 /* more than max_parts parts: 429 */
} ucwa_batch_status;

typedef enum {
    UCWA_BATCH_CTYPE_OK = 0,
    UCWA_BATCH_CTYPE_OTHER,             /* not multipart/batching: 415 */
    UCWA_BATCH_CTYPE_BAD_BOUNDARY       /* multipart/batching without a valid boundary: 400 */
} ucwa_batch_ctype;

/* The Content-Type of a batch request: multipart/batching (any case) with one boundary
 * parameter, quoted or not, 1 to 70 characters of RFC 2046's bchars, not ending in a
 * space. *boundary is set on success (without quotes). */
ucwa_batch_ctype ucwa_batch_content_type(apr_pool_t *p, const char *ctype,
                                         const char **boundary);

/* --- MIME pieces, shared with ucwa_sdp (multipart SDP bodies) --- */

/* Reads a Content-Type value "type/subtype *(; name=value)" (value a token or a quoted
 * string; a trailing ';' tolerated): *type is the media type in lower case, *params the
 * parameters in order (names as sent, values unquoted). 1 when well-formed; -1 when the
 * media type is but a parameter is not (*type set, *params the ones before it); 0 when
 * ctype is NULL or not a media type. */
int ucwa_batch_media_type(apr_pool_t *p, const char *ctype, const char **type,
                          const ucwa_batch_header **params, int *nparams);

/* Whether b is a boundary RFC 2046 allows: 1 to 70 bchars, not ending in a space. */
int ucwa_batch_valid_boundary(const char *b);

/* The boundary parameter of a multipart Content-Type's parameters (any case), or NULL
 * when there is none, more than one, or it is not valid. */
const char *ucwa_batch_boundary(const ucwa_batch_header *params, int nparams);

/* Header fields from data[*off] up to a blank line (*off then after it) or the end of
 * the data, with the rules of ucwa_batch_parse. Returns NULL, or a reason. */
const char *ucwa_batch_headers(apr_pool_t *p, const char *data, apr_size_t len,
                               apr_size_t *off, ucwa_batch_header **out, int *nout);

/* How many header fields are called name (any case). */
int ucwa_batch_header_count(const ucwa_batch_header *h, int n, const char *name);

/* The header fields of a MIME part checked: Content-Type and Content-Transfer-Encoding
 * at most once each; the Content-Type, if any, a well-formed media type and not
 * multipart; the Content-Transfer-Encoding, if any, binary, 8bit or 7bit (the bytes are
 * taken as they are). *type is the media type in lower case (NULL when there is no
 * Content-Type), *params its parameters. NULL, or a reason. */
const char *ucwa_batch_part_type(apr_pool_t *p, const ucwa_batch_header *h, int n,
                                 const char **type, const ucwa_batch_header **params,
                                 int *nparams);

/* Splits body[0..len) at the boundary: a delimiter is a line that starts with "--" and the
 * boundary, at the start of the body or after a line break, followed by "--" (the close
 * delimiter) or by optional blanks and a line break. The preamble and the epilogue are
 * ignored; the line break before a delimiter belongs to the delimiter. Fails when there is
 * no delimiter, no part, or no close delimiter; UCWA_BATCH_TOO_MANY as soon as a part
 * past max_parts begins. */
ucwa_batch_status ucwa_batch_split(apr_pool_t *p, const char *body, apr_size_t len,
                                   const char *boundary, int max_parts,
                                   ucwa_batch_slice **parts, int *nparts, const char **why);

/* Splits and parses a batch request body: every part has header fields (Content-Type,
 * if present, application/http with msgtype=request if that parameter is present; never
 * multipart; Content-Transfer-Encoding, if present, binary, 8bit or 7bit), a blank line,
 * then an HTTP/1.x request: the request line (blank lines before it are skipped), header
 * fields, a blank line (or the end of the part), the body. A body without Content-Length
 * is the rest of the part (nothing when that is only line breaks); with Content-Length,
 * that many bytes followed by nothing but line breaks. Transfer-Encoding is refused.
 * Header fields: a token, a colon, a value of visible characters, blanks and bytes
 * 0x80-0xFF; no folding; at most UCWA_BATCH_MAX_HEADERS per block and
 * UCWA_BATCH_MAX_LINE bytes per line.
 * On failure *why is a short reason, fit for the client (no input is quoted in it). */
ucwa_batch_status ucwa_batch_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                   const char *boundary, ucwa_batch_request **reqs,
                                   int *nreqs, const char **why);

/* The value of the first header field called name (any case), or NULL. */
const char *ucwa_batch_header_get(const ucwa_batch_header *h, int n, const char *name);

/* The path and query a part's request-target names on this server: an origin-form target
 * ("/..."), or an absolute-form one ("http[s]://authority/...") whose authority is host
 * (compared without regard to case; host is the batch request's Host header, with its
 * port if it had one). NULL for another host, another scheme, an authority with user
 * information, or any other form. The fragment, if any, is dropped. */
const char *ucwa_batch_target_path(apr_pool_t *p, const char *target, const char *host);

/* The path part of path_and_query with percent-encoded unreserved characters decoded
 * (as httpd does first) and dot segments removed, then the query unchanged. NULL when the
 * path climbs above the root or holds a malformed escape. */
const char *ucwa_batch_normalize(apr_pool_t *p, const char *path_and_query);

/* Whether the rest of a UCWA path after the application ("/events", "/photos/x", ...)
 * names a resource that a batch may not contain: the event channel, photos, another
 * batch (the first segment, without regard to case). Returns that segment's name or
 * NULL. */
const char *ucwa_batch_forbidden(const char *sub);

/* A boundary for the response: "batch_" and the 16 random bytes in hex, lengthened until
 * it occurs in none of the responses' header fields and bodies. */
const char *ucwa_batch_new_boundary(apr_pool_t *p, const unsigned char random[16],
                                    const ucwa_batch_response *rs, int n);

/* The multipart/batching response body: per response, a delimiter, "Content-Type:
 * application/http; msgtype=response", a blank line, "HTTP/1.1 <status> <reason>", its
 * header fields (a field whose name is not a token or whose value holds CR, LF or NUL is
 * left out), Content-Length, a blank line, the body; then the close delimiter. Lines end
 * with CRLF. */
char *ucwa_batch_render(apr_pool_t *p, const char *boundary, const ucwa_batch_response *rs,
                        int n, apr_size_t *len);

/* The reason phrase this module uses for a status (ours, for statuses without one). */
const char *ucwa_batch_reason(int status);

#endif
