/* mcx_soap_parse: an MCX request body, the raw bytes as httpd hands them over.
 *
 * Invariants: a refusal comes with a short fixed reason (printable ASCII, never a piece
 * of the input) and a status that is not OK; an acceptance has an operation name and
 * fields without NUL. The same bytes parse the same way again. And the writer agrees
 * with the reader: a response echoing every field, written with mcx_out, reads back
 * (as operation <op>Response) with the same fields in the same order; a fault with any
 * text is well-formed. */
#include <libxml/parser.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mcx_soap.h"

#define MAX 65536

static int same_fields(const apr_table_t *a, const apr_table_t *b)
{
    const apr_array_header_t *x = apr_table_elts(a), *y = apr_table_elts(b);
    const apr_table_entry_t *ex = (const apr_table_entry_t *)x->elts;
    const apr_table_entry_t *ey = (const apr_table_entry_t *)y->elts;
    int i;

    if (x->nelts != y->nelts) {
        return 0;
    }
    for (i = 0; i < x->nelts; i++) {
        if (strcmp(ex[i].key, ey[i].key) || strcmp(ex[i].val, ey[i].val)) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_apr_init();
    xmlInitParser();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *body = size ? malloc(size) : NULL;   /* exact size: ASan sees reads past it */
    const char *why = NULL, *why2 = NULL, *out, *fault;
    mcx_request rq, again, back;
    mcx_parse_status st, st2;
    apr_size_t len = 0;

    if (size) {
        FUZZ_CHECK(body != NULL);
        memcpy(body, data, size);
    }
    st = mcx_soap_parse(p, body, size, MAX, &rq, &why);
    st2 = mcx_soap_parse(p, body, size, MAX, &again, &why2);
    FUZZ_CHECK(st == st2);
    if (st != MCX_PARSE_OK) {
        fuzz_check_reason(why);
        FUZZ_CHECK(!strcmp(why, why2));
    }
    else {
        const apr_array_header_t *f = apr_table_elts(rq.fields);
        const apr_table_entry_t *e = (const apr_table_entry_t *)f->elts;
        mcx_out *o;
        int i;

        FUZZ_CHECK(rq.op && *rq.op && !strcmp(rq.op, again.op));
        FUZZ_CHECK(same_fields(rq.fields, again.fields));
        o = mcx_out_begin(p, apr_pstrcat(p, rq.op, "Response", NULL));
        for (i = 0; i < f->nelts; i++) {
            mcx_out_text(o, e[i].key, e[i].val);
        }
        out = mcx_out_finish(o, &len);
        FUZZ_CHECK(out != NULL);
        FUZZ_CHECK(mcx_soap_parse(p, out, len, (apr_size_t)-1 / 2, &back, &why) == MCX_PARSE_OK);
        FUZZ_CHECK(!strcmp(back.op, apr_pstrcat(p, rq.op, "Response", NULL)));
        FUZZ_CHECK(same_fields(rq.fields, back.fields));
    }
    /* a fault carrying arbitrary text (the input as a message) is always written */
    fault = mcx_soap_fault(p, 1, "BadRequest", 400, body ? apr_pstrmemdup(p, body, size) : "",
                           &len);
    FUZZ_CHECK(fault != NULL && len > 0);
    free(body);
    apr_pool_destroy(p);
    return 0;
}
