/*
 * HTTP/1.1 request syntax for the test backend: head scanning, request-line
 * and header parsing, target/query routing, and the request body decoder.
 * No I/O and no global state, so it can be reasoned about (and tested) alone.
 */
#ifndef SHUNT_TESTS_BACKEND_HTTP_PARSE_H
#define SHUNT_TESTS_BACKEND_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK_LINE_MAX	4096		/* chunk-size line incl. extensions */
#define TRAILER_MAX	(16 * 1024)
#define DELAY_MAX_MS	(3600ULL * 1000)

enum route {
	ROUTE_DEFAULT, ROUTE_ECHO, ROUTE_HEADERS, ROUTE_DELAY, ROUTE_HANG,
	ROUTE_RESET, ROUTE_CLOSE, ROUTE_TRUNCATE, ROUTE_CHUNKED, ROUTE_NOLEN,
	ROUTE_STATUS, ROUTE_COUNT, ROUTE_BADRESPONSE,
};

enum body_framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

/* Everything known about the request being read or answered. */
struct request {
	/* filled by http_parse_request_head() */
	enum route		 route;
	enum body_framing	 body_framing;
	bool			 head_method;
	bool			 http10;
	bool			 keep_alive;
	bool			 expect_continue;
	uint64_t		 content_length;
	uint64_t		 size;		/* ?size= */
	uint64_t		 delay_ms;	/* ?ms= */
	uint64_t		 status_code;	/* ?code= */
	uint64_t		 chunked;	/* ?chunked= */
	size_t			 method_len;	/* method is at head[0] */
	size_t			 target_off, target_len;

	/* filled by the server */
	uint64_t		 number;	/* X-Request-Count value */
	int			 status;	/* status sent, for the log */
	char			 log_line[160];	/* "METHOD target", -v only */
};

enum chunk_state { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER };

/* Incremental request body decoder (Content-Length or chunked). */
struct body_decoder {
	enum body_framing	 framing;
	enum chunk_state	 chunk_state;
	uint64_t		 remaining;	/* of Content-Length or chunk */
	size_t			 trailer_bytes;
};

/* Receives decoded body bytes; returns 0 or an HTTP error status. */
typedef int (*body_sink)(void *arg, const char *data, size_t len);

bool		 http_parse_u64(const char *, size_t, uint64_t *);
bool		 http_name_eq(const char *, size_t, const char *);
const char	*http_reason_phrase(int);
int		 http_find_head_end(const char *, size_t, size_t *);
int		 http_parse_request_head(struct request *, const char *, size_t,
		    uint64_t);
void		 http_body_decoder_init(struct body_decoder *,
		    const struct request *);
int		 http_body_decode(struct body_decoder *, const char *, size_t,
		    size_t *, body_sink, void *);

/* The route a path names (ROUTE_DEFAULT for any other path). */
enum route	route_for_path(const char *path, size_t len);

#endif
