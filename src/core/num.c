/*
 * num: see num.h.
 */
#include "core/num.h"

#include <string.h>

bool num_parse(const char *s, size_t len, long long max, long long *out)
{
    if (len == (size_t)-1)
        len = strlen(s);
    if (len == 0 || len > 18)
        return false;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}
