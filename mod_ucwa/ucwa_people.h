/* One request on the people resources (ucwa_contact, ucwa_groups, ucwa_group_memberships,
 * ucwa_search, ucwa_photos): its application, query string and database connection
 * (ucwa_people_db), its errors, the directory's view of an address, and the contact-list
 * events posted to every application of the user. Contacts and groups are durable (SQL
 * through mod_dbd). */
#ifndef UCWA_PEOPLE_H
#define UCWA_PEOPLE_H

#include <apr_dbd.h>

#include "ucwa_contacts.h"
#include "ucwa_http.h"
#include "ucwa_people_render.h"
#include "ucwa_sql.h"
#include "ucwa_store.h"

typedef struct {
    ucwa_req *q;
    apr_pool_t *p;
    ucwa_app app;                 /* copy of the request's application */
    const char *base;
    apr_table_t *query;
    ucwa_db db;
} ucwa_people_req;

/* The application (404/410 as every resource of it) and the query string (400): 1, or 0
 * with the error sent in *rv. */
int ucwa_people_begin(ucwa_people_req *x, ucwa_req *q, int *rv);
/* ucwa_people_begin, then fn: the body of most route handlers. */
int ucwa_people_run(ucwa_req *q, int (*fn)(ucwa_people_req *x));
/* A query parameter, or NULL. */
const char *ucwa_people_param(ucwa_people_req *x, const char *name);
/* expand=false: links only. 1, 0, or -1 (error sent in *rv). */
int ucwa_people_expand(ucwa_people_req *x, int *rv);
/* A connection (mod_dbd) for the request; with schema set, one whose contact list tables
 * are known to be current. 1, or 0 with 503 ServiceUnavailable sent in *rv. */
int ucwa_people_acquire(ucwa_people_req *x, int schema, int *rv);

/* 400 ParameterValidationFailure, 404 ResourceNotFound, 500 ServiceFailure (logged). */
int ucwa_people_bad_request(ucwa_req *q, const char *message);
int ucwa_people_not_found(ucwa_req *q, const char *message);
int ucwa_people_db_failed(ucwa_people_req *x);
/* The answer to a contact-list result other than UCWA_CT_OK; what names the object. */
int ucwa_people_ct_error(ucwa_people_req *x, ucwa_ct_result r, const char *what);
/* The string a (or, missing, b) of a body: a group name, contactUri, groupId. */
const char *ucwa_people_input_string(json_t *in, const char *a, const char *b, int *bad);

typedef enum {
    UCWA_PEOPLE_DIR_OK, UCWA_PEOPLE_DIR_NO_STATEMENT, UCWA_PEOPLE_DIR_FAILED
} ucwa_people_dir;

/* A row of ucwa_contact or ucwa_search as a person; 0 if its address is unusable. */
int ucwa_people_row(ucwa_people_req *x, apr_dbd_results_t *res, apr_dbd_row_t *row,
                    ucwa_person *o);
/* What the directory lets the user see of sip: *out is known (the directory has it) or
 * not (rendered as an external contact). *visible: presence may be shown (known, or the
 * directory has no ucwa_contact statement to hide anyone with). */
ucwa_people_dir ucwa_people_directory(ucwa_people_req *x, const char *sip, ucwa_person *out,
                                      int *visible);
/* The directory's view of each address (for contact lists): 1, or 0 with the error sent
 * in *rv. */
int ucwa_people_directory_all(ucwa_people_req *x, const apr_array_header_t *sips,
                              ucwa_person **out, int *rv);

/* A contact-list event: resource rel at sub, in in_rel at in_sub, added/updated/deleted. */
typedef struct {
    const char *rel, *sub, *in_rel, *in_sub, *type;
} ucwa_people_ev;

/* Adds one to evs, an array of ucwa_people_ev. */
void ucwa_people_ev_add(apr_array_header_t *evs, const char *rel, const char *sub,
                        const char *in_rel, const char *in_sub, const char *type);
/* contact added/deleted in a group (and in myContacts when the list itself changed) */
void ucwa_people_ev_membership(ucwa_people_req *x, apr_array_header_t *evs,
                               const char *group_id, const char *sip, const char *type,
                               int list_changed);
/* Posts the events (sender people, high priority) to every live application of the
 * request's user and wakes them. The texts are built outside the lock. */
void ucwa_people_ev_post(ucwa_people_req *x, const apr_array_header_t *events);

/* "/people/groups/{id}", "/people/{sip}"; the kind of a group id. */
const char *ucwa_people_group_sub(ucwa_people_req *x, const char *id);
const char *ucwa_people_contact_sub(ucwa_people_req *x, const char *sip);
ucwa_group_kind ucwa_people_kind_of(const char *id);

#endif
