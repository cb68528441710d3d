/* One request on the people resources: its application, query string and database
 * connection, the errors, the directory's view of an address, and the contact-list events
 * posted to the user's applications (ucwa_people.h). Resource shapes:
 * common/ucwa/ucwa_people_render; SQL: common/ucwa/ucwa_contacts and
 * common/ucwa/ucwa_schema; our choices: docs/extensions.md. */
#include <httpd.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <apr_dbd.h>
#include <apr_strings.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_ucwa.h"
#include "mob_form.h"
#include "ucwa_app.h"
#include "ucwa_events.h"
#include "ucwa_input.h"
#include "ucwa_people.h"
#include "ucwa_people_db.h"
#include "ucwa_shm.h"

APLOG_USE_MODULE(ucwa);

/* The directory statement (DBDPrepareSQL label, see docs/directives.md). */
#define LABEL_CONTACT "ucwa_contact"
#define NAME_MAX_BYTES 1024         /* group names, contactUri, groupId in bodies */

/* --- request helpers ------------------------------------------------------------------ */

int ucwa_people_bad_request(ucwa_req *q, const char *message)
{
    return ucwa_http_error(q, HTTP_BAD_REQUEST, "BadRequest", "ParameterValidationFailure",
                           message);
}

int ucwa_people_not_found(ucwa_req *q, const char *message)
{
    return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound", message);
}

static int unavailable(ucwa_people_req *x, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->q->r, UCWALOGNO(00235) "people: %s", why);
    apr_table_setn(x->q->r->err_headers_out, "Retry-After", "60");
    return ucwa_http_error(x->q, HTTP_SERVICE_UNAVAILABLE, "ServiceUnavailable", NULL,
                           "The contact list is unavailable now.");
}

int ucwa_people_db_failed(ucwa_people_req *x)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->q->r, UCWALOGNO(00236) "people: %s",
                  x->db.err ? x->db.err : "database error");
    return ucwa_http_error(x->q, HTTP_INTERNAL_SERVER_ERROR, "ServiceFailure", NULL,
                           "The contact list could not be read or changed.");
}

/* The application (404/410 as every resource of it) and the query string (400). */
int ucwa_people_begin(ucwa_people_req *x, ucwa_req *q, int *rv)
{
    const char *why = NULL;

    memset(x, 0, sizeof(*x));
    x->q = q;
    x->p = q->r->pool;
    if (ucwa_app_copy(q, &x->app, NULL, rv) != OK) {
        return 0;
    }
    x->base = apr_pstrdup(x->p, x->app.base);
    if (q->r->args && *q->r->args) {
        if (mob_form_parse(x->p, q->r->args, strlen(q->r->args), MOB_FORM_LENIENT, &x->query,
                           &why) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, UCWALOGNO(00237)
                          "people: unreadable query string: %s", why);
            *rv = ucwa_people_bad_request(q, "The query string could not be read (each value "
                                          "at most 1024 bytes of UTF-8).");
            return 0;
        }
    }
    else {
        x->query = apr_table_make(x->p, 1);
    }
    return 1;
}

const char *ucwa_people_param(ucwa_people_req *x, const char *name)
{
    return apr_table_get(x->query, name);
}

/* expand=false: links only. 1, 0, or -1 (error sent in *rv). */
int ucwa_people_expand(ucwa_people_req *x, int *rv)
{
    const char *e = ucwa_people_param(x, "expand");

    if (!e || !strcasecmp(e, "true")) {
        return 1;
    }
    if (!strcasecmp(e, "false")) {
        return 0;
    }
    *rv = ucwa_people_bad_request(x->q, "expand is true or false.");
    return -1;
}

/* A connection (mod_dbd) for the request; with schema set, one whose contact list tables
 * are known to be current. */
int ucwa_people_acquire(ucwa_people_req *x, int schema, int *rv)
{
    const char *why = NULL;

    if (!ucwa_people_db(x->q->r, x->p, schema, &x->db, &why)) {
        *rv = unavailable(x, why);
        return 0;
    }
    return 1;
}

/* --- contact-list errors and names ----------------------------------------------- */

int ucwa_people_ct_error(ucwa_people_req *x, ucwa_ct_result r, const char *what)
{
    ucwa_req *q = x->q;

    switch (r) {
    case UCWA_CT_NOT_FOUND:
        return ucwa_people_not_found(q, apr_psprintf(x->p, "There is no such %s.", what));
    case UCWA_CT_EXISTS:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "AlreadyExists",
                               apr_psprintf(x->p, "The %s exists already.", what));
    case UCWA_CT_TOO_MANY_GROUPS:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "TooManyGroups",
                               apr_psprintf(x->p, "A contact list has at most %d groups of "
                                            "your own.", UCWA_GROUPS_MAX));
    case UCWA_CT_TOO_MANY_CONTACTS:
        return ucwa_http_error(q, HTTP_CONFLICT, "Conflict", "LimitExceeded",
                               apr_psprintf(x->p, "A contact list has at most %d contacts.",
                                            UCWA_CONTACTS_MAX));
    case UCWA_CT_READ_ONLY:
        return ucwa_http_error(q, HTTP_FORBIDDEN, "Forbidden", "OperationNotSupported",
                               "The pinned and default groups cannot be renamed or deleted.");
    default:
        return ucwa_people_db_failed(x);
    }
}

const char *ucwa_people_input_string(json_t *in, const char *a, const char *b, int *bad)
{
    const char *v = ucwa_input_string(in, a, NAME_MAX_BYTES, bad);

    return v || !b ? v : ucwa_input_string(in, b, NAME_MAX_BYTES, bad);
}

/* --- the directory ------------------------------------------------------------------ */

static void person_column(apr_pool_t *p, ucwa_person *o, const char *name, const char *v)
{
    static const struct {
        const char *name;
        size_t offset;
    } cols[] = {
        { "sip_uri", offsetof(ucwa_person, uri) },
        { "uri", offsetof(ucwa_person, uri) },
        { "display_name", offsetof(ucwa_person, name) },
        { "name", offsetof(ucwa_person, name) },
        { "title", offsetof(ucwa_person, title) },
        { "department", offsetof(ucwa_person, department) },
        { "office", offsetof(ucwa_person, office) },
        { "company", offsetof(ucwa_person, company) },
        { "email", offsetof(ucwa_person, email) },
        { "work_phone", offsetof(ucwa_person, work_phone) },
        { "mobile_phone", offsetof(ucwa_person, mobile_phone) },
        { "home_phone", offsetof(ucwa_person, home_phone) },
        { "other_phone", offsetof(ucwa_person, other_phone) },
    };
    size_t i;

    if (!name || !v || !*v) {
        return;
    }
    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        if (!strcasecmp(name, cols[i].name)) {
            *(const char **)((char *)o + cols[i].offset) = apr_pstrdup(p, v);
            return;
        }
    }
}

/* A row of ucwa_contact or ucwa_search as a person; 0 if its address is unusable. */
int ucwa_people_row(ucwa_people_req *x, apr_dbd_results_t *res, apr_dbd_row_t *row,
                    ucwa_person *o)
{
    int i, n = apr_dbd_num_cols(x->db.driver, res);

    memset(o, 0, sizeof(*o));
    for (i = 0; i < n; i++) {
        const char *v = NULL;
        if (apr_dbd_datum_get(x->db.driver, row, i, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS) {
            person_column(x->p, o, apr_dbd_get_name(x->db.driver, res, i), v);
        }
    }
    if (o->uri && !strncasecmp(o->uri, "sip:", 4)) {
        o->uri += 4;
    }
    o->sip = ucwa_people_address(x->p, o->uri);
    o->known = 1;
    return o->sip != NULL;
}

/* What the directory lets the user see of sip: *out is known (the directory has it) or
 * not (rendered as an external contact). *visible: presence may be shown (known, or the
 * directory has no ucwa_contact statement to hide anyone with). */
ucwa_people_dir ucwa_people_directory(ucwa_people_req *x, const char *sip, ucwa_person *out,
                                      int *visible)
{
    apr_dbd_prepared_t *st = apr_hash_get(x->db.prepared, LABEL_CONTACT, APR_HASH_KEY_STRING);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, found = 0;

    memset(out, 0, sizeof(*out));
    out->sip = sip;
    *visible = 0;
    if (!st) {
        *visible = 1;
        return UCWA_PEOPLE_DIR_NO_STATEMENT;
    }
    rv = apr_dbd_pvselect(x->db.driver, x->p, x->db.handle, &res, st, 1, sip, NULL);
    if (rv != 0) {
        x->db.err = apr_psprintf(x->p, "directory query %s failed: %s", LABEL_CONTACT,
                                 apr_dbd_error(x->db.driver, x->db.handle, rv));
        return UCWA_PEOPLE_DIR_FAILED;
    }
    while (apr_dbd_get_row(x->db.driver, x->p, res, &row, -1) == 0) {
        ucwa_person o;
        if (!found && ucwa_people_row(x, res, row, &o) && !strcmp(o.sip, sip)) {
            *out = o;
            found = 1;
        }
    }
    *visible = found;
    return UCWA_PEOPLE_DIR_OK;
}

/* The directory's view of each address (for contact lists and search results). */
int ucwa_people_directory_all(ucwa_people_req *x, const apr_array_header_t *sips,
                              ucwa_person **out, int *rv)
{
    int i, visible;

    *out = apr_pcalloc(x->p, sizeof(ucwa_person) * (apr_size_t)(sips->nelts + 1));
    for (i = 0; i < sips->nelts; i++) {
        if (ucwa_people_directory(x, APR_ARRAY_IDX(sips, i, const char *), &(*out)[i], &visible)
            == UCWA_PEOPLE_DIR_FAILED) {
            *rv = ucwa_people_db_failed(x);
            return 0;
        }
    }
    return 1;
}

/* --- events ------------------------------------------------------------------------- */

void ucwa_people_ev_add(apr_array_header_t *evs, const char *rel, const char *sub,
                        const char *in_rel, const char *in_sub, const char *type)
{
    ucwa_people_ev *e = apr_array_push(evs);

    e->rel = rel;
    e->sub = sub;
    e->in_rel = in_rel;
    e->in_sub = in_sub;
    e->type = type;
}

/* The events, as data (hrefs relative to the application), posted to every live
 * application of the request's user in one transaction. */
typedef struct {
    const char *user;
    const ucwa_event *events;
    int count;
    apr_time_t now;
} ev_post_txn;

static void ev_post_locked(ucwa_txn *t, void *baton)
{
    ev_post_txn *x = baton;
    int user = ucwa_store_user_find_locked(t->store, x->user, 0), i, e;

    if (user < 0) {
        return;
    }
    for (i = ucwa_store_first_app(t->store, user); i >= 0;
         i = ucwa_store_next_app(t->store, i)) {
        for (e = 0; e < x->count; e++) {
            ucwa_store_post_locked(t->store, i, UCWA_PRIO_HIGH, &x->events[e], x->now);
        }
    }
    ucwa_events_wake_user_locked(t, user);   /* woken once the lock is released */
}

/* Posts the events (sender people, high priority) to every live application of the
 * request's user and wakes them. */
void ucwa_people_ev_post(ucwa_people_req *x, const apr_array_header_t *events)
{
    apr_pool_t *p = x->p;
    ucwa_event *out;
    ev_post_txn t;
    int e, n = 0;

    if (events->nelts == 0) {
        return;
    }
    out = apr_pcalloc(p, sizeof(*out) * (apr_size_t)events->nelts);
    for (e = 0; e < events->nelts; e++) {
        const ucwa_people_ev *ev = &APR_ARRAY_IDX(events, e, ucwa_people_ev);
        if (ucwa_people_event(p, ev->rel, ev->sub, ev->in_rel, ev->in_sub, ev->type,
                              &out[n]) == 0) {
            n++;
        }
    }
    t.user = x->q->user;
    t.events = out;
    t.count = n;
    t.now = apr_time_now();
    ucwa_txn_run(x->q->r->server, p, ev_post_locked, &t);
}

const char *ucwa_people_group_sub(ucwa_people_req *x, const char *id)
{
    return apr_pstrcat(x->p, "/people/groups/", id, NULL);
}

const char *ucwa_people_contact_sub(ucwa_people_req *x, const char *sip)
{
    return apr_pstrcat(x->p, "/people/", sip, NULL);
}

ucwa_group_kind ucwa_people_kind_of(const char *id)
{
    ucwa_group_kind k = UCWA_GROUP_KIND_CUSTOM;

    ucwa_contacts_group_id_valid(id, &k);
    return k;
}

/* contact added/deleted in a group (and in myContacts when the list itself changed) */
void ucwa_people_ev_membership(ucwa_people_req *x, apr_array_header_t *evs,
                               const char *group_id, const char *sip, const char *type,
                               int list_changed)
{
    ucwa_people_ev_add(evs, "contact", ucwa_people_contact_sub(x, sip),
                       ucwa_people_group_rel(ucwa_people_kind_of(group_id)),
                       ucwa_people_group_sub(x, group_id), type);
    if (list_changed) {
        ucwa_people_ev_add(evs, "contact", ucwa_people_contact_sub(x, sip), "myContacts",
                           "/people/contacts", type);
    }
}

int ucwa_people_run(ucwa_req *q, int (*fn)(ucwa_people_req *x))
{
    ucwa_people_req x;
    int rv;

    return ucwa_people_begin(&x, q, &rv) ? fn(&x) : rv;
}
