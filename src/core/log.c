/*
 * log: JSON-lines logging; see log.h. Each line is written with one write(2)
 * so lines from several workers sharing stderr never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char *program_name = "tollgate";
static pid_t program_pid; /* 0: not known yet in this process */
static const char *level_names[] = {"error", "warn", "info", "debug"};
static int journal_prefix; /* 1: stderr is journald's stream */

int log_priority(enum log_level level)
{
    static const int prio[] = {3, 4, 6, 7};
    return (unsigned)level < sizeof(prio) / sizeof(prio[0]) ? prio[level] : 6;
}

/* stderr_is_journal: whether JOURNAL_STREAM names the device and inode of
 * stderr; a child started by a unit inherits the variable even when its
 * stderr was redirected elsewhere, hence the comparison. */
static int stderr_is_journal(void)
{
    const char *v = getenv("JOURNAL_STREAM");
    if (v == NULL || *v == '\0')
        return 0;
    char *end;
    unsigned long long dev = strtoull(v, &end, 10);
    if (end == v || *end != ':')
        return 0;
    const char *ino_text = end + 1;
    unsigned long long ino = strtoull(ino_text, &end, 10);
    if (end == ino_text || *end != '\0')
        return 0;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *program)
{
    program_name = program;
    program_pid = 0;
    journal_prefix = stderr_is_journal();
}

void log_forked(void)
{
    program_pid = 0;
}

static void timestamp(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void log_json(enum log_level level, json_t *obj)
{
    if (obj == NULL)
        return;
    char ts[40];
    timestamp(ts, sizeof(ts));
    json_object_set_new(obj, "ts", json_string(ts));
    json_object_set_new(obj, "level", json_string(level_names[level]));
    json_object_set_new(obj, "program", json_string(program_name));
    if (program_pid == 0)
        program_pid = getpid(); /* once per process: a system call per line adds up */
    json_object_set_new(obj, "pid", json_integer(program_pid));
    char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (line == NULL)
        return;
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps' NUL becomes the newline; write n + 1 */
    if (journal_prefix) {
        /* "<N>" and the line in one write(2), as without the prefix. */
        struct iovec iov[2];
        char prefix[4] = {'<', (char)('0' + log_priority(level)), '>', '\0'};
        iov[0] = (struct iovec){.iov_base = prefix, .iov_len = 3};
        iov[1] = (struct iovec){.iov_base = line, .iov_len = n + 1};
        ssize_t w = writev(STDERR_FILENO, iov, 2);
        (void)w;
    } else {
        ssize_t w = write(STDERR_FILENO, line, n + 1);
        (void)w;
    }
    free(line);
}

void log_text(enum log_level level, const char *fmt, ...)
{
    char line[1024 + 5];
    size_t n = 0;
    if (journal_prefix) {
        int w = snprintf(line, sizeof(line), "<%d>", log_priority(level));
        n = w > 0 ? (size_t)w : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    n += (size_t)w < sizeof(line) - n - 1 ? (size_t)w : sizeof(line) - n - 2;
    line[n++] = '\n';
    ssize_t r = write(STDERR_FILENO, line, n);
    (void)r;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_json(level, json_pack("{s:s}", "msg", msg));
}
