/*
 * failure.h: the kinds of upstream failure, one enum and one name table.
 *
 * The names are exactly the `last_failure.kind` values of the status JSON
 * (DESIGN.md §5) and the outcomes written in the access log, so the store,
 * the workers and shuntctl all spell them alike.
 */
#ifndef SHUNT_FAILURE_H
#define SHUNT_FAILURE_H

enum failure_kind {
	FAIL_NONE = 0,		/* success: "ok" in the access log */
	FAIL_CONNECT_REFUSED,
	FAIL_CONNECT_TIMEOUT,
	FAIL_UNREACHABLE,
	FAIL_TLS,
	FAIL_RESET,
	FAIL_CLOSED,		/* EOF before a complete response */
	FAIL_WRITE_ERROR,
	FAIL_READ_TIMEOUT,
	FAIL_BAD_RESPONSE,
	FAIL_STATUS,		/* a configured 5xx */
	/*
	 * Not the peer's fault, never counted against it: a reused idle
	 * connection the peer had closed, or a try abandoned because the
	 * client went away.
	 */
	FAIL_STALE,
	FAIL_CLIENT_ABORT,
	/*
	 * Not a failure yet: the request stopped waiting for a connect whose
	 * SYN went unanswered past the suspect threshold and tried another
	 * peer.  The connect goes on without it, and its own end (connected,
	 * refused, connect_timeout) is what counts for the peer.
	 */
	FAIL_CONNECT_SLOW,
	FAIL_KIND_MAX
};

/* The contract name of kind ("connect_refused", ...); "ok" for FAIL_NONE. */
const char	*failure_name(enum failure_kind kind);

/*
 * A connect failure (or a connect given up as slow): nothing reached the
 * peer, so a retry is always safe.
 */
int		 failure_is_connect(enum failure_kind kind);

/* Ended by a timer (decides 504 rather than 502 when tries run out). */
int		 failure_is_timeout(enum failure_kind kind);

/* Counts against the peer's health. */
int		 failure_blames_peer(enum failure_kind kind);

#endif /* SHUNT_FAILURE_H */
