/*
 * The benchmark's load generator (tools/bench/bench.ts compiles it with gcc
 * into a temporary folder at the start of each run; nothing compiled is
 * kept). It is C so that it is not the bottleneck: the servers it drives
 * are measured, not it. Each mode prints one line of JSON on stdout.
 *
 *   load greet HOST PORT CLIENTS SECONDS GRACE
 *     CLIENTS connections at a time to a greeting server, each one
 *     replaced by a new one as soon as it has read `N. Hi new friend!\n`
 *     and the server's end of file, for SECONDS. Every greeting is checked
 *     and every N must be new. A connection that waited more than a second
 *     is a stall; after SECONDS, connections still waiting get GRACE more
 *     seconds before they are given up (and counted as stalls).
 *
 *   load udp HOST PORT CLIENTS SECONDS
 *     CLIENTS UDP sockets, each with one datagram in flight: send
 *     `Hi, I'm sending this message.`, wait for `Response for 127.0.0.1`,
 *     again, for SECONDS. A datagram with no answer in 200 ms is counted
 *     lost and sent again.
 *
 *   load echo HOST PORT BYTES
 *     One connection: one thread writes BYTES in 64 KiB writes while the
 *     other reads the echo back and checks every byte. It prints its line
 *     as soon as the last byte is back, then keeps the connection open
 *     until its standard input ends: the benchmark reads the server's CPU
 *     time in between, before a server that serves one client (the book's)
 *     exits and takes its figures with it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what) {
  fprintf(stderr, "load: %s: %s\n", what, strerror(errno));
  exit(1);
}

static struct sockaddr_in server_address(const char *host, const char *port) {
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)atoi(port));
  if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
    fprintf(stderr, "load: %s is not an IPv4 address\n", host);
    exit(2);
  }
  return address;
}

/* --- greet ----------------------------------------------------------------- */

#define GREETING_MAX 64
#define NUMBERS_SEEN_BITS (1u << 26) /* greeting numbers up to 67 million */

struct greeting_client {
  int fd;             /* -1 when idle */
  double started;     /* when its connection began */
  char text[GREETING_MAX];
  size_t length;
};

static unsigned char *numbers_seen;

/* Is `text` exactly `N. Hi new friend!\n`? Returns N, or -1. */
static long parse_greeting(const char *text, size_t length) {
  static const char tail[] = ". Hi new friend!\n";
  size_t digits = 0;
  while (digits < length && text[digits] >= '0' && text[digits] <= '9') {
    digits++;
  }
  if (digits == 0 || digits > 9) return -1;
  if (length - digits != sizeof tail - 1) return -1;
  if (memcmp(text + digits, tail, sizeof tail - 1) != 0) return -1;
  return strtol(text, NULL, 10);
}

/*
 * Spreads the connections over the source addresses 127.0.0.2 to
 * 127.0.0.250: tens of thousands of connections a second to one port would
 * otherwise reuse source ports the server still holds in TIME_WAIT.
 */
static int open_greeting_connection(int epoll, struct sockaddr_in *server,
                                    struct greeting_client *client,
                                    unsigned counter) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  if (server->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in source = {0};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(0x7f000002u + counter % 249);
    if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) {
      fail("bind");
    }
  }
  client->fd = fd;
  client->started = now();
  client->length = 0;
  if (connect(fd, (struct sockaddr *)server, sizeof *server) != 0 &&
      errno != EINPROGRESS) {
    return -1;
  }
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = client};
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) fail("epoll_ctl");
  return 0;
}

static int greet(int argc, char **argv) {
  if (argc != 7) return 2;
  struct sockaddr_in server = server_address(argv[2], argv[3]);
  int clients = atoi(argv[4]);
  double seconds = atof(argv[5]);
  double grace = atof(argv[6]);
  numbers_seen = calloc(NUMBERS_SEEN_BITS / 8, 1);
  struct greeting_client *all = calloc((size_t)clients, sizeof *all);
  if (numbers_seen == NULL || all == NULL) fail("calloc");
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) fail("epoll_create1");

  long greetings = 0, late_greetings = 0, stalls = 0, errors = 0;
  long bad = 0, repeated = 0, in_flight = 0;
  double longest = 0;
  unsigned counter = 0;
  double started = now();
  double deadline = started + seconds;
  double give_up = deadline + grace;
  for (int i = 0; i < clients; i++) {
    if (open_greeting_connection(epoll, &server, &all[i], counter++) != 0) {
      errors++;
      close(all[i].fd);
      all[i].fd = -1;
    } else {
      in_flight++;
    }
  }

  struct epoll_event events[256];
  while (in_flight > 0) {
    double t = now();
    if (t >= give_up) break;
    int timeout = (int)((give_up - t) * 1000) + 1;
    if (t < deadline) timeout = (int)((deadline - t) * 1000) + 1;
    int ready = epoll_wait(epoll, events, 256, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int e = 0; e < ready; e++) {
      struct greeting_client *client = events[e].data.ptr;
      ssize_t got = read(client->fd, client->text + client->length,
                         GREETING_MAX - client->length);
      if (got < 0 && errno == EAGAIN) continue;
      if (got > 0) {
        client->length += (size_t)got;
        if (client->length < GREETING_MAX) continue;
      }
      /* End of file, an error, or too long a greeting: this one is done. */
      double finished = now();
      double waited = finished - client->started;
      if (waited > longest) longest = waited;
      if (waited > 1.0) stalls++;
      if (got < 0) {
        errors++;
      } else {
        long number = parse_greeting(client->text, client->length);
        if (number < 0) {
          bad++;
        } else if ((unsigned long)number < NUMBERS_SEEN_BITS) {
          unsigned char bit = (unsigned char)(1u << (number % 8));
          if (numbers_seen[number / 8] & bit) repeated++;
          numbers_seen[number / 8] |= bit;
        }
        if (finished <= deadline) {
          greetings++;
        } else {
          late_greetings++;
        }
      }
      close(client->fd);
      client->fd = -1;
      in_flight--;
      if (finished < deadline) {
        if (open_greeting_connection(epoll, &server, client, counter++) != 0) {
          errors++;
          close(client->fd);
          client->fd = -1;
        } else {
          in_flight++;
        }
      }
    }
  }
  /* Those still waiting now waited at least until now: stalls. */
  double end = now();
  long given_up = 0;
  for (int i = 0; i < clients; i++) {
    if (all[i].fd < 0) continue;
    double waited = end - all[i].started;
    if (waited > longest) longest = waited;
    if (waited > 1.0) stalls++;
    given_up++;
    close(all[i].fd);
  }
  printf("{\"greetings\":%ld,\"seconds\":%.6f,\"rate\":%.1f,"
         "\"late_greetings\":%ld,\"stalls\":%ld,\"longest_wait_ms\":%.1f,"
         "\"given_up\":%ld,\"errors\":%ld,\"bad\":%ld,\"repeated\":%ld}\n",
         greetings, seconds, greetings / seconds, late_greetings, stalls,
         longest * 1000, given_up, errors, bad, repeated);
  return 0;
}

/* --- udp ------------------------------------------------------------------- */

static const char udp_message[] = "Hi, I'm sending this message.";
static const char udp_answer[] = "Response for 127.0.0.1";

static int udp_socket(struct sockaddr_in *server) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  /* connect(): send to the server, and receive only from it. */
  if (connect(fd, (struct sockaddr *)server, sizeof *server) != 0) {
    fail("connect");
  }
  return fd;
}

static int udp(int argc, char **argv) {
  if (argc != 6) return 2;
  struct sockaddr_in server = server_address(argv[2], argv[3]);
  int clients = atoi(argv[4]);
  double seconds = atof(argv[5]);
  long trips = 0, lost = 0, bad = 0;
  char reply[2048];
  double started = now();
  double deadline = started + seconds;

  if (clients == 1) {
    /* One client: the plainest blocking ping-pong, as fast as one can be. */
    int fd = udp_socket(&server);
    struct timeval wait = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    while (now() < deadline) {
      if (send(fd, udp_message, sizeof udp_message - 1, 0) < 0) fail("send");
      ssize_t got = recv(fd, reply, sizeof reply, 0);
      if (got < 0) {
        if (errno != EAGAIN && errno != ECONNREFUSED) fail("recv");
        lost++;
        continue;
      }
      if ((size_t)got != sizeof udp_answer - 1 ||
          memcmp(reply, udp_answer, (size_t)got) != 0) {
        bad++;
      }
      trips++;
    }
  } else {
    /* Several clients, one datagram in flight each, over one epoll. */
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) fail("epoll_create1");
    int *fds = calloc((size_t)clients, sizeof *fds);
    double *sent_at = calloc((size_t)clients, sizeof *sent_at);
    if (fds == NULL || sent_at == NULL) fail("calloc");
    for (int i = 0; i < clients; i++) {
      fds[i] = udp_socket(&server);
      fcntl(fds[i], F_SETFL, O_NONBLOCK);
      struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
      if (epoll_ctl(epoll, EPOLL_CTL_ADD, fds[i], &event) != 0) {
        fail("epoll_ctl");
      }
      send(fds[i], udp_message, sizeof udp_message - 1, 0);
      sent_at[i] = now();
    }
    struct epoll_event events[256];
    double last_check = now();
    while (now() < deadline) {
      int ready = epoll_wait(epoll, events, 256, 50);
      if (ready < 0 && errno != EINTR) fail("epoll_wait");
      for (int e = 0; e < ready; e++) {
        int i = (int)events[e].data.u32;
        ssize_t got = recv(fds[i], reply, sizeof reply, 0);
        if (got < 0) continue;
        if ((size_t)got != sizeof udp_answer - 1 ||
            memcmp(reply, udp_answer, (size_t)got) != 0) {
          bad++;
        }
        trips++;
        send(fds[i], udp_message, sizeof udp_message - 1, 0);
        sent_at[i] = now();
      }
      double t = now();
      if (t - last_check > 0.05) {
        last_check = t;
        for (int i = 0; i < clients; i++) {
          if (t - sent_at[i] > 0.2) {
            lost++;
            send(fds[i], udp_message, sizeof udp_message - 1, 0);
            sent_at[i] = t;
          }
        }
      }
    }
  }
  double elapsed = now() - started;
  printf("{\"trips\":%ld,\"seconds\":%.6f,\"rate\":%.1f,\"lost\":%ld,"
         "\"bad\":%ld}\n",
         trips, elapsed, trips / elapsed, lost, bad);
  return 0;
}

/* --- echo ------------------------------------------------------------------ */

#define BLOCK (64 * 1024)
static unsigned char pattern[BLOCK];

struct writer {
  int fd;
  long long total;
  int failed;
};

static void *write_all(void *argument) {
  struct writer *writer = argument;
  long long sent = 0;
  while (sent < writer->total) {
    long long left = writer->total - sent;
    size_t size = left < BLOCK ? (size_t)left : BLOCK;
    size_t offset = (size_t)(sent % BLOCK);
    if (offset + size > BLOCK) size = BLOCK - offset;
    ssize_t wrote = write(writer->fd, pattern + offset, size);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      writer->failed = errno;
      return NULL;
    }
    sent += wrote;
  }
  shutdown(writer->fd, SHUT_WR); /* "that was all" */
  return NULL;
}

static int echo(int argc, char **argv) {
  if (argc != 5) return 2;
  struct sockaddr_in server = server_address(argv[2], argv[3]);
  long long total = atoll(argv[4]);
  uint32_t state = 2463534242u; /* xorshift: bytes that do not compress */
  for (size_t i = 0; i < BLOCK; i++) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    pattern[i] = (unsigned char)state;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  if (connect(fd, (struct sockaddr *)&server, sizeof server) != 0) {
    fail("connect");
  }
  /* A server that stops echoing must not hang the benchmark: 10 s. */
  struct timeval patience = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience);
  double started = now();
  struct writer writer = {.fd = fd, .total = total};
  pthread_t thread;
  if (pthread_create(&thread, NULL, write_all, &writer) != 0) {
    fail("pthread_create");
  }
  static unsigned char buffer[256 * 1024];
  long long received = 0;
  long long mismatches = 0;
  while (received < total) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    /* Check every byte against what was sent at that offset. */
    for (ssize_t done = 0; done < got;) {
      size_t offset = (size_t)((received + done) % BLOCK);
      size_t size = (size_t)(got - done);
      if (size > BLOCK - offset) size = BLOCK - offset;
      if (memcmp(buffer + done, pattern + offset, size) != 0) mismatches++;
      done += (ssize_t)size;
    }
    received += got;
  }
  double elapsed = now() - started;
  pthread_join(thread, NULL);
  printf("{\"bytes\":%lld,\"received\":%lld,\"seconds\":%.6f,"
         "\"mb_per_s\":%.1f,\"mismatches\":%lld,\"write_error\":%d}\n",
         total, received, elapsed, received / 1e6 / elapsed, mismatches,
         writer.failed);
  fflush(stdout);
  char ignored[64];
  while (read(0, ignored, sizeof ignored) > 0) {
    /* Hold the connection until standard input ends. */
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  int status = 2;
  if (argc > 1 && strcmp(argv[1], "greet") == 0) status = greet(argc, argv);
  if (argc > 1 && strcmp(argv[1], "udp") == 0) status = udp(argc, argv);
  if (argc > 1 && strcmp(argv[1], "echo") == 0) status = echo(argc, argv);
  if (status == 2) {
    fprintf(stderr,
            "usage: load greet HOST PORT CLIENTS SECONDS GRACE\n"
            "       load udp HOST PORT CLIENTS SECONDS\n"
            "       load echo HOST PORT BYTES\n");
  }
  return status;
}
