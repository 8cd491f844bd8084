/*
 * notify: what a daemon tells its service manager, in systemd's
 * notification protocol (sd_notify(3), units of Type=notify): READY=1 once
 * it serves, RELOADING=1 while it takes up a new configuration, STOPPING=1
 * when it winds down, a STATUS= line for `systemctl status`, and WATCHDOG=1
 * pings at half the interval WatchdogSec= asks for (sd_watchdog_enabled(3)).
 * Only the process that called notify_init() sends anything, so a forked
 * child (a FastCGI worker) never speaks for the service; without
 * NOTIFY_SOCKET in the environment every call does nothing.
 */
#ifndef TOLLGATE_NOTIFY_H
#define TOLLGATE_NOTIFY_H

/* notify_init: make this process the one that notifies, and read the
 * watchdog interval systemd set (WATCHDOG_USEC, for this pid by
 * WATCHDOG_PID). Call once, in the main process, before forking. */
void notify_init(void);

/* notify_ready: READY=1 -- started, or done reloading (systemd:
 * sd_notify(3)). */
void notify_ready(void);

/* notify_reloading: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, in
 * microseconds), which systemd 253 and later use to match the reload to
 * its request; follow it with notify_ready() once the new configuration is
 * in force (or refused). */
void notify_reloading(void);

/* notify_stopping: STOPPING=1, once; later calls send nothing. */
void notify_stopping(void);

/* notify_status: STATUS= the printf-style text (cut to 255 bytes; a
 * newline ends it), sent only when it differs from the last one sent. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* notify_watchdog: WATCHDOG=1 when half the watchdog interval has passed
 * since the last ping (or none was sent yet); cheap to call often. Nothing
 * when systemd set no watchdog. */
void notify_watchdog(void);

/* notify_watchdog_due_ms: milliseconds until notify_watchdog() will next
 * ping (0: now), for a loop that must wake in time; -1 without a watchdog. */
long notify_watchdog_due_ms(void);

#endif
