/* The C tests' small blocking HTTP/1.1 client: one request per connection (Connection: close), the
 * reply read to the end, its status line and headers apart from its body. Include it after defining
 * _POSIX_C_SOURCE (for the socket calls). */
#ifndef OMNITRON_TESTS_HTTP_CLIENT_H
#define OMNITRON_TESTS_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct {
    int status;
    char head[4096];  /* the status line and headers */
    char body[8192];  /* NUL-terminated (cut at 8191 bytes) */
    size_t body_len;  /* the body's length as received */
} Reply;

/* Writes `len` bytes of `req` (a whole request, as is) to 127.0.0.1:port and reads the reply to
 * the end. Returns 0 when a reply with a status line came back. */
static inline int http_raw(uint16_t port, const char *req, size_t len, Reply *out) {
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {30, 0}; /* never hang the test */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    for (size_t sent = 0; sent < len;) {
        ssize_t k = write(fd, req + sent, len - sent);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        sent += (size_t)k;
    }
    static __thread char buf[16384];
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fd, buf + got, sizeof buf - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (got == sizeof buf - 1) break;
    }
    close(fd);
    buf[got] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (end == NULL || sscanf(buf, "HTTP/1.1 %d", &out->status) != 1) return -1;
    size_t hlen = (size_t)(end - buf);
    if (hlen >= sizeof out->head) hlen = sizeof out->head - 1;
    memcpy(out->head, buf, hlen);
    out->body_len = got - (size_t)(end + 4 - buf);
    size_t keep = out->body_len < sizeof out->body ? out->body_len : sizeof out->body - 1;
    memcpy(out->body, end + 4, keep);
    out->body[keep] = 0;
    return 0;
}

/* Sends `method path` with `headers` (NULL, or whole lines: "Name: value\r\n..."), `content_type`
 * (NULL: none) and `len` bytes of `body` (NULL with 0: none; Content-Length is always sent). */
static inline int http_send(uint16_t port, const char *method, const char *path, const char *headers,
                            const char *content_type, const void *body, size_t len, Reply *out) {
    char head[2048];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, headers ? headers : "", content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", len);
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    char *req = malloc((size_t)n + len);
    if (req == NULL) return -1;
    memcpy(req, head, (size_t)n);
    if (len > 0) memcpy(req + n, body, len);
    int rc = http_raw(port, req, (size_t)n + len, out);
    free(req);
    return rc;
}

/* The value of the reply's header `name` (any case) copied into `value` (NUL-terminated), or NULL
 * (and `value` empty) when the reply has no such header. */
static inline const char *reply_header(const Reply *r, const char *name, char *value, size_t size) {
    size_t nlen = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, nlen) != 0 || h[nlen] != ':') continue;
        h += nlen + 1;
        while (*h == ' ') h++;
        const char *e = strstr(h, "\r\n");
        size_t vlen = e ? (size_t)(e - h) : strlen(h);
        if (vlen >= size) vlen = size - 1;
        memcpy(value, h, vlen);
        value[vlen] = 0;
        return value;
    }
    value[0] = 0;
    return NULL;
}

#endif
