#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "mob_hex.h"
#include "mob_json.h"
#include "ucwa_calllog.h"
#include "ucwa_conv.h"

#define STR(x) #x
#define XSTR(x) STR(x)

#define TABLE "ucwa_conversation_logs"
#define COLS "log_id, owner, log_type, direction, status, peer, peer_name, subject, " \
             "importance, thread_id, modalities, preview, created, unread"
#define NCOLS 14

static const char *const kinds[] = { "AudioLog", "VideoLog", "MessageLog" };
static const char *const directions[] = { "Incoming", "Outgoing" };
static const char *const statuses[] = { "Missed", "Archived" };

const char *ucwa_calllog_kind_name(ucwa_calllog_kind k)
{
    return (unsigned)k < 3 ? kinds[k] : kinds[0];
}

const char *ucwa_calllog_direction_name(ucwa_calllog_direction d)
{
    return (unsigned)d < 2 ? directions[d] : directions[0];
}

const char *ucwa_calllog_status_name(ucwa_calllog_status s)
{
    return (unsigned)s < 2 ? statuses[s] : statuses[0];
}

const char *ucwa_calllog_new_id(apr_pool_t *p, const char *owner, const char *kind,
                                const char *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *in;

    if (!key) {
        return apr_generate_random_bytes(md, UCWA_CALLLOG_ID_LEN / 2) == APR_SUCCESS
               ? mob_hex(p, md, UCWA_CALLLOG_ID_LEN / 2) : NULL;
    }
    /* a newline keeps the fields apart: addresses and kinds hold none */
    in = apr_pstrcat(p, owner, "\n", kind, "\n", key, NULL);
    if (!EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha256(), NULL)) {
        return NULL;
    }
    return mob_hex(p, md, UCWA_CALLLOG_ID_LEN / 2);
}

int ucwa_calllog_id_valid(const char *id)
{
    apr_size_t i;

    for (i = 0; id && id[i]; i++) {
        if (!strchr("0123456789abcdef", id[i])) {
            return 0;
        }
    }
    return id && i == UCWA_CALLLOG_ID_LEN;
}

/* --- preview ----------------------------------------------------------------------- */

static const struct {
    const char *name;
    char c;
} entities[] = {
    { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
    { "&#39;", '\'' }, { "&apos;", '\'' }, { "&nbsp;", ' ' },
};

const char *ucwa_calllog_preview(apr_pool_t *p, ucwa_msg_format fmt, const char *text,
                                 apr_size_t len)
{
    char *out = apr_palloc(p, len + 1);
    apr_size_t i = 0, n = 0, k;
    int blank = 1;   /* at the start: leading blanks go */

    while (i < len) {
        char c = text[i];
        if (fmt == UCWA_MSG_HTML && c == '<') {
            const char *end = memchr(text + i, '>', len - i);
            i = end ? (apr_size_t)(end - text) + 1 : len;
            c = ' ';   /* a tag separates words (<br>, </p>) */
        }
        else if (fmt == UCWA_MSG_HTML && c == '&') {
            for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
                apr_size_t el = strlen(entities[k].name);
                if (len - i >= el && !strncasecmp(text + i, entities[k].name, el)) {
                    break;
                }
            }
            if (k < sizeof(entities) / sizeof(entities[0])) {
                c = entities[k].c;
                i += strlen(entities[k].name);
            }
            else {
                i++;
            }
        }
        else {
            i++;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (!blank) {
                out[n++] = ' ';
            }
            blank = 1;
            continue;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f) {
            continue;   /* other controls have no place in a one-line preview */
        }
        out[n++] = c;
        blank = 0;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    if (n > UCWA_CALLLOG_PREVIEW_MAX) {
        apr_size_t cut = UCWA_CALLLOG_PREVIEW_MAX;
        while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80) {
            cut--;   /* out[cut] continues a character: cut before that character */
        }
        n = cut;
    }
    out[n] = '\0';
    return out;
}

/* --- SQL ----------------------------------------------------------------------------- */

static const char *num(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static void from_row(const char **c, ucwa_calllog *e)
{
    e->id = c[0];
    e->owner = c[1];
    e->type = or_empty(c[2]);
    e->direction = or_empty(c[3]);
    e->status = or_empty(c[4]);
    e->peer = or_empty(c[5]);
    e->peer_name = or_empty(c[6]);
    e->subject = or_empty(c[7]);
    e->importance = c[8] && *c[8] ? c[8] : "Normal";
    e->thread_id = or_empty(c[9]);
    e->modalities = or_empty(c[10]);
    e->preview = or_empty(c[11]);
    e->created = c[12] ? apr_atoi64(c[12]) : 0;
    e->unread = c[13] && atoi(c[13]) != 0;
}

int ucwa_calllog_get(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id,
                     ucwa_calllog *out)
{
    apr_array_header_t *rows;
    const char *args[2] = { owner, id };

    if (ucwa_sql_select(db, p, "ucwa_calllog_1", "SELECT " COLS " FROM " TABLE
                        " WHERE owner = %s AND log_id = %s", 2, args, NCOLS, &rows)) {
        return -1;
    }
    if (rows->nelts == 0) {
        return 0;
    }
    from_row(APR_ARRAY_IDX(rows, 0, const char **), out);
    return 1;
}

/* A text kept at most max bytes, cut at a character boundary. */
static const char *bounded(apr_pool_t *p, const char *s, apr_size_t max)
{
    apr_size_t n = s ? strlen(s) : 0;

    if (n <= max) {
        return or_empty(s);
    }
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80) {
        max--;
    }
    return apr_pstrndup(p, s, max);
}

int ucwa_calllog_add(ucwa_db *db, apr_pool_t *p, const ucwa_calllog *e)
{
    const char *args[NCOLS + 2] = {
        e->id, e->owner, e->type, e->direction, e->status, e->peer,
        bounded(p, e->peer_name, UCWA_CALLLOG_NAME_MAX),
        bounded(p, e->subject, UCWA_CALLLOG_NAME_MAX * 4),
        e->importance && *e->importance ? e->importance : "Normal",
        bounded(p, e->thread_id, 64), or_empty(e->modalities),
        bounded(p, e->preview, UCWA_CALLLOG_PREVIEW_MAX), num(p, e->created),
        e->unread ? "1" : "0", e->owner, e->id
    };
    const char *trim[2] = { e->owner, e->owner };
    ucwa_calllog old;
    int n = 0;

    /* INSERT ... SELECT ... WHERE NOT EXISTS: a row recorded already (by another Front
     * End of the pool, or twice here) stays one; two at the very same moment: one of
     * them meets the primary key, and finds the row the other added */
    if (ucwa_sql_exec(db, p, "ucwa_calllog_2", "INSERT INTO " TABLE " (" COLS ") SELECT "
                      "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, CAST(%s AS BIGINT), "
                      "CAST(%s AS INTEGER) WHERE NOT EXISTS (SELECT 1 FROM " TABLE
                      " WHERE owner = %s AND log_id = %s)", NCOLS + 2, args, &n) != 0) {
        const char *err = db->err;
        if (ucwa_calllog_get(db, p, e->owner, e->id, &old) == 1) {
            return 0;
        }
        db->err = err;
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    if (ucwa_sql_exec(db, p, "ucwa_calllog_3", "DELETE FROM " TABLE " WHERE owner = %s AND "
                      "log_id NOT IN (SELECT log_id FROM " TABLE " WHERE owner = %s ORDER BY "
                      "created DESC, log_id DESC LIMIT " XSTR(UCWA_CALLLOG_MAX) ")",
                      2, trim, NULL) != 0) {
        return -1;
    }
    return 1;
}

int ucwa_calllog_list(ucwa_db *db, apr_pool_t *p, const char *owner, int limit,
                      apr_array_header_t **out)
{
    apr_array_header_t *rows;
    const char *args[2] = { owner, num(p, limit) };
    int i;

    if (ucwa_sql_select(db, p, "ucwa_calllog_4", "SELECT " COLS " FROM " TABLE
                        " WHERE owner = %s ORDER BY created DESC, log_id DESC "
                        "LIMIT CAST(%s AS INTEGER)", 2, args, NCOLS, &rows)) {
        return -1;
    }
    *out = apr_array_make(p, rows->nelts, sizeof(ucwa_calllog));
    for (i = 0; i < rows->nelts; i++) {
        from_row(APR_ARRAY_IDX(rows, i, const char **), apr_array_push(*out));
    }
    return 0;
}

int ucwa_calllog_delete(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id)
{
    const char *args[2] = { owner, id };
    int n = 0;

    if (ucwa_sql_exec(db, p, "ucwa_calllog_5", "DELETE FROM " TABLE
                      " WHERE owner = %s AND log_id = %s", 2, args, &n)) {
        return -1;
    }
    return n;
}

int ucwa_calllog_mark_read(ucwa_db *db, apr_pool_t *p, const char *owner, const char *id)
{
    const char *args[2] = { owner, id };
    int n = 0;

    if (ucwa_sql_exec(db, p, "ucwa_calllog_6", "UPDATE " TABLE " SET unread = 0"
                      " WHERE owner = %s AND log_id = %s AND unread <> 0", 2, args, &n)) {
        return -1;
    }
    return n;
}

int ucwa_calllog_count(ucwa_db *db, apr_pool_t *p, const char *owner, ucwa_calllog_counts *out)
{
    apr_array_header_t *rows;
    const char *args[1] = { owner };
    const char **c;

    if (ucwa_sql_select(db, p, "ucwa_calllog_7", "SELECT COUNT(*), "
                        "COALESCE(SUM(CASE WHEN status = 'Missed' THEN 1 ELSE 0 END), 0), "
                        "COALESCE(SUM(CASE WHEN status = 'Missed' AND unread <> 0 THEN 1 "
                        "ELSE 0 END), 0) FROM " TABLE " WHERE owner = %s", 1, args, 3, &rows)) {
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (rows->nelts > 0) {
        c = APR_ARRAY_IDX(rows, 0, const char **);
        out->logs = c[0] ? atoi(c[0]) : 0;
        out->missed = c[1] ? atoi(c[1]) : 0;
        out->unread_missed = c[2] ? atoi(c[2]) : 0;
    }
    return 0;
}

/* --- resources ------------------------------------------------------------------------ */

const char *ucwa_calllog_sub(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "/communication/conversationLogs/", id, NULL);
}

static json_t *href(apr_pool_t *p, const char *base, const char *sub, const char *sub2)
{
    return json_pack("{s:s}", "href", apr_pstrcat(p, base, sub, sub2, NULL));
}

json_t *ucwa_calllog_res_entry(apr_pool_t *p, const char *base, const ucwa_calllog *in)
{
    const char *self = ucwa_calllog_sub(p, in->id);
    json_t *o = json_object(), *links = json_object(), *mods = json_array(), *rcpt;
    char *m, *last, *tok;
    ucwa_calllog copy = *in, *e = &copy;

    /* what the caller left out reads as empty */
    e->type = or_empty(e->type);
    e->direction = or_empty(e->direction);
    e->status = or_empty(e->status);
    e->peer = or_empty(e->peer);
    e->peer_name = or_empty(e->peer_name);
    e->subject = or_empty(e->subject);
    e->importance = e->importance && *e->importance ? e->importance : "Normal";
    e->thread_id = or_empty(e->thread_id);
    e->modalities = or_empty(e->modalities);
    e->preview = or_empty(e->preview);

    json_object_set_new(o, "rel", json_string("conversationLog"));
    json_object_set_new(o, "creationTime", json_string(ucwa_conv_date(p, e->created * 1000)));
    json_object_set_new(o, "direction", json_string(e->direction));
    json_object_set_new(o, "importance", json_string(e->importance));
    for (m = apr_pstrdup(p, e->modalities), tok = apr_strtok(m, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        json_array_append_new(mods, json_string(tok));
    }
    json_object_set_new(o, "modalities", mods);
    if (*e->preview) {
        json_object_set_new(o, "previewMessage", json_string(e->preview));
    }
    json_object_set_new(o, "status", json_string(e->status));
    json_object_set_new(o, "subject", json_string(e->subject));
    if (*e->thread_id) {
        json_object_set_new(o, "threadId", json_string(e->thread_id));
    }
    json_object_set_new(o, "totalRecipientsCount", json_integer(1));
    json_object_set_new(o, "type", json_string(e->type));
    json_object_set_new(links, "self", href(p, base, self, NULL));
    if (e->unread) {
        /* offered while there is something to mark (docs/extensions.md) */
        json_object_set_new(links, "markAsRead", href(p, base, self, "/markAsRead"));
    }
    json_object_set_new(o, "_links", links);
    rcpt = json_pack("{s:s,s:s,s:s,s:{s:o,s:o,s:o}}", "rel", "conversationLogRecipient",
                     "displayName", e->peer_name,
                     "sipUri", strncmp(e->peer, "tel:", 4)
                               ? apr_pstrcat(p, "sip:", e->peer, NULL) : e->peer,
                     "_links", "contact", href(p, base, "/people/", e->peer),
                     "contactPhoto", href(p, base, "/photos/", e->peer),
                     "contactPresence", href(p, base, "/people/",
                                             apr_pstrcat(p, e->peer, "/presence", NULL)));
    json_object_set_new(o, "_embedded", json_pack("{s:[o]}", "conversationLogRecipient", rcpt));
    return mob_json_own(p, o);
}

json_t *ucwa_calllog_res_list(apr_pool_t *p, const char *base, const apr_array_header_t *logs,
                              const char *args)
{
    json_t *links = json_object(), *list = json_array();
    int i;

    json_object_set_new(links, "self", href(p, base, "/communication/conversationLogs",
                                            args && *args ? apr_pstrcat(p, "?", args, NULL)
                                                          : NULL));
    for (i = 0; i < logs->nelts; i++) {
        const ucwa_calllog *e = &APR_ARRAY_IDX(logs, i, ucwa_calllog);
        json_array_append_new(list, href(p, base, ucwa_calllog_sub(p, e->id), NULL));
    }
    if (json_array_size(list)) {
        json_object_set_new(links, "conversationLog", list);
    }
    else {
        json_decref(list);
    }
    return mob_json_own(p, json_pack("{s:s,s:o}", "rel", "conversationLogs", "_links", links));
}

json_t *ucwa_calllog_res_missed(apr_pool_t *p, const char *base, const ucwa_calllog_counts *c)
{
    return mob_json_own(p, json_pack("{s:s,s:i,s:s,s:i,s:i,s:i,s:i,s:{s:o}}",
                                     "rel", "missedItems",
                                     "conversationLogsCount", c->logs,
                                     "conversationLogsNotifications", "Enabled",
                                     "missedConversationsCount", c->missed,
                                     "unreadMissedConversationsCount", c->unread_missed,
                                     "unreadVoicemailsCount", 0,
                                     "voiceMailsCount", 0,
                                     "_links", "self",
                                     href(p, base, "/communication/missedItems", NULL)));
}
