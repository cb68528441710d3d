/* Calls from another application follow the callee's forwarding settings: see
 * ucwa_fwd_app.h. */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_ucwa.h"
#include "ucwa_call_forwarding.h"
#include "ucwa_callfwd.h"
#include "ucwa_fwd_app.h"
#include "ucwa_people_db.h"
#include "ucwa_pool_db.h"
#include "ucwa_sipd.h"
#include "ucwa_snr.h"

APLOG_USE_MODULE(ucwa);

int ucwa_fwd_app_route(ucwa_req *q, ucwa_conv_invite_in *in, apr_interval_time_t *more)
{
    apr_pool_t *p = q->r->pool;
    const char *why = NULL;
    ucwa_db db;
    ucwa_callfwd f;
    ucwa_voice_user vu;
    ucwa_snr_plan plan;
    int workhours;

    *more = 0;
    if (!q->conf->global->sip->enabled || !in->to || !strncmp(in->to, "tel:", 4)) {
        return 0;
    }
    in->anchor = q->conf->global->sip->anchor_apps;   /* UcwaSipAnchorAppCalls */
    if (!ucwa_people_db(q->r, p, 1, &db, &why)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(01080)
                      "call forwarding of %s not read (its applications ring): %s", in->to,
                      why ? why : "no database");
        return 0;
    }
    if (ucwa_callfwd_get(&db, p, in->to, &f) < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(01081)
                      "call forwarding of %s not read (its applications ring): %s", in->to,
                      db.err ? db.err : "database error");
        return 0;
    }
    if (!f.stored || ((!f.active_setting || !strcmp(f.active_setting, "None"))
                      && !f.unanswered_enabled)) {
        return 0;   /* the common case: one indexed read, the applications ring */
    }
    if (!ucwa_call_forwarding_voice(q->r, q->conf, p, in->to, &vu, &why)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, UCWALOGNO(01082)
                      "voice settings of %s not read (its applications ring): %s", in->to,
                      why ? why : "database error");
        return 0;
    }
    ucwa_snr_decide(&f, &vu, p, &plan);
    workhours = f.active_period && strcmp(f.active_period, "Always");
    if (plan.skipped) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(01083)
                      "%s calls %s: %s (not acted on)", q->user, in->to, plan.skipped);
    }
    if ((!plan.immediate || workhours) && (plan.simring.uri || plan.forward.uri)) {
        /* the SIP side rings the callee's applications and the legs, as for a call from
         * SIP (ucwa_sipd_fwd.c); the caller rings as long as that call may. Settings in
         * force during work hours only go there too: ucwa-sipd tells whether now is in
         * them (ucwa_workhours sets TZ, which a threaded child must not) */
        in->fwd_to = apr_pstrcat(p, "sip:", in->to, NULL);
        in->fwd_line = "";
        if (plan.forward.uri && !plan.immediate) {
            *more = apr_time_from_msec(plan.forward.delay_ms);
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(01087)
                      "%s calls %s: its applications ring through the SIP side (%s%s%s%s)",
                      q->user, in->to, plan.simring.uri ? "simultaneous ring " : "",
                      plan.simring.uri && plan.forward.uri ? "and " : "",
                      plan.forward.uri ? (plan.immediate ? "immediate forward"
                                                         : "unanswered call forward") : "",
                      workhours ? ", during work hours" : "");
        return 1;
    }
    if (!plan.immediate || !plan.forward.uri) {
        return 0;
    }
    in->fwd_to = plan.forward.uri;
    in->gw_set = plan.forward.gw_set;
    in->fwd_line = vu.line_uri && *vu.line_uri ? vu.line_uri
                                               : apr_pstrcat(p, "sip:", in->to, NULL);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(01084)
                  "%s calls %s: forwarded at once to %s%s%s", q->user, in->to, in->fwd_to,
                  in->gw_set ? ", gateway set " : "", in->gw_set ? in->gw_set : "");
    return 1;
}

void ucwa_fwd_app_anchor_pool(ucwa_req *q, ucwa_conv_invite_in *in, apr_array_header_t *fes)
{
    if (!in->anchor || (in->fwd_to && *in->fwd_to) || fes->nelts == 0
        || *APR_ARRAY_IDX(fes, 0, const char *) == '@') {
        return;
    }
    in->fwd_to = apr_pstrcat(q->r->pool, "sip:", in->to, NULL);
    in->fwd_line = "";
    fes->nelts = 0;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(01300)
                  "%s calls %s: anchored, its applications in the pool ring through the SIP "
                  "side", q->user, in->to);
}
