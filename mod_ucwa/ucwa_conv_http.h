/* What the HTTP side of conversations shares: instant messaging (ucwa_messaging) and
 * calls (ucwa_calls). */
#ifndef UCWA_CONV_HTTP_H
#define UCWA_CONV_HTTP_H

#include "ucwa_http.h"
#include "ucwa_conv.h"

#define UCWA_CONV_HTTP_SIP_INPUT_MAX 300   /* characters of a "to" value */

/* The applications a transition touched, woken once the lock is released (and the push
 * dispatcher, when push is on). */
void ucwa_conv_http_wake(ucwa_txn *t, const ucwa_conv_touched *touched);
/* Copies a view's record and path into p: rendered after the lock. */
void ucwa_conv_http_detach(apr_pool_t *p, ucwa_conv_view *v);
/* 201, empty body, Location. */
int ucwa_conv_http_created(ucwa_req *q, const char *location);
int ucwa_conv_http_no_conversation(ucwa_req *q);
int ucwa_conv_http_not_found(ucwa_req *q);
/* 413: a message (or a first message) does not fit an event slot. */
int ucwa_conv_http_too_large(ucwa_req *q);
int ucwa_conv_http_bad_input(ucwa_req *q, const char *message);
/* A "to" value as a SIP address: lower case without "sip:", or NULL. */
const char *ucwa_conv_http_sip(apr_pool_t *p, const char *v);
/* Printable ASCII without blanks (operationId, threadId, sessionContext). */
int ucwa_conv_http_token_ok(const char *v);
int ucwa_conv_http_has_control(const char *v);
/* Normal, Urgent or Emergency (any case), canonical; NULL otherwise. */
const char *ucwa_conv_http_importance(const char *v);

/* What an invitation's transaction reports. */
typedef struct {
    ucwa_conv_result res;
    const char *location, *id;     /* res OK: the inviter's invitation, the conversation */
    apr_uint32_t endpoints, max_convs, max_calls;
} ucwa_conv_http_invited;

/* The answer to a call's invitation that did not start (x->res not OK): 503 (BUSY: the
 * pool's, NO_CALL: UcwaMaxCalls, logged), 409 TooManyConversations. */
int ucwa_conv_http_not_invited(ucwa_req *q, const ucwa_conv_http_invited *x);

/* Starts a conversation (in, its app and expiry filled here: now + timeout) in the
 * request's application; Location under {A}/communication/{collection}/. As
 * ucwa_app_txn: < 0 with the error sent in *rv. */
int ucwa_conv_http_invite(ucwa_req *q, ucwa_conv_invite_in *in, apr_interval_time_t timeout,
                          const char *collection, ucwa_conv_http_invited *out, int *rv);

#endif
