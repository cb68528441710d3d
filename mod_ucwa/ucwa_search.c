/* Directory search: GET {A}/people/search?query=Q[&limit=N] (ucwa_search.h). */
#include <httpd.h>
#include <apr_dbd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "ucwa_people.h"
#include "ucwa_search.h"

/* The directory statement (DBDPrepareSQL label, see docs/directives.md). */
#define LABEL_SEARCH  "ucwa_search"
#define SEARCH_ARGS   32            /* every %s of ucwa_search gets the pattern */

static int search(ucwa_people_req *x)
{
    const char *query = ucwa_people_param(x, "query"), *why;
    const char *limit_raw = ucwa_people_param(x, "limit");
    int limit = ucwa_people_limit(limit_raw), rv, i, n = 0, more = 0;
    const char *args[SEARCH_ARGS], *pattern;
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ucwa_person *people;

    if ((why = ucwa_people_query_check(query)) != NULL) {
        return ucwa_people_bad_request(x->q, apr_pstrcat(x->p, why, ".", NULL));
    }
    if (limit < 0) {
        return ucwa_people_bad_request(x->q, "limit is a number from 1 to 100.");
    }
    if (!ucwa_people_acquire(x, 0, &rv)) {
        return rv;
    }
    people = apr_pcalloc(x->p, sizeof(*people) * (apr_size_t)(limit + 1));
    st = apr_hash_get(x->db.prepared, LABEL_SEARCH, APR_HASH_KEY_STRING);
    if (st) {
        pattern = ucwa_people_like_pattern(x->p, query);
        for (i = 0; i < SEARCH_ARGS; i++) {
            args[i] = pattern;
        }
        rv = apr_dbd_pselect(x->db.driver, x->p, x->db.handle, &res, st, 1, SEARCH_ARGS, args);
        if (rv != 0) {
            x->db.err = apr_psprintf(x->p, "directory query %s failed: %s", LABEL_SEARCH,
                                     apr_dbd_error(x->db.driver, x->db.handle, rv));
            return ucwa_people_db_failed(x);
        }
        while (apr_dbd_get_row(x->db.driver, x->p, res, &row, -1) == 0) {
            ucwa_person o;
            if (!ucwa_people_row(x, res, row, &o)) {
                continue;
            }
            if (n < limit) {
                people[n++] = o;
            }
            else {
                more = 1;
            }
        }
    }
    return ucwa_http_resource(x->q, HTTP_OK, ucwa_people_search(x->p, x->base, query, limit_raw,
                                                                people, n, more));
}

int ucwa_search_get(ucwa_req *q, int what)
{
    return ucwa_people_run(q, search);
}
