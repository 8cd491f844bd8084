/*
 * harness_outbound: see harness_outbound.h.
 */
#include "harness_outbound.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void pause_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

void rx_start(struct rx *r)
{
    memset(r, 0, sizeof(*r));
    char port_file[512], script[1024], docs[1024];
    snprintf(port_file, sizeof(port_file), "%s/receiver-%d-%ld.port",
             it_env("TOLLGATE_TEST_DIR"), (int)getpid(), (long)time(NULL));
    snprintf(script, sizeof(script), "%s/t/integration/receiver.py", it_env("TOLLGATE_SRC"));
    snprintf(docs, sizeof(docs), "%s/docs/outbound-webhooks.md", it_env("TOLLGATE_SRC"));
    unlink(port_file);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execlp("python3", "python3", script, "--port-file", port_file, "--docs", docs,
               "--hang", "4", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(r->base, sizeof(r->base), "http://127.0.0.1:%d", port);
            unlink(port_file);
            return;
        }
        pause_ms(50);
    }
    cr_assert_fail("the receiver did not start");
}

void rx_stop(struct rx *r)
{
    if (r->endpoint[0] != '\0') {
        char out[1024];
        const char *args[] = {"webhooks", "remove", r->endpoint, NULL};
        it_ctl(args, true, out, sizeof(out));
        r->endpoint[0] = '\0';
    }
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

void rx_word_after(const char *text, const char *label, char *out, size_t len)
{
    const char *p = strstr(text, label);
    cr_assert_not_null(p, "no \"%s\" in: %s", label, text);
    p += strlen(label);
    size_t n = strcspn(p, " \t\r\n");
    cr_assert(n > 0 && n < len, "no word after \"%s\"", label);
    memcpy(out, p, n);
    out[n] = '\0';
}

void rx_register(struct rx *r, const char *events)
{
    char url[128], out[4096];
    snprintf(url, sizeof(url), "%s/hook", r->base);
    const char *args[] = {"webhooks", "add", url, events != NULL ? "--events" : NULL, events,
                          NULL};
    cr_assert_eq(it_ctl(args, false, out, sizeof(out)), 0, "webhooks add: %s", out);
    rx_word_after(out, "endpoint ", r->endpoint, sizeof(r->endpoint));
    rx_word_after(out, "secret ", r->secret, sizeof(r->secret));
}

/* control: method path with a JSON body (may be NULL) on the receiver;
 * asserts 200 and returns the parsed answer. */
static json_t *control(struct rx *r, const char *method, const char *path, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    struct it_response res;
    const char *h[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(it_request_to(r->base, method, path, h, text, text != NULL ? strlen(text) : 0,
                               &res),
                 0);
    free(text);
    json_decref(body);
    cr_assert_eq(res.status, 200, "receiver %s %s: %ld", method, path, res.status);
    json_t *j = json_loads(res.body, 0, NULL);
    it_response_free(&res);
    cr_assert_not_null(j);
    return j;
}

void rx_actions(struct rx *r, const char *const *actions, const char *dflt)
{
    json_t *a = json_array();
    for (size_t i = 0; actions != NULL && actions[i] != NULL; i++)
        json_array_append_new(a, json_string(actions[i]));
    json_t *body = json_pack("{s:o}", "actions", a);
    if (dflt != NULL)
        json_object_set_new(body, "default", json_string(dflt));
    json_decref(control(r, "POST", "/_control/actions", body));
}

json_t *rx_requests(struct rx *r)
{
    return control(r, "GET", "/_control/requests", NULL);
}

json_t *rx_events_of(struct rx *r, const char *customer)
{
    json_t *all = rx_requests(r), *out = json_array(), *req;
    size_t i;
    json_array_foreach(all, i, req) {
        json_t *ev = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
        cr_assert_not_null(ev, "a request body is not JSON");
        const char *c = json_string_value(json_object_get(ev, "customer"));
        if (customer == NULL || (c != NULL && strcmp(c, customer) == 0)) {
            json_object_set_new(ev, "_index", json_integer((json_int_t)i));
            json_array_append_new(out, ev);
        } else {
            json_decref(ev);
        }
    }
    json_decref(all);
    return out;
}

bool rx_verify(struct rx *r, size_t index, const char *secret)
{
    json_t *a = control(r, "POST", "/_control/verify",
                        json_pack("{s:I, s:s}", "index", (json_int_t)index, "secret", secret));
    bool ok = json_is_true(json_object_get(a, "ok"));
    json_decref(a);
    return ok;
}

size_t rx_wait_events(struct rx *r, const char *customer, size_t n, int seconds)
{
    size_t have = 0;
    for (int i = 0; i < seconds * 10; i++) {
        json_t *ev = rx_events_of(r, customer);
        have = json_array_size(ev);
        json_decref(ev);
        if (have >= n)
            break;
        pause_ms(100);
    }
    return have;
}

void rx_delivery_status(struct rx *r, const char *event_id, char *out, size_t len)
{
    PGconn *db = it_db();
    const char *p[2] = {event_id, r->endpoint};
    PGresult *res = PQexecParams(db,
                                 "SELECT d.status FROM outbound_deliveries d"
                                 " JOIN outbound_events e ON e.seq = d.event_seq"
                                 " WHERE e.id = $1 AND d.endpoint_id = $2",
                                 2, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    snprintf(out, len, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    PQfinish(db);
}

bool rx_wait_status(struct rx *r, const char *event_id, const char *want, int seconds)
{
    char st[32] = "";
    for (int i = 0; i < seconds * 10; i++) {
        rx_delivery_status(r, event_id, st, sizeof(st));
        if (strcmp(st, want) == 0)
            return true;
        pause_ms(100);
    }
    return false;
}
