/*
 * log: JSON-lines logging; see log.h. Each line is written with one write(2)
 * so lines from several workers sharing stderr never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *program_name = "tollgate";
static pid_t program_pid; /* 0: not known yet in this process */
static const char *level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *program)
{
    program_name = program;
    program_pid = 0;
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
    ssize_t w = write(STDERR_FILENO, line, n + 1);
    (void)w;
    free(line);
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
