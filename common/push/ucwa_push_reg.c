#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "push_crypto.h"
#include "ucwa_push_reg.h"

#define COLS "reg_id, owner, endpoint_id, provider, endpoint, token, p256dh, auth, language, " \
             "created, updated"
#define NCOLS 11

static const struct {
    const char *name;
    push_provider provider;
} providers[] = {
    { "WebPush", PUSH_PROVIDER_WEBPUSH },
    { "UnifiedPush", PUSH_PROVIDER_WEBPUSH },   /* the same request and answers */
    { "APNs", PUSH_PROVIDER_APNS },
    { "FCM", PUSH_PROVIDER_FCM },
};

apr_status_t ucwa_push_reg_provider(const char *name, push_provider *out,
                                    const char **canonical)
{
    size_t i;

    for (i = 0; name && i < sizeof(providers) / sizeof(providers[0]); i++) {
        if (!strcasecmp(name, providers[i].name)) {
            *out = providers[i].provider;
            if (canonical) {
                *canonical = providers[i].name;
            }
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

static int printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

const char *ucwa_push_reg_check(apr_pool_t *p, const ucwa_push_reg *r,
                                const push_endpoint_policy *policy)
{
    push_provider prov;
    const char *why = NULL;
    unsigned char *raw;
    apr_size_t n = 0, i;

    if (ucwa_push_reg_provider(r->provider, &prov, NULL) != APR_SUCCESS) {
        return "provider must be WebPush, UnifiedPush, APNs or FCM";
    }
    if (r->language && (strlen(r->language) > UCWA_PUSH_LANGUAGE_MAX || !*r->language
                        || strspn(r->language, "abcdefghijklmnopqrstuvwxyz"
                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
                           != strlen(r->language))) {
        return "language must be a language tag such as en-US";
    }
    switch (prov) {
    case PUSH_PROVIDER_WEBPUSH:
        if (!r->endpoint || !*r->endpoint) {
            return "a WebPush registration needs its endpoint";
        }
        if (push_endpoint_check(p, r->endpoint, policy, &why) != APR_SUCCESS) {
            return why ? why : "the endpoint is not allowed";
        }
        if (!r->p256dh || strlen(r->p256dh) > 100
            || !(raw = push_b64url_decode(p, r->p256dh, &n)) || n != 65
            || !push_p256_public_valid(raw, n)) {
            return "keys.p256dh must be a P-256 public key (65 bytes, base64url)";
        }
        if (!r->auth || strlen(r->auth) > 40 || !(raw = push_b64url_decode(p, r->auth, &n))
            || n != 16) {
            return "keys.auth must be 16 bytes, base64url";
        }
        if (r->token) {
            return "a WebPush registration has no token";
        }
        return NULL;
    case PUSH_PROVIDER_APNS:
        n = r->token ? strlen(r->token) : 0;
        if (n == 0 || n > PUSH_DEVICE_TOKEN_MAX || n % 2) {
            return "an APNs token is an even number of hex digits, at most 200";
        }
        for (i = 0; i < n; i++) {
            if (!apr_isxdigit(r->token[i])) {
                return "an APNs token is an even number of hex digits, at most 200";
            }
        }
        break;
    default:
        n = r->token ? strlen(r->token) : 0;
        if (n == 0 || n > PUSH_FCM_TOKEN_MAX || !printable(r->token)) {
            return "an FCM token is 1 to 4096 printable characters";
        }
        break;
    }
    if (r->endpoint || r->p256dh || r->auth) {
        return "an APNs or FCM registration has a token, no endpoint or keys";
    }
    return NULL;
}

const char *ucwa_push_reg_new_id(apr_pool_t *p)
{
    unsigned char raw[18];

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        return NULL;
    }
    return push_b64url_encode(p, raw, sizeof(raw));
}

int ucwa_push_reg_id_valid(const char *id)
{
    size_t i;

    for (i = 0; id && id[i]; i++) {
        if (!apr_isalnum(id[i]) && id[i] != '-' && id[i] != '_') {
            return 0;
        }
    }
    return id && i == UCWA_PUSH_REG_ID_LEN;
}

static void from_row(const char **c, ucwa_push_reg *r)
{
    r->id = c[0];
    r->owner = c[1];
    r->endpoint_id = c[2];
    r->provider = c[3];
    r->endpoint = c[4];
    r->token = c[5];
    r->p256dh = c[6];
    r->auth = c[7];
    r->language = c[8];
    r->created = c[9] ? apr_atoi64(c[9]) : 0;
    r->updated = c[10] ? apr_atoi64(c[10]) : 0;
}

static apr_array_header_t *regs_of(apr_pool_t *p, apr_array_header_t *rows)
{
    apr_array_header_t *out = apr_array_make(p, rows->nelts, sizeof(ucwa_push_reg));
    int i;

    for (i = 0; i < rows->nelts; i++) {
        from_row(APR_ARRAY_IDX(rows, i, const char **), apr_array_push(out));
    }
    return out;
}

int ucwa_push_reg_list(ucwa_db *db, apr_pool_t *p, const char *owner,
                       const char *endpoint_id, apr_array_header_t **out)
{
    apr_array_header_t *rows;
    const char *args[2] = { owner, endpoint_id };
    int rc = endpoint_id
        ? ucwa_sql_select(db, p, "ucwa_push_1", "SELECT " COLS " FROM ucwa_push_registrations "
                          "WHERE owner = %s AND endpoint_id = %s ORDER BY created, reg_id",
                          2, args, NCOLS, &rows)
        : ucwa_sql_select(db, p, "ucwa_push_2", "SELECT " COLS " FROM ucwa_push_registrations "
                          "WHERE owner = %s ORDER BY created, reg_id", 1, args, NCOLS, &rows);

    if (rc) {
        return -1;
    }
    *out = regs_of(p, rows);
    return 0;
}

int ucwa_push_reg_get(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id,
                      ucwa_push_reg *out)
{
    apr_array_header_t *rows;
    const char *args[2] = { owner, id };

    if (ucwa_sql_select(db, p, "ucwa_push_3", "SELECT " COLS " FROM ucwa_push_registrations "
                        "WHERE owner = %s AND reg_id = %s", 2, args, NCOLS, &rows)) {
        return -1;
    }
    if (rows->nelts == 0) {
        return 0;
    }
    from_row(APR_ARRAY_IDX(rows, 0, const char **), out);
    return 1;
}

static const char *num(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

int ucwa_push_reg_insert(ucwa_db *db, apr_pool_t *p, const ucwa_push_reg *r)
{
    const char *args[NCOLS] = { r->id, r->owner, r->endpoint_id, r->provider, r->endpoint,
                                r->token, r->p256dh, r->auth, r->language,
                                num(p, r->created), num(p, r->updated) };

    return ucwa_sql_exec(db, p, "ucwa_push_4", "INSERT INTO ucwa_push_registrations (" COLS
                         ") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, CAST(%s AS BIGINT), "
                         "CAST(%s AS BIGINT))", NCOLS, args,
                         NULL);
}

int ucwa_push_reg_update(ucwa_db *db, apr_pool_t *p, const ucwa_push_reg *r)
{
    const char *args[] = { r->provider, r->endpoint, r->token, r->p256dh, r->auth,
                           r->language, num(p, r->updated), r->id, r->owner };

    return ucwa_sql_exec(db, p, "ucwa_push_5", "UPDATE ucwa_push_registrations SET "
                         "provider = %s, endpoint = %s, token = %s, p256dh = %s, auth = %s, "
                         "language = %s, updated = CAST(%s AS BIGINT) WHERE reg_id = %s AND owner = %s",
                         9, args, NULL);
}

int ucwa_push_reg_delete(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id)
{
    const char *args[2] = { id, owner };
    int n = 0;

    if (owner ? ucwa_sql_exec(db, p, "ucwa_push_6", "DELETE FROM ucwa_push_registrations "
                              "WHERE reg_id = %s AND owner = %s", 2, args, &n)
              : ucwa_sql_exec(db, p, "ucwa_push_7", "DELETE FROM ucwa_push_registrations "
                              "WHERE reg_id = %s", 1, args, &n)) {
        return -1;
    }
    return n;
}
