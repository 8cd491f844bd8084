/*
 * metrics: request counters and latency histograms shared by every worker.
 * The master maps one anonymous shared region before forking; workers add
 * to it with atomic operations, so GET /metrics on any worker shows the
 * totals of all of them (Prometheus text exposition format 0.0.4).
 */
#ifndef TOLLGATE_METRICS_H
#define TOLLGATE_METRICS_H

#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_ROUTES 32

/* metrics_init: map the shared region for nroutes routes (names borrowed,
 * must outlive the process; index nroutes is "unmatched"). Call once, in
 * the master, before forking. Returns 0, or -1 when mmap fails. */
int metrics_init(const char *const *route_names, int nroutes) __attribute__((warn_unused_result));

/* metrics_observe: count one request of route (-1 = unmatched) answered
 * with status after duration_us microseconds. No-op before metrics_init. */
void metrics_observe(int route, int status, int64_t duration_us);

/* metrics_worker_restarted: count a worker the master had to replace. */
void metrics_worker_restarted(void);

/* metrics_set_workers: the number of workers the master keeps. */
void metrics_set_workers(long n);

/* metrics_requests_total: requests answered by every worker since
 * metrics_init, all routes and statuses (the master's status line).
 * Returns -1 when there is no shared region. */
int64_t metrics_requests_total(void);

/* metrics_write: write every metric to out in the text format. */
void metrics_write(FILE *out);

#endif
