/* Push providers without I/O: the HTTP request that delivers one notification through
 * WebPush/UnifiedPush (RFC 8030 + 8291 + 8292), APNs (HTTP/2 provider API, token auth)
 * or FCM (HTTP v1 API), the OAuth exchange that buys an FCM access token, the checks of
 * what a client registers (WebPush endpoints), and the reading of a provider's answer.
 *
 * The caller owns the state: keys, the cached APNs provider token (20..60 min), the
 * FCM access token (until expires), the registrations. push_send.h performs the
 * exchange; push_classify() says what to do with the answer.
 *
 * Payload without customer data by default: when a notification has no title and no
 * body, nothing but the event kind, the conversation id, the badge count and the
 * caller's data pairs leaves the server. */
#ifndef PUSH_PROVIDER_H
#define PUSH_PROVIDER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "push_jwt.h"

typedef enum {
    PUSH_PROVIDER_WEBPUSH = 1,   /* also UnifiedPush: same request, same answers */
    PUSH_PROVIDER_APNS = 2,
    PUSH_PROVIDER_FCM = 3
} push_provider;

/* "webpush", "apns", "fcm"; NULL for another value. */
const char *push_provider_name(push_provider provider);
/* Reads one of those names (or "unifiedpush", a WebPush); APR_EINVAL otherwise. */
apr_status_t push_provider_parse(const char *name, push_provider *out);

/* RFC 8030 §5.3; also picks the APNs priority and the FCM Android priority. */
typedef enum {
    PUSH_URGENCY_VERY_LOW = 0,
    PUSH_URGENCY_LOW = 1,
    PUSH_URGENCY_NORMAL = 2,
    PUSH_URGENCY_HIGH = 3
} push_urgency;

/* "very-low", "low", "normal", "high"; NULL for another value. */
const char *push_urgency_name(push_urgency urgency);
apr_status_t push_urgency_parse(const char *name, push_urgency *out);

#define PUSH_EVENT_MAX          32       /* characters of an event kind */
#define PUSH_TTL_MAX            2419200  /* seconds (28 days, FCM's maximum) */
#define PUSH_TOPIC_MAX          32       /* WebPush Topic: base64url characters */
#define PUSH_COLLAPSE_MAX       64       /* apns-collapse-id bytes; FCM collapse_key too */
#define PUSH_APNS_PAYLOAD_MAX   4096     /* bytes of the JSON payload (non-VoIP) */
#define PUSH_FCM_DATA_MAX       4096     /* bytes of data keys and values together */
#define PUSH_ENDPOINT_MAX       1000     /* bytes of a WebPush/UnifiedPush endpoint URL */
#define PUSH_DEVICE_TOKEN_MAX   200      /* hex characters of an APNs device token */
#define PUSH_FCM_TOKEN_MAX      4096     /* characters of an FCM registration token */

/* One notification, whatever the provider.
 *   event         required, 1..PUSH_EVENT_MAX of [a-z0-9_-]: "message", "invitation",
 *                 "missed", "voicemail", "badge", ...
 *   conversation  optional collapse key: a later notification with the same one replaces
 *                 an undelivered earlier one. Sent as data as is (JSON-escaped); the
 *                 headers carry push_collapse_key() of it.
 *   badge         >= 0: the count for the app icon; < 0: none sent
 *   title, body   optional text shown to the user (customer data); NULL = none. UTF-8.
 *   data          optional extra pairs for the app (UTF-8 strings); names must not be
 *                 event, conversation, badge, title, body, aps, from, notification,
 *                 message_type, collapse_key, nor start with google. or gcm.
 *   ttl           seconds the provider may keep it for an offline device, 0..PUSH_TTL_MAX
 *                 (0 = deliver now or never)
 *   urgency       see above
 *   background    non-zero: wake the app without showing anything (APNs background push
 *                 with content-available; FCM normal priority). WebPush has no such
 *                 thing (browsers require a visible notification): ignored there. */
typedef struct {
    const char *event;
    const char *conversation;
    int badge;
    const char *title;
    const char *body;
    const apr_table_t *data;
    int ttl;
    push_urgency urgency;
    int background;
} push_notification;

/* The request to send: headers in an apr_table_t (names as written here; HTTP/2 sends
 * them in lower case). Everything is allocated in the pool given to the builder. */
typedef struct {
    const char *method;
    const char *url;
    apr_table_t *headers;
    const unsigned char *body;
    apr_size_t body_len;
    int http2_required;      /* APNs speaks HTTP/2 only: anything else is an error */
} push_http_request;

/* The collapse key of a conversation id for a header limited to max characters: the id
 * itself when it has 1..max characters, all printable ASCII without space (and, when
 * b64url_only, all of [A-Za-z0-9_-]); otherwise the first min(max, 43) characters of
 * base64url(SHA-256(id)). Never truncated in place: two long ids that share a prefix
 * must not collapse into each other. NULL for a NULL or empty id. */
const char *push_collapse_key(apr_pool_t *p, const char *conversation, apr_size_t max,
                              int b64url_only);

/* Checks n (see push_notification). APR_SUCCESS, or APR_EINVAL and *why. */
apr_status_t push_notification_check(const push_notification *n, const char **why);

/* The provider-independent payload, as JSON: {"event":..., "conversation":...,
 * "badge":N, "title":..., "body":..., "data":{...}}, members only when set. What a
 * WebPush service worker receives (decrypted). */
const char *push_notification_json(apr_pool_t *p, const push_notification *n, apr_size_t *len);

/* ---- WebPush / UnifiedPush endpoints and addresses ---------------------------------- */

/* What a WebPush endpoint (a URL a client registers, which the server will POST to) may
 * be, against server-side request forgery:
 *   - http or https only, and http only with allow_http; no user:password@; no fragment;
 *     at most PUSH_ENDPOINT_MAX bytes; a host; a port, if any, of 1..65535;
 *   - a host that is an IP literal must not be special (loopback 127/8 and ::1, private
 *     10/8 172.16/12 192.168/16 fc00::/7, link-local 169.254/16 fe80::/10, CGNAT
 *     100.64/10, unspecified, multicast, reserved, documentation ranges; an IPv4-mapped
 *     or NAT64 IPv6 address counts as its IPv4 address) unless an entry of allow covers
 *     it;
 *   - a host that looks numeric but is not a plain dotted quad ("2130706433",
 *     "0x7f.1", "127.1", "0177.0.0.1": resolvers read these as addresses) is refused,
 *     whatever allow says;
 *   - "localhost" and names under ".localhost" count as loopback: refused unless allow
 *     names them exactly (case-insensitive);
 *   - other names are not resolved here, and pass. Give the same policy to push_send
 *     (push_send_options.address_policy): it checks every address it connects to, so a
 *     name that resolves to a special address (or is rebound to one) is refused too.
 * allow is an array of const char *, each one of: an IPv4 or IPv6 address, a CIDR block
 * ("10.1.0.0/16", "fd00::/8"), or a host name. An entry that is neither a valid address
 * nor a valid block is taken as a host name (push_allow_entry_valid tells). A NULL policy
 * is the default: https only, no allow entries. */
typedef struct {
    int allow_http;
    const apr_array_header_t *allow;
} push_endpoint_policy;

/* APR_SUCCESS, or APR_EINVAL and *why (a short reason, for the log and the client). */
apr_status_t push_endpoint_check(apr_pool_t *p, const char *endpoint,
                                 const push_endpoint_policy *policy, const char **why);

/* Non-zero when entry is an address, a CIDR block with a prefix in range, or a valid
 * host name. For checking configuration. */
int push_allow_entry_valid(const char *entry);

/* Non-zero when the address (family AF_INET with 4 bytes, or AF_INET6 with 16, network
 * order) may be connected to under policy: not special, or covered by an allow entry. */
int push_address_allowed(const push_endpoint_policy *policy, int family, const void *addr);

/* ---- WebPush ------------------------------------------------------------------------ */

/* A browser's PushSubscription.toJSON(): the endpoint and the base64url keys. */
typedef struct {
    const char *endpoint;
    const char *p256dh;     /* 65-byte uncompressed P-256 point, base64url */
    const char *auth;       /* 16 bytes, base64url */
} push_webpush_subscription;

typedef struct {
    const push_key *vapid_key;            /* P-256 */
    const char *vapid_subject;            /* "mailto:..." or "https://..." */
    apr_interval_time_t vapid_lifetime;   /* 0: PUSH_VAPID_LIFETIME_DEFAULT */
    const push_endpoint_policy *policy;   /* the endpoint is checked again; NULL: default */
} push_webpush_config;

/* POST <endpoint>, the payload of push_notification_json() encrypted (aes128gcm), with
 * TTL, Urgency, Topic (push_collapse_key(conversation, 32, base64url only), when there
 * is a conversation), Content-Encoding: aes128gcm, Content-Type:
 * application/octet-stream and Authorization: vapid t=..., k=....
 * APR_SUCCESS; APR_EINVAL (bad subscription, notification or config: *why);
 * APR_ENOSPC (the payload is over PUSH_WEBPUSH_PLAINTEXT_MAX); APR_EGENERAL. */
apr_status_t push_webpush_request(apr_pool_t *p, const push_webpush_config *cfg,
                                  const push_webpush_subscription *sub,
                                  const push_notification *n, apr_time_t now,
                                  push_http_request **out, const char **why);

/* ---- APNs --------------------------------------------------------------------------- */

#define PUSH_APNS_HOST         "api.push.apple.com"
#define PUSH_APNS_HOST_SANDBOX "api.sandbox.push.apple.com"

typedef struct {
    const char *host;             /* PUSH_APNS_HOST[_SANDBOX], or host:port of a test server */
    const char *topic;            /* the app's bundle id */
    const char *provider_token;   /* push_apns_provider_token(), reused for 20..60 min */
} push_apns_config;

/* POST https://<host>/3/device/<token in lower case>, HTTP/2 required, with
 * authorization: bearer <provider token>, apns-topic, apns-push-type (alert, or
 * background when n->background), apns-priority (10 for an alert of urgency normal or
 * high, else 5), apns-expiration (now + ttl in UNIX seconds, 0 when ttl is 0) and
 * apns-collapse-id (push_collapse_key(conversation, 64, 0)). Payload:
 *   {"aps":{"alert":{"title":...,"body":...},"badge":N,"sound":"default"},
 *    "event":...,"conversation":...,<data pairs>}
 * where an alert without title and body is {"loc-key":"push.<event>"} (the app shows
 * its own localised text: no customer data through Apple), sound is only there for
 * urgency normal and high, and a background push has {"content-available":1} alone in
 * aps, its badge count going into a top-level "badge" member instead.
 * device_token: 8..PUSH_DEVICE_TOKEN_MAX hex digits, an even number of them.
 * APR_SUCCESS; APR_EINVAL (*why); APR_ENOSPC when the payload exceeds
 * PUSH_APNS_PAYLOAD_MAX bytes (refused, never cut). */
apr_status_t push_apns_request(apr_pool_t *p, const push_apns_config *cfg,
                               const char *device_token, const push_notification *n,
                               apr_time_t now, push_http_request **out, const char **why);

/* ---- FCM HTTP v1 -------------------------------------------------------------------- */

#define PUSH_FCM_BASE_URL "https://fcm.googleapis.com"

typedef struct {
    const char *base_url;       /* PUSH_FCM_BASE_URL, or a test server's */
    const char *project_id;
    const char *access_token;   /* from push_google_token_parse(), reused until expires */
} push_fcm_config;

/* POST <base>/v1/projects/<project>/messages:send with Authorization: Bearer <token>:
 *   {"message":{"token":...,"data":{"event":...,"conversation":...,"badge":"N",
 *    "title":...,"body":...,<data pairs>},"android":{"collapse_key":...,
 *    "priority":"high"|"normal","ttl":"<ttl>s"}}}
 * A data message only (the app draws the notification). priority is high for urgency
 * normal and high unless background; collapse_key is push_collapse_key(conversation,
 * 64, 0). APR_SUCCESS; APR_EINVAL (*why); APR_ENOSPC when data keys and values exceed
 * PUSH_FCM_DATA_MAX bytes. */
apr_status_t push_fcm_request(apr_pool_t *p, const push_fcm_config *cfg,
                              const char *registration_token, const push_notification *n,
                              push_http_request **out, const char **why);

/* The members of a Google service-account key file that FCM needs. */
typedef struct {
    const char *type;              /* "service_account" */
    const char *project_id;
    const char *private_key;       /* PEM (PKCS#8 RSA): push_key_from_pem() */
    const char *private_key_id;    /* may be NULL: then no kid in the assertion */
    const char *client_email;
    const char *token_uri;         /* e.g. https://oauth2.googleapis.com/token */
} push_service_account;

#define PUSH_SERVICE_ACCOUNT_MAX 65536   /* bytes of the key file */

/* Parses a service-account key file. All members but private_key_id are required
 * strings; type must be "service_account"; project_id 1..100 of [A-Za-z0-9._:-];
 * client_email must hold an '@'; token_uri an absolute http(s) URL; private_key must
 * hold a PEM block. APR_SUCCESS, or APR_EINVAL and *why. */
apr_status_t push_service_account_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                        push_service_account *out, const char **why);

/* POST <token_uri>, Content-Type application/x-www-form-urlencoded,
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt> (form-encoded),
 * the assertion from push_google_assertion(key, sa->private_key_id, ...). key is the
 * RSA key loaded from sa->private_key. APR_SUCCESS, or APR_EINVAL. */
apr_status_t push_google_token_request(apr_pool_t *p, const push_service_account *sa,
                                       const push_key *key, apr_time_t now,
                                       push_http_request **out);

typedef struct {
    const char *access_token;
    const char *token_type;          /* "Bearer" */
    apr_interval_time_t expires_in;
    apr_time_t expires;              /* now + expires_in */
} push_oauth_token;

#define PUSH_ACCESS_TOKEN_MAX 4096

/* Reads the token endpoint's JSON answer (of a 200): access_token (1..4096 printable
 * ASCII characters without space), expires_in (seconds, 1..86400 as an integer),
 * token_type (optional; if present "Bearer", any case). APR_SUCCESS, or APR_EINVAL and
 * *why. An error answer ({"error":...}) is APR_EINVAL with the error code in *why. */
apr_status_t push_google_token_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                     apr_time_t now, push_oauth_token *out, const char **why);

/* ---- Answers ------------------------------------------------------------------------ */

typedef enum {
    PUSH_OK = 0,      /* delivered to the provider (2xx) */
    PUSH_GONE = 1,    /* the registration is dead: delete it, do not send to it again */
    PUSH_RETRY = 2,   /* try again later: after *retry_in if it is not 0, else back off */
    PUSH_FAILED = 3,  /* this notification cannot be delivered: drop it, do not retry */
    PUSH_AUTH = 4     /* our credential was refused: refresh the APNs provider token or
                       * the FCM access token and retry once; a second AUTH is FAILED */
} push_result;

/* "OK", "GONE", "RETRY", "FAILED", "AUTH". */
const char *push_result_name(push_result result);

#define PUSH_RETRY_AFTER_MAX apr_time_from_sec(86400)

/* What an answer means (body: the response body as a NUL-terminated string, or NULL;
 * only its first 16 KiB are read):
 *   any provider: 2xx OK; status 0 (no answer: network error, timeout) RETRY; 408, 429
 *     and 5xx RETRY; 1xx and 3xx (redirects are never followed) and other 4xx FAILED;
 *   WebPush: 404 and 410 GONE;
 *   APNs: 410 GONE; 400 with reason BadDeviceToken, and any 4xx with reason
 *     Unregistered, GONE; 403 with reason ExpiredProviderToken or InvalidProviderToken
 *     AUTH;
 *   FCM: 404 GONE; a 4xx with UNREGISTERED as error.status or as an errorCode in
 *     error.details GONE; 401 AUTH.
 * A 5xx is RETRY whatever its body says.
 * *retry_in (may be NULL) is set for RETRY only, else 0: the delay that retry_after (the
 * Retry-After header: delay-seconds, or an HTTP-date compared with now) asks for, at
 * most PUSH_RETRY_AFTER_MAX; 0 when there is none or it does not parse. */
push_result push_classify(push_provider provider, int http_status, const char *body,
                          const char *retry_after, apr_time_t now,
                          apr_interval_time_t *retry_in);

/* The provider's reason for an error answer, for the log: APNs "reason", FCM
 * error.details[].errorCode or else error.status, OAuth "error"; NULL when none. */
const char *push_error_reason(apr_pool_t *p, push_provider provider, const char *body);

#endif
