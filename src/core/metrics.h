/*
 * metrics: tollgate's Prometheus counters, shared by every process of a
 * host. One file-backed region (config metrics_path, default
 * /run/tollgate/metrics/counters) is mapped MAP_SHARED by tollgate-fcgi's
 * master before it forks and by tollgate-worker; each process adds to it
 * where the event happens, with relaxed atomic adds (no lock, no system
 * call), so GET /metrics on any FastCGI worker shows the totals of every
 * worker and of tollgate-worker (Prometheus text exposition format 0.0.4;
 * docs/operations/metrics.md lists every metric).
 *
 * The file opens with a header (magic, version, size and a hash of the
 * layout: every family's name, labels and label values); a file whose
 * header does not match this build's layout is replaced by a new one (a
 * process still mapping the old one keeps counting into it until it
 * restarts), never misread. Counters live as long as the file (until
 * reboot: /run is a tmpfs), across restarts of the services.
 *
 * Label values come from fixed sets (enum metrics_family's table in
 * metrics_families.c): a value outside its set counts as "other" (or the
 * set's last value), so no label is ever a customer id or an e-mail.
 */
#ifndef TOLLGATE_METRICS_H
#define TOLLGATE_METRICS_H

#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_ROUTES 32
#define METRICS_MAX_FCGI_PIDS 256

/* The families counted outside the HTTP request path (labels in order). */
enum metrics_family {
    MF_SIGNUPS,                /* source */
    MF_PAYMENT_METHODS_ADDED,  /* (none) */
    MF_SUBSCRIPTIONS_CREATED,  /* plan */
    MF_SUBSCRIPTIONS_RENEWED,  /* plan */
    MF_SUBSCRIPTIONS_CANCELED, /* plan, reason */
    MF_PAYMENTS,               /* kind, outcome */
    MF_PAYMENT_AMOUNT,         /* kind, outcome, currency (add cents) */
    MF_PAYMENT_FAILURES,       /* kind, code */
    MF_INVOICES,               /* outcome */
    MF_USAGE_EVENTS,           /* outcome */
    MF_CREDITS_GRANTED,        /* kind (add credits) */
    MF_CREDITS_CONSUMED,       /* (none; add credits) */
    MF_TIER_TRANSITIONS,       /* from, to */
    MF_STRIPE_REQUESTS,        /* operation, status_class */
    MF_STRIPE_DURATION,        /* operation (histogram, microseconds) */
    MF_STRIPE_RETRIES,         /* operation */
    MF_STRIPE_REPLAYS,         /* operation */
    MF_WEBHOOKS_RECEIVED,      /* source, type, outcome, reason */
    MF_WEBHOOKS_APPLIED,       /* source, type, outcome */
    MF_WEBHOOK_LAG,            /* source (histogram, microseconds) */
    MF_JOB_RUNS,               /* job, outcome */
    MF_JOB_LAST_RUN,           /* job (gauge: unix seconds) */
    MF_OUTBOUND_DELIVERIES,    /* outcome */
    MF_COUNT
};

/* metrics_open: map the region at path for process ("tollgate-fcgi" or
 * "tollgate-worker"), creating or replacing the file (mode 0600) as the
 * header says. tollgate-fcgi's master calls it before forking. Returns 0,
 * or -1 with errno (then every count is a no-op and /metrics shows the
 * database gauges only). */
int metrics_open(const char *path, const char *process) __attribute__((warn_unused_result));

/* metrics_set_routes: the route names of tollgate_http_* (borrowed, must
 * outlive the process; index n is "unmatched"); n <= METRICS_MAX_ROUTES. */
void metrics_set_routes(const char *const *route_names, int n);

/* metrics_slot: the series of family f with label values l0..l3 (NULL
 * for the labels f does not have), for metrics_add_slot; -1 when the
 * region is not mapped or f is a histogram. Values outside a label's set
 * count as "other". */
int metrics_slot(enum metrics_family f, const char *l0, const char *l1, const char *l2,
                 const char *l3);

/* metrics_add_slot: add n to the series slot (-1: no-op). One atomic add. */
void metrics_add_slot(int slot, uint64_t n);

/* metrics_add: metrics_add_slot(metrics_slot(...), n). */
void metrics_add(enum metrics_family f, uint64_t n, const char *l0, const char *l1, const char *l2,
                 const char *l3);

/* metrics_set: set gauge series of f (labels as metrics_slot) to v. */
void metrics_set(enum metrics_family f, int64_t v, const char *l0, const char *l1);

/* metrics_observe_us: one observation of histogram f (MF_STRIPE_DURATION,
 * MF_WEBHOOK_LAG) with label l0, of us microseconds (negative: 0). */
void metrics_observe_us(enum metrics_family f, const char *l0, int64_t us);

/* metrics_observe: count one request of route (-1 = unmatched) answered
 * with status after duration_us microseconds. No-op before metrics_open. */
void metrics_observe(int route, int status, int64_t duration_us);

/* metrics_recent: the requests answered, and of them the 5xx, in the
 * seconds seconds (1 to 63) before the second now (unix time), read from
 * the counters file at path (read-only; tollgatectl status). Returns 0, or
 * -1 with errno (EPROTO: a file of another layout, e.g. an older build's;
 * EINVAL: seconds out of range). */
int metrics_recent(const char *path, int64_t now, int seconds, uint64_t *requests,
                   uint64_t *errors) __attribute__((warn_unused_result));

/* metrics_worker_restarted: count a worker the master had to replace. */
void metrics_worker_restarted(void);

/* metrics_set_workers: the number of workers the master keeps. */
void metrics_set_workers(long n);

/* metrics_fcgi_pid: the master records a process of tollgate-fcgi (its
 * own pid, or a forked worker's) as alive (alive 1) or gone (0), for the
 * process_* metrics of the group. */
void metrics_fcgi_pid(int pid, int alive);

/* metrics_publish_self: tollgate-worker, once a pass: its own process_*
 * and cgroup memory figures into the region (read by GET /metrics, which
 * may not see this process's /proc). At most every 5 s; cheap. */
void metrics_publish_self(void);

/* metrics_requests_total: requests answered by every worker since the
 * file was made, all routes and statuses (the master's status line).
 * Returns -1 when there is no shared region. */
int64_t metrics_requests_total(void);

/* metrics_write: write every metric of the region (HTTP, families,
 * process groups) to out in the text format. */
void metrics_write(FILE *out);

/* Database-state gauges, cached in the region so that N scrapes within
 * METRICS_DB_CACHE_SECONDS make one query (store/overview.c). */
#define METRICS_DB_CACHE_SECONDS 5
#define METRICS_DB_VALUES 32

/* metrics_db_cached: copy the cached values (n <= METRICS_DB_VALUES) into
 * v when they are younger than METRICS_DB_CACHE_SECONDS at now (unix s);
 * returns 1 then, 0 when the caller should query (it then holds the
 * refresh: others keep using the old values meanwhile), -1 when it should
 * query but someone else is (v filled with the older values, if any: then
 * 1 is returned instead). */
int metrics_db_cached(int64_t now, int64_t *v, int n);

/* metrics_db_store: the caller's fresh values (or ok 0: the query failed,
 * nothing stored), releasing the refresh. */
void metrics_db_store(int64_t now, const int64_t *v, int n, int ok);

#endif
