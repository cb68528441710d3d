#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static json_t *load(apr_pool_t *p, const char *body, apr_size_t len)
{
    json_t *m;

    if (len > UCWA_POOL_BODY_MAX) {
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
                                    const char *mypool)
{
    json_t *m = load(p, body, len);
    apr_size_t i;

    if (!m) {
        return NULL;
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

int ucwa_pool_link_incoming(apr_pool_t *p, const char *body, apr_size_t len,
                            const char *mypool, const char *from, ucwa_pool_link_in *out)
{
    json_t *m = load(p, body, len);
    apr_size_t i;
    const char *v;

    memset(out, 0, sizeof(*out));
    if (!m || !(v = mob_json_str(m, "k")) || !*v) {
        return -1;
    }
    out->kind = v;
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
    return out->body ? 0 : -1;
}
