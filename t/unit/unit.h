/*
 * unit.h: what every unit test program shares.
 *
 * leak_check: under --enable-sanitizers a leaking test must fail, but
 * Criterion ignores the exit status LeakSanitizer gives a test's process.
 * So each suite ends its tests with a leak check that aborts, which
 * Criterion reports as a crash in teardown and turns into a failing exit
 * status. A no-op in builds without LeakSanitizer. Use it as
 * TestSuite(name, .fini = leak_check).
 */
#ifndef TOLLGATE_T_UNIT_H
#define TOLLGATE_T_UNIT_H

#include <stdio.h>
#include <stdlib.h>

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static inline void leak_check(void)
{
    if (__lsan_do_recoverable_leak_check != NULL && __lsan_do_recoverable_leak_check() != 0) {
        fputs("memory leaked: see the LeakSanitizer report above\n", stderr);
        abort();
    }
}

#endif
