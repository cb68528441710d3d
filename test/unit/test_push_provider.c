/* push_provider: requests for WebPush, APNs and FCM, the Google OAuth exchange, the
 * endpoint and address checks, the classification of answers; and push_send where it
 * needs no server (refused connections, the address policy, unsafe headers). */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "unit.h"
#include "push_provider.h"
#include "push_send.h"

#define NOW apr_time_from_sec(1700000000)
#define UA_PUBLIC "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define UA_AUTH "BTBZMqHH6r4Tts7J_aSIgg"
#define DEVICE "8a4f1c0e5b2d9f7a3c6e1b0d4f8a2c5e7b9d1f3a5c7e9b0d2f4a6c8e0b1d3f5a"

static EVP_PKEY *rsa2048;    /* made once in main(), read-only after */

static push_notification notification(void)
{
    push_notification n;

    memset(&n, 0, sizeof(n));
    n.event = "message";
    n.conversation = "conv-42";
    n.badge = 3;
    n.ttl = 60;
    n.urgency = PUSH_URGENCY_HIGH;
    return n;
}

static const char *hdr(const push_http_request *r, const char *name)
{
    return apr_table_get(r->headers, name);
}

static const char *body_str(const push_http_request *r)
{
    return apr_pstrmemdup(pool, (const char *)r->body, r->body_len);
}

static push_key *vapid_key(void)
{
    push_key *k = NULL;

    ck_assert_int_eq(push_key_generate_p256(pool, &k), APR_SUCCESS);
    return k;
}

static push_key *rsa_key(void)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *mem = NULL;
    long n;
    push_key *k = NULL;

    ck_assert(PEM_write_bio_PrivateKey(bio, rsa2048, NULL, NULL, 0, NULL, NULL));
    n = BIO_get_mem_data(bio, &mem);
    ck_assert_int_eq(push_key_from_pem(pool, mem, (apr_size_t)n, &k, NULL), APR_SUCCESS);
    BIO_free(bio);
    return k;
}

static apr_array_header_t *list(const char *a, const char *b, const char *c)
{
    apr_array_header_t *l = apr_array_make(pool, 3, sizeof(const char *));

    if (a) APR_ARRAY_PUSH(l, const char *) = a;
    if (b) APR_ARRAY_PUSH(l, const char *) = b;
    if (c) APR_ARRAY_PUSH(l, const char *) = c;
    return l;
}

/* ---- the notification ----------------------------------------------------------------- */

START_TEST(notification_payload)
{
    push_notification n = notification();
    apr_table_t *data = apr_table_make(pool, 2);
    apr_size_t len = 0;
    const char *why = NULL;

    ck_assert_str_eq(push_notification_json(pool, &n, &len),
                     "{\"event\":\"message\",\"conversation\":\"conv-42\",\"badge\":3}");
    ck_assert_uint_eq(len, strlen("{\"event\":\"message\",\"conversation\":\"conv-42\",\"badge\":3}"));
    n.title = "Alice";
    n.body = "Lunch? \xc3\xa9";
    n.badge = -1;
    n.conversation = NULL;
    apr_table_set(data, "sender", "sip:alice@contoso.test");
    n.data = data;
    ck_assert_str_eq(push_notification_json(pool, &n, NULL),
                     "{\"event\":\"message\",\"title\":\"Alice\",\"body\":\"Lunch? \xc3\xa9\","
                     "\"data\":{\"sender\":\"sip:alice@contoso.test\"}}");

    /* what is refused */
    n = notification();
    n.event = "Message";
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n.event = "";
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n.event = unit_repeat("a", 33);
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n.event = unit_repeat("a", 32);
    ck_assert_int_eq(push_notification_check(&n, &why), APR_SUCCESS);
    n.ttl = -1;
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n.ttl = PUSH_TTL_MAX + 1;
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n.ttl = PUSH_TTL_MAX;
    ck_assert_int_eq(push_notification_check(&n, &why), APR_SUCCESS);
    n.urgency = (push_urgency)7;
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n = notification();
    n.title = "\xff\xfe";
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    n = notification();
    data = apr_table_make(pool, 1);
    apr_table_set(data, "google.foo", "x");
    n.data = data;
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    apr_table_clear(data);
    apr_table_set(data, "badge", "x");
    ck_assert_int_eq(push_notification_check(&n, &why), APR_EINVAL);
    ck_assert_int_eq(push_notification_check(NULL, &why), APR_EINVAL);
}
END_TEST

START_TEST(collapse_keys)
{
    const char *k64 = unit_repeat("c", 64), *k65 = unit_repeat("c", 65), *h;

    ck_assert_str_eq(push_collapse_key(pool, "conv-42", 64, 0), "conv-42");
    ck_assert_str_eq(push_collapse_key(pool, k64, 64, 0), k64);
    /* longer than the header allows: a digest, never a cut */
    h = push_collapse_key(pool, k65, 64, 0);
    ck_assert_uint_eq(strlen(h), 43);
    ck_assert(strncmp(h, k65, 10) != 0);
    ck_assert_str_ne(h, push_collapse_key(pool, apr_pstrcat(pool, k64, "d", NULL), 64, 0));
    ck_assert_str_eq(h, push_collapse_key(pool, k65, 64, 0));
    /* a space or a non-ASCII character is no header value either */
    ck_assert_uint_eq(strlen(push_collapse_key(pool, "a b", 64, 0)), 43);
    ck_assert_uint_eq(strlen(push_collapse_key(pool, "caf\xc3\xa9", 64, 0)), 43);
    ck_assert_uint_eq(strlen(push_collapse_key(pool, "a\r\nX-Evil: 1", 64, 0)), 43);
    /* WebPush Topic: base64url, 32 at most */
    ck_assert_str_eq(push_collapse_key(pool, "conv-42_A", 32, 1), "conv-42_A");
    ck_assert_uint_eq(strlen(push_collapse_key(pool, "conv:42", 32, 1)), 32);
    ck_assert_uint_eq(strlen(push_collapse_key(pool, unit_repeat("a", 33), 32, 1)), 32);
    ck_assert_ptr_null(push_collapse_key(pool, "", 32, 1));
    ck_assert_ptr_null(push_collapse_key(pool, NULL, 32, 1));
}
END_TEST

/* ---- WebPush ---------------------------------------------------------------------------- */

START_TEST(webpush_request)
{
    push_webpush_config cfg = { vapid_key(), "mailto:ops@contoso.test", 0, NULL };
    push_webpush_subscription sub = { "https://updates.push.example.net/wpush/v2/gAAAAB", UA_PUBLIC,
                                      UA_AUTH };
    push_notification n = notification();
    push_http_request *r = NULL;
    const char *why = NULL, *auth;
    apr_size_t plen = 0;

    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->url, sub.endpoint);
    ck_assert(!r->http2_required);
    ck_assert_str_eq(hdr(r, "TTL"), "60");
    ck_assert_str_eq(hdr(r, "Urgency"), "high");
    ck_assert_str_eq(hdr(r, "Topic"), "conv-42");
    ck_assert_str_eq(hdr(r, "Content-Encoding"), "aes128gcm");
    ck_assert_str_eq(hdr(r, "Content-Type"), "application/octet-stream");
    auth = hdr(r, "Authorization");
    ck_assert(!strncmp(auth, "vapid t=", 8));
    ck_assert_str_eq(strstr(auth, ", k=") + 4,
                     push_b64url_encode(pool, push_key_p256_public(cfg.vapid_key), 65));
    ck_assert_int_eq(apr_table_elts(r->headers)->nelts, 6);
    /* the body: header with rs 4096 and the ephemeral key, then payload + 0x02 + tag */
    push_notification_json(pool, &n, &plen);
    ck_assert_uint_eq(r->body_len, 86 + plen + 1 + 16);
    ck_assert(r->body[16] == 0 && r->body[17] == 0 && r->body[18] == 0x10 && r->body[19] == 0);
    ck_assert_int_eq(r->body[20], 65);
    ck_assert_int_eq(r->body[21], 0x04);

    /* urgency names, no Topic without a conversation, a hashed Topic for an odd one */
    n.urgency = PUSH_URGENCY_VERY_LOW;
    n.conversation = NULL;
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(hdr(r, "Urgency"), "very-low");
    ck_assert_ptr_null(hdr(r, "Topic"));
    n.conversation = "sip:alice@contoso.test;conv=1";
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_uint_eq(strlen(hdr(r, "Topic")), 32);
}
END_TEST

START_TEST(webpush_refusals)
{
    push_endpoint_policy lo = { 1, list("localhost", NULL, NULL) };
    push_webpush_config cfg = { vapid_key(), "mailto:ops@contoso.test", 0, NULL };
    push_webpush_subscription sub = { "https://push.example.net/x", UA_PUBLIC, UA_AUTH };
    push_notification n = notification();
    push_http_request *r = NULL;
    const char *why = NULL;
    unsigned char pt[65];
    apr_size_t len;

    /* the endpoint goes through the policy */
    sub.endpoint = "http://localhost:8090/notify/ab";
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_str_eq(why, "the endpoint is not https");
    cfg.policy = &lo;
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_SUCCESS);
    /* keys */
    memcpy(pt, push_b64url_decode(pool, UA_PUBLIC, &len), 65);
    pt[64] ^= 1;
    sub.p256dh = push_b64url_encode(pool, pt, 65);
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_str_eq(why, "p256dh is not a base64url uncompressed P-256 point");
    sub.p256dh = "not base64!";
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_EINVAL);
    sub.p256dh = UA_PUBLIC;
    sub.auth = "BTBZMqHH6r4Tts7J_aSI";
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_str_eq(why, "auth is not 16 bytes of base64url");
    sub.auth = UA_AUTH;
    /* too much text */
    n.body = unit_repeat("x", 4000);
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_ENOSPC);
    n.body = NULL;
    /* config */
    cfg.vapid_subject = "ops@contoso.test";
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_EINVAL);
    cfg.vapid_subject = "mailto:ops@contoso.test";
    cfg.vapid_key = rsa_key();
    ck_assert_int_eq(push_webpush_request(pool, &cfg, &sub, &n, NOW, &r, &why), APR_EINVAL);
}
END_TEST

/* ---- endpoints and addresses ------------------------------------------------------------ */

START_TEST(endpoint_check)
{
    static const struct { const char *url; int ok; } open_web[] = {
        { "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b", 1 },
        { "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABl", 1 },
        { "https://web.push.apple.com/QGq3", 1 },
        { "https://ntfy.example.org:8443/upAbc?up=1", 1 },
        { "https://93.184.216.34/push", 1 },
        { "https://[2606:4700::1111]/push", 1 },
        { "http://push.example.net/x", 0 },           /* http without allow_http */
        { "ftp://push.example.net/x", 0 },
        { "https://user@push.example.net/x", 0 },
        { "https://user:pw@push.example.net/x", 0 },
        { "https://push.example.net/x#frag", 0 },
        { "https://push.example.net:0/x", 0 },
        { "https://push.example.net:65536/x", 0 },
        { "https://push.example.net:65979/x", 0 },
        { "https://127.0.0.1/x", 0 },
        { "https://127.8.9.10:8443/x", 0 },
        { "https://10.1.2.3/x", 0 },
        { "https://172.16.0.1/x", 0 },
        { "https://172.31.255.255/x", 0 },
        { "https://192.168.1.1/x", 0 },
        { "https://169.254.169.254/latest/meta-data", 0 },
        { "https://100.64.0.1/x", 0 },
        { "https://0.0.0.0/x", 0 },
        { "https://224.0.0.1/x", 0 },
        { "https://255.255.255.255/x", 0 },
        { "https://[::1]/x", 0 },
        { "https://[::]/x", 0 },
        { "https://[fe80::1]/x", 0 },
        { "https://[fd12:3456::1]/x", 0 },
        { "https://[::ffff:127.0.0.1]/x", 0 },
        { "https://[::ffff:10.0.0.1]/x", 0 },
        { "https://[64:ff9b::a00:1]/x", 0 },          /* NAT64 of 10.0.0.1 */
        { "https://[fe80::1%25eth0]/x", 0 },
        { "https://2130706433/x", 0 },                /* 127.0.0.1 as one number */
        { "https://0x7f000001/x", 0 },
        { "https://127.1/x", 0 },
        { "https://0177.0.0.1/x", 0 },
        { "https://localhost/x", 0 },
        { "https://LocalHost./x", 0 },
        { "https://push.localhost/x", 0 },
        { "https://exa mple.net/x", 0 },
        { "https://ex%61mple.net/x", 0 },
        { "https://example.net\r\nX: y/x", 0 },
        { "https:///x", 0 },
        { "/relative", 0 },
        { "", 0 },
        { "https://172.15.255.255/x", 1 },            /* just outside 172.16/12 */
        { "https://172.32.0.1/x", 1 },
        { "https://a-b.example/x", 1 },
    };
    push_endpoint_policy strict = { 0, NULL };
    push_endpoint_policy lab = { 1, list("127.0.0.0/8", "localhost", "fd00::/8") };
    const char *why = NULL;
    size_t i;

    for (i = 0; i < sizeof(open_web) / sizeof(open_web[0]); i++) {
        apr_status_t rv = push_endpoint_check(pool, open_web[i].url, &strict, &why);
        ck_assert_msg((rv == APR_SUCCESS) == open_web[i].ok, "%s: %s", open_web[i].url,
                      rv == APR_SUCCESS ? "accepted" : why);
        /* a NULL policy is the same */
        ck_assert((push_endpoint_check(pool, open_web[i].url, NULL, &why) == APR_SUCCESS)
                  == open_web[i].ok);
    }
    /* the length limit */
    ck_assert_int_eq(push_endpoint_check(pool, apr_pstrcat(pool, "https://e.example/",
                                         unit_repeat("a", 1000 - 18), NULL), &strict, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(push_endpoint_check(pool, apr_pstrcat(pool, "https://e.example/",
                                         unit_repeat("a", 1000 - 17), NULL), &strict, &why),
                     APR_EINVAL);
    ck_assert_str_eq(why, "the endpoint is longer than 1000 bytes");

    /* what an allow list opens, and only that */
    ck_assert_int_eq(push_endpoint_check(pool, "http://localhost:8090/notify/a", &lab, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(push_endpoint_check(pool, "http://127.0.0.1:8090/n", &lab, &why), APR_SUCCESS);
    ck_assert_int_eq(push_endpoint_check(pool, "https://127.200.0.1/n", &lab, &why), APR_SUCCESS);
    ck_assert_int_eq(push_endpoint_check(pool, "https://[::ffff:127.0.0.1]/n", &lab, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(push_endpoint_check(pool, "https://[fd00::5]/n", &lab, &why), APR_SUCCESS);
    ck_assert_int_eq(push_endpoint_check(pool, "https://[fe80::5]/n", &lab, &why), APR_EINVAL);
    ck_assert_int_eq(push_endpoint_check(pool, "https://10.0.0.1/n", &lab, &why), APR_EINVAL);
    ck_assert_int_eq(push_endpoint_check(pool, "https://push.localhost/n", &lab, &why), APR_EINVAL);
    ck_assert_int_eq(push_endpoint_check(pool, "https://[::1]/n", &lab, &why), APR_EINVAL);
    ck_assert_int_eq(push_endpoint_check(pool, "https://2130706433/n", &lab, &why), APR_EINVAL);
    ck_assert_int_eq(push_endpoint_check(pool, "ftp://localhost/n", &lab, &why), APR_EINVAL);

    ck_assert(push_allow_entry_valid("10.0.0.0/8"));
    ck_assert(push_allow_entry_valid("127.0.0.1"));
    ck_assert(push_allow_entry_valid("fd00::/8"));
    ck_assert(push_allow_entry_valid("::1"));
    ck_assert(push_allow_entry_valid("push.internal.example"));
    ck_assert(!push_allow_entry_valid("10.0.0.0/33"));
    ck_assert(!push_allow_entry_valid("fd00::/129"));
    ck_assert(!push_allow_entry_valid("10.0.0.0/"));
    ck_assert(!push_allow_entry_valid("10.0.0.0/-1"));
    ck_assert(!push_allow_entry_valid("host/8"));
    ck_assert(!push_allow_entry_valid(""));
    ck_assert(!push_allow_entry_valid("bad host"));
}
END_TEST

START_TEST(address_policy)
{
    push_endpoint_policy lab = { 0, list("127.0.0.1", "10.1.0.0/16", "fd00::/8") };
    unsigned char a4[4], a6[16];

#define V4(s) (inet_pton(AF_INET, s, a4) == 1 ? a4 : NULL)
#define V6(s) (inet_pton(AF_INET6, s, a6) == 1 ? a6 : NULL)
    ck_assert(push_address_allowed(NULL, AF_INET, V4("93.184.216.34")));
    ck_assert(!push_address_allowed(NULL, AF_INET, V4("127.0.0.1")));
    ck_assert(!push_address_allowed(NULL, AF_INET, V4("192.168.0.10")));
    ck_assert(push_address_allowed(&lab, AF_INET, V4("127.0.0.1")));
    ck_assert(!push_address_allowed(&lab, AF_INET, V4("127.0.0.2")));
    ck_assert(push_address_allowed(&lab, AF_INET, V4("10.1.200.3")));
    ck_assert(!push_address_allowed(&lab, AF_INET, V4("10.2.0.1")));
    ck_assert(push_address_allowed(NULL, AF_INET6, V6("2606:4700::1111")));
    ck_assert(!push_address_allowed(NULL, AF_INET6, V6("::1")));
    ck_assert(!push_address_allowed(NULL, AF_INET6, V6("::ffff:127.0.0.1")));
    ck_assert(push_address_allowed(&lab, AF_INET6, V6("::ffff:127.0.0.1")));
    ck_assert(push_address_allowed(NULL, AF_INET6, V6("::ffff:93.184.216.34")));
    ck_assert(!push_address_allowed(NULL, AF_INET6, V6("2002:c0a8:0101::1")));   /* 6to4 of 192.168.1.1 */
    ck_assert(push_address_allowed(&lab, AF_INET6, V6("fd00::1")));
    ck_assert(!push_address_allowed(&lab, AF_INET6, V6("fc00::1")));
    ck_assert(!push_address_allowed(NULL, AF_UNIX, V4("93.184.216.34")));
    ck_assert(!push_address_allowed(NULL, AF_INET, NULL));
#undef V4
#undef V6
}
END_TEST

/* ---- APNs ------------------------------------------------------------------------------- */

START_TEST(apns_request)
{
    push_apns_config cfg = { PUSH_APNS_HOST, "com.contoso.mobility", "eyJ.prov.token" };
    push_notification n = notification();
    push_http_request *r = NULL;
    const char *why = NULL;

    n.title = "Alice";
    n.body = "Lunch?";
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->url, "https://api.push.apple.com/3/device/" DEVICE);
    ck_assert(r->http2_required);
    ck_assert_str_eq(hdr(r, "authorization"), "bearer eyJ.prov.token");
    ck_assert_str_eq(hdr(r, "apns-topic"), "com.contoso.mobility");
    ck_assert_str_eq(hdr(r, "apns-push-type"), "alert");
    ck_assert_str_eq(hdr(r, "apns-priority"), "10");
    ck_assert_str_eq(hdr(r, "apns-expiration"), "1700000060");
    ck_assert_str_eq(hdr(r, "apns-collapse-id"), "conv-42");
    ck_assert_str_eq(hdr(r, "content-type"), "application/json");
    ck_assert_str_eq(body_str(r),
                     "{\"aps\":{\"alert\":{\"title\":\"Alice\",\"body\":\"Lunch?\"},\"badge\":3,"
                     "\"sound\":\"default\"},\"event\":\"message\",\"conversation\":\"conv-42\"}");

    /* no customer data: a localisation key; low urgency: priority 5 and no sound; no
     * badge; ttl 0; an upper-case token goes lower-case; custom data pairs */
    n = notification();
    n.urgency = PUSH_URGENCY_LOW;
    n.badge = -1;
    n.ttl = 0;
    n.event = "missed";
    n.data = apr_table_make(pool, 1);
    apr_table_set((apr_table_t *)n.data, "kind", "audio");
    cfg.host = "127.0.0.1:8443";
    ck_assert_int_eq(push_apns_request(pool, &cfg, "ABCDEF0123456789", &n, NOW, &r, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(r->url, "https://127.0.0.1:8443/3/device/abcdef0123456789");
    ck_assert_str_eq(hdr(r, "apns-priority"), "5");
    ck_assert_str_eq(hdr(r, "apns-expiration"), "0");
    ck_assert_str_eq(body_str(r),
                     "{\"aps\":{\"alert\":{\"loc-key\":\"push.missed\"}},\"event\":\"missed\","
                     "\"conversation\":\"conv-42\",\"kind\":\"audio\"}");

    /* background */
    n = notification();
    n.background = 1;
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(hdr(r, "apns-push-type"), "background");
    ck_assert_str_eq(hdr(r, "apns-priority"), "5");
    ck_assert_str_eq(body_str(r),
                     "{\"aps\":{\"content-available\":1},\"badge\":3,\"event\":\"message\","
                     "\"conversation\":\"conv-42\"}");
}
END_TEST

START_TEST(apns_limits)
{
    push_apns_config cfg = { PUSH_APNS_HOST_SANDBOX, "com.contoso.mobility", "tok" };
    push_notification n = notification();
    push_http_request *r = NULL;
    const char *why = NULL, *c64 = unit_repeat("k", 64), *c65 = unit_repeat("k", 65);
    apr_size_t fixed;

    /* collapse id: 64 bytes as is, 65 hashed down to 43 */
    n.conversation = c64;
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(hdr(r, "apns-collapse-id"), c64);
    n.conversation = c65;
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_uint_eq(strlen(hdr(r, "apns-collapse-id")), 43);
    ck_assert_uint_le(strlen(hdr(r, "apns-collapse-id")), PUSH_COLLAPSE_MAX);
    /* but the payload carries the conversation as it is */
    ck_assert(strstr(body_str(r), c65) != NULL);

    /* the payload: 4096 bytes pass, 4097 do not */
    n = notification();
    n.body = "";
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_SUCCESS);
    fixed = r->body_len;
    n.body = unit_repeat("b", (int)(4096 - fixed));
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_SUCCESS);
    ck_assert_uint_eq(r->body_len, 4096);
    n.body = unit_repeat("b", (int)(4097 - fixed));
    r = NULL;
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_ENOSPC);
    ck_assert_str_eq(why, "the APNs payload is larger than 4096 bytes");
    ck_assert_ptr_null(r);

    /* device tokens and configuration */
    n = notification();
    ck_assert_int_eq(push_apns_request(pool, &cfg, "abc", &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_int_eq(push_apns_request(pool, &cfg, "abcdefg0", &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_int_eq(push_apns_request(pool, &cfg, "abcdef012", &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_int_eq(push_apns_request(pool, &cfg, "../../x", &n, NOW, &r, &why), APR_EINVAL);
    ck_assert_int_eq(push_apns_request(pool, &cfg, unit_repeat("ab", 101), &n, NOW, &r, &why),
                     APR_EINVAL);
    ck_assert_int_eq(push_apns_request(pool, &cfg, unit_repeat("ab", 100), &n, NOW, &r, &why),
                     APR_SUCCESS);
    cfg.topic = NULL;
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_EINVAL);
    cfg.topic = "com.contoso.mobility";
    cfg.host = "api.push.apple.com/evil";
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_EINVAL);
    cfg.host = PUSH_APNS_HOST;
    cfg.provider_token = "a b";
    ck_assert_int_eq(push_apns_request(pool, &cfg, DEVICE, &n, NOW, &r, &why), APR_EINVAL);
}
END_TEST

/* ---- FCM -------------------------------------------------------------------------------- */

START_TEST(fcm_request)
{
    push_fcm_config cfg = { PUSH_FCM_BASE_URL, "contoso-mobility", "ya29.abc" };
    push_notification n = notification();
    push_http_request *r = NULL;
    const char *why = NULL;

    n.title = "Alice";
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "dXYZ:APA91b-_x", &n, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->url,
                     "https://fcm.googleapis.com/v1/projects/contoso-mobility/messages:send");
    ck_assert_str_eq(hdr(r, "Authorization"), "Bearer ya29.abc");
    ck_assert_str_eq(hdr(r, "Content-Type"), "application/json");
    ck_assert(!r->http2_required);
    ck_assert_str_eq(body_str(r),
                     "{\"message\":{\"token\":\"dXYZ:APA91b-_x\",\"data\":{\"event\":\"message\","
                     "\"conversation\":\"conv-42\",\"badge\":\"3\",\"title\":\"Alice\"},"
                     "\"android\":{\"collapse_key\":\"conv-42\",\"priority\":\"high\","
                     "\"ttl\":\"60s\"}}}");

    /* a trailing slash on the base, low urgency, no conversation, no badge */
    cfg.base_url = "http://127.0.0.1:9000/";
    n = notification();
    n.urgency = PUSH_URGENCY_LOW;
    n.conversation = NULL;
    n.badge = -1;
    n.ttl = 0;
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_SUCCESS);
    ck_assert_str_eq(r->url, "http://127.0.0.1:9000/v1/projects/contoso-mobility/messages:send");
    ck_assert_str_eq(body_str(r),
                     "{\"message\":{\"token\":\"tok\",\"data\":{\"event\":\"message\"},"
                     "\"android\":{\"priority\":\"normal\",\"ttl\":\"0s\"}}}");
    /* background is normal priority whatever the urgency */
    n = notification();
    n.background = 1;
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_SUCCESS);
    ck_assert(strstr(body_str(r), "\"priority\":\"normal\""));
}
END_TEST

START_TEST(fcm_limits)
{
    push_fcm_config cfg = { PUSH_FCM_BASE_URL, "contoso-mobility", "ya29.abc" };
    push_notification n = notification();
    push_http_request *r = NULL;
    const char *why = NULL;
    /* data: event(5+7) conversation(12+7) badge(5+1) = 37 bytes, then the body */
    int room = 4096 - 37 - 4;

    n.body = unit_repeat("b", room);
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_SUCCESS);
    n.body = unit_repeat("b", room + 1);
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_ENOSPC);
    ck_assert_str_eq(why, "the FCM data is larger than 4096 bytes");
    n = notification();
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "t o k", &n, &r, &why), APR_EINVAL);
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "t\"k", &n, &r, &why), APR_EINVAL);
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "", &n, &r, &why), APR_EINVAL);
    cfg.project_id = "a/b";
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_EINVAL);
    cfg.project_id = "p";
    cfg.base_url = "fcm.googleapis.com";
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_EINVAL);
    cfg.base_url = PUSH_FCM_BASE_URL;
    cfg.access_token = NULL;
    ck_assert_int_eq(push_fcm_request(pool, &cfg, "tok", &n, &r, &why), APR_EINVAL);
}
END_TEST

/* ---- Google OAuth ----------------------------------------------------------------------- */

static const char *service_account_json(const char *type, const char *extra)
{
    return apr_psprintf(pool,
        "{\"type\":\"%s\",\"project_id\":\"contoso-mobility\",\"private_key_id\":\"k1\","
        "\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n\","
        "\"client_email\":\"push@contoso-mobility.iam.gserviceaccount.com\","
        "\"client_id\":\"1234\",\"token_uri\":\"https://oauth2.googleapis.com/token\"%s}",
        type, extra);
}

START_TEST(service_account)
{
    push_service_account sa;
    const char *why = NULL, *j = service_account_json("service_account", "");
    static const char *bad[] = {
        "[]", "{", "", "{\"type\":\"service_account\"}",
        "{\"type\":\"service_account\",\"type\":\"x\"}",
    };
    size_t i;

    ck_assert_int_eq(push_service_account_parse(pool, j, strlen(j), &sa, &why), APR_SUCCESS);
    ck_assert_str_eq(sa.type, "service_account");
    ck_assert_str_eq(sa.project_id, "contoso-mobility");
    ck_assert_str_eq(sa.private_key_id, "k1");
    ck_assert_str_eq(sa.private_key,
                     "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
    ck_assert_str_eq(sa.client_email, "push@contoso-mobility.iam.gserviceaccount.com");
    ck_assert_str_eq(sa.token_uri, "https://oauth2.googleapis.com/token");

    j = service_account_json("authorized_user", "");
    ck_assert_int_eq(push_service_account_parse(pool, j, strlen(j), &sa, &why), APR_EINVAL);
    ck_assert_str_eq(why, "type is not \"service_account\"");
    j = service_account_json("service_account", ",\"token_uri\":\"x\"");
    ck_assert_int_eq(push_service_account_parse(pool, j, strlen(j), &sa, &why), APR_EINVAL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(push_service_account_parse(pool, bad[i], strlen(bad[i]), &sa, &why),
                         APR_EINVAL);
    }
    j = apr_pstrcat(pool, "{\"pad\":\"", unit_repeat("x", PUSH_SERVICE_ACCOUNT_MAX), "\"}", NULL);
    ck_assert_int_eq(push_service_account_parse(pool, j, strlen(j), &sa, &why), APR_EINVAL);
}
END_TEST

START_TEST(token_request)
{
    push_service_account sa = { "service_account", "p", "(pem)", "kid-7", "a@p.iam.example",
                                "https://oauth2.googleapis.com/token" };
    push_http_request *r = NULL;
    const char *b, *jwt, *d1;
    apr_size_t n;
    json_t *claims;

    ck_assert_int_eq(push_google_token_request(pool, &sa, rsa_key(), NOW, &r), APR_SUCCESS);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->url, "https://oauth2.googleapis.com/token");
    ck_assert_str_eq(hdr(r, "Content-Type"), "application/x-www-form-urlencoded");
    b = body_str(r);
    ck_assert(!strncmp(b, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                          "&assertion=", 75));
    jwt = b + 75;
    ck_assert_uint_eq(strspn(jwt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_."), strlen(jwt));
    d1 = strchr(jwt, '.');
    claims = json_loads((char *)push_b64url_decode(pool, apr_pstrndup(pool, d1 + 1,
                                                   strchr(d1 + 1, '.') - d1 - 1), &n), 0, NULL);
    ck_assert_ptr_nonnull(claims);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "aud")), sa.token_uri);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")), "a@p.iam.example");
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "exp")), 1700003600);
    json_decref(claims);
    /* an EC key cannot sign it */
    {
        push_key *ec = NULL;
        ck_assert_int_eq(push_key_generate_p256(pool, &ec), APR_SUCCESS);
        ck_assert_int_eq(push_google_token_request(pool, &sa, ec, NOW, &r), APR_EINVAL);
    }
}
END_TEST

START_TEST(token_answer)
{
    push_oauth_token t;
    const char *why = NULL;
    static const struct { const char *body, *why; } bad[] = {
        { "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT\"}",
          "token endpoint error: invalid_grant" },
        { "{\"access_token\":\"ya29.x\"}", "expires_in is missing or not an integer of 1..86400" },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":\"3600\"}", NULL },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":0}", NULL },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":86401}", NULL },
        { "{\"access_token\":\"ya 29\",\"expires_in\":3600}", NULL },
        { "{\"access_token\":\"\",\"expires_in\":3600}", NULL },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":3600,\"token_type\":\"mac\"}",
          "token_type is not Bearer" },
        { "{\"expires_in\":3600}", NULL },
        { "not json", "the token answer is not a JSON object" },
        { "[1]", NULL },
    };
    const char *ok = "{\"access_token\":\"ya29.c.b0Aaek\",\"expires_in\":3599,"
                     "\"token_type\":\"Bearer\"}";
    size_t i;

    ck_assert_int_eq(push_google_token_parse(pool, ok, strlen(ok), NOW, &t, &why), APR_SUCCESS);
    ck_assert_str_eq(t.access_token, "ya29.c.b0Aaek");
    ck_assert_str_eq(t.token_type, "Bearer");
    ck_assert(t.expires_in == apr_time_from_sec(3599));
    ck_assert(t.expires == NOW + apr_time_from_sec(3599));
    ok = "{\"access_token\":\"t\",\"expires_in\":1,\"token_type\":\"bearer\"}";
    ck_assert_int_eq(push_google_token_parse(pool, ok, strlen(ok), NOW, &t, &why), APR_SUCCESS);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(push_google_token_parse(pool, bad[i].body, strlen(bad[i].body), NOW, &t,
                                              &why) == APR_EINVAL, "accepted %s", bad[i].body);
        ck_assert_ptr_nonnull(why);
        if (bad[i].why) {
            ck_assert_str_eq(why, bad[i].why);
        }
    }
    ck_assert_int_eq(push_google_token_parse(pool, "", 0, NOW, &t, &why), APR_EINVAL);
}
END_TEST

/* ---- answers ---------------------------------------------------------------------------- */

START_TEST(classify_table)
{
    static const struct {
        push_provider p;
        int status;
        const char *body;
        push_result want;
    } rows[] = {
        { PUSH_PROVIDER_WEBPUSH, 201, "", PUSH_OK },
        { PUSH_PROVIDER_WEBPUSH, 200, NULL, PUSH_OK },
        { PUSH_PROVIDER_WEBPUSH, 202, NULL, PUSH_OK },
        { PUSH_PROVIDER_WEBPUSH, 404, NULL, PUSH_GONE },
        { PUSH_PROVIDER_WEBPUSH, 410, "{\"reason\":\"expired\"}", PUSH_GONE },
        { PUSH_PROVIDER_WEBPUSH, 400, "{\"error\":{\"message\":\"Invalid Crypto-Key header sent\"}}",
          PUSH_FAILED },
        { PUSH_PROVIDER_WEBPUSH, 401, NULL, PUSH_FAILED },
        { PUSH_PROVIDER_WEBPUSH, 403, NULL, PUSH_FAILED },
        { PUSH_PROVIDER_WEBPUSH, 413, NULL, PUSH_FAILED },
        { PUSH_PROVIDER_WEBPUSH, 429, NULL, PUSH_RETRY },
        { PUSH_PROVIDER_WEBPUSH, 500, NULL, PUSH_RETRY },
        { PUSH_PROVIDER_WEBPUSH, 503, NULL, PUSH_RETRY },
        { PUSH_PROVIDER_WEBPUSH, 408, NULL, PUSH_RETRY },
        { PUSH_PROVIDER_WEBPUSH, 0, NULL, PUSH_RETRY },
        { PUSH_PROVIDER_WEBPUSH, 301, NULL, PUSH_FAILED },
        { PUSH_PROVIDER_WEBPUSH, 100, NULL, PUSH_FAILED },

        { PUSH_PROVIDER_APNS, 200, "", PUSH_OK },
        { PUSH_PROVIDER_APNS, 410, "{\"reason\":\"Unregistered\",\"timestamp\":1700000000000}",
          PUSH_GONE },
        { PUSH_PROVIDER_APNS, 410, "{\"reason\":\"ExpiredToken\"}", PUSH_GONE },
        { PUSH_PROVIDER_APNS, 400, "{\"reason\":\"BadDeviceToken\"}", PUSH_GONE },
        { PUSH_PROVIDER_APNS, 400, "{\"reason\":\"BadCollapseId\"}", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 400, "{\"reason\":\"MissingTopic\"}", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 400, "{\"reason\":\"DeviceTokenNotForTopic\"}", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 400, "not json", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 403, "{\"reason\":\"ExpiredProviderToken\"}", PUSH_AUTH },
        { PUSH_PROVIDER_APNS, 403, "{\"reason\":\"InvalidProviderToken\"}", PUSH_AUTH },
        { PUSH_PROVIDER_APNS, 403, "{\"reason\":\"BadCertificate\"}", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 403, NULL, PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 413, "{\"reason\":\"PayloadTooLarge\"}", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 429, "{\"reason\":\"TooManyProviderTokenUpdates\"}", PUSH_RETRY },
        { PUSH_PROVIDER_APNS, 429, "{\"reason\":\"TooManyRequests\"}", PUSH_RETRY },
        { PUSH_PROVIDER_APNS, 500, "{\"reason\":\"InternalServerError\"}", PUSH_RETRY },
        { PUSH_PROVIDER_APNS, 503, "{\"reason\":\"ServiceUnavailable\"}", PUSH_RETRY },
        { PUSH_PROVIDER_APNS, 404, "{\"reason\":\"BadPath\"}", PUSH_FAILED },
        { PUSH_PROVIDER_APNS, 0, NULL, PUSH_RETRY },

        { PUSH_PROVIDER_FCM, 200, "{\"name\":\"projects/p/messages/1\"}", PUSH_OK },
        { PUSH_PROVIDER_FCM, 404, "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"details\":"
          "[{\"@type\":\"type.googleapis.com/google.firebase.fcm.v1.FcmError\","
          "\"errorCode\":\"UNREGISTERED\"}]}}", PUSH_GONE },
        { PUSH_PROVIDER_FCM, 404, NULL, PUSH_GONE },
        { PUSH_PROVIDER_FCM, 400, "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\","
          "\"details\":[{\"errorCode\":\"UNREGISTERED\"}]}}", PUSH_GONE },
        { PUSH_PROVIDER_FCM, 400, "{\"error\":{\"status\":\"UNREGISTERED\"}}", PUSH_GONE },
        { PUSH_PROVIDER_FCM, 400, "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\","
          "\"details\":[{\"errorCode\":\"INVALID_ARGUMENT\"}]}}", PUSH_FAILED },
        { PUSH_PROVIDER_FCM, 401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}",
          PUSH_AUTH },
        { PUSH_PROVIDER_FCM, 403, "{\"error\":{\"status\":\"PERMISSION_DENIED\",\"details\":"
          "[{\"errorCode\":\"SENDER_ID_MISMATCH\"}]}}", PUSH_FAILED },
        { PUSH_PROVIDER_FCM, 429, "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\",\"details\":"
          "[{\"errorCode\":\"QUOTA_EXCEEDED\"}]}}", PUSH_RETRY },
        { PUSH_PROVIDER_FCM, 500, "{\"error\":{\"status\":\"INTERNAL\"}}", PUSH_RETRY },
        { PUSH_PROVIDER_FCM, 503, "{\"error\":{\"status\":\"UNAVAILABLE\"}}", PUSH_RETRY },
        { PUSH_PROVIDER_FCM, 0, NULL, PUSH_RETRY },
        { PUSH_PROVIDER_FCM, 410, NULL, PUSH_FAILED },
        /* a 5xx is a RETRY whatever its body says */
        { PUSH_PROVIDER_FCM, 503, "{\"error\":{\"status\":\"UNREGISTERED\"}}", PUSH_RETRY },
        { PUSH_PROVIDER_APNS, 500, "{\"reason\":\"Unregistered\"}", PUSH_RETRY },
        { PUSH_PROVIDER_APNS, 503, "{\"reason\":\"ExpiredProviderToken\"}", PUSH_RETRY },
    };
    apr_interval_time_t retry_in;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        push_result got = push_classify(rows[i].p, rows[i].status, rows[i].body, NULL, NOW,
                                        &retry_in);
        ck_assert_msg(got == rows[i].want, "%s %d %s: %s, want %s",
                      push_provider_name(rows[i].p), rows[i].status,
                      rows[i].body ? rows[i].body : "-", push_result_name(got),
                      push_result_name(rows[i].want));
        ck_assert(retry_in == 0);
        /* the retry pointer may be NULL */
        ck_assert_int_eq(push_classify(rows[i].p, rows[i].status, rows[i].body, "5", NOW, NULL),
                         rows[i].want);
    }
    ck_assert_str_eq(push_result_name(PUSH_AUTH), "AUTH");
    ck_assert_str_eq(push_error_reason(pool, PUSH_PROVIDER_APNS, "{\"reason\":\"BadDeviceToken\"}"),
                     "BadDeviceToken");
    ck_assert_str_eq(push_error_reason(pool, PUSH_PROVIDER_FCM, rows[36].body), "UNREGISTERED");
    ck_assert_str_eq(push_error_reason(pool, PUSH_PROVIDER_FCM,
                                       "{\"error\":{\"status\":\"UNAUTHENTICATED\"}}"),
                     "UNAUTHENTICATED");
    ck_assert_str_eq(push_error_reason(pool, PUSH_PROVIDER_WEBPUSH, rows[5].body),
                     "Invalid Crypto-Key header sent");
    ck_assert_str_eq(push_error_reason(pool, PUSH_PROVIDER_FCM, "{\"error\":\"invalid_grant\"}"),
                     "invalid_grant");
    ck_assert_ptr_null(push_error_reason(pool, PUSH_PROVIDER_APNS, "garbage"));
    ck_assert_ptr_null(push_error_reason(pool, PUSH_PROVIDER_APNS, NULL));
}
END_TEST

START_TEST(retry_after)
{
    apr_interval_time_t in = -1;
    char date[APR_RFC822_DATE_LEN];

    /* seconds */
    ck_assert_int_eq(push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "120", NOW, &in), PUSH_RETRY);
    ck_assert(in == apr_time_from_sec(120));
    ck_assert_int_eq(push_classify(PUSH_PROVIDER_FCM, 429, NULL, " 7 ", NOW, &in), PUSH_RETRY);
    ck_assert(in == apr_time_from_sec(7));
    ck_assert_int_eq(push_classify(PUSH_PROVIDER_APNS, 503, NULL, "0", NOW, &in), PUSH_RETRY);
    ck_assert(in == 0);
    /* capped at a day */
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "999999", NOW, &in);
    ck_assert(in == PUSH_RETRY_AFTER_MAX);
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "99999999999999999999", NOW, &in);
    ck_assert(in == PUSH_RETRY_AFTER_MAX);
    /* HTTP-date, 90 s after now */
    ck_assert_int_eq(apr_rfc822_date(date, NOW + apr_time_from_sec(90)), APR_SUCCESS);
    ck_assert_int_eq(push_classify(PUSH_PROVIDER_FCM, 503, NULL, date, NOW, &in), PUSH_RETRY);
    ck_assert(in == apr_time_from_sec(90));
    /* the date of the RFC's example, long past: no wait */
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "Fri, 31 Dec 1999 23:59:59 GMT", NOW, &in);
    ck_assert(in == 0);
    /* a date a week ahead: capped */
    ck_assert_int_eq(apr_rfc822_date(date, NOW + apr_time_from_sec(7 * 86400)), APR_SUCCESS);
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, date, NOW, &in);
    ck_assert(in == PUSH_RETRY_AFTER_MAX);
    /* nonsense, negative, absent */
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "soon", NOW, &in);
    ck_assert(in == 0);
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "-5", NOW, &in);
    ck_assert(in == 0);
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, "12abc", NOW, &in);
    ck_assert(in == 0);
    push_classify(PUSH_PROVIDER_WEBPUSH, 429, NULL, NULL, NOW, &in);
    ck_assert(in == 0);
    /* only a RETRY carries a delay */
    push_classify(PUSH_PROVIDER_WEBPUSH, 410, NULL, "120", NOW, &in);
    ck_assert(in == 0);
}
END_TEST

START_TEST(names)
{
    push_provider p;
    push_urgency u;

    ck_assert_int_eq(push_provider_parse("unifiedpush", &p), APR_SUCCESS);
    ck_assert_int_eq(p, PUSH_PROVIDER_WEBPUSH);
    ck_assert_int_eq(push_provider_parse("APNS", &p), APR_SUCCESS);
    ck_assert_int_eq(p, PUSH_PROVIDER_APNS);
    ck_assert_int_eq(push_provider_parse("mpns", &p), APR_EINVAL);
    ck_assert_str_eq(push_provider_name(PUSH_PROVIDER_FCM), "fcm");
    ck_assert_int_eq(push_urgency_parse("very-low", &u), APR_SUCCESS);
    ck_assert_int_eq(u, PUSH_URGENCY_VERY_LOW);
    ck_assert_int_eq(push_urgency_parse("urgent", &u), APR_EINVAL);
    ck_assert_str_eq(push_urgency_name(PUSH_URGENCY_NORMAL), "normal");
    ck_assert_ptr_null(push_urgency_name((push_urgency)9));
}
END_TEST

/* ---- push_send without a server ---------------------------------------------------------- */

/* a loopback port that nothing listens on: bound, then closed */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

START_TEST(send_without_server)
{
    push_send_options opt;
    push_sender *s = NULL;
    push_http_request *r;
    push_response resp;
    push_endpoint_policy policy = { 1, NULL };
    apr_interval_time_t in;

    memset(&opt, 0, sizeof(opt));
    opt.connect_timeout = apr_time_from_sec(2);
    opt.timeout = apr_time_from_sec(5);
    ck_assert_int_eq(push_sender_create(pool, &opt, &s), APR_SUCCESS);
    r = apr_pcalloc(pool, sizeof(*r));
    r->method = "POST";
    r->url = apr_psprintf(pool, "http://127.0.0.1:%d/push", closed_port());
    r->headers = apr_table_make(pool, 1);
    apr_table_set(r->headers, "TTL", "0");
    r->body = (const unsigned char *)"x";
    r->body_len = 1;
    /* refused connection: no status, an error, and the classification retries */
    ck_assert_int_eq(push_send(s, pool, r, &resp), APR_EGENERAL);
    ck_assert_int_eq(resp.status, 0);
    ck_assert_ptr_nonnull(resp.error);
    ck_assert_str_eq(resp.body, "");
    ck_assert(!resp.address_refused);
    ck_assert_int_eq(push_classify(PUSH_PROVIDER_WEBPUSH, resp.status, resp.body,
                                   resp.retry_after, NOW, &in), PUSH_RETRY);

    /* the address policy refuses loopback before connecting */
    opt.address_policy = &policy;
    ck_assert_int_eq(push_sender_create(pool, &opt, &s), APR_SUCCESS);
    ck_assert_int_eq(push_send(s, pool, r, &resp), APR_EGENERAL);
    ck_assert(resp.address_refused);
    ck_assert_str_eq(resp.error, "the address policy refused the server's address");

    /* header injection and other unsendable requests */
    apr_table_set(r->headers, "X-Evil", "a\r\nHost: b");
    ck_assert_int_eq(push_send(s, pool, r, &resp), APR_EINVAL);
    apr_table_unset(r->headers, "X-Evil");
    apr_table_set(r->headers, "Bad:Name", "v");
    ck_assert_int_eq(push_send(s, pool, r, &resp), APR_EINVAL);
    r->url = NULL;
    ck_assert_int_eq(push_send(s, pool, r, &resp), APR_EINVAL);
    /* only http and https */
    apr_table_unset(r->headers, "Bad:Name");
    r->url = "file:///etc/passwd";
    ck_assert_int_eq(push_send(s, pool, r, &resp), APR_EGENERAL);
    ck_assert_int_eq(resp.status, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("push_provider");
    TCase *tc = unit_tcase("push_provider");
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return EXIT_FAILURE;
    }
    rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!rsa2048) {
        return EXIT_FAILURE;
    }
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, notification_payload);
    tcase_add_test(tc, collapse_keys);
    tcase_add_test(tc, webpush_request);
    tcase_add_test(tc, webpush_refusals);
    tcase_add_test(tc, endpoint_check);
    tcase_add_test(tc, address_policy);
    tcase_add_test(tc, apns_request);
    tcase_add_test(tc, apns_limits);
    tcase_add_test(tc, fcm_request);
    tcase_add_test(tc, fcm_limits);
    tcase_add_test(tc, service_account);
    tcase_add_test(tc, token_request);
    tcase_add_test(tc, token_answer);
    tcase_add_test(tc, classify_table);
    tcase_add_test(tc, retry_after);
    tcase_add_test(tc, names);
    tcase_add_test(tc, send_without_server);
    suite_add_tcase(s, tc);
    rc = unit_run("test_push_provider", s);
    EVP_PKEY_free(rsa2048);
    curl_global_cleanup();
    return rc;
}
