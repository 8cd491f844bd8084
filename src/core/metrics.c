/*
 * metrics: see metrics.h. Counters are uint64_t updated with GCC's
 * __atomic builtins (relaxed: each is independent) in a MAP_SHARED file
 * mapping; the family table (metrics_families.c) fixes the layout.
 */
#include "core/metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics_internal.h"

#define MAGIC "TGMETRC1"
#define VERSION 1

/* Status codes tollgate answers with; anything else counts as "other". */
static const int statuses[] = {200, 201, 204, 400, 401, 402, 404, 405,
                               409, 413, 415, 422, 429, 500, 503};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* Request duration buckets, microseconds (and as Prometheus text): up to
 * 60 s, as a request that waits on Stripe may take tens of seconds. */
static const int64_t bucket_us[] = {1000,    2500,    5000,    10000,    25000,    50000,
                                    100000,  250000,  500000,  1000000,  2500000,  5000000,
                                    10000000, 30000000, 60000000};
static const char *const bucket_le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025",
                                        "0.05",  "0.1",    "0.25",  "0.5",  "1",
                                        "2.5",   "5",      "10",    "30",   "60"};
#define NBUCKET (sizeof(bucket_us) / sizeof(bucket_us[0]))

struct route_stats {
    uint64_t requests[NSTATUS];
    uint64_t buckets[NBUCKET]; /* not cumulative; summed when written */
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
    uint64_t seq;        /* odd while being written */
    int64_t fetched_at;  /* unix seconds; 0: never */
    int64_t refreshing;  /* unix seconds a refresh began; 0: none */
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
    uint64_t slots[]; /* the families, at offsets[] */
};

static struct shared *shm;
static const char *const *names;
static int nroutes;
static size_t offsets[MF_COUNT], nslots;

static void add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* series_of: how many series family d has (product of its label sets). */
static size_t series_of(const struct metrics_family_def *d)
{
    size_t n = 1;
    for (int i = 0; i < d->ndims; i++)
        n *= (size_t)d->dims[i].n;
    return n;
}

static size_t slots_per_series(const struct metrics_family_def *d)
{
    return d->type == MT_HISTOGRAM ? (size_t)d->nbuckets + 2 : 1;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s, strlen(s) + 1);
}

/* layout: lay the families out (offsets, nslots) and hash the table. */
static uint64_t layout(void)
{
    uint64_t h = 14695981039346656037ULL;
    size_t fixed = sizeof(struct shared);
    h = fnv(h, &fixed, sizeof(fixed));
    nslots = 0;
    for (int f = 0; f < MF_COUNT; f++) {
        const struct metrics_family_def *d = &metrics_families[f];
        offsets[f] = nslots;
        nslots += series_of(d) * slots_per_series(d);
        h = fnv_str(h, d->name);
        h = fnv(h, &d->type, sizeof(d->type));
        for (int i = 0; i < d->ndims; i++) {
            h = fnv_str(h, d->dims[i].label);
            for (int j = 0; j < d->dims[i].n; j++)
                h = fnv_str(h, d->dims[i].values[j]);
        }
        for (int b = 0; b < d->nbuckets; b++)
            h = fnv(h, &d->bucket_us[b], sizeof(d->bucket_us[b]));
    }
    return h;
}

static int header_ok(int fd, const struct header *want)
{
    struct header h;
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != want->size)
        return 0;
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return 0;
    return memcmp(&h, want, sizeof(h)) == 0;
}

/* init_file: size fd's file and write its header (zeroes elsewhere). */
static int init_file(int fd, const struct header *want)
{
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)want->size) != 0)
        return -1;
    return pwrite(fd, want, sizeof(*want), 0) == (ssize_t)sizeof(*want) ? 0 : -1;
}

/* replace: put a new, empty file at path in place of a mismatched one (a
 * process mapping the old one keeps its mapping). */
static int replace(const char *path, const struct header *want)
{
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (tmp == NULL)
        return -1;
    snprintf(tmp, len, "%s.XXXXXX", path);
    int fd = mkstemp(tmp), rc = -1;
    if (fd >= 0 && fchmod(fd, 0600) == 0 && init_file(fd, want) == 0 && rename(tmp, path) == 0)
        rc = 0;
    if (fd >= 0 && rc != 0)
        unlink(tmp);
    if (fd >= 0)
        close(fd);
    free(tmp);
    return rc;
}

/* map_path: open (or make) the file at path and map it once its header
 * matches want; flock serialises the first initialisation. */
static void *map_path(const char *path, const struct header *want)
{
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return NULL;
        if (flock(fd, LOCK_EX) != 0) {
            close(fd);
            return NULL;
        }
        struct stat st;
        int ok = header_ok(fd, want);
        if (!ok && fstat(fd, &st) == 0 && st.st_size == 0)
            ok = init_file(fd, want) == 0; /* new: nobody maps it yet */
        else if (!ok && replace(path, want) != 0) {
            close(fd);
            return NULL;
        }
        if (!ok) {
            close(fd); /* and open the new file */
            continue;
        }
        void *p = mmap(NULL, want->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd); /* also releases the lock */
        return p == MAP_FAILED ? NULL : p;
    }
    errno = EAGAIN;
    return NULL;
}

int metrics_open(const char *path, const char *process)
{
    struct header want;
    memset(&want, 0, sizeof(want));
    memcpy(want.magic, MAGIC, sizeof(want.magic));
    want.version = VERSION;
    want.header_size = sizeof(struct shared);
    want.layout = layout();
    want.size = sizeof(struct shared) + nslots * sizeof(uint64_t);
    struct shared *p = map_path(path, &want);
    if (p == NULL)
        return -1;
    shm = p;
    if (strcmp(process, "tollgate-fcgi") == 0) /* a new master: forget the old group */
        for (int i = 0; i < METRICS_MAX_FCGI_PIDS; i++)
            __atomic_store_n(&shm->fcgi_pids[i], 0, __ATOMIC_RELAXED);
    return 0;
}

void metrics_set_routes(const char *const *route_names, int n)
{
    names = route_names;
    nroutes = n > METRICS_MAX_ROUTES ? METRICS_MAX_ROUTES : n;
}

/* value_index: the index of v in dim's set, else of "other", else the
 * set's last. */
static int value_index(const struct metrics_dim *dim, const char *v)
{
    int other = dim->n - 1;
    for (int i = 0; i < dim->n; i++) {
        if (v != NULL && strcmp(dim->values[i], v) == 0)
            return i;
        if (strcmp(dim->values[i], "other") == 0)
            other = i;
    }
    return other;
}

static size_t series_index(const struct metrics_family_def *d, const char *const l[4])
{
    size_t idx = 0;
    for (int i = 0; i < d->ndims; i++)
        idx = idx * (size_t)d->dims[i].n + (size_t)value_index(&d->dims[i], l[i]);
    return idx;
}

int metrics_slot(enum metrics_family f, const char *l0, const char *l1, const char *l2,
                 const char *l3)
{
    if (shm == NULL || f < 0 || f >= MF_COUNT || metrics_families[f].type == MT_HISTOGRAM)
        return -1;
    const char *const l[4] = {l0, l1, l2, l3};
    return (int)(offsets[f] + series_index(&metrics_families[f], l));
}

void metrics_add_slot(int slot, uint64_t n)
{
    if (shm != NULL && slot >= 0 && (size_t)slot < nslots)
        add(&shm->slots[slot], n);
}

void metrics_add(enum metrics_family f, uint64_t n, const char *l0, const char *l1,
                 const char *l2, const char *l3)
{
    metrics_add_slot(metrics_slot(f, l0, l1, l2, l3), n);
}

void metrics_set(enum metrics_family f, int64_t v, const char *l0, const char *l1)
{
    int slot = metrics_slot(f, l0, l1, NULL, NULL);
    if (slot >= 0)
        __atomic_store_n(&shm->slots[slot], (uint64_t)v, __ATOMIC_RELAXED);
}

void metrics_observe_us(enum metrics_family f, const char *l0, int64_t us)
{
    if (shm == NULL || f < 0 || f >= MF_COUNT || metrics_families[f].type != MT_HISTOGRAM)
        return;
    const struct metrics_family_def *d = &metrics_families[f];
    const char *const l[4] = {l0, NULL, NULL, NULL};
    uint64_t *s = &shm->slots[offsets[f] + series_index(d, l) * slots_per_series(d)];
    if (us < 0)
        us = 0;
    for (int b = 0; b < d->nbuckets; b++)
        if (us <= d->bucket_us[b]) {
            add(&s[b], 1);
            break;
        }
    add(&s[d->nbuckets], 1);
    add(&s[d->nbuckets + 1], (uint64_t)us);
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

void metrics_fcgi_pid(int pid, int alive)
{
    if (shm == NULL || pid <= 0)
        return;
    for (int i = 0; i < METRICS_MAX_FCGI_PIDS; i++) {
        int32_t want = alive ? 0 : pid;
        if (__atomic_compare_exchange_n(&shm->fcgi_pids[i], &want, alive ? pid : 0, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return;
    }
}

int64_t metrics_requests_total(void)
{
    if (shm == NULL)
        return -1;
    uint64_t n = 0;
    for (int i = 0; i <= METRICS_MAX_ROUTES; i++)
        n += get(&shm->routes[i].count);
    return (int64_t)n;
}

/* seq_begin, seq_end: a writer's side of a seqlock; seq_begin fails (0)
 * when another writer holds it. */
static int seq_begin(uint64_t *seq)
{
    uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    if (s & 1)
        return 0;
    if (!__atomic_compare_exchange_n(seq, &s, s + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return 1;
}

static void seq_end(uint64_t *seq)
{
    __atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
}

/* seq_read: copy n int64_t from src to dst consistently; 0 when a writer
 * kept it busy. */
static int seq_read(const uint64_t *seq, const int64_t *src, int64_t *dst, int n)
{
    for (int tries = 0; tries < 100; tries++) {
        uint64_t s1 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
        if (s1 & 1)
            continue;
        for (int i = 0; i < n; i++)
            dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(seq, __ATOMIC_RELAXED) == s1)
            return 1;
    }
    return 0;
}

static void store_all(int64_t *dst, const int64_t *src, int n)
{
    for (int i = 0; i < n; i++)
        __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

int metrics_db_cached(int64_t now, int64_t *v, int n)
{
    if (shm == NULL)
        return 0;
    struct db_cache *c = &shm->db;
    int64_t head[3]; /* fetched_at, refreshing, ok */
    int have = seq_read(&c->seq, &c->fetched_at, head, 3) &&
               seq_read(&c->seq, c->v, v, n) && head[0] > 0 && head[2];
    if (have && now - head[0] < METRICS_DB_CACHE_SECONDS)
        return 1;
    int64_t busy = __atomic_load_n(&c->refreshing, __ATOMIC_RELAXED);
    /* A refresh older than the cache's life was abandoned (a worker died). */
    if (busy != 0 && now - busy < METRICS_DB_CACHE_SECONDS)
        return have ? 1 : -1;
    if (__atomic_compare_exchange_n(&c->refreshing, &busy, now, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
        return 0;
    return have ? 1 : -1;
}

void metrics_db_store(int64_t now, const int64_t *v, int n, int ok)
{
    if (shm == NULL)
        return;
    struct db_cache *c = &shm->db;
    if (ok && seq_begin(&c->seq)) {
        store_all(c->v, v, n);
        int64_t head[2] = {now, 1};
        __atomic_store_n(&c->fetched_at, head[0], __ATOMIC_RELAXED);
        __atomic_store_n(&c->ok, head[1], __ATOMIC_RELAXED);
        seq_end(&c->seq);
    }
    __atomic_store_n(&c->refreshing, 0, __ATOMIC_RELEASE);
}

void metrics_publish_self(void)
{
    static time_t last;
    time_t now = time(NULL);
    if (shm == NULL || now - last < 5)
        return;
    last = now;
    struct metrics_proc p;
    memset(&p, 0, sizeof(p));
    if (metrics_proc_read((int)getpid(), &p) != 0)
        return;
    metrics_proc_memory(&p);
    int64_t v[8] = {p.rss_bytes, p.cpu_us,   p.open_fds,  p.max_fds,
                    p.start_time, p.mem_bytes, p.mem_limit, p.limit_cgroup};
    struct published *w = &shm->worker;
    if (!seq_begin(&w->seq))
        return;
    store_all(w->v, v, 8);
    __atomic_store_n(&w->pid, (int64_t)getpid(), __ATOMIC_RELAXED);
    __atomic_store_n(&w->updated, (int64_t)now, __ATOMIC_RELAXED);
    seq_end(&w->seq);
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

static void write_sum(FILE *out, uint64_t us)
{
    fprintf(out, "%llu.%06llu\n", (unsigned long long)(us / 1000000),
            (unsigned long long)(us % 1000000));
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
        fprintf(out,
                "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                "tollgate_http_request_duration_seconds_sum{route=\"%s\"} ",
                route_name(i), (unsigned long long)count, route_name(i));
        write_sum(out, get(&r->sum_us));
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

/* Families of few series show every series, zeros too (so rates exist
 * from the start); larger ones only the series that have counted. */
#define WRITE_ALL_MAX 32

static void write_histogram(FILE *out, const struct metrics_family_def *d, const uint64_t *s,
                            size_t idx)
{
    uint64_t cumulative = 0;
    char le[48];
    for (int b = 0; b < d->nbuckets; b++) {
        cumulative += get(&s[b]);
        snprintf(le, sizeof(le), "le=\"%s\"", d->bucket_le[b]);
        fprintf(out, "%s_bucket", d->name);
        write_labels(out, d, idx, le);
        fprintf(out, " %llu\n", (unsigned long long)cumulative);
    }
    uint64_t count = get(&s[d->nbuckets]);
    fprintf(out, "%s_bucket", d->name);
    write_labels(out, d, idx, "le=\"+Inf\"");
    fprintf(out, " %llu\n%s_sum", (unsigned long long)count, d->name);
    write_labels(out, d, idx, NULL);
    fputc(' ', out);
    write_sum(out, get(&s[d->nbuckets + 1]));
    fprintf(out, "%s_count", d->name);
    write_labels(out, d, idx, NULL);
    fprintf(out, " %llu\n", (unsigned long long)count);
}

static void write_family(FILE *out, enum metrics_family f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    const struct metrics_family_def *d = &metrics_families[f];
    size_t n = series_of(d), per = slots_per_series(d);
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, types[d->type]);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *s = &shm->slots[offsets[f] + i * per];
        uint64_t v = get(&s[d->type == MT_HISTOGRAM ? (size_t)d->nbuckets : 0]);
        if (v == 0 && n > WRITE_ALL_MAX)
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
        int pid = __atomic_load_n(&shm->fcgi_pids[i], __ATOMIC_RELAXED);
        if (pid > 0 && metrics_proc_read(pid, &p[0]) == 0)
            seen++;
    }
    if (seen > 0) {
        metrics_proc_memory(&p[0]);
        groups[n++] = "tollgate-fcgi";
    }
    int64_t v[8], head[2];
    const struct published *w = &shm->worker;
    if (seq_read(&w->seq, &w->updated, head, 2) && seq_read(&w->seq, w->v, v, 8) &&
        head[0] > 0 && time(NULL) - head[0] < 120) {
        p[n] = (struct metrics_proc){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
        groups[n++] = "tollgate-worker";
    }
    if (n > 0)
        metrics_proc_write(out, groups, p, n);
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
    for (int f = 0; f < MF_COUNT; f++)
        write_family(out, (enum metrics_family)f);
    write_processes(out);
}
