#include <string.h>
#include <apr_strings.h>

#include "mob_json.h"
#include "ucwa_resources.h"

static json_t *href(apr_pool_t *p, const char *base, const char *sub)
{
    return json_pack("{s:s}", "href", apr_pstrcat(p, base, sub, NULL));
}

static void add_link(apr_pool_t *p, json_t *links, const char *rel, const char *base,
                 const char *sub)
{
    json_object_set_new(links, rel, href(p, base, sub));
}

const char *ucwa_res_etag(apr_pool_t *p, const json_t *res)
{
    const char *s = mob_json_dump(p, res, NULL);
    apr_uint32_t h = 2166136261u;

    for (; s && *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return apr_psprintf(p, "%u", h);
}

json_t *ucwa_res_me(apr_pool_t *p, const ucwa_app *a, const char *user)
{
    json_t *me = json_object(), *links = json_object();

    json_object_set_new(me, "name", json_string(a->name));
    json_object_set_new(me, "uri", json_string(apr_pstrcat(p, "sip:", user, NULL)));
    json_object_set_new(me, "emailAddresses", json_pack("[s]", user));
    json_object_set_new(me, "endpointUri",
                        json_string(apr_psprintf(p, "sip:%s;opaque=user:epid:%s;gruu", user,
                                                 a->endpoint_id)));
    add_link(p, links, "self", a->base, "/me");
    if (!a->available) {
        add_link(p, links, "makeMeAvailable", a->base, "/me/makeMeAvailable");
    }
    add_link(p, links, "callForwardingSettings", a->base, "/me/callForwardingSettings");
    add_link(p, links, "phones", a->base, "/me/phones");
    add_link(p, links, "photo", a->base, apr_pstrcat(p, "/photos/", user, NULL));
    if (a->available) {
        /* out of lurker mode */
        add_link(p, links, "presence", a->base, "/me/presence");
        add_link(p, links, "note", a->base, "/me/note");
        add_link(p, links, "location", a->base, "/me/location");
        add_link(p, links, "reportMyActivity", a->base, "/me/reportMyActivity");
    }
    json_object_set_new(me, "_links", links);
    json_object_set_new(me, "rel", json_string("me"));
    return mob_json_own(p, me);
}

json_t *ucwa_res_communication(apr_pool_t *p, const ucwa_app *a, unsigned features)
{
    json_t *c = json_object(), *links = json_object(), *mods = json_array();
    json_t *formats = json_pack("[s]", "Plain");

    json_object_set_new(c, UCWA_PUT_PROPERTY, json_string(UCWA_PUT_VALUE));
    if (a->available && (a->modalities & UCWA_MOD_MESSAGING)) {
        json_array_append_new(mods, json_string("Messaging"));
    }
    if (a->available && (a->modalities & UCWA_MOD_AUDIO)) {
        json_array_append_new(mods, json_string("Audio"));
    }
    if (a->available && (a->modalities & UCWA_MOD_VIDEO)) {
        json_array_append_new(mods, json_string("Video"));
    }
    if (a->available && (a->modalities & UCWA_MOD_PHONE)) {
        json_array_append_new(mods, json_string("PhoneAudio"));
    }
    if (a->html) {
        json_array_append_new(formats, json_string("Html"));
    }
    json_object_set_new(c, "supportedModalities", mods);
    if (a->available) {
        /* what makeMeAvailable said: how this device takes calls, and its number */
        json_object_set_new(c, "audioPreference",
                            json_string(a->phone_audio ? "PhoneAudio" : "VoipAudio"));
        if (a->phone_number[0]) {
            json_object_set_new(c, "phoneNumber", json_string(a->phone_number));
        }
    }
    json_object_set_new(c, "supportedMessageFormats", formats);
    add_link(p, links, "self", a->base, "/communication");
    add_link(p, links, "conversations", a->base, "/communication/conversations?filter=active");
    add_link(p, links, "startMessaging", a->base, "/communication/messagingInvitations");
    if (features & UCWA_RES_CALLS) {
        /* one collection: the offer says whether video is in the call */
        add_link(p, links, "startAudio", a->base, "/communication/audioVideoInvitations");
        add_link(p, links, "startVideo", a->base, "/communication/audioVideoInvitations");
        add_link(p, links, "startAudioVideo", a->base, "/communication/audioVideoInvitations");
    }
    if (features & UCWA_RES_CVW) {
        add_link(p, links, "startPhoneAudio", a->base, "/communication/phoneAudioInvitations");
    }
    add_link(p, links, "mediaPolicies", a->base, "/communication/mediaPolicies");
    if (features & UCWA_RES_RELAY) {
        add_link(p, links, "mediaRelayAccessToken", a->base,
                 "/communication/mediaRelayAccessToken");
    }
    add_link(p, links, "missedItems", a->base, "/communication/missedItems");
    add_link(p, links, "conversationLogs", a->base, "/communication/conversationLogs");
    /* no startOnlineMeeting, joinOnlineMeeting: meetings are not served yet */
    json_object_set_new(c, "_links", links);
    json_object_set_new(c, "rel", json_string("communication"));
    mob_json_own(p, c);
    json_object_set_new(c, "etag", json_string(ucwa_res_etag(p, c)));
    return c;
}

json_t *ucwa_res_people(apr_pool_t *p, const ucwa_app *a)
{
    static const char *const rels[][2] = {
        { "self", "/people" },
        { "presenceSubscriptions", "/people/presenceSubscriptions" },
        { "subscribedContacts", "/people/subscribedContacts" },
        { "presenceSubscriptionMemberships", "/people/presenceSubscriptionMemberships" },
        { "myGroups", "/people/groups" },
        { "myGroupMemberships", "/people/groupMemberships" },
        { "myContacts", "/people/contacts" },
        { "myPrivacyRelationships", "/people/privacyRelationships" },
        { "myContactsAndGroupsSubscription", UCWA_RES_CONTACTS_GROUPS_SUB },
        { "search", "/people/search" },
    };
    json_t *links = json_object();
    size_t i;

    for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
        add_link(p, links, rels[i][0], a->base, rels[i][1]);
    }
    return mob_json_own(p, json_pack("{s:o,s:s}", "_links", links, "rel", "people"));
}

json_t *ucwa_res_online_meetings(apr_pool_t *p, const ucwa_app *a)
{
    /* meetings come later: only the links this server serves (extensions.md, section 10) */
    json_t *links = json_pack("{s:o}", "self", href(p, a->base, "/onlineMeetings"));

    return mob_json_own(p, json_pack("{s:o,s:s}", "_links", links, "rel", "onlineMeetings"));
}

json_t *ucwa_res_privacy_relationships(apr_pool_t *p, const ucwa_app *a)
{
    /* a user assigns no relationship here: each contact's is computed
     * (contactPrivacyRelationship), so the set of assigned ones is empty */
    return mob_json_own(p, json_pack("{s:{s:o},s:{s:[]},s:s}", "_links", "self",
                                     href(p, a->base, "/people/privacyRelationships"),
                                     "_embedded", "myPrivacyRelationship",
                                     "rel", "myPrivacyRelationships"));
}

json_t *ucwa_res_contacts_groups_subscription(apr_pool_t *p, const ucwa_app *a)
{
    /* every application of the user gets the contact-list events from its creation on:
     * the subscription is always Connected, and a refresh changes nothing */
    json_t *links = json_object();

    add_link(p, links, "self", a->base, UCWA_RES_CONTACTS_GROUPS_SUB);
    add_link(p, links, "startOrRefreshSubscriptionToContactsAndGroups", a->base,
             UCWA_RES_CONTACTS_GROUPS_SUB "/startOrRefreshSubscriptionToContactsAndGroups");
    return mob_json_own(p, json_pack("{s:s,s:o,s:s}", "state", "Connected", "_links", links,
                                     "rel", "myContactsAndGroupsSubscription"));
}

json_t *ucwa_res_application(apr_pool_t *p, const ucwa_app *a, const char *user,
                             unsigned features)
{
    json_t *app = json_object(), *links = json_object(), *emb = json_object();

    json_object_set_new(app, "culture", json_string(a->culture));
    json_object_set_new(app, "userAgent", json_string(a->user_agent));
    json_object_set_new(app, "type", json_string("Browser"));
    json_object_set_new(app, "endpointId", json_string(a->endpoint_id));
    /* clients build URLs from the id property: it must equal the URL segment */
    json_object_set_new(app, "id", json_string(a->id));
    if (a->instance_id[0]) {
        json_object_set_new(app, "instanceId", json_string(a->instance_id));
    }
    add_link(p, links, "self", a->base, "");
    add_link(p, links, "policies", a->base, "/policies");
    add_link(p, links, "batch", a->base, "/batch");
    add_link(p, links, "events", a->base, "/events?ack=1");
    json_object_set_new(app, "_links", links);
    json_object_set_new(emb, "me", json_incref(ucwa_res_me(p, a, user)));
    json_object_set_new(emb, "people", json_incref(ucwa_res_people(p, a)));
    json_object_set_new(emb, "onlineMeetings", json_incref(ucwa_res_online_meetings(p, a)));
    json_object_set_new(emb, "communication", json_incref(ucwa_res_communication(p, a, features)));
    json_object_set_new(app, "_embedded", emb);
    json_object_set_new(app, "rel", json_string("application"));
    return mob_json_own(p, app);
}

json_t *ucwa_res_presence(apr_pool_t *p, const ucwa_app *a, ucwa_availability av,
                          const char *activity)
{
    json_t *res = json_pack("{s:s}", "availability", ucwa_availability_name(av));

    if (activity && *activity) {
        json_object_set_new(res, "activity", json_string(activity));
    }
    json_object_set_new(res, "_links", json_pack("{s:o}", "self", href(p, a->base, "/me/presence")));
    json_object_set_new(res, "rel", json_string("presence"));
    return mob_json_own(p, res);
}

json_t *ucwa_res_note(apr_pool_t *p, const ucwa_app *a, const ucwa_user *u)
{
    json_t *res = json_object();

    if (u->note[0]) {
        json_object_set_new(res, "message", json_string(u->note));
        json_object_set_new(res, "type", json_string("Personal"));
    }
    json_object_set_new(res, "_links", json_pack("{s:o}", "self", href(p, a->base, "/me/note")));
    json_object_set_new(res, "rel", json_string("note"));
    return mob_json_own(p, res);
}

json_t *ucwa_res_location(apr_pool_t *p, const ucwa_app *a, const ucwa_user *u)
{
    json_t *res = json_object();

    if (u->location[0]) {
        json_object_set_new(res, "location", json_string(u->location));
    }
    json_object_set_new(res, "_links",
                        json_pack("{s:o}", "self", href(p, a->base, "/me/location")));
    json_object_set_new(res, "rel", json_string("location"));
    return mob_json_own(p, res);
}

json_t *ucwa_res_call_forwarding(apr_pool_t *p, const char *base)
{
    json_t *res = json_pack("{s:s,s:s,s:s,s:s}", UCWA_PUT_PROPERTY, UCWA_PUT_VALUE,
                            "activePeriod", "Always", "activeSetting", "None",
                            "unansweredCallHandling", "Disabled");

    json_object_set_new(res, "_links",
                        json_pack("{s:o}", "self", href(p, base, "/me/callForwardingSettings")));
    json_object_set_new(res, "rel", json_string("callForwardingSettings"));
    mob_json_own(p, res);
    json_object_set_new(res, "etag", json_string(ucwa_res_etag(p, res)));
    return res;
}
