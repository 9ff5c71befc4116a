/*
 * fuzz_request.c: libFuzzer harness for the request head path, request
 * after request on one connection as conn.c and proxy.c run it: the end
 * of the head (found whole and a byte at a time, which must agree), the
 * parse with the default limits, the Host, the head sent upstream, then
 * the body through the body parser, and the next head after it.
 *
 * The head sent upstream is parsed again: it must be a head our own
 * parser accepts, for the same method and path (and the authority of an
 * absolute-form target as Host), with the same body framing, or the upstream reads the body differently from us (request
 * smuggling).  Its length must stay within what its builder reserved.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "fuzz.h"

/* A keep-alive connection's worth of pipelined requests. */
#define REQ_MAX_MESSAGES	16

static struct worker	 req_w;
static struct req	 req_r;
static struct conn	 req_c;
static struct cfg_listener req_lst;
static const struct cfg_peer req_peer = {
	.addr = { .text = "127.0.0.1:8080" },
};
static const char	 req_client[] = "192.0.2.1";

/* The whole-buffer answer and the byte-at-a-time one must agree. */
static int
req_head_end(const char *p, size_t len, size_t *end)
{
	size_t	 scan = 0, end_inc = 0, n;
	int	 whole, inc = HTTP_HEAD_MORE;

	*end = 0;
	whole = http_head_end(p, len, &scan, end);
	scan = 0;
	for (n = 1; n <= len && inc == HTTP_HEAD_MORE; n++)
		inc = http_head_end(p, n, &scan, &end_inc);
	if (inc != whole || (whole == HTTP_HEAD_DONE && end_inc != *end))
		fuzz_fail("http_head_end: whole %d (end %zu), a byte at a "
		    "time %d (end %zu)", whole, *end, inc, end_inc);
	return whole;
}

static void
req_check_fields(const struct http_req_head *h)
{
	size_t	 i;

	if ((size_t)h->url_off + h->url_len > h->raw_len)
		fuzz_fail("target outside the head");
	for (i = 0; i < h->nfields; i++)
		if ((size_t)h->fields[i].name_off + h->fields[i].name_len >
		    h->raw_len || (size_t)h->fields[i].value_off +
		    h->fields[i].value_len > h->raw_len)
			fuzz_fail("field %zu outside the head", i);
	if (h->host_field >= (int)h->nfields)
		fuzz_fail("host_field %d of %zu", h->host_field, h->nfields);
}

/* The upstream parses the head we send as we parsed the client's. */
static void
req_check_upstream(const struct http_req_head *h, const char *up,
    size_t len)
{
	struct http_req_head	 h2;
	struct cfg_limits	 lim = *fuzz_default_limits();
	const struct http_field	*f;
	const char		*path;
	llhttp_t		 parser;
	size_t			 scan = 0, end = 0, slash;
	bool			 complete;
	int			 status, rc;

	rc = http_head_end(up, len, &scan, &end);
	if (rc != HTTP_HEAD_DONE || end != len)
		fuzz_fail("upstream head: ends at %zu of %zu (%d)", end, len,
		    rc);
	/* We add up to four fields; the size limit is the client's. */
	lim.max_headers += 4;
	lim.max_header_size = 0;
	lim.max_body_size = 0;
	memset(&h2, 0, sizeof(h2));
	h2.host_field = -1;
	llhttp_init(&parser, HTTP_REQUEST, &req_w.req_settings);
	status = http_parse_request(&parser, &h2, up, len, &lim, &complete);
	if (status != 0)
		fuzz_fail("upstream head rejected with %d:\n%.*s", status,
		    (int)len, up);
	/* The path of an absolute-form target goes up in origin form. */
	path = h->raw + h->path_off;
	slash = h->absolute && (h->path_len == 0 || path[0] == '?');
	if (h2.method != h->method || h2.url_len != h->path_len + slash ||
	    (slash && h2.raw[h2.url_off] != '/') || memcmp(h2.raw +
	    h2.url_off + slash, path, h->path_len) != 0)
		fuzz_fail("upstream head: another request line:\n%.*s",
		    (int)len, up);
	if (h2.chunked != h->chunked || h2.content_length !=
	    h->content_length || h2.has_body != h->has_body)
		fuzz_fail("upstream head frames the body differently (chunked "
		    "%d/%d, length %llu/%llu):\n%.*s", h->chunked, h2.chunked,
		    (unsigned long long)h->content_length,
		    (unsigned long long)h2.content_length, (int)len, up);
	if (h2.host_field < 0)
		fuzz_fail("upstream head without Host:\n%.*s", (int)len, up);
	f = &h2.fields[h2.host_field];
	if (h->absolute && (f->value_len != h->auth_len || memcmp(h2.raw +
	    f->value_off, h->raw + h->auth_off, h->auth_len) != 0))
		fuzz_fail("upstream Host is not the target's authority:\n"
		    "%.*s", (int)len, up);
	http_req_head_free(&h2);
}

static void
req_build(const struct http_req_head *h, bool https, bool keepalive)
{
	struct buf	 out;

	memset(&out, 0, sizeof(out));
	fuzz_reserved = 0;
	if (http_build_upstream_head(&out, h, req_client, https, &req_peer,
	    keepalive) == -1)
		fuzz_fail("http_build_upstream_head failed");
	if (out.len > fuzz_reserved)
		fuzz_fail("upstream head of %zu bytes, %zu reserved", out.len,
		    fuzz_reserved);
	req_check_upstream(h, out.data, out.len);
	buf_free(&out);
}

static void
req_host(const struct http_req_head *h)
{
	char	 host[256];
	size_t	 n, small;

	http_request_host(h, host, sizeof(host));
	if (memchr(host, '\0', sizeof(host)) == NULL)
		fuzz_fail("host not terminated");
	/* Short buffers: the bracket and port logic near the end. */
	for (small = 1; small <= 8; small++) {
		memset(host, 'x', sizeof(host));
		http_request_host(h, host, small);
		for (n = 0; n < small && host[n] != '\0'; n++)
			;
		if (n == small || host[small] != 'x')
			fuzz_fail("host overruns a %zu byte buffer", small);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cfg_limits	*lim = fuzz_default_limits();
	struct req		*r = &req_r;
	const char		*p = (const char *)data, *stop;
	size_t			 left = size, end, used, k;
	llhttp_errno_t		 err;
	bool			 complete;
	int			 status;

	if (req_w.req_settings.on_url == NULL)
		http_settings_init(&req_w);
	/* The body callbacks find the limits through the listener. */
	req_lst.limits = *lim;
	memset(&req_c, 0, sizeof(req_c));
	req_c.lst = &req_lst;
	memset(r, 0, sizeof(*r));
	r->c = &req_c;
	r->head.host_field = -1;
	for (k = 0; k < REQ_MAX_MESSAGES && left > 0; k++) {
		if (req_head_end(p, left, &end) != HTTP_HEAD_DONE ||
		    end > lim->max_header_size)
			break;
		/* A spare request's storage, as the worker reuses it. */
		http_req_head_keep(&r->head);
		llhttp_init(&r->parser, HTTP_REQUEST, &req_w.req_settings);
		status = http_parse_request(&r->parser, &r->head, p, end, lim,
		    &complete);
		p += end;
		left -= end;
		if (status != 0)
			break;
		req_check_fields(&r->head);
		req_host(&r->head);
		req_build(&r->head, false, true);
		req_build(&r->head, true, false);
		if (r->parser.upgrade)
			break;	/* a tunnel: raw bytes follow */
		if (!complete) {
			r->parser.settings = &req_w.req_body_settings;
			r->parser.data = r;
			r->body_bytes = 0;
			err = llhttp_execute(&r->parser, p, left);
			if (err != HPE_PAUSED)
				break;	/* the body goes on, or is bad */
			stop = llhttp_get_error_pos(&r->parser);
			used = stop != NULL ? (size_t)(stop - p) : left;
			if (used > left || r->body_bytes > used)
				fuzz_fail("body: %llu payload bytes in %zu, "
				    "%zu fed", (unsigned long long)
				    r->body_bytes, used, left);
			if (!r->head.chunked && r->body_bytes !=
			    r->head.content_length)
				fuzz_fail("body of %llu bytes for a length of "
				    "%llu", (unsigned long long)r->body_bytes,
				    (unsigned long long)
				    r->head.content_length);
			p += used;
			left -= used;
		}
		if (!r->head.keepalive)
			break;
	}
	http_req_head_free(&r->head);
	return 0;
}
