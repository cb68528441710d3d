/* Events as data (ucwa_event, held in the store's rings with hrefs relative to the
 * application) and their rendering per request, after the lock: the sender's members, the
 * event object and the package, with the application's base put in front of every
 * relative href. */
#ifndef UCWA_EVENT_H
#define UCWA_EVENT_H

#include <apr_pools.h>
#include <jansson.h>

#include "ucwa_store.h"

/* Fills e from an event object ({"link":{"rel","href"[,"title"],...},...,"type"}, hrefs
 * relative to the application) sent by {sender_rel, sender_href}. The strings are copied
 * into p. -1 if ev is not laid out that way (link first, rel and href first in it, type
 * right after the link or last). */
int ucwa_event_from_json(apr_pool_t *p, const char *sender_rel, const char *sender_href,
                         const json_t *ev, ucwa_event *e);

/* JSON text with base put in front of every relative href: each "href":"/ becomes
 * "href":"<base>/. Exact: inside a JSON string value a quote is escaped, so the sequence
 * only occurs as a member named href whose value starts with a slash. */
const char *ucwa_event_rebase(apr_pool_t *p, const char *base, const char *text);

/* The sender's members ("rel":..,"href":..) and the event object, rendered with base. */
const char *ucwa_event_sender_json(apr_pool_t *p, const char *base, const ucwa_event *e);
const char *ucwa_event_json(apr_pool_t *p, const char *base, const ucwa_event *e);

/* The JSON of a package: {"_links":{self,next|resync|resume..},"sender":[...]} */
const char *ucwa_package_json(apr_pool_t *p, const char *base, const ucwa_package *pkg,
                              int resync, apr_size_t *len);

#endif
