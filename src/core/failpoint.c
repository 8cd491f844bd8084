/*
 * failpoint: see failpoint.h.
 */
#include "core/failpoint.h"

#ifdef TOLLGATE_FAILPOINTS
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

void failpoint_hit(const char *name)
{
    const char *want = getenv("TOLLGATE_FAILPOINT");
    if (want == NULL || strcmp(want, name) != 0)
        return;
    log_msg(LOG_WARN, "failpoint %s: exiting", name);
    _exit(FAILPOINT_EXIT);
}
#else
typedef int failpoint_unused; /* ISO C wants a translation unit to declare something */
#endif
