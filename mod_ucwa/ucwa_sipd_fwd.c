/* ucwa-sipd: an application's call that its callee forwards at once (mod_ucwa/ucwa_fwd_app.h)
 * goes to the forwarding target, naming the callee in Diversion (RFC 5806), as a call from
 * SIP forwarded by ucwa_sipd_fork.c does. Everything else is the caller's own call to SIP
 * (ucwa_sipd_call.c). */
#include <httpd.h>
#include <string.h>
#include <jansson.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_sipd_int.h"

APLOG_USE_MODULE(ucwa);

const char *sipd_fwd_app_target(sipd *d, json_t *m, const char *to, char **div)
{
    const char *fwd = mob_json_str(m, "fwd"), *line = mob_json_str(m, "div");
    const char *kconv = mob_json_str(m, "conv");
    char buf[UCWA_SIP_MAX + 64];

    *div = NULL;
    if (!fwd || !*fwd) {
        return to;
    }
    if (line && *line && !strpbrk(line, "\r\n<>")) {
        apr_snprintf(buf, sizeof(buf), "Diversion: <%s>;reason=unconditional;counter=1\r\n",
                     line);
        *div = strdup(buf);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, UCWALOGNO(01085)
                 "ucwa-sipd: call %s to %s forwarded at once to %s (diverted by %s)",
                 kconv ? kconv : "", to, fwd, line ? line : "");
    return fwd;
}
