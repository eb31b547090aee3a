/*
 * RPC through the C ABI over a real Unix socket: a C server with callback handlers (JSON and
 * MessagePack), blocking and asynchronous calls, errors with their codes, events (published by
 * another process right after omnitron_peer_subscribe returns), services without methods or
 * version, bad input. Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ---- a service: calc@1.0.0 (JSON handlers) and bytes@1.0.0 (MessagePack handlers) ------------- */

static uint32_t calc(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)ud;
    (void)len;
    const char *json = (const char *)args; /* JSON handlers get NUL-terminated text */
    if (strcmp(method, "add") == 0) {
        long a = 0, b = 0;
        if (sscanf(json, "[%ld,%ld]", &a, &b) != 2) {
            omnitron_callback_error("add takes two integers");
            return OMNITRON_STATUS_INVALID_ARGUMENT;
        }
        char out[64];
        int n = snprintf(out, sizeof out, "%ld", a + b);
        return omnitron_reply_set(reply, (const uint8_t *)out, (size_t)n);
    }
    if (strcmp(method, "fail") == 0) {
        omnitron_callback_error("the calculator is broken");
        return OMNITRON_STATUS_INVALID_ARGUMENT;
    }
    if (strcmp(method, "nothing") == 0) return OMNITRON_STATUS_OK; /* no reply: null */
    if (strcmp(method, "bad_json") == 0) return omnitron_reply_set(reply, (const uint8_t *)"{oops", 5);
    return OMNITRON_STATUS_INTERNAL;
}

static uint32_t echo_bytes(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method;
    int *calls = ud;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    /* args is a MessagePack array: answer with its first element (skip the fixarray marker). */
    if (len < 2 || (args[0] & 0xf0) != 0x90) return OMNITRON_STATUS_INVALID_ARGUMENT;
    return omnitron_reply_set(reply, args + 1, len - 1);
}

/* ---- a streaming service: ticks@1.0.0 count(n) sends 0..n-1 --------------------------------------- */

static int produced = 0;
static int stopped_early = 0;

static uint32_t count_stream(const char *method, const uint8_t *args, size_t len, OmnitronStreamSink *sink, void *ud) {
    (void)method;
    (void)len;
    (void)ud;
    int n = 0;
    if (sscanf((const char *)args, "[%d]", &n) != 1) return OMNITRON_STATUS_INVALID_ARGUMENT;
    for (int i = 0; i < n; i++) {
        char item[32];
        int k = snprintf(item, sizeof item, "%d", i);
        uint32_t s = omnitron_stream_send(sink, (const uint8_t *)item, (size_t)k);
        if (s == OMNITRON_STATUS_CANCELLED) {
            __atomic_store_n(&stopped_early, 1, __ATOMIC_SEQ_CST);
            return OMNITRON_STATUS_OK;
        }
        if (s != OMNITRON_STATUS_OK) return s;
        __atomic_add_fetch(&produced, 1, __ATOMIC_SEQ_CST);
    }
    return OMNITRON_STATUS_OK;
}

typedef struct {
    int count;
    int sum;
    int stop_at;
} Items;

static uint32_t on_item(const uint8_t *item, size_t len, void *ud) {
    Items *it = ud;
    /* MessagePack positive fixints (the items here are small). */
    if (len != 1 || item[0] > 0x7f) return OMNITRON_STATUS_INVALID_ARGUMENT;
    it->count++;
    it->sum += item[0];
    if (it->count == 1) sleep_ms(200); /* a slow consumer: the producer must wait */
    if (it->stop_at && it->count == it->stop_at) return OMNITRON_STATUS_CANCELLED;
    return OMNITRON_STATUS_OK;
}

/* ---- callbacks for async calls and events ------------------------------------------------------ */

typedef struct {
    pthread_mutex_t lock;
    int done;
    uint32_t status;
    uint8_t value[16];
    size_t len;
    char error[256];
} Completion;

static void on_done(uint32_t status, const uint8_t *value, size_t len, const char *error, void *ud) {
    Completion *c = ud;
    pthread_mutex_lock(&c->lock);
    c->status = status;
    c->len = len < sizeof c->value ? len : sizeof c->value;
    if (value) memcpy(c->value, value, c->len);
    if (error) snprintf(c->error, sizeof c->error, "%s", error);
    c->done = 1;
    pthread_mutex_unlock(&c->lock);
}

static int wait_done(Completion *c) {
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&c->lock);
        int d = c->done;
        pthread_mutex_unlock(&c->lock);
        if (d) return 1;
        sleep_ms(10);
    }
    return 0;
}

typedef struct {
    pthread_mutex_t lock;
    int count;
    char last_topic[64];
    uint8_t last_payload[32];
    size_t last_len;
} Events;

static void on_event(const char *topic, const uint8_t *payload, size_t len, void *ud) {
    Events *e = ud;
    pthread_mutex_lock(&e->lock);
    e->count++;
    snprintf(e->last_topic, sizeof e->last_topic, "%s", topic);
    e->last_len = len < sizeof e->last_payload ? len : sizeof e->last_payload;
    memcpy(e->last_payload, payload, e->last_len);
    pthread_mutex_unlock(&e->lock);
}

/* An event callback that tries to wait on its own peer: refused at once (it runs on the reader the
 * answer needs), instead of stalling the connection until the deadline. */
typedef struct {
    OmnitronPeer *peer;
    volatile uint32_t subscribe_status;
    volatile uint32_t call_status;
    volatile int ran;
} Reentrant;

static void waits_inside(const char *topic, const uint8_t *payload, size_t len, void *ud) {
    (void)topic; (void)payload; (void)len;
    Reentrant *r = ud;
    uint64_t id = 0;
    OmnitronBuffer out = {0};
    r->subscribe_status = omnitron_peer_subscribe(r->peer, "inner.*", on_event, NULL, NULL, &id);
    r->call_status = omnitron_peer_call_json(r->peer, "calc", "add", "[1, 2]", 0, &out);
    __atomic_store_n(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static int event_count(Events *e) {
    pthread_mutex_lock(&e->lock);
    int n = e->count;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* ---- another process: a hub that publishes each topic it reads on stdin --------------------------- */

static int run_hub(const char *address) {
    OmnitronPeer *hub = NULL;
    if (omnitron_peer_listen(address, "c-hub", "tok", &hub) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "hub: %s\n", omnitron_last_error_message());
        return 2;
    }
    printf("ready\n");
    fflush(stdout);
    char topic[128];
    while (fgets(topic, sizeof topic, stdin)) {
        topic[strcspn(topic, "\n")] = 0;
        const uint8_t one[] = {0x01};
        if (omnitron_peer_publish(hub, topic, one, 1) != OMNITRON_STATUS_OK) return 3;
    }
    omnitron_peer_free(hub);
    return 0;
}

typedef struct {
    pthread_mutex_t lock;
    char topic[64];
} Seen;

static void on_race(const char *topic, const uint8_t *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    Seen *s = ud;
    pthread_mutex_lock(&s->lock);
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    pthread_mutex_unlock(&s->lock);
}

static int seen(Seen *s, const char *topic) {
    pthread_mutex_lock(&s->lock);
    int yes = strcmp(s->topic, topic) == 0;
    pthread_mutex_unlock(&s->lock);
    return yes;
}

/*
 * omnitron_peer_subscribe returns once the hub has the subscription: the hub, another process told
 * through a pipe (not through the subscriber's connection), publishes right after, and the event
 * arrives, every time.
 */
static void subscriptions_are_active_when_subscribe_returns(const char *self, const char *dir) {
    char address[256];
    snprintf(address, sizeof address, "unix:%s/hub/rpc.sock", dir);
    int to_hub[2], from_hub[2];
    if (pipe(to_hub) != 0 || pipe(from_hub) != 0) {
        CHECK(0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: the parent has threads. */
        dup2(to_hub[0], 0);
        dup2(from_hub[1], 1);
        close(to_hub[1]);
        close(from_hub[0]);
        execl(self, self, "hub", address, (char *)NULL);
        _exit(127);
    }
    close(to_hub[0]);
    close(from_hub[1]);
    FILE *hub_in = fdopen(to_hub[1], "w");
    FILE *hub_out = fdopen(from_hub[0], "r");
    char line[64] = {0};
    CHECK(fgets(line, sizeof line, hub_out) != NULL && strcmp(line, "ready\n") == 0);

    OmnitronPeer *sub = NULL;
    OK(omnitron_peer_connect(address, "c-subscriber", "tok", &sub));
    Seen s = {PTHREAD_MUTEX_INITIALIZER, {0}};
    int lost = 0;
    for (int i = 0; i < 100 && !lost; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "race.%d", i);
        uint64_t id = 0;
        OK(omnitron_peer_subscribe(sub, "race.*", on_race, &s, NULL, &id));
        fprintf(hub_in, "%s\n", topic);
        fflush(hub_in);
        int k = 0;
        while (k < 500 && !seen(&s, topic)) {
            sleep_ms(10);
            k++;
        }
        if (!seen(&s, topic)) {
            lost = 1;
            fprintf(stderr, "round %d: the event published right after subscribe returned was lost\n", i);
        }
        OK(omnitron_peer_unsubscribe(sub, id, NULL));
    }
    CHECK(!lost);
    omnitron_peer_free(sub);
    fclose(hub_in); /* the hub's stdin ends: it exits */
    fclose(hub_out);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "hub") == 0) return run_hub(argv[2]);
    char dir[] = "/tmp/omnitron-c-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char address[256];
    snprintf(address, sizeof address, "unix:%s/private/rpc.sock", dir);

    OmnitronPeer *server = NULL, *client = NULL;
    OK(omnitron_peer_listen(address, "c-server", "tok", &server));
    const char *calc_methods[] = {"add", "fail", "nothing", "bad_json"};
    OK(omnitron_peer_expose(server, "calc", "1.0.0", calc_methods, 4, OMNITRON_FORMAT_JSON, calc, NULL, NULL));
    int echo_calls = 0;
    const char *echo_methods[] = {"first"};
    OK(omnitron_peer_expose(server, "bytes", "1.0.0", echo_methods, 1, OMNITRON_FORMAT_MSGPACK, echo_bytes, &echo_calls, NULL));
    char *where = NULL;
    OK(omnitron_peer_address(server, &where));
    CHECK(contains(where, "rpc.sock"));
    omnitron_free(where);

    OK(omnitron_peer_connect(address, "c-client", "tok", &client));

    /* JSON calls. */
    OmnitronBuffer out = {0};
    OK(omnitron_peer_call_json(client, "calc@^1", "add", "[2, 3]", 0, &out));
    CHECK(out.len == 1 && strcmp((const char *)out.data, "5") == 0);
    omnitron_free(out.data);
    OK(omnitron_peer_call_json(client, "calc", "nothing", NULL, 0, &out));
    CHECK(strcmp((const char *)out.data, "null") == 0);
    omnitron_free(out.data);

    /* Errors keep their codes and messages. */
    FAILS_WITH(omnitron_peer_call_json(client, "calc", "fail", "[]", 0, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "the calculator is broken"));
    FAILS_WITH(omnitron_peer_call_json(client, "calc", "add", "[\"x\"]", 0, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "two integers"));
    FAILS_WITH(omnitron_peer_call_json(client, "calc", "bad_json", "[]", 0, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_peer_call_json(client, "calc", "divide", "[]", 0, &out), OMNITRON_STATUS_METHOD_NOT_FOUND);
    CHECK(contains(omnitron_last_error_message(), "add, bad_json, fail, nothing"));
    FAILS_WITH(omnitron_peer_call_json(client, "calc@^2", "add", "[1,2]", 0, &out), OMNITRON_STATUS_SERVICE_NOT_FOUND);
    CHECK(contains(omnitron_last_error_message(), "1.0.0"));
    FAILS_WITH(omnitron_peer_call_json(client, "calc", "add", "[1,", 0, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "not valid JSON"));
    CHECK(out.data == NULL);

    /* MessagePack calls: [7] -> 7. */
    const uint8_t args[] = {0x91, 0x07};
    OK(omnitron_peer_call(client, "bytes", "first", args, sizeof args, 1000, &out));
    CHECK(out.len == 1 && out.data[0] == 0x07);
    omnitron_free(out.data);
    const uint8_t garbage[] = {0xc1};
    FAILS_WITH(omnitron_peer_call(client, "bytes", "first", garbage, 1, 0, &out), OMNITRON_STATUS_INVALID_ARGUMENT);

    /* Asynchronous calls: the completion runs on an engine thread. */
    Completion c = {PTHREAD_MUTEX_INITIALIZER, 0, 99, {0}, 0, {0}};
    OK(omnitron_peer_call_async(client, "bytes", "first", args, sizeof args, 0, on_done, &c, NULL));
    CHECK(wait_done(&c));
    CHECK(c.status == OMNITRON_STATUS_OK && c.len == 1 && c.value[0] == 7);
    Completion c2 = {PTHREAD_MUTEX_INITIALIZER, 0, 99, {0}, 0, {0}};
    OK(omnitron_peer_call_async(client, "nope", "x", NULL, 0, 0, on_done, &c2, NULL));
    CHECK(wait_done(&c2));
    CHECK(c2.status == OMNITRON_STATUS_SERVICE_NOT_FOUND && contains(c2.error, "nope"));
    CHECK(__atomic_load_n(&echo_calls, __ATOMIC_SEQ_CST) == 2); /* the garbage never left */

    /* Events: the client subscribes, the server publishes. */
    Events ev = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}, 0};
    uint64_t sub = 0;
    OK(omnitron_peer_subscribe(client, "calc.#", on_event, &ev, NULL, &sub)); /* active when it returns */
    OK(omnitron_peer_publish_json(server, "calc.done", "{\"x\": 1}"));
    const uint8_t payload[] = {0x2a};
    OK(omnitron_peer_publish(server, "calc.result.ready", payload, 1));
    OK(omnitron_peer_publish(server, "other.topic", payload, 1));
    for (int i = 0; i < 500 && event_count(&ev) < 2; i++) sleep_ms(10);
    CHECK(event_count(&ev) == 2);
    CHECK(strcmp(ev.last_topic, "calc.result.ready") == 0 && ev.last_len == 1 && ev.last_payload[0] == 0x2a);
    bool removed = false;
    OK(omnitron_peer_unsubscribe(client, sub, &removed));
    CHECK(removed);
    FAILS_WITH(omnitron_peer_publish(server, "calc.*", payload, 1), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_peer_subscribe(client, "calc..x", on_event, &ev, NULL, &sub), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_peer_subscribe(client, "calc.#", NULL, &ev, NULL, &sub), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_peer_subscribe(client, "calc.#", on_event, &ev, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    subscriptions_are_active_when_subscribe_returns(argv[0], dir);
    Reentrant re = {client, 0, 0, 0};
    OK(omnitron_peer_subscribe(client, "reentry.*", waits_inside, &re, NULL, &sub));
    OK(omnitron_peer_publish(server, "reentry.now", payload, 1));
    for (int i = 0; i < 500 && !__atomic_load_n(&re.ran, __ATOMIC_SEQ_CST); i++) sleep_ms(10);
    CHECK(re.ran);
    CHECK(re.subscribe_status == OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(re.call_status == OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_peer_unsubscribe(client, sub, &removed));

    /* A service with no methods, exposed directly (methods may be NULL then; not with a count). */
    OK(omnitron_peer_expose(server, "silent", "1.0.0", NULL, 0, OMNITRON_FORMAT_JSON, calc, NULL, NULL));
    FAILS_WITH(omnitron_peer_expose(server, "silent2", "1.0.0", NULL, 2, OMNITRON_FORMAT_JSON, calc, NULL, NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);

    /* A service with no version (1.0.0) and no methods: it is there, reachable by a matching range. */
    OmnitronService *quiet = NULL;
    OK(omnitron_service_new("notifications", NULL, &quiet));
    OK(omnitron_peer_expose_service(server, quiet));
    omnitron_service_free(quiet);
    OK(omnitron_peer_call_json(client, "$registry", "describe", "[\"notifications@^1\"]", 0, &out));
    CHECK(contains((const char *)out.data, "\"version\":\"1.0.0\"") && contains((const char *)out.data, "\"methods\":[]"));
    omnitron_free(out.data);
    FAILS_WITH(omnitron_peer_call_json(client, "notifications", "send", "[]", 0, &out), OMNITRON_STATUS_METHOD_NOT_FOUND);
    CHECK(contains(omnitron_last_error_message(), "it has none"));

    /* Streams: a service built handle by handle, a callback per item, backpressure, early stop. */
    OmnitronService *svc = NULL;
    OK(omnitron_service_new("ticks", "1.0.0", &svc));
    OK(omnitron_service_add_stream(svc, "count", OMNITRON_FORMAT_JSON, count_stream, NULL, NULL));
    OK(omnitron_service_add_method(svc, "add", OMNITRON_FORMAT_JSON, calc, NULL, NULL));
    OK(omnitron_peer_expose_service(server, svc));
    FAILS_WITH(omnitron_peer_expose_service(server, svc), OMNITRON_STATUS_INVALID_ARGUMENT);
    omnitron_service_free(svc);
    OK(omnitron_peer_call_json(client, "ticks", "add", "[1, 1]", 0, &out));
    CHECK(strcmp((const char *)out.data, "2") == 0);
    omnitron_free(out.data);
    const uint8_t ten[] = {0x91, 0x0a};
    Items items = {0, 0, 0};
    OK(omnitron_peer_call_stream(client, "ticks", "count", ten, sizeof ten, 0, on_item, &items));
    CHECK(items.count == 10 && items.sum == 45);
    const uint8_t many[] = {0x91, 0xcd, 0x27, 0x10}; /* [10000] */
    Items few = {0, 0, 5};
    __atomic_store_n(&produced, 0, __ATOMIC_SEQ_CST);
    FAILS_WITH(omnitron_peer_call_stream(client, "ticks", "count", many, sizeof many, 0, on_item, &few), OMNITRON_STATUS_CANCELLED);
    CHECK(few.count == 5);
    for (int i = 0; i < 500 && !__atomic_load_n(&stopped_early, __ATOMIC_SEQ_CST); i++) sleep_ms(10);
    CHECK(__atomic_load_n(&stopped_early, __ATOMIC_SEQ_CST) == 1);
    CHECK(__atomic_load_n(&produced, __ATOMIC_SEQ_CST) < 100);
    FAILS_WITH(omnitron_peer_call_stream(client, "ticks", "nope", NULL, 0, 0, on_item, &few), OMNITRON_STATUS_METHOD_NOT_FOUND);
    FAILS_WITH(omnitron_peer_call_stream(client, "ticks", "count", ten, sizeof ten, 0, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_stream_send(NULL, NULL, 0), OMNITRON_STATUS_INVALID_ARGUMENT);

    /* Auth and bad input. */
    OmnitronPeer *bad = NULL;
    FAILS_WITH(omnitron_peer_connect(address, NULL, "wrong", &bad), OMNITRON_STATUS_AUTH_FAILED);
    FAILS_WITH(omnitron_peer_connect(address, NULL, NULL, &bad), OMNITRON_STATUS_AUTH_FAILED);
    FAILS_WITH(omnitron_peer_listen("tcp://127.0.0.1:0", NULL, NULL, &bad), OMNITRON_STATUS_AUTH_FAILED);
    FAILS_WITH(omnitron_peer_listen("gopher://x", NULL, NULL, &bad), OMNITRON_STATUS_INVALID_SERVICE);
    FAILS_WITH(omnitron_peer_listen(NULL, NULL, NULL, &bad), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    FAILS_WITH(omnitron_peer_call_json(NULL, "calc", "add", "[1,2]", 0, &out), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_peer_call_json(client, "calc", "add", "[1,2]", 0, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_peer_expose(server, "calc", "1.0.0", calc_methods, 4, OMNITRON_FORMAT_JSON, calc, NULL, NULL),
               OMNITRON_STATUS_DUPLICATE_SERVICE);
    FAILS_WITH(omnitron_peer_expose(server, "x", "not-semver", calc_methods, 1, OMNITRON_FORMAT_JSON, calc, NULL, NULL),
               OMNITRON_STATUS_INVALID_SERVICE);
    FAILS_WITH(omnitron_peer_expose(server, "x", "1.0.0", calc_methods, 1, 7, calc, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_peer_expose(server, "x", "1.0.0", calc_methods, 1, OMNITRON_FORMAT_JSON, NULL, NULL, NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_reply_set(NULL, NULL, 0), OMNITRON_STATUS_INVALID_ARGUMENT);
    omnitron_free(NULL);

    /* The server goes away: the client's calls fail (not hang), and freeing twice is harmless. */
    omnitron_peer_free(server);
    omnitron_peer_free(server);
    FAILS_WITH(omnitron_peer_call_json(server, "calc", "add", "[1,2]", 0, &out), OMNITRON_STATUS_INVALID_HANDLE);
    uint32_t s = omnitron_peer_call_json(client, "calc", "add", "[1,2]", 300, &out);
    CHECK(s == OMNITRON_STATUS_NOT_CONNECTED || s == OMNITRON_STATUS_PEER_DISCONNECTED || s == OMNITRON_STATUS_TIMEOUT);
    /* Subscribing while reconnecting waits for the connection (5 s), then fails and keeps nothing. */
    FAILS_WITH(omnitron_peer_subscribe(client, "late.*", on_event, &ev, NULL, &sub), OMNITRON_STATUS_NOT_CONNECTED);
    CHECK(contains(omnitron_last_error_message(), "late.*"));
    omnitron_peer_free(client);

    printf("RPC through C: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
