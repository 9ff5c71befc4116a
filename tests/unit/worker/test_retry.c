/*
 * Unit tests for worker/retry.c: the failover decision table of
 * DESIGN.md §4 (method x phase x config -> retry?).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include <CUnit/CUnit.h>

#include "retry.h"
#include "tap.h"

struct row {
	const char		*what;
	enum failure_kind	 outcome;
	bool			 header_sent, idempotent, non_idempotent;
	bool			 replayable;
	size_t			 done, max;
	bool			 deadline;
	enum retry_verdict	 want;
};

#define Y true
#define N false

static const struct row table[] = {
	/* rule 2: connect failures are always retried while tries remain */
	{ "GET, refused", FAIL_CONNECT_REFUSED, N, Y, N, Y, 1, 2, N, RETRY_NEXT },
	{ "POST, refused", FAIL_CONNECT_REFUSED, N, N, N, Y, 1, 2, N, RETRY_NEXT },
	{ "POST, connect timeout, body not replayable", FAIL_CONNECT_TIMEOUT,
	    N, N, N, N, 1, 2, N, RETRY_NEXT },
	{ "POST, tls handshake failed", FAIL_TLS, N, N, N, Y, 1, 3, N,
	    RETRY_NEXT },
	{ "GET, unreachable", FAIL_UNREACHABLE, N, Y, N, Y, 1, 2, N, RETRY_NEXT },
	{ "GET, refused, connect_tries used up", FAIL_CONNECT_REFUSED, N, Y, N,
	    Y, 2, 2, N, RETRY_NO },
	{ "GET, refused, deadline passed", FAIL_CONNECT_REFUSED, N, Y, N, Y, 1,
	    5, Y, RETRY_NO },
	/* a connect given up as slow: nothing was sent either */
	{ "POST, slow connect, body not replayable", FAIL_CONNECT_SLOW, N, N,
	    N, N, 1, 2, N, RETRY_NEXT },
	{ "GET, slow connect, connect_tries used up", FAIL_CONNECT_SLOW, N, Y,
	    N, Y, 2, 2, N, RETRY_NO },
	{ "GET, slow connect, deadline passed", FAIL_CONNECT_SLOW, N, Y, N, Y,
	    1, 2, Y, RETRY_NO },
	/* rule 3: after the request was sent */
	{ "GET, reset", FAIL_RESET, N, Y, N, Y, 1, 2, N, RETRY_NEXT },
	{ "GET, read timeout", FAIL_READ_TIMEOUT, N, Y, N, Y, 1, 2, N,
	    RETRY_NEXT },
	{ "GET, bad response", FAIL_BAD_RESPONSE, N, Y, N, Y, 1, 2, N,
	    RETRY_NEXT },
	{ "PUT, closed", FAIL_CLOSED, N, Y, N, Y, 1, 2, N, RETRY_NEXT },
	{ "POST, reset", FAIL_RESET, N, N, N, Y, 1, 2, N, RETRY_NO },
	{ "PATCH, read timeout", FAIL_READ_TIMEOUT, N, N, N, Y, 1, 2, N,
	    RETRY_NO },
	{ "POST, reset, non_idempotent", FAIL_RESET, N, N, Y, Y, 1, 2, N,
	    RETRY_NEXT },
	{ "POST, reset, non_idempotent, body too big to replay", FAIL_RESET,
	    N, N, Y, N, 1, 2, N, RETRY_NO },
	{ "PUT, reset, body too big to replay", FAIL_RESET, N, Y, N, N, 1, 2,
	    N, RETRY_NO },
	{ "GET, reset, tries used up", FAIL_RESET, N, Y, N, Y, 3, 3, N,
	    RETRY_NO },
	{ "GET, write error, deadline passed", FAIL_WRITE_ERROR, N, Y, N, Y, 1,
	    3, Y, RETRY_NO },
	/* a stale keep-alive connection: fresh resend, not counted */
	{ "GET, stale reused connection", FAIL_STALE, N, Y, N, Y, 2, 2, N,
	    RETRY_FRESH },
	{ "POST, stale reused connection", FAIL_STALE, N, N, N, Y, 1, 2, N,
	    RETRY_NO },
	{ "POST, stale, non_idempotent", FAIL_STALE, N, N, Y, Y, 1, 2, N,
	    RETRY_FRESH },
	{ "GET, stale, not replayable", FAIL_STALE, N, Y, N, N, 1, 2, N,
	    RETRY_NO },
	/* rule 4: the response head went downstream */
	{ "GET, reset after the head was sent", FAIL_RESET, Y, Y, Y, Y, 1, 5,
	    N, RETRY_NO },
	{ "GET, closed after the head was sent", FAIL_CLOSED, Y, Y, N, Y, 1, 5,
	    N, RETRY_NO },
	/* nothing to retry */
	{ "GET, client went away", FAIL_CLIENT_ABORT, N, Y, N, Y, 1, 5, N,
	    RETRY_NO },
	{ "GET, success", FAIL_NONE, N, Y, N, Y, 1, 5, N, RETRY_NO },
};

static const char *const verdict_names[] = { "no", "next", "fresh" };

static void
test_table(void)
{
	struct retry_facts	 f;
	enum retry_verdict	 got;
	size_t			 i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		f.outcome = table[i].outcome;
		f.header_sent = table[i].header_sent;
		f.idempotent = table[i].idempotent;
		f.non_idempotent = table[i].non_idempotent;
		f.replayable = table[i].replayable;
		f.tries_done = table[i].done;
		f.tries_max = table[i].max;
		/* Connect failures count apart: the row's numbers are theirs. */
		f.connect_fails = f.connect_max = 0;
		if (failure_is_connect(f.outcome)) {
			f.connect_fails = table[i].done;
			f.connect_max = table[i].max;
			f.tries_done = f.tries_max = 1;
		}
		f.deadline_passed = table[i].deadline;
		got = retry_decide(&f);
		if (!tap_result(got == table[i].want, "retry: %s -> %s",
		    table[i].what, verdict_names[table[i].want])) {
			printf("#   got %s\n", verdict_names[got]);
			CU_FAIL("decision table row");
		}
	}
}

/* Issue 14: failed connects leave retry.tries alone. */
static void
test_connect_tries_apart(void)
{
	struct retry_facts	 f = { .outcome = FAIL_CONNECT_REFUSED,
	    .idempotent = true, .replayable = true, .tries_done = 2,
	    .tries_max = 2, .connect_fails = 2, .connect_max = 3 };

	tap_result(retry_decide(&f) == RETRY_NEXT, "retry: a refused connect "
	    "is retried with retry.tries used up while connect_tries remain");
	f.connect_fails = 3;
	tap_result(retry_decide(&f) == RETRY_NO, "retry: and not once "
	    "connect_tries are used up");
	f.outcome = FAIL_RESET;
	f.connect_fails = 0;
	tap_result(retry_decide(&f) == RETRY_NO, "retry: a reset still counts "
	    "against retry.tries");
}

static void
test_failure_kinds(void)
{
	CU_ASSERT_STRING_EQUAL(failure_name(FAIL_CONNECT_TIMEOUT),
	    "connect_timeout");
	CU_ASSERT_STRING_EQUAL(failure_name(FAIL_NONE), "ok");
	CU_ASSERT_STRING_EQUAL(failure_name(FAIL_KIND_MAX), "unknown");
	CU_ASSERT_TRUE(failure_is_timeout(FAIL_READ_TIMEOUT));
	CU_ASSERT_FALSE(failure_is_timeout(FAIL_RESET));
	CU_ASSERT_FALSE(failure_blames_peer(FAIL_STALE));
	CU_ASSERT_FALSE(failure_blames_peer(FAIL_CLIENT_ABORT));
	CU_ASSERT_TRUE(failure_blames_peer(FAIL_TLS));
	/* Its connect's own end is what counts against the peer. */
	CU_ASSERT_STRING_EQUAL(failure_name(FAIL_CONNECT_SLOW), "connect_slow");
	CU_ASSERT_FALSE(failure_blames_peer(FAIL_CONNECT_SLOW));
	CU_ASSERT_TRUE(failure_is_connect(FAIL_CONNECT_SLOW));
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("retry", NULL, NULL);
	CU_add_test(s, "decision table", test_table);
	CU_add_test(s, "failure kinds", test_failure_kinds);
	CU_add_test(s, "connect tries apart", test_connect_tries_apart);
	return tap_run_registry();
}
