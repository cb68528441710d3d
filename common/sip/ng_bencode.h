/* Bencode, as rtpengine's NG control protocol carries it: dictionaries, lists, byte
 * strings and integers, built and decoded in an APR pool. Pure: no I/O, no httpd.
 *
 * An NG message is "<cookie> <bencoded dictionary>" over UDP; ng_message_split cuts the
 * cookie off. Encoding keeps a dictionary's keys in the order they were added (rtpengine
 * reads keys in any order); decoding accepts any order and refuses what is not bencode:
 * leading zeros, "-0", integers beyond 64 bits, strings longer than what is left, a
 * dictionary key that is not a string, trailing bytes, nesting deeper than
 * NG_BENC_MAX_DEPTH, more than NG_BENC_MAX_ITEMS values. */
#ifndef NG_BENCODE_H
#define NG_BENCODE_H

#include <apr_pools.h>

#define NG_BENC_MAX_DEPTH 32       /* nesting of lists and dictionaries */
#define NG_BENC_MAX_ITEMS 10000    /* values in one message */
#define NG_MAX_MESSAGE 65535       /* a UDP datagram's payload, at most */
#define NG_MAX_COOKIE 64

typedef enum { NG_BENC_STR, NG_BENC_INT, NG_BENC_LIST, NG_BENC_DICT } ng_benc_type;

typedef struct ng_benc ng_benc;
struct ng_benc {
    ng_benc_type type;
    const char *str;          /* STR: the bytes, NUL-terminated (may hold NULs) */
    apr_size_t len;           /* STR: their length */
    apr_int64_t num;          /* INT */
    ng_benc *first, *last;    /* LIST, DICT: the members */
    ng_benc *next;            /* the next member of the parent */
    const char *key;          /* a DICT member's key, NUL-terminated */
    apr_size_t key_len;
};

ng_benc *ng_benc_dict(apr_pool_t *p);
ng_benc *ng_benc_list(apr_pool_t *p);
ng_benc *ng_benc_str(apr_pool_t *p, const char *s);   /* s copied, up to its NUL */
ng_benc *ng_benc_bytes(apr_pool_t *p, const char *s, apr_size_t len);
ng_benc *ng_benc_int(apr_pool_t *p, apr_int64_t n);

/* Adds v under key (copied) to dictionary d, or appends v to list l; v must not be in
 * another container. */
void ng_benc_dict_add(apr_pool_t *p, ng_benc *d, const char *key, ng_benc *v);
void ng_benc_list_add(ng_benc *l, ng_benc *v);
/* Shorthands: a string or a list of strings under key. */
void ng_benc_dict_add_str(apr_pool_t *p, ng_benc *d, const char *key, const char *s);
void ng_benc_dict_add_strs(apr_pool_t *p, ng_benc *d, const char *key, const char *const *s,
                           int n);

/* The first member of d under key, or NULL (also when d is not a dictionary). */
const ng_benc *ng_benc_dict_get(const ng_benc *d, const char *key);
/* That member's string, or NULL when absent or not a string. */
const char *ng_benc_dict_str(const ng_benc *d, const char *key);

/* v bencoded, NUL-terminated in p; *len its length. NULL when v nests deeper than
 * NG_BENC_MAX_DEPTH. */
char *ng_benc_encode(apr_pool_t *p, const ng_benc *v, apr_size_t *len);

/* One value that takes exactly buf[0..len). NULL and *out set on success; else a short
 * fixed reason (never a piece of the input) and *out NULL. */
const char *ng_benc_decode(apr_pool_t *p, const char *buf, apr_size_t len, ng_benc **out);

/* "<cookie> <body>": the cookie (1 to NG_MAX_COOKIE printable bytes, no space) copied to
 * *cookie, the body's start and length in *body and *body_len. NULL on success, else a
 * short fixed reason. */
const char *ng_message_split(apr_pool_t *p, const char *msg, apr_size_t len,
                             const char **cookie, const char **body, apr_size_t *body_len);

#endif
