/* http.c: request and response heads: parsing, checking, rebuilding. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http.h"

/*
 * Storage of a request head: the first allocation is large enough for
 * most heads, and a spare request keeps what is not unusually large.
 */
#define HTTP_RAW_MIN		1024
#define HTTP_RAW_KEEP		4096
#define HTTP_FIELDS_KEEP	64

/* What the head callbacks fill; parser->data points at it. */
struct http_head_ctx {
	const char		*raw;
	struct http_field	*fields;
	size_t			 nfields, cap, max;
	bool			 in_value;
	bool			 too_many;
	bool			 head_request;	/* responses: no body to HEAD */
	uint32_t		 url_off, url_len;
};

int
http_head_end(const char *p, size_t len, size_t *scan, size_t *end)
{
	const char	*nl;
	size_t		 i = *scan;

	/* memchr finds line ends many bytes at a time; heads are scanned on
	 * every request, both ways. */
	while (i < len && (nl = memchr(p + i, '\n', len - i)) != NULL) {
		i = (size_t)(nl - p);
		if (i == 0 || p[i - 1] != '\r')
			return HTTP_HEAD_BAD;
		/* "\r\n\r\n": the blank line that ends the head */
		if (i >= 3 && p[i - 2] == '\n' && p[i - 3] == '\r') {
			*end = i + 1;
			return HTTP_HEAD_DONE;
		}
		/* A line starting with SP or HTAB continues the previous
		 * one (obs-fold): RFC 9112 lets a proxy reject it. */
		if (i + 1 < len && (p[i + 1] == ' ' || p[i + 1] == '\t'))
			return HTTP_HEAD_BAD;
		i++;
	}
	/* A line end as the last byte is looked at again with the byte
	 * after it, which the obs-fold check needs. */
	*scan = len > 0 && p[len - 1] == '\n' ? len - 1 : len;
	return HTTP_HEAD_MORE;
}

static int
http_on_url(llhttp_t *p, const char *at, size_t len)
{
	struct http_head_ctx	*ctx = p->data;

	if (ctx->url_len == 0)
		ctx->url_off = (uint32_t)(at - ctx->raw);
	ctx->url_len += (uint32_t)len;
	return 0;
}

static int
http_on_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_head_ctx	*ctx = p->data;
	struct http_field	*f;

	if (ctx->nfields > 0 && !ctx->in_value) {
		ctx->fields[ctx->nfields - 1].name_len += (uint32_t)len;
		return 0;
	}
	if (ctx->nfields == ctx->max) {
		ctx->too_many = true;
		return -1;
	}
	if (ctx->nfields == ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap * 2 : 16;

		if (cap > ctx->max)
			cap = ctx->max;
		f = realloc(ctx->fields, cap * sizeof(*f));
		if (f == NULL)
			return -1;
		ctx->fields = f;
		ctx->cap = cap;
	}
	f = &ctx->fields[ctx->nfields++];
	f->name_off = (uint32_t)(at - ctx->raw);
	f->name_len = (uint32_t)len;
	f->value_off = f->name_off + f->name_len;
	f->value_len = 0;
	ctx->in_value = false;
	return 0;
}

static int
http_on_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_head_ctx	*ctx = p->data;
	struct http_field	*f = &ctx->fields[ctx->nfields - 1];

	if (!ctx->in_value) {
		f->value_off = (uint32_t)(at - ctx->raw);
		f->value_len = 0;
		ctx->in_value = true;
	}
	f->value_len += (uint32_t)len;
	return 0;
}

/*
 * RFC 9112 §6.3: a response to HEAD, and a 1xx, 204 or 304, ends with its
 * head whatever Content-Length or Transfer-Encoding it declares.  llhttp
 * reads a declared body of a 204 or 304: returning 1 tells it there is
 * none, so bytes after the head are never taken for a body.
 */
static int
http_on_response_headers(llhttp_t *p)
{
	struct http_head_ctx	*ctx = p->data;

	return ctx->head_request || http_status_bodiless(p->status_code) ?
	    1 : 0;
}

static int
http_on_message_complete(llhttp_t *p)
{
	(void)p;
	/* Stop right here: what follows belongs to the next message. */
	return HPE_PAUSED;
}

static int
http_on_body_dechunk(llhttp_t *p, const char *at, size_t len)
{
	struct req	*r = p->data;

	/* The client speaks HTTP/1.0: it gets the payload, not the chunks. */
	return buf_append(&r->c->out, at, len) == -1 ? -1 : 0;
}

static int
http_on_request_body(llhttp_t *p, const char *at, size_t len)
{
	struct req	*r = p->data;

	(void)at;
	/* The payload, without chunk framing, is what max_body_size limits. */
	r->body_bytes += len;
	return 0;
}

/*
 * Chunk extensions and trailer fields carry no payload, so max_body_size
 * does not see them: they are bounded by max_header_size and max_headers
 * instead, or a client could stream any amount of them to the peer.
 */
static int
http_body_meta(struct req *r, size_t len)
{
	const struct cfg_limits	*lim = &r->c->lst->limits;

	r->body_meta_bytes += len;
	return r->body_meta_bytes > lim->max_header_size ? -1 : 0;
}

static int
http_on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
	(void)at;
	return http_body_meta(p->data, len);
}

static int
http_on_trailer_field(llhttp_t *p, const char *at, size_t len)
{
	struct req	*r = p->data;

	(void)at;
	return http_body_meta(r, len);
}

static int
http_on_trailer_field_complete(llhttp_t *p)
{
	struct req	*r = p->data;

	return ++r->trailer_fields > r->c->lst->limits.max_headers ? -1 : 0;
}

void
http_settings_init(struct worker *w)
{
	llhttp_settings_init(&w->req_settings);
	w->req_settings.on_url = http_on_url;
	w->req_settings.on_header_field = http_on_field;
	w->req_settings.on_header_value = http_on_value;
	w->req_settings.on_message_complete = http_on_message_complete;

	llhttp_settings_init(&w->req_body_settings);
	w->req_body_settings.on_body = http_on_request_body;
	w->req_body_settings.on_chunk_extension_name = http_on_chunk_extension;
	w->req_body_settings.on_chunk_extension_value =
	    http_on_chunk_extension;
	w->req_body_settings.on_header_field = http_on_trailer_field;
	w->req_body_settings.on_header_value = http_on_trailer_field;
	w->req_body_settings.on_header_field_complete =
	    http_on_trailer_field_complete;
	w->req_body_settings.on_message_complete = http_on_message_complete;

	llhttp_settings_init(&w->resp_settings);
	w->resp_settings.on_header_field = http_on_field;
	w->resp_settings.on_header_value = http_on_value;
	w->resp_settings.on_headers_complete = http_on_response_headers;
	w->resp_settings.on_message_complete = http_on_message_complete;

	llhttp_settings_init(&w->resp_body_settings);
	w->resp_body_settings.on_message_complete = http_on_message_complete;

	llhttp_settings_init(&w->resp_dechunk_settings);
	w->resp_dechunk_settings.on_body = http_on_body_dechunk;
	w->resp_dechunk_settings.on_message_complete =
	    http_on_message_complete;
}

static bool
http_name_is(const char *raw, const struct http_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	    strncasecmp(raw + f->name_off, name, f->name_len) == 0;
}

/* Does the comma-separated value contain token (case-insensitive)? */
static bool
http_list_has(const char *v, size_t len, const char *token)
{
	size_t	 tlen = strlen(token), i = 0, start, stop;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		stop = i;
		while (stop > start && (v[stop - 1] == ' ' ||
		    v[stop - 1] == '\t'))
			stop--;
		if (stop - start == tlen && strncasecmp(v + start, token,
		    tlen) == 0)
			return true;
	}
	return false;
}

static const struct {
	const char	*name;
	uint32_t	 len;
} http_hop_by_hop[] = {	/* http_is_hop() switches on the lengths */
	{ "connection", 10 }, { "keep-alive", 10 }, { "proxy-connection", 16 },
	{ "te", 2 }, { "trailer", 7 }, { "upgrade", 7 },
};

/*
 * Host, Content-Length and Transfer-Encoding frame the message and say
 * where it goes: a Connection option naming one of them is ignored, or
 * the body would go out unframed and the peer read it as a second request.
 */
static bool
http_name_framing(const char *raw, const struct http_field *f)
{
	switch (f->name_len) {
	case 4:
		return http_name_is(raw, f, "host");
	case 14:
		return http_name_is(raw, f, "content-length");
	case 17:
		return http_name_is(raw, f, "transfer-encoding");
	}
	return false;
}

/*
 * Hop-by-hop: the fixed list, plus every field named by a Connection
 * field of the same head (RFC 9110 §7.6.1).  has_connection says whether
 * the head has a Connection field at all, which spares the scan of every
 * field for it in the common case.
 */
static bool
http_is_hop(const char *raw, const struct http_field *fields, size_t n,
    const struct http_field *f, bool has_connection)
{
	size_t	 i;
	char	 name[64];

	/* Most fields have none of the fixed names' lengths: skip the list. */
	switch (f->name_len) {
	case 2: case 7: case 10: case 16:
		break;
	default:
		goto named;
	}
	for (i = 0; i < sizeof(http_hop_by_hop) / sizeof(http_hop_by_hop[0]);
	    i++)
		if (f->name_len == http_hop_by_hop[i].len &&
		    strncasecmp(raw + f->name_off, http_hop_by_hop[i].name,
		    f->name_len) == 0)
			return true;
named:
	if (!has_connection || f->name_len >= sizeof(name) ||
	    http_name_framing(raw, f))
		return false;
	memcpy(name, raw + f->name_off, f->name_len);
	name[f->name_len] = '\0';
	for (i = 0; i < n; i++)
		if (http_name_is(raw, &fields[i], "connection") &&
		    http_list_has(raw + fields[i].value_off,
		    fields[i].value_len, name))
			return true;
	return false;
}

static bool
http_has_connection(const char *raw, const struct http_field *fields,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (http_name_is(raw, &fields[i], "connection"))
			return true;
	return false;
}

/*
 * The head builders below size their output once and then write with
 * plain copies through a cursor: no printf and no bounds check per piece
 * on the request path.  Each writes at most its *_head_bound().
 */
static inline char *
http_put(char *p, const void *data, size_t len)
{
	memcpy(p, data, len);
	return p + len;
}

#define HTTP_PUT_LIT(p, lit)	http_put((p), (lit), sizeof(lit) - 1)

/* "name: value\r\n" */
static char *
http_put_field(char *p, const char *raw, const struct http_field *f)
{
	p = http_put(p, raw + f->name_off, f->name_len);
	*p++ = ':';
	*p++ = ' ';
	p = http_put(p, raw + f->value_off, f->value_len);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/* Header names the builders act on, told apart by length first. */
enum http_name {
	HTTP_NAME_OTHER,
	HTTP_NAME_EXPECT,
	HTTP_NAME_XFF,		/* X-Forwarded-For */
	HTTP_NAME_XFP,		/* X-Forwarded-Proto */
	HTTP_NAME_TE,		/* Transfer-Encoding */
};

static enum http_name
http_name_kind(const char *raw, const struct http_field *f)
{
	const char	*n = raw + f->name_off;

	switch (f->name_len) {
	case 6:
		if (strncasecmp(n, "expect", 6) == 0)
			return HTTP_NAME_EXPECT;
		break;
	case 15:
		if (strncasecmp(n, "x-forwarded-for", 15) == 0)
			return HTTP_NAME_XFF;
		break;
	case 17:
		if (strncasecmp(n, "x-forwarded-proto", 17) == 0)
			return HTTP_NAME_XFP;
		if (strncasecmp(n, "transfer-encoding", 17) == 0)
			return HTTP_NAME_TE;
		break;
	}
	return HTTP_NAME_OTHER;
}

/* RFC 3986 unreserved and sub-delims: what a reg-name is made of. */
static bool
http_host_char(unsigned char ch)
{
	return isalnum(ch) || strchr("-._~!$&'()*+,;=", ch) != NULL;
}

bool
http_host_valid(const char *v, size_t len)
{
	size_t	 i = 0;

	if (len > 0 && v[0] == '[') {
		for (i = 1; i < len && v[i] != ']'; i++)
			if (!isxdigit((unsigned char)v[i]) && v[i] != ':' &&
			    v[i] != '.')
				return false;
		if (i == len || i == 1)
			return false;
		i++;
	} else {
		for (; i < len && v[i] != ':'; i++) {
			if (v[i] == '%') {
				if (i + 2 >= len ||
				    !isxdigit((unsigned char)v[i + 1]) ||
				    !isxdigit((unsigned char)v[i + 2]))
					return false;
				i += 2;
			} else if (v[i] == '\0' ||
			    !http_host_char((unsigned char)v[i]))
				return false;
		}
	}
	if (i == len)
		return true;
	if (v[i++] != ':')
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char)v[i]))
			return false;
	return true;
}

/*
 * The target: origin-form, "*" for OPTIONS, or absolute-form, which a
 * server must accept (RFC 9112 §3.2.2): its path goes upstream and its
 * authority stands for Host.  Returns 0 or 400.
 */
static int
http_request_target(struct http_req_head *h)
{
	const char	*t = h->raw + h->url_off, *end = t + h->url_len;
	const char	*auth, *p;
	size_t		 scheme;

	h->path_off = h->url_off;
	h->path_len = h->url_len;
	if (t[0] == '/')
		return 0;
	if (h->url_len == 1 && t[0] == '*' && h->method == HTTP_OPTIONS)
		return 0;
	if (h->url_len > 7 && strncasecmp(t, "http://", 7) == 0)
		scheme = 7;
	else if (h->url_len > 8 && strncasecmp(t, "https://", 8) == 0)
		scheme = 8;
	else
		return 400;
	auth = t + scheme;
	for (p = auth; p < end && *p != '/' && *p != '?'; p++)
		;
	/* Userinfo in a request target is an error (RFC 9110 §4.2.4), and
	 * an empty authority names nobody. */
	if (p == auth || !http_host_valid(auth, (size_t)(p - auth)))
		return 400;
	h->absolute = true;
	h->auth_off = (uint32_t)(auth - h->raw);
	h->auth_len = (uint32_t)(p - auth);
	h->path_off = (uint32_t)(p - h->raw);
	h->path_len = (uint32_t)(end - p);
	return 0;
}

/* The fields as a whole: names, Host, Expect.  Returns 0 or 400. */
static int
http_request_fields(struct http_req_head *h)
{
	const struct http_field	*f;
	size_t			 i;
	int			 hosts = 0;

	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		/* llhttp passes ": value" as a field with no name. */
		if (f->name_len == 0)
			return 400;
		if (http_name_is(h->raw, f, "host")) {
			if (!http_host_valid(h->raw + f->value_off,
			    f->value_len))
				return 400;
			hosts++;
			h->host_field = (int)i;
		} else if (http_name_is(h->raw, f, "expect") &&
		    f->value_len == 12 && strncasecmp(h->raw + f->value_off,
		    "100-continue", 12) == 0)
			h->expect_continue = true;
	}
	/* RFC 9112 §3.2: a 1.1 request without Host, or with two, is bad. */
	if (hosts > 1 || (hosts == 0 && h->minor == 1))
		return 400;
	return 0;
}

/*
 * Forget the previous head of h, keeping its storage, and copy raw_in
 * into it (growing it if need be).  0, or -1 without memory.
 */
static int
http_head_copy(struct http_req_head *h, const char *raw_in, size_t len)
{
	struct http_field	*fields;
	size_t			 raw_cap, cap;
	char			*raw;

	raw_cap = h->raw_cap;
	fields = h->fields;
	cap = h->cap;
	raw = h->raw;
	memset(h, 0, sizeof(*h));
	h->host_field = -1;
	h->fields = fields;
	h->cap = cap;
	if (raw_cap < len) {
		free(raw);
		raw_cap = len < HTTP_RAW_MIN ? HTTP_RAW_MIN : len;
		if ((raw = malloc(raw_cap)) == NULL)
			return -1;
	}
	h->raw = raw;
	h->raw_cap = raw_cap;
	memcpy(h->raw, raw_in, len);
	h->raw_len = len;
	return 0;
}

int
http_parse_request(llhttp_t *parser, struct http_req_head *h,
    const char *raw_in, size_t len, const struct cfg_limits *lim,
    bool *complete)
{
	struct http_head_ctx	 ctx;
	llhttp_errno_t		 rc;
	int			 status;

	*complete = false;
	if (http_head_copy(h, raw_in, len) == -1)
		return 500;
	memset(&ctx, 0, sizeof(ctx));
	ctx.raw = h->raw;
	ctx.fields = h->fields;
	ctx.cap = h->cap;
	ctx.max = lim->max_headers;
	parser->data = &ctx;
	rc = llhttp_execute(parser, h->raw, len);
	parser->data = NULL;
	h->fields = ctx.fields;
	h->nfields = ctx.nfields;
	h->cap = ctx.cap;
	if (ctx.too_many)
		return 431;
	switch (rc) {
	case HPE_OK:
		break;
	case HPE_PAUSED:
	case HPE_PAUSED_UPGRADE:
		/* A message without a body ends with its head. */
		*complete = true;
		break;
	case HPE_INVALID_TRANSFER_ENCODING:
		return 501;
	default:
		return 400;
	}
	h->method = parser->method;
	h->major = parser->http_major;
	h->minor = parser->http_minor;
	h->url_off = ctx.url_off;
	h->url_len = ctx.url_len;
	h->method_len = (uint32_t)strlen(llhttp_method_name(parser->method));
	if (h->major == 0)
		return 400;
	if (h->major != 1 || h->minor > 1)
		return 505;
	/* Exactly "METHOD SP target SP HTTP/1.x": llhttp lets doubled
	 * spaces through, and another hop may split the line differently. */
	if (h->url_off != h->method_len + 1 || h->raw[h->url_off +
	    h->url_len] != ' ' || h->raw[h->url_off + h->url_len + 1] != 'H')
		return 400;
	/* Tunnels are not proxied; its authority-form target is not a path. */
	if (h->method == HTTP_CONNECT)
		return 501;
	if ((status = http_request_target(h)) != 0 ||
	    (status = http_request_fields(h)) != 0)
		return status;
	/* RFC 9112 §6.1: in HTTP/1.0, Transfer-Encoding is faulty framing. */
	if (h->minor == 0 && (parser->flags & F_TRANSFER_ENCODING))
		return 400;
	/*
	 * llhttp ends an upgrade request at its head before it looks at
	 * Transfer-Encoding: a coding that does not end in chunked frames
	 * nothing, upgrade or not, and must not go upstream as if bodiless.
	 */
	if ((parser->flags & F_TRANSFER_ENCODING) &&
	    !(parser->flags & F_CHUNKED))
		return 501;
	h->chunked = (parser->flags & F_CHUNKED) != 0;
	h->content_length = (parser->flags & F_CONTENT_LENGTH) ?
	    parser->content_length : 0;
	h->has_body = h->chunked || h->content_length > 0;
	if (lim->max_body_size > 0 && h->content_length > lim->max_body_size)
		return 413;
	h->keepalive = llhttp_should_keep_alive(parser);
	return 0;
}

void
http_req_head_free(struct http_req_head *h)
{
	free(h->raw);
	free(h->fields);
	memset(h, 0, sizeof(*h));
	h->host_field = -1;
}

void
http_req_head_keep(struct http_req_head *h)
{
	char			*raw = h->raw;
	struct http_field	*fields = h->fields;
	size_t			 raw_cap = h->raw_cap, cap = h->cap;

	/* One huge head must not stay pinned to a spare request. */
	if (raw_cap > HTTP_RAW_KEEP) {
		free(raw);
		raw = NULL;
		raw_cap = 0;
	}
	if (cap > HTTP_FIELDS_KEEP) {
		free(fields);
		fields = NULL;
		cap = 0;
	}
	memset(h, 0, sizeof(*h));
	h->host_field = -1;
	h->raw = raw;
	h->raw_cap = raw_cap;
	h->fields = fields;
	h->cap = cap;
}

bool
http_method_idempotent(const struct http_req_head *h)
{
	switch (h->method) {
	case HTTP_GET:
	case HTTP_HEAD:
	case HTTP_OPTIONS:
	case HTTP_TRACE:
	case HTTP_PUT:
	case HTTP_DELETE:
		return true;
	default:
		return false;
	}
}

void
http_request_host(const struct http_req_head *h, char *buf, size_t len)
{
	const struct http_field	*f;
	const char		*v, *end;
	size_t			 n = 0;

	buf[0] = '\0';
	if (len == 0)
		return;
	if (h->absolute) {
		v = h->raw + h->auth_off;
		end = v + h->auth_len;
	} else if (h->host_field >= 0) {
		f = &h->fields[h->host_field];
		v = h->raw + f->value_off;
		end = v + f->value_len;
	} else {
		return;
	}
	if (v < end && *v == '[') {
		/* [v6]:port: keep the brackets, drop the port */
		while (v < end && *v != ']' && n + 2 < len)
			buf[n++] = (char)tolower((unsigned char)*v++);
		if (v < end && n + 1 < len)
			buf[n++] = ']';
	} else {
		while (v < end && *v != ':' && n + 1 < len)
			buf[n++] = (char)tolower((unsigned char)*v++);
	}
	buf[n] = '\0';
}

/*
 * The most http_build_upstream_head() writes: every field of the head at
 * most once with at most one byte more than it took in the head ("a:b"
 * becomes "a: b"), and the lines it adds.
 */
static size_t
http_upstream_head_bound(const struct http_req_head *h, const char *client,
    const struct cfg_peer *peer)
{
	return h->raw_len + h->nfields + strlen(client) +
	    strlen(peer->addr.text) + sizeof(" HTTP/1.1\r\n") +
	    sizeof("Host: \r\n") + sizeof("X-Forwarded-For: , ") +
	    sizeof("\r\nX-Forwarded-Proto: https\r\n") +
	    sizeof("Connection: close\r\n") + sizeof("\r\n");
}

int
http_build_upstream_head(struct buf *out, const struct http_req_head *h,
    const char *client, bool https, const struct cfg_peer *peer,
    bool keepalive)
{
	const struct http_field	*f;
	enum http_name		 kind;
	size_t			 i;
	int			 xff = 0;
	bool			 has_conn;
	char			*p;

	if (buf_reserve(out, http_upstream_head_bound(h, client, peer)) == -1)
		return -1;
	p = out->data + out->len;
	has_conn = http_has_connection(h->raw, h->fields, h->nfields);
	p = http_put(p, h->raw, h->method_len + 1);
	if (h->path_len == 0)
		*p++ = '/';	/* "http://host" asks for the root */
	else if (h->raw[h->path_off] == '?')
		*p++ = '/';
	p = http_put(p, h->raw + h->path_off, h->path_len);
	p = HTTP_PUT_LIT(p, " HTTP/1.1\r\n");
	if (h->absolute) {
		/* The target's authority wins over Host (RFC 9112 §3.2.2). */
		p = HTTP_PUT_LIT(p, "Host: ");
		p = http_put(p, h->raw + h->auth_off, h->auth_len);
		p = HTTP_PUT_LIT(p, "\r\n");
	}
	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		if (http_is_hop(h->raw, h->fields, h->nfields, f, has_conn) ||
		    (h->absolute && (int)i == h->host_field))
			continue;
		kind = http_name_kind(h->raw, f);
		if (kind == HTTP_NAME_XFP ||
		    (kind == HTTP_NAME_EXPECT && h->expect_continue))
			continue;
		if (kind == HTTP_NAME_XFF) {
			/* Joined into one field below, client last. */
			xff++;
			continue;
		}
		p = http_put_field(p, h->raw, f);
	}
	if (h->host_field < 0 && !h->absolute) {
		p = HTTP_PUT_LIT(p, "Host: ");
		p = http_put(p, peer->addr.text, strlen(peer->addr.text));
		p = HTTP_PUT_LIT(p, "\r\n");
	}
	p = HTTP_PUT_LIT(p, "X-Forwarded-For: ");
	for (i = 0; xff > 0 && i < h->nfields; i++) {
		f = &h->fields[i];
		if (f->value_len == 0 ||
		    http_name_kind(h->raw, f) != HTTP_NAME_XFF)
			continue;
		p = http_put(p, h->raw + f->value_off, f->value_len);
		p = HTTP_PUT_LIT(p, ", ");
	}
	p = http_put(p, client, strlen(client));
	p = https ? HTTP_PUT_LIT(p, "\r\nX-Forwarded-Proto: https\r\n") :
	    HTTP_PUT_LIT(p, "\r\nX-Forwarded-Proto: http\r\n");
	if (!keepalive)
		p = HTTP_PUT_LIT(p, "Connection: close\r\n");
	p = HTTP_PUT_LIT(p, "\r\n");
	out->len = (size_t)(p - out->data);
	return 0;
}

/* reason-phrase = *( HTAB / SP / VCHAR / obs-text ): no NUL, no CTL. */
static bool
http_reason_valid(const char *raw, size_t len)
{
	size_t		 i;
	unsigned char	 ch;

	for (i = 13; i < len && raw[i] != '\r'; i++) {
		ch = (unsigned char)raw[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

/* A field without a name: what was it meant to be? */
static bool
http_response_fields_bad(const struct http_resp_info *info)
{
	size_t	 i;

	for (i = 0; i < info->nfields; i++)
		if (info->fields[i].name_len == 0)
			return true;
	return false;
}

int
http_parse_response(llhttp_t *parser, const char *raw, size_t len,
    bool head_request, struct http_resp_info *info)
{
	struct http_head_ctx	 ctx;
	struct http_field	*fields = info->fields;
	llhttp_errno_t		 rc;

	memset(info, 0, sizeof(*info));
	info->fields = fields;
	memset(&ctx, 0, sizeof(ctx));
	ctx.raw = raw;
	ctx.fields = fields;
	ctx.cap = ctx.max = HTTP_RESP_MAX_FIELDS;
	ctx.head_request = head_request;
	parser->data = &ctx;
	rc = llhttp_execute(parser, raw, len);
	parser->data = NULL;
	info->nfields = ctx.nfields;
	if (rc != HPE_OK && rc != HPE_PAUSED)
		return -1;
	info->complete = rc == HPE_PAUSED;
	/* llhttp accepts "HTTP/1.1 20 OK"; a peer that sends it is broken. */
	if (len < 13 || raw[12] != ' ' || !isdigit((unsigned char)raw[9]) ||
	    parser->http_major != 1 || !http_reason_valid(raw, len) ||
	    http_response_fields_bad(info))
		return -1;
	info->status = parser->status_code;
	/* 101: we never ask for an upgrade.  Outside 100-599 is no status
	 * (RFC 9110 §15), and "099" must not pass for an interim answer. */
	if (info->status == 101 || info->status < 100 || info->status > 599)
		return -1;
	info->interim = info->status < 200;
	info->has_body = !head_request && !http_status_bodiless(info->status);
	info->chunked = info->has_body && (parser->flags & F_CHUNKED);
	info->until_close = info->has_body && !info->chunked &&
	    !(parser->flags & F_CONTENT_LENGTH);
	return 0;
}

int
http_build_response_head(struct buf *out, const char *raw, size_t len,
    const struct http_resp_info *info, bool close, bool client_10,
    bool dechunk)
{
	const struct http_field	*f;
	const char		*eol;
	size_t			 i;
	bool			 has_conn;
	char			*p;

	eol = memchr(raw, '\r', len);
	if (eol == NULL || eol - raw < 12)
		return -1;
	/* Every field at most once, one byte longer at most, and our line. */
	if (buf_reserve(out, len + info->nfields +
	    sizeof("Connection: keep-alive\r\n\r\n")) == -1)
		return -1;
	p = out->data + out->len;
	/* The status line as received, but always HTTP/1.1. */
	p = HTTP_PUT_LIT(p, "HTTP/1.1");
	p = http_put(p, raw + 8, (size_t)(eol - raw) - 8);
	p = HTTP_PUT_LIT(p, "\r\n");
	has_conn = http_has_connection(raw, info->fields, info->nfields);
	for (i = 0; i < info->nfields; i++) {
		f = &info->fields[i];
		if (http_is_hop(raw, info->fields, info->nfields, f, has_conn))
			continue;
		if (dechunk && http_name_kind(raw, f) == HTTP_NAME_TE)
			continue;
		p = http_put_field(p, raw, f);
	}
	if (close)
		p = HTTP_PUT_LIT(p, "Connection: close\r\n\r\n");
	else if (client_10)
		p = HTTP_PUT_LIT(p, "Connection: keep-alive\r\n\r\n");
	else
		p = HTTP_PUT_LIT(p, "\r\n");
	out->len = (size_t)(p - out->data);
	return 0;
}

const char *
http_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

int
http_error_page(struct buf *out, unsigned status, bool close)
{
	const char	*reason = http_reason(status);
	char		 body[256];
	int		 n;

	n = snprintf(body, sizeof(body), "<html><head><title>%u %s</title>"
	    "</head><body><h1>%u %s</h1><hr>shunt</body></html>\n", status,
	    reason, status, reason);
	return buf_appendf(out, "HTTP/1.1 %u %s\r\nServer: shunt\r\n"
	    "Content-Type: text/html\r\nContent-Length: %d\r\n%s\r\n%s",
	    status, reason, n, close ? "Connection: close\r\n" : "", body);
}
