/* Group memberships of the contact list: myGroupMemberships, a contact put in a group,
 * one membership (read, delete), removeContactFromAllGroups (ucwa_group_memberships.h). */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "ucwa_group_memberships.h"
#include "ucwa_input.h"
#include "ucwa_people.h"

APLOG_USE_MODULE(ucwa);

static int get_memberships(ucwa_people_req *x)
{
    const char *group = ucwa_people_param(x, "groupId");
    apr_array_header_t *ms;
    ucwa_group_kind *kinds;
    ucwa_ct_result r;
    int rv, i;

    if (!ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_memberships(&x->db, x->p, x->q->user, group, &ms);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group");
    }
    kinds = apr_pcalloc(x->p, sizeof(*kinds) * (apr_size_t)(ms->nelts + 1));
    for (i = 0; i < ms->nelts; i++) {
        kinds[i] = ucwa_people_kind_of(APR_ARRAY_IDX(ms, i, ucwa_membership).group_id);
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_memberships(
        x->p, x->base, group, (const ucwa_membership *)ms->elts, kinds, ms->nelts));
}

/* contactUri of a body: a SIP address (400 otherwise). */
static const char *contact_uri(ucwa_people_req *x, json_t *in, int *rv)
{
    int bad = 0;
    const char *raw = ucwa_people_input_string(in, "contactUri", "uri", &bad);
    const char *sip = bad ? NULL : ucwa_people_address(x->p, raw);

    if (!sip) {
        *rv = ucwa_people_bad_request(x->q, "contactUri is required: a SIP address "
                                            "(sip:user@domain).");
    }
    return sip;
}

static int add_membership(ucwa_people_req *x)
{
    apr_array_header_t *evs = apr_array_make(x->p, 2, sizeof(ucwa_people_ev));
    const char *sip, *group;
    ucwa_membership m;
    ucwa_group_kind kind;
    ucwa_ct_result r;
    json_t *in, *doc;
    int rv, bad = 0, listed = 0;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    if (!(sip = contact_uri(x, in, &rv))) {
        return rv;
    }
    group = ucwa_people_input_string(in, "groupId", NULL, &bad);
    if (bad) {
        return ucwa_people_bad_request(x->q, "groupId is a string.");
    }
    if (group && !*group) {
        group = NULL;
    }
    if (group && !ucwa_contacts_group_id_valid(group, &kind)) {
        return ucwa_people_not_found(x->q, "There is no such group.");
    }
    if (!ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_add(&x->db, x->p, x->q->user, group, sip, apr_time_now(), &listed);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, r == UCWA_CT_EXISTS ? "membership" : "group");
    }
    m.group_id = group ? group : UCWA_GROUP_DEFAULT;
    m.contact = sip;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00240)
                  "people: %s put %s in group %s", x->q->user, sip, m.group_id);
    ucwa_people_ev_membership(x, evs, m.group_id, sip, "added", listed);
    ucwa_people_ev_post(x, evs);
    doc = ucwa_people_membership(x->p, x->base, &m, ucwa_people_kind_of(m.group_id));
    apr_table_setn(x->q->r->headers_out, "Location", apr_pstrdup(x->p, json_string_value(
        json_object_get(json_object_get(json_object_get(doc, "_links"), "self"), "href"))));
    return ucwa_http_resource(x->q, HTTP_CREATED, doc);
}

static int membership_resource(ucwa_people_req *x)
{
    const char *group = x->q->id[0], *raw_sip = x->q->id[1];
    apr_array_header_t *evs = apr_array_make(x->p, 2, sizeof(ucwa_people_ev));
    const char *sip = ucwa_people_address(x->p, raw_sip);
    int m = x->q->r->method_number, rv, i, left = 0;
    apr_array_header_t *in;
    ucwa_membership ms;
    ucwa_group_kind kind;
    ucwa_ct_result r;

    if (!sip || !ucwa_contacts_group_id_valid(group, &kind)) {
        return ucwa_people_not_found(x->q, "There is no such group membership.");
    }
    if (!ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    if (m == M_DELETE) {
        r = ucwa_contacts_remove(&x->db, x->p, x->q->user, group, sip, &left);
        if (r != UCWA_CT_OK) {
            return ucwa_people_ct_error(x, r, "group membership");
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00241)
                      "people: %s took %s out of group %s", x->q->user, sip, group);
        ucwa_people_ev_membership(x, evs, group, sip, "deleted", left);
        ucwa_people_ev_post(x, evs);
        return ucwa_http_no_content(x->q);
    }
    r = ucwa_contacts_groups_of(&x->db, x->p, x->q->user, sip, &in);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "group membership");
    }
    for (i = 0; i < in->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(in, i, const char *), group)) {
            ms.group_id = group;
            ms.contact = sip;
            return ucwa_http_resource(x->q, HTTP_OK,
                                      ucwa_people_membership(x->p, x->base, &ms, kind));
        }
    }
    return ucwa_people_not_found(x->q, "There is no such group membership.");
}

static int remove_everywhere(ucwa_people_req *x)
{
    apr_array_header_t *evs = apr_array_make(x->p, 4, sizeof(ucwa_people_ev)), *groups;
    const char *sip;
    ucwa_ct_result r;
    json_t *in;
    int rv, i;

    if (!(in = ucwa_http_input(x->q, &rv))) {
        return rv;
    }
    if (!(sip = contact_uri(x, in, &rv)) || !ucwa_people_acquire(x, 1, &rv)) {
        return rv;
    }
    r = ucwa_contacts_remove_all(&x->db, x->p, x->q->user, sip, &groups);
    if (r != UCWA_CT_OK) {
        return ucwa_people_ct_error(x, r, "contact");
    }
    for (i = 0; i < groups->nelts; i++) {
        ucwa_people_ev_membership(x, evs, APR_ARRAY_IDX(groups, i, const char *), sip,
                                  "deleted", i == groups->nelts - 1);
    }
    if (groups->nelts) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->q->r, UCWALOGNO(00242)
                      "people: %s took %s off the contact list", x->q->user, sip);
    }
    ucwa_people_ev_post(x, evs);
    return ucwa_http_no_content(x->q);
}

static int no_membership(ucwa_people_req *x)
{
    return ucwa_people_not_found(x->q, "There is no such group membership.");
}

int ucwa_group_memberships_list(ucwa_req *q, int what)
{
    return ucwa_people_run(q, get_memberships);
}

int ucwa_group_memberships_add(ucwa_req *q, int what)
{
    return ucwa_people_run(q, add_membership);
}

int ucwa_group_memberships_remove_everywhere(ucwa_req *q, int what)
{
    return ucwa_people_run(q, remove_everywhere);
}

int ucwa_group_memberships_one(ucwa_req *q, int what)
{
    return ucwa_people_run(q, membership_resource);
}

int ucwa_group_memberships_none(ucwa_req *q, int what)
{
    return ucwa_people_run(q, no_membership);
}
