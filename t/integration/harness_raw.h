/*
 * harness_raw: requests libcurl will not send -- a NUL in the request line,
 * two Content-Length headers, Content-Length with Transfer-Encoding, a
 * header of 64 KiB -- written verbatim to the stack's nginx over a plain
 * TCP socket, and the answer read back with a deadline, so that a hang is a
 * failure rather than a stuck test. Also the stack's FastCGI workers, to
 * tell that none was restarted by what a test sent.
 */
#ifndef TOLLGATE_IT_HARNESS_RAW_H
#define TOLLGATE_IT_HARNESS_RAW_H

#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define IT_RAW_TIMEOUT_MS 15000
#define IT_MAX_WORKERS 64

/* it_raw: send len bytes of req verbatim to TOLLGATE_URL's host and port
 * from source address src ("127.0.0.2"; NULL: any), then read until nginx
 * closes the connection or IT_RAW_TIMEOUT_MS pass. Parses the first answer
 * into *out (always initialized; it_response_free it): status, headers,
 * body (up to Content-Length when given). Returns 0, or -1 when nothing
 * parseable came back in time (out->status 0). */
int it_raw(const char *req, size_t len, const char *src, struct it_response *out);

/* it_workers: the pids of the stack's FastCGI workers (the children of the
 * master in TOLLGATE_TEST_DIR/tollgate-fcgi.pid), sorted, at most
 * IT_MAX_WORKERS. Returns how many. */
size_t it_workers(pid_t *pids);

#endif
