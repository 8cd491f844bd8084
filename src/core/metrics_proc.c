/*
 * metrics_proc: the process_* figures (Prometheus's standard process
 * metrics: resident memory, CPU seconds, open and allowed file
 * descriptors, start time) of a process from /proc/<pid>, and the memory
 * its cgroup (v2) holds and may hold. Only /proc/<pid>/ is read (the
 * units' ProcSubset=pid hides the rest): the boot time comes from
 * CLOCK_BOOTTIME, the machine's memory from sysinfo(2).
 */
#include <dirent.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics_internal.h"

/* read_small: the first size-1 bytes of path as a string; -1 on error. */
static int read_small(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* stat_fields: utime, stime (ticks), starttime (ticks after boot) and rss
 * (pages) of /proc/<pid>/stat, whose field 2 may hold spaces. */
static int stat_fields(int pid, long long *cpu_ticks, long long *start_ticks, long long *rss)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (read_small(path, buf, sizeof(buf)) != 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* Field 3 is the state (a letter); numbers from 4 on: utime is 14,
     * stime 15, starttime 22, rss 24. */
    long long f[25] = {0};
    int i = 4;
    p += 2;
    if (*p == '\0' || p[1] != ' ')
        return -1;
    for (char *tok = p + 2; *tok != '\0' && i <= 24; i++) {
        char *end;
        f[i] = strtoll(tok, &end, 10);
        tok = end;
        while (*tok == ' ')
            tok++;
    }
    if (i <= 24)
        return -1;
    *cpu_ticks = f[14] + f[15];
    *start_ticks = f[22];
    *rss = f[24];
    return 0;
}

static long long count_fds(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    long long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* max_fds: the soft "Max open files" of /proc/<pid>/limits; 0 unknown. */
static long long max_fds(int pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/limits", pid);
    if (read_small(path, buf, sizeof(buf)) != 0)
        return 0;
    const char *p = strstr(buf, "Max open files");
    return p != NULL ? strtoll(p + strlen("Max open files"), NULL, 10) : 0;
}

int metrics_proc_read(int pid, struct metrics_proc *sum)
{
    long long cpu, start, rss;
    if (stat_fields(pid, &cpu, &start, &rss) != 0)
        return -1;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (hz <= 0)
        hz = 100;
    struct timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    int64_t started = (int64_t)(real.tv_sec - boot.tv_sec) + start / hz;
    sum->rss_bytes += rss * page;
    sum->cpu_us += cpu * (1000000 / hz);
    sum->open_fds += count_fds(pid);
    sum->max_fds += max_fds(pid);
    if (sum->start_time == 0 || started < sum->start_time)
        sum->start_time = started;
    return 0;
}

/* cgroup_dir: /sys/fs/cgroup/<path> of this process's cgroup (v2, the
 * "0::" line of /proc/self/cgroup) into dir; -1 when there is none. */
static int cgroup_dir(char *dir, size_t size)
{
    char buf[1024];
    if (read_small("/proc/self/cgroup", buf, sizeof(buf)) != 0)
        return -1;
    char *p = strstr(buf, "0::");
    if (p == NULL)
        return -1;
    p += 3;
    p[strcspn(p, "\n")] = '\0';
    int n = snprintf(dir, size, "/sys/fs/cgroup%s", strcmp(p, "/") == 0 ? "" : p);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static long long read_number(const char *dir, const char *file)
{
    char path[1200], buf[64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (read_small(path, buf, sizeof(buf)) != 0 || buf[0] < '0' || buf[0] > '9')
        return -1; /* unreadable, or "max" */
    return strtoll(buf, NULL, 10);
}

void metrics_proc_memory(struct metrics_proc *p)
{
    char dir[1100];
    long long current = -1, limit = -1;
    if (cgroup_dir(dir, sizeof(dir)) == 0) {
        current = read_number(dir, "memory.current");
        limit = read_number(dir, "memory.max");
    }
    p->mem_bytes = current >= 0 ? current : p->rss_bytes;
    p->limit_cgroup = limit > 0;
    if (limit > 0) {
        p->mem_limit = limit;
        return;
    }
    struct sysinfo si;
    p->mem_limit = sysinfo(&si) == 0 ? (int64_t)si.totalram * si.mem_unit : 0;
}

/* gauge: one family over the groups, v picking the figure. */
static void family(FILE *out, const char *name, const char *type, const char *help,
                   const char *const *names, const struct metrics_proc *p, int n, size_t field)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int i = 0; i < n; i++) {
        int64_t v = *(const int64_t *)((const char *)&p[i] + field);
        if (field == offsetof(struct metrics_proc, cpu_us))
            fprintf(out, "%s{process=\"%s\"} %lld.%06lld\n", name, names[i],
                    (long long)(v / 1000000), (long long)(v % 1000000));
        else if (field == offsetof(struct metrics_proc, mem_limit))
            fprintf(out, "%s{process=\"%s\",source=\"%s\"} %lld\n", name, names[i],
                    p[i].limit_cgroup ? "cgroup" : "physical", (long long)v);
        else
            fprintf(out, "%s{process=\"%s\"} %lld\n", name, names[i], (long long)v);
    }
}

void metrics_proc_write(FILE *out, const char *const *names, const struct metrics_proc *p, int n)
{
    family(out, "process_resident_memory_bytes", "gauge", "Resident memory of the processes.",
           names, p, n, offsetof(struct metrics_proc, rss_bytes));
    family(out, "process_cpu_seconds_total", "counter",
           "User and system CPU time of the processes.", names, p, n,
           offsetof(struct metrics_proc, cpu_us));
    family(out, "process_open_fds", "gauge", "Open file descriptors of the processes.", names, p, n,
           offsetof(struct metrics_proc, open_fds));
    family(out, "process_max_fds", "gauge",
           "File descriptors the processes may open (summed over a group).", names, p, n,
           offsetof(struct metrics_proc, max_fds));
    family(out, "process_start_time_seconds", "gauge",
           "When the group's oldest process started (unix time).", names, p, n,
           offsetof(struct metrics_proc, start_time));
    family(out, "tollgate_memory_bytes", "gauge",
           "Memory the process's cgroup holds (else its RSS).", names, p, n,
           offsetof(struct metrics_proc, mem_bytes));
    family(out, "tollgate_memory_limit_bytes", "gauge",
           "Memory the process may hold: its cgroup's memory.max, else the machine's.", names, p, n,
           offsetof(struct metrics_proc, mem_limit));
}
