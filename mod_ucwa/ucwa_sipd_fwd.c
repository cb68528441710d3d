/* ucwa-sipd: an application's call that its callee forwards (mod_ucwa/ucwa_fwd_app.h).
 *
 * At once: it goes to the forwarding target, naming the callee in Diversion (RFC 5806),
 * as a call from SIP forwarded by ucwa_sipd_fork.c does; everything else is the caller's
 * own call to SIP (ucwa_sipd_call.c).
 *
 * Simultaneous ring, unanswered call forward: the call is sent to the callee's own SIP
 * URI at this process's own primary port (not through Kamailio, which would ring a
 * registered phone of the callee's instead), carrying a token only this process knows,
 * and is taken there as a call from SIP (the callee's applications ring, the legs are
 * ucwa_sipd_fork.c's): the same single number reach for both kinds of caller, at the cost
 * of a second rtpengine call between the two halves. */
#include <httpd.h>
#include <string.h>
#include <jansson.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

#define LOOP_HEADER "P-Ucwa-Loop"

static const char *loop_token(sipd *d)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    int i;

    if (!d->loop_token[0] && apr_generate_random_bytes(b, sizeof(b)) == APR_SUCCESS) {
        for (i = 0; i < 16; i++) {
            d->loop_token[2 * i] = hex[b[i] >> 4];
            d->loop_token[2 * i + 1] = hex[b[i] & 15];
        }
        d->loop_token[32] = '\0';
    }
    return d->loop_token;
}

const char *sipd_fwd_app_target(sipd *d, json_t *m, const char *to, char **hdrs,
                                char **route, char **name)
{
    const char *fwd = mob_json_str(m, "fwd"), *line = mob_json_str(m, "div");
    const char *kconv = mob_json_str(m, "conv"), *dn = mob_json_str(m, "name");
    char buf[UCWA_SIP_MAX + 64];

    *hdrs = *route = *name = NULL;
    if (!fwd || !*fwd) {
        return to;
    }
    if (!line || !*line) {
        /* the callee's own single number reach: looped to this process */
        const char *token = loop_token(d);
        const char *addr = d->conf->listen && strcmp(d->conf->listen, "0.0.0.0")
                           && strcmp(d->conf->listen, "::") ? d->conf->listen : "127.0.0.1";
        if (!*token) {
            return to;   /* no randomness: through Kamailio as before */
        }
        apr_snprintf(buf, sizeof(buf), "sip:%s%s%s:%d;lr", strchr(addr, ':') ? "[" : "",
                     addr, strchr(addr, ':') ? "]" : "", d->conf->port_primary);
        *route = strdup(buf);
        apr_snprintf(buf, sizeof(buf), LOOP_HEADER ": %s\r\n", token);
        *hdrs = strdup(buf);
        if (dn && *dn && !strpbrk(dn, "\r\n\"\\")) {
            *name = strdup(dn);
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01086)
                     "ucwa-sipd: call %s to %s: its single number reach, through %s",
                     kconv ? kconv : "", to, *route);
        return to;
    }
    if (!strpbrk(line, "\r\n<>")) {
        apr_snprintf(buf, sizeof(buf), "Diversion: <%s>;reason=unconditional;counter=1\r\n",
                     line);
        *hdrs = strdup(buf);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01085)
                 "ucwa-sipd: call %s to %s forwarded at once to %s (diverted by %s)",
                 kconv ? kconv : "", to, fwd, line);
    return fwd;
}

int sipd_fwd_app_loop(sipd *d, const struct sip_msg *msg)
{
    const struct sip_hdr *h = sip_msg_xhdr(msg, LOOP_HEADER);

    return h && d->loop_token[0] && !pl_strcmp(&h->val, d->loop_token);
}
