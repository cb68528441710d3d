#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <openssl/evp.h>

#include "mob_form.h"
#include "mob_json.h"
#include "push_provider.h"

/* the answers push_classify and push_error_reason read: never more than push_send keeps */
#define BODY_READ_MAX 16384

/* ---- names ------------------------------------------------------------------------- */

const char *push_provider_name(push_provider provider)
{
    switch (provider) {
    case PUSH_PROVIDER_WEBPUSH: return "webpush";
    case PUSH_PROVIDER_APNS: return "apns";
    case PUSH_PROVIDER_FCM: return "fcm";
    }
    return NULL;
}

apr_status_t push_provider_parse(const char *name, push_provider *out)
{
    if (!name) {
        return APR_EINVAL;
    }
    if (!strcasecmp(name, "webpush") || !strcasecmp(name, "unifiedpush")) {
        *out = PUSH_PROVIDER_WEBPUSH;
    }
    else if (!strcasecmp(name, "apns")) {
        *out = PUSH_PROVIDER_APNS;
    }
    else if (!strcasecmp(name, "fcm")) {
        *out = PUSH_PROVIDER_FCM;
    }
    else {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static const char *const URGENCY_NAMES[] = { "very-low", "low", "normal", "high" };

const char *push_urgency_name(push_urgency urgency)
{
    return (urgency >= PUSH_URGENCY_VERY_LOW && urgency <= PUSH_URGENCY_HIGH)
           ? URGENCY_NAMES[urgency] : NULL;
}

apr_status_t push_urgency_parse(const char *name, push_urgency *out)
{
    int i;

    for (i = 0; name && i <= PUSH_URGENCY_HIGH; i++) {
        if (!strcmp(name, URGENCY_NAMES[i])) {
            *out = (push_urgency)i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *push_result_name(push_result result)
{
    switch (result) {
    case PUSH_OK: return "OK";
    case PUSH_GONE: return "GONE";
    case PUSH_RETRY: return "RETRY";
    case PUSH_FAILED: return "FAILED";
    case PUSH_AUTH: return "AUTH";
    }
    return NULL;
}

/* ---- small checks ------------------------------------------------------------------- */

/* 1..max printable ASCII characters, no space: what may go into a header or a URL
 * path segment as it is (with extra, a set of characters also refused) */
static int printable_token(const char *s, apr_size_t max, const char *extra)
{
    apr_size_t n;

    if (!s) {
        return 0;
    }
    for (n = 0; s[n]; n++) {
        if (n >= max || s[n] <= 0x20 || s[n] >= 0x7f || (extra && strchr(extra, s[n]))) {
            return 0;
        }
    }
    return n > 0;
}

static int b64url_chars(const char *s, apr_size_t n)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

const char *push_collapse_key(apr_pool_t *p, const char *conversation, apr_size_t max,
                              int b64url_only)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    apr_size_t n;
    const char *h;

    if (!conversation || !*conversation || max == 0) {
        return NULL;
    }
    n = strlen(conversation);
    if (n <= max && printable_token(conversation, max, NULL)
        && (!b64url_only || b64url_chars(conversation, n))) {
        return conversation;
    }
    if (EVP_Digest(conversation, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return NULL;
    }
    h = push_b64url_encode(p, md, sizeof(md));      /* 43 characters */
    return apr_pstrndup(p, h, max < 43 ? max : 43);
}

static int event_ok(const char *e)
{
    apr_size_t n;

    if (!e) {
        return 0;
    }
    n = strlen(e);
    return n >= 1 && n <= PUSH_EVENT_MAX && strspn(e, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int reserved_data_name(const char *k)
{
    static const char *const names[] = {
        "event", "conversation", "badge", "title", "body", "aps", "from", "notification",
        "message_type", "collapse_key", NULL
    };
    int i;

    for (i = 0; names[i]; i++) {
        if (!strcmp(k, names[i])) {
            return 1;
        }
    }
    return !strncmp(k, "google.", 7) || !strncmp(k, "gcm.", 4);
}

/* valid UTF-8, as jansson sees it (it refuses the rest) */
static int utf8_ok(const char *s)
{
    json_t *j = json_string(s);

    json_decref(j);
    return j != NULL;
}

apr_status_t push_notification_check(const push_notification *n, const char **why)
{
    const char *dummy;

    if (!why) {
        why = &dummy;
    }
    if (!n) {
        *why = "no notification";
        return APR_EINVAL;
    }
    if (!event_ok(n->event)) {
        *why = "event must be 1..32 of [a-z0-9_-]";
        return APR_EINVAL;
    }
    if (n->ttl < 0 || n->ttl > PUSH_TTL_MAX) {
        *why = "ttl out of range (0..2419200 seconds)";
        return APR_EINVAL;
    }
    if (!push_urgency_name(n->urgency)) {
        *why = "unknown urgency";
        return APR_EINVAL;
    }
    if ((n->conversation && !utf8_ok(n->conversation)) || (n->title && !utf8_ok(n->title))
        || (n->body && !utf8_ok(n->body))) {
        *why = "conversation, title and body must be UTF-8";
        return APR_EINVAL;
    }
    if (n->data) {
        const apr_array_header_t *arr = apr_table_elts(n->data);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        int i;

        for (i = 0; i < arr->nelts; i++) {
            if (!e[i].key || !*e[i].key || !e[i].val || !utf8_ok(e[i].key)
                || !utf8_ok(e[i].val)) {
                *why = "data names and values must be non-empty names and UTF-8 values";
                return APR_EINVAL;
            }
            if (reserved_data_name(e[i].key)) {
                *why = "a data name is reserved (event, conversation, badge, title, body, "
                       "aps, from, notification, message_type, collapse_key, google.*, gcm.*)";
                return APR_EINVAL;
            }
        }
    }
    return APR_SUCCESS;
}

/* Sets the data pairs as strings into obj. */
static int add_data(json_t *obj, const apr_table_t *data)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    if (!data) {
        return 1;
    }
    arr = apr_table_elts(data);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (json_object_set_new(obj, e[i].key, json_string(e[i].val)) != 0) {
            return 0;
        }
    }
    return 1;
}

static int set_str(json_t *obj, const char *k, const char *v)
{
    return !v || json_object_set_new(obj, k, json_string(v)) == 0;
}

const char *push_notification_json(apr_pool_t *p, const push_notification *n, apr_size_t *len)
{
    json_t *j = mob_json_own(p, json_object()), *data;

    if (!j || push_notification_check(n, NULL) != APR_SUCCESS
        || !set_str(j, "event", n->event) || !set_str(j, "conversation", n->conversation)
        || (n->badge >= 0 && json_object_set_new(j, "badge", json_integer(n->badge)) != 0)
        || !set_str(j, "title", n->title) || !set_str(j, "body", n->body)) {
        return NULL;
    }
    if (n->data && !apr_is_empty_table(n->data)) {
        data = json_object();
        if (json_object_set_new(j, "data", data) != 0 || !add_data(data, n->data)) {
            return NULL;
        }
    }
    return mob_json_dump(p, j, len);
}

/* ---- addresses ---------------------------------------------------------------------- */

typedef struct {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char a[16];
} addr_t;

/* An IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:AABB:CCDD::)
 * address is judged as the IPv4 address in it. */
static void normalise(addr_t *x)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

    if (x->family != AF_INET6) {
        return;
    }
    if (!memcmp(x->a, mapped, 12) || !memcmp(x->a, nat64, 12)) {
        memmove(x->a, x->a + 12, 4);
        x->family = AF_INET;
    }
    else if (x->a[0] == 0x20 && x->a[1] == 0x02) {
        memmove(x->a, x->a + 2, 4);
        x->family = AF_INET;
    }
}

static int prefix_match(const unsigned char *a, const unsigned char *net, unsigned int bits)
{
    unsigned int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, net, whole)) {
        return 0;
    }
    return rest == 0 || ((a[whole] ^ net[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

typedef struct {
    unsigned char net[16];
    unsigned int bits;
} block_t;

static const block_t SPECIAL4[] = {
    { { 0 }, 8 },                       /* 0.0.0.0/8 "this network" */
    { { 10 }, 8 },                      /* private */
    { { 100, 64 }, 10 },                /* carrier-grade NAT */
    { { 127 }, 8 },                     /* loopback */
    { { 169, 254 }, 16 },               /* link-local */
    { { 172, 16 }, 12 },                /* private */
    { { 192, 0, 0 }, 24 },              /* IETF protocol assignments */
    { { 192, 0, 2 }, 24 },              /* documentation */
    { { 192, 88, 99 }, 24 },            /* 6to4 relay anycast */
    { { 192, 168 }, 16 },               /* private */
    { { 198, 18 }, 15 },                /* benchmarking */
    { { 198, 51, 100 }, 24 },           /* documentation */
    { { 203, 0, 113 }, 24 },            /* documentation */
    { { 224 }, 4 },                     /* multicast */
    { { 240 }, 4 },                     /* reserved, broadcast */
};

static const block_t SPECIAL6[] = {
    { { 0 }, 8 },                                   /* ::, ::1, IPv4-compatible, ... */
    { { 0x01, 0x00 }, 64 },                         /* discard */
    { { 0x20, 0x01, 0x00, 0x00 }, 32 },             /* Teredo */
    { { 0x20, 0x01, 0x0d, 0xb8 }, 32 },             /* documentation */
    { { 0xfc }, 7 },                                /* unique local */
    { { 0xfe, 0x80 }, 10 },                         /* link-local */
    { { 0xfe, 0xc0 }, 10 },                         /* site-local (deprecated) */
    { { 0xff }, 8 },                                /* multicast */
};

static int special(const addr_t *x)
{
    const block_t *b = x->family == AF_INET ? SPECIAL4 : SPECIAL6;
    size_t n = x->family == AF_INET ? sizeof(SPECIAL4) / sizeof(*SPECIAL4)
                                    : sizeof(SPECIAL6) / sizeof(*SPECIAL6), i;

    for (i = 0; i < n; i++) {
        if (prefix_match(x->a, b[i].net, b[i].bits)) {
            return 1;
        }
    }
    return 0;
}

static int parse_addr(const char *s, addr_t *x)
{
    memset(x, 0, sizeof(*x));
    if (inet_pton(AF_INET, s, x->a) == 1) {
        x->family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, x->a) == 1) {
        x->family = AF_INET6;
        return 1;
    }
    return 0;
}

/* An allow entry as an address block: 1 and *x, *bits; 0 when it is not one (a name);
 * -1 when it has a '/' but is no valid block. */
static int parse_block(const char *entry, addr_t *x, unsigned int *bits)
{
    char buf[64];
    const char *slash = strchr(entry, '/');
    unsigned int max;
    char *end;
    long v;

    if (!slash) {
        if (!parse_addr(entry, x)) {
            return 0;
        }
        *bits = x->family == AF_INET ? 32 : 128;
    }
    else {
        if ((size_t)(slash - entry) >= sizeof(buf)) {
            return -1;
        }
        memcpy(buf, entry, (size_t)(slash - entry));
        buf[slash - entry] = '\0';
        if (!parse_addr(buf, x) || !apr_isdigit(slash[1]) || strlen(slash + 1) > 3) {
            return -1;
        }
        v = strtol(slash + 1, &end, 10);
        max = x->family == AF_INET ? 32 : 128;
        if (*end || v < 0 || (unsigned long)v > max) {
            return -1;
        }
        *bits = (unsigned int)v;
    }
    /* a mapped entry covers the IPv4 addresses it maps */
    if (x->family == AF_INET6) {
        addr_t y = *x;
        normalise(&y);
        if (y.family == AF_INET && *bits >= 96) {
            *x = y;
            *bits -= 96;
        }
    }
    return 1;
}

/* letters, digits, '-' and '_' in labels of 1..63, 253 in all; one final '.' allowed */
static int host_name_ok(const char *h)
{
    apr_size_t n = strlen(h), label = 0, i;

    if (n && h[n - 1] == '.') {
        n--;
    }
    if (n == 0 || n > 253) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (h[i] == '.') {
            if (label == 0) {
                return 0;
            }
            label = 0;
        }
        else if (!(apr_isalnum(h[i]) || h[i] == '-' || h[i] == '_') || ++label > 63) {
            return 0;
        }
    }
    return label > 0;
}

int push_allow_entry_valid(const char *entry)
{
    addr_t x;
    unsigned int bits;
    int r;

    if (!entry || !*entry) {
        return 0;
    }
    r = parse_block(entry, &x, &bits);
    return r == 1 || (r == 0 && host_name_ok(entry));
}

static int allowed_by_entry(const push_endpoint_policy *pol, const addr_t *x)
{
    int i;

    for (i = 0; pol && pol->allow && i < pol->allow->nelts; i++) {
        const char *entry = APR_ARRAY_IDX(pol->allow, i, const char *);
        addr_t net;
        unsigned int bits;

        if (entry && parse_block(entry, &net, &bits) == 1 && net.family == x->family
            && prefix_match(x->a, net.a, bits)) {
            return 1;
        }
    }
    return 0;
}

static int name_allowed(const push_endpoint_policy *pol, const char *host, apr_size_t n)
{
    int i;

    for (i = 0; pol && pol->allow && i < pol->allow->nelts; i++) {
        const char *entry = APR_ARRAY_IDX(pol->allow, i, const char *);
        if (entry && strlen(entry) == n && !strncasecmp(entry, host, n)) {
            return 1;
        }
    }
    return 0;
}

int push_address_allowed(const push_endpoint_policy *policy, int family, const void *addr)
{
    addr_t x;

    if (!addr || (family != AF_INET && family != AF_INET6)) {
        return 0;
    }
    memset(&x, 0, sizeof(x));
    x.family = family;
    memcpy(x.a, addr, family == AF_INET ? 4 : 16);
    normalise(&x);
    return !special(&x) || allowed_by_entry(policy, &x);
}

/* The last label is a number (decimal, or 0x hex): a resolver reads such a name as an
 * IPv4 address in one of inet_aton's forms. */
static int numeric_looking(const char *h, apr_size_t n)
{
    const char *last = h + n;

    while (last > h && last[-1] != '.') {
        last--;
    }
    if (last == h + n) {
        return 0;
    }
    if (last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
        return 1;
    }
    return strspn(last, "0123456789") >= (apr_size_t)(h + n - last);
}

apr_status_t push_endpoint_check(apr_pool_t *p, const char *endpoint,
                                 const push_endpoint_policy *policy, const char **why)
{
    const char *dummy, *auth, *end, *host;
    apr_size_t n, hn;
    apr_uri_t u;
    addr_t x;
    int https;

    if (!why) {
        why = &dummy;
    }
    if (!endpoint || !*endpoint) {
        *why = "no endpoint";
        return APR_EINVAL;
    }
    n = strnlen(endpoint, PUSH_ENDPOINT_MAX + 1);
    if (n > PUSH_ENDPOINT_MAX) {
        *why = "the endpoint is longer than 1000 bytes";
        return APR_EINVAL;
    }
    if (!printable_token(endpoint, PUSH_ENDPOINT_MAX, NULL)) {
        *why = "the endpoint holds a space, a control or a non-ASCII character";
        return APR_EINVAL;
    }
    if (apr_uri_parse(p, endpoint, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || !*u.hostname) {
        *why = "the endpoint is not an absolute URL";
        return APR_EINVAL;
    }
    https = !strcasecmp(u.scheme, "https");
    if (!https && !(strcasecmp(u.scheme, "http") == 0 && policy && policy->allow_http)) {
        *why = policy && policy->allow_http ? "the endpoint is not http or https"
                                            : "the endpoint is not https";
        return APR_EINVAL;
    }
    /* '@' anywhere in the authority, whatever apr_uri_parse made of it */
    auth = strstr(endpoint, "://");
    auth = auth ? auth + 3 : endpoint;
    end = auth + strcspn(auth, "/?#");
    if (u.user || u.password || memchr(auth, '@', (size_t)(end - auth))) {
        *why = "the endpoint has user information";
        return APR_EINVAL;
    }
    if (u.fragment) {
        *why = "the endpoint has a fragment";
        return APR_EINVAL;
    }
    /* apr_uri_parse truncates the port to 16 bits (65979 would become 443) */
    if (u.port_str && *u.port_str
        && (strspn(u.port_str, "0123456789") != strlen(u.port_str) || strlen(u.port_str) > 5
            || atoi(u.port_str) < 1 || atoi(u.port_str) > 65535)) {
        *why = "the endpoint's port is not 1..65535";
        return APR_EINVAL;
    }
    host = u.hostname;
    hn = strlen(host);
    if (strchr(host, ':') || parse_addr(host, &x)) {
        if (!parse_addr(host, &x)) {
            *why = "the endpoint's IPv6 host does not parse (zone ids are refused)";
            return APR_EINVAL;
        }
        if (!push_address_allowed(policy, x.family, x.a)) {
            *why = "the endpoint's host is a loopback, private, link-local or reserved address";
            return APR_EINVAL;
        }
        return APR_SUCCESS;
    }
    if (!host_name_ok(host)) {
        *why = "the endpoint's host is not a valid host name";
        return APR_EINVAL;
    }
    if (host[hn - 1] == '.') {
        hn--;
    }
    if (numeric_looking(host, hn)) {
        *why = "the endpoint's host is a number that is not a dotted-quad address";
        return APR_EINVAL;
    }
    if ((hn == 9 && !strncasecmp(host, "localhost", 9))
        || (hn > 10 && !strncasecmp(host + hn - 10, ".localhost", 10))) {
        if (!name_allowed(policy, host, hn)) {
            *why = "the endpoint's host is localhost";
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* ---- request helpers ----------------------------------------------------------------- */

static push_http_request *new_request(apr_pool_t *p, const char *url)
{
    push_http_request *r = apr_pcalloc(p, sizeof(*r));

    r->method = "POST";
    r->url = url;
    r->headers = apr_table_make(p, 10);
    return r;
}

static int http_url_ok(apr_pool_t *p, const char *url)
{
    apr_uri_t u;

    return url && printable_token(url, 2048, NULL) && apr_uri_parse(p, url, &u) == APR_SUCCESS
           && u.scheme && (!strcasecmp(u.scheme, "https") || !strcasecmp(u.scheme, "http"))
           && u.hostname && *u.hostname && !u.user && !u.password && !u.fragment;
}

/* ---- WebPush ------------------------------------------------------------------------- */

apr_status_t push_webpush_request(apr_pool_t *p, const push_webpush_config *cfg,
                                  const push_webpush_subscription *sub,
                                  const push_notification *n, apr_time_t now,
                                  push_http_request **out, const char **why)
{
    const char *dummy, *payload, *vapid, *topic;
    unsigned char *ua, *auth, *body;
    apr_size_t ua_len = 0, auth_len = 0, plen = 0, body_len = 0;
    push_http_request *r;
    apr_status_t rv;

    if (!why) {
        why = &dummy;
    }
    if (!cfg || !cfg->vapid_key || push_key_kind_of(cfg->vapid_key) != PUSH_KEY_P256
        || !cfg->vapid_subject) {
        *why = "no P-256 VAPID key or subject";
        return APR_EINVAL;
    }
    if (!sub) {
        *why = "no subscription";
        return APR_EINVAL;
    }
    if (push_endpoint_check(p, sub->endpoint, cfg->policy, why) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    ua = push_b64url_decode(p, sub->p256dh, &ua_len);
    if (!ua || !push_p256_public_valid(ua, ua_len)) {
        *why = "p256dh is not a base64url uncompressed P-256 point";
        return APR_EINVAL;
    }
    auth = push_b64url_decode(p, sub->auth, &auth_len);
    if (!auth || auth_len != PUSH_AUTH_SECRET_LEN) {
        *why = "auth is not 16 bytes of base64url";
        return APR_EINVAL;
    }
    if (push_notification_check(n, why) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    payload = push_notification_json(p, n, &plen);
    if (!payload) {
        *why = "the payload does not serialise";
        return APR_EGENERAL;
    }
    rv = push_webpush_encrypt(p, ua, ua_len, auth, auth_len, (const unsigned char *)payload,
                              plen, &body, &body_len);
    if (rv == APR_ENOSPC) {
        *why = "the payload is larger than 3993 bytes";
        return rv;
    }
    if (rv != APR_SUCCESS) {
        *why = "encryption failed";
        return rv;
    }
    vapid = push_vapid_authorization(p, cfg->vapid_key, sub->endpoint, cfg->vapid_subject, now,
                                     cfg->vapid_lifetime);
    if (!vapid) {
        *why = "cannot sign the VAPID token (subject must be mailto: or https:, lifetime "
               "at most 24 h)";
        return APR_EINVAL;
    }
    r = new_request(p, sub->endpoint);
    apr_table_setn(r->headers, "TTL", apr_itoa(p, n->ttl));
    apr_table_setn(r->headers, "Urgency", push_urgency_name(n->urgency));
    topic = push_collapse_key(p, n->conversation, PUSH_TOPIC_MAX, 1);
    if (topic) {
        apr_table_setn(r->headers, "Topic", topic);
    }
    apr_table_setn(r->headers, "Content-Encoding", "aes128gcm");
    apr_table_setn(r->headers, "Content-Type", "application/octet-stream");
    apr_table_setn(r->headers, "Authorization", vapid);
    r->body = body;
    r->body_len = body_len;
    *out = r;
    return APR_SUCCESS;
}

/* ---- APNs ---------------------------------------------------------------------------- */

static int apns_host_ok(const char *h)
{
    apr_size_t n = h ? strlen(h) : 0;

    return n > 0 && n <= 255
           && strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]")
              == n;
}

static int device_token_ok(const char *t)
{
    apr_size_t n = t ? strlen(t) : 0;

    return n >= 8 && n <= PUSH_DEVICE_TOKEN_MAX && n % 2 == 0
           && strspn(t, "0123456789abcdefABCDEF") == n;
}

apr_status_t push_apns_request(apr_pool_t *p, const push_apns_config *cfg,
                               const char *device_token, const push_notification *n,
                               apr_time_t now, push_http_request **out, const char **why)
{
    const char *dummy, *payload, *collapse;
    json_t *root, *aps, *alert;
    char *token, *c;
    apr_size_t plen = 0;
    push_http_request *r;
    int alert_push;

    if (!why) {
        why = &dummy;
    }
    if (!cfg || !apns_host_ok(cfg->host) || !printable_token(cfg->topic, 255, NULL)
        || !printable_token(cfg->provider_token, 4096, NULL)) {
        *why = "APNs host, topic or provider token missing or malformed";
        return APR_EINVAL;
    }
    if (!device_token_ok(device_token)) {
        *why = "the device token is not 8..200 hex digits";
        return APR_EINVAL;
    }
    if (push_notification_check(n, why) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    alert_push = !n->background;
    root = mob_json_own(p, json_object());
    aps = json_object();
    if (!root || json_object_set_new(root, "aps", aps) != 0) {
        *why = "out of memory";
        return APR_EGENERAL;
    }
    if (alert_push) {
        alert = json_object();
        if (json_object_set_new(aps, "alert", alert) != 0) {
            return APR_EGENERAL;
        }
        if (n->title || n->body) {
            if (!set_str(alert, "title", n->title) || !set_str(alert, "body", n->body)) {
                return APR_EGENERAL;
            }
        }
        else if (!set_str(alert, "loc-key", apr_pstrcat(p, "push.", n->event, NULL))) {
            return APR_EGENERAL;
        }
        if ((n->badge >= 0 && json_object_set_new(aps, "badge", json_integer(n->badge)) != 0)
            || (n->urgency >= PUSH_URGENCY_NORMAL && !set_str(aps, "sound", "default"))) {
            return APR_EGENERAL;
        }
    }
    else if (json_object_set_new(aps, "content-available", json_integer(1)) != 0
             || (n->badge >= 0
                 && json_object_set_new(root, "badge", json_integer(n->badge)) != 0)) {
        return APR_EGENERAL;
    }
    if (!set_str(root, "event", n->event) || !set_str(root, "conversation", n->conversation)
        || !add_data(root, n->data)) {
        return APR_EGENERAL;
    }
    payload = mob_json_dump(p, root, &plen);
    if (!payload) {
        return APR_EGENERAL;
    }
    if (plen > PUSH_APNS_PAYLOAD_MAX) {
        *why = "the APNs payload is larger than 4096 bytes";
        return APR_ENOSPC;
    }
    token = apr_pstrdup(p, device_token);
    for (c = token; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    r = new_request(p, apr_pstrcat(p, "https://", cfg->host, "/3/device/", token, NULL));
    r->http2_required = 1;
    apr_table_setn(r->headers, "authorization",
                   apr_pstrcat(p, "bearer ", cfg->provider_token, NULL));
    apr_table_setn(r->headers, "apns-topic", cfg->topic);
    apr_table_setn(r->headers, "apns-push-type", alert_push ? "alert" : "background");
    apr_table_setn(r->headers, "apns-priority",
                   alert_push && n->urgency >= PUSH_URGENCY_NORMAL ? "10" : "5");
    apr_table_setn(r->headers, "apns-expiration",
                   n->ttl ? apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_sec(now) + n->ttl)
                          : "0");
    collapse = push_collapse_key(p, n->conversation, PUSH_COLLAPSE_MAX, 0);
    if (collapse) {
        apr_table_setn(r->headers, "apns-collapse-id", collapse);
    }
    apr_table_setn(r->headers, "content-type", "application/json");
    r->body = (const unsigned char *)payload;
    r->body_len = plen;
    *out = r;
    return APR_SUCCESS;
}

/* ---- FCM ----------------------------------------------------------------------------- */

static int project_id_ok(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0;

    return n >= 1 && n <= 100
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

apr_status_t push_fcm_request(apr_pool_t *p, const push_fcm_config *cfg,
                              const char *registration_token, const push_notification *n,
                              push_http_request **out, const char **why)
{
    const char *dummy, *payload, *collapse, *base;
    json_t *root, *msg, *data, *android;
    apr_size_t plen = 0, dsize = 0, blen;
    push_http_request *r;
    const char *key;
    json_t *val;

    if (!why) {
        why = &dummy;
    }
    if (!cfg || !http_url_ok(p, cfg->base_url) || !project_id_ok(cfg->project_id)
        || !printable_token(cfg->access_token, PUSH_ACCESS_TOKEN_MAX, NULL)) {
        *why = "FCM base URL, project id or access token missing or malformed";
        return APR_EINVAL;
    }
    if (!printable_token(registration_token, PUSH_FCM_TOKEN_MAX, "\"\\")) {
        *why = "the registration token is not 1..4096 printable characters";
        return APR_EINVAL;
    }
    if (push_notification_check(n, why) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    root = mob_json_own(p, json_object());
    msg = json_object();
    data = json_object();
    android = json_object();
    if (!root || json_object_set_new(root, "message", msg) != 0
        || !set_str(msg, "token", registration_token)
        || json_object_set_new(msg, "data", data) != 0
        || json_object_set_new(msg, "android", android) != 0) {
        return APR_EGENERAL;
    }
    /* FCM data values are strings only */
    if (!set_str(data, "event", n->event) || !set_str(data, "conversation", n->conversation)
        || (n->badge >= 0 && !set_str(data, "badge", apr_itoa(p, n->badge)))
        || !set_str(data, "title", n->title) || !set_str(data, "body", n->body)
        || !add_data(data, n->data)) {
        return APR_EGENERAL;
    }
    json_object_foreach(data, key, val) {
        dsize += strlen(key) + strlen(json_string_value(val));
    }
    if (dsize > PUSH_FCM_DATA_MAX) {
        *why = "the FCM data is larger than 4096 bytes";
        return APR_ENOSPC;
    }
    collapse = push_collapse_key(p, n->conversation, PUSH_COLLAPSE_MAX, 0);
    if (!set_str(android, "collapse_key", collapse)
        || !set_str(android, "priority",
                    !n->background && n->urgency >= PUSH_URGENCY_NORMAL ? "high" : "normal")
        || !set_str(android, "ttl", apr_psprintf(p, "%ds", n->ttl))) {
        return APR_EGENERAL;
    }
    payload = mob_json_dump(p, root, &plen);
    if (!payload) {
        return APR_EGENERAL;
    }
    blen = strlen(cfg->base_url);
    base = (blen && cfg->base_url[blen - 1] == '/') ? apr_pstrndup(p, cfg->base_url, blen - 1)
                                                    : cfg->base_url;
    r = new_request(p, apr_pstrcat(p, base, "/v1/projects/", cfg->project_id,
                                   "/messages:send", NULL));
    apr_table_setn(r->headers, "Authorization",
                   apr_pstrcat(p, "Bearer ", cfg->access_token, NULL));
    apr_table_setn(r->headers, "Content-Type", "application/json");
    r->body = (const unsigned char *)payload;
    r->body_len = plen;
    *out = r;
    return APR_SUCCESS;
}

/* ---- Google OAuth -------------------------------------------------------------------- */

/* A string member, copied into p; NULL when absent or not a string. */
static const char *member(apr_pool_t *p, const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));

    return s ? apr_pstrdup(p, s) : NULL;
}

apr_status_t push_service_account_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                        push_service_account *out, const char **why)
{
    const char *dummy;
    json_t *j;
    push_service_account sa;

    if (!why) {
        why = &dummy;
    }
    if (!json || len == 0 || len > PUSH_SERVICE_ACCOUNT_MAX) {
        *why = "no service account file, or larger than 64 KiB";
        return APR_EINVAL;
    }
    j = mob_json_own(p, json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL));
    if (!json_is_object(j)) {
        *why = "the service account file is not a JSON object";
        return APR_EINVAL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.type = member(p, j, "type");
    sa.project_id = member(p, j, "project_id");
    sa.private_key = member(p, j, "private_key");
    sa.private_key_id = member(p, j, "private_key_id");
    sa.client_email = member(p, j, "client_email");
    sa.token_uri = member(p, j, "token_uri");
    if (!sa.type || strcmp(sa.type, "service_account")) {
        *why = "type is not \"service_account\"";
    }
    else if (!project_id_ok(sa.project_id)) {
        *why = "project_id is missing or malformed";
    }
    else if (!sa.private_key || !strstr(sa.private_key, "-----BEGIN ")) {
        *why = "private_key is missing or holds no PEM block";
    }
    else if (!sa.client_email || !strchr(sa.client_email, '@')
             || !printable_token(sa.client_email, 320, NULL)) {
        *why = "client_email is missing or malformed";
    }
    else if (!http_url_ok(p, sa.token_uri)) {
        *why = "token_uri is not an absolute http(s) URL";
    }
    else if (json_object_get(j, "private_key_id") && (!sa.private_key_id || !*sa.private_key_id)) {
        *why = "private_key_id is not a non-empty string";
    }
    else {
        *out = sa;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

apr_status_t push_google_token_request(apr_pool_t *p, const push_service_account *sa,
                                       const push_key *key, apr_time_t now,
                                       push_http_request **out)
{
    const char *jwt, *body;
    push_http_request *r;

    if (!sa || !key || !http_url_ok(p, sa->token_uri)) {
        return APR_EINVAL;
    }
    jwt = push_google_assertion(p, key, sa->private_key_id, sa->client_email, sa->token_uri,
                                now);
    if (!jwt) {
        return APR_EINVAL;
    }
    body = apr_pstrcat(p, "grant_type=",
                       mob_form_escape(p, "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                       "&assertion=", mob_form_escape(p, jwt), NULL);
    r = new_request(p, sa->token_uri);
    apr_table_setn(r->headers, "Content-Type", "application/x-www-form-urlencoded");
    apr_table_setn(r->headers, "Accept", "application/json");
    r->body = (const unsigned char *)body;
    r->body_len = strlen(body);
    *out = r;
    return APR_SUCCESS;
}

apr_status_t push_google_token_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                     apr_time_t now, push_oauth_token *out, const char **why)
{
    const char *dummy, *tok, *type, *err;
    json_t *j, *exp;
    json_int_t secs;

    if (!why) {
        why = &dummy;
    }
    if (!body || len == 0 || len > BODY_READ_MAX) {
        *why = "no token answer, or larger than 16 KiB";
        return APR_EINVAL;
    }
    j = mob_json_own(p, json_loadb(body, len, 0, NULL));
    if (!json_is_object(j)) {
        *why = "the token answer is not a JSON object";
        return APR_EINVAL;
    }
    err = json_string_value(json_object_get(j, "error"));
    if (err) {
        *why = apr_pstrcat(p, "token endpoint error: ",
                           printable_token(err, 100, NULL) ? err : "(unprintable)", NULL);
        return APR_EINVAL;
    }
    tok = json_string_value(json_object_get(j, "access_token"));
    if (!printable_token(tok, PUSH_ACCESS_TOKEN_MAX, NULL)) {
        *why = "access_token is missing or not 1..4096 printable characters";
        return APR_EINVAL;
    }
    exp = json_object_get(j, "expires_in");
    secs = json_is_integer(exp) ? json_integer_value(exp) : 0;
    if (secs < 1 || secs > 86400) {
        *why = "expires_in is missing or not an integer of 1..86400";
        return APR_EINVAL;
    }
    type = json_string_value(json_object_get(j, "token_type"));
    if (json_object_get(j, "token_type") && (!type || strcasecmp(type, "Bearer"))) {
        *why = "token_type is not Bearer";
        return APR_EINVAL;
    }
    out->access_token = apr_pstrdup(p, tok);
    out->token_type = "Bearer";
    out->expires_in = apr_time_from_sec(secs);
    out->expires = now + out->expires_in;
    return APR_SUCCESS;
}

/* ---- answers ------------------------------------------------------------------------- */

/* The body as JSON (only its first BODY_READ_MAX bytes); the caller decrefs. */
static json_t *body_json(const char *body)
{
    if (!body || !*body) {
        return NULL;
    }
    return json_loadb(body, strnlen(body, BODY_READ_MAX), 0, NULL);
}

static int fcm_has_code(const json_t *j, const char *code)
{
    const json_t *err = json_object_get(j, "error"), *details, *d;
    const char *status = json_string_value(json_object_get(err, "status"));
    size_t i;

    if (status && !strcmp(status, code)) {
        return 1;
    }
    details = json_object_get(err, "details");
    json_array_foreach(details, i, d) {
        const char *c = json_string_value(json_object_get(d, "errorCode"));
        if (c && !strcmp(c, code)) {
            return 1;
        }
    }
    return 0;
}

static apr_interval_time_t retry_delay(const char *h, apr_time_t now)
{
    apr_size_t n;
    apr_time_t when;

    if (!h) {
        return 0;
    }
    while (*h == ' ' || *h == '\t') {
        h++;
    }
    n = strspn(h, "0123456789");
    if (n > 0 && h[n + strspn(h + n, " \t")] == '\0') {
        /* more than 9 digits is more than the cap anyway */
        apr_int64_t secs = n > 9 ? 86400 : apr_atoi64(h);
        return secs >= 86400 ? PUSH_RETRY_AFTER_MAX : apr_time_from_sec(secs);
    }
    when = apr_date_parse_http(h);
    if (when == APR_DATE_BAD || when <= now) {
        return 0;
    }
    return when - now > PUSH_RETRY_AFTER_MAX ? PUSH_RETRY_AFTER_MAX : when - now;
}

push_result push_classify(push_provider provider, int http_status, const char *body,
                          const char *retry_after, apr_time_t now,
                          apr_interval_time_t *retry_in)
{
    push_result r = PUSH_FAILED;
    json_t *j = NULL;
    const char *reason = NULL;

    if (retry_in) {
        *retry_in = 0;
    }
    if (http_status >= 200 && http_status < 300) {
        return PUSH_OK;
    }
    if (http_status == 0 || http_status == 408 || http_status == 429
        || (http_status >= 500 && http_status < 600)) {
        r = PUSH_RETRY;
    }
    switch (provider) {
    case PUSH_PROVIDER_WEBPUSH:
        if (http_status == 404 || http_status == 410) {
            r = PUSH_GONE;
        }
        break;
    case PUSH_PROVIDER_APNS:
        j = body_json(body);
        reason = json_string_value(json_object_get(j, "reason"));
        /* a 5xx stays a RETRY whatever its body says */
        if (http_status == 410
            || (http_status >= 400 && http_status < 500 && reason
                && !strcmp(reason, "Unregistered"))
            || (http_status == 400 && reason && !strcmp(reason, "BadDeviceToken"))) {
            r = PUSH_GONE;
        }
        else if (http_status == 403 && reason
                 && (!strcmp(reason, "ExpiredProviderToken")
                     || !strcmp(reason, "InvalidProviderToken"))) {
            r = PUSH_AUTH;
        }
        break;
    case PUSH_PROVIDER_FCM:
        j = body_json(body);
        if (http_status == 404
            || (http_status >= 400 && http_status < 500 && fcm_has_code(j, "UNREGISTERED"))) {
            r = PUSH_GONE;
        }
        else if (http_status == 401) {
            r = PUSH_AUTH;
        }
        break;
    }
    json_decref(j);
    if (r == PUSH_RETRY && retry_in) {
        *retry_in = retry_delay(retry_after, now);
    }
    return r;
}

const char *push_error_reason(apr_pool_t *p, push_provider provider, const char *body)
{
    json_t *j = body_json(body), *err, *d;
    const char *s = NULL;
    size_t i;

    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    err = json_object_get(j, "error");
    s = json_string_value(json_object_get(j, "reason"));
    if (!s && provider == PUSH_PROVIDER_FCM) {
        json_array_foreach(json_object_get(err, "details"), i, d) {
            if ((s = json_string_value(json_object_get(d, "errorCode")))) {
                break;
            }
        }
    }
    if (!s) {
        s = json_string_value(json_object_get(err, "status"));
    }
    if (!s) {
        s = json_is_string(err) ? json_string_value(err)
                                : json_string_value(json_object_get(err, "message"));
    }
    s = s ? apr_pstrndup(p, s, 200) : NULL;
    json_decref(j);
    return s;
}
