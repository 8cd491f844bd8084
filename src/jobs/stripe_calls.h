/*
 * stripe_calls: tollgate-worker's replay of Stripe calls left pending in
 * the outbox (domain/outbox.h): Stripe was unreachable, or a process died
 * between the phases of a call. Each call is repeated with its recorded
 * idempotency key by its operation's own code, found in one table: adding
 * a Stripe operation is one row there.
 */
#ifndef TOLLGATE_STRIPE_CALLS_H
#define TOLLGATE_STRIPE_CALLS_H

#include <signal.h>
#include <stddef.h>

#include "core/ctx.h"
#include "store/stripe_requests.h"

/* stripe_calls_resume: run claimed call again (same keys) and apply its
 * result by its operation's code. TG_OK when it reached a final state;
 * TG_EINTERNAL for an operation the table does not know. */
enum tg_err stripe_calls_resume(struct tg_ctx *ctx, const struct stripe_request *call)
    __attribute__((warn_unused_result));

/* stripe_calls_process_due: claim up to limit due calls and resume each,
 * logging the outcome; returns how many were claimed. Stops early when
 * *stop becomes non-zero (a signal). */
size_t stripe_calls_process_due(struct tg_ctx *ctx, int limit, volatile const sig_atomic_t *stop);

#endif
