/*
 * audit: who changes billing state, and the proof that the record of it
 * is whole (docs/audit-log.md). The audit log itself is written by
 * PostgreSQL triggers (sql/functions/audit.sql: append-only, one hash
 * chain per customer and one "system" chain, sealed by tollgate-worker);
 * they record the database session's actor, which the work sets here. An
 * API request's actor ("api_key:<prefix>") is set by authentication, in
 * the same round trip. audit_verify() recomputes every chain and seal
 * independently of the database (OpenSSL), for `tollgatectl verify-audit`.
 */
#ifndef TOLLGATE_AUDIT_H
#define TOLLGATE_AUDIT_H

#include <stdbool.h>

#include "core/ctx.h"
#include "core/hash.h"
#include "store/audit_log.h"

/* How often tollgate-worker seals the chains that changed, at most. */
#define AUDIT_SEAL_EVERY_SECONDS 60

/* The name of the chain of rows without a customer. */
#define AUDIT_SYSTEM_CHAIN "system"

/* audit_set_actor: set the actor of ctx's work, and of the database
 * session, to actor, e.g. "signup", "github:<delivery>",
 * "stripe:<evt_...>", "worker", "operator:<login>"; at most 200 bytes, no
 * line breaks. Errors: TG_EDB. */
enum tg_err audit_set_actor(struct tg_ctx *ctx, const char *actor)
    __attribute__((warn_unused_result));

/* audit_seal: seal the heads of the chains that changed since the last
 * seal, unless that seal is younger than AUDIT_SEAL_EVERY_SECONDS or
 * another process is sealing; a seal made is logged (its hash, for
 * keeping outside the database). *sealed says whether one was made, *out
 * (arena-owned strings; may be NULL) is it. Errors: TG_EDB. */
enum tg_err audit_seal(struct tg_ctx *ctx, bool *sealed, struct audit_seal *out)
    __attribute__((warn_unused_result));

/* audit_recent: customer_id's newest n (1..1000) audit rows, newest
 * first; *out (*count) arena-owned. Errors: TG_EDB, TG_ENOMEM. */
enum tg_err audit_recent(struct tg_ctx *ctx, const char *customer_id, int n,
                         struct audit_entry **out, size_t *count)
    __attribute__((warn_unused_result));

/* One thing wrong with the log, as audit_verify reports it. */
struct audit_problem {
    const char *chain; /* the chain concerned, or NULL (a seal) */
    long long seq;     /* the row's place in the chain; 0: the chain as a whole */
    long long log_seq; /* the row's seq in the whole log; 0: unknown */
    long long seal;    /* the seal concerned; 0: none */
    const char *what;  /* one line of English, borrowed for the callback */
};

/* What audit_verify went through. */
struct audit_summary {
    long long rows, chains, seals, problems;
    long long last_seal;                    /* 0: no seal yet */
    char last_seal_at[40];                  /* RFC 3339 UTC; "" without a seal */
    char last_seal_hash[2 * HASH_SHA256_LEN + 1]; /* hex; "" without a seal */
};

/* audit_verify: recompute the whole log in one snapshot, in C: every
 * seal's hash and its link to the seal before; then in every chain each
 * row's hash (by its format: 1 for the global chain's rows from before
 * the chains, 2 after), its link to the row before, gaps in its
 * numbering, rows whose seq no seal or head accounts for, each seal's
 * record of the chain's head against the row it names, and the chain's
 * head against its last row. Calls report(arg, problem) for each problem
 * found (report may be NULL) and fills *out. Errors: TG_EDB, TG_EINTERNAL
 * (OpenSSL failed), TG_ENOMEM; a problem found is not an error. */
enum tg_err audit_verify(struct tg_ctx *ctx,
                         void (*report)(void *arg, const struct audit_problem *problem),
                         void *arg, struct audit_summary *out)
    __attribute__((warn_unused_result));

#endif
