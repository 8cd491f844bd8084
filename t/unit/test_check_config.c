/*
 * Unit tests for the rules of src/ctl/check_config.c (tollgatectl
 * check-config). ctl_stripe_key_problem accepts sk_/rk_ test keys outside
 * production and live keys in production, and refuses a live key in
 * staging or development, a test key in production, another prefix, a key
 * too short and a key with other characters. ctl_webhook_secret_problem
 * wants whsec_, ctl_price_problem price_. ctl_check_settings, over
 * hand-built configurations: a missing Stripe key, webhook secret or token
 * signing key is an error in production and a warning elsewhere; a price is
 * required with a key; stripe_api_base must be https:// in production (a
 * warning elsewhere); smtp_url needs smtp_from, a user name a password; no
 * finding ever holds a secret beyond its prefix.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/config.h"
#include "ctl/ctl.h"
#include "unit.h"

TestSuite(check_config, .fini = leak_check);

/* ---- the Stripe key ---------------------------------------------------------- */

Test(check_config, stripe_key_accepted_by_environment)
{
    const char *test_keys[] = {"sk_test_abcdefgh", "rk_test_ABCdef12", "sk_test_tollgate_dev_stack",
                               "sk_test_51HxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"};
    const char *live_keys[] = {"sk_live_abcdefgh", "rk_live_ABCdef12_xyz"};
    for (size_t i = 0; i < sizeof(test_keys) / sizeof(test_keys[0]); i++)
        cr_expect_null(ctl_stripe_key_problem(test_keys[i], false), "%s refused outside production",
                       test_keys[i]);
    for (size_t i = 0; i < sizeof(live_keys) / sizeof(live_keys[0]); i++)
        cr_expect_null(ctl_stripe_key_problem(live_keys[i], true), "%s refused in production",
                       live_keys[i]);
}

Test(check_config, live_key_outside_production_refused)
{
    /* staging and development are both "not production" */
    const char *p = ctl_stripe_key_problem("sk_live_abcdefgh", false);
    cr_assert_not_null(p);
    cr_expect_not_null(strstr(p, "live key"), "%s", p);
    cr_expect_not_null(ctl_stripe_key_problem("rk_live_abcdefgh", false), "restricted live key");
}

Test(check_config, test_key_in_production_refused)
{
    const char *p = ctl_stripe_key_problem("sk_test_abcdefgh", true);
    cr_assert_not_null(p);
    cr_expect_not_null(strstr(p, "test key"), "%s", p);
    cr_expect_not_null(ctl_stripe_key_problem("rk_test_abcdefgh", true), "restricted test key");
}

Test(check_config, malformed_stripe_keys_refused)
{
    const char *bad[] = {
        "",                   /* empty */
        "pk_test_abcdefgh",   /* a publishable key */
        "pk_live_abcdefgh",   /* ditto */
        "whsec_abcdefghijkl", /* a webhook secret in the wrong file */
        "sk_abcdefghijkl",    /* no mode */
        "sk_prod_abcdefgh",   /* no such mode */
        "SK_TEST_abcdefgh",   /* case matters */
        "sk_test_",           /* nothing after the prefix */
        "sk_test_abcdefg",    /* 7 characters after it */
        "sk_test_abcd efgh",  /* a space */
        "sk_test_abcd-efgh",  /* a dash */
        "sk_test_abcdefgh\n", /* a newline */
        "rk_live_abc$defgh",  /* punctuation */
        "xsk_test_abcdefgh",  /* prefix not at the start */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *p1 = ctl_stripe_key_problem(bad[i], false);
        const char *p2 = ctl_stripe_key_problem(bad[i], true);
        cr_expect_not_null(p1, "\"%s\" accepted outside production", bad[i]);
        cr_expect_not_null(p2, "\"%s\" accepted in production", bad[i]);
        if (p1 != NULL)
            cr_expect_not_null(strstr(p1, "not a Stripe secret key"), "%s: %s", bad[i], p1);
    }
    /* exactly 8 is enough */
    cr_expect_null(ctl_stripe_key_problem("sk_test_abcdefgh", false));
}

/* ---- webhook secret and price -------------------------------------------------- */

Test(check_config, webhook_secret_needs_whsec)
{
    cr_expect_null(ctl_webhook_secret_problem("whsec_abc123"));
    cr_expect_null(ctl_webhook_secret_problem("whsec_tollgate_emulator_secret"));
    const char *bad[] = {"", "whsec_", "whsec", "sk_test_abcdefgh", "WHSEC_abc", " whsec_abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not_null(ctl_webhook_secret_problem(bad[i]), "\"%s\" accepted", bad[i]);
}

Test(check_config, price_needs_price_prefix)
{
    cr_expect_null(ctl_price_problem("price_1NxYz"));
    const char *bad[] = {"", "price_", "prod_123", "plan_123", "Price_123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not_null(ctl_price_problem(bad[i]), "\"%s\" accepted", bad[i]);
}

/* ---- ctl_check_settings over whole configurations --------------------------------- */

/* A complete, valid configuration for env; the strings are literals, so
 * cfg must not be config_free()d. */
static struct config good(const char *env)
{
    bool prod = strcmp(env, "production") == 0;
    struct config c = {0};
    c.environment = (char *)env;
    c.stripe_api_base = (char *)"https://api.stripe.com";
    c.stripe_secret_key = (char *)(prod ? "sk_live_SECRETSECRET1234" : "sk_test_SECRETSECRET1234");
    c.stripe_price_pro = (char *)"price_pro_monthly";
    c.stripe_webhook_secret = (char *)"whsec_SECRETSECRET5678";
    c.github_webhook_secret = (char *)"GITHUBSECRET9012";
    c.token_signing_key = (char *)"TOKENSECRET0123456789abcdef0123456789";
    c.smtp_url = (char *)"smtps://mail.example.net:465";
    c.smtp_from = (char *)"tollgate <billing@example.net>";
    c.smtp_username = (char *)"tollgate";
    c.smtp_password = (char *)"SMTPSECRET3456";
    c.stripe_timeout_ms = 10000;
    c.request_timeout_ms = 20000;
    c.statement_timeout_ms = 5000;
    return c;
}

/* finding: the finding about what with the given status, or NULL. */
static const struct ctl_check *finding(const struct ctl_checks *c, const char *what,
                                       enum ctl_check_status status)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].what, what) == 0 && c->items[i].status == status)
            return &c->items[i];
    return NULL;
}

static void run(const struct config *cfg, struct ctl_checks *c)
{
    memset(c, 0, sizeof(*c));
    ctl_check_settings(cfg, c);
    /* Whatever the findings, no secret appears in them beyond a prefix. */
    static const char *const secrets[] = {"SECRETSECRET", "GITHUBSECRET", "TOKENSECRET",
                                          "SMTPSECRET"};
    for (size_t i = 0; i < c->n; i++)
        for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++) {
            cr_assert_null(strstr(c->items[i].detail, secrets[s]), "secret in %s: %s",
                           c->items[i].what, c->items[i].detail);
            cr_assert_null(strstr(c->items[i].what, secrets[s]));
        }
}

Test(check_config, good_configurations_pass)
{
    const char *envs[] = {"production", "staging", "development"};
    static struct ctl_checks c;
    for (size_t i = 0; i < 3; i++) {
        struct config cfg = good(envs[i]);
        run(&cfg, &c);
        cr_expect_eq(c.errors, 0, "%s: %d errors", envs[i], c.errors);
        cr_expect_eq(c.warnings, 0, "%s: %d warnings", envs[i], c.warnings);
        cr_expect_not_null(finding(&c, "stripe_secret_key", CTL_CHECK_OK), "%s", envs[i]);
        cr_expect_not_null(finding(&c, "environment", CTL_CHECK_OK));
    }
    struct config cfg = good("development");
    run(&cfg, &c);
    const struct ctl_check *k = finding(&c, "stripe_secret_key", CTL_CHECK_OK);
    cr_assert_not_null(k);
    cr_expect_not_null(strstr(k->detail, "sk_test_"), "the prefix is shown: %s", k->detail);
}

Test(check_config, live_key_in_staging_and_development_is_an_error)
{
    static struct ctl_checks c;
    const char *envs[] = {"staging", "development"};
    for (size_t i = 0; i < 2; i++) {
        struct config cfg = good(envs[i]);
        cfg.stripe_secret_key = (char *)"sk_live_SECRETSECRET1234";
        run(&cfg, &c);
        cr_expect_not_null(finding(&c, "stripe_secret_key", CTL_CHECK_ERROR), "%s", envs[i]);
        cr_expect_eq(c.errors, 1, "%s", envs[i]);
        cfg.stripe_secret_key = (char *)"rk_live_SECRETSECRET1234";
        run(&cfg, &c);
        cr_expect_not_null(finding(&c, "stripe_secret_key", CTL_CHECK_ERROR), "%s rk", envs[i]);
    }
}

Test(check_config, test_key_in_production_is_an_error)
{
    static struct ctl_checks c;
    struct config cfg = good("production");
    cfg.stripe_secret_key = (char *)"sk_test_SECRETSECRET1234";
    run(&cfg, &c);
    const struct ctl_check *k = finding(&c, "stripe_secret_key", CTL_CHECK_ERROR);
    cr_assert_not_null(k);
    cr_expect_not_null(strstr(k->detail, "test key"), "%s", k->detail);
    cr_expect_eq(c.errors, 1);
    cfg.stripe_secret_key = (char *)"rk_test_SECRETSECRET1234";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_secret_key", CTL_CHECK_ERROR));
}

Test(check_config, malformed_key_is_an_error_everywhere)
{
    static struct ctl_checks c;
    const char *envs[] = {"production", "staging", "development"};
    for (size_t i = 0; i < 3; i++) {
        struct config cfg = good(envs[i]);
        cfg.stripe_secret_key = (char *)"pk_test_SECRETSECRET1234";
        run(&cfg, &c);
        cr_expect_not_null(finding(&c, "stripe_secret_key", CTL_CHECK_ERROR), "%s", envs[i]);
    }
}

Test(check_config, missing_secrets_are_errors_only_in_production)
{
    static struct ctl_checks c;
    const char *required[] = {"stripe_secret_key", "stripe_webhook_secret", "token_signing_key"};
    const char *envs[] = {"production", "staging", "development"};
    for (size_t i = 0; i < 3; i++) {
        bool prod = i == 0;
        struct config cfg = good(envs[i]);
        cfg.stripe_secret_key = NULL;
        cfg.stripe_webhook_secret = NULL;
        cfg.token_signing_key = NULL;
        cfg.github_webhook_secret = NULL;
        run(&cfg, &c);
        for (size_t k = 0; k < 3; k++)
            cr_expect_not_null(finding(&c, required[k], prod ? CTL_CHECK_ERROR : CTL_CHECK_WARNING),
                               "%s: %s", envs[i], required[k]);
        /* the GitHub secret is optional everywhere */
        cr_expect_not_null(finding(&c, "github_webhook_secret", CTL_CHECK_WARNING), "%s", envs[i]);
        /* without a key, the price is not required */
        cr_expect_null(finding(&c, "stripe_price_pro", CTL_CHECK_ERROR), "%s", envs[i]);
        cr_expect_eq(c.errors, prod ? 3 : 0, "%s", envs[i]);
        cr_expect_eq(c.warnings, prod ? 1 : 4, "%s", envs[i]);
    }
}

Test(check_config, webhook_secret_without_whsec_is_an_error)
{
    static struct ctl_checks c;
    struct config cfg = good("development");
    cfg.stripe_webhook_secret = (char *)"SECRETSECRET5678";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_webhook_secret", CTL_CHECK_ERROR));
    cr_expect_eq(c.errors, 1);
}

Test(check_config, price_required_with_a_key)
{
    static struct ctl_checks c;
    struct config cfg = good("staging");
    cfg.stripe_price_pro = (char *)"";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_price_pro", CTL_CHECK_ERROR), "missing price");
    cfg.stripe_price_pro = (char *)"prod_123";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_price_pro", CTL_CHECK_ERROR), "prod_ is no price");
    cfg.stripe_price_pro = NULL; /* NULL counts as empty */
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_price_pro", CTL_CHECK_ERROR), "NULL price");
}

Test(check_config, api_base_https)
{
    static struct ctl_checks c;
    struct config cfg = good("production");
    cfg.stripe_api_base = (char *)"http://127.0.0.1:12111";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_api_base", CTL_CHECK_ERROR), "production");
    cr_expect_eq(c.errors, 1);
    cfg = good("development");
    cfg.stripe_api_base = (char *)"http://127.0.0.1:12111";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "stripe_api_base", CTL_CHECK_WARNING), "development");
    cr_expect_eq(c.errors, 0);
    cr_expect_eq(c.warnings, 1);
}

Test(check_config, smtp_rules)
{
    static struct ctl_checks c;
    struct config cfg = good("production");
    cfg.smtp_from = (char *)"";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "smtp_from", CTL_CHECK_ERROR), "smtp_url without smtp_from");

    cfg = good("production");
    cfg.smtp_password = NULL;
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "smtp_password", CTL_CHECK_ERROR), "user without password");

    cfg = good("production");
    cfg.smtp_username = (char *)"";
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "smtp_password", CTL_CHECK_WARNING), "password unused");
    cr_expect_eq(c.errors, 0);

    cfg = good("production");
    cfg.smtp_url = (char *)"";
    cfg.smtp_from = (char *)"";
    cfg.smtp_username = (char *)"";
    cfg.smtp_password = NULL;
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "smtp_url", CTL_CHECK_WARNING), "no e-mail");
    cr_expect_eq(c.errors, 0);
}

Test(check_config, findings_beyond_the_maximum_are_counted)
{
    static struct ctl_checks c;
    memset(&c, 0, sizeof(c));
    for (int i = 0; i < CTL_CHECKS_MAX + 5; i++)
        ctl_check_add(&c, CTL_CHECK_ERROR, "x", "finding %d", i);
    cr_expect_eq(c.n, CTL_CHECKS_MAX);
    cr_expect_eq(c.errors, CTL_CHECKS_MAX + 5);
    cr_expect_str_eq(c.items[1].detail, "finding 1");
}

/* Timeouts: a Stripe attempt < the request's budget < nginx's read timeout
 * (with the statements that record the result), by default and in
 * check-config. */
Test(check_config, timeouts_are_ordered)
{
    static struct ctl_checks c;
    struct config d;
    char err[256];
    cr_assert_eq(config_load_buffer(&d, "empty", "", 0, err, sizeof(err)), TG_OK, "%s", err);
    cr_expect_lt(d.stripe_timeout_ms, d.request_timeout_ms, "defaults: Stripe < request");
    cr_expect_lt(d.request_timeout_ms + 2 * d.statement_timeout_ms, CONFIG_NGINX_READ_TIMEOUT_MS,
                 "defaults: request and its statements < nginx");
    config_free(&d);

    struct config cfg = good("production");
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "request_timeout_ms", CTL_CHECK_OK));

    cfg.stripe_timeout_ms = 20000;
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "request_timeout_ms", CTL_CHECK_ERROR), "Stripe = request");
    cr_expect_eq(c.errors, 1);

    cfg = good("production");
    cfg.request_timeout_ms = 35000;
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "request_timeout_ms", CTL_CHECK_WARNING), "request ~ nginx");
    cr_expect_eq(c.errors, 0);
}

/* outbound_allow_http (http:// webhook endpoints on loopback, for tests)
 * is an error in production and nothing to report elsewhere. */
Test(check_config, outbound_allow_http_only_outside_production)
{
    static struct ctl_checks c;
    struct config cfg = good("production");
    cfg.outbound_allow_http = 1;
    run(&cfg, &c);
    cr_expect_not_null(finding(&c, "outbound_allow_http", CTL_CHECK_ERROR));
    cfg = good("development");
    cfg.outbound_allow_http = 1;
    run(&cfg, &c);
    cr_expect_eq(c.errors, 0);
    cr_expect_eq(c.warnings, 0);
}
