#include <stdio.h>
#include <string.h>
#include <apr_strings.h>

#include "ng_bencode.h"

static ng_benc *node(apr_pool_t *p, ng_benc_type t)
{
    ng_benc *v = apr_pcalloc(p, sizeof(*v));

    v->type = t;
    return v;
}

ng_benc *ng_benc_dict(apr_pool_t *p)
{
    return node(p, NG_BENC_DICT);
}

ng_benc *ng_benc_list(apr_pool_t *p)
{
    return node(p, NG_BENC_LIST);
}

ng_benc *ng_benc_bytes(apr_pool_t *p, const char *s, apr_size_t len)
{
    ng_benc *v = node(p, NG_BENC_STR);

    v->str = apr_pstrmemdup(p, s, len);
    v->len = len;
    return v;
}

ng_benc *ng_benc_str(apr_pool_t *p, const char *s)
{
    return ng_benc_bytes(p, s, strlen(s));
}

ng_benc *ng_benc_int(apr_pool_t *p, apr_int64_t n)
{
    ng_benc *v = node(p, NG_BENC_INT);

    v->num = n;
    return v;
}

static void append(ng_benc *c, ng_benc *v)
{
    v->next = NULL;
    if (c->last) {
        c->last->next = v;
    }
    else {
        c->first = v;
    }
    c->last = v;
}

void ng_benc_list_add(ng_benc *l, ng_benc *v)
{
    append(l, v);
}

void ng_benc_dict_add(apr_pool_t *p, ng_benc *d, const char *key, ng_benc *v)
{
    v->key_len = strlen(key);
    v->key = apr_pstrmemdup(p, key, v->key_len);
    append(d, v);
}

void ng_benc_dict_add_str(apr_pool_t *p, ng_benc *d, const char *key, const char *s)
{
    ng_benc_dict_add(p, d, key, ng_benc_str(p, s));
}

void ng_benc_dict_add_strs(apr_pool_t *p, ng_benc *d, const char *key, const char *const *s,
                           int n)
{
    ng_benc *l = ng_benc_list(p);
    int i;

    for (i = 0; i < n; i++) {
        ng_benc_list_add(l, ng_benc_str(p, s[i]));
    }
    ng_benc_dict_add(p, d, key, l);
}

const ng_benc *ng_benc_dict_get(const ng_benc *d, const char *key)
{
    const ng_benc *v;
    apr_size_t n = strlen(key);

    if (!d || d->type != NG_BENC_DICT) {
        return NULL;
    }
    for (v = d->first; v; v = v->next) {
        if (v->key_len == n && !memcmp(v->key, key, n)) {
            return v;
        }
    }
    return NULL;
}

const char *ng_benc_dict_str(const ng_benc *d, const char *key)
{
    const ng_benc *v = ng_benc_dict_get(d, key);

    return v && v->type == NG_BENC_STR ? v->str : NULL;
}

/* ---- encoding: measure, then write ---- */

static int digits(apr_uint64_t n)
{
    int d = 1;

    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

static apr_uint64_t magnitude(apr_int64_t n)
{
    return n < 0 ? (apr_uint64_t)0 - (apr_uint64_t)n : (apr_uint64_t)n;
}

/* The encoded size of v, or 0 when too deep. */
static apr_size_t measure(const ng_benc *v, int depth)
{
    const ng_benc *m;
    apr_size_t n, sub;

    if (depth > NG_BENC_MAX_DEPTH) {
        return 0;
    }
    switch (v->type) {
    case NG_BENC_STR:
        return (apr_size_t)digits(v->len) + 1 + v->len;
    case NG_BENC_INT:
        return 2 + (v->num < 0) + (apr_size_t)digits(magnitude(v->num));
    default:
        n = 2;
        for (m = v->first; m; m = m->next) {
            if (v->type == NG_BENC_DICT) {
                n += (apr_size_t)digits(m->key_len) + 1 + m->key_len;
            }
            sub = measure(m, depth + 1);
            if (!sub) {
                return 0;
            }
            n += sub;
        }
        return n;
    }
}

static char *put_bytes(char *o, const char *s, apr_size_t len)
{
    o += sprintf(o, "%" APR_SIZE_T_FMT ":", len);
    memcpy(o, s, len);
    return o + len;
}

static char *put(char *o, const ng_benc *v)
{
    const ng_benc *m;

    switch (v->type) {
    case NG_BENC_STR:
        return put_bytes(o, v->str, v->len);
    case NG_BENC_INT:
        return o + sprintf(o, "i%" APR_INT64_T_FMT "e", v->num);
    default:
        *o++ = v->type == NG_BENC_DICT ? 'd' : 'l';
        for (m = v->first; m; m = m->next) {
            if (v->type == NG_BENC_DICT) {
                o = put_bytes(o, m->key, m->key_len);
            }
            o = put(o, m);
        }
        *o++ = 'e';
        return o;
    }
}

char *ng_benc_encode(apr_pool_t *p, const ng_benc *v, apr_size_t *len)
{
    apr_size_t n = measure(v, 1);
    char *out, *end;

    if (!n) {
        return NULL;
    }
    /* sprintf writes a NUL after each number: one byte of room past the end */
    out = apr_palloc(p, n + 1);
    end = put(out, v);
    *end = '\0';
    *len = (apr_size_t)(end - out);
    return out;
}

/* ---- decoding ---- */

typedef struct {
    apr_pool_t *p;
    const char *s, *end;
    unsigned items;
} reader;

/* Digits up to the terminator t: a non-negative number without leading zeros, at most
 * max. NULL on success. */
static const char *read_uint(reader *r, char t, apr_uint64_t max, apr_uint64_t *out)
{
    apr_uint64_t n = 0;
    const char *start = r->s;

    while (r->s < r->end && *r->s >= '0' && *r->s <= '9') {
        unsigned d = (unsigned)(*r->s - '0');
        if (n > (max - d) / 10) {
            return "number too large";
        }
        n = n * 10 + d;
        r->s++;
    }
    if (r->s == start) {
        return "digit expected";
    }
    if (*start == '0' && r->s - start > 1) {
        return "leading zero";
    }
    if (r->s >= r->end || *r->s != t) {
        return t == ':' ? "':' expected" : "'e' expected";
    }
    r->s++;
    *out = n;
    return NULL;
}

static const char *read_bytes(reader *r, const char **s, apr_size_t *len)
{
    apr_uint64_t n;
    const char *err = read_uint(r, ':', (apr_uint64_t)NG_MAX_MESSAGE * 16, &n);

    if (err) {
        return err;
    }
    if (n > (apr_uint64_t)(r->end - r->s)) {
        return "string longer than the message";
    }
    *s = apr_pstrmemdup(r->p, r->s, (apr_size_t)n);
    *len = (apr_size_t)n;
    r->s += n;
    return NULL;
}

static const char *read_value(reader *r, int depth, ng_benc **out);

static const char *read_container(reader *r, int depth, ng_benc *c)
{
    for (;;) {
        ng_benc *v;
        const char *key = NULL, *err;
        apr_size_t key_len = 0;

        if (r->s >= r->end) {
            return "unterminated list or dictionary";
        }
        if (*r->s == 'e') {
            r->s++;
            return NULL;
        }
        if (c->type == NG_BENC_DICT) {
            if (*r->s < '0' || *r->s > '9') {
                return "dictionary key is not a string";
            }
            if ((err = read_bytes(r, &key, &key_len)) != NULL) {
                return err;
            }
        }
        if ((err = read_value(r, depth + 1, &v)) != NULL) {
            return err;
        }
        v->key = key;
        v->key_len = key_len;
        append(c, v);
    }
}

static const char *read_value(reader *r, int depth, ng_benc **out)
{
    ng_benc *v;
    const char *err;

    if (depth > NG_BENC_MAX_DEPTH) {
        return "nested too deep";
    }
    if (++r->items > NG_BENC_MAX_ITEMS) {
        return "too many values";
    }
    if (r->s >= r->end) {
        return "value expected";
    }
    switch (*r->s) {
    case 'i': {
        apr_uint64_t n;
        int neg = 0;
        r->s++;
        if (r->s < r->end && *r->s == '-') {
            neg = 1;
            r->s++;
        }
        if ((err = read_uint(r, 'e', neg ? (apr_uint64_t)APR_INT64_MAX + 1
                                         : (apr_uint64_t)APR_INT64_MAX, &n)) != NULL) {
            return err;
        }
        if (neg && n == 0) {
            return "negative zero";
        }
        v = node(r->p, NG_BENC_INT);
        v->num = neg ? (apr_int64_t)(0 - n) : (apr_int64_t)n;
        break;
    }
    case 'l':
    case 'd':
        v = node(r->p, *r->s == 'd' ? NG_BENC_DICT : NG_BENC_LIST);
        r->s++;
        if ((err = read_container(r, depth, v)) != NULL) {
            return err;
        }
        break;
    default:
        if (*r->s < '0' || *r->s > '9') {
            return "not a bencode value";
        }
        v = node(r->p, NG_BENC_STR);
        if ((err = read_bytes(r, &v->str, &v->len)) != NULL) {
            return err;
        }
        break;
    }
    *out = v;
    return NULL;
}

const char *ng_benc_decode(apr_pool_t *p, const char *buf, apr_size_t len, ng_benc **out)
{
    reader r;
    ng_benc *v = NULL;
    const char *err;

    *out = NULL;
    r.p = p;
    r.s = buf;
    r.end = buf + len;
    r.items = 0;
    if ((err = read_value(&r, 1, &v)) != NULL) {
        return err;
    }
    if (r.s != r.end) {
        return "trailing bytes after the value";
    }
    *out = v;
    return NULL;
}

const char *ng_message_split(apr_pool_t *p, const char *msg, apr_size_t len,
                             const char **cookie, const char **body, apr_size_t *body_len)
{
    apr_size_t i;

    *cookie = NULL;
    *body = NULL;
    *body_len = 0;
    for (i = 0; i < len && i <= NG_MAX_COOKIE && msg[i] != ' '; i++) {
        if (msg[i] <= ' ' || msg[i] > '~') {
            return "cookie with a control or non-ASCII byte";
        }
    }
    if (i == 0) {
        return "no cookie";
    }
    if (i > NG_MAX_COOKIE) {
        return "cookie too long";
    }
    if (i == len) {
        return "no space after the cookie";
    }
    *cookie = apr_pstrmemdup(p, msg, i);
    *body = msg + i + 1;
    *body_len = len - i - 1;
    return NULL;
}
