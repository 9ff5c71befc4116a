/*
 * upstream.c: connections to peers, and each peer's idle keep-alive list.
 * A connection in use reports to its owner through the handlers the owner
 * set; this file names none of its users.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "tls.h"
#include "upstream.h"

static void	up_on_io(struct loop *, int, unsigned, void *);
static void	up_on_timer(struct loop *, struct loop_timer *, void *);

enum failure_kind
up_connect_failure(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return FAIL_CONNECT_REFUSED;
	case ETIMEDOUT:
		return FAIL_CONNECT_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
		return FAIL_UNREACHABLE;
	default:
		return FAIL_CONNECT_REFUSED;
	}
}

struct upstream *
up_connect(struct worker *w, struct wpeer *wp,
    const struct up_handlers *owner, enum failure_kind *fail)
{
	const struct cfg_peer	*peer = wp->cfg;
	struct upstream		*up;
	int			 fd, one = 1;

	fd = socket(peer->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket for upstream %s", peer->addr.text);
		*fail = FAIL_UNREACHABLE;
		return NULL;
	}
	/* Heads and small bodies go out in one write: never wait for ACKs. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&peer->addr.sa,
	    peer->addr.salen) == -1 && errno != EINPROGRESS) {
		*fail = up_connect_failure(errno);
		close(fd);
		return NULL;
	}
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		close(fd);
		*fail = FAIL_UNREACHABLE;
		return NULL;
	}
	up->io.fd = fd;
	up->io.ops = &io_plain_ops;
	/* The handshake starts once TCP is connected (proxy.c). */
	if (peer->tls && tls_client_start(&up->io, peer,
	    &wp->tls_session) == -1) {
		log_warnx("no memory for TLS to upstream %s", peer->addr.text);
		close(fd);
		free(up);
		*fail = FAIL_UNREACHABLE;
		return NULL;
	}
	up->w = w;
	up->wp = wp;
	up->owner = owner;
	up->state = UP_CONNECTING;
	up->connect_start_ms = loop_now_ms(w->loop);
	loop_timer_init(&up->timer, up_on_timer, up);
	/* Edge-triggered for both directions: no epoll_ctl per request. */
	if (loop_add(w->loop, fd, LOOP_READ | LOOP_WRITE | LOOP_EDGE,
	    up_on_io, up) == -1) {
		log_warn("loop_add upstream");
		io_close(&up->io);
		free(up);
		*fail = FAIL_UNREACHABLE;
		return NULL;
	}
	return up;
}

static void
up_unlink_idle(struct upstream *up)
{
	struct wpeer	*wp = up->wp;

	LIST_REMOVE(up, link);
	wp->nidle--;
}

bool
up_syn_unanswered(const struct upstream *up)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	/* Cannot tell: the caller's timer is all there is to go by. */
	if (getsockopt(up->io.fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return true;
	return ti.tcpi_state == TCP_SYN_SENT;
}

struct upstream *
up_take_idle(struct wpeer *wp, const struct up_handlers *owner)
{
	struct upstream	*up = LIST_FIRST(&wp->idle);

	if (up == NULL)
		return NULL;
	up_unlink_idle(up);
	/* Its request arms it again at once: stopping it is O(1). */
	loop_timer_stop(up->w->loop, &up->timer);
	up->state = UP_ACTIVE;
	up->reused = true;
	up->owner = owner;
	return up;
}

void
up_park(struct upstream *up)
{
	struct wpeer		*wp = up->wp;
	const struct cfg_pool	*pool = wp->cfg->pool;

	up->req = NULL;
	up->owner = NULL;
	/* io.buffered: the peer's close_notify came with the response. */
	if (wp->nidle >= pool->keepalive.max_idle || up->w->stopping ||
	    up->io.buffered) {
		up_close(up);
		return;
	}
	up->state = UP_IDLE;
	LIST_INSERT_HEAD(&wp->idle, up, link);
	wp->nidle++;
	up->idle_since = loop_now_ms(up->w->loop);
	(void)loop_timer_set(up->w->loop, &up->timer,
	    pool->keepalive.idle_timeout_ms);
}

void
up_close(struct upstream *up)
{
	if (up->state == UP_IDLE)
		up_unlink_idle(up);
	loop_timer_cancel(up->w->loop, &up->timer);
	(void)loop_forget(up->w->loop, up->io.fd);
	io_close(&up->io);
	free(up);
}

void
up_close_idle(struct worker *w)
{
	struct wpeer	*wp;
	size_t		 i, j;

	for (i = 0; i < w->npools; i++)
		for (j = 0; j < w->pools[i].cfg->npeers; j++) {
			wp = &w->pools[i].peers[j];
			while (!LIST_EMPTY(&wp->idle))
				up_close(LIST_FIRST(&wp->idle));
		}
}

static void
up_on_io(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct upstream	*up = arg;
	char		 probe[1];

	(void)loop;
	(void)fd;
	revents = io_ready(&up->io, revents);
	if (revents & (LOOP_READ | LOOP_ERROR))
		up->readable = true;
	if (revents & (LOOP_HUP | LOOP_ERROR))
		up->hup = true;
	if (revents & (LOOP_WRITE | LOOP_ERROR))
		up->writable = true;
	if (up->state == UP_IDLE) {
		/*
		 * An idle connection has nothing to say: data or EOF means the
		 * peer closed it or broke protocol.  Either way it is useless.
		 * Over TLS the data is a close_notify, or a record we cannot
		 * take out of order: useless too.
		 */
		if (up->readable && recv(up->io.fd, probe, 1, MSG_PEEK) != -1)
			up_close(up);
		else
			up->readable = false;
		return;
	}
	up->owner->event(up);
}

static void
up_on_timer(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct upstream	*up = arg;

	(void)loop;
	(void)t;
	if (up->state == UP_IDLE) {
		up_close(up);
		return;
	}
	up->owner->timeout(up);
}
