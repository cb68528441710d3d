/* The parsers of push_provider.c that read what comes from outside, each on every input:
 *   1. push_service_account_parse (the key file): on success every member is set, type is
 *      "service_account", token_uri is http(s), project_id has only its characters;
 *   2. push_google_token_parse (the token endpoint's answer): on success the token is
 *      1..4096 printable characters without space, 1 s <= expires_in <= 1 day, and
 *      expires = now + expires_in;
 *   3. push_classify and push_error_reason (a provider's answer): the input's first byte
 *      picks the provider, the next two the status (0..999), the rest up to the first
 *      '\n' is the Retry-After header and what follows the body. 2xx is OK and status 0
 *      RETRY whatever the body; retry_in is 0 unless RETRY, and never above the cap;
 *      a reason is at most 200 bytes;
 *   4. push_endpoint_check (a client's endpoint) with the default and a lax policy: an
 *      accepted endpoint is at most 1000 bytes of printable ASCII, and https under the
 *      default policy;
 *   5. push_collapse_key: at most the limit, printable, base64url when asked;
 *   6. ucwa_push_reg_check (a client's registration, common/push/ucwa_push_reg): the input's
 *      lines are provider, endpoint, p256dh, auth, token, language (an empty line: the
 *      field is absent); a refusal is a short printable reason, and an accepted WebPush
 *      registration has keys that decode to 65 and 16 bytes. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz_util.h"
#include "push_crypto.h"
#include "push_provider.h"
#include "ucwa_push_reg.h"

/* 2023-11-14T22:13:20Z */
#define NOW apr_time_from_sec(1700000000)

static int printable(const char *s)
{
    for (; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void service_account(apr_pool_t *p, const uint8_t *data, size_t size)
{
    push_service_account sa;
    const char *why = NULL;
    apr_status_t rv;

    memset(&sa, 0, sizeof(sa));
    rv = push_service_account_parse(p, (const char *)data, size, &sa, &why);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(size <= PUSH_SERVICE_ACCOUNT_MAX);
    FUZZ_CHECK(sa.type && !strcmp(sa.type, "service_account"));
    FUZZ_CHECK(sa.project_id && *sa.project_id && strlen(sa.project_id) <= 100);
    FUZZ_CHECK(strspn(sa.project_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789._:-") == strlen(sa.project_id));
    FUZZ_CHECK(sa.private_key && strstr(sa.private_key, "-----BEGIN "));
    FUZZ_CHECK(sa.client_email && strchr(sa.client_email, '@') && printable(sa.client_email));
    FUZZ_CHECK(sa.token_uri && (!strncasecmp(sa.token_uri, "https://", 8)
                                || !strncasecmp(sa.token_uri, "http://", 7)));
    FUZZ_CHECK(!sa.private_key_id || *sa.private_key_id);
}

static void token_answer(apr_pool_t *p, const uint8_t *data, size_t size)
{
    push_oauth_token t;
    const char *why = NULL;
    apr_status_t rv;

    memset(&t, 0, sizeof(t));
    rv = push_google_token_parse(p, (const char *)data, size, NOW, &t, &why);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(t.access_token && *t.access_token && printable(t.access_token));
    FUZZ_CHECK(strlen(t.access_token) <= PUSH_ACCESS_TOKEN_MAX);
    FUZZ_CHECK(t.expires_in >= apr_time_from_sec(1) && t.expires_in <= apr_time_from_sec(86400));
    FUZZ_CHECK(t.expires == NOW + t.expires_in);
    FUZZ_CHECK(t.token_type && !strcmp(t.token_type, "Bearer"));
}

static void answer(apr_pool_t *p, const uint8_t *data, size_t size)
{
    push_provider prov;
    int status;
    const char *rest, *nl, *retry_after, *body, *reason;
    apr_interval_time_t in = -1;
    push_result r;

    if (size < 3) {
        return;
    }
    prov = (push_provider)(PUSH_PROVIDER_WEBPUSH + data[0] % 3);
    status = ((data[1] << 8) | data[2]) % 1000;
    rest = apr_pstrmemdup(p, (const char *)data + 3, size - 3);   /* stops at a NUL */
    nl = strchr(rest, '\n');
    retry_after = nl ? apr_pstrmemdup(p, rest, (apr_size_t)(nl - rest)) : rest;
    body = nl ? nl + 1 : NULL;

    r = push_classify(prov, status, body, retry_after, NOW, &in);
    FUZZ_CHECK(push_result_name(r) != NULL);
    FUZZ_CHECK(in >= 0 && in <= PUSH_RETRY_AFTER_MAX);
    FUZZ_CHECK(r == PUSH_RETRY || in == 0);
    if (status >= 200 && status < 300) {
        FUZZ_CHECK(r == PUSH_OK);
    }
    else {
        FUZZ_CHECK(r != PUSH_OK);
    }
    if (status == 0 || (status >= 500 && status < 600)) {
        FUZZ_CHECK(r == PUSH_RETRY);
    }
    if (r == PUSH_AUTH) {
        FUZZ_CHECK(prov != PUSH_PROVIDER_WEBPUSH && (status == 401 || status == 403));
    }
    /* the same answer without a pointer for the delay, and without a body */
    FUZZ_CHECK(push_classify(prov, status, body, retry_after, NOW, NULL) == r);
    r = push_classify(prov, status, NULL, retry_after, NOW, &in);
    FUZZ_CHECK(r == PUSH_RETRY || in == 0);

    reason = push_error_reason(p, prov, body);
    FUZZ_CHECK(!reason || strlen(reason) <= 200);
    reason = push_error_reason(p, prov, rest);
    FUZZ_CHECK(!reason || strlen(reason) <= 200);
}

static void endpoint(apr_pool_t *p, const char *s)
{
    push_endpoint_policy lax;
    apr_array_header_t *allow = apr_array_make(p, 3, sizeof(const char *));
    const char *why = NULL;
    apr_status_t rv;

    rv = push_endpoint_check(p, s, NULL, &why);
    FUZZ_CHECK(rv == APR_SUCCESS || (rv == APR_EINVAL && why));
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(strlen(s) <= PUSH_ENDPOINT_MAX && printable(s));
        FUZZ_CHECK(!strncasecmp(s, "https://", 8));
        FUZZ_CHECK(!strchr(s, '#'));
    }
    APR_ARRAY_PUSH(allow, const char *) = "127.0.0.0/8";
    APR_ARRAY_PUSH(allow, const char *) = "localhost";
    APR_ARRAY_PUSH(allow, const char *) = "fd00::/8";
    lax.allow_http = 1;
    lax.allow = allow;
    rv = push_endpoint_check(p, s, &lax, &why);
    FUZZ_CHECK(rv == APR_SUCCESS || (rv == APR_EINVAL && why));
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(strlen(s) <= PUSH_ENDPOINT_MAX && printable(s));
    }
    /* an entry of an allow list is judged without crashing too */
    (void)push_allow_entry_valid(s);
}

static void collapse(apr_pool_t *p, const char *s)
{
    static const apr_size_t maxes[] = { 1, 32, 64 };
    size_t i;

    for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        const char *k = push_collapse_key(p, s, maxes[i], i == 1);
        if (!*s) {
            FUZZ_CHECK(k == NULL);
            continue;
        }
        FUZZ_CHECK(k != NULL);
        FUZZ_CHECK(*k && strlen(k) <= maxes[i] && printable(k));
        if (i == 1) {
            FUZZ_CHECK(strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_") == strlen(k));
        }
        /* the same id gives the same key */
        FUZZ_CHECK(!strcmp(k, push_collapse_key(p, s, maxes[i], i == 1)));
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

static void registration(apr_pool_t *p, const char *s)
{
    const char *field[6] = { NULL, NULL, NULL, NULL, NULL, NULL }, *why;
    push_endpoint_policy lax = { 1, NULL };
    ucwa_push_reg r;
    char *line = apr_pstrdup(p, s), *nl;
    apr_size_t n = 0;
    int i;

    for (i = 0; i < 6 && line; i++) {
        if ((nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
        }
        field[i] = *line ? line : NULL;
        line = nl ? nl + 1 : NULL;
    }
    memset(&r, 0, sizeof(r));
    r.owner = "alice@contoso.test";
    r.endpoint_id = "phone";
    r.provider = field[0];
    r.endpoint = field[1];
    r.p256dh = field[2];
    r.auth = field[3];
    r.token = field[4];
    r.language = field[5];
    for (i = 0; i < 2; i++) {
        why = ucwa_push_reg_check(p, &r, i ? &lax : NULL);
        if (why) {
            /* a sentence for the client (the API's message), fixed text: printable ASCII */
            size_t k, len = strlen(why);
            FUZZ_CHECK(len > 0 && len < 200);
            for (k = 0; k < len; k++) {
                FUZZ_CHECK(why[k] >= 0x20 && why[k] < 0x7f);
            }
        }
        else if (r.endpoint) {
            FUZZ_CHECK(push_b64url_decode(p, r.p256dh, &n) && n == 65);
            FUZZ_CHECK(push_b64url_decode(p, r.auth, &n) && n == 16);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_cstr(data, size);

    service_account(p, data, size);
    token_answer(p, data, size);
    answer(p, data, size);
    endpoint(p, s);
    collapse(p, s);
    registration(p, s);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
