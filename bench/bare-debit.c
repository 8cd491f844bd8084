/*
 * bare-debit: the floor that bench/run measures tollgate's POST /api/v1/usage
 * against. A pre-forked FastCGI pool, like tollgate-fcgi, that does the least
 * a metered debit can do: take the API key from "Authorization: Bearer", hash
 * it with SHA-256, and run ONE prepared statement that finds the key, takes
 * one credit and writes a ledger row; then answer 201 with a small JSON body
 * (402 when the balance is 0, 401 for an unknown key, 400 without an
 * Idempotency-Key). No validation beyond that, no idempotency, no logging:
 * whatever tollgate spends above this is the cost of its features and its
 * layers. Its tables live in the schema "bare" (bench/run creates and fills
 * them), so it does not depend on tollgate's schema.
 *
 *   bare-debit -s SOCKET -d CONNINFO [-w WORKERS] [-b BACKLOG]
 *   bare-debit -p              print the statement and exit
 *
 * The master opens the unix socket, forks WORKERS children (default 4) that
 * share it, each with its own FCGX_Accept_r loop, libpq connection and
 * prepared statement, and waits. SIGTERM or SIGINT: the master passes it on,
 * each child finishes the request it is serving and exits, the master removes
 * the socket and exits 0. A child that dies otherwise stops the whole pool
 * (exit 1), so bench/run sees a crash instead of a quietly smaller pool.
 * Not part of `make`: bench/run builds it with cc and pkg-config.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcgiapp.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_KEY_LEN 256 /* longer Authorization values are refused unhashed */
#define MAX_IKEY_LEN 255

/* The debit: key lookup, conditional decrement, ledger row, in one
 * statement. Always one row: whether the key exists, and the balance after
 * the debit (NULL when nothing was debited). */
static const char debit_sql[] =
    "WITH k AS (SELECT customer_id FROM bare.api_keys WHERE key_hash = $1),"
    " d AS (UPDATE bare.customers c SET balance = c.balance - 1 FROM k"
    "       WHERE c.id = k.customer_id AND c.balance > 0 RETURNING c.id, c.balance),"
    " l AS (INSERT INTO bare.ledger (customer_id, amount, balance_after, reference)"
    "       SELECT id, -1, balance, $2 FROM d RETURNING balance_after)"
    " SELECT EXISTS (SELECT 1 FROM k), (SELECT balance_after FROM l)";

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

/* reply: a complete FastCGI response with a JSON body. */
static void reply(FCGX_Request *r, int status, const char *reason, const char *body)
{
    FCGX_FPrintF(r->out, "Status: %d %s\r\nContent-Type: application/json\r\n\r\n%s", status,
                 reason, body);
}

struct child {
    PGconn *db;
    EVP_MD *sha256; /* fetched once per process */
    EVP_MD_CTX *md;
};

/* child_connect: open the connection and prepare the debit; 0 or -1. */
static int child_connect(struct child *c, const char *conninfo)
{
    c->db = PQconnectdb(conninfo);
    if (PQstatus(c->db) != CONNECTION_OK) {
        fprintf(stderr, "bare-debit: connect: %s", PQerrorMessage(c->db));
        return -1;
    }
    PGresult *res = PQprepare(c->db, "bare_debit", debit_sql, 2, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bare-debit: prepare: %s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/* serve: one request. */
static void serve(struct child *c, FCGX_Request *r)
{
    static const char bearer[] = "Bearer ";
    const char *auth = FCGX_GetParam("HTTP_AUTHORIZATION", r->envp);
    const char *ikey = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", r->envp);
    if (auth == NULL || strncasecmp(auth, bearer, sizeof(bearer) - 1) != 0 ||
        strlen(auth + sizeof(bearer) - 1) > MAX_KEY_LEN) {
        reply(r, 401, "Unauthorized", "{\"error\":\"unauthorized\"}");
        return;
    }
    if (ikey == NULL || ikey[0] == '\0' || strlen(ikey) > MAX_IKEY_LEN) {
        reply(r, 400, "Bad Request", "{\"error\":\"idempotency_key\"}");
        return;
    }
    const char *key = auth + sizeof(bearer) - 1;
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    if (EVP_DigestInit_ex(c->md, c->sha256, NULL) != 1 ||
        EVP_DigestUpdate(c->md, key, strlen(key)) != 1 ||
        EVP_DigestFinal_ex(c->md, hash, &hash_len) != 1) {
        reply(r, 500, "Internal Server Error", "{\"error\":\"hash\"}");
        return;
    }
    /* One reconnect attempt if the connection was lost between requests. */
    if (PQstatus(c->db) != CONNECTION_OK) {
        PQreset(c->db);
        PGresult *res = PQprepare(c->db, "bare_debit", debit_sql, 2, NULL);
        PQclear(res);
    }
    const char *values[2] = {(const char *)hash, ikey};
    const int lengths[2] = {(int)hash_len, 0};
    const int formats[2] = {1, 0};
    PGresult *res = PQexecPrepared(c->db, "bare_debit", 2, values, lengths, formats, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "bare-debit: debit: %s", PQresultErrorMessage(res));
        reply(r, 500, "Internal Server Error", "{\"error\":\"database\"}");
    } else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        reply(r, 401, "Unauthorized", "{\"error\":\"unknown_key\"}");
    } else if (PQgetisnull(res, 0, 1)) {
        reply(r, 402, "Payment Required", "{\"error\":\"no_credits\"}");
    } else {
        char body[96];
        snprintf(body, sizeof(body), "{\"outcome\":\"credit\",\"credits_remaining\":%s}",
                 PQgetvalue(res, 0, 1));
        reply(r, 201, "Created", body);
    }
    PQclear(res);
}

/* child_run: the accept loop of one worker; its exit status. */
static int child_run(int listen_fd, const char *conninfo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: accept() must return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    struct child c = {0};
    int rc = 1;
    c.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c.md = EVP_MD_CTX_new();
    if (c.sha256 == NULL || c.md == NULL) {
        fprintf(stderr, "bare-debit: no SHA-256 from OpenSSL\n");
        goto out;
    }
    if (child_connect(&c, conninfo) != 0)
        goto out;
    FCGX_Request r;
    if (FCGX_InitRequest(&r, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        fprintf(stderr, "bare-debit: FCGX_InitRequest failed\n");
        goto out;
    }
    while (!stopping) {
        if (FCGX_Accept_r(&r) < 0) {
            if (!stopping) /* accept failed (not a signal): do not spin */
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
            continue;
        }
        serve(&c, &r);
        FCGX_Finish_r(&r);
    }
    FCGX_Free(&r, 1);
    rc = 0;
out:
    PQfinish(c.db);
    EVP_MD_CTX_free(c.md);
    EVP_MD_free(c.sha256);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: bare-debit -s SOCKET -d CONNINFO [-w WORKERS] [-b BACKLOG] | -p\n");
    return 2;
}

/* stop_all: signal every live child, then reap them all. */
static void stop_all(pid_t *pids, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) {
            while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                ;
            pids[i] = 0;
        }
}

int main(int argc, char **argv)
{
    const char *path = NULL, *conninfo = NULL;
    long workers = 4, backlog = 1024;
    int opt;
    while ((opt = getopt(argc, argv, "ps:d:w:b:")) != -1) {
        char *end;
        switch (opt) {
        case 'p': /* print the statement (bench/instructions counts its cost) */
            puts(debit_sql);
            return 0;
        case 's': path = optarg; break;
        case 'd': conninfo = optarg; break;
        case 'w':
            workers = strtol(optarg, &end, 10);
            if (*end != '\0' || workers < 1 || workers > MAX_WORKERS)
                return usage();
            break;
        case 'b':
            backlog = strtol(optarg, &end, 10);
            if (*end != '\0' || backlog < 1 || backlog > 65535)
                return usage();
            break;
        default: return usage();
        }
    }
    if (path == NULL || conninfo == NULL || optind != argc)
        return usage();

    /* Signals are taken synchronously by the master (sigtimedwait); the
     * children unblock them and install handlers. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    if (FCGX_Init() != 0) {
        fprintf(stderr, "bare-debit: FCGX_Init failed\n");
        return 1;
    }
    mode_t old = umask(0117); /* the socket: owner and group only, like tollgate's */
    int fd = FCGX_OpenSocket(path, (int)backlog);
    umask(old);
    if (fd < 0) {
        fprintf(stderr, "bare-debit: cannot listen on %s\n", path);
        return 1;
    }

    pid_t pids[MAX_WORKERS] = {0};
    int rc = 0;
    for (long i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_run(fd, conninfo));
        if (pid < 0) {
            perror("bare-debit: fork");
            stop_all(pids, (int)workers, SIGTERM);
            unlink(path);
            return 1;
        }
        pids[i] = pid;
    }

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&sigs, &info);
        if (sig == SIGTERM || sig == SIGINT) {
            stop_all(pids, (int)workers, SIGTERM);
            break;
        }
        if (sig != SIGCHLD)
            continue;
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (long i = 0; i < workers; i++)
                if (pids[i] == pid)
                    pids[i] = 0;
            if (WIFSIGNALED(status))
                fprintf(stderr, "bare-debit: worker %d killed by signal %d\n", (int)pid,
                        WTERMSIG(status));
            else
                fprintf(stderr, "bare-debit: worker %d exited with status %d\n", (int)pid,
                        WEXITSTATUS(status));
            rc = 1;
        }
        if (rc != 0) {
            stop_all(pids, (int)workers, SIGTERM);
            break;
        }
    }
    unlink(path);
    return rc;
}
