/* mcx_events_convert: a UCWA event package as JSON text (what the UCWA core answers the
 * MCX notification channel; fuzzed because the MCX side must survive any package).
 *
 * Invariants: a package without a self link carrying an ack is refused with a short
 * reason; otherwise every notification has a known kind, a Presence has the href to read
 * and at most one Presence per contact, and the conversion is repeatable. */
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mcx_events.h"
#include "mob_json.h"

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
    json_t *pkg = mob_json_own(p, json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL));
    const char *why = NULL;
    mcx_batch b, b2;
    int i, j, rc;

    if (pkg) {
        rc = mcx_events_convert(p, pkg, &b, &why);
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc == -1) {
            FUZZ_CHECK(why && strlen(why) < 64);
        }
        else {
            FUZZ_CHECK(mcx_events_convert(p, pkg, &b2, &why) == 0);
            FUZZ_CHECK(b2.notes->nelts == b.notes->nelts && b2.next == b.next
                       && b2.sequence == b.sequence);
            for (i = 0; i < b.notes->nelts; i++) {
                const mcx_note *n = &APR_ARRAY_IDX(b.notes, i, mcx_note);
                FUZZ_CHECK(n->kind >= MCX_N_PRESENCE && n->kind <= MCX_N_POLICY);
                if (n->kind == MCX_N_PRESENCE) {
                    FUZZ_CHECK(n->uri && n->fetch);
                    for (j = i + 1; j < b.notes->nelts; j++) {
                        const mcx_note *o = &APR_ARRAY_IDX(b.notes, j, mcx_note);
                        FUZZ_CHECK(o->kind != MCX_N_PRESENCE || strcmp(o->uri, n->uri));
                    }
                }
            }
        }
    }
    apr_pool_destroy(p);
    return 0;
}
