/*
 * metrics_write: GET /metrics's text (Prometheus exposition format 0.0.4)
 * of the shared counters: the HTTP families, the table's families and the
 * process groups (see metrics.h).
 */
#include <string.h>
#include <time.h>

#include "core/metrics_internal.h"

static const char *route_name(int i)
{
    return i < metrics_nroutes ? metrics_route_names[i] : "unmatched";
}

static void write_requests(FILE *out)
{
    fputs("# HELP tollgate_http_requests_total HTTP requests answered, by route and status.\n"
          "# TYPE tollgate_http_requests_total counter\n",
          out);
    for (int i = 0; i <= metrics_nroutes; i++)
        for (size_t s = 0; s < METRICS_NSTATUS; s++) {
            uint64_t v = metrics_get(&metrics_shm->routes[i].requests[s]);
            if (v == 0)
                continue;
            if (s < METRICS_NSTATUS - 1)
                fprintf(out, "tollgate_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                        route_name(i), metrics_statuses[s], (unsigned long long)v);
            else
                fprintf(out, "tollgate_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                        route_name(i), (unsigned long long)v);
        }
}

static void write_sum(FILE *out, uint64_t us)
{
    fprintf(out, "%llu.%06llu\n", (unsigned long long)(us / 1000000),
            (unsigned long long)(us % 1000000));
}

static void write_durations(FILE *out)
{
    fputs("# HELP tollgate_http_request_duration_seconds Time from accepting a request to "
          "answering it, by route.\n"
          "# TYPE tollgate_http_request_duration_seconds histogram\n",
          out);
    for (int i = 0; i <= metrics_nroutes; i++) {
        const struct route_stats *r = &metrics_shm->routes[i];
        uint64_t count = metrics_get(&r->count), cumulative = 0;
        if (count == 0)
            continue;
        for (size_t b = 0; b < METRICS_NBUCKET; b++) {
            cumulative += metrics_get(&r->buckets[b]);
            fprintf(out,
                    "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
                    route_name(i), metrics_bucket_le[b], (unsigned long long)cumulative);
        }
        fprintf(out,
                "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                "tollgate_http_request_duration_seconds_sum{route=\"%s\"} ",
                route_name(i), (unsigned long long)count, route_name(i));
        write_sum(out, metrics_get(&r->sum_us));
        fprintf(out, "tollgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                route_name(i), (unsigned long long)count);
    }
}

/* write_labels: {a="x",b="y"} of series idx of d (plus extra, e.g. an le
 * pair, when not NULL); nothing when there are no labels at all. */
static void write_labels(FILE *out, const struct metrics_family_def *d, size_t idx,
                         const char *extra)
{
    int at[METRICS_MAX_DIMS];
    for (int i = d->ndims - 1; i >= 0; i--) {
        at[i] = (int)(idx % (size_t)d->dims[i].n);
        idx /= (size_t)d->dims[i].n;
    }
    if (d->ndims == 0 && extra == NULL)
        return;
    fputc('{', out);
    for (int i = 0; i < d->ndims; i++)
        fprintf(out, "%s%s=\"%s\"", i ? "," : "", d->dims[i].label, d->dims[i].values[at[i]]);
    if (extra != NULL)
        fprintf(out, "%s%s", d->ndims ? "," : "", extra);
    fputc('}', out);
}

/* Families show every series, zeros too (so that rates exist from the
 * start), but for the sparse ones (many combinations, most never seen):
 * those only the series that have counted. */

static void write_histogram(FILE *out, const struct metrics_family_def *d, const uint64_t *s,
                            size_t idx)
{
    uint64_t cumulative = 0;
    char le[48];
    for (int b = 0; b < d->nbuckets; b++) {
        cumulative += metrics_get(&s[b]);
        snprintf(le, sizeof(le), "le=\"%s\"", d->bucket_le[b]);
        fprintf(out, "%s_bucket", d->name);
        write_labels(out, d, idx, le);
        fprintf(out, " %llu\n", (unsigned long long)cumulative);
    }
    uint64_t count = metrics_get(&s[d->nbuckets]);
    fprintf(out, "%s_bucket", d->name);
    write_labels(out, d, idx, "le=\"+Inf\"");
    fprintf(out, " %llu\n%s_sum", (unsigned long long)count, d->name);
    write_labels(out, d, idx, NULL);
    fputc(' ', out);
    write_sum(out, metrics_get(&s[d->nbuckets + 1]));
    fprintf(out, "%s_count", d->name);
    write_labels(out, d, idx, NULL);
    fprintf(out, " %llu\n", (unsigned long long)count);
}

static void write_family(FILE *out, enum metrics_family f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    const struct metrics_family_def *d = &metrics_families[f];
    size_t n = metrics_series_of(d), per = metrics_slots_per_series(d);
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, types[d->type]);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *s = &metrics_shm->slots[metrics_offsets[f] + i * per];
        uint64_t v = metrics_get(&s[d->type == MT_HISTOGRAM ? (size_t)d->nbuckets : 0]);
        if (v == 0 && d->sparse)
            continue;
        if (d->type == MT_HISTOGRAM) {
            write_histogram(out, d, s, i);
            continue;
        }
        fputs(d->name, out);
        write_labels(out, d, i, NULL);
        if (d->type == MT_GAUGE)
            fprintf(out, " %lld\n", (long long)v);
        else
            fprintf(out, " %llu\n", (unsigned long long)v);
    }
}

/* write_processes: tollgate-fcgi's group from /proc (this process can see
 * its master and siblings), tollgate-worker's as it published itself
 * (shown while fresh: two minutes). */
static void write_processes(FILE *out)
{
    const char *groups[2];
    struct metrics_proc p[2];
    int n = 0;
    memset(p, 0, sizeof(p));
    int seen = 0;
    for (int i = 0; i < METRICS_MAX_FCGI_PIDS; i++) {
        int pid = __atomic_load_n(&metrics_shm->fcgi_pids[i], __ATOMIC_RELAXED);
        if (pid > 0 && metrics_proc_read(pid, &p[0]) == 0)
            seen++;
    }
    if (seen > 0) {
        metrics_proc_memory(&p[0]);
        groups[n++] = "tollgate-fcgi";
    }
    int64_t v[8], head[2];
    const struct published *w = &metrics_shm->worker;
    if (metrics_seq_read(&w->seq, &w->updated, head, 2) && metrics_seq_read(&w->seq, w->v, v, 8) &&
        head[0] > 0 && time(NULL) - head[0] < 120) {
        p[n] = (struct metrics_proc){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
        groups[n++] = "tollgate-worker";
    }
    if (n > 0)
        metrics_proc_write(out, groups, p, n);
}

void metrics_write(FILE *out)
{
    if (metrics_shm == NULL)
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
            (unsigned long long)metrics_get(&metrics_shm->worker_restarts),
            (unsigned long long)metrics_get(&metrics_shm->workers));
    for (int f = 0; f < MF_COUNT; f++)
        write_family(out, (enum metrics_family)f);
    write_processes(out);
}
