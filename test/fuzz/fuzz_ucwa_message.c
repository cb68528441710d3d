/* ucwa_message: instant-message text in data URIs and sendMessage bodies. The first byte
 * of the input picks what the rest is (mod 4):
 *   0  a data URI (NUL-terminated at its first NUL), read under four maximums
 *   1  a message text (raw bytes, NULs included): checked, then written as a data URI
 *      and read back
 *   2  a Content-Type header value (NUL-terminated)
 *   3  a message text checked against an independent UTF-8 reference
 *
 * Invariants: a refusal has a reason and one of the documented statuses (a Content-Type
 * is only ever refused as BAD_TYPE); an accepted data URI gives a NUL-terminated text of
 * at most max bytes that passes ucwa_message_check, and writing that text as a data URI
 * and reading it back gives the same text and format; a written data URI has exactly
 * ucwa_message_data_uri_len bytes, the fixed prefix, and only letters, digits,
 * - _ . ! * ( ) + and %xx (lower-case hex) after it; ucwa_message_check accepts exactly
 * what the reference accepts (well-formed UTF-8 per the Unicode table of well-formed
 * byte sequences, no NUL, at most max bytes). */
#include <apr_strings.h>

#include "fuzz_util.h"
#include "ucwa_message.h"

static const apr_size_t maxes[] = { 0, 1, 100, UCWA_MESSAGE_MAX };

/* Unicode 15, table 3-7: the well-formed UTF-8 byte sequences. */
static int ref_valid(const unsigned char *s, size_t n, size_t max, int ascii)
{
    size_t i = 0;

    if (n > max) {
        return 0;
    }
    while (i < n) {
        unsigned char b = s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (b == 0) return 0;
        if (b <= 0x7f) { i++; continue; }
        if (ascii) return 0;
        if (b >= 0xc2 && b <= 0xdf) need = 1;
        else if (b == 0xe0) { need = 2; lo = 0xa0; }
        else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) need = 2;
        else if (b == 0xed) { need = 2; hi = 0x9f; }
        else if (b == 0xf0) { need = 3; lo = 0x90; }
        else if (b >= 0xf1 && b <= 0xf3) need = 3;
        else if (b == 0xf4) { need = 3; hi = 0x8f; }
        else return 0;
        if (need > n - i - 1) return 0;   /* cut short */
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) return 0;
        }
        i += need + 1;
    }
    return 1;
}

static void check_written(const char *uri, ucwa_msg_format fmt, const char *text, size_t len)
{
    const char *prefix = fmt == UCWA_MSG_HTML ? "data:text/html;charset=utf-8,"
                                              : "data:text/plain;charset=utf-8,";
    size_t pl = strlen(prefix), i;

    FUZZ_CHECK(strlen(uri) == ucwa_message_data_uri_len(fmt, text, len));
    FUZZ_CHECK(strncmp(uri, prefix, pl) == 0);
    for (i = pl; uri[i]; i++) {
        char c = uri[i];
        if (c == '%') {
            FUZZ_CHECK((uri[i + 1] >= '0' && uri[i + 1] <= '9')
                       || (uri[i + 1] >= 'a' && uri[i + 1] <= 'f'));
            FUZZ_CHECK((uri[i + 2] >= '0' && uri[i + 2] <= '9')
                       || (uri[i + 2] >= 'a' && uri[i + 2] <= 'f'));
            i += 2;
            continue;
        }
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                   || strchr("-_.!*()+", c) != NULL);
    }
}

/* text (valid) written as a data URI and read back. */
static void round_trip(apr_pool_t *p, ucwa_msg_format fmt, const char *text, size_t len)
{
    const char *uri = ucwa_message_data_uri(p, fmt, text, len), *why = NULL;
    ucwa_msg_format back = (ucwa_msg_format)!fmt;
    char *again = NULL;
    apr_size_t n = 0;

    check_written(uri, fmt, text, len);
    FUZZ_CHECK(ucwa_message_parse_data_uri(p, uri, UCWA_MESSAGE_MAX, &back, &again, &n, &why)
               == UCWA_MSG_OK);
    FUZZ_CHECK(back == fmt && n == len && memcmp(again, text, len) == 0 && again[n] == '\0');
}

static void data_uri(apr_pool_t *p, const char *uri)
{
    size_t m;

    for (m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        ucwa_msg_format fmt = (ucwa_msg_format)7;
        char *text = NULL;
        apr_size_t len = 12345;
        const char *why = NULL;
        ucwa_msg_status st = ucwa_message_parse_data_uri(p, uri, maxes[m], &fmt, &text, &len,
                                                         &why);
        if (st != UCWA_MSG_OK) {
            FUZZ_CHECK(why != NULL);
            FUZZ_CHECK(st == UCWA_MSG_BAD_TYPE || st == UCWA_MSG_BAD_TEXT
                       || st == UCWA_MSG_TOO_LARGE);
            continue;
        }
        FUZZ_CHECK(fmt == UCWA_MSG_PLAIN || fmt == UCWA_MSG_HTML);
        FUZZ_CHECK(text != NULL && len <= maxes[m] && text[len] == '\0');
        FUZZ_CHECK(ref_valid((const unsigned char *)text, len, maxes[m], 0));
        FUZZ_CHECK(ucwa_message_check(text, len, maxes[m], 0, &why) == UCWA_MSG_OK);
        round_trip(p, fmt, text, len);
    }
}

static void text(apr_pool_t *p, const uint8_t *data, size_t size, int round)
{
    size_t m;
    int ascii;

    for (m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        for (ascii = 0; ascii < 2; ascii++) {
            const char *why = NULL;
            ucwa_msg_status st = ucwa_message_check((const char *)data, size, maxes[m], ascii,
                                                    &why);
            int ref = ref_valid(data, size, maxes[m], ascii);
            FUZZ_CHECK((st == UCWA_MSG_OK) == (ref == 1));
            if (st != UCWA_MSG_OK) {
                FUZZ_CHECK(why != NULL);
                FUZZ_CHECK(st == (size > maxes[m] ? UCWA_MSG_TOO_LARGE : UCWA_MSG_BAD_TEXT));
            }
        }
    }
    if (round && size <= UCWA_MESSAGE_MAX && ref_valid(data, size, UCWA_MESSAGE_MAX, 0)) {
        round_trip(p, UCWA_MSG_PLAIN, (const char *)data, size);
        round_trip(p, UCWA_MSG_HTML, (const char *)data, size);
    }
}

static void content_type(const char *v)
{
    ucwa_msg_format fmt = (ucwa_msg_format)7;
    int ascii = 7;
    const char *why = NULL;
    ucwa_msg_status st = ucwa_message_content_type(v, &fmt, &ascii, &why);

    if (st == UCWA_MSG_OK) {
        FUZZ_CHECK(fmt == UCWA_MSG_PLAIN || fmt == UCWA_MSG_HTML);
        FUZZ_CHECK(ascii == 0 || ascii == 1);
        /* text/plain or text/html (any case, blanks around) start every accepted value */
        FUZZ_CHECK(strcasestr(v, fmt == UCWA_MSG_HTML ? "text/html" : "text/plain") != NULL);
    }
    else {
        FUZZ_CHECK(st == UCWA_MSG_BAD_TYPE && why != NULL);
    }
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
    apr_pool_t *p;
    char *s;

    if (size == 0) {
        return 0;
    }
    p = fuzz_pool();
    s = fuzz_cstr(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        data_uri(p, s);
        break;
    case 1:
        text(p, data + 1, size - 1, 1);
        break;
    case 2:
        content_type(s);
        break;
    default:
        text(p, data + 1, size - 1, 0);
    }
    free(s);
    apr_pool_destroy(p);
    return 0;
}
