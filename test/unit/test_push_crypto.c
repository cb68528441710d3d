/* push_crypto: base64url, P-256 checks, WebPush encryption (RFC 8291 / RFC 8188).
 * The decryption here is written against OpenSSL directly (its HKDF, not the HMAC
 * steps of push_crypto.c), so that a mistake shared by both sides is unlikely. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "unit.h"
#include "push_crypto.h"

/* RFC 8291 Appendix A */
#define RFC_PLAINTEXT "When I grow up, I want to be a watermelon"
#define RFC_AS_PUBLIC "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define RFC_AS_PRIVATE "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
#define RFC_UA_PUBLIC "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define RFC_UA_PRIVATE "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
#define RFC_SALT "DGv6ra1nlYgDCS1FRnbzlw"
#define RFC_AUTH "BTBZMqHH6r4Tts7J_aSIgg"
#define RFC_HEADER "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define RFC_CIPHERTEXT "8pfeW0KbunFT06SuDKoJH9Ql87S1QUrdirN6GcG7sFz1y1sqLgVi1VhjVkHsUoEsbI_0LpXMuGvnzQ"
#define RFC_BODY "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"

static unsigned char *b64(const char *s, apr_size_t want)
{
    apr_size_t n = 0;
    unsigned char *d = push_b64url_decode(pool, s, &n);

    ck_assert_msg(d != NULL, "not base64url: %s", s);
    ck_assert_uint_eq(n, want);
    return d;
}

/* ---- the user agent's side, from OpenSSL primitives ----------------------------------- */

typedef struct {
    EVP_PKEY *key;
    unsigned char pub[PUSH_P256_PUBLIC_LEN];
} ua_keys;

static void ua_free(ua_keys *ua)
{
    EVP_PKEY_free(ua->key);
    ua->key = NULL;
}

static void ua_generate(ua_keys *ua)
{
    size_t n = 0;

    ua->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(ua->key);
    ck_assert_int_eq(EVP_PKEY_set_utf8_string_param(ua->key,
                         OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed"), 1);
    ck_assert_int_eq(EVP_PKEY_get_octet_string_param(ua->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                     ua->pub, sizeof(ua->pub), &n), 1);
    ck_assert_uint_eq(n, PUSH_P256_PUBLIC_LEN);
}

static void ua_from_rfc(ua_keys *ua)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    BIGNUM *d = BN_bin2bn(b64(RFC_UA_PRIVATE, 32), 32, NULL);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    memcpy(ua->pub, b64(RFC_UA_PUBLIC, 65), 65);
    ck_assert(bld && d && ctx);
    ck_assert(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0));
    ck_assert(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, ua->pub, 65));
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d));
    params = OSSL_PARAM_BLD_to_param(bld);
    ua->key = NULL;
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &ua->key, EVP_PKEY_KEYPAIR, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(d);
}

static void hkdf(const unsigned char *salt, size_t salt_len, const unsigned char *ikm,
                 size_t ikm_len, const void *info, size_t info_len, unsigned char *out,
                 size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[5];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[4] = OSSL_PARAM_construct_end();
    ck_assert_int_eq(EVP_KDF_derive(k, out, out_len, params), 1);
    EVP_KDF_CTX_free(k);
    EVP_KDF_free(kdf);
}

/* Decrypts an aes128gcm body of one record as a browser would; NULL when it does not
 * authenticate or is malformed. *len gets the plaintext length (delimiter removed). */
static unsigned char *ua_decrypt(const ua_keys *ua, const unsigned char *auth,
                                 const unsigned char *body, size_t body_len, size_t *len)
{
    unsigned char secret[32], ikm[32], cek[16], nonce[12], key_info[14 + 65 + 65];
    unsigned char *out;
    const unsigned char *as_public, *ct, *tag;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *pctx, *dctx;
    EVP_CIPHER_CTX *c;
    OSSL_PARAM params[3];
    size_t slen = sizeof(secret), ct_len;
    unsigned int rs;
    int n1 = 0, n2 = 0, ok;

    if (body_len < 86 + 17) {
        return NULL;
    }
    rs = ((unsigned)body[16] << 24) | ((unsigned)body[17] << 16) | ((unsigned)body[18] << 8)
         | body[19];
    if (rs != 4096 || body[20] != 65 || body_len > rs) {
        return NULL;
    }
    as_public = body + 21;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)as_public, 65);
    params[2] = OSSL_PARAM_construct_end();
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(pctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(pctx, &peer, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(pctx);
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, ua->key, NULL);
    ck_assert_int_eq(EVP_PKEY_derive_init(dctx), 1);
    ck_assert_int_eq(EVP_PKEY_derive_set_peer(dctx, peer), 1);
    ck_assert_int_eq(EVP_PKEY_derive(dctx, secret, &slen), 1);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer);

    memcpy(key_info, "WebPush: info", 14);      /* with its NUL */
    memcpy(key_info + 14, ua->pub, 65);
    memcpy(key_info + 14 + 65, as_public, 65);
    hkdf(auth, 16, secret, 32, key_info, sizeof(key_info), ikm, 32);
    hkdf(body, 16, ikm, 32, "Content-Encoding: aes128gcm", 28, cek, 16);
    hkdf(body, 16, ikm, 32, "Content-Encoding: nonce", 24, nonce, 12);

    ct = body + 86;
    ct_len = body_len - 86 - 16;
    tag = body + body_len - 16;
    out = apr_palloc(pool, ct_len + 1);
    c = EVP_CIPHER_CTX_new();
    ok = EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, cek, nonce) == 1
         && EVP_DecryptUpdate(c, out, &n1, ct, (int)ct_len) == 1
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1
         && EVP_DecryptFinal_ex(c, out + n1, &n2) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok || (size_t)(n1 + n2) != ct_len) {
        return NULL;
    }
    /* the last record: padding is zeros after a 0x02 delimiter */
    while (ct_len > 0 && out[ct_len - 1] == 0) {
        ct_len--;
    }
    if (ct_len == 0 || out[ct_len - 1] != 0x02) {
        return NULL;
    }
    *len = ct_len - 1;
    out[*len] = '\0';
    return out;
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(rfc8291_appendix_a)
{
    unsigned char *body = NULL;
    apr_size_t body_len = 0;
    unsigned char pub[65];
    EVP_PKEY *k;

    ck_assert_int_eq(push_webpush_encrypt_with(pool, b64(RFC_UA_PUBLIC, 65), 65,
                                               b64(RFC_AUTH, 16), 16,
                                               (const unsigned char *)RFC_PLAINTEXT,
                                               strlen(RFC_PLAINTEXT), b64(RFC_SALT, 16),
                                               b64(RFC_AS_PRIVATE, 32), &body, &body_len),
                     APR_SUCCESS);
    /* byte for byte: the header, then the ciphertext and tag */
    ck_assert_uint_eq(body_len, 86 + strlen(RFC_PLAINTEXT) + 1 + 16);
    ck_assert_mem_eq(body, b64(RFC_HEADER, 86), 86);
    ck_assert_mem_eq(body + 86, b64(RFC_CIPHERTEXT, 58), 58);
    ck_assert_str_eq(push_b64url_encode(pool, body, body_len), RFC_BODY);

    /* as_public is derived from as_private */
    k = push_p256_from_private(pool, b64(RFC_AS_PRIVATE, 32), pub);
    ck_assert_ptr_nonnull(k);
    ck_assert_mem_eq(pub, b64(RFC_AS_PUBLIC, 65), 65);
}
END_TEST

START_TEST(rfc8291_decrypts_with_the_test_helper)
{
    /* the helper is right: it opens the RFC's own message */
    ua_keys ua;
    apr_size_t n = 0;
    size_t len = 0;
    unsigned char *body = push_b64url_decode(pool, RFC_BODY, &n);
    unsigned char *pt;

    ua_from_rfc(&ua);
    pt = ua_decrypt(&ua, b64(RFC_AUTH, 16), body, n, &len);
    ck_assert_ptr_nonnull(pt);
    ck_assert_str_eq((char *)pt, RFC_PLAINTEXT);
    /* and refuses it once a byte of the ciphertext changed */
    body[100] ^= 0x01;
    ck_assert_ptr_null(ua_decrypt(&ua, b64(RFC_AUTH, 16), body, n, &len));
    ua_free(&ua);
}
END_TEST

START_TEST(random_encryption_round_trip)
{
    static const size_t sizes[] = { 0, 1, 41, 1000, PUSH_WEBPUSH_PLAINTEXT_MAX };
    ua_keys ua;
    unsigned char auth[16], *pt, *b1 = NULL, *b2 = NULL, *out;
    apr_size_t l1 = 0, l2 = 0;
    size_t i, len = 0;

    ua_generate(&ua);
    ck_assert_int_eq(RAND_bytes(auth, sizeof(auth)), 1);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        pt = apr_palloc(pool, sizes[i] + 1);
        ck_assert_int_eq(RAND_bytes(pt, (int)sizes[i] + 1), 1);
        ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 65, auth, 16, pt, sizes[i], &b1, &l1),
                         APR_SUCCESS);
        ck_assert_uint_eq(l1, 86 + sizes[i] + 17);
        ck_assert_uint_le(l1, 4096);
        out = ua_decrypt(&ua, auth, b1, l1, &len);
        ck_assert_msg(out != NULL, "size %lu does not decrypt", (unsigned long)sizes[i]);
        ck_assert_uint_eq(len, sizes[i]);
        ck_assert(sizes[i] == 0 || memcmp(out, pt, sizes[i]) == 0);
        /* a fresh salt and a fresh key each time */
        ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 65, auth, 16, pt, sizes[i], &b2, &l2),
                         APR_SUCCESS);
        ck_assert_uint_eq(l1, l2);
        ck_assert(memcmp(b1, b2, 16) != 0);
        ck_assert(memcmp(b1 + 21, b2 + 21, 65) != 0);
    }
    /* the largest plaintext makes a body of exactly 4096 bytes */
    ck_assert_uint_eq(86 + PUSH_WEBPUSH_PLAINTEXT_MAX + 17, 4096);
    ck_assert_uint_eq(PUSH_WEBPUSH_PLAINTEXT_MAX, 3993);
    ua_free(&ua);
}
END_TEST

START_TEST(refuses_bad_input)
{
    ua_keys ua;
    unsigned char auth[16] = { 1 }, bad[65], *body = NULL, d[32];
    unsigned char big[PUSH_WEBPUSH_PLAINTEXT_MAX + 1];
    apr_size_t len = 0;
    const unsigned char msg[] = "hi";

    ua_generate(&ua);
    memset(big, 'x', sizeof(big));
    /* sizes */
    ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 64, auth, 16, msg, 2, &body, &len),
                     APR_EINVAL);
    ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 65, auth, 15, msg, 2, &body, &len),
                     APR_EINVAL);
    ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 65, auth, 17, msg, 2, &body, &len),
                     APR_EINVAL);
    ck_assert_int_eq(push_webpush_encrypt(pool, NULL, 65, auth, 16, msg, 2, &body, &len),
                     APR_EINVAL);
    ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 65, auth, 16, big, sizeof(big), &body,
                                          &len), APR_ENOSPC);
    ck_assert_int_eq(push_webpush_encrypt(pool, ua.pub, 65, auth, 16, big, sizeof(big) - 1,
                                          &body, &len), APR_SUCCESS);
    ck_assert_uint_eq(len, 4096);
    /* not on the curve: y changed */
    memcpy(bad, ua.pub, 65);
    bad[64] ^= 0x01;
    ck_assert(!push_p256_public_valid(bad, 65));
    ck_assert_int_eq(push_webpush_encrypt(pool, bad, 65, auth, 16, msg, 2, &body, &len),
                     APR_EINVAL);
    /* compressed form, wrong prefix, the point at infinity spelt as zeros */
    memcpy(bad, ua.pub, 65);
    bad[0] = 0x02;
    ck_assert(!push_p256_public_valid(bad, 65));
    ck_assert(!push_p256_public_valid(bad, 33));
    memset(bad, 0, 65);
    bad[0] = 0x04;
    ck_assert(!push_p256_public_valid(bad, 65));
    ck_assert(push_p256_public_valid(ua.pub, 65));
    ck_assert(push_p256_public_valid(b64(RFC_UA_PUBLIC, 65), 65));
    /* an application-server scalar of 0, or of n or more */
    memset(d, 0, sizeof(d));
    ck_assert_int_eq(push_webpush_encrypt_with(pool, ua.pub, 65, auth, 16, msg, 2, auth, d,
                                               &body, &len), APR_EINVAL);
    memset(d, 0xff, sizeof(d));
    ck_assert_int_eq(push_webpush_encrypt_with(pool, ua.pub, 65, auth, 16, msg, 2, auth, d,
                                               &body, &len), APR_EINVAL);
    ck_assert_ptr_null(push_p256_from_private(pool, d, NULL));
    ua_free(&ua);
}
END_TEST

START_TEST(base64url)
{
    static const struct { const char *in, *out; } known[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
        { "\xfb\xff", "-_8" }, { "\xff\xfe\xfd", "__79" },
    };
    static const char *bad[] = { "Z", "Zg=", "Zg===", "Z===", "Zm9v!", "+/8", "Zm 9v",
                                 "Zg==Zg", "=", "Zm9vY" };
    unsigned char buf[100], *d;
    apr_size_t i, n, len;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        n = strlen(known[i].in);
        ck_assert_str_eq(push_b64url_encode(pool, (const unsigned char *)known[i].in, n),
                         known[i].out);
        d = push_b64url_decode(pool, known[i].out, &len);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(d, known[i].in, n);
    }
    /* padding is accepted where it belongs */
    d = push_b64url_decode(pool, "Zg==", &len);
    ck_assert(d && len == 1 && d[0] == 'f');
    d = push_b64url_decode(pool, "Zm8=", &len);
    ck_assert(d && len == 2 && !memcmp(d, "fo", 2));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(push_b64url_decode(pool, bad[i], &len) == NULL, "accepted '%s'", bad[i]);
    }
    ck_assert_ptr_null(push_b64url_decode(pool, NULL, &len));
    /* round trips of every length up to 100 */
    for (n = 0; n <= sizeof(buf); n++) {
        const char *e;
        ck_assert_int_eq(RAND_bytes(buf, sizeof(buf)), 1);
        e = push_b64url_encode(pool, buf, n);
        ck_assert_uint_eq(strlen(e), (n * 4 + 2) / 3);
        ck_assert(strspn(e, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
                  == strlen(e));
        d = push_b64url_decode(pool, e, &len);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(len, n);
        ck_assert(n == 0 || memcmp(d, buf, n) == 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("push_crypto");
    TCase *tc = unit_tcase("push_crypto");

    tcase_add_test(tc, rfc8291_appendix_a);
    tcase_add_test(tc, rfc8291_decrypts_with_the_test_helper);
    tcase_add_test(tc, random_encryption_round_trip);
    tcase_add_test(tc, refuses_bad_input);
    tcase_add_test(tc, base64url);
    suite_add_tcase(s, tc);
    return unit_run("test_push_crypto", s);
}
