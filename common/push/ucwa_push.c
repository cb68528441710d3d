#include <string.h>
#include <apr_strings.h>

#include "ucwa_push.h"

static apr_uint32_t word(ucwa_store *s, int which)
{
    return *ucwa_store_word(s, which);
}

/* One past the last job slot in use: jobs are queued in the lowest free slot, and the
 * scans stop here, so a quiet queue costs nothing to look through. */
apr_uint32_t ucwa_push_used_locked(ucwa_store *s)
{
    apr_uint32_t end = word(s, UCWA_WORD_PUSH_USED), n = ucwa_store_get_limits(s)->max_push;

    return end < n ? end : n;
}

void ucwa_push_configure_locked(ucwa_store *s, int enabled, apr_uint32_t after_s,
                         ucwa_push_content content)
{
    *ucwa_store_word(s, UCWA_WORD_PUSH_ENABLED) = enabled ? 1 : 0;
    *ucwa_store_word(s, UCWA_WORD_PUSH_AFTER) = after_s;
    *ucwa_store_word(s, UCWA_WORD_PUSH_CONTENT) = (apr_uint32_t)content;
}

int ucwa_push_in_background_locked(ucwa_store *s, const ucwa_app *a, apr_time_t now)
{
    if (a->state != UCWA_SLOT_LIVE || !a->push || a->parked) {
        return 0;
    }
    return a->background || now - a->last_seen >= apr_time_from_sec(word(s, UCWA_WORD_PUSH_AFTER));
}

void ucwa_push_foreground(ucwa_app *a)
{
    a->background = 0;
    a->badge = 0;
}

/* At most max bytes of text, cut at a character boundary. */
static void copy_preview(char *dst, const char *text, apr_size_t len)
{
    apr_size_t n = len < UCWA_PUSH_PREVIEW_MAX ? len : UCWA_PUSH_PREVIEW_MAX;

    while (n > 0 && n < len && ((unsigned char)text[n] & 0xc0) == 0x80) {
        n--;   /* text[n] continues a character: cut before that character */
    }
    memcpy(dst, text, n);
    dst[n] = '\0';
}

int ucwa_push_note_locked(ucwa_store *s, int app, ucwa_push_kind kind, const char *conversation,
                   const char *sender, const char *text, apr_size_t len, apr_time_t now)
{
    apr_uint32_t i, n = ucwa_push_used_locked(s);
    ucwa_app *a = ucwa_store_app(s, app);
    ucwa_push_content content = (ucwa_push_content)word(s, UCWA_WORD_PUSH_CONTENT);
    ucwa_push_job *j = NULL;
    int free_slot = -1;

    if (!word(s, UCWA_WORD_PUSH_ENABLED) || !ucwa_push_in_background_locked(s, a, now)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        ucwa_push_job *k = ucwa_store_push(s, (int)i);
        if (k->state == UCWA_PUSH_QUEUED && k->app == (apr_uint32_t)app && k->app_gen == a->gen
            && !strcmp(k->conversation, conversation ? conversation : "")) {
            j = k;   /* a burst in one conversation is one notification */
            break;
        }
        if (k->state == UCWA_PUSH_FREE && free_slot < 0) {
            free_slot = (int)i;
        }
    }
    if (!j) {
        if (free_slot < 0 && n < ucwa_store_get_limits(s)->max_push) {
            free_slot = (int)n;
            *ucwa_store_word(s, UCWA_WORD_PUSH_USED) = n + 1;
        }
        if (free_slot < 0) {
            return -1;
        }
        j = ucwa_store_push(s, free_slot);
        apr_uint32_t gen = j->gen + 1;
        memset(j, 0, sizeof(*j));
        j->gen = gen;
        j->slot = (apr_uint32_t)free_slot;
        j->app = (apr_uint32_t)app;
        j->app_gen = a->gen;
        j->queued = j->not_before = now;
        apr_cpystrn(j->user, ucwa_store_user(s, (int)a->user)->sip, sizeof(j->user));
        apr_cpystrn(j->endpoint_id, a->endpoint_id, sizeof(j->endpoint_id));
        apr_cpystrn(j->conversation, conversation ? conversation : "", sizeof(j->conversation));
        j->state = UCWA_PUSH_QUEUED;
    }
    /* the most telling kind wins: a missed conversation over its messages */
    if ((apr_uint32_t)kind > j->kind) {
        j->kind = (apr_uint32_t)kind;
    }
    j->events++;
    j->badge = ++a->badge;
    j->sender[0] = j->preview[0] = '\0';
    if (content >= UCWA_PUSH_CONTENT_SENDER && sender) {
        apr_cpystrn(j->sender, sender, sizeof(j->sender));
    }
    if (content >= UCWA_PUSH_CONTENT_PREVIEW && text) {
        copy_preview(j->preview, text, len);
    }
    (*ucwa_store_word(s, UCWA_WORD_PUSH_QUEUED))++;
    return 1;
}

int ucwa_push_take_locked(ucwa_store *s, apr_time_t now, ucwa_push_job *out, int max)
{
    apr_uint32_t i, n = ucwa_push_used_locked(s);
    ucwa_push_job *oldest[UCWA_PUSH_TAKE_MAX];
    int got = 0, k;

    if (max > UCWA_PUSH_TAKE_MAX) {
        max = UCWA_PUSH_TAKE_MAX;
    }
    /* one pass keeps the max oldest due jobs, sorted by queued time (the first slot
     * first among equals) */
    for (i = 0; i < n; i++) {
        ucwa_push_job *j = ucwa_store_push(s, (int)i);
        int due = (j->state == UCWA_PUSH_QUEUED && j->not_before <= now)
                  || (j->state == UCWA_PUSH_SENDING
                      && now - j->sending_since > UCWA_PUSH_SENDING_STALE);
        if (!due || (got == max && j->queued >= oldest[max - 1]->queued)) {
            continue;
        }
        k = got < max ? got++ : max - 1;
        while (k > 0 && oldest[k - 1]->queued > j->queued) {
            oldest[k] = oldest[k - 1];
            k--;
        }
        oldest[k] = j;
    }
    for (k = 0; k < got; k++) {
        ucwa_push_job *j = oldest[k];
        if (j->state == UCWA_PUSH_SENDING) {
            j->gen++;   /* taken back: the lost dispatcher's late report is ignored */
        }
        j->state = UCWA_PUSH_SENDING;
        j->sending_since = now;
        out[k] = *j;
    }
    return got;
}

int ucwa_push_retries(ucwa_push_outcome o, apr_uint32_t attempts)
{
    return o == UCWA_PUSH_AGAIN && attempts + 1 < UCWA_PUSH_MAX_ATTEMPTS;
}

/* The job of the store that a dispatcher's copy names, while that dispatcher holds it;
 * else NULL (taken back as stale and finished by another dispatcher). */
static ucwa_push_job *held(ucwa_store *s, const ucwa_push_job *job)
{
    ucwa_push_job *j;

    if (job->slot >= ucwa_store_get_limits(s)->max_push) {
        return NULL;
    }
    j = ucwa_store_push(s, (int)job->slot);
    return j->gen == job->gen && j->state == UCWA_PUSH_SENDING ? j : NULL;
}

void ucwa_push_release_locked(ucwa_store *s, const ucwa_push_job *job, apr_time_t not_before)
{
    ucwa_push_job *j = held(s, job);

    if (j) {
        j->state = UCWA_PUSH_QUEUED;
        j->not_before = not_before;
    }
}

void ucwa_push_finish_locked(ucwa_store *s, const ucwa_push_job *job, ucwa_push_outcome o,
                      apr_interval_time_t retry_in, apr_time_t now)
{
    ucwa_push_job *j = held(s, job);

    if (!j) {
        return;
    }
    if (ucwa_push_retries(o, j->attempts)) {
        j->attempts++;
        j->state = UCWA_PUSH_QUEUED;
        j->not_before = now + retry_in;
        return;
    }
    j->state = UCWA_PUSH_FREE;
    {
        apr_uint32_t *used = ucwa_store_word(s, UCWA_WORD_PUSH_USED);
        while (*used > 0 && ucwa_store_push(s, (int)*used - 1)->state == UCWA_PUSH_FREE) {
            (*used)--;
        }
    }
}

apr_interval_time_t ucwa_push_backoff(apr_uint32_t attempts, apr_interval_time_t retry_after)
{
    apr_interval_time_t d;

    if (retry_after > 0) {
        return retry_after < apr_time_from_sec(3600) ? retry_after : apr_time_from_sec(3600);
    }
    d = apr_time_from_sec(1) << (attempts < 16 ? attempts : 16);
    return d < UCWA_PUSH_BACKOFF_MAX ? d : UCWA_PUSH_BACKOFF_MAX;
}

void ucwa_push_counts_locked(ucwa_store *s, apr_uint32_t *queued, apr_uint32_t *sending)
{
    apr_uint32_t i, n = ucwa_push_used_locked(s);

    *queued = *sending = 0;
    for (i = 0; i < n; i++) {
        apr_uint32_t st = ucwa_store_push(s, (int)i)->state;
        *queued += st == UCWA_PUSH_QUEUED;
        *sending += st == UCWA_PUSH_SENDING;
    }
}

const char *ucwa_push_kind_name(ucwa_push_kind k)
{
    switch (k) {
    case UCWA_PUSH_INVITATION: return "invitation";
    case UCWA_PUSH_MESSAGE:    return "message";
    case UCWA_PUSH_MISSED:     return "missed";
    case UCWA_PUSH_CALL:       return "call";
    case UCWA_PUSH_MISSED_CALL: return "missed-call";
    default:                   return "event";
    }
}
