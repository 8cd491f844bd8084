/*
 * replay: the main() that `make check` links each fuzz harness with (in
 * place of libFuzzer's), so the corpus -- seeds and the inputs that once
 * crashed -- runs in every build, plain and sanitized, without clang.
 *
 *   t/fuzz/fuzz_NAME [FILE|DIR...]
 *
 * Without arguments it reads every file of $TOLLGATE_SRCDIR/t/fuzz/corpus/
 * NAME (else $srcdir/..., else ./...; NAME is the program's name without
 * its "fuzz_" prefix), in name order, and calls LLVMFuzzerTestOneInput once
 * per file. It prints each file before running it, so a sanitizer report
 * follows the name of the input that caused it, then how many ran. Exit
 * status: 0; 1 when a file or directory cannot be read or no input ran (an
 * empty corpus means a broken checkout or tarball); a harness that breaks
 * a contract aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* read_file: the whole file at path into *data (malloc'd, exactly *size
 * bytes, at least one allocated). Returns 0, or -1 with a message. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n > 0 ? n : 1);
    if (buf == NULL || fread(buf, 1, n, f) != n || ferror(f)) {
        fprintf(stderr, "replay: %s: cannot read %zu bytes\n", path, n);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *size = n;
    return 0;
}

/* run_file: one input. Returns 0 or -1. */
static int run_file(const char *path)
{
    uint8_t *data;
    size_t size;
    if (read_file(path, &data, &size) != 0)
        return -1;
    printf("%s (%zu bytes)\n", path, size);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* run_path: a file, or every regular file of a directory (not recursing,
 * dot files skipped, as libFuzzer does). Adds to *ran. Returns 0 or -1. */
static int run_path(const char *path, size_t *ran)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (run_file(path) != 0)
            return -1;
        (*ran)++;
        return 0;
    }
    struct dirent **names;
    int n = scandir(path, &names, skip_hidden, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        int len = snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
        if (rc == 0 && (len < 0 || (size_t)len >= sizeof(file))) {
            fprintf(stderr, "replay: %s/%s: path too long\n", path, names[i]->d_name);
            rc = -1;
        }
        if (rc == 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(file) != 0)
                rc = -1;
            else
                (*ran)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *name = strncmp(prog, "fuzz_", 5) == 0 ? prog + 5 : prog;
    size_t ran = 0;
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && rc == 0; i++)
            rc = run_path(argv[i], &ran);
    } else {
        const char *top = getenv("TOLLGATE_SRCDIR");
        if (top == NULL || *top == '\0')
            top = getenv("srcdir");
        if (top == NULL || *top == '\0')
            top = ".";
        char dir[4096];
        int len = snprintf(dir, sizeof(dir), "%s/t/fuzz/corpus/%s", top, name);
        if (len < 0 || (size_t)len >= sizeof(dir)) {
            fprintf(stderr, "replay: corpus path too long\n");
            return 1;
        }
        rc = run_path(dir, &ran);
    }
    printf("%s: %zu inputs ran\n", prog, ran);
    if (rc == 0 && ran == 0)
        fprintf(stderr, "replay: no input: an empty corpus is a broken checkout\n");
    return rc == 0 && ran > 0 ? 0 : 1;
}
