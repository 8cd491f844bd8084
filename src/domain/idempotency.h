/*
 * idempotency: Idempotency-Key for the state-changing routes other than
 * usage (IETF draft "The Idempotency-Key HTTP Header Field"; usage keeps
 * its own record, domain/usage.h). A request with a key claims it in its
 * scope (a customer; for a signup, the client's address and e-mail)
 * before it runs; its successful answer is stored so that a retry with
 * the same key and request gets it again, never a second effect. The same
 * key with another request is refused, and so is a retry while the first
 * still runs. The answer is a record of bytes and numbers this layer does
 * not interpret (status, content type, headers, body): the transport's.
 *
 * Two ways to run (enum idempotency_mode): a database-only route runs in
 * one transaction with its stored answer, so a crash leaves neither; a
 * route that calls Stripe cannot (its call is committed before it is
 * sent, DESIGN.md section 4), so its answer is stored after it, and its
 * Stripe calls take keys derived from the claim (ctx->idempotency_ref):
 * a retry resumes them, and Stripe repeats nothing.
 */
#ifndef TOLLGATE_DOMAIN_IDEMPOTENCY_H
#define TOLLGATE_DOMAIN_IDEMPOTENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"

/* How long records are kept (the draft leaves it to the server; docs/api.md
 * promises 24 hours at least), and an answer holding a secret. */
#define IDEMPOTENCY_RETENTION_SECONDS 86400
#define IDEMPOTENCY_SECRET_SECONDS 600

enum idempotency_mode {
    IDEMPOTENCY_ATOMIC,   /* database only: effect and answer in one transaction */
    IDEMPOTENCY_EXTERNAL, /* calls Stripe mid-request: answer stored after */
};

/* A stored answer: HTTP status, content type, headers as JSON text
 * [[name, value], ...] (NULL: none), body text. Strings borrowed. */
struct idempotency_answer {
    int status;
    const char *content_type;
    const char *headers;
    const char *body;
};

/* One request's claim, between idempotency_start and finish/abandon. */
struct idempotency {
    enum idempotency_mode mode;
    long long id;        /* the record */
    int attempt;         /* which attempt holds it (a takeover counts up) */
    bool active;         /* claimed, not yet finished or abandoned */
    bool in_transaction; /* ATOMIC: BEGIN sent */
};

/* idempotency_scope_customer, idempotency_scope_signup: the scope of a key
 * of customer_id (uuid text), or of a signup from client address with
 * e-mail (lowered), in ctx's arena. NULL when out of memory. */
const char *idempotency_scope_customer(struct tg_ctx *ctx, const char *customer_id);
const char *idempotency_scope_signup(struct tg_ctx *ctx, const char *address, const char *email);

/* idempotency_start: claim key (1..255 visible ASCII, unquoted) in scope
 * for route, the request being hash (SHA-256 of what makes it "the same
 * request"). TG_OK and *replayed false: run the route, then
 * idempotency_finish or idempotency_abandon (for ATOMIC, a transaction is
 * open). TG_OK and *replayed true: *answer is the first answer (borrowed
 * from ctx's arena); nothing to run. Errors: TG_EIDEMPOTENCYREUSE (another
 * request had this key), TG_EIDEMPOTENCYBUSY with a retry-after (the first
 * still runs), TG_EIDEMPOTENCYGONE (its answer held a secret, since
 * purged), TG_EDB. */
enum tg_err idempotency_start(struct tg_ctx *ctx, const char *scope, const char *key,
                              const char *route, const uint8_t hash[HASH_SHA256_LEN],
                              enum idempotency_mode mode, struct idempotency *idem, bool *replayed,
                              struct idempotency_answer *answer)
    __attribute__((warn_unused_result));

/* idempotency_finish: store answer (borrowed) for idem's request, its body
 * kept only IDEMPOTENCY_SECRET_SECONDS when secret, and for ATOMIC commit
 * the transaction with it. On an error everything of the request is
 * rolled back (ATOMIC) or the claim given up: TG_EDB. */
enum tg_err idempotency_finish(struct tg_ctx *ctx, struct idempotency *idem,
                               const struct idempotency_answer *answer, bool secret)
    __attribute__((warn_unused_result));

/* idempotency_abandon: the request failed: roll its transaction back
 * (ATOMIC) and give the claim up, so that a retry runs afresh. Keeps
 * ctx->error as it was; best effort (a lost connection rolls back by
 * itself, and an unreleased claim is taken over after its lease). No-op
 * when idem is not active. */
void idempotency_abandon(struct tg_ctx *ctx, struct idempotency *idem);

/* idempotency_purge: tollgate-worker's pass: records older than
 * IDEMPOTENCY_RETENTION_SECONDS and secret bodies older than
 * IDEMPOTENCY_SECRET_SECONDS go, at most limit of each; *n rows. TG_EDB. */
enum tg_err idempotency_purge(struct tg_ctx *ctx, int limit, long long *n)
    __attribute__((warn_unused_result));

#endif
