#include "ucwa_move.h"

#include <string.h>
#include <apr_strings.h>

#include "ucwa_pool.h"
#include "ucwa_subs.h"

#define MOVE_MAGIC "UCWAMOV1"

/* The bytes: this header, then nsubs ucwa_sub records, then nevents ring slots of
 * event_size bytes (the ring positions [app.pkg_first, app.head)). Between two Front Ends
 * running this code: the sizes in the header say so. */
typedef struct {
    char magic[8];
    apr_uint32_t app_size, sub_size, ring_len, event_size, nsubs, nevents;
    apr_uint32_t preferred, pad;
    apr_time_t last_activity, changed;
    char sip[UCWA_SIP_MAX];
    char activity[UCWA_ACTIVITY_MAX];
    char note[UCWA_NOTE_MAX];
    char location[UCWA_LOCATION_MAX];
    ucwa_app app;
} move_header;

static int owned_by(ucwa_store *s, const ucwa_app *a, const char *sip)
{
    return a->state == UCWA_SLOT_LIVE
           && !strcmp(ucwa_store_user(s, (int)a->user)->sip, sip);
}

int ucwa_move_exportable_locked(ucwa_store *s, int idx, const char *sip, apr_uint32_t ring_len,
                                apr_uint32_t event_size)
{
    const ucwa_store_limits *l = ucwa_store_get_limits(s);
    ucwa_app *a = ucwa_store_app(s, idx);

    return owned_by(s, a, sip) && ring_len == l->ring_len && event_size == l->event_size
           && a->head - a->pkg_first <= l->ring_len;
}

int ucwa_move_export_locked(ucwa_store *s, int idx, const char *sip, apr_uint32_t ring_len,
                            apr_uint32_t event_size, apr_pool_t *p, const char **out,
                            apr_size_t *len)
{
    const ucwa_store_limits *l = ucwa_store_get_limits(s);
    ucwa_app *a = ucwa_store_app(s, idx);
    ucwa_user *u;
    move_header h;
    apr_uint32_t i, n = ucwa_subs_used_locked(s), nsubs = 0, pos;
    char *buf, *at;

    if (!ucwa_move_exportable_locked(s, idx, sip, ring_len, event_size)) {
        return -1;
    }
    u = ucwa_store_user(s, (int)a->user);
    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(s, (int)i);
        if (ucwa_subs_live_locked(s, (int)i) && sub->app == (apr_uint32_t)idx) {
            nsubs++;
        }
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, MOVE_MAGIC, sizeof(h.magic));
    h.app_size = (apr_uint32_t)sizeof(ucwa_app);
    h.sub_size = (apr_uint32_t)sizeof(ucwa_sub);
    h.ring_len = l->ring_len;
    h.event_size = l->event_size;
    h.nsubs = nsubs;
    h.nevents = a->head - a->pkg_first;
    h.preferred = u->preferred;
    h.last_activity = u->last_activity;
    h.changed = u->changed;
    apr_cpystrn(h.sip, u->sip, sizeof(h.sip));
    apr_cpystrn(h.activity, u->activity, sizeof(h.activity));
    apr_cpystrn(h.note, u->note, sizeof(h.note));
    apr_cpystrn(h.location, u->location, sizeof(h.location));
    h.app = *a;
    *len = sizeof(h) + (apr_size_t)nsubs * sizeof(ucwa_sub)
           + (apr_size_t)h.nevents * l->event_size;
    at = buf = apr_palloc(p, *len);
    memcpy(at, &h, sizeof(h));
    at += sizeof(h);
    for (i = 0; i < n; i++) {
        ucwa_sub *sub = ucwa_store_sub(s, (int)i);
        if (ucwa_subs_live_locked(s, (int)i) && sub->app == (apr_uint32_t)idx) {
            memcpy(at, sub, sizeof(*sub));
            at += sizeof(*sub);
        }
    }
    for (pos = a->pkg_first; pos != a->head; pos++) {
        memcpy(at, ucwa_store_ring_slot(s, idx, pos), l->event_size);
        at += l->event_size;
    }
    *out = buf;
    return 0;
}

/* The header of data, checked against this store: NULL with *why when it is not one. */
static const char *header_of(ucwa_store *s, const char *data, apr_size_t len, move_header *h)
{
    const ucwa_store_limits *l = ucwa_store_get_limits(s);
    char num[UCWA_ID_MAX + 4];

    if (len < sizeof(*h)) {
        return "too short";
    }
    memcpy(h, data, sizeof(*h));
    if (memcmp(h->magic, MOVE_MAGIC, sizeof(h->magic)) != 0
        || h->app_size != sizeof(ucwa_app) || h->sub_size != sizeof(ucwa_sub)) {
        return "not an application of this version";
    }
    if (h->ring_len != l->ring_len || h->event_size != l->event_size) {
        return "another ring size (UcwaEventsPerApplication, UcwaEventSize)";
    }
    if (h->nevents > l->ring_len || h->app.head - h->app.pkg_first != h->nevents
        || h->app.pkg_end - h->app.pkg_first > h->nevents || h->nsubs > UCWA_SUB_MEMBERS
        || len != sizeof(*h) + (apr_size_t)h->nsubs * sizeof(ucwa_sub)
                  + (apr_size_t)h->nevents * l->event_size) {
        return "sizes out of range";
    }
    /* every string terminated, and the id the number it says */
    h->sip[sizeof(h->sip) - 1] = h->activity[sizeof(h->activity) - 1] = '\0';
    h->note[sizeof(h->note) - 1] = h->location[sizeof(h->location) - 1] = '\0';
    h->app.id[sizeof(h->app.id) - 1] = h->app.base[sizeof(h->app.base) - 1] = '\0';
    h->app.endpoint_id[UCWA_FIELD_MAX - 1] = h->app.user_agent[UCWA_FIELD_MAX - 1] = '\0';
    h->app.culture[UCWA_FIELD_MAX - 1] = h->app.instance_id[UCWA_FIELD_MAX - 1] = '\0';
    h->app.policy_tag[UCWA_TAG_MAX - 1] = h->app.name[sizeof(h->app.name) - 1] = '\0';
    h->app.phone_number[UCWA_PHONE_MAX - 1] = '\0';
    apr_snprintf(num, sizeof(num), "%" APR_UINT64_T_FMT, h->app.idnum);
    if (strcmp(num, h->app.id) != 0) {
        return "the id is not its number";
    }
    return NULL;
}

const char *ucwa_move_id(apr_pool_t *p, const char *data, apr_size_t len)
{
    move_header h;

    if (len < sizeof(h)) {
        return NULL;
    }
    memcpy(&h, data, sizeof(h));
    h.app.id[sizeof(h.app.id) - 1] = '\0';
    return apr_pstrdup(p, h.app.id);
}

/* Subscription k of the bytes, again for this application: same id, end and members. */
static void import_sub(ucwa_store *s, int app, const ucwa_sub *old, apr_time_t now)
{
    ucwa_sub *sub;
    int si, m;

    if (old->expires <= now || old->count > UCWA_SUB_MEMBERS
        || ucwa_subs_create_locked(s, app, old->expires - now, now, &si) != UCWA_SUBS_OK) {
        return;
    }
    for (m = 0; m < (int)old->count; m++) {
        int added, k;
        apr_uint32_t off = old->name_off[m];
        const char *sip = off < UCWA_SUB_NAMES ? old->names + off : "";
        if (!memchr(sip, '\0', UCWA_SUB_NAMES - (off < UCWA_SUB_NAMES ? off : 0)) || !*sip) {
            continue;
        }
        k = ucwa_subs_member_add_locked(s, si, sip, &added);
        if (k >= 0) {
            ucwa_store_sub(s, si)->member_av[k] = old->member_av[m];
        }
    }
    sub = ucwa_store_sub(s, si);
    memcpy(sub->id, old->id, sizeof(sub->id));
    sub->id[sizeof(sub->id) - 1] = '\0';
    sub->hinted = old->hinted;
}

int ucwa_move_import_locked(ucwa_store *s, const char *data, apr_size_t len, const char *sip,
                            const ucwa_idle_rules *rules, apr_time_t now, apr_pool_t *p,
                            ucwa_txn *wake, int *idx, const char **why)
{
    const ucwa_store_limits *l = ucwa_store_get_limits(s);
    move_header h;
    ucwa_user *u;
    ucwa_availability before, after;
    apr_uint32_t k;
    const char *at;
    int user;

    if ((*why = header_of(s, data, len, &h)) != NULL) {
        return -1;
    }
    if (strcmp(h.sip, sip) != 0) {
        *why = "another user's application";
        return -1;
    }
    at = data + sizeof(h) + (apr_size_t)h.nsubs * sizeof(ucwa_sub);
    for (k = 0; k < h.nevents; k++, at += l->event_size) {
        if (!ucwa_store_ring_slot_ok(s, at)) {
            *why = "an event slot out of bounds";
            return -1;
        }
    }
    user = ucwa_store_user_find_locked(s, sip, 1);
    if (user < 0) {
        *why = "the user table is full";
        return -1;
    }
    u = ucwa_store_user(s, user);
    before = u->apps ? ucwa_store_availability(u, rules, now) : UCWA_AV_OFFLINE;
    if (ucwa_store_adopt_locked(s, &h.app, user, idx) != 0) {
        *why = "no free application slot, or the id is taken here";
        return -1;
    }
    at = data + sizeof(h) + (apr_size_t)h.nsubs * sizeof(ucwa_sub);
    for (k = 0; k < h.nevents; k++, at += l->event_size) {
        memcpy(ucwa_store_ring_slot(s, *idx, h.app.pkg_first + k), at, l->event_size);
    }
    if (u->apps == 1 || h.changed > u->changed) {
        u->preferred = h.preferred;
        u->last_activity = h.last_activity;
        u->changed = h.changed;
        apr_cpystrn(u->activity, h.activity, sizeof(u->activity));
        apr_cpystrn(u->note, h.note, sizeof(u->note));
        apr_cpystrn(u->location, h.location, sizeof(u->location));
    }
    if (h.app.available) {
        ucwa_store_app(s, *idx)->available = 1;
        u->available_apps++;
    }
    ucwa_pool_user_dirty_locked(s, user);   /* her endpoints here changed */
    at = data + sizeof(h);
    for (k = 0; k < h.nsubs; k++, at += sizeof(ucwa_sub)) {
        ucwa_sub old;
        memcpy(&old, at, sizeof(old));
        import_sub(s, *idx, &old, now);
    }
    after = ucwa_store_availability(u, rules, now);
    if (before != after) {
        u->published = after;
        ucwa_subs_notify_locked(s, user, "presence", now, p, wake);
    }
    return 0;
}
