/*
 * Unit tests for worker/http.c: finding the end of a head, fed whole and
 * one byte at a time, and rejecting what strict llhttp still accepts; the
 * heads rebuilt for the other side, exactly, including heads whose
 * rebuilt form outgrows the first buffer size class (the builders size
 * their output once, so a wrong bound writes past the block: the
 * sanitizer pass reports it); request head storage kept across requests.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "buf.h"
#include "http.h"
#include "tap.h"

static const struct {
	const char	*what;
	const char	*text;
	int		 rc;
	size_t		 end;		/* for HTTP_HEAD_DONE */
} heads[] = {
	{ "a complete head, body after it",
	    "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", HTTP_HEAD_DONE, 27 },
	{ "no fields", "GET / HTTP/1.0\r\n\r\n", HTTP_HEAD_DONE, 18 },
	{ "not yet complete", "GET / HTTP/1.1\r\nHost: a\r\n", HTTP_HEAD_MORE,
	    0 },
	{ "bare LF in the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n",
	    HTTP_HEAD_BAD, 0 },
	{ "bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n",
	    HTTP_HEAD_BAD, 0 },
	{ "obs-fold with SP", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
	    HTTP_HEAD_BAD, 0 },
	{ "obs-fold with HTAB", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
	    HTTP_HEAD_BAD, 0 },
};

static int
feed_bytes(const char *text, size_t len, size_t *end)
{
	size_t	 scan = 0, n;
	int	 rc = HTTP_HEAD_MORE;

	for (n = 1; n <= len && rc == HTTP_HEAD_MORE; n++)
		rc = http_head_end(text, n, &scan, end);
	return rc;
}

static void
test_head_end(void)
{
	size_t	 i, scan, end, len;
	int	 whole, bytes;

	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		len = strlen(heads[i].text);
		scan = end = 0;
		whole = http_head_end(heads[i].text, len, &scan, &end);
		tap_result(whole == heads[i].rc && (whole != HTTP_HEAD_DONE ||
		    end == heads[i].end), "http: %s (whole)", heads[i].what);
		end = 0;
		bytes = feed_bytes(heads[i].text, len, &end);
		if (!tap_result(bytes == heads[i].rc && (bytes !=
		    HTTP_HEAD_DONE || end == heads[i].end),
		    "http: %s (a byte at a time)", heads[i].what))
			printf("#   rc %d end %zu\n", bytes, end);
	}
}

static void
test_error_page(void)
{
	struct buf	 b = { 0 };

	CU_ASSERT_EQUAL(http_error_page(&b, 502, true), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "HTTP/1.1 502 Bad Gateway\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "Connection: close\r\n"));
	buf_free(&b);
}

static struct worker	 settings_owner;	/* only its llhttp settings */
static struct cfg_limits test_limits = {
	.max_header_size = 65536, .max_headers = 2000, .max_body_size = 0,
};

static int
parse_req(struct http_req_head *h, const char *text)
{
	llhttp_t	 parser;
	bool		 complete;

	llhttp_init(&parser, HTTP_REQUEST, &settings_owner.req_settings);
	return http_parse_request(&parser, h, text, strlen(text), &test_limits,
	    &complete);
}

static bool
buf_is(const struct buf *b, const char *want)
{
	size_t	 n = strlen(want);

	if (b->len == n && memcmp(b->data, want, n) == 0)
		return true;
	printf("#   got  %.*s\n#   want %s\n", (int)b->len, b->data, want);
	return false;
}

static void
test_upstream_head(void)
{
	struct http_req_head	 h = { .host_field = -1 };
	struct cfg_peer		 peer = { .addr = { .text = "127.0.0.1:8080" } };
	struct buf		 b = { 0 };

	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "GET /x?a=1 HTTP/1.1\r\n"
	    "Host: app.test\r\nConnection: keep-alive, X-Drop\r\n"
	    "X-Drop: 1\r\nX-Forwarded-For: 127.0.0.2\r\n"
	    "X-Forwarded-Proto: https\r\nTE: trailers\r\nAccept: */*\r\n"
	    "x-forwarded-for: 127.0.0.3,127.0.0.4\r\nUpgrade: h2c\r\n"
	    "Keep-Alive: timeout=5\r\nProxy-Connection: x\r\n"
	    "Trailer: y\r\nX-Keep: \r\n\r\n"), 0);
	CU_ASSERT_EQUAL(http_build_upstream_head(&b, &h, "127.0.0.9", false,
	    &peer, true), 0);
	CU_ASSERT_TRUE(buf_is(&b, "GET /x?a=1 HTTP/1.1\r\nHost: app.test\r\n"
	    "Accept: */*\r\nX-Keep: \r\n"
	    "X-Forwarded-For: 127.0.0.2, 127.0.0.3,127.0.0.4, 127.0.0.9\r\n"
	    "X-Forwarded-Proto: http\r\n\r\n"));
	buf_free(&b);

	/* HTTP/1.0 without Host: the peer's address; no keep-alive. */
	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "POST / HTTP/1.0\r\n"
	    "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(http_build_upstream_head(&b, &h, "::1", true, &peer,
	    false), 0);
	CU_ASSERT_TRUE(buf_is(&b, "POST / HTTP/1.1\r\n"
	    "Content-Length: 1\r\nHost: 127.0.0.1:8080\r\n"
	    "X-Forwarded-For: ::1\r\nX-Forwarded-Proto: https\r\n"
	    "Connection: close\r\n\r\n"));
	buf_free(&b);
	http_req_head_free(&h);
}

static const struct {
	const char	*host;
	bool		 valid;
} hosts[] = {
	{ "", true }, { "a.test", true }, { "A.TEST:8080", true },
	{ "a.test:", true }, { "[::1]", true }, { "[::1]:80", true },
	{ "127.0.0.1:80", true }, { "a%41.test", true },
	{ "x_y-z~!$&'()*+,;=", true },
	{ "a b", false }, { "evil.test/x@y", false }, { "user@a.test", false },
	{ "a.test/", false }, { "[::1", false }, { "[]", false },
	{ "[::g]", false }, { "[::1]x", false }, { "a.test:80x", false },
	{ "a.test:80:81", false }, { "a%4", false }, { "a%zz", false },
	{ "a\tb", false }, { "a\"b", false }, { "a#b", false }, { "a?b", false },
};

static void
test_host_valid(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		tap_result(http_host_valid(hosts[i].host,
		    strlen(hosts[i].host)) == hosts[i].valid,
		    "http: Host \"%s\" is %s", hosts[i].host,
		    hosts[i].valid ? "valid" : "refused");
	/* A NUL inside is never part of a name. */
	CU_ASSERT_FALSE(http_host_valid("a\0b", 3));
}

/*
 * What the client's Connection field names is dropped, except the fields
 * that frame the body and Host: dropping them would send the body
 * unframed, to be read as a second request.
 */
static void
test_connection_spares_framing(void)
{
	struct http_req_head	 h = { .host_field = -1 };
	struct cfg_peer		 peer = { .addr = { .text = "127.0.0.1:8080" } };
	struct buf		 b = { 0 };

	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "POST / HTTP/1.1\r\n"
	    "Host: a.test\r\nConnection: Content-Length, Host, X-A\r\n"
	    "Content-Length: 5\r\nX-A: 1\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(http_build_upstream_head(&b, &h, "127.0.0.9", false,
	    &peer, true), 0);
	CU_ASSERT_TRUE(buf_is(&b, "POST / HTTP/1.1\r\nHost: a.test\r\n"
	    "Content-Length: 5\r\nX-Forwarded-For: 127.0.0.9\r\n"
	    "X-Forwarded-Proto: http\r\n\r\n"));
	buf_free(&b);
	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "POST / HTTP/1.1\r\n"
	    "Host: a.test\r\nConnection: transfer-encoding\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(http_build_upstream_head(&b, &h, "127.0.0.9", false,
	    &peer, true), 0);
	CU_ASSERT_TRUE(buf_is(&b, "POST / HTTP/1.1\r\nHost: a.test\r\n"
	    "Transfer-Encoding: chunked\r\nX-Forwarded-For: 127.0.0.9\r\n"
	    "X-Forwarded-Proto: http\r\n\r\n"));
	buf_free(&b);
	http_req_head_free(&h);
}

/* RFC 9112 §3.2.2: the path goes upstream, the authority is the Host. */
static void
test_absolute_form(void)
{
	static const struct {
		const char	*target;
		const char	*line;		/* as sent upstream */
		const char	*host;		/* for routes */
	} cases[] = {
		{ "http://b.test/x?y=1", "GET /x?y=1 HTTP/1.1\r\n", "b.test" },
		{ "HTTPS://B.test:8443/", "GET / HTTP/1.1\r\n", "b.test" },
		{ "http://b.test", "GET / HTTP/1.1\r\n", "b.test" },
		{ "http://b.test?q", "GET /?q HTTP/1.1\r\n", "b.test" },
		{ "http://[::1]:80/v6", "GET /v6 HTTP/1.1\r\n", "[::1]" },
	};
	static const char *const refused[] = {
		"http://u@b.test/", "http:///x", "ftp://b.test/", "http:/x",
		"b.test/x", "http://b%zz/",
	};
	struct http_req_head	 h = { .host_field = -1 };
	struct cfg_peer		 peer = { .addr = { .text = "127.0.0.1:8080" } };
	struct buf		 b = { 0 };
	char			 text[256], host[64], want[256];
	size_t			 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\n"
		    "Host: a.test\r\nX: 1\r\n\r\n", cases[i].target);
		if (!tap_result(parse_req(&h, text) == 0,
		    "http: absolute-form %s is accepted", cases[i].target))
			continue;
		http_request_host(&h, host, sizeof(host));
		CU_ASSERT_STRING_EQUAL(host, cases[i].host);
		CU_ASSERT_EQUAL(http_build_upstream_head(&b, &h, "127.0.0.9",
		    false, &peer, true), 0);
		n = strlen(cases[i].line);
		snprintf(want, sizeof(want), "%sHost: %.*s\r\nX: 1\r\n"
		    "X-Forwarded-For: 127.0.0.9\r\nX-Forwarded-Proto: http"
		    "\r\n\r\n", cases[i].line,
		    (int)strcspn(cases[i].target + (cases[i].target[4] ==
		    ':' ? 7 : 8), "/?"), cases[i].target +
		    (cases[i].target[4] == ':' ? 7 : 8));
		tap_result(b.len > n && buf_is(&b, want),
		    "http: absolute-form %s goes upstream in origin-form",
		    cases[i].target);
		buf_free(&b);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\n"
		    "Host: a.test\r\n\r\n", refused[i]);
		tap_result(parse_req(&h, text) == 400,
		    "http: target %s is refused", refused[i]);
	}
	http_req_head_free(&h);
}

/* Faulty framing and nameless fields, which strict llhttp lets by. */
static void
test_request_refused(void)
{
	struct http_req_head	 h = { .host_field = -1 };

	CU_ASSERT_EQUAL(parse_req(&h, "POST / HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400);
	CU_ASSERT_EQUAL(parse_req(&h, "GET / HTTP/1.1\r\nHost: a\r\n"
	    ": b\r\n\r\n"), 400);
	CU_ASSERT_EQUAL(parse_req(&h, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
	    400);
	CU_ASSERT_EQUAL(parse_req(&h, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"),
	    0);
	http_req_head_free(&h);
}

/*
 * RFC 9112 §6.3: 1xx, 204, 304 and answers to HEAD end with their head,
 * whatever they declare; a status outside 100-599 or a reason with
 * control bytes is no response at all.
 */
static void
test_response_framing(void)
{
	static const struct {
		const char	*text;
		bool		 head_request;
		int		 rc;
		bool		 complete;
	} cases[] = {
		{ "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		    false, 0, true },
		{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		    false, 0, true },
		{ "HTTP/1.1 304 Not Modified\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", false, 0, true },
		{ "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\n",
		    false, 0, true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		    true, 0, true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		    false, 0, false },
		{ "HTTP/1.1 099 No\r\n\r\n", false, -1, false },
		{ "HTTP/1.1 600 No\r\n\r\n", false, -1, false },
		{ "HTTP/1.1 200 O\001K\r\n\r\n", false, -1, false },
		{ "HTTP/1.1 200 OK\r\n: b\r\n\r\n", false, -1, false },
	};
	struct http_field	 fields[HTTP_RESP_MAX_FIELDS];
	struct http_resp_info	 info = { .fields = fields };
	llhttp_t		 parser;
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		llhttp_init(&parser, HTTP_RESPONSE,
		    &settings_owner.resp_settings);
		rc = http_parse_response(&parser, cases[i].text,
		    strlen(cases[i].text), cases[i].head_request, &info);
		if (!tap_result(rc == cases[i].rc && (rc != 0 ||
		    info.complete == cases[i].complete), "http: response %zu "
		    "framed as RFC 9112 §6.3 says", i))
			printf("#   rc %d complete %d\n", rc, info.complete);
	}
}

/*
 * n fields "a:b" (5 bytes in the head) come out as "a: b" (6 bytes): with
 * n = 690 the head fits the 4 KiB buffer class and its rebuilt form does
 * not.
 */
static char *
many_fields(const char *first_line, size_t n)
{
	size_t	 len = strlen(first_line) + 5 * n + 16, i;
	char	*text = malloc(len + 1), *p;

	if (text == NULL)
		return NULL;
	p = text + sprintf(text, "%s", first_line);
	for (i = 0; i < n; i++)
		p += sprintf(p, "a:b\r\n");
	sprintf(p, "\r\n");
	return text;
}

static void
test_heads_outgrow_first_block(void)
{
	struct http_req_head	 h = { .host_field = -1 };
	struct cfg_peer		 peer = { .addr = { .text = "127.0.0.1:1" } };
	struct http_field	 fields[HTTP_RESP_MAX_FIELDS];
	struct http_resp_info	 info = { .fields = fields };
	struct buf		 b = { 0 };
	llhttp_t		 parser;
	char			*req, *resp;
	size_t			 i, nresp = HTTP_RESP_MAX_FIELDS - 1;
	bool			 ok = true;

	req = many_fields("GET / HTTP/1.0\r\n", 690);
	resp = many_fields("HTTP/1.1 200 OK\r\n", nresp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
	CU_ASSERT_EQUAL_FATAL(parse_req(&h, req), 0);
	CU_ASSERT_TRUE(strlen(req) < 4096);
	CU_ASSERT_EQUAL(http_build_upstream_head(&b, &h, "127.0.0.1", false,
	    &peer, true), 0);
	CU_ASSERT_TRUE(b.len > 4096 && b.len <= b.cap);
	for (i = 0; i < 690; i++)
		ok = ok && memcmp(b.data + 16 + 6 * i, "a: b\r\n", 6) == 0;
	CU_ASSERT_TRUE(ok);
	buf_free(&b);
	http_req_head_free(&h);

	/*
	 * The same for a response, with room left for its head as received
	 * (1294 bytes) but not for the rebuilt one (1573).
	 */
	llhttp_init(&parser, HTTP_RESPONSE, &settings_owner.resp_settings);
	CU_ASSERT_EQUAL_FATAL(http_parse_response(&parser, resp, strlen(resp),
	    false, &info), 0);
	CU_ASSERT_EQUAL(info.nfields, nresp);
	CU_ASSERT_EQUAL_FATAL(buf_reserve(&b, 4096), 0);
	memset(b.data, 'x', 4096 - 1400);
	b.len = 4096 - 1400;
	CU_ASSERT_EQUAL(http_build_response_head(&b, resp, strlen(resp), &info,
	    false, true, false), 0);
	CU_ASSERT_TRUE(b.len <= b.cap);
	CU_ASSERT_EQUAL(b.len, 4096 - 1400 + 17 + 6 * nresp + 26);
	CU_ASSERT_EQUAL(memcmp(b.data + b.len - 26,
	    "Connection: keep-alive\r\n\r\n", 26), 0);
	buf_free(&b);
	free(req);
	free(resp);
}

static void
test_response_head(void)
{
	const char		*text = "HTTP/1.0 200 Fine\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: X-A\r\nX-A: 1\r\n"
	    "Keep-Alive: timeout=1\r\nServer: t\r\n\r\n";
	struct http_field	 fields[HTTP_RESP_MAX_FIELDS];
	struct http_resp_info	 info = { .fields = fields };
	struct buf		 b = { 0 };
	llhttp_t		 parser;

	llhttp_init(&parser, HTTP_RESPONSE, &settings_owner.resp_settings);
	CU_ASSERT_EQUAL_FATAL(http_parse_response(&parser, text, strlen(text),
	    false, &info), 0);
	CU_ASSERT_TRUE(info.chunked);
	/* To an HTTP/1.0 client the body goes out without chunk framing. */
	CU_ASSERT_EQUAL(http_build_response_head(&b, text, strlen(text), &info,
	    true, true, true), 0);
	CU_ASSERT_TRUE(buf_is(&b, "HTTP/1.1 200 Fine\r\nServer: t\r\n"
	    "Connection: close\r\n\r\n"));
	b.len = 0;
	CU_ASSERT_EQUAL(http_build_response_head(&b, text, strlen(text), &info,
	    false, false, false), 0);
	CU_ASSERT_TRUE(buf_is(&b, "HTTP/1.1 200 Fine\r\n"
	    "Transfer-Encoding: chunked\r\nServer: t\r\n\r\n"));
	buf_free(&b);
}

static void
test_head_storage_kept(void)
{
	struct http_req_head	 h = { .host_field = -1 };
	char			*big, *raw;

	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "GET /a HTTP/1.1\r\nHost: x\r\n"
	    "\r\n"), 0);
	raw = h.raw;
	CU_ASSERT_TRUE(h.raw_cap >= h.raw_len);
	http_req_head_keep(&h);
	CU_ASSERT_PTR_EQUAL(h.raw, raw);
	CU_ASSERT_EQUAL(h.nfields, 0);
	CU_ASSERT_EQUAL(h.host_field, -1);
	/* The next head reuses the storage and is parsed afresh. */
	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "GET /bb HTTP/1.1\r\nHost: y\r\n"
	    "X: 1\r\n\r\n"), 0);
	CU_ASSERT_PTR_EQUAL(h.raw, raw);
	CU_ASSERT_EQUAL(h.nfields, 2);
	CU_ASSERT_EQUAL(h.url_len, 3);
	CU_ASSERT_EQUAL(memcmp(h.raw + h.url_off, "/bb", 3), 0);
	/* A head larger than the storage gets more; a large one is dropped
	 * when the request is kept as a spare. */
	big = many_fields("GET / HTTP/1.1\r\nHost: z\r\n", 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	CU_ASSERT_EQUAL_FATAL(parse_req(&h, big), 0);
	CU_ASSERT_EQUAL(h.nfields, 1001);
	CU_ASSERT_TRUE(h.raw_cap >= strlen(big));
	CU_ASSERT_EQUAL(memcmp(h.raw, big, strlen(big)), 0);
	http_req_head_keep(&h);
	CU_ASSERT_PTR_NULL(h.raw);
	CU_ASSERT_PTR_NULL(h.fields);
	CU_ASSERT_EQUAL(h.raw_cap, 0);
	CU_ASSERT_EQUAL_FATAL(parse_req(&h, "GET / HTTP/1.1\r\nHost: y\r\n"
	    "\r\n"), 0);
	CU_ASSERT_EQUAL(h.nfields, 1);
	http_req_head_free(&h);
	free(big);
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	http_settings_init(&settings_owner);
	s = CU_add_suite("http", NULL, NULL);
	CU_add_test(s, "head end", test_head_end);
	CU_add_test(s, "error page", test_error_page);
	CU_add_test(s, "upstream head", test_upstream_head);
	CU_add_test(s, "response head", test_response_head);
	CU_add_test(s, "Host validation", test_host_valid);
	CU_add_test(s, "Connection spares framing",
	    test_connection_spares_framing);
	CU_add_test(s, "absolute-form", test_absolute_form);
	CU_add_test(s, "requests refused", test_request_refused);
	CU_add_test(s, "response framing", test_response_framing);
	CU_add_test(s, "heads that outgrow the first block",
	    test_heads_outgrow_first_block);
	CU_add_test(s, "request head storage kept", test_head_storage_kept);
	return tap_run_registry();
}
