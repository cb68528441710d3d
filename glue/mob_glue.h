/* What every glue object shares: glue/ is compiled into each module, its symbols stay
 * inside the module that holds them. */
#ifndef MOB_GLUE_H
#define MOB_GLUE_H

#define MOB_GLUE __attribute__((visibility("hidden")))

#endif
