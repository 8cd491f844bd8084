/*
 * audit_log: the audit log (sql/functions/audit.sql, docs/audit-log.md).
 * The log is written by PostgreSQL triggers with the database session's
 * actor, which the code sets here; each customer's rows form one hash
 * chain, rows without a customer the "system" chain, and tollgate-worker
 * seals the chains' heads now and then. Here the log is also read: a
 * customer's newest rows, and the whole log, seals and heads, for
 * verify-audit (domain/audit.h), streamed to callbacks so that its size
 * does not matter.
 */
#ifndef TOLLGATE_STORE_AUDIT_LOG_H
#define TOLLGATE_STORE_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"

/* One row of the log with every field its hash covers, each as the
 * content formula writes it (sql/functions/audit.sql). Strings are
 * borrowed for the length of the callback that gets them. */
struct audit_row {
    long long seq;           /* its place in the whole log (gaps allowed) */
    const char *chain;       /* "system" or the customer's id */
    long long chain_seq;     /* 1, 2, ... within the chain */
    int format;              /* 1: the global chain's rows from before 007; 2: chained */
    const char *occurred_at; /* RFC 3339 UTC with microseconds */
    const char *actor;
    const char *action;
    const char *customer_id; /* "" when none */
    const char *before;      /* jsonb text; "null" when none */
    const char *after;
    bool hashes_ok;          /* prev_hash and hash are 32 bytes each (else both zero) */
    uint8_t prev_hash[HASH_SHA256_LEN];
    uint8_t hash[HASH_SHA256_LEN];
};

/* What the walk of the chains hands over, chain by chain. */
enum audit_log_item_kind {
    AUDIT_LOG_ROW,         /* a row of the chain */
    AUDIT_LOG_SEALED_HEAD, /* a seal's record of the chain's head, right after that row */
    AUDIT_LOG_CHAIN_HEAD,  /* the chain's head (audit_chains), after everything else */
};

struct audit_log_item {
    enum audit_log_item_kind kind;
    const char *chain;
    long long chain_seq; /* ROW: the row's; SEALED_HEAD: the seq sealed; CHAIN_HEAD: the head's */
    long long seal;      /* SEALED_HEAD: the seal's seq; else 0 */
    bool hash_ok;        /* hash is 32 bytes (else zero) */
    uint8_t hash[HASH_SHA256_LEN]; /* SEALED_HEAD, CHAIN_HEAD: the hash recorded */
    struct audit_row row;          /* ROW only */
};

/* One head recorded by a seal, with the seal's own columns; a seal
 * without heads comes as one line with chain NULL. */
struct audit_seal_line {
    long long seal;        /* 1, 2, ... */
    const char *sealed_at; /* RFC 3339 UTC with microseconds */
    long long chains;      /* the number of heads the seal says it has */
    bool hashes_ok;        /* prev_hash and hash are 32 bytes each */
    uint8_t prev_hash[HASH_SHA256_LEN];
    uint8_t hash[HASH_SHA256_LEN];
    const char *chain;     /* NULL: no head */
    long long chain_seq;
    bool head_hash_ok;
    uint8_t head_hash[HASH_SHA256_LEN];
};

/* The callbacks of audit_log_walk; each returns false to stop the walk. */
struct audit_log_walker {
    /* Every seal's lines, by seal and then chain in byte order. */
    bool (*seal_line)(void *arg, const struct audit_seal_line *line);
    /* Then, chain by chain in byte order of the chain: its rows by
     * chain_seq, each followed by the sealed heads that name its place
     * (a sealed head whose row is missing comes where the row would
     * be), and last the chain's head. */
    bool (*item)(void *arg, const struct audit_log_item *item);
    void *arg;
};

/* A seal just made (audit_log_seal). */
struct audit_seal {
    long long seq;
    const char *sealed_at; /* RFC 3339 UTC with microseconds; arena-owned */
    long long chains;      /* heads sealed */
    const char *hash;      /* hex; arena-owned */
};

/* One of a customer's audit rows as operators list them (no hashes);
 * strings borrowed from the context's arena. */
struct audit_entry {
    long long seq;           /* its place in the whole log */
    const char *occurred_at; /* RFC 3339 UTC with microseconds */
    const char *actor;
    const char *action;
};

/* audit_log_set_actor: set the session's actor (tollgate.actor). TG_EDB. */
enum tg_err audit_log_set_actor(struct tg_ctx *ctx, const char *actor)
    __attribute__((warn_unused_result));

/* audit_log_walk: hand the whole log to w's callbacks, seals first, all
 * from one REPEATABLE READ READ ONLY snapshot, in batches of 1000 rows
 * through cursors (memory does not grow with the log). The fields come
 * as UTF-8 whatever the session's client_encoding. TG_EDB;
 * TG_EINTERNAL when a callback stopped the walk. */
enum tg_err audit_log_walk(struct tg_ctx *ctx, const struct audit_log_walker *w)
    __attribute__((warn_unused_result));

/* audit_log_seal: seal the heads of the chains that changed since the
 * last seal, unless that seal is younger than every_seconds or another
 * process is sealing (audit_seal() in SQL). *sealed says whether a seal
 * was made; *out (arena-owned strings) is it. TG_EDB. */
enum tg_err audit_log_seal(struct tg_ctx *ctx, long every_seconds, bool *sealed,
                           struct audit_seal *out) __attribute__((warn_unused_result));

/* audit_log_recent: customer_id's newest n (1..1000) rows, newest first,
 * into *out (*count of them, arena-owned); rows from before the chains
 * (in the system chain) included. TG_EDB, TG_ENOMEM. */
enum tg_err audit_log_recent(struct tg_ctx *ctx, const char *customer_id, int n,
                             struct audit_entry **out, size_t *count)
    __attribute__((warn_unused_result));

#endif
