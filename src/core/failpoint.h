/*
 * failpoint: named places where a test build can kill its own process, to
 * prove that a crash between two phases of a Stripe call loses nothing and
 * charges nothing twice. Built in only with ./configure --enable-failpoints
 * (the test builds); otherwise failpoint() compiles to nothing.
 *
 * TOLLGATE_FAILPOINT=name makes the process _exit(FAILPOINT_EXIT) the
 * first time it reaches failpoint("name").
 */
#ifndef TOLLGATE_FAILPOINT_H
#define TOLLGATE_FAILPOINT_H

#define FAILPOINT_EXIT 86

#ifdef TOLLGATE_FAILPOINTS
/* failpoint_hit: exit at once when name is the configured failpoint. */
void failpoint_hit(const char *name);
#define failpoint(name) failpoint_hit(name)
#else
#define failpoint(name) ((void)0)
#endif

#endif
