/* The push registration resources, our UCWA extension (docs/extensions.md, "Push
 * notifications"):
 *
 *   GET    {A}/pushRegistrations             this device's registrations, the providers
 *                                            on, the VAPID applicationServerKey
 *   POST   {A}/pushRegistrations             register -> 201 + Location (200: the same one)
 *   GET    {A}/pushRegistrations/{id}
 *   PUT    {A}/pushRegistrations/{id}        change (If-Match not needed) -> 200
 *   DELETE {A}/pushRegistrations/{id}        -> 204
 *   POST   {A}/reportBackground              the app goes to the background -> 204
 *
 * A registration belongs to the user and to the device (the application's endpointId);
 * it lives in SQL (common/push/ucwa_push_reg) and outlives the application. */
#ifndef UCWA_PUSH_RESOURCE_H
#define UCWA_PUSH_RESOURCE_H

#include "ucwa_http.h"

/* Route handlers (ucwa_route): GET and POST of the collection, GET, PUT and DELETE of
 * one registration (q->id[0]), POST reportBackground. */
int ucwa_push_resource_list(ucwa_req *q, int what);
int ucwa_push_resource_create(ucwa_req *q, int what);
int ucwa_push_resource_one(ucwa_req *q, int what);
int ucwa_push_resource_background(ucwa_req *q, int what);

/* The application resource app, with the pushRegistrations and reportBackground links
 * added when a push provider is on (else as Microsoft's captures show it). */
json_t *ucwa_push_links(ucwa_req *q, json_t *app, const char *base);

/* After an application is created: mark it push-registered when its device has
 * registrations (a failure to read them is logged and leaves it unmarked). */
void ucwa_push_reg_app_created(ucwa_req *q, int idx, apr_uint32_t gen,
                               const char *endpoint_id);

#endif
