/*
 * metrics: see metrics.h. Counters are uint64_t updated with GCC's
 * __atomic builtins (relaxed: each is independent) in a MAP_SHARED file
 * mapping; the family table (metrics_families.c) fixes the layout.
 */
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

struct shared *metrics_shm;
const char *const *metrics_route_names;
int metrics_nroutes;
size_t metrics_offsets[MF_COUNT];
static size_t nslots;

/* Status codes tollgate answers with; anything else counts as "other". */
const int metrics_statuses[METRICS_NSTATUS - 1] = {200, 201, 204, 400, 401, 402, 404, 405,
                                                   409, 413, 415, 422, 429, 500, 503};

/* Request duration buckets, microseconds (and as Prometheus text): up to
 * 60 s, as a request that waits on Stripe may take tens of seconds. */
const int64_t metrics_bucket_us[METRICS_NBUCKET] = {1000,    2500,    5000,     10000,    25000,
                                                    50000,   100000,  250000,   500000,   1000000,
                                                    2500000, 5000000, 10000000, 30000000, 60000000};
const char *const metrics_bucket_le[METRICS_NBUCKET] = {"0.001", "0.0025", "0.005", "0.01", "0.025",
                                                        "0.05",  "0.1",    "0.25",  "0.5",  "1",
                                                        "2.5",   "5",      "10",    "30",   "60"};

static void add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* series_of: how many series family d has (product of its label sets). */
size_t metrics_series_of(const struct metrics_family_def *d)
{
    size_t n = 1;
    for (int i = 0; i < d->ndims; i++)
        n *= (size_t)d->dims[i].n;
    return n;
}

size_t metrics_slots_per_series(const struct metrics_family_def *d)
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

/* layout: lay the families out (metrics_offsets, nslots) and hash the table. */
static uint64_t layout(void)
{
    uint64_t h = 14695981039346656037ULL;
    size_t fixed = sizeof(struct shared);
    h = fnv(h, &fixed, sizeof(fixed));
    nslots = 0;
    for (int f = 0; f < MF_COUNT; f++) {
        const struct metrics_family_def *d = &metrics_families[f];
        metrics_offsets[f] = nslots;
        nslots += metrics_series_of(d) * metrics_slots_per_series(d);
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
        /* (every path below unlocks: close releases an unmapped file's lock) */
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
        /* Explicitly: the mapping keeps the open file, and with it the
         * lock, alive after close. */
        flock(fd, LOCK_UN);
        close(fd);
        return p == MAP_FAILED ? NULL : p;
    }
    errno = EAGAIN;
    return NULL;
}

/* header_of: the header this build writes and expects. */
static void header_of(struct header *want)
{
    memset(want, 0, sizeof(*want));
    memcpy(want->magic, MAGIC, sizeof(want->magic));
    want->version = VERSION;
    want->header_size = sizeof(struct shared);
    want->layout = layout();
    want->size = sizeof(struct shared) + nslots * sizeof(uint64_t);
}

int metrics_open(const char *path, const char *process)
{
    struct header want;
    header_of(&want);
    struct shared *p = map_path(path, &want);
    if (p == NULL)
        return -1;
    metrics_shm = p;
    if (strcmp(process, "tollgate-fcgi") == 0) /* a new master: forget the old group */
        for (int i = 0; i < METRICS_MAX_FCGI_PIDS; i++)
            __atomic_store_n(&metrics_shm->fcgi_pids[i], 0, __ATOMIC_RELAXED);
    return 0;
}

void metrics_set_routes(const char *const *route_names, int n)
{
    metrics_route_names = route_names;
    metrics_nroutes = n > METRICS_MAX_ROUTES ? METRICS_MAX_ROUTES : n;
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
    if (metrics_shm == NULL || f < 0 || f >= MF_COUNT || metrics_families[f].type == MT_HISTOGRAM)
        return -1;
    const char *const l[4] = {l0, l1, l2, l3};
    return (int)(metrics_offsets[f] + series_index(&metrics_families[f], l));
}

void metrics_add_slot(int slot, uint64_t n)
{
    if (metrics_shm != NULL && slot >= 0 && (size_t)slot < nslots)
        add(&metrics_shm->slots[slot], n);
}

void metrics_add(enum metrics_family f, uint64_t n, const char *l0, const char *l1, const char *l2,
                 const char *l3)
{
    metrics_add_slot(metrics_slot(f, l0, l1, l2, l3), n);
}

void metrics_set(enum metrics_family f, int64_t v, const char *l0, const char *l1)
{
    int slot = metrics_slot(f, l0, l1, NULL, NULL);
    if (slot >= 0)
        __atomic_store_n(&metrics_shm->slots[slot], (uint64_t)v, __ATOMIC_RELAXED);
}

void metrics_observe_us(enum metrics_family f, const char *l0, int64_t us)
{
    if (metrics_shm == NULL || f < 0 || f >= MF_COUNT || metrics_families[f].type != MT_HISTOGRAM)
        return;
    const struct metrics_family_def *d = &metrics_families[f];
    const char *const l[4] = {l0, NULL, NULL, NULL};
    uint64_t *s =
        &metrics_shm->slots[metrics_offsets[f] + series_index(d, l) * metrics_slots_per_series(d)];
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

/* recent_add: count one in ring's slot of second now (a slot still
 * holding an older second starts again at 1). Lock-free and exact: the
 * second and the count change in one compare-and-swap. */
static void recent_add(uint64_t *ring, int64_t now)
{
    uint64_t *slot = &ring[(uint64_t)now % METRICS_RECENT];
    uint64_t sec = (uint64_t)(uint32_t)now << 32;
    uint64_t w = __atomic_load_n(slot, __ATOMIC_RELAXED), next;
    do
        next = (w & ~(uint64_t)UINT32_MAX) == sec ? w + 1 : sec | 1;
    while (!__atomic_compare_exchange_n(slot, &w, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* recent_sum: the counts of ring for the seconds now-seconds .. now-1. */
static uint64_t recent_sum(const uint64_t *ring, int64_t now, int seconds)
{
    uint64_t n = 0;
    for (int64_t s = now - seconds; s < now; s++) {
        uint64_t w = metrics_get(&ring[(uint64_t)s % METRICS_RECENT]);
        if (w >> 32 == (uint64_t)(uint32_t)s)
            n += w & UINT32_MAX;
    }
    return n;
}

int metrics_recent(const char *path, int64_t now, int seconds, uint64_t *requests,
                   uint64_t *errors)
{
    if (seconds < 1 || seconds >= METRICS_RECENT) {
        errno = EINVAL;
        return -1;
    }
    struct header want;
    header_of(&want);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (!header_ok(fd, &want)) {
        close(fd);
        errno = EPROTO; /* another build's layout, or being replaced */
        return -1;
    }
    const struct shared *p = mmap(NULL, want.size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    *requests = recent_sum(p->recent_requests, now, seconds);
    *errors = recent_sum(p->recent_errors, now, seconds);
    munmap((void *)p, want.size);
    return 0;
}

void metrics_observe(int route, int status, int64_t duration_us)
{
    if (metrics_shm == NULL)
        return;
    int64_t now = (int64_t)time(NULL);
    recent_add(metrics_shm->recent_requests, now);
    if (status >= 500)
        recent_add(metrics_shm->recent_errors, now);
    struct route_stats *r =
        &metrics_shm->routes[route >= 0 && route < metrics_nroutes ? route : metrics_nroutes];
    size_t s = 0;
    while (s < METRICS_NSTATUS - 1 && metrics_statuses[s] != status)
        s++;
    add(&r->requests[s], 1);
    if (duration_us < 0)
        duration_us = 0;
    for (size_t b = 0; b < METRICS_NBUCKET; b++)
        if (duration_us <= metrics_bucket_us[b]) {
            add(&r->buckets[b], 1);
            break;
        }
    add(&r->count, 1);
    add(&r->sum_us, (uint64_t)duration_us);
}

void metrics_worker_restarted(void)
{
    if (metrics_shm != NULL)
        add(&metrics_shm->worker_restarts, 1);
}

void metrics_set_workers(long n)
{
    if (metrics_shm != NULL)
        __atomic_store_n(&metrics_shm->workers, (uint64_t)n, __ATOMIC_RELAXED);
}

void metrics_fcgi_pid(int pid, int alive)
{
    if (metrics_shm == NULL || pid <= 0)
        return;
    for (int i = 0; i < METRICS_MAX_FCGI_PIDS; i++) {
        int32_t want = alive ? 0 : pid;
        if (__atomic_compare_exchange_n(&metrics_shm->fcgi_pids[i], &want, alive ? pid : 0, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return;
    }
}

int64_t metrics_requests_total(void)
{
    if (metrics_shm == NULL)
        return -1;
    uint64_t n = 0;
    for (int i = 0; i <= METRICS_MAX_ROUTES; i++)
        n += metrics_get(&metrics_shm->routes[i].count);
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
int metrics_seq_read(const uint64_t *seq, const int64_t *src, int64_t *dst, int n)
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
    if (metrics_shm == NULL)
        return 0;
    struct db_cache *c = &metrics_shm->db;
    int64_t head[3]; /* fetched_at, refreshing, ok */
    int have = metrics_seq_read(&c->seq, &c->fetched_at, head, 3) &&
               metrics_seq_read(&c->seq, c->v, v, n) && head[0] > 0 && head[2];
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
    if (metrics_shm == NULL)
        return;
    struct db_cache *c = &metrics_shm->db;
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
    if (metrics_shm == NULL || now - last < 5)
        return;
    last = now;
    struct metrics_proc p;
    memset(&p, 0, sizeof(p));
    if (metrics_proc_read((int)getpid(), &p) != 0)
        return;
    metrics_proc_memory(&p);
    int64_t v[8] = {p.rss_bytes,  p.cpu_us,    p.open_fds,  p.max_fds,
                    p.start_time, p.mem_bytes, p.mem_limit, p.limit_cgroup};
    struct published *w = &metrics_shm->worker;
    if (!seq_begin(&w->seq))
        return;
    store_all(w->v, v, 8);
    __atomic_store_n(&w->pid, (int64_t)getpid(), __ATOMIC_RELAXED);
    __atomic_store_n(&w->updated, (int64_t)now, __ATOMIC_RELAXED);
    seq_end(&w->seq);
}
