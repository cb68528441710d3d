#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_events.h"
#include "ucwa_input.h"
#include "ucwa_me.h"
#include "ucwa_media_relay.h"
#include "ucwa_pool.h"
#include "ucwa_resources.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);

int ucwa_me_publish_locked(ucwa_txn *t, int user, const ucwa_idle_rules *rules, apr_time_t now)
{
    ucwa_user *u = ucwa_store_user(t->store, user);
    ucwa_availability av = ucwa_store_availability(u, rules, now);

    if (av == (ucwa_availability)u->published) {
        return 0;
    }
    u->published = av;
    ucwa_pool_user_dirty_locked(t->store, user);
    ucwa_store_post_user_locked(t->store, user, 1, UCWA_PRIO_MEDIUM, "me", "/me", "presence",
                                "/me/presence", "updated", now, t->pool);
    ucwa_subscriptions_notify_locked(t, user, "presence", now);
    return 1;
}

static int need_available(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "MakeMeAvailableRequired",
                           "Call makeMeAvailable first.");
}

static int already_available(ucwa_req *q)
{
    return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "AlreadyExists",
                           "makeMeAvailable was already called.");
}

/* A phone number as makeMeAvailable takes it: E.164 ("+14255550100"), with the separators
 * people type (space, "-", ".", "()"), or a tel: URI with ";ext=". */
static int phone_number_ok(const char *v)
{
    int digits = 0;

    if (!strncasecmp(v, "tel:", 4)) {
        v += 4;
    }
    if (*v == '+') {
        v++;
    }
    for (; *v; v++) {
        if (apr_isdigit(*v)) {
            digits++;
        }
        else if (!strchr(" -.()", *v)) {
            return !strncasecmp(v, ";ext=", 5) && digits >= 3 && v[5]
                   && strspn(v + 5, "0123456789") == strlen(v + 5);
        }
    }
    return digits >= 3 && digits <= 20;
}

/* makeMeAvailable's first look: a copy of the application, 1 if it is available. */
static int copy_available(ucwa_txn *t, int idx, void *baton)
{
    ucwa_app *copy = baton;

    *copy = *ucwa_store_app(t->store, idx);
    return copy->available ? 1 : 0;
}

/* What makeMeAvailable applies, with its events rendered before the lock is taken. */
typedef struct {
    apr_uint32_t modalities, html, phone_audio;
    const char *phone_number;
    ucwa_availability pref;
    const ucwa_idle_rules *rules;
    apr_time_t now;
    ucwa_event events[5];          /* me, presence, note, location; communication */
} available_in;

static int make_available_locked(ucwa_txn *t, int idx, void *baton)
{
    const available_in *in = baton;
    ucwa_app *a = ucwa_store_app(t->store, idx);
    ucwa_user *u = ucwa_store_user(t->store, (int)a->user);
    apr_uint32_t before;
    int i;

    if (a->available) {
        return 1;
    }
    a->available = 1;
    a->modalities = in->modalities;
    a->html = in->html;
    a->phone_audio = in->phone_audio;
    apr_cpystrn(a->phone_number, in->phone_number ? in->phone_number : "",
                sizeof(a->phone_number));
    u->available_apps++;
    u->last_activity = in->now;
    ucwa_pool_user_changed_locked(t->store, (int)a->user, in->now);
    if (in->pref != UCWA_AV_NONE) {
        u->preferred = in->pref;
    }
    /* what the documentation lists for leaving lurker mode, in one package */
    for (i = 0; i < 5; i++) {
        ucwa_store_post_locked(t->store, idx, UCWA_PRIO_MEDIUM, &in->events[i], in->now);
    }
    /* this device's own presence was announced as added; the others see an update */
    before = u->published;
    u->published = ucwa_store_availability(u, in->rules, in->now);
    if (u->published != before) {
        ucwa_subscriptions_notify_locked(t, (int)a->user, "presence", in->now);
    }
    for (i = ucwa_store_first_app(t->store, (int)a->user); i >= 0;
         i = ucwa_store_next_app(t->store, i)) {
        ucwa_app *o = ucwa_store_app(t->store, i);
        if (i != idx && o->available) {
            static const ucwa_event updated = {
                .sender_rel = "me", .sender_href = "/me", .rel = "presence",
                .href = "/me/presence", .type = "updated"
            };
            ucwa_store_post_locked(t->store, i, UCWA_PRIO_MEDIUM, &updated, in->now);
        }
    }
    ucwa_events_wake_user_locked(t, (int)a->user);
    return 0;
}

static int make_me_available(ucwa_req *q)
{
    static const char *const rels[] = { "me", "presence", "note", "location" };
    static const char *const types[] = { "updated", "added", "added", "added" };
    apr_pool_t *p = q->r->pool;
    ucwa_app copy;
    available_in x;
    json_t *in, *mods, *formats, *v;
    const char *sign_in_as = NULL, *phone, *audio_pref;
    apr_uint32_t modalities = 0, html = 0;
    ucwa_availability pref = UCWA_AV_NONE;
    size_t i;
    int rv, res, bad = 0;

    if ((res = ucwa_app_txn(q, copy_available, &copy, &rv)) < 0) {
        return rv;
    }
    if (res) {
        return already_available(q);
    }
    /* the body is read with the lock released; the state is checked again after */
    in = ucwa_http_input(q, &rv);
    if (!in) {
        return rv;
    }
    mods = ucwa_input_get(in, "supportedModalities");
    formats = ucwa_input_get(in, "supportedMessageFormats");
    if ((mods && !json_is_array(mods)) || (formats && !json_is_array(formats))) {
        bad = 1;
    }
    json_array_foreach(mods, i, v) {
        const char *m = json_string_value(v);
        if (!m) bad = 1;
        else if (!strcasecmp(m, "Messaging")) modalities |= UCWA_MOD_MESSAGING;
        else if (!strcasecmp(m, "PhoneAudio")) modalities |= UCWA_MOD_PHONE;
        else if (!strcasecmp(m, "Audio")) modalities |= UCWA_MOD_AUDIO;
        else if (!strcasecmp(m, "Video")) modalities |= UCWA_MOD_VIDEO;
        else if (strcasecmp(m, "ApplicationSharing") && strcasecmp(m, "DataCollaboration")
                 && strcasecmp(m, "PanoramicVideo")) bad = 1;
    }
    json_array_foreach(formats, i, v) {
        const char *f = json_string_value(v);
        if (!f) bad = 1;
        else if (!strcasecmp(f, "Html")) html = 1;
        else if (strcasecmp(f, "Plain")) bad = 1;
    }
    sign_in_as = ucwa_input_string(in, "signInAs", 32, &bad);
    if (sign_in_as && (pref = ucwa_availability_parse(sign_in_as)) == UCWA_AV_NONE) {
        bad = 1;
    }
    phone = ucwa_input_string(in, "phoneNumber", UCWA_PHONE_MAX - 1, &bad);
    audio_pref = ucwa_input_string(in, "audioPreference", 32, &bad);
    if (audio_pref && strcasecmp(audio_pref, "PhoneAudio") && strcasecmp(audio_pref, "VoipAudio")
        && strcasecmp(audio_pref, "Unknown")) {
        bad = 1;
    }
    if (phone && *phone && !phone_number_ok(phone)) {
        bad = 1;
    }
    if (bad) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               "supportedModalities, supportedMessageFormats, signInAs, "
                               "phoneNumber or audioPreference has a value UCWA does not "
                               "define.");
    }
    /* the events, made from the copy as the transaction will leave the application (the
     * transaction answers 409 if another request made it available meanwhile) */
    memset(&x, 0, sizeof(x));
    x.modalities = modalities ? modalities : UCWA_MOD_MESSAGING;
    if (!ucwa_app_policy(q->conf->global, copy.policy_tag)->enable_ip_audio_video) {
        /* the policy has no calls: this application never rings */
        x.modalities &= ~(UCWA_MOD_AUDIO | UCWA_MOD_VIDEO);
    }
    x.html = html;
    x.pref = pref;
    x.phone_number = phone;
    x.phone_audio = audio_pref && !strcasecmp(audio_pref, "PhoneAudio");
    copy.phone_audio = x.phone_audio;
    apr_cpystrn(copy.phone_number, phone ? phone : "", sizeof(copy.phone_number));
    x.rules = &q->conf->global->idle_rules;
    x.now = apr_time_now();
    copy.available = 1;
    copy.modalities = x.modalities;
    copy.html = x.html;
    for (i = 0; i < 4; i++) {
        ucwa_event *e = &x.events[i];
        e->sender_rel = "me";
        e->sender_href = "/me";
        e->rel = rels[i];
        e->href = i ? apr_pstrcat(p, "/me/", rels[i], NULL) : "/me";
        e->type = types[i];
    }
    /* the communication resource, relative to the application like every event */
    copy.base[0] = '\0';
    x.events[4].sender_rel = "communication";
    x.events[4].sender_href = "/communication";
    x.events[4].rel = "communication";
    x.events[4].href = "/communication";
    x.events[4].type = "updated";
    x.events[4].type_first = 1;
    x.events[4].extra = apr_pstrcat(p, "\"_embedded\":{\"communication\":",
                                    mob_json_dump(p, ucwa_res_communication(p, &copy,
                                        ucwa_app_features(q->conf->global, &copy)), NULL),
                                    "}", NULL);
    if ((res = ucwa_app_txn(q, make_available_locked, &x, &rv)) < 0) {
        return rv;
    }
    if (res) {
        return already_available(q);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00060)
                  "%s made application %s available", q->user, q->app_id);
    return ucwa_http_no_content(q);
}

/* POST of presence, note or location: parse first, then apply under the lock. */
typedef enum {
    SET_PRESENCE = UCWA_ME_PRESENCE, SET_NOTE = UCWA_ME_NOTE, SET_LOCATION = UCWA_ME_LOCATION
} set_kind;

typedef struct {
    set_kind kind;
    ucwa_availability pref;
    const char *text;
    const ucwa_idle_rules *rules;
    apr_time_t now;
} set_in;

static int set_self_locked(ucwa_txn *t, int idx, void *baton)
{
    static const char *const rels[] = { "presence", "note", "location" };
    const set_in *in = baton;
    ucwa_app *a = ucwa_store_app(t->store, idx);
    int user = (int)a->user;
    ucwa_user *u;

    if (!a->available) {
        return 1;
    }
    u = ucwa_store_user(t->store, user);
    u->last_activity = in->now;
    ucwa_pool_user_changed_locked(t->store, user, in->now);
    switch (in->kind) {
    case SET_PRESENCE:
        u->preferred = in->pref;
        apr_cpystrn(u->activity, in->pref == UCWA_AV_OFFWORK ? "off-work" : "",
                    sizeof(u->activity));
        if (!ucwa_me_publish_locked(t, user, in->rules, in->now)) {
            /* same availability, new activity or an explicit set: still an update */
            ucwa_store_post_user_locked(t->store, user, 1, UCWA_PRIO_MEDIUM, "me", "/me",
                                        "presence", "/me/presence", "updated", in->now,
                                        t->pool);
            ucwa_subscriptions_notify_locked(t, user, "presence", in->now);
        }
        break;
    case SET_NOTE:
    case SET_LOCATION: {
        char *field = in->kind == SET_NOTE ? u->note : u->location;
        apr_size_t size = in->kind == SET_NOTE ? sizeof(u->note) : sizeof(u->location);
        const char *type = !in->text || !*in->text ? "deleted" : *field ? "updated" : "added";
        apr_cpystrn(field, in->text ? in->text : "", size);
        ucwa_store_post_user_locked(t->store, user, 1, UCWA_PRIO_MEDIUM, "me", "/me",
                                    rels[in->kind],
                                    apr_pstrcat(t->pool, "/me/", rels[in->kind], NULL), type,
                                    in->now, t->pool);
        ucwa_subscriptions_notify_locked(t, user, rels[in->kind], in->now);
        break;
    }
    }
    ucwa_events_wake_user_locked(t, user);
    return 0;
}

static int set_self(ucwa_req *q, set_kind kind)
{
    set_in x;
    json_t *in;
    int rv, res, bad = 0;

    in = ucwa_http_input(q, &rv);
    if (!in) {
        return rv;
    }
    memset(&x, 0, sizeof(x));
    x.kind = kind;
    x.pref = UCWA_AV_NONE;
    x.rules = &q->conf->global->idle_rules;
    x.now = apr_time_now();
    switch (kind) {
    case SET_PRESENCE:
        x.text = ucwa_input_string(in, "availability", 32, &bad);
        /* an empty body resets: the server computes presence again */
        if (x.text && (x.pref = ucwa_availability_parse(x.text)) == UCWA_AV_NONE) {
            bad = 1;
        }
        break;
    case SET_NOTE:
        x.text = ucwa_input_string(in, "message", UCWA_NOTE_CHARS, &bad);
        break;
    case SET_LOCATION:
        x.text = ucwa_input_string(in, "location", UCWA_LOCATION_CHARS, &bad);
        break;
    }
    if (bad) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               kind == SET_PRESENCE
                               ? "availability must be Online, Busy, DoNotDisturb, BeRightBack, "
                                 "Away or Offwork."
                               : "The value is not a string of the allowed length.");
    }
    if ((res = ucwa_app_txn(q, set_self_locked, &x, &rv)) < 0) {
        return rv;
    }
    return res ? need_available(q) : ucwa_http_no_content(q);
}

int ucwa_me_get(ucwa_req *q, int what)
{
    const ucwa_idle_rules *rules = &q->conf->global->idle_rules;
    ucwa_app copy;
    ucwa_user user;
    ucwa_availability av;
    int rv;

    if (ucwa_app_copy(q, &copy, &user, &rv) != OK) {
        return rv;
    }
    av = ucwa_store_availability(&user, rules, apr_time_now());
    if (what == UCWA_ME_SELF) {
        return ucwa_http_resource(q, HTTP_OK, ucwa_res_me(q->r->pool, &copy, q->user));
    }
    if (!copy.available) {
        return need_available(q);
    }
    if (what == UCWA_ME_PRESENCE) {
        return ucwa_http_resource(q, HTTP_OK, ucwa_res_presence(q->r->pool, &copy, av,
                                                                user.activity));
    }
    if (what == UCWA_ME_NOTE) {
        return ucwa_http_resource(q, HTTP_OK, ucwa_res_note(q->r->pool, &copy, &user));
    }
    return ucwa_http_resource(q, HTTP_OK, ucwa_res_location(q->r->pool, &copy, &user));
}

static int report_activity_locked(ucwa_txn *t, int idx, void *baton)
{
    const set_in *in = baton;
    ucwa_app *a = ucwa_store_app(t->store, idx);

    if (!a->available) {
        return 1;
    }
    ucwa_store_user(t->store, (int)a->user)->last_activity = in->now;
    if (ucwa_me_publish_locked(t, (int)a->user, in->rules, in->now)) {
        ucwa_events_wake_user_locked(t, (int)a->user);   /* back from idle */
    }
    return 0;
}

int ucwa_me_report_activity(ucwa_req *q, int what)
{
    set_in x;
    int rv, res;

    memset(&x, 0, sizeof(x));
    x.rules = &q->conf->global->idle_rules;
    x.now = apr_time_now();
    if ((res = ucwa_app_txn(q, report_activity_locked, &x, &rv)) < 0) {
        return rv;
    }
    return res ? need_available(q) : ucwa_http_no_content(q);
}

int ucwa_me_make_available(ucwa_req *q, int what)
{
    return make_me_available(q);
}

int ucwa_me_set(ucwa_req *q, int what)
{
    return set_self(q, (set_kind)what);
}
