#include <httpd.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <apr_poll.h>
#include <unistd.h>
#include <apr_portable.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <scoreboard.h>

#include "mod_ucwa.h"
#include "ucwa_event.h"
#include "ucwa_app.h"
#include "ucwa_events.h"
#include "ucwa_push.h"
#include "ucwa_query.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define SLICE apr_time_from_msec(500)   /* how often a parked request looks around */

/* How many event requests each child process holds parked, in a table every child of
 * this generation reads: a child at its cap sends a client on (an empty package, the
 * connection closed, so the next poll comes on a new connection that another child may
 * accept) when another child has room, and answers 503 only when every child is full.
 * Indexed by scoreboard slot; the parent claims a slot for each child it starts and
 * clears it when the child exits (child_status), so a killed child counts no more.
 * Created in every post_config: a generation's children share one table, an older
 * generation keeps its own. */
typedef struct {
    volatile pid_t pid;            /* the child counted here; 0: none */
    volatile apr_uint32_t parked;
} park_slot;

/* The applications whose poll was sent on lately. The MPM may hand the new connection to
 * the same full child again (without SO_REUSEPORT buckets, the child that accepted last
 * tends to accept next); then that child parks it over its cap, within half the threads
 * it keeps for everything else, or sends it on again, a few times at most before a 503,
 * so that a client is never sent round in a loop. */
#define MOVED_KEPT 64
#define MOVED_FOR apr_time_from_sec(2)
#define MOVED_MAX 3                /* then a 503: the MPM keeps choosing this child */

typedef struct {
    volatile apr_uint64_t app;     /* slot << 32 | generation */
    volatile apr_time_t when;
} moved_rec;

typedef struct {
    apr_uint32_t slots;            /* ServerLimit */
    apr_uint32_t cap;              /* each child's cap (they share one configuration) */
    apr_uint32_t over;             /* how far over it a client sent on may park */
    volatile apr_uint32_t moved_next;
    moved_rec moved[MOVED_KEPT];
    park_slot slot[];
} park_table;

static park_table *table;

/* Per child process: its cap, its slot once found, and a count for the moment before
 * the parent has published the slot. Set up in child_init; process-local by nature. */
typedef struct {
    apr_uint32_t cap;
    apr_uint32_t parked_unslotted;
    int slot;                      /* -1: not found yet */
} child_parking;

static child_parking *parking;

static apr_uint32_t parked_cap(const ucwa_global *g)
{
    int threads = 0;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    /* by default keep 64 threads (a quarter of a small child) for everything else */
    return g->parked_per_child ? g->parked_per_child
           : threads > 256 ? (apr_uint32_t)(threads - 64)
           : (apr_uint32_t)(threads > 1 ? threads * 3 / 4 : 1);
}

/* The parent must not write to a table that went with its configuration (a restart
 * that turns Ucwa off creates none). */
static apr_status_t forget_table(void *unused)
{
    table = NULL;
    return APR_SUCCESS;
}

int ucwa_events_post_config(apr_pool_t *pconf, server_rec *s)
{
    int limit = 0, threads = 0;
    apr_shm_t *shm;
    apr_status_t rv;
    apr_size_t bytes;

    table = NULL;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit < 1) {
        limit = 1;
    }
    bytes = sizeof(park_table) + (apr_size_t)limit * sizeof(park_slot);
    rv = apr_shm_create(&shm, bytes, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, UCWALOGNO(00310)
                     "cannot create the table of parked event requests per child");
        return !OK;
    }
    table = apr_shm_baseaddr_get(shm);   /* an anonymous mapping reads as zeros */
    table->slots = (apr_uint32_t)limit;
    table->cap = parked_cap(ucwa_config_get(s)->global);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    table->over = (apr_uint32_t)threads > table->cap
                  ? ((apr_uint32_t)threads - table->cap) / 2 : 0;
    apr_pool_cleanup_register(pconf, NULL, forget_table, apr_pool_cleanup_null);
    return OK;
}

/* In the parent: a child took a scoreboard slot, or left it. */
void ucwa_events_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
                              mpm_child_status state)
{
    park_slot *ps;

    if (!table || slot < 0 || (apr_uint32_t)slot >= table->slots) {
        return;
    }
    ps = &table->slot[slot];
    if (state == MPM_CHILD_STARTED) {
        __atomic_store_n(&ps->parked, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&ps->pid, pid, __ATOMIC_SEQ_CST);
    }
    else if (__atomic_load_n(&ps->pid, __ATOMIC_SEQ_CST) == pid) {
        /* an older generation's child may leave a slot a newer child holds: pid says */
        __atomic_store_n(&ps->pid, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&ps->parked, 0, __ATOMIC_SEQ_CST);
    }
}

void ucwa_events_child_init(apr_pool_t *pchild, server_rec *s)
{
    parking = apr_pcalloc(pchild, sizeof(*parking));
    parking->cap = parked_cap(ucwa_config_get(s)->global);
    parking->slot = -1;
}

/* This child's counter: its slot in the table, once the parent has published it. */
static volatile apr_uint32_t *my_counter(void)
{
    int slot = __atomic_load_n(&parking->slot, __ATOMIC_SEQ_CST);
    pid_t me;
    apr_uint32_t i;

    if (slot >= 0) {
        return &table->slot[slot].parked;
    }
    if (table) {
        me = getpid();
        for (i = 0; i < table->slots; i++) {
            if (__atomic_load_n(&table->slot[i].pid, __ATOMIC_SEQ_CST) == me) {
                __atomic_store_n(&parking->slot, (int)i, __ATOMIC_SEQ_CST);
                return &table->slot[i].parked;
            }
        }
    }
    return &parking->parked_unslotted;
}

/* Another running child of this generation (not one stopping) holds fewer than its cap. */
static int another_child_has_room(void)
{
    apr_uint32_t i;
    int mine = __atomic_load_n(&parking->slot, __ATOMIC_SEQ_CST);

    if (!table || !ap_scoreboard_image) {
        return 0;
    }
    for (i = 0; i < table->slots; i++) {
        pid_t pid = __atomic_load_n(&table->slot[i].pid, __ATOMIC_SEQ_CST);
        const process_score *ps = ap_get_scoreboard_process((int)i);
        if ((int)i == mine || pid == 0 || !ps || ps->pid != pid || ps->quiescing
            || ps->not_accepting) {
            continue;
        }
        if (__atomic_load_n(&table->slot[i].parked, __ATOMIC_SEQ_CST) < table->cap) {
            return 1;
        }
    }
    return 0;
}

/* A parked request: its application, and the count of parked requests it is in. */
typedef struct {
    int idx;
    apr_uint32_t gen;
    volatile apr_uint32_t *counter;   /* the child's count it is in, or NULL */
} parked_ref;

static apr_uint64_t moved_key(const parked_ref *ref)
{
    return (apr_uint64_t)(apr_uint32_t)ref->idx << 32 | ref->gen;
}

/* How many times this application's poll was sent on from a full child within
 * MOVED_FOR. */
static int sent_on_lately(const parked_ref *ref, apr_time_t now)
{
    apr_uint64_t key = moved_key(ref);
    int i, n = 0;

    for (i = 0; table && i < MOVED_KEPT; i++) {
        n += __atomic_load_n(&table->moved[i].app, __ATOMIC_SEQ_CST) == key
             && now - __atomic_load_n(&table->moved[i].when, __ATOMIC_SEQ_CST) < MOVED_FOR;
    }
    return n;
}

static void note_sent_on(const parked_ref *ref, apr_time_t now)
{
    apr_uint32_t i = __atomic_fetch_add(&table->moved_next, 1, __ATOMIC_SEQ_CST) % MOVED_KEPT;

    __atomic_store_n(&table->moved[i].when, now, __ATOMIC_SEQ_CST);
    __atomic_store_n(&table->moved[i].app, moved_key(ref), __ATOMIC_SEQ_CST);
}

void ucwa_events_parked_per_child(apr_pool_t *p, const char **json)
{
    const char *out = "[";
    apr_uint32_t i;
    int n = 0;

    for (i = 0; table && i < table->slots; i++) {
        pid_t pid = __atomic_load_n(&table->slot[i].pid, __ATOMIC_SEQ_CST);
        if (pid) {
            out = apr_psprintf(p, "%s%s%u", out, n++ ? "," : "",
                               __atomic_load_n(&table->slot[i].parked, __ATOMIC_SEQ_CST));
        }
    }
    *json = apr_pstrcat(p, out, "]", NULL);
}

void ucwa_events_wake_user_locked(ucwa_txn *t, int user)
{
    int i;

    for (i = ucwa_store_first_app(t->store, user); i >= 0; i = ucwa_store_next_app(t->store, i)) {
        ucwa_txn_wake_app(t, i);
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


static void unpark_locked(ucwa_txn *t, void *baton)
{
    const parked_ref *ref = baton;
    ucwa_app *a = ucwa_store_app(t->store, ref->idx);

    if (a->gen == ref->gen && a->parked > 0) {
        a->parked--;
        a->last_seen = apr_time_now();
    }
}

/* Runs on every way out of a parked request: the app is no longer being polled by it. */
static void unpark(ucwa_req *q, parked_ref *ref)
{
    ucwa_txn_run(q->r->server, q->r->pool, unpark_locked, ref);
    if (ref->counter) {
        __atomic_sub_fetch(ref->counter, 1, __ATOMIC_SEQ_CST);
        ref->counter = NULL;
    }
}

/* Event requests the user's other applications hold parked (one each at most counts: a
 * second one of the same application is being replaced). */
static apr_uint32_t user_parked_locked(ucwa_store *s, int user, int except)
{
    apr_uint32_t n = 0;
    int i;

    for (i = ucwa_store_first_app(s, user); i >= 0; i = ucwa_store_next_app(s, i)) {
        n += i != except && ucwa_store_app(s, i)->parked > 0;
    }
    return n;
}

/* Parking: the query read against the application's sticky values, the request made the
 * application's pending GET. */
typedef enum { PARK_OK = 0, PARK_BAD, PARK_LOWER, PARK_USER_FULL } park_result;

typedef struct {
    ucwa_req *q;
    ucwa_event_params *pp;
    const char *err;
    apr_uint32_t held, my_id;
    ucwa_app *a;                   /* its seq word is read without the lock */
    parked_ref *ref;
    apr_time_t deadline;
    char base[UCWA_BASE_MAX];
} park_txn;

static int park_locked(ucwa_txn *t, int idx, void *baton)
{
    park_txn *x = baton;
    const ucwa_global *g = x->q->conf->global;
    ucwa_app *a = ucwa_store_app(t->store, idx);

    x->a = a;
    x->err = read_params(x->q, a, x->pp);
    if (x->err) {
        return PARK_BAD;
    }
    if (a->parked > 0 && x->pp->priority < a->pget_prio) {
        /* a lower priority request does not replace a higher one */
        return PARK_LOWER;
    }
    if ((x->held = user_parked_locked(t->store, (int)a->user, idx)) >= g->parked_per_user) {
        /* one account holds no more workers than this, however many applications it
         * makes: the others' devices keep theirs */
        a->last_seen = apr_time_now();   /* it still polls: it does not expire */
        return PARK_USER_FULL;
    }
    a->ev_timeout = x->pp->timeout;
    a->ev_low = x->pp->low;
    a->ev_medium = x->pp->medium;
    x->my_id = ++a->pget_id;
    a->pget_prio = x->pp->priority;
    a->parked++;
    ucwa_push_foreground(a);   /* polling again: back in the foreground */
    x->deadline = apr_time_now() + apr_time_from_sec(x->pp->timeout);
    if (x->deadline > a->parked_until) {
        a->parked_until = x->deadline;
    }
    ucwa_store_touch(a);   /* an older parked request wakes and learns it was replaced */
    ucwa_txn_wake_app(t, idx);
    x->ref->idx = idx;
    x->ref->gen = a->gen;
    x->ref->counter = NULL;
    apr_cpystrn(x->base, a->base, sizeof(x->base));
    return PARK_OK;
}

/* One look at the channel of a parked request. */
typedef enum { LOOK_OK = 0, LOOK_GONE, LOOK_EXPIRED, LOOK_REPLACED, LOOK_MOVED } look_result;

typedef struct {
    const parked_ref *ref;
    apr_uint32_t my_id, ack, seen;
    const ucwa_windows *w;
    int final;
    apr_time_t now;
    ucwa_package *pkg;
    ucwa_poll_result res;
    look_result look;
} look_txn;

static void look_locked(ucwa_txn *t, void *baton)
{
    look_txn *x = baton;
    ucwa_app *a = ucwa_store_app(t->store, x->ref->idx);

    if (a->gen != x->ref->gen || a->state != UCWA_SLOT_LIVE) {
        x->look = a->gen == x->ref->gen && a->state == UCWA_SLOT_EXPIRED ? LOOK_EXPIRED
                  : a->gen == x->ref->gen && a->moved_out ? LOOK_MOVED : LOOK_GONE;
        return;
    }
    if (a->pget_id != x->my_id) {
        x->look = LOOK_REPLACED;
        return;
    }
    x->look = LOOK_OK;
    x->res = ucwa_store_poll_locked(t->store, x->ref->idx, x->ack, x->w, x->final, x->now,
                                    t->pool, x->pkg);
    x->seen = __atomic_load_n(&a->seq, __ATOMIC_SEQ_CST);
}

int ucwa_events_not_allowed(ucwa_req *q, int what)
{
    return ucwa_http_error(q, HTTP_METHOD_NOT_ALLOWED, "MethodNotAllowed", NULL,
                           "The event channel answers GET only.");
}

int ucwa_events_get(ucwa_req *q, int what)
{
    ucwa_event_params pp;
    parked_ref ref;
    park_txn x;
    look_txn look;
    ucwa_package pkg;
    ucwa_poll_result res;
    ucwa_windows w;
    ucwa_app *a;
    apr_time_t deadline, now;
    apr_uint32_t my_id, seen, held;
    const char *body;
    apr_size_t len;
    int rv, moved, final = 0;

    memset(&x, 0, sizeof(x));
    x.q = q;
    x.pp = &pp;
    x.ref = &ref;
    switch ((park_result)ucwa_app_txn(q, park_locked, &x, &rv)) {
    case PARK_OK:
        break;
    case PARK_BAD:
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               x.err);
    case PARK_LOWER:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "PGetReplaced",
                               "A request with a higher priority is pending.");
    case PARK_USER_FULL:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00311)
                      "%s holds %u parked event requests (UcwaMaxParkedPerUser): this one "
                      "is refused", q->user, x.held);
        apr_table_setn(q->r->err_headers_out, "Retry-After", "60");
        return ucwa_http_error(q, HTTP_TOO_MANY_REQUESTS, "TooManyRequests", NULL,
                               "This account's other applications hold every event "
                               "channel it may keep open: poll again later.");
    default:
        return rv;   /* not found, expired: already answered */
    }
    a = x.a;
    my_id = x.my_id;
    deadline = x.deadline;

    w.low = apr_time_from_sec(pp.low);
    w.medium = apr_time_from_sec(pp.medium);
    ref.counter = my_counter();
    held = __atomic_add_fetch(ref.counter, 1, __ATOMIC_SEQ_CST);
    moved = held > parking->cap ? sent_on_lately(&ref, apr_time_now()) : 0;
    if (held > parking->cap && !(moved && held <= parking->cap + table->over)) {
        __atomic_sub_fetch(ref.counter, 1, __ATOMIC_SEQ_CST);
        ref.counter = NULL;
        if (moved < MOVED_MAX && another_child_has_room()) {
            /* this child is full but another is not: answer at once (the events there
             * are, or an empty package) and close the connection, so the client's next
             * poll, which it sends at once, comes on a new connection another child may
             * take. Not a 503: that would cost the client its Retry-After. */
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r, UCWALOGNO(00312)
                          "parked event requests at the per-child cap (%u): the client "
                          "is sent to another child", parking->cap);
            note_sent_on(&ref, apr_time_now());
            q->r->connection->keepalive = AP_CONN_CLOSE;
            final = 1;
        }
        else {
            /* every child is full (or the MPM keeps handing this client to this one):
             * a 503 that closes the connection (an immediate empty package would make
             * the client spin) */
            unpark(q, &ref);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00050)
                          "parked event requests at the per-child cap (%u): no child has room "
                          "for this client",
                          parking->cap);
            q->r->connection->keepalive = AP_CONN_CLOSE;
            apr_table_setn(q->r->err_headers_out, "Retry-After", "1");
            return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                                   "This server is busy: poll again.");
        }
    }
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
        memset(&look, 0, sizeof(look));
        look.ref = &ref;
        look.my_id = my_id;
        look.ack = pp.ack;
        look.w = &w;
        look.final = final;
        look.now = now;
        look.pkg = &pkg;
        if (ucwa_txn_run(q->r->server, q->r->pool, look_locked, &look) != APR_SUCCESS) {
            unpark(q, &ref);
            return ucwa_http_error(q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                                   "The session store is unavailable.");
        }
        switch (look.look) {
        case LOOK_GONE:
        case LOOK_EXPIRED:
            unpark(q, &ref);
            return look.look == LOOK_EXPIRED
                   ? ucwa_http_error(q, HTTP_GONE, "Gone", "InactiveApplicationExpired",
                                     "The application expired.")
                   : ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ApplicationNotFound",
                                     "The application was deleted.");
        case LOOK_MOVED:
            /* handed to another Front End of the pool (ucwa_pool_move): the same
             * package is asked for again, and the load balancer sends it there */
            unpark(q, &ref);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00950)
                          "event request of application %s answered 503: the application "
                          "moved to another Front End of the pool", q->app_id);
            apr_table_setn(q->r->err_headers_out, "Retry-After", "1");
            return ucwa_http_error(q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                                   "The application moved to another server of the pool: "
                                   "ask again.");
        case LOOK_REPLACED:
            unpark(q, &ref);
            return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "PGetReplaced",
                                   "A newer event request replaced this one.");
        case LOOK_OK:
            break;
        }
        res = look.res;
        seen = look.seen;
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
            unpark(q, &ref);
            return DONE;
        }
    }
    unpark(q, &ref);
    if (res == UCWA_POLL_RESYNC) {
        pkg.ack = pp.ack;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00052)
                      "event request with ack=%u out of range: resync to %u", pp.ack,
                      pkg.resync_ack);
    }
    body = ucwa_package_json(q->r->pool, x.base, &pkg, res == UCWA_POLL_RESYNC, &len);
    return ucwa_http_events(q, body, len);
}
