/* mob_token: stateless "cwt=" bearer tokens. */
#include <apr_encode.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "unit.h"
#include "mob_token.h"

#define B64_FLAGS (APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING)
#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define USER "alice@contoso.test"
#define NONCE "AQEBAQEBAQEBAQEB"   /* base64url of 12 bytes, as the issuer writes it */

/* Three distinct 32-byte keys (MOB_TOKEN_KEY_MIN), filled in by main(). */
static unsigned char old_bytes[32], new_bytes[32], other_bytes[32];

static const mob_token_key k_old = { old_bytes, sizeof(old_bytes) };
static const mob_token_key k_new = { new_bytes, sizeof(new_bytes) };
static const mob_token_key k_other = { other_bytes, sizeof(other_bytes) };

/* A whole second, so the claims come back exactly (the token stores seconds). */
#define NOW      apr_time_from_sec(1700000000)
#define LIFETIME apr_time_from_sec(8 * 3600)

static apr_array_header_t *keyring(const mob_token_key *first, const mob_token_key *second)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(mob_token_key));

    if (first) {
        APR_ARRAY_PUSH(a, mob_token_key) = *first;
    }
    if (second) {
        APR_ARRAY_PUSH(a, mob_token_key) = *second;
    }
    return a;
}

static const char *issue(const mob_token_key *k)
{
    const char *t = mob_token_issue(pool, k, USER, NOW, LIFETIME);

    ck_assert_ptr_nonnull(t);
    return t;
}

static apr_status_t verify_at(const apr_array_header_t *keys, const char *t, apr_time_t now)
{
    mob_token_claims c;

    return mob_token_verify(pool, keys, t, now, &c);
}

static apr_status_t verify(const char *t)
{
    return verify_at(keyring(&k_new, &k_old), t, NOW);
}

/* A token for an arbitrary payload, MACed with k the way mob_token_issue does, to
 * reach the payload checks that a forged MAC never gets past. */
static const char *sign_raw(const mob_token_key *k, const char *payload, apr_size_t len)
{
    unsigned char sig[32];
    unsigned int n = 0;
    const char *b64 = apr_pencode_base64(pool, payload, (apr_ssize_t)len, B64_FLAGS, NULL);

    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k->data, (int)k->len, (const unsigned char *)b64,
                               strlen(b64), sig, &n));
    return apr_pstrcat(pool, "cwt=", b64, ".",
                       apr_pencode_base64_binary(pool, sig, sizeof(sig), B64_FLAGS, NULL), NULL);
}

static const char *sign(const char *payload)
{
    return sign_raw(&k_new, payload, strlen(payload));
}

START_TEST(round_trip)
{
    const char *t = issue(&k_new);
    mob_token_claims c;

    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(mob_token_verify(pool, keyring(&k_new, NULL), t, NOW, &c), APR_SUCCESS);
    ck_assert_str_eq(c.user, USER);
    ck_assert(c.issued == NOW);
    ck_assert(c.expires == NOW + LIFETIME);
    /* still good one second before expiry */
    ck_assert_int_eq(verify_at(keyring(&k_new, NULL), t, NOW + LIFETIME - apr_time_from_sec(1)),
                     APR_SUCCESS);
}
END_TEST

START_TEST(format)
{
    const char *a = issue(&k_new), *b = issue(&k_new);

    ck_assert_int_eq(strncmp(a, "cwt=", 4), 0);
    ck_assert_uint_le(strlen(a), MOB_TOKEN_MAX_LEN);
    /* one '.' between payload and MAC, and only URL-safe characters (it goes in headers) */
    ck_assert_ptr_nonnull(strchr(a + 4, '.'));
    ck_assert_ptr_null(strchr(strchr(a + 4, '.') + 1, '.'));
    ck_assert_uint_eq(strspn(a + 4, B64URL "."), strlen(a + 4));
    /* the nonce makes two tokens for the same user and time differ */
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(expired)
{
    const char *t = issue(&k_new);
    mob_token_claims c;

    ck_assert_int_eq(mob_token_verify(pool, keyring(&k_new, NULL), t, NOW + LIFETIME, &c),
                     APR_TIMEUP);
    ck_assert_int_eq(verify_at(keyring(&k_new, NULL), t, NOW + LIFETIME + apr_time_from_sec(3600)),
                     APR_TIMEUP);
    t = mob_token_issue(pool, &k_new, USER, NOW, 0);
    ck_assert_int_eq(verify_at(keyring(&k_new, NULL), t, NOW), APR_TIMEUP);
}
END_TEST

START_TEST(unknown_key)
{
    ck_assert_int_eq(verify(issue(&k_other)), APR_EINVAL);
    /* no key at all */
    ck_assert_int_eq(verify_at(keyring(NULL, NULL), issue(&k_new), NOW), APR_EINVAL);
}
END_TEST

START_TEST(rotation)
{
    const char *old_token = issue(&k_old), *new_token = issue(&k_new);
    mob_token_claims c;

    ck_assert_int_eq(mob_token_verify(pool, keyring(&k_new, &k_old), old_token, NOW, &c),
                     APR_SUCCESS);
    ck_assert_str_eq(c.user, USER);
    ck_assert_int_eq(verify_at(keyring(&k_new, &k_old), new_token, NOW), APR_SUCCESS);
    /* the old key retired: its tokens stop working */
    ck_assert_int_eq(verify_at(keyring(&k_new, NULL), old_token, NOW), APR_EINVAL);
    ck_assert_int_eq(verify_at(keyring(&k_new, NULL), new_token, NOW), APR_SUCCESS);
}
END_TEST

/* Every character of the payload replaced by another base64url character. */
START_TEST(flipped_payload)
{
    const char *t = issue(&k_new);
    apr_size_t dot = (apr_size_t)(strchr(t, '.') - t), i;
    const char *a;

    ck_assert_int_eq(verify(t), APR_SUCCESS);
    for (i = 4; i < dot; i++) {
        for (a = B64URL; *a; a++) {
            char *x;
            if (*a == t[i]) {
                continue;
            }
            x = apr_pstrdup(pool, t);
            x[i] = *a;
            if (verify(x) != APR_EINVAL) {
                ck_abort_msg("payload byte %lu changed to '%c' accepted: %s",
                             (unsigned long)i, *a, x);
            }
        }
    }
}
END_TEST

/* Every character of the MAC replaced: also the last one, whose low bits base64 does not
 * use, so a lax decoder would accept a second spelling of the same token. */
START_TEST(flipped_mac)
{
    const char *t = issue(&k_new);
    apr_size_t n = strlen(t), i;
    const char *a;

    for (i = (apr_size_t)(strchr(t, '.') - t) + 1; i < n; i++) {
        for (a = B64URL "+/="; *a; a++) {
            char *x;
            if (*a == t[i]) {
                continue;
            }
            x = apr_pstrdup(pool, t);
            x[i] = *a;
            if (verify(x) != APR_EINVAL) {
                ck_abort_msg("MAC byte %lu changed to '%c' accepted: %s", (unsigned long)i, *a, x);
            }
        }
    }
    /* padding or junk after the MAC */
    ck_assert_int_eq(verify(apr_pstrcat(pool, t, "=", NULL)), APR_EINVAL);
    ck_assert_int_eq(verify(apr_pstrcat(pool, t, "==", NULL)), APR_EINVAL);
    ck_assert_int_eq(verify(apr_pstrcat(pool, t, "A", NULL)), APR_EINVAL);
    ck_assert_int_eq(verify(apr_pstrcat(pool, t, " ", NULL)), APR_EINVAL);
    ck_assert_int_eq(verify(apr_pstrcat(pool, t, ".x", NULL)), APR_EINVAL);
}
END_TEST

START_TEST(truncated)
{
    const char *t = issue(&k_new);
    apr_size_t n = strlen(t), i;

    for (i = 0; i < n; i++) {
        if (verify(apr_pstrndup(pool, t, i)) != APR_EINVAL) {
            ck_abort_msg("token truncated to %lu bytes accepted", (unsigned long)i);
        }
    }
}
END_TEST

START_TEST(missing_prefix)
{
    const char *t = issue(&k_new);

    ck_assert_int_eq(verify(t + 4), APR_EINVAL);
    ck_assert_int_eq(verify(apr_pstrcat(pool, "xyz=", t + 4, NULL)), APR_EINVAL);
    ck_assert_int_eq(verify(apr_pstrcat(pool, "cwt", t + 4, NULL)), APR_EINVAL);
}
END_TEST

START_TEST(garbage)
{
    static const char *const bad[] = {
        "", "cwt", "cwt=", "cwt=.", "cwt=abc", "cwt=abc.", "cwt=.abc", "cwt=!!!.???",
        "cwt=\xff\xfe.\x01\x02", "Bearer xyz", "hello world",
    };
    size_t i;

    ck_assert_int_eq(verify(NULL), APR_EINVAL);
    /* well-formed shape and MAC length, but a made-up MAC */
    ck_assert_int_eq(verify(apr_pstrcat(pool, "cwt=MQphbGljZQoxCjIKbg.", unit_repeat("A", 43),
                                        NULL)), APR_EINVAL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(verify(bad[i]) == APR_EINVAL, "accepted: '%s'", bad[i]);
    }
}
END_TEST

START_TEST(overlong)
{
    char *big = apr_pstrcat(pool, "cwt=", unit_repeat("A", MOB_TOKEN_MAX_LEN), NULL);
    const char *t;

    ck_assert_int_eq(verify(big), APR_EINVAL);
    /* a validly signed token, but longer than any verifier will parse (the issuer
     * refuses such a user) */
    ck_assert_ptr_null(mob_token_issue(pool, &k_new, unit_repeat("u", 800), NOW, LIFETIME));
    t = sign(apr_pstrcat(pool, "1\n", unit_repeat("u", 800), "\n1700000000\n1700003600\n",
                         NONCE, NULL));
    ck_assert_uint_gt(strlen(t), MOB_TOKEN_MAX_LEN);
    ck_assert_int_eq(verify(t), APR_EINVAL);
    /* a validly signed user name over MOB_TOKEN_USER_MAX */
    ck_assert_ptr_null(mob_token_issue(pool, &k_new, unit_repeat("u", MOB_TOKEN_USER_MAX + 1),
                                       NOW, LIFETIME));
    t = sign(apr_pstrcat(pool, "1\n", unit_repeat("u", MOB_TOKEN_USER_MAX + 1),
                         "\n1700000000\n1700003600\n", NONCE, NULL));
    ck_assert_uint_le(strlen(t), MOB_TOKEN_MAX_LEN);
    ck_assert_int_eq(verify(t), APR_EINVAL);
    t = mob_token_issue(pool, &k_new, unit_repeat("u", MOB_TOKEN_USER_MAX), NOW, LIFETIME);
    ck_assert_int_eq(verify(t), APR_SUCCESS);
}
END_TEST

/* Correctly MACed payloads that the issuer would never produce. */
START_TEST(bad_payload)
{
    static const char *const bad[] = {
        "2\nalice\n1700000000\n1700003600\nnonce",          /* unknown version */
        "1\nalice\n1700000000\n1700003600",                 /* no nonce */
        "1\nalice\n1700000000",
        "",
        "1\nalice\n1700003600\n1700000000\nnonce",          /* expires before issued */
        "1\nalice\n-1\n1700003600\nnonce",
        "1\nalice\n17x0000000\n1700003600\nnonce",
        "1\nalice\n1700000000\n1700003600000\nnonce",       /* 13 digits */
        /* the issuer's form exactly, defect 4 of issue 10: each of these was accepted */
        "1\nalice@contoso.test\n1700000000\n1700003600\n" NONCE "\nadmin", /* sixth field */
        "1\nALICE@contoso.test\n1700000000\n1700003600\n" NONCE,  /* upper case */
        "1\nAlice@Contoso.Test\n1700000000\n1700003600\n" NONCE,
        "1\nsip:alice@contoso.test\n1700000000\n1700003600\n" NONCE,
        "1\nSIP:alice@contoso.test\n1700000000\n1700003600\n" NONCE,
        "1\nalice@contoso.test\n1700000000\n1700003600\n" NONCE "\n",   /* trailing LF */
        "\n1\nalice@contoso.test\n1700000000\n1700003600\n" NONCE,   /* leading LF */
        "1\n\nalice@contoso.test\n1700000000\n1700003600\n" NONCE,   /* empty field */
        "1\nalice smith@contoso.test\n1700000000\n1700003600\n" NONCE,   /* space */
        "1\nalice\"@contoso.test\n1700000000\n1700003600\n" NONCE,
        "1\nalice@contoso.test\r\n1700000000\n1700003600\n" NONCE,
        "1\nalice@contoso.test\n 1700000000\n1700003600\n" NONCE,   /* space in a time */
        "1\nalice@contoso.test\n+1700000000\n1700003600\n" NONCE,   /* sign */
        "1\nalice@contoso.test\n01700000000\n1700003600\n" NONCE,   /* leading zero */
        "1\nalice@contoso.test\n1700000000\n1700003600\nnonce",     /* short nonce */
        "1\nalice@contoso.test\n1700000000\n1700003600\nAQEBAQEBAQEBAQE=",
        "1\nalice@contoso.test\n1700000000\n1700003600\nAQEBAQEBAQEBAQEBA",
        "01\nalice@contoso.test\n1700000000\n1700003600\n" NONCE,   /* version spelling */
    };
    static const char with_nul[] = "1\nalice\0x\n1700000000\n1700003600\nn";
    mob_token_claims c;
    size_t i;

    /* the helper signs the way the issuer does */
    ck_assert_int_eq(mob_token_verify(pool, keyring(&k_new, NULL),
                                      sign("1\nbob@contoso.test\n1700000000\n1700003600\n" NONCE),
                                      NOW, &c), APR_SUCCESS);
    ck_assert_str_eq(c.user, "bob@contoso.test");
    ck_assert(c.expires == apr_time_from_sec(1700003600));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(verify(sign(bad[i])) == APR_EINVAL, "accepted payload %lu",
                      (unsigned long)i);
    }
    /* a time of 0 is the issuer's spelling of zero */
    ck_assert_int_eq(verify_at(keyring(&k_new, NULL),
                               sign("1\nbob@contoso.test\n0\n1700003600\n" NONCE), NOW),
                     APR_SUCCESS);
    /* a NUL inside the payload must not cut the user name short */
    ck_assert_int_eq(verify(sign_raw(&k_new, with_nul, sizeof(with_nul) - 1)), APR_EINVAL);
}
END_TEST

/* The issuer refuses a user a verifier would refuse, and the rule is sign-in's. */
START_TEST(user_rule)
{
    static const char *const bad[] = {
        "", "Alice@contoso.test", "sip:alice@contoso.test", "SIP:alice@contoso.test",
        "alice smith@contoso.test", "alice\"@contoso.test", "alice\\x@contoso.test",
        "alice\n@contoso.test", "alice\x7f@contoso.test",
    };
    static const char *const good[] = {
        "alice@contoso.test", "\xc3\xa9lodie@contoso.test", "a", "o'brien+x@contoso.test",
        "sip", "sip:",   /* no prefix to remove: "sip:" alone is 4 bytes of prefix */
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!mob_token_user_ok(bad[i], strlen(bad[i])), "user %lu", (unsigned long)i);
        ck_assert_ptr_null(mob_token_issue(pool, &k_new, bad[i], NOW, LIFETIME));
    }
    for (i = 0; i < 4; i++) {
        ck_assert_msg(mob_token_user_ok(good[i], strlen(good[i])), "user %lu", (unsigned long)i);
        ck_assert_int_eq(verify(mob_token_issue(pool, &k_new, good[i], NOW, LIFETIME)),
                         APR_SUCCESS);
    }
    ck_assert(mob_token_user_ok(good[4], strlen(good[4])));
    ck_assert(!mob_token_user_ok(good[5], strlen(good[5])));
    ck_assert(!mob_token_user_ok(unit_repeat("u", MOB_TOKEN_USER_MAX + 1),
                                 MOB_TOKEN_USER_MAX + 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("token");
    TCase *tc;

    memset(old_bytes, 0x11, sizeof(old_bytes));
    memset(new_bytes, 0x22, sizeof(new_bytes));
    memset(other_bytes, 0x33, sizeof(other_bytes));
    tc = unit_tcase("token");

    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, format);
    tcase_add_test(tc, expired);
    tcase_add_test(tc, unknown_key);
    tcase_add_test(tc, rotation);
    tcase_add_test(tc, flipped_payload);
    tcase_add_test(tc, flipped_mac);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, missing_prefix);
    tcase_add_test(tc, garbage);
    tcase_add_test(tc, overlong);
    tcase_add_test(tc, bad_payload);
    tcase_add_test(tc, user_rule);
    suite_add_tcase(s, tc);
    return unit_run("test_token", s);
}
