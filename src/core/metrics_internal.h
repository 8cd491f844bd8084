/*
 * metrics_internal: what metrics.c, metrics_families.c and metrics_proc.c
 * share -- the family table's shape and the /proc and cgroup readers.
 * Not for use outside src/core/metrics*.c.
 */
#ifndef TOLLGATE_METRICS_INTERNAL_H
#define TOLLGATE_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/metrics.h"

#define METRICS_MAX_DIMS 4

enum metrics_type { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

struct metrics_dim {
    const char *label;
    const char *const *values; /* the allowed values; "other" (if present) takes the rest */
    int n;
};

struct metrics_family_def {
    const char *name, *help;
    enum metrics_type type;
    int ndims;
    struct metrics_dim dims[METRICS_MAX_DIMS];
    const int64_t *bucket_us; /* histograms: upper bounds, microseconds */
    const char *const *bucket_le;
    int nbuckets;
    int sparse; /* 1: only the series that have counted are written */
};

extern const struct metrics_family_def metrics_families[MF_COUNT];

/* One process's (or a group's summed) process_* and memory figures. */
struct metrics_proc {
    int64_t rss_bytes;
    int64_t cpu_us; /* user + system */
    int64_t open_fds;
    int64_t max_fds;      /* soft RLIMIT_NOFILE */
    int64_t start_time;   /* unix seconds */
    int64_t mem_bytes;    /* cgroup memory.current, else RSS */
    int64_t mem_limit;    /* cgroup memory.max, else physical memory */
    int64_t limit_cgroup; /* 1: mem_limit is the cgroup's */
};

/* The shared region's layout (metrics.c maps it). */
#define METRICS_NSTATUS 16 /* the status codes tollgate answers, and "other" */
#define METRICS_NBUCKET 15 /* request duration buckets, up to 60 s */
#define METRICS_RECENT 64  /* seconds of requests kept for "the last minute" */

struct route_stats {
    uint64_t requests[METRICS_NSTATUS];
    uint64_t buckets[METRICS_NBUCKET]; /* not cumulative; summed when written */
    uint64_t count;
    uint64_t sum_us;
};

struct header {
    char magic[8];
    uint32_t version;
    uint32_t header_size; /* sizeof(struct shared) */
    uint64_t size;        /* of the whole file */
    uint64_t layout;      /* hash of the family table */
};

/* tollgate-worker's own figures (metrics_publish_self), under a seqlock. */
struct published {
    uint64_t seq; /* odd while being written */
    int64_t updated, pid;
    int64_t v[8]; /* struct metrics_proc, field by field */
};

struct db_cache {
    uint64_t seq;       /* odd while being written */
    int64_t fetched_at; /* unix seconds; 0: never */
    int64_t refreshing; /* unix seconds a refresh began; 0: none */
    int64_t ok;
    int64_t v[METRICS_DB_VALUES];
};

struct shared {
    struct header h;
    struct route_stats routes[METRICS_MAX_ROUTES + 1];
    uint64_t worker_restarts;
    uint64_t workers;
    int32_t fcgi_pids[METRICS_MAX_FCGI_PIDS]; /* 0: free */
    struct published worker;
    struct db_cache db;
    /* Requests and 5xx answers of each of the last METRICS_RECENT seconds:
     * a slot is (second mod 2^32) << 32 | count, for second mod 64. */
    uint64_t recent_requests[METRICS_RECENT];
    uint64_t recent_errors[METRICS_RECENT];
    uint64_t slots[]; /* the families, at metrics_offsets[] */
};

/* This process's mapping (NULL: none), the route names and where each
 * family starts in slots[] (metrics.c). */
extern struct shared *metrics_shm;
extern const char *const *metrics_route_names;
extern int metrics_nroutes;
extern size_t metrics_offsets[MF_COUNT];
extern const int metrics_statuses[METRICS_NSTATUS - 1];
extern const int64_t metrics_bucket_us[METRICS_NBUCKET];
extern const char *const metrics_bucket_le[METRICS_NBUCKET];

/* metrics_get: a counter's value (relaxed atomic load). */
static inline uint64_t metrics_get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* metrics_series_of: how many series family d has (product of its label
 * sets); metrics_slots_per_series: counters each takes (a histogram's
 * buckets, count and sum). */
size_t metrics_series_of(const struct metrics_family_def *d);
size_t metrics_slots_per_series(const struct metrics_family_def *d);

/* metrics_seq_read: copy n int64_t from src to dst consistently with the
 * seqlock seq; 0 when a writer kept it busy. */
int metrics_seq_read(const uint64_t *seq, const int64_t *src, int64_t *dst, int n);

/* metrics_proc_read: add pid's figures (RSS, CPU, fds) to *sum; the start
 * time is the earliest. Returns 0, -1 when pid is gone or unreadable. */
int metrics_proc_read(int pid, struct metrics_proc *sum);

/* metrics_proc_memory: this process's cgroup memory.current and
 * memory.max (when set) into p, else p->rss_bytes and the machine's
 * memory (sysinfo). */
void metrics_proc_memory(struct metrics_proc *p);

/* metrics_proc_write: the process_* and tollgate_memory_* samples of the
 * groups named names[i] with figures p[i] (n groups, HELP/TYPE once). */
void metrics_proc_write(FILE *out, const char *const *names, const struct metrics_proc *p, int n);

#endif
