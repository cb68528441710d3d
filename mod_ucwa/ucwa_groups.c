/* Groups of the contact list: myGroups, a new group, one group (read, rename, delete),
 * and subscribeToGroupPresence (ucwa_groups.h). */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_groups.h"
#include "ucwa_input.h"
#include "ucwa_people.h"
#include "ucwa_subscriptions.h"

APLOG_USE_MODULE(ucwa);

static int get_groups(ucwa_people_req *x)
{
    apr_array_header_t *groups;
    ucwa_ct_result r;
    int rv, expand = ucwa_people_expand(x, &rv);

    if (expand < 0 || !ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_groups(&x->db, x->p, x->q->user, &groups);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_groups(
        x->p, x->base, (const ucwa_group *)groups->elts, groups->nelts, expand));
}

static int create_group(ucwa_people_req *x)
{
    apr_array_header_t *evs = apr_array_make(x->p, 1, sizeof(ucwa_people_ev));
    const char *name, *id = NULL;
    ucwa_ct_result r;
    json_t *in;
    int rv, bad = 0;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    name = ucwa_people_input_string(in, "displayName", "name", &bad);
    if (bad || !name || !ucwa_contacts_name_key(x->p, name)) {
        return ucwa_people_bad_request(x->q, "displayName is required: 1 to 256 characters, "
                                       "not only spaces, no control characters.");
    }
    if (!ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_group_create(&x->db, x->p, x->q->user, name, apr_time_now(), &id);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00238)
                  "people: %s created group %s", x->q->user, id);
    ucwa_people_ev_add(evs, "group", ucwa_people_group_sub(x, id), "myGroups", "/people/groups",
                       "added");
    ucwa_people_ev_post(x, evs);
    apr_table_setn(x->q->r->headers_out, "Location",
                   apr_pstrcat(x->p, x->base, ucwa_people_group_sub(x, id), NULL));
    return ucwa_http_no_content(x->q);
}

static int group_resource(ucwa_people_req *x)
{
    const char *id = x->q->id[0];
    apr_array_header_t *evs = apr_array_make(x->p, 4, sizeof(ucwa_people_ev));
    int m = x->q->r->method_number, rv, i, bad = 0;
    ucwa_ct_result r;
    ucwa_group g;
    json_t *doc, *in;
    const char *name, *im;

    if (!ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_group(&x->db, x->p, x->q->user, id, &g);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    doc = ucwa_people_group(x->p, x->base, &g);
    if (m == M_GET) {
        return ucwa_http_etagged(x->q, doc);
    }
    if (m == M_DELETE) {
        apr_array_header_t *members, *dropped;
        r = ucwa_contacts_group_delete(&x->db, x->p, x->q->user, id, &members, &dropped);
        if (r != UCWA_CT_OK) {
            return ucwa_people_ct_error(x, r, "group");
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00239)
                      "people: %s deleted group %s (%d contacts, %d left the list)",
                      x->q->user, id, members->nelts, dropped->nelts);
        for (i = 0; i < members->nelts; i++) {
            ucwa_people_ev_add(evs, "contact",
                               ucwa_people_contact_sub(x, APR_ARRAY_IDX(members, i, const char *)),
                               "group", ucwa_people_group_sub(x, id), "deleted");
        }
        ucwa_people_ev_add(evs, "group", ucwa_people_group_sub(x, id), "myGroups", "/people/groups",
                           "deleted");
        for (i = 0; i < dropped->nelts; i++) {
            ucwa_people_ev_add(evs, "contact",
                               ucwa_people_contact_sub(x, APR_ARRAY_IDX(dropped, i, const char *)),
                               "myContacts", "/people/contacts", "deleted");
        }
        ucwa_people_ev_post(x, evs);
        return ucwa_http_no_content(x->q);
    }
    /* PUT: a rename, conditional on the group's etag */
    if (g.kind != UCWA_GROUP_KIND_CUSTOM) {
        return ucwa_people_ct_error(x, UCWA_CT_READ_ONLY, "group");
    }
    im = apr_table_get(x->q->r->headers_in, "If-Match");
    if (!im) {
        return ucwa_http_error(x->q, 428, "PreconditionRequired", NULL,
                               "A PUT needs If-Match with the group's ETag.");
    }
    if (!ucwa_http_etag_listed(x->p, im, json_string_value(json_object_get(doc, "etag")))) {
        return ucwa_http_error(x->q, HTTP_PRECONDITION_FAILED, "PreconditionFailed", NULL,
                               "The group changed: GET it again.");
    }
    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    name = ucwa_people_input_string(in, "name", "displayName", &bad);
    if (bad || !name || !ucwa_contacts_name_key(x->p, name)) {
        return ucwa_people_bad_request(x->q, "name is required: 1 to 256 characters, not only "
                                       "spaces, no control characters.");
    }
    r = ucwa_contacts_group_rename(&x->db, x->p, x->q->user, id, name);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    g.name = name;
    ucwa_people_ev_add(evs, "group", ucwa_people_group_sub(x, id), "myGroups", "/people/groups",
                       "updated");
    ucwa_people_ev_post(x, evs);
    return ucwa_http_etagged(x->q, ucwa_people_group(x->p, x->base, &g));
}

/* POST presenceSubscriptions?groupId=G (the group's subscribeToGroupPresence link): a
 * presence subscription to the group's members, made by the subscriptions code. */
static int subscribe_group(ucwa_people_req *x, const char *group)
{
    apr_array_header_t *sips;
    ucwa_ct_result r;
    json_t *in, *d;
    json_int_t minutes = -1;
    int rv;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    d = ucwa_input_get(in, "duration");
    if (json_is_integer(d)) {
        minutes = json_integer_value(d);
    }
    else if (json_is_string(d) && strlen(json_string_value(d)) <= 4
             && *json_string_value(d)) {
        const char *t = json_string_value(d);
        minutes = 0;
        for (; *t; t++) {
            minutes = apr_isdigit(*t) && minutes >= 0 ? minutes * 10 + (*t - '0') : -1;
        }
    }
    if (minutes < 10 || minutes > 30) {
        return ucwa_people_bad_request(x->q, "duration is required: 10 to 30 minutes.");
    }
    if (!ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_list(&x->db, x->p, x->q->user, group, &sips);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    return ucwa_subscriptions_create(x->q, (const char *const *)sips->elts, sips->nelts,
                                     (int)minutes);
}

int ucwa_groups_list(ucwa_req *q, int what)
{
    return ucwa_people_run(q, get_groups);
}

int ucwa_groups_create(ucwa_req *q, int what)
{
    return ucwa_people_run(q, create_group);
}

int ucwa_groups_one(ucwa_req *q, int what)
{
    return ucwa_people_run(q, group_resource);
}

int ucwa_groups_subscribe(ucwa_req *q)
{
    const char *group;
    ucwa_people_req x;
    ucwa_group g;
    ucwa_ct_result r;
    int rv;

    if (!ucwa_people_begin(&x, q, &rv)) {
        return rv;
    }
    group = ucwa_people_param(&x, "groupId");
    if (!group) {
        return ucwa_http_unrouted(q);
    }
    if (!ucwa_people_acquire(&x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_group(&x.db, x.p, q->user, group, &g);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(&x, r, "group");
    }
    return subscribe_group(&x, group);
}
