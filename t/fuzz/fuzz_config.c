/*
 * fuzz_config: the configuration file (src/core/config.c, INI through
 * libinih) with config_load_buffer: every key's type, bounds, accepted
 * values and length, sections, duplicates, syntax errors, and the checks
 * across keys. A failed load must leave cfg zeroed with a message in err
 * that names a line of the text; a successful one must hold only values
 * within the key table's bounds.
 *
 * The *_file keys name files, the secrets among them opened by config_load.
 * An input must not make the fuzzer open any path it likes (as root, a FIFO
 * would block and a device could do worse), so their environment variables
 * are set to "", which overrides the file's values after they have been
 * parsed and checked like any other string: no secret file is ever opened,
 * and the other TOLLGATE_* variables are unset so the file alone decides.
 *
 * Input: the file's text.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzz.h"

static void environment_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    unsetenv("TOLLGATE_CONFIG");
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        size_t n = strlen(k->name);
        if (n > 5 && strcmp(k->name + n - 5, "_file") == 0)
            setenv(k->env, "", 1);
        else
            unsetenv(k->env);
    }
}

/* count_lines: lines in the text, the last one with or without '\n'. */
static long count_lines(const uint8_t *data, size_t size)
{
    long n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    environment_once();
    struct config cfg;
    char err[512];
    enum tg_err e = config_load_buffer(&cfg, "fuzz.conf", (const char *)data, size, err,
                                       sizeof(err));
    fuzz_assert(strnlen(err, sizeof(err)) < sizeof(err));
    if (e != TG_OK) {
        static const struct config zero;
        fuzz_assert(e == TG_ECONFIG);
        fuzz_assert(memcmp(&cfg, &zero, sizeof(cfg)) == 0);
        fuzz_assert(err[0] != '\0');
        /* "fuzz.conf:N: ...": N is a line of the text. */
        if (strncmp(err, "fuzz.conf:", 10) == 0 && err[10] >= '0' && err[10] <= '9') {
            long line = strtol(err + 10, NULL, 10);
            fuzz_assert(line >= 1 && line <= count_lines(data, size));
        }
        return 0;
    }
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        const void *slot = (const char *)&cfg + k->offset;
        if (k->type == CONFIG_LONG) {
            long v = *(const long *)slot;
            fuzz_assert(v >= k->min && v <= k->max);
        } else {
            const char *s = *(char *const *)slot;
            fuzz_assert(s != NULL && strlen(s) <= 4096);
            if (k->one_of != NULL) {
                const char *const *o = k->one_of;
                while (*o != NULL && strcmp(*o, s) != 0)
                    o++;
                fuzz_assert(*o != NULL);
            }
        }
    }
    fuzz_assert(cfg.token_ttl_seconds <= cfg.token_ttl_max_seconds);
    fuzz_assert(cfg.stripe_secret_key == NULL && cfg.token_signing_key == NULL);
    (void)config_is_production(&cfg);
    config_free(&cfg);
    return 0;
}
