/*
 * Unit tests for src/http/problem.c, the one table from errors to HTTP, and
 * src/core/tgerr.c's titles: every enum tg_err value has an HTTP status, a
 * problem-type slug and a title; slugs are unique and URI-safe (they are
 * public API, docs/problems.md); the statuses of the errors clients depend
 * on are pinned; tg_strerror() never returns NULL; and values outside the
 * enum map to the internal error.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/tgerr.h"
#include "http/problem.h"

Test(problem, every_value_has_status_slug_and_title)
{
    for (int e = 0; e < TG_ERR_COUNT; e++) {
        const struct problem_info *i = problem_info((enum tg_err)e);
        cr_assert_not_null(i, "error %d", e);
        cr_assert(i->status >= 200 && i->status <= 599, "error %d: status %d", e, i->status);
        cr_assert_not_null(i->slug, "error %d has no slug", e);
                cr_assert_gt(strlen(i->slug), 0, "error %d: empty slug", e);
                cr_assert_not_null(tg_strerror((enum tg_err)e));
        cr_assert_gt(strlen(tg_strerror((enum tg_err)e)), 0);
    }
}

Test(problem, errors_other_than_ok_are_4xx_or_5xx)
{
    cr_assert_eq(problem_info(TG_OK)->status, 200);
    for (int e = 1; e < TG_ERR_COUNT; e++)
        cr_assert_geq(problem_info((enum tg_err)e)->status, 400, "error %d (%s)", e,
                      problem_info((enum tg_err)e)->slug);
}

Test(problem, slugs_are_unique)
{
    for (int a = 0; a < TG_ERR_COUNT; a++)
        for (int b = a + 1; b < TG_ERR_COUNT; b++)
            cr_assert_str_neq(problem_info((enum tg_err)a)->slug, problem_info((enum tg_err)b)->slug,
                              "errors %d and %d share a slug", a, b);
}

Test(problem, slugs_are_lower_case_words_joined_by_hyphens)
{
    for (int e = 0; e < TG_ERR_COUNT; e++) {
        const char *s = problem_info((enum tg_err)e)->slug;
        cr_assert_eq(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(s),
                     "slug \"%s\" is not URI-path safe", s);
        cr_assert(s[0] != '-' && s[strlen(s) - 1] != '-', "slug \"%s\"", s);
    }
}

/* The statuses clients branch on; changing one is an API change. */
Test(problem, pinned_statuses)
{
    static const struct {
        enum tg_err err;
        int status;
        const char *slug;
    } pinned[] = {
        {TG_EINTERNAL, 500, "internal-error"},
        {TG_EBADREQUEST, 400, "bad-request"},
        {TG_EBADJSON, 400, "invalid-json"},
        {TG_EINVALID, 400, "validation-failed"},
        {TG_EBADCONTENTTYPE, 415, "unsupported-media-type"},
        {TG_ETOOLARGE, 413, "body-too-large"},
        {TG_EUNAUTHORIZED, 401, "unauthorized"},
        {TG_ENOTFOUND, 404, "not-found"},
        {TG_EMETHOD, 405, "method-not-allowed"},
        {TG_ECONFLICT, 409, "conflict"},
        {TG_EIDEMPOTENCYREUSE, 422, "idempotency-key-reused"},
        {TG_EINSUFFICIENT, 402, "insufficient-credits"},
        {TG_ERATELIMITED, 429, "rate-limited"},
        {TG_EDB, 503, "database-unavailable"},
    };
    for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
        const struct problem_info *info = problem_info(pinned[i].err);
        cr_assert_eq(info->status, pinned[i].status, "%s", pinned[i].slug);
        cr_assert_str_eq(info->slug, pinned[i].slug);
    }
}

Test(problem, out_of_range_maps_to_internal_error)
{
    const struct problem_info *internal = problem_info(TG_EINTERNAL);
    cr_assert_eq(problem_info(TG_ERR_COUNT), internal);
    cr_assert_eq(problem_info((enum tg_err)(TG_ERR_COUNT + 1)), internal);
    cr_assert_eq(problem_info((enum tg_err)1000), internal);
    cr_assert_eq(problem_info((enum tg_err) - 1), internal);
    cr_assert_eq(internal->status, 500);
    cr_assert_str_eq(tg_strerror((enum tg_err) - 5), tg_strerror(TG_EINTERNAL));
}

/* Issue 11: `journalctl -p err` lists what needs fixing only. Refusals the
 * client caused (every 4xx) and those an operator chose (the
 * automated_customer_onboarding and billing_enabled flags, 503 by design)
 * are not errors; failures of tollgate or its database are. */
Test(problem, log_levels)
{
    for (int e = 1; e < TG_ERR_COUNT; e++)
        if (problem_info((enum tg_err)e)->status < 500)
            cr_assert_eq(problem_log_level((enum tg_err)e), LOG_INFO, "%s",
                         problem_info((enum tg_err)e)->slug);
    cr_assert_eq(problem_log_level(TG_ESIGNUPCLOSED), LOG_INFO);
    cr_assert_eq(problem_log_level(TG_EBILLINGDISABLED), LOG_INFO);
    cr_assert_eq(problem_log_level(TG_EUPSTREAM), LOG_WARN);
    cr_assert_eq(problem_log_level(TG_EUNAVAILABLE), LOG_WARN);
    cr_assert_eq(problem_log_level(TG_EDB), LOG_ERROR);
    cr_assert_eq(problem_log_level(TG_EINTERNAL), LOG_ERROR);
    cr_assert_eq(problem_log_level(TG_ENOMEM), LOG_ERROR);
    cr_assert_eq(problem_log_level(TG_ECONFIG), LOG_ERROR);
}
