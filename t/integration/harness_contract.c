/*
 * harness_contract: one JSON line per answer for the contract test; see
 * harness_contract.h.
 */
#define _GNU_SOURCE
#include "harness_contract.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* text: a JSON string of len bytes at p, each byte that is not part of
 * valid UTF-8 (or is NUL) replaced by U+FFFD, so that hostile request
 * lines can be recorded. */
static json_t *text(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);
    if (s != NULL)
        return s;
    char *clean = malloc(len * 3 + 1);
    if (clean == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) {
            clean[n++] = (char)c;
        } else {
            memcpy(clean + n, "\xef\xbf\xbd", 3); /* U+FFFD */
            n += 3;
        }
    }
    s = json_stringn(clean, n);
    free(clean);
    return s;
}

static json_t *headers(const struct it_response *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->nheaders; i++) {
        const char *h = r->headers[i], *colon = strchr(h, ':');
        if (colon == NULL)
            continue;
        const char *v = colon + 1 + strspn(colon + 1, " \t");
        json_array_append_new(a,
                              json_pack("[o,o]", text(h, (size_t)(colon - h)), text(v, strlen(v))));
    }
    return a;
}

static void append_line(const char *file, const char *line)
{
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    size_t len = strlen(line);
    if (fd < 0 || write(fd, line, len) != (ssize_t)len)
        fprintf(stderr, "it_contract_record: %s: %s\n", file, strerror(errno));
    if (fd >= 0)
        close(fd);
}

void it_contract_record(const char *method, size_t method_len, const char *path, size_t path_len,
                        bool raw, const struct it_response *r)
{
    const char *file = getenv("TOLLGATE_CONTRACT_LOG");
    if (file == NULL || *file == '\0' || r->status == 0)
        return;
    /* The program's name: Criterion's test processes are re-executed as
     * "boxfort-worker", so argv[0] does not tell. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *program = strrchr(exe, '/') != NULL ? strrchr(exe, '/') + 1 : "?";
    json_t *body = json_stringn(r->body != NULL ? r->body : "", r->body_len);
    json_t *rec = json_pack("{s:s, s:s, s:o, s:o, s:b, s:I, s:o, s:o}", "source", "integration",
                            "program", program, "method", text(method, method_len), "path",
                            text(path, path_len), "raw", raw, "status", (json_int_t)r->status,
                            "headers", headers(r), "body", body != NULL ? body : json_null());
    if (rec != NULL && body == NULL)
        json_object_set_new(rec, "body_utf8", json_false());
    char *line = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
    size_t len = line != NULL ? strlen(line) : 0;
    char *nl = line != NULL ? malloc(len + 2) : NULL;
    if (nl != NULL) {
        memcpy(nl, line, len);
        memcpy(nl + len, "\n", 2);
        append_line(file, nl);
    } else {
        fprintf(stderr, "it_contract_record: out of memory\n");
    }
    free(nl);
    free(line);
    json_decref(rec);
}
