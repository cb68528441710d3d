#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mob_hex.h"
#include "mob_json.h"
#include "ucwa_pool.h"
#include "ucwa_pool_link.h"

/* The members of a message that name a Front End. */
static const char *const NAME_KEYS[] = { "fe", "by" };

const char *ucwa_pool_link_sign(apr_pool_t *p, const unsigned char *key, apr_size_t key_len,
                                const char *from, const char *to, const char *time,
                                const char *body, apr_size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *head = apr_pstrcat(p, from, "\n", to, "\n", time, "\n", NULL);
    apr_size_t hl = strlen(head);
    unsigned char *msg = apr_palloc(p, hl + len + 1);

    /* the one-shot HMAC over the parts joined */
    memcpy(msg, head, hl);
    memcpy(msg + hl, body, len);
    if (!HMAC(EVP_sha256(), key, (int)key_len, msg, hl + len, mac, &mac_len)) {
        return NULL;
    }
    return mob_hex(p, mac, mac_len);
}

int ucwa_pool_link_verify(apr_pool_t *p, const unsigned char *key, apr_size_t key_len,
                          const char *from, const char *to, const char *time,
                          const char *body, apr_size_t len, const char *sig, long long now)
{
    const char *want;
    char *end = NULL;
    long long t;

    if (!from || !to || !time || !sig || !*time || key_len < UCWA_POOL_LINK_KEY_MIN) {
        return 0;
    }
    t = strtoll(time, &end, 10);
    if (!end || *end || t < now - UCWA_POOL_LINK_SKEW || t > now + UCWA_POOL_LINK_SKEW) {
        return 0;
    }
    want = ucwa_pool_link_sign(p, key, key_len, from, to, time, body, len);
    return want && strlen(sig) == strlen(want)
           && CRYPTO_memcmp(want, sig, strlen(want)) == 0;
}

int ucwa_pool_link_split(apr_pool_t *p, const char *target, const char **fe, const char **pool)
{
    const char *at = strchr(target, '@');

    if (!at) {
        return 0;
    }
    *fe = apr_pstrndup(p, target, (apr_size_t)(at - target));
    *pool = at + 1;
    return 1;
}

static json_t *load(apr_pool_t *p, const char *body, apr_size_t len, apr_size_t max)
{
    json_t *m;

    if (len > max) {
        return NULL;
    }
    m = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    return mob_json_own(p, m);
}

const char *ucwa_pool_link_outgoing(apr_pool_t *p, const char *body, apr_size_t len,
                                    const char *mypool, const ucwa_pool_sdp *sdp)
{
    json_t *m = load(p, body, len, UCWA_POOL_BODY_MAX);
    apr_size_t i;

    if (!m) {
        return NULL;
    }
    json_object_del(m, "sdpType");
    json_object_del(m, "sdpData");
    if (sdp && mob_json_str(m, "sdp") && sdp->len <= UCWA_SDP_MAX) {
        /* the other pool cannot read this pool's table: the description goes along */
        char *b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)sdp->len));
        apr_base64_encode(b64, sdp->body, (int)sdp->len);
        json_object_set_new(m, "sdpType", json_string(sdp->ctype ? sdp->ctype : ""));
        json_object_set_new(m, "sdpData", json_string(b64));
    }
    for (i = 0; i < sizeof(NAME_KEYS) / sizeof(NAME_KEYS[0]); i++) {
        const char *v = mob_json_str(m, NAME_KEYS[i]);
        if (v && *v && !strchr(v, '@')) {
            json_object_set_new(m, NAME_KEYS[i], json_string(apr_pstrcat(p, v, "@", mypool,
                                                                         NULL)));
        }
    }
    return mob_json_dump(p, m, NULL);
}

/* Standard base64 with its padding, nothing else. */
static int is_base64(const char *s, apr_size_t n)
{
    apr_size_t body = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789+/");

    return n % 4 == 0 && body + 2 >= n && strspn(s + body, "=") == n - body;
}

/* The description a message brought (sdpType, sdpData) taken out of it, and its "sdp"
 * pointed at a fresh key of this pool. -1 when the message is malformed. */
static int take_sdp(apr_pool_t *p, json_t *m, ucwa_pool_link_in *out)
{
    const json_t *key = json_object_get(m, "sdp");
    const char *type = mob_json_str(m, "sdpType"), *data = mob_json_str(m, "sdpData");
    int has = json_object_get(m, "sdpType") || json_object_get(m, "sdpData");
    char *fresh;
    apr_size_t n;

    if (!key) {
        /* a description no message names is not a message */
        return has ? -1 : 0;
    }
    if (!json_is_string(key) || !*json_string_value(key)) {
        /* "sdp": "" names nothing, and needs nothing */
        return json_is_string(key) && !has ? 0 : -1;
    }
    /* copies: deleting the members below frees their strings */
    type = type ? apr_pstrdup(p, type) : NULL;
    data = data ? apr_pstrdup(p, data) : NULL;
    fresh = apr_palloc(p, UCWA_POOL_SDP_KEY_MAX);
    ucwa_pool_sdp_new_key(fresh);
    out->sdp_key = fresh;
    json_object_set_new(m, "sdp", json_string(fresh));
    json_object_del(m, "sdpType");
    json_object_del(m, "sdpData");
    if (!type || !data) {
        out->sdp_bad = has ? "sdpType and sdpData must be strings" : "no description with it";
        return 0;
    }
    n = strlen(data);
    if (strlen(type) > UCWA_SDP_CTYPE_MAX || n > 4 * ((UCWA_SDP_MAX + 2) / 3)) {
        out->sdp_bad = "a description larger than 64 KiB, or its type longer than 256 bytes";
        return 0;
    }
    if (!is_base64(data, n)) {
        out->sdp_bad = "sdpData is not base64";
        return 0;
    }
    out->sdp.body = apr_palloc(p, (apr_size_t)apr_base64_decode_len(data) + 1);
    out->sdp.len = (apr_size_t)apr_base64_decode_binary((unsigned char *)out->sdp.body, data);
    ((char *)out->sdp.body)[out->sdp.len] = '\0';
    if (out->sdp.len == 0 || out->sdp.len > UCWA_SDP_MAX) {
        out->sdp.len = 0;
        out->sdp_bad = "an empty description, or one larger than 64 KiB";
        return 0;
    }
    out->sdp.ctype = type;
    return 0;
}

int ucwa_pool_link_incoming(apr_pool_t *p, const char *body, apr_size_t len,
                            const char *mypool, const char *from, ucwa_pool_link_in *out)
{
    json_t *m = load(p, body, len, UCWA_POOL_LINK_BODY_MAX);
    apr_size_t i;
    const char *v;

    memset(out, 0, sizeof(*out));
    if (!m || !(v = mob_json_str(m, "k")) || !*v) {
        return -1;
    }
    out->kind = v;
    if (take_sdp(p, m, out) != 0) {
        return -1;
    }
    for (i = 0; i < sizeof(NAME_KEYS) / sizeof(NAME_KEYS[0]); i++) {
        const char *fe, *pool;
        v = mob_json_str(m, NAME_KEYS[i]);
        if (!v) {
            continue;
        }
        /* every name is qualified on the wire, and by one of the two pools */
        if (!ucwa_pool_link_split(p, v, &fe, &pool) || !*fe || strchr(pool, '@')
            || strlen(v) >= UCWA_POOL_FE_MAX) {
            return -1;
        }
        if (!strcasecmp(pool, mypool)) {
            json_object_set_new(m, NAME_KEYS[i], json_string(fe));
        }
        else if (strcasecmp(pool, from) != 0) {
            return -1;
        }
    }
    out->to = (v = mob_json_str(m, "to")) ? v : "";
    out->fe = (v = mob_json_str(m, "fe")) ? v : "";
    out->conv = (v = mob_json_str(m, "conv")) ? v : "";
    out->body = mob_json_dump(p, m, NULL);
    return out->body && strlen(out->body) <= UCWA_POOL_BODY_MAX ? 0 : -1;
}
