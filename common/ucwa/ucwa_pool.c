#include <string.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#include "mob_json.h"
#include "ucwa_av.h"
#include "ucwa_conv_phone.h"
#include "ucwa_message.h"
#include "ucwa_pool.h"
#include "ucwa_subs.h"

static ucwa_pool_area *area(ucwa_store *s)
{
    return ucwa_store_pool_area(s);
}

apr_size_t ucwa_pool_area_bytes(apr_uint32_t max_users)
{
    return sizeof(ucwa_pool_area) + ((apr_size_t)max_users + 1) * sizeof(apr_uint32_t);
}

void ucwa_pool_enable_locked(ucwa_store *s, const char *fe)
{
    ucwa_pool_area *a = area(s);

    if (!fe || !*fe) {
        a->on = 0;
        return;
    }
    if (strcmp(a->fe, fe) != 0) {
        a->registered = 0;     /* a new name is a new member of the pool */
    }
    apr_cpystrn(a->fe, fe, sizeof(a->fe));
    a->on = 1;
}

const char *ucwa_pool_fe(ucwa_store *s)
{
    ucwa_pool_area *a = area(s);

    return a->on ? a->fe : NULL;
}

/* The outbox is in use: a pool's thread or ucwa-sipd takes it. */
static int active(const ucwa_pool_area *a)
{
    return a->on || a->sip;
}

void ucwa_pool_sip_enable_locked(ucwa_store *s, int on)
{
    ucwa_pool_area *a = area(s);

    a->sip = on && !a->on;
    if (a->sip) {
        apr_cpystrn(a->fe, UCWA_POOL_SIP_LOCAL, sizeof(a->fe));
    }
}

int ucwa_pool_sip_on(ucwa_store *s)
{
    return area(s)->sip != 0;
}

int ucwa_pool_is_sip(const char *fe)
{
    return fe && !strcmp(fe, UCWA_POOL_SIP_FE);
}

const char *ucwa_pool_sip_name(apr_pool_t *p, const char *fe)
{
    return apr_pstrcat(p, UCWA_POOL_SIP_PREFIX, fe, NULL);
}

int ucwa_pool_is_pool_sip(const char *fe)
{
    return fe && !strncmp(fe, UCWA_POOL_SIP_PREFIX, sizeof(UCWA_POOL_SIP_PREFIX) - 1);
}

int ucwa_pool_is_any_sip(const char *fe)
{
    return ucwa_pool_is_sip(fe) || ucwa_pool_is_pool_sip(fe);
}

apr_uint32_t ucwa_pool_out_pending(ucwa_store *s)
{
    volatile ucwa_pool_area *a = area(s);

    return a->out_head - a->out_tail;
}

const char *ucwa_pool_status_locked(ucwa_store *s, apr_pool_t *p)
{
    ucwa_pool_area *a = area(s);
    json_t *o;
    const char *text;

    if (!a->on) {
        return "";
    }
    o = json_pack("{s:s,s:b,s:I,s:i,s:i,s:I,s:I}", "frontEnd", a->fe, "up", (int)a->up,
                  "lastSeq", (json_int_t)a->last_seq, "outbox", (int)(a->out_head - a->out_tail),
                  "dirty", (int)(a->dirty_head - a->dirty_tail),
                  "shipped", (json_int_t)a->shipped, "applied", (json_int_t)a->applied);
    text = o ? apr_pstrcat(p, ",\"pool\":", mob_json_dump(p, o, NULL), NULL) : "";
    json_decref(o);
    return text;
}

/* --- the dirty ring: users whose presence the pool must learn ---------------------- */

static apr_uint32_t ring_users(ucwa_store *s)
{
    return ucwa_store_get_limits(s)->max_users + 1;
}

void ucwa_pool_user_dirty_locked(ucwa_store *s, int user)
{
    ucwa_pool_area *a = area(s);
    ucwa_user *u = ucwa_store_user(s, user);

    if (!a->on || u->pool_dirty) {
        return;
    }
    /* each user is in the ring at most once: it never overflows */
    u->pool_dirty = 1;
    a->dirty[a->dirty_head % ring_users(s)] = (apr_uint32_t)user;
    a->dirty_head++;
    (*ucwa_store_word(s, UCWA_WORD_POOL_OUT))++;
}

void ucwa_pool_user_changed_locked(ucwa_store *s, int user, apr_time_t now)
{
    ucwa_store_user(s, user)->changed = now;
    ucwa_pool_user_dirty_locked(s, user);
}

void ucwa_pool_dirty_again_locked(ucwa_store *s, const char *sip)
{
    int user = ucwa_store_user_find_locked(s, sip, 0);

    if (user >= 0) {
        ucwa_pool_user_dirty_locked(s, user);
    }
}

/* The user's presence here, as a message. */
static const char *presence_body(apr_pool_t *p, const char *fe, const ucwa_user *u,
                                 ucwa_availability av)
{
    json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:I,s:I}", "k", "presence",
                          "fe", fe, "sip", u->sip, "av", ucwa_availability_name(av),
                          "avail", (int)u->available_apps, "act", u->activity,
                          "note", u->note, "loc", u->location,
                          "last", (json_int_t)u->last_activity,
                          "changed", (json_int_t)u->changed);
    const char *body = m ? mob_json_dump(p, m, NULL) : NULL;

    json_decref(m);
    return body;
}

/* The local presence only (what this Front End publishes for the user). */
static ucwa_availability local_av(const ucwa_user *u, const ucwa_idle_rules *rules,
                                  apr_time_t now)
{
    ucwa_user local = *u;

    local.remote_available = 0;
    return ucwa_store_availability(&local, rules, now);
}

int ucwa_pool_dirty_take_locked(ucwa_store *s, apr_pool_t *p, const ucwa_idle_rules *rules,
                                apr_time_t now, int max, apr_array_header_t *out)
{
    ucwa_pool_area *a = area(s);
    int n = 0;

    while (a->dirty_tail != a->dirty_head && n < max) {
        int user = (int)a->dirty[a->dirty_tail % ring_users(s)];
        ucwa_user *u = ucwa_store_user(s, user);
        ucwa_pool_presence_out *o;
        a->dirty_tail++;
        if (!u->pool_dirty) {
            continue;
        }
        u->pool_dirty = 0;
        o = apr_array_push(out);
        o->sip = apr_pstrdup(p, u->sip);
        o->available = (int)u->available_apps;
        o->modalities = 0;
        o->changed = u->changed;
        o->body = presence_body(p, a->fe, u, local_av(u, rules, now));
        n++;
    }
    return n;
}

/* --- the outbox ------------------------------------------------------------------- */

int ucwa_pool_room_locked(ucwa_store *s)
{
    ucwa_pool_area *a = area(s);

    if (!active(a)) {
        return UCWA_POOL_OUTBOX;
    }
    return UCWA_POOL_OUTBOX - (int)(a->out_head - a->out_tail);
}

int ucwa_pool_queue_locked(ucwa_store *s, ucwa_pool_op op, const char *target, const char *key,
                           const char *body, const char *others)
{
    ucwa_pool_area *a = area(s);
    apr_size_t blen, olen;
    ucwa_pool_out *o;

    if (!active(a)) {
        return 0;
    }
    if (!body || !target) {
        return -1;
    }
    blen = strlen(body);
    olen = others ? strlen(others) : 0;
    if (a->out_head - a->out_tail >= UCWA_POOL_OUTBOX || blen + olen + 2 > UCWA_POOL_BODY_MAX
        || strlen(target) >= UCWA_POOL_FE_MAX || (key && strlen(key) >= UCWA_CONV_ID_MAX)) {
        return -1;
    }
    o = &a->out[a->out_head % UCWA_POOL_OUTBOX];
    o->op = op;
    apr_cpystrn(o->target, target, sizeof(o->target));
    apr_cpystrn(o->key, key ? key : "", sizeof(o->key));
    memcpy(o->body, body, blen + 1);
    o->len = (apr_uint32_t)blen;
    o->others_len = (apr_uint32_t)olen;
    if (others) {
        memcpy(o->body + blen + 1, others, olen + 1);
    }
    a->out_head++;
    (*ucwa_store_word(s, UCWA_WORD_POOL_OUT))++;
    return 1;
}

int ucwa_pool_out_peek_locked(ucwa_store *s, apr_pool_t *p, int max, ucwa_pool_out **out)
{
    ucwa_pool_area *a = area(s);
    int n = (int)(a->out_head - a->out_tail), i;

    if (n > max) {
        n = max;
    }
    *out = n ? apr_palloc(p, sizeof(ucwa_pool_out) * (apr_size_t)n) : NULL;
    for (i = 0; i < n; i++) {
        (*out)[i] = a->out[(a->out_tail + (apr_uint32_t)i) % UCWA_POOL_OUTBOX];
    }
    return n;
}

void ucwa_pool_out_done_locked(ucwa_store *s, int n)
{
    ucwa_pool_area *a = area(s);

    if (n > 0 && (apr_uint32_t)n <= a->out_head - a->out_tail) {
        a->out_tail += (apr_uint32_t)n;
        a->shipped += (apr_uint64_t)n;
    }
}

/* --- what conversations queue ------------------------------------------------------- */

void ucwa_pool_conv_key(ucwa_store *s, const ucwa_conv *c, const char **fe, const char **conv)
{
    if (c->mirror) {
        *fe = c->peer_fe;
        *conv = c->peer_id;
    }
    else {
        *fe = area(s)->fe;
        *conv = c->id;
    }
}

/* Queues message m (taken) about a user for Front End fe. */
static int tell_user_locked(ucwa_store *s, const char *fe, json_t *m, apr_pool_t *p)
{
    int rv = m ? ucwa_pool_queue_locked(s, UCWA_POOL_SEND, fe, NULL,
                                        mob_json_dump(p, m, NULL), NULL) : -1;

    json_decref(m);
    return rv;
}

int ucwa_pool_log_tell_locked(ucwa_store *s, const char *fe, const char *sip, const char *log,
                              const char *type, apr_pool_t *p)
{
    return tell_user_locked(s, fe, json_pack("{s:s,s:s,s:s,s:s}", "k", "log", "sip", sip,
                                             "log", log, "type", type), p);
}

int ucwa_pool_me_tell_locked(ucwa_store *s, const char *fe, const char *sip, const char *rel,
                             apr_pool_t *p)
{
    return tell_user_locked(s, fe, json_pack("{s:s,s:s,s:s}", "k", "me", "sip", sip,
                                             "rel", rel), p);
}

static json_t *keyed(ucwa_store *s, const ucwa_conv *c, const char *kind)
{
    const char *kfe, *kconv;

    ucwa_pool_conv_key(s, c, &kfe, &kconv);
    return json_pack("{s:s,s:s,s:s}", "k", kind, "fe", kfe, "conv", kconv);
}

int ucwa_pool_conv_tell_locked(ucwa_store *s, const ucwa_conv *c, const char *kind,
                               json_t *extra, apr_pool_t *p)
{
    json_t *m;
    int rv;

    if (!active(area(s)) || !c->peer_fe[0]) {
        json_decref(extra);
        return 0;
    }
    m = keyed(s, c, kind);
    if (extra) {
        json_object_update(m, extra);
        json_decref(extra);
    }
    if (c->mirror && !strcmp(kind, "gone")) {
        /* once per invited Front End, whoever says it (the reaper, if this one dies) */
        rv = ucwa_pool_queue_locked(s, UCWA_POOL_GONE, c->peer_fe, c->peer_id,
                                    mob_json_dump(p, m, NULL), NULL);
        json_decref(m);
        return rv;
    }
    rv = ucwa_pool_queue_locked(s, UCWA_POOL_SEND, c->peer_fe, NULL, mob_json_dump(p, m, NULL),
                                NULL);
    json_decref(m);
    return rv;
}

int ucwa_pool_call_tell_locked(ucwa_store *s, const ucwa_conv *c, const char *kind,
                               int sdp_kind, json_t *extra, apr_pool_t *p)
{
    const char *key = sdp_kind >= 0 ? ucwa_av_pool_key(s, c, (ucwa_sdp_kind)sdp_kind) : "";

    if (!extra) {
        extra = json_object();
    }
    if (*key) {
        json_object_set_new(extra, "sdp", json_string(key));
    }
    return ucwa_pool_conv_tell_locked(s, c, kind, extra, p);
}

int ucwa_pool_conv_invite_locked(ucwa_store *s, const ucwa_conv *c, const char *const *fes,
                                 int nfes, apr_time_t expires, apr_pool_t *p)
{
    json_t *m;
    const char *body;
    int i;

    if (!active(area(s))) {
        return 0;
    }
    if (ucwa_pool_room_locked(s) < nfes) {
        return -1;
    }
    m = keyed(s, c, "invite");
    json_object_set_new(m, "to", json_string(c->party[1].sip));
    json_object_set_new(m, "from", json_string(c->party[0].sip));
    json_object_set_new(m, "name", json_string(c->party[0].name));
    json_object_set_new(m, "html", json_integer(c->party[0].html));
    json_object_set_new(m, "thread", json_string(c->thread_id));
    json_object_set_new(m, "subject", json_string(c->subject));
    json_object_set_new(m, "importance", json_string(c->importance));
    json_object_set_new(m, "first", json_string(c->first));
    json_object_set_new(m, "ffmt", json_integer(c->first_format));
    json_object_set_new(m, "expires", json_integer((json_int_t)expires));
    if (c->kind == UCWA_CONV_KIND_AV) {
        /* a call: the offer stays in the pool's table, the message names it */
        json_object_set_new(m, "av", json_integer(1));
        json_object_set_new(m, "video", json_integer(c->video != 0));
        json_object_set_new(m, "ctx", json_string(c->session_context[0]));
        json_object_set_new(m, "sdp", json_string(ucwa_av_pool_key(s, c, UCWA_SDP_OFFER)));
        if (c->gw_set[0]) {
            json_object_set_new(m, "gw", json_string(c->gw_set));   /* a number's route */
        }
        if (c->phone) {
            /* call via work (common/ucwa/ucwa_conv_phone): the user's phone first */
            json_object_set_new(m, "pa", json_string(c->phone_number));
            json_object_set_new(m, "pgw", json_string(c->phone_gw));
            json_object_set_new(m, "line", json_string(c->phone_line));
        }
        if (c->fwd_to[0]) {
            /* the callee forwards (mod_ucwa/ucwa_fwd_app.c) */
            json_object_set_new(m, "fwd", json_string(c->fwd_to));
            json_object_set_new(m, "div", json_string(c->fwd_line));
        }
    }
    body = mob_json_dump(p, m, NULL);
    json_decref(m);
    for (i = 0; i < nfes; i++) {
        if (ucwa_pool_queue_locked(s, UCWA_POOL_INVITE, fes[i], c->id, body, NULL) < 0) {
            return -1;
        }
    }
    return 1;
}

int ucwa_pool_conv_claim_locked(ucwa_store *s, const ucwa_conv *c, int accept,
                                const char *name, int html, apr_pool_t *p)
{
    const char *kfe, *kconv, *body, *others;
    json_t *m, *o;
    int rv;

    ucwa_pool_conv_key(s, c, &kfe, &kconv);
    if (accept) {
        /* to the inviter: who took it; to the other Front Ends: stop ringing */
        m = keyed(s, c, "accepted");
        json_object_set_new(m, "peer", json_string(c->id));
        json_object_set_new(m, "by", json_string(area(s)->fe));
        o = keyed(s, c, "elsewhere");
    }
    else {
        m = keyed(s, c, "declined");
        o = keyed(s, c, "declined");
    }
    if (accept) {
        json_object_set_new(m, "name", json_string(name ? name : ""));
        json_object_set_new(m, "html", json_integer(html != 0));
        if (c->kind == UCWA_CONV_KIND_AV) {
            /* the answer that wins, if this claim does */
            json_object_set_new(m, "sdp", json_string(ucwa_av_pool_key(s, c, UCWA_SDP_ANSWER)));
            json_object_set_new(m, "cid", json_string(c->accepted_cid));
            json_object_set_new(m, "ctx", json_string(c->session_context[1]));
            if (c->phone_number[0]) {
                /* acceptWithPhoneAudio: the SIP side holding the call calls this number */
                json_object_set_new(m, "pa", json_string(c->phone_number));
                json_object_set_new(m, "pgw", json_string(c->phone_gw));
            }
        }
    }
    body = mob_json_dump(p, m, NULL);
    others = mob_json_dump(p, o, NULL);
    json_decref(m);
    json_decref(o);
    rv = ucwa_pool_queue_locked(s, accept ? UCWA_POOL_CLAIM_ACCEPT : UCWA_POOL_CLAIM_DECLINE,
                                kfe, kconv, body, others);
    return rv < 0 ? -1 : rv;
}

void ucwa_pool_claim_verdict_locked(ucwa_txn *txn, const char *key_fe, const char *key_conv,
                                    int accept, int won, apr_time_t now)
{
    ucwa_store *s = txn->store;
    ucwa_conv_touched t;
    int idx, i;

    idx = !strcmp(key_fe, area(s)->fe) ? ucwa_conv_find_locked(s, key_conv)
                                       : ucwa_conv_find_mirror_locked(s, key_fe, key_conv);
    if (idx < 0) {
        if (won && accept && strcmp(key_fe, area(s)->fe) != 0) {
            /* the pool told the inviter this side accepted, but the mirror is no more (it
             * ended when this Front End joined the pool again): the inviter must see the
             * accepter leave, not wait on a conversation nobody reads */
            json_t *l = json_pack("{s:s,s:s,s:s}", "k", "left", "fe", key_fe, "conv", key_conv);
            ucwa_pool_queue_locked(s, UCWA_POOL_SEND, key_fe, NULL,
                                   mob_json_dump(txn->pool, l, NULL), NULL);
            json_decref(l);
        }
        return;
    }
    if (won && accept && ucwa_pool_is_pool_sip(key_fe) && ucwa_store_conv(s, idx)->mirror
        && ucwa_store_conv(s, idx)->phone_number[0] && !ucwa_store_conv(s, idx)->phone) {
        /* acceptWithPhoneAudio of a call another Front End's SIP side holds: it connects
         * when the phone answers there ("pa-answered"); the claim stays open till then */
        return;
    }
    t.n = 0;
    ucwa_conv_claimed_locked(s, idx, accept, won, now, txn->pool, &t);
    for (i = 0; i < t.n; i++) {
        ucwa_txn_wake_app(txn, t.app[i]);
    }
}

/* --- incoming --------------------------------------------------------------------- */

static const char *str(const json_t *o, const char *key)
{
    const char *v = mob_json_str(o, key);

    return v ? v : "";
}

static json_int_t num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? json_integer_value(v) : 0;
}

int ucwa_pool_presence_parse(apr_pool_t *p, const char *body, apr_size_t len,
                             ucwa_pool_presence_in *out)
{
    json_t *m = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *av;

    if (!json_is_object(m) || strcmp(str(m, "k"), "presence") != 0) {
        json_decref(m);
        return -1;
    }
    mob_json_own(p, m);
    av = str(m, "av");
    out->av = !strcmp(av, "Offline") ? UCWA_AV_OFFLINE : ucwa_availability_parse(av);
    if (out->av == UCWA_AV_NONE) {
        /* published values that cannot be set (IdleOnline, IdleBusy) */
        out->av = !strcmp(av, "IdleOnline") ? UCWA_AV_IDLE_ONLINE
                  : !strcmp(av, "IdleBusy") ? UCWA_AV_IDLE_BUSY : UCWA_AV_OFFLINE;
    }
    out->available = (int)num(m, "avail");
    out->activity = str(m, "act");
    out->note = str(m, "note");
    out->location = str(m, "loc");
    out->last_activity = (apr_time_t)num(m, "last");
    out->changed = (apr_time_t)num(m, "changed");
    return 0;
}

static void wake_touched(ucwa_txn *txn, const ucwa_conv_touched *t, ucwa_pool_applied *res)
{
    int i;

    for (i = 0; i < t->n; i++) {
        ucwa_txn_wake_app(txn, t->app[i]);
    }
    res->wakes += t->n;
}

static void copy(char *dst, apr_size_t size, const char *src)
{
    apr_cpystrn(dst, src ? src : "", size);
}

/* Another Front End's presence of a user this one has a record of. */
static int apply_presence(ucwa_txn *txn, const json_t *m, const char *body, apr_size_t len,
                          const ucwa_idle_rules *rules, apr_time_t now, ucwa_pool_applied *res)
{
    ucwa_store *s = txn->store;
    const char *fe = str(m, "fe");
    ucwa_pool_presence_in in;
    int note_changed, location_changed;
    int user = ucwa_store_user_find_locked(s, str(m, "sip"), 0);
    ucwa_user *u;

    if (user < 0) {
        res->what = "presence of a user nobody here watches";
        return 0;
    }
    if (ucwa_pool_presence_parse(txn->pool, body, len, &in) != 0) {
        return -1;
    }
    u = ucwa_store_user(s, user);
    if (in.available <= 0) {
        if (strcmp(u->remote_fe, fe) != 0) {
            res->what = "another Front End's endpoints ended";
            return 0;   /* what we show came from elsewhere: it stands */
        }
        u->remote_fe[0] = '\0';
        u->remote_available = 0;
    }
    else if (u->remote_fe[0] && strcmp(u->remote_fe, fe) != 0 && in.changed < u->remote_changed) {
        res->what = "older than what another Front End said";
        return 0;
    }
    else {
        copy(u->remote_fe, sizeof(u->remote_fe), fe);
        u->remote_available = (apr_uint32_t)in.available;
    }
    note_changed = strcmp(u->remote_note, in.note) != 0;
    location_changed = strcmp(u->remote_location, in.location) != 0;
    u->remote_av = in.av;
    u->remote_changed = in.changed;
    u->remote_last_activity = in.last_activity;
    copy(u->remote_activity, sizeof(u->remote_activity), in.activity);
    copy(u->remote_note, sizeof(u->remote_note), in.note);
    copy(u->remote_location, sizeof(u->remote_location), in.location);
    u->published = ucwa_store_availability(u, rules, now);
    res->wakes += ucwa_subs_notify_locked(s, user, "presence", now, txn->pool, txn);
    if (note_changed) {
        res->wakes += ucwa_subs_notify_locked(s, user, "note", now, txn->pool, txn);
    }
    if (location_changed) {
        res->wakes += ucwa_subs_notify_locked(s, user, "location", now, txn->pool, txn);
    }
    res->what = "presence";
    return 0;
}

static int is_key(const char *k);

/* The record of this side of the conversation a message names. */
static int conv_of(ucwa_store *s, const json_t *m)
{
    const char *fe = str(m, "fe"), *conv = str(m, "conv");

    return !strcmp(fe, area(s)->fe) ? ucwa_conv_find_locked(s, conv)
                                    : ucwa_conv_find_mirror_locked(s, fe, conv);
}

static int apply_invite(ucwa_txn *txn, const json_t *m, const ucwa_pool_sdp *sdp,
                        apr_time_t now, ucwa_pool_applied *res)
{
    ucwa_conv_mirror_in in;
    ucwa_conv_touched t;
    ucwa_conv_result r;
    int idx;

    memset(&in, 0, sizeof(in));
    in.fe = str(m, "fe");
    in.conv = str(m, "conv");
    in.to = str(m, "to");
    in.from = str(m, "from");
    in.from_name = str(m, "name");
    in.from_html = (int)num(m, "html");
    in.thread_id = str(m, "thread");
    in.subject = str(m, "subject");
    in.importance = str(m, "importance");
    in.first = str(m, "first");
    in.first_format = num(m, "ffmt") == UCWA_MSG_HTML ? UCWA_MSG_HTML : UCWA_MSG_PLAIN;
    in.expires = (apr_time_t)num(m, "expires");
    if (!*in.fe || !*in.conv || !*in.to || !*in.from || strlen(in.conv) >= UCWA_CONV_ID_MAX) {
        return -1;
    }
    if (ucwa_conv_find_mirror_locked(txn->store, in.fe, in.conv) >= 0) {
        res->what = "invitation seen before";
        return 0;
    }
    if (num(m, "av") == 1) {
        in.kind = UCWA_CONV_KIND_AV;
        in.video = num(m, "video") != 0;
        in.session_context = str(m, "ctx");
        if (sdp) {
            in.offer_type = sdp->ctype;
            in.offer = sdp->body;
            in.offer_len = sdp->len;
        }
    }
    t.n = 0;
    r = in.kind == UCWA_CONV_KIND_AV && !sdp
        ? UCWA_CONV_STATE   /* a call without its offer cannot ring */
        : ucwa_conv_mirror_locked(txn->store, &in, now, txn->pool, &idx, &t);
    if (r != UCWA_CONV_OK) {
        /* nobody here to alert (or no room): the inviter counts this Front End out */
        json_t *g = json_pack("{s:s,s:s,s:s}", "k", "gone", "fe", in.fe, "conv", in.conv);
        ucwa_pool_queue_locked(txn->store, UCWA_POOL_GONE, in.fe, in.conv,
                               mob_json_dump(txn->pool, g, NULL), NULL);
        json_decref(g);
        if (in.kind == UCWA_CONV_KIND_AV && !sdp) {
            res->what = "a call whose offer is not in the pool's table (answered gone)";
            return -1;
        }
        if (r == UCWA_CONV_NO_CALL) {
            /* logged by the pool's thread, as a full table is on a single Front End */
            res->what = "a call, and every call record here is in use (UcwaMaxCalls): "
                        "answered gone";
            return -1;
        }
        res->what = "invitation for nobody here";
        return 0;
    }
    wake_touched(txn, &t, res);
    res->what = in.kind == UCWA_CONV_KIND_AV ? "call" : "invitation";
    return 0;
}

/* An accept came for an invitation that ended here (timeout, cancel, its record freed
 * since) while the accept was on its way: the accepter's side, connected by the pool's
 * verdict, ends as we leave. */
static void accepted_too_late(ucwa_txn *txn, const json_t *m, ucwa_pool_applied *res)
{
    const char *from = str(m, "by");
    json_t *l;

    if (!*from || strlen(from) >= UCWA_POOL_FE_MAX || !strcmp(from, area(txn->store)->fe)) {
        return;
    }
    l = json_pack("{s:s,s:s,s:s}", "k", "left", "fe", str(m, "fe"), "conv", str(m, "conv"));
    ucwa_pool_queue_locked(txn->store, UCWA_POOL_SEND, from, NULL,
                           mob_json_dump(txn->pool, l, NULL), NULL);
    json_decref(l);
    res->what = "accepted after the invitation ended here";
}

/* A call's answer as a message gives it (sdp: its bytes). */
static ucwa_conv_answer_in *answer_of(apr_pool_t *p, const json_t *m, const ucwa_pool_sdp *sdp)
{
    ucwa_conv_answer_in *a = apr_pcalloc(p, sizeof(*a));

    a->ctype = sdp->ctype;
    a->body = sdp->body;
    a->len = sdp->len;
    a->cid = str(m, "cid");
    a->session_context = str(m, "ctx");
    return a;
}

static int apply_conv(ucwa_txn *txn, const char *k, const json_t *m, const ucwa_pool_sdp *sdp,
                      apr_time_t now, ucwa_pool_applied *res)
{
    ucwa_store *s = txn->store;
    int idx = conv_of(s, m), side;
    ucwa_conv_touched t;
    ucwa_conv *c;

    if (idx < 0) {
        res->what = "a conversation that ended here";
        if (!strcmp(k, "accepted") && !strcmp(str(m, "fe"), area(s)->fe)) {
            accepted_too_late(txn, m, res);
        }
        return 0;
    }
    c = ucwa_store_conv(s, idx);
    side = ucwa_conv_remote_side(c);
    t.n = 0;
    res->what = k;
    if (*str(m, "sdp") && !sdp) {
        /* a call's description that is not in the pool's table (never written, or older
         * than the reaper allows): the message cannot be applied */
        res->what = "a call's session description is not in the pool's table";
        if (!strcmp(k, "accepted") && !c->mirror) {
            accepted_too_late(txn, m, res);   /* the accepter's side ends */
            res->what = "an answer that is not in the pool's table (the accepter was told "
                        "to leave)";
        }
        return -1;
    }
    if (!strcmp(k, "gone")) {
        ucwa_conv_remote_gone_locked(s, idx, now, txn->pool, &t);
    }
    else if (!strcmp(k, "accepted")) {
        const char *peer = str(m, "peer"), *from = str(m, "by");
        if (!*peer || !*from || strlen(peer) >= UCWA_CONV_ID_MAX
            || strlen(from) >= UCWA_POOL_FE_MAX) {
            return -1;
        }
        if (ucwa_conv_remote_accepted_locked(s, idx, from, peer, str(m, "name"),
                                             (int)num(m, "html"),
                                             sdp ? answer_of(txn->pool, m, sdp) : NULL, now,
                                             txn->pool, &t)
                != UCWA_CONV_OK
            && !c->mirror && c->phase == UCWA_CONV_ENDED) {
            accepted_too_late(txn, m, res);
        }
    }
    else if (!strcmp(k, "pa-answered") && c->mirror && c->phone_number[0] && !c->phone) {
        /* the SIP side (another Front End's) reached the phone an application here
         * answered on: its claim wins now, the call connects as phoneAudio */
        c->phone = UCWA_CONV_PHONE_ANSWERED;
        ucwa_conv_claimed_locked(s, idx, 1, 1, now, txn->pool, &t);
    }
    else if (!strcmp(k, "pa-replaced")) {
        /* replaceWithPhoneAudio done (ok) or given up by the SIP side that holds the call */
        ucwa_conv_phone_replaced_locked(s, idx, num(m, "ok") != 0, now, txn->pool, &t);
    }
    else if (!strcmp(k, "elsewhere")) {
        ucwa_conv_elsewhere_locked(s, idx, now, txn->pool, &t);
    }
    else if (!strcmp(k, "declined")) {
        c->remote_invited = 0;
        c->claiming = 0;
        ucwa_conv_decline_locked(s, idx, now, txn->pool, &t);
    }
    else if (!strcmp(k, "canceled")) {
        if (!c->mirror) {
            return -1;
        }
        ucwa_conv_cancel_locked(s, idx, now, txn->pool, &t);
    }
    else if (!strcmp(k, "message")) {
        const char *uri = str(m, "uri"), *why;
        ucwa_msg_format fmt;
        char *text = NULL;
        apr_size_t len = 0;
        apr_uint32_t number;
        if (ucwa_message_parse_data_uri(txn->pool, uri, ucwa_store_get_limits(s)->event_size,
                                        &fmt, &text, &len, &why) != UCWA_MSG_OK) {
            return -1;
        }
        ucwa_conv_message_locked(s, idx, side, fmt, text, len, uri, NULL, now, txn->pool,
                                 &number, &t);
    }
    else if (!strcmp(k, "provisional")) {
        if (!sdp || c->mirror) {
            return -1;
        }
        ucwa_conv_remote_provisional_locked(s, idx, answer_of(txn->pool, m, sdp), now,
                                            txn->pool, &t);
    }
    else if (!strcmp(k, "reneg")) {
        if (!sdp) {
            return -1;
        }
        if (ucwa_conv_renegotiate_locked(s, idx, side, sdp->ctype, sdp->body, sdp->len,
                                         str(m, "op"), now, txn->pool, &t) != UCWA_CONV_OK) {
            res->what = "a renegotiation the call here is not in a state for (or the callee's, "
                        "crossed by the caller's: the caller's wins)";
        }
    }
    else if (!strcmp(k, "reneg-answer")) {
        json_int_t n = num(m, "n");
        if (n < 1 || n > 0x7fffffff) {
            return -1;
        }
        if (ucwa_conv_reneg_answer_locked(s, idx, side, (apr_uint32_t)n,
                                          sdp ? sdp->ctype : NULL, sdp ? sdp->body : NULL,
                                          sdp ? sdp->len : 0, now, txn->pool, &t)
                != UCWA_CONV_OK) {
            res->what = "an answer to a renegotiation that is not open here";
        }
    }
    else if (!strcmp(k, "av-add")) {
        /* a call added to the IM conversation on the other side's Front End */
        if (!sdp || !is_key(str(m, "call"))) {
            return -1;
        }
        ucwa_conv_remote_add_av_locked(s, idx, str(m, "call"), num(m, "video") != 0,
                                       sdp->ctype, sdp->body, sdp->len, str(m, "ctx"),
                                       (apr_time_t)num(m, "expires"), now, txn->pool, &t);
    }
    else if (!strcmp(k, "av-answer")) {
        if (!sdp || !is_key(str(m, "call"))) {
            return -1;
        }
        ucwa_conv_remote_answer_added_locked(s, idx, str(m, "call"), num(m, "prov") != 0,
                                             answer_of(txn->pool, m, sdp), now, txn->pool, &t);
    }
    else if (!strcmp(k, "av-stop")) {
        if (!is_key(str(m, "call"))) {
            return -1;
        }
        ucwa_conv_remote_stop_av_locked(s, idx, str(m, "call"), now, txn->pool, &t);
    }
    else if (!strcmp(k, "msg-add")) {
        /* messaging added to the call's conversation on the other side's Front End */
        ucwa_conv_remote_add_messaging_locked(s, idx, (apr_time_t)num(m, "expires"), now,
                                              txn->pool, &t);
    }
    else if (!strcmp(k, "msg-accept")) {
        ucwa_conv_remote_msg_accepted_locked(s, idx, now, txn->pool, &t);
    }
    else if (!strcmp(k, "av-off")) {
        /* hung up there beside the messaging added to the call's conversation (with no
         * messaging here any more: the conversation had nothing left, it ends) */
        if (c->kind != UCWA_CONV_KIND_AV) {
            return -1;
        }
        ucwa_conv_stop_av_locked(s, idx, side, -1, now, txn->pool, &t);
    }
    else if (!strcmp(k, "msg-off")) {
        /* messaging stopped there beside the call (with no call here any more: the
         * conversation had nothing left, it ends) */
        ucwa_conv_stop_messaging_locked(s, idx, side, now, txn->pool, &t);
    }
    else if (!strcmp(k, "typing")) {
        ucwa_conv_typing_locked(s, idx, side, now, txn->pool, &t);
    }
    else if (!strcmp(k, "left")) {
        ucwa_conv_leave_locked(s, idx, side, now, txn->pool, &t);
    }
    else {
        return -1;
    }
    wake_touched(txn, &t, res);
    return 0;
}

/* Wakes every application of user (events were posted to them). */
static void wake_user(ucwa_txn *txn, int user, ucwa_pool_applied *res)
{
    int i;

    for (i = ucwa_store_first_app(txn->store, user); i >= 0;
         i = ucwa_store_next_app(txn->store, i)) {
        ucwa_txn_wake_app(txn, i);
        res->wakes++;
    }
}

/* A conversation log entry of a user changed on another Front End: his applications here
 * get the events that Front End's got (conversationLog type, missedItems updated). */
static int apply_log(ucwa_txn *txn, const json_t *m, apr_time_t now, ucwa_pool_applied *res)
{
    ucwa_store *s = txn->store;
    const char *log = str(m, "log"), *type = str(m, "type");
    int user = ucwa_store_user_find_locked(s, str(m, "sip"), 0);

    if (strlen(log) != 24 || strspn(log, "0123456789abcdef") != 24
        || (strcmp(type, "updated") && strcmp(type, "deleted") && strcmp(type, "added"))) {
        return -1;
    }
    res->what = "a conversation log";
    if (user < 0) {
        return 0;   /* no application here any more */
    }
    ucwa_store_post_user_locked(s, user, 0, UCWA_PRIO_HIGH, "communication", "/communication",
                                "conversationLog",
                                apr_pstrcat(txn->pool, "/communication/conversationLogs/", log,
                                            NULL), type, now, txn->pool);
    ucwa_store_post_user_locked(s, user, 0, UCWA_PRIO_HIGH, "communication", "/communication",
                                "missedItems", "/communication/missedItems", "updated", now,
                                txn->pool);
    wake_user(txn, user, res);
    return 0;
}

/* A resource of a user's me changed on another Front End (callForwardingSettings): his
 * applications here get `rel updated`, as that Front End's did. */
static int apply_me(ucwa_txn *txn, const json_t *m, apr_time_t now, ucwa_pool_applied *res)
{
    static const char *const rels[] = { "callForwardingSettings", NULL };
    const char *rel = str(m, "rel");
    int user, k;

    for (k = 0; rels[k] && strcmp(rels[k], rel); k++) {
    }
    if (!rels[k]) {
        return -1;
    }
    res->what = "a change of me";
    if ((user = ucwa_store_user_find_locked(txn->store, str(m, "sip"), 0)) < 0) {
        return 0;   /* no application here any more */
    }
    ucwa_store_post_user_locked(txn->store, user, 0, UCWA_PRIO_MEDIUM, "me", "/me", rels[k],
                                apr_pstrcat(txn->pool, "/me/", rels[k], NULL), "updated", now,
                                txn->pool);
    wake_user(txn, user, res);
    return 0;
}

/* Front End fe is gone: the presence it gave and the conversations it held end here. */
/* fe-gone's "keep": the conversation keys (their conv part) that stay connected. */
static int kept(const char *kconv, void *arg)
{
    size_t i;
    json_t *v;

    json_array_foreach((json_t *)arg, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), kconv)) {
            return 1;
        }
    }
    return 0;
}

static int apply_fe_gone(ucwa_txn *txn, const json_t *m, const ucwa_idle_rules *rules,
                         apr_time_t now, ucwa_pool_applied *res)
{
    ucwa_store *s = txn->store;
    const char *fe = str(m, "fe");
    apr_uint32_t i, n = ucwa_store_get_limits(s)->max_users;
    ucwa_conv_touched t;

    if (!*fe || !strcmp(fe, area(s)->fe)) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        ucwa_user *u = ucwa_store_user(s, (int)i);
        if (u->state != UCWA_SLOT_LIVE || strcmp(u->remote_fe, fe) != 0) {
            continue;
        }
        u->remote_fe[0] = '\0';
        u->remote_available = 0;
        u->published = ucwa_store_availability(u, rules, now);
        res->wakes += ucwa_subs_notify_locked(s, (int)i, "presence", now, txn->pool, txn);
    }
    t.n = 0;
    ucwa_conv_fe_gone_keep_locked(s, fe, json_array_size(json_object_get(m, "keep"))
                                  ? kept : NULL, json_object_get(m, "keep"), now,
                                  txn->pool, &t);
    wake_touched(txn, &t, res);
    res->what = "a Front End gone";
    return 0;
}

int ucwa_pool_apply_locked(ucwa_txn *txn, const char *body, apr_size_t len,
                           const ucwa_idle_rules *rules, apr_time_t now, ucwa_pool_applied *res)
{
    return ucwa_pool_apply_sdp_locked(txn, body, len, NULL, rules, now, res);
}

static int is_key(const char *k)
{
    int i;

    for (i = 0; i < 32; i++) {
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f'))) {
            return 0;
        }
    }
    return k[32] == '\0';
}

const char *ucwa_pool_sdp_key(apr_pool_t *p, const char *body, apr_size_t len)
{
    json_t *m;
    const char *k;

    if (len > UCWA_POOL_BODY_MAX || !memchr(body, '"', len)) {
        return NULL;
    }
    m = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    mob_json_own(p, m);
    k = str(m, "sdp");
    return is_key(k) ? k : NULL;
}

void ucwa_pool_sdp_new_key(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    int i;

    memset(r, 0, sizeof(r));
    (void)RAND_bytes(r, sizeof(r));
    for (i = 0; i < 16; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[32] = '\0';
}

int ucwa_pool_apply_sdp_locked(ucwa_txn *txn, const char *body, apr_size_t len,
                               const ucwa_pool_sdp *sdp, const ucwa_idle_rules *rules,
                               apr_time_t now, ucwa_pool_applied *res)
{
    json_t *m;
    const char *k;
    int rv;

    memset(res, 0, sizeof(*res));
    if (!active(area(txn->store))) {
        return -1;
    }
    if (len > UCWA_POOL_BODY_MAX) {
        res->what = "too long";
        return -1;
    }
    m = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        res->what = "not a JSON object";
        return -1;
    }
    mob_json_own(txn->pool, m);
    k = str(m, "k");
    if (!strcmp(k, "presence")) {
        rv = apply_presence(txn, m, body, len, rules, now, res);
    }
    else if (!strcmp(k, "invite")) {
        rv = apply_invite(txn, m, sdp, now, res);
    }
    else if (!strcmp(k, "fe-gone")) {
        rv = apply_fe_gone(txn, m, rules, now, res);
    }
    else if (!strcmp(k, "log")) {
        rv = apply_log(txn, m, now, res);
    }
    else if (!strcmp(k, "me")) {
        rv = apply_me(txn, m, now, res);
    }
    else {
        rv = apply_conv(txn, k, m, sdp, now, res);
    }
    if (rv == 0) {
        area(txn->store)->applied++;
    }
    else if (!res->what) {
        res->what = "malformed";
    }
    return rv;
}
