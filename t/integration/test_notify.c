/*
 * test_notify: tollgate-fcgi and tollgate-worker as systemd sees them with
 * Type=notify (sd_notify(3)). Each test binds an AF_UNIX datagram socket,
 * starts a daemon of its own on the stack's configuration with
 * NOTIFY_SOCKET naming that socket and a watchdog (WATCHDOG_USEC, and
 * WATCHDOG_PID = the daemon's pid), and reads what the daemon sends:
 * READY=1 once it serves (tollgate-fcgi: its socket open and its workers
 * running), a STATUS= line (tollgate-fcgi's count of requests served moves
 * when it answers one), WATCHDOG=1 pings never as far apart as the
 * watchdog interval, which is shorter than either daemon's idle wait of a
 * second; after SIGHUP, RELOADING=1 with MONOTONIC_USEC, then READY=1 once
 * no worker of the old configuration is left; after SIGTERM, STOPPING=1
 * and exit status 0. tollgate-worker keeps pinging through a pass longer
 * than its watchdog interval (e-mails to an SMTP server that never
 * answers), so its watchdog bounds each step, not the pass. tollgate-fcgi
 * listens on a socket of its own with two workers, beside the stack's.
 * Logs: TOLLGATE_TEST_DIR/notify-*.log.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_stripe.h"

#define WATCHDOG_USEC 600000L /* the daemons' idle waits are 1 s: they must shorten them */
#define FCGI_WORKERS 2
#define MAX_PIDS 16
#define SLOW_MAILS 5
#define SMTP_TIMEOUT_MS 1000
#define LONG_PASS_WATCHDOG_USEC 3000000L /* > 2 x SMTP_TIMEOUT_MS, < the pass */

/* The daemon a test started and the socket it reports to (for the fini). */
static struct {
    pid_t pid;
    int fd;
    int smtp_fd;     /* the silent SMTP server, or -1 */
    bool slow_mails; /* email_outbox holds this program's mails */
    char notify_path[108];
    char fcgi_path[108];
} d = {.fd = -1, .smtp_fd = -1};

/* One datagram and when it arrived (CLOCK_MONOTONIC seconds). */
struct note {
    char text[1024];
    double at;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void cleanup(void)
{
    if (d.pid > 0) {
        kill(d.pid, SIGKILL);
        waitpid(d.pid, NULL, 0);
        d.pid = 0;
    }
    if (d.fd >= 0)
        close(d.fd);
    if (d.smtp_fd >= 0)
        close(d.smtp_fd);
    d.fd = d.smtp_fd = -1;
    unlink(d.notify_path);
    unlink(d.fcgi_path);
    if (d.slow_mails) {
        PGconn *db = it_db();
        char state[6];
        it_db_exec(db, "DELETE FROM email_outbox WHERE dedupe_key LIKE 'notify-test:%'", 0, NULL,
                   state);
        PQfinish(db);
        d.slow_mails = false;
    }
    it_fini();
}

TestSuite(notify, .init = it_init, .fini = cleanup, .timeout = 120);

/* The long-pass test must be the only worker to claim its mails: the
 * stack's tollgate-worker is stopped while this program runs. */
ReportHook(PRE_ALL)(struct criterion_test_set *s)
{
    (void)s;
    it_worker_pause();
}

ReportHook(POST_ALL)(struct criterion_global_stats *s)
{
    (void)s;
    it_worker_resume();
}

/* listen_notify: bind the datagram socket the daemon will send to. */
static void listen_notify(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify.sock",
                     it_env("TOLLGATE_TEST_DIR"));
    cr_assert(n > 0 && (size_t)n < sizeof(sa.sun_path), "socket path too long");
    memcpy(d.notify_path, sa.sun_path, sizeof(d.notify_path));
    unlink(d.notify_path);
    d.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(d.fd, 0);
    cr_assert_eq(bind(d.fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
}

/* start: run program (in TOLLGATE_BUILD) with args on the stack's
 * configuration plus env ("NAME=value" entries), reporting to the bound
 * socket, with a watchdog of watchdog_usec. */
static void start(const char *program, const char *const *args, const char *const *env,
                  long watchdog_usec)
{
    char path[4096], conf[4096], log[4096], counters[4096];
    const char *dir = it_env("TOLLGATE_TEST_DIR");
    /* Counters of its own (one tollgate-fcgi per metrics_path): the
     * status line's count of requests served is this daemon's only. */
    snprintf(counters, sizeof(counters), "%s/notify-metrics.counters", dir);
    snprintf(path, sizeof(path), "%s/%s", it_env("TOLLGATE_BUILD"), program);
    snprintf(conf, sizeof(conf), "%s/tollgate.conf", dir);
    snprintf(log, sizeof(log), "%s/notify-%s.log", dir, program);
    snprintf(d.fcgi_path, sizeof(d.fcgi_path), "%s/notify-fcgi.sock", dir);
    listen_notify();
    unlink(d.fcgi_path);
    const char *argv[8] = {path, "-c", conf};
    for (size_t i = 0; args[i] != NULL && i + 4 < sizeof(argv) / sizeof(argv[0]); i++)
        argv[3 + i] = args[i];
    d.pid = fork();
    cr_assert_geq(d.pid, 0);
    if (d.pid == 0) {
        char usec[32], me[32], workers[8];
        snprintf(usec, sizeof(usec), "%ld", watchdog_usec);
        snprintf(me, sizeof(me), "%ld", (long)getpid());
        snprintf(workers, sizeof(workers), "%d", FCGI_WORKERS);
        setenv("NOTIFY_SOCKET", d.notify_path, 1);
        setenv("WATCHDOG_USEC", usec, 1);
        setenv("WATCHDOG_PID", me, 1);
        setenv("TOLLGATE_FCGI_SOCKET", d.fcgi_path, 1);
        setenv("TOLLGATE_METRICS_PATH", counters, 1);
        setenv("TOLLGATE_WORKERS", workers, 1);
        for (size_t i = 0; env[i] != NULL; i++)
            putenv((char *)env[i]);
        FILE *f = freopen(log, "a", stderr);
        if (f == NULL || dup2(2, 1) < 0)
            _exit(126);
        execv(path, (char *const *)argv);
        _exit(127);
    }
}

/* next_note: the next datagram, waiting until deadline (now_s() clock). */
static bool next_note(struct note *n, double deadline)
{
    double left;
    while ((left = deadline - now_s()) > 0) {
        struct pollfd p = {.fd = d.fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        ssize_t got = recv(d.fd, n->text, sizeof(n->text) - 1, 0);
        if (got < 0)
            continue;
        n->text[got] = '\0';
        n->at = now_s();
        return true;
    }
    return false;
}

/* field: the value of NAME= among the lines of text, or NULL. */
static const char *field(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *l = text; l != NULL && *l != '\0';) {
        if (strncmp(l, name, len) == 0 && l[len] == '=')
            return l + len + 1;
        l = strchr(l, '\n');
        l = l != NULL ? l + 1 : NULL;
    }
    return NULL;
}

/* has: text has the line name=value. */
static bool has(const char *text, const char *name, const char *value)
{
    const char *v = field(text, name);
    size_t len = strlen(value);
    return v != NULL && strncmp(v, value, len) == 0 && (v[len] == '\0' || v[len] == '\n');
}

/* wait_for: read datagrams until one has name=value (into *out), for at
 * most seconds. */
static bool wait_for(const char *name, const char *value, double seconds, struct note *out)
{
    double deadline = now_s() + seconds;
    while (next_note(out, deadline))
        if (has(out->text, name, value))
            return true;
    return false;
}

/* What a daemon sent over a stretch of time. */
struct watch {
    int pings;
    double longest_gap; /* between two pings, seconds */
    char status[512];   /* the last STATUS= value */
};

static void watch(double seconds, struct watch *w)
{
    memset(w, 0, sizeof(*w));
    double deadline = now_s() + seconds, last_ping = 0;
    struct note n;
    while (next_note(&n, deadline)) {
        const char *st = field(n.text, "STATUS");
        if (st != NULL)
            snprintf(w->status, sizeof(w->status), "%.*s", (int)strcspn(st, "\n"), st);
        if (!has(n.text, "WATCHDOG", "1"))
            continue;
        if (w->pings++ > 0 && n.at - last_ping > w->longest_gap)
            w->longest_gap = n.at - last_ping;
        last_ping = n.at;
    }
}

static void assert_watchdog_fed(const struct watch *w, long watchdog_usec)
{
    cr_assert_geq(w->pings, 3, "%d WATCHDOG=1 with WATCHDOG_USEC=%ld", w->pings, watchdog_usec);
    cr_assert_lt(w->longest_gap, watchdog_usec / 1e6,
                 "pings %.3f s apart: systemd would have killed the daemon", w->longest_gap);
}

/* stop: SIGTERM; STOPPING=1 must follow, then exit status 0. */
static void assert_stops(void)
{
    struct note n;
    cr_assert_eq(kill(d.pid, SIGTERM), 0);
    cr_assert(wait_for("STOPPING", "1", 10, &n), "no STOPPING=1 after SIGTERM");
    int status = -1;
    for (int i = 0; i < 400 && waitpid(d.pid, &status, WNOHANG) == 0; i++)
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    d.pid = 0;
}

/* children: the daemon's child processes (pgrep -P). */
static size_t children(pid_t *pids)
{
    char parent[32], out[1024];
    snprintf(parent, sizeof(parent), "%ld", (long)d.pid);
    const char *argv[] = {"pgrep", "-P", parent, NULL};
    if (it_run(argv, NULL, out, sizeof(out)) < 0)
        return 0;
    size_t n = 0;
    for (char *p = out, *end; n < MAX_PIDS; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[n++] = (pid_t)v;
    }
    return n;
}

/* ---- a FastCGI request, as nginx would send it (FastCGI 1.0) ------------ */

static void record(unsigned char *buf, size_t *len, int type, const void *body, size_t n)
{
    unsigned char h[8] = {1, (unsigned char)type, 0, 1, (unsigned char)(n >> 8),
                          (unsigned char)n, 0, 0};
    memcpy(buf + *len, h, sizeof(h));
    memcpy(buf + *len + sizeof(h), body, n);
    *len += sizeof(h) + n;
}

static void param(unsigned char *p, size_t *len, const char *name, const char *value)
{
    p[(*len)++] = (unsigned char)strlen(name);
    p[(*len)++] = (unsigned char)strlen(value);
    memcpy(p + *len, name, strlen(name));
    *len += strlen(name);
    memcpy(p + *len, value, strlen(value));
    *len += strlen(value);
}

static bool read_full(int fd, unsigned char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* fcgi_get: GET path on the daemon's FastCGI socket; the HTTP status, or
 * -1 when no complete answer came. */
static long fcgi_get(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.fcgi_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    unsigned char out[1024], params[512];
    size_t len = 0, plen = 0;
    static const unsigned char begin[8] = {0, 1}; /* role RESPONDER, no keep-alive */
    param(params, &plen, "REQUEST_METHOD", "GET");
    param(params, &plen, "DOCUMENT_URI", path);
    param(params, &plen, "REMOTE_ADDR", "127.0.0.1");
    record(out, &len, 1, begin, sizeof(begin));
    record(out, &len, 4, params, plen);
    record(out, &len, 4, "", 0);
    record(out, &len, 5, "", 0);
    cr_assert_eq(write(fd, out, len), (ssize_t)len);
    char answer[8192] = "";
    size_t alen = 0;
    unsigned char h[8], body[65536 + 256];
    bool ended = false;
    while (!ended && read_full(fd, h, sizeof(h))) {
        size_t n = ((size_t)h[4] << 8 | h[5]) + h[6];
        if (!read_full(fd, body, n))
            break;
        if (h[1] == 6 && alen + n < sizeof(answer)) { /* FCGI_STDOUT */
            memcpy(answer + alen, body, n - h[6]);
            alen += n - h[6];
            answer[alen] = '\0';
        }
        ended = h[1] == 3; /* FCGI_END_REQUEST */
    }
    close(fd);
    return ended && strncmp(answer, "Status: ", 8) == 0 ? strtol(answer + 8, NULL, 10) : -1;
}

/* served: N of a "W workers alive, N requests served" status; -1 if none. */
static long served(const char *status)
{
    const char *p = strstr(status, " requests served");
    while (p != NULL && p > status && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return p != NULL && p[0] >= '0' && p[0] <= '9' ? strtol(p, NULL, 10) : -1;
}

Test(notify, fcgi_ready_status_and_watchdog)
{
    start("tollgate-fcgi", (const char *const[]){NULL}, (const char *const[]){NULL},
          WATCHDOG_USEC);
    struct note n;
    cr_assert(wait_for("READY", "1", 20, &n), "no READY=1 from tollgate-fcgi");
    struct stat st;
    cr_assert(stat(d.fcgi_path, &st) == 0 && S_ISSOCK(st.st_mode), "READY=1 before the socket");
    pid_t pids[MAX_PIDS];
    cr_assert_eq(children(pids), FCGI_WORKERS, "READY=1 before the workers were started");

    struct watch w;
    watch(2.0, &w);
    assert_watchdog_fed(&w, WATCHDOG_USEC);
    char want[64];
    snprintf(want, sizeof(want), "%d workers alive, ", FCGI_WORKERS);
    cr_assert(strncmp(w.status, want, strlen(want)) == 0, "status \"%s\"", w.status);
    long before = served(w.status);
    cr_assert_geq(before, 0, "status \"%s\" counts no requests", w.status);

    cr_assert_eq(fcgi_get("/health"), 200);
    char after[128];
    snprintf(after, sizeof(after), "%d workers alive, %ld requests served", FCGI_WORKERS,
             before + 1);
    cr_assert(wait_for("STATUS", after, 5, &n), "no \"%s\" after a request", after);
    assert_stops();
}

Test(notify, fcgi_reload_then_ready_and_stop)
{
    start("tollgate-fcgi", (const char *const[]){NULL}, (const char *const[]){NULL},
          WATCHDOG_USEC);
    struct note n;
    cr_assert(wait_for("READY", "1", 20, &n), "no READY=1 from tollgate-fcgi");
    pid_t old[MAX_PIDS], now[MAX_PIDS];
    size_t nold = children(old);
    cr_assert_eq(nold, FCGI_WORKERS);

    double sent = now_s();
    cr_assert_eq(kill(d.pid, SIGHUP), 0);
    cr_assert(wait_for("RELOADING", "1", 10, &n), "no RELOADING=1 after SIGHUP");
    const char *usec = field(n.text, "MONOTONIC_USEC");
    cr_assert_not_null(usec, "RELOADING=1 without MONOTONIC_USEC: %s", n.text);
    double at = strtod(usec, NULL) / 1e6;
    cr_assert(at >= sent - 0.01 && at <= n.at + 0.01, "MONOTONIC_USEC %s is not the reload's",
              usec);

    cr_assert(wait_for("READY", "1", 40, &n), "no READY=1 after the reload");
    for (size_t i = 0; i < nold; i++)
        cr_assert(kill(old[i], 0) != 0 && errno == ESRCH,
                  "READY=1 while worker %ld of the old configuration is alive", (long)old[i]);
    size_t m = children(now);
    cr_assert_eq(m, FCGI_WORKERS, "READY=1 with %zu workers", m);
    cr_assert_eq(fcgi_get("/health"), 200, "the new workers answer");
    assert_stops();
}

Test(notify, worker_ready_status_watchdog_and_stop)
{
    start("tollgate-worker", (const char *const[]){"-i", "1000", NULL},
          (const char *const[]){NULL}, WATCHDOG_USEC);
    struct note n;
    cr_assert(wait_for("READY", "1", 20, &n), "no READY=1 from tollgate-worker");
    struct watch w;
    watch(2.0, &w);
    assert_watchdog_fed(&w, WATCHDOG_USEC);
    /* "N jobs done, last pass YYYY-MM-DD HH:MM:SS UTC" */
    const char *rest = w.status + strspn(w.status, "0123456789");
    cr_assert(rest > w.status && strncmp(rest, " jobs done, last pass ", 22) == 0 &&
                  strlen(rest + 22) == 23 && strcmp(rest + 22 + 19, " UTC") == 0,
              "status \"%s\"", w.status);
    assert_stops();
}

/* silent_smtp: a port on 127.0.0.1 that takes connections (the kernel
 * completes them into the backlog) and never says a word, so every SMTP
 * exchange with it runs into smtp_timeout_ms. */
static int silent_smtp(void)
{
    d.smtp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(d.smtp_fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    cr_assert_eq(listen(d.smtp_fd, 64), 0);
    cr_assert_eq(getsockname(d.smtp_fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

Test(notify, worker_pings_through_a_pass_longer_than_its_watchdog)
{
    struct it_customer c;
    onboard(&c);
    PGconn *db = it_db();
    const char *p[1] = {c.id};
    char state[6], url[64], count[32], timeout[64];
    d.slow_mails = true;
    snprintf(count, sizeof(count), "%d", SLOW_MAILS);
    const char *q[2] = {c.id, count};
    it_db_exec(db,
               "INSERT INTO email_outbox (customer_id, kind, dedupe_key, to_address, subject, body)"
               " SELECT $1::uuid, 'payment_failed', 'notify-test:' || $1 || ':' || g,"
               " 'slow@example.com', 'slow', 'slow' FROM generate_series(1, $2::int) g",
               2, q, state);
    cr_assert_str_eq(state, "", "queueing the mails: SQLSTATE %s", state);
    snprintf(url, sizeof(url), "TOLLGATE_SMTP_URL=smtp://127.0.0.1:%d", silent_smtp());
    snprintf(timeout, sizeof(timeout), "TOLLGATE_SMTP_TIMEOUT_MS=%d", SMTP_TIMEOUT_MS);
    start("tollgate-worker", (const char *const[]){"-i", "1000", NULL},
          (const char *const[]){url, timeout, NULL}, LONG_PASS_WATCHDOG_USEC);
    struct note n;
    cr_assert(wait_for("READY", "1", 20, &n), "no READY=1 from tollgate-worker");
    /* The first pass tries each mail for SMTP_TIMEOUT_MS: longer than the
     * watchdog interval in all. */
    struct watch w;
    watch(SLOW_MAILS * SMTP_TIMEOUT_MS / 1000.0 + 3, &w);
    assert_watchdog_fed(&w, LONG_PASS_WATCHDOG_USEC);
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM email_outbox WHERE customer_id = $1::uuid"
                          " AND attempts >= 1 AND last_error LIKE 'Timeout%'",
                          1, p),
                 SLOW_MAILS, "the pass did not try every mail against the silent server");
    PQfinish(db);
    assert_stops();
}

/* One test at a time: each starts daemons on the shared socket paths. */
IT_SERIAL_MAIN()
