/*
 * The yardstick for the Varlink rows of `make bench`: the least a server can do on the same
 * kind of socket. It answers every NUL-terminated message on an AF_UNIX stream socket with
 * the same canned reply (the daemon's own GetStatus reply, so both send the same bytes),
 * without parsing anything, from one thread with epoll.
 *
 *   nul-server SOCKET_PATH REPLY_FILE
 *
 * REPLY_FILE holds the reply without its NUL; the server appends one. Runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET_PATH REPLY_FILE\n", argv[0]);
        return 64;
    }
    FILE *file = fopen(argv[2], "rb");
    if (!file) die(argv[2]);
    static char reply[1 << 20];
    size_t reply_len = fread(reply, 1, sizeof reply - 1, file);
    fclose(file);
    reply[reply_len++] = '\0';

    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof address.sun_path) {
        fprintf(stderr, "socket path too long: %s\n", argv[1]);
        return 64;
    }
    strcpy(address.sun_path, argv[1]);
    unlink(argv[1]);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) die("bind");
    if (listen(listener, SOMAXCONN) < 0) die("listen");

    int poller = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    if (epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event) < 0) die("epoll_ctl");

    static char buffer[65536];
    struct epoll_event ready[256];
    for (;;) {
        int count = epoll_wait(poller, ready, 256, -1);
        if (count < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event client_event = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(poller, EPOLL_CTL_ADD, client, &client_event);
                }
                continue;
            }
            ssize_t received = read(fd, buffer, sizeof buffer);
            if (received <= 0) {
                if (received < 0 && errno == EAGAIN) continue;
                close(fd);
                continue;
            }
            /* One reply per NUL received. A closed-loop client sends one message at a time,
             * and a reply of a few hundred bytes fits the socket buffer: a plain write is enough. */
            for (ssize_t j = 0; j < received; j++) {
                if (buffer[j] != '\0') continue;
                if (write(fd, reply, reply_len) != (ssize_t)reply_len) {
                    close(fd);
                    break;
                }
            }
        }
    }
}
