/*
 * conn.c: the client side of the worker.
 *
 * A connection reads a request head, hands the request to proxy.c, and
 * when the response is written takes the next (pipelined or keep-alive)
 * request.  Buffers are held only while there is data, so an idle
 * keep-alive connection costs little more than this struct.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "buf.h"
#include "client.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "proxy.h"
#include "req.h"
#include "tls.h"

/* How long a closing connection drains what the client still sends. */
#define CONN_LINGER_MS		2000
/* Stopping: how long a new connection may take to send its request. */
#define CONN_STOP_GRACE_MS	1000

static void	conn_on_io(struct loop *, int, unsigned, void *);
static void	conn_on_timer(struct loop *, struct loop_timer *, void *);
static void	conn_run(struct conn *);
static void	conn_settle(struct conn *, enum req_verdict);
static void	conn_req_settle(struct req *, enum req_verdict);

/*
 * glibc's inet_ntop() formats IPv4 with sprintf(): a seventh of the
 * instructions of a connection that carries one request.
 */
static void
conn_ipv4_text(const struct in_addr *addr, char *out)
{
	const unsigned char	*b = (const unsigned char *)&addr->s_addr;
	int			 i;

	for (i = 0; i < 4; i++) {
		if (b[i] >= 100)
			*out++ = (char)('0' + b[i] / 100);
		if (b[i] >= 10)
			*out++ = (char)('0' + b[i] / 10 % 10);
		*out++ = (char)('0' + b[i] % 10);
		*out++ = i < 3 ? '.' : '\0';
	}
}

void
conn_new(struct worker *w, struct listener_rt *l, int fd,
    const struct sockaddr_storage *sa)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: conn");
		close(fd);
		return;
	}
	c->io.fd = fd;
	c->io.ops = &io_plain_ops;
	c->w = w;
	c->lst = l->cfg;
	c->state = CONN_IDLE;
	c->writable = true;
	if (c->lst->tls != NULL) {
		if (tls_server_start(&c->io, c->lst->tls) == -1) {
			log_warnx("accept: no memory for TLS");
			close(fd);
			free(c);
			return;
		}
		c->state = CONN_HANDSHAKE;
		/* The handshake's last small records may still be unacked
		 * when the first response goes out. */
		client_nodelay(c);
	}
	if (sa->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    c->client, sizeof(c->client));
	else
		conn_ipv4_text(&((const struct sockaddr_in *)sa)->sin_addr,
		    c->client);
	loop_timer_init(&c->timer, conn_on_timer, c);
	if (loop_add(w->loop, fd, LOOP_READ | LOOP_WRITE | LOOP_EDGE,
	    conn_on_io, c) == -1) {
		log_warn("accept: loop_add");
		io_close(&c->io);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&w->conns, c, link);
	w->nconns++;
	/*
	 * A new connection must send its first head within header_timeout;
	 * a TLS handshake is part of that time.
	 */
	c->head_start_ms = loop_now_ms(w->loop);
	(void)loop_timer_set(w->loop, &c->timer,
	    c->lst->limits.header_timeout_ms);
}

/*
 * A handler of c is on the stack: conn_close() leaves the freeing to the
 * last conn_leave().
 */
static void
conn_enter(struct conn *c)
{
	c->running++;
}

static void
conn_leave(struct conn *c)
{
	if (--c->running == 0 && c->closed)
		free(c);
}

static void
conn_unlink(struct conn *c)
{
	struct worker	*w = c->w;

	LIST_REMOVE(c, link);
	w->nconns--;
}

void
conn_close(struct conn *c)
{
	struct worker	*w = c->w;
	struct req	*r = c->req;

	if (c->closed)
		return;
	c->closed = true;
	if (r != NULL) {
		proxy_abort(r);
		/* 499 as nginx logs it: the client went before the answer. */
		accesslog_write(w, c, r, r->resp_done || r->status ? r->status :
		    499);
		c->req = NULL;
		req_free(r);
	}
	loop_timer_cancel(w->loop, &c->timer);
	(void)loop_forget(w->loop, c->io.fd);
	io_close(&c->io);
	buf_free(&c->in);
	buf_free(&c->out);
	conn_unlink(c);
	w->conn_closed(w);
	if (c->running == 0)
		free(c);
}

/*
 * Send FIN and read until the client closes too, so that an answer sent
 * before its request was read whole is not destroyed by a reset.
 */
static void
conn_linger(struct conn *c)
{
	if (buf_used(&c->in) == 0 && c->eof) {
		conn_close(c);
		return;
	}
	io_shutdown(&c->io);
	c->state = CONN_LINGER;
	buf_free(&c->out);
	(void)loop_timer_set(c->w->loop, &c->timer, CONN_LINGER_MS);
	if (!c->in_run)
		conn_run(c);
}

/* Arm the client-side timer that fits what c waits for. */
static void
conn_update_timer(struct conn *c)
{
	struct worker		*w = c->w;
	struct req		*r = c->req;
	const struct cfg_limits	*lim = &c->lst->limits;

	switch (c->state) {
	case CONN_BUSY:
		if (r == NULL)
			return;
		if (buf_used(&c->out) > 0 && !c->writable)
			(void)loop_timer_set(w->loop, &c->timer,
			    lim->body_timeout_ms);
		else if (!r->body_done && r->up != NULL &&
		    r->up->state == UP_ACTIVE && proxy_unsent(r) == 0 &&
		    buf_used(&c->in) == 0)
			(void)loop_timer_set(w->loop, &c->timer,
			    lim->body_timeout_ms);
		else
			loop_timer_stop(w->loop, &c->timer);
		return;
	case CONN_CLOSING:
		(void)loop_timer_set(w->loop, &c->timer, lim->body_timeout_ms);
		return;
	default:
		return;
	}
}

/*
 * The response to c->req was written whole: log it, free it, then keep
 * the connection for the next request or close it.
 */
static void
conn_request_done(struct conn *c)
{
	struct worker	*w = c->w;
	struct req	*r = c->req;
	bool		 keep, unread;

	keep = !c->close_after && r->head.keepalive && !w->stopping &&
	    !c->eof;
	unread = !r->body_done || buf_used(&c->in) > 0;
	accesslog_write(w, c, r, r->status);
	c->req = NULL;
	req_free(r);
	if (!keep) {
		/* Linger only when the client may still be sending: else its
		 * next bytes would meet a reset that destroys our answer. */
		if (unread && !c->eof)
			conn_linger(c);
		else
			conn_close(c);
		return;
	}
	c->scan = 0;
	if (buf_used(&c->in) > 0) {
		/* A pipelined request is waiting. */
		c->state = CONN_HEAD;
		c->head_start_ms = loop_now_ms(w->loop);
		(void)loop_timer_set(w->loop, &c->timer,
		    c->lst->limits.header_timeout_ms);
	} else {
		c->state = CONN_IDLE;
		buf_free(&c->in);
		buf_free(&c->out);
		(void)loop_timer_set(w->loop, &c->timer,
		    c->lst->limits.keepalive_timeout_ms);
	}
	if (!c->in_run)
		conn_run(c);
}

/* Returns 0 when the handshake is done, -1 while it is not (or c closed). */
static int
conn_handshake(struct conn *c)
{
	char	 why[160];
	int	 rc;

	if ((rc = io_handshake(&c->io)) == 1)
		return -1;
	if (rc == -1) {
		/* A scanner or a client that distrusts us: not our error. */
		if (tls_error(&c->io, why, sizeof(why)))
			log_info("client %s on %s: TLS handshake failed: %s",
			    c->client, c->lst->addr.text, why);
		else
			log_debug("client %s on %s: TLS handshake failed: %s",
			    c->client, c->lst->addr.text, why);
		conn_close(c);
		return -1;
	}
	c->state = CONN_IDLE;
	/* The request may have come with the last handshake bytes. */
	c->readable = c->writable = true;
	return 0;
}

/* Answer before a request exists (head too large, malformed, ...). */
static void
conn_reject(struct conn *c, unsigned status)
{
	c->close_after = true;
	c->state = CONN_CLOSING;
	(void)http_error_page(&c->out, status, true);
	accesslog_write(c->w, c, NULL, status);
	conn_update_timer(c);
}

static void
conn_start_request(struct conn *c, size_t end)
{
	struct worker	*w = c->w;
	struct req	*r;
	bool		 complete;
	int		 status;

	if ((r = req_new(c, conn_req_settle)) == NULL) {
		conn_close(c);
		return;
	}
	r->start_ms = c->head_start_ms;
	r->bytes_at_start = c->bytes_out;
	llhttp_init(&r->parser, HTTP_REQUEST, &w->req_settings);
	status = http_parse_request(&r->parser, &r->head, buf_start(&c->in),
	    end, &c->lst->limits, &complete);
	buf_consume(&c->in, end);
	c->scan = 0;
	c->req = r;
	c->state = CONN_BUSY;
	/* Armed again when the request ends: stopping it is O(1). */
	loop_timer_stop(w->loop, &c->timer);
	r->body_done = complete;
	if (status != 0) {
		/* What follows a bad head cannot be trusted to frame. */
		c->close_after = true;
		r->head.keepalive = false;
		conn_settle(c, proxy_reply(r, (unsigned)status));
		return;
	}
	conn_settle(c, proxy_start(r));
}

/* Act on what the request's pump said (proxy.h). */
static void
conn_settle(struct conn *c, enum req_verdict verdict)
{
	switch (verdict) {
	case REQ_WAIT:
		conn_update_timer(c);
		return;
	case REQ_DONE:
		conn_request_done(c);
		return;
	case REQ_CLOSE:
		conn_close(c);
		return;
	}
}

/* The same, when an upstream event moved the request. */
static void
conn_req_settle(struct req *r, enum req_verdict verdict)
{
	struct conn	*c = r->c;

	conn_enter(c);
	conn_settle(c, verdict);
	conn_leave(c);
}

static void
conn_run(struct conn *c)
{
	const struct cfg_limits	*lim = &c->lst->limits;
	size_t			 end;
	int			 rc;

	c->in_run = true;
	while (!c->closed) {
		switch (c->state) {
		case CONN_HANDSHAKE:
			if (conn_handshake(c) == -1)
				goto out;
			continue;
		case CONN_BUSY:
			conn_settle(c, proxy_run(c->req));
			if (!c->closed && c->state == CONN_BUSY)
				goto out;
			continue;
		case CONN_CLOSING:
			if (client_flush(c) == -1) {
				conn_close(c);
				goto out;
			}
			if (buf_used(&c->out) == 0) {
				conn_linger(c);
				goto out;
			}
			goto out;
		case CONN_LINGER:
			c->in.off = c->in.len = 0;
			while (c->readable)
				if (client_fill(c) == -1) {
					conn_close(c);
					goto out;
				} else
					c->in.off = c->in.len = 0;
			goto out;
		case CONN_IDLE:
		case CONN_HEAD:
			break;
		}
		if (buf_used(&c->in) > 0) {
			rc = http_head_end(buf_start(&c->in), buf_used(&c->in),
			    &c->scan, &end);
			if (rc == HTTP_HEAD_BAD) {
				conn_reject(c, 400);
				continue;
			}
			if (rc == HTTP_HEAD_DONE) {
				if (end > lim->max_header_size) {
					conn_reject(c, 431);
					continue;
				}
				conn_start_request(c, end);
				continue;
			}
			if (buf_used(&c->in) > lim->max_header_size) {
				conn_reject(c, 431);
				continue;
			}
		}
		if (!c->readable)
			break;
		rc = client_fill(c);
		if (rc == -1) {
			/* Gone between requests, or with half a head. */
			conn_close(c);
			goto out;
		}
		if (rc == 0)
			break;
		if (c->state == CONN_IDLE) {
			c->state = CONN_HEAD;
			c->head_start_ms = loop_now_ms(c->w->loop);
			(void)loop_timer_set(c->w->loop, &c->timer,
			    lim->header_timeout_ms);
		}
	}
out:
	c->in_run = false;
}

static void
conn_on_io(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct conn	*c = arg;

	(void)loop;
	(void)fd;
	revents = io_ready(&c->io, revents);
	if (revents & (LOOP_READ | LOOP_ERROR))
		c->readable = true;
	if (revents & (LOOP_HUP | LOOP_ERROR))
		c->hup = true;
	if (revents & (LOOP_WRITE | LOOP_ERROR))
		c->writable = true;
	conn_enter(c);
	conn_run(c);
	conn_leave(c);
}

static void
conn_on_timer(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct conn	*c = arg;
	struct req	*r = c->req;

	(void)loop;
	(void)t;
	conn_enter(c);
	switch (c->state) {
	case CONN_HEAD:
		if (buf_used(&c->in) > 0) {
			conn_reject(c, 408);
			conn_run(c);
		} else {
			conn_close(c);
		}
		break;
	case CONN_BUSY:
		/* A body that stopped coming in time, before any answer. */
		if (r != NULL && !r->body_done && !r->resp_header_sent &&
		    buf_used(&c->out) == 0) {
			c->close_after = true;
			proxy_abort(r);
			conn_settle(c, proxy_reply(r, 408));
		} else {
			conn_close(c);
		}
		break;
	case CONN_HANDSHAKE:
		log_debug("client %s on %s: TLS handshake timed out "
		    "(header_timeout)", c->client, c->lst->addr.text);
		conn_close(c);
		break;
	case CONN_IDLE:
	case CONN_CLOSING:
	case CONN_LINGER:
		conn_close(c);
		break;
	}
	conn_leave(c);
}

void
conn_close_idle(struct worker *w)
{
	struct conn	*c, *next;

	for (c = LIST_FIRST(&w->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		/* A TLS handshake under way is a connection about to ask. */
		if (c->state != CONN_IDLE && c->state != CONN_HANDSHAKE)
			continue;
		/*
		 * A request may be waiting behind an edge not yet handled:
		 * closing over unread bytes would reset the connection.  One
		 * read tells; a request found is served and the connection
		 * closes after it (w->stopping).
		 */
		c->readable = true;
		conn_enter(c);
		conn_run(c);
		if (c->closed || (c->state != CONN_IDLE &&
		    c->state != CONN_HANDSHAKE)) {
			conn_leave(c);
			continue;
		}
		/*
		 * A connection accepted a moment ago has its first request
		 * on the way, and its client never had an answer that could
		 * tell it to retry elsewhere: serve that one request (it
		 * gets Connection: close), within a short grace.  An idle
		 * keep-alive connection may be closed: clients resend on a
		 * fresh one (RFC 9112 §9.3.1).
		 */
		if (c->bytes_out == 0) {
			if (c->lst->limits.header_timeout_ms >
			    CONN_STOP_GRACE_MS)
				(void)loop_timer_set(w->loop, &c->timer,
				    CONN_STOP_GRACE_MS);
		} else {
			conn_close(c);
		}
		conn_leave(c);
	}
}
