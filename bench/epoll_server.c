// The machine's floor, for `deno task bench --compare`: a server that only
// makes the system calls. One epoll loop; for each ready socket one recv, the
// ASCII letters uppercased in place, and one send. No framing and no
// DESCONEXION: only what the kernel costs, so no server can be much faster.
//
// A send that takes only part of the bytes keeps the rest, and the socket is
// not read again until they are gone, so pipelined replies stay whole.
//
//   cc -O2 -o epoll_server epoll_server.c && ./epoll_server 0
//
// Prints "Listening on 127.0.0.1:<port>" like the real server, then serves
// until SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define BUFFER_BYTES 65536
#define MAX_EVENTS 1024

// What a connection has still to send, when a send took only part of it.
struct connection {
  int fd;
  int waiting_for_room;
  char *unsent;
  size_t unsent_length;
};

static void close_connection(int epoll, struct connection *c) {
  epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->unsent);
  free(c);
}

// Sends what is left; returns 0 when all is sent, 1 when the socket is full, -1 on error.
static int flush(struct connection *c, const char *bytes, size_t length) {
  size_t sent = 0;
  while (sent < length) {
    ssize_t n = send(c->fd, bytes + sent, length - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) return -1;
    sent += (size_t)n;
  }
  size_t left = length - sent;
  char *rest = left ? malloc(left) : NULL;
  if (left) memcpy(rest, bytes + sent, left);
  free(c->unsent);
  c->unsent = rest;
  c->unsent_length = left;
  return left ? 1 : 0;
}

int main(int argc, char **argv) {
  int one = 1, listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET,
                                .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 4096)) {
    perror("Cannot listen");
    return 3;
  }
  socklen_t length = sizeof address;
  getsockname(listener, (struct sockaddr *)&address, &length);
  printf("Listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  fflush(stdout);

  int epoll = epoll_create1(0);
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL}, ready[MAX_EVENTS];
  epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  static char buffer[BUFFER_BYTES];
  for (;;) {
    int count = epoll_wait(epoll, ready, MAX_EVENTS, -1);
    for (int i = 0; i < count; i++) {
      struct connection *c = ready[i].data.ptr;
      if (!c) {
        for (int fd; (fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event in = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &in);
        }
        continue;
      }
      int state;
      if (c->unsent_length) {
        state = flush(c, c->unsent, c->unsent_length);
      } else {
        ssize_t n = recv(c->fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EAGAIN) continue;
        if (n <= 0) {
          close_connection(epoll, c);
          continue;
        }
        for (ssize_t j = 0; j < n; j++) {
          if (buffer[j] >= 'a' && buffer[j] <= 'z') buffer[j] -= 32;
        }
        state = flush(c, buffer, (size_t)n);
      }
      if (state < 0) {
        close_connection(epoll, c);
        continue;
      }
      // While replies wait to be sent, wait for room rather than for input.
      if (state != c->waiting_for_room) {
        c->waiting_for_room = state;
        struct epoll_event next = {.events = state ? EPOLLOUT : EPOLLIN, .data.ptr = c};
        epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &next);
      }
    }
  }
}
