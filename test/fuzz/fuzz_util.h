/* Shared helpers of the fuzz harnesses: invariant checks and input copies.
 * Everything here is static inline or immutable: the harnesses keep no mutable state
 * between inputs. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a violation is a bug, reported like a crash. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* What every LLVMFuzzerInitialize does: APR once per process. */
static inline void fuzz_apr_init(void)
{
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        abort();
    }
    atexit(apr_terminate);
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        abort();
    }
    return p;
}

/* A refusal's reason: a short fixed text (printable ASCII), never a piece of the input. */
static inline void fuzz_check_reason(const char *why)
{
    size_t i, n;

    FUZZ_CHECK(why != NULL);
    n = strlen(why);
    FUZZ_CHECK(n > 0 && n < 64);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(why[i] >= 0x20 && why[i] < 0x7f);
    }
}

/* The input read a byte at a time, as the model-based harnesses read their operations:
 * past the end, every byte reads as 0. */
typedef struct {
    const uint8_t *p, *end;
} fuzz_reader;

static inline unsigned fuzz_next(fuzz_reader *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

/* A telephone number as ucwa_voice writes one: '+'? digits, maybe ";ext=" digits. */
static inline int fuzz_is_number(const char *s)
{
    const char *e;

    if (*s == '+') s++;
    if (!*s || *s == ';') return 0;
    for (; *s >= '0' && *s <= '9'; s++) {}
    if (!*s) return 1;
    if (strncmp(s, ";ext=", 5) || !s[5]) return 0;
    for (e = s + 5; *e; e++) {
        if (*e < '0' || *e > '9') return 0;
    }
    return 1;
}

/* A NUL-terminated copy of the input, allocated to its exact size (malloc, not the
 * pool, so that ASan sees a read past the terminator). Free with free(). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s) {
        abort();
    }
    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

/* An independent reference check: s is well-formed UTF-8 per RFC 3629 (shortest
 * form, no surrogates, nothing above U+10FFFF) and holds no control character (C0,
 * DEL or C1). */
/* s cut in place at its newlines into at most max lines (empty ones kept); their count. */
static inline int fuzz_lines(char *s, char **lines, int max)
{
    char *nl;
    int n = 0;

    while (n < max) {
        lines[n++] = s;
        if (!(nl = strchr(s, '\n'))) {
            break;
        }
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

static inline int fuzz_utf8_text(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        uint32_t cp;
        int extra, i;

        if (*s < 0x80) {
            if (*s < 0x20 || *s == 0x7f) {
                return 0;
            }
            s++;
            continue;
        }
        if ((*s & 0xe0) == 0xc0) { cp = *s & 0x1f; extra = 1; }
        else if ((*s & 0xf0) == 0xe0) { cp = *s & 0x0f; extra = 2; }
        else if ((*s & 0xf8) == 0xf0) { cp = *s & 0x07; extra = 3; }
        else return 0;
        for (i = 1; i <= extra; i++) {
            if ((s[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
            || (extra == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f)) {
            return 0;
        }
        s += extra + 1;
    }
    return 1;
}

#endif
