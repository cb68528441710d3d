/* Between pools: a pool's messages (common/ucwa/ucwa_pool.h) for a Front End of another
 * pool, carried over HTTPS from a Front End of one pool to one of the other
 * (mod_ucwa/ucwa_pool_link), signed with a key the pools share.
 *
 * Names. Inside a pool a Front End is "fe"; outside it, "fe@pool". A message leaving
 * pool A has its Front End names ("fe", "by") qualified with A (those already
 * qualified name a Front End elsewhere and stay); arriving in pool B, names qualified
 * with B lose it. So a conversation between pools needs nothing of its own: its key and
 * its peer are names like any other, and a target "fe@pool" (or "@pool": wherever the
 * user is, for an invitation) is one the pool's database relays.
 *
 * The signature is HMAC-SHA256 under the link key over
 *     from "\n" to "\n" time "\n" body
 * in lower-case hex: from the sending pool's FQDN, to the target Front End in the
 * receiving pool ("*" for "wherever the user is"), time the sender's clock in seconds.
 *
 * Session descriptions. A call's message names its description by a key in its own
 * pool's table ("sdp", common/ucwa/ucwa_pool.h), which the other pool cannot read: on the
 * way out the description itself goes with the message ("sdpType": its Content-Type,
 * "sdpData": its bytes in base64, at most UCWA_SDP_MAX of them); on the way in it is taken
 * out again, and the message names a fresh key, under which the receiving Front End
 * writes the description into its own pool's table before it delivers the message. */
#ifndef UCWA_POOL_LINK_H
#define UCWA_POOL_LINK_H

#include <apr_pools.h>

#include "ucwa_pool.h"
#include "ucwa_sdp.h"

#define UCWA_POOL_LINK_SKEW 300     /* seconds a signed message stays acceptable */
#define UCWA_POOL_LINK_KEY_MIN 32   /* bytes of key at least */
/* bytes of one relayed message: the message, and a description in base64 with its type */
#define UCWA_POOL_LINK_BODY_MAX (UCWA_POOL_BODY_MAX + 4 * ((UCWA_SDP_MAX + 2) / 3) \
                                 + 2 * UCWA_SDP_CTYPE_MAX + 64)

const char *ucwa_pool_link_sign(apr_pool_t *p, const unsigned char *key, apr_size_t key_len,
                                const char *from, const char *to, const char *time,
                                const char *body, apr_size_t len);
/* 1 when sig is the signature of these, made within UCWA_POOL_LINK_SKEW of now (s). */
int ucwa_pool_link_verify(apr_pool_t *p, const unsigned char *key, apr_size_t key_len,
                          const char *from, const char *to, const char *time,
                          const char *body, apr_size_t len, const char *sig, long long now);

/* "fe@pool" -> *fe "fe", *pool "pool" ("" for "@pool"): 1; a name without '@': 0. */
int ucwa_pool_link_split(apr_pool_t *p, const char *target, const char **fe, const char **pool);

/* A message leaving pool mypool: its names qualified, and sdp (the description its "sdp"
 * names, read from mypool's table; NULL: none, or not found) carried with it. NULL when it
 * is not a message. */
const char *ucwa_pool_link_outgoing(apr_pool_t *p, const char *body, apr_size_t len,
                                    const char *mypool, const ucwa_pool_sdp *sdp);

typedef struct {
    const char *body;          /* the message with the names of mypool unqualified */
    const char *kind;          /* its "k" */
    const char *to;            /* an invitation's invited user ("" otherwise) */
    const char *fe, *conv;     /* its key (conversation messages), or "" */
    const char *sdp_key;       /* the fresh key the body's "sdp" names, or NULL */
    ucwa_pool_sdp sdp;         /* the description to write under it (len 0 when bad) */
    const char *sdp_bad;       /* why the description is missing or refused, or NULL: the
                                * body then names a key nobody writes (a call's message
                                * without its description, as the pool's thread sees one
                                * whose row is gone) */
} ucwa_pool_link_in;

/* A message arriving in pool mypool from pool `from` (at most UCWA_POOL_LINK_BODY_MAX
 * bytes). 0, or -1 when it is malformed, too long, or names as its own a Front End of
 * neither pool (a pool speaks only for itself). */
int ucwa_pool_link_incoming(apr_pool_t *p, const char *body, apr_size_t len,
                            const char *mypool, const char *from, ucwa_pool_link_in *out);

#endif
