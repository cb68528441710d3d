/* The store's housekeeping, once a second in one child (a mod_watchdog singleton):
 * applications idle past UcwaApplicationIdleTimeout end (their ids answer 410 for an
 * hour), idle users turn IdleOnline then Away, and a changed mobility policy reaches
 * signed-in clients as a policies "updated" event. */
#ifndef UCWA_WATCHDOG_H
#define UCWA_WATCHDOG_H

#include <httpd.h>

int ucwa_watchdog_post_config(apr_pool_t *pconf, server_rec *s);

/* One sweep (exposed for the handler that runs one on demand). */
void ucwa_watchdog_sweep(server_rec *s, apr_pool_t *p);

#endif
