/*
 * HTTP/1.1 request syntax for the test backend (see http_parse.h).
 *
 * Deliberately strict, since the backend is the oracle that catches a proxy
 * forwarding sloppy requests: CRLF only, no obs-fold, no whitespace before
 * the colon, Host required in 1.1, no Content-Length together with
 * Transfer-Encoding.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <string.h>
#include <strings.h>

#include "http_parse.h"

static const struct {
	const char	*path;
	enum route	 route;
} route_table[] = {
	{ "/echo", ROUTE_ECHO },	{ "/headers", ROUTE_HEADERS },
	{ "/delay", ROUTE_DELAY },	{ "/hang", ROUTE_HANG },
	{ "/reset", ROUTE_RESET },	{ "/close", ROUTE_CLOSE },
	{ "/truncate", ROUTE_TRUNCATE }, { "/chunked", ROUTE_CHUNKED },
	{ "/nolen", ROUTE_NOLEN },	{ "/status", ROUTE_STATUS },
	{ "/count", ROUTE_COUNT },	{ "/badresponse", ROUTE_BADRESPONSE },
};

bool
http_name_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

bool
http_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned digit = (unsigned char)s[i] - '0';

		if (digit > 9 || v > (UINT64_MAX - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	*out = v;
	return true;
}

const char *
http_reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:  return "Status";
	}
}

static bool
is_tchar(unsigned char ch)
{
	if (((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool
is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * Find the blank line ending a request head.  Returns 1 and the head length,
 * 0 if more input is needed, -1 on a bare LF.
 */
int
http_find_head_end(const char *p, size_t len, size_t *head_len)
{
	const char *cur = p, *end = p + len, *nl;

	while ((nl = memchr(cur, '\n', (size_t)(end - cur))) != NULL) {
		if (nl == p || nl[-1] != '\r')
			return -1;
		if (nl - p >= 3 && nl[-2] == '\n') {
			*head_len = (size_t)(nl + 1 - p);
			return 1;
		}
		cur = nl + 1;
	}
	return 0;
}

static void
parse_connection_tokens(const char *v, size_t len, bool *close,
    bool *keep_alive)
{
	size_t i = 0, start, end;

	while (i < len) {
		while (i < len && (is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows(v[end - 1]))
			end--;
		if (http_name_eq(v + start, end - start, "close"))
			*close = true;
		else if (http_name_eq(v + start, end - start, "keep-alive"))
			*keep_alive = true;
	}
}

/* Route and query parameters; returns 0 or an error status. */
static int
parse_target(struct request *req, const char *t, size_t len,
    uint64_t default_size)
{
	const char *end = t + len, *path = t, *query, *q;
	size_t path_len;

	if (*t != '/' && *t != '*') {	/* absolute-form: skip scheme://host */
		const char *sep = memmem(t, len, "://", 3);

		if (sep == NULL)
			return 400;
		path = sep + 3;
		while (path < end && *path != '/' && *path != '?')
			path++;
	}
	q = memchr(path, '?', (size_t)(end - path));
	path_len = (size_t)((q != NULL ? q : end) - path);
	query = q != NULL ? q + 1 : end;

	req->route = route_for_path(path, path_len);

	req->size = default_size;
	req->status_code = 200;
	while (query < end) {	/* key=value&...; unknown keys are ignored */
		const char *amp = memchr(query, '&', (size_t)(end - query));
		const char *eq, *pend = amp != NULL ? amp : end;
		uint64_t *dst = NULL;

		eq = memchr(query, '=', (size_t)(pend - query));
		if (eq != NULL) {
			size_t klen = (size_t)(eq - query);

			if (http_name_eq(query, klen, "size"))
				dst = &req->size;
			else if (http_name_eq(query, klen, "ms"))
				dst = &req->delay_ms;
			else if (http_name_eq(query, klen, "code"))
				dst = &req->status_code;
			else if (http_name_eq(query, klen, "chunked"))
				dst = &req->chunked;
			if (dst != NULL && !http_parse_u64(eq + 1,
			    (size_t)(pend - eq - 1), dst))
				return 400;
		}
		if (amp == NULL)
			break;
		query = amp + 1;
	}
	if (req->route == ROUTE_STATUS &&
	    (req->status_code < 200 || req->status_code > 599))
		return 400;
	if (req->delay_ms > DELAY_MAX_MS)
		return 400;
	return 0;
}

/*
 * Parse a complete head (as found by http_find_head_end(): ends in
 * CRLF CRLF, no bare LF) into req.  Returns 0 or the error status.
 */
enum route
route_for_path(const char *path, size_t len)
{
	for (size_t i = 0; i < sizeof(route_table) / sizeof(route_table[0]);
	    i++)
		if (strlen(route_table[i].path) == len &&
		    memcmp(route_table[i].path, path, len) == 0)
			return route_table[i].route;
	return ROUTE_DEFAULT;
}

int
http_parse_request_head(struct request *req, const char *head, size_t len,
    uint64_t default_size)
{
	const char *end = head + len, *p = head, *eol, *target;
	unsigned host_count = 0, te_count = 0;
	bool has_cl = false, te_chunked = false, conn_close = false;
	bool conn_keep_alive = false, expect_continue = false;
	uint64_t cl = 0;

	/* request-line = method SP request-target SP HTTP-version */
	eol = (const char *)memchr(p, '\n', len) - 1;
	while (p < eol && is_tchar((unsigned char)*p))
		p++;
	if (p == head || *p != ' ')
		return 400;
	req->method_len = (size_t)(p - head);
	target = ++p;
	while (p < eol && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
		p++;
	if (p == target || *p != ' ')
		return 400;
	req->target_off = (size_t)(target - head);
	req->target_len = (size_t)(p++ - target);
	if (eol - p != 8 || memcmp(p, "HTTP/", 5) != 0 ||
	    p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
		return 400;
	if (p[5] != '1')
		return 505;
	req->http10 = p[7] == '0';
	req->head_method = req->method_len == 4 && memcmp(head, "HEAD", 4) == 0;

	/* header-field = field-name ":" OWS field-value OWS */
	for (p = eol + 2; p < end; p = eol + 2) {
		const char *name = p, *value, *vend;
		size_t name_len, value_len;

		eol = (const char *)memchr(p, '\n', (size_t)(end - p)) - 1;
		if (eol == p)
			break;		/* the blank line */
		while (p < eol && is_tchar((unsigned char)*p))
			p++;
		/* also rejects obs-fold and whitespace before the colon */
		if (p == name || *p != ':')
			return 400;
		name_len = (size_t)(p++ - name);
		while (p < eol && is_ows(*p))
			p++;
		value = p;
		vend = eol;
		while (vend > value && is_ows(vend[-1]))
			vend--;
		for (const char *q = value; q < vend; q++) {
			unsigned char ch = (unsigned char)*q;

			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return 400;
		}
		value_len = (size_t)(vend - value);

		if (http_name_eq(name, name_len, "host")) {
			host_count++;
		} else if (http_name_eq(name, name_len, "content-length")) {
			uint64_t v;

			/* repeats are tolerated only if identical */
			if (!http_parse_u64(value, value_len, &v) ||
			    (has_cl && v != cl))
				return 400;
			has_cl = true;
			cl = v;
		} else if (http_name_eq(name, name_len, "transfer-encoding")) {
			te_count++;
			te_chunked = http_name_eq(value, value_len, "chunked");
		} else if (http_name_eq(name, name_len, "connection")) {
			parse_connection_tokens(value, value_len, &conn_close,
			    &conn_keep_alive);
		} else if (http_name_eq(name, name_len, "expect")) {
			expect_continue = http_name_eq(value, value_len,
			    "100-continue");
		}
	}

	if ((!req->http10 && host_count != 1) || host_count > 1)
		return 400;
	req->keep_alive = req->http10 ? conn_keep_alive && !conn_close :
	    !conn_close;
	req->expect_continue = expect_continue && !req->http10;
	if (te_count > 0) {
		/* both framings, or chunked in 1.0, smell of smuggling */
		if (te_count > 1 || has_cl || req->http10)
			return 400;
		if (!te_chunked)
			return 501;
		req->body_framing = BODY_CHUNKED;
	} else if (cl > 0) {
		req->body_framing = BODY_LENGTH;
		req->content_length = cl;
	}
	return parse_target(req, target, req->target_len, default_size);
}

/* chunk-size [ BWS ";" chunk-ext ]: extensions are accepted and ignored */
static bool
parse_chunk_size(const char *p, const char *end, uint64_t *size)
{
	uint64_t v = 0;
	const char *start = p;

	for (; p < end; p++) {
		int digit;

		if (*p >= '0' && *p <= '9')
			digit = *p - '0';
		else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			digit = (*p | 0x20) - 'a' + 10;
		else
			break;
		if (p - start >= 15)
			return false;	/* > 2^60: not a real body */
		v = v * 16 + (uint64_t)digit;
	}
	if (p == start)
		return false;
	while (p < end && is_ows(*p))
		p++;
	if (p < end && *p != ';')
		return false;
	for (; p < end; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return false;
	*size = v;
	return true;
}

void
http_body_decoder_init(struct body_decoder *d, const struct request *req)
{
	d->framing = req->body_framing;
	d->chunk_state = CHUNK_SIZE;
	d->remaining = req->content_length;
	d->trailer_bytes = 0;
}

/*
 * Decode body bytes from p[0, len), passing the payload to sink.  Sets *used
 * to the bytes consumed.  Returns 1 when the body is complete, 0 if more
 * input is needed, or an HTTP error status (from the decoder or the sink).
 */
int
http_body_decode(struct body_decoder *d, const char *p, size_t len,
    size_t *used, body_sink sink, void *arg)
{
	const char *start = p, *end = p + len, *nl;
	int result = 0;
	size_t n;

	for (;;) {
		size_t avail = (size_t)(end - p);

		if (d->framing == BODY_NONE) {
			result = 1;
			break;
		}
		if (d->framing == BODY_LENGTH ||
		    d->chunk_state == CHUNK_DATA) {
			n = avail < d->remaining ? avail : (size_t)d->remaining;
			if ((result = sink(arg, p, n)) != 0)
				break;
			p += n;
			d->remaining -= n;
			if (d->remaining > 0)
				break;
			if (d->framing == BODY_LENGTH) {
				result = 1;
				break;
			}
			d->chunk_state = CHUNK_DATA_END;
			continue;
		}
		if (d->chunk_state == CHUNK_DATA_END) {
			if (avail < 2)
				break;
			if (p[0] != '\r' || p[1] != '\n') {
				result = 400;
				break;
			}
			p += 2;
			d->chunk_state = CHUNK_SIZE;
			continue;
		}
		/* CHUNK_SIZE and CHUNK_TRAILER are CRLF-terminated lines */
		if ((nl = memchr(p, '\n', avail)) == NULL) {
			if (d->chunk_state == CHUNK_SIZE ?
			    avail > CHUNK_LINE_MAX :
			    d->trailer_bytes + avail > TRAILER_MAX)
				result = 400;
			break;
		}
		if (nl == p || nl[-1] != '\r') {
			result = 400;
			break;
		}
		n = (size_t)(nl + 1 - p);
		if (d->chunk_state == CHUNK_SIZE) {
			if (!parse_chunk_size(p, nl - 1, &d->remaining)) {
				result = 400;
				break;
			}
			d->chunk_state = d->remaining == 0 ?
			    CHUNK_TRAILER : CHUNK_DATA;
		} else if (n == 2) {	/* blank line ends the trailers */
			p += n;
			result = 1;
			break;
		} else if ((d->trailer_bytes += n) > TRAILER_MAX) {
			result = 400;
			break;
		}
		p += n;
	}
	*used = (size_t)(p - start);
	return result;
}
