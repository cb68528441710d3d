/* ng_benc_decode and ng_message_split (rtpengine's NG messages, common/sip).
 *
 * Invariants: a refusal has a short fixed reason and no value; an accepted input encodes
 * back to exactly its own bytes (the decoder takes only canonical bencode and keeps a
 * dictionary's order), nests at most NG_BENC_MAX_DEPTH deep and holds at most
 * NG_BENC_MAX_ITEMS values; every string is NUL-terminated after its length; the input
 * as an NG message splits into a cookie without spaces or control bytes and the rest. */
#include "fuzz_util.h"
#include "ng_bencode.h"

static unsigned walk(const ng_benc *v, int depth)
{
    const ng_benc *m;
    unsigned n = 1;

    FUZZ_CHECK(depth <= NG_BENC_MAX_DEPTH);
    if (v->type == NG_BENC_STR) {
        FUZZ_CHECK(v->str != NULL && v->str[v->len] == '\0');
    }
    for (m = v->first; m; m = m->next) {
        FUZZ_CHECK(v->type == NG_BENC_LIST || v->type == NG_BENC_DICT);
        if (v->type == NG_BENC_DICT) {
            FUZZ_CHECK(m->key != NULL && m->key[m->key_len] == '\0');
        }
        n += walk(m, depth + 1);
    }
    return n;
}

static void decode_checked(apr_pool_t *p, const char *buf, apr_size_t len)
{
    ng_benc *v = (ng_benc *)1;
    const char *why = ng_benc_decode(p, buf, len, &v);
    apr_size_t back_len = 0;
    char *back;

    if (why) {
        fuzz_check_reason(why);
        FUZZ_CHECK(v == NULL);
        return;
    }
    FUZZ_CHECK(v != NULL);
    FUZZ_CHECK(walk(v, 1) <= NG_BENC_MAX_ITEMS);
    back = ng_benc_encode(p, v, &back_len);
    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK(back_len == len && memcmp(back, buf, len) == 0);
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
    /* an exact-size copy: the decoder takes a length and must not read past it */
    char *buf = malloc(size ? size : 1);
    const char *cookie, *body, *why;
    apr_size_t body_len, i;

    if (!buf) {
        abort();
    }
    if (size) {
        memcpy(buf, data, size);
    }
    decode_checked(p, buf, size);
    why = ng_message_split(p, buf, size, &cookie, &body, &body_len);
    if (why) {
        fuzz_check_reason(why);
    }
    else {
        FUZZ_CHECK(*cookie && strlen(cookie) <= NG_MAX_COOKIE);
        for (i = 0; cookie[i]; i++) {
            FUZZ_CHECK(cookie[i] > ' ' && cookie[i] <= '~');
        }
        FUZZ_CHECK(body == buf + strlen(cookie) + 1 && body_len == size - strlen(cookie) - 1);
        decode_checked(p, body, body_len);
    }
    free(buf);
    apr_pool_destroy(p);
    return 0;
}
