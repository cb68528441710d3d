/* Conversation logs and missed items: the HTTP side of common/ucwa/ucwa_calllog (SQL and
 * resources), the events, and the entry point that records a log.
 *
 *   GET    {A}/communication/missedItems
 *   GET    {A}/communication/conversationLogs[?limit=N]   (N: 1.., default 50, at most 100)
 *   GET    {A}/communication/conversationLogs/{L}
 *   DELETE {A}/communication/conversationLogs/{L}
 *   POST   {A}/communication/conversationLogs/{L}/markAsRead
 *
 * Events (sender communication, high priority) to every live application of the user on
 * this Front End: conversationLog added (a Missed entry) / updated (markAsRead) / deleted,
 * each followed by missedItems updated. Our choices: docs/extensions.md §20. */
#ifndef UCWA_CONVERSATION_LOGS_H
#define UCWA_CONVERSATION_LOGS_H

#include <httpd.h>

#include "ucwa_calllog.h"
#include "ucwa_http.h"

/* What a conversation or a call leaves in one user's log. */
typedef struct {
    const char *user;              /* the owner: lower case, without "sip:" */
    ucwa_calllog_kind kind;
    ucwa_calllog_direction direction;
    ucwa_calllog_status status;
    const char *peer;              /* the other party: lower case, without "sip:" */
    const char *peer_name;         /* NULL: not known */
    const char *subject, *importance, *thread_id;   /* NULL: none / Normal / none */
    const char *modalities;        /* NULL: the kind's (Messaging; Audio; Audio,Video) */
    const char *preview;           /* MessageLog: the text (plain), or NULL */
    apr_time_t when;               /* 0: now */
    const char *key;               /* names the conversation (or call) the same way on every
                                    * Front End that may record it for this user, so that it
                                    * is kept once; NULL: a new entry every time */
} ucwa_calllog_in;

/* Records an entry and, when it is a Missed one, tells the user's applications here
 * (conversationLog added, missedItems updated). Call it after the transaction that ended
 * (or connected) the conversation, never inside one: it talks to the database (its own
 * mod_dbd connection) and then takes the store's lock. Usable from a request handler, the
 * sweeper and any other thread with a server_rec. 1 recorded, 0 kept already, -1 failed
 * (logged). */
int ucwa_conversation_logs_record(server_rec *s, apr_pool_t *p, const ucwa_calllog_in *in);

/* Writes the logs conversations owe (the UCWA_CONV_LOG_* marks the transitions of
 * common/ucwa/ucwa_conv leave in their records): a Missed entry for the invited user when
 * the invitation timed out or the inviter gave up or went away, an Archived one for each
 * user once it was accepted; a MessageLog for instant messaging, an AudioLog or VideoLog
 * (the offer had video) for a call. After the sweeper's transaction, and after a
 * request's transition that may leave one. */
void ucwa_conversation_logs_collect(server_rec *s, apr_pool_t *p);

/* Route handlers (ucwa_route). */
int ucwa_conversation_logs_missed_items(ucwa_req *q, int what);
int ucwa_conversation_logs_list(ucwa_req *q, int what);
int ucwa_conversation_logs_one(ucwa_req *q, int what);
int ucwa_conversation_logs_mark_read(ucwa_req *q, int what);

#endif
