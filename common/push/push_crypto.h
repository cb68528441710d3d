/* Cryptography of WebPush payloads: base64url, P-256 key helpers, and the message
 * encryption of RFC 8291 (ECDH P-256 + HKDF-SHA-256) with the aes128gcm content coding
 * of RFC 8188, as one record of at most 4096 bytes.
 *
 * Every OpenSSL object made here is freed before the function returns, except the
 * EVP_PKEY of push_p256_from_private, which a cleanup of the given pool frees. */
#ifndef PUSH_CRYPTO_H
#define PUSH_CRYPTO_H

#include <apr_pools.h>
#include <openssl/evp.h>

#define PUSH_P256_PUBLIC_LEN  65    /* uncompressed point: 0x04 | x | y */
#define PUSH_P256_PRIVATE_LEN 32    /* the scalar d, big-endian */
#define PUSH_AUTH_SECRET_LEN  16    /* the subscription's "auth" */
#define PUSH_SALT_LEN         16
#define PUSH_RECORD_SIZE      4096  /* rs written in the header (RFC 8291 §4) */
/* salt(16) | rs(4) | idlen(1) | keyid = as_public(65) */
#define PUSH_WEBPUSH_HEADER_LEN (PUSH_SALT_LEN + 4 + 1 + PUSH_P256_PUBLIC_LEN)
#define PUSH_AEAD_TAG_LEN     16
/* The whole body must fit in 4096 bytes (what push services accept): 4096 - 86 bytes
 * of header - 16 of tag - 1 padding delimiter. */
#define PUSH_WEBPUSH_PLAINTEXT_MAX \
    (PUSH_RECORD_SIZE - PUSH_WEBPUSH_HEADER_LEN - PUSH_AEAD_TAG_LEN - 1)

/* base64url (RFC 4648 §5) without '=' padding, in p. */
const char *push_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);

/* Decodes base64url: only the URL alphabet, no whitespace; trailing '=' padding is
 * accepted (some clients pad), and the spare low bits of the last character are
 * ignored. Returns the bytes in p (NUL-terminated for convenience, the NUL not counted
 * in *len), or NULL when s is not base64url. */
unsigned char *push_b64url_decode(apr_pool_t *p, const char *s, apr_size_t *len);

/* Non-zero when pt[0..len) is a 65-byte uncompressed P-256 point that lies on the
 * curve and is not the point at infinity (what a subscription's p256dh must be). */
int push_p256_public_valid(const unsigned char *pt, apr_size_t len);

/* The P-256 key pair with private scalar d (1 <= d < n). pub (may be NULL) receives the
 * uncompressed public point. The key is freed by a cleanup of p. NULL if d is out of
 * range or OpenSSL fails. */
EVP_PKEY *push_p256_from_private(apr_pool_t *p, const unsigned char d[PUSH_P256_PRIVATE_LEN],
                                 unsigned char pub[PUSH_P256_PUBLIC_LEN]);

/* Encrypts plaintext for a WebPush subscription (RFC 8291): ua_public is the
 * subscription's p256dh (65 bytes), auth its auth secret (16 bytes). A fresh random
 * salt and a fresh ephemeral application-server key are used for every message.
 * *body receives salt | rs=4096 | idlen=65 | as_public | ciphertext+tag, to send as is
 * with "Content-Encoding: aes128gcm"; the plaintext is followed by the 0x02 delimiter
 * and no further padding.
 * APR_SUCCESS; APR_EINVAL for a wrong size or a p256dh that is not a point on the
 * curve; APR_ENOSPC when plaintext_len > PUSH_WEBPUSH_PLAINTEXT_MAX; APR_EGENERAL when
 * OpenSSL fails. */
apr_status_t push_webpush_encrypt(apr_pool_t *p,
                                  const unsigned char *ua_public, apr_size_t ua_public_len,
                                  const unsigned char *auth, apr_size_t auth_len,
                                  const unsigned char *plaintext, apr_size_t plaintext_len,
                                  unsigned char **body, apr_size_t *body_len);

/* The same with a given salt (16 bytes) and application-server private scalar (32
 * bytes): deterministic, for tests (RFC 8291 Appendix A). Never reuse a salt/key pair
 * for two messages in production. APR_EINVAL also when as_private is out of range. */
apr_status_t push_webpush_encrypt_with(apr_pool_t *p,
                                       const unsigned char *ua_public, apr_size_t ua_public_len,
                                       const unsigned char *auth, apr_size_t auth_len,
                                       const unsigned char *plaintext, apr_size_t plaintext_len,
                                       const unsigned char salt[PUSH_SALT_LEN],
                                       const unsigned char as_private[PUSH_P256_PRIVATE_LEN],
                                       unsigned char **body, apr_size_t *body_len);

#endif
