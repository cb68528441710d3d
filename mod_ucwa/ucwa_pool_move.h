/* An application that survives a move between Front Ends of a pool (issue 11,
 * ARCHITECTURE §10.5): the load balancer sent its client here (affinity lost, a drain)
 * while the Front End that holds it is alive. The request that does not find its
 * application asks the pool, through the pool's PostgreSQL database; the holder's pool
 * thread hands it over as data (common/ucwa/ucwa_move) and forgets it; this Front End
 * installs it and the request goes on. Bounded: with no answer within
 * UCWA_POOL_MOVE_WAIT the answer is 404, as without a pool. */
#ifndef UCWA_POOL_MOVE_H
#define UCWA_POOL_MOVE_H

#include <httpd.h>

#include "ucwa_http.h"

struct pg_conn;   /* libpq's PGconn */

#define UCWA_POOL_MOVE_WAIT_MS 1000   /* how long a request waits for the holder */

/* The request's application is not in this store: in a pool, asks the other Front Ends
 * for it (only its owner's token gets it), and installs it when one hands it over. 1
 * installed (look again), 0 not (no pool, nobody has it, another user's, no answer in
 * time, the database unreachable). */
int ucwa_pool_move_fetch(ucwa_req *q);

/* The pool's thread, told "@move": answers the asks of other Front Ends (hands over the
 * applications it holds, says it has none of the others). 1 something answered, 0
 * nothing to answer, -1 the connection failed. */
int ucwa_pool_move_serve(server_rec *s, struct pg_conn *conn, apr_pool_t *p);

#endif
