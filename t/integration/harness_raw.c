/*
 * harness_raw: raw HTTP requests to the stack's nginx and the worker pids;
 * see harness_raw.h.
 */
#define _GNU_SOURCE
#include "harness_raw.h"

#include "harness_contract.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_MAX_ANSWER (1 << 20)

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* connect_stack: a socket connected to TOLLGATE_URL (http://127.0.0.1:port). */
static int connect_stack(const char *src)
{
    const char *url = it_env("TOLLGATE_URL");
    const char *colon = strrchr(url, ':');
    cr_assert_not_null(colon, "TOLLGATE_URL %s has no port", url);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    cr_assert(port > 0 && port < 65536 && (*end == '\0' || *end == '/'), "TOLLGATE_URL %s", url);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    if (src != NULL) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        inet_pton(AF_INET, src, &from.sin_addr);
        cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0, "bind %s: %s", src,
                     strerror(errno));
    }
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                 strerror(errno));
    return fd;
}

/* dechunk: decode the chunked body of len bytes at p in place; returns
 * its decoded length (what arrived of it). */
static size_t dechunk(char *p, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        char *end;
        unsigned long n = strtoul(p + in, &end, 16);
        char *crlf = memmem(end, len - (size_t)(end - p), "\r\n", 2);
        if (crlf == NULL || n == 0)
            break;
        in = (size_t)(crlf + 2 - p);
        if (n > len - in)
            n = len - in;
        memmove(p + out, p + in, n);
        out += n;
        in += n + 2;
    }
    return out;
}

/* parse: the first answer in buf (len bytes) into out; -1 when none. */
static int parse(char *buf, size_t len, struct it_response *out)
{
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || end == NULL)
        return -1;
    out->status = strtol(buf + 9, NULL, 10);
    long long clen = -1;
    bool chunked = false;
    for (char *line = strstr(buf, "\r\n") + 2; line < end;) {
        char *eol = strstr(line, "\r\n");
        if (out->nheaders < IT_MAX_HEADERS)
            out->headers[out->nheaders++] = strndup(line, (size_t)(eol - line));
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoll(line + 15, NULL, 10);
        if (strncasecmp(line, "Transfer-Encoding: chunked", 26) == 0)
            chunked = true;
        line = eol + 2;
    }
    size_t body = (size_t)(end + 4 - buf), blen = len - body;
    if (clen >= 0 && (size_t)clen < blen)
        blen = (size_t)clen;
    if (chunked)
        blen = dechunk(buf + body, blen);
    out->body = strndup(buf + body, blen);
    out->body_len = blen;
    return out->body != NULL ? 0 : -1;
}

/* record: the answer for the contract test, with the request line's
 * method and target as sent (any bytes, up to the first CR or LF). */
static void record(const char *req, size_t len, const struct it_response *out)
{
    const char *eol = memchr(req, '\n', len);
    size_t line = eol != NULL ? (size_t)(eol - req) : len;
    if (line > 0 && req[line - 1] == '\r')
        line--;
    const char *sp = memchr(req, ' ', line);
    size_t mlen = sp != NULL ? (size_t)(sp - req) : line;
    const char *target = sp != NULL ? sp + 1 : req + line;
    size_t tlen = (size_t)(req + line - target);
    const char *sp2 = memchr(target, ' ', tlen);
    if (sp2 != NULL)
        tlen = (size_t)(sp2 - target);
    it_contract_record(req, mlen, target, tlen, true, out);
}

int it_raw(const char *req, size_t len, const char *src, struct it_response *out)
{
    memset(out, 0, sizeof(*out));
    int fd = connect_stack(src);
    long long deadline = now_ms() + IT_RAW_TIMEOUT_MS;
    /* nginx may answer (413, 400) before the request is all sent and then
     * close: a failed send is no failure, the answer is what counts. */
    for (size_t sent = 0; sent < len;) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
            break;
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    char *buf = malloc(RAW_MAX_ANSWER + 1);
    cr_assert_not_null(buf);
    size_t got = 0;
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            fprintf(stderr, "it_raw: no end of answer within %d ms\n", IT_RAW_TIMEOUT_MS);
            break;
        }
        ssize_t n = recv(fd, buf + got, RAW_MAX_ANSWER - got, 0);
        if (n <= 0 || (got += (size_t)n) == RAW_MAX_ANSWER)
            break;
    }
    close(fd);
    buf[got] = '\0';
    int rc = parse(buf, got, out);
    if (rc != 0) {
        it_response_free(out);
        memset(out, 0, sizeof(*out));
        out->body = strdup("");
    }
    free(buf);
    if (rc == 0)
        record(req, len, out);
    return rc;
}

static int pid_order(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

size_t it_workers(pid_t *pids)
{
    char path[4096], master[32] = "", out[4096];
    snprintf(path, sizeof(path), "%s/tollgate-fcgi.pid", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    if (fgets(master, sizeof(master), f) == NULL)
        master[0] = '\0';
    fclose(f);
    master[strcspn(master, "\n")] = '\0';
    const char *argv[] = {"pgrep", "-P", master, NULL};
    cr_assert_eq(it_run(argv, NULL, out, sizeof(out)), 0, "pgrep -P %s: %s", master, out);
    size_t n = 0;
    for (char *p = out; *p != '\0' && n < IT_MAX_WORKERS;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[n++] = (pid_t)v;
        p = end + strspn(end, "\n ");
    }
    qsort(pids, n, sizeof(*pids), pid_order);
    return n;
}
