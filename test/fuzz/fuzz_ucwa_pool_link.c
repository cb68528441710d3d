/* ucwa_pool_link: messages between pools. The first byte picks what the rest is (mod 3):
 *   0  a message leaving pool A for pool B, then coming back: outgoing at A, incoming at B,
 *      outgoing at B, incoming at A
 *   1  a message arriving at A from B as it came off the wire (incoming only)
 *   2  a signature check: the rest is the body, signed, then verified as sent, with one
 *      byte changed, and out of time
 *
 * Invariants: no crash on any input; incoming refuses (-1) or gives a body that parses as
 * a JSON object with the same "k"; a name ("fe", "by") that incoming accepts is qualified
 * by the sending pool or was the receiving pool's (then unqualified); the round trip
 * A -> B -> A gives the names A started with; a call's description (mode 0: the body's
 * own bytes, as the description its "sdp" names) arrives byte for byte under a fresh key
 * the body then names, and a message whose description did not come names a key all the
 * same (never the sender's) with the reason; the body incoming gives never carries
 * sdpType or sdpData and fits a pool message; a signature verifies exactly the body,
 * names and time it was made for, within the allowed skew. */
#include <apr_strings.h>
#include <jansson.h>

#include "fuzz_util.h"
#include "ucwa_pool_link.h"

static const char A[] = "pool01.contoso.test", B[] = "pool02.contoso.test";

static const char *member_of(apr_pool_t *p, const char *body, apr_size_t len, const char *key)
{
    json_t *m = json_loadb(body, len, 0, NULL);
    const char *v = json_string_value(json_object_get(m, key));
    const char *out = v ? apr_pstrdup(p, v) : NULL;

    json_decref(m);
    return out;
}

static const char *name_of(apr_pool_t *p, const char *body, const char *key)
{
    return member_of(p, body, strlen(body), key);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *body;
    apr_size_t len;
    ucwa_pool_link_in in, back;

    if (size == 0) {
        apr_pool_destroy(p);
        return 0;
    }
    body = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        ucwa_pool_sdp d = { "application/sdp", body, len };
        const char *out = ucwa_pool_link_outgoing(p, body, len, A, len ? &d : NULL), *again;
        const char *sent = member_of(p, body, len, "sdp");
        if (!out || ucwa_pool_link_incoming(p, out, strlen(out), B, A, &in) != 0) {
            break;
        }
        if (in.sdp_key) {
            FUZZ_CHECK(sent && *sent && strcmp(sent, in.sdp_key) != 0);
            FUZZ_CHECK(!strcmp(name_of(p, in.body, "sdp"), in.sdp_key));
            FUZZ_CHECK(in.sdp_bad || (in.sdp.len == len && !memcmp(in.sdp.body, body, len)
                                      && !strcmp(in.sdp.ctype, d.ctype)));
        }
        FUZZ_CHECK(!name_of(p, in.body, "sdpData") && strlen(in.body) <= UCWA_POOL_BODY_MAX);
        again = ucwa_pool_link_outgoing(p, in.body, strlen(in.body), B, NULL);
        FUZZ_CHECK(again != NULL);
        if (ucwa_pool_link_incoming(p, again, strlen(again), A, B, &back) == 0) {
            const char *keys[] = { "fe", "by" };
            int i;
            for (i = 0; i < 2; i++) {
                const char *orig = name_of(p, apr_pstrndup(p, body, len), keys[i]);
                const char *now = name_of(p, back.body, keys[i]);
                if (orig && !strchr(orig, '@')) {
                    FUZZ_CHECK(now && !strcmp(orig, now));
                }
            }
        }
        break;
    }
    case 1:
        if (ucwa_pool_link_incoming(p, body, len, A, B, &in) == 0) {
            const char *keys[] = { "fe", "by" };
            int i;
            FUZZ_CHECK(in.kind && *in.kind && in.body);
            FUZZ_CHECK(!strcmp(name_of(p, in.body, "k"), in.kind));
            FUZZ_CHECK(!name_of(p, in.body, "sdpData") && !name_of(p, in.body, "sdpType"));
            FUZZ_CHECK(!in.sdp.len || (in.sdp_key && !in.sdp_bad && in.sdp.len <= UCWA_SDP_MAX));
            for (i = 0; i < 2; i++) {
                const char *v = name_of(p, in.body, keys[i]);
                const char *at = v ? strchr(v, '@') : NULL;
                FUZZ_CHECK(!v || !at || !strcasecmp(at + 1, B));
            }
        }
        break;
    default: {
        static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
        const char *sig = ucwa_pool_link_sign(p, key, sizeof(key), A, "fe1", "1000", body, len);
        FUZZ_CHECK(sig && strlen(sig) == 64);
        FUZZ_CHECK(ucwa_pool_link_verify(p, key, sizeof(key), A, "fe1", "1000", body, len, sig,
                                         1000));
        FUZZ_CHECK(!ucwa_pool_link_verify(p, key, sizeof(key), A, "fe1", "1000", body, len, sig,
                                          1000 + UCWA_POOL_LINK_SKEW + 1));
        FUZZ_CHECK(!ucwa_pool_link_verify(p, key, sizeof(key), B, "fe1", "1000", body, len, sig,
                                          1000));
        if (len > 0) {
            char *changed = apr_pmemdup(p, body, len);
            changed[len / 2] ^= 1;
            FUZZ_CHECK(!ucwa_pool_link_verify(p, key, sizeof(key), A, "fe1", "1000", changed,
                                              len, sig, 1000));
        }
        break;
    }
    }
    apr_pool_destroy(p);
    return 0;
}
