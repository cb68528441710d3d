/* Push registrations in SQL (table ucwa_push_registrations of ucwa_schema): a device's
 * channels to a push service. A registration belongs to a user and to a device, named by
 * the endpointId its applications are created with, so it outlives any one application
 * (an app that signs in again with the same endpointId finds its registrations). The
 * resource and its rules: docs/extensions.md, "Push notifications". */
#ifndef UCWA_PUSH_REG_H
#define UCWA_PUSH_REG_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "push_provider.h"
#include "ucwa_sql.h"

#define UCWA_PUSH_REG_ID_LEN 24        /* base64url of 18 random bytes */
#define UCWA_PUSH_REGS_PER_DEVICE 4
#define UCWA_PUSH_LANGUAGE_MAX 35      /* a BCP 47 tag */

typedef struct {
    const char *id;
    const char *owner;                 /* lower case, without "sip:" */
    const char *endpoint_id;
    const char *provider;              /* WebPush, UnifiedPush, APNs or FCM */
    const char *endpoint;              /* WebPush/UnifiedPush: the push resource URL */
    const char *token;                 /* APNs, FCM: the device's token */
    const char *p256dh, *auth;         /* WebPush: the subscription's keys, base64url */
    const char *language;              /* may be NULL */
    apr_int64_t created, updated;      /* Unix seconds */
} ucwa_push_reg;

/* The protocol a provider name (any case) is sent with; APR_EINVAL for another name.
 * *canonical gets the name as stored. */
apr_status_t ucwa_push_reg_provider(const char *name, push_provider *out,
                                    const char **canonical);

/* Checks a registration's fields for its provider: the endpoint (policy: https only
 * unless allowed, no private or loopback address unless allowed), the keys (p256dh a
 * P-256 point of 65 bytes, auth 16 bytes), the token (APNs: hex, at most 200; FCM: at
 * most 4096 printable), the language. NULL, or what is wrong (a fixed text). */
const char *ucwa_push_reg_check(apr_pool_t *p, const ucwa_push_reg *r,
                                const push_endpoint_policy *policy);

const char *ucwa_push_reg_new_id(apr_pool_t *p);
int ucwa_push_reg_id_valid(const char *id);

/* The registrations of a device (owner + endpoint_id), or of every device of the owner
 * when endpoint_id is NULL: an array of ucwa_push_reg. 0, or -1 with db->err. */
int ucwa_push_reg_list(ucwa_db *db, apr_pool_t *p, const char *owner,
                       const char *endpoint_id, apr_array_header_t **out);
/* One of the owner's: 1 found, 0 not, -1 error. */
int ucwa_push_reg_get(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id,
                      ucwa_push_reg *out);
/* Inserts r (new id) or updates the row with r->id of r->owner. 0 or -1. */
int ucwa_push_reg_insert(ucwa_db *db, apr_pool_t *p, const ucwa_push_reg *r);
int ucwa_push_reg_update(ucwa_db *db, apr_pool_t *p, const ucwa_push_reg *r);
/* Deletes the owner's registration (owner NULL: whoever's, for the dispatcher). The
 * number of rows deleted, or -1. */
int ucwa_push_reg_delete(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id);

#endif
