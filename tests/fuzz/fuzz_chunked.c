/*
 * fuzz_chunked.c: libFuzzer harness for chunked request bodies.  A fixed
 * chunked POST head, then the input (after its first byte) as the body,
 * through the worker's request body parser in pieces whose sizes the
 * first byte chooses, each piece in a block of its own so that a read
 * past it is reported.  The payload counted (body_bytes) never exceeds
 * the bytes fed, every body span lies inside its piece, and the end of
 * the message is never placed outside the piece that ended it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "fuzz.h"

static const char	 chunked_head[] = "POST / HTTP/1.1\r\nHost: a\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

static struct worker	 chunked_w;
static llhttp_settings_t chunked_settings;	/* the worker's, spied on */
static struct req	 chunked_r;
static struct conn	 chunked_c;
static struct cfg_listener chunked_lst;
static const char	*piece_start;
static size_t		 piece_len;

static int
chunked_on_body(llhttp_t *p, const char *at, size_t len)
{
	if (at < piece_start || len > piece_len ||
	    (size_t)(at - piece_start) > piece_len - len)
		fuzz_fail("body span %p+%zu outside the piece %p+%zu",
		    (const void *)at, len, (const void *)piece_start,
		    piece_len);
	return chunked_w.req_body_settings.on_body(p, at, len);
}

/* xorshift32: piece sizes from the first byte, the same on every run. */
static uint32_t
chunked_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req		*r = &chunked_r;
	const struct cfg_limits	*lim;
	const char		*stop;
	llhttp_errno_t		 err;
	uint32_t		 seed;
	size_t			 off, fed = 0, n, max, k;
	char			*piece;
	bool			 complete;
	int			 status;

	if (chunked_settings.on_body == NULL) {
		http_settings_init(&chunked_w);
		chunked_settings = chunked_w.req_body_settings;
		chunked_settings.on_body = chunked_on_body;
	}
	lim = fuzz_default_limits();
	if (size == 0)
		return 0;
	/* 0: the whole body at once; else pieces of 1 to the byte's value. */
	max = data[0];
	seed = data[0] * 2654435761u | 1;

	/* The body callbacks find the limits through the listener. */
	chunked_lst.limits = *lim;
	memset(&chunked_c, 0, sizeof(chunked_c));
	chunked_c.lst = &chunked_lst;
	memset(r, 0, sizeof(*r));
	r->c = &chunked_c;
	r->head.host_field = -1;
	llhttp_init(&r->parser, HTTP_REQUEST, &chunked_w.req_settings);
	status = http_parse_request(&r->parser, &r->head, chunked_head,
	    sizeof(chunked_head) - 1, lim, &complete);
	if (status != 0 || complete || !r->head.chunked)
		fuzz_fail("the chunked head parsed as %d", status);
	r->parser.settings = &chunked_settings;
	r->parser.data = r;

	for (off = 1; off < size; off += n) {
		n = size - off;
		k = max > 0 ? chunked_next(&seed) % max + 1 : n;
		if (n > k)
			n = k;
		if ((piece = malloc(n)) == NULL)
			break;
		memcpy(piece, data + off, n);
		piece_start = piece;
		piece_len = n;
		err = llhttp_execute(&r->parser, piece, n);
		if (err == HPE_PAUSED) {
			stop = llhttp_get_error_pos(&r->parser);
			if (stop != NULL && (stop < piece || stop > piece + n))
				fuzz_fail("message end outside its piece");
			fed += stop != NULL ? (size_t)(stop - piece) : n;
		} else
			fed += n;
		free(piece);
		if (r->body_bytes > fed)
			fuzz_fail("body_bytes %llu > %zu bytes fed",
			    (unsigned long long)r->body_bytes, fed);
		if (err != HPE_OK)
			break;
	}
	http_req_head_free(&r->head);
	return 0;
}
