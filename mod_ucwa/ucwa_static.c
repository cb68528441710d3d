/* The resources built from the application alone (ucwa_static.h). */
#include <httpd.h>
#include <http_protocol.h>

#include "ucwa_app.h"
#include "ucwa_media_relay.h"
#include "ucwa_resources.h"
#include "ucwa_static.h"

int ucwa_static_get(ucwa_req *q, int what)
{
    static json_t *(*const make[])(apr_pool_t *, const ucwa_app *) = {
        [UCWA_STATIC_PEOPLE] = ucwa_res_people,
        [UCWA_STATIC_ONLINE_MEETINGS] = ucwa_res_online_meetings,
        [UCWA_STATIC_PRIVACY_RELATIONSHIPS] = ucwa_res_privacy_relationships,
        [UCWA_STATIC_CONTACTS_GROUPS_SUB] = ucwa_res_contacts_groups_subscription,
    };
    ucwa_app copy;
    int rv;

    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    return ucwa_http_resource(q, HTTP_OK, make[what](q->r->pool, &copy));
}

int ucwa_static_communication(ucwa_req *q, int what)
{
    ucwa_app copy;
    json_t *res;
    int rv;

    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    res = ucwa_res_communication(q->r->pool, &copy,
                                 ucwa_app_features(q->conf->global, &copy));
    /* nothing in communication is settable here: a valid PUT gets it back as it is */
    if (q->r->method_number == M_PUT && !ucwa_http_put_input(q, res, &rv)) {
        return rv;
    }
    return ucwa_http_etagged(q, res);
}

int ucwa_static_refresh(ucwa_req *q, int what)
{
    ucwa_app copy;
    int rv;

    if (ucwa_app_copy(q, &copy, NULL, &rv) != OK) {
        return rv;
    }
    /* always subscribed; a duration, in the body or the query, is read and not needed */
    return ucwa_http_input(q, &rv) ? ucwa_http_no_content(q) : rv;
}
