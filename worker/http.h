/*
 * http.h: HTTP/1.x heads, parsed with llhttp and rewritten for the other
 * side (DESIGN.md §7).
 *
 * A head is collected whole before llhttp sees it, so every llhttp span
 * arrives in one piece and the head can be checked for what llhttp's strict
 * mode still lets through (bare LF, obs-fold, doubled spaces, HTTP/0.9).
 */
#ifndef SHUNT_HTTP_H
#define SHUNT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "worker-t.h"

/* Results of http_head_end(). */
#define HTTP_HEAD_MORE		0	/* no end yet */
#define HTTP_HEAD_DONE		1	/* *end is just past the blank line */
#define HTTP_HEAD_BAD		(-1)	/* bare LF or an obs-folded line */

/*
 * Look for the blank line that ends a head in p[0, len), resuming at *scan
 * (0 at first) so each byte is examined once.
 */
int	http_head_end(const char *p, size_t len, size_t *scan, size_t *end);

/*
 * Parse the request head raw[0, len) into h (which takes a copy of it,
 * into the storage h still has from an earlier head if it is large enough)
 * with parser, set up by the caller with the worker's req_settings and
 * left ready for the body.  *complete says the message ended with its
 * head.  Returns 0, or the status to answer with (400, 413, 431, 501, 505).
 */
int	http_parse_request(llhttp_t *parser, struct http_req_head *h,
	    const char *raw, size_t len, const struct cfg_limits *lim,
	    bool *complete);
void	http_req_head_free(struct http_req_head *h);
/* Forget the parse, keep modest storage for the next head: 0 storage. */
void	http_req_head_keep(struct http_req_head *h);

/* 1xx, 204 and 304 never have a body (RFC 9110 §6.4.1). */
static inline bool
http_status_bodiless(unsigned status)
{
	return (status >= 100 && status < 200) || status == 204 ||
	    status == 304;
}

/*
 * Is v[0, len) a valid Host: uri-host [":" port] (RFC 9110 §7.2), where
 * uri-host is a reg-name, an IPv4 address or a bracketed IPv6 literal?
 * The empty value is valid.
 */
bool	http_host_valid(const char *v, size_t len);

/* True for GET, HEAD, OPTIONS, TRACE, PUT and DELETE (DESIGN.md §4.3). */
bool	http_method_idempotent(const struct http_req_head *h);

/* The request's host without its port, lower-cased into buf; "" if none. */
void	http_request_host(const struct http_req_head *h, char *buf,
	    size_t len);

/*
 * The head sent upstream: hop-by-hop fields (and those named in
 * Connection, but never Host nor the framing fields, which the body sent
 * must match) dropped, Host kept (the authority of an absolute-form
 * target instead; added from the peer when absent),
 * X-Forwarded-For appended with client, X-Forwarded-Proto set.
 */
int	http_build_upstream_head(struct buf *out,
	    const struct http_req_head *h, const char *client, bool https,
	    const struct cfg_peer *peer, bool keepalive);

/* Most fields accepted in a response head. */
#define HTTP_RESP_MAX_FIELDS	256

/* What the response head says about framing and keep-alive. */
struct http_resp_info {
	unsigned		 status;
	bool			 interim;	/* 1xx other than 101: skip it */
	bool			 has_body;
	bool			 chunked;
	bool			 until_close;	/* no length: ends at EOF */
	bool			 complete;	/* the message ended with its head */
	struct http_field	*fields;	/* caller's array of */
	size_t			 nfields;	/* HTTP_RESP_MAX_FIELDS */
};

/*
 * Parse a response head raw[0, len) with parser (set up with the worker's
 * resp_settings; left ready for the body) into info, whose fields array
 * the caller provides.  Returns 0, or -1 for a malformed head.
 * http_build_response_head() then writes the head the client gets from
 * the same parse: close says the client connection ends after this
 * response, client_10 that the client speaks HTTP/1.0, dechunk that the
 * body goes out without its chunk framing.
 */
int	http_parse_response(llhttp_t *parser, const char *raw, size_t len,
	    bool head_request, struct http_resp_info *info);
int	http_build_response_head(struct buf *out, const char *raw,
	    size_t len, const struct http_resp_info *info, bool close,
	    bool client_10, bool dechunk);

/* A short error page: 400 408 413 431 501 502 503 504. */
int	http_error_page(struct buf *out, unsigned status, bool close);
const char *http_reason(unsigned status);

/* Set up the per-worker llhttp settings used by the functions above. */
void	http_settings_init(struct worker *w);

#endif /* SHUNT_HTTP_H */
