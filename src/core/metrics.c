/*
 * metrics: see metrics.h. Counters are plain uint64_t updated with GCC's
 * __atomic builtins (relaxed: each is independent), in a MAP_SHARED |
 * MAP_ANONYMOUS region that forked workers inherit.
 */
#include "core/metrics.h"

#include <stddef.h>
#include <sys/mman.h>

/* Status codes tollgate answers with; anything else counts as "other". */
static const int statuses[] = {200, 201, 204, 400, 401, 402, 404, 405,
                               409, 413, 415, 422, 429, 500, 503};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* Histogram bucket upper bounds, in microseconds (and as Prometheus text). */
static const int64_t bucket_us[] = {1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
                                    500000, 1000000, 2500000};
static const char *const bucket_le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                        "0.1", "0.25", "0.5", "1", "2.5"};
#define NBUCKET (sizeof(bucket_us) / sizeof(bucket_us[0]))

struct route_stats {
    uint64_t requests[NSTATUS];
    uint64_t buckets[NBUCKET]; /* not cumulative; summed when written */
    uint64_t count;
    uint64_t sum_us;
};

struct shared {
    struct route_stats routes[METRICS_MAX_ROUTES + 1];
    uint64_t worker_restarts;
    uint64_t workers;
};

static struct shared *shm;
static const char *const *names;
static int nroutes;

int metrics_init(const char *const *route_names, int n)
{
    if (n > METRICS_MAX_ROUTES)
        return -1;
    void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    shm = p; /* mmap zero-fills */
    names = route_names;
    nroutes = n;
    return 0;
}

static void add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_observe(int route, int status, int64_t duration_us)
{
    if (shm == NULL)
        return;
    struct route_stats *r = &shm->routes[route >= 0 && route < nroutes ? route : nroutes];
    size_t s = 0;
    while (s < NSTATUS - 1 && statuses[s] != status)
        s++;
    add(&r->requests[s], 1);
    if (duration_us < 0)
        duration_us = 0;
    for (size_t b = 0; b < NBUCKET; b++)
        if (duration_us <= bucket_us[b]) {
            add(&r->buckets[b], 1);
            break;
        }
    add(&r->count, 1);
    add(&r->sum_us, (uint64_t)duration_us);
}

void metrics_worker_restarted(void)
{
    if (shm != NULL)
        add(&shm->worker_restarts, 1);
}

void metrics_set_workers(long n)
{
    if (shm != NULL)
        __atomic_store_n(&shm->workers, (uint64_t)n, __ATOMIC_RELAXED);
}

int64_t metrics_requests_total(void)
{
    if (shm == NULL)
        return -1;
    uint64_t n = 0;
    for (int i = 0; i <= nroutes; i++)
        n += get(&shm->routes[i].count);
    return (int64_t)n;
}

static const char *route_name(int i)
{
    return i < nroutes ? names[i] : "unmatched";
}

static void write_requests(FILE *out)
{
    fputs("# HELP tollgate_http_requests_total HTTP requests answered, by route and status.\n"
          "# TYPE tollgate_http_requests_total counter\n", out);
    for (int i = 0; i <= nroutes; i++)
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t v = get(&shm->routes[i].requests[s]);
            if (v == 0)
                continue;
            if (s < NSTATUS - 1)
                fprintf(out, "tollgate_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                        route_name(i), statuses[s], (unsigned long long)v);
            else
                fprintf(out, "tollgate_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                        route_name(i), (unsigned long long)v);
        }
}

static void write_durations(FILE *out)
{
    fputs("# HELP tollgate_http_request_duration_seconds Time from accepting a request to "
          "answering it, by route.\n"
          "# TYPE tollgate_http_request_duration_seconds histogram\n", out);
    for (int i = 0; i <= nroutes; i++) {
        const struct route_stats *r = &shm->routes[i];
        uint64_t count = get(&r->count), cumulative = 0;
        if (count == 0)
            continue;
        for (size_t b = 0; b < NBUCKET; b++) {
            cumulative += get(&r->buckets[b]);
            fprintf(out, "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
                    route_name(i), bucket_le[b], (unsigned long long)cumulative);
        }
        uint64_t sum = get(&r->sum_us);
        fprintf(out,
                "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                "tollgate_http_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n"
                "tollgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                route_name(i), (unsigned long long)count, route_name(i),
                (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000),
                route_name(i), (unsigned long long)count);
    }
}

void metrics_write(FILE *out)
{
    if (shm == NULL)
        return;
    write_requests(out);
    write_durations(out);
    fprintf(out,
            "# HELP tollgate_worker_restarts_total Workers that died and were replaced.\n"
            "# TYPE tollgate_worker_restarts_total counter\n"
            "tollgate_worker_restarts_total %llu\n"
            "# HELP tollgate_workers FastCGI workers the master keeps running.\n"
            "# TYPE tollgate_workers gauge\n"
            "tollgate_workers %llu\n",
            (unsigned long long)get(&shm->worker_restarts),
            (unsigned long long)get(&shm->workers));
}
