#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "mob_json.h"
#include "push_jwt.h"

struct push_key {
    EVP_PKEY *pkey;                         /* freed by the pool cleanup of its maker */
    push_key_kind kind;
    unsigned char pub[PUSH_P256_PUBLIC_LEN];   /* P-256 only */
};

static apr_status_t pkey_release(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

apr_status_t push_key_from_p256_private(apr_pool_t *p, const unsigned char *d, apr_size_t len,
                                        push_key **out)
{
    push_key *k;

    if (!d || len != PUSH_P256_PRIVATE_LEN) {
        return APR_EINVAL;
    }
    k = apr_pcalloc(p, sizeof(*k));
    k->pkey = push_p256_from_private(p, d, k->pub);
    if (!k->pkey) {
        return APR_EINVAL;
    }
    k->kind = PUSH_KEY_P256;
    *out = k;
    return APR_SUCCESS;
}

apr_status_t push_key_generate_p256(apr_pool_t *p, push_key **out)
{
    unsigned char d[PUSH_P256_PRIVATE_LEN];
    apr_status_t rv = APR_EGENERAL;
    int tries;

    /* d out of range has a probability of about 2^-32: draw again */
    for (tries = 0; tries < 4 && rv != APR_SUCCESS; tries++) {
        if (RAND_priv_bytes(d, sizeof(d)) != 1) {
            break;
        }
        rv = push_key_from_p256_private(p, d, sizeof(d), out);
    }
    OPENSSL_cleanse(d, sizeof(d));
    return rv == APR_SUCCESS ? rv : APR_EGENERAL;
}

apr_status_t push_key_p256_private(const push_key *key, unsigned char d[PUSH_P256_PRIVATE_LEN])
{
    BIGNUM *bn = NULL;
    int ok;

    if (!key || key->kind != PUSH_KEY_P256) {
        return APR_EINVAL;
    }
    ok = EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1
         && BN_bn2binpad(bn, d, PUSH_P256_PRIVATE_LEN) == PUSH_P256_PRIVATE_LEN;
    BN_clear_free(bn);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

/* An EC key as parsed from a file goes through its scalar: the key pair is then built
 * the one way push_crypto builds it, with an uncompressed public point whatever form
 * the file had. */
static apr_status_t adopt_ec(apr_pool_t *p, EVP_PKEY *pk, push_key **out, const char **why)
{
    char group[64];
    size_t glen = 0;
    BIGNUM *bn = NULL;
    unsigned char d[PUSH_P256_PRIVATE_LEN];
    apr_status_t rv = APR_EINVAL;

    if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1
        || (strcmp(group, SN_X9_62_prime256v1) && strcmp(group, "P-256"))) {
        *why = "the EC key is not on the P-256 curve";
        return APR_EINVAL;
    }
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1
        || BN_bn2binpad(bn, d, sizeof(d)) != sizeof(d)) {
        *why = "the EC key has no usable private part";
    }
    else if ((rv = push_key_from_p256_private(p, d, sizeof(d), out)) != APR_SUCCESS) {
        *why = "the EC private scalar is out of range";
    }
    BN_clear_free(bn);
    OPENSSL_cleanse(d, sizeof(d));
    return rv;
}

apr_status_t push_key_from_pem(apr_pool_t *p, const char *pem, apr_size_t len,
                               push_key **out, const char **why)
{
    const char *dummy;
    BIO *bio;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    const unsigned char *q;
    long dlen = 0;
    EVP_PKEY *pk = NULL;
    apr_status_t rv = APR_EINVAL;

    if (!why) {
        why = &dummy;
    }
    *why = NULL;
    if (!pem || len == 0 || len > PUSH_PEM_MAX_LEN) {
        *why = "no PEM text, or more than 16 KiB of it";
        return APR_EINVAL;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio || PEM_read_bio(bio, &name, &header, &data, &dlen) != 1) {
        *why = "no PEM block found";
        goto done;
    }
    q = data;
    /* a header (Proc-Type: 4,ENCRYPTED) means a traditionally encrypted key */
    if (header && *header) {
        *why = "encrypted keys are not supported";
    }
    else if (!strcmp(name, "PRIVATE KEY")) {
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, dlen);
        if (p8 && q == data + dlen) {
            pk = EVP_PKCS82PKEY(p8);
        }
        PKCS8_PRIV_KEY_INFO_free(p8);
    }
    else if (!strcmp(name, "EC PRIVATE KEY")) {
        pk = d2i_PrivateKey(EVP_PKEY_EC, NULL, &q, dlen);
        if (pk && q != data + dlen) {
            EVP_PKEY_free(pk);
            pk = NULL;
        }
    }
    else if (!strcmp(name, "ENCRYPTED PRIVATE KEY")) {
        *why = "encrypted keys are not supported";
    }
    else {
        *why = "not a PKCS#8 (BEGIN PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE KEY) key";
    }
    if (!pk) {
        if (!*why) {
            *why = "the key does not parse";
        }
        goto done;
    }
    if (EVP_PKEY_is_a(pk, "EC")) {
        rv = adopt_ec(p, pk, out, why);
    }
    else if (EVP_PKEY_is_a(pk, "RSA") && !strcmp(name, "PRIVATE KEY")) {
        if (EVP_PKEY_get_bits(pk) < PUSH_RSA_MIN_BITS) {
            *why = "the RSA key has fewer than 2048 bits";
        }
        else {
            push_key *k = apr_pcalloc(p, sizeof(*k));
            k->pkey = pk;
            k->kind = PUSH_KEY_RSA;
            pk = NULL;
            apr_pool_cleanup_register(p, k->pkey, pkey_release, apr_pool_cleanup_null);
            *out = k;
            rv = APR_SUCCESS;
        }
    }
    else {
        *why = "neither an EC P-256 nor an RSA key";
    }
done:
    EVP_PKEY_free(pk);
    if (data) {
        OPENSSL_clear_free(data, (size_t)dlen);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    BIO_free(bio);
    return rv;
}

push_key_kind push_key_kind_of(const push_key *key)
{
    return key->kind;
}

const unsigned char *push_key_p256_public(const push_key *key)
{
    return key->kind == PUSH_KEY_P256 ? key->pub : NULL;
}

static const char *bio_text(apr_pool_t *p, BIO *bio)
{
    char *mem = NULL;
    long n = BIO_get_mem_data(bio, &mem);

    return n > 0 ? apr_pstrmemdup(p, mem, (apr_size_t)n) : NULL;
}

const char *push_key_private_pem(apr_pool_t *p, const push_key *key)
{
    BIO *bio = BIO_new(BIO_s_secmem());     /* cleansed when freed */
    const char *s = NULL;

    if (bio && PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) == 1) {
        s = bio_text(p, bio);
    }
    BIO_free(bio);
    return s;
}

const char *push_key_public_pem(apr_pool_t *p, const push_key *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *s = NULL;

    if (bio && PEM_write_bio_PUBKEY(bio, key->pkey) == 1) {
        s = bio_text(p, bio);
    }
    BIO_free(bio);
    return s;
}

/* SHA-256 signature of data: RSASSA-PKCS1-v1_5, or ECDSA turned from DER into the
 * fixed-size r | s of JWS. */
static const unsigned char *sign(apr_pool_t *p, const push_key *key, const char *data,
                                 apr_size_t len, apr_size_t *siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL, *raw = NULL;
    size_t n = 0;
    ECDSA_SIG *es = NULL;
    const BIGNUM *r, *s;
    const unsigned char *q;

    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1
        || EVP_DigestSign(md, NULL, &n, (const unsigned char *)data, len) != 1) {
        goto done;
    }
    der = apr_palloc(p, n);
    if (EVP_DigestSign(md, der, &n, (const unsigned char *)data, len) != 1) {
        goto done;
    }
    if (key->kind == PUSH_KEY_RSA) {
        raw = der;
        *siglen = n;
        goto done;
    }
    q = der;
    es = d2i_ECDSA_SIG(NULL, &q, (long)n);
    if (!es) {
        goto done;
    }
    ECDSA_SIG_get0(es, &r, &s);
    raw = apr_palloc(p, 64);
    if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32) {
        raw = NULL;
        goto done;
    }
    *siglen = 64;
done:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return raw;
}

const char *push_jwt_sign(apr_pool_t *p, const push_key *key, const char *kid,
                          const json_t *claims)
{
    json_t *header;
    const char *h, *c, *input;
    const unsigned char *sig;
    apr_size_t hlen, clen, siglen = 0;

    if (!key || !claims || !json_is_object(claims)) {
        return NULL;
    }
    header = mob_json_own(p, json_pack("{s:s, s:s}", "alg",
                                       key->kind == PUSH_KEY_RSA ? "RS256" : "ES256",
                                       "typ", "JWT"));
    if (!header || (kid && json_object_set_new(header, "kid", json_string(kid)) != 0)) {
        return NULL;
    }
    h = mob_json_dump(p, header, &hlen);
    c = mob_json_dump(p, claims, &clen);
    if (!h || !c) {
        return NULL;
    }
    input = apr_pstrcat(p, push_b64url_encode(p, (const unsigned char *)h, hlen), ".",
                        push_b64url_encode(p, (const unsigned char *)c, clen), NULL);
    sig = sign(p, key, input, strlen(input), &siglen);
    if (!sig) {
        return NULL;
    }
    return apr_pstrcat(p, input, ".", push_b64url_encode(p, sig, siglen), NULL);
}

const char *push_url_origin(apr_pool_t *p, const char *url)
{
    apr_uri_t u;
    const char *scheme, *host, *port = NULL;
    char *lower, *h;

    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || !*u.hostname) {
        return NULL;
    }
    if (!strcasecmp(u.scheme, "https")) {
        scheme = "https";
        if (u.port_str && *u.port_str && strcmp(u.port_str, "443")) {
            port = u.port_str;
        }
    }
    else if (!strcasecmp(u.scheme, "http")) {
        scheme = "http";
        if (u.port_str && *u.port_str && strcmp(u.port_str, "80")) {
            port = u.port_str;
        }
    }
    else {
        return NULL;
    }
    lower = apr_pstrdup(p, u.hostname);
    for (h = lower; *h; h++) {
        *h = (char)apr_tolower(*h);
    }
    host = lower;
    if (strchr(host, ':')) {
        host = apr_pstrcat(p, "[", host, "]", NULL);
    }
    return apr_pstrcat(p, scheme, "://", host, port ? ":" : "", port ? port : "", NULL);
}

/* 1..64 printable ASCII characters, nothing that would need escaping anywhere */
static int token_ok(const char *s)
{
    apr_size_t n = 0;

    if (!s) {
        return 0;
    }
    for (; s[n]; n++) {
        if (s[n] <= 0x20 || s[n] >= 0x7f || n >= 64) {
            return 0;
        }
    }
    return n > 0;
}

const char *push_vapid_authorization(apr_pool_t *p, const push_key *key, const char *endpoint,
                                     const char *subject, apr_time_t now,
                                     apr_interval_time_t lifetime)
{
    const char *aud = push_url_origin(p, endpoint), *jwt;
    json_t *claims;

    if (lifetime == 0) {
        lifetime = PUSH_VAPID_LIFETIME_DEFAULT;
    }
    if (!key || key->kind != PUSH_KEY_P256 || !aud || !subject
        || (strncmp(subject, "mailto:", 7) && strncmp(subject, "https:", 6))
        || lifetime < 0 || lifetime > PUSH_VAPID_LIFETIME_MAX) {
        return NULL;
    }
    claims = mob_json_own(p, json_pack("{s:s, s:I, s:s}", "aud", aud, "exp",
                                       (json_int_t)apr_time_sec(now + lifetime),
                                       "sub", subject));
    if (!claims) {
        return NULL;
    }
    jwt = push_jwt_sign(p, key, NULL, claims);
    if (!jwt) {
        return NULL;
    }
    return apr_pstrcat(p, "vapid t=", jwt, ", k=",
                       push_b64url_encode(p, key->pub, sizeof(key->pub)), NULL);
}

const char *push_apns_provider_token(apr_pool_t *p, const push_key *key, const char *key_id,
                                     const char *team_id, apr_time_t now)
{
    json_t *claims;

    if (!key || key->kind != PUSH_KEY_P256 || !token_ok(key_id) || !token_ok(team_id)) {
        return NULL;
    }
    claims = mob_json_own(p, json_pack("{s:s, s:I}", "iss", team_id, "iat",
                                       (json_int_t)apr_time_sec(now)));
    return claims ? push_jwt_sign(p, key, key_id, claims) : NULL;
}

const char *push_google_assertion(apr_pool_t *p, const push_key *key, const char *key_id,
                                  const char *client_email, const char *token_uri,
                                  apr_time_t now)
{
    json_t *claims;
    json_int_t iat = (json_int_t)apr_time_sec(now);

    if (!key || key->kind != PUSH_KEY_RSA || !client_email || !*client_email || !token_uri
        || !*token_uri || (key_id && !*key_id)) {
        return NULL;
    }
    claims = mob_json_own(p, json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", client_email,
                                       "scope", PUSH_FCM_SCOPE, "aud", token_uri, "iat", iat,
                                       "exp", iat + PUSH_GOOGLE_ASSERTION_LIFETIME));
    return claims ? push_jwt_sign(p, key, key_id, claims) : NULL;
}
