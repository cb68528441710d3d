/* Contacts: the contact list (myContacts) and one contact with its presence, note,
 * location, supportedMedia and privacyRelationship (ucwa_contact.h). */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_contact.h"
#include "ucwa_pool_db.h"
#include "ucwa_pool_relay.h"
#include "ucwa_people.h"
#include "ucwa_shm.h"

/* A document as JSON with the ASP.NET date spelling, or as UCWA XML. */
static int send_doc(ucwa_req *q, json_t *doc)
{
    request_rec *r = q->r;
    apr_size_t len = 0;
    const char *body;

    if (q->xml) {
        return ucwa_http_resource(q, HTTP_OK, doc);
    }
    body = ucwa_people_json(r->pool, doc, &len);
    if (!body) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return ucwa_http_send(q, HTTP_OK, "application/json; charset=utf-8", body, len);
}

static int get_contacts(ucwa_people_req *x)
{
    const char *group = ucwa_people_param(x, "groupId");
    apr_array_header_t *sips;
    ucwa_person *people;
    ucwa_ct_result r;
    int rv, expand = ucwa_people_expand(x, &rv);

    if (expand < 0 || !ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_list(&x->db, x->p, x->q->user, group, &sips);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    if (!ucwa_people_directory_all(x, sips, &people, &rv)) {
        return rv;
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_contacts(x->p, x->base, group, people,
                                                                  sips->nelts, expand));
}

/* The store's record of the user, copied out of a transaction. */
typedef struct {
    const char *sip;
    ucwa_user *out;
    int found;
    apr_uint32_t modalities;       /* of the user's available applications here */
} contact_user_txn;

static void contact_user_locked(ucwa_txn *t, void *baton)
{
    contact_user_txn *x = baton;
    int idx = ucwa_store_user_find_locked(t->store, x->sip, 0);

    if (idx >= 0) {
        int a;
        *x->out = *ucwa_store_user(t->store, idx);
        x->found = 1;
        for (a = ucwa_store_first_app(t->store, idx); a >= 0; a = ucwa_store_next_app(t->store, a)) {
            const ucwa_app *app = ucwa_store_app(t->store, a);
            if (app->available) {
                x->modalities |= app->modalities;
            }
        }
    }
}

/* The store's record of the user, when there is one and the directory lets it be seen. */
static int contact_user(ucwa_people_req *x, const char *sip, int visible, ucwa_user *out,
                        apr_uint32_t *modalities)
{
    contact_user_txn t = { sip, out, 0, 0 };

    memset(out, 0, sizeof(*out));
    *modalities = 0;
    if (!visible || ucwa_txn_run(x->q->r->server, x->p, contact_user_locked, &t) != APR_SUCCESS) {
        return 0;
    }
    *modalities = t.modalities;
    return t.found;
}

static int contact_resource(ucwa_people_req *x, const char *raw_sip, const char *what)
{
    const char *sip = ucwa_people_address(x->p, raw_sip);
    ucwa_person person;
    ucwa_user u;
    int visible = 0, rv, known;
    apr_uint32_t mods;

    if (!sip) {
        return ucwa_people_not_found(x->q, "There is no such contact: the address is not a SIP "
                                           "address.");
    }
    if (!ucwa_people_acquire(x, 0, &rv)) {
        return rv;
    }
    if (ucwa_people_directory(x, sip, &person, &visible) == UCWA_PEOPLE_DIR_FAILED) {
        return ucwa_people_db_failed(x);
    }
    if (!what) {
        return ucwa_http_etagged(x->q, ucwa_people_contact(x->p, x->base, &person));
    }
    known = contact_user(x, sip, visible, &u, &mods);
    if (visible && ucwa_pool_name(x->q->r->server) && u.available_apps == 0
        && u.remote_available == 0) {
        /* nobody here holds the contact's presence: the pool's database does */
        ucwa_pool_presence_in in;
        int found = ucwa_pool_read_presence(x->q->r, sip, &in);
        if (found < 0) {
            return ucwa_pool_unavailable(x->q);
        }
        if (!found) {
            /* homed on a linked pool: asked there (a failure there reads Offline) */
            found = ucwa_pool_link_presence(x->q->r, sip, &in) > 0;
        }
        if (found) {
            known = 1;
            u.state = UCWA_SLOT_LIVE;
            u.remote_available = (apr_uint32_t)(in.available > 0 ? in.available : 1);
            u.remote_av = in.av;
            u.remote_changed = in.changed;
            u.remote_last_activity = in.last_activity;
            apr_cpystrn(u.remote_activity, in.activity, sizeof(u.remote_activity));
            apr_cpystrn(u.remote_note, in.note, sizeof(u.remote_note));
            apr_cpystrn(u.remote_location, in.location, sizeof(u.remote_location));
        }
    }
    if (known && u.remote_available > 0 && (u.available_apps == 0 || u.remote_changed > u.changed)) {
        /* another Front End of the pool holds the newest state: show it */
        apr_cpystrn(u.activity, u.remote_activity, sizeof(u.activity));
        apr_cpystrn(u.note, u.remote_note, sizeof(u.note));
        apr_cpystrn(u.location, u.remote_location, sizeof(u.location));
        u.last_activity = u.remote_last_activity;
        u.available_apps += u.remote_available;
    }
    if (!strcasecmp(what, "presence")) {
        ucwa_contact_presence pr;
        ucwa_availability av = known ? ucwa_store_availability(&u, &x->q->conf->global->idle_rules,
                                                              apr_time_now())
                                     : UCWA_AV_OFFLINE;
        pr.availability = ucwa_availability_name(av);
        pr.activity = av != UCWA_AV_OFFLINE ? u.activity : NULL;
        pr.device_type = known && u.available_apps > 0 ? "Mobile" : "Unknown";
        pr.last_active = known ? u.last_activity : 0;
        return send_doc(x->q, ucwa_people_presence(x->p, x->base, sip, &pr, x->q->xml));
    }
    if (!strcasecmp(what, "note")) {
        return send_doc(x->q, ucwa_people_note(x->p, x->base, sip, known ? u.note : NULL));
    }
    if (!strcasecmp(what, "location")) {
        return send_doc(x->q, ucwa_people_location(
            x->p, x->base, sip, known && u.available_apps > 0 ? u.location : NULL));
    }
    if (!strcasecmp(what, "supportedMedia")) {
        /* what its applications here declared; on another Front End or pool only its
         * presence is known: messaging */
        if (known && u.available_apps > 0 && !mods) {
            mods = UCWA_MOD_MESSAGING;
        }
        return send_doc(x->q, ucwa_people_media(x->p, x->base, sip,
                                                known && u.available_apps > 0 ? mods : 0));
    }
    return send_doc(x->q, ucwa_people_privacy(x->p, x->base, sip, person.known));
}

static int my_phones(ucwa_people_req *x)
{
    ucwa_person me;
    int visible = 0, rv;

    if (!ucwa_people_acquire(x, 0, &rv)) {
        return rv;
    }
    memset(&me, 0, sizeof(me));
    if (ucwa_people_directory(x, x->q->user, &me, &visible) == UCWA_PEOPLE_DIR_FAILED) {
        return ucwa_people_db_failed(x);
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_phones(x->p, x->base, &me));
}

int ucwa_contact_my_phones(ucwa_req *q, int what)
{
    return ucwa_people_run(q, my_phones);
}

int ucwa_contact_list(ucwa_req *q, int what)
{
    return ucwa_people_run(q, get_contacts);
}

int ucwa_contact_get(ucwa_req *q, int what)
{
    static const char *const subs[] = {
        [UCWA_CONTACT_SELF] = NULL, [UCWA_CONTACT_PRESENCE] = "presence",
        [UCWA_CONTACT_NOTE] = "note", [UCWA_CONTACT_LOCATION] = "location",
        [UCWA_CONTACT_SUPPORTED_MEDIA] = "supportedMedia",
        [UCWA_CONTACT_PRIVACY_RELATIONSHIP] = "privacyRelationship"
    };
    ucwa_people_req x;
    int rv;

    if (!strchr(q->id[0], '@')) {
        return ucwa_http_unrouted(q);   /* {A}/people/{name} names no contact */
    }
    return ucwa_people_begin(&x, q, &rv) ? contact_resource(&x, q->id[0], subs[what]) : rv;
}
