/*
 * problem: how each enum tg_err reaches a client -- its HTTP status and
 * the RFC 9457 problem "type" URI (PROBLEM_BASE + slug); the title is
 * tg_strerror(). One table, the only place a code meets a status. The
 * slugs are part of the public API (docs/problems.md): never rename one.
 */
#ifndef TOLLGATE_PROBLEM_H
#define TOLLGATE_PROBLEM_H

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

#endif
