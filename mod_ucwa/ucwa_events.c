#include <httpd.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <apr_poll.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_events.h"
#include "ucwa_push.h"
#include "ucwa_query.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define SLICE apr_time_from_msec(500)   /* how often a parked request looks around */

/* Per child process: how many requests are parked, and the cap. Set up in child_init;
 * it is process-local by nature (a thread count), not shared state. */
typedef struct {
    apr_uint32_t parked;
    apr_uint32_t cap;
} child_parking;

static child_parking *parking;

void ucwa_events_child_init(apr_pool_t *pchild, server_rec *s)
{
    const ucwa_global *g = ucwa_config_get(s)->global;
    int threads = 0;

    parking = apr_pcalloc(pchild, sizeof(*parking));
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    /* by default keep 64 threads (a quarter of a small child) for everything else */
    parking->cap = g->parked_per_child ? g->parked_per_child
                   : threads > 256 ? (apr_uint32_t)(threads - 64)
                   : (apr_uint32_t)(threads > 1 ? threads * 3 / 4 : 1);
}

void ucwa_events_wake_user(ucwa_store *s, int user)
{
    int i;

    for (i = ucwa_store_first_app(s, user); i >= 0; i = ucwa_store_next_app(s, i)) {
        ucwa_shm_wake(ucwa_store_app(s, i));
    }
}

static int stopping(void)
{
    int state = AP_MPMQ_RUNNING;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* A client that closed its connection: readable with nothing to read, or hung up. Over
 * TLS a close arrives as data (close_notify), so there only the timeout notices it. */
static int client_gone(request_rec *r)
{
    apr_socket_t *sock = ap_get_conn_socket(r->connection);
    apr_os_sock_t fd;
    apr_pollfd_t pfd;
    apr_int32_t n = 0;
    char c;

    if (r->connection->aborted) {
        return 1;
    }
    if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS) {
        return 0;
    }
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = r->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = sock;
    pfd.reqevents = APR_POLLIN;
    if (apr_poll(&pfd, 1, &n, 0) != APR_SUCCESS || n == 0) {
        return 0;
    }
    if (pfd.rtnevents & (APR_POLLHUP | APR_POLLERR)) {
        return 1;
    }
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* The query: ack, and the sticky timeout, low and medium the application's last
 * request left. */
static const char *read_params(ucwa_req *q, const ucwa_app *a, ucwa_event_params *pp)
{
    const ucwa_global *g = q->conf->global;

    memset(pp, 0, sizeof(*pp));
    pp->timeout = a->ev_timeout;
    pp->low = a->ev_low;
    pp->medium = a->ev_medium;
    return ucwa_query_events(q->r->pool, q->r->args, g->timeout_min, g->timeout_max,
                             g->timeout_default, pp);
}

typedef struct {
    int idx;
    apr_uint32_t gen;
} parked_ref;

/* Runs on every way out of a parked request: the app is no longer being polled by it. */
static void unpark(ucwa_req *q, const parked_ref *ref, int in_cap)
{
    ucwa_store *s = ucwa_shm_lock(q->r->server);

    if (s) {
        ucwa_app *a = ucwa_store_app(s, ref->idx);
        if (a->gen == ref->gen && a->parked > 0) {
            a->parked--;
            a->last_seen = apr_time_now();
        }
        ucwa_shm_unlock();
    }
    if (in_cap) {
        __atomic_sub_fetch(&parking->parked, 1, __ATOMIC_SEQ_CST);
    }
}

int ucwa_events_get(ucwa_req *q)
{
    ucwa_store *s;
    ucwa_app *a;
    ucwa_event_params pp;
    parked_ref ref;
    ucwa_package pkg;
    ucwa_poll_result res;
    ucwa_windows w;
    apr_time_t deadline, now;
    apr_uint32_t my_id, seen;
    const char *err, *body;
    char base[UCWA_BASE_MAX];
    apr_size_t len;
    apr_pool_t *iter;
    int idx, rv, final = 0, in_cap = 0;

    if (q->r->method_number != M_GET) {
        return ucwa_http_error(q, HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed", NULL,
                               "The event channel answers GET only.");
    }
    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    a = ucwa_store_app(s, idx);
    err = read_params(q, a, &pp);
    if (err) {
        ucwa_shm_unlock();
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               err);
    }
    if (a->parked > 0 && pp.priority < a->pget_prio) {
        /* a lower priority request does not replace a higher one */
        ucwa_shm_unlock();
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "PGetReplaced",
                               "A request with a higher priority is pending.");
    }
    a->ev_timeout = pp.timeout;
    a->ev_low = pp.low;
    a->ev_medium = pp.medium;
    my_id = ++a->pget_id;
    a->pget_prio = pp.priority;
    a->parked++;
    ucwa_push_foreground(a);   /* polling again: back in the foreground */
    deadline = apr_time_now() + apr_time_from_sec(pp.timeout);
    if (deadline > a->parked_until) {
        a->parked_until = deadline;
    }
    ucwa_store_touch(a);   /* an older parked request wakes and learns it was replaced */
    ref.idx = idx;
    ref.gen = a->gen;
    apr_cpystrn(base, a->base, sizeof(base));
    ucwa_shm_unlock();
    ucwa_shm_wake(a);

    w.low = apr_time_from_sec(pp.low);
    w.medium = apr_time_from_sec(pp.medium);
    if (__atomic_add_fetch(&parking->parked, 1, __ATOMIC_SEQ_CST) > parking->cap) {
        /* this child is full. An immediate empty package would make the client spin on
         * this connection; a 503 that closes it sends the client to another child. */
        __atomic_sub_fetch(&parking->parked, 1, __ATOMIC_SEQ_CST);
        unpark(q, &ref, 0);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00050)
                      "parked event requests at the per-child cap (%u)", parking->cap);
        q->r->connection->keepalive = AP_CONN_CLOSE;
        apr_table_setn(q->r->err_headers_out, "Retry-After", "1");
        return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                               "This server is busy: poll again.");
    }
    in_cap = 1;
    apr_pool_create(&iter, q->r->pool);
    seen = 0;
    memset(&pkg, 0, sizeof(pkg));
    for (int first = 1;; first = 0) {
        apr_interval_time_t nap;
        now = apr_time_now();
        final |= (now >= deadline) || stopping();
        /* a quiet slice (nothing posted, no window ended) does not need the lock */
        if (!first && !final && __atomic_load_n(&a->seq, __ATOMIC_SEQ_CST) == seen
            && !(pkg.wake_at && now >= pkg.wake_at)) {
            goto nap;
        }
        s = ucwa_shm_lock(q->r->server);
        if (!s) {
            unpark(q, &ref, in_cap);
            return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                                   "The session store is unavailable.");
        }
        a = ucwa_store_app(s, idx);
        if (a->gen != ref.gen || a->state != UCWA_SLOT_LIVE) {
            int expired = a->gen == ref.gen && a->state == UCWA_SLOT_EXPIRED;
            ucwa_shm_unlock();
            unpark(q, &ref, in_cap);
            return expired
                   ? ucwa_http_error(q, HTTP_GONE, "Gone", "InactiveApplicationExpired",
                                     "The application expired.")
                   : ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ApplicationNotFound",
                                     "The application was deleted.");
        }
        if (a->pget_id != my_id) {
            ucwa_shm_unlock();
            unpark(q, &ref, in_cap);
            return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "PGetReplaced",
                                   "A newer event request replaced this one.");
        }
        res = ucwa_store_poll(s, idx, pp.ack, &w, final, now, q->r->pool, &pkg);
        seen = __atomic_load_n(&a->seq, __ATOMIC_SEQ_CST);
        ucwa_shm_unlock();
        if (res != UCWA_POLL_WAIT) {
            break;
        }
nap:
        nap = deadline - now;
        if (pkg.wake_at && pkg.wake_at - now < nap) {
            nap = pkg.wake_at - now;
        }
        ucwa_shm_wait(a, seen, nap < SLICE ? nap : SLICE);
        if (client_gone(q->r)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r, UCWALOGNO(00051)
                          "the client left a parked event request");
            unpark(q, &ref, in_cap);
            return DONE;
        }
        apr_pool_clear(iter);
    }
    unpark(q, &ref, in_cap);
    if (res == UCWA_POLL_RESYNC) {
        pkg.ack = pp.ack;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00052)
                      "event request with ack=%u out of range: resync to %u", pp.ack,
                      pkg.resync_ack);
    }
    body = ucwa_package_json(q->r->pool, base, &pkg, res == UCWA_POLL_RESYNC, &len);
    return ucwa_http_events(q, body, len);
}
