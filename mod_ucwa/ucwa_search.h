/* Directory search:
 *
 *   GET    {A}/people/search?query=Q[&limit=N]   the people the ucwa_search statement finds
 */
#ifndef UCWA_SEARCH_H
#define UCWA_SEARCH_H

#include "ucwa_http.h"

/* Route handler (ucwa_route). */
int ucwa_search_get(ucwa_req *q, int what);

#endif
