/*
 * Unit tests for src/integration/stripe.c and src/core/num.c: Stripe's
 * form encoding of nested parameters (brackets and reserved characters
 * percent-encoded, order kept); the retry backoff stays within [half, full]
 * of 250 ms doubling, capped at 2 s; a POST without an idempotency key is
 * refused before anything is sent; every attempt reports progress (the
 * worker's watchdog); attempts and retries are cut to the request's
 * budget; strict decimal parsing.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/num.h"
#include "integration/stripe.h"
#include "unit.h"

TestSuite(stripe, .fini = leak_check);

Test(stripe, form_encoding_of_nested_parameters)
{
    struct arena *a = arena_new(4096);
    const struct stripe_param p[] = {{"items[0][price]", "price_123"},
                                     {"metadata[note]", "a b&c=d/é"},
                                     {"expand[]", "latest_invoice"}};
    char *s = stripe_form_encode(a, p, 3);
    cr_assert_str_eq(s, "items%5B0%5D%5Bprice%5D=price_123&metadata%5Bnote%5D=a%20b%26c%3Dd%2F%C3%A9"
                        "&expand%5B%5D=latest_invoice");
    cr_assert_str_eq(stripe_form_encode(a, p, 0), "");
    arena_free(a);
}

Test(stripe, backoff_is_exponential_with_jitter_and_capped)
{
    static const long full[] = {250, 500, 1000, 2000, 2000, 2000};
    for (int attempt = 1; attempt <= 6; attempt++)
        for (int i = 0; i < 200; i++) {
            long ms = stripe_backoff_ms(attempt);
            cr_assert(ms >= full[attempt - 1] / 2 && ms <= full[attempt - 1],
                      "attempt %d: %ld ms", attempt, ms);
        }
}

Test(stripe, post_without_idempotency_key_is_refused)
{
    struct stripe_config cfg = {"http://127.0.0.1:9", "sk_test_x", 100, 100, 0};
    struct stripe *s = stripe_new(&cfg);
    struct arena *a = arena_new(4096);
    struct service svc = {.stripe = s};
    struct tg_ctx ctx;
    ctx_init(&ctx, a, &svc, "test");
    struct stripe_result r;
    cr_assert_eq(stripe_call(&ctx, "POST", "/v1/customers", NULL, 0, NULL, &r), TG_EINTERNAL);
    cr_assert_eq(r.attempts, 0, "nothing was sent");
    arena_free(a);
    stripe_free(s);
}

static int progress_calls;

static void count_progress(void)
{
    progress_calls++;
}

Test(stripe, unreachable_after_retries)
{
    /* Port 9 (discard) is closed here: every attempt fails to connect. */
    struct stripe_config cfg = {"http://127.0.0.1:9", "sk_test_x", 200, 200, 2};
    struct stripe *s = stripe_new(&cfg);
    struct arena *a = arena_new(4096);
    struct service svc = {.stripe = s, .progress = count_progress};
    struct tg_ctx ctx;
    ctx_init(&ctx, a, &svc, "test");
    struct stripe_result r;
    cr_assert_eq(stripe_call(&ctx, "GET", "/v1/customers", NULL, 0, NULL, &r), TG_EUPSTREAM);
    cr_assert_eq(r.outcome, STRIPE_UNREACHABLE);
    cr_assert_eq(r.attempts, 3, "one attempt and two retries");
    cr_assert_eq(progress_calls, 3, "progress after each attempt, not once per call");
    arena_free(a);
    stripe_free(s);
}

/* hanging_port: a loopback port that accepts connections (the backlog) and
 * never answers; *fd to close. */
static int hanging_port(int *fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(*fd >= 0);
    cr_assert_eq(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(*fd, 16), 0);
    cr_assert_eq(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

Test(stripe, attempts_are_cut_to_the_request_budget)
{
    /* Stripe hangs; 5 s per attempt and 3 retries would take 20 s. A
     * budget of 1.5 s ends the call within it, after one or two attempts,
     * so the request answers before nginx gives up on it. */
    int fd, port = hanging_port(&fd);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    struct stripe_config cfg = {base, "sk_test_x", 1000, 5000, 3};
    struct stripe *s = stripe_new(&cfg);
    struct arena *a = arena_new(4096);
    struct service svc = {.stripe = s};
    struct tg_ctx ctx;
    ctx_init(&ctx, a, &svc, "test");
    ctx_set_budget(&ctx, 1500);
    struct stripe_result r;
    long long t0 = now_ms();
    cr_assert_eq(stripe_call(&ctx, "GET", "/v1/customers", NULL, 0, NULL, &r), TG_EUPSTREAM);
    long long took = now_ms() - t0;
    cr_expect_eq(r.outcome, STRIPE_UNREACHABLE);
    cr_expect(took < 1900, "the call took %lld ms of a 1500 ms budget", took);
    cr_expect(r.attempts >= 1 && r.attempts <= 2, "%d attempts", r.attempts);

    /* A spent budget sends nothing: tollgate-worker finishes the call. */
    ctx_set_budget(&ctx, 100);
    t0 = now_ms();
    cr_assert_eq(stripe_call(&ctx, "POST", "/v1/customers", NULL, 0, "k", &r), TG_EUPSTREAM);
    cr_expect_eq(r.outcome, STRIPE_UNREACHABLE);
    cr_expect_eq(r.attempts, 0, "nothing was sent");
    cr_expect(now_ms() - t0 < 100);
    arena_free(a);
    stripe_free(s);
    close(fd);
}

Test(stripe, not_configured_is_unreachable)
{
    struct arena *a = arena_new(4096);
    struct service svc = {.stripe = NULL};
    struct tg_ctx ctx;
    ctx_init(&ctx, a, &svc, "test");
    struct stripe_result r;
    cr_assert_eq(stripe_call(&ctx, "POST", "/v1/customers", NULL, 0, "k", &r), TG_EUPSTREAM);
    cr_assert_eq(r.outcome, STRIPE_UNREACHABLE);
    cr_assert_eq(r.attempts, 0, "nothing was sent");
    arena_free(a);
}

Test(stripe, num_parse_is_strict)
{
    long long v;
    cr_assert(num_parse("0", (size_t)-1, 10, &v) && v == 0);
    cr_assert(num_parse("123456789012345678", (size_t)-1, 999999999999999999LL, &v));
    cr_assert(num_parse("12x", 2, 100, &v) && v == 12, "len limits the text");
    static const char *const bad[] = {"", " 1", "+1", "-1", "1 ", "0x10", "1e3", "1234567890123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!num_parse(bad[i], (size_t)-1, 999999999999999999LL, &v), "\"%s\"", bad[i]);
    cr_assert(!num_parse("11", (size_t)-1, 10, &v), "over max");
}

/* The operation names of tollgate_stripe_* (docs/operations/metrics.md):
 * ids are one segment, the query is ignored, anything else is "other". */
Test(stripe, operations_are_named_for_metrics)
{
    static const struct {
        const char *method, *path, *want;
    } cases[] = {
        {"POST", "/v1/customers", "create_customer"},
        {"POST", "/v1/customers/cus_123", "update_customer"},
        {"POST", "/v1/payment_methods/pm_card_visa/attach", "attach_payment_method"},
        {"POST", "/v1/payment_intents", "create_payment_intent"},
        {"GET", "/v1/payment_intents?customer=cus_1&limit=100", "list_payment_intents"},
        {"GET", "/v1/payment_intents/pi_9", "get_payment_intent"},
        {"DELETE", "/v1/subscriptions/sub_1", "cancel_subscription"},
        {"POST", "/v1/subscriptions/sub_1", "update_subscription"},
        {"GET", "/v1/invoices/upcoming?customer=cus_1", "preview_invoice"},
        {"GET", "/v1/invoices/in_1", "get_invoice"},
        {"POST", "/v1/invoices/in_1/pay", "pay_invoice"},
        {"GET", "/v1/charges/ch_1", "get_charge"},
        {"GET", "/v1/customers", "other"},
        {"POST", "/v1/payment_methods//attach", "other"},
        {"POST", "/v1/invoices/in_1/void", "other"},
        {"GET", "/v1/balance", "other"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_str_eq(stripe_operation(cases[i].method, cases[i].path), cases[i].want, "%s %s",
                         cases[i].method, cases[i].path);
}
