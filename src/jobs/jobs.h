/*
 * jobs: the background work of tollgate-worker -- everything that must not
 * run inside a request: applying stored Stripe webhook events (retries with
 * backoff, dead letters), finishing Stripe calls left pending (Stripe
 * unreachable, or a process killed between the phases of a call) with the
 * same idempotency keys, and ending grace periods. Each pass claims due work
 * with FOR UPDATE SKIP LOCKED, so several tollgate-worker processes on
 * several hosts never run the same job at once; NOTIFY tollgate_jobs wakes
 * them as soon as an event arrives.
 */
#ifndef TOLLGATE_JOBS_H
#define TOLLGATE_JOBS_H

#include "core/config.h"

/* jobs_run: run passes every interval_ms until SIGTERM/SIGINT, or one pass
 * when once is set. Under systemd (call notify_init() first) it sends
 * READY=1 once started, a STATUS= line after each pass, STOPPING=1 on a
 * signal, and watchdog pings: between passes, and after every step of a
 * pass that may block (ctx_progress), so the longest time between two
 * pings is the longest such step (tollgate-worker(8), WATCHDOG). Returns
 * the process exit status. */
int jobs_run(const struct config *cfg, long interval_ms, int once);

#endif
