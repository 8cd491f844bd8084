/*
 * notify: see notify.h. sd_notify() itself returns 0 and sends nothing
 * when NOTIFY_SOCKET is unset; this module adds the choice of the one
 * process that speaks, the watchdog's pacing and the STATUS= dedup.
 */
#include "core/notify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define STATUS_MAX 256

static pid_t owner;             /* 0: notify_init not called */
static uint64_t watchdog_half;  /* microseconds; 0: no watchdog */
static uint64_t next_ping;      /* CLOCK_MONOTONIC microseconds; 0: ping now */
static bool stopping_sent;
static char last_status[STATUS_MAX];

static uint64_t monotonic_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* notify_send: state to the service manager, from the notifying process only. */
static void notify_send(const char *state)
{
    if (owner != 0 && getpid() == owner)
        (void)sd_notify(0, state);
}

void notify_init(void)
{
    owner = getpid();
    uint64_t usec = 0;
    /* > 0: the watchdog is on for this very pid (WATCHDOG_PID checked). */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2)
        watchdog_half = usec / 2;
}

void notify_ready(void)
{
    notify_send("READY=1");
}

void notify_reloading(void)
{
    char state[64];
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, monotonic_us());
    notify_send(state);
}

void notify_stopping(void)
{
    if (stopping_sent)
        return;
    stopping_sent = true;
    notify_send("STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
    if (owner == 0 || getpid() != owner || getenv("NOTIFY_SOCKET") == NULL)
        return;
    char text[STATUS_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    text[strcspn(text, "\n")] = '\0'; /* one line: the rest would be other fields */
    if (strcmp(text, last_status) == 0)
        return;
    memcpy(last_status, text, sizeof(text));
    char state[sizeof("STATUS=") + STATUS_MAX];
    snprintf(state, sizeof(state), "STATUS=%s", text);
    notify_send(state);
}

void notify_watchdog(void)
{
    if (watchdog_half == 0)
        return;
    uint64_t now = monotonic_us();
    if (now < next_ping)
        return;
    next_ping = now + watchdog_half;
    notify_send("WATCHDOG=1");
}

long notify_watchdog_due_ms(void)
{
    if (watchdog_half == 0)
        return -1;
    uint64_t now = monotonic_us();
    return now >= next_ping ? 0 : (long)((next_ping - now + 999) / 1000);
}
