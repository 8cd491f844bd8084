/*
 * webhook_send: the HTTP side of the webhooks tollgate sends to the
 * product (docs/outbound-webhooks.md): checking an endpoint's URL when it
 * is registered, and POSTing one signed event to it with libcurl under
 * connect and total timeouts, reading at most WEBHOOK_SEND_MAX_RESPONSE
 * bytes of the answer. Only tollgate-worker sends; a slow endpoint costs
 * it at most the total timeout per attempt and never delays a request.
 */
#ifndef TOLLGATE_WEBHOOK_SEND_H
#define TOLLGATE_WEBHOOK_SEND_H

#include <stdbool.h>
#include <stddef.h>

/* The most of an endpoint's answer that is read; the rest is not waited
 * for (the status alone decides). */
#define WEBHOOK_SEND_MAX_RESPONSE 65536
/* The longest URL an endpoint may have, in bytes. */
#define WEBHOOK_SEND_MAX_URL 2048

struct webhook_send;

/* webhook_send_open: a sender (one libcurl handle, reused across
 * deliveries). NULL when out of memory. Free with webhook_send_free. */
struct webhook_send *webhook_send_open(void) __attribute__((warn_unused_result));
void webhook_send_free(struct webhook_send *s);

/* webhook_send_check_url: url is a fit endpoint: at most
 * WEBHOOK_SEND_MAX_URL bytes of printable ASCII, parsed by libcurl's URL
 * API, scheme https -- or http when allow_http is set and the host is a
 * loopback address (127.0.0.0/8, ::1, localhost) -- with a host and
 * without user or password. Returns true, else false with the reason in
 * why (whylen bytes). */
bool webhook_send_check_url(const char *url, bool allow_http, char *why, size_t whylen);

/* What one attempt came to. */
struct webhook_send_result {
    long status;      /* the endpoint's HTTP status; 0 when it gave none */
    bool delivered;   /* status 2xx */
    char error[160];  /* why not delivered, for operators ("" when delivered) */
};

/* webhook_send_post: POST body (len bytes, JSON) to url with headers
 * Content-Type: application/json, Tollgate-Signature: signature and
 * Tollgate-Event-Id: event_id, waiting at most connect_ms for the
 * connection and total_ms for the whole; redirects are not followed. The
 * outcome in *out. */
void webhook_send_post(struct webhook_send *s, const char *url, const char *signature,
                       const char *event_id, const char *body, size_t len, long connect_ms,
                       long total_ms, struct webhook_send_result *out);

#endif
