/* ucwa-sipd: mod_ucwa's SIP side, one process forked by the Apache parent (UcwaSip On).
 *
 * ucwa_sipd.c is its life under Apache: the directives, the fork in post_config, the
 * restart when it dies (an "other child" of the parent, as mod_cgid's daemon), kept
 * across a graceful restart when its settings did not change; and the children's client
 * of its command socket. ucwa_sipd_proc.c is the process itself: libre's event loop, SIP
 * on UDP and TCP, the command socket; ucwa_sipd_ng.c its NG client of rtpengine. See
 * docs/ARCHITECTURE.md, "The SIP side". */
#ifndef UCWA_SIPD_H
#define UCWA_SIPD_H

#include <httpd.h>
#include <http_config.h>

#define UCWA_SIP_PORT_EXTERNAL 5088   /* Skype for Business's UCWA listening ports */
#define UCWA_SIP_PORT_PRIMARY 5089
#define UCWA_SIPD_MAX_LINE 65536      /* a command or its answer, in bytes */

typedef struct ucwa_sip_conf {
    int enabled;                  /* UcwaSip On */
    int anchor_apps;              /* UcwaSipAnchorAppCalls On: calls between applications
                                   * go through the SIP side (mod_ucwa/ucwa_fwd_app.c) */
    const char *listen;           /* UcwaSipListenAddress (an IP address) */
    int port_external;            /* UcwaSipExternalListeningPort */
    int port_primary;             /* UcwaSipPrimaryListeningPort */
    const char *proxy;            /* UcwaSipProxy, as "address:port" (NULL: none) */
    const char *rtpengine;        /* UcwaRtpengine, as "address:port" (NULL: none) */
    const char *cert_file;        /* UcwaSipCertificateFile: TLS instead of TCP (NULL: TCP) */
    const char *key_file;         /* its key, when not in cert_file */
    const char *socket_path;      /* the command socket, set in post_config */
} ucwa_sip_conf;

ucwa_sip_conf *ucwa_sip_conf_make(apr_pool_t *p);

const char *ucwa_sip_set_engine(cmd_parms *cmd, void *d, int on);
const char *ucwa_sip_set_listen(cmd_parms *cmd, void *d, const char *v);
const char *ucwa_sip_set_port(cmd_parms *cmd, void *d, const char *v);
const char *ucwa_sip_set_peer(cmd_parms *cmd, void *d, const char *v);
const char *ucwa_sip_set_cert(cmd_parms *cmd, void *d, const char *cert, const char *key);

/* In the parent's post_config, after the session store: starts ucwa-sipd, keeps the
 * running one, replaces it or stops it, as the configuration says (stops it when used
 * is 0: no site has Ucwa On any more). */
int ucwa_sipd_post_config(apr_pool_t *pconf, server_rec *s, int used);

/* The process's own status as a JSON object (asked over its socket, one second at
 * most), {"running":false} when it does not answer, NULL when UcwaSip is off. Shown by
 * /ucwa-status (as "sip") and by mod_status's server-status. */
const char *ucwa_sipd_status(apr_pool_t *p, server_rec *s);
/* One command line (ending in a newline) to ucwa-sipd, its answer line; NULL when UcwaSip
 * is off or the process does not answer within timeout (the pool's thread hands it the
 * SIP side's messages so: mod_ucwa/ucwa_pool_db.c). */
const char *ucwa_sipd_ask(apr_pool_t *p, server_rec *s, const char *line,
                          apr_interval_time_t timeout);
void ucwa_sipd_register_hooks(void);
/* In the parent, before the first fork: the shared segment where ucwa-sipd keeps its
 * established dialogs across its own restart (ucwa_sipd_dlg.c); made once. */
void ucwa_sipd_dlg_segment(server_rec *s);

/* The process's main (ucwa_sipd_proc.c): runs until SIGTERM or SIGHUP, or until the
 * parent is gone. Returns the exit code: 0, or UCWA_SIPD_STARTUP_ERROR when it could
 * not listen. */
#define UCWA_SIPD_STARTUP_ERROR 78   /* EX_CONFIG */
int ucwa_sipd_main(server_rec *s, const ucwa_sip_conf *c, pid_t parent, unsigned restarts);

#endif
