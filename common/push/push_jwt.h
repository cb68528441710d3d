/* Signing keys and compact JWTs (RFC 7515/7519) for the push providers:
 *   - WebPush VAPID (RFC 8292): ES256, "Authorization: vapid t=<jwt>, k=<public key>";
 *   - the APNs provider token: ES256 with the .p8 key of the Apple developer account;
 *   - the Google service-account assertion (RFC 7523) that buys an FCM access token: RS256.
 * ES256 signatures are the raw 64 bytes r | s (JWS, RFC 7518 §3.4), not DER.
 * Nothing here reads the clock: every time is passed in as now. */
#ifndef PUSH_JWT_H
#define PUSH_JWT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "push_crypto.h"

/* A private key, EC P-256 (ES256) or RSA of at least 2048 bits (RS256). Its OpenSSL
 * object is freed by a cleanup of the pool it was made in; it is immutable after that,
 * so one key may sign from several threads. */
typedef struct push_key push_key;

typedef enum {
    PUSH_KEY_P256 = 1,   /* signs ES256 */
    PUSH_KEY_RSA = 2     /* signs RS256 */
} push_key_kind;

#define PUSH_RSA_MIN_BITS 2048
#define PUSH_PEM_MAX_LEN  16384    /* longer PEM text is refused unparsed */

/* Loads a private key from PEM text (len bytes, need not be NUL-terminated):
 * "BEGIN PRIVATE KEY" (PKCS#8, EC P-256 or RSA) or "BEGIN EC PRIVATE KEY" (SEC1).
 * Encrypted keys, other curves, other algorithms and RSA under 2048 bits are refused.
 * APR_SUCCESS, or APR_EINVAL and a short reason in *why (may be NULL). */
apr_status_t push_key_from_pem(apr_pool_t *p, const char *pem, apr_size_t len,
                               push_key **out, const char **why);

/* A P-256 key from its private scalar: len must be 32 and 1 <= d < n (VAPID keys are
 * usually configured that way, as the base64url of d). APR_EINVAL otherwise. */
apr_status_t push_key_from_p256_private(apr_pool_t *p, const unsigned char *d, apr_size_t len,
                                        push_key **out);

/* A fresh random P-256 key pair (a new VAPID key). */
apr_status_t push_key_generate_p256(apr_pool_t *p, push_key **out);

push_key_kind push_key_kind_of(const push_key *key);

/* The 65-byte uncompressed public point of a P-256 key (what a browser wants as
 * applicationServerKey, base64url-encoded); NULL for an RSA key. */
const unsigned char *push_key_p256_public(const push_key *key);

/* Copies the private scalar of a P-256 key into d (to store a generated VAPID key).
 * APR_EINVAL for an RSA key. */
apr_status_t push_key_p256_private(const push_key *key, unsigned char d[PUSH_P256_PRIVATE_LEN]);

/* The private key as PKCS#8 PEM, the public key as SubjectPublicKeyInfo PEM; in p.
 * NULL when OpenSSL fails. */
const char *push_key_private_pem(apr_pool_t *p, const push_key *key);
const char *push_key_public_pem(apr_pool_t *p, const push_key *key);

/* A compact JWS over claims (serialised compactly, keys in insertion order).
 * Header: {"alg":"ES256"|"RS256","typ":"JWT"}, plus "kid" when kid is not NULL; the
 * algorithm follows the key's kind. NULL on failure. */
const char *push_jwt_sign(apr_pool_t *p, const push_key *key, const char *kid,
                          const json_t *claims);

/* The origin of an http(s) URL: lower-case scheme "://" host, ":port" only when not the
 * scheme's default; an IPv6 host in brackets. NULL when url is not an absolute http(s)
 * URL with a host. */
const char *push_url_origin(apr_pool_t *p, const char *url);

#define PUSH_VAPID_LIFETIME_DEFAULT apr_time_from_sec(12 * 3600)
#define PUSH_VAPID_LIFETIME_MAX     apr_time_from_sec(24 * 3600)   /* RFC 8292 §2 */

/* The value of the Authorization header of a WebPush request (RFC 8292 §3):
 * "vapid t=<jwt>, k=<base64url of the 65-byte public key>", the JWT carrying
 * aud = origin of endpoint, exp = now + lifetime (whole seconds), sub = subject.
 * key must be P-256; subject must start with "mailto:" or "https:"; lifetime 0 means
 * PUSH_VAPID_LIFETIME_DEFAULT, and more than PUSH_VAPID_LIFETIME_MAX is refused (some
 * push services refuse an exp that is even slightly more than 24 h ahead of their own
 * clock, so a caller should stay well below it). NULL on any of these errors.
 * A caller may cache the value per origin until shortly before exp. */
const char *push_vapid_authorization(apr_pool_t *p, const push_key *key, const char *endpoint,
                                     const char *subject, apr_time_t now,
                                     apr_interval_time_t lifetime);

/* APNs refuses a provider token older than an hour and answers 429
 * TooManyProviderTokenUpdates when a new one comes less than 20 minutes after the last:
 * sign one and reuse it for between 20 and 60 minutes. */
#define PUSH_APNS_TOKEN_MIN_AGE apr_time_from_sec(20 * 60)
#define PUSH_APNS_TOKEN_MAX_AGE apr_time_from_sec(60 * 60)

/* The APNs provider token: header {"alg":"ES256","typ":"JWT","kid":key_id}, claims
 * {"iss":team_id,"iat":now in seconds}. key must be P-256 (the .p8 file); key_id and
 * team_id are 1..64 printable ASCII characters (Apple's are 10). NULL otherwise. */
const char *push_apns_provider_token(apr_pool_t *p, const push_key *key, const char *key_id,
                                     const char *team_id, apr_time_t now);

#define PUSH_FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"
#define PUSH_GOOGLE_ASSERTION_LIFETIME 3600   /* seconds; Google's maximum */

/* The signed assertion of a Google service account (RFC 7523 §2.1) for the FCM scope:
 * header {"alg":"RS256","typ":"JWT"} (+ "kid":key_id, the account's private_key_id,
 * when not NULL), claims {"iss":client_email,"scope":PUSH_FCM_SCOPE,"aud":token_uri,
 * "iat":now,"exp":now+3600}. key must be RSA. NULL otherwise. */
const char *push_google_assertion(apr_pool_t *p, const push_key *key, const char *key_id,
                                  const char *client_email, const char *token_uri,
                                  apr_time_t now);

#endif
