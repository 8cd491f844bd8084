/*
 * Unit tests for src/domain/email.c: address syntax, data-driven from
 * t/data/email_valid.txt and t/data/email_invalid.txt (one address a line;
 * "# " comments; \xNN escapes for control bytes and UTF-8), plus the RFC 5321
 * length limits built byte-exact in code; and the disposable-domain
 * blocklist -- loading from temporary files (comments, blank lines, CRLF,
 * bad lines refused with file:line), parent-domain matching, case
 * insensitivity -- and the shipped data/disposable-domains.txt. Data files
 * are found through $TOLLGATE_SRCDIR (set by make check).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/email.h"
#include "unit.h"

TestSuite(email, .fini = leak_check);

/* srcdir_path: $TOLLGATE_SRCDIR/rel (or ./rel) into buf. */
static const char *srcdir_path(char *buf, size_t len, const char *rel)
{
    const char *top = getenv("TOLLGATE_SRCDIR");
    if (top == NULL || *top == '\0')
        top = getenv("srcdir");
    snprintf(buf, len, "%s/%s", top != NULL && *top != '\0' ? top : ".", rel);
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* unescape: decode \xNN in place; returns the length, or -1 on a bad escape.
 * A decoded NUL would end the string early, so it is refused too. */
static long unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        if (r[1] != 'x' || hexval(r[2]) < 0 || hexval(r[3]) < 0)
            return -1;
        int v = hexval(r[2]) * 16 + hexval(r[3]);
        if (v == 0)
            return -1;
        *w++ = (char)v;
        r += 3;
    }
    *w = '\0';
    return (long)(w - s);
}

/* check_file: every address of data file rel must give email_valid() ==
 * want. Returns how many addresses were checked. */
static int check_file(const char *rel, bool want)
{
    char path[4096];
    FILE *f = fopen(srcdir_path(path, sizeof(path), rel), "r");
    cr_assert_not_null(f, "cannot open %s (is TOLLGATE_SRCDIR set?)", path);
    char line[1024];
    int lineno = 0, n = 0, wrong = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        cr_assert(len > 0 && line[len - 1] == '\n', "%s:%d: line too long or unterminated", path,
                  lineno);
        line[len - 1] = '\0';
        if (line[0] == '\0' || strncmp(line, "# ", 2) == 0 || strcmp(line, "#") == 0)
            continue;
        char raw[1024];
        memcpy(raw, line, len);
        cr_assert(unescape(line) >= 0, "%s:%d: bad \\x escape in \"%s\"", path, lineno, raw);
        n++;
        if (email_valid(line) != want) {
            cr_log_error("%s:%d: \"%s\" should be %s", path, lineno, raw,
                         want ? "valid" : "invalid");
            wrong++;
        }
    }
    fclose(f);
    cr_assert_eq(wrong, 0, "%d of %d addresses in %s misjudged (see above)", wrong, n, rel);
    return n;
}

Test(email, valid_addresses_from_data_file)
{
    cr_assert_geq(check_file("t/data/email_valid.txt", true), 20);
}

Test(email, invalid_addresses_from_data_file)
{
    cr_assert_geq(check_file("t/data/email_invalid.txt", false), 50);
}

/* make_addr: a local part of local_len 'l's and a domain of dom_len bytes made
 * of 63-byte labels and a final "com"-ended label. */
static char *make_addr(char *buf, size_t local_len, size_t dom_len)
{
    char *p = buf;
    memset(p, 'l', local_len);
    p += local_len;
    *p++ = '@';
    size_t left = dom_len;
    while (left > 63 + 1 + 4) { /* a full label, a dot, and room for the last */
        memset(p, 'd', 63);
        p += 63;
        *p++ = '.';
        left -= 64;
    }
    cr_assert_geq(left, 5);
    memset(p, 'e', left - 4);
    p += left - 4;
    memcpy(p, ".com", 5);
    cr_assert_eq(strlen(buf), local_len + 1 + dom_len);
    return buf;
}

Test(email, local_part_length_limit_is_64)
{
    char buf[600];
    cr_assert(email_valid(make_addr(buf, 64, 11)));
    cr_assert_not(email_valid(make_addr(buf, 65, 11)));
    cr_assert(email_valid(make_addr(buf, 1, 11)));
}

Test(email, total_length_limit_is_254)
{
    char buf[600];
    cr_assert(email_valid(make_addr(buf, 64, 189)), "254 bytes must pass");
    cr_assert_not(email_valid(make_addr(buf, 64, 190)), "255 bytes must fail");
    cr_assert(email_valid(make_addr(buf, 1, 252)), "254 bytes must pass");
    /* 253 is a legal domain length, so only the total limit refuses this */
    cr_assert_not(email_valid(make_addr(buf, 1, 253)), "255 bytes must fail");
    cr_assert_not(email_valid(make_addr(buf, 64, 300)));
}

Test(email, empty_and_tiny_strings)
{
    cr_assert_not(email_valid(""));
    cr_assert_not(email_valid("@"));
    cr_assert_not(email_valid("a@"));
    cr_assert_not(email_valid("@b"));
}

/* ---- blocklist ------------------------------------------------------- */

static char tmp_path[64];

static void tmp_remove(void)
{
    if (tmp_path[0] != '\0')
        unlink(tmp_path);
    tmp_path[0] = '\0';
}

static void blocklist_fini(void)
{
    tmp_remove();
    leak_check();
}

TestSuite(blocklist, .fini = blocklist_fini);

/* write_tmp: a temporary file holding text; its name in tmp_path. */
static const char *write_tmp(const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof(tmp_path), "%s/tg-email-XXXXXX",
             dir != NULL && *dir != '\0' && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(tmp_path);
    cr_assert_geq(fd, 0, "mkstemp failed");
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static const char list_text[] = "# disposable domains for a test\n"
                                "\n"
                                "mailinator.com\n"
                                "   # an indented comment\n"
                                "  Guerrillamail.COM  \n"
                                "tempmail.example # an inline comment\n"
                                "\t\n"
                                "crlf-domain.net\r\n"
                                "yopmail.fr";

Test(blocklist, loads_comments_blank_lines_and_crlf)
{
    struct email_blocklist bl;
    char err[512] = "";
    const char *path = write_tmp(list_text);
    cr_assert_eq(email_blocklist_load(&bl, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(bl.count, 5);
    /* sorted, lower case, trimmed */
    const char *want[] = {"crlf-domain.net", "guerrillamail.com", "mailinator.com",
                          "tempmail.example", "yopmail.fr"};
    for (size_t i = 0; i < bl.count; i++)
        cr_assert_str_eq(bl.domains[i], want[i]);
    email_blocklist_free(&bl);
    cr_assert_null(bl.domains);
    cr_assert_eq(bl.count, 0);
}

Test(blocklist, matches_domain_and_its_subdomains_only)
{
    struct email_blocklist bl;
    char err[512] = "";
    cr_assert_eq(email_blocklist_load(&bl, write_tmp(list_text), err, sizeof(err)), 0, "%s", err);
    cr_assert(email_is_disposable(&bl, "ada@mailinator.com"));
    cr_assert(email_is_disposable(&bl, "ada@x.mailinator.com"));
    cr_assert(email_is_disposable(&bl, "ada@a.b.c.mailinator.com"));
    cr_assert(email_is_disposable(&bl, "ada@yopmail.fr"), "last line without a newline");
    cr_assert(email_is_disposable(&bl, "ada@crlf-domain.net"), "CRLF line");
    cr_assert(email_is_disposable(&bl, "ada@tempmail.example"), "line with a comment");
    cr_assert_not(email_is_disposable(&bl, "ada@notmailinator.com"), "not a parent domain");
    cr_assert_not(email_is_disposable(&bl, "ada@mailinator.com.evil.org"));
    cr_assert_not(email_is_disposable(&bl, "ada@mailinator.co"));
    cr_assert_not(email_is_disposable(&bl, "ada@com"));
    cr_assert_not(email_is_disposable(&bl, "ada@example.com"));
    cr_assert_not(email_is_disposable(&bl, "mailinator.com"), "no @");
    /* the local part is not a domain */
    cr_assert_not(email_is_disposable(&bl, "mailinator.com@example.com"));
    email_blocklist_free(&bl);
}

Test(blocklist, is_case_insensitive)
{
    struct email_blocklist bl;
    char err[512] = "";
    cr_assert_eq(email_blocklist_load(&bl, write_tmp(list_text), err, sizeof(err)), 0, "%s", err);
    cr_assert(email_is_disposable(&bl, "Ada@MAILINATOR.COM"));
    cr_assert(email_is_disposable(&bl, "ada@Sub.MailInator.Com"));
    cr_assert(email_is_disposable(&bl, "ada@guerrillamail.com"), "listed in upper case");
    cr_assert(email_is_disposable(&bl, "ada@GUERRILLAMAIL.com"));
    email_blocklist_free(&bl);
}

Test(blocklist, empty_list_blocks_nothing)
{
    struct email_blocklist bl;
    char err[512] = "";
    cr_assert_eq(email_blocklist_load(&bl, write_tmp("# nothing yet\n\n"), err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(bl.count, 0);
    cr_assert_not(email_is_disposable(&bl, "ada@mailinator.com"));
    email_blocklist_free(&bl);
}

Test(blocklist, refuses_lines_that_are_not_domains)
{
    static const char *const bad[] = {
        "not a domain",  "localhost",          "-bad.com",    "bad-.com",     "a..b.com",
        "*.example.com", "exa_mple.com",       "example.123", "ada@mail.com", ".example.com",
        "example.com.",  "ex\xc3\xa4mple.com", "[127.0.0.1]", "1.2.3.4",      "http://mail.com/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], err[512] = "", want[128];
        snprintf(text, sizeof(text), "# list\nok.example.com\n%s\nlater.example.com\n", bad[i]);
        struct email_blocklist bl;
        const char *path = write_tmp(text);
        cr_assert_eq(email_blocklist_load(&bl, path, err, sizeof(err)), -1,
                     "\"%s\" must be refused", bad[i]);
        snprintf(want, sizeof(want), "%s:3:", path);
        cr_assert_not_null(strstr(err, want), "\"%s\": error \"%s\" lacks %s", bad[i], err, want);
        cr_assert_null(bl.domains, "a failed load leaves nothing behind");
        cr_assert_eq(bl.count, 0);
        tmp_remove();
    }
}

Test(blocklist, refuses_overlong_line)
{
    char text[1200], err[512] = "";
    memset(text, 'a', 1000);
    memcpy(text + 1000, ".com\n", 6);
    struct email_blocklist bl;
    const char *path = write_tmp(text);
    cr_assert_eq(email_blocklist_load(&bl, path, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, path), "%s", err);
}

Test(blocklist, missing_file_is_an_error_naming_it)
{
    struct email_blocklist bl;
    char err[512] = "";
    const char *path = "/nonexistent/tollgate/disposable-domains.txt";
    cr_assert_eq(email_blocklist_load(&bl, path, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, path), "%s", err);
    cr_assert_eq(bl.count, 0);
}

/* ---- the shipped list ------------------------------------------------ */

/* shipped_domains: the non-comment, non-blank lines of the shipped list, in
 * file order (n of them, each malloc'd; free with free_lines). */
static char **shipped_domains(size_t *n)
{
    char path[4096], line[512];
    FILE *f = fopen(srcdir_path(path, sizeof(path), "data/disposable-domains.txt"), "r");
    cr_assert_not_null(f, "cannot open %s (is TOLLGATE_SRCDIR set?)", path);
    char **v = NULL;
    *n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        v = realloc(v, (*n + 1) * sizeof(*v));
        cr_assert_not_null(v);
        v[(*n)++] = strdup(line);
    }
    fclose(f);
    return v;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

Test(email, shipped_list_loads_and_blocks_every_entry)
{
    char path[4096], err[512] = "";
    struct email_blocklist bl;
    srcdir_path(path, sizeof(path), "data/disposable-domains.txt");
    cr_assert_eq(email_blocklist_load(&bl, path, err, sizeof(err)), 0, "%s", err);
    size_t n;
    char **lines = shipped_domains(&n);
    cr_assert_gt(n, 10);
    cr_assert_eq(bl.count, n);
    for (size_t i = 0; i < n; i++) {
        char addr[600];
        snprintf(addr, sizeof(addr), "someone@%s", lines[i]);
        cr_assert(email_is_disposable(&bl, addr), "%s not blocked", lines[i]);
        snprintf(addr, sizeof(addr), "someone@mx.%s", lines[i]);
        cr_assert(email_is_disposable(&bl, addr), "subdomain of %s not blocked", lines[i]);
    }
    cr_assert_not(email_is_disposable(&bl, "someone@example.com"));
    cr_assert_not(email_is_disposable(&bl, "someone@gmail.com"));
    free_lines(lines, n);
    email_blocklist_free(&bl);
}

/* The file's header says "Lower case" and "Keep sorted": hold it to that, so
 * review diffs stay small and duplicates show. */
Test(email, shipped_list_is_lower_case_sorted_without_duplicates)
{
    size_t n;
    char **lines = shipped_domains(&n);
    for (size_t i = 0; i < n; i++) {
        for (const char *p = lines[i]; *p != '\0'; p++)
            cr_assert_not(isupper((unsigned char)*p), "\"%s\" is not lower case", lines[i]);
        if (i > 0)
            cr_expect_lt(strcmp(lines[i - 1], lines[i]), 0,
                         "\"%s\" then \"%s\": not sorted, or a duplicate", lines[i - 1], lines[i]);
    }
    free_lines(lines, n);
}
