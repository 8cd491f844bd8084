/*
 * conf-example: print the example /etc/tollgate/tollgate.conf that `make
 * install` and the Debian package ship, from config_keys (core/config.c):
 * every key commented out with its default and its one-line description,
 * so the file can never disagree with what the code accepts. Build-time
 * tool, not installed.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "core/config.h"

#define WRAP 74

/* comment: print text as "# " lines of at most WRAP columns. */
static void comment(const char *text)
{
    const char *p = text;
    while (*p != '\0') {
        size_t len = strlen(p);
        if (len > WRAP) {
            len = WRAP;
            while (len > 0 && p[len] != ' ')
                len--;
            if (len == 0)
                len = WRAP;
        }
        printf("# %.*s\n", (int)len, p);
        p += len;
        while (*p == ' ')
            p++;
    }
}

int main(void)
{
    comment("tollgate.conf: the configuration of tollgate-fcgi, tollgate-worker and "
            "tollgatectl (tollgate.conf(5), docs/configuration.md).");
    comment("Every key is shown commented out with its default: uncomment a line to "
            "change it. The TOLLGATE_* variable named under a key overrides the file.");
    comment("Keep this file root:tollgate, mode 0640. It holds no secrets: each secret "
            "is in its own file, owned by tollgate, mode 0600, named by a *_file key.");
    comment("Check a change with `tollgatectl check-config`; apply it with "
            "`systemctl reload tollgate-fcgi` and `systemctl restart tollgate-worker`.");
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        printf("\n");
        comment(k->doc);
        if (k->type == CONFIG_LONG)
            printf("# (%ld to %ld; environment: %s)\n", k->min, k->max, k->env);
        else
            printf("# (environment: %s)\n", k->env);
        printf("#%s = %s\n", k->name, k->def);
    }
    return ferror(stdout) ? 1 : 0;
}
