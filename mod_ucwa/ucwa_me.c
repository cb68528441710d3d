#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_json.h"
#include "ucwa_app.h"
#include "ucwa_events.h"
#include "ucwa_input.h"
#include "ucwa_me.h"
#include "ucwa_resources.h"
#include "ucwa_shm.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);

int ucwa_me_publish(ucwa_store *s, int user, const ucwa_idle_rules *rules, apr_time_t now,
                    apr_pool_t *p)
{
    ucwa_user *u = ucwa_store_user(s, user);
    ucwa_availability av = ucwa_store_availability(u, rules, now);

    if (av == (ucwa_availability)u->published) {
        return 0;
    }
    u->published = av;
    ucwa_store_post_user(s, user, 1, UCWA_PRIO_MEDIUM, "me", "/me", "presence",
                         "/me/presence", "updated", now, p);
    ucwa_subscriptions_notify(s, user, "presence", now, p);
    return 1;
}

static int make_me_available(ucwa_req *q, ucwa_store *s, int idx)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    ucwa_user *u = ucwa_store_user(s, (int)a->user);
    apr_pool_t *p = q->r->pool;
    const ucwa_idle_rules *rules = &q->conf->global->idle_rules;
    apr_time_t now = apr_time_now();
    json_t *in, *mods, *formats, *v;
    const char *sign_in_as = NULL, *sender, *comm;
    apr_uint32_t modalities = 0, html = 0;
    ucwa_availability pref = UCWA_AV_NONE;
    size_t i;
    int rv, bad = 0;

    if (a->available) {
        ucwa_shm_unlock();
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "AlreadyExists",
                               "makeMeAvailable was already called.");
    }
    /* the body is read with the lock released; the state is checked again after */
    ucwa_shm_unlock();
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
    if (bad) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               "supportedModalities, supportedMessageFormats or signInAs has "
                               "a value UCWA does not define.");
    }
    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    a = ucwa_store_app(s, idx);
    u = ucwa_store_user(s, (int)a->user);
    if (a->available) {
        ucwa_shm_unlock();
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "AlreadyExists",
                               "makeMeAvailable was already called.");
    }
    a->available = 1;
    a->modalities = modalities ? modalities : UCWA_MOD_MESSAGING;
    a->html = html;
    u->available_apps++;
    u->last_activity = now;
    if (pref != UCWA_AV_NONE) {
        u->preferred = pref;
    }
    /* what the documentation lists for leaving lurker mode, in one package */
    sender = apr_psprintf(p, "\"rel\":\"me\",\"href\":\"%s/me\"", a->base);
    ucwa_store_post(s, idx, UCWA_PRIO_MEDIUM, sender,
                    apr_psprintf(p, "{\"link\":{\"rel\":\"me\",\"href\":\"%s/me\"},"
                                 "\"type\":\"updated\"}", a->base), now);
    ucwa_store_post(s, idx, UCWA_PRIO_MEDIUM, sender,
                    apr_psprintf(p, "{\"link\":{\"rel\":\"presence\",\"href\":\"%s/me/presence\"},"
                                 "\"type\":\"added\"}", a->base), now);
    ucwa_store_post(s, idx, UCWA_PRIO_MEDIUM, sender,
                    apr_psprintf(p, "{\"link\":{\"rel\":\"note\",\"href\":\"%s/me/note\"},"
                                 "\"type\":\"added\"}", a->base), now);
    ucwa_store_post(s, idx, UCWA_PRIO_MEDIUM, sender,
                    apr_psprintf(p, "{\"link\":{\"rel\":\"location\",\"href\":\"%s/me/location\"},"
                                 "\"type\":\"added\"}", a->base), now);
    comm = mob_json_dump(p, ucwa_res_communication(p, a), NULL);
    ucwa_store_post(s, idx, UCWA_PRIO_MEDIUM,
                    apr_psprintf(p, "\"rel\":\"communication\",\"href\":\"%s/communication\"",
                                 a->base),
                    apr_psprintf(p, "{\"link\":{\"rel\":\"communication\",\"href\":"
                                 "\"%s/communication\"},\"type\":\"updated\",\"_embedded\":"
                                 "{\"communication\":%s}}", a->base, comm), now);
    /* this device's own presence was announced as added; the others see an update */
    {
        apr_uint32_t before = u->published;
        u->published = ucwa_store_availability(u, &q->conf->global->idle_rules, now);
        if (u->published != before) {
            ucwa_subscriptions_notify(s, (int)a->user, "presence", now, p);
        }
    }
    {
        int i2;
        for (i2 = ucwa_store_first_app(s, (int)a->user); i2 >= 0;
             i2 = ucwa_store_next_app(s, i2)) {
            ucwa_app *o = ucwa_store_app(s, i2);
            if (i2 != idx && o->available) {
                ucwa_store_post(s, i2, UCWA_PRIO_MEDIUM,
                                apr_psprintf(p, "\"rel\":\"me\",\"href\":\"%s/me\"", o->base),
                                apr_psprintf(p, "{\"link\":{\"rel\":\"presence\",\"href\":"
                                             "\"%s/me/presence\"},\"type\":\"updated\"}",
                                             o->base), now);
            }
        }
    }
    (void)rules;
    ucwa_events_wake_user(s, (int)a->user);
    ucwa_shm_unlock();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00060)
                  "%s made application %s available", q->user, q->app_id);
    return ucwa_http_no_content(q);
}

/* POST of presence, note or location: parse first, then apply under the lock. */
typedef enum {
    SET_PRESENCE = UCWA_ME_PRESENCE, SET_NOTE = UCWA_ME_NOTE, SET_LOCATION = UCWA_ME_LOCATION
} set_kind;

static int set_self(ucwa_req *q, set_kind kind)
{
    static const char *const rels[] = { "presence", "note", "location" };
    const ucwa_idle_rules *rules = &q->conf->global->idle_rules;
    apr_time_t now = apr_time_now();
    ucwa_availability pref = UCWA_AV_NONE;
    const char *text = NULL;
    ucwa_store *s;
    ucwa_app *a;
    ucwa_user *u;
    json_t *in;
    int idx, rv, bad = 0;

    in = ucwa_http_input(q, &rv);
    if (!in) {
        return rv;
    }
    switch (kind) {
    case SET_PRESENCE:
        text = ucwa_input_string(in, "availability", 32, &bad);
        /* an empty body resets: the server computes presence again */
        if (text && (pref = ucwa_availability_parse(text)) == UCWA_AV_NONE) {
            bad = 1;
        }
        break;
    case SET_NOTE:
        text = ucwa_input_string(in, "message", UCWA_NOTE_CHARS, &bad);
        break;
    case SET_LOCATION:
        text = ucwa_input_string(in, "location", UCWA_LOCATION_CHARS, &bad);
        break;
    }
    if (bad) {
        return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                               kind == SET_PRESENCE
                               ? "availability must be Online, Busy, DoNotDisturb, BeRightBack, "
                                 "Away or Offwork."
                               : "The value is not a string of the allowed length.");
    }
    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    a = ucwa_store_app(s, idx);
    if (!a->available) {
        ucwa_shm_unlock();
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "MakeMeAvailableRequired",
                               "Call makeMeAvailable first.");
    }
    u = ucwa_store_user(s, (int)a->user);
    u->last_activity = now;
    switch (kind) {
    case SET_PRESENCE:
        u->preferred = pref;
        apr_cpystrn(u->activity, pref == UCWA_AV_OFFWORK ? "off-work" : "", sizeof(u->activity));
        if (!ucwa_me_publish(s, (int)a->user, rules, now, q->r->pool)) {
            /* same availability, new activity or an explicit set: still an update */
            ucwa_store_post_user(s, (int)a->user, 1, UCWA_PRIO_MEDIUM, "me", "/me", "presence",
                                 "/me/presence", "updated", now, q->r->pool);
            ucwa_subscriptions_notify(s, (int)a->user, "presence", now, q->r->pool);
        }
        break;
    case SET_NOTE:
    case SET_LOCATION: {
        char *field = kind == SET_NOTE ? u->note : u->location;
        apr_size_t size = kind == SET_NOTE ? sizeof(u->note) : sizeof(u->location);
        const char *type = !text || !*text ? "deleted" : *field ? "updated" : "added";
        apr_cpystrn(field, text ? text : "", size);
        ucwa_store_post_user(s, (int)a->user, 1, UCWA_PRIO_MEDIUM, "me", "/me", rels[kind],
                             apr_pstrcat(q->r->pool, "/me/", rels[kind], NULL), type, now,
                             q->r->pool);
        ucwa_subscriptions_notify(s, (int)a->user, rels[kind], now, q->r->pool);
        break;
    }
    }
    ucwa_events_wake_user(s, (int)a->user);
    ucwa_shm_unlock();
    return ucwa_http_no_content(q);
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
    if (what == UCWA_ME_PHONES) {
        return ucwa_http_resource(q, HTTP_OK, ucwa_res_phones(q->r->pool, &copy));
    }
    if (what == UCWA_ME_CALL_FORWARDING) {
        json_t *res = ucwa_res_call_forwarding(q->r->pool, &copy);
        if (q->r->method_number == M_PUT) {
            if (!ucwa_http_put_input(q, res, &rv)) {
                return rv;
            }
            /* forwarding needs Enterprise Voice, which this server does not provide */
            return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", NULL,
                                   "Call forwarding is not available for this user.");
        }
        return ucwa_http_etagged(q, res);
    }
    if (!copy.available) {
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "MakeMeAvailableRequired",
                               "Call makeMeAvailable first.");
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

int ucwa_me_report_activity(ucwa_req *q, int what)
{
    const ucwa_idle_rules *rules = &q->conf->global->idle_rules;
    apr_time_t now = apr_time_now();
    ucwa_store *s;
    ucwa_app *a;
    int idx, rv;

    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) {
        return rv;
    }
    a = ucwa_store_app(s, idx);
    if (!a->available) {
        ucwa_shm_unlock();
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "MakeMeAvailableRequired",
                               "Call makeMeAvailable first.");
    }
    ucwa_store_user(s, (int)a->user)->last_activity = now;
    if (ucwa_me_publish(s, (int)a->user, rules, now, q->r->pool)) {
        ucwa_events_wake_user(s, (int)a->user);   /* back from idle */
    }
    ucwa_shm_unlock();
    return ucwa_http_no_content(q);
}

int ucwa_me_make_available(ucwa_req *q, int what)
{
    ucwa_store *s;
    int idx, rv;

    if ((s = ucwa_app_lock(q, &idx, &rv)) == NULL) return rv;
    return make_me_available(q, s, idx);
}

int ucwa_me_set(ucwa_req *q, int what)
{
    return set_self(q, (set_kind)what);
}
