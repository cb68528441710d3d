/* The JSON (HAL) documents of the application and its "me" family, in the layout of the
 * real Lync 2013 captures. Built from a copy of the store records taken under the lock. */
#ifndef UCWA_RESOURCES_H
#define UCWA_RESOURCES_H

#include <apr_pools.h>
#include <jansson.h>

#include "ucwa_store.h"

/* The GUID-named property every PUT-able resource carries (UCWA's PUT contract). */
#define UCWA_PUT_PROPERTY "4d221db7-4af0-476b-9443-8bc874283085"
#define UCWA_PUT_VALUE "please pass this in a PUT request"

/* features: what the user's policy and this server offer (UCWA_RES_*, ucwa_app_features) */
#define UCWA_RES_CALLS 0x1u    /* calls (EnableIPAudioVideo): startAudio, startVideo, ... */
#define UCWA_RES_CVW 0x4u      /* call via work (ucwa_phone_available): startPhoneAudio */
#define UCWA_RES_RELAY 0x2u    /* calls and a TURN server: mediaRelayAccessToken */
json_t *ucwa_res_application(apr_pool_t *p, const ucwa_app *a, const char *user,
                             unsigned features);
json_t *ucwa_res_me(apr_pool_t *p, const ucwa_app *a, const char *user);
json_t *ucwa_res_communication(apr_pool_t *p, const ucwa_app *a, unsigned features);
json_t *ucwa_res_people(apr_pool_t *p, const ucwa_app *a);
json_t *ucwa_res_online_meetings(apr_pool_t *p, const ucwa_app *a);

#define UCWA_RES_CONTACTS_GROUPS_SUB "/people/contactsAndGroupsSubscription"
/* myPrivacyRelationships (GET {A}/people/privacyRelationships). */
json_t *ucwa_res_privacy_relationships(apr_pool_t *p, const ucwa_app *a);
/* myContactsAndGroupsSubscription (GET {A}/people/contactsAndGroupsSubscription). */
json_t *ucwa_res_contacts_groups_subscription(apr_pool_t *p, const ucwa_app *a);
json_t *ucwa_res_presence(apr_pool_t *p, const ucwa_app *a, ucwa_availability av,
                          const char *activity);
json_t *ucwa_res_note(apr_pool_t *p, const ucwa_app *a, const ucwa_user *u);
json_t *ucwa_res_location(apr_pool_t *p, const ucwa_app *a, const ucwa_user *u);
/* callForwardingSettings of a user not enabled for Enterprise Voice (nothing forwarded,
 * no action; mod_ucwa/ucwa_call_forwarding has the others). */
json_t *ucwa_res_call_forwarding(apr_pool_t *p, const char *base);

/* The ETag of a resource: a decimal hash of its JSON, as real servers print them. */
const char *ucwa_res_etag(apr_pool_t *p, const json_t *res);

#endif
