/*
 * Unit tests for worker/http.c: finding the end of a head, fed whole and
 * one byte at a time, and rejecting what strict llhttp still accepts.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
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

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("http", NULL, NULL);
	CU_add_test(s, "head end", test_head_end);
	CU_add_test(s, "error page", test_error_page);
	return tap_run_registry();
}
