#include <httpd.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_lib.h>
#include <apr_optional_hooks.h>
#include <apr_network_io.h>
#include <apr_poll.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "mod_ucwa.h"
#include "mob_number.h"
#include "ucwa_config.h"
#include "ucwa_pool.h"
#include "ucwa_shm.h"
#include "ucwa_sipd.h"

APLOG_USE_MODULE(ucwa);

#define STATE_KEY "ucwa-sipd"
#define STOP_WAIT apr_time_from_sec(3)   /* SIGTERM, then SIGKILL */

ucwa_sip_conf *ucwa_sip_conf_make(apr_pool_t *p)
{
    ucwa_sip_conf *c = apr_pcalloc(p, sizeof(*c));

    c->listen = "127.0.0.1";
    c->port_external = UCWA_SIP_PORT_EXTERNAL;
    c->port_primary = UCWA_SIP_PORT_PRIMARY;
    return c;
}

static ucwa_sip_conf *sip_of(cmd_parms *cmd, const char **err)
{
    ucwa_global *g = ucwa_config_global(cmd, err);

    return g ? g->sip : NULL;
}

const char *ucwa_sip_set_engine(cmd_parms *cmd, void *d, int on)
{
    const char *err;
    ucwa_sip_conf *c = sip_of(cmd, &err);

    if (err) return err;
    if (cmd->info) {
        c->anchor_apps = on;   /* UcwaSipAnchorAppCalls */
    }
    else {
        c->enabled = on;
    }
    return NULL;
}

/* A numeric IPv4 or IPv6 address (the sockets bind to it before any DNS is up). */
static int numeric_ip(apr_pool_t *p, const char *v)
{
    apr_sockaddr_t *sa;

    return apr_sockaddr_info_get(&sa, v, APR_UNSPEC, 0, APR_IPV4_ADDR_OK, p) == APR_SUCCESS
           && (strchr(v, ':') || apr_isdigit(*v)) && !strchr(v, '/');
}

const char *ucwa_sip_set_listen(cmd_parms *cmd, void *d, const char *v)
{
    const char *err;
    ucwa_sip_conf *c = sip_of(cmd, &err);

    if (err) return err;
    if (!numeric_ip(cmd->temp_pool, v)) {
        return "UcwaSipListenAddress: an IPv4 or IPv6 address";
    }
    c->listen = v;
    return NULL;
}

/* UcwaSipExternalListeningPort (cmd->info NULL), UcwaSipPrimaryListeningPort. */
const char *ucwa_sip_set_port(cmd_parms *cmd, void *d, const char *v)
{
    const char *err;
    ucwa_sip_conf *c = sip_of(cmd, &err);
    apr_int64_t n;

    if (!err) err = mob_parse_number(cmd->pool, cmd->cmd->name, v, 1, 65535, &n);
    if (err) return err;
    if (cmd->info) {
        c->port_primary = (int)n;
    }
    else {
        c->port_external = (int)n;
    }
    return NULL;
}

/* UcwaSipProxy (cmd->info NULL), UcwaRtpengine: "host:port", resolved now to an address
 * (the process uses it as it is; a new address needs a restart). */
const char *ucwa_sip_set_peer(cmd_parms *cmd, void *d, const char *v)
{
    const char *err;
    ucwa_sip_conf *c = sip_of(cmd, &err);
    char *host = NULL, *scope = NULL, ip[64];
    apr_port_t port = 0;
    apr_sockaddr_t *sa;

    if (err) return err;
    if (apr_parse_addr_port(&host, &scope, &port, v, cmd->temp_pool) != APR_SUCCESS
        || !host || scope || !port) {
        return apr_psprintf(cmd->pool, "%s: host:port, as 127.0.0.1:5060", cmd->cmd->name);
    }
    if (apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, cmd->temp_pool) != APR_SUCCESS
        || apr_sockaddr_ip_getbuf(ip, sizeof(ip), sa) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: cannot resolve %s", cmd->cmd->name, host);
    }
    v = apr_psprintf(cmd->pool, strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
    if (cmd->info) {
        c->rtpengine = v;
    }
    else {
        c->proxy = v;
    }
    return NULL;
}

/* A PEM file's path, relative to ServerRoot; it must be readable now (as root). */
static const char *pem_path(cmd_parms *cmd, const char *v, const char **err)
{
    const char *path = ap_server_root_relative(cmd->pool, v);
    apr_file_t *f;

    *err = NULL;
    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, 0, cmd->temp_pool) != APR_SUCCESS) {
        *err = apr_psprintf(cmd->pool, "UcwaSipCertificateFile: cannot read %s", v);
        return NULL;
    }
    apr_file_close(f);
    return path;
}

const char *ucwa_sip_set_cert(cmd_parms *cmd, void *d, const char *cert, const char *key)
{
    const char *err;
    ucwa_sip_conf *c = sip_of(cmd, &err);

    if (err) return err;
    c->cert_file = pem_path(cmd, cert, &err);
    if (!err && key) {
        c->key_file = pem_path(cmd, key, &err);
    }
    return err;
}

/* ---- the process under the parent ---- */

/* What survives restarts, in the process pool (found again through its userdata). */
typedef struct {
    apr_proc_t proc;              /* pid 0: none running */
    const char *fingerprint;      /* the settings it runs with */
    apr_time_t started;
    unsigned restarts;            /* deaths restarted since Apache started */
    int registered;               /* an other child of the current pconf */
    apr_pool_t *pconf;            /* the configuration it was last (re)attached to */
    server_rec *s;
    const ucwa_sip_conf *conf;
} sipd_state;

/* A file's identity for the fingerprint: a renewed certificate at the same path is a
 * change (its time or size differs), so a graceful restart loads it. */
static const char *file_stamp(apr_pool_t *p, const char *path)
{
    apr_finfo_t fi;

    if (!path) {
        return "";
    }
    if (apr_stat(&fi, path, APR_FINFO_MTIME | APR_FINFO_SIZE | APR_FINFO_INODE, p)
        != APR_SUCCESS) {
        return path;
    }
    return apr_psprintf(p, "%s@%" APR_TIME_T_FMT "/%" APR_OFF_T_FMT "/%lu", path, fi.mtime,
                        fi.size, (unsigned long)fi.inode);
}

static const char *fingerprint(apr_pool_t *p, const ucwa_sip_conf *c)
{
    return apr_psprintf(p, "%s|%d|%d|%s|%s|%s|%s|%s", c->listen, c->port_external,
                        c->port_primary, c->proxy ? c->proxy : "",
                        c->rtpengine ? c->rtpengine : "", c->socket_path,
                        file_stamp(p, c->cert_file), file_stamp(p, c->key_file));
}

static void maintenance(int reason, void *data, apr_wait_t status);

static int spawn(sipd_state *st)
{
    pid_t parent = getpid(), pid;

    ucwa_sipd_dlg_segment(st->s);
    pid = fork();

    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, st->s, UCWALOGNO(00640)
                     "cannot fork ucwa-sipd (the SIP side)");
        st->proc.pid = 0;
        return !OK;
    }
    if (pid == 0) {
        /* no pool cleanup or atexit handler of the parent's may run here */
        _exit(ucwa_sipd_main(st->s, st->conf, parent, st->restarts));
    }
    st->proc.pid = pid;
    st->proc.in = st->proc.out = st->proc.err = NULL;
    st->started = apr_time_now();
    apr_proc_other_child_register(&st->proc, maintenance, st, NULL, st->pconf);
    st->registered = 1;
    return OK;
}

/* SIGTERM, a bounded wait, then SIGKILL: the ports are free once it returns. */
static void stop_process(sipd_state *st)
{
    apr_time_t deadline = apr_time_now() + STOP_WAIT;
    pid_t pid = st->proc.pid;
    int status;

    if (pid <= 0) {
        return;
    }
    if (st->registered) {
        st->registered = 0;
        apr_proc_other_child_unregister(st);
    }
    kill(pid, SIGTERM);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (apr_time_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    st->proc.pid = 0;
}

static void maintenance(int reason, void *data, apr_wait_t status)
{
    sipd_state *st = data;
    int mpm_state = AP_MPMQ_STOPPING;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(data);
        st->registered = 0;
        st->proc.pid = 0;
        ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state);
        if (mpm_state == AP_MPMQ_STOPPING) {
            break;
        }
        /* status: the exit code, or the signal's number (the MPM's wait gives either) */
        if (status == UCWA_SIPD_STARTUP_ERROR) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, st->s, UCWALOGNO(00641)
                         "ucwa-sipd could not start (see its message above): the SIP side "
                         "stays down until Apache restarts");
            break;
        }
        st->restarts++;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, st->s, UCWALOGNO(00642)
                     "ucwa-sipd died (exit code or signal %d), restarting it (restart %u)",
                     (int)status, st->restarts);
        spawn(st);
        break;
    case APR_OC_REASON_RESTART:
        /* Apache stops, or restarts hard: the process goes with it */
        apr_proc_other_child_unregister(data);
        st->registered = 0;
        if (st->proc.pid > 0) {
            kill(st->proc.pid, SIGTERM);
        }
        /* the process runs as User and may not remove it from the runtime directory */
        if (st->conf && st->conf->socket_path) {
            unlink(st->conf->socket_path);
        }
        st->fingerprint = NULL;   /* not to be kept by the next configuration */
        break;
    case APR_OC_REASON_UNREGISTER:
        /* the configuration is cleared (a graceful restart too): post_config decides */
        st->registered = 0;
        break;
    }
}

static sipd_state *state_of(server_rec *s)
{
    void *data = NULL;
    sipd_state *st;

    apr_pool_userdata_get(&data, STATE_KEY, s->process->pool);
    if (data) {
        return data;
    }
    st = apr_pcalloc(s->process->pool, sizeof(*st));
    apr_pool_userdata_set(st, STATE_KEY, apr_pool_cleanup_null, s->process->pool);
    return st;
}

/* Whether the process still runs; when it ended (reaped here, or already), its pid is
 * forgotten, so that nothing is ever sent to a pid the system gave to another. */
static int alive(sipd_state *st)
{
    int status;

    if (st->proc.pid > 0 && waitpid(st->proc.pid, &status, WNOHANG) == 0) {
        return 1;
    }
    st->proc.pid = 0;
    return 0;
}

static void sip_enable_locked(ucwa_txn *t, void *baton)
{
    ucwa_pool_sip_enable_locked(t->store, *(int *)baton);
}

int ucwa_sipd_post_config(apr_pool_t *pconf, server_rec *s, int used)
{
    ucwa_sip_conf *c = ucwa_config_get(s)->global->sip;
    sipd_state *st;
    const char *path, *fp;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;   /* the first pass only checks the configuration */
    }
    st = state_of(s);
    if (used) {
        /* the outbox is ucwa-sipd's when there is no pool (calls to SIP endpoints) */
        int on = c->enabled;
        if (ucwa_txn_run(s, pconf, sip_enable_locked, &on) != APR_SUCCESS) {
            return !OK;
        }
    }
    if (!c->enabled || !used) {
        if (alive(st)) {
            stop_process(st);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00643)
                         "ucwa-sipd stopped: UcwaSip is off now");
        }
        st->fingerprint = NULL;
        return OK;
    }
    path = ap_runtime_dir_relative(pconf, apr_psprintf(pconf, "ucwa-sipd.%" APR_PID_T_FMT
                                                       ".sock", getpid()));
    if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, UCWALOGNO(00644)
                     "ucwa-sipd's command socket path is too long: %s (shorten "
                     "DefaultRuntimeDir)", path ? path : "?");
        return !OK;
    }
    c->socket_path = path;
    fp = fingerprint(pconf, c);
    st->pconf = pconf;
    st->s = s;
    st->conf = c;
    if (alive(st) && st->fingerprint && !strcmp(st->fingerprint, fp)) {
        /* a graceful restart with the same SIP settings: calls and transactions go on */
        apr_proc_other_child_register(&st->proc, maintenance, st, NULL, pconf);
        st->registered = 1;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00645)
                     "ucwa-sipd (pid %" APR_PID_T_FMT ") kept: its settings did not change",
                     st->proc.pid);
        return OK;
    }
    if (alive(st)) {
        stop_process(st);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00646)
                     "ucwa-sipd replaced: its settings changed, or Apache restarted");
    }
    st->fingerprint = apr_pstrdup(s->process->pool, fp);
    return spawn(st);
}

/* ---- the children's client of the command socket ---- */

/* One request line, one answer line; NULL when the process does not answer within
 * timeout. */
static const char *ask(apr_pool_t *p, const char *path, const char *line,
                       apr_interval_time_t timeout)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    apr_size_t len = strlen(line), got = 0, cap = 4096;
    char *buf = apr_palloc(p, cap);
    struct timeval tv;

    if (fd < 0) {
        return NULL;
    }
    tv.tv_sec = (time_t)apr_time_sec(timeout);
    tv.tv_usec = (suseconds_t)apr_time_usec(timeout);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    apr_cpystrn(sun.sun_path, path, sizeof(sun.sun_path));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0
        || send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    while (got < cap - 1) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (apr_size_t)n;
        if (memchr(buf + got - n, '\n', (size_t)n)) {
            break;
        }
    }
    close(fd);
    if (!got || buf[got - 1] != '\n') {
        return NULL;
    }
    buf[got - 1] = '\0';
    return buf;
}

const char *ucwa_sipd_ask(apr_pool_t *p, server_rec *s, const char *line,
                          apr_interval_time_t timeout)
{
    const ucwa_sip_conf *c = ucwa_config_get(s)->global->sip;

    return c->enabled && c->socket_path ? ask(p, c->socket_path, line, timeout) : NULL;
}

const char *ucwa_sipd_status(apr_pool_t *p, server_rec *s)
{
    const ucwa_sip_conf *c = ucwa_config_get(s)->global->sip;
    const char *answer;

    if (!c->enabled || !c->socket_path) {
        return NULL;
    }
    answer = ask(p, c->socket_path, "{\"cmd\":\"status\"}\n", apr_time_from_sec(1));
    if (!answer || *answer != '{') {
        return "{\"running\":false}";
    }
    return answer;
}

/* mod_status's server-status: the same object, as a section of the page, or one line
 * "UcwaSip: {...}" of ?auto. */
static int status_hook(request_rec *r, int flags)
{
    const char *sip = ucwa_sipd_status(r->pool, r->server);   /* server-wide */

    if (!sip) {
        return OK;
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rvputs(r, "UcwaSip: ", sip, "\n", NULL);
    }
    else {
        ap_rvputs(r, "<hr />\n<h2>ucwa-sipd (mod_ucwa's SIP side)</h2>\n<pre>",
                  ap_escape_html(r->pool, sip), "</pre>\n", NULL);
    }
    return OK;
}

void ucwa_sipd_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
