/*
 * retry.h: may a failed try be tried again (DESIGN.md §4, rules 2-5)?
 *
 * One pure function decides from what happened; the proxy acts on the
 * verdict.  Kept free of I/O so the whole decision table is unit-tested.
 */
#ifndef SHUNT_RETRY_H
#define SHUNT_RETRY_H

#include <stdbool.h>
#include <stddef.h>

#include "failure.h"

enum retry_verdict {
	RETRY_NO,		/* answer the client with what we have */
	RETRY_NEXT,		/* another try, counted, preferring a new peer */
	RETRY_FRESH,		/* resend on a fresh connection, not counted */
};

struct retry_facts {
	enum failure_kind	 outcome;
	bool			 header_sent;	/* response head went downstream */
	bool			 idempotent;	/* the method */
	bool			 non_idempotent; /* the pool allows it anyway */
	bool			 replayable;	/* the body can be sent again */
	size_t			 tries_done;	/* counted tries so far */
	size_t			 tries_max;	/* retry.tries */
	/* Tries that failed to connect (this one included): they do not
	 * count in tries_done, and are bounded apart (rule 2). */
	size_t			 connect_fails;
	size_t			 connect_max;	/* retry.connect_tries */
	bool			 deadline_passed;
};

enum retry_verdict retry_decide(const struct retry_facts *f);

#endif /* SHUNT_RETRY_H */
