/*
 * Unit tests for the request's state machine (worker/proxy.c) and its
 * retry paths, in one process with everything real: the worker's loop,
 * a temp LMDB store published as the master does, client connections
 * over socket pairs, and loopback peers in a child process that answer,
 * reset after reading a request, or are not there at all.  Each case
 * checks what the client got and what the store learnt (DESIGN.md §4).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "balance.h"
#include "cfg.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "peers.h"
#include "privs.h"
#include "req.h"
#include "state.h"
#include "store.h"
#include "tap.h"
#include "tmpdir.h"
#include "upstream.h"

static char		 statedir[256];
static pid_t		 peer_pid = -1;
static unsigned short	 port_ok, port_reset, port_dead, port_dead2;

struct fixture {
	struct shunt_config	*cfg;
	struct worker		 w;
	struct listener_rt	 lst;
	unsigned		 closed;	/* w.conn_closed calls */
};

static struct fixture	*the_fixture;

static int
listen_any(unsigned short *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Read one request head (and a Content-Length body) from fd. */
static int
peer_read_request(int fd)
{
	char	 buf[8192], *end, *cl;
	size_t	 have = 0, need;
	ssize_t	 n;

	for (;;) {
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		need = (size_t)(end + 4 - buf);
		if ((cl = strcasestr(buf, "\r\ncontent-length:")) != NULL &&
		    cl < end)
			need += strtoul(cl + 17, NULL, 10);
		if (have >= need)
			return 0;
	}
}

/* The child: an answering peer and one that resets after a request. */
static void
peer_child(int ok_fd, int reset_fd)
{
	static const char	 answer[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n\r\nok";
	struct linger		 lg = { 1, 0 };
	fd_set			 rset;
	int			 fd, maxfd = ok_fd > reset_fd ? ok_fd : reset_fd;

	alarm(120);	/* never outlive a stuck test */
	for (;;) {
		FD_ZERO(&rset);
		FD_SET(ok_fd, &rset);
		FD_SET(reset_fd, &rset);
		if (select(maxfd + 1, &rset, NULL, NULL, NULL) == -1)
			_exit(1);
		if (FD_ISSET(ok_fd, &rset) &&
		    (fd = accept(ok_fd, NULL, NULL)) != -1) {
			/* One request a connection keeps the child simple. */
			if (peer_read_request(fd) == 0)
				(void)write(fd, answer, sizeof(answer) - 1);
			close(fd);
		}
		if (FD_ISSET(reset_fd, &rset) &&
		    (fd = accept(reset_fd, NULL, NULL)) != -1) {
			(void)peer_read_request(fd);
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
			close(fd);
		}
	}
}

static int
peers_start(void)
{
	int	 ok_fd, reset_fd, dead_fd, dead2_fd;

	if ((ok_fd = listen_any(&port_ok)) == -1 ||
	    (reset_fd = listen_any(&port_reset)) == -1 ||
	    (dead_fd = listen_any(&port_dead)) == -1 ||
	    (dead2_fd = listen_any(&port_dead2)) == -1)
		return -1;
	close(dead_fd);		/* nothing listens there now: refused */
	close(dead2_fd);
	if ((peer_pid = fork()) == -1)
		return -1;
	if (peer_pid == 0)
		peer_child(ok_fd, reset_fd);
	close(ok_fd);
	close(reset_fd);
	return 0;
}

static void
peers_stop(void)
{
	if (peer_pid > 0) {
		kill(peer_pid, SIGKILL);
		(void)waitpid(peer_pid, NULL, 0);
		peer_pid = -1;
	}
}

static void
fixture_conn_closed(struct worker *w)
{
	(void)w;
	the_fixture->closed++;
}

static void
fixture_open(struct fixture *f)
{
	struct cfg_error	 err;
	struct privs		 privs = { .drop = false };
	struct wpool		*p;
	char			 text[3072], msg[512];
	size_t			 i, j;

	memset(f, 0, sizeof(*f));
	the_fixture = f;
	tmpdir_make(statedir, sizeof(statedir), "test_proxy");
	snprintf(text, sizeof(text), "{ \"state_dir\": \"%s\", \"workers\": 1,"
	    " \"listeners\": [ { \"listen\": \"127.0.0.1:1\", \"pool\": \"fo\","
	    "   \"routes\": [ { \"path_prefix\": \"/rstget/\", \"pool\": \"rg\" },"
	    "     { \"path_prefix\": \"/rstpost/\", \"pool\": \"rp\" },"
	    "     { \"path_prefix\": \"/dead/\", \"pool\": \"dead\" },"
	    "     { \"path_prefix\": \"/dual/\", \"pool\": \"dual\" },"
	    "     { \"path_prefix\": \"/lone/\", \"pool\": \"lone\" } ] } ],"
	    " \"pools\": {"
	    "  \"fo\": { \"peers\": [ { \"address\": \"127.0.0.1:%u\" },"
	    "    { \"address\": \"127.0.0.1:%u\" } ] },"
	    "  \"rg\": { \"peers\": [ { \"address\": \"127.0.0.1:%u\" },"
	    "    { \"address\": \"127.0.0.1:%u\" } ] },"
	    "  \"rp\": { \"peers\": [ { \"address\": \"127.0.0.1:%u\" },"
	    "    { \"address\": \"127.0.0.1:%u\" } ] },"
	    "  \"dead\": { \"peers\": [ { \"address\": \"127.0.0.1:%u\" } ] },"
	    "  \"dual\": { \"health\": { \"max_fails\": 3 }, \"peers\": ["
	    "    { \"address\": \"127.0.0.1:%u\" },"
	    "    { \"address\": \"127.0.0.1:%u\" },"
	    "    { \"address\": \"127.0.0.1:%u\", \"backup\": true } ] },"
	    "  \"lone\": { \"health\": { \"max_fails\": 3 }, \"peers\": ["
	    "    { \"address\": \"127.0.0.1:%u\" } ] } } }",
	    statedir, port_dead, port_ok, port_reset, port_ok, port_reset,
	    port_ok, port_dead, port_dead, port_dead2, port_ok, port_dead);
	f->cfg = cfg_load_buffer(text, strlen(text), "test.json", statedir,
	    &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->cfg);
	if (state_publish(f->cfg, &privs, 1, false, msg, sizeof(msg)) != 0) {
		printf("# state_publish: %s\n", msg);
		CU_FAIL_FATAL("state_publish");
	}
	f->w.cfg = f->cfg;
	f->w.access_fd = -1;
	f->w.conn_closed = fixture_conn_closed;
	f->w.loop = loop_new(64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->w.loop);
	http_settings_init(&f->w);
	f->w.npools = f->cfg->npools;
	f->w.pools = calloc(f->cfg->npools, sizeof(*f->w.pools));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->w.pools);
	for (i = 0; i < f->cfg->npools; i++) {
		p = &f->w.pools[i];
		p->cfg = &f->cfg->pools[i];
		CU_ASSERT_EQUAL_FATAL(bal_pool_init(&p->bal, p->cfg), 0);
		peers_params(p->cfg, &p->params);
		p->peers = calloc(p->cfg->npeers, sizeof(*p->peers));
		CU_ASSERT_PTR_NOT_NULL_FATAL(p->peers);
		for (j = 0; j < p->cfg->npeers; j++) {
			p->peers[j].cfg = &p->cfg->peers[j];
			p->peers[j].bal = &p->bal.peers[j];
		}
	}
	CU_ASSERT_EQUAL_FATAL(peers_open(&f->w), 0);
	f->lst.w = &f->w;
	f->lst.fd = -1;
	f->lst.cfg = &f->cfg->listeners[0];
}

static void
fixture_close(struct fixture *f)
{
	size_t	 i;

	while (!LIST_EMPTY(&f->w.conns))
		conn_close(LIST_FIRST(&f->w.conns));
	req_free_spares(&f->w);
	up_close_idle(&f->w);
	peers_close(&f->w);
	for (i = 0; i < f->w.npools; i++) {
		bal_pool_free(&f->w.pools[i].bal);
		free(f->w.pools[i].peers);
	}
	free(f->w.pools);
	loop_free(f->w.loop);
	cfg_free(f->cfg);
	tmpdir_remove(statedir);
}

/*
 * Send request as a client of the worker and run its loop until the
 * answer is whole (its Content-Length read) or the connection ends:
 * the status, or 0 for none.  Bounded by loop passes, not by a clock.
 */
static unsigned
exchange(struct fixture *f, const char *request)
{
	struct sockaddr_storage	 sa;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&sa;
	char			 buf[4096], *end, *cl;
	size_t			 have = 0, need = 0;
	ssize_t			 n;
	int			 sv[2], pass;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	conn_new(&f->w, &f->lst, sv[0], &sa);
	if (write(sv[1], request, strlen(request)) != (ssize_t)strlen(request))
		goto out;
	for (pass = 0; pass < 400; pass++) {
		(void)loop_once(f->w.loop, 25);
		n = read(sv[1], buf + have, sizeof(buf) - 1 - have);
		if (n == 0)
			break;
		if (n > 0) {
			have += (size_t)n;
			buf[have] = '\0';
		}
		if (need == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			need = (size_t)(end + 4 - buf);
			if ((cl = strcasestr(buf, "\r\ncontent-length:")) !=
			    NULL && cl < end)
				need += strtoul(cl + 17, NULL, 10);
		}
		if (need > 0 && have >= need)
			break;
	}
out:
	close(sv[1]);
	/* Let the worker see the client go and close its side. */
	for (pass = 0; pass < 4; pass++)
		(void)loop_once(f->w.loop, 5);
	return have > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0 ?
	    (unsigned)strtoul(buf + 9, NULL, 10) : 0;
}

static struct store_peer
record(struct fixture *f, const char *pool, unsigned short port)
{
	struct store_peer	 rec;
	char			 addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	memset(&rec, 0, sizeof(rec));
	CU_ASSERT_EQUAL(store_read_begin(f->w.store), 0);
	CU_ASSERT_EQUAL(store_peer_get(f->w.store, pool, addr, &rec), 0);
	store_read_end(f->w.store);
	return rec;
}

static void
test_retry_paths(void)
{
	struct fixture		 f;
	struct store_peer	 rec;
	unsigned		 status;

	fixture_open(&f);

	/* Rule 2: a refused connect is retried elsewhere, always. */
	status = exchange(&f, "GET /fo/a HTTP/1.1\r\nHost: t\r\n\r\n");
	rec = record(&f, "fo", port_dead);
	tap_result(status == 200 && rec.last_kind == FAIL_CONNECT_REFUSED &&
	    rec.health == HEALTH_DOWN, "proxy: a refused connect is retried "
	    "on the next peer, the refusing one marked down (status %u)",
	    status);

	/* Rule 3: a reset after the request went out, idempotent: retried. */
	status = exchange(&f, "GET /rstget/a HTTP/1.1\r\nHost: t\r\n\r\n");
	rec = record(&f, "rg", port_reset);
	tap_result(status == 200 && rec.consecutive_failures == 1 &&
	    (rec.last_kind == FAIL_RESET || rec.last_kind == FAIL_CLOSED),
	    "proxy: a GET whose peer reset is retried on another peer "
	    "(status %u, kind %s)", status, failure_name(rec.last_kind));

	/* Rule 3: the same for a POST: never retried, 502. */
	status = exchange(&f, "POST /rstpost/a HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 5\r\n\r\nhello");
	rec = record(&f, "rp", port_reset);
	tap_result(status == 502 && rec.consecutive_failures == 1,
	    "proxy: a POST whose peer reset after the request is not "
	    "retried: 502 (status %u)", status);
	rec = record(&f, "rp", port_ok);
	CU_ASSERT_EQUAL(rec.requests, 0);
	CU_ASSERT_EQUAL(rec.consecutive_failures, 0);

	/* Rule 5: tries used up is 502; no peer left to try is 503. */
	status = exchange(&f, "GET /dead/a HTTP/1.1\r\nHost: t\r\n\r\n");
	tap_result(status == 502, "proxy: a pool whose only peer refuses "
	    "answers 502 (status %u)", status);
	status = exchange(&f, "GET /dead/b HTTP/1.1\r\nHost: t\r\n\r\n");
	tap_result(status == 503, "proxy: with that peer down, no try can "
	    "be made: 503 (status %u)", status);

	/*
	 * Issue 14: failed connects do not use up retry.tries (2 here):
	 * both primaries refuse, the backup answers.
	 */
	status = exchange(&f, "GET /dual/a HTTP/1.1\r\nHost: t\r\n\r\n");
	tap_result(status == 200 && record(&f, "dual", port_dead)
	    .consecutive_failures == 1 && record(&f, "dual", port_dead2)
	    .consecutive_failures == 1, "proxy: two primaries refuse, the "
	    "backup answers: connect failures leave retry.tries alone "
	    "(status %u)", status);
	/* A peer that refused is not tried again by the same request. */
	status = exchange(&f, "GET /lone/a HTTP/1.1\r\nHost: t\r\n\r\n");
	rec = record(&f, "lone", port_dead);
	tap_result(status == 502 && rec.consecutive_failures == 1,
	    "proxy: a request never tries a peer twice after it refused "
	    "(status %u, failures %u)", status, rec.consecutive_failures);

	/* A bad head is answered by shunt itself, no peer tried. */
	status = exchange(&f, "GET /fo/b HTTP/1.1\r\nHost: a b\r\n\r\n");
	tap_result(status == 400, "proxy: a bad Host is answered 400 "
	    "(status %u)", status);
	tap_result(f.closed >= 8, "proxy: every client connection closed "
	    "and told the worker (%u)", f.closed);
	fixture_close(&f);
}

int
main(void)
{
	CU_pSuite	 s;
	int		 rc;

	signal(SIGPIPE, SIG_IGN);
	log_init("test_proxy", CFG_LOG_ERROR);
	if (peers_start() == -1) {
		perror("test_proxy: peers");
		return 99;
	}
	if (CU_initialize_registry() != CUE_SUCCESS) {
		peers_stop();
		return 99;
	}
	s = CU_add_suite("proxy", NULL, NULL);
	CU_add_test(s, "retry paths", test_retry_paths);
	rc = tap_run_registry();
	peers_stop();
	return rc;
}
