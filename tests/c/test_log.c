/*
 * Logging through the C ABI: records through the application's structured logger as JSON lines
 * (standard error is sent to a file here and read back), with this thread's trace and, inside a
 * handler, its call's service and method; the filter per module; bad input (NULLs, a level that
 * is not one, fields that are not one JSON object, a bad filter) refused, changing nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* calc@1.0.0 add(): logs a record at info, then answers 3. */
static uint32_t add(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method, (void)args, (void)len, (void)ud;
    if (omnitron_log(OMNITRON_LOG_INFO, "calc", "adding", "{\"a\":1,\"b\":2}") != OMNITRON_STATUS_OK) {
        return OMNITRON_STATUS_INTERNAL;
    }
    return omnitron_reply_set(reply, (const uint8_t *)"3", 1);
}

/* The line of `path` holding `needle`, copied into `out` ("" if none). */
static void line_with(const char *path, const char *needle, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, needle)) {
            snprintf(out, cap, "%s", line);
            break;
        }
    }
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/omnitron-c-log-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char path[256], address[256];
    snprintf(path, sizeof path, "%s/stderr.log", dir);
    snprintf(address, sizeof address, "unix:%s/private/rpc.sock", dir);
    setenv("OMNITRON_LOG", "info", 1);
    setenv("OMNITRON_LOG_FORMAT", "json", 1);
    setenv("OMNITRON_CHILD_NAME", "c-shop", 1);
    unsetenv("OMNITRON_LOG_CONTROL");
    /* Records go to standard error: into a file, to be read back. */
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 2) < 0) return 2;

    OK(omnitron_log_init("ignored"));
    FAILS_WITH(omnitron_log_init(NULL), OMNITRON_STATUS_INVALID_ARGUMENT);

    OK(omnitron_log(OMNITRON_LOG_WARN, "orders.payment", "card declined", "{\"order_id\":42}"));
    OK(omnitron_log(OMNITRON_LOG_DEBUG, "orders.payment", "not written at info", NULL));
    CHECK(!omnitron_log_enabled(OMNITRON_LOG_DEBUG, "orders"));
    CHECK(omnitron_log_enabled(OMNITRON_LOG_ERROR, "orders"));

    /* Bad input: refused, nothing written, the filter kept. */
    FAILS_WITH(omnitron_log(7, "x", "m", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_log(OMNITRON_LOG_INFO, NULL, "m", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_log(OMNITRON_LOG_INFO, "x", NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_log(OMNITRON_LOG_INFO, "x", "bad fields", "[1]"), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_log(OMNITRON_LOG_INFO, "x", "bad fields", "{\"a\":"), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(!omnitron_log_enabled(99, "x"));
    CHECK(!omnitron_log_enabled(OMNITRON_LOG_INFO, NULL));
    FAILS_WITH(omnitron_log_set_filter("info,orders=loud"), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "'loud' is not a level"));
    FAILS_WITH(omnitron_log_set_filter(NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_log_set_level("orders", "verbose"), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_log_filter(NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    char *f = NULL;
    OK(omnitron_log_filter(&f));
    CHECK(f && strcmp(f, "info") == 0);
    omnitron_free(f);

    /* Per module, at once. */
    OK(omnitron_log_set_level("orders", "debug"));
    CHECK(omnitron_log_enabled(OMNITRON_LOG_DEBUG, "orders.payment"));
    OK(omnitron_log(OMNITRON_LOG_DEBUG, "orders.payment", "now at debug", NULL));
    OK(omnitron_log_filter(&f));
    CHECK(f && strcmp(f, "info,orders=debug") == 0);
    omnitron_free(f);

    /* In a handler: the call's service, method and trace. */
    OmnitronPeer *server = NULL, *client = NULL;
    OK(omnitron_peer_listen(address, "c-server", "tok", &server));
    const char *methods[] = {"add"};
    OK(omnitron_peer_expose(server, "calc", "1.0.0", methods, 1, OMNITRON_FORMAT_JSON, add, NULL, NULL));
    OK(omnitron_peer_connect(address, "c-client", "tok", &client));
    OmnitronSpan *span = NULL;
    OK(omnitron_span_start("checkout", NULL, &span));
    char *tp = NULL;
    OK(omnitron_trace_current(&tp));
    OK(omnitron_log(OMNITRON_LOG_INFO, "checkout", "in a span", NULL));
    OmnitronBuffer out = {0};
    OK(omnitron_peer_call_json(client, "calc", "add", NULL, 0, &out));
    omnitron_free(out.data);
    OK(omnitron_span_end(span, NULL, NULL));
    omnitron_peer_free(client);
    omnitron_peer_free(server);

    fflush(stderr);
    dup2(saved, 2);
    close(fd);

    char line[4096], want[128];
    line_with(path, "card declined", line, sizeof line);
    CHECK(contains(line, "\"level\":40"));
    CHECK(contains(line, "\"name\":\"c-shop\""));
    CHECK(contains(line, "\"module\":\"orders.payment\""));
    CHECK(contains(line, "\"order_id\":42"));
    CHECK(!contains(line, "trace_id"));
    line_with(path, "not written at info", line, sizeof line);
    CHECK(line[0] == 0);
    line_with(path, "bad fields", line, sizeof line);
    CHECK(line[0] == 0);
    line_with(path, "now at debug", line, sizeof line);
    CHECK(contains(line, "\"level\":20"));
    /* The span's trace id, on the record made in it and on the handler's. */
    CHECK(tp != NULL && strlen(tp) == 55);
    snprintf(want, sizeof want, "\"trace_id\":\"%.32s\"", tp ? tp + 3 : "");
    line_with(path, "in a span", line, sizeof line);
    CHECK(contains(line, want));
    line_with(path, "\"adding\"", line, sizeof line);
    CHECK(contains(line, want));
    CHECK(contains(line, "\"service\":\"calc\""));
    CHECK(contains(line, "\"method\":\"add\""));
    CHECK(contains(line, "\"a\":1,\"b\":2"));
    omnitron_free(tp);

    printf("test_log: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
