/*
 * Unit tests for src/core/metrics.c and the counts of core/ctx.c: the
 * counters file is made, shared and written in the text format; a file
 * of another layout is replaced, not misread; label values outside their
 * set count as "other"; counts held in a transaction are added at its
 * commit and dropped at its rollback; the requests of the last minute
 * (tollgatectl status) are read back exactly, a second at a time.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ctx.h"
#include "core/metrics.h"

static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tollgate-test-metrics.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/counters", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(metrics, .init = setup, .fini = teardown);

/* scrape: metrics_write's text (the caller frees it). */
static char *scrape(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    metrics_write(f);
    fclose(f);
    return text;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

Test(metrics, counts_show_in_the_text_format)
{
    cr_assert_eq(metrics_open(path, "tollgate-fcgi"), 0);
    metrics_add(MF_SIGNUPS, 2, "api", NULL, NULL, NULL);
    metrics_add(MF_USAGE_EVENTS, 1, "replayed", NULL, NULL, NULL);
    metrics_add(MF_CREDITS_GRANTED, 5, "no_such_kind", NULL, NULL, NULL);
    metrics_observe_us(MF_STRIPE_DURATION, "create_customer", 120000);
    metrics_set(MF_JOB_LAST_RUN, 1700000000, "emails", NULL);
    char *t = scrape();
    cr_expect(has_line(t, "tollgate_signups_total{source=\"api\"} 2"), "%s", t);
    cr_expect(has_line(t, "tollgate_signups_total{source=\"github_marketplace\"} 0"));
    cr_expect(has_line(t, "tollgate_usage_events_total{outcome=\"replayed\"} 1"));
    cr_expect(has_line(t, "tollgate_credits_granted_total{kind=\"other\"} 5"));
    cr_expect(has_line(t, "tollgate_stripe_request_duration_seconds_bucket{operation="
                          "\"create_customer\",le=\"0.1\"} 0"));
    cr_expect(has_line(t, "tollgate_stripe_request_duration_seconds_bucket{operation="
                          "\"create_customer\",le=\"0.25\"} 1"));
    cr_expect(has_line(t, "tollgate_stripe_request_duration_seconds_sum{operation="
                          "\"create_customer\"} 0.120000"));
    cr_expect(has_line(t, "tollgate_worker_job_last_run_timestamp_seconds{worker_job=\"emails\"} "
                          "1700000000"));
    /* Sparse: a Stripe operation that never counted shows no series. */
    cr_expect_null(strstr(t, "operation=\"pay_invoice\""));
    free(t);
}

Test(metrics, another_process_counts_into_the_same_file)
{
    cr_assert_eq(metrics_open(path, "tollgate-fcgi"), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* as tollgate-worker: a process of its own opening the file */
        if (metrics_open(path, "tollgate-worker") != 0)
            _exit(1);
        metrics_add(MF_WEBHOOKS_APPLIED, 3, "stripe", "invoice.paid", "applied", NULL);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *t = scrape();
    cr_expect(has_line(t, "tollgate_webhooks_applied_total{source=\"stripe\",type=\"invoice.paid\","
                          "outcome=\"applied\"} 3"),
              "%s", t);
    free(t);
}

Test(metrics, a_file_of_another_layout_is_replaced)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    char junk[4096];
    memset(junk, 0x7f, sizeof(junk)); /* huge counts, were it misread */
    for (int i = 0; i < 64; i++)
        cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    struct stat before, after;
    cr_assert_eq(stat(path, &before), 0);
    cr_assert_eq(metrics_open(path, "tollgate-worker"), 0);
    cr_assert_eq(stat(path, &after), 0);
    cr_expect_neq(before.st_ino, after.st_ino, "the file was replaced");
    cr_expect_eq(after.st_mode & 0777, 0600);
    char *t = scrape();
    cr_expect(has_line(t, "tollgate_signups_total{source=\"api\"} 0"), "%s", t);
    free(t);
}

/* Issue 11: tollgatectl status's "requests in the last minute" and their
 * 5xx, summed by two processes into the file and read back read-only. */
Test(metrics, the_last_minute_of_requests_is_read_back)
{
    cr_assert_eq(metrics_open(path, "tollgate-fcgi"), 0);
    int64_t t0 = (int64_t)time(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < 40; i++)
            metrics_observe(0, i % 4 == 0 ? 503 : 201, 1000);
        _exit(0);
    }
    for (int i = 0; i < 60; i++)
        metrics_observe(-1, i % 10 == 0 ? 500 : 404, 1000);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    int64_t t1 = (int64_t)time(NULL);
    uint64_t requests, errors;
    /* Every request fell in [t0, t1]: the seconds before t1 + 1 hold them. */
    cr_assert_eq(metrics_recent(path, t1 + 1, (int)(t1 - t0) + 1, &requests, &errors), 0);
    cr_expect_eq(requests, 100);
    cr_expect_eq(errors, 10 + 6, "the 503s and the 500s, not the 404s");
    /* A minute later they are out of the window, even though their
     * slots were never reused. */
    cr_assert_eq(metrics_recent(path, t1 + 61, 60, &requests, &errors), 0);
    cr_expect_eq(requests, 0);
    cr_expect_eq(errors, 0);
    cr_expect_eq(metrics_recent(path, t1, 64, &requests, &errors), -1, "beyond the ring");
    cr_expect_eq(errno, EINVAL);
}

Test(metrics, the_last_minute_of_another_layout_is_unknown)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "TGMETRC0", 8), 8);
    close(fd);
    uint64_t requests = 7, errors = 7;
    cr_expect_eq(metrics_recent(path, (int64_t)time(NULL), 60, &requests, &errors), -1);
    cr_expect_eq(errno, EPROTO);
    unlink(path);
    cr_expect_eq(metrics_recent(path, (int64_t)time(NULL), 60, &requests, &errors), -1);
    cr_expect_eq(errno, ENOENT);
}

Test(metrics, held_counts_wait_for_the_commit)
{
    cr_assert_eq(metrics_open(path, "tollgate-fcgi"), 0);
    struct tg_ctx ctx;
    ctx_init(&ctx, NULL, NULL, "test");
    int signup = metrics_slot(MF_SIGNUPS, "api", NULL, NULL, NULL);
    cr_assert_geq(signup, 0);
    ctx_count_hold(&ctx);
    ctx_count(&ctx, signup, 1);
    ctx_count_drop(&ctx); /* rolled back */
    ctx_count_hold(&ctx);
    ctx_count(&ctx, signup, 1);
    char *t = scrape();
    cr_expect(has_line(t, "tollgate_signups_total{source=\"api\"} 0"), "held: %s", t);
    free(t);
    ctx_count_commit(&ctx);
    ctx_count(&ctx, signup, 1); /* nothing held any more: at once */
    t = scrape();
    cr_expect(has_line(t, "tollgate_signups_total{source=\"api\"} 2"), "committed: %s", t);
    free(t);
}
