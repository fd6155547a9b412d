// The bench's native load generator: one epoll loop drives every connection,
// so the generator costs only its system calls and never sets the pace for a
// fast server. `deno task bench` compiles it with the system's cc into a
// temporary folder and reads the one JSON line it prints.
//
//   load_generator <ping-pong|pipelined|small-writes> <host> <port> <connections>
//                  <warm-up seconds> <seconds> <depth> <line>
//
// ping-pong: each connection sends <line> and waits for its reply, over and
//   over; every round trip in the measured window is timed.
// pipelined: each connection keeps <depth> lines in flight and tops up as
//   replies arrive, with one send for all the lines a read answered.
// small-writes: the same window, topped up as an interactive pipeline does:
//   one new line for each reply read, each in a send of its own, so the
//   server reads a few lines at a time.
//
// Every reply byte is checked against <line> with its ASCII letters
// uppercased. A wrong byte, a closed connection or 5 s without a reply ends
// the run with {"error": "..."} and exit status 1, never a figure.
//
// Prints {"messages":N,"latencyMs":{"p50":..,"p99":..,"p999":..,"max":..},
// "generatorCpu":F}: replies in the measured window, round-trip percentiles
// (ping-pong), and the generator's CPU time over that window's wall time.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define STALL_SECONDS 5.0

struct connection {
  int fd;
  uint64_t verified;   // reply bytes received and checked
  uint64_t owed;       // request bytes still to send
  uint64_t sent;       // request bytes sent
  double asked_at;     // when the unanswered ping-pong line went out
  int waiting_for_room;
};

static int small_writes;    // one send per line
static const char *line;
static size_t line_length;
static char *expected;      // the reply to line, repeated: a read's worth from any offset in a line
static char *requests;      // line, repeated, to send many at once
static size_t requests_length;
static int epoll;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec / 1e6;
}

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *format, ...) {
  char message[256];
  __builtin_va_list args;
  __builtin_va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  __builtin_va_end(args);
  printf("{\"error\":\"%s\"}\n", message);
  exit(1);
}

// Sends what the connection owes, as far as the socket takes it.
static void send_owed(struct connection *c) {
  while (c->owed > 0) {
    size_t offset = c->sent % line_length;
    size_t length = small_writes ? line_length - offset : requests_length - offset;
    if (length > c->owed) length = c->owed;
    ssize_t n = send(c->fd, requests + offset, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) fail("cannot send: %s", strerror(errno));
    c->owed -= (uint64_t)n;
    c->sent += (uint64_t)n;
  }
  int waiting = c->owed > 0;
  if (waiting != c->waiting_for_room) {
    c->waiting_for_room = waiting;
    struct epoll_event event = {.events = EPOLLIN | (waiting ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &event);
  }
}

static int compare(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s <ping-pong|pipelined|small-writes> <host> <port> <connections> "
                    "<warm-up seconds> <seconds> <depth> <line>\n", argv[0]);
    return 2;
  }
  int ping_pong = strcmp(argv[1], "ping-pong") == 0;
  small_writes = strcmp(argv[1], "small-writes") == 0;
  int connections = atoi(argv[4]), depth = ping_pong ? 1 : atoi(argv[7]);
  double warmup = atof(argv[5]), seconds = atof(argv[6]);
  line = argv[8];
  line_length = strlen(line);
  static char buffer[1 << 16];
  expected = malloc(line_length + sizeof buffer);
  for (size_t i = 0; i < line_length + sizeof buffer; i++) {
    char byte = line[i % line_length];
    expected[i] = byte >= 'a' && byte <= 'z' ? byte - 32 : byte;
  }
  requests_length = line_length * (size_t)depth * 2;
  requests = malloc(requests_length);
  for (size_t i = 0; i < requests_length; i++) requests[i] = line[i % line_length];

  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
  if (inet_pton(AF_INET, argv[2], &address.sin_addr) != 1) fail("not an IPv4 address: %s", argv[2]);
  epoll = epoll_create1(0);
  struct connection *all = calloc((size_t)connections, sizeof *all);
  int one = 1;
  for (int i = 0; i < connections; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&address, sizeof address)) {
      fail("cannot connect: %s", strerror(errno));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int flags = 1;
    ioctl(fd, FIONBIO, &flags);
    all[i].fd = fd;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &all[i]};
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
  }

  size_t latency_capacity = 1 << 20, latency_count = 0;
  float *latencies = malloc(latency_capacity * sizeof *latencies);
  double started = now(), window_start = started + warmup, end = window_start + seconds;
  double cpu_at_start = 0, last_reply = started;
  int window_open = 0;
  uint64_t measured = 0;
  for (int i = 0; i < connections; i++) {
    all[i].owed = line_length * (uint64_t)depth;
    all[i].asked_at = started;
    send_owed(&all[i]);
  }

  struct epoll_event ready[MAX_EVENTS];
  for (;;) {
    double t = now();
    if (!window_open && t >= window_start) {
      window_open = 1;
      cpu_at_start = cpu_seconds();
    }
    if (t >= end) break;
    if (t - last_reply > STALL_SECONDS) fail("no reply for %.0f s: the server is stuck", STALL_SECONDS);
    int count = epoll_wait(epoll, ready, MAX_EVENTS, 100);
    t = now();
    for (int e = 0; e < count; e++) {
      struct connection *c = ready[e].data.ptr;
      if (ready[e].events & EPOLLOUT) send_owed(c);
      if (!(ready[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t n = recv(c->fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0) fail("the server closed a connection: %s", n ? strerror(errno) : "end of stream");
      // One memcmp per read: a division per byte made the generator the limit.
      const char *want = expected + c->verified % line_length;
      if (memcmp(buffer, want, (size_t)n) != 0) {
        ssize_t i = 0;
        while (buffer[i] == want[i]) i++;
        fail("reply byte %llu is 0x%02x, expected 0x%02x",
             (unsigned long long)(c->verified + (uint64_t)i), (unsigned char)buffer[i],
             (unsigned char)want[i]);
      }
      uint64_t before = c->verified / line_length;
      c->verified += (uint64_t)n;
      uint64_t answered = c->verified / line_length - before;
      if (answered == 0) continue;
      last_reply = t;
      if (window_open) measured += answered;
      if (ping_pong) {
        if (window_open) {
          if (latency_count == latency_capacity) {
            latency_capacity *= 2;
            latencies = realloc(latencies, latency_capacity * sizeof *latencies);
          }
          latencies[latency_count++] = (float)((t - c->asked_at) * 1000);
        }
        c->asked_at = t;
      }
      c->owed += answered * line_length;
      send_owed(c);
    }
  }
  double cpu = (cpu_seconds() - cpu_at_start) / seconds;
  for (int i = 0; i < connections; i++) close(all[i].fd);

  qsort(latencies, latency_count, sizeof *latencies, compare);
#define AT(q) (latency_count ? latencies[(size_t)((q) * (latency_count - 1))] : 0)
  printf("{\"messages\":%llu,\"latencyMs\":{\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f},"
         "\"generatorCpu\":%.4f}\n",
         (unsigned long long)measured, AT(0.5), AT(0.99), AT(0.999), AT(1.0), cpu);
  return 0;
}
