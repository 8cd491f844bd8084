/*
 * metrics_internal: what metrics.c, metrics_families.c and metrics_proc.c
 * share -- the family table's shape and the /proc and cgroup readers.
 * Not for use outside src/core/metrics*.c.
 */
#ifndef TOLLGATE_METRICS_INTERNAL_H
#define TOLLGATE_METRICS_INTERNAL_H

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
    const int64_t *bucket_us;  /* histograms: upper bounds, microseconds */
    const char *const *bucket_le;
    int nbuckets;
};

extern const struct metrics_family_def metrics_families[MF_COUNT];

/* One process's (or a group's summed) process_* and memory figures. */
struct metrics_proc {
    int64_t rss_bytes;
    int64_t cpu_us;       /* user + system */
    int64_t open_fds;
    int64_t max_fds;      /* soft RLIMIT_NOFILE */
    int64_t start_time;   /* unix seconds */
    int64_t mem_bytes;    /* cgroup memory.current, else RSS */
    int64_t mem_limit;    /* cgroup memory.max, else physical memory */
    int64_t limit_cgroup; /* 1: mem_limit is the cgroup's */
};

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
