/*
 * master: pre-fork supervisor; see master.h. Signals are blocked and taken
 * synchronously with sigtimedwait(), so there is no handler state to race.
 * The loop wakes at least once a second (and in time for the next watchdog
 * ping) to reap, refill and report to systemd (core/notify.h).
 */
#include "fcgi/master.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "fcgi/worker.h"

#define MAX_WORKERS 256
#define DRAIN_SECONDS 30
#define CRASH_WINDOW_SECONDS 1

struct slot {
    pid_t pid;       /* 0: empty */
    time_t started;
    time_t retry_at; /* empty slot: do not respawn before this */
};

struct master {
    struct config *cfg;
    struct email_blocklist *bl;
    const char *config_path;
    int listen_fd;
    char socket_path[4096]; /* a copy (reload frees cfg); unlinked on stop; "": systemd's */
    struct slot slots[MAX_WORKERS];
    pid_t retiring[MAX_WORKERS * 4]; /* replaced on reload, draining */
    size_t nretiring;
    bool reloading; /* RELOADING=1 sent: READY=1 once no retiring worker is left */
    sigset_t sigs;
};

static pid_t spawn(struct master *m)
{
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        log_forked();
        /* Stop with the master, also when it is killed outright (SIGTERM
         * stays blocked until the worker's handler is in place). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != master)
            _exit(0);
        int rc = worker_run(m->cfg, m->bl, m->listen_fd);
        config_free(m->cfg);
        email_blocklist_free(m->bl);
        _exit(rc);
    }
    if (pid < 0)
        log_msg(LOG_ERROR, "fork: %s", strerror(errno));
    else
        metrics_fcgi_pid((int)pid, 1);
    return pid;
}

static void fill_slots(struct master *m)
{
    time_t now = time(NULL);
    for (long i = 0; i < m->cfg->workers; i++) {
        struct slot *s = &m->slots[i];
        if (s->pid != 0 || now < s->retry_at)
            continue;
        pid_t pid = spawn(m);
        if (pid > 0) {
            s->pid = pid;
            s->started = now;
        } else {
            s->retry_at = now + 1;
        }
    }
}

static void describe_exit(pid_t pid, int status, const char *what)
{
    if (WIFEXITED(status))
        log_msg(WEXITSTATUS(status) == 0 ? LOG_INFO : LOG_WARN, "%s %d exited with status %d",
                what, (int)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        log_msg(LOG_WARN, "%s %d killed by signal %d", what, (int)pid, WTERMSIG(status));
}

/* reap: collect every exited child; empty its slot (to be refilled) or
 * forget it if it was retiring. */
static void reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        bool found = false;
        metrics_fcgi_pid((int)pid, 0);
        for (size_t i = 0; i < m->nretiring && !found; i++)
            if (m->retiring[i] == pid) {
                m->retiring[i] = m->retiring[--m->nretiring];
                found = true;
            }
        if (found)
            continue;
        time_t now = time(NULL);
        for (int i = 0; i < MAX_WORKERS; i++) {
            struct slot *s = &m->slots[i];
            if (s->pid != pid)
                continue;
            describe_exit(pid, status, "worker");
            metrics_worker_restarted();
            s->pid = 0;
            /* A worker that dies at once would die again: pause first. */
            s->retry_at = now - s->started < CRASH_WINDOW_SECONDS ? now + 1 : 0;
        }
    }
}

static size_t slots_in_use(const struct master *m)
{
    size_t n = 0;
    for (int i = 0; i < MAX_WORKERS; i++)
        n += m->slots[i].pid != 0;
    return n;
}

static size_t live_children(const struct master *m)
{
    return slots_in_use(m) + m->nretiring;
}

static void signal_all(struct master *m, int sig)
{
    for (int i = 0; i < MAX_WORKERS; i++)
        if (m->slots[i].pid != 0)
            kill(m->slots[i].pid, sig);
    for (size_t i = 0; i < m->nretiring; i++)
        kill(m->retiring[i], sig);
}


/* warn_timeouts: the timeouts out of order (docs/configuration.md,
 * request_timeout_ms), logged at start and on each reload. It still runs:
 * each Stripe attempt is cut to the request's budget; tollgatectl
 * check-config is where a deploy refuses it. */
static void warn_timeouts(const struct config *cfg)
{
    if (cfg->stripe_timeout_ms >= cfg->request_timeout_ms)
        log_msg(LOG_WARN,
                "request_timeout_ms (%ld) is not above stripe_timeout_ms (%ld): Stripe attempts "
                "are cut to the request's budget (tollgatectl check-config)",
                cfg->request_timeout_ms, cfg->stripe_timeout_ms);
    else if (cfg->request_timeout_ms + 2 * cfg->statement_timeout_ms >=
             CONFIG_NGINX_READ_TIMEOUT_MS)
        log_msg(LOG_WARN,
                "request_timeout_ms (%ld) plus 2 x statement_timeout_ms (%ld) reaches the shipped "
                "nginx fastcgi_read_timeout (%d ms): raise it in nginx",
                cfg->request_timeout_ms, cfg->statement_timeout_ms, CONFIG_NGINX_READ_TIMEOUT_MS);
}
/* reload: re-read the configuration and the blocklist; on success retire
 * every worker and start new ones. A bad file keeps the old configuration. */
static void reload(struct master *m)
{
    char err[512];
    struct config cfg;
    struct email_blocklist bl;
    notify_reloading();
    if (config_load(&cfg, m->config_path, err, sizeof(err)) != TG_OK) {
        log_msg(LOG_ERROR, "reload refused, keeping the running configuration: %s", err);
        notify_ready(); /* done: the running configuration stays in force */
        return;
    }
    if (email_blocklist_load(&bl, cfg.disposable_domains_file, err, sizeof(err)) != 0) {
        log_msg(LOG_ERROR, "reload refused, keeping the running configuration: %s", err);
        config_free(&cfg);
        notify_ready();
        return;
    }
    config_free(m->cfg);
    *m->cfg = cfg;
    email_blocklist_free(m->bl);
    *m->bl = bl;
    for (int i = 0; i < MAX_WORKERS; i++) {
        struct slot *s = &m->slots[i];
        if (s->pid != 0 && m->nretiring < sizeof(m->retiring) / sizeof(m->retiring[0])) {
            m->retiring[m->nretiring++] = s->pid;
            kill(s->pid, SIGTERM);
            s->pid = 0;
            s->retry_at = 0;
        }
    }
    log_msg(LOG_INFO, "configuration reloaded; starting %ld workers", m->cfg->workers);
    warn_timeouts(m->cfg);
    metrics_set_workers(m->cfg->workers);
    fill_slots(m);
    m->reloading = true;
}

/* next_tick: how long the loop may sleep: a second, or less when the
 * watchdog's next ping is due sooner. */
static struct timespec next_tick(void)
{
    long ms = notify_watchdog_due_ms();
    if (ms < 0 || ms > 1000)
        ms = 1000;
    return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
}

/* report: tell systemd where the master is: READY=1 when a reload is over
 * (every worker of the old configuration gone), the status line, the
 * watchdog's ping. */
static void report(struct master *m)
{
    if (m->reloading && m->nretiring == 0) {
        m->reloading = false;
        log_msg(LOG_INFO, "reload done: every worker runs the new configuration");
        notify_ready();
    }
    int64_t served = metrics_requests_total();
    char finishing[64] = "";
    if (m->nretiring > 0)
        snprintf(finishing, sizeof(finishing), " (%zu old ones finishing)", m->nretiring);
    if (served >= 0)
        notify_status("%zu workers alive%s, %" PRId64 " requests served", slots_in_use(m),
                      finishing, served);
    else
        notify_status("%zu workers alive%s", slots_in_use(m), finishing);
    notify_watchdog();
}

/* drain: stop every worker and wait for them, killing stragglers after
 * DRAIN_SECONDS. A socket of our own is unlinked first, so that nothing new
 * arrives, and the workers are told to empty its queue (SIGUSR1) before
 * they leave: the connections nginx already made are served, not reset.
 * A socket systemd holds keeps its queue for the next master: the workers
 * only finish the request in progress (SIGTERM). */
static int drain(struct master *m)
{
    notify_stopping();
    int sig = SIGTERM;
    if (m->socket_path[0] != '\0') {
        if (unlink(m->socket_path) != 0)
            log_msg(LOG_WARN, "unlink %s: %s", m->socket_path, strerror(errno));
        sig = SIGUSR1;
    }
    log_msg(LOG_INFO, "draining %zu workers%s", live_children(m),
            sig == SIGUSR1 ? " and the socket's queue" : "");
    signal_all(m, sig);
    time_t deadline = time(NULL) + DRAIN_SECONDS;
    while (live_children(m) > 0) {
        if (time(NULL) >= deadline) {
            log_msg(LOG_WARN, "drain deadline passed; killing %zu workers", live_children(m));
            signal_all(m, SIGKILL);
            deadline = time(NULL) + DRAIN_SECONDS;
        }
        notify_status("stopping: %zu workers finishing", live_children(m));
        notify_watchdog();
        siginfo_t info;
        struct timespec tick = next_tick();
        (void)sigtimedwait(&m->sigs, &info, &tick);
        reap(m);
    }
    log_msg(LOG_INFO, "stopped");
    return 0;
}

int master_run(struct config *cfg, struct email_blocklist *bl, const char *config_path,
               int listen_fd, const char *socket_path)
{
    static struct master m; /* large: keep it off the stack */
    memset(&m, 0, sizeof(m));
    m.cfg = cfg;
    m.bl = bl;
    m.config_path = config_path;
    m.listen_fd = listen_fd;
    if (socket_path != NULL)
        snprintf(m.socket_path, sizeof(m.socket_path), "%s", socket_path);
    sigemptyset(&m.sigs);
    sigaddset(&m.sigs, SIGTERM);
    sigaddset(&m.sigs, SIGINT);
    sigaddset(&m.sigs, SIGHUP);
    sigaddset(&m.sigs, SIGCHLD);
    sigaddset(&m.sigs, SIGUSR1); /* for the workers; blocked until they handle it */
    sigprocmask(SIG_BLOCK, &m.sigs, NULL);

    log_msg(LOG_INFO, "starting %ld workers", cfg->workers);
    warn_timeouts(cfg);
    metrics_set_workers(cfg->workers);
    fill_slots(&m);
    notify_ready();
    for (;;) {
        report(&m);
        siginfo_t info;
        struct timespec tick = next_tick();
        int sig = sigtimedwait(&m.sigs, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            return drain(&m);
        reap(&m);
        if (sig == SIGHUP)
            reload(&m);
        fill_slots(&m);
    }
}
