/* mob_token_verify with a fixed key set (the current key and a previous one), in
 * three ways per input:
 *   1. the input as a presented token (NUL-terminated);
 *   2. the input as a token payload, signed here with the current key, so that the
 *      payload parser behind the MAC check is reached at all;
 *   3. when the input is a normalised user (mob_token_user_ok), a round trip: mob_token_issue with either key, then verify must succeed with the same
 *      user and times, report APR_TIMEUP at expiry, fail with an unknown key set, and
 *      fail once a character of the signed part is changed. */
#include <apr_encode.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_util.h"
#include "mob_token.h"

#define B64_FLAGS (APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING)
#define LIFETIME apr_time_from_sec(8 * 3600)

static const unsigned char KEY_CURRENT[32] = {
    0x6b, 0x65, 0x79, 0x2d, 0x63, 0x75, 0x72, 0x72, 0x65, 0x6e, 0x74, 0x2d, 0x30, 0x31, 0x32, 0x33,
    0x9a, 0x1f, 0x00, 0xe4, 0x55, 0x10, 0xc3, 0x7e, 0x42, 0x88, 0xfe, 0x01, 0x6d, 0x2b, 0xb7, 0x5c,
};
static const unsigned char KEY_PREVIOUS[32] = {
    0x6b, 0x65, 0x79, 0x2d, 0x70, 0x72, 0x65, 0x76, 0x69, 0x6f, 0x75, 0x73, 0x2d, 0x34, 0x35, 0x36,
    0x03, 0xd2, 0x77, 0x00, 0x8c, 0x41, 0xaa, 0x19, 0xe0, 0x5f, 0x36, 0xcd, 0x92, 0x0b, 0x7a, 0xf1,
};
static const unsigned char KEY_UNKNOWN[40] = "a key that signed nothing we accept 0123";

/* 2024-06-01T00:00:00Z, plus some microseconds */
#define NOW ((apr_time_t)1717200000 * APR_USEC_PER_SEC + 123456)

static apr_array_header_t *keyset(apr_pool_t *p, int unknown_only)
{
    apr_array_header_t *keys = apr_array_make(p, 2, sizeof(mob_token_key));
    mob_token_key *k;

    if (unknown_only) {
        k = apr_array_push(keys);
        k->data = KEY_UNKNOWN;
        k->len = sizeof(KEY_UNKNOWN);
        return keys;
    }
    k = apr_array_push(keys);
    k->data = KEY_CURRENT;
    k->len = sizeof(KEY_CURRENT);
    k = apr_array_push(keys);
    k->data = KEY_PREVIOUS;
    k->len = sizeof(KEY_PREVIOUS);
    return keys;
}

/* What holds of every verification. */
static void check_result(apr_status_t rv, const mob_token_claims *c, apr_time_t now)
{
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL || rv == APR_TIMEUP);
    if (rv == APR_EINVAL) {
        return;
    }
    FUZZ_CHECK(c->user != NULL && *c->user != '\0');
    FUZZ_CHECK(strlen(c->user) <= MOB_TOKEN_USER_MAX);
    FUZZ_CHECK(strchr(c->user, '\n') == NULL);
    FUZZ_CHECK(mob_token_user_ok(c->user, strlen(c->user)));
    FUZZ_CHECK(c->issued >= 0 && c->issued <= c->expires);
    FUZZ_CHECK((rv == APR_TIMEUP) == (now >= c->expires));
}

/* Way 2: "cwt=" base64url(payload) "." base64url(HMAC-SHA256(current key, that)). */
static void verify_signed_payload(apr_pool_t *p, const apr_array_header_t *keys,
                                  const uint8_t *data, size_t size)
{
    const char *b64, *token;
    unsigned char sig[32];
    unsigned int siglen = 0;
    mob_token_claims c;
    apr_status_t rv;

    b64 = size ? apr_pencode_base64_binary(p, data, (apr_ssize_t)size, B64_FLAGS, NULL) : "";
    FUZZ_CHECK(b64 != NULL);
    FUZZ_CHECK(HMAC(EVP_sha256(), KEY_CURRENT, sizeof(KEY_CURRENT), (const unsigned char *)b64,
                    strlen(b64), sig, &siglen) != NULL && siglen == sizeof(sig));
    token = apr_pstrcat(p, "cwt=", b64, ".",
                        apr_pencode_base64_binary(p, sig, sizeof(sig), B64_FLAGS, NULL), NULL);
    memset(&c, 0, sizeof(c));
    rv = mob_token_verify(p, keys, token, NOW, &c);
    check_result(rv, &c, NOW);
    if (strlen(token) > MOB_TOKEN_MAX_LEN || size == 0 || memchr(data, '\0', size)) {
        FUZZ_CHECK(rv == APR_EINVAL);
    }
    if (rv != APR_EINVAL) {
        /* the user is the second line of the payload */
        const char *nl = memchr(data, '\n', size);
        FUZZ_CHECK(nl != NULL);
        FUZZ_CHECK(strstr(apr_pstrmemdup(p, (const char *)data, size),
                          apr_pstrcat(p, "\n", c.user, "\n", NULL)) != NULL);
    }
}

static int valid_user(const uint8_t *data, size_t size)
{
    return !memchr(data, '\0', size) && mob_token_user_ok((const char *)data, size);
}

/* Way 3: issue, verify, expire, forge. */
static void round_trip(apr_pool_t *p, const apr_array_header_t *keys, const char *user,
                       const mob_token_key *with, size_t salt)
{
    static const char b64url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *token = mob_token_issue(p, with, user, NOW, LIFETIME);
    mob_token_claims c;
    apr_status_t rv;
    char *forged;
    size_t len, pos;

    FUZZ_CHECK(token != NULL);
    FUZZ_CHECK(strncmp(token, "cwt=", 4) == 0);
    FUZZ_CHECK(strlen(token) <= MOB_TOKEN_MAX_LEN);

    memset(&c, 0, sizeof(c));
    rv = mob_token_verify(p, keys, token, NOW, &c);
    FUZZ_CHECK(rv == APR_SUCCESS);
    check_result(rv, &c, NOW);
    FUZZ_CHECK(strcmp(c.user, user) == 0);
    FUZZ_CHECK(c.issued == apr_time_from_sec(apr_time_sec(NOW)));
    FUZZ_CHECK(c.expires == apr_time_from_sec(apr_time_sec(NOW + LIFETIME)));

    /* still valid a second before expiry, expired at it */
    rv = mob_token_verify(p, keys, token, c.expires - APR_USEC_PER_SEC, &c);
    FUZZ_CHECK(rv == APR_SUCCESS && strcmp(c.user, user) == 0);
    rv = mob_token_verify(p, keys, token, c.expires, &c);
    FUZZ_CHECK(rv == APR_TIMEUP);

    /* a key set without the signing key */
    rv = mob_token_verify(p, keyset(p, 1), token, NOW, &c);
    FUZZ_CHECK(rv == APR_EINVAL);

    /* one character changed anywhere after "cwt=" (a token has one spelling only: the
     * signature's spare low bits and padding are not free either) */
    len = strlen(token);
    forged = apr_pstrdup(p, token);
    pos = 4 + salt % (len - 4);
    if (forged[pos] == '.') {
        forged[pos] = 'A';
    }
    else {
        forged[pos] = b64url[(strchr(b64url, forged[pos]) - b64url + 1 + (long)(salt % 63)) % 64];
    }
    FUZZ_CHECK(forged[pos] != token[pos]);
    rv = mob_token_verify(p, keys, forged, NOW, &c);
    FUZZ_CHECK(rv == APR_EINVAL);
    rv = mob_token_verify(p, keys, apr_pstrcat(p, token, "=", NULL), NOW, &c);
    FUZZ_CHECK(rv == APR_EINVAL);
    /* the 43rd character of the signature carries 4 bits and 2 spare ones: setting a
     * spare bit decodes to the same MAC, and must be refused all the same */
    forged = apr_pstrdup(p, token);
    forged[len - 1] = b64url[(strchr(b64url, forged[len - 1]) - b64url) ^ (long)(1 + salt % 3)];
    rv = mob_token_verify(p, keys, forged, NOW, &c);
    FUZZ_CHECK(rv == APR_EINVAL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_array_header_t *keys = keyset(p, 0);
    char *s = fuzz_cstr(data, size);
    mob_token_claims c;
    apr_status_t rv;

    /* 1. as presented */
    memset(&c, 0, sizeof(c));
    rv = mob_token_verify(p, keys, s, NOW, &c);
    check_result(rv, &c, NOW);
    if (strlen(s) > MOB_TOKEN_MAX_LEN || strncmp(s, "cwt=", 4)) {
        FUZZ_CHECK(rv == APR_EINVAL);
    }
    rv = mob_token_verify(p, keyset(p, 1), s, NOW, &c);
    check_result(rv, &c, NOW);

    /* 2. as a payload we sign */
    verify_signed_payload(p, keys, data, size);

    /* 3. as a user */
    if (valid_user(data, size)) {
        size_t salt = 0, i;
        for (i = 0; i < size; i++) {
            salt = salt * 31 + data[i];
        }
        round_trip(p, keys, s, &APR_ARRAY_IDX(keys, 0, mob_token_key), salt);
        round_trip(p, keys, s, &APR_ARRAY_IDX(keys, 1, mob_token_key), salt / 7);
    }
    else {
        /* the issuer signs nothing a verifier would refuse */
        FUZZ_CHECK(mob_token_issue(p, &APR_ARRAY_IDX(keys, 0, mob_token_key), s, NOW,
                                   LIFETIME) == NULL || memchr(data, '\0', size));
    }
    free(s);
    apr_pool_destroy(p);
    return 0;
}
