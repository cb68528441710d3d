/* Contacts:
 *
 *   GET    {A}/people/contacts[?groupId=G][&expand=false]   myContacts / groupContacts
 *   GET    {A}/people/{sip}[/presence|/note|/location|/supportedMedia|/privacyRelationship]
 *
 * A contact is what the directory says of the address and, when the directory lets it be
 * seen, the presence, note and location of its user in the store. */
#ifndef UCWA_CONTACT_H
#define UCWA_CONTACT_H

#include "ucwa_http.h"

/* ucwa_contact_get's what: the contact, or one of its resources */
enum {
    UCWA_CONTACT_SELF, UCWA_CONTACT_PRESENCE, UCWA_CONTACT_NOTE, UCWA_CONTACT_LOCATION,
    UCWA_CONTACT_SUPPORTED_MEDIA, UCWA_CONTACT_PRIVACY_RELATIONSHIP
};

/* Route handlers (ucwa_route): the contact list; a contact (q->id[0]; a name without '@'
 * names no contact: 404) or one of its resources. */
int ucwa_contact_list(ucwa_req *q, int what);
/* {A}/me/phones: the user's own numbers from the directory. */
int ucwa_contact_my_phones(ucwa_req *q, int what);
int ucwa_contact_get(ucwa_req *q, int what);

#endif
