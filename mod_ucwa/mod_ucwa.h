/* mod_ucwa: the UCWA REST API (applications, event channel, me and presence, policies).
 * What it exports to other modules is in mod_ucwa_core.h. */
#ifndef MOD_UCWA_H
#define MOD_UCWA_H

#include <httpd.h>

/* Every log line of this module starts with its own tag. */
#define UCWALOGNO(n) "UCWA" #n ": "

#endif
