#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <apr_encode.h>
#include <apr_lib.h>
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

    if (!mob_token_user_ok(user, strlen(user)) || RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return NULL;   /* only a normalised user: a verifier accepts nothing else */
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

/* A decimal field of the payload as the issuer writes it: 1 to 12 digits, no sign, no
 * space, no leading zero; -1 otherwise. */
static apr_int64_t parse_secs(const char *s, apr_size_t len)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (len == 0 || len > 12 || (len > 1 && s[0] == '0')) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int mob_token_user_ok(const char *user, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > MOB_TOKEN_USER_MAX || (len >= 4 && !strncasecmp(user, "sip:", 4))) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)user[i];
        /* what sign-in's normalisation leaves: printable ASCII or UTF-8 bytes, ASCII in
         * lower case, no '"' or '\\' */
        if (c < 0x21 || c == 0x7f || c == '"' || c == '\\' || (c >= 'A' && c <= 'Z')) {
            return 0;
        }
    }
    return 1;
}

/* The nonce as the issuer writes it: base64url of 12 bytes, 16 characters. */
static int nonce_ok(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len != MOB_TOKEN_NONCE_CHARS) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isalnum(s[i]) && s[i] != '-' && s[i] != '_') {
            return 0;
        }
    }
    return 1;
}

apr_status_t mob_token_verify(apr_pool_t *p, const apr_array_header_t *keys,
                              const char *token, apr_time_t now, mob_token_claims *out)
{
    const char *dot, *body;
    unsigned char want[32];
    const unsigned char *got;
    apr_size_t got_len = 0, plen = 0, n, flen[5];
    const char *payload, *field[5], *at, *nl;
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
    /* exactly five fields, four LFs, none empty: what mob_token_issue writes, nothing
     * more (a sixth field, a trailing LF) and nothing less */
    at = payload;
    for (i = 0; i < 5; i++) {
        nl = strchr(at, '\n');
        if ((i < 4) != (nl != NULL)) {
            return APR_EINVAL;
        }
        field[i] = at;
        flen[i] = nl ? (apr_size_t)(nl - at) : strlen(at);
        at = nl ? nl + 1 : at + flen[i];
    }
    if (flen[0] != 1 || field[0][0] != TOKEN_VERSION[0]
        || !mob_token_user_ok(field[1], flen[1]) || !nonce_ok(field[4], flen[4])) {
        return APR_EINVAL;
    }
    iat = parse_secs(field[2], flen[2]);
    exp = parse_secs(field[3], flen[3]);
    if (iat < 0 || exp < iat) {
        return APR_EINVAL;
    }
    out->user = apr_pstrmemdup(p, field[1], flen[1]);
    out->issued = apr_time_from_sec(iat);
    out->expires = apr_time_from_sec(exp);
    return now >= out->expires ? APR_TIMEUP : APR_SUCCESS;
}
