#include <string.h>
#include <stdlib.h>
#include <apr_encode.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mob_token.h"

#define TOKEN_PREFIX "cwt="
#define TOKEN_VERSION "1"
#define B64_FLAGS (APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING)

static int mac(const mob_token_key *key, const char *msg, apr_size_t len,
               unsigned char out[32])
{
    unsigned int outlen = 0;

    return HMAC(EVP_sha256(), key->data, (int)key->len, (const unsigned char *)msg, len,
                out, &outlen) != NULL && outlen == 32;
}

const char *mob_token_issue(apr_pool_t *p, const mob_token_key *key, const char *user,
                            apr_time_t now, apr_interval_time_t lifetime)
{
    unsigned char nonce[12], sig[32];
    const char *payload, *b64;

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return NULL;
    }
    /* version, user, issued, expires (seconds), nonce; '\n' cannot occur in a user */
    payload = apr_psprintf(p, TOKEN_VERSION "\n%s\n%" APR_TIME_T_FMT "\n%" APR_TIME_T_FMT "\n%s",
                           user, apr_time_sec(now), apr_time_sec(now + lifetime),
                           apr_pencode_base64_binary(p, nonce, sizeof(nonce), B64_FLAGS, NULL));
    b64 = apr_pencode_base64(p, payload, APR_ENCODE_STRING, B64_FLAGS, NULL);
    if (!b64 || !mac(key, b64, strlen(b64), sig)) {
        return NULL;
    }
    return apr_pstrcat(p, TOKEN_PREFIX, b64, ".",
                       apr_pencode_base64_binary(p, sig, sizeof(sig), B64_FLAGS, NULL), NULL);
}

/* Parses a decimal field of the payload; -1 if not a plain non-negative number. */
static apr_int64_t parse_secs(const char *s)
{
    char *end;
    apr_int64_t v;

    if (!*s || strlen(s) > 12) {
        return -1;
    }
    v = apr_strtoi64(s, &end, 10);
    return (*end || v < 0) ? -1 : v;
}

apr_status_t mob_token_verify(apr_pool_t *p, const apr_array_header_t *keys,
                              const char *token, apr_time_t now, mob_token_claims *out)
{
    const char *dot, *body;
    unsigned char want[32];
    const unsigned char *got;
    apr_size_t got_len = 0, plen = 0, n;
    const char *payload;
    char *fields[5], *last, *copy;
    int i, matched = 0;
    apr_int64_t iat, exp;

    if (!token || strncmp(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0) {
        return APR_EINVAL;
    }
    n = strnlen(token, MOB_TOKEN_MAX_LEN + 1);
    if (n > MOB_TOKEN_MAX_LEN) {
        return APR_EINVAL;
    }
    body = token + sizeof(TOKEN_PREFIX) - 1;
    dot = strchr(body, '.');
    if (!dot || dot == body) {
        return APR_EINVAL;
    }
    got = apr_pdecode_base64_binary(p, dot + 1, APR_ENCODE_STRING, B64_FLAGS, &got_len);
    /* the decoder ignores the spare low bits of the last character and a trailing '=':
     * only the canonical spelling is accepted, so a token has exactly one form */
    if (!got || got_len != sizeof(want)
        || strcmp(dot + 1, apr_pencode_base64_binary(p, got, got_len, B64_FLAGS, NULL))) {
        return APR_EINVAL;
    }
    /* every key is tried, so the time spent does not tell which key matched */
    for (i = 0; i < keys->nelts; i++) {
        const mob_token_key *k = &APR_ARRAY_IDX(keys, i, mob_token_key);
        if (mac(k, body, (apr_size_t)(dot - body), want)) {
            matched |= (CRYPTO_memcmp(want, got, sizeof(want)) == 0);
        }
    }
    if (!matched) {
        return APR_EINVAL;
    }
    payload = apr_pdecode_base64(p, body, dot - body, B64_FLAGS, &plen);
    if (!payload || strlen(payload) != plen) {
        return APR_EINVAL;
    }
    copy = apr_pstrdup(p, payload);
    for (i = 0; i < 5; i++) {
        fields[i] = apr_strtok(i == 0 ? copy : NULL, "\n", &last);
        if (!fields[i]) {
            return APR_EINVAL;
        }
    }
    if (strcmp(fields[0], TOKEN_VERSION) != 0 || !*fields[1]
        || strlen(fields[1]) > MOB_TOKEN_USER_MAX) {
        return APR_EINVAL;
    }
    iat = parse_secs(fields[2]);
    exp = parse_secs(fields[3]);
    if (iat < 0 || exp < iat) {
        return APR_EINVAL;
    }
    out->user = fields[1];
    out->issued = apr_time_from_sec(iat);
    out->expires = apr_time_from_sec(exp);
    return now >= out->expires ? APR_TIMEUP : APR_SUCCESS;
}
