/* Stateless bearer tokens ("cwt=..."): HMAC-SHA256 over user, issue and expiry times.
 * They need no shared storage, so every child process and every pool member that
 * shares the key file accepts them, and they survive restarts. */
#ifndef MOB_TOKEN_H
#define MOB_TOKEN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define MOB_TOKEN_KEY_MIN 32      /* bytes of key material required */
#define MOB_TOKEN_MAX_LEN 1024    /* longer presented tokens are rejected unparsed */
#define MOB_TOKEN_USER_MAX 255   /* fits UCWA_SIP_MAX (256) with its NUL */
#define MOB_TOKEN_NONCE_CHARS 16 /* base64url of 12 random bytes */

typedef struct {
    const unsigned char *data;
    apr_size_t len;
} mob_token_key;

typedef struct {
    const char *user;       /* SIP address, lower case, no "sip:" */
    apr_time_t issued;
    apr_time_t expires;
} mob_token_claims;

/* 1 when user (len bytes) is a normalised user name, the only kind a token carries:
 * 1 to MOB_TOKEN_USER_MAX bytes, no "sip:" prefix, no ASCII upper case, no control
 * character, space, DEL, '"' or '\\' (what sign-in's normalisation leaves). */
int mob_token_user_ok(const char *user, apr_size_t len);

/* Signs a token for user with key (the current key), valid for lifetime from now; NULL
 * when user is not normalised (mob_token_user_ok). */
const char *mob_token_issue(apr_pool_t *p, const mob_token_key *key, const char *user,
                            apr_time_t now, apr_interval_time_t lifetime);

/* Verifies token against every key in keys (an array of mob_token_key: current first,
 * then previous keys during a rotation). Compares MACs in constant time.
 * The payload must be exactly the issuer's: five fields, version 1, a normalised user,
 * plain decimal times, a 16-character nonce.
 * APR_SUCCESS and *out filled; APR_EINVAL for malformed or forged; APR_TIMEUP expired. */
apr_status_t mob_token_verify(apr_pool_t *p, const apr_array_header_t *keys,
                              const char *token, apr_time_t now, mob_token_claims *out);

#endif
