/*
 * Trivial reference servers for the benchmark (tools/bench/bench.ts
 * compiles this with gcc into a temporary folder; nothing compiled is
 * kept). Each speaks the same protocol as a lesson's server and does
 * nothing else: no log, no checks, one blocking loop. They answer two
 * questions: how fast can the load generator go (if it drives these no
 * faster than a lesson's server, the figure is the generator's), and what
 * is the plain blocking echo at the loopback limit.
 *
 *   reference greet HOST PORT   `N. Hi new friend!\n`, then close
 *   reference udp HOST PORT     `Response for IP` to each datagram
 *   reference echo HOST PORT    every byte back, 64 KiB reads, one client
 *                               at a time
 *
 * Each prints `Listening on HOST:PORT` first, like the lessons, and runs
 * until it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void fail(const char *what) {
  fprintf(stderr, "reference: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Binds a socket of `type` to HOST:PORT and prints `Listening on`. */
static int bound(int type, const char *host, const char *port) {
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)atoi(port));
  if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
    fprintf(stderr, "reference: %s is not an IPv4 address\n", host);
    exit(2);
  }
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    fail("bind");
  }
  if (type == SOCK_STREAM && listen(fd, 4096) != 0) fail("listen");
  socklen_t length = sizeof address;
  getsockname(fd, (struct sockaddr *)&address, &length);
  printf("Listening on %s:%d\n", host, ntohs(address.sin_port));
  fflush(stdout);
  return fd;
}

static void write_all(int fd, const char *bytes, size_t size) {
  while (size > 0) {
    ssize_t wrote = write(fd, bytes, size);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return; /* the client left */
    }
    bytes += wrote;
    size -= (size_t)wrote;
  }
}

static void greet(int listener) {
  char greeting[64];
  for (unsigned long count = 0;; count++) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) {
      count--;
      continue;
    }
    int length = snprintf(greeting, sizeof greeting, "%lu. Hi new friend!\n",
                          count);
    write_all(client, greeting, (size_t)length);
    close(client);
  }
}

static void udp(int fd) {
  char message[2048];
  char answer[64 + INET_ADDRSTRLEN];
  char ip[INET_ADDRSTRLEN];
  for (;;) {
    struct sockaddr_in from;
    socklen_t length = sizeof from;
    if (recvfrom(fd, message, sizeof message, 0, (struct sockaddr *)&from,
                 &length) < 0) {
      continue;
    }
    inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
    int size = snprintf(answer, sizeof answer, "Response for %s", ip);
    sendto(fd, answer, (size_t)size, 0, (struct sockaddr *)&from, length);
  }
}

static void echo(int listener) {
  static char buffer[64 * 1024];
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    ssize_t got;
    while ((got = read(client, buffer, sizeof buffer)) > 0) {
      write_all(client, buffer, (size_t)got);
    }
    close(client);
  }
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "greet") == 0) {
    greet(bound(SOCK_STREAM, argv[2], argv[3]));
  } else if (argc == 4 && strcmp(argv[1], "udp") == 0) {
    udp(bound(SOCK_DGRAM, argv[2], argv[3]));
  } else if (argc == 4 && strcmp(argv[1], "echo") == 0) {
    echo(bound(SOCK_STREAM, argv[2], argv[3]));
  }
  fprintf(stderr, "usage: reference greet|udp|echo HOST PORT\n");
  return 2;
}
