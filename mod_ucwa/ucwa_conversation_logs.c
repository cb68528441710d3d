/* Conversation logs and missed items (ucwa_conversation_logs.h): SQL and resources in
 * common/ucwa/ucwa_calllog; here the requests, the events and the recording. */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_app.h"
#include "ucwa_conv.h"
#include "ucwa_conversation_logs.h"
#include "ucwa_events.h"
#include "ucwa_message.h"
#include "ucwa_people_db.h"
#include "ucwa_pool.h"
#include "ucwa_pool_db.h"
#include "ucwa_query.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

#define LOGS "/communication/conversationLogs"
#define MISSED "/communication/missedItems"

/* --- events ---------------------------------------------------------------------------- */

typedef struct {
    const char *user;
    const char *id;                /* the entry */
    const char *sub;               /* its sub-path, or NULL: missedItems only */
    const char *type;              /* added / updated / deleted */
    int counts;                    /* and missedItems updated */
    const apr_array_header_t *fes; /* other Front Ends of the pool to tell, or NULL */
    int untold;                    /* of those, the ones the outbox could not take */
} notify_txn;

static void notify_locked(ucwa_txn *t, void *baton)
{
    notify_txn *x = baton;
    apr_time_t now = apr_time_now();
    int user = ucwa_store_user_find_locked(t->store, x->user, 0), i;

    for (i = 0; x->fes && i < x->fes->nelts; i++) {
        if (ucwa_pool_log_tell_locked(t->store, APR_ARRAY_IDX(x->fes, i, const char *), x->user,
                                      x->id, x->type, t->pool) < 0) {
            x->untold++;
        }
    }
    if (user < 0) {
        return;   /* no application here */
    }
    if (x->sub) {
        ucwa_store_post_user_locked(t->store, user, 0, UCWA_PRIO_HIGH, "communication",
                                    "/communication", "conversationLog", x->sub, x->type,
                                    now, t->pool);
    }
    if (x->counts) {
        ucwa_store_post_user_locked(t->store, user, 0, UCWA_PRIO_HIGH, "communication",
                                    "/communication", "missedItems", MISSED, "updated",
                                    now, t->pool);
    }
    ucwa_events_wake_user_locked(t, user);
}

/* Tells every live application of the user here that entry id was added, updated or
 * deleted (NULL: none), and that the counts changed (counts); and, with fes, the user's
 * applications on those Front Ends of the pool (through its outbox). */
static void notify(server_rec *s, apr_pool_t *p, const char *user, const char *id,
                   const char *type, int counts, const apr_array_header_t *fes)
{
    notify_txn x;

    memset(&x, 0, sizeof(x));
    x.user = user;
    x.id = id;
    x.sub = id ? ucwa_calllog_sub(p, id) : NULL;
    x.type = type;
    x.counts = counts;
    x.fes = fes;
    if (ucwa_txn_run(s, p, notify_locked, &x) == APR_SUCCESS && x.untold) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, UCWALOGNO(00537)
                     "conversation log %s of %s %s: the pool's outbox is full, %d other Front "
                     "Ends not told (their applications see it at their next GET)", id, user,
                     type, x.untold);
    }
}

/* A request's change of an entry, told here and on the pool's other Front Ends where the
 * user has applications. */
static void notify_change(ucwa_req *q, apr_pool_t *p, const char *id, const char *type)
{
    apr_array_header_t *fes = NULL;

    if (ucwa_pool_name(q->r->server) && ucwa_pool_user_fes(q->r, q->user, &fes) != 0) {
        fes = NULL;   /* logged: the others see it at their next GET */
    }
    notify(q->r->server, p, q->user, id, type, 1, fes);
}

/* --- recording --------------------------------------------------------------------------- */

static const char *const kind_modalities[] = { "Audio", "Audio,Video", "Messaging" };

int ucwa_conversation_logs_record(server_rec *s, apr_pool_t *p, const ucwa_calllog_in *in)
{
    const char *why = NULL, *kind = ucwa_calllog_kind_name(in->kind);
    ucwa_calllog e;
    ap_dbd_t *dbd;
    ucwa_db db;
    int rv;

    memset(&e, 0, sizeof(e));
    e.id = ucwa_calllog_new_id(p, in->user, kind, in->key);
    e.owner = in->user;
    e.type = kind;
    e.direction = ucwa_calllog_direction_name(in->direction);
    e.status = ucwa_calllog_status_name(in->status);
    e.peer = in->peer;
    e.peer_name = in->peer_name;
    e.subject = in->subject;
    e.importance = in->importance;
    e.thread_id = in->thread_id;
    e.modalities = in->modalities ? in->modalities
                                  : kind_modalities[(unsigned)in->kind < 3 ? in->kind : 0];
    e.preview = in->preview && in->kind == UCWA_CALLLOG_MESSAGE
                ? ucwa_calllog_preview(p, UCWA_MSG_PLAIN, in->preview, strlen(in->preview))
                : NULL;
    e.created = apr_time_as_msec(in->when ? in->when : apr_time_now());
    /* what the user took part in (Archived) is read already; a missed one is not */
    e.unread = in->status == UCWA_CALLLOG_MISSED;
    if (!e.id || !e.owner || !e.peer) {
        return -1;
    }
    if ((dbd = ucwa_people_db_open(s, p, &db, &why)) == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00530)
                     "conversation log of %s not recorded yet (tried again while the "
                     "conversation is kept): %s", in->user, why);
        return -1;
    }
    rv = ucwa_calllog_add(&db, p, &e);
    if (rv < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, UCWALOGNO(00531)
                     "conversation log of %s not recorded yet (tried again while the "
                     "conversation is kept): %s", in->user, db.err);
    }
    ucwa_people_db_close(s, dbd);
    if (rv == 1) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, UCWALOGNO(00532)
                     "conversation log %s of %s: %s %s %s with %s", e.id, in->user, e.status,
                     e.direction, e.type, e.peer);
    }
    if (rv >= 0 && in->status == UCWA_CALLLOG_MISSED) {
        /* (kept already: another Front End of the pool that alerted the user too recorded
         * it first, and told the applications there; these learn it here.) An Archived
         * entry is told nobody: its user just took part, and two more events per answered
         * conversation and application would cost every event channel slots for nothing */
        notify(s, p, in->user, e.id, "added", 1, NULL);
    }
    return rv;
}

/* --- conversations: instant messaging and calls ------------------------------------------ */

/* What a conversation record owes, copied out of the store. */
typedef struct {
    unsigned logs;
    unsigned failed;               /* of those, the ones the database did not take */
    int party0_here, party1_here;
    int slot;                      /* the record's slot, to give failed ones back */
    ucwa_conv c;                   /* the parts read: parties, subject, first message */
    const char *key;
} owed;

typedef struct {
    apr_array_header_t *owed;      /* owed */
} collect_txn;

static void collect_locked(ucwa_txn *t, void *baton)
{
    collect_txn *x = baton;
    apr_uint32_t i, n = ucwa_conv_used_locked(t->store);

    for (i = 0; i < n; i++) {
        ucwa_conv *c = ucwa_store_conv(t->store, (int)i);
        const char *kfe, *kconv;
        owed *o;
        if (c->state != UCWA_SLOT_LIVE || !c->logs) {
            continue;
        }
        o = apr_array_push(x->owed);
        o->logs = c->logs;
        o->failed = 0;
        o->slot = (int)i;
        /* party 0 (the inviter) is here unless this is a mirror; party 1 is here on a
         * mirror, or when no other Front End took the invitation */
        o->party0_here = !c->mirror;
        o->party1_here = c->mirror || !c->peer_fe[0];
        memcpy(&o->c, c, sizeof(*c));
        ucwa_pool_conv_key(t->store, c, &kfe, &kconv);
        o->key = apr_pstrcat(t->pool, kfe, "\n", kconv, NULL);
        c->logs = 0;
    }
}

/* The first message of an invitation as plain text, or NULL. */
static const char *first_text(apr_pool_t *p, const ucwa_conv *c)
{
    ucwa_msg_format fmt;
    char *text = NULL;
    apr_size_t len = 0;
    const char *why;

    if (!c->first[0] || ucwa_message_parse_data_uri(p, c->first, UCWA_CONV_FIRST_MAX, &fmt,
                                                    &text, &len, &why) != UCWA_MSG_OK) {
        return NULL;
    }
    return ucwa_calllog_preview(p, fmt, text, len);
}

/* Gives the logs the database did not take back to their records (those still kept:
 * UCWA_CONV_RETAIN after the end), so the next collection (a request's, or the
 * watchdog's within a second) records them: a database that is down for less than
 * that loses no entry. Entries have keyed ids, so one that did get in stays one. */
static void give_back_locked(ucwa_txn *t, void *baton)
{
    const apr_array_header_t *owed_list = baton;
    int i;

    for (i = 0; i < owed_list->nelts; i++) {
        const owed *o = &APR_ARRAY_IDX(owed_list, i, owed);
        ucwa_conv *c;
        if (!o->failed || o->slot >= (int)ucwa_conv_used_locked(t->store)) {
            continue;
        }
        c = ucwa_store_conv(t->store, o->slot);
        if (c->state == UCWA_SLOT_LIVE && strcmp(c->id, o->c.id) == 0) {
            c->logs |= o->failed;
        }
    }
}

/* added: the call added to an IM conversation, not the conversation's own invitation.
 * A failed entry marks its kind in o->failed. */
static void record_party(server_rec *s, apr_pool_t *p, owed *o, int side,
                         ucwa_calllog_status status, int added, unsigned bit)
{
    const ucwa_conv *c = &o->c;
    int inviter = added ? (int)c->av_side : 0;
    ucwa_calllog_in in;

    memset(&in, 0, sizeof(in));
    in.user = c->party[side].sip;
    /* the invitation state machine is the same for messaging and calls (common/ucwa/ucwa_av) */
    in.kind = c->kind != UCWA_CONV_KIND_AV && !added ? UCWA_CALLLOG_MESSAGE
              : c->video ? UCWA_CALLLOG_VIDEO : UCWA_CALLLOG_AUDIO;
    in.direction = side == inviter ? UCWA_CALLLOG_OUTGOING : UCWA_CALLLOG_INCOMING;
    in.status = status;
    in.peer = c->party[1 - side].sip;
    in.peer_name = c->party[1 - side].name;
    in.subject = c->subject;
    in.importance = c->importance;
    in.thread_id = c->thread_id;
    in.preview = in.kind == UCWA_CALLLOG_MESSAGE ? first_text(p, c) : NULL;
    /* an added call may be the conversation's second or third: its own entry, keyed by
     * its invitation */
    in.key = added ? apr_pstrcat(p, o->key, "\n", c->av_invitation[0], "\n",
                                 c->av_invitation[1], NULL) : o->key;
    if (*in.user && *in.peer && ucwa_conversation_logs_record(s, p, &in) < 0) {
        o->failed |= bit;
    }
}

void ucwa_conversation_logs_collect(server_rec *s, apr_pool_t *p)
{
    collect_txn x;
    int i, failed = 0;

    x.owed = apr_array_make(p, 2, sizeof(owed));
    if (ucwa_txn_run(s, p, collect_locked, &x) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < x.owed->nelts; i++) {
        owed *o = &APR_ARRAY_IDX(x.owed, i, owed);
        int callee = 1 - (int)o->c.av_side;
        if ((o->logs & UCWA_CONV_LOG_MISSED) && o->party1_here) {
            record_party(s, p, o, 1, UCWA_CALLLOG_MISSED, 0, UCWA_CONV_LOG_MISSED);
        }
        if (o->logs & UCWA_CONV_LOG_ARCHIVED) {
            if (o->party0_here) {
                record_party(s, p, o, 0, UCWA_CALLLOG_ARCHIVED, 0, UCWA_CONV_LOG_ARCHIVED);
            }
            if (o->party1_here) {
                record_party(s, p, o, 1, UCWA_CALLLOG_ARCHIVED, 0, UCWA_CONV_LOG_ARCHIVED);
            }
        }
        if ((o->logs & UCWA_CONV_LOG_CALL_MISSED) && (callee ? o->party1_here : o->party0_here)) {
            record_party(s, p, o, callee, UCWA_CALLLOG_MISSED, 1, UCWA_CONV_LOG_CALL_MISSED);
        }
        if (o->logs & UCWA_CONV_LOG_CALL_ARCHIVED) {
            if (o->party0_here) {
                record_party(s, p, o, 0, UCWA_CALLLOG_ARCHIVED, 1, UCWA_CONV_LOG_CALL_ARCHIVED);
            }
            if (o->party1_here) {
                record_party(s, p, o, 1, UCWA_CALLLOG_ARCHIVED, 1, UCWA_CONV_LOG_CALL_ARCHIVED);
            }
        }
        failed += o->failed != 0;
    }
    if (failed) {
        ucwa_txn_run(s, p, give_back_locked, x.owed);
    }
}

/* --- requests ------------------------------------------------------------------------------ */

typedef struct {
    ucwa_req *q;
    apr_pool_t *p;
    const char *base;
    ucwa_db db;
} logs_req;

/* The application (404/410 as for every resource of it) and the database (503): 1, or 0
 * with the error sent in *rv. */
static int begin(logs_req *x, ucwa_req *q, int *rv)
{
    memset(x, 0, sizeof(*x));
    x->q = q;
    x->p = q->r->pool;
    return ucwa_people_db_app(q, &x->db, &x->base, "conversation logs",
                              "Conversation logs are unavailable now.", rv);
}

static int failed(logs_req *x)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->q->r, UCWALOGNO(00534)
                  "conversation logs: %s", x->db.err ? x->db.err : "database error");
    return ucwa_http_error(x->q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                           "The conversation logs could not be read or changed.");
}

static int not_found(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                           "There is no such conversation log.");
}

int ucwa_conversation_logs_missed_items(ucwa_req *q, int what)
{
    ucwa_calllog_counts c;
    logs_req x;
    int rv;

    if (!begin(&x, q, &rv)) {
        return rv;
    }
    if (ucwa_calllog_count(&x.db, x.p, q->user, &c) != 0) {
        return failed(&x);
    }
    return ucwa_http_resource(q, HTTP_OK, ucwa_calllog_res_missed(x.p, x.base, &c));
}

int ucwa_conversation_logs_list(ucwa_req *q, int what)
{
    apr_array_header_t *logs;
    apr_uint32_t limit = UCWA_CALLLOG_LIMIT_DEFAULT;
    const char *why;
    logs_req x;
    int rv;

    if ((why = ucwa_query_limit(q->r->pool, q->r->args, UCWA_CALLLOG_LIMIT_DEFAULT,
                                UCWA_CALLLOG_MAX, &limit)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00535)
                      "conversation logs: %s", why);
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               "limit must be a positive number.");
    }
    if (!begin(&x, q, &rv)) {
        return rv;
    }
    if (ucwa_calllog_list(&x.db, x.p, q->user, (int)limit, &logs) != 0) {
        return failed(&x);
    }
    return ucwa_http_resource(q, HTTP_OK, ucwa_calllog_res_list(x.p, x.base, logs, q->r->args));
}

int ucwa_conversation_logs_one(ucwa_req *q, int what)
{
    const char *id = q->id[0];
    ucwa_calllog e;
    logs_req x;
    int rv, n;

    if (!begin(&x, q, &rv)) {
        return rv;
    }
    if (!ucwa_calllog_id_valid(id)) {
        return not_found(q);
    }
    if (q->r->method_number == M_GET) {
        n = ucwa_calllog_get(&x.db, x.p, q->user, id, &e);
        if (n < 0) {
            return failed(&x);
        }
        return n ? ucwa_http_resource(q, HTTP_OK, ucwa_calllog_res_entry(x.p, x.base, &e))
                 : not_found(q);
    }
    /* DELETE: the counts change with it */
    n = ucwa_calllog_delete(&x.db, x.p, q->user, id);
    if (n < 0) {
        return failed(&x);
    }
    if (n == 0) {
        return not_found(q);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00536)
                  "%s deleted conversation log %s", q->user, id);
    notify_change(q, x.p, id, "deleted");
    return ucwa_http_no_content(q);
}

int ucwa_conversation_logs_mark_read(ucwa_req *q, int what)
{
    const char *id = q->id[0];
    ucwa_calllog e;
    logs_req x;
    int rv, n;

    /* markAsRead takes no input */
    if (!ucwa_http_input(q, &rv)) {
        return rv;
    }
    if (!begin(&x, q, &rv)) {
        return rv;
    }
    if (!ucwa_calllog_id_valid(id)) {
        return not_found(q);
    }
    n = ucwa_calllog_mark_read(&x.db, x.p, q->user, id);
    if (n < 0) {
        return failed(&x);
    }
    if (n == 0) {
        /* read already (204, nothing changes), or not there */
        n = ucwa_calllog_get(&x.db, x.p, q->user, id, &e);
        if (n < 0) {
            return failed(&x);
        }
        return n ? ucwa_http_no_content(q) : not_found(q);
    }
    notify_change(q, x.p, id, "updated");
    return ucwa_http_no_content(q);
}
