/*
 * shunt test backend: a small, fast HTTP/1.1 origin server for loopback
 * tests and benchmarks.  One process, N threads, each thread with its own
 * epoll loop and its own SO_REUSEPORT listener.  With -C and -K it speaks
 * TLS (OpenSSL) and reports what the client sent in the handshake.  Routes
 * and flags are described in README.md next to this file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http_parse.h"

#define IN_BUF_SIZE	(64 * 1024)	/* per connection; also the head limit */
#define OUT_HIGH_WATER	(256 * 1024)	/* pause pipelined requests above this */
#define STREAM_PIECE	(64 * 1024)	/* body bytes generated per step */
#define CHUNK_MAX	(16 * 1024)	/* payload per chunk we send */
#define ECHO_MAX	(64ULL * 1024 * 1024)
#define LINGER_MS	2000		/* drain time after our FIN */
#define MAX_EVENTS	256
#define MAX_THREADS	256

/* Body byte i is PATTERN[i % PATTERN_LEN]: printable and easy to verify. */
#define PATTERN \
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
#define PATTERN_LEN	64

enum ev_kind { EV_LISTENER, EV_STOP, EV_CONN };

/* First member of everything registered with epoll, to tell them apart. */
struct ev_source {
	enum ev_kind	kind;
};

/* How a response body is delimited. */
enum framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_UNTIL_CLOSE, FRAME_NO_BODY };
enum body_source { SRC_PATTERN, SRC_BODY };

enum conn_state {
	ST_HEAD,	/* waiting for (the rest of) a request head */
	ST_BODY,	/* reading a request body */
	ST_DELAY,	/* /delay: the response is due at deadline_ms */
	ST_HANG,	/* /hang: swallow input until the peer closes */
	ST_CLOSING,	/* last response queued: close once it is written */
	ST_LINGER,	/* FIN sent: drain input until EOF or deadline */
};

/* A response body generated a piece at a time, so size is not limited. */
struct body_stream {
	bool			 active;
	bool			 chunked;
	enum body_source	 source;
	uint64_t		 remaining;	/* payload bytes still to go */
	uint64_t		 pos;		/* payload bytes generated */
	uint64_t		 chunk_size;
};

struct worker;

struct conn {
	struct ev_source	 src;		/* must be first */
	struct worker		*worker;
	int			 fd;
	uint64_t		 id;		/* X-Backend-Conn value */
	enum conn_state		 state;
	uint32_t		 events;	/* epoll interest registered */
	bool			 peer_eof;
	bool			 reset_on_close;
	SSL			*ssl;		/* NULL: plain TCP */
	bool			 handshaking;

	char			*in;		/* unparsed: in[in_off, in_len) */
	size_t			 in_off, in_len;

	struct request		 req;
	struct body_decoder	 decoder;
	char			*body;		/* bytes to send back */
	size_t			 body_len, body_cap;

	char			*out;		/* unsent: out[out_off, out_len) */
	size_t			 out_off, out_len, out_cap;
	struct body_stream	 stream;

	bool			 timer_armed;
	uint64_t		 deadline_ms;
	struct conn		*timer_prev, *timer_next;
	struct conn		*prev, *next;	/* worker's open connections */
};

struct worker {
	struct ev_source	 listener_src;
	struct ev_source	 stop_src;
	int			 epfd;
	int			 listen_fd;
	pthread_t		 thread;
	struct conn		*conns;
	struct conn		*timers;	/* conns with a deadline */
};

/* The only process-wide state; fixed after startup except the counters. */
struct backend_ctx {
	const char		*listen_spec;
	const char		*port_file;
	const char		*name;
	size_t			 name_len;
	unsigned		 nthreads;
	uint64_t		 default_body_size;
	bool			 verbose;
	const char		*force_path;	/* -m: every request acts as this */
	const char		*cert_file;	/* -C: TLS with this certificate */
	const char		*key_file;	/* -K */
	SSL_CTX			*tls;		/* NULL: plain HTTP */
	int			 stop_fd;	/* eventfd, readable = stop */
	struct worker		*workers;
	char			 pattern[STREAM_PIECE + PATTERN_LEN];
	atomic_uint_fast64_t	 requests;
	atomic_uint_fast64_t	 connections;
};

static struct backend_ctx backend = {
	.listen_spec = "127.0.0.1:0",
	.name = "backend",
	.nthreads = 1,
	.default_body_size = 64,
	.stop_fd = -1,
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "backend: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size);

	if (p == NULL)
		die("out of memory (%zu bytes)", size);
	return p;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- output buffer ---- */

static void
out_reserve(struct conn *c, size_t extra)
{
	size_t cap;

	if (c->out_cap - c->out_len >= extra)
		return;
	if (c->out_off > 0) {	/* reuse the already-sent front first */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= extra)
			return;
	}
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap - c->out_len < extra)
		cap *= 2;
	c->out = xrealloc(c->out, cap);
	c->out_cap = cap;
}

static void
out_add(struct conn *c, const void *data, size_t len)
{
	out_reserve(c, len);
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static void
out_str(struct conn *c, const char *s)
{
	out_add(c, s, strlen(s));
}

static void
out_num(struct conn *c, uint64_t v, unsigned base)
{
	char buf[24];
	size_t i = sizeof(buf);

	do {
		buf[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	out_add(c, buf + i, sizeof(buf) - i);
}

static void
out_header_num(struct conn *c, const char *name, uint64_t v)
{
	out_str(c, name);
	out_num(c, v, 10);
	out_add(c, "\r\n", 2);
}

static size_t
out_pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

/* What the TLS client asked for, so a test can check what a proxy sent. */
static void
out_tls_headers(struct conn *c)
{
	const unsigned char *alpn;
	const char *sni;
	unsigned alpn_len;

	sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	out_str(c, "X-Backend-SNI: ");
	out_str(c, sni != NULL && strpbrk(sni, "\r\n") == NULL ? sni : "-");
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	out_str(c, "\r\nX-Backend-ALPN: ");
	if (alpn_len > 0)
		out_add(c, alpn, alpn_len);
	else
		out_str(c, "-");
	out_str(c, "\r\nX-Backend-TLS-Resumed: ");
	out_str(c, SSL_session_reused(c->ssl) ? "1" : "0");
	out_str(c, "\r\nX-Backend-TLS-Version: ");
	out_str(c, SSL_get_version(c->ssl));
	out_add(c, "\r\n", 2);
}

/* ---- responses ---- */

static void
out_response_head(struct conn *c, int status, const char *content_type,
    enum framing framing, uint64_t length)
{
	struct request *req = &c->req;

	req->status = status;
	out_str(c, "HTTP/1.1 ");
	out_num(c, (uint64_t)status, 10);
	out_add(c, " ", 1);
	out_str(c, http_reason_phrase(status));
	out_add(c, "\r\n", 2);
	if (content_type != NULL && framing != FRAME_NO_BODY) {
		out_str(c, "Content-Type: ");
		out_str(c, content_type);
		out_add(c, "\r\n", 2);
	}
	if (framing == FRAME_LENGTH)
		out_header_num(c, "Content-Length: ", length);
	else if (framing == FRAME_CHUNKED)
		out_str(c, "Transfer-Encoding: chunked\r\n");
	out_str(c, "X-Backend: ");
	out_add(c, backend.name, backend.name_len);
	out_add(c, "\r\n", 2);
	out_header_num(c, "X-Backend-Conn: ", c->id);
	out_header_num(c, "X-Request-Count: ", req->number);
	if (c->ssl != NULL)
		out_tls_headers(c);
	if (!req->keep_alive)
		out_str(c, "Connection: close\r\n");
	else if (req->http10)	/* 1.0 persistence must be confirmed */
		out_str(c, "Connection: keep-alive\r\n");
	out_add(c, "\r\n", 2);
}

static void
body_free(struct conn *c)
{
	free(c->body);
	c->body = NULL;
	c->body_len = c->body_cap = 0;
}

/* Queue body bytes until about STREAM_PIECE bytes are waiting to be sent. */
static void
stream_produce(struct conn *c)
{
	struct body_stream *s = &c->stream;

	while (s->active && out_pending(c) < STREAM_PIECE) {
		uint64_t piece = s->chunked ? s->chunk_size : STREAM_PIECE;
		size_t n = (size_t)(s->remaining < piece ? s->remaining : piece);
		const char *src;

		if (n == 0) {
			if (s->chunked)
				out_str(c, "0\r\n\r\n");
			s->active = false;
			if (s->source == SRC_BODY)
				body_free(c);
			break;
		}
		if (s->chunked) {
			out_num(c, n, 16);
			out_add(c, "\r\n", 2);
		}
		src = s->source == SRC_PATTERN ?
		    backend.pattern + s->pos % PATTERN_LEN : c->body + s->pos;
		out_add(c, src, n);
		if (s->chunked)
			out_add(c, "\r\n", 2);
		s->pos += n;
		s->remaining -= n;
	}
}

/* Send a head and start the body; handles HEAD and HTTP/1.0 limits. */
static void
respond_body(struct conn *c, int status, const char *content_type,
    enum framing framing, enum body_source source, uint64_t len)
{
	struct request *req = &c->req;

	if (framing == FRAME_CHUNKED && req->http10)
		framing = FRAME_UNTIL_CLOSE;	/* 1.0 has no chunked */
	if (framing == FRAME_UNTIL_CLOSE)
		req->keep_alive = false;
	out_response_head(c, status, content_type, framing, len);
	if (req->head_method || framing == FRAME_NO_BODY)
		return;
	c->stream = (struct body_stream){
		.active = true,
		.chunked = framing == FRAME_CHUNKED,
		.source = source,
		.remaining = len,
	};
	/* "a few chunks", but bounded so huge bodies still stream */
	c->stream.chunk_size = (len + 2) / 3;
	if (c->stream.chunk_size > CHUNK_MAX)
		c->stream.chunk_size = CHUNK_MAX;
	if (c->stream.chunk_size == 0)
		c->stream.chunk_size = 1;
	stream_produce(c);	/* so head and first body bytes go together */
}

static void
respond_text(struct conn *c, int status, const char *content_type,
    const char *text, size_t len)
{
	out_response_head(c, status, content_type, FRAME_LENGTH, len);
	if (!c->req.head_method)
		out_add(c, text, len);
}

static void
log_request(const struct conn *c)
{
	if (backend.verbose)
		fprintf(stderr, "%s: conn=%" PRIu64 " req=%" PRIu64
		    " %s -> %d\n", backend.name, c->id, c->req.number,
		    c->req.log_line[0] ? c->req.log_line : "-", c->req.status);
}

/* Answer a malformed request and close: framing can no longer be trusted. */
static void
conn_fail(struct conn *c, int status)
{
	struct request *req = &c->req;
	char text[64];
	int len;

	if (req->number == 0)
		req->number = atomic_load(&backend.requests);
	req->keep_alive = false;
	body_free(c);
	len = snprintf(text, sizeof(text), "%d %s\n", status,
	    http_reason_phrase(status));
	respond_text(c, status, "text/plain", text, (size_t)len);
	c->state = ST_CLOSING;
	log_request(c);
}

/* ---- timers: a short unsorted list, only /delay and lingering closes ---- */

static void
timer_disarm(struct conn *c)
{
	struct worker *w = c->worker;

	if (!c->timer_armed)
		return;
	if (c->timer_prev != NULL)
		c->timer_prev->timer_next = c->timer_next;
	else
		w->timers = c->timer_next;
	if (c->timer_next != NULL)
		c->timer_next->timer_prev = c->timer_prev;
	c->timer_prev = c->timer_next = NULL;
	c->timer_armed = false;
}

static void
timer_arm(struct conn *c, uint64_t deadline_ms)
{
	struct worker *w = c->worker;

	timer_disarm(c);
	c->deadline_ms = deadline_ms;
	c->timer_next = w->timers;
	if (w->timers != NULL)
		w->timers->timer_prev = c;
	w->timers = c;
	c->timer_armed = true;
}

static int
timers_next_timeout(const struct worker *w)
{
	uint64_t now, first = UINT64_MAX;

	if (w->timers == NULL)
		return -1;
	for (const struct conn *c = w->timers; c != NULL; c = c->timer_next)
		if (c->deadline_ms < first)
			first = c->deadline_ms;
	now = now_ms();
	return first <= now ? 0 : (int)(first - now);
}

/* body_sink for the decoder: keep /echo bodies, drop all others. */
static int
body_append(void *arg, const char *data, size_t len)
{
	struct conn *c = arg;
	size_t cap;

	if (c->req.route != ROUTE_ECHO || len == 0)
		return 0;	/* other routes read the body and drop it */
	if ((uint64_t)c->body_len + len > ECHO_MAX)
		return 413;
	if (c->body_len + len > c->body_cap) {
		cap = c->body_cap ? c->body_cap : 64 * 1024;
		while (cap < c->body_len + len)
			cap *= 2;
		c->body = xrealloc(c->body, cap);
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, len);
	c->body_len += len;
	return 0;
}

/* Returns true once a head has been consumed or answered with an error. */
static bool
conn_read_head(struct conn *c)
{
	struct request *req = &c->req;
	size_t avail, head_len;
	const char *head;
	int found, status;

	/* RFC 9112 2.2: ignore empty lines before the request-line */
	while (c->in_len - c->in_off >= 2 && c->in[c->in_off] == '\r' &&
	    c->in[c->in_off + 1] == '\n')
		c->in_off += 2;
	head = c->in + c->in_off;
	avail = c->in_len - c->in_off;
	found = http_find_head_end(head, avail, &head_len);
	if (found == 0) {
		if (avail < IN_BUF_SIZE)
			return false;
		memset(req, 0, sizeof(*req));
		conn_fail(c, 431);
		return true;
	}
	memset(req, 0, sizeof(*req));
	body_free(c);
	status = found < 0 ? 400 : http_parse_request_head(req, head, head_len,
	    backend.default_body_size);
	if (backend.verbose)
		snprintf(req->log_line, sizeof(req->log_line), "%.*s %.*s",
		    (int)req->method_len, head, (int)req->target_len,
		    head + req->target_off);
	if (status != 0) {
		conn_fail(c, status);
		return true;
	}
	if (backend.force_path != NULL)
		req->route = route_for_path(backend.force_path,
		    strlen(backend.force_path));
	req->number = atomic_fetch_add(&backend.requests, 1) + 1;
	if (req->route == ROUTE_HEADERS) {	/* echo the head as received */
		c->body = xrealloc(NULL, head_len);
		memcpy(c->body, head, head_len);
		c->body_len = c->body_cap = head_len;
	}
	c->in_off += head_len;

	if (req->route == ROUTE_ECHO && req->content_length > ECHO_MAX) {
		conn_fail(c, 413);
		return true;
	}
	if (req->route == ROUTE_ECHO && req->content_length > 0) {
		c->body = xrealloc(NULL, (size_t)req->content_length);
		c->body_cap = (size_t)req->content_length;
	}
	if (req->expect_continue && req->body_framing != BODY_NONE)
		out_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
	http_body_decoder_init(&c->decoder, req);
	c->state = ST_BODY;
	return true;
}

/* ---- request handling ---- */

static void
conn_respond(struct conn *c)
{
	struct request *req = &c->req;
	const char *octets = "application/octet-stream";
	char text[128];
	int len;

	c->state = ST_HEAD;
	switch (req->route) {
	case ROUTE_DELAY:
		if (req->delay_ms > 0) {	/* come back from the timer */
			c->state = ST_DELAY;
			timer_arm(c, now_ms() + req->delay_ms);
			req->delay_ms = 0;
			return;
		}
		/* FALLTHROUGH */
	case ROUTE_DEFAULT:
	case ROUTE_CLOSE:
		if (req->route == ROUTE_CLOSE)
			req->keep_alive = false;
		respond_body(c, 200, "text/plain", FRAME_LENGTH, SRC_PATTERN,
		    req->size);
		break;
	case ROUTE_ECHO:
		respond_body(c, 200, octets,
		    req->chunked ? FRAME_CHUNKED : FRAME_LENGTH, SRC_BODY,
		    c->body_len);
		break;
	case ROUTE_HEADERS:
		respond_body(c, 200, "text/plain", FRAME_LENGTH, SRC_BODY,
		    c->body_len);
		break;
	case ROUTE_CHUNKED:
		respond_body(c, 200, "text/plain", FRAME_CHUNKED, SRC_PATTERN,
		    req->size);
		break;
	case ROUTE_NOLEN:
		respond_body(c, 200, "text/plain", FRAME_UNTIL_CLOSE,
		    SRC_PATTERN, req->size);
		break;
	case ROUTE_TRUNCATE:	/* promise size bytes, deliver half */
		out_response_head(c, 200, "text/plain", FRAME_LENGTH,
		    req->size);
		c->stream = (struct body_stream){ .active = !req->head_method,
		    .source = SRC_PATTERN, .remaining = req->size / 2 };
		stream_produce(c);
		c->state = ST_CLOSING;
		break;
	case ROUTE_STATUS:
		if (req->status_code == 204 || req->status_code == 304) {
			out_response_head(c, (int)req->status_code, NULL,
			    FRAME_NO_BODY, 0);
			break;
		}
		len = req->status_code == 205 ? 0 : snprintf(text,
		    sizeof(text), "%d %s\n", (int)req->status_code,
		    http_reason_phrase((int)req->status_code));
		respond_text(c, (int)req->status_code, "text/plain", text,
		    (size_t)len);
		break;
	case ROUTE_COUNT:
		len = snprintf(text, sizeof(text),
		    "{\"requests\":%" PRIuFAST64 ",\"connections\":%"
		    PRIuFAST64 "}", atomic_load(&backend.requests),
		    atomic_load(&backend.connections));
		respond_text(c, 200, "application/json", text, (size_t)len);
		break;
	case ROUTE_BADRESPONSE:
		out_str(c, "HTTP/1.1 abc garbage\r\n\r\n");
		c->state = ST_CLOSING;
		break;
	case ROUTE_HANG:
		c->state = ST_HANG;
		break;
	case ROUTE_RESET:
		c->reset_on_close = true;
		c->state = ST_CLOSING;
		break;
	}
	if (c->state == ST_HEAD && !req->keep_alive)
		c->state = ST_CLOSING;
	log_request(c);
}

enum progress {
	WAIT_INPUT,	/* need more bytes from the peer */
	WAIT_TIMER,	/* /delay pending */
	WAIT_OUTPUT,	/* queued output must drain before going on */
};

/* Answer as many buffered requests as possible, in order. */
static enum progress
conn_process_input(struct conn *c)
{
	size_t used;
	int status;

	for (;;) {
		switch (c->state) {
		case ST_HEAD:
			if (c->stream.active || out_pending(c) > OUT_HIGH_WATER)
				return WAIT_OUTPUT;
			if (!conn_read_head(c))
				return WAIT_INPUT;
			break;
		case ST_BODY:
			status = http_body_decode(&c->decoder,
			    c->in + c->in_off, c->in_len - c->in_off, &used,
			    body_append, c);
			c->in_off += used;
			if (status == 0)
				return WAIT_INPUT;
			if (status == 1)
				conn_respond(c);
			else
				conn_fail(c, status);
			break;
		case ST_DELAY:
			return WAIT_TIMER;
		case ST_HANG:
		case ST_CLOSING:
		case ST_LINGER:
			c->in_off = c->in_len = 0;	/* never answered */
			return c->state == ST_CLOSING ? WAIT_OUTPUT :
			    WAIT_INPUT;
		}
	}
}

enum io_result { IO_DONE, IO_BLOCKED, IO_ERROR };

/* send() or SSL_write(): bytes, or -1 with errno (EAGAIN: try later). */
static ssize_t
conn_send(struct conn *c, const char *data, size_t len)
{
	int n;

	if (c->ssl == NULL)
		return send(c->fd, data, len, MSG_NOSIGNAL);
	ERR_clear_error();
	n = SSL_write(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		break;
	default:
		errno = EPIPE;
		break;
	}
	ERR_clear_error();
	return -1;
}

/* recv() or SSL_read(): bytes, 0 at the end, -1 with errno. */
static ssize_t
conn_recv(struct conn *c, char *data, size_t len)
{
	int n;

	if (c->ssl == NULL)
		return recv(c->fd, data, len, 0);
	ERR_clear_error();
	n = SSL_read(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		errno = ECONNRESET;
		return -1;
	}
}
static enum io_result
conn_flush(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (out_pending(c) == 0) {
			c->out_off = c->out_len = 0;
			if (!c->stream.active)
				return IO_DONE;
			stream_produce(c);
			continue;
		}
		n = conn_send(c, c->out + c->out_off, out_pending(c));
		if (n >= 0)
			c->out_off += (size_t)n;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_BLOCKED;
		else if (errno != EINTR)
			return IO_ERROR;
	}
}

static void
conn_close(struct conn *c)
{
	struct worker *w = c->worker;

	if (c->reset_on_close) {	/* linger {1, 0}: close sends RST */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	timer_disarm(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->ssl != NULL) {
		SSL_free(c->ssl);	/* no close_notify: tests see the FIN */
		ERR_clear_error();
	}
	close(c->fd);		/* also drops it from the epoll set */
	free(c->in);
	free(c->out);
	free(c->body);
	free(c);
}

static void
conn_set_events(struct conn *c, uint32_t want)
{
	struct epoll_event ev;

	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = &c->src;
	if (epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->events = want;
}

static void
conn_update_events(struct conn *c)
{
	uint32_t want = 0;

	if (!c->peer_eof && c->in_len - c->in_off < IN_BUF_SIZE)
		want |= EPOLLIN;
	if (out_pending(c) > 0 || c->stream.active)
		want |= EPOLLOUT;
	conn_set_events(c, want);
}

/* 1 done, 0 waiting for the socket, -1 failed (c is closed). */
static int
conn_handshake(struct conn *c)
{
	int n;

	ERR_clear_error();
	n = SSL_do_handshake(c->ssl);
	if (n == 1) {
		c->handshaking = false;
		return 1;
	}
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		conn_set_events(c, EPOLLIN);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn_set_events(c, EPOLLOUT);
		return 0;
	default:
		if (backend.verbose)
			fprintf(stderr, "%s: conn=%" PRIu64 " TLS handshake "
			    "failed: %s\n", backend.name, c->id,
			    ERR_reason_error_string(ERR_peek_error()) ?
			    ERR_reason_error_string(ERR_peek_error()) :
			    "connection closed");
		ERR_clear_error();
		conn_close(c);
		return -1;
	}
}
/*
 * Make all the progress possible without blocking: answer requests, write,
 * close when done.  Returns false if the connection was closed.
 */
static bool
conn_run(struct conn *c)
{
	enum progress progress;
	enum io_result io;

	for (;;) {
		progress = conn_process_input(c);
		io = conn_flush(c);
		if (io == IO_ERROR) {
			conn_close(c);
			return false;
		}
		if (io == IO_BLOCKED)
			break;
		if (c->state == ST_CLOSING) {
			if (c->reset_on_close) {
				conn_close(c);
				return false;
			}
			/*
			 * Half-close and drain instead of close(): unread
			 * input would make the kernel send RST, which can
			 * destroy the response before the peer reads it.
			 */
			if (c->ssl != NULL)
				(void)SSL_shutdown(c->ssl);
			shutdown(c->fd, SHUT_WR);
			c->state = ST_LINGER;
			timer_arm(c, now_ms() + LINGER_MS);
			continue;
		}
		if (progress != WAIT_OUTPUT)
			break;
	}
	if (c->peer_eof && out_pending(c) == 0 && !c->stream.active &&
	    c->state != ST_DELAY && c->state != ST_CLOSING) {
		conn_close(c);	/* nothing more can arrive or be answered */
		return false;
	}
	conn_update_events(c);
	return true;
}

static void
conn_on_event(struct conn *c, uint32_t events)
{
	ssize_t n;

	if (events & (EPOLLERR | EPOLLHUP)) {	/* reset, or both sides shut */
		conn_close(c);
		return;
	}
	if (c->handshaking) {
		if (conn_handshake(c) <= 0)
			return;
		events |= EPOLLIN;	/* a request may have come along */
	}
	for (;;) {
		if (events & EPOLLIN) {
			if (c->in_off > 0) {
				memmove(c->in, c->in + c->in_off,
				    c->in_len - c->in_off);
				c->in_len -= c->in_off;
				c->in_off = 0;
			}
			n = conn_recv(c, c->in + c->in_len,
			    IN_BUF_SIZE - c->in_len);
			if (n > 0) {
				c->in_len += (size_t)n;
			} else if (n == 0) {
				c->peer_eof = true;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				conn_close(c);
				return;
			}
		}
		if (!conn_run(c))
			return;
		/*
		 * What OpenSSL holds decrypted makes no epoll event: read it
		 * while there is room for it.
		 */
		if (c->ssl == NULL || c->peer_eof || SSL_pending(c->ssl) == 0 ||
		    c->in_len - c->in_off >= IN_BUF_SIZE)
			break;
		events = EPOLLIN;
	}
}

static void
timers_expire(struct worker *w)
{
	uint64_t now = now_ms();
	struct conn *c, *next;

	for (c = w->timers; c != NULL; c = next) {
		next = c->timer_next;	/* c may be freed or re-armed below */
		if (c->deadline_ms > now)
			continue;
		timer_disarm(c);
		if (c->state == ST_DELAY) {
			conn_respond(c);
			conn_run(c);
		} else {
			conn_close(c);	/* linger time is over */
		}
	}
}

/* ---- workers ---- */

static void
worker_accept(struct worker *w)
{
	for (int i = 0; i < 64; i++) {
		struct epoll_event ev;
		struct conn *c;
		int fd, one = 1;

		fd = accept4(w->listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fprintf(stderr, "%s: accept: %s\n",
				    backend.name, strerror(errno));
			return;
		}
		/* each response is written whole: never wait for an ACK */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			die("out of memory");
		c->src.kind = EV_CONN;
		c->worker = w;
		c->fd = fd;
		c->in = xrealloc(NULL, IN_BUF_SIZE);
		c->id = atomic_fetch_add(&backend.connections, 1) + 1;
		c->events = EPOLLIN;
		if (backend.tls != NULL) {
			if ((c->ssl = SSL_new(backend.tls)) == NULL ||
			    SSL_set_fd(c->ssl, fd) != 1)
				die("SSL_new: out of memory");
			SSL_set_accept_state(c->ssl);
			c->handshaking = true;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = &c->src;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl: %s", strerror(errno));
		c->next = w->conns;
		if (w->conns != NULL)
			w->conns->prev = c;
		w->conns = c;
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[MAX_EVENTS];
	bool stopping = false;

	while (!stopping) {
		int n = epoll_wait(w->epfd, events, MAX_EVENTS,
		    timers_next_timeout(w));

		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct ev_source *src = events[i].data.ptr;

			if (src->kind == EV_STOP)
				stopping = true;
			else if (src->kind == EV_LISTENER)
				worker_accept(w);
			else	/* src is the first member of struct conn */
				conn_on_event((struct conn *)src,
				    events[i].events);
		}
		if (w->timers != NULL)
			timers_expire(w);
	}
	while (w->conns != NULL)
		conn_close(w->conns);
	return NULL;
}

static void
epoll_add(int epfd, int fd, struct ev_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* ---- startup ---- */

static int
listener_open(const struct sockaddr *addr, socklen_t addrlen, bool reuseport)
{
	int fd, one = 1;

	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		die("SO_REUSEPORT: %s", strerror(errno));
	if (bind(fd, addr, addrlen) < 0)
		die("bind %s: %s", backend.listen_spec, strerror(errno));
	if (listen(fd, 4096) < 0)
		die("listen: %s", strerror(errno));
	return fd;
}

/* Accepts HOST:PORT and [V6HOST]:PORT; an empty host means any address. */
static void
resolve_listen_spec(struct sockaddr_storage *ss, socklen_t *len)
{
	const char *spec = backend.listen_spec, *colon, *host_start;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[256];
	size_t host_len;
	int err;

	host_start = spec;
	if (*spec == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			die("bad listen address '%s'", spec);
		host_start = spec + 1;
		colon = close + 1;
		host_len = (size_t)(close - host_start);
	} else {
		if ((colon = strrchr(spec, ':')) == NULL)
			die("bad listen address '%s' (want ADDR:PORT)", spec);
		host_len = (size_t)(colon - spec);
	}
	if (host_len >= sizeof(host))
		die("bad listen address '%s'", spec);
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	err = getaddrinfo(host_len > 0 ? host : NULL, colon + 1, &hints, &res);
	if (err != 0)
		die("%s: %s", spec, gai_strerror(err));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
}

static unsigned
sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* Write-then-rename, so a poller never sees a half-written file. */
static void
write_port_file(unsigned port)
{
	char tmp[4096], text[16];
	int fd, len;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", backend.port_file) >=
	    sizeof(tmp))
		die("port file path too long");
	len = snprintf(text, sizeof(text), "%u\n", port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) < 0)
		die("%s: %s", tmp, strerror(errno));
	if (rename(tmp, backend.port_file) < 0)
		die("rename %s: %s", backend.port_file, strerror(errno));
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: backend [-qv] [-l ADDR:PORT] [-p PORTFILE] [-n NAME] "
	    "[-T THREADS] [-b BODYSIZE] [-m PATH] [-C CERT -K KEY]\n"
	    "  -C CERT  speak TLS with this PEM certificate (chain) file\n"
	    "  -K KEY   ... and this PEM private key file\n"
	    "  -m PATH  answer every request as if its path were PATH "
	    "(e.g. /reset)\n");
	exit(2);
}

static uint64_t
parse_number_arg(const char *arg, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (!http_parse_u64(arg, strlen(arg), &v) || v < min || v > max)
		die("bad number '%s' (want %" PRIu64 "..%" PRIu64 ")", arg,
		    min, max);
	return v;
}

static void
parse_args(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "l:p:n:T:b:m:C:K:qvh")) != -1) {
		switch (opt) {
		case 'l': backend.listen_spec = optarg; break;
		case 'p': backend.port_file = optarg; break;
		case 'n': backend.name = optarg; break;
		case 'm': backend.force_path = optarg; break;
		case 'C': backend.cert_file = optarg; break;
		case 'K': backend.key_file = optarg; break;
		case 'T':
			backend.nthreads = (unsigned)parse_number_arg(optarg,
			    1, MAX_THREADS);
			break;
		case 'b':
			backend.default_body_size = parse_number_arg(optarg, 0,
			    UINT64_MAX);
			break;
		case 'q': backend.verbose = false; break;
		case 'v': backend.verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc || (backend.cert_file == NULL) !=
	    (backend.key_file == NULL))
		usage();
	backend.name_len = strlen(backend.name);
	for (size_t i = 0; i < backend.name_len; i++)	/* header-safe */
		if ((unsigned char)backend.name[i] < 0x20 ||
		    backend.name[i] == 0x7f)
			die("-n: control characters are not allowed");
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11) - 1,
	    in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* One context for all threads: TLS 1.2+, session resumption on. */
static void
tls_setup(void)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* out[] moves when it grows: the retry of a write may too. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"backend",
	    7);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, backend.cert_file) != 1)
		die("-C %s: %s", backend.cert_file,
		    ERR_reason_error_string(ERR_peek_error()));
	if (SSL_CTX_use_PrivateKey_file(ctx, backend.key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		die("-K %s: %s", backend.key_file,
		    ERR_reason_error_string(ERR_peek_error()));
	backend.tls = ctx;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct rlimit rl;
	sigset_t stop_signals;
	unsigned port;
	int sig;

	parse_args(argc, argv);

	/* Workers inherit this mask; only main takes the signals. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* benchmarks open many connections */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	for (size_t i = 0; i < sizeof(backend.pattern); i++)
		backend.pattern[i] = PATTERN[i % PATTERN_LEN];
	if (backend.cert_file != NULL)
		tls_setup();

	backend.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (backend.stop_fd < 0)
		die("eventfd: %s", strerror(errno));
	backend.workers = calloc(backend.nthreads, sizeof(*backend.workers));
	if (backend.workers == NULL)
		die("out of memory");

	resolve_listen_spec(&addr, &addrlen);
	for (unsigned i = 0; i < backend.nthreads; i++) {
		struct worker *w = &backend.workers[i];

		w->listener_src.kind = EV_LISTENER;
		w->stop_src.kind = EV_STOP;
		/* later listeners join the port the first one got */
		w->listen_fd = listener_open((struct sockaddr *)&addr, addrlen,
		    backend.nthreads > 1);
		if (i == 0 && getsockname(w->listen_fd,
		    (struct sockaddr *)&addr, &addrlen) < 0)
			die("getsockname: %s", strerror(errno));
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w->epfd < 0)
			die("epoll_create1: %s", strerror(errno));
		epoll_add(w->epfd, w->listen_fd, &w->listener_src);
		/* never read, so it stays readable for every worker */
		epoll_add(w->epfd, backend.stop_fd, &w->stop_src);
	}
	port = sockaddr_port(&addr);
	if (backend.port_file != NULL)
		write_port_file(port);
	if (backend.verbose)
		fprintf(stderr, "%s: listening on %s, port %u, %u thread(s)\n",
		    backend.name, backend.listen_spec, port, backend.nthreads);

	for (unsigned i = 0; i < backend.nthreads; i++) {
		int err = pthread_create(&backend.workers[i].thread, NULL,
		    worker_main, &backend.workers[i]);

		if (err != 0)
			die("pthread_create: %s", strerror(err));
	}
	while (sigwait(&stop_signals, &sig) != 0)
		;
	if (eventfd_write(backend.stop_fd, 1) < 0)
		die("eventfd_write: %s", strerror(errno));
	for (unsigned i = 0; i < backend.nthreads; i++) {
		pthread_join(backend.workers[i].thread, NULL);
		close(backend.workers[i].epfd);
		close(backend.workers[i].listen_fd);
	}
	close(backend.stop_fd);
	free(backend.workers);
	SSL_CTX_free(backend.tls);
	if (backend.verbose)
		fprintf(stderr, "%s: stopped by signal %d\n", backend.name,
		    sig);
	return 0;
}
