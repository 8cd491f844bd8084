/*
 * fuzz.h: what every fuzz harness under t/fuzz shares. A harness defines
 * LLVMFuzzerTestOneInput (libFuzzer's entry point) and nothing else of its
 * own that is global: `make check` links it with replay.c, which runs the
 * files of its corpus through it once, and bench/fuzz links it with
 * clang's libFuzzer, which mutates them. A harness must free everything it
 * allocates, print nothing and never exit on an expected error; it calls
 * fuzz_assert (which aborts) only when a contract of the code under test is
 * broken, so that both drivers report a crash.
 */
#ifndef TOLLGATE_T_FUZZ_H
#define TOLLGATE_T_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* LLVMFuzzerTestOneInput: run the code under test on size bytes at data
 * (not NUL-terminated; may be empty). Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_assert: abort, naming the broken contract, when cond is false. */
#define fuzz_assert(cond)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* fuzz_strndup: a NUL-terminated malloc'd copy of len bytes at data (a NUL
 * byte inside ends the string early, as it would for a C caller); aborts
 * when out of memory, which a fuzzer's inputs never cause. */
static inline char *fuzz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL)
        abort();
    for (size_t i = 0; i < len; i++)
        s[i] = (char)data[i];
    s[len] = '\0';
    return s;
}

/* fuzz_memdup: a malloc'd copy of exactly len bytes (at least one byte is
 * allocated), so that AddressSanitizer catches a read past the end. */
static inline char *fuzz_memdup(const uint8_t *data, size_t len)
{
    char *s = malloc(len > 0 ? len : 1);
    if (s == NULL)
        abort();
    for (size_t i = 0; i < len; i++)
        s[i] = (char)data[i];
    return s;
}

#endif
