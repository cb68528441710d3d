/* The route table of mod_ucwa (ucwa_route.h). */
#include <httpd.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "ucwa_app.h"
#include "ucwa_batch.h"
#include "ucwa_call_forwarding.h"
#include "ucwa_calls.h"
#include "ucwa_contact.h"
#include "ucwa_conversation_logs.h"
#include "ucwa_conversations.h"
#include "ucwa_events.h"
#include "ucwa_group_memberships.h"
#include "ucwa_groups.h"
#include "ucwa_me.h"
#include "ucwa_media_relay.h"
#include "ucwa_messaging.h"
#include "ucwa_phone.h"
#include "ucwa_photos.h"
#include "ucwa_push_resource.h"
#include "ucwa_resources.h"
#include "ucwa_route.h"
#include "ucwa_search.h"
#include "ucwa_static.h"
#include "ucwa_subscriptions.h"

/* One row: a path pattern under the application ("*" is one non-empty segment, any case;
 * trailing slashes are ignored, as IIS ignores them), the methods its handler answers
 * ("*": any method, a handler that answers every method itself, which adds nothing to
 * Allow), the handler and its what. The rows of one resource are adjacent, in the order
 * of its Allow header; more specific patterns come first. */
typedef struct {
    const char *path;
    const char *methods;
    ucwa_route_fn *fn;
    int what;
} ucwa_route;

#define CONV "/communication/conversations/*"
#define INV  "/communication/messagingInvitations"
#define AVI  "/communication/audioVideoInvitations"
#define AV   CONV "/audioVideo"
#define PAI  "/communication/phoneAudioInvitations"
#define PA   CONV "/phoneAudio"
#define RENEG AV "/audioVideoSession/renegotiations"
#define MEMBERS "/people/presenceSubscriptionMemberships"
#define LOGS "/communication/conversationLogs"
#define CFS "/me/callForwardingSettings"

static const ucwa_route routes[] = {
    { "", "GET", ucwa_app_get, 0 },
    { "", "DELETE", ucwa_app_delete, 0 },
    { "/events", "GET", ucwa_events_get, 0 },
    { "/events", "*", ucwa_events_not_allowed, 0 },
    { "/policies", "GET", ucwa_app_policies, 0 },
    { "/batch", "POST", ucwa_batch_post, 0 },
    { "/reportMyActivity", "POST", ucwa_me_report_activity, 0 },
    { "/reportBackground", "POST", ucwa_push_resource_background, 0 },
    { "/pushRegistrations", "GET", ucwa_push_resource_list, 0 },
    { "/pushRegistrations", "POST", ucwa_push_resource_create, 0 },
    { "/pushRegistrations/*", "GET, PUT, DELETE", ucwa_push_resource_one, 0 },
    { "/me", "GET", ucwa_me_get, UCWA_ME_SELF },
    { "/me/makeMeAvailable", "POST", ucwa_me_make_available, 0 },
    { "/me/presence", "GET", ucwa_me_get, UCWA_ME_PRESENCE },
    { "/me/presence", "POST", ucwa_me_set, UCWA_ME_PRESENCE },
    { "/me/note", "GET", ucwa_me_get, UCWA_ME_NOTE },
    { "/me/note", "POST", ucwa_me_set, UCWA_ME_NOTE },
    { "/me/location", "GET", ucwa_me_get, UCWA_ME_LOCATION },
    { "/me/location", "POST", ucwa_me_set, UCWA_ME_LOCATION },
    { "/me/reportMyActivity", "POST", ucwa_me_report_activity, 0 },
    { "/me/phones", "GET", ucwa_contact_my_phones, 0 },
    { CFS, "GET, PUT", ucwa_call_forwarding, UCWA_CF_SETTINGS },
    { CFS "/turnOffCallForwarding", "POST", ucwa_call_forwarding, UCWA_CF_TURN_OFF },
    { CFS "/immediateForwardSettings", "GET", ucwa_call_forwarding, UCWA_CF_IMMEDIATE },
    { CFS "/immediateForwardSettings/immediateForwardToContact", "POST", ucwa_call_forwarding,
      UCWA_CF_IMMEDIATE_CONTACT },
    { CFS "/simultaneousRingSettings", "GET, PUT", ucwa_call_forwarding, UCWA_CF_SIMRING },
    { CFS "/simultaneousRingSettings/simultaneousRingToContact", "POST", ucwa_call_forwarding,
      UCWA_CF_SIMRING_CONTACT },
    { CFS "/unansweredCallSettings", "GET, PUT", ucwa_call_forwarding, UCWA_CF_UNANSWERED },
    { CFS "/unansweredCallSettings/unansweredCallToContact", "POST", ucwa_call_forwarding,
      UCWA_CF_UNANSWERED_CONTACT },
    { CFS "/unansweredCallSettings/resetUnansweredCallSettings", "POST", ucwa_call_forwarding,
      UCWA_CF_UNANSWERED_RESET },
    { "/communication", "GET, PUT", ucwa_static_communication, 0 },
    { "/communication/mediaRelayAccessToken", "*", ucwa_media_relay_token, 0 },
    { "/communication/mediaPolicies", "GET", ucwa_media_relay_policies, 0 },
    { "/communication/missedItems", "GET", ucwa_conversation_logs_missed_items, 0 },
    { LOGS, "GET", ucwa_conversation_logs_list, 0 },
    { LOGS "/*", "GET, DELETE", ucwa_conversation_logs_one, 0 },
    { LOGS "/*/markAsRead", "POST", ucwa_conversation_logs_mark_read, 0 },
    { INV, "POST", ucwa_messaging_start, 0 },
    { INV "/*", "GET", ucwa_messaging_invitation, UCWA_IM_INVITATION },
    { INV "/*/accept", "POST", ucwa_messaging_invitation, UCWA_IM_ACCEPT },
    { INV "/*/decline", "POST", ucwa_messaging_invitation, UCWA_IM_DECLINE },
    { AVI, "POST", ucwa_calls_start, 0 },
    { AVI "/*", "GET", ucwa_calls_invitation, UCWA_AV_INVITATION },
    { AVI "/*/audioVideoNegotiation", "GET", ucwa_calls_invitation, UCWA_AV_NEGOTIATION },
    { AVI "/*/acceptWithAnswer", "POST", ucwa_calls_invitation, UCWA_AV_ACCEPT },
    { AVI "/*/acceptWithPhoneAudio", "POST", ucwa_phone_accept, 0 },
    { AVI "/*/sendProvisionalAnswer", "POST", ucwa_calls_invitation, UCWA_AV_PROVISIONAL },
    { AVI "/*/decline", "POST", ucwa_calls_invitation, UCWA_AV_DECLINE },
    { AVI "/*/cancel", "POST", ucwa_calls_invitation, UCWA_AV_CANCEL },
    { "/communication/conversations", "GET", ucwa_conversations_list, 0 },
    { CONV, "GET, DELETE", ucwa_conversations_one, UCWA_IM_CONVERSATION },
    { CONV "/messaging", "GET", ucwa_conversations_one, UCWA_IM_MESSAGING },
    { CONV "/messaging/messages", "POST", ucwa_conversations_one, UCWA_IM_MESSAGES },
    { CONV "/messaging/typing", "POST", ucwa_conversations_one, UCWA_IM_TYPING },
    { CONV "/messaging/typingParticipants", "GET", ucwa_conversations_one,
      UCWA_IM_TYPING_PARTICIPANTS },
    { CONV "/messaging/terminate", "POST", ucwa_conversations_one, UCWA_IM_TERMINATE },
    { CONV "/messaging/addMessaging", "POST", ucwa_conversations_one, UCWA_IM_ADD_MESSAGING },
    { PAI, "POST", ucwa_phone_start, 0 },
    { PAI "/*", "GET", ucwa_phone_call, UCWA_PHONE_INVITATION },
    { PA, "GET", ucwa_phone_call, UCWA_PHONE_MODALITY },
    { PA "/holdPhoneAudio", "POST", ucwa_phone_call, UCWA_PHONE_HOLD },
    { PA "/resumePhoneAudio", "POST", ucwa_phone_call, UCWA_PHONE_RESUME },
    { PA "/stopPhoneAudio", "POST", ucwa_phone_call, UCWA_PHONE_STOP },
    { AV, "GET", ucwa_calls_conversation, UCWA_AV_MODALITY },
    { AV "/addAudio", "POST", ucwa_calls_conversation, UCWA_AV_ADD },
    { AV "/addAudioVideo", "POST", ucwa_calls_conversation, UCWA_AV_ADD },
    { AV "/stopAudioVideo", "POST", ucwa_calls_conversation, UCWA_AV_STOP },
    { AV "/replaceWithPhoneAudio", "POST", ucwa_phone_replace, 0 },
    { AV "/audioVideoSession", "GET", ucwa_calls_conversation, UCWA_AV_SESSION },
    { AV "/audioVideoSession/resumeAudio", "POST", ucwa_calls_conversation, UCWA_AV_RENEGOTIATE },
    { AV "/audioVideoSession/resumeAudioVideo", "POST", ucwa_calls_conversation,
      UCWA_AV_RENEGOTIATE },
    { RENEG, "POST", ucwa_calls_conversation, UCWA_AV_RENEGOTIATE },
    { RENEG "/*", "GET", ucwa_calls_conversation, UCWA_AV_RENEGOTIATION },
    { RENEG "/*/answer", "POST", ucwa_calls_conversation, UCWA_AV_RENEG_ANSWER },
    { RENEG "/*/dismiss", "POST", ucwa_calls_conversation, UCWA_AV_RENEG_DISMISS },
    { CONV "/participants", "GET", ucwa_conversations_one, UCWA_IM_PARTICIPANTS },
    { CONV "/participants/*", "GET", ucwa_conversations_one, UCWA_IM_PARTICIPANT },
    { CONV "/participants/*/messaging", "GET", ucwa_conversations_one,
      UCWA_IM_PARTICIPANT_MESSAGING },
    { "/onlineMeetings", "GET", ucwa_static_get, UCWA_STATIC_ONLINE_MEETINGS },
    { "/people", "GET", ucwa_static_get, UCWA_STATIC_PEOPLE },
    { "/people/presenceSubscriptions", "GET", ucwa_subscriptions_list, 0 },
    { "/people/presenceSubscriptions", "POST", ucwa_subscriptions_new, 0 },
    { "/people/presenceSubscriptions/*", "GET, POST, DELETE", ucwa_subscriptions_one, 0 },
    { MEMBERS, "GET, POST", ucwa_subscriptions_memberships, 0 },
    { MEMBERS "/*", "GET, DELETE", ucwa_subscriptions_membership, 0 },
    { MEMBERS "/*/*", "GET, DELETE", ucwa_subscriptions_membership, 0 },
    { "/people/subscribedContacts", "GET", ucwa_subscriptions_contacts, 0 },
    { "/people/contacts", "GET", ucwa_contact_list, 0 },
    { "/people/groups", "GET", ucwa_groups_list, 0 },
    { "/people/groups", "POST", ucwa_groups_create, 0 },
    { "/people/groups/*", "GET, PUT, DELETE", ucwa_groups_one, 0 },
    { "/people/groupMemberships", "GET", ucwa_group_memberships_list, 0 },
    { "/people/groupMemberships", "POST", ucwa_group_memberships_add, 0 },
    { "/people/groupMemberships/removeContactFromAllGroups", "POST",
      ucwa_group_memberships_remove_everywhere, 0 },
    { "/people/groupMemberships/*", "*", ucwa_group_memberships_none, 0 },
    { "/people/groupMemberships/*/*", "GET, DELETE", ucwa_group_memberships_one, 0 },
    { "/people/search", "GET", ucwa_search_get, 0 },
    { "/people/privacyRelationships", "GET", ucwa_static_get,
      UCWA_STATIC_PRIVACY_RELATIONSHIPS },
    { UCWA_RES_CONTACTS_GROUPS_SUB, "GET", ucwa_static_get, UCWA_STATIC_CONTACTS_GROUPS_SUB },
    { UCWA_RES_CONTACTS_GROUPS_SUB "/startOrRefreshSubscriptionToContactsAndGroups", "POST",
      ucwa_static_refresh, 0 },
    { "/people/*", "GET", ucwa_contact_get, UCWA_CONTACT_SELF },
    { "/people/*/presence", "GET", ucwa_contact_get, UCWA_CONTACT_PRESENCE },
    { "/people/*/note", "GET", ucwa_contact_get, UCWA_CONTACT_NOTE },
    { "/people/*/location", "GET", ucwa_contact_get, UCWA_CONTACT_LOCATION },
    { "/people/*/supportedMedia", "GET", ucwa_contact_get, UCWA_CONTACT_SUPPORTED_MEDIA },
    { "/people/*/privacyRelationship", "GET", ucwa_contact_get,
      UCWA_CONTACT_PRIVACY_RELATIONSHIP },
    { "/photos/*", "GET", ucwa_photos_get, 0 },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* path (without trailing slashes) matches pattern, segment by segment; the "*" segments
 * go to id (when not NULL). */
static int path_matches(apr_pool_t *p, const char *pattern, const char *path, apr_size_t len,
                        const char **id)
{
    const char *end = path + len;
    int n = 0;

    while (*pattern && path < end) {
        if (*pattern != '/' || *path != '/') {
            return 0;
        }
        pattern++;
        path++;
        if (*pattern == '*') {
            const char *seg = path;
            while (path < end && *path != '/') {
                path++;
            }
            if (path == seg) {
                return 0;   /* an empty segment is no id */
            }
            if (id && n < UCWA_REQ_IDS) {
                id[n++] = apr_pstrndup(p, seg, (apr_size_t)(path - seg));
            }
            pattern++;
        }
        else {
            apr_size_t k = strcspn(pattern, "/");
            if ((apr_size_t)(end - path) < k || strncasecmp(pattern, path, k)
                || (path + k < end && path[k] != '/')) {
                return 0;
            }
            pattern += k;
            path += k;
        }
    }
    return !*pattern && path == end;
}

/* The first row whose pattern q's path matches (its "*" segments in q->id when id), or
 * N_ROUTES. */
static apr_size_t find(const ucwa_req *q, const char **id)
{
    apr_size_t i, len = strlen(q->sub);

    while (len > 0 && q->sub[len - 1] == '/') {
        len--;
    }
    for (i = 0; i < N_ROUTES; i++) {
        if (path_matches(q->r->pool, routes[i].path, q->sub, len, id)) {
            return i;
        }
    }
    return N_ROUTES;
}

/* method is one of the comma-separated methods. */
static int listed(const char *methods, const char *method)
{
    apr_size_t n = strlen(method);

    while (*methods) {
        apr_size_t k = strcspn(methods, ",");
        if (k == n && !strncmp(methods, method, n)) {
            return 1;
        }
        methods += k;
        methods += strspn(methods, ", ");
    }
    return 0;
}

const char *ucwa_route_allow(const ucwa_req *q)
{
    const char *allow = NULL;
    apr_size_t i, first;

    if (!q->app_id) {
        return "POST";   /* the applications collection */
    }
    first = find(q, NULL);
    for (i = first; i < N_ROUTES && !strcmp(routes[i].path, routes[first].path); i++) {
        if (strcmp(routes[i].methods, "*")) {
            allow = allow ? apr_pstrcat(q->r->pool, allow, ", ", routes[i].methods, NULL)
                          : routes[i].methods;
        }
    }
    return allow;
}

int ucwa_route_dispatch(ucwa_req *q)
{
    /* HEAD is GET (Apache gives it M_GET) */
    const char *method = q->r->method_number == M_GET ? "GET" : q->r->method;
    apr_size_t i, first;

    if (!q->app_id) {
        return strcmp(method, "POST") ? ucwa_http_not_allowed(q) : ucwa_app_create(q, 0);
    }
    first = find(q, q->id);
    if (first == N_ROUTES) {
        return ucwa_http_error(q, HTTP_NOT_FOUND, "NotFound", "ResourceNotFound",
                               "There is no such resource.");
    }
    for (i = first; i < N_ROUTES && !strcmp(routes[i].path, routes[first].path); i++) {
        if (!strcmp(routes[i].methods, "*") || listed(routes[i].methods, method)) {
            return routes[i].fn(q, routes[i].what);
        }
    }
    return ucwa_http_not_allowed(q);
}
