/* Conversation logs (UCWA's conversationLogs and missedItems): one row per user and past
 * conversation or call in SQL (table ucwa_conversation_logs of ucwa_schema, version 4),
 * read and written through ucwa_sql, and their resources as JSON. No httpd here: the HTTP
 * side, the events and the entry point that records a log are
 * mod_ucwa/ucwa_conversation_logs.
 *
 * An entry belongs to its owner (SIP address, lower case, without "sip:"); every read
 * and change names the owner, so another user's id is simply not found. A user keeps
 * at most UCWA_CALLLOG_MAX entries: adding one deletes the oldest beyond that.
 *
 * Hrefs, relative to an application {A}:
 *   {A}/communication/missedItems                        the counts
 *   {A}/communication/conversationLogs[?limit=N]         the entries, newest first
 *   {A}/communication/conversationLogs/{L}[/markAsRead]  one entry (GET, DELETE; POST) */
#ifndef UCWA_CALLLOG_H
#define UCWA_CALLLOG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "ucwa_message.h"
#include "ucwa_sql.h"

#define UCWA_CALLLOG_MAX 100            /* entries kept per user */
#define UCWA_CALLLOG_LIMIT_DEFAULT 50   /* conversationLogs without limit */
#define UCWA_CALLLOG_ID_LEN 24          /* hex digits */
#define UCWA_CALLLOG_PREVIEW_MAX 200    /* bytes of previewMessage */
#define UCWA_CALLLOG_NAME_MAX 256       /* bytes of a display name or subject kept */

typedef enum {
    UCWA_CALLLOG_AUDIO = 0, UCWA_CALLLOG_VIDEO, UCWA_CALLLOG_MESSAGE
} ucwa_calllog_kind;
typedef enum { UCWA_CALLLOG_INCOMING = 0, UCWA_CALLLOG_OUTGOING } ucwa_calllog_direction;
typedef enum { UCWA_CALLLOG_MISSED = 0, UCWA_CALLLOG_ARCHIVED } ucwa_calllog_status;

/* The names the resource shows (AudioLog, VideoLog, MessageLog; Incoming, Outgoing;
 * Missed, Archived), which are also what the table stores. */
const char *ucwa_calllog_kind_name(ucwa_calllog_kind k);
const char *ucwa_calllog_direction_name(ucwa_calllog_direction d);
const char *ucwa_calllog_status_name(ucwa_calllog_status s);

typedef struct {
    const char *id;                /* UCWA_CALLLOG_ID_LEN hex digits */
    const char *owner;             /* lower case, without "sip:" */
    const char *type;              /* a kind name */
    const char *direction;         /* a direction name */
    const char *status;            /* a status name */
    const char *peer;              /* the other party: lower case, without "sip:" */
    const char *peer_name;         /* "" when not known */
    const char *subject, *importance, *thread_id;   /* "" / "Normal" / "" when none */
    const char *modalities;        /* comma-separated: "Messaging", "Audio", "Audio,Video" */
    const char *preview;           /* MessageLog: the start of the text, else "" */
    apr_int64_t created;           /* milliseconds since the epoch */
    int unread;
} ucwa_calllog;

typedef struct {
    int logs, missed, unread_missed;
} ucwa_calllog_counts;

/* An entry id: with key (whatever names the conversation, e.g. the pool's key of it),
 * the same for every Front End that records the same conversation for the same owner
 * (so that recording it twice keeps one row); without, a random one. */
const char *ucwa_calllog_new_id(apr_pool_t *p, const char *owner, const char *kind,
                                const char *key);
int ucwa_calllog_id_valid(const char *id);

/* The previewMessage of a text: for Html the text without its tags (and the usual
 * entities decoded), blanks folded into one space, at most UCWA_CALLLOG_PREVIEW_MAX
 * bytes cut at a character boundary. */
const char *ucwa_calllog_preview(apr_pool_t *p, ucwa_msg_format fmt, const char *text,
                                 apr_size_t len);

/* --- SQL (0 / 1 / n, or -1 with db->err) ---------------------------------------------- */

/* Adds e unless the owner has an entry with its id (1 added, 0 there already), then
 * keeps the owner's UCWA_CALLLOG_MAX newest. */
int ucwa_calllog_add(ucwa_db *db, apr_pool_t *p, const ucwa_calllog *e);
/* The owner's newest entries, at most limit: an array of ucwa_calllog. */
int ucwa_calllog_list(ucwa_db *db, apr_pool_t *p, const char *owner, int limit,
                      apr_array_header_t **out);
/* 1 found, 0 not. */
int ucwa_calllog_get(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id,
                     ucwa_calllog *out);
/* Rows deleted (0 or 1). */
int ucwa_calllog_delete(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id);
/* Rows changed: 1 if it was unread, 0 if read already or absent. */
int ucwa_calllog_mark_read(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id);
int ucwa_calllog_count(ucwa_db *db, apr_pool_t *p, const char *owner, ucwa_calllog_counts *out);

/* --- resources (JSON owned by p; base is the application's path) ---------------------- */

json_t *ucwa_calllog_res_entry(apr_pool_t *p, const char *base, const ucwa_calllog *e);
/* self keeps the query the client gave (NULL: none). */
json_t *ucwa_calllog_res_list(apr_pool_t *p, const char *base, const apr_array_header_t *logs,
                              const char *args);
json_t *ucwa_calllog_res_missed(apr_pool_t *p, const char *base, const ucwa_calllog_counts *c);

/* The sub-path of an entry under the application: "/communication/conversationLogs/{id}". */
const char *ucwa_calllog_sub(apr_pool_t *p, const char *id);

#endif
