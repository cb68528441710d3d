/* mod_ucwa: the UCWA REST API (applications, event channel, me and presence, policies).
 * Exports nothing yet; mod_mcx will use the store through optional functions. */
#ifndef MOD_UCWA_H
#define MOD_UCWA_H

#include <httpd.h>

/* Every log line of this module starts with its own tag. */
#define UCWALOGNO(n) "UCWA" #n ": "

#endif
