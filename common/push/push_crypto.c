#include <string.h>
#include <apr_encode.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "push_crypto.h"

#define GCM_NONCE_LEN 12
#define CEK_LEN 16

const char *push_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    if (len == 0) {
        return "";
    }
    return apr_pencode_base64_binary(p, data, (apr_ssize_t)len,
                                     APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING, NULL);
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Our own decoder: apr_decode_base64 with APR_ENCODE_BASE64URL also takes '+' and '/',
 * and a key must have one alphabet. */
unsigned char *push_b64url_decode(apr_pool_t *p, const char *s, apr_size_t *len)
{
    apr_size_t n, pad = 0, i, o = 0;
    unsigned char *out;
    unsigned int acc = 0;
    int bits = 0;

    if (!s) {
        return NULL;
    }
    n = strlen(s);
    while (pad < n && s[n - 1 - pad] == '=') {
        pad++;
    }
    n -= pad;
    /* padding only where it belongs: up to the next multiple of 4, at most 2 */
    if (n % 4 == 1 || (pad && ((n + pad) % 4 || pad > 2))) {
        return NULL;
    }
    out = apr_palloc(p, n * 3 / 4 + 1);
    for (i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0) {
            return NULL;
        }
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    out[o] = '\0';
    if (len) {
        *len = o;
    }
    return out;
}

/* The public key of a peer from its uncompressed point. OpenSSL refuses a point off the
 * curve when decoding it; the public check adds infinity and the group order. */
static EVP_PKEY *p256_public(const unsigned char *pt, apr_size_t len)
{
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx, *chk;
    EVP_PKEY *key = NULL;
    int ok = 0;

    if (!pt || len != PUSH_P256_PUBLIC_LEN || pt[0] != 0x04) {
        return NULL;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)SN_X9_62_prime256v1, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx && EVP_PKEY_fromdata_init(ctx) == 1
        && EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1) {
        chk = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        ok = chk && EVP_PKEY_public_check(chk) == 1;
        EVP_PKEY_CTX_free(chk);
    }
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

int push_p256_public_valid(const unsigned char *pt, apr_size_t len)
{
    EVP_PKEY *key = p256_public(pt, len);

    EVP_PKEY_free(key);
    return key != NULL;
}

/* A key pair from d; the caller frees it. The public point is computed here: an EC key
 * imported from its private part alone has no public key in OpenSSL 3.0. */
static EVP_PKEY *p256_keypair(const unsigned char d[PUSH_P256_PRIVATE_LEN],
                              unsigned char pub[PUSH_P256_PUBLIC_LEN])
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bnctx = BN_CTX_new();
    BIGNUM *priv = BN_secure_new();
    EC_POINT *point = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    unsigned char pt[PUSH_P256_PUBLIC_LEN];

    if (!group || !bnctx || !priv || !BN_bin2bn(d, PUSH_P256_PRIVATE_LEN, priv)
        || BN_is_zero(priv) || BN_cmp(priv, EC_GROUP_get0_order(group)) >= 0) {
        goto done;
    }
    point = EC_POINT_new(group);
    if (!point || EC_POINT_mul(group, point, priv, NULL, NULL, bnctx) != 1
        || EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof(pt),
                              bnctx) != sizeof(pt)) {
        goto done;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            SN_X9_62_prime256v1, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt))
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)
        || !(params = OSSL_PARAM_BLD_to_param(bld))) {
        goto done;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1) {
        EVP_PKEY_free(key);
        key = NULL;
        goto done;
    }
    if (pub) {
        memcpy(pub, pt, sizeof(pt));
    }
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);    /* OSSL_PARAM_BLD_to_param copies the BN into secure memory */
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(point);
    BN_clear_free(priv);
    BN_CTX_free(bnctx);
    EC_GROUP_free(group);
    return key;
}

static apr_status_t pkey_release(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

EVP_PKEY *push_p256_from_private(apr_pool_t *p, const unsigned char d[PUSH_P256_PRIVATE_LEN],
                                 unsigned char pub[PUSH_P256_PUBLIC_LEN])
{
    EVP_PKEY *key = p256_keypair(d, pub);

    if (key) {
        apr_pool_cleanup_register(p, key, pkey_release, apr_pool_cleanup_null);
    }
    return key;
}

/* HMAC-SHA-256(key, a | b | c), the one HKDF step RFC 8291 needs each time: every
 * output it uses is at most 32 bytes, so Expand is a single block with counter 0x01
 * inside the info. */
static int hmac3(const unsigned char *key, apr_size_t keylen,
                 const void *a, apr_size_t alen, const void *b, apr_size_t blen,
                 const void *c, apr_size_t clen, unsigned char out[32])
{
    int ok;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *m = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t n = 0;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = m && EVP_MAC_init(m, key, keylen, params) == 1
         && (!alen || EVP_MAC_update(m, a, alen) == 1)
         && (!blen || EVP_MAC_update(m, b, blen) == 1)
         && (!clen || EVP_MAC_update(m, c, clen) == 1)
         && EVP_MAC_final(m, out, &n, 32) == 1 && n == 32;
    EVP_MAC_CTX_free(m);
    EVP_MAC_free(mac);
    return ok;
}

static apr_status_t check_inputs(const unsigned char *ua_public, apr_size_t ua_public_len,
                                 const unsigned char *auth, apr_size_t auth_len,
                                 const unsigned char *plaintext, apr_size_t plaintext_len)
{
    if (!ua_public || ua_public_len != PUSH_P256_PUBLIC_LEN || !auth
        || auth_len != PUSH_AUTH_SECRET_LEN || (!plaintext && plaintext_len)) {
        return APR_EINVAL;
    }
    if (plaintext_len > PUSH_WEBPUSH_PLAINTEXT_MAX) {
        return APR_ENOSPC;
    }
    return push_p256_public_valid(ua_public, ua_public_len) ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t push_webpush_encrypt_with(apr_pool_t *p,
                                       const unsigned char *ua_public, apr_size_t ua_public_len,
                                       const unsigned char *auth, apr_size_t auth_len,
                                       const unsigned char *plaintext, apr_size_t plaintext_len,
                                       const unsigned char salt[PUSH_SALT_LEN],
                                       const unsigned char as_private[PUSH_P256_PRIVATE_LEN],
                                       unsigned char **body, apr_size_t *body_len)
{
    static const char key_label[] = "WebPush: info";          /* followed by its NUL */
    static const char cek_info[] = "Content-Encoding: aes128gcm\0\1";
    static const char nonce_info[] = "Content-Encoding: nonce\0\1";
    static const unsigned char one = 0x01, delimiter = 0x02;
    unsigned char as_public[PUSH_P256_PUBLIC_LEN], secret[32], prk_key[32], ikm[32], prk[32];
    unsigned char cek[32], nonce[32];
    unsigned char key_info[sizeof(key_label) + 2 * PUSH_P256_PUBLIC_LEN];
    EVP_PKEY *as_key = NULL, *ua_key = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    EVP_CIPHER_CTX *c = NULL;
    unsigned char *out, *ct;
    size_t secret_len = sizeof(secret);
    int n1 = 0, n2 = 0, n3 = 0;
    apr_status_t rv;

    rv = check_inputs(ua_public, ua_public_len, auth, auth_len, plaintext, plaintext_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!salt || !as_private) {
        return APR_EINVAL;
    }
    as_key = p256_keypair(as_private, as_public);
    if (!as_key) {
        return APR_EINVAL;
    }
    rv = APR_EGENERAL;
    ua_key = p256_public(ua_public, ua_public_len);
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, as_key, NULL);
    if (!ua_key || !dctx || EVP_PKEY_derive_init(dctx) != 1
        || EVP_PKEY_derive_set_peer(dctx, ua_key) != 1
        || EVP_PKEY_derive(dctx, secret, &secret_len) != 1 || secret_len != sizeof(secret)) {
        goto done;
    }
    /* RFC 8291 §3.4: key_info = "WebPush: info" 0x00 ua_public as_public */
    memcpy(key_info, key_label, sizeof(key_label));
    memcpy(key_info + sizeof(key_label), ua_public, PUSH_P256_PUBLIC_LEN);
    memcpy(key_info + sizeof(key_label) + PUSH_P256_PUBLIC_LEN, as_public, PUSH_P256_PUBLIC_LEN);
    /* PRK_key = Extract(auth, ecdh); IKM = Expand(PRK_key, key_info, 32);
     * PRK = Extract(salt, IKM); CEK = Expand(PRK, cek_info, 16);
     * NONCE = Expand(PRK, nonce_info, 12) (RFC 8188 §2.2, 2.3) */
    if (!hmac3(auth, auth_len, secret, sizeof(secret), NULL, 0, NULL, 0, prk_key)
        || !hmac3(prk_key, sizeof(prk_key), key_info, sizeof(key_info), &one, 1, NULL, 0, ikm)
        || !hmac3(salt, PUSH_SALT_LEN, ikm, sizeof(ikm), NULL, 0, NULL, 0, prk)
        || !hmac3(prk, sizeof(prk), cek_info, sizeof(cek_info) - 1, NULL, 0, NULL, 0, cek)
        || !hmac3(prk, sizeof(prk), nonce_info, sizeof(nonce_info) - 1, NULL, 0, NULL, 0,
                  nonce)) {
        goto done;
    }
    out = apr_palloc(p, PUSH_WEBPUSH_HEADER_LEN + plaintext_len + 1 + PUSH_AEAD_TAG_LEN);
    memcpy(out, salt, PUSH_SALT_LEN);
    out[16] = (PUSH_RECORD_SIZE >> 24) & 0xff;
    out[17] = (PUSH_RECORD_SIZE >> 16) & 0xff;
    out[18] = (PUSH_RECORD_SIZE >> 8) & 0xff;
    out[19] = PUSH_RECORD_SIZE & 0xff;
    out[20] = PUSH_P256_PUBLIC_LEN;
    memcpy(out + 21, as_public, PUSH_P256_PUBLIC_LEN);
    ct = out + PUSH_WEBPUSH_HEADER_LEN;
    /* one record, the last one: plaintext then the 0x02 delimiter (RFC 8188 §2) */
    c = EVP_CIPHER_CTX_new();
    if (!c || EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1
        || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1
        || EVP_EncryptInit_ex(c, NULL, NULL, cek, nonce) != 1
        || (plaintext_len
            && EVP_EncryptUpdate(c, ct, &n1, plaintext, (int)plaintext_len) != 1)
        || EVP_EncryptUpdate(c, ct + n1, &n2, &delimiter, 1) != 1
        || EVP_EncryptFinal_ex(c, ct + n1 + n2, &n3) != 1
        || (apr_size_t)(n1 + n2 + n3) != plaintext_len + 1
        || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, PUSH_AEAD_TAG_LEN,
                               ct + plaintext_len + 1) != 1) {
        goto done;
    }
    *body = out;
    *body_len = PUSH_WEBPUSH_HEADER_LEN + plaintext_len + 1 + PUSH_AEAD_TAG_LEN;
    rv = APR_SUCCESS;
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(prk_key, sizeof(prk_key));
    OPENSSL_cleanse(ikm, sizeof(ikm));
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(cek, sizeof(cek));
    EVP_CIPHER_CTX_free(c);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(ua_key);
    EVP_PKEY_free(as_key);
    return rv;
}

apr_status_t push_webpush_encrypt(apr_pool_t *p,
                                  const unsigned char *ua_public, apr_size_t ua_public_len,
                                  const unsigned char *auth, apr_size_t auth_len,
                                  const unsigned char *plaintext, apr_size_t plaintext_len,
                                  unsigned char **body, apr_size_t *body_len)
{
    unsigned char salt[PUSH_SALT_LEN], d[PUSH_P256_PRIVATE_LEN];
    apr_status_t rv;
    int tries;

    rv = check_inputs(ua_public, ua_public_len, auth, auth_len, plaintext, plaintext_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* a random 32-byte d is out of range (0 or >= n) with probability about 2^-32:
     * the inputs are valid by now, so APR_EINVAL can only mean that; draw again */
    for (tries = 0; tries < 4; tries++) {
        if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_priv_bytes(d, sizeof(d)) != 1) {
            rv = APR_EGENERAL;
            break;
        }
        rv = push_webpush_encrypt_with(p, ua_public, ua_public_len, auth, auth_len, plaintext,
                                       plaintext_len, salt, d, body, body_len);
        if (rv != APR_EINVAL) {
            break;
        }
    }
    OPENSSL_cleanse(d, sizeof(d));
    return rv == APR_EINVAL ? APR_EGENERAL : rv;
}
