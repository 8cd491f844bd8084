/*
 * email: signup e-mail checks -- syntax (a practical subset of RFC 5321's
 * mailbox: dot-atom local part, DNS host name) with RFC 5321's length limits
 * (local part 64, address 254), and a blocklist of disposable domains loaded
 * from a data file.
 */
#ifndef TOLLGATE_EMAIL_H
#define TOLLGATE_EMAIL_H

#include <stdbool.h>
#include <stddef.h>

#define EMAIL_MAX_LEN 254
#define EMAIL_LOCAL_MAX_LEN 64

struct email_blocklist {
    char **domains; /* sorted, lower case */
    size_t count;
};

/* email_valid: true when addr is a syntactically acceptable address. */
bool email_valid(const char *addr);

/* email_blocklist_load: read path (one domain a line; blank lines and '#'
 * comments ignored; at most 1 MiB) into bl. Returns 0, or -1 with a message
 * in err (errlen bytes) when the file cannot be read or holds a line that is
 * not a domain. Free with email_blocklist_free(). */
int email_blocklist_load(struct email_blocklist *bl, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* email_blocklist_free: release bl's domains and zero it. */
void email_blocklist_free(struct email_blocklist *bl);

/* email_is_disposable: true when addr's domain, or any parent of it, is in
 * bl (so "x.mailinator.com" is caught by "mailinator.com"). */
bool email_is_disposable(const struct email_blocklist *bl, const char *addr);

#endif
