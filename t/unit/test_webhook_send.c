/*
 * Unit tests for src/integration/webhook_send.c's URL check: https
 * anywhere; http only to loopback and only when allowed; no other scheme,
 * no credentials, no spaces or control characters, no relative URLs, at
 * most WEBHOOK_SEND_MAX_URL bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "integration/webhook_send.h"
#include "unit.h"

TestSuite(webhook_send, .fini = leak_check);

static bool ok(const char *url, bool allow_http)
{
    char why[160];
    why[0] = '\0';
    bool r = webhook_send_check_url(url, allow_http, why, sizeof(why));
    cr_assert(r || why[0] != '\0', "%s refused without a reason", url);
    return r;
}

Test(webhook_send, urls)
{
    cr_assert(ok("https://product.example/hooks/tollgate", false));
    cr_assert(ok("https://product.example:8443/h?x=1", false));
    cr_assert(ok("http://127.0.0.1:9106/hook", true));
    cr_assert(ok("http://localhost/hook", true));
    cr_assert(ok("http://[::1]:9106/hook", true));
    cr_assert_not(ok("http://127.0.0.1:9106/hook", false), "http needs the flag");
    cr_assert_not(ok("http://192.0.2.1/hook", true), "http only to loopback");
    cr_assert_not(ok("http://127.0.0.1.example.com/hook", true));
    cr_assert_not(ok("ftp://product.example/x", true));
    cr_assert_not(ok("file:///etc/passwd", true));
    cr_assert_not(ok("https://user:pw@product.example/h", false));
    cr_assert_not(ok("https://product.example/a b", false));
    cr_assert_not(ok("https://product.example/\x01", false));
    cr_assert_not(ok("/relative/path", false));
    cr_assert_not(ok("", false));
    char big[WEBHOOK_SEND_MAX_URL + 32];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "https://x.example/", 18);
    cr_assert_not(ok(big, false));
    big[WEBHOOK_SEND_MAX_URL] = '\0';
    cr_assert(ok(big, false), "exactly the limit is fine");
}
