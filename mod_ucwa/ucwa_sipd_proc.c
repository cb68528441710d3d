/* The ucwa-sipd process: forked from the Apache parent (ucwa_sipd.c), it inherits the
 * session store's shared memory and mutex, binds its sockets as root, becomes Apache's
 * User and runs libre's event loop:
 *   - SIP on UDP and TCP at UcwaSipListenAddress, ports UcwaSipExternalListeningPort and
 *     UcwaSipPrimaryListeningPort: OPTIONS is answered 200 with Allow and Accept; a
 *     request inside a dialog it does not know (a To tag), BYE and CANCEL get 481, INVITE
 *     480 (no call reaches it yet), anything else 501. Every answer is stateless, so a
 *     flood of requests leaves no transaction behind.
 *   - the command socket (docs/ARCHITECTURE.md, "The SIP side"): JSON lines, one answer
 *     line per request; a request with an "id" is done once, a repeat gets the same
 *     answer (a child that died mid-request asks again).
 *   - the NG client of rtpengine (ucwa_sipd_ng.c). */
#include <httpd.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>
#include <jansson.h>
#include <apr_strings.h>
#include <ap_listen.h>
#include <http_log.h>
#include <mpm_common.h>
#include <unixd.h>

#include "mod_ucwa.h"
#include "ucwa_shm.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

#define ALLOW "OPTIONS, INVITE, ACK, CANCEL, BYE"
#define CONN_MAX_BUF UCWA_SIPD_MAX_LINE

/* ---- SIP ---- */

/* 1 when msg comes from this process's own address: an application's call looped to
 * this process for its callee's single number reach (ucwa_sipd_fwd.c sends it to the
 * listen address, 127.0.0.1 when that is any), whose two halves talk directly. */
static int from_self(sipd *d, const struct sip_msg *msg)
{
    const char *l = d->conf->listen;
    struct sa self;

    if (!l || !strcmp(l, "0.0.0.0") || !strcmp(l, "::")) {
        l = "127.0.0.1";
    }
    return sa_set_str(&self, l, 0) == 0 && sa_cmp(&self, &msg->src, SA_ADDR);
}

/* First of every listener: a request inside a dialog (a To tag), a BYE or a CANCEL that
 * does not come from UcwaSipProxy (nor from this process itself) gets 403 (an ACK is
 * dropped). Every dialog of ours with a SIP party is set up through Kamailio, which
 * record-routes it, so its requests come from Kamailio's address; one sent to this port
 * straight from elsewhere, with a live call's Call-ID and tags, would end, hold or
 * re-target the call past Kamailio's trust rules. */
static bool on_foreign_request(const struct sip_msg *msg, void *arg)
{
    sipd *d = arg;
    char src[80], met[16];

    if ((!pl_isset(&msg->to.tag) && pl_strcmp(&msg->met, "BYE")
         && pl_strcmp(&msg->met, "CANCEL"))
        || sipd_from_proxy(d, msg) || from_self(d, msg)) {
        return false;
    }
    d->sip_requests++;
    if (!pl_strcmp(&msg->met, "ACK")) {
        return true;
    }
    d->sip_refused++;
    re_snprintf(src, sizeof(src), "%J", &msg->src);
    re_snprintf(met, sizeof(met), "%r", &msg->met);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01200)
                 "ucwa-sipd: %s inside a dialog from %s refused: not from UcwaSipProxy",
                 met, src);
    (void)sip_reply(d->sip, msg, 403, "Forbidden");
    return true;
}

/* The one answer to an INVITE for somebody who cannot be reached now: a number nobody
 * has, a user with no application, no call service yet. A gateway maps 480 to Q.850
 * cause 18/20 ("no user responding", "subscriber absent") rather than 404's cause 1
 * ("unallocated number"), and every case answers alike (code, reason, headers): a PSTN
 * caller cannot map assigned numbers (docs/sip.md). The log tells the admin apart. */
void sipd_reply_unreachable(sipd *d, const struct sip_msg *msg)
{
    (void)sip_replyf(d->sip, msg, 480, "Temporarily Unavailable",
                     "Retry-After: 60\r\nContent-Length: 0\r\n\r\n");
}

static bool on_request(const struct sip_msg *msg, void *arg)
{
    sipd *d = arg;

    d->sip_requests++;
    if (!pl_strcmp(&msg->met, "ACK")) {
        return true;   /* to a final answer of ours, or to nothing: never answered */
    }
    if (pl_isset(&msg->to.tag) || !pl_strcmp(&msg->met, "BYE")
        || !pl_strcmp(&msg->met, "CANCEL")) {
        d->sip_refused++;
        sip_reply(d->sip, msg, 481, "Call/Transaction Does Not Exist");
        return true;
    }
    if (!pl_strcmp(&msg->met, "OPTIONS")) {
        d->sip_options++;
        sip_replyf(d->sip, msg, 200, "OK", "Allow: " ALLOW "\r\nAccept: application/sdp\r\n"
                   "Accept-Language: en\r\nContent-Length: 0\r\n\r\n");
        return true;
    }
    d->sip_refused++;
    if (!pl_strcmp(&msg->met, "INVITE")) {
        sipd_reply_unreachable(d, msg);
        return true;
    }
    sip_replyf(d->sip, msg, 501, "Not Implemented", "Allow: " ALLOW "\r\n"
               "Content-Length: 0\r\n\r\n");
    return true;
}

/* libre's SIP transport listens on TCP with a backlog of 5: a burst of connections (a
 * proxy reconnecting, a scan) then waits for SYN retransmits. The listening sockets on
 * our ports get Apache's default backlog instead (listen() again changes it). */
static void widen_backlogs(sipd *d)
{
    int fd;

    for (fd = 0; fd < 4096; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int on = 0;
        socklen_t olen = sizeof(on);
        unsigned port;

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) != 0 || !on
            || getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
            continue;
        }
        if (ss.ss_family == AF_INET) {
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        else if (ss.ss_family == AF_INET6) {
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        else {
            continue;
        }
        if (port == (unsigned)d->conf->port_external || port == (unsigned)d->conf->port_primary) {
            listen(fd, 511);
        }
    }
}

/* A whole (small) file, NUL-terminated, or NULL. */
static char *read_pem(apr_pool_t *p, const char *path, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || fi.size <= 0 || fi.size > 1024 * 1024) {
        return NULL;
    }
    buf = apr_palloc(p, (apr_size_t)fi.size + 1);
    *len = (apr_size_t)fi.size;
    if (apr_file_read_full(f, buf, *len, NULL) != APR_SUCCESS) {
        return NULL;
    }
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

/* UcwaSipCertificateFile, read as root: the certificate (its chain) and the key in one
 * file, or the certificate and a key file. */
static int tls_open(sipd *d)
{
    const ucwa_sip_conf *c = d->conf;
    int err;

    if (!c->key_file) {
        err = tls_alloc(&d->tls, TLS_METHOD_SSLV23, c->cert_file, NULL);
    }
    else {
        apr_size_t clen = 0, klen = 0;
        const char *cert = read_pem(d->pool, c->cert_file, &clen);
        const char *key = read_pem(d->pool, c->key_file, &klen);
        err = cert && key ? tls_alloc(&d->tls, TLS_METHOD_SSLV23, NULL, NULL) : ENOENT;
        if (!err) err = tls_set_certificate_pem(d->tls, cert, clen, key, klen);
    }
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, err, d->s, UCWALOGNO(00658)
                     "ucwa-sipd cannot use the certificate %s%s%s for TLS", c->cert_file,
                     c->key_file ? " with the key " : "", c->key_file ? c->key_file : "");
    }
    return err;
}

static int sip_open(sipd *d)
{
    const ucwa_sip_conf *c = d->conf;
    int ports[2], i, err;

    ports[0] = c->port_external;
    ports[1] = c->port_primary;
    if (c->cert_file && (err = tls_open(d)) != 0) {
        return err;
    }
    /* (d: the trace handler's argument, ucwa_sipd_dlg.c) */
    err = sip_alloc(&d->sip, NULL, 32, 32, 32, "ucwa-sipd", NULL, d);
    for (i = 0; !err && i < 2; i++) {
        struct sa la;
        if (i == 1 && ports[1] == ports[0]) {
            break;
        }
        err = sa_set_str(&la, c->listen, (uint16_t)ports[i]);
        if (!err) err = sip_transp_add(d->sip, SIP_TRANSP_UDP, &la);
        if (!err) {
            /* with a certificate, the stream transport is TLS, as on Skype for
             * Business's UCWA ports */
            err = d->tls ? sip_transp_add(d->sip, SIP_TRANSP_TLS, &la, d->tls)
                         : sip_transp_add(d->sip, SIP_TRANSP_TCP, &la);
        }
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, err, d->s, UCWALOGNO(00647)
                         "ucwa-sipd cannot listen for SIP on %s port %d", c->listen, ports[i]);
            return err;
        }
    }
    if (!err) err = sip_listen(&d->guard_lsnr, d->sip, true, on_foreign_request, d);
    if (!err) err = sipd_calls_open(d);   /* then INVITEs and dialogs go to it */
    if (!err) err = sip_listen(&d->lsnr, d->sip, true, on_request, d);
    if (!err) widen_backlogs(d);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, err, d->s, UCWALOGNO(00648)
                     "ucwa-sipd cannot start its SIP stack");
    }
    return err;
}

/* ---- the command socket ---- */

typedef struct sipd_conn {
    struct le le;
    sipd *d;
    int fd;
    unsigned serial;
    char buf[CONN_MAX_BUF];
    size_t len;
} sipd_conn;

static void reserve_fill(sipd *d);

static void conn_destroy(void *data)
{
    sipd_conn *k = data;

    if (k->fd >= 0) {
        fd_close(k->fd);
        close(k->fd);
    }
    list_unlink(&k->le);
    k->d->nconns--;
    reserve_fill(k->d);
}

static sipd_conn *conn_find(sipd *d, unsigned serial)
{
    struct le *le;

    LIST_FOREACH(&d->conns, le) {
        sipd_conn *k = le->data;
        if (k->serial == serial) {
            return k;
        }
    }
    return NULL;
}

/* Writes one answer line; a connection that cannot take it is closed. */
static void conn_send(sipd_conn *k, const char *line)
{
    size_t len = strlen(line), done = 0;

    while (done < len) {
        ssize_t n = send(k->fd, line + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            mem_deref(k);
            return;
        }
        done += (size_t)n;
    }
}

/* The answer line: the body (a JSON object) with the id first. */
static char *with_id(const char *id, const char *body)
{
    json_t *o = json_loads(body, 0, NULL);
    char *s;

    if (!o) {
        return NULL;
    }
    if (id) {
        json_object_set_new(o, "id", json_string(id));
    }
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void send_answer(sipd_conn *k, const char *id, const char *body)
{
    char *s = with_id(id, body), *line;

    if (!s) {
        return;
    }
    line = malloc(strlen(s) + 2);
    if (line) {
        strcpy(line, s);
        strcat(line, "\n");
        conn_send(k, line);
        free(line);
    }
    free(s);
}

static sipd_cmd_entry *cache_find(sipd *d, const char *id)
{
    int i;

    for (i = 0; i < SIPD_CACHE; i++) {
        if (d->cache[i].id[0] && !strcmp(d->cache[i].id, id)) {
            return &d->cache[i];
        }
    }
    return NULL;
}

/* A slot for a new id: the oldest answered one (never a pending one), or NULL. */
static sipd_cmd_entry *cache_take(sipd *d, const char *id)
{
    int i;

    for (i = 0; i < SIPD_CACHE; i++) {
        sipd_cmd_entry *e = &d->cache[(d->cache_next + (unsigned)i) % SIPD_CACHE];
        if (!e->pending) {
            d->cache_next = (d->cache_next + (unsigned)i + 1) % SIPD_CACHE;
            free(e->answer);
            memset(e, 0, sizeof(*e));
            apr_cpystrn(e->id, id, sizeof(e->id));
            e->at = apr_time_now();
            return e;
        }
    }
    return NULL;
}

/* A command's answer is ready: cached under its id, sent to whoever waits for it. */
static void complete(sipd *d, sipd_cmd_entry *e, const char *body)
{
    int i;

    e->pending = 0;
    e->answer = strdup(body);
    for (i = 0; i < e->nwait; i++) {
        sipd_conn *k = conn_find(d, e->waiters[i]);
        if (k) {
            send_answer(k, e->id, body);
        }
    }
    e->nwait = 0;
}

static unsigned store_applications(sipd *d);

static char *status_body(sipd *d)
{
    json_t *o = json_pack("{s:b,s:b,s:I,s:I,s:I,s:i,s:I,s:I,s:I,s:I,s:s,s:i,s:i,s:s?,s:s?,s:s,s:b,"
                          "s:I}",
                          "ok", 1, "running", 1, "pid", (json_int_t)getpid(),
                          "uptime", (json_int_t)apr_time_sec(apr_time_now() - d->started),
                          "restarts", (json_int_t)d->restarts, "calls", (int)d->calls,
                          "sipRequests", (json_int_t)d->sip_requests,
                          "sipOptions", (json_int_t)d->sip_options,
                          "sipRefused", (json_int_t)d->sip_refused,
                          "commands", (json_int_t)d->commands,
                          "listen", d->conf->listen,
                          "externalPort", d->conf->port_external,
                          "primaryPort", d->conf->port_primary,
                          "proxy", d->conf->proxy, "rtpengine", d->conf->rtpengine,
                          "stream", d->tls ? "TLS" : "TCP",
                          "store", 1, "applications", (json_int_t)store_applications(d));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

typedef struct {
    unsigned serial;             /* the connection, when the command had no id */
    sipd_cmd_entry *entry;       /* else its cache entry */
} ng_ping_ctx;

static void ng_ping_done(sipd *d, const char *err, const ng_benc *resp, apr_time_t rtt,
                         void *arg)
{
    ng_ping_ctx *x = arg;
    const char *result = resp ? ng_benc_dict_str(resp, "result") : NULL;
    json_t *o;
    char *body;

    if (err || !result || strcmp(result, "pong")) {
        o = json_pack("{s:b,s:s}", "ok", 0, "error", err ? err : "rtpengine did not pong");
    }
    else {
        o = json_pack("{s:b,s:s,s:I}", "ok", 1, "result", result, "rttMicroseconds",
                      (json_int_t)rtt);
    }
    body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (x->entry) {
        complete(d, x->entry, body);
    }
    else {
        sipd_conn *k = conn_find(d, x->serial);
        if (k) {
            send_answer(k, NULL, body);
        }
    }
    free(body);
    free(x);
}

/* Starts a command; its answer goes out now or later through complete / the conn. */
static void run_command(sipd_conn *k, const char *cmd, json_t *req, sipd_cmd_entry *e)
{
    sipd *d = k->d;
    char *body = NULL;

    d->commands++;
    if (!strcmp(cmd, "status")) {
        body = status_body(d);
    }
    else if (!strcmp(cmd, "pool")) {
        body = sipd_pool_command(d, json_string_value(json_object_get(req, "body")),
                                 json_string_value(json_object_get(req, "sdp")));
    }
    else if (!strcmp(cmd, "ng-ping")) {
        ng_ping_ctx *x = calloc(1, sizeof(*x));
        ng_benc *ping;
        apr_pool_t *p;
        if (!x) {
            body = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
        }
        else {
            x->serial = k->serial;
            x->entry = e;
            apr_pool_create(&p, d->pool);
            ping = ng_benc_dict(p);
            ng_benc_dict_add_str(p, ping, "command", "ping");
            sipd_ng_request(d, ping, ng_ping_done, x);   /* may answer at once */
            apr_pool_destroy(p);
            return;
        }
    }
    else {
        body = strdup("{\"ok\":false,\"error\":\"unknown command\"}");
    }
    if (!body) {
        body = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
    }
    if (e) {
        complete(d, e, body);
    }
    else {
        send_answer(k, NULL, body);
    }
    free(body);
}

/* One request line. Returns 0 to go on with the connection, -1 when it was closed. */
static int handle_line(sipd_conn *k, const char *line, size_t len)
{
    sipd *d = k->d;
    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *cmd = NULL, *id = NULL;
    unsigned serial = k->serial;
    sipd_cmd_entry *e = NULL;

    if (req && json_is_object(req)) {
        cmd = json_string_value(json_object_get(req, "cmd"));
        id = json_string_value(json_object_get(req, "id"));
    }
    if (!cmd || (json_object_get(req, "id") && (!id || !*id || strlen(id) > 64))) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(00649)
                     "ucwa-sipd: a command line that is not {\"cmd\":..., \"id\":...}");
        send_answer(k, NULL, "{\"ok\":false,\"error\":\"bad request\"}");
        json_decref(req);
        return conn_find(d, serial) ? 0 : -1;
    }
    if (id) {
        e = cache_find(d, id);
        if (e && !e->pending) {
            send_answer(k, id, e->answer);      /* a repeat: the same answer */
        }
        else if (e) {
            if (e->nwait < SIPD_MAX_WAITERS) {
                e->waiters[e->nwait++] = k->serial;   /* answered with the first */
            }
            else {
                send_answer(k, id, "{\"ok\":false,\"error\":\"busy\"}");
            }
        }
        else if ((e = cache_take(d, id)) == NULL) {
            send_answer(k, id, "{\"ok\":false,\"error\":\"busy\"}");
        }
        else {
            e->pending = 1;
            e->waiters[e->nwait++] = k->serial;
            run_command(k, cmd, req, e);
        }
    }
    else {
        run_command(k, cmd, req, NULL);
    }
    json_decref(req);
    return conn_find(d, serial) ? 0 : -1;
}

static void on_conn_read(int flags, void *arg)
{
    sipd_conn *k = arg;
    ssize_t n;
    char *nl;

    n = recv(k->fd, k->buf + k->len, sizeof(k->buf) - k->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        mem_deref(k);
        return;
    }
    k->len += (size_t)n;
    while ((nl = memchr(k->buf, '\n', k->len)) != NULL) {
        size_t line = (size_t)(nl - k->buf);
        if (handle_line(k, k->buf, line) < 0) {
            return;
        }
        memmove(k->buf, nl + 1, k->len - line - 1);
        k->len -= line + 1;
    }
    if (k->len == sizeof(k->buf)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, k->d->s, UCWALOGNO(00650)
                     "ucwa-sipd: a command line over %d bytes, connection closed",
                     CONN_MAX_BUF);
        send_answer(k, NULL, "{\"ok\":false,\"error\":\"line too long\"}");
        if (conn_find(k->d, k->serial)) {
            mem_deref(k);
        }
    }
}

/* Descriptors kept open on /dev/null for the command socket: when a flood of SIP
 * connections took every other one, a child's command still gets in. */
static void reserve_fill(sipd *d)
{
    while (d->nreserve < SIPD_RESERVE_FDS) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return;
        }
        d->reserve[d->nreserve++] = fd;
    }
}

static void on_accept(int flags, void *arg)
{
    sipd *d = arg;
    int fd = accept4(d->cmd_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    sipd_conn *k;

    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && d->nreserve > 0) {
        close(d->reserve[--d->nreserve]);
        fd = accept4(d->cmd_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    if (fd < 0) {
        return;
    }
    if (d->nconns >= SIPD_MAX_CONNS || !(k = mem_zalloc(sizeof(*k), conn_destroy))) {
        close(fd);
        return;
    }
    k->d = d;
    k->fd = fd;
    k->serial = ++d->conn_serial;
    d->nconns++;
    list_append(&d->conns, &k->le, k);
    if (fd_listen(fd, FD_READ, on_conn_read, k)) {
        mem_deref(k);
    }
}

/* As root (it may be in a directory only root writes): mode 0600, owned by User. */
static int cmd_open(sipd *d)
{
    const char *path = d->conf->socket_path;
    struct sockaddr_un sun;
    mode_t mask;
    int rc;

    d->cmd_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->cmd_fd < 0) {
        return errno;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    apr_cpystrn(sun.sun_path, path, sizeof(sun.sun_path));
    unlink(path);   /* a predecessor's, killed before it could remove it */
    mask = umask(0077);
    rc = bind(d->cmd_fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(mask);
    if (rc != 0 || chmod(path, 0600) != 0 || listen(d->cmd_fd, 64) != 0
        || (!geteuid() && chown(path, ap_unixd_config.user_id, ap_unixd_config.group_id))) {
        rc = errno;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rc, d->s, UCWALOGNO(00651)
                     "ucwa-sipd cannot create its command socket %s", path);
        return rc;
    }
    return fd_listen(d->cmd_fd, FD_READ, on_accept, d);
}

/* ---- the session store (inherited) ---- */

typedef struct {
    unsigned live;
} count_txn;

static void count_locked(ucwa_txn *t, void *baton)
{
    count_txn *x = baton;
    apr_uint32_t i, n = ucwa_store_max_apps(t->store);

    for (i = 0; i < n; i++) {
        x->live += ucwa_store_app(t->store, (int)i)->state == UCWA_SLOT_LIVE;
    }
}

static unsigned store_applications(sipd *d)
{
    count_txn x = { 0 };
    apr_pool_t *p;

    apr_pool_create(&p, d->pool);
    ucwa_txn_run(d->s, p, count_locked, &x);
    apr_pool_destroy(p);
    return x.live;
}

/* ---- the process ---- */

/* libre watches at most 1024 descriptors by default: 1,000 idle TCP connections to the
 * SIP ports then left none for SIP over TCP or the command socket. It may use as many as
 * the system lets the process open (the soft limit raised to the hard one, at most
 * SIPD_MAX_FDS); idle connections go after 32 s (libre's TCP transport). */
static void open_files(sipd *d)
{
    struct rlimit rl;
    rlim_t n = 1024;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        n = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > SIPD_MAX_FDS ? SIPD_MAX_FDS
                                                                       : rl.rlim_max;
        if (rl.rlim_cur < n) {
            rl.rlim_cur = n;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                n = rl.rlim_cur;
            }
        }
        else {
            n = rl.rlim_cur > SIPD_MAX_FDS ? SIPD_MAX_FDS : rl.rlim_cur;
        }
    }
    if (fd_setsize((int)n) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, UCWALOGNO(00659)
                     "ucwa-sipd cannot watch %d descriptors: libre's default stays", (int)n);
    }
}

static void libre_log(int level, const char *p, size_t len, void *arg)
{
    sipd *d = arg;

    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r')) {
        len--;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, d->s, UCWALOGNO(00652) "libre: %.*s",
                 (int)len, p);
}

static void on_signal(int sig)
{
    re_cancel();
}

/* Apache gone (killed without stopping us): end too. */
static void check_parent(void *arg)
{
    sipd *d = arg;

    if (getppid() != d->parent) {
        re_cancel();
        return;
    }
    tmr_start(&d->parent_tmr, 1000, check_parent, d);
}

int ucwa_sipd_main(server_rec *s, const ucwa_sip_conf *c, pid_t parent, unsigned restarts)
{
    sigset_t none;
    apr_pool_t *p;
    sipd *d;
    int err;

    /* the parent's handlers and mask are not ours */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGWINCH, SIG_IGN);
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        return 0;
    }
    ap_close_listeners();
    if (apr_pool_create(&p, NULL) != APR_SUCCESS || libre_init() != 0) {
        return UCWA_SIPD_STARTUP_ERROR;
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->s = s;
    d->conf = c;
    d->pool = p;
    d->parent = parent;
    d->restarts = restarts;
    d->started = apr_time_now();
    d->cmd_fd = -1;
    list_init(&d->conns);
    open_files(d);
    reserve_fill(d);
    dbg_init(DBG_WARNING, DBG_NONE);
    dbg_handler_set(libre_log, d);
    ucwa_shm_child_init(p, s);
    err = sip_open(d);
    if (!err) err = cmd_open(d);
    if (!err && (err = sipd_ng_open(d)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, err, s, UCWALOGNO(00653)
                     "ucwa-sipd cannot open its socket to rtpengine %s", c->rtpengine);
    }
    if (err || ap_run_drop_privileges(p, s) != 0) {
        return UCWA_SIPD_STARTUP_ERROR;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, UCWALOGNO(00654)
                 "ucwa-sipd (pid %" APR_PID_T_FMT ") listening for SIP on %s ports %d and "
                 "%d (UDP, %s), commands on %s%s%s", getpid(), c->listen,
                 c->port_external, c->port_primary, c->cert_file ? "TLS" : "TCP",
                 c->socket_path,
                 c->rtpengine ? ", rtpengine at " : "", c->rtpengine ? c->rtpengine : "");
    tmr_init(&d->parent_tmr);
    tmr_start(&d->parent_tmr, 1000, check_parent, d);
    sipd_calls_start(d);
    re_main(on_signal);
    tmr_cancel(&d->parent_tmr);
    sipd_calls_close(d);
    unlink(c->socket_path);
    list_flush(&d->conns);
    sipd_ng_close(d);
    mem_deref(d->lsnr);
    mem_deref(d->guard_lsnr);
    sip_close(d->sip, true);
    mem_deref(d->sip);
    mem_deref(d->tls);
    libre_close();
    return 0;
}
