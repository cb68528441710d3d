/* people: myContacts, myGroups, group contacts and memberships, the contact resource
 * and its presence / note / location / supportedMedia, photos, and directory search;
 * contacts and groups are durable (SQL through mod_dbd). */
#ifndef UCWA_PEOPLE_H
#define UCWA_PEOPLE_H

#include "ucwa_http.h"

/* Handles {A}/people... and {A}/photos/...; DECLINED if sub is not one of its resources. */
int ucwa_people_handle(ucwa_req *q);

/* In child_init: create or upgrade the schema (versioned migrations). */
void ucwa_people_child_init(apr_pool_t *pchild, server_rec *s);

#endif
