/*
 * num: strict parsing of decimal numbers from untrusted text (headers,
 * query strings, signatures): ASCII digits only -- no sign, no spaces, no
 * "0x" -- which strtol alone would let through.
 */
#ifndef TOLLGATE_NUM_H
#define TOLLGATE_NUM_H

#include <stdbool.h>
#include <stddef.h>

/* num_parse: s[0..len) (len = strlen(s) when len is (size_t)-1) as a
 * decimal of at most 18 digits, in [0, max]. Returns false otherwise. */
bool num_parse(const char *s, size_t len, long long max, long long *out)
    __attribute__((warn_unused_result));

#endif
