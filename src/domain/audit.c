/*
 * audit: see audit.h. The verification recomputes what
 * sql/functions/audit.sql computes, here, with OpenSSL: the database's own
 * sha256() is not trusted to check itself. Row contents (fields joined by
 * "\n", no final newline, UTF-8):
 *
 *   format 1  seq, occurred_at, actor, action, customer_id, before, after
 *   format 2  chain, chain_seq, then the seven fields of format 1
 *
 * hash = SHA-256(prev_hash || content), prev_hash being the hash of the
 * chain's row before (32 zero bytes for its first). A seal's content is
 * "seal", its seq, sealed_at and number of heads, then per head in byte
 * order of the chain "<chain> <chain_seq> <hex hash>", and its hash is
 * chained the same way to the seal before.
 */
#include "domain/audit.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit_log.h"

enum tg_err audit_set_actor(struct tg_ctx *ctx, const char *actor)
{
    ctx->actor = actor;
    return audit_log_set_actor(ctx, actor);
}

enum tg_err audit_seal(struct tg_ctx *ctx, bool *sealed, struct audit_seal *out)
{
    struct audit_seal s;
    enum tg_err e = audit_log_seal(ctx, AUDIT_SEAL_EVERY_SECONDS, sealed, &s);
    if (e != TG_OK || !*sealed)
        return e;
    ctx_log(ctx, LOG_INFO,
            json_pack("{s:s, s:I, s:s, s:I, s:s}", "msg", "audit log sealed", "seal",
                      (json_int_t)s.seq, "sealed_at", s.sealed_at, "chains",
                      (json_int_t)s.chains, "hash", s.hash));
    if (out != NULL)
        *out = s;
    return TG_OK;
}

enum tg_err audit_recent(struct tg_ctx *ctx, const char *customer_id, int n,
                         struct audit_entry **out, size_t *count)
{
    return audit_log_recent(ctx, customer_id, n, out, count);
}

/* ---- verification -------------------------------------------------------------- */

static const uint8_t zero_hash[HASH_SHA256_LEN];

struct verify {
    struct tg_ctx *ctx;
    void (*report)(void *arg, const struct audit_problem *problem);
    void *arg;
    struct audit_summary *sum;
    EVP_MD_CTX *md;
    bool md_failed;

    /* the seal being read (its lines come one head at a time) */
    long long seal;                        /* 0: none yet */
    long long seal_heads, seal_chains;     /* heads read, heads it says it has */
    bool seal_readable;
    uint8_t seal_hash[HASH_SHA256_LEN];    /* stored */
    uint8_t prev_seal_hash[HASH_SHA256_LEN]; /* stored hash of the seal before */

    /* the chain being read */
    char *chain;    /* malloc'ed copy; NULL before the first */
    size_t chain_cap;
    long long last_seq; /* chain_seq of the chain's last row read; 0: none */
    uint8_t last_hash[HASH_SHA256_LEN];
    bool seen_format2, head_seen;
};

/* problem: report one problem (chain NULL: seal seal's; seq 0: the chain
 * as a whole). */
__attribute__((format(printf, 6, 7))) static void problem(struct verify *v, const char *chain,
                                                          long long seq, long long log_seq,
                                                          long long seal, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    v->sum->problems++;
    if (v->report != NULL)
        v->report(v->arg, &(struct audit_problem){chain, seq, log_seq, seal, what});
}

/* ---- digests ---- */

static void md_begin(struct verify *v, const uint8_t prev[HASH_SHA256_LEN])
{
    if (EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(v->md, prev, HASH_SHA256_LEN) != 1)
        v->md_failed = true;
}

/* md_text: s, preceded by "\n" unless first. */
static void md_text(struct verify *v, const char *s, bool first)
{
    if ((!first && EVP_DigestUpdate(v->md, "\n", 1) != 1) ||
        EVP_DigestUpdate(v->md, s, strlen(s)) != 1)
        v->md_failed = true;
}

static void md_number(struct verify *v, long long n, bool first)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", n);
    md_text(v, buf, first);
}

static void md_end(struct verify *v, uint8_t out[HASH_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(v->md, out, &n) != 1 || n != HASH_SHA256_LEN)
        v->md_failed = true;
}

/* ---- seals ---- */

/* seal_end: check the seal being read, now that all its heads are in. */
static void seal_end(struct verify *v)
{
    if (v->seal == 0)
        return;
    uint8_t computed[HASH_SHA256_LEN];
    md_end(v, computed);
    if (v->seal_heads != v->seal_chains)
        problem(v, NULL, 0, 0, v->seal, "says it seals %lld chains but has %lld heads (heads "
                "removed or added)", v->seal_chains, v->seal_heads);
    if (v->seal_readable && CRYPTO_memcmp(computed, v->seal_hash, HASH_SHA256_LEN) != 0)
        problem(v, NULL, 0, 0, v->seal,
                "content does not match its hash (seal or one of its heads altered)");
    memcpy(v->prev_seal_hash, v->seal_hash, HASH_SHA256_LEN);
}

/* seal_begin: the first line of seal l->seal. */
static void seal_begin(struct verify *v, const struct audit_seal_line *l)
{
    if (l->seal > v->seal + 1)
        problem(v, NULL, 0, 0, l->seal, "seal gap: seals %lld..%lld missing (seals removed)",
                v->seal + 1, l->seal - 1);
    else if (l->seal <= v->seal)
        problem(v, NULL, 0, 0, l->seal, "out of order after seal %lld", v->seal);
    if (!l->hashes_ok)
        problem(v, NULL, 0, 0, l->seal, "prev_hash or hash is not 32 bytes (seal altered)");
    else if (CRYPTO_memcmp(l->prev_hash, v->seal == 0 ? zero_hash : v->prev_seal_hash,
                           HASH_SHA256_LEN) != 0)
        problem(v, NULL, 0, 0, l->seal,
                v->seal == 0 ? "prev_hash of the first seal is not 32 zero bytes (seals removed "
                               "or inserted)"
                             : "prev_hash does not link to the seal before (seal removed or "
                               "inserted)");
    v->seal = l->seal;
    v->seal_heads = 0;
    v->seal_chains = l->chains;
    v->seal_readable = l->hashes_ok;
    memcpy(v->seal_hash, l->hash, HASH_SHA256_LEN);
    v->sum->seals++;
    v->sum->last_seal = l->seal;
    snprintf(v->sum->last_seal_at, sizeof(v->sum->last_seal_at), "%.19sZ", l->sealed_at);
    hash_hex(l->hash, HASH_SHA256_LEN, v->sum->last_seal_hash);
    md_begin(v, l->prev_hash);
    md_text(v, "seal", true);
    md_number(v, l->seal, false);
    md_text(v, l->sealed_at, false);
    md_number(v, l->chains, false);
}

static bool on_seal_line(void *arg, const struct audit_seal_line *l)
{
    struct verify *v = arg;
    if (l->seal != v->seal) {
        seal_end(v);
        seal_begin(v, l);
    }
    if (l->chain != NULL) {
        char hex[2 * HASH_SHA256_LEN + 1], line[64];
        v->seal_heads++;
        if (!l->head_hash_ok)
            problem(v, l->chain, 0, 0, l->seal, "seal's head hash is not 32 bytes (seal altered)");
        hash_hex(l->head_hash, HASH_SHA256_LEN, hex);
        snprintf(line, sizeof(line), " %lld ", l->chain_seq);
        md_text(v, l->chain, false);
        md_text(v, line, true);
        md_text(v, hex, true);
    }
    return !v->md_failed;
}

/* ---- chains ---- */

/* chain_end: the chain being read is over: it must have had a head. */
static void chain_end(struct verify *v)
{
    if (v->chain != NULL && !v->head_seen)
        problem(v, v->chain, 0, 0, 0,
                "no head in audit_chains (a chain added by hand, or its head removed)");
}

/* chain_begin: the first item of chain. false when out of memory. */
static bool chain_begin(struct verify *v, const char *chain)
{
    size_t len = strlen(chain) + 1;
    if (len > v->chain_cap) {
        char *p = realloc(v->chain, len);
        if (p == NULL) {
            ctx_fail(v->ctx, TG_ENOMEM, NULL);
            return false;
        }
        v->chain = p;
        v->chain_cap = len;
    }
    memcpy(v->chain, chain, len);
    v->last_seq = 0;
    memset(v->last_hash, 0, HASH_SHA256_LEN);
    v->seen_format2 = v->head_seen = false;
    v->sum->chains++;
    return true;
}

/* row_content_hash: the hash row a should have, by its format. */
static void row_content_hash(struct verify *v, const struct audit_row *a,
                             uint8_t out[HASH_SHA256_LEN])
{
    md_begin(v, a->prev_hash);
    if (a->format != 1) {
        md_text(v, a->chain, true);
        md_number(v, a->chain_seq, false);
    }
    md_number(v, a->seq, a->format == 1);
    const char *const fields[] = {a->occurred_at, a->actor,  a->action,
                                  a->customer_id, a->before, a->after};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        md_text(v, fields[i], false);
    md_end(v, out);
}

/* row_links: a's place in the chain: no gap, and linked to the row before. */
static void row_links(struct verify *v, const struct audit_row *a)
{
    if (a->chain_seq > v->last_seq + 1)
        problem(v, a->chain, a->chain_seq, a->seq, 0, "seq gap: %lld..%lld missing",
                v->last_seq + 1, a->chain_seq - 1);
    else if (a->chain_seq <= v->last_seq)
        problem(v, a->chain, a->chain_seq, a->seq, 0,
                "seq %lld again after %lld (row inserted)", a->chain_seq, v->last_seq);
    if (!a->hashes_ok)
        return;
    if (v->last_seq == 0) {
        /* Row 1 starts the chain; a later first row is a gap already. */
        if (a->chain_seq == 1 && CRYPTO_memcmp(a->prev_hash, zero_hash, HASH_SHA256_LEN) != 0)
            problem(v, a->chain, a->chain_seq, a->seq, 0,
                    "prev_hash of the chain's first row is not 32 zero bytes (row removed or "
                    "inserted at the start)");
    } else if (CRYPTO_memcmp(a->prev_hash, v->last_hash, HASH_SHA256_LEN) != 0) {
        problem(v, a->chain, a->chain_seq, a->seq, 0,
                "prev_hash does not link to seq %lld (row removed or inserted)", v->last_seq);
    }
}

/* row_format: format 1 only for the rows the global chain had before 007,
 * which are the system chain's first rows, numbered as before. */
static void row_format(struct verify *v, const struct audit_row *a)
{
    if (a->format == 2) {
        v->seen_format2 = true;
    } else if (a->format != 1) {
        problem(v, a->chain, a->chain_seq, a->seq, 0, "unknown format %d (row altered)",
                a->format);
    } else if (strcmp(a->chain, AUDIT_SYSTEM_CHAIN) != 0 || v->seen_format2 ||
               a->seq != a->chain_seq) {
        problem(v, a->chain, a->chain_seq, a->seq, 0,
                "format 1 is only for the system chain's first rows, from before the chains "
                "(row altered or inserted)");
    }
}

static void on_row(struct verify *v, const struct audit_row *a)
{
    v->sum->rows++;
    row_links(v, a);
    row_format(v, a);
    if (!a->hashes_ok) {
        problem(v, a->chain, a->chain_seq, a->seq, 0,
                "prev_hash or hash is not 32 bytes (row altered)");
    } else {
        uint8_t computed[HASH_SHA256_LEN];
        row_content_hash(v, a, computed);
        if (CRYPTO_memcmp(computed, a->hash, HASH_SHA256_LEN) != 0)
            problem(v, a->chain, a->chain_seq, a->seq, 0,
                    "content does not match its hash (row altered)");
    }
    v->last_seq = a->chain_seq;
    memcpy(v->last_hash, a->hash, HASH_SHA256_LEN);
}

/* on_sealed_head: a seal's record of the chain's head at it->chain_seq,
 * which comes right after that row, if it is there. */
static void on_sealed_head(struct verify *v, const struct audit_log_item *it)
{
    if (it->seal > v->sum->last_seal)
        problem(v, it->chain, it->chain_seq, 0, it->seal,
                "recorded by seal %lld, which is missing (seals removed)", it->seal);
    if (v->last_seq != it->chain_seq)
        problem(v, it->chain, it->chain_seq, 0, it->seal,
                "sealed by seal %lld, but missing: the chain was cut short, or the row removed",
                it->seal);
    else if (!it->hash_ok || CRYPTO_memcmp(it->hash, v->last_hash, HASH_SHA256_LEN) != 0)
        problem(v, it->chain, it->chain_seq, 0, it->seal,
                "hash differs from what seal %lld recorded (row rewritten after it was sealed)",
                it->seal);
}

/* on_chain_head: the chain's head, after all its rows. */
static void on_chain_head(struct verify *v, const struct audit_log_item *it)
{
    long long head = it->chain_seq, last = v->last_seq;
    v->head_seen = true;
    if (head > last)
        problem(v, it->chain, last + 1, 0, 0,
                "missing: the chain's head is at seq %lld but its last row is seq %lld (rows "
                "removed at the end)",
                head, last);
    else if (head < last)
        problem(v, it->chain, head + 1, 0, 0,
                "past the chain's head at seq %lld, like every row up to seq %lld (rows "
                "inserted, or the head moved back)",
                head, last);
    else if (!it->hash_ok || CRYPTO_memcmp(it->hash, last == 0 ? zero_hash : v->last_hash,
                                           HASH_SHA256_LEN) != 0)
        problem(v, it->chain, head, 0, 0,
                "the chain's head does not match this row's hash (head rewritten)");
}

static bool on_item(void *arg, const struct audit_log_item *it)
{
    struct verify *v = arg;
    if (v->chain == NULL || strcmp(v->chain, it->chain) != 0) {
        if (v->chain == NULL)
            seal_end(v); /* the seals' walk is over */
        chain_end(v);
        if (!chain_begin(v, it->chain))
            return false;
    }
    switch (it->kind) {
    case AUDIT_LOG_ROW: on_row(v, &it->row); break;
    case AUDIT_LOG_SEALED_HEAD: on_sealed_head(v, it); break;
    case AUDIT_LOG_CHAIN_HEAD: on_chain_head(v, it); break;
    }
    return !v->md_failed;
}

enum tg_err audit_verify(struct tg_ctx *ctx,
                         void (*report)(void *arg, const struct audit_problem *problem),
                         void *arg, struct audit_summary *out)
{
    memset(out, 0, sizeof(*out));
    struct verify v = {.ctx = ctx, .report = report, .arg = arg, .sum = out};
    v.md = EVP_MD_CTX_new();
    if (v.md == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    const struct audit_log_walker w = {on_seal_line, on_item, &v};
    enum tg_err e = audit_log_walk(ctx, &w);
    if (e == TG_OK && v.chain == NULL)
        seal_end(&v); /* a log without chains */
    if (e == TG_OK)
        chain_end(&v);
    if (v.md_failed)
        e = ctx_fail(ctx, TG_EINTERNAL, "SHA-256 failed (OpenSSL)");
    EVP_MD_CTX_free(v.md);
    free(v.chain);
    return e;
}
