/* ucwa_xml_input: a client's XML input body, the raw bytes as httpd would hand them
 * over (length-delimited, not NUL-terminated).
 *
 * Invariants: a refusal comes with a short fixed reason (printable ASCII, never a piece
 * of the input); an acceptance with none, and only for at most UCWA_XML_MAX_INPUT
 * bytes. What is accepted is a flat object of at most UCWA_XML_MAX_PROPERTIES
 * members, each a string or an array of strings, with non-empty names that differ in
 * more than ASCII case and no NUL in any string. The same bytes give the same object
 * again. And the writer agrees with the reader: the object rendered by
 * ucwa_xml_resource, its root renamed to <input>, reads back as the same object (when
 * the rendering, which escapes more, still fits the size limit; "rel", "_links" and
 * "_embedded" are left out, the writer gives them a meaning of their own). */
#include <strings.h>
#include <libxml/parser.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mob_json.h"
#include "ucwa_xml.h"

static void check_shape(const json_t *obj)
{
    const char *key, *key2;
    json_t *v, *v2;
    size_t i;

    FUZZ_CHECK(json_is_object(obj));
    FUZZ_CHECK(json_object_size(obj) <= UCWA_XML_MAX_PROPERTIES);
    json_object_foreach((json_t *)obj, key, v) {
        FUZZ_CHECK(*key != '\0');
        if (json_is_array(v)) {
            for (i = 0; i < json_array_size(v); i++) {
                json_t *item = json_array_get(v, i);
                FUZZ_CHECK(json_is_string(item));
                FUZZ_CHECK(strlen(json_string_value(item)) == json_string_length(item));
            }
        }
        else {
            FUZZ_CHECK(json_is_string(v));
            FUZZ_CHECK(strlen(json_string_value(v)) == json_string_length(v));
        }
        json_object_foreach((json_t *)obj, key2, v2) {
            FUZZ_CHECK(key2 == key || strcasecmp(key, key2) != 0);
        }
    }
}

/* obj through the writer and back through the reader */
static void check_round_trip(apr_pool_t *p, const json_t *obj)
{
    json_t *copy = mob_json_own(p, json_deep_copy(obj)), *back;
    const char *xml, *open, *close, *why = NULL;
    apr_size_t len;
    char *in;

    FUZZ_CHECK(copy != NULL);
    json_object_del(copy, "rel");
    json_object_del(copy, "_links");
    json_object_del(copy, "_embedded");
    xml = ucwa_xml_resource(p, copy, &len);
    FUZZ_CHECK(xml != NULL && strlen(xml) == len);
    open = strstr(xml, "<resource");
    close = strstr(xml, "</resource>");
    if (!close) {
        /* nothing to carry: an empty element */
        FUZZ_CHECK(json_object_size(copy) == 0);
        return;
    }
    FUZZ_CHECK(open != NULL && close > open);
    in = apr_pstrcat(p, "<input", apr_pstrndup(p, open + 9, (apr_size_t)(close - open - 9)),
                     "</input>", NULL);
    if (strlen(in) > UCWA_XML_MAX_INPUT) {
        return;
    }
    back = ucwa_xml_input(p, in, strlen(in), &why);
    if (!back) {
        fprintf(stderr, "round trip refused (%s):\n%s\n", why, in);
    }
    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK(json_equal(back, copy));
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
    /* an exact-size copy: ASan sees any read past len */
    char *body = size ? malloc(size) : NULL;
    const char *why = "unset", *why2 = "unset";
    json_t *obj, *again;

    if (size) {
        FUZZ_CHECK(body != NULL);
        memcpy(body, data, size);
    }
    obj = ucwa_xml_input(p, body, size, &why);
    if (!obj) {
        fuzz_check_reason(why);
    }
    else {
        FUZZ_CHECK(why == NULL);
        FUZZ_CHECK(size > 0 && size <= UCWA_XML_MAX_INPUT);
        check_shape(obj);
        again = ucwa_xml_input(p, body, size, &why2);
        FUZZ_CHECK(again != NULL && json_equal(obj, again));
        check_round_trip(p, obj);
    }
    free(body);
    apr_pool_destroy(p);
    return 0;
}
