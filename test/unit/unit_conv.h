/* Shared by the unit tests of conversations (test_ucwa_conv, test_ucwa_pool): an
 * application's events read back from its store, and the sequences each transition
 * posts (ucwa_conv.h lists them). */
#ifndef UNIT_CONV_H
#define UNIT_CONV_H

#include <jansson.h>

#include "unit.h"
#include "ucwa_event.h"
#include "ucwa_store.h"

#define SENDER_STARTED "comm/messagingInvitation/started comm/conversation/added " \
                       "conv/localParticipant/added conv/messaging/updated"
#define INCOMING "comm/messagingInvitation/started comm/conversation/added " \
                 "conv/localParticipant/added conv/participant/added"
#define ACCEPTER "comm/messagingInvitation/updated conv/messaging/updated " \
                 "comm/conversation/updated conv/participantMessaging/added " \
                 "conv/participantMessaging/added conv/participant/updated " \
                 "comm/messagingInvitation/completed"
#define SENDER_CONNECTED "comm/conversation/updated conv/participant/added " \
                         "conv/participantMessaging/added conv/participantMessaging/added " \
                         "conv/messaging/updated comm/messagingInvitation/completed"
#define FAILED "conv/messaging/updated comm/messagingInvitation/completed " \
               "comm/conversation/deleted"
#define CLOSED "comm/messagingInvitation/completed comm/conversation/deleted"
#define LEFT "conv/messaging/updated comm/conversation/deleted"
#define OTHER_LEFT "conv/participant/deleted conv/messaging/updated comm/conversation/deleted"

/* A new application of user in s (endpoint "ep<n>"), a lurker: its slot. */
static inline int unit_conv_app(ucwa_store *s, const char *user, const char *name, int n,
                                apr_time_t now)
{
    ucwa_app_params in;
    int idx = -1;

    memset(&in, 0, sizeof(in));
    in.user = user;
    in.endpoint_id = apr_psprintf(pool, "ep%d", n);
    in.user_agent = "unit";
    in.culture = "en-US";
    in.instance_id = "";
    in.prefix = "/ucwa/oauth/v1/applications";
    in.policy_tag = "";
    in.name = name;
    ck_assert_int_eq(ucwa_store_create_locked(s, &in, now, &idx), UCWA_CREATE_NEW);
    return idx;
}

/* Everything posted to application idx of s since the last call, as "sender/link
 * rel/type" words joined by spaces (sender: comm, conv, or its rel for others); the
 * events themselves in *last (a JSON array, replacing the one there). */
static inline const char *unit_conv_events(ucwa_store *s, int idx, apr_time_t now,
                                           json_t **last)
{
    ucwa_app *a = ucwa_store_app(s, idx);
    ucwa_windows w = { 0, 0 };
    ucwa_package pkg;
    const char *out = "";
    int i;

    ck_assert_int_eq(ucwa_store_poll_locked(s, idx, a->pkg + 1, &w, 1, now, pool, &pkg),
                     UCWA_POLL_READY);
    if (*last) {
        json_decref(*last);
    }
    *last = json_array();
    for (i = 0; i < pkg.count; i++) {
        json_error_t err;
        json_t *sender = json_loads(apr_pstrcat(pool, "{",
                                                ucwa_event_sender_json(pool, a->base,
                                                                       &pkg.events[i]),
                                                "}", NULL), 0, &err);
        json_t *ev = json_loads(ucwa_event_json(pool, a->base, &pkg.events[i]), 0, &err);
        const char *srel;
        ck_assert_msg(sender && ev, "event %d does not parse: %s", i, err.text);
        srel = json_string_value(json_object_get(sender, "rel"));
        out = apr_psprintf(pool, "%s%s%s/%s/%s", out, *out ? " " : "",
                           !strcmp(srel, "communication") ? "comm"
                           : !strcmp(srel, "conversation") ? "conv" : srel,
                           json_string_value(json_object_get(json_object_get(ev, "link"), "rel")),
                           json_string_value(json_object_get(ev, "type")));
        json_array_append_new(*last, ev);
        json_decref(sender);
    }
    return out;
}

#endif
