/*
 * email: address syntax and the disposable-domain blocklist; see email.h.
 */
#include "domain/email.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BLOCKLIST_MAX_BYTES (1 << 20)

static bool atext(char c)
{
    return isalnum((unsigned char)c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* domain_valid: LDH labels of 1..63 bytes, not starting or ending with '-',
 * at least two labels, the last not all digits. */
static bool domain_valid(const char *d, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t labels = 0, label_len = 0;
    bool all_digits = true;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? d[i] : '.';
        if (c == '.') {
            if (label_len == 0 || label_len > 63 || d[i - 1] == '-')
                return false;
            labels++;
            if (i < len) {
                label_len = 0;
                all_digits = true;
            }
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-')
            return false;
        if (c == '-' && label_len == 0)
            return false;
        if (!isdigit((unsigned char)c))
            all_digits = false;
        label_len++;
    }
    return labels >= 2 && !all_digits;
}

bool email_valid(const char *addr)
{
    size_t len = strlen(addr);
    if (len < 3 || len > EMAIL_MAX_LEN)
        return false;
    const char *at = strrchr(addr, '@');
    if (at == NULL)
        return false;
    size_t local_len = (size_t)(at - addr);
    if (local_len == 0 || local_len > EMAIL_LOCAL_MAX_LEN)
        return false;
    /* dot-atom: atext runs separated by single dots */
    if (addr[0] == '.' || addr[local_len - 1] == '.')
        return false;
    for (size_t i = 0; i < local_len; i++) {
        if (addr[i] == '.') {
            if (addr[i + 1] == '.')
                return false;
        } else if (!atext(addr[i])) {
            return false;
        }
    }
    return domain_valid(at + 1, len - local_len - 1);
}

static int cmp_domain(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* add_line: append one domain (lower-cased) to bl; capacity doubles. */
static int add_domain(struct email_blocklist *bl, size_t *cap, const char *d)
{
    if (bl->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        char **n = realloc(bl->domains, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        bl->domains = n;
        *cap = ncap;
    }
    char *copy = strdup(d);
    if (copy == NULL)
        return -1;
    for (char *p = copy; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    bl->domains[bl->count++] = copy;
    return 0;
}

int email_blocklist_load(struct email_blocklist *bl, const char *path, char *err, size_t errlen)
{
    memset(bl, 0, sizeof(*bl));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    size_t cap = 0, total = 0;
    int lineno = 0, rc = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        total += strlen(line);
        if (total > BLOCKLIST_MAX_BYTES) {
            snprintf(err, errlen, "%s: larger than %d bytes", path, BLOCKLIST_MAX_BYTES);
            goto out;
        }
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            goto out;
        }
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *d = trim(line);
        if (*d == '\0')
            continue;
        if (!domain_valid(d, strlen(d))) {
            snprintf(err, errlen, "%s:%d: \"%s\" is not a domain", path, lineno, d);
            goto out;
        }
        if (add_domain(bl, &cap, d) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    if (bl->count > 0)
        qsort(bl->domains, bl->count, sizeof(*bl->domains), cmp_domain);
    rc = 0;
out:
    fclose(f);
    if (rc != 0)
        email_blocklist_free(bl);
    return rc;
}

void email_blocklist_free(struct email_blocklist *bl)
{
    for (size_t i = 0; i < bl->count; i++)
        free(bl->domains[i]);
    free(bl->domains);
    memset(bl, 0, sizeof(*bl));
}

bool email_is_disposable(const struct email_blocklist *bl, const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (at == NULL || bl->count == 0)
        return false;
    char domain[EMAIL_MAX_LEN + 1];
    size_t n = strlen(at + 1);
    if (n > EMAIL_MAX_LEN)
        return false;
    for (size_t i = 0; i <= n; i++)
        domain[i] = (char)tolower((unsigned char)at[1 + i]);
    /* The domain itself, then each parent: a.b.example.com, b.example.com, ... */
    for (const char *d = domain; d != NULL;) {
        const char *key = d;
        if (bsearch(&key, bl->domains, bl->count, sizeof(*bl->domains), cmp_domain) != NULL)
            return true;
        d = strchr(d, '.');
        if (d != NULL)
            d++;
    }
    return false;
}
