/* idle_conns: open N real keep-alive HTTP/1.1 connections and hold them idle.
 *
 *   idle_conns HOST PORT N PATH HOLD_SECONDS
 *
 * Every connection sends one GET for PATH and reads the whole response
 * (Content-Length framed), so the proxy holds it as an idle keep-alive
 * connection rather than a half-open one.  At most 200 connections are in
 * progress at a time.  When all are done (or 60 s passed) it prints
 *
 *   ready OK FAILED
 *
 * to stdout, then holds the connections until SIGTERM/SIGINT or HOLD_SECONDS,
 * counts how many the proxy has not closed, prints "alive K" and exits 0.
 * Part of shunt's benchmark (tests/bench/run.sh builds it with cc).  libc only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT 200
#define RBUF 4096

enum { C_CONNECTING, C_READING, C_DONE, C_FAILED };

struct conn {
	int fd;
	int state;
	size_t got;
	char *buf; /* only while in flight */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1: complete 2xx response, 0: need more, -1: bad. */
static int response_done(const char *b, size_t n)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4);
	if (end == NULL)
		return n >= RBUF ? -1 : 0;
	if (n < 12 || memcmp(b, "HTTP/1.", 7) != 0 || b[9] != '2')
		return -1;
	size_t head = (size_t)(end - b) + 4;
	long cl = -1;
	for (const char *p = b; p < end;) {
		const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
		if (eol == NULL)
			break;
		if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0)
			cl = strtol(p + 15, NULL, 10);
		p = eol + 2;
	}
	if (cl < 0 || head + (size_t)cl > RBUF)
		return -1;
	return n >= head + (size_t)cl ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT N PATH HOLD_SECONDS\n", argv[0]);
		return 2;
	}
	const char *host = argv[1];
	int port = atoi(argv[2]);
	int n = atoi(argv[3]);
	const char *path = argv[4];
	int hold = atoi(argv[5]);
	if (n <= 0 || port <= 0 || hold <= 0) {
		fprintf(stderr, "idle_conns: bad arguments\n");
		return 2;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "idle_conns: bad IPv4 address %s\n", host);
		return 2;
	}
	char req[512];
	int reqlen = snprintf(req, sizeof req,
	    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: shunt-bench-idle\r\n\r\n",
	    path, host, port);

	struct conn *c = calloc((size_t)n, sizeof *c);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (c == NULL || ep == -1) {
		perror("idle_conns");
		return 1;
	}

	int next = 0, inflight = 0, ok = 0, failed = 0;
	double deadline = now() + 60;
	struct epoll_event evs[256];
	while ((ok + failed < n) && !stop && now() < deadline) {
		while (inflight < INFLIGHT && next < n) {
			struct conn *k = &c[next];
			k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (k->fd == -1) {
				perror("idle_conns: socket");
				k->state = C_FAILED;
				failed++;
				next++;
				continue;
			}
			int one = 1;
			setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			if (connect(k->fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
			    errno != EINPROGRESS) {
				close(k->fd);
				k->state = C_FAILED;
				failed++;
				next++;
				continue;
			}
			k->state = C_CONNECTING;
			struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)next };
			epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &ev);
			inflight++;
			next++;
		}
		int m = epoll_wait(ep, evs, 256, 200);
		for (int i = 0; i < m; i++) {
			struct conn *k = &c[evs[i].data.u32];
			int bad = 0;
			if (k->state == C_CONNECTING) {
				int err = 0;
				socklen_t el = sizeof err;
				getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err != 0 || write(k->fd, req, (size_t)reqlen) != reqlen) {
					bad = 1;
				} else {
					k->state = C_READING;
					k->buf = malloc(RBUF);
					struct epoll_event ev = { .events = EPOLLIN,
						.data.u32 = evs[i].data.u32 };
					epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
				}
			} else if (k->state == C_READING) {
				ssize_t r = read(k->fd, k->buf + k->got, RBUF - k->got);
				if (r <= 0) {
					bad = !(r == -1 && errno == EAGAIN);
				} else {
					k->got += (size_t)r;
					int d = response_done(k->buf, k->got);
					if (d == -1) {
						bad = 1;
					} else if (d == 1) {
						epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
						free(k->buf);
						k->buf = NULL;
						k->state = C_DONE;
						ok++;
						inflight--;
					}
				}
			}
			if (bad) {
				epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
				close(k->fd);
				free(k->buf);
				k->buf = NULL;
				k->state = C_FAILED;
				failed++;
				inflight--;
			}
		}
	}
	/* Whatever did not finish in time counts as failed. */
	for (int i = 0; i < next; i++) {
		if (c[i].state == C_CONNECTING || c[i].state == C_READING) {
			close(c[i].fd);
			c[i].state = C_FAILED;
			failed++;
		}
	}
	failed += n - next;
	printf("ready %d %d\n", ok, failed);
	fflush(stdout);

	double until = now() + hold;
	while (!stop && now() < until)
		usleep(50000);

	int alive = 0;
	for (int i = 0; i < n; i++) {
		if (c[i].state != C_DONE)
			continue;
		char b;
		ssize_t r = recv(c[i].fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (r == -1 && errno == EAGAIN)
			alive++;
	}
	printf("alive %d\n", alive);
	fflush(stdout);
	return 0;
}
