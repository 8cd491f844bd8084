/*
 * problem: how each enum tg_err reaches a client -- its HTTP status and
 * the RFC 9457 problem "type" URI (PROBLEM_BASE + slug); the title is
 * tg_strerror(). One table, the only place a code meets a status. The
 * slugs are part of the public API (docs/problems.md): never rename one.
 */
#ifndef TOLLGATE_PROBLEM_H
#define TOLLGATE_PROBLEM_H

#include "core/log.h"
#include "core/tgerr.h"

/* The prefix of every problem type URI; the slug follows. */
#define PROBLEM_BASE "https://tollgate.dev/problems/"

struct problem_info {
    int status;       /* HTTP status code */
    const char *slug; /* last part of the problem type URI */
};

/* problem_info: the static description of err (never NULL; unknown values
 * map to TG_EINTERNAL's). Borrowed, lives forever. */
const struct problem_info *problem_info(enum tg_err err);

/* problem_log_level: the level at which a request answered with err is
 * logged. A failure of tollgate or what it depends on (database, memory, a
 * bug, its configuration) is an error; Stripe unreachable, a worker
 * shutting down and an unconfigured token key are warnings (the operator
 * should look, nothing is broken); a refusal the client caused (4xx) or an
 * operator chose (signup closed, billing switched off by a flag: 503 by
 * design) is info. Issue 11: `journalctl -p err` lists only what needs
 * fixing. */
enum log_level problem_log_level(enum tg_err err);

#endif
