/*
 * proxy.h: one request against its pool: peer selection, tries and
 * failover (DESIGN.md §4), and the two streams between client and peer.
 */
#ifndef SHUNT_PROXY_H
#define SHUNT_PROXY_H

#include "worker-t.h"

/* A request on c, zeroed but for the storage of a spare one; or NULL. */
struct req *proxy_new(struct conn *c);

/*
 * The request head of r is parsed: route it, build the upstream head and
 * make the first try.  The request then lives until conn_request_done().
 */
void	proxy_start(struct req *r);

/*
 * Answer r with an error page of shunt's own (a bad request head, ...).
 * The request lives until the page is written.
 */
void	proxy_reply(struct req *r, unsigned status);

/* Bytes of the current try not yet written to the peer. */
static inline size_t
proxy_unsent(const struct req *r)
{
	return r->up_head.len - r->up_head_off + (r->up_out.len - r->up_out.off);
}

/* Move whatever can move; called on every client or upstream event. */
void	proxy_run(struct req *r);

/* The client is gone: drop the upstream side without blaming the peer. */
void	proxy_abort(struct req *r);

/*
 * Release everything r owns (after the access log line is written); r
 * itself may be kept as a spare for proxy_new().
 */
void	proxy_free(struct req *r);
/* Free the worker's spare requests (at exit). */
void	proxy_free_spares(struct worker *w);

#endif /* SHUNT_PROXY_H */
