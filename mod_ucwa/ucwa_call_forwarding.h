/* callForwardingSettings and its settings resources (immediateForwardSettings,
 * simultaneousRingSettings, unansweredCallSettings) and actions, persisted in SQL
 * (common/ucwa/ucwa_callfwd), gated and checked by the user's voice policy and dial plan
 * (common/ucwa/ucwa_voice); the `callForwardingSettings updated` event. */
#ifndef UCWA_CALL_FORWARDING_H
#define UCWA_CALL_FORWARDING_H

#include "ucwa_http.h"
#include "ucwa_voice.h"

/* The what of ucwa_call_forwarding: the resource or action of the route. */
enum {
    UCWA_CF_SETTINGS = 0,       /* GET, PUT callForwardingSettings */
    UCWA_CF_TURN_OFF,           /* POST turnOffCallForwarding */
    UCWA_CF_IMMEDIATE,          /* GET immediateForwardSettings */
    UCWA_CF_IMMEDIATE_CONTACT,  /* POST immediateForwardToContact */
    UCWA_CF_SIMRING,            /* GET, PUT simultaneousRingSettings */
    UCWA_CF_SIMRING_CONTACT,    /* POST simultaneousRingToContact */
    UCWA_CF_UNANSWERED,         /* GET, PUT unansweredCallSettings */
    UCWA_CF_UNANSWERED_CONTACT, /* POST unansweredCallToContact */
    UCWA_CF_UNANSWERED_RESET    /* POST resetUnansweredCallSettings */
};

/* Route handler (ucwa_route) of every resource and action above. */
int ucwa_call_forwarding(ucwa_req *q, int what);

/* The voice settings of user (ucwa_voice_load) on this server's site (UcwaSite), over the
 * request's database connection; rows the model refused are logged as warnings. 1, or 0
 * with why (the database). For calls to numbers: ucwa_voice_check on the result says
 * whether and where. */
int ucwa_call_forwarding_voice(request_rec *r, const ucwa_server_conf *conf, apr_pool_t *p,
                               const char *user, ucwa_voice_user *out, const char **why);

#endif
