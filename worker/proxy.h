/*
 * proxy.h: one request against its pool: peer selection, tries and
 * failover (DESIGN.md §4), and the two streams between client and peer.
 */
#ifndef SHUNT_PROXY_H
#define SHUNT_PROXY_H

#include "worker-t.h"

/*
 * The functions that move a request return what its client connection
 * does next (enum req_verdict): wait for an event, take the next request,
 * or close.  Moved by an upstream event, the request says it through
 * r->settle instead.  None of them frees the request or its connection.
 */

/*
 * The request head of r is parsed: route it, build the upstream head and
 * make the first try.
 */
enum req_verdict proxy_start(struct req *r);

/* Answer r with an error page of shunt's own (a bad request head, ...). */
enum req_verdict proxy_reply(struct req *r, unsigned status);

/* Bytes of the current try not yet written to the peer. */
static inline size_t
proxy_unsent(const struct req *r)
{
	return r->up_head.len - r->up_head_off + (r->up_out.len - r->up_out.off);
}

/* Move whatever can move; called on every client or upstream event. */
enum req_verdict proxy_run(struct req *r);

/*
 * The client is gone: drop the upstream side without blaming the peer.
 * Before req_free().
 */
void	proxy_abort(struct req *r);

#endif /* SHUNT_PROXY_H */
