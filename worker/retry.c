/* retry.c: whether a failed try may be tried again (DESIGN.md §4). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "retry.h"

enum retry_verdict
retry_decide(const struct retry_facts *f)
{
	bool	 resend_safe;

	/* Rule 4: the client already has part of an answer. */
	if (f->header_sent || f->outcome == FAIL_CLIENT_ABORT ||
	    f->outcome == FAIL_NONE || f->deadline_passed)
		return RETRY_NO;
	/* Rule 2: nothing reached the peer, so another peer is always safe. */
	if (failure_is_connect(f->outcome))
		return f->tries_done < f->tries_max ? RETRY_NEXT : RETRY_NO;
	/* Rule 3: the request may have been acted on. */
	resend_safe = (f->idempotent || f->non_idempotent) && f->replayable;
	if (!resend_safe)
		return RETRY_NO;
	/* A reused connection the peer had closed is nobody's failure. */
	if (f->outcome == FAIL_STALE)
		return RETRY_FRESH;
	return f->tries_done < f->tries_max ? RETRY_NEXT : RETRY_NO;
}
