/*
 * fuzz_response.c: libFuzzer harness for the response path as proxy.c
 * runs it: the end of the head, the parse (for a HEAD request and for
 * another, to an HTTP/1.1 and to an HTTP/1.0 client), interim responses
 * skipped, the head the client gets, then the body through the body
 * parser, or through the dechunking one that appends the payload to the
 * client's buffer.
 *
 * The head the client gets is parsed again: it must frame the body as
 * the upstream's did (same status, same length, chunked unless we
 * dechunk), or the client and we disagree on where the response ends.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "fuzz.h"

/* 1xx responses skipped before the final one. */
#define RESP_MAX_MESSAGES	8

static struct worker	 resp_w;
static struct req	 resp_r;
static struct conn	 resp_c;
static struct cfg_listener resp_lst;

static void
resp_check_fields(const struct http_resp_info *info, size_t len)
{
	size_t	 i;

	if (info->nfields > HTTP_RESP_MAX_FIELDS)
		fuzz_fail("%zu response fields", info->nfields);
	for (i = 0; i < info->nfields; i++)
		if ((size_t)info->fields[i].name_off +
		    info->fields[i].name_len > len ||
		    (size_t)info->fields[i].value_off +
		    info->fields[i].value_len > len)
			fuzz_fail("field %zu outside the head", i);
}

/* The client parses the head we send as we parsed the upstream's. */
static void
resp_check_client(const llhttp_t *up, const struct http_resp_info *info,
    const char *out, size_t len, bool head_request, bool dechunk)
{
	struct http_field	*fields;
	struct http_resp_info	 info2;
	llhttp_t		 parser;
	size_t			 scan = 0, end = 0;
	int			 rc;

	rc = http_head_end(out, len, &scan, &end);
	if (rc != HTTP_HEAD_DONE || end != len)
		fuzz_fail("client head: ends at %zu of %zu (%d)", end, len,
		    rc);
	/* We may add a Connection field: one more than we accept. */
	if (info->nfields >= HTTP_RESP_MAX_FIELDS)
		return;
	if ((fields = malloc(HTTP_RESP_MAX_FIELDS * sizeof(*fields))) == NULL)
		return;
	info2.fields = fields;
	llhttp_init(&parser, HTTP_RESPONSE, &resp_w.resp_settings);
	if (http_parse_response(&parser, out, len, head_request, &info2) == -1)
		fuzz_fail("client head rejected:\n%.*s", (int)len, out);
	if (info2.status != info->status)
		fuzz_fail("client head: status %u for %u", info2.status,
		    info->status);
	if ((!dechunk && (parser.flags & F_CHUNKED) != (up->flags &
	    F_CHUNKED)) || (parser.flags & F_CONTENT_LENGTH) != (up->flags &
	    F_CONTENT_LENGTH) || parser.content_length != up->content_length)
		fuzz_fail("client head frames the body differently (flags "
		    "%#x/%#x, length %llu/%llu):\n%.*s", up->flags,
		    parser.flags, (unsigned long long)up->content_length,
		    (unsigned long long)parser.content_length, (int)len, out);
	free(fields);
}

static void
resp_run(const char *p, size_t left, bool head_request, bool client_10)
{
	struct req		*r = &resp_r;
	struct conn		*c = &resp_c;
	struct http_field	*fields;
	struct http_resp_info	 info;
	const char		*stop;
	llhttp_errno_t		 err;
	size_t			 scan, end, k, before, used;
	bool			 dechunk, close;

	memset(r, 0, sizeof(*r));
	memset(c, 0, sizeof(*c));
	resp_lst.limits = *fuzz_default_limits();
	c->lst = &resp_lst;
	r->c = c;
	if ((fields = malloc(HTTP_RESP_MAX_FIELDS * sizeof(*fields))) == NULL)
		return;
	for (k = 0; k < RESP_MAX_MESSAGES && left > 0; k++) {
		scan = 0;
		if (http_head_end(p, left, &scan, &end) != HTTP_HEAD_DONE)
			break;
		info.fields = fields;
		llhttp_init(&r->rparser, HTTP_RESPONSE, &resp_w.resp_settings);
		if (http_parse_response(&r->rparser, p, end, head_request,
		    &info) == -1)
			break;
		resp_check_fields(&info, end);
		if (info.interim) {
			p += end;
			left -= end;
			continue;
		}
		dechunk = client_10 && info.chunked;
		close = info.until_close || dechunk;
		before = c->out.len;
		fuzz_reserved = 0;
		if (http_build_response_head(&c->out, p, end, &info, close,
		    client_10, dechunk) == -1)
			break;
		if (c->out.len - before > fuzz_reserved)
			fuzz_fail("client head of %zu bytes, %zu reserved",
			    c->out.len - before, fuzz_reserved);
		resp_check_client(&r->rparser, &info, c->out.data + before,
		    c->out.len - before, head_request, dechunk);
		p += end;
		left -= end;
		if (info.complete)
			break;
		r->rparser.settings = dechunk ? &resp_w.resp_dechunk_settings :
		    &resp_w.resp_body_settings;
		r->rparser.data = r;
		before = c->out.len;
		err = llhttp_execute(&r->rparser, p, left);
		used = left;
		if (err == HPE_PAUSED) {
			stop = llhttp_get_error_pos(&r->rparser);
			if (stop != NULL && (stop < p || stop > p + left))
				fuzz_fail("response end outside the input");
			used = stop != NULL ? (size_t)(stop - p) : left;
		} else if (err == HPE_OK && info.until_close)
			(void)llhttp_finish(&r->rparser);
		if (c->out.len - before > used)
			fuzz_fail("dechunked %zu bytes out of %zu",
			    c->out.len - before, used);
		break;
	}
	free(fields);
	buf_free(&c->out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (resp_w.resp_settings.on_header_field == NULL)
		http_settings_init(&resp_w);
	resp_run((const char *)data, size, false, false);
	resp_run((const char *)data, size, false, true);
	resp_run((const char *)data, size, true, false);
	resp_run((const char *)data, size, true, true);
	return 0;
}
