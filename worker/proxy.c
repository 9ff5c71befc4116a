/*
 * proxy.c: a request's tries against its pool, and the pump that moves the
 * request body up and the response down with backpressure: the upstream is
 * read only while the client has nothing left to write, and the client only
 * while the upstream has taken everything already read.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "http.h"
#include "log.h"
#include "orphan.h"
#include "peers.h"
#include "proxy.h"
#include "req.h"
#include "retry.h"
#include "tls.h"
#include "upstream.h"

/* Largest response head accepted from a peer. */
#define PROXY_MAX_RESP_HEAD	(64 * 1024)
/* Response bytes read in one go: a 16 KiB body and its head in one read. */
#define PROXY_CHUNK		(32 * 1024)

static int	proxy_next_try(struct req *, bool fresh);
static int	proxy_fail(struct req *, enum failure_kind, const char *);
static void	proxy_upstream_event(struct upstream *);
static void	proxy_upstream_timeout(struct upstream *);

/* What the request's upstream connection tells it. */
static const struct up_handlers proxy_up_handlers = {
	proxy_upstream_event, proxy_upstream_timeout
};

static struct wpool *
proxy_route(struct req *r)
{
	const struct cfg_listener	*l = r->c->lst;
	const struct cfg_route		*rt;
	const char			*path = r->head.raw + r->head.path_off;
	char				 host[256];
	size_t				 i;
	bool				 have_host = false;

	for (i = 0; i < l->nroutes; i++) {
		rt = &l->routes[i];
		/* Lower-cased once, and only when a route asks for it. */
		if (rt->host != NULL && !have_host) {
			http_request_host(&r->head, host, sizeof(host));
			have_host = true;
		}
		if (rt->host != NULL && strcmp(rt->host, host) != 0)
			continue;
		if (rt->path_prefix != NULL && (strlen(rt->path_prefix) >
		    r->head.path_len || strncmp(path, rt->path_prefix,
		    strlen(rt->path_prefix)) != 0))
			continue;
		return &r->c->w->pools[rt->pool->index];
	}
	return &r->c->w->pools[l->pool->index];
}

static void
proxy_answer(struct req *r, unsigned status)
{
	struct conn	*c = r->c;

	/* The rest of an unread body would be taken for the next request. */
	if (!r->body_done)
		c->close_after = true;
	r->status = status;
	r->phase = REQ_RESPONDING;
	r->resp_done = true;
	if (http_error_page(&c->out, status, c->close_after ||
	    !r->head.keepalive) == -1)
		c->close_after = true;
}

/*
 * Rule 5: no more tries.  The answer follows the last try: 504 after a
 * timeout, else 502; 503 when no try could be made at all.
 */
static void
proxy_answer_failed(struct req *r)
{
	if (r->ntries == 0)
		proxy_answer(r, 503);
	else
		proxy_answer(r, failure_is_timeout(r->tries[r->ntries -
		    1].outcome) ? 504 : 502);
}

enum req_verdict
proxy_reply(struct req *r, unsigned status)
{
	proxy_answer(r, status);
	return proxy_run(r);
}

/* The request ends with its client connection. */
static int
proxy_close(struct req *r)
{
	r->closing = true;
	return -1;
}

enum req_verdict
proxy_start(struct req *r)
{
	struct conn		*c = r->c;
	struct worker		*w = c->w;
	const struct cfg_pool	*pool;

	r->pool = proxy_route(r);
	pool = r->pool->cfg;
	r->phase = REQ_UPSTREAM;
	r->head_request = r->head.method == HTTP_HEAD;
	r->client_10 = r->head.minor == 0;
	r->replayable = true;
	r->parser.settings = &w->req_body_settings;
	r->parser.data = r;
	if (req_tries_init(r, pool) == -1 ||
	    http_build_upstream_head(&r->up_head, &r->head, c->client,
	    c->lst->tls != NULL, &pool->peers[0], pool->keepalive.max_idle >
	    0) == -1)
		return proxy_reply(r, 500);
	/* Answer 100-continue ourselves: the body is read as it streams. */
	if (r->head.expect_continue && !r->body_done && r->head.minor == 1)
		(void)buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	if (proxy_next_try(r, false) == -1)
		return REQ_CLOSE;
	return proxy_run(r);
}

static void
proxy_release_up(struct req *r, bool reusable)
{
	struct upstream	*up = r->up;

	if (up == NULL)
		return;
	r->up = NULL;
	bal_done(&r->pool->bal, up->wp->bal);
	up->req = NULL;
	/* Parking arms it again, closing cancels it. */
	loop_timer_stop(r->c->w->loop, &up->timer);
	if (reusable)
		up_park(up);
	else
		up_close(up);
}

/*
 * Choose a peer and a connection for the next try.  Returns 0, or -1 when
 * the request ended (answered or the connection closed).
 */
static int
proxy_next_try(struct req *r, bool fresh)
{
	struct worker		*w = r->c->w;
	struct bal_peer		*bp;
	struct wpeer		*wp;
	struct upstream		*up = NULL;
	struct req_try		*t;
	enum failure_kind	 kind;
	uint64_t		 after;

	if (fresh) {
		bp = r->pool->peers[r->tries[r->ntries - 1].peer->index].bal;
	} else if (r->next_peer != NULL) {
		bp = r->next_peer;
		r->next_peer = NULL;
	} else if ((bp = peers_select(r, NULL)) == NULL) {
		proxy_answer_failed(r);
		return 0;
	}
	wp = &r->pool->peers[bp->cfg->index];
	if ((t = req_try_add(r)) == NULL) {
		proxy_answer(r, 500);
		return 0;
	}
	t->peer = bp->cfg;
	t->start_ms = loop_now_ms(w->loop);
	t->trial = r->trial;
	r->trial = false;
	if (!fresh)
		r->counted_tries++;
	r->tried[bp->cfg->index] = true;

	/*
	 * A fresh resend must not pick another stale idle connection; a
	 * trial is there to find out whether the peer answers SYNs.
	 */
	if (!fresh && !t->trial)
		up = up_take_idle(wp, &proxy_up_handlers);
	if (up == NULL && (up = up_connect(w, wp, &proxy_up_handlers,
	    &kind)) == NULL)
		return proxy_fail(r, kind, "connect");
	t->reused = up->reused;
	up->req = r;
	r->up = up;
	bal_start(&r->pool->bal, bp);

	/* Everything the peer gets: the head and the body read so far. */
	r->up_head_off = 0;
	r->up_out.off = r->up_out.len = 0;
	r->up_sent_any = false;
	r->up_sent_all = false;
	if (buf_append(&r->up_out, r->replay.data, r->replay.len) == -1) {
		proxy_release_up(r, false);
		proxy_answer(r, 500);
		return 0;
	}
	r->up_in.off = r->up_in.len = 0;
	r->scan = 0;
	r->resp_head_done = false;
	if (up->state == UP_CONNECTING) {
		/* First look again when a live peer would have answered. */
		after = peers_suspect_after(wp);
		up->timer_kind = after < bp->cfg->timeouts.connect_ms ?
		    FAIL_CONNECT_SLOW : FAIL_CONNECT_TIMEOUT;
		(void)loop_timer_set(w->loop, &up->timer,
		    after < bp->cfg->timeouts.connect_ms ? after :
		    bp->cfg->timeouts.connect_ms);
	}
	return 0;
}

/* Would rule 2-5 let r try again after a try that ended in `kind'? */
static enum retry_verdict
proxy_retry_verdict(struct req *r, enum failure_kind kind)
{
	const struct cfg_pool	*pool = r->pool->cfg;
	struct retry_facts	 facts;

	facts.outcome = kind;
	facts.header_sent = r->resp_header_sent;
	facts.idempotent = http_method_idempotent(&r->head);
	facts.non_idempotent = pool->retry.non_idempotent;
	facts.replayable = r->replayable;
	facts.tries_done = r->counted_tries;
	facts.tries_max = pool->retry.tries;
	facts.deadline_passed = pool->retry.deadline_ms > 0 &&
	    loop_now_ms(r->c->w->loop) - r->start_ms >=
	    pool->retry.deadline_ms;
	return retry_decide(&facts);
}

/*
 * The current try's connect has had no answer to its SYN for the suspect
 * threshold, where a live peer answers within microseconds on a LAN (or
 * within its usual connect time).  Mark the peer suspect for every
 * worker, so new requests stop going there; then, when a try is left and
 * another peer may take the request, move on now rather than wait out
 * connect_timeout: nothing was sent, so this is as safe as retrying a
 * failed connect (rule 2).  The connect itself is left to finish as an
 * orphan, whose end is the peer's verdict.  Returns 0, or -1 when the
 * request ended.
 */
static int
proxy_connect_slow(struct req *r)
{
	struct worker		*w = r->c->w;
	struct upstream		*up = r->up;
	struct req_try		*t = &r->tries[r->ntries - 1];
	struct bal_peer		*bp;
	uint64_t		 waited, limit;
	bool			 probe;

	waited = loop_now_ms(w->loop) - up->connect_start_ms;
	limit = t->peer->timeouts.connect_ms;
	up->timer_kind = FAIL_CONNECT_TIMEOUT;
	(void)loop_timer_set(w->loop, &up->timer, limit > waited ?
	    limit - waited : 0);
	/* Answered meanwhile, its event on the way: not slow after all. */
	if (!up_syn_unanswered(up))
		return 0;
	peers_stalled(r, t);
	if (proxy_retry_verdict(r, FAIL_CONNECT_SLOW) != RETRY_NEXT)
		return 0;
	/* The probe, if this is it, stays with the connect that tests it. */
	probe = r->probe;
	r->probe = false;
	if ((bp = peers_select(r, t->peer)) == NULL) {
		r->probe = probe;
		return 0;
	}
	log_info("upstream %s/%s: no answer to connect after %llu ms, moving "
	    "on to %s, client %s, try %zu/%llu", r->pool->cfg->name,
	    t->peer->addr.text, (unsigned long long)waited,
	    bp->cfg->addr.text, r->c->client, r->counted_tries,
	    (unsigned long long)r->pool->cfg->retry.tries);
	t->outcome = FAIL_CONNECT_SLOW;
	t->ms = loop_now_ms(w->loop) - t->start_ms;
	peers_abandoned(r, t);
	r->up = NULL;
	bal_done(&r->pool->bal, up->wp->bal);
	orphan_adopt(up, t->trial, probe);
	t->trial = false;
	r->next_peer = bp;
	return proxy_next_try(r, false);
}

/*
 * A try failed.  Decide (retry.c), then act: another try, an error page,
 * or a truncated response.  Returns 0 while the request goes on, -1 when
 * the connection was closed.
 */
static int
proxy_fail(struct req *r, enum failure_kind kind, const char *doing)
{
	struct conn		*c = r->c;
	struct worker		*w = c->w;
	struct req_try		*t = &r->tries[r->ntries - 1];
	const struct cfg_pool	*pool = r->pool->cfg;
	enum retry_verdict	 verdict;

	t->outcome = kind;
	t->ms = loop_now_ms(w->loop) - t->start_ms;
	proxy_release_up(r, false);
	peers_report(r, t, doing);
	if (failure_blames_peer(kind))
		log_warnx("upstream %s/%s: %s while %s, client %s, request "
		    "\"%.*s %.*s\", try %zu/%llu", pool->name,
		    t->peer->addr.text, failure_name(kind), doing, c->client,
		    (int)r->head.method_len, r->head.raw,
		    (int)(r->head.url_len > 200 ? 200 : r->head.url_len),
		    r->head.raw + r->head.url_off, r->counted_tries,
		    (unsigned long long)pool->retry.tries);

	verdict = proxy_retry_verdict(r, kind);

	if (r->resp_header_sent) {
		/* Rule 4: what the client has is all it gets; the close
		 * shows it the response is cut short. */
		c->close_after = true;
		r->resp_done = true;
		return 0;
	}
	if (verdict != RETRY_NO)
		return proxy_next_try(r, verdict == RETRY_FRESH);
	if (kind == FAIL_CLIENT_ABORT)
		return proxy_close(r);
	proxy_answer_failed(r);
	return 0;
}

/* Client bytes of the body into up_out (and the replay copy). */
static int
proxy_pull_body(struct req *r)
{
	struct conn		*c = r->c;
	const struct cfg_limits	*lim = &c->lst->limits;
	llhttp_errno_t		 err;
	const char		*data, *stop;
	size_t			 len, used;
	int			 rc;

	if (buf_used(&c->in) == 0) {
		if (!c->readable)
			return 0;
		if ((rc = client_fill(c)) <= 0) {
			/* The client left in the middle of its body. */
			if (rc == -1)
				return proxy_close(r);
			return 0;
		}
	}
	data = buf_start(&c->in);
	len = buf_used(&c->in);
	err = llhttp_execute(&r->parser, data, len);
	if (err == HPE_PAUSED) {
		stop = llhttp_get_error_pos(&r->parser);
		used = stop != NULL ? (size_t)(stop - data) : len;
		r->body_done = true;
	} else if (err == HPE_OK) {
		used = len;
	} else {
		/* Bad chunk framing: a smuggling attempt or a broken client. */
		c->close_after = true;
		if (r->resp_header_sent) {
			r->resp_done = true;
			return 1;
		}
		proxy_release_up(r, false);
		r->body_done = true;
		proxy_answer(r, 400);
		return 1;
	}
	if (lim->max_body_size > 0 && r->body_bytes > lim->max_body_size) {
		c->close_after = true;
		proxy_release_up(r, false);
		if (r->resp_header_sent) {
			r->resp_done = true;
			return 1;
		}
		r->body_done = true;
		proxy_answer(r, 413);
		return 1;
	}
	if (buf_append(&r->up_out, data, used) == -1)
		return proxy_close(r);
	if (r->replayable) {
		if (r->replay.len + used <= r->pool->cfg->retry.buffer) {
			if (buf_append(&r->replay, data, used) == -1)
				r->replayable = false;
		} else {
			r->replayable = false;
		}
		if (!r->replayable)
			buf_free(&r->replay);
	}
	buf_consume(&c->in, used);
	return 1;
}

/* The rest of the head, then up_out, to the peer. */
static int
proxy_send(struct req *r)
{
	struct upstream	*up = r->up;
	struct iovec	 iov[2];
	size_t		 head_left, want, sent;
	ssize_t		 n;
	int		 niov = 0;

	head_left = r->up_head.len - r->up_head_off;
	if (head_left > 0) {
		iov[niov].iov_base = r->up_head.data + r->up_head_off;
		iov[niov++].iov_len = head_left;
	}
	if (buf_used(&r->up_out) > 0) {
		iov[niov].iov_base = buf_start(&r->up_out);
		iov[niov++].iov_len = buf_used(&r->up_out);
	}
	want = head_left + buf_used(&r->up_out);
	n = io_writev(&up->io, iov, niov);
	if (n == -1) {
		if (errno == EAGAIN) {
			up->writable = false;
			return 0;
		}
		/* The peer closed a reused connection before we spoke. */
		if (up->reused && !r->up_sent_any && !up->got_bytes)
			return proxy_fail(r, FAIL_STALE, "sending the request");
		return proxy_fail(r, errno == ECONNRESET ? FAIL_RESET :
		    FAIL_WRITE_ERROR, "sending the request");
	}
	r->up_sent_any = true;
	sent = (size_t)n < head_left ? (size_t)n : head_left;
	r->up_head_off += sent;
	buf_consume(&r->up_out, (size_t)n - sent);
	if ((size_t)n < want)
		up->writable = false;
	if (proxy_unsent(r) == 0 && r->body_done)
		r->up_sent_all = true;
	return 1;
}

/* The response head is complete in up_in[0, end). */
static int
proxy_response_head(struct req *r, size_t end)
{
	struct conn		*c = r->c;
	struct worker		*w = c->w;
	struct http_field	 fields[HTTP_RESP_MAX_FIELDS];
	struct http_resp_info	 info;
	bool			 close;

	info.fields = fields;
	llhttp_init(&r->rparser, HTTP_RESPONSE, &w->resp_settings);
	if (http_parse_response(&r->rparser, buf_start(&r->up_in), end,
	    r->head_request, &info) == -1)
		return proxy_fail(r, FAIL_BAD_RESPONSE, "reading the "
		    "response head");
	if (info.interim) {
		/* 100 or 103: for us, not for the client. */
		buf_consume(&r->up_in, end);
		r->scan = 0;
		return 1;
	}
	r->dechunk = r->client_10 && info.chunked;
	r->resp_close = info.until_close || r->dechunk;
	close = r->resp_close || c->close_after || !r->head.keepalive ||
	    !r->body_done || w->stopping;
	if (close)
		c->close_after = true;
	if (http_build_response_head(&c->out, buf_start(&r->up_in), end, &info,
	    close, r->client_10, r->dechunk) == -1)
		return proxy_fail(r, FAIL_BAD_RESPONSE, "building the response "
		    "head");
	r->status = info.status;
	r->resp_header_sent = true;
	r->resp_head_done = true;
	buf_consume(&r->up_in, end);
	r->rparser.settings = r->dechunk ? &w->resp_dechunk_settings :
	    &w->resp_body_settings;
	r->rparser.data = r;
	if (info.complete) {
		r->resp_done = true;
		r->up_reusable = llhttp_should_keep_alive(&r->rparser) &&
		    buf_used(&r->up_in) == 0;
	}
	return 1;
}

/* Response body bytes in up_in to the client. */
static int
proxy_response_body(struct req *r)
{
	struct conn	*c = r->c;
	llhttp_errno_t	 err;
	const char	*data = buf_start(&r->up_in), *stop;
	size_t		 len = buf_used(&r->up_in), used;

	err = llhttp_execute(&r->rparser, data, len);
	if (err == HPE_PAUSED) {
		stop = llhttp_get_error_pos(&r->rparser);
		used = stop != NULL ? (size_t)(stop - data) : len;
		r->resp_done = true;
		/* Bytes after the end are a peer out of step: not reusable. */
		r->up_reusable = llhttp_should_keep_alive(&r->rparser) &&
		    used == len;
	} else if (err == HPE_OK) {
		used = len;
	} else {
		return proxy_fail(r, FAIL_BAD_RESPONSE, "reading the response "
		    "body");
	}
	if (!r->dechunk && buf_append(&c->out, data, used) == -1)
		return proxy_fail(r, FAIL_CLIENT_ABORT, "buffering");
	buf_consume(&r->up_in, used);
	return 1;
}

static int
proxy_recv(struct req *r)
{
	struct upstream	*up = r->up;
	size_t		 space, end;
	ssize_t		 n;
	int		 rc;

	if (buf_reserve(&r->up_in, PROXY_CHUNK) == -1)
		return proxy_fail(r, FAIL_CLIENT_ABORT, "buffering");
	space = r->up_in.cap - r->up_in.len;
	n = io_read(&up->io, r->up_in.data + r->up_in.len, space);
	if (n == -1) {
		if (errno == EAGAIN) {
			up->readable = false;
			return 0;
		}
		if (up->reused && !up->got_bytes && errno == ECONNRESET)
			return proxy_fail(r, FAIL_STALE, "reading the "
			    "response head");
		return proxy_fail(r, FAIL_RESET, r->resp_head_done ?
		    "reading the response body" : "reading the response head");
	}
	if (n == 0) {
		if (!r->resp_head_done)
			return proxy_fail(r, up->reused && !up->got_bytes ?
			    FAIL_STALE : FAIL_CLOSED, "reading the response "
			    "head");
		/* Until-close bodies end here; any other is cut short. */
		rc = llhttp_finish(&r->rparser);
		if (rc == HPE_OK || rc == HPE_PAUSED) {
			r->resp_done = true;
			r->up_reusable = false;
			return 1;
		}
		return proxy_fail(r, FAIL_CLOSED, "reading the response body");
	}
	up->got_bytes = true;
	r->up_in.len += (size_t)n;
	if ((size_t)n < space && !up->hup && !up->io.buffered)
		up->readable = false;
	while (!r->resp_done && buf_used(&r->up_in) > 0) {
		if (!r->resp_head_done) {
			rc = http_head_end(buf_start(&r->up_in),
			    buf_used(&r->up_in), &r->scan, &end);
			if (rc == HTTP_HEAD_BAD)
				return proxy_fail(r, FAIL_BAD_RESPONSE,
				    "reading the response head");
			if (rc == HTTP_HEAD_MORE) {
				if (buf_used(&r->up_in) > PROXY_MAX_RESP_HEAD)
					return proxy_fail(r, FAIL_BAD_RESPONSE,
					    "reading a too large response "
					    "head");
				break;
			}
			/* The whole head may come in one read. */
			if (end > PROXY_MAX_RESP_HEAD)
				return proxy_fail(r, FAIL_BAD_RESPONSE,
				    "reading a too large response head");
			if ((rc = proxy_response_head(r, end)) <= 0 ||
			    r->up == NULL)
				return rc;
			continue;
		}
		if ((rc = proxy_response_body(r)) <= 0 || r->up == NULL)
			return rc;
		/* Backpressure: hand this to the client before more. */
		break;
	}
	return 1;
}

/* What the request waits for decides which timers run. */
static void
proxy_timers(struct req *r)
{
	struct upstream		*up = r->up;
	struct worker		*w = r->c->w;
	const struct cfg_peer	*peer;

	if (up == NULL || up->state != UP_ACTIVE)
		return;
	peer = up->wp->cfg;
	if (proxy_unsent(r) > 0 && !up->writable) {
		if (!loop_timer_armed(&up->timer) ||
		    up->timer_kind != FAIL_WRITE_ERROR) {
			up->timer_kind = FAIL_WRITE_ERROR;
			(void)loop_timer_set(w->loop, &up->timer,
			    peer->timeouts.send_ms);
		}
	} else if (!r->resp_done && buf_used(&r->c->out) == 0) {
		if (!loop_timer_armed(&up->timer) ||
		    up->timer_kind != FAIL_READ_TIMEOUT) {
			up->timer_kind = FAIL_READ_TIMEOUT;
			(void)loop_timer_set(w->loop, &up->timer,
			    peer->timeouts.read_ms);
		}
	} else {
		/* Waiting for the client, not the peer. */
		loop_timer_stop(w->loop, &up->timer);
	}
}

static void
proxy_success(struct req *r)
{
	struct req_try	*t = &r->tries[r->ntries - 1];

	t->outcome = FAIL_NONE;
	t->ms = loop_now_ms(r->c->w->loop) - t->start_ms;
	peers_report(r, t, "");
	/* An early answer leaves the rest of the body unsent: not reusable. */
	proxy_release_up(r, r->up_reusable && r->up_sent_all &&
	    r->pool->cfg->keepalive.max_idle > 0);
	if (!r->body_done)
		r->c->close_after = true;
}

enum req_verdict
proxy_run(struct req *r)
{
	struct conn	*c = r->c;
	struct upstream	*up;
	int		 progress, rc;

	if (r->closing)
		return REQ_CLOSE;
	for (;;) {
		progress = 0;
		up = r->up;
		if (up != NULL && up->state == UP_ACTIVE) {
			if (!r->body_done && proxy_unsent(r) == 0) {
				if ((rc = proxy_pull_body(r)) == -1)
					return REQ_CLOSE;
				progress |= rc;
			}
			if (r->up != NULL && proxy_unsent(r) > 0 &&
			    r->up->writable) {
				if ((rc = proxy_send(r)) == -1)
					return REQ_CLOSE;
				progress |= rc;
			}
			if (r->up != NULL && !r->resp_done &&
			    buf_used(&c->out) == 0 && r->up->readable) {
				if ((rc = proxy_recv(r)) == -1)
					return REQ_CLOSE;
				progress |= rc;
			}
			if (r->resp_done && r->up != NULL)
				proxy_success(r);
			/* A failed try gave way to another: go on with it. */
			if (r->up != up)
				progress = 1;
		}
		/*
		 * A client that hangs up while we wait for the peer is gone:
		 * end the try (logged as 499, as nginx does) rather than hold
		 * the peer until read_timeout.  Bytes it pipelined meanwhile
		 * are kept, up to a bound.
		 */
		if (r->phase == REQ_UPSTREAM && r->body_done && !r->resp_done &&
		    c->readable && buf_used(&c->in) < PROXY_CHUNK) {
			if ((rc = client_fill(c)) == -1)
				return REQ_CLOSE;
			progress |= rc;
		}
		if (buf_used(&c->out) > 0 && c->writable) {
			if (client_flush(c) == -1) {
				if (r->up != NULL)
					(void)proxy_fail(r, FAIL_CLIENT_ABORT,
					    "writing the response");
				return REQ_CLOSE;
			}
			progress = 1;
		}
		if (r->resp_done && r->up == NULL && buf_used(&c->out) == 0)
			return REQ_DONE;
		if (!progress)
			break;
	}
	proxy_timers(r);
	return REQ_WAIT;
}

/* The connect completed: the peer answers SYNs, a trial ends here. */
static void
proxy_connected(struct req *r)
{
	struct req_try	*t = &r->tries[r->ntries - 1];

	peers_connected(r->c->w, r->up->wp, r->up->connect_start_ms,
	    t->trial);
	t->trial = false;
}

/* The connection is ready for the request: the connect timer is done. */
static void
proxy_up_ready(struct upstream *up)
{
	up->state = UP_ACTIVE;
	loop_timer_cancel(up->w->loop, &up->timer);
}

/*
 * TCP is up to a TLS peer: the handshake goes on under what is left of
 * connect_timeout, which covers both.  A shorter timer armed to spot an
 * unanswered SYN has nothing left to spot.
 */
static void
proxy_up_handshake_start(struct upstream *up)
{
	struct loop	*loop = up->w->loop;
	uint64_t	 waited, limit = up->wp->cfg->timeouts.connect_ms;

	waited = loop_now_ms(loop) - up->connect_start_ms;
	up->state = UP_HANDSHAKE;
	up->timer_kind = FAIL_CONNECT_TIMEOUT;
	(void)loop_timer_set(loop, &up->timer, limit > waited ?
	    limit - waited : 0);
}

/*
 * Drive up's TLS handshake.  Returns 1 when it is done, 0 while it waits,
 * -1 when it failed (a connect failure, DESIGN.md §4.2: the request goes on
 * with its next try, or the connection was closed).
 */
static int
proxy_up_handshake(struct req *r, struct upstream *up)
{
	char	 why[96], doing[128];
	int	 rc;

	if ((rc = io_handshake(&up->io)) == 1)
		return 0;
	if (rc == 0) {
		proxy_up_ready(up);
		/* What came with the last handshake bytes raised no edge. */
		up->readable = up->writable = true;
		return 1;
	}
	(void)tls_error(&up->io, why, sizeof(why));
	/* The detail the store keeps: short enough for its 95 bytes. */
	snprintf(doing, sizeof(doing), "the TLS handshake (%s)", why);
	(void)proxy_fail(r, FAIL_TLS, doing);
	return -1;
}

/*
 * The request's connection moved.  What the pump then says goes to the
 * client connection through r->settle, as the last thing done here: it
 * may free the request and its connection.
 */
static void
proxy_upstream_event(struct upstream *up)
{
	struct req	*r = up->req;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (up->state == UP_CONNECTING) {
		if (!up->writable && !up->readable)
			return;
		if (getsockopt(up->io.fd, SOL_SOCKET, SO_ERROR, &err,
		    &len) == -1)
			err = errno;
		if (err == EINPROGRESS)
			return;
		if (err != 0) {
			if (proxy_fail(r, up_connect_failure(err),
			    "connecting") == -1) {
				r->settle(r, REQ_CLOSE);
				return;
			}
		} else if (up->io.tls != NULL) {
			proxy_connected(r);
			proxy_up_handshake_start(up);
			if (proxy_up_handshake(r, up) == 0)
				return;
		} else {
			proxy_up_ready(up);
			proxy_connected(r);
		}
	} else if (up->state == UP_HANDSHAKE) {
		if (proxy_up_handshake(r, up) == 0)
			return;
	}
	r->settle(r, proxy_run(r));
}

static void
proxy_upstream_timeout(struct upstream *up)
{
	struct req	*r = up->req;
	int		 rc;

	if (up->timer_kind == FAIL_CONNECT_SLOW)
		rc = proxy_connect_slow(r);
	else
		rc = proxy_fail(r, up->timer_kind, up->state == UP_HANDSHAKE ?
		    "the TLS handshake" : up->timer_kind ==
		    FAIL_CONNECT_TIMEOUT ? "connecting" : up->timer_kind ==
		    FAIL_WRITE_ERROR ? "sending the request (send_timeout)" :
		    "waiting for the response");
	r->settle(r, rc == 0 ? proxy_run(r) : REQ_CLOSE);
}

void
proxy_abort(struct req *r)
{
	struct req_try	*t;

	if (r->up != NULL) {
		t = &r->tries[r->ntries - 1];
		t->outcome = FAIL_CLIENT_ABORT;
		t->ms = loop_now_ms(r->c->w->loop) - t->start_ms;
		proxy_release_up(r, false);
		peers_report(r, t, "the client went away");
	}
}
