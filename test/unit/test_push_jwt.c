/* push_jwt: keys from PEM, ES256/RS256 compact JWTs, VAPID, the APNs provider token and
 * the Google service-account assertion. Signatures are checked with OpenSSL directly,
 * against keys the test makes itself. */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "unit.h"
#include "push_jwt.h"

#define NOW apr_time_from_sec(1700000000)
#define RFC_AS_PUBLIC "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define RFC_AS_PRIVATE "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"

/* One RSA key for the whole binary: generating one takes a while. Read-only after main()
 * made it. */
static EVP_PKEY *rsa2048;

static const char *pem_of(EVP_PKEY *k, int traditional)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem = NULL;
    long n;
    const char *s;

    ck_assert(traditional ? PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL));
    n = BIO_get_mem_data(bio, &mem);
    s = apr_pstrmemdup(pool, mem, (apr_size_t)n);
    BIO_free(bio);
    return s;
}

static push_key *load(const char *pem)
{
    push_key *k = NULL;
    const char *why = NULL;

    ck_assert_msg(push_key_from_pem(pool, pem, strlen(pem), &k, &why) == APR_SUCCESS,
                  "refused: %s", why ? why : "?");
    return k;
}

static apr_status_t try_load(const char *pem, const char **why)
{
    push_key *k = NULL;

    return push_key_from_pem(pool, pem, strlen(pem), &k, why);
}

/* The three parts of a compact JWS: header and claims as JSON (owned by the pool), and
 * the decoded signature. */
typedef struct {
    json_t *header, *claims;
    unsigned char *sig;
    apr_size_t sig_len;
    const char *signing_input;
} jws;

static apr_status_t json_release(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

static json_t *owned(json_t *j)
{
    ck_assert_ptr_nonnull(j);
    apr_pool_cleanup_register(pool, j, json_release, apr_pool_cleanup_null);
    return j;
}

static jws split(const char *token)
{
    jws j;
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    apr_size_t n;
    unsigned char *h, *c;

    ck_assert_msg(d1 && d2 && !strchr(d2 + 1, '.'), "not three parts: %s", token);
    h = push_b64url_decode(pool, apr_pstrndup(pool, token, (apr_size_t)(d1 - token)), &n);
    ck_assert_ptr_nonnull(h);
    j.header = owned(json_loadb((char *)h, n, 0, NULL));
    c = push_b64url_decode(pool, apr_pstrndup(pool, d1 + 1, (apr_size_t)(d2 - d1 - 1)), &n);
    ck_assert_ptr_nonnull(c);
    j.claims = owned(json_loadb((char *)c, n, 0, NULL));
    j.sig = push_b64url_decode(pool, d2 + 1, &j.sig_len);
    ck_assert_ptr_nonnull(j.sig);
    j.signing_input = apr_pstrndup(pool, token, (apr_size_t)(d2 - token));
    return j;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    ck_assert_msg(s != NULL, "no string member %s", k);
    return s;
}

static json_int_t num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    ck_assert_msg(json_is_integer(v), "no integer member %s", k);
    return json_integer_value(v);
}

static int verify_rs256(EVP_PKEY *pub, const jws *j)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
             && EVP_DigestVerify(md, j->sig, j->sig_len, (const unsigned char *)j->signing_input,
                                 strlen(j->signing_input)) == 1;

    EVP_MD_CTX_free(md);
    return ok;
}

/* ES256: raw r | s turned back into DER for OpenSSL */
static int verify_es256(EVP_PKEY *pub, const jws *j)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int der_len, ok;
    EVP_MD_CTX *md;

    if (j->sig_len != 64) {
        ECDSA_SIG_free(es);
        return 0;
    }
    ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn(j->sig, 32, NULL),
                                    BN_bin2bn(j->sig + 32, 32, NULL)), 1);
    der_len = i2d_ECDSA_SIG(es, &der);
    md = EVP_MD_CTX_new();
    ok = der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
         && EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)j->signing_input,
                             strlen(j->signing_input)) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok;
}

/* the public key the test knows, as an EVP_PKEY built from PEM text */
static EVP_PKEY *public_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    BIO_free(bio);
    ck_assert_ptr_nonnull(k);
    return k;
}

static EVP_PKEY *public_of(EVP_PKEY *priv)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem = NULL;
    long n;
    EVP_PKEY *k;

    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, priv), 1);
    n = BIO_get_mem_data(bio, &mem);
    k = public_from_pem(apr_pstrmemdup(pool, mem, (apr_size_t)n));
    BIO_free(bio);
    return k;
}

START_TEST(es256_from_pkcs8_and_sec1)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *pub;
    push_key *k8, *k1;
    json_t *claims = owned(json_pack("{s:s, s:i}", "hello", "world", "n", 42));
    const char *t;
    jws j;

    ck_assert_ptr_nonnull(ec);
    k8 = load(pem_of(ec, 0));
    k1 = load(pem_of(ec, 1));
    ck_assert(strstr(pem_of(ec, 1), "BEGIN EC PRIVATE KEY"));
    ck_assert(strstr(pem_of(ec, 0), "BEGIN PRIVATE KEY"));
    ck_assert_int_eq(push_key_kind_of(k8), PUSH_KEY_P256);
    ck_assert_int_eq(push_key_kind_of(k1), PUSH_KEY_P256);
    ck_assert_mem_eq(push_key_p256_public(k8), push_key_p256_public(k1), 65);
    ck_assert_int_eq(push_key_p256_public(k8)[0], 0x04);

    pub = public_of(ec);
    t = push_jwt_sign(pool, k8, NULL, claims);
    ck_assert_ptr_nonnull(t);
    j = split(t);
    ck_assert_str_eq(str(j.header, "alg"), "ES256");
    ck_assert_str_eq(str(j.header, "typ"), "JWT");
    ck_assert_ptr_null(json_object_get(j.header, "kid"));
    ck_assert_int_eq(json_object_size(j.header), 2);
    ck_assert(json_equal(j.claims, claims));
    /* raw r | s, 64 bytes: not DER */
    ck_assert_uint_eq(j.sig_len, 64);
    ck_assert_msg(verify_es256(pub, &j), "ES256 signature does not verify");
    /* the claims are serialised compactly, in insertion order */
    ck_assert_str_eq((char *)push_b64url_decode(pool, apr_pstrndup(pool, strchr(t, '.') + 1,
                                               strchr(strchr(t, '.') + 1, '.') - strchr(t, '.') - 1),
                                               NULL),
                     "{\"hello\":\"world\",\"n\":42}");

    /* the SEC1 key signs as well, and a forged claim does not verify */
    j = split(push_jwt_sign(pool, k1, "kid-1", claims));
    ck_assert_str_eq(str(j.header, "kid"), "kid-1");
    ck_assert(verify_es256(pub, &j));
    j.signing_input = apr_pstrcat(pool, j.signing_input, "x", NULL);
    ck_assert(!verify_es256(pub, &j));
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ec);
}
END_TEST

START_TEST(rs256)
{
    push_key *k = load(pem_of(rsa2048, 0));
    EVP_PKEY *pub = public_of(rsa2048);
    json_t *claims = owned(json_pack("{s:s}", "sub", "x"));
    jws j;

    ck_assert_int_eq(push_key_kind_of(k), PUSH_KEY_RSA);
    ck_assert_ptr_null(push_key_p256_public(k));
    j = split(push_jwt_sign(pool, k, NULL, claims));
    ck_assert_str_eq(str(j.header, "alg"), "RS256");
    ck_assert_uint_eq(j.sig_len, 256);
    ck_assert_msg(verify_rs256(pub, &j), "RS256 signature does not verify");
    j.sig[10] ^= 1;
    ck_assert(!verify_rs256(pub, &j));
    /* the public PEM the key gives is the same key */
    EVP_PKEY_free(pub);
    pub = public_from_pem(push_key_public_pem(pool, k));
    ck_assert_int_eq(EVP_PKEY_eq(pub, rsa2048), 1);
    EVP_PKEY_free(pub);
}
END_TEST

START_TEST(refused_keys)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *bio = BIO_new(BIO_s_mem());
    const char *why = NULL, *encrypted, *pkcs1, *good;
    char *mem = NULL;
    long n;

    ck_assert(p384 && rsa1024 && ed && bio);
    ck_assert_int_eq(try_load(pem_of(p384, 0), &why), APR_EINVAL);
    ck_assert_str_eq(why, "the EC key is not on the P-256 curve");
    ck_assert_int_eq(try_load(pem_of(rsa1024, 0), &why), APR_EINVAL);
    ck_assert_str_eq(why, "the RSA key has fewer than 2048 bits");
    ck_assert_int_eq(try_load(pem_of(ed, 0), &why), APR_EINVAL);
    /* PKCS#1 "BEGIN RSA PRIVATE KEY": PKCS#8 only for RSA */
    pkcs1 = pem_of(rsa2048, 1);
    ck_assert(strstr(pkcs1, "BEGIN RSA PRIVATE KEY"));
    ck_assert_int_eq(try_load(pkcs1, &why), APR_EINVAL);
    /* an encrypted PKCS#8 key */
    ck_assert(PEM_write_bio_PKCS8PrivateKey(bio, p384, EVP_aes_128_cbc(), NULL, 0, NULL,
                                            (void *)"secret"));
    n = BIO_get_mem_data(bio, &mem);
    encrypted = apr_pstrmemdup(pool, mem, (apr_size_t)n);
    ck_assert(strstr(encrypted, "ENCRYPTED PRIVATE KEY"));
    ck_assert_int_eq(try_load(encrypted, &why), APR_EINVAL);
    ck_assert_str_eq(why, "encrypted keys are not supported");
    /* garbage, a truncated key, a public key, nothing */
    ck_assert_int_eq(try_load("not a key", &why), APR_EINVAL);
    good = pem_of(rsa2048, 0);
    ck_assert_int_eq(try_load(apr_pstrndup(pool, good, strlen(good) / 2), &why), APR_EINVAL);
    ck_assert_int_eq(try_load(push_key_public_pem(pool, load(good)), &why), APR_EINVAL);
    ck_assert_int_eq(try_load("", &why), APR_EINVAL);
    ck_assert_int_eq(try_load(unit_repeat("A", PUSH_PEM_MAX_LEN + 1), &why), APR_EINVAL);
    /* the wrong kind of key for each token */
    ck_assert_ptr_null(push_apns_provider_token(pool, load(good), "KEY", "TEAM", NOW));
    BIO_free(bio);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(ed);
}
END_TEST

START_TEST(raw_p256_keys)
{
    apr_size_t n;
    unsigned char *d = push_b64url_decode(pool, RFC_AS_PRIVATE, &n), back[32];
    push_key *k = NULL, *g = NULL, *again = NULL;

    /* the RFC 8291 application-server key: the public point is the RFC's */
    ck_assert_int_eq(push_key_from_p256_private(pool, d, n, &k), APR_SUCCESS);
    ck_assert_str_eq(push_b64url_encode(pool, push_key_p256_public(k), 65), RFC_AS_PUBLIC);
    ck_assert_int_eq(push_key_p256_private(k, back), APR_SUCCESS);
    ck_assert_mem_eq(back, d, 32);
    ck_assert_int_eq(push_key_from_p256_private(pool, d, 31, &k), APR_EINVAL);

    /* a generated key survives export and import, as scalar and as PEM */
    ck_assert_int_eq(push_key_generate_p256(pool, &g), APR_SUCCESS);
    ck_assert_int_eq(push_key_p256_private(g, back), APR_SUCCESS);
    ck_assert_int_eq(push_key_from_p256_private(pool, back, 32, &again), APR_SUCCESS);
    ck_assert_mem_eq(push_key_p256_public(g), push_key_p256_public(again), 65);
    again = load(push_key_private_pem(pool, g));
    ck_assert_mem_eq(push_key_p256_public(g), push_key_p256_public(again), 65);
    ck_assert(strstr(push_key_private_pem(pool, g), "BEGIN PRIVATE KEY"));
    ck_assert(strstr(push_key_public_pem(pool, g), "BEGIN PUBLIC KEY"));
    /* two generated keys differ */
    ck_assert_int_eq(push_key_generate_p256(pool, &again), APR_SUCCESS);
    ck_assert(memcmp(push_key_p256_public(g), push_key_p256_public(again), 65) != 0);
}
END_TEST

START_TEST(origins)
{
    static const struct { const char *url, *origin; } cases[] = {
        { "https://push.example.net/wpush/v2/abc", "https://push.example.net" },
        { "https://Push.Example.NET:443/x?y=1", "https://push.example.net" },
        { "https://push.example.net:8443/x", "https://push.example.net:8443" },
        { "HTTP://localhost:8090/notify/ab", "http://localhost:8090" },
        { "http://localhost:80/n", "http://localhost" },
        { "https://[::1]:9000/n", "https://[::1]:9000" },
        { "ftp://example.net/x", NULL },
        { "/relative/path", NULL },
        { "not a url", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *o = push_url_origin(pool, cases[i].url);
        if (cases[i].origin) {
            ck_assert_msg(o && !strcmp(o, cases[i].origin), "%s -> %s", cases[i].url,
                          o ? o : "(null)");
        }
        else {
            ck_assert_msg(o == NULL, "%s -> %s", cases[i].url, o);
        }
    }
}
END_TEST

START_TEST(vapid)
{
    push_key *k = NULL;
    const char *h, *t, *kpart;
    EVP_PKEY *pub;
    jws j;

    ck_assert_int_eq(push_key_generate_p256(pool, &k), APR_SUCCESS);
    pub = public_from_pem(push_key_public_pem(pool, k));
    h = push_vapid_authorization(pool, k, "https://push.example.net:8443/wpush/v2/gAAAA?x=1",
                                 "mailto:ops@contoso.test", NOW, 0);
    ck_assert_ptr_nonnull(h);
    ck_assert(!strncmp(h, "vapid t=", 8));
    kpart = strstr(h, ", k=");
    ck_assert_ptr_nonnull(kpart);
    ck_assert_str_eq(kpart + 4, push_b64url_encode(pool, push_key_p256_public(k), 65));
    t = apr_pstrndup(pool, h + 8, (apr_size_t)(kpart - h - 8));
    j = split(t);
    ck_assert_str_eq(str(j.header, "alg"), "ES256");
    ck_assert_str_eq(str(j.header, "typ"), "JWT");
    ck_assert_str_eq(str(j.claims, "aud"), "https://push.example.net:8443");
    ck_assert_str_eq(str(j.claims, "sub"), "mailto:ops@contoso.test");
    ck_assert_int_eq(num(j.claims, "exp"), 1700000000 + 12 * 3600);
    ck_assert_int_eq(json_object_size(j.claims), 3);
    ck_assert(verify_es256(pub, &j));

    /* an explicit lifetime; 24 h is the most */
    ck_assert_ptr_nonnull(push_vapid_authorization(pool, k, "https://a.example/x",
                                                   "https://contoso.test/contact", NOW,
                                                   apr_time_from_sec(24 * 3600)));
    h = push_vapid_authorization(pool, k, "https://a.example/x", "https://contoso.test/", NOW,
                                 apr_time_from_sec(3600));
    t = apr_pstrndup(pool, h + 8, (apr_size_t)(strstr(h, ", k=") - h - 8));
    j = split(t);
    ck_assert_int_eq(num(j.claims, "exp"), 1700000000 + 3600);
    ck_assert_str_eq(str(j.claims, "aud"), "https://a.example");
    ck_assert_ptr_null(push_vapid_authorization(pool, k, "https://a.example/x", "mailto:a@b",
                                                NOW, apr_time_from_sec(24 * 3600 + 1)));
    ck_assert_ptr_null(push_vapid_authorization(pool, k, "https://a.example/x", "ops@contoso",
                                                NOW, 0));
    ck_assert_ptr_null(push_vapid_authorization(pool, k, "a.example/x", "mailto:a@b", NOW, 0));
    ck_assert_ptr_null(push_vapid_authorization(pool, load(pem_of(rsa2048, 0)),
                                                "https://a.example/x", "mailto:a@b", NOW, 0));
    EVP_PKEY_free(pub);
}
END_TEST

START_TEST(apns_provider_token)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *pub = public_of(ec);
    push_key *k = load(pem_of(ec, 0));
    const char *t = push_apns_provider_token(pool, k, "ABC123DEFG", "DEF123GHIJ", NOW + 999);
    jws j;

    ck_assert_ptr_nonnull(t);
    j = split(t);
    ck_assert_str_eq(str(j.header, "alg"), "ES256");
    ck_assert_str_eq(str(j.header, "kid"), "ABC123DEFG");
    ck_assert_str_eq(str(j.claims, "iss"), "DEF123GHIJ");
    ck_assert_int_eq(num(j.claims, "iat"), 1700000000);     /* whole seconds */
    ck_assert_int_eq(json_object_size(j.claims), 2);
    ck_assert_uint_eq(j.sig_len, 64);
    ck_assert(verify_es256(pub, &j));
    ck_assert_ptr_null(push_apns_provider_token(pool, k, "", "TEAM", NOW));
    ck_assert_ptr_null(push_apns_provider_token(pool, k, "KEY", "TE AM", NOW));
    ck_assert_ptr_null(push_apns_provider_token(pool, k, NULL, "TEAM", NOW));
    EVP_PKEY_free(pub);
    EVP_PKEY_free(ec);
}
END_TEST

START_TEST(google_assertion)
{
    push_key *k = load(pem_of(rsa2048, 0));
    EVP_PKEY *pub = public_of(rsa2048);
    const char *t = push_google_assertion(pool, k, "0123abcd", "push@proj.iam.gserviceaccount.com",
                                          "https://oauth2.googleapis.com/token", NOW);
    jws j;

    ck_assert_ptr_nonnull(t);
    j = split(t);
    ck_assert_str_eq(str(j.header, "alg"), "RS256");
    ck_assert_str_eq(str(j.header, "typ"), "JWT");
    ck_assert_str_eq(str(j.header, "kid"), "0123abcd");
    ck_assert_str_eq(str(j.claims, "iss"), "push@proj.iam.gserviceaccount.com");
    ck_assert_str_eq(str(j.claims, "scope"), "https://www.googleapis.com/auth/firebase.messaging");
    ck_assert_str_eq(str(j.claims, "aud"), "https://oauth2.googleapis.com/token");
    ck_assert_int_eq(num(j.claims, "iat"), 1700000000);
    ck_assert_int_eq(num(j.claims, "exp"), 1700000000 + 3600);
    ck_assert(verify_rs256(pub, &j));
    /* no kid when the account has no private_key_id */
    j = split(push_google_assertion(pool, k, NULL, "a@b", "https://t.example/token", NOW));
    ck_assert_ptr_null(json_object_get(j.header, "kid"));
    /* ES256 keys do not make Google assertions */
    ck_assert_ptr_null(push_google_assertion(pool, push_key_generate_p256(pool, &k) == APR_SUCCESS
                                                   ? k : NULL,
                                             NULL, "a@b", "https://t.example/token", NOW));
    EVP_PKEY_free(pub);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("push_jwt");
    TCase *tc = unit_tcase("push_jwt");
    int rc;

    rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!rsa2048) {
        fprintf(stderr, "cannot generate an RSA key\n");
        return EXIT_FAILURE;
    }
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, es256_from_pkcs8_and_sec1);
    tcase_add_test(tc, rs256);
    tcase_add_test(tc, refused_keys);
    tcase_add_test(tc, raw_p256_keys);
    tcase_add_test(tc, origins);
    tcase_add_test(tc, vapid);
    tcase_add_test(tc, apns_provider_token);
    tcase_add_test(tc, google_assertion);
    suite_add_tcase(s, tc);
    rc = unit_run("test_push_jwt", s);
    EVP_PKEY_free(rsa2048);
    return rc;
}
