/*
 * worker-t.h: the runtime types of one worker process.
 *
 * A client connection (struct conn) carries at most one request in flight
 * (struct req); the request owns its tries, its buffers and the upstream
 * connection (struct upstream) it is using.  Idle upstream connections sit
 * in a per-peer list of the worker (struct wpeer).  The parsed config is
 * immutable and shared by pointer; nothing here is shared between workers.
 */
#ifndef SHUNT_WORKER_T_H
#define SHUNT_WORKER_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <llhttp.h>

#include "balance.h"
#include "cfg-t.h"
#include "failure.h"
#include "health.h"
#include "store-t.h"
#include "io.h"
#include "loop.h"

/* A growable byte buffer: [off, len) is unconsumed data. */
struct buf {
	char	*data;
	size_t	 off;
	size_t	 len;
	size_t	 cap;
};

/* One header field of a parsed head, as offsets into its buffer. */
struct http_field {
	uint32_t	 name_off, name_len;
	uint32_t	 value_off, value_len;
};

/* The parsed request head, pointing into the request's header copy. */
struct http_req_head {
	char			*raw;		/* the head as received */
	size_t			 raw_len;
	size_t			 raw_cap;	/* allocated at raw */
	uint32_t		 method_len;
	uint32_t		 url_off, url_len;	/* the target as sent */
	/*
	 * What goes upstream and what routes match: the target itself, or
	 * the path and query of an absolute-form target, whose authority
	 * then replaces the Host field (RFC 9112 §3.2.2).
	 */
	uint32_t		 path_off, path_len;
	uint32_t		 auth_off, auth_len;
	bool			 absolute;
	uint8_t			 method;	/* llhttp_method_t */
	uint8_t			 major, minor;
	bool			 keepalive;
	bool			 chunked;
	bool			 has_body;
	bool			 expect_continue;
	uint64_t		 content_length;
	int			 host_field;	/* index or -1 */
	struct http_field	*fields;
	size_t			 nfields, cap;
};

struct wpeer;
struct upstream;
struct ssl_session_st;

enum up_state {
	UP_CONNECTING,
	UP_HANDSHAKE,		/* TLS: connected, handshake under way */
	UP_ACTIVE,		/* sending the request and reading the reply */
	UP_IDLE,		/* parked in its peer's keep-alive list */
	UP_ORPHAN,		/* a connect its request gave up as slow,
				   finishing for its verdict (orphan.c) */
};

/*
 * What the owner of a connection in use (a request, or the orphan list)
 * is told: readiness or the end of its timer.  The idle list handles its
 * own connections.
 */
struct up_handlers {
	void	(*event)(struct upstream *);
	void	(*timeout)(struct upstream *);
};

struct upstream {
	struct io		 io;
	struct worker		*w;
	struct wpeer		*wp;
	struct req		*req;
	const struct up_handlers *owner;	/* NULL while idle */
	struct loop_timer	 timer;
	enum up_state		 state;
	bool			 reused;	/* came from the idle list */
	bool			 got_bytes;	/* any response byte arrived */
	enum failure_kind	 timer_kind;	/* what the armed timer means */
	bool			 readable, writable;
	bool			 hup;		/* the peer closed its side */
	bool			 trial;		/* the suspect peer's trial */
	bool			 probe;		/* an orphan holding the probe */
	uint64_t		 connect_start_ms;
	/* The peer's idle list (UP_IDLE) or the worker's orphans. */
	LIST_ENTRY(upstream)	 link;
	uint64_t		 idle_since;
};

/* A peer of a pool as one worker sees it. */
struct wpeer {
	struct bal_peer		*bal;
	const struct cfg_peer	*cfg;
	LIST_HEAD(, upstream)	 idle;		/* most recently parked first */
	size_t			 nidle;
	struct store_peer	 rec;		/* as read at the last selection */
	enum health_pick	 pick;
	uint64_t		 pending_requests;	/* not yet in the store */
	uint64_t		 pending_failures;
	uint64_t		 connect_avg8;	/* 8 x smoothed connect ms */
	bool			 connect_seen;	/* connect_avg8 has a sample */
	struct ssl_session_st	*tls_session;	/* offered on the next connect */
};

struct wpool {
	struct bal_pool		 bal;
	const struct cfg_pool	*cfg;
	struct wpeer		*peers;
	struct health_params	 params;
	uint64_t		 seen_version;	/* store_version() last read */
};

/* One try of a request against one peer (DESIGN.md §4). */
struct req_try {
	const struct cfg_peer	*peer;
	enum failure_kind	 outcome;
	uint64_t		 start_ms;
	uint64_t		 ms;
	bool			 reused;
	bool			 trial;		/* its connect is the trial */
};

enum req_phase {
	REQ_HEAD,		/* reading the request head */
	REQ_UPSTREAM,		/* choosing a peer, connecting, proxying */
	REQ_RESPONDING,		/* only writing to the client is left */
};

struct conn;

/*
 * What the request's pump tells the client connection that owns it, by
 * return value, or through req.settle when an upstream event moved it.
 */
enum req_verdict {
	REQ_WAIT,		/* waiting on a socket or a timer */
	REQ_DONE,		/* the response was written whole */
	REQ_CLOSE,		/* close the client connection now */
};

struct req {
	struct conn		*c;
	void			(*settle)(struct req *, enum req_verdict);
	bool			 closing;	/* REQ_CLOSE is the verdict */
	struct http_req_head	 head;
	struct wpool		*pool;
	enum req_phase		 phase;
	uint64_t		 start_ms;

	/* request body from the client */
	llhttp_t		 parser;
	bool			 body_done;	/* the whole body was read */
	uint64_t		 body_bytes;	/* payload read, framing excluded */
	/* chunk extensions and trailer fields read: bounded like a head */
	uint64_t		 body_meta_bytes;
	uint32_t		 trailer_fields;
	struct buf		 replay;	/* body copy kept for a retry */
	bool			 replayable;

	/* towards the upstream */
	struct buf		 up_head;	/* request head as sent upstream */
	size_t			 up_head_off;	/* of it written in this try */
	struct buf		 up_out;	/* body bytes still to be written */
	bool			 up_sent_all;	/* head and whole body written */
	bool			 up_sent_any;
	struct upstream		*up;
	bool			*tried;		/* by peer index */
	struct req_try		*tries;
	struct req_try		 tries_inline[4];	/* most requests' */
	bool			 tried_inline[16];
	bool			 probe;		/* the current try is the probe */
	bool			 trial;		/* the next connect is a trial */
	struct bal_peer		*next_peer;	/* chosen ahead for the next try */
	size_t			 ntries, tries_cap;
	size_t			 counted_tries;	/* stale resends excluded */

	/* the response */
	llhttp_t		 rparser;
	struct buf		 up_in;		/* bytes from the upstream */
	size_t			 scan;		/* response head search offset */
	bool			 head_request;
	bool			 client_10;
	bool			 resp_head_done;
	bool			 resp_done;
	bool			 resp_header_sent;	/* committed downstream */
	bool			 dechunk;	/* chunked to an HTTP/1.0 client */
	bool			 resp_close;	/* until-close or no keep-alive */
	bool			 up_reusable;
	unsigned		 status;
	uint64_t		 bytes_at_start; /* conn's bytes_out then */
	struct req		*next_spare;	/* the worker's spare_reqs */
};

enum conn_state {
	CONN_HANDSHAKE,		/* TLS: before the first request */
	CONN_IDLE,		/* keep-alive, waiting for a request */
	CONN_HEAD,		/* reading a request head */
	CONN_BUSY,		/* a request is in flight */
	CONN_CLOSING,		/* writing a last answer, then close */
	CONN_LINGER,		/* sent FIN; draining what the client sends */
};

struct conn {
	struct io		 io;
	struct worker		*w;
	const struct cfg_listener *lst;
	struct loop_timer	 timer;
	enum conn_state		 state;
	bool			 readable, writable;
	bool			 hup;		/* LOOP_HUP seen: read to EOF */
	bool			 eof;		/* the client closed its side */
	bool			 close_after;	/* no keep-alive after this */
	bool			 nodelay;	/* TCP_NODELAY set */
	struct buf		 in;
	struct buf		 out;
	size_t			 scan;		/* request head search offset */
	struct req		*req;
	uint64_t		 bytes_out;	/* written to the client */
	uint64_t		 head_start_ms;	/* first byte of the head */
	int			 running;	/* handlers on the stack */
	bool			 closed;	/* free when running drops to 0 */
	bool			 in_run;	/* conn_run() is on the stack */
	char			 client[64];	/* address text, for XFF and logs */
	LIST_ENTRY(conn)	 link;		/* the worker's connections */
};

struct listener_rt {
	struct worker		*w;
	int			 fd;
	const struct cfg_listener *cfg;
	bool			 paused;	/* max_connections reached */
};

struct worker {
	const struct shunt_config *cfg;
	unsigned		 slot;
	struct loop		*loop;
	struct listener_rt	*listeners;
	size_t			 nlisteners;
	struct wpool		*pools;
	size_t			 npools;
	LIST_HEAD(, conn)	 conns;
	size_t			 nconns;
	/* conn.c's news that a connection went (worker.c's handler) */
	void			(*conn_closed)(struct worker *);
	int			 sigfd;
	int			 access_fd;	/* -1: no access log */
	bool			 stopping;
	struct loop_timer	 stop_timer;
	struct store		*store;		/* NULL: health not shared */
	struct loop_timer	 flush_timer;	/* counters to the store */
	LIST_HEAD(, upstream)	 orphans;	/* connects left to finish */
	struct req		*spare_reqs;	/* freed, kept for the next */
	size_t			 nspare_reqs;
	llhttp_settings_t	 req_settings;		/* head: fields */
	llhttp_settings_t	 req_body_settings;	/* body: framing only */
	llhttp_settings_t	 resp_settings;
	llhttp_settings_t	 resp_body_settings;
	llhttp_settings_t	 resp_dechunk_settings;	/* body bytes only */
	char			 name[32];		/* "worker N", for logs */
	char			 log_time[32];		/* cached per second */
	uint64_t		 log_time_sec;
};

#endif /* SHUNT_WORKER_T_H */
