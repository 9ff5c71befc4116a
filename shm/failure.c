/* failure.c: the names of the failure kinds, and which blame the peer. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "failure.h"

static const char *const failure_names[FAIL_KIND_MAX] = {
	[FAIL_NONE] = "ok",
	[FAIL_CONNECT_REFUSED] = "connect_refused",
	[FAIL_CONNECT_TIMEOUT] = "connect_timeout",
	[FAIL_UNREACHABLE] = "unreachable",
	[FAIL_TLS] = "tls",
	[FAIL_RESET] = "reset",
	[FAIL_CLOSED] = "closed",
	[FAIL_WRITE_ERROR] = "write_error",
	[FAIL_READ_TIMEOUT] = "read_timeout",
	[FAIL_BAD_RESPONSE] = "bad_response",
	[FAIL_STATUS] = "status",
	[FAIL_STALE] = "stale",
	[FAIL_CLIENT_ABORT] = "client_abort",
	[FAIL_CONNECT_SLOW] = "connect_slow",
};

const char *
failure_name(enum failure_kind kind)
{
	if ((unsigned)kind >= FAIL_KIND_MAX)
		return "unknown";
	return failure_names[kind];
}

int
failure_is_connect(enum failure_kind kind)
{
	return kind == FAIL_CONNECT_REFUSED || kind == FAIL_CONNECT_TIMEOUT ||
	    kind == FAIL_UNREACHABLE || kind == FAIL_TLS ||
	    kind == FAIL_CONNECT_SLOW;
}

int
failure_is_timeout(enum failure_kind kind)
{
	return kind == FAIL_CONNECT_TIMEOUT || kind == FAIL_READ_TIMEOUT ||
	    kind == FAIL_CONNECT_SLOW;
}

int
failure_blames_peer(enum failure_kind kind)
{
	return kind != FAIL_NONE && kind != FAIL_STALE &&
	    kind != FAIL_CLIENT_ABORT && kind != FAIL_CONNECT_SLOW &&
	    kind < FAIL_KIND_MAX;
}
