/*
 * Closed-loop load on a Varlink (NUL-terminated messages) Unix socket, for `make bench`: each
 * of CONNECTIONS connections sends MESSAGE, waits for the NUL that ends the reply, and sends
 * again, for SECONDS after half a second of warm-up. One thread with epoll, so on a 2-core
 * machine the client takes one core and leaves the other to the server, whichever it is.
 *
 *   varlink-load [--reconnect] SOCKET_PATH CONNECTIONS SECONDS MESSAGE
 *
 * MESSAGE is sent followed by a NUL. Prints one JSON object: requests, seconds, rps, p50_ms,
 * p99_ms, max_ms, and whether the first reply was a Varlink error (a caller must not time
 * errors). With --reconnect (one connection only), every call goes over a new connection, as a
 * command-line client's does: connect, send, read the reply, close, each timed whole; with
 * SECONDS 0 too, one such call and no warm-up: what a client that comes once in a while meets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void send_all(int fd, const char *bytes, size_t length) {
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = write(fd, bytes + sent, length - sent);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            die("write");
        }
        sent += (size_t)n;
    }
}

/* Whether the start of a reply names a Varlink error. */
static int is_error(const char *reply, ssize_t received) {
    static char first[4096];
    size_t length = (size_t)received < sizeof first - 1 ? (size_t)received : sizeof first - 1;
    memcpy(first, reply, length);
    first[length] = '\0';
    return strstr(first, "\"error\"") != NULL;
}

static void report(double *latencies, size_t count, double seconds, int first_is_error) {
    qsort(latencies, count, sizeof *latencies, compare);
    printf("{\"requests\": %zu, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"max_ms\": %.3f, \"first_reply_is_error\": %s}\n",
           count, seconds, seconds > 0 ? (double)count / seconds : 0.0, latencies[count / 2] * 1e3,
           latencies[(size_t)((double)count * 0.99)] * 1e3, latencies[count - 1] * 1e3,
           first_is_error == 1 ? "true" : "false");
}

/* One call per connection, one connection at a time, blocking. */
static int reconnecting(const struct sockaddr_un *address, double seconds, const char *message, size_t message_len) {
    size_t capacity = 1 << 16, count = 0;
    double *latencies = malloc(capacity * sizeof *latencies);
    if (!latencies) die("malloc");
    int first_is_error = -1;
    static char buffer[65536];
    int once = seconds == 0;
    double measure_from = once ? now() : now() + 0.5, end = measure_from + seconds;
    while (once ? count == 0 : now() < end) {
        double started = now();
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (const struct sockaddr *)address, sizeof *address) < 0) die("connect");
        send_all(fd, message, message_len);
        for (;;) {
            ssize_t received = read(fd, buffer, sizeof buffer);
            if (received < 0 && errno == EINTR) continue;
            if (received < 0) die("read");
            if (received == 0) {
                fprintf(stderr, "varlink-load: the server closed the connection before its reply ended\n");
                return 1;
            }
            if (first_is_error < 0) first_is_error = is_error(buffer, received);
            if (memchr(buffer, '\0', (size_t)received) != NULL) break;
        }
        close(fd);
        double t = now();
        if (t < measure_from) continue;
        if (count == capacity) {
            capacity *= 2;
            latencies = realloc(latencies, capacity * sizeof *latencies);
            if (!latencies) die("realloc");
        }
        latencies[count++] = t - started;
    }
    if (count == 0) {
        fprintf(stderr, "varlink-load: no reply within %.1f s\n", seconds);
        return 1;
    }
    report(latencies, count, seconds, first_is_error);
    return 0;
}

int main(int argc, char **argv) {
    int reconnect = argc > 1 && strcmp(argv[1], "--reconnect") == 0;
    if (reconnect) {
        argc--;
        argv++;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: %s [--reconnect] SOCKET_PATH CONNECTIONS SECONDS MESSAGE\n", argv[0]);
        return 64;
    }
    int connections = atoi(argv[2]);
    double seconds = atof(argv[3]);
    const char *message = argv[4];
    size_t message_len = strlen(message) + 1; /* with its NUL */
    if (connections < 1 || seconds < 0 || (seconds == 0 && !reconnect)) {
        fprintf(stderr, "CONNECTIONS must be positive, and SECONDS too (0 is one call, with --reconnect)\n");
        return 64;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof address.sun_path) {
        fprintf(stderr, "socket path too long: %s\n", argv[1]);
        return 64;
    }
    strcpy(address.sun_path, argv[1]);
    if (reconnect) {
        if (connections != 1) {
            fprintf(stderr, "--reconnect makes one connection at a time: CONNECTIONS must be 1\n");
            return 64;
        }
        return reconnecting(&address, seconds, message, message_len);
    }

    int poller = epoll_create1(EPOLL_CLOEXEC);
    if (poller < 0) die("epoll_create1");
    int *fds = calloc((size_t)connections, sizeof *fds);
    double *sent_at = calloc((size_t)connections, sizeof *sent_at);
    size_t capacity = 1 << 20, count = 0;
    double *latencies = malloc(capacity * sizeof *latencies);
    if (!fds || !sent_at || !latencies) die("malloc");

    for (int i = 0; i < connections; i++) {
        fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0) die("socket");
        if (connect(fds[i], (struct sockaddr *)&address, sizeof address) < 0) die("connect");
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(poller, EPOLL_CTL_ADD, fds[i], &event) < 0) die("epoll_ctl");
    }
    for (int i = 0; i < connections; i++) {
        sent_at[i] = now();
        send_all(fds[i], message, message_len);
    }

    double measure_from = now() + 0.5, end = measure_from + seconds;
    int first_is_error = -1;
    static char buffer[65536];
    struct epoll_event ready[256];
    for (;;) {
        int n = epoll_wait(poller, ready, 256, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        double t = now();
        if (t >= end) break;
        for (int k = 0; k < n; k++) {
            int i = (int)ready[k].data.u32;
            ssize_t received = read(fds[i], buffer, sizeof buffer);
            if (received == 0) {
                fprintf(stderr, "varlink-load: the server closed connection %d\n", i);
                return 1;
            }
            if (received < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die("read");
            }
            if (first_is_error < 0) first_is_error = is_error(buffer, received);
            /* A closed-loop client has one call in flight: the reply is complete at its NUL,
             * which is the last byte read once the whole reply has arrived. */
            if (buffer[received - 1] != '\0' && memchr(buffer, '\0', (size_t)received) == NULL) continue;
            t = now();
            if (t >= measure_from) {
                if (count == capacity) {
                    capacity *= 2;
                    latencies = realloc(latencies, capacity * sizeof *latencies);
                    if (!latencies) die("realloc");
                }
                latencies[count++] = t - sent_at[i];
            }
            sent_at[i] = t;
            send_all(fds[i], message, message_len);
        }
    }
    if (count == 0) {
        fprintf(stderr, "varlink-load: no reply within %.1f s\n", seconds);
        return 1;
    }
    report(latencies, count, seconds, first_is_error);
    return 0;
}
