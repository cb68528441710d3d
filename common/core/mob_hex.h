/* Bytes as lower-case hex digits: keyed hashes in SQL rows, signatures, ids. */
#ifndef MOB_HEX_H
#define MOB_HEX_H

#include <apr_pools.h>

/* The n bytes of b as 2n lower-case hex digits, NUL-terminated, in p. */
const char *mob_hex(apr_pool_t *p, const unsigned char *b, apr_size_t n);

#endif
