/* The store's housekeeping, once a second in one child (a mod_watchdog singleton):
 * applications idle past UcwaApplicationIdleTimeout end (their ids answer 410 for an
 * hour), idle users turn IdleOnline then Away, and a changed mobility policy reaches
 * signed-in clients as a policies "updated" event. */
#ifndef UCWA_WATCHDOG_H
#define UCWA_WATCHDOG_H

#include <httpd.h>
#include <mod_watchdog.h>

int ucwa_watchdog_post_config(apr_pool_t *pconf, server_rec *s);

/* Runs callback(data) every interval in one child (a singleton mod_watchdog instance
 * called name). APR_ENOTIMPL when mod_watchdog is not loaded. */
apr_status_t ucwa_watchdog_start(apr_pool_t *pconf, const char *name,
                                apr_interval_time_t interval, void *data,
                                ap_watchdog_callback_fn_t *callback);

/* Non-zero when this process is stopping (or its state is unknown): a long callback
 * (the push dispatcher, the synthetic transaction) returns at once. */
int ucwa_watchdog_stopping(void);

/* One sweep (exposed for the handler that runs one on demand). */
void ucwa_watchdog_sweep(server_rec *s, apr_pool_t *p);

#endif
