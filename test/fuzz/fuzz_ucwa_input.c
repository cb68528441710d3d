/* ucwa_input_json: a client's JSON request body, the raw bytes as httpd hands them over
 * (length-delimited, not NUL-terminated); then ucwa_input_get and ucwa_input_string
 * with names taken from what was parsed and from the input.
 *
 * Invariants: a refusal comes with a reason; an acceptance is a JSON object, nested at
 * most UCWA_INPUT_DEPTH_MAX deep, and the same bytes give an equal object again. The
 * only leniency beyond JSON is a trailing comma after a value before } or ], plus an
 * empty (or blank) body reading as {}; and it is stricter than JSON in depth and in
 * refusing NUL bytes. This is checked against jansson itself as the reference: jansson
 * is given the body; while it fails on a } or ] that follows a comma (the comma was
 * taken as a separator, so a value precedes it), that comma is blanked and jansson tries
 * again. Whatever we accept, the reference accepts as an equal value; whatever the
 * reference accepts as an object no deeper than UCWA_INPUT_DEPTH_MAX and without a NUL
 * byte, we accept (jansson accepting the input unchanged being the plainest case).
 *
 * Lookups: ucwa_input_get(obj, name) finds a member whose name equals name in ASCII
 * case, NULL when none does, and the very member when only one does (tried with each
 * member's name, its upper, lower and swapped case, and names cut from the input);
 * ucwa_input_string gives a string member's value exactly when its length in characters
 * is at most max (tried at length - 1, length and length + 1), sets *bad otherwise and for a
 * member that is not a string (or null: absent), and never clears *bad. */
#include <ctype.h>
#include <strings.h>
#include <apr_strings.h>

#include "fuzz_util.h"
#include "mob_json.h"
#include "ucwa_input.h"

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The reference: jansson, blanking only the commas it stumbles on before a closing
 * bracket. Owned by p; NULL if refused. */
static json_t *reference(apr_pool_t *p, const char *body, size_t size, char **text)
{
    char *copy = apr_palloc(p, size + 1);
    json_error_t err;
    json_t *j;

    if (size) {
        memcpy(copy, body, size);
    }
    copy[size] = '\0';
    *text = copy;
    for (;;) {
        size_t tl, pos, c;

        j = json_loadb(copy, size, 0, &err);
        if (j) {
            return mob_json_own(p, j);
        }
        /* "... near '}'" or "... near ']'": the token is the byte before position */
        tl = strlen(err.text);
        if (tl < 8 || err.position < 1 || (size_t)err.position > size
            || (strcmp(err.text + tl - 8, "near '}'") && strcmp(err.text + tl - 8, "near ']'"))) {
            return NULL;
        }
        pos = (size_t)err.position - 1;
        if (copy[pos] != '}' && copy[pos] != ']') {
            return NULL;
        }
        for (c = pos; c > 0 && blank(copy[c - 1]); c--) {
        }
        if (c == 0 || copy[c - 1] != ',') {
            return NULL;
        }
        copy[c - 1] = ' ';
    }
}

/* Bracket depth of valid JSON text (strings skipped). */
static int text_depth(const char *s, size_t n)
{
    int depth = 0, max = 0, in_string = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (in_string) {
            if (s[i] == '\\') {
                i++;
            }
            else if (s[i] == '"') {
                in_string = 0;
            }
        }
        else if (s[i] == '"') {
            in_string = 1;
        }
        else if (s[i] == '{' || s[i] == '[') {
            if (++depth > max) {
                max = depth;
            }
        }
        else if (s[i] == '}' || s[i] == ']') {
            depth--;
        }
    }
    return max;
}

static int value_depth(const json_t *v)
{
    int max = 0, d;
    const char *key;
    json_t *m;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m) {
            d = value_depth(m);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            d = value_depth(m);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

static void check_lookup(apr_pool_t *p, const json_t *obj, const char *name)
{
    const char *key, *only_key = NULL, *s;
    json_t *v, *got = ucwa_input_get(obj, name), *only = NULL;
    int matches = 0, found = 0, bad;
    size_t len, max, i;

    json_object_foreach((json_t *)obj, key, v) {
        if (!strcasecmp(key, name)) {
            matches++;
            only = v;
            only_key = key;
            if (v == got) {
                found = 1;
            }
        }
    }
    FUZZ_CHECK(matches ? found : got == NULL);
    if (matches == 1) {
        FUZZ_CHECK(got == only && json_object_get(obj, only_key) == got);
    }
    /* the same lookup again: the same member */
    FUZZ_CHECK(ucwa_input_get(obj, name) == got);

    bad = 7;   /* never cleared */
    s = ucwa_input_string(obj, name, 1 << 20, &bad);
    FUZZ_CHECK(bad == 7 || bad == 1);
    bad = 0;
    s = ucwa_input_string(obj, name, 1 << 20, &bad);
    if (!got || json_is_null(got)) {
        FUZZ_CHECK(s == NULL && bad == 0);
        return;
    }
    if (!json_is_string(got)) {
        FUZZ_CHECK(s == NULL && bad == 1);
        return;
    }
    FUZZ_CHECK(s == json_string_value(got) && bad == 0 && strlen(s) == json_string_length(got));
    /* the limit counts characters: bytes that do not continue a UTF-8 sequence */
    len = 0;
    for (i = 0; s[i]; i++) {
        len += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    for (max = len ? len - 1 : 0; max <= len + 1; max++) {
        bad = 0;
        s = ucwa_input_string(obj, name, max, &bad);
        if (len <= max) {
            FUZZ_CHECK(s == json_string_value(got) && bad == 0);
        }
        else {
            FUZZ_CHECK(s == NULL && bad == 1);
        }
    }
    (void)p;
}

static void check_lookups(apr_pool_t *p, const json_t *obj, const char *body, size_t size)
{
    const char *key;
    json_t *v;
    size_t i, n = 0;

    json_object_foreach((json_t *)obj, key, v) {
        char *up = apr_pstrdup(p, key), *low = apr_pstrdup(p, key), *swap = apr_pstrdup(p, key);

        for (i = 0; key[i]; i++) {
            up[i] = (char)toupper((unsigned char)key[i]);
            low[i] = (char)tolower((unsigned char)key[i]);
            swap[i] = isupper((unsigned char)key[i]) ? low[i] : up[i];
        }
        check_lookup(p, obj, key);
        check_lookup(p, obj, up);
        check_lookup(p, obj, low);
        check_lookup(p, obj, swap);
        if (++n == 64) {
            break;
        }
        /* nested objects too */
        if (json_is_object(v)) {
            check_lookup(p, v, key);
        }
    }
    /* names cut from the input: every run between quotes, the first 32 */
    for (i = 0, n = 0; i < size && n < 32; i++) {
        if (body[i] == '"') {
            size_t j = i + 1;
            while (j < size && body[j] != '"' && body[j] != '\0') {
                j++;
            }
            if (j < size && body[j] == '"') {
                check_lookup(p, obj, apr_pstrmemdup(p, body + i + 1, j - i - 1));
                n++;
            }
            i = j;
        }
    }
    check_lookup(p, obj, "");
    check_lookup(p, obj, "userAgent");
    check_lookup(p, obj, "ENDPOINTID");
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
    /* an exact-size copy: ASan sees any read past len */
    char *body = malloc(size ? size : 1);
    const char *why = NULL, *why2 = NULL;
    json_t *obj, *again, *ref;
    char *ref_text = NULL;
    size_t i;
    int is_blank = 1;

    FUZZ_CHECK(body != NULL);
    if (size) {
        memcpy(body, data, size);
    }
    for (i = 0; i < size; i++) {
        is_blank &= blank(body[i]);
    }
    obj = ucwa_input_json(p, body, size, &why);
    ref = reference(p, body, size, &ref_text);
    if (!obj) {
        FUZZ_CHECK(why != NULL && *why != '\0');
        FUZZ_CHECK(!is_blank);
        /* the reference agrees, or what it took is not an object, is too deep, or
         * holds a NUL byte (jansson 2.14 skips one after a number or a literal:
         * it reads {"a":1<NUL>} as {"a":1}; we refuse every NUL) */
        FUZZ_CHECK(ref == NULL || !json_is_object(ref)
                   || text_depth(ref_text, size) > UCWA_INPUT_DEPTH_MAX
                   || memchr(body, '\0', size) != NULL);
    }
    else {
        FUZZ_CHECK(json_is_object(obj));
        FUZZ_CHECK(value_depth(obj) <= UCWA_INPUT_DEPTH_MAX);
        FUZZ_CHECK(memchr(body, '\0', size) == NULL);
        if (is_blank) {
            FUZZ_CHECK(json_object_size(obj) == 0);
        }
        else {
            FUZZ_CHECK(ref != NULL && json_equal(obj, ref));
            FUZZ_CHECK(text_depth(ref_text, size) <= UCWA_INPUT_DEPTH_MAX);
        }
        again = ucwa_input_json(p, body, size, &why2);
        FUZZ_CHECK(again != NULL && json_equal(obj, again));
        check_lookups(p, obj, body, size);
    }
    free(body);
    apr_pool_destroy(p);
    return 0;
}
