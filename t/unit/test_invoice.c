/*
 * Unit tests for invoice_judge (src/domain/invoice.c): each invoice of
 * t/data/invoice_verdicts.json gets its expected verdict and reason, with
 * Stripe's amount and currency carried into the record; without a Pro
 * price configured nothing qualifies.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/invoice.h"
#include "unit.h"

TestSuite(invoice, .fini = leak_check);

static json_t *cases(void)
{
    const char *src = getenv("TOLLGATE_SRCDIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/t/data/invoice_verdicts.json", src != NULL ? src : ".");
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    cr_assert_not_null(doc, "%s: %s", path, err.text);
    return doc;
}

Test(invoice, verdicts)
{
    json_t *doc = cases(), *c;
    size_t i;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *want = json_string_value(json_object_get(c, "reason"));
        json_t *inv = json_object_get(c, "invoice");
        struct invoices_record rec;
        enum invoices_verdict v =
            invoice_judge(inv, json_string_value(json_object_get(c, "ours")), "price_pro", &rec);
        cr_expect_eq(v, want == NULL ? INVOICES_QUALIFIES : INVOICES_NOT_QUALIFYING, "%s", name);
        cr_expect_eq(rec.verdict, v, "%s", name);
        if (want == NULL)
            cr_expect_null(rec.reason, "%s: %s", name, rec.reason);
        else
            cr_expect(rec.reason != NULL && strcmp(rec.reason, want) == 0, "%s: \"%s\"", name,
                      rec.reason != NULL ? rec.reason : "(none)");
        cr_expect_str_eq(rec.id, json_string_value(json_object_get(inv, "id")), "%s", name);
        cr_expect_eq(rec.amount_paid, json_integer_value(json_object_get(inv, "amount_paid")), "%s",
                     name);
    }
    cr_assert_geq(i, 10);
    json_decref(doc);
}

Test(invoice, records_what_stripe_says_of_a_granting_invoice)
{
    json_t *doc = cases();
    json_t *inv = json_object_get(json_array_get(json_object_get(doc, "cases"), 1), "invoice");
    struct invoices_record rec;
    cr_assert_eq(invoice_judge(inv, "5b1c7e0a-0000-4000-8000-000000000001", "price_pro", &rec),
                 INVOICES_QUALIFIES);
    cr_expect_str_eq(rec.stripe_customer_id, "cus_1");
    cr_expect_str_eq(rec.stripe_subscription_id, "sub_1", "read from parent (2025-03-31)");
    cr_expect_str_eq(rec.billing_reason, "subscription_cycle");
    cr_expect_str_eq(rec.currency, "usd");
    cr_expect_eq(rec.amount_paid, 59900);
    /* Without a Pro price configured nothing can be a Pro payment. */
    cr_expect_eq(invoice_judge(inv, "5b1c7e0a-0000-4000-8000-000000000001", "", &rec),
                 INVOICES_NOT_QUALIFYING);
    cr_expect_eq(invoice_judge(inv, "5b1c7e0a-0000-4000-8000-000000000001", NULL, &rec),
                 INVOICES_NOT_QUALIFYING);
    json_decref(doc);
}
