/*
 * audit: tollgatectl verify-audit; see ctl.h. The audit log is a hash
 * chain (sql/005_operations.sql): row n stores hash = SHA-256(prev_hash ||
 * audit_content(row n)), prev_hash being row n-1's hash (32 zero bytes for
 * row 1), and audit_head holds the last seq and hash. This recomputes every
 * hash here, with OpenSSL, from the stored columns: the database's own
 * sha256() is not trusted to check itself. The rows are streamed through a
 * cursor, 1000 at a time, inside one REPEATABLE READ transaction, so the
 * head and the rows come from the same snapshot however large the log is.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "ctl/ctl.h"

#define SYNOPSIS "[--json]"
#define FETCH_ROWS "1000"
#define MAX_LISTED 1000 /* problems listed; the rest are only counted */

/* The columns audit_content() joins, as it formats them, then the chain. */
static const char declare_sql[] =
    "DECLARE audit_rows NO SCROLL CURSOR FOR"
    " SELECT seq::text,"
    "        to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    "        actor, action, coalesce(customer_id::text, ''),"
    "        coalesce(before::text, 'null'), coalesce(after::text, 'null'),"
    "        encode(prev_hash, 'hex'), encode(hash, 'hex')"
    "   FROM audit_log ORDER BY audit_log.seq"; /* the column, not the text above */

struct verify {
    FILE *out;
    json_t *problems; /* --json: the listed problems; NULL otherwise */
    long long rows, problem_count;
    long long last_seq;                 /* 0 before the first row */
    uint8_t last_hash[HASH_SHA256_LEN]; /* the stored hash of the last row */
    EVP_MD_CTX *md;
};

/* problem: report one broken row (seq 0: the log as a whole). */
__attribute__((format(printf, 3, 4))) static void problem(struct verify *v, long long seq,
                                                          const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (v->problem_count++ >= MAX_LISTED)
        return;
    if (v->problems != NULL)
        json_array_append_new(v->problems,
                              json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "problem", what));
    else if (seq > 0)
        fprintf(v->out, "seq %lld: %s\n", seq, what);
    else
        fprintf(v->out, "%s\n", what);
}

/* unhex: exactly 2 * HASH_SHA256_LEN hex digits into out. */
static bool unhex(const char *hex, uint8_t out[HASH_SHA256_LEN])
{
    if (strlen(hex) != 2 * HASH_SHA256_LEN)
        return false;
    for (size_t i = 0; i < HASH_SHA256_LEN; i++) {
        int b = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
        int c = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
        if (b < 0 || c < 0)
            return false;
        out[i] = (uint8_t)(b << 4 | c);
    }
    return true;
}

/* content_hash: SHA-256(prev || field[0] "\n" field[1] ... "\n" field[6]). */
static bool content_hash(struct verify *v, const uint8_t prev[HASH_SHA256_LEN],
                         const char *const field[7], uint8_t out[HASH_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(v->md, prev, HASH_SHA256_LEN) != 1)
        return false;
    for (int i = 0; i < 7; i++)
        if ((i > 0 && EVP_DigestUpdate(v->md, "\n", 1) != 1) ||
            EVP_DigestUpdate(v->md, field[i], strlen(field[i])) != 1)
            return false;
    return EVP_DigestFinal_ex(v->md, out, &n) == 1 && n == HASH_SHA256_LEN;
}

/* check_row: row i of a FETCH; false when the row cannot be checked at all. */
static bool check_row(struct verify *v, PGresult *r, int i)
{
    const char *field[7];
    for (int f = 0; f < 7; f++)
        field[f] = PQgetvalue(r, i, f);
    char *end;
    long long seq = strtoll(field[0], &end, 10);
    uint8_t prev[HASH_SHA256_LEN], stored[HASH_SHA256_LEN], computed[HASH_SHA256_LEN];
    if (*end != '\0' || !unhex(PQgetvalue(r, i, 7), prev) || !unhex(PQgetvalue(r, i, 8), stored)) {
        fprintf(stderr, "tollgatectl: audit_log row %s: unreadable columns\n", field[0]);
        return false;
    }
    if (!content_hash(v, prev, field, computed)) {
        fprintf(stderr, "tollgatectl: SHA-256 failed (OpenSSL)\n");
        return false;
    }
    v->rows++;

    if (seq != v->last_seq + 1) {
        if (seq > v->last_seq + 1)
            problem(v, seq, "seq gap: %lld..%lld missing", v->last_seq + 1, seq - 1);
        else
            problem(v, seq, "seq out of order after %lld", v->last_seq);
    }
    if (v->last_seq == 0) {
        /* Row 1 starts the chain; a later first row is already a gap. */
        static const uint8_t zero[HASH_SHA256_LEN];
        if (seq == 1 && CRYPTO_memcmp(prev, zero, HASH_SHA256_LEN) != 0)
            problem(v, seq,
                    "prev_hash of the first row is not 32 zero bytes "
                    "(row removed or inserted at the start)");
    } else if (CRYPTO_memcmp(prev, v->last_hash, HASH_SHA256_LEN) != 0) {
        problem(v, seq, "prev_hash does not link to row %lld (row removed or inserted)",
                v->last_seq);
    }
    if (CRYPTO_memcmp(computed, stored, HASH_SHA256_LEN) != 0)
        problem(v, seq, "content does not match its hash (row altered)");

    v->last_seq = seq;
    memcpy(v->last_hash, stored, HASH_SHA256_LEN);
    return true;
}

/* walk: every row through the cursor, then the head. 0, or -1 on a database
 * or OpenSSL error (printed). */
static int walk(PGconn *db, struct verify *v)
{
    PGresult *r = ctl_query(db, declare_sql, 0, NULL);
    if (r == NULL)
        return -1;
    PQclear(r);
    for (;;) {
        r = ctl_query(db, "FETCH " FETCH_ROWS " FROM audit_rows", 0, NULL);
        if (r == NULL)
            return -1;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++)
            if (!check_row(v, r, i)) {
                PQclear(r);
                return -1;
            }
        PQclear(r);
        if (n == 0)
            break;
    }
    r = ctl_query(db, "SELECT seq::text, encode(hash, 'hex') FROM audit_head", 0, NULL);
    if (r == NULL)
        return -1;
    uint8_t head[HASH_SHA256_LEN];
    if (PQntuples(r) != 1 || !unhex(PQgetvalue(r, 0, 1), head)) {
        problem(v, 0, "audit_head is missing or unreadable");
    } else if (strtoll(PQgetvalue(r, 0, 0), NULL, 10) != v->last_seq ||
               CRYPTO_memcmp(head, v->last_hash, HASH_SHA256_LEN) != 0) {
        problem(v, 0,
                "audit_head does not match the last row (rows removed at the end): "
                "head seq %s, last row seq %lld",
                PQgetvalue(r, 0, 0), v->last_seq);
    }
    PQclear(r);
    return 0;
}

int ctl_verify_audit(struct ctl *ctx, int argc, char **argv)
{
    bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (ctl_wants_help(argc, argv) || (argc != 1 && !as_json))
        return ctl_usage("verify-audit", SYNOPSIS, ctl_wants_help(argc, argv));
    PGconn *db = ctx->db;
    /* The fields must reach us as the UTF-8 the hashes were computed over. */
    if (PQsetClientEncoding(db, "UTF8") != 0) {
        fprintf(stderr, "tollgatectl: cannot set client_encoding UTF8: %s", PQerrorMessage(db));
        return CTL_FAIL;
    }
    struct verify v = {
        .out = ctx->out, .problems = as_json ? json_array() : NULL, .md = EVP_MD_CTX_new()};
    int rc = CTL_FAIL;
    PGresult *r = NULL;
    if (v.md == NULL || (as_json && v.problems == NULL))
        goto out;
    r = ctl_query(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (r == NULL)
        goto out;
    PQclear(r);
    int walked = walk(db, &v);
    PQclear(PQexec(db, walked == 0 ? "COMMIT" : "ROLLBACK"));
    if (walked != 0)
        goto out;

    char head[2 * HASH_SHA256_LEN + 1];
    hash_hex(v.last_hash, HASH_SHA256_LEN, head);
    if (as_json) {
        ctl_print_json(ctx->out,
                       json_pack("{s:I, s:b, s:s, s:I, s:O}", "rows", (json_int_t)v.rows, "intact",
                                 v.problem_count == 0, "head", head, "problem_count",
                                 (json_int_t)v.problem_count, "problems", v.problems));
    } else if (v.problem_count == 0) {
        fprintf(ctx->out, "audit log: %lld rows, chain intact, head %s\n", v.rows, head);
    } else {
        if (v.problem_count > MAX_LISTED)
            fprintf(ctx->out, "... and %lld more\n", v.problem_count - MAX_LISTED);
        fprintf(ctx->out, "audit log: %lld rows, %lld problem%s: the chain is broken\n", v.rows,
                v.problem_count, v.problem_count == 1 ? "" : "s");
    }
    rc = v.problem_count == 0 ? CTL_OK : CTL_FAIL;
out:
    json_decref(v.problems);
    EVP_MD_CTX_free(v.md);
    return rc;
}
